#include "options.hpp"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>

#include "nn/layers.hpp"

namespace moons {

namespace {

[[noreturn]] void bad(const std::string& flag, const std::string& value, const std::string& want) {
  throw std::invalid_argument(flag + ": '" + value + "' is not " + want);
}

std::size_t to_count(const std::string& flag, const std::string& v, bool allow_zero) {
  char* end = nullptr;
  errno = 0;
  const unsigned long long x = std::strtoull(v.c_str(), &end, 10);
  if (v.empty() || v[0] == '-' || *end != '\0' || errno != 0 || (!allow_zero && x == 0)) {
    bad(flag, v, allow_zero ? "a whole number >= 0" : "a whole number >= 1");
  }
  return static_cast<std::size_t>(x);
}

// Shortest form of a bound: std::to_string would print 1e-12 as "0.000000", a range that seems to
// contain the 0 it rejects.
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

std::vector<std::size_t> to_sizes(const std::string& flag, const std::string& v) {
  std::vector<std::size_t> out;
  std::size_t start = 0;
  while (true) {
    const std::size_t comma = v.find(',', start);
    const std::string part = v.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    try {
      out.push_back(to_count(flag, part, false));
    } catch (const std::invalid_argument&) {
      bad(flag, v, "a comma-separated list of sizes >= 1, such as 3 or 10,10");
    }
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

// Hidden sizes within the network limits, so that nothing huge is allocated on a typo. The
// parameters between hidden layers are counted here; those of the input and output layers, which
// depend on the data, when the data are known.
std::vector<std::size_t> to_layer_sizes(const std::string& flag, const std::string& v) {
  std::vector<std::size_t> sizes = to_sizes(flag, v);
  for (std::size_t s : sizes) {
    if (s > nn::max_layer_size) {
      bad(flag, v, "a list of sizes of at most " + std::to_string(nn::max_layer_size));
    }
  }
  return sizes;
}

std::vector<std::size_t> to_hidden_sizes(const std::string& flag, const std::string& v) {
  std::vector<std::size_t> sizes = to_layer_sizes(flag, v);
  if (nn::parameter_count(sizes) > nn::max_parameters) {
    throw std::invalid_argument(flag + ": '" + v + "' gives " +
                                std::to_string(nn::parameter_count(sizes)) +
                                " parameters, more than the " + std::to_string(nn::max_parameters) +
                                " allowed");
  }
  return sizes;
}

std::size_t to_count_in(const std::string& flag, const std::string& v, std::size_t lo,
                        std::size_t hi) {
  const std::size_t x = to_count(flag, v, true);
  if (x < lo || x > hi) {
    bad(flag, v, "a whole number in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  }
  return x;
}

std::string one_of(const std::string& flag, const std::string& v, const std::vector<std::string>& allowed) {
  for (const auto& a : allowed) {
    if (v == a) return v;
  }
  std::string list;
  for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
  bad(flag, v, "one of " + list);
}

}  // namespace

std::string usage() {
  return R"(usage: moons [flags]

With no flags, reproduces the blog post "Implementing a Neural Network from Scratch" on its exact
200 points: the data, logistic regression, the hidden-size-3 network (loss every 1000 passes), and
the hidden-size sweep, writing the pictures to the output folder.

Any model flag trains one model instead (the post's exercises):
  --hidden LIST        hidden layer sizes, e.g. 3 or 10,10 (default 3); each at most 100000,
                       and at most 10000000 weights and biases in all
  --activation NAME    tanh, sigmoid or relu (default tanh)
  --classes N          2 (moons) or 3 (spiral) (default 2)
  --batch-size N       rows per step; 0 = full batch (default 0)
  --optimizer NAME     gd, momentum or adam (default gd)
  --rate X             learning rate (default 0.01)
  --schedule NAME      constant, step, exponential or inverse_time (default constant)
  --decay X            the schedule's decay factor (default 1)
  --decay-every N      optimiser steps per decay period (default 1000)
  --reg X              weight penalty reg/2·Σ|W|² (default 0.01)
  --samples N          generated points when no --data is given, 10 to 1000000 (default 200)
  --noise X            noise of the generated data (default 0.2)
  --seed N             seed for data, weights and minibatch order (default 0)
  --data FILE          a CSV file (feature columns, then an integer label), or a .npy file
                       of float64 features [rows x features] together with --labels; labels
                       0 to 99999, at least 2 different ones
  --labels FILE        a .npy file of integer labels, one per row of a .npy --data
  --save DIR           save the trained model (one .npy per parameter + model.txt) into a new
                       or empty folder, or over a model saved before; nothing else is replaced
  --load DIR           evaluate a saved model instead of training
Always:
  --dtype NAME         float64 or float32: the precision of the models, their training and
                       their saved files (default float64; with --load, the model's own)
  --passes N           passes through the training data (default 20000)
  --log-every N        passes between progress lines; 0 = none (default 1000)
  --sweep LIST         hidden sizes of the walkthrough's sweep (default 1,2,3,4,5,20,50)
  --out DIR            where the pictures go (default moons-out)
  --help               this text
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
    bool model_flag = true;
    if (flag == "--hidden") o.hidden = to_hidden_sizes(flag, value);
    else if (flag == "--activation") o.activation = one_of(flag, value, {"tanh", "sigmoid", "relu"});
    else if (flag == "--classes") o.classes = static_cast<int>(std::stoi(one_of(flag, value, {"2", "3"})));
    else if (flag == "--batch-size") o.batch_size = to_count(flag, value, true);
    else if (flag == "--optimizer") o.optimizer = one_of(flag, value, {"gd", "momentum", "adam"});
    else if (flag == "--rate") o.rate = to_real(flag, value, 1e-12, 1e3);
    else if (flag == "--schedule") o.schedule = one_of(flag, value, {"constant", "step", "exponential", "inverse_time"});
    else if (flag == "--decay") o.decay = to_real(flag, value, 0.0, 1e6);
    else if (flag == "--decay-every") o.decay_every = to_count(flag, value, false);
    else if (flag == "--reg") o.reg = to_real(flag, value, 0.0, 1e6);
    else if (flag == "--samples") o.samples = to_count_in(flag, value, min_samples, max_samples);
    else if (flag == "--noise") o.noise = to_real(flag, value, 0.0, 100.0);
    else if (flag == "--seed") o.seed = to_count(flag, value, true);
    else if (flag == "--data") o.data = value;
    else if (flag == "--labels") o.labels = value;
    else if (flag == "--save") o.save = value;
    else if (flag == "--load") o.load = value;
    else {
      model_flag = false;
      if (flag == "--sweep") o.sweep = to_layer_sizes(flag, value);
      else if (flag == "--passes") o.passes = to_count(flag, value, false);
      else if (flag == "--log-every") o.log_every = to_count(flag, value, true);
      else if (flag == "--out") o.out = value;
      else if (flag == "--dtype") o.dtype = one_of(flag, value, {"float64", "float32"});
      else throw std::invalid_argument("unknown flag '" + flag + "' (see --help)");
    }
    if (value.empty() && (flag == "--data" || flag == "--labels" || flag == "--save" || flag == "--load" || flag == "--out")) {
      throw std::invalid_argument(flag + ": empty path");
    }
    if (model_flag) o.walkthrough = false;
  }
  const bool npy = o.data.size() >= 4 && o.data.compare(o.data.size() - 4, 4, ".npy") == 0;
  if (npy && o.labels.empty()) throw std::invalid_argument("--data: a .npy file of features needs --labels");
  if (!npy && !o.labels.empty()) throw std::invalid_argument("--labels: goes with a .npy --data file");
  return o;
}

}  // namespace moons
