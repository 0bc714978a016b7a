#include "torch_net.hpp"

#include <chrono>

#include <torch/torch.h>

namespace bench {

namespace {

torch::Tensor to_torch(const Matrix& m) {
  const std::vector<std::int64_t> shape = {static_cast<std::int64_t>(m.shape(0)),
                                           static_cast<std::int64_t>(m.shape(1))};
  return torch::from_blob(const_cast<double*>(m.data()), shape, torch::kDouble).clone();
}

}  // namespace

LastTwo torch_train(const Problem& p, double& seconds) {
  namespace F = torch::nn::functional;
  const torch::Tensor X = to_torch(p.X);
  const torch::Tensor y = torch::tensor(std::vector<std::int64_t>(p.y.begin(), p.y.end()), torch::kLong);
  std::vector<torch::Tensor> W, b, params;
  for (const Matrix& w : p.W0) {
    W.push_back(to_torch(w).requires_grad_());
    b.push_back(torch::zeros({1, static_cast<std::int64_t>(w.shape(1))}, torch::kDouble).requires_grad_());
    params.push_back(W.back());
    params.push_back(b.back());
  }
  torch::optim::SGD sgd(params, torch::optim::SGDOptions(p.rate));

  LastTwo objective;
  const auto start = std::chrono::steady_clock::now();
  for (int pass = 0; pass < p.passes; ++pass) {
    sgd.zero_grad();
    torch::Tensor a = X;
    torch::Tensor penalty;
    for (std::size_t l = 0; l < W.size(); ++l) {
      a = torch::matmul(a, W[l]) + b[l];
      if (l + 1 < W.size()) a = torch::tanh(a);
      penalty = l == 0 ? W[l].pow(2).sum() : penalty + W[l].pow(2).sum();
    }
    const torch::Tensor loss =
        F::cross_entropy(a, y, F::CrossEntropyFuncOptions().reduction(torch::kSum)) + reg / 2.0 * penalty;
    loss.backward();
    sgd.step();
    if (pass + 2 >= p.passes) objective.record(loss.item<double>());
  }
  seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return objective;
}

void torch_set_threads(int n) { torch::set_num_threads(n); }

}  // namespace bench
