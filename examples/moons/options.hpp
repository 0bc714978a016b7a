#pragma once
// The moons program's command line.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "nn/train.hpp"

namespace moons {

// --samples: enough for both classes in the training and held-out parts, few enough to generate.
inline constexpr std::size_t min_samples = 10;
inline constexpr std::size_t max_samples = 1000000;

struct Options {
  bool help = false;
  bool walkthrough = true;                // no model flags: reproduce the post
  std::vector<std::size_t> hidden{3};     // hidden layer sizes, e.g. {10, 10}
  std::vector<std::size_t> sweep{1, 2, 3, 4, 5, 20, 50};
  std::string activation = "tanh";
  int classes = 2;
  std::size_t batch_size = 0;             // 0 = full batch
  std::string optimizer = "gd";
  double rate = 0.01;
  std::string schedule = "constant";
  double decay = 1.0;
  std::size_t decay_every = 1000;
  double reg = 0.01;
  std::size_t passes = 20000;
  std::size_t log_every = 1000;
  std::size_t samples = 200;              // generated data when --data is not given
  double noise = 0.2;
  std::uint64_t seed = 0;
  double test_fraction = 0.2;             ///< rows held out for the held-out accuracy
  std::uint64_t split_seed = 0;           ///< the held-out rows' shuffle; --seed unless given
  std::string write_split;                ///< a CSV file of the rows in each part, or none
  bool standardize = false;               ///< scale features by the training rows' mean and deviation
  std::string loss_reduction = "sum";     ///< the minibatch loss: "sum" (the post) or "mean"
  std::string data;                       // a .csv file, or a .npy file of features
  std::string labels;                     // the .npy file of labels that goes with a .npy --data
  std::string out = "moons-out";
  std::string save;
  std::string load;
  // "float64" or "float32"; empty when --dtype is not given: float64, except that --load keeps the
  // precision the model was saved in.
  std::string dtype;
  // Every flag given, in the order of --help, as "--flag" and its value (the last one if given
  // twice; "" for a switch such as --standardize). --help alone when it was given. Ranks under
  // mpirun compare these.
  std::vector<std::pair<std::string, std::string>> given;
};

/// The flags, checked: throws std::invalid_argument naming the flag and the value (an unknown
/// flag, a value out of range, --classes or --samples with --data, model flags with --load, …).
Options parse(const std::vector<std::string>& args);
/// The --help text, generated from the flags' declarations.
std::string usage();

/// What the flags say of training (passes, batch, optimiser, schedule, reg, loss reduction, seed),
/// for one process and for mpirun alike; the caller sets how often to report.
nn::TrainOptions training_options(const Options& o);

}  // namespace moons
