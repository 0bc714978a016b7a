#pragma once
// The benchmark's model written by hand, the way the blog writes it, in straightforward xtensor +
// xtensor-blas: xt::linalg::dot for products, fresh arrays for results, and the hand-derived
// gradients (delta3 = ŷ − onehot(y); delta2 = delta3·W2ᵀ ∘ (1 − a1²)) extended to any depth.
#include <cmath>
#include <vector>

#include <xtensor-blas/xlinalg.hpp>
#include <xtensor/xmath.hpp>

#include "workloads.hpp"

namespace bench {

class HandNet {
 public:
  explicit HandNet(const std::vector<Matrix>& W0) : W_(W0) {
    for (const Matrix& w : W0) b_.push_back(xt::zeros<double>({std::size_t{1}, w.shape(1)}));
  }

  // One full-batch gradient-descent step. The blog computes its loss only when it prints it, so
  // the objective (before the update) is computed only when asked for; otherwise NaN.
  double train_step(const Matrix& X, const Labels& y, double rate, bool want_loss) {
    const std::size_t L = W_.size();
    // Forward: a[l] = tanh(a[l−1]·W[l] + b[l]), a[−1] = X; scores of the last layer, softmax.
    std::vector<Matrix> a(L - 1);
    for (std::size_t l = 0; l + 1 < L; ++l) {
      a[l] = xt::tanh(xt::linalg::dot(l == 0 ? X : a[l - 1], W_[l]) + b_[l]);
    }
    const Matrix z = xt::linalg::dot(L == 1 ? X : a[L - 2], W_[L - 1]) + b_[L - 1];
    const Matrix exp_scores = xt::exp(z);
    // Evaluated before the division: a lazy keep_dims reducer gives wrong results in xtensor 0.24.3.
    Matrix probs = exp_scores / xt::eval(xt::sum(exp_scores, {1}, xt::keep_dims));

    double loss = NAN;
    if (want_loss) {
      loss = 0.0;
      for (std::size_t i = 0; i < y.size(); ++i) loss -= std::log(probs(i, std::size_t(y[i])));
      for (const Matrix& w : W_) loss += reg / 2.0 * xt::sum(w * w)();
    }

    // Backward, the blog's formulas: delta = ŷ − onehot(y), then layer by layer down.
    Matrix& delta = probs;
    for (std::size_t i = 0; i < y.size(); ++i) delta(i, std::size_t(y[i])) -= 1.0;
    for (std::size_t l = L; l-- > 0;) {
      const Matrix& in = l == 0 ? X : a[l - 1];
      const Matrix dW = xt::linalg::dot(xt::transpose(in), delta) + reg * W_[l];
      const Matrix db = xt::eval(xt::sum(delta, {0}, xt::keep_dims));
      if (l > 0) delta = xt::linalg::dot(delta, xt::transpose(W_[l])) * (1.0 - a[l - 1] * a[l - 1]);
      W_[l] -= rate * dW;
      b_[l] -= rate * db;
    }
    return loss;
  }

 private:
  std::vector<Matrix> W_, b_;
};

}  // namespace bench
