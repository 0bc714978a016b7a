// Batched multi-head causal self-attention, recorded with the ops of any rank, against the
// backward pass derived by hand and written out below in plain loops. With P = softmax(S) over
// each row of the scores S = Q·Kᵀ/√dh (masked causally) and O = P·V, for dO = ∂L/∂O:
//   dV = Pᵀ·dO,  dP = dO·Vᵀ,  dS = P ∘ (dP − rowsum(dP ∘ P)),  dQ = dS·K/√dh,  dK = dSᵀ·Q/√dh,
// and through the projections Q = X·Wq (likewise K, V): dWq = Xᵀ·dQ, dX = dQ·Wqᵀ + dK·Wkᵀ + dV·Wvᵀ.
// The test is the proof, as test_blog_backprop is for the blog's delta3 and delta2.
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include <catch2/catch.hpp>

#include "autograd/autograd.hpp"

using namespace autograd;

namespace {

constexpr std::size_t B = 2, T = 5, H = 2, D = 8, Dh = D / H;

Matrix uniform(std::size_t rows, std::size_t cols, std::uint32_t seed) {
  std::mt19937 gen(seed);
  Matrix m = Matrix::from_shape({rows, cols});
  for (double& x : m) x = -1.0 + 2.0 * (gen() / 4294967296.0);
  return m;
}

// [B, T, d] -> [B, H, T, dh] -> attention -> [B, T, d]: the model as a user writes it.
// README-BEGIN
Var attention(Tape& tape, const Var& x, Parameter& wq, Parameter& wk, Parameter& wv) {
  const auto heads = [&](const Var& y) { return permute(reshape(y, {B, T, H, Dh}), {0, 2, 1, 3}); };
  const Var q = heads(matmul(x, tape.param(wq)));  // [B, T, d] · [d, d]: one matrix product
  const Var k = heads(matmul(x, tape.param(wk)));
  const Var v = heads(matmul(x, tape.param(wv)));
  Tensor future = Tensor::from_shape({T, T});  // 1 above the diagonal: a later position
  for (std::size_t t = 0; t < T; ++t) {
    for (std::size_t s = 0; s < T; ++s) future(t, s) = s > t ? 1.0 : 0.0;
  }
  const Var scores = matmul(q, transpose(k, -2, -1)) / std::sqrt(double(Dh));  // [B, H, T, T]
  const Var p = softmax(masked_fill(scores, tape.tensor(future), -std::numeric_limits<double>::infinity()));
  return reshape(permute(matmul(p, v), {0, 2, 1, 3}), {B, T, D});  // heads side by side again
}
// README-END

}  // namespace

TEST_CASE("batched multi-head causal attention: the tape equals the backward derived by hand",
          "[attention][proof]") {
  Parameter x_rows(uniform(B * T, D, 1), "x"), wq(uniform(D, D, 2) * 0.5, "Wq"),
      wk(uniform(D, D, 3) * 0.5, "Wk"), wv(uniform(D, D, 4) * 0.5, "Wv");
  const Matrix r = uniform(B * T, D, 5);  // dL/dO: the loss is Σ O ∘ R

  Tape tape;
  const Var x = reshape(tape.param(x_rows), {B, T, D});
  const Var out = attention(tape, x, wq, wk, wv);
  REQUIRE(out.shape() == Shape{B, T, D});
  tape.backward(sum(mul(out, reshape(tape.constant(r), {B, T, D}))));

  // The forward by hand. X[b][t][i] is row b·T + t of x_rows.
  const Matrix& X = x_rows.value;
  const auto project = [&](const Matrix& w) {  // Y[b·T + t][h·dh + j]
    Matrix y = Matrix::from_shape({B * T, D});
    for (std::size_t row = 0; row < B * T; ++row) {
      for (std::size_t c = 0; c < D; ++c) {
        double s = 0;
        for (std::size_t i = 0; i < D; ++i) s += X(row, i) * w(i, c);
        y(row, c) = s;
      }
    }
    return y;
  };
  const Matrix Q = project(wq.value), K = project(wk.value), V = project(wv.value);
  const double scale = 1.0 / std::sqrt(double(Dh));
  // P[b][h][t][s], 0 for s > t (masked).
  std::vector<double> P(B * H * T * T, 0.0), dS(B * H * T * T, 0.0);
  const auto at = [](std::size_t b, std::size_t h, std::size_t t, std::size_t s) {
    return ((b * H + h) * T + t) * T + s;
  };
  Matrix O = Matrix::from_shape({B * T, D}), dQ = Matrix::from_shape({B * T, D});
  Matrix dK = Matrix::from_shape({B * T, D}), dV = Matrix::from_shape({B * T, D});
  O.fill(0); dQ.fill(0); dK.fill(0); dV.fill(0);
  for (std::size_t b = 0; b < B; ++b) {
    for (std::size_t h = 0; h < H; ++h) {
      for (std::size_t t = 0; t < T; ++t) {
        double m = -std::numeric_limits<double>::infinity(), z = 0;
        std::vector<double> s_row(T);
        for (std::size_t s = 0; s <= t; ++s) {
          double dot = 0;
          for (std::size_t j = 0; j < Dh; ++j) dot += Q(b * T + t, h * Dh + j) * K(b * T + s, h * Dh + j);
          s_row[s] = dot * scale;
          m = std::max(m, s_row[s]);
        }
        for (std::size_t s = 0; s <= t; ++s) z += std::exp(s_row[s] - m);
        for (std::size_t s = 0; s <= t; ++s) P[at(b, h, t, s)] = std::exp(s_row[s] - m) / z;
        for (std::size_t j = 0; j < Dh; ++j) {
          double o = 0;
          for (std::size_t s = 0; s <= t; ++s) o += P[at(b, h, t, s)] * V(b * T + s, h * Dh + j);
          O(b * T + t, h * Dh + j) = o;
        }
      }
      // The backward by hand, with dO = R.
      for (std::size_t t = 0; t < T; ++t) {
        std::vector<double> dP(T, 0.0);
        double rowsum = 0;
        for (std::size_t s = 0; s <= t; ++s) {
          for (std::size_t j = 0; j < Dh; ++j) dP[s] += r(b * T + t, h * Dh + j) * V(b * T + s, h * Dh + j);
          rowsum += dP[s] * P[at(b, h, t, s)];
        }
        for (std::size_t s = 0; s <= t; ++s) dS[at(b, h, t, s)] = P[at(b, h, t, s)] * (dP[s] - rowsum);
      }
      for (std::size_t t = 0; t < T; ++t) {
        for (std::size_t j = 0; j < Dh; ++j) {
          for (std::size_t s = 0; s < T; ++s) {
            dV(b * T + s, h * Dh + j) += P[at(b, h, t, s)] * r(b * T + t, h * Dh + j);    // Pᵀ·dO
            dQ(b * T + t, h * Dh + j) += dS[at(b, h, t, s)] * K(b * T + s, h * Dh + j) * scale;  // dS·K/√dh
            dK(b * T + s, h * Dh + j) += dS[at(b, h, t, s)] * Q(b * T + t, h * Dh + j) * scale;  // dSᵀ·Q/√dh
          }
        }
      }
    }
  }
  // Through the projections.
  const auto weight_grad = [&](const Matrix& dY) {  // Xᵀ·dY
    Matrix g = Matrix::from_shape({D, D});
    for (std::size_t i = 0; i < D; ++i) {
      for (std::size_t c = 0; c < D; ++c) {
        double s = 0;
        for (std::size_t row = 0; row < B * T; ++row) s += X(row, i) * dY(row, c);
        g(i, c) = s;
      }
    }
    return g;
  };
  Matrix dX = Matrix::from_shape({B * T, D});
  for (std::size_t row = 0; row < B * T; ++row) {
    for (std::size_t i = 0; i < D; ++i) {
      double s = 0;
      for (std::size_t c = 0; c < D; ++c) {
        s += dQ(row, c) * wq.value(i, c) + dK(row, c) * wk.value(i, c) + dV(row, c) * wv.value(i, c);
      }
      dX(row, i) = s;
    }
  }

  // Values of size ~1 summed over at most 40 products: the two orders of summation differ by
  // about 1e-15; 1e-12 leaves a wide margin and still catches any wrong term (each is ~1e-2 or more).
  const double tol = 1e-12;
  const Tensor o = out.tensor();
  for (std::size_t i = 0; i < O.size(); ++i) REQUIRE(std::abs(o.flat(i) - O.flat(i)) <= tol);
  const auto same = [&](const Matrix& tape_grad, const Matrix& hand, const char* what) {
    INFO(what);
    REQUIRE(tape_grad.shape() == hand.shape());
    for (std::size_t i = 0; i < hand.size(); ++i) REQUIRE(std::abs(tape_grad.flat(i) - hand.flat(i)) <= tol);
  };
  same(wq.grad, weight_grad(dQ), "dWq = Xᵀ·dQ");
  same(wk.grad, weight_grad(dK), "dWk = Xᵀ·dK");
  same(wv.grad, weight_grad(dV), "dWv = Xᵀ·dV");
  same(x_rows.grad, dX, "dX = dQ·Wqᵀ + dK·Wkᵀ + dV·Wvᵀ");
}
