#pragma once
// The blog's network written out by hand, exactly as the post derives it (forward, delta3, delta2),
// so that tests can hold the tape's gradients against it. Plain xtensor + xtensor-blas, no tape.
#include <string>

#include <xtensor-blas/xlinalg.hpp>
#include <xtensor/xmath.hpp>
#include <xtensor/xnpy.hpp>

#include "autograd/tensor.hpp"

namespace blog {

using autograd::Labels;
using autograd::Matrix;

struct Model {
  Matrix W1, b1, W2, b2;
};

struct Gradients {
  Matrix dW1, db1, dW2, db2;
};

inline std::string data_path(const std::string& name) { return std::string(AUTOGRAD_TEST_DATA) + "/" + name; }

inline Matrix load_matrix(const std::string& name) { return xt::load_npy<double>(data_path(name)); }

inline Labels load_labels(const std::string& name) {
  const xt::xtensor<std::int64_t, 1> y = xt::load_npy<std::int64_t>(data_path(name));
  return Labels(y.begin(), y.end());
}

// The blog's initial weights for hidden size h (np.random.seed(0); randn / sqrt(fan_in)); zero biases.
inline Model initial_model(int h) {
  Model m;
  m.W1 = load_matrix("init/W1_h" + std::to_string(h) + ".npy");
  m.W2 = load_matrix("init/W2_h" + std::to_string(h) + ".npy");
  m.b1 = xt::zeros<double>({std::size_t{1}, m.W1.shape(1)});
  m.b2 = xt::zeros<double>({std::size_t{1}, m.W2.shape(1)});
  return m;
}

// probs = softmax(tanh(x·W1 + b1)·W2 + b2), as the blog's numpy code computes it.
inline Matrix forward(const Model& m, const Matrix& X, Matrix& a1) {
  a1 = xt::tanh(xt::linalg::dot(X, m.W1) + m.b1);
  const Matrix z2 = xt::linalg::dot(a1, m.W2) + m.b2;
  const Matrix e = xt::exp(z2);
  // Evaluated before the division: a lazy keep_dims reducer gives wrong results in xtensor 0.24.3.
  const Matrix rowsum = xt::eval(xt::sum(e, {1}, xt::keep_dims));
  return e / rowsum;
}

// The post's backpropagation, line by line, with its regularisation terms.
inline Gradients backprop(const Model& m, const Matrix& X, const Labels& y, double reg) {
  Matrix a1;
  Matrix delta3 = forward(m, X, a1);  // delta3 = ŷ − onehot(y)
  for (std::size_t i = 0; i < y.size(); ++i) delta3(i, static_cast<std::size_t>(y[i])) -= 1.0;
  const Matrix delta2 = xt::linalg::dot(delta3, xt::transpose(m.W2)) * (1.0 - a1 * a1);
  Gradients g;
  g.dW2 = xt::linalg::dot(xt::transpose(a1), delta3) + reg * m.W2;
  g.db2 = xt::eval(xt::sum(delta3, {0}, xt::keep_dims));
  g.dW1 = xt::linalg::dot(xt::transpose(X), delta2) + reg * m.W1;
  g.db1 = xt::eval(xt::sum(delta2, {0}, xt::keep_dims));
  return g;
}

// The blog's calculate_loss: (Σ −log ŷ[label] + reg/2·(|W1|² + |W2|²)) / N.
inline double loss(const Model& m, const Matrix& X, const Labels& y, double reg) {
  Matrix a1;
  const Matrix probs = forward(m, X, a1);
  double data_loss = 0.0;
  for (std::size_t i = 0; i < y.size(); ++i) data_loss -= std::log(probs(i, static_cast<std::size_t>(y[i])));
  data_loss += reg / 2.0 * (xt::sum(m.W1 * m.W1)() + xt::sum(m.W2 * m.W2)());
  return data_loss / static_cast<double>(y.size());
}

inline void step(Model& m, const Gradients& g, double rate) {
  m.W1 -= rate * g.dW1;
  m.b1 -= rate * g.db1;
  m.W2 -= rate * g.dW2;
  m.b2 -= rate * g.db2;
}

}  // namespace blog
