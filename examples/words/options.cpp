#include "options.hpp"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>

namespace words {

namespace {

[[noreturn]] void bad(const std::string& flag, const std::string& value, const std::string& want) {
  throw std::invalid_argument(flag + ": '" + value + "' is not " + want);
}

std::size_t to_count(const std::string& flag, const std::string& v, std::size_t lo, std::size_t hi) {
  char* end = nullptr;
  errno = 0;
  const unsigned long long x = std::strtoull(v.c_str(), &end, 10);
  if (v.empty() || v[0] == '-' || v[0] == '+' || *end != '\0' || errno != 0 || x < lo || x > hi) {
    bad(flag, v, "a whole number in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  }
  return static_cast<std::size_t>(x);
}

std::string bound(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

double to_real(const std::string& flag, const std::string& v, double lo, double hi) {
  char* end = nullptr;
  errno = 0;
  const double x = std::strtod(v.c_str(), &end);
  if (v.empty() || *end != '\0' || errno != 0 || !std::isfinite(x) || x < lo || x > hi) {
    bad(flag, v, "a number in [" + bound(lo) + ", " + bound(hi) + "]");
  }
  return x;
}

const std::vector<std::string> all_models{"bigram", "mlp", "rnn", "gru", "attention"};

std::vector<std::string> to_models(const std::string& flag, const std::string& v) {
  std::vector<bool> chosen(all_models.size(), false);
  std::size_t start = 0;
  while (true) {
    const std::size_t comma = v.find(',', start);
    const std::string part = v.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    bool known = false;
    for (std::size_t k = 0; k < all_models.size(); ++k) {
      if (part == all_models[k]) chosen[k] = known = true;
    }
    if (part == "all") chosen.assign(all_models.size(), known = true);
    if (!known) bad(flag, v, "a comma-separated list of bigram, mlp, rnn, gru, attention (or all)");
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  std::vector<std::string> out{"bigram"};  // always: the baseline
  for (std::size_t k = 1; k < all_models.size(); ++k) {
    if (chosen[k]) out.push_back(all_models[k]);
  }
  return out;
}

}  // namespace

std::string usage() {
  return R"(usage: words [flags]

Character-level language models of English words, the makemore progression: a bigram count table,
an MLP on the previous characters' embeddings (Bengio et al. 2003), a vanilla RNN and a GRU trained
by truncated back-propagation through time, and one block of causal self-attention. Each model is
trained with Adam on minibatches (rate decaying exponentially to a tenth over the steps), then
scored on held-out words in nats per character (each letter and the end of the word, given the
letters before it in the word). Prints the table of held-out losses and training seconds, samples
new words from each model, and writes the training-loss curves to OUT/loss.png.

The word list has one word per line. Each word is lowercased; words with anything else than the
letters a-z (apostrophes, hyphens, accents, digits) are skipped, and repeats are kept once. The
vocabulary is '.' (start and end of a word) and a-z.

  --models LIST       comma-separated: bigram, mlp, rnn, gru, attention, or all (default all);
                      the bigram is always counted, as the baseline
  --words FILE        the word list (default /usr/share/dict/words, Debian's wamerican)
  --out DIR           where loss.png goes (default words-out)
  --steps N           optimiser steps per model (default 4000)
  --batch N           per step: words (attention), parallel streams of --bptt characters (rnn,
                      gru); the mlp takes batch x bptt contexts, as many as an rnn step predicts
                      (default 32)
  --rate X            Adam's learning rate at the start (default 0.01)
  --embedding N       embedding size of mlp, rnn, gru (default 16)
  --hidden N          hidden size of mlp, rnn, gru (default 128)
  --context N         mlp: previous characters it sees (default 3)
  --bptt N            rnn, gru: steps per truncated back-propagation (default 16)
  --width N           attention: embedding and residual width (default 64)
  --heads N           attention: heads; must divide --width (default 4)
  --held-out X        fraction of the words held out (default 0.1)
  --seed N            seed of the split, the weights, the minibatches and the samples (default 1)
  --samples N         words sampled from each model (default 20)
  --log-every N       steps between progress lines; 0 = none (default 500)
  --check             exit with status 1 unless every trained model's held-out loss is below the
                      bigram's
  --help              this text
)";
}

Options parse(const std::vector<std::string>& args) {
  Options o;
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string flag = args[i], value;
    if (flag == "--help" || flag == "-h") {
      o.help = true;
      continue;
    }
    if (flag == "--check") {
      o.check = true;
      continue;
    }
    if (flag.rfind("--", 0) != 0) throw std::invalid_argument("unexpected argument '" + flag + "' (see --help)");
    const std::size_t eq = flag.find('=');
    if (eq != std::string::npos) {
      value = flag.substr(eq + 1);
      flag = flag.substr(0, eq);
    } else if (i + 1 < args.size()) {
      value = args[++i];
    } else {
      throw std::invalid_argument(flag + ": missing value (see --help)");
    }
    const std::size_t big = 1000000;
    if (flag == "--models") o.models = to_models(flag, value);
    else if (flag == "--words") o.words = value;
    else if (flag == "--out") o.out = value;
    else if (flag == "--steps") o.steps = to_count(flag, value, 1, 100 * big);
    else if (flag == "--batch") o.sizes.batch = to_count(flag, value, 1, 65536);
    else if (flag == "--rate") o.rate = to_real(flag, value, 1e-12, 10.0);
    else if (flag == "--embedding") o.sizes.embedding = to_count(flag, value, 1, 4096);
    else if (flag == "--hidden") o.sizes.hidden = to_count(flag, value, 1, 4096);
    else if (flag == "--context") o.sizes.context = to_count(flag, value, 1, 64);
    else if (flag == "--bptt") o.sizes.bptt = to_count(flag, value, 1, 4096);
    else if (flag == "--width") o.sizes.width = to_count(flag, value, 1, 4096);
    else if (flag == "--heads") o.sizes.heads = to_count(flag, value, 1, 4096);
    else if (flag == "--held-out") o.held_out = to_real(flag, value, 0.001, 0.9);
    else if (flag == "--seed") o.seed = to_count(flag, value, 0, ~std::size_t{0} - 1);
    else if (flag == "--samples") o.samples = to_count(flag, value, 0, big);
    else if (flag == "--log-every") o.log_every = to_count(flag, value, 0, 100 * big);
    else throw std::invalid_argument("unknown flag '" + flag + "' (see --help)");
    if (value.empty() && (flag == "--words" || flag == "--out")) throw std::invalid_argument(flag + ": empty path");
  }
  if (o.sizes.width % o.sizes.heads != 0) {
    throw std::invalid_argument("--heads: '" + std::to_string(o.sizes.heads) + "' does not divide --width " +
                                std::to_string(o.sizes.width));
  }
  return o;
}

}  // namespace words
