#pragma once
// The blog's objective: softmax cross-entropy plus reg/2 · Σ|W|² over the weight matrices.
#include <vector>

#include "autograd/autograd.hpp"

namespace nn {

struct LossOptions {
  double reg = 0.01;  // the blog's reg_lambda
  // The blog differentiates the cross-entropy summed over the batch; mean makes the step size
  // independent of the batch size, which minibatch training usually wants.
  autograd::Reduction reduction = autograd::Reduction::sum;
};

// cross_entropy(logits, y) + reg · Σ ½|W|² for every W in weights (recorded on logits' tape).
autograd::Var classification_loss(const autograd::Var& logits, const autograd::Labels& y,
                                  const std::vector<autograd::Parameter*>& weights,
                                  const LossOptions& options);

}  // namespace nn
