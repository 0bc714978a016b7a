#pragma once
// The attention benchmark's problem: causal multi-head self-attention over a batch of sequences,
// out = concat_h(softmax(Q_h·K_hᵀ/√dh, causal)·V_h)·Wo with Q = x·Wq (K, V likewise), and the
// loss Σ out ∘ R for a fixed R, so that one step is a forward and a backward pass. Shared by the
// benchmark and its libtorch part.
#include <cstddef>

#include "autograd/autograd.hpp"
#include "nn/random.hpp"

namespace bench {

struct AttentionProblem {
  std::size_t batch = 32, time = 64, dim = 64, heads = 4;
  autograd::Matrix x, r;               // [batch·time x dim]: the inputs and dL/d out
  autograd::Matrix wq, wk, wv, wo;     // [dim x dim]
};

inline AttentionProblem attention_problem(std::size_t batch, std::size_t time, std::size_t dim,
                                          std::size_t heads, std::uint64_t seed = 20261202) {
  nn::Rng rng(seed);
  AttentionProblem p;
  p.batch = batch;
  p.time = time;
  p.dim = dim;
  p.heads = heads;
  const double s = 1.0 / std::sqrt(static_cast<double>(dim));
  p.x = rng.randn(batch * time, dim);
  p.r = rng.randn(batch * time, dim);
  p.wq = rng.randn(dim, dim) * s;
  p.wk = rng.randn(dim, dim) * s;
  p.wv = rng.randn(dim, dim) * s;
  p.wo = rng.randn(dim, dim) * s;
  return p;
}

// What a run ends with: the loss of the last step and Σ|dL/dWq|, which every implementation must
// agree on.
struct AttentionResult {
  double loss = 0, grad_l1 = 0;
};

}  // namespace bench
