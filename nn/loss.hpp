#pragma once
/// \file
/// The blog's objective: softmax cross-entropy plus reg/2 · Σ|W|² over the weight matrices.
#include <vector>

#include "autograd/autograd.hpp"

namespace nn {

/// The settings of classification_loss().
struct LossOptions {
  double reg = 0.01;  ///< The weight penalty's factor: the blog's reg_lambda.
  /// How the cross-entropy is reduced over rows. The blog differentiates the cross-entropy summed
  /// over the batch; mean makes the step size independent of the batch size, which minibatch
  /// training usually wants.
  autograd::Reduction reduction = autograd::Reduction::sum;
};

/// The blog's objective: cross_entropy(logits, y) + reg · Σ ½|W|² for every W in weights
/// (recorded on logits' tape), in the precision T of logits (double or float).
template <class T>
autograd::BasicVar<T> classification_loss(const autograd::BasicVar<T>& logits,
                                          const autograd::Labels& y,
                                          const std::vector<autograd::BasicParameter<T>*>& weights,
                                          const LossOptions& options);

/// classification_loss() under a name that does not deduce T: `basic_classification_loss<float>(…)`.
template <class T>
autograd::BasicVar<T> basic_classification_loss(
    const autograd::BasicVar<T>& logits, const autograd::Labels& y,
    const std::vector<autograd::BasicParameter<T>*>& weights, const LossOptions& options) {
  return classification_loss<T>(logits, y, weights, options);
}

extern template autograd::BasicVar<double> classification_loss(
    const autograd::BasicVar<double>&, const autograd::Labels&,
    const std::vector<autograd::BasicParameter<double>*>&, const LossOptions&);
extern template autograd::BasicVar<float> classification_loss(
    const autograd::BasicVar<float>&, const autograd::Labels&,
    const std::vector<autograd::BasicParameter<float>*>&, const LossOptions&);

}  // namespace nn
