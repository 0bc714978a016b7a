// Products, softmax along a dim, masks and the cross-entropy of values of any rank, against plain
// loops written here; and the errors they raise. Gradients against central differences are in
// test_ops_gradcheck.cpp.
#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "autograd/autograd.hpp"

using namespace autograd;
using Catch::Matchers::Contains;
using Catch::Matchers::WithinAbs;
using Sizes = std::vector<std::size_t>;

namespace {

constexpr double inf = std::numeric_limits<double>::infinity();

// Seeded values in [-1, 1] of any shape, from mt19937 bits (the same on every platform).
Tensor seeded(const Sizes& shape, std::uint32_t seed) {
  Tensor x = Tensor::from_shape(shape);
  std::mt19937 gen(seed);
  for (double& v : x) v = -1.0 + 2.0 * (gen() / 4294967296.0);
  return x;
}

// The element of a batch tensor x (rank >= 2) that broadcasts to batch index `batch` of a result
// whose batch dimensions are `out` (numpy's rules: aligned at the end, a 1 stretches).
double batch_element(const Tensor& x, const Sizes& out, const Sizes& batch, std::size_t i, std::size_t j) {
  const std::size_t xr = x.dimension() - 2;
  std::size_t flat = 0;
  for (std::size_t d = 0; d < xr; ++d) {
    const std::size_t o = out.size() - xr + d;
    const std::size_t index = x.shape()[d] == 1 ? 0 : batch[o];
    flat = flat * x.shape()[d] + index;
  }
  const std::size_t rows = x.shape()[xr], cols = x.shape()[xr + 1];
  return x.data()[(flat * rows + i) * cols + j];
}

// numpy's matmul of a and b by triple loops over an odometer of the broadcast batch dimensions.
Tensor loop_matmul(const Tensor& a, const Tensor& b) {
  const std::size_t ra = a.dimension(), rb = b.dimension();
  const std::size_t n = a.shape()[ra - 2], k = a.shape()[ra - 1], m = b.shape()[rb - 1];
  const std::size_t rank = std::max(ra, rb);
  Sizes out_batch(rank - 2);
  for (std::size_t d = 0; d + 2 < rank; ++d) {
    const std::size_t back = rank - 3 - d;  // counted from the last batch dimension
    const std::size_t x = back + 2 < ra ? a.shape()[ra - 3 - back] : 1;
    const std::size_t y = back + 2 < rb ? b.shape()[rb - 3 - back] : 1;
    out_batch[d] = std::max(x, y);
  }
  Sizes shape = out_batch;
  shape.push_back(n);
  shape.push_back(m);
  Tensor out = Tensor::from_shape(shape);
  std::size_t count = 1;
  for (std::size_t d : out_batch) count *= d;
  Sizes batch(out_batch.size(), 0);
  for (std::size_t s = 0; s < count; ++s) {
    for (std::size_t i = 0; i < n; ++i) {
      for (std::size_t j = 0; j < m; ++j) {
        double total = 0;
        for (std::size_t q = 0; q < k; ++q) {
          total += batch_element(a, out_batch, batch, i, q) * batch_element(b, out_batch, batch, q, j);
        }
        out.data()[(s * n + i) * m + j] = total;
      }
    }
    for (std::size_t d = batch.size(); d-- > 0;) {
      if (++batch[d] < out_batch[d]) break;
      batch[d] = 0;
    }
  }
  return out;
}

// Elements of x and y (same size) within tol of each other; shapes compared separately.
void check_close(const Tensor& x, const Tensor& y, double tol) {
  REQUIRE(x.size() == y.size());
  for (std::size_t i = 0; i < x.size(); ++i) {
    INFO("element " << i);
    CHECK_THAT(x.data()[i], WithinAbs(y.data()[i], tol));
  }
}

Sizes dims_of(const Shape& s) { return Sizes(s.begin(), s.end()); }

// seeded() as a matrix, for a parameter.
Matrix seeded_matrix(std::size_t rows, std::size_t cols, std::uint32_t seed) {
  const Tensor x = seeded({rows, cols}, seed);
  Matrix m = Matrix::from_shape({rows, cols});
  std::copy(x.begin(), x.end(), m.begin());
  return m;
}

// −log softmax(z)[label] of one row of C logits, by a plain loop (stable: max subtracted).
double row_loss(const double* z, std::size_t classes, int label) {
  double m = -inf;
  for (std::size_t c = 0; c < classes; ++c) m = std::max(m, z[c]);
  double s = 0;
  for (std::size_t c = 0; c < classes; ++c) s += std::exp(z[c] - m);
  return m + std::log(s) - z[label];
}

}  // namespace

// Sums of 4 or 5 products of numbers in [-1, 1]: BLAS and the loop differ by rounding alone, a few
// ulp of 1 (1e-12 leaves a margin of thousands).
TEST_CASE("batched matmul computes numpy's matmul", "[products]") {
  struct Shapes {
    Sizes a, b, out;
  };
  const Shapes cases[] = {
      {{2, 3, 4}, {2, 4, 5}, {2, 3, 5}},        {{1, 3, 4}, {2, 4, 2}, {2, 3, 2}},
      {{3, 4}, {2, 4, 5}, {2, 3, 5}},           {{2, 1, 3, 4}, {3, 4, 2}, {2, 3, 3, 2}},
      {{2, 2, 3, 4}, {4, 5}, {2, 2, 3, 5}},     {{2, 3, 4}, {1, 4, 5}, {2, 3, 5}},
      {{2, 1, 3, 4}, {1, 3, 4, 2}, {2, 3, 3, 2}}, {{2, 3, 0}, {2, 0, 2}, {2, 3, 2}},
  };
  for (const Shapes& s : cases) {
    INFO(shape_str(Shape(s.a.begin(), s.a.end())) << " · " << shape_str(Shape(s.b.begin(), s.b.end())));
    Tape t;
    const Tensor a = seeded(s.a, 1), b = seeded(s.b, 2);
    const Var c = matmul(t.tensor(a), t.tensor(b));
    CHECK(dims_of(c.shape()) == s.out);
    check_close(c.tensor(), loop_matmul(a, b), 1e-12);
  }
}

TEST_CASE("[B, T, d] · [d, m] is one product on the storage, with its gradients", "[products]") {
  // The Linear-layer case, against loops that never reshape: out[b, t, j] = Σ_q x[b, t, q] W[q, j].
  const std::size_t B = 2, T = 3, d = 4, m = 5;
  const Tensor x = seeded({B, T, d}, 3);
  Parameter W(seeded_matrix(d, m, 4));
  Tape t;
  const Var y = matmul(t.tensor(x), t.param(W));
  REQUIRE(dims_of(y.shape()) == Sizes{B, T, m});
  const Tensor out = y.tensor();
  for (std::size_t b = 0; b < B; ++b) {
    for (std::size_t s = 0; s < T; ++s) {
      for (std::size_t j = 0; j < m; ++j) {
        double total = 0;
        for (std::size_t q = 0; q < d; ++q) total += x(b, s, q) * W.value(q, j);
        CHECK_THAT(out(b, s, j), WithinAbs(total, 1e-12));
      }
    }
  }
  // d Σ y / d W[q, j] = Σ_{b,t} x[b, t, q]: six terms of [-1, 1], rounding alone.
  t.backward(sum(y));
  for (std::size_t q = 0; q < d; ++q) {
    double total = 0;
    for (std::size_t b = 0; b < B; ++b) {
      for (std::size_t s = 0; s < T; ++s) total += x(b, s, q);
    }
    for (std::size_t j = 0; j < m; ++j) CHECK_THAT(W.grad(q, j), WithinAbs(total, 1e-12));
  }
}

TEST_CASE("a causal mask and softmax: rows sum to 1, masked entries are exactly 0", "[products]") {
  // Scores [B, H, T, T] = c ∘ S (S a parameter broadcast over B and H), the causal mask [T, T].
  const std::size_t B = 2, H = 2, T = 4;
  Parameter S(seeded_matrix(T, T, 5));
  Tensor causal = Tensor::from_shape({T, T});
  for (std::size_t i = 0; i < T; ++i) {
    for (std::size_t j = 0; j < T; ++j) causal(i, j) = j > i ? 1.0 : 0.0;
  }
  Tape t;
  const Tensor c = seeded({B, H, T, T}, 6);
  const Var scores = mul(t.tensor(c), t.param(S));
  const Var p = softmax(masked_fill(scores, t.tensor(causal), -inf), -1);
  REQUIRE(dims_of(p.shape()) == Sizes{B, H, T, T});
  const Tensor probs = p.tensor();
  for (std::size_t b = 0; b < B; ++b) {
    for (std::size_t h = 0; h < H; ++h) {
      for (std::size_t i = 0; i < T; ++i) {
        // The loop's softmax over the unmasked j <= i; 4 terms near 1: rounding alone.
        double m = -inf, total = 0, row_sum = 0;
        for (std::size_t j = 0; j <= i; ++j) m = std::max(m, c(b, h, i, j) * S.value(i, j));
        for (std::size_t j = 0; j <= i; ++j) total += std::exp(c(b, h, i, j) * S.value(i, j) - m);
        for (std::size_t j = 0; j < T; ++j) {
          row_sum += probs(b, h, i, j);
          if (j > i) {
            CHECK(probs(b, h, i, j) == 0.0);
          } else {
            CHECK_THAT(probs(b, h, i, j), WithinAbs(std::exp(c(b, h, i, j) * S.value(i, j) - m) / total, 1e-14));
          }
        }
        CHECK_THAT(row_sum, WithinAbs(1.0, 1e-14));
      }
    }
  }
  // No gradient reaches a masked score: d/dS[i, j] is exactly 0 for j > i, nonzero below.
  Tensor weights = seeded({B, H, T, T}, 7);
  t.backward(sum(mul(p, t.tensor(weights))));
  for (std::size_t i = 0; i < T; ++i) {
    for (std::size_t j = 0; j < T; ++j) {
      if (j > i) CHECK(S.grad(i, j) == 0.0);
    }
  }
  CHECK(S.grad(T - 1, 0) != 0.0);
}

TEST_CASE("softmax along a dim other than the last matches a loop, and the last is softmax(a)", "[products]") {
  const Tensor x = seeded({2, 3, 4}, 8);
  Tape t;
  const Var a = t.tensor(x);
  SECTION("dim -1 is the softmax of the last axis, bit for bit") {
    CHECK((softmax(a, -1).value() == softmax(a).value()));
    CHECK((softmax(a, 2).value() == softmax(a).value()));
    CHECK((log_softmax(a, -1).value() == log_softmax(a).value()));
  }
  SECTION("dim 1 and dim -3 (0)") {
    for (int dim : {1, -3}) {
      INFO("dim " << dim);
      const std::size_t d = dim < 0 ? static_cast<std::size_t>(dim + 3) : static_cast<std::size_t>(dim);
      const Tensor p = softmax(a, dim).tensor(), lp = log_softmax(a, dim).tensor();
      for (std::size_t i = 0; i < 2; ++i) {
        for (std::size_t j = 0; j < 3; ++j) {
          for (std::size_t k = 0; k < 4; ++k) {
            // the slice along d through (i, j, k)
            double m = -inf, s = 0;
            const std::size_t len = x.shape()[d];
            const auto at = [&](std::size_t q) {
              return d == 0 ? x(q, j, k) : d == 1 ? x(i, q, k) : x(i, j, q);
            };
            for (std::size_t q = 0; q < len; ++q) m = std::max(m, at(q));
            for (std::size_t q = 0; q < len; ++q) s += std::exp(at(q) - m);
            // values of size 1 and a few terms: rounding alone
            CHECK_THAT(p(i, j, k), WithinAbs(std::exp(x(i, j, k) - m) / s, 1e-14));
            CHECK_THAT(lp(i, j, k), WithinAbs(x(i, j, k) - m - std::log(s), 1e-14));
          }
        }
      }
    }
  }
}

TEST_CASE("a fully masked row throws, naming the op and the row, and records nothing", "[products]") {
  Tensor x = seeded({2, 4, 4}, 9);
  for (std::size_t j = 0; j < 4; ++j) x(0, 3, j) = -inf;  // row 3 of the storage
  x(1, 0, 2) = -inf;  // a partly masked row: fine
  Tape t;
  const Var a = t.tensor(x);
  const std::size_t size = t.size();
  REQUIRE_THROWS_WITH(softmax(a), "softmax: row 3 of [2, 4, 4] is entirely −inf (fully masked)");
  CHECK(t.size() == size);
  REQUIRE_THROWS_WITH(softmax(a, -1), Contains("softmax: row 3 of [2, 4, 4]"));
  REQUIRE_THROWS_WITH(log_softmax(a), Contains("log_softmax: row 3 of [2, 4, 4] is entirely −inf"));
  CHECK(t.size() == size);
  const Labels labels{0, 1, 2, 3, 0, 1, 2, 3};
  REQUIRE_THROWS_WITH(softmax_cross_entropy(a, labels),
                      Contains("softmax_cross_entropy: row 3 of [2, 4, 4] is entirely −inf"));
  CHECK(t.size() == size);
  // Ignored, the masked row is no error (a padded position).
  const Labels ignoring{0, 1, 2, -100, 0, 1, 2, 3};
  CHECK(std::isfinite(softmax_cross_entropy(a, ignoring, Reduction::mean, -100).value()(0, 0)));

  // Along dim 1: the slice (b = 1, k = 2) of [2, 4, 4] is slice 1·4 + 2 = 6.
  Tensor y = seeded({2, 4, 4}, 10);
  for (std::size_t j = 0; j < 4; ++j) y(1, j, 2) = -inf;
  const Var b = t.tensor(y);
  const std::size_t size_b = t.size();
  REQUIRE_THROWS_WITH(softmax(b, 1), "softmax: row 6 along dim 1 of [2, 4, 4] is entirely −inf (fully masked)");
  REQUIRE_THROWS_WITH(log_softmax(b, -2), Contains("log_softmax: row 6 along dim 1"));
  CHECK(t.size() == size_b);
  CHECK(softmax(b, 2).tensor()(1, 0, 2) == 0.0);  // along the last axis no row is fully masked
}

TEST_CASE("softmax_cross_entropy of [B, T, C] logits: ignore_index and Reduction::none", "[products]") {
  // 6 positions of 5 classes; the loop's losses over the positions kept. Sums of 6 terms of size
  // about 2: rounding alone (1e-13).
  const std::size_t B = 2, T = 3, C = 5;
  const Tensor z = seeded({B, T, C}, 11);
  const Labels labels{4, -1, 0, 2, -1, 3};
  double kept_sum = 0;
  std::size_t kept = 0;
  for (std::size_t p = 0; p < B * T; ++p) {
    if (labels[p] == -1) continue;
    kept_sum += row_loss(z.data() + p * C, C, labels[p]);
    ++kept;
  }
  // The logits z + 0 (a 1 x 1 parameter broadcast), so that they get a gradient: logits.grad(),
  // stored as [B·T x C], row p for position p.
  Parameter zero(Matrix{{0.0}});
  Tape t;
  const Var logits = add(t.tensor(z), t.param(zero));
  SECTION("mean and sum over the kept positions") {
    const Var mean_loss = softmax_cross_entropy(logits, labels, Reduction::mean, -1);
    CHECK_THAT(mean_loss.value()(0, 0), WithinAbs(kept_sum / static_cast<double>(kept), 1e-13));
    CHECK_THAT(softmax_cross_entropy(logits, labels, Reduction::sum, -1).value()(0, 0), WithinAbs(kept_sum, 1e-13));
    // An ignored position gets no gradient; a kept one (p − onehot) / kept.
    t.backward(mean_loss);
    for (std::size_t c = 0; c < C; ++c) {
      CHECK(logits.grad()(1, c) == 0.0);
      CHECK(logits.grad()(4, c) == 0.0);
    }
    double m = -inf, s = 0;
    for (std::size_t c = 0; c < C; ++c) m = std::max(m, z(0, 0, c));
    for (std::size_t c = 0; c < C; ++c) s += std::exp(z(0, 0, c) - m);
    for (std::size_t c = 0; c < C; ++c) {
      const double expected = (std::exp(z(0, 0, c) - m) / s - (c == 4 ? 1.0 : 0.0)) / static_cast<double>(kept);
      CHECK_THAT(logits.grad()(0, c), WithinAbs(expected, 1e-14));
    }
  }
  SECTION("every position ignored: a mean of 0 with a zero gradient") {
    const Var loss = softmax_cross_entropy(logits, Labels(B * T, 7), Reduction::mean, 7);
    CHECK(loss.value()(0, 0) == 0.0);
    t.backward(loss);
    CHECK(xt::amax(xt::abs(logits.grad()))() == 0.0);
  }
  SECTION("Reduction::none: one loss per position, in the shape [B, T]") {
    const Var losses = softmax_cross_entropy(logits, labels, Reduction::none, -1);
    REQUIRE(dims_of(losses.shape()) == Sizes{B, T});
    const Tensor l = losses.tensor();
    for (std::size_t p = 0; p < B * T; ++p) {
      INFO("position " << p);
      const double expected = labels[p] == -1 ? 0.0 : row_loss(z.data() + p * C, C, labels[p]);
      CHECK_THAT(l.data()[p], WithinAbs(expected, 1e-13));
    }
    // The gradient of Σ w ∘ losses reaches row p scaled by w[p] alone.
    const Tensor w = seeded({B, T}, 12);
    t.backward(sum(mul(losses, t.tensor(w))));
    for (std::size_t p = 0; p < B * T; ++p) {
      double m = -inf, s = 0;
      for (std::size_t c = 0; c < C; ++c) m = std::max(m, z.data()[p * C + c]);
      for (std::size_t c = 0; c < C; ++c) s += std::exp(z.data()[p * C + c] - m);
      for (std::size_t c = 0; c < C; ++c) {
        const double soft = std::exp(z.data()[p * C + c] - m) / s;
        const double expected =
            labels[p] == -1 ? 0.0 : w.data()[p] * (soft - (static_cast<int>(c) == labels[p] ? 1.0 : 0.0));
        CHECK_THAT(logits.grad()(p, c), WithinAbs(expected, 1e-14));
      }
    }
  }
  SECTION("without ignore_index, N-D logits give the numbers of their [B·T x C] storage") {
    const Labels all{4, 1, 0, 2, 2, 3};
    const Var nd = softmax_cross_entropy(logits, all);
    Matrix storage = Matrix::from_shape({B * T, C});
    std::copy(z.begin(), z.end(), storage.begin());
    const Var flat_loss = softmax_cross_entropy(t.constant(storage), all);
    CHECK(nd.value()(0, 0) == flat_loss.value()(0, 0));
  }
}

TEST_CASE("errors name the op and the shapes, and record nothing", "[products]") {
  Tape t;
  const Var a = t.tensor(seeded({2, 3, 4}, 1));
  const Var b = t.tensor(seeded({2, 5, 6}, 2));
  const Var c = t.tensor(seeded({3, 4, 5}, 3));
  const Var v = t.tensor(seeded({4}, 4));
  const Var m34 = t.tensor(seeded({3, 4}, 5));
  const Var m252 = t.tensor(seeded({2, 5, 2}, 6));
  const Var empty = t.tensor(Tensor::from_shape({2, 0, 3}));
  const Var mask21 = t.tensor(xt::zeros<double>(Sizes{2, 1}));
  const Var mask234 = t.tensor(xt::zeros<double>(Sizes{2, 3, 4}));
  const std::size_t size = t.size();
  REQUIRE_THROWS_WITH(matmul(a, b), "matmul: [2, 3, 4] and [2, 5, 6]: inner dimensions 4 and 5 differ");
  REQUIRE_THROWS_WITH(matmul(a, c), Contains("matmul: [2, 3, 4] and [3, 4, 5]: batch dimensions 2 and 3 differ"));
  REQUIRE_THROWS_WITH(matmul(a, v), Contains("matmul: [2, 3, 4] and [4]: takes values of rank 2 or more") &&
                                        Contains("unsqueeze"));
  REQUIRE_THROWS_WITH(matmul(m34, m252), "matmul: [3, 4] and [2, 5, 2]: inner dimensions 4 and 5 differ");
  REQUIRE_THROWS_WITH(softmax(a, 3), "softmax: dim 3 is out of range for [2, 3, 4] (expected -3..2)");
  REQUIRE_THROWS_WITH(log_softmax(a, -4), Contains("log_softmax: dim -4 is out of range for [2, 3, 4]"));
  REQUIRE_THROWS_WITH(softmax(empty, 1), "softmax: dim 1 of [2, 0, 3] is empty");
  REQUIRE_THROWS_WITH(masked_fill(a, mask21, 0.0), Contains("masked_fill: shapes [2, 3, 4] and [2, 1]"));
  REQUIRE_THROWS_WITH(masked_fill(m34, mask234, 0.0),
                      "masked_fill: mask [2, 3, 4] does not broadcast to the shape of the input [3, 4] "
                      "(it would make [2, 3, 4])");
  REQUIRE_THROWS_WITH(softmax_cross_entropy(a, Labels{0, 1, 2, 3, 0}),
                      "softmax_cross_entropy: 5 labels for logits [2, 3, 4] (one per position: 6)");
  REQUIRE_THROWS_WITH(softmax_cross_entropy(a, Labels{0, 1, 2, 4, 0, -100}, Reduction::none, -100),
                      "softmax_cross_entropy: label 4 at row 3 is outside 0..3");
  CHECK(t.size() == size);
}
