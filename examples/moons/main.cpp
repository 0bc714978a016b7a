// The blog post "Implementing a Neural Network from Scratch" end to end, on the autograd engine.
// With no flags it walks through the post on the post's own 200 points; with model flags it trains
// one model (the post's exercises). Run with --help for the flags.
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include "autograd/dot.hpp"
#include "autograd/durable.hpp"
#include "blog_data.hpp"
#include "checks.hpp"
#ifdef MOONS_WITH_MPI
#include "distributed.hpp"
#endif
#include "nn/data.hpp"
#include "nn/layers.hpp"
#include "nn/serialize.hpp"
#include "nn/train.hpp"
#include "options.hpp"
#include "output.hpp"
#include "text.hpp"
#include "plot.hpp"

namespace {

using autograd::Matrix;
using moons::folder_key;
using moons::join;
using moons::Output;
using moons::percent;
using moons::within;

nn::Dataset blog_moons() {
  nn::Dataset d;
  d.X = Matrix::from_shape({blog_data::rows, 2});
  d.y.resize(blog_data::rows);
  for (std::size_t i = 0; i < blog_data::rows; ++i) {
    d.X(i, 0) = blog_data::moons[i][0];
    d.X(i, 1) = blog_data::moons[i][1];
    d.y[i] = static_cast<int>(blog_data::moons[i][2]);
  }
  d.classes = 2;
  return d;
}

// The blog's network for hidden size h, from the blog's own initial weights where it has them
// (rounded to float32 for a float32 network).
template <class T>
nn::BasicMLP<T> blog_network(std::size_t h, std::uint64_t seed) {
  using M = autograd::BasicMatrix<T>;
  for (const auto& w : blog_data::initial_weights) {
    if (w.hidden != h) continue;
    M W1 = M::from_shape({2, h}), W2 = M::from_shape({h, 2});
    std::copy(w.W1, w.W1 + 2 * h, W1.begin());
    std::copy(w.W2, w.W2 + 2 * h, W2.begin());
    std::vector<nn::BasicDense<T>> layers;
    layers.emplace_back(W1, xt::zeros<T>({std::size_t{1}, h}));
    layers.emplace_back(W2, xt::zeros<T>({std::size_t{1}, std::size_t{2}}));
    return nn::BasicMLP<T>(std::move(layers), nn::Activation::tanh);
  }
  return nn::BasicMLP<T>({2, h, 2}, nn::Activation::tanh, seed);
}

// ", float32" for a float32 model, nothing for float64 (the post's own precision).
template <class T>
std::string precision_note() {
  return std::is_same_v<T, float> ? ", float32" : "";
}

template <class T>
plot::Predict predictor(nn::BasicMLP<T>& model) {
  return [&model](const Matrix& X) { return model.predict(X); };
}

// Trains with progress lines like the post's ("Loss after iteration 0: 0.432387"), plus accuracy
// and time; keeps every 100th pass for the loss curve.
template <class T>
std::vector<nn::Progress> train_logged(nn::BasicMLP<T>& model, const nn::Dataset& data,
                                       nn::TrainOptions options, std::size_t print_every) {
  options.log_every = print_every == 0 ? 0 : std::min<std::size_t>(100, print_every);
  options.log_last = true;  // the final loss is always printed, whatever print_every
  return nn::train(model, data, options, [&](const nn::Progress& p) {
    if (print_every == 0 || (p.pass % print_every != 0 && p.pass + 1 != options.passes)) return;
    std::printf("Loss after iteration %zu: %f   accuracy %s   rate %.4g   %.2f s\n", p.pass, p.loss,
                percent(p.accuracy).c_str(), p.rate, p.seconds);
    std::fflush(stdout);
  });
}

plot::Image loss_curve(const std::vector<nn::Progress>& log, const std::string& title) {
  std::vector<double> xs, ys;
  for (const auto& p : log) {
    xs.push_back(static_cast<double>(p.pass));
    ys.push_back(p.loss);
  }
  return plot::line_plot(xs, ys, title, "pass", "loss");
}

std::string format_number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

// Seconds `dot` may take before it is stopped: MOONS_DOT_TIMEOUT if set to a number in (0, 3600]
// (the tests set 1 for a dot that hangs), else 20.
double dot_time_limit() {
  if (const char* env = std::getenv("MOONS_DOT_TIMEOUT")) {
    char* end = nullptr;
    const double v = std::strtod(env, &end);
    if (end != env && *end == '\0' && v > 0 && v <= 3600) return v;
  }
  return 20.0;
}

// What `dot -Tpng dot_file` gave: the picture, or that Graphviz is not installed, or why it drew
// nothing (one line).
struct Rendering {
  bool missing = false;
  std::string png;
  std::string problem;
};

// Runs `dot -Tpng dot_file` when Graphviz is on PATH, reading the picture from its standard
// output; in a process group of its own, which is killed when it takes longer than
// dot_time_limit(). Never throws: drawing the graph is optional.
Rendering render_with_graphviz(const std::string& dot_file) {
  using clock = std::chrono::steady_clock;
  Rendering r;
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    r.problem = std::string("cannot make a pipe: ") + std::strerror(errno);
    return r;
  }
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attributes;
  ::posix_spawn_file_actions_init(&actions);
  ::posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  ::posix_spawnattr_init(&attributes);
  ::posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETPGROUP);
  ::posix_spawnattr_setpgroup(&attributes, 0);
  std::vector<std::string> args{"dot", "-Tpng", dot_file};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  const int spawned = ::posix_spawnp(&pid, "dot", &actions, &attributes, argv.data(), environ);
  ::posix_spawn_file_actions_destroy(&actions);
  ::posix_spawnattr_destroy(&attributes);
  ::close(fds[1]);
  if (spawned != 0) {
    ::close(fds[0]);
    r.missing = spawned == ENOENT;
    if (!r.missing) r.problem = std::string("cannot run dot: ") + std::strerror(spawned);
    return r;
  }
  const double limit = dot_time_limit();
  const auto deadline = clock::now() + std::chrono::duration_cast<clock::duration>(
                                           std::chrono::duration<double>(limit));
  const auto ms_left = [&] {
    return std::max<long long>(0, std::chrono::duration_cast<std::chrono::milliseconds>(
                                      deadline - clock::now()).count());
  };
  bool timed_out = false;
  for (;;) {
    pollfd p{fds[0], POLLIN, 0};
    const int ready = ::poll(&p, 1, static_cast<int>(std::min<long long>(ms_left(), 1000)));
    if (ready < 0 && errno != EINTR) break;
    if (ready > 0) {
      char buf[65536];
      const ssize_t n = ::read(fds[0], buf, sizeof buf);
      if (n > 0) r.png.append(buf, static_cast<std::size_t>(n));
      if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) break;
    } else if (ms_left() == 0) {
      timed_out = true;
      break;
    }
  }
  ::close(fds[0]);
  int status = 0;
  while (!timed_out && ::waitpid(pid, &status, WNOHANG) == 0) {
    if (ms_left() == 0) {
      timed_out = true;
    } else {
      ::usleep(10000);
    }
  }
  if (timed_out) {
    ::kill(-pid, SIGKILL);
    ::waitpid(pid, &status, 0);
    r.problem = "did not finish within " + format_number(limit) + " s (MOONS_DOT_TIMEOUT)";
  } else if (WIFEXITED(status) && WEXITSTATUS(status) == 127 && r.png.empty()) {
    r.missing = true;  // the child could not run dot (posix_spawnp may report that so)
  } else if (!WIFEXITED(status)) {
    r.problem = "ended by signal " + std::to_string(WTERMSIG(status));
  } else if (WEXITSTATUS(status) != 0) {
    r.problem = "exited with status " + std::to_string(WEXITSTATUS(status));
  } else if (r.png.empty()) {
    r.problem = "exited 0 but drew nothing";
  }
  if (!r.problem.empty()) r.png.clear();
  return r;
}

// One recorded training pass of `net` (forward, loss, backward) as a Graphviz graph, tape.dot,
// drawn to tape.png when Graphviz is installed.
template <class T>
void write_tape_picture(nn::BasicMLP<T>& net, const nn::Dataset& data, const nn::TrainOptions& t,
                        const Output& out) {
  autograd::BasicTape<T> tape;
  const autograd::BasicMatrix<T> X = xt::cast<T>(data.X);
  const auto loss = nn::classification_loss(net(tape, tape.constant(X)), data.y, net.weights(), t.loss);
  net.zero_grad();
  tape.backward(loss);
  const std::string dot_file = (out.dir / "tape.dot").string();
  autograd::write_dot(tape, loss, dot_file);
  std::cout << "  wrote " << dot_file << " (one training pass: values, shapes, gradient norms)\n";
  const std::string png = (out.dir / "tape.png").string();
  const Rendering drawn = render_with_graphviz(dot_file);
  if (drawn.missing) {
    std::cout << "  to draw it, install Graphviz (Debian: graphviz) and run: dot -Tpng " << dot_file
              << " -o " << png << "\n";
  } else if (!drawn.problem.empty()) {
    std::cout << std::flush;
    std::cerr << "moons: warning: dot -Tpng " << dot_file << " " << drawn.problem << "; " << png
              << " not drawn\n";
  } else {
    autograd::write_file(png, drawn.png);
    std::cout << "  wrote " << png << "\n";
  }
}

nn::TrainOptions blog_training(const moons::Options& o) {
  nn::TrainOptions t;
  t.passes = o.passes;
  t.schedule.base = 0.01;  // the post's epsilon
  t.loss.reg = 0.01;       // the post's reg_lambda
  return t;
}

template <class T>
int walkthrough(const moons::Options& o) {
  const Output out(o.out);
  for (const char* name : {"1-data.png", "2-logistic-regression.png", "3-hidden-3.png", "3-loss.png",
                           "tape.dot", "tape.png", "4-hidden-sizes.png"}) {
    out.check(name);
  }
  const nn::Dataset data = blog_moons();
  // Held-out points from the same distribution (our make_moons; the post's 200 stay the training set).
  const nn::Dataset held_out = nn::make_moons(1000, 0.2, 12345);

  std::cout << "1. The data: 200 points of two interleaving half moons, noise 0.2\n";
  out.write(plot::scatter(data.X, data.y, 2, "make_moons(200, noise=0.20)"), "1-data.png");

  std::cout << "\n2. Logistic regression (the same ops with no hidden layer)\n";
  nn::BasicMLP<T> linear({2, 2}, nn::Activation::tanh, o.seed);
  train_logged(linear, data, blog_training(o), 0);
  const double linear_acc = nn::accuracy(linear.predict(data.X), data.y);
  std::cout << "  training accuracy " << percent(linear_acc) << ", held-out "
            << percent(nn::accuracy(linear.predict(held_out.X), held_out.y)) << "\n";
  out.write(plot::decision_boundary(data.X, data.y, 2, predictor(linear),
                                    "Logistic Regression (accuracy " + percent(linear_acc) + ")"),
            "2-logistic-regression.png");

  std::cout << "\n3. A network with a hidden layer of size 3 (rate 0.01, reg 0.01, " << o.passes
            << " passes" << precision_note<T>() << ")\n";
  nn::BasicMLP<T> net = blog_network<T>(3, o.seed);
  const auto log = train_logged(net, data, blog_training(o), o.log_every);
  const double acc = nn::accuracy(net.predict(data.X), data.y);
  std::cout << "  training accuracy " << percent(acc) << "\n";
  out.write(plot::decision_boundary(data.X, data.y, 2, predictor(net),
                                    "Decision Boundary for hidden layer size 3 (accuracy " +
                                        percent(acc) + ")"),
            "3-hidden-3.png");
  if (!log.empty()) out.write(loss_curve(log, "Loss, hidden layer size 3"), "3-loss.png");
  write_tape_picture(net, data, blog_training(o), out);

  std::cout << "\n4. Varying the hidden layer size\n";
  std::printf("  %-8s %-10s %-10s %-8s\n", "hidden", "training", "held-out", "seconds");
  std::vector<plot::Image> tiles;
  for (std::size_t h : o.sweep) {
    std::printf("  %-8zu ", h);  // the row names the model while it trains
    std::fflush(stdout);
    nn::BasicMLP<T> m = blog_network<T>(h, o.seed);
    nn::TrainOptions t = blog_training(o);
    t.log_every = 0;
    const auto start = std::chrono::steady_clock::now();
    nn::train(m, data, t);
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const double train_acc = nn::accuracy(m.predict(data.X), data.y);
    const double test_acc = nn::accuracy(m.predict(held_out.X), held_out.y);
    std::printf("%-10s %-10s %-8.2f\n", percent(train_acc).c_str(), percent(test_acc).c_str(), secs);
    tiles.push_back(plot::decision_boundary(
        data.X, data.y, 2, predictor(m),
        "Hidden Layer size " + std::to_string(h) + " (train " + percent(train_acc) + ", held-out " +
            percent(test_acc) + ")",
        400));
  }
  out.write(plot::grid(tiles, 2), "4-hidden-sizes.png");
  return 0;
}

// A loaded model must take the data's features and give one output per class.
template <class T>
void check_fit(const nn::BasicMLP<T>& model, const nn::Dataset& data, const std::string& folder,
               const std::string& data_name) {
  const std::size_t inputs = model.sizes().front();
  const std::size_t outputs = model.sizes().back();
  const auto classes = static_cast<std::size_t>(data.classes);
  if (inputs != data.X.shape(1) || outputs != classes) {
    throw std::runtime_error("--load " + folder + ": the model (" + join(model.sizes(), "-") +
                             ") takes " + std::to_string(inputs) + " features and gives " +
                             std::to_string(outputs) + " classes, but " + data_name + " has " +
                             std::to_string(data.X.shape(1)) + " features and " +
                             std::to_string(classes) + " classes");
  }
}

// --write-split must not overwrite the data, nor go into the model folder that --save replaces,
// nor be a folder; checked before training.
void check_split_target(const moons::Options& o) {
  const std::filesystem::path target = folder_key(o.write_split);
  for (const std::string* input : {&o.data, &o.labels}) {
    if (!input->empty() && target == folder_key(*input)) {
      throw std::runtime_error("--write-split '" + o.write_split + "' is the data file '" + *input +
                               "'; refusing to overwrite it");
    }
  }
  for (const std::string* model : {&o.save, &o.load}) {
    if (!model->empty() && within(target, folder_key(*model))) {
      throw std::runtime_error("--write-split '" + o.write_split + "' is inside the model folder '" +
                               *model + "'");
    }
  }
  std::error_code ec;
  if (std::filesystem::is_directory(o.write_split, ec)) {
    throw std::runtime_error("--write-split '" + o.write_split + "' is a folder, not a file");
  }
  if (!std::filesystem::is_directory(target.parent_path(), ec)) {
    throw std::runtime_error("--write-split '" + o.write_split + "': the folder '" +
                             target.parent_path().string() + "' does not exist");
  }
  try {
    autograd::check_file_target(o.write_split);
  } catch (const std::runtime_error& e) {
    throw std::runtime_error(std::string("--write-split: ") + e.what());
  }
}

// The split as CSV, "row,part" then one line per data row in the data's order: its 0-based index
// and "train" or "test"; written with autograd::write_file (whole or not at all; a device, FIFO
// or pipe in place).
void write_split(const nn::SplitRows& split, const std::string& path) {
  std::vector<const char*> part(split.train.size() + split.test.size(), "train");
  for (std::size_t r : split.test) part[r] = "test";
  std::string csv = "row,part\n";
  for (std::size_t r = 0; r < part.size(); ++r) csv += std::to_string(r) + ',' + part[r] + '\n';
  try {
    autograd::write_file(path, csv);
  } catch (const std::runtime_error& e) {
    throw std::runtime_error(std::string("--write-split: ") + e.what());
  }
}

// What nn::recover_model_folder did after an interrupted save, said on stderr (nothing if nothing).
void say_recovered(const std::string& what) {
  if (!what.empty()) std::cerr << "moons: " << what << "\n";
}

// One model: the post's exercises (minibatches, schedules, activations, 3 classes, more layers).
template <class T>
int single_model(const moons::Options& o) {
  const std::string data_name = o.data.empty() ? "the generated data" : "'" + o.data + "'";
  nn::Dataset data = !o.labels.empty() ? nn::load_npy(o.data, o.labels)
                     : !o.data.empty()   ? nn::load_csv(o.data)
                     : o.classes == 3    ? nn::make_spiral(o.samples / 3, 3, 0.2, o.seed)
                                         : nn::make_moons(o.samples, o.noise, o.seed);
  nn::check_dataset(data, o.data.empty() ? "data" : o.data);
  const std::vector<std::size_t> sizes = moons::check_run(
      o, autograd::dtype_name<T>(), {data_name, data.y.size(), data.X.shape(1), data.classes, {data.y.begin(), data.y.end()}});

  nn::BasicMLP<T> model = o.load.empty()
                              ? nn::BasicMLP<T>(sizes, nn::parse_activation(o.activation), o.seed)
                              : nn::load_model<T>(o.load);
  if (!o.load.empty()) check_fit(model, data, o.load, data_name);
  nn::SplitRows split;
  try {
    split = nn::train_test_rows(data.y.size(), o.test_fraction, o.split_seed);
  } catch (const std::invalid_argument& e) {
    throw std::runtime_error("--test-fraction " + format_number(o.test_fraction) + ": " + e.what());
  }
  const nn::Dataset train_set = nn::take_rows(data, split.train);
  const nn::Dataset test_set = nn::take_rows(data, split.test);
  if (!o.write_split.empty()) check_split_target(o);
  if (!o.save.empty()) {
    say_recovered(nn::recover_model_folder(o.save));
    nn::check_save_target(o.save);
  }
  const Output out(o.out);
  if (data.X.shape(1) == 2) out.check("boundary.png");
  if (o.load.empty()) out.check("loss.png");
  // Fitted on the training rows only, so that the held-out rows stay unseen.
  if (o.standardize) model.set_input_scaling(nn::Standardizer::fit(train_set.X));

  const std::string name = join(model.sizes(), "-") + " " + nn::to_string(model.activation());
  std::vector<nn::Progress> log;
  if (o.load.empty()) {
    const nn::TrainOptions t = moons::training_options(o);
    std::cout << "Training " << name << " on " << train_set.y.size() << " points (" << o.optimizer
              << ", batch " << (o.batch_size == 0 ? std::string("all") : std::to_string(o.batch_size))
              << ", rate " << o.rate << " " << o.schedule
              << (o.loss_reduction == "mean" ? ", mean loss" : "")
              << (o.standardize ? ", standardized features" : "") << precision_note<T>() << ")\n";
    try {
      log = train_logged(model, train_set, t, o.log_every);
    } catch (const std::runtime_error& e) {
      // Name the flags that set the step sizes: any of them can make the descent diverge.
      std::string flags = "--rate " + format_number(o.rate) + " --reg " + format_number(o.reg);
      if (o.schedule != "constant") flags += " --schedule " + o.schedule + " --decay " + format_number(o.decay);
      throw std::runtime_error(flags + ": " + e.what());
    }
  } else {
    std::cout << "Loaded " << name << " (" << autograd::dtype_name<T>() << ") from " << o.load;
    if (!model.converted_from().empty()) {
      std::cout << ", converted from " << model.converted_from() << " (--dtype "
                << autograd::dtype_name<T>() << ")";
    }
    if (model.input_scaling()) std::cout << ", standardizing its inputs as saved";
    std::cout << "\n";
  }
  const double train_acc = nn::accuracy(model.predict(train_set.X), train_set.y);
  const double test_acc = nn::accuracy(model.predict(test_set.X), test_set.y);
  std::cout << "training accuracy " << percent(train_acc) << ", held-out accuracy " << percent(test_acc)
            << "\n";
  // The trained model first, then the split, then the pictures: what cannot be made again
  // cheaply is written before what can.
  if (!o.save.empty()) {
    nn::save_model(model, o.save);
    std::cout << "saved the model to " << o.save << "\n";
  }
  if (!o.write_split.empty()) {
    write_split(split, o.write_split);
    std::cout << "wrote the split to " << o.write_split << "\n";
  }
  if (data.X.shape(1) == 2) {
    out.write(plot::decision_boundary(data.X, data.y, data.classes, predictor(model),
                                      name + " (held-out " + percent(test_acc) + ")"),
              "boundary.png");
  }
  if (!log.empty()) out.write(loss_curve(log, "Loss, " + name), "loss.png");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
#ifdef MOONS_WITH_MPI
  if (moons::under_mpirun()) return moons::run_under_mpirun(argc, argv);
#endif
  try {
    const moons::Options o = moons::parse(std::vector<std::string>(argv + 1, argv + argc));
    if (o.help) {
      std::cout << moons::usage();
      return 0;
    }
    // A model folder whose save was interrupted is put right (and said so) before it is read.
    if (!o.walkthrough && !o.load.empty()) say_recovered(nn::recover_model_folder(o.load));
    // --load without --dtype keeps the precision the model was saved in.
    const std::string dtype =
        !o.dtype.empty()                     ? o.dtype
        : !o.walkthrough && !o.load.empty() ? nn::saved_dtype(o.load)
                                            : "float64";
    if (dtype == "float32") return o.walkthrough ? walkthrough<float>(o) : single_model<float>(o);
    return o.walkthrough ? walkthrough<double>(o) : single_model<double>(o);
  } catch (const std::exception& e) {
    std::cerr << "moons: error: " << e.what() << "\n";
    return 1;
  }
}
