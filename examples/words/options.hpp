#pragma once
// The words program's command line.
#include <cstdint>
#include <string>
#include <vector>

#include "models.hpp"

namespace words {

struct Options {
  bool help = false;
  bool check = false;  // exit non-zero unless every trained model beats the bigram held out
  std::vector<std::string> models{"bigram", "mlp", "rnn", "gru", "attention"};
  Sizes sizes;
  std::size_t steps = 4000;
  double rate = 0.01;
  std::uint64_t seed = 1;
  double held_out = 0.1;
  double max_memory = 2.0;  // GiB one model's training may take, by words::training_bytes
  std::size_t samples = 20;
  std::size_t log_every = 500;
  std::string words = "/usr/share/dict/words";
  std::string out = "words-out";
};

/// The flags, checked: throws std::invalid_argument naming the flag and the value.
Options parse(const std::vector<std::string>& args);
/// The --help text, generated from the flags' declarations.
std::string usage();

}  // namespace words
