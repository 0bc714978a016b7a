#include "torch_net.hpp"

#include <chrono>
#include <cmath>
#include <type_traits>

#include <torch/torch.h>

namespace bench {

namespace {

template <class T>
constexpr torch::Dtype dtype() {
  return std::is_same_v<T, float> ? torch::kFloat : torch::kDouble;
}

template <class T>
torch::Tensor to_torch(const autograd::BasicMatrix<T>& m) {
  const std::vector<std::int64_t> shape = {static_cast<std::int64_t>(m.shape(0)),
                                           static_cast<std::int64_t>(m.shape(1))};
  return torch::from_blob(const_cast<T*>(m.data()), shape, dtype<T>()).clone();
}

template <class T>
LastTwo train(const Problem& p, double& seconds) {
  namespace F = torch::nn::functional;
  const torch::Tensor X = to_torch(features<T>(p));
  const torch::Tensor y = torch::tensor(std::vector<std::int64_t>(p.y.begin(), p.y.end()), torch::kLong);
  std::vector<torch::Tensor> W, b, params;
  for (const autograd::BasicMatrix<T>& w : initial_weights<T>(p)) {
    W.push_back(to_torch(w).requires_grad_());
    b.push_back(torch::zeros({1, static_cast<std::int64_t>(w.shape(1))}, dtype<T>()).requires_grad_());
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

template <class E>
LastTwo rnn_train(const Problem& p, double& seconds) {
  namespace F = torch::nn::functional;
  const std::size_t T = p.bptt;
  // The symbols as index tensors, made before the clock starts (the engine reads them as given).
  std::vector<torch::Tensor> symbols;
  symbols.reserve(p.symbols.size());
  for (const Labels& s : p.symbols) {
    symbols.push_back(torch::tensor(std::vector<std::int64_t>(s.begin(), s.end()), torch::kLong));
  }
  const auto& W0 = initial_weights<E>(p);
  const torch::Tensor U = to_torch(W0.at(0)).requires_grad_();
  const torch::Tensor W = to_torch(W0.at(1)).requires_grad_();
  const torch::Tensor V = to_torch(W0.at(2)).requires_grad_();
  const torch::Tensor b =
      torch::zeros({1, static_cast<std::int64_t>(W0[1].shape(1))}, dtype<E>()).requires_grad_();
  const torch::Tensor c =
      torch::zeros({1, static_cast<std::int64_t>(W0[2].shape(1))}, dtype<E>()).requires_grad_();
  torch::optim::SGD sgd({U, W, V, b, c}, torch::optim::SGDOptions(p.rate));

  LastTwo objective;
  const auto start = std::chrono::steady_clock::now();
  for (int pass = 0; pass < p.passes; ++pass) {
    sgd.zero_grad();
    const torch::Tensor* x = symbols.data() + static_cast<std::size_t>(pass) * (T + 1);
    torch::Tensor s, loss;
    for (std::size_t k = 0; k < T; ++k) {
      const torch::Tensor xU = torch::embedding(U, x[k]);
      s = torch::tanh((k == 0 ? xU : xU + torch::matmul(s, W)) + b);
      const torch::Tensor ce = F::cross_entropy(torch::matmul(s, V) + c, x[k + 1]);
      loss = k == 0 ? ce : loss + ce;
    }
    loss = loss / static_cast<double>(T);
    loss.backward();
    sgd.step();
    if (pass + 2 >= p.passes) objective.record(loss.item<double>());
  }
  seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return objective;
}

}  // namespace

LastTwo torch_train(const Problem& p, double& seconds) { return train<double>(p, seconds); }
LastTwo torch_train_f32(const Problem& p, double& seconds) { return train<float>(p, seconds); }
LastTwo torch_rnn_train(const Problem& p, double& seconds) { return rnn_train<double>(p, seconds); }
LastTwo torch_rnn_train_f32(const Problem& p, double& seconds) { return rnn_train<float>(p, seconds); }

void torch_set_threads(int n) { torch::set_num_threads(n); }

AttentionResult torch_attention(const AttentionProblem& p, int steps, bool float32, double& seconds) {
  const torch::Dtype type = float32 ? torch::kFloat : torch::kDouble;
  const auto tensor = [&](const autograd::Matrix& m) { return to_torch(m).to(type); };
  const auto B = static_cast<std::int64_t>(p.batch), T = static_cast<std::int64_t>(p.time),
             D = static_cast<std::int64_t>(p.dim), H = static_cast<std::int64_t>(p.heads), Dh = D / H;
  const torch::Tensor x = tensor(p.x).view({B, T, D}), r = tensor(p.r).view({B, T, D});
  std::vector<torch::Tensor> w;
  for (const autograd::Matrix* m : {&p.wq, &p.wk, &p.wv, &p.wo}) w.push_back(tensor(*m).requires_grad_());
  const torch::Tensor future = torch::ones({T, T}, torch::kBool).triu(1);
  const double scale = 1.0 / std::sqrt(static_cast<double>(Dh));
  AttentionResult out;
  const auto start = std::chrono::steady_clock::now();
  for (int s = 0; s < steps; ++s) {
    for (torch::Tensor& t : w) t.mutable_grad() = torch::Tensor();
    const auto heads = [&](const torch::Tensor& y) { return y.view({B, T, H, Dh}).transpose(1, 2); };
    const torch::Tensor q = heads(x.matmul(w[0])), k = heads(x.matmul(w[1])), v = heads(x.matmul(w[2]));
    const torch::Tensor scores = q.matmul(k.transpose(-2, -1)) * scale;
    const torch::Tensor att = torch::softmax(scores.masked_fill(future, -INFINITY), -1);
    const torch::Tensor o = att.matmul(v).transpose(1, 2).reshape({B, T, D}).matmul(w[3]);
    const torch::Tensor loss = (o * r).sum();
    loss.backward();
    out.loss = loss.item<double>();
  }
  seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  out.grad_l1 = w[0].grad().abs().sum().item<double>();
  return out;
}

}  // namespace bench
