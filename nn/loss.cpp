#include "nn/loss.hpp"

namespace nn {

autograd::Var classification_loss(const autograd::Var& logits, const autograd::Labels& y,
                                  const std::vector<autograd::Parameter*>& weights,
                                  const LossOptions& options) {
  autograd::Var loss = autograd::softmax_cross_entropy(logits, y, options.reduction);
  if (options.reg == 0.0 || weights.empty()) return loss;
  autograd::Tape& tape = logits.tape();
  autograd::Var penalty = autograd::l2_penalty(tape.param(*weights.front()));
  for (std::size_t i = 1; i < weights.size(); ++i) {
    penalty = penalty + autograd::l2_penalty(tape.param(*weights[i]));
  }
  return loss + options.reg * penalty;
}

}  // namespace nn
