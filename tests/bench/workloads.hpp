#pragma once
// The three training problems of the performance benchmark, and the engine's model for them:
//   S  the blog: 200 moons points, 2-3-2 tanh network, rate 0.01, 20000 passes
//   W  the blog's widest: the same data, hidden size 50
//   B  BLAS-bound: 4096 rows of 64 standard-normal features, 64-256-256-10 tanh, rate 1e-4, 50 passes
// S, W, B minimise the blog's objective, full batch: Σ_rows cross-entropy + reg/2 · Σ_layers |W|².
//   R  a sequence model: an Elman tanh RNN, hidden 128, batch 32, 32 steps of BPTT, over 30 symbols
//      of a seeded Markov chain; loss = mean over steps of the batch's mean cross-entropy, plain SGD.
// Shared by the benchmark and the allocation test, so that both measure the same training step.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <random>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <xtensor/xnoalias.hpp>
#include <xtensor/xnpy.hpp>

#include "autograd/autograd.hpp"
#include "nn/random.hpp"

namespace bench {

using autograd::Labels;
using autograd::Matrix;
using autograd::Matrix32;

constexpr double reg = 0.01;  // the blog's reg_lambda

struct Problem {
  std::string name;
  Matrix X;                // [rows x features]
  Labels y;                // class per row
  std::vector<Matrix> W0;  // initial weights per layer, [in x out]; biases start at zero
  double rate = 0.0;
  int passes = 0;
  // R only. symbols[pass · (bptt + 1) + t] holds the batch's symbol at position t of the sequences
  // of that training step, t = 0..bptt: inputs are t = 0..bptt−1, targets t = 1..bptt.
  std::vector<Labels> symbols;
  std::size_t bptt = 0;
  // The same data and initial weights in float32, converted once from the float64 ones above
  // (round to nearest) by with_float32(), which every problem constructor below ends with.
  Matrix32 X32;
  std::vector<Matrix32> W0_32;
};

inline Problem with_float32(Problem p) {
  p.X32 = xt::cast<float>(p.X);
  p.W0_32.clear();
  for (const Matrix& w : p.W0) p.W0_32.push_back(xt::cast<float>(w));
  return p;
}

// p's data and initial weights in precision T (double: the originals; float: their conversions).
template <class T>
const autograd::BasicMatrix<T>& features(const Problem& p) {
  if constexpr (std::is_same_v<T, float>) {
    return p.X32;
  } else {
    return p.X;
  }
}
template <class T>
const std::vector<autograd::BasicMatrix<T>>& initial_weights(const Problem& p) {
  if constexpr (std::is_same_v<T, float>) {
    return p.W0_32;
  } else {
    return p.W0;
  }
}

// The objective of a run's last two passes. Fixed-step descent on S ends in a period-2 oscillation
// (see tests/data/golden_h3_loss.txt): which of its two values the last pass lands on depends on the
// last bits of tanh and exp, the pair of values does not. So runs are compared by the pair.
struct LastTwo {
  double previous = NAN, last = NAN;
  void record(double objective) {
    previous = last;
    last = objective;
  }
  double low() const { return std::isnan(previous) ? last : std::min(previous, last); }
  double high() const { return std::isnan(previous) ? last : std::max(previous, last); }
};

// S (hidden 3) and W (hidden 50): the blog's data and its initial weights (np.random.seed(0)).
inline Matrix load_matrix(const std::string& path) { return xt::load_npy<double>(path); }

inline Problem blog_problem(const std::string& data_dir, int hidden, int passes) {
  const auto path = [&](const std::string& name) { return data_dir + "/" + name; };
  Problem p;
  p.name = hidden == 3 ? "S" : hidden == 50 ? "W" : "blog h" + std::to_string(hidden);
  p.X = load_matrix(path("moons200_X.npy"));
  const auto y = xt::load_npy<std::int64_t>(path("moons200_y.npy"));  // an xarray, one label per row
  p.y.assign(y.begin(), y.end());
  const std::string h = std::to_string(hidden);
  p.W0 = {load_matrix(path("init/W1_h" + h + ".npy")), load_matrix(path("init/W2_h" + h + ".npy"))};
  p.rate = 0.01;
  p.passes = passes;
  return with_float32(std::move(p));
}

// B: features ~ N(0, 1); labels = argmax of the features times a fixed random 64x10 matrix, so the
// classes are learnable; weights randn(in, out) / √in.
inline Problem blas_problem(std::size_t rows, int passes, std::uint64_t seed = 20240604) {
  const std::size_t features = 64, classes = 10;
  const std::vector<std::size_t> widths = {features, 256, 256, classes};
  nn::Rng normal(seed);  // the same numbers on every standard library
  Problem p;
  p.name = "B";
  p.X = normal.randn(rows, features);
  const Matrix R = normal.randn(features, classes);
  p.y.resize(rows);
  for (std::size_t r = 0; r < rows; ++r) {
    double best = -INFINITY;
    for (std::size_t c = 0; c < classes; ++c) {
      double s = 0.0;
      for (std::size_t k = 0; k < features; ++k) s += p.X(r, k) * R(k, c);
      if (s > best) best = s, p.y[r] = static_cast<int>(c);
    }
  }
  for (std::size_t l = 0; l + 1 < widths.size(); ++l) {
    p.W0.push_back(normal.randn(widths[l], widths[l + 1]) / std::sqrt(double(widths[l])));
  }
  p.rate = 1e-4;
  p.passes = passes;
  return with_float32(std::move(p));
}

// R: symbols 0..vocab−1 from a seeded Markov chain (each symbol has 3 likely successors, taken with
// probability 0.9 between them; otherwise any symbol), so the loss can fall well below log(vocab).
// Each training step takes batch sequences of bptt + 1 symbols at seeded random offsets; the hidden
// state starts at zero in every step (no state carried between steps). Weights: U [vocab x hidden]
// (the embedding: gather_rows(U, x) = onehot(x)·U) randn / √vocab, W [hidden x hidden] and
// V [hidden x vocab] randn / √hidden; the biases b, c start at zero. W0 = {U, W, V}.
inline Problem rnn_problem(int passes, std::size_t hidden = 128, std::size_t batch = 32,
                           std::size_t bptt = 32, std::size_t vocab = 30,
                           std::uint64_t seed = 20240611) {
  nn::Rng rng(seed);
  std::vector<std::array<int, 3>> next(vocab);
  for (auto& n : next) {
    for (int& s : n) s = static_cast<int>(rng.below(vocab));
  }
  const std::size_t length = 100000;
  std::vector<int> text(length);
  text[0] = 0;
  for (std::size_t i = 1; i < length; ++i) {
    const auto a = static_cast<std::size_t>(text[i - 1]);
    text[i] = rng.uniform() < 0.9 ? next[a][rng.below(3)] : static_cast<int>(rng.below(vocab));
  }
  Problem p;
  p.name = "R";
  p.bptt = bptt;
  p.symbols.assign(static_cast<std::size_t>(passes) * (bptt + 1), Labels(batch));
  for (std::size_t pass = 0; pass < static_cast<std::size_t>(passes); ++pass) {
    for (std::size_t k = 0; k < batch; ++k) {
      const std::size_t offset = rng.below(length - bptt);
      for (std::size_t t = 0; t <= bptt; ++t) p.symbols[pass * (bptt + 1) + t][k] = text[offset + t];
    }
  }
  p.W0 = {rng.randn(vocab, hidden) / std::sqrt(double(vocab)),
          rng.randn(hidden, hidden) / std::sqrt(double(hidden)),
          rng.randn(hidden, vocab) / std::sqrt(double(hidden))};
  p.rate = 0.5;
  p.passes = passes;
  return with_float32(std::move(p));
}

// The model on the engine's tape: tanh hidden layers, linear output, the objective above. T is the
// precision (EngineNet: float64, EngineNet32: float32); the code is the same for both.
template <class T>
class BasicEngineNet {
 public:
  using Matrix = autograd::BasicMatrix<T>;
  using Tape = autograd::BasicTape<T>;
  using Var = autograd::BasicVar<T>;
  using Parameter = autograd::BasicParameter<T>;

  explicit BasicEngineNet(const std::vector<Matrix>& W0) {
    W_.reserve(W0.size());  // the tape points at parameters: their addresses must not move
    b_.reserve(W0.size());
    for (const Matrix& w : W0) {
      W_.emplace_back(w, "W");
      b_.emplace_back(Matrix(xt::zeros<T>({std::size_t{1}, w.shape(1)})), "b");
    }
  }

  Var objective(Tape& t, const Matrix& X, const Labels& y) {
    Var a = t.constant(X);
    Var penalty;
    for (std::size_t l = 0; l < W_.size(); ++l) {
      const Var w = t.param(W_[l]);
      const Var b = t.param(b_[l]);
      a = matmul(a, w) + b;
      if (l + 1 < W_.size()) a = tanh(a);
      penalty = l == 0 ? l2_penalty(w) : penalty + l2_penalty(w);
    }
    return softmax_cross_entropy(a, y, autograd::Reduction::sum) + reg * penalty;
  }

  // One full-batch gradient-descent step; returns the objective before the update.
  double train_step(Tape& t, const Matrix& X, const Labels& y, double rate) {
    t.clear();
    for (auto* ps : {&W_, &b_}) {
      for (Parameter& p : *ps) p.zero_grad();
    }
    const Var loss = objective(t, X, y);
    t.backward(loss);
    const T r = static_cast<T>(rate);
    for (auto* ps : {&W_, &b_}) {
      for (Parameter& p : *ps) xt::noalias(p.value) -= r * p.grad;
    }
    return loss.value()(0, 0);
  }

  const std::vector<Parameter>& weights() const { return W_; }

 private:
  std::vector<Parameter> W_, b_;
};
using EngineNet = BasicEngineNet<double>;
using EngineNet32 = BasicEngineNet<float>;

// R on the engine's tape, written with the ops as a user would:
//   s_t = tanh(x_t·U + s_{t−1}·W + b) (s_0 = 0, so the first step has no s·W), logits_t = s_t·V + c,
//   loss = (1/T) Σ_t mean cross-entropy(logits_t, x_{t+1}).
template <class T>
class BasicEngineRnn {
 public:
  using Matrix = autograd::BasicMatrix<T>;
  using Tape = autograd::BasicTape<T>;
  using Var = autograd::BasicVar<T>;
  using Parameter = autograd::BasicParameter<T>;

  explicit BasicEngineRnn(const std::vector<Matrix>& W0)
      : U_(W0.at(0), "U"), W_(W0.at(1), "W"), V_(W0.at(2), "V"),
        b_(Matrix(xt::zeros<T>({std::size_t{1}, W0.at(1).shape(1)})), "b"),
        c_(Matrix(xt::zeros<T>({std::size_t{1}, W0.at(2).shape(1)})), "c") {}

  // symbols: bptt + 1 batches of symbols. Builds the loss on t (cleared first).
  Var loss(Tape& t, const Labels* symbols, std::size_t bptt) {
    const Var U = t.param(U_), W = t.param(W_), V = t.param(V_), b = t.param(b_), c = t.param(c_);
    Var s, loss;
    for (std::size_t k = 0; k < bptt; ++k) {
      const Var xU = gather_rows(U, symbols[k]);
      s = tanh((k == 0 ? xU : xU + matmul(s, W)) + b);
      loss += softmax_cross_entropy(matmul(s, V) + c, symbols[k + 1]);
    }
    return loss / static_cast<double>(bptt);
  }

  // One SGD step on the sequences of one training step; returns the loss before the update.
  double train_step(Tape& t, const Labels* symbols, std::size_t bptt, double rate) {
    t.clear();
    for (Parameter* p : params()) p->zero_grad();
    const Var l = loss(t, symbols, bptt);
    t.backward(l);
    const T r = static_cast<T>(rate);
    for (Parameter* p : params()) xt::noalias(p->value) -= r * p->grad;
    return l.value()(0, 0);
  }

  std::array<Parameter*, 5> params() { return {&U_, &W_, &V_, &b_, &c_}; }

 private:
  Parameter U_, W_, V_, b_, c_;
};
using EngineRnn = BasicEngineRnn<double>;
using EngineRnn32 = BasicEngineRnn<float>;

}  // namespace bench
