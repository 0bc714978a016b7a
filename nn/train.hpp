#pragma once
/// \file
/// The training loop: batch gradient descent as in the blog, or minibatches in a seeded order.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "nn/data.hpp"
#include "nn/layers.hpp"
#include "nn/loss.hpp"
#include "nn/optim.hpp"

namespace nn {

/// The settings of train(); the defaults are the blog's.
struct TrainOptions {
  std::size_t passes = 20000;    ///< Passes through the training data.
  std::size_t batch_size = 0;    ///< Rows per step; 0 = the whole data set (the blog).
  std::string optimizer = "gd";  ///< gd, momentum or adam (make_optimizer()).
  Schedule schedule;             ///< Rate per optimiser step (the blog: constant 0.01).
  LossOptions loss;              ///< The objective's weight penalty and reduction.
  std::uint64_t seed = 0;        ///< The minibatch order.
  std::size_t log_every = 1000;  ///< Report after passes 0, log_every, 2·log_every, …; 0 = never.
  /// With log_every > 0, also report after the last pass (50 passes reported every 10: passes 0,
  /// 10, …, 40 and 49), so that the final loss is always seen. Off by default, as before.
  bool log_last = false;
};

/// One report of train().
struct Progress {
  std::size_t pass = 0;   ///< The pass, counted from 0.
  double loss = 0.0;      ///< The blog's printed loss, after this pass's update.
  double accuracy = 0.0;  ///< On the training data.
  double rate = 0.0;      ///< The rate of the pass's last step.
  double seconds = 0.0;   ///< Since training started.
};

/// Trains model in place; on_log (optional) is called at each report. Returns the reports.
///
/// Throws std::runtime_error naming the pass as soon as the loss is not finite (a diverged run).
/// Throws std::invalid_argument before the first step if the schedule's rate (or a decay it uses)
/// is negative, NaN or infinite, and naming the step if a later rate is.
/// A float32 model (`BasicMLP<float>`) trains in float32 throughout: data.X is rounded to float32
/// once, before the first pass, and the optimiser works in float32.
template <class T>
std::vector<Progress> train(BasicMLP<T>& model, const Dataset& data, const TrainOptions& options,
                            const std::function<void(const Progress&)>& on_log = {});

/// The blog's calculate_loss: (Σ cross-entropy + reg/2 · Σ|W|²) / N, evaluated without recording
/// (in the model's precision; the result is widened to double).
template <class T>
double reported_loss(BasicMLP<T>& model, const Dataset& data, double reg);

extern template std::vector<Progress> train(BasicMLP<double>&, const Dataset&, const TrainOptions&,
                                            const std::function<void(const Progress&)>&);
extern template std::vector<Progress> train(BasicMLP<float>&, const Dataset&, const TrainOptions&,
                                            const std::function<void(const Progress&)>&);
extern template double reported_loss(BasicMLP<double>&, const Dataset&, double);
extern template double reported_loss(BasicMLP<float>&, const Dataset&, double);

}  // namespace nn
