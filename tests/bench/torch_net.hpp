#pragma once
// The benchmark's model with libtorch's autograd; compiled only when CMake finds Torch.
#include "attention.hpp"
#include "workloads.hpp"

namespace bench {

// Trains p's model for p.passes full-batch steps with torch::optim::SGD. Returns the objective of
// the last two passes (before their updates); seconds is the time of the training loop alone.
LastTwo torch_train(const Problem& p, double& seconds);
// The same in float32 (kFloat), from p's float32 data and weights (p.X32, p.W0_32).
LastTwo torch_train_f32(const Problem& p, double& seconds);

// R's RNN (see EngineRnn in workloads.hpp) with torch::embedding, torch::matmul, torch::tanh,
// cross_entropy(mean) and torch::optim::SGD, kFloat64. Returns the loss of the last two steps.
LastTwo torch_rnn_train(const Problem& p, double& seconds);
LastTwo torch_rnn_train_f32(const Problem& p, double& seconds);  // kFloat, from p.W0_32

// The attention problem's step (attention.hpp) with torch::matmul, view, transpose, masked_fill
// and softmax on [B, H, T, T] scores, steps times; float32 (kFloat) or float64.
AttentionResult torch_attention(const AttentionProblem& p, int steps, bool float32, double& seconds);

// Threads of torch's own parallel loops (its matrix products go to the process's OpenBLAS).
void torch_set_threads(int n);

}  // namespace bench
