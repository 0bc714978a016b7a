// moons::parse on arbitrary arguments: the input is split on NUL and newline bytes. Bad arguments
// must give a std::exception whose message names one of them; accepted ones must give options
// within the ranges the program relies on (the network and --samples limits included).
#include <cerrno>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstdint>
#include <exception>
#include <string>
#include <vector>

#include "fuzz_support.hpp"
#include "nn/layers.hpp"
#include "nn/text.hpp"
#include "options.hpp"

namespace {

std::vector<std::string> split(const std::uint8_t* data, std::size_t size) {
  std::vector<std::string> args(1);
  for (std::size_t i = 0; i < size; ++i) {
    const char c = static_cast<char>(data[i]);
    if (c == '\0' || c == '\n') {
      args.emplace_back();
    } else {
      args.back() += c;
    }
  }
  if (size == 0) args.clear();
  return args;
}

void check_options(const moons::Options& o) {
  auto all_positive = [](const std::vector<std::size_t>& v) {
    if (v.empty()) return false;
    for (std::size_t s : v) {
      if (s == 0) return false;
    }
    return true;
  };
  if (!all_positive(o.hidden)) fuzz::finding("accepted a hidden size of 0 or no hidden sizes");
  if (!all_positive(o.sweep)) fuzz::finding("accepted a sweep size of 0 or an empty sweep");
  if (o.classes != 2 && o.classes != 3) fuzz::finding("accepted classes " + std::to_string(o.classes));
  if (o.passes == 0 || o.samples == 0 || o.decay_every == 0) fuzz::finding("accepted a zero count");
  if (o.samples < moons::min_samples || o.samples > moons::max_samples) {
    fuzz::finding("accepted --samples " + std::to_string(o.samples));
  }
  for (const auto* sizes : {&o.hidden, &o.sweep}) {
    for (std::size_t s : *sizes) {
      if (s > nn::max_layer_size) fuzz::finding("accepted a layer of size " + std::to_string(s));
    }
  }
  if (nn::parameter_count(o.hidden) > nn::max_parameters) {
    fuzz::finding("accepted --hidden with " + std::to_string(nn::parameter_count(o.hidden)) +
                  " parameters");
  }
  if (!(o.rate > 0.0) || !(o.decay >= 0.0) || !(o.reg >= 0.0) || !(o.noise >= 0.0)) {
    fuzz::finding("accepted a rate, decay, reg or noise out of range");
  }
  if (o.activation != "tanh" && o.activation != "sigmoid" && o.activation != "relu") {
    fuzz::finding("accepted activation '" + o.activation + "'");
  }
  if (o.out.empty()) fuzz::finding("accepted an empty --out");
  if (!o.dtype.empty() && o.dtype != "float64" && o.dtype != "float32") {
    fuzz::finding("accepted --dtype '" + o.dtype + "'");
  }
  const bool npy = o.data.size() >= 4 && o.data.compare(o.data.size() - 4, 4, ".npy") == 0;
  if (npy == o.labels.empty()) fuzz::finding("accepted --labels without a .npy --data, or the reverse");
  if (!(o.test_fraction > 0.0 && o.test_fraction < 1.0)) {
    fuzz::finding("accepted --test-fraction " + std::to_string(o.test_fraction));
  }
  if (o.loss_reduction != "sum" && o.loss_reduction != "mean") {
    fuzz::finding("accepted --loss-reduction '" + o.loss_reduction + "'");
  }
  // Refused combinations: any such flag given is refused, so an accepted one left the default.
  const moons::Options defaults;
  if (!o.data.empty() && (o.classes != defaults.classes || o.samples != defaults.samples ||
                          o.noise != defaults.noise)) {
    fuzz::finding("accepted --classes, --samples or --noise with --data");
  }
  if (!o.load.empty() &&
      (o.hidden != defaults.hidden || o.activation != defaults.activation ||
       o.rate != defaults.rate || o.reg != defaults.reg || o.passes != defaults.passes ||
       o.standardize || o.loss_reduction != defaults.loss_reduction)) {
    fuzz::finding("accepted a flag that shapes or trains a model with --load");
  }
}

// "--rate: '0' is not a number in [A, B]" must not be said of a number that lies in [A, B] as
// printed: the user could not tell what to type instead.
void check_range_message(const std::string& message) {
  const std::size_t tail = message.rfind("' is not a number in [");
  const std::size_t head = message.find(": '");
  if (tail == std::string::npos || head == std::string::npos || head + 3 > tail) return;
  const std::string value = message.substr(head + 3, tail - head - 3);
  const std::string range = message.substr(tail + 22);
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(value.c_str(), &end);
  if (value.empty() || *end != '\0' || errno != 0 || !std::isfinite(v)) return;
  // Only a message that ends in the range: a value of another flag may contain the same words.
  double lo = 0.0, hi = 0.0;
  int used = 0;
  if (std::sscanf(range.c_str(), "%lf, %lf]%n", &lo, &hi, &used) == 2 &&
      static_cast<std::size_t>(used) == range.size() && lo <= v && v <= hi) {
    fuzz::finding("the message rejects a value inside the range it prints: " + message);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::vector<std::string> args = split(data, size);
  try {
    check_options(moons::parse(args));
  } catch (const std::exception& e) {
    const std::string message = e.what();
    if (message.empty()) fuzz::finding("an exception with an empty message");
    check_range_message(message);
    bool names_one = false;
    for (const std::string& a : args) {
      const std::string flag = a.substr(0, a.find('='));
      // Named as typed, or as nn::quote shows it (escaped, cut short).
      names_one = names_one || (!flag.empty() && message.find(flag) != std::string::npos) ||
                  message.find("'" + a + "'") != std::string::npos ||
                  (!flag.empty() && message.find(nn::quote(flag)) != std::string::npos) ||
                  message.find(nn::quote(a)) != std::string::npos;
    }
    if (!names_one) fuzz::finding("the message names none of the arguments: " + message);
  }
  return 0;
}
