// The makemore progression in C++: five character-level language models of English words, from a
// bigram count table to a block of causal self-attention, each written in plain op code
// (models.cpp). Run with --help for the flags.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <stdexcept>
#include <string>
#include <vector>

#include "models.hpp"
#include "nn/optim.hpp"
#include "nn/words.hpp"
#include "options.hpp"
#include "plot.hpp"

namespace {

using namespace words;

std::unique_ptr<Model> make(const std::string& name, const Words& train, const Options& o) {
  const std::uint64_t seed = nn::Rng(o.seed).bits() + 1000 * name.size();  // one stream per model
  if (name == "bigram") return make_bigram(train);
  if (name == "mlp") return make_mlp(train, o.sizes, seed);
  if (name == "rnn") return make_rnn(train, o.sizes, seed);
  if (name == "gru") return make_gru(train, o.sizes, seed);
  return make_attention(train, o.sizes, seed);
}

struct Result {
  std::string name;
  double held_out = 0.0;
  std::size_t parameters = 0;
  double seconds = 0.0;
  plot::Series curve;  // training loss, mean over each window of log-every steps
  std::vector<std::string> samples;
};

// Diverged training, stopped before its numbers fill the table: a loss that is not finite, or a
// mean over `steps` steps above ten times ln 27 (33 nats per character), the loss of a uniform
// guess over the 27 symbols. Every model starts between ln 27 and twice it; a mean ten times it
// gives the right symbol less than 27^-10 of probability: the weights have blown up.
class Divergence {
 public:
  static constexpr std::size_t steps = 10;
  Divergence(std::string model, double rate) : model_(std::move(model)), rate_(rate) {}
  void check(double loss, std::size_t step) {
    if (!std::isfinite(loss)) fail("is not finite (" + number(loss) + ") at step " + std::to_string(step));
    sum_ += loss;
    if (step % steps != 0) return;
    const double mean = sum_ / steps, limit = 10 * std::log(27.0);
    sum_ = 0.0;
    if (mean > limit) {
      fail("diverged at step " + std::to_string(step) + ": its mean over steps " +
           std::to_string(step - steps + 1) + "-" + std::to_string(step) + " is " + number(mean) +
           " nats per character, above " + number(limit) + " (ten times ln 27, a uniform guess's)");
    }
  }

 private:
  static std::string number(double x) {
    char text[32];
    std::snprintf(text, sizeof text, "%.3g", x);
    return text;
  }
  [[noreturn]] void fail(const std::string& what) const {
    throw std::runtime_error(model_ + ": the training loss " + what + "; lower --rate (" +
                             number(rate_) + ")");
  }
  std::string model_;
  double rate_;
  double sum_ = 0.0;
};

Result run(Model& model, const Words& held_out, const Options& o) {
  Result r;
  r.name = model.name();
  r.parameters = model.size();
  r.curve.name = r.name;
  Tape tape;
  nn::Rng rng(o.seed + 7);
  const auto start = std::chrono::steady_clock::now();
  const auto seconds = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  const std::vector<Parameter*> params = model.parameters();
  if (!params.empty()) {
    std::printf("%s: %zu parameters, %zu steps\n", r.name.c_str(), r.parameters, o.steps);
    nn::Adam adam(params);
    // The rate decays exponentially from --rate to a tenth of it over the steps.
    const nn::Schedule schedule{nn::Schedule::Kind::exponential, o.rate, 0.1, o.steps};
    const std::size_t window = o.log_every == 0 ? std::max<std::size_t>(1, o.steps / 20) : o.log_every;
    double window_sum = 0.0;
    std::size_t window_count = 0;
    Divergence divergence(r.name, o.rate);
    for (std::size_t step = 0; step < o.steps; ++step) {
      tape.clear();
      for (Parameter* p : params) p->zero_grad();
      const Var loss = model.train_loss(tape, rng);
      divergence.check(loss.value()(0, 0), step + 1);
      tape.backward(loss);
      adam.step(schedule.rate(step));
      window_sum += loss.value()(0, 0);
      ++window_count;
      if (window_count == window || step + 1 == o.steps) {
        r.curve.xs.push_back(static_cast<double>(step + 1));
        r.curve.ys.push_back(window_sum / static_cast<double>(window_count));
        if (o.log_every != 0) {
          std::printf("  step %6zu  training loss %.4f  %6.1f s\n", step + 1, r.curve.ys.back(), seconds());
          std::fflush(stdout);
        }
        window_sum = 0.0;
        window_count = 0;
      }
    }
  }
  r.seconds = seconds();
  r.held_out = model.loss(tape, held_out);
  nn::Rng sampler(o.seed + 11);
  for (std::size_t i = 0; i < o.samples; ++i) r.samples.push_back(sample(model, tape, sampler, nn::max_word_length));
  return r;
}

// The folder is made (or found) before training, so that a bad --out fails at once.
std::filesystem::path output_folder(const std::string& folder) {
  std::error_code ec;
  std::filesystem::create_directories(folder, ec);
  if (ec || !std::filesystem::is_directory(folder)) {
    throw std::runtime_error("--out: cannot create output folder '" + folder + "'" +
                             (ec ? ": " + ec.message() : ""));
  }
  return folder;
}

int run_all(const Options& o) {
  const std::filesystem::path out = output_folder(o.out);
  const nn::WordList list = nn::load_words(o.words);
  const auto [train, held_out] = nn::split_words(list.words, o.held_out, o.seed);
  std::printf("%zu words from %s (%zu lines; %zu skipped for characters other than a-z, %zu repeats)\n",
              list.words.size(), o.words.c_str(), list.lines, list.skipped, list.duplicates);
  std::printf("%zu training words, %zu held out\n\n", train.size(), held_out.size());

  // Every model's needs are checked before the first is trained.
  const double gib = 1024.0 * 1024.0 * 1024.0;
  for (const auto& name : o.models) {
    check_data(name, train, o.sizes);
    const double bytes = training_bytes(name, train, held_out, o.sizes);
    if (bytes > o.max_memory * gib) {
      char estimate[64];
      std::snprintf(estimate, sizeof estimate, "%.3g GiB of memory (", bytes / gib);
      char limit[64];
      std::snprintf(limit, sizeof limit, "), above the %g GiB of --max-memory", o.max_memory);
      throw std::invalid_argument(name + ": training would take about " + estimate +
                                  size_flags(name, o.sizes) + limit +
                                  "; lower these flags or raise --max-memory");
    }
  }

  std::vector<Result> results;
  for (const auto& name : o.models) {
    const auto model = make(name, train, o);
    results.push_back(run(*model, held_out, o));
  }

  std::printf("\nheld-out loss, nats per character (%zu held-out words)\n", held_out.size());
  std::printf("| model     | held-out | parameters | seconds |\n");
  std::printf("| --------- | -------- | ---------- | ------- |\n");
  for (const auto& r : results) {
    std::printf("| %-9s | %8.4f | %10zu | %7.1f |\n", r.name.c_str(), r.held_out, r.parameters, r.seconds);
  }
  if (o.samples > 0) std::printf("\nsamples\n");
  for (const auto& r : results) {
    if (r.samples.empty()) continue;
    std::string line;
    for (const auto& w : r.samples) line += (line.empty() ? "" : " ") + w;
    std::printf("  %-9s %s\n", r.name.c_str(), line.c_str());
  }

  std::vector<plot::Series> curves;
  const Result& bigram = results.front();
  for (const auto& r : results) {
    if (!r.curve.xs.empty()) curves.push_back(r.curve);
  }
  if (!curves.empty()) {
    // The bigram's held-out loss as a flat line: the level every model must get under.
    plot::Series base{"bigram (held-out)", {curves[0].xs.front(), curves[0].xs.back()},
                      {bigram.held_out, bigram.held_out}};
    curves.push_back(base);
    const std::string path = (out / "loss.png").string();
    plot::write_png(plot::line_plot(curves, "Training loss per character (mean over each window)",
                                    "step", "nats per character", 800, 500),
                    path);
    std::printf("\nwrote %s\n", path.c_str());
  }

  if (o.check) {
    int failures = 0;
    for (const auto& r : results) {
      if (r.name != "bigram" && !(r.held_out < bigram.held_out)) {
        std::fprintf(stderr, "words: check failed: %s's held-out loss %.4f is not below the bigram's %.4f\n",
                     r.name.c_str(), r.held_out, bigram.held_out);
        ++failures;
      }
    }
    if (failures > 0) return 1;
    std::printf("check passed: every model's held-out loss is below the bigram's %.4f\n", bigram.held_out);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const words::Options o = words::parse(std::vector<std::string>(argv + 1, argv + argc));
    if (o.help) {
      std::cout << words::usage();
      return 0;
    }
    return run_all(o);
  } catch (const std::exception& e) {
    std::cerr << "words: error: " << e.what() << "\n";
    return 1;
  }
}
