// Values of any rank: shapes, constants, numpy broadcasting of the elementwise ops and reductions
// over dims, each against plain index loops written here (their gradients are in
// test_ops_gradcheck's registry).
#include <cmath>
#include <limits>
#include <vector>

#include <catch2/catch.hpp>

#include "autograd/autograd.hpp"

using namespace autograd;
using Catch::Contains;

namespace {

// 0, 1, 2, … scaled to distinct values in [-1, 1): every element differs from its neighbours.
Tensor counting(const Shape& shape, double step = 0.37) {
  Tensor t = Tensor::from_shape(shape);
  for (std::size_t i = 0; i < t.size(); ++i) t.flat(i) = std::fmod(step * static_cast<double>(i), 2.0) - 1.0;
  return t;
}

}  // namespace

TEST_CASE("a tensor of any rank keeps its shape and its elements in row-major order", "[tensor]") {
  Tape tape;
  for (const Shape& shape : {Shape{}, Shape{5}, Shape{2, 3}, Shape{2, 3, 4}, Shape{1, 2, 1, 3, 1, 2}}) {
    const Tensor x = counting(shape);
    const Var v = tape.tensor(x);
    CHECK(v.shape() == shape);
    CHECK(v.dim() == shape.size());
    const Tensor back = v.tensor();
    REQUIRE(Shape(back.shape().begin(), back.shape().end()) == shape);
    for (std::size_t i = 0; i < x.size(); ++i) CHECK(back.flat(i) == x.flat(i));
    // Stored as the matrix of the last axis: every other dimension is a row.
    const std::size_t cols = shape.empty() ? 1 : shape.back();
    CHECK(v.value().shape(1) == cols);
    CHECK(v.value().size() == x.size());
  }
  // Matrices are rank 2, as they always were.
  const Var m = tape.constant(Matrix{{1, 2, 3}, {4, 5, 6}});
  CHECK(m.shape() == Shape{2, 3});
  CHECK(tape.constant(2.0).shape() == Shape{1, 1});
}

TEST_CASE("a tensor above the highest rank is refused by name", "[tensor]") {
  Tape tape;
  const std::size_t before = tape.size();
  REQUIRE_THROWS_WITH(tape.tensor(Tensor::from_shape(Shape(max_rank + 1, 1))),
                      Contains("constant") && Contains("rank 9") && Contains("more than the engine's 8"));
  CHECK(tape.size() == before);
}

TEST_CASE("elementwise ops broadcast by numpy's rules in any rank", "[tensor]") {
  // Each pair broadcasts to out; the expected values index a and b by hand.
  struct Pair { Shape a, b, out; };
  for (const Pair& p : {Pair{{2, 3, 4}, {3, 4}, {2, 3, 4}}, Pair{{2, 3, 1}, {1, 3, 4}, {2, 3, 4}},
                        Pair{{2, 1, 3, 4}, {2, 5, 1, 4}, {2, 5, 3, 4}}, Pair{{4}, {2, 3, 4}, {2, 3, 4}},
                        Pair{{}, {2, 3}, {2, 3}}, Pair{{3, 1}, {4}, {3, 4}}}) {
    Tape tape;
    const Tensor a = counting(p.a, 0.37), b = counting(p.b, 0.23);
    const Var x = tape.tensor(a), y = tape.tensor(b + 2.0);
    const Var s = add(x, y), d = sub(x, y), m = mul(x, y), q = div(x, y);
    for (const Var* v : {&s, &d, &m, &q}) REQUIRE(v->shape() == p.out);
    // The index of out's element k in a value of shape `in` (aligned at the last dimension).
    const auto source = [&](std::size_t k, const Shape& in) {
      std::size_t rest = k, index = 0, in_stride = 1;
      std::vector<std::size_t> coords(p.out.size());
      for (std::size_t d = p.out.size(); d-- > 0;) {
        coords[d] = rest % p.out[d];
        rest /= p.out[d];
      }
      for (std::size_t d = 0; d < in.size(); ++d) {
        const std::size_t i = in.size() - 1 - d, o = p.out.size() - 1 - d;
        if (in[i] != 1) index += coords[o] * in_stride;
        in_stride *= in[i];
      }
      return index;
    };
    const Tensor S = s.tensor(), D = d.tensor(), M = m.tensor(), Q = q.tensor();
    for (std::size_t k = 0; k < S.size(); ++k) {
      const double av = a.flat(source(k, p.a)), bv = b.flat(source(k, p.b)) + 2.0;
      CHECK(S.flat(k) == av + bv);
      CHECK(D.flat(k) == av - bv);
      CHECK(M.flat(k) == av * bv);
      CHECK(Q.flat(k) == av / bv);
    }
  }
}

TEST_CASE("shapes that do not broadcast are named with the op", "[tensor]") {
  Tape tape;
  const Var x = tape.tensor(counting({2, 3, 4})), y = tape.tensor(counting({3, 2, 4}));
  const std::size_t before = tape.size();
  REQUIRE_THROWS_WITH(add(x, y), Contains("add: shapes [2, 3, 4] and [3, 2, 4] do not broadcast"));
  REQUIRE_THROWS_WITH(sub(x, y), Contains("sub: shapes [2, 3, 4] and [3, 2, 4]"));
  REQUIRE_THROWS_WITH(mul(x, y), Contains("mul: shapes"));
  CHECK(tape.size() == before);
}

TEST_CASE("ops of matrices refuse other ranks and name the op to use", "[tensor]") {
  Tape tape;
  const Var x = tape.tensor(counting({2, 3, 4}));
  const std::size_t before = tape.size();
  REQUIRE_THROWS_WITH(transpose(x), Contains("transpose: takes a matrix (rank 2), got [2, 3, 4]"));
  REQUIRE_THROWS_WITH(sum(x, 0), Contains("sum: takes a matrix") && Contains("sum(a, dims, keepdim)"));
  REQUIRE_THROWS_WITH(slice_rows(x, 0, 1), Contains("slice: takes a matrix"));
  CHECK(tape.size() == before);
}

TEST_CASE("elementwise ops and softmax keep the shape of their input", "[tensor]") {
  Tape tape;
  const Tensor a = counting({2, 3, 4});
  const Var x = tape.tensor(a);
  for (const Var& v : {tanh(x), exp(x), sigmoid(x), relu(x), scale(x, 2.0), softmax(x), log_softmax(x)}) {
    CHECK(v.shape() == Shape{2, 3, 4});
  }
  // softmax of rank 3 is over the last axis: each [i, j, :] sums to 1.
  const Tensor p = softmax(x).tensor();
  for (std::size_t i = 0; i < 2; ++i) {
    for (std::size_t j = 0; j < 3; ++j) {
      double total = 0, norm = 0;
      for (std::size_t k = 0; k < 4; ++k) {
        total += p(i, j, k);
        norm += std::exp(a(i, j, k));
      }
      const double expected_first = std::exp(a(i, j, 0)) / norm;
      CHECK(total == Approx(1.0).epsilon(1e-15));  // a sum of 4 numbers below 1: a few ulp
      CHECK(p(i, j, 0) == Approx(expected_first).epsilon(1e-15));
    }
  }
}

TEST_CASE("sum and mean over dims, kept or dropped", "[tensor]") {
  Tape tape;
  const Shape shape{2, 3, 4};
  const Tensor a = counting(shape);
  const Var x = tape.tensor(a);
  const Var s1 = sum(x, {1}, false), s1k = sum(x, {1}, true), s02 = sum(x, {0, -1}, true);
  const Var all = sum(x, {0, 1, 2}, false), m2 = mean(x, {-1}, false);
  CHECK(s1.shape() == Shape{2, 4});
  CHECK(s1k.shape() == Shape{2, 1, 4});
  CHECK(s02.shape() == Shape{1, 3, 1});
  CHECK(all.shape() == Shape{});
  CHECK(m2.shape() == Shape{2, 3});
  const Tensor S1 = s1.tensor(), S02 = s02.tensor(), M2 = m2.tensor();
  double total = 0;
  for (std::size_t i = 0; i < 2; ++i) {
    for (std::size_t k = 0; k < 4; ++k) {
      double e = 0;
      for (std::size_t j = 0; j < 3; ++j) e += a(i, j, k);
      CHECK(S1(i, k) == Approx(e).epsilon(1e-15));  // 3 terms: within a few ulp of any order
    }
  }
  for (std::size_t j = 0; j < 3; ++j) {
    double e = 0;
    for (std::size_t i = 0; i < 2; ++i) {
      double row = 0;
      for (std::size_t k = 0; k < 4; ++k) {
        e += a(i, j, k);
        row += a(i, j, k);
        total += a(i, j, k);
      }
      CHECK(M2(i, j) == Approx(row / 4).epsilon(1e-14));
    }
    CHECK(S02(0, j, 0) == Approx(e).epsilon(1e-14));  // 8 terms
  }
  CHECK(all.value()(0, 0) == Approx(total).epsilon(1e-14));  // 24 terms
  REQUIRE_THROWS_WITH(sum(x, {3}, false), Contains("sum: dim 3 is not a dimension of [2, 3, 4]"));
  REQUIRE_THROWS_WITH(sum(x, {1, -2}, true), Contains("sum: dim -2 is named twice for [2, 3, 4]"));
  REQUIRE_THROWS_WITH(mean(x, {}, true), Contains("mean: no dims given"));
  REQUIRE_THROWS_WITH(sum(x, {0, 1, 2, 0, 1, 2, 0, 1, 2}, true), Contains("sum: 9 dims given, more than the 8 dimensions"));
}

TEST_CASE("a loss over tensors of any rank backpropagates to matrix parameters", "[tensor]") {
  // loss = Σ (x ∘ b) ∘ w over [2, 3, 4] with b a [3, 1] parameter: dL/db[j] = Σ_{i,k} x[i,j,k] w[i,j,k].
  Tape tape;
  Parameter b(Matrix{{0.5}, {-1.0}, {2.0}});
  const Tensor x = counting({2, 3, 4}, 0.37), w = counting({2, 3, 4}, 0.11);
  const Var loss = sum(mul(mul(tape.tensor(x), tape.param(b)), tape.tensor(w)));
  tape.backward(loss);
  for (std::size_t j = 0; j < 3; ++j) {
    double e = 0;
    for (std::size_t i = 0; i < 2; ++i) {
      for (std::size_t k = 0; k < 4; ++k) e += x(i, j, k) * w(i, j, k);
    }
    CHECK(b.grad(j, 0) == Approx(e).epsilon(1e-14));  // 8 products summed
  }
}
