#include "nn/loss.hpp"

namespace nn {

template <class T>
autograd::BasicVar<T> classification_loss(const autograd::BasicVar<T>& logits,
                                          const autograd::Labels& y,
                                          const std::vector<autograd::BasicParameter<T>*>& weights,
                                          const LossOptions& options) {
  autograd::BasicVar<T> loss = autograd::softmax_cross_entropy(logits, y, options.reduction);
  if (options.reg == 0.0 || weights.empty()) return loss;
  autograd::BasicTape<T>& tape = logits.tape();
  autograd::BasicVar<T> penalty = autograd::l2_penalty(tape.param(*weights.front()));
  for (std::size_t i = 1; i < weights.size(); ++i) {
    penalty = penalty + autograd::l2_penalty(tape.param(*weights[i]));
  }
  return loss + options.reg * penalty;
}

template autograd::BasicVar<double> classification_loss(
    const autograd::BasicVar<double>&, const autograd::Labels&,
    const std::vector<autograd::BasicParameter<double>*>&, const LossOptions&);
template autograd::BasicVar<float> classification_loss(
    const autograd::BasicVar<float>&, const autograd::Labels&,
    const std::vector<autograd::BasicParameter<float>*>&, const LossOptions&);

}  // namespace nn
