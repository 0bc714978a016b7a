// Every op's backward rule against central differences, on several shapes. The list below is the
// one place that says how each op is checked; an op registered in the engine without an entry here
// fails the suite.
#include <algorithm>
#include <functional>
#include <limits>
#include <map>
#include <random>
#include <set>

#include <catch2/catch.hpp>

#include "autograd/autograd.hpp"

using namespace autograd;

namespace {

// Deterministic values in [lo, hi] from mt19937 bits (fully specified, the same on every platform).
Matrix uniform(std::size_t rows, std::size_t cols, double lo, double hi, std::uint32_t seed) {
  std::mt19937 gen(seed);
  Matrix m = Matrix::from_shape({rows, cols});
  for (double& x : m) x = lo + (hi - lo) * (gen() / 4294967296.0);
  return m;
}

// Values kept at least 0.2 away from 0, for relu's kink (a central difference across it is wrong).
Matrix away_from_zero(std::size_t rows, std::size_t cols, std::uint32_t seed) {
  Matrix m = uniform(rows, cols, 0.2, 1.5, seed);
  for (std::size_t i = 0; i < m.size(); ++i) {
    if (i % 2 == 1) m.flat(i) = -m.flat(i);
  }
  return m;
}

// Distinct values 0.1 apart in a seeded order (for max, whose gradient jumps at ties).
Matrix spread(std::size_t rows, std::size_t cols, std::uint32_t seed) {
  std::vector<double> values(rows * cols);
  for (std::size_t i = 0; i < values.size(); ++i) values[i] = -1.0 + 0.1 * static_cast<double>(i);
  std::mt19937 gen(seed);
  for (std::size_t i = values.size(); i > 1; --i) std::swap(values[i - 1], values[gen() % i]);
  Matrix m = Matrix::from_shape({rows, cols});
  std::copy(values.begin(), values.end(), m.begin());
  return m;
}

// Reduces any value to a scalar with fixed, uneven weights, so that every element's gradient is
// distinct (a plain sum would give a uniform upstream gradient and hide mixed-up elements). The
// weights are drawn for v's storage and recorded in v's shape, of any rank.
template <class T>
BasicVar<T> weighted_sum(const BasicVar<T>& v) {
  const Matrix u = uniform(v.rows(), v.cols(), 0.5, 1.5, 99);
  BasicTensor<T> w = BasicTensor<T>::from_shape(v.shape());
  std::transform(u.begin(), u.end(), w.begin(), [](double x) { return static_cast<T>(x); });
  return sum(mul(v, v.tape().tensor(w)));
}

// A constant of any shape with seeded values in [lo, hi].
template <class T>
BasicTensor<T> constant_tensor(const std::vector<std::size_t>& shape, double lo, double hi, std::uint32_t seed) {
  BasicTensor<T> c = BasicTensor<T>::from_shape(shape);
  std::mt19937 gen(seed);
  for (T& x : c) x = static_cast<T>(lo + (hi - lo) * (gen() / 4294967296.0));
  return c;
}

// A value of shape `shape` (any rank) that depends on the 2-D input x, whose shape is shape's last
// two dimensions: x broadcast along the leading ones, times an uneven constant so that no two
// slices are equal (a mixed-up slice shows). Its gradient sums over the leading dimensions.
template <class T>
BasicVar<T> spread(const BasicVar<T>& x, const std::vector<std::size_t>& shape) {
  return mul(x.tape().tensor(constant_tensor<T>(shape, 0.5, 1.5, 5)), x);
}

// A 0/1 mask of any shape: 1 where (i · 7 + 3) % 5 < 2 for flat position i, about 2 in 5.
template <class T>
BasicTensor<T> some_mask(const std::vector<std::size_t>& shape) {
  BasicTensor<T> m = BasicTensor<T>::from_shape(shape);
  for (std::size_t i = 0; i < m.size(); ++i) m.flat(i) = (i * 7 + 3) % 5 < 2 ? T(1) : T(0);
  return m;
}

// The causal mask of a T x T attention: 1 (masked) above the diagonal, where j > i.
template <class T>
BasicTensor<T> causal_mask(std::size_t n) {
  BasicTensor<T> m = BasicTensor<T>::from_shape({n, n});
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = 0; j < n; ++j) m(i, j) = j > i ? T(1) : T(0);
  }
  return m;
}

// A value of shape `shape` that depends on every element of the 2-D input x, whose shape must be
// shape's last two dimensions: x broadcast along the leading ones, times fixed uneven factors (so
// that the copies differ). Its gradient sums over the broadcast dimensions.
template <class T>
BasicVar<T> spread_to(const BasicVar<T>& x, const Shape& shape) {
  BasicTensor<T> f = BasicTensor<T>::from_shape(shape);
  for (std::size_t i = 0; i < f.size(); ++i) f.flat(i) = static_cast<T>(0.5 + 0.1 * static_cast<double>(i % 7));
  return mul(x.tape().tensor(f), x);
}

// A case is checked in both precisions: f64 and f32 are the same generic code instantiated twice.
struct Case {
  std::string shapes;
  std::vector<Matrix> inputs;
  ScalarFunction f;
  BasicScalarFunction<float> f32;
};

// The function of a case from generic code g(inputs) -> value, reduced by weighted_sum.
template <class G>
Case make_case(std::string shapes, std::vector<Matrix> inputs, G g) {
  return {std::move(shapes), std::move(inputs),
          [g](Tape&, const std::vector<Var>& v) { return weighted_sum(g(v)); },
          [g](f32::Tape&, const std::vector<f32::Var>& v) { return weighted_sum(g(v)); }};
}

using Shape = std::pair<std::size_t, std::size_t>;

template <class Op>
std::vector<Case> unary_cases(Op op, bool positive = false, bool avoid_zero = false) {
  std::vector<Case> cases;
  for (Shape s : {Shape{1, 1}, Shape{4, 3}, Shape{1, 5}}) {
    Matrix x = positive     ? uniform(s.first, s.second, 0.3, 2.0, 7)
               : avoid_zero ? away_from_zero(s.first, s.second, 7)
                            : uniform(s.first, s.second, -1.5, 1.5, 7);
    cases.push_back(make_case(std::to_string(s.first) + "x" + std::to_string(s.second), {x},
                              [op](const auto& v) { return op(v[0]); }));
  }
  return cases;
}

// Same shape, a broadcast bias row, a broadcast column, a 1x1 scalar against a matrix. A divisor
// (b_away_from_zero) stays at least 0.2 from 0, where a / b is steep.
template <class Op>
std::vector<Case> binary_cases(Op op, bool b_away_from_zero = false) {
  std::vector<Case> cases;
  for (auto [a, b] : {std::pair<Shape, Shape>{{3, 4}, {3, 4}}, {{5, 3}, {1, 3}}, {{1, 3}, {4, 3}},
                      {{4, 2}, {4, 1}}, {{1, 1}, {2, 3}}, {{1, 1}, {1, 1}}}) {
    cases.push_back(make_case(std::to_string(a.first) + "x" + std::to_string(a.second) + " with " +
                                  std::to_string(b.first) + "x" + std::to_string(b.second),
                              {uniform(a.first, a.second, -1, 1, 3),
                               b_away_from_zero ? away_from_zero(b.first, b.second, 4)
                                                : uniform(b.first, b.second, -1, 1, 4)},
                              [op](const auto& v) { return op(v[0], v[1]); }));
  }
  return cases;
}

std::vector<Case> cross_entropy_cases(Reduction reduction) {
  std::vector<Case> cases;
  for (auto [rows, classes] : {Shape{1, 2}, Shape{6, 3}, Shape{1, 1}}) {
    Labels y(rows);
    for (std::size_t i = 0; i < rows; ++i) y[i] = static_cast<int>((i * 7 + 1) % classes);
    Case k = make_case(std::to_string(rows) + "x" + std::to_string(classes),
                       {uniform(rows, classes, -2, 2, 11)},
                       [y, reduction](const auto& v) { return softmax_cross_entropy(v[0], y, reduction); });
    cases.push_back(k);
  }
  return cases;
}

using Sizes = std::vector<std::size_t>;
constexpr double minus_inf = -std::numeric_limits<double>::infinity();

// The products, softmax along a dim, masks and losses of any rank. Each N-D operand is built from
// a 2-D input by spread() (or is a 2-D input itself), so batch broadcasting and the sum of a
// broadcast operand's gradient over its copies are both checked.
void products_softmax_masks_losses(std::map<std::string, std::vector<Case>>& c) {
  const auto m = [](std::size_t r, std::size_t cols, std::uint32_t seed) { return uniform(r, cols, -1, 1, seed); };
  c["batched_matmul"] = {
      make_case("[2,3,4] · [2,4,5]", {m(3, 4, 1), m(4, 5, 2)},
                [](const auto& v) { return matmul(spread(v[0], {2, 3, 4}), spread(v[1], {2, 4, 5})); }),
      make_case("[1,3,4] · [2,4,2] (a broadcast over the batch)", {m(3, 4, 1), m(4, 2, 2)},
                [](const auto& v) { return matmul(spread(v[0], {1, 3, 4}), spread(v[1], {2, 4, 2})); }),
      make_case("[3,4] · [2,4,5] (a 2-D left operand)", {m(3, 4, 1), m(4, 5, 2)},
                [](const auto& v) { return matmul(v[0], spread(v[1], {2, 4, 5})); }),
      make_case("[2,1,3,4] · [3,4,2] (both broadcast)", {m(3, 4, 1), m(4, 2, 2)},
                [](const auto& v) { return matmul(spread(v[0], {2, 1, 3, 4}), spread(v[1], {3, 4, 2})); }),
      make_case("[2,1,1] · [1,1,3] (size-1 slices)", {m(1, 1, 1), m(1, 3, 2)},
                [](const auto& v) { return matmul(spread(v[0], {2, 1, 1}), spread(v[1], {1, 1, 3})); }),
  };
  c["matmul"].push_back(make_case("[2,2,3,4] · [4,5] (one product on the storage)", {m(3, 4, 1), m(4, 5, 2)},
                                  [](const auto& v) { return matmul(spread(v[0], {2, 2, 3, 4}), v[1]); }));
  c["matmul"].push_back(make_case("[2,3,4] · [1,4,5]", {m(3, 4, 1), m(4, 5, 2)},
                                  [](const auto& v) { return matmul(spread(v[0], {2, 3, 4}), spread(v[1], {1, 4, 5})); }));

  // Softmax along every dim of a rank-3 and a rank-4 value; the last dim is the softmax op's own.
  for (const Sizes& shape : {Sizes{2, 3, 4}, Sizes{2, 3, 2, 3}}) {
    const int rank = static_cast<int>(shape.size());
    for (int dim = -rank; dim < rank; ++dim) {
      const bool last = dim == -1 || dim == rank - 1;
      const std::string name = "[" + std::to_string(shape[0]) + ",...] of rank " + std::to_string(rank) +
                               ", dim " + std::to_string(dim);
      const Matrix x = m(shape[rank - 2], shape[rank - 1], 7);
      c[last ? "softmax" : "softmax_dim"].push_back(
          make_case(name, {x}, [shape, dim](const auto& v) { return softmax(spread(v[0], shape), dim); }));
      c[last ? "log_softmax" : "log_softmax_dim"].push_back(
          make_case(name, {x}, [shape, dim](const auto& v) { return log_softmax(spread(v[0], shape), dim); }));
    }
  }
  // Some −inf entries (a causal mask): probability 0 and gradient 0 there, along a dim and the last.
  for (int dim : {1, 2}) {
    c[dim == 2 ? "softmax" : "softmax_dim"].push_back(make_case(
        "causally masked [2,3,3], dim " + std::to_string(dim), {m(3, 3, 8)}, [dim](const auto& v) {
          using T = typename std::decay_t<decltype(v[0])>::value_type;
          return softmax(masked_fill(spread(v[0], {2, 3, 3}), v[0].tape().tensor(causal_mask<T>(3)), minus_inf), dim);
        }));
  }

  c["masked_fill"] = {
      make_case("[2,3,4] with a [3,4] mask, 2.5", {m(3, 4, 1)}, [](const auto& v) {
        using T = typename std::decay_t<decltype(v[0])>::value_type;
        return masked_fill(spread(v[0], {2, 3, 4}), v[0].tape().tensor(some_mask<T>({3, 4})), 2.5);
      }),
      make_case("[2,3,4] with a [2,1,4] mask, -1", {m(3, 4, 2)}, [](const auto& v) {
        using T = typename std::decay_t<decltype(v[0])>::value_type;
        return masked_fill(spread(v[0], {2, 3, 4}), v[0].tape().tensor(some_mask<T>({2, 1, 4})), -1.0);
      }),
      make_case("[3,4] with a [4] mask, used twice", {m(3, 4, 3)}, [](const auto& v) {
        using T = typename std::decay_t<decltype(v[0])>::value_type;
        const auto mask = v[0].tape().tensor(some_mask<T>({4}));
        return masked_fill(v[0], mask, 0.0) + v[0] * masked_fill(v[0], mask, 3.0);
      }),
      make_case("[2,2,3,3] scores, causal [3,3] mask, -inf, softmax", {m(3, 3, 4)}, [](const auto& v) {
        using T = typename std::decay_t<decltype(v[0])>::value_type;
        return softmax(masked_fill(spread(v[0], {2, 2, 3, 3}), v[0].tape().tensor(causal_mask<T>(3)), minus_inf));
      }),
  };

  // The cross-entropy of [2, 3, C] logits: 6 positions, ignore_index and Reduction::none.
  const Labels kept_and_ignored{0, 3, -100, 1, -100, 2};
  for (Reduction r : {Reduction::sum, Reduction::mean, Reduction::none}) {
    const std::string name = r == Reduction::sum ? "sum" : r == Reduction::mean ? "mean" : "none";
    c["softmax_cross_entropy"].push_back(make_case(
        "[2,3,4], ignore_index -100, " + name, {m(3, 4, 11)},
        [r, kept_and_ignored](const auto& v) { return softmax_cross_entropy(spread(v[0], {2, 3, 4}), kept_and_ignored, r, -100); }));
  }
  c["softmax_cross_entropy"].push_back(make_case(
      "[2,3,4], none", {m(3, 4, 12)},
      [](const auto& v) { return softmax_cross_entropy(spread(v[0], {2, 3, 4}), {1, 2, 0, 3, 1, 0}, Reduction::none); }));
  c["softmax_cross_entropy"].push_back(make_case(
      "[2,3,4] with some -inf logits, mean", {m(3, 4, 13)}, [](const auto& v) {
        using T = typename std::decay_t<decltype(v[0])>::value_type;
        // The mask covers classes {1}, {0, 2} and {1, 3} of rows 0, 1, 2 (position p reads row
        // p % 3): no label below.
        const auto z = masked_fill(spread(v[0], {2, 3, 4}), v[0].tape().tensor(some_mask<T>({3, 4})), minus_inf);
        return softmax_cross_entropy(z, {0, 3, 2, 2, 1, 0});
      }));
}

// Every op of the API, and how it is checked.
std::map<std::string, std::vector<Case>> checks() {
  std::map<std::string, std::vector<Case>> c;
  const auto product = [](const auto& v) { return matmul(v[0], v[1]); };
  c["matmul"] = {
      make_case("4x3 · 3x2", {uniform(4, 3, -1, 1, 1), uniform(3, 2, -1, 1, 2)}, product),
      make_case("1x1 · 1x1", {uniform(1, 1, -1, 1, 1), uniform(1, 1, -1, 1, 2)}, product),
      make_case("1x5 · 5x1", {uniform(1, 5, -1, 1, 1), uniform(5, 1, -1, 1, 2)}, product),
  };
  c["add"] = binary_cases([](const auto& a, const auto& b) { return add(a, b); });
  c["sub"] = binary_cases([](const auto& a, const auto& b) { return sub(a, b); });
  c["mul"] = binary_cases([](const auto& a, const auto& b) { return mul(a, b); });
  c["scale"] = unary_cases([](const auto& a) { return scale(a, -2.5); });
  c["sum"] = unary_cases([](const auto& a) { return sum(a); });
  c["mean"] = unary_cases([](const auto& a) { return mean(a); });
  c["tanh"] = unary_cases([](const auto& a) { return tanh(a); });
  c["sigmoid"] = unary_cases([](const auto& a) { return sigmoid(a); });
  c["relu"] = unary_cases([](const auto& a) { return relu(a); }, false, true);
  c["exp"] = unary_cases([](const auto& a) { return exp(a); });
  c["log"] = unary_cases([](const auto& a) { return log(a); }, true);
  c["softmax"] = unary_cases([](const auto& a) { return softmax(a); });
  c["softmax_cross_entropy"] = cross_entropy_cases(Reduction::sum);
  for (Case& k : cross_entropy_cases(Reduction::mean)) c["softmax_cross_entropy"].push_back(k);
  c["l2_penalty"] = unary_cases([](const auto& a) { return l2_penalty(a); });

  // The ops for sequence models.
  c["div"] = binary_cases([](const auto& a, const auto& b) { return div(a, b); }, true);
  c["sqrt"] = unary_cases([](const auto& a) { return sqrt(a); }, true);
  c["square"] = unary_cases([](const auto& a) { return square(a); });
  c["log_softmax"] = unary_cases([](const auto& a) { return log_softmax(a); });
  c["transpose"] = unary_cases([](const auto& a) { return transpose(a); });
  c["scalar arithmetic"] = unary_cases([](const auto& a) {
    return (a * 0.5 + 1.0) / 3.0 - (2.0 - a) + 1.5 * a - 0.25;
  });
  c["double / Var"] = unary_cases([](const auto& a) { return 2.0 / a; }, false, true);
  for (int axis : {0, 1}) {
    for (Case& k : unary_cases([axis](const auto& a) { return sum(a, axis); })) c["sum_axis"].push_back(k);
    for (Case& k : unary_cases([axis](const auto& a) { return mean(a, axis); })) c["mean_axis"].push_back(k);
    // Values 0.1 apart, so no tie lies within the step of either precision's central difference.
    for (Shape sh : {Shape{1, 1}, Shape{4, 3}, Shape{1, 5}}) {
      c["max"].push_back(make_case(std::to_string(sh.first) + "x" + std::to_string(sh.second) +
                                       ", axis " + std::to_string(axis),
                                   {spread(sh.first, sh.second, 7)},
                                   [axis](const auto& v) { return max(v[0], axis); }));
    }
  }
  const auto one = [](std::size_t r, std::size_t cols, std::uint32_t seed) {
    return uniform(r, cols, -1, 1, seed);
  };

  c["reshape"] = {
      make_case("4x3 as 2x6", {one(4, 3, 1)}, [](auto& v) { return reshape(v[0], 2, 6); }),
      make_case("1x5 as 5x1", {one(1, 5, 2)}, [](auto& v) { return reshape(v[0], 5, 1); }),
      make_case("1x1 as 1x1", {one(1, 1, 3)}, [](auto& v) { return reshape(v[0], 1, 1); }),
  };
  c["slice"] = {
      make_case("rows 1..3, cols 0..2 of 4x3", {one(4, 3, 1)}, [](auto& v) { return slice(v[0], 1, 3, 0, 2); }),
      make_case("cols 1..4 of 1x5", {one(1, 5, 2)}, [](auto& v) { return slice_cols(v[0], 1, 4); }),
      make_case("all of 1x1", {one(1, 1, 3)}, [](auto& v) { return slice_rows(v[0], 0, 1); }),
      make_case("two overlapping slices of 4x3", {one(4, 3, 4)}, [](auto& v) { return slice(v[0], 0, 3, 1, 3) + slice(v[0], 1, 4, 0, 2); }),
  };
  c["concat"] = {
      make_case("three along rows", {one(2, 3, 1), one(1, 3, 2), one(3, 3, 3)}, [](auto& v) { return concat({v[0], v[1], v[2]}, 0); }),
      make_case("three along columns", {one(2, 1, 1), one(2, 3, 2), one(2, 2, 3)}, [](auto& v) { return concat({v[0], v[1], v[2]}, 1); }),
      make_case("1x1s, one of them twice", {one(1, 1, 1), one(1, 1, 2)}, [](auto& v) { return concat({v[0], v[1], v[0]}, 1); }),
  };
  c["gather_rows"] = {
      make_case("5x3 table, ids 0 2 2 4 2", {one(5, 3, 1)}, [](auto& v) { return gather_rows(v[0], {0, 2, 2, 4, 2}); }),
      make_case("1x1 table, id 0 twice", {one(1, 1, 2)}, [](auto& v) { return gather_rows(v[0], {0, 0}); }),
      make_case("4x2 table, no repeats", {one(4, 2, 3)}, [](auto& v) { return gather_rows(v[0], {3, 1}); }),
  };
  // Reductions of any rank: x of [3 x 4] spread over [2, 3, 4] or [2, 1, 3, 4].
  const auto dims_case = [one](std::string what, autograd::Shape shape, std::vector<int> dims, bool keep, bool average) {
    return make_case(what, {one(shape[shape.size() - 2], shape.back(), 5)}, [=](const auto& v) {
      const auto x = spread_to(v[0], shape);
      return average ? mean(x, dims, keep) : sum(x, dims, keep);
    });
  };
  c["sum_dims"] = {
      dims_case("[2, 3, 4] over dim 0", {2, 3, 4}, {0}, false, false),
      dims_case("[2, 3, 4] over dims 0 and -1, kept", {2, 3, 4}, {0, -1}, true, false),
      dims_case("[2, 3, 4] over every dim: a scalar", {2, 3, 4}, {0, 1, 2}, false, false),
      dims_case("[2, 1, 3, 4] over dims 1 and 2", {2, 1, 3, 4}, {1, 2}, false, false),
      dims_case("[2, 3, 4] mean over dim 1, kept", {2, 3, 4}, {1}, true, true),
      dims_case("[3, 4] mean over dim -1", {3, 4}, {-1}, false, true),
  };
  // Elementwise ops broadcast in any rank.
  const auto nd_binary = [one](std::string what, autograd::Shape sa, autograd::Shape sb, auto op) {
    return make_case(what, {one(sa[sa.size() - 2], sa.back(), 6), one(sb[sb.size() - 2], sb.back(), 7)},
                     [=](const auto& v) { return op(spread_to(v[0], sa), spread_to(v[1], sb)); });
  };
  const auto nd_cases = [&](auto op) {
    return std::vector<Case>{
        nd_binary("[2, 3, 4] with [3, 4]", {2, 3, 4}, {3, 4}, op),
        nd_binary("[2, 3, 1] with [1, 3, 4]: both stretched", {2, 3, 1}, {1, 3, 4}, op),
        nd_binary("[2, 1, 3, 4] with [2, 5, 1, 4]", {2, 1, 3, 4}, {2, 5, 1, 4}, op),
        nd_binary("[1, 4] with [2, 3, 4]: a bias row", {1, 4}, {2, 3, 4}, op),
    };
  };
  for (Case& k : nd_cases([](const auto& a, const auto& b) { return add(a, b); })) c["add"].push_back(k);
  for (Case& k : nd_cases([](const auto& a, const auto& b) { return sub(a, b); })) c["sub"].push_back(k);
  for (Case& k : nd_cases([](const auto& a, const auto& b) { return mul(a, b); })) c["mul"].push_back(k);
  for (Case& k : nd_cases([](const auto& a, const auto& b) { return div(a, b + 3.0); })) c["div"].push_back(k);

  // Shapes of any rank. The inputs are matrices; the N-D values are made from them by reshape, so
  // each case also checks reshape's rule on the way.
  for (Case& k : std::vector<Case>{
           make_case("1x1 as rank 0 []", {one(1, 1, 4)}, [](auto& v) { return reshape(v[0], {}); }),
           make_case("4x6 as [2, -1, 4]", {one(4, 6, 5)}, [](auto& v) { return reshape(v[0], {2, -1, 4}); }),
           make_case("2x6 as rank 1 [12], then rank 4 [3, 1, 2, 2]", {one(2, 6, 6)},
                     [](auto& v) { return reshape(reshape(v[0], {12}), {3, 1, 2, 2}); }),
           make_case("unsqueeze -1, then 1, of [2, 3, 2]", {one(3, 4, 7)},
                     [](auto& v) { return unsqueeze(unsqueeze(reshape(v[0], {2, 3, 2}), -1), 1); }),
           make_case("squeeze -1, then 1, of [2, 1, 3, 1]", {one(2, 3, 8)},
                     [](auto& v) { return squeeze(squeeze(reshape(v[0], {2, 1, 3, 1}), -1), 1); }),
           make_case("squeeze of [1] to rank 0", {one(1, 1, 9)}, [](auto& v) { return squeeze(reshape(v[0], {1}), 0); }),
       }) {
    c["reshape"].push_back(k);
  }
  c["permute"] = {
      make_case("[2, 3, 4] by (2, 0, 1)", {one(4, 6, 1)}, [](auto& v) { return permute(reshape(v[0], {2, 3, 4}), {2, 0, 1}); }),
      make_case("[2, 1, 3, 2] by (-1, 0, -2, 1)", {one(3, 4, 2)},
                [](auto& v) { return permute(reshape(v[0], {2, 1, 3, 2}), {-1, 0, -2, 1}); }),
      make_case("rank 1 [5] by (0)", {one(1, 5, 3)}, [](auto& v) { return permute(reshape(v[0], {5}), {0}); }),
      make_case("rank 0 [] by ()", {one(1, 1, 4)}, [](auto& v) { return permute(reshape(v[0], {}), {}); }),
      make_case("4x3 by (1, 0)", {one(4, 3, 5)}, [](auto& v) { return permute(v[0], {1, 0}); }),
      make_case("transpose 0, -1 of [2, 3, 4]", {one(6, 4, 6)}, [](auto& v) { return transpose(reshape(v[0], {2, 3, 4}), 0, -1); }),
      make_case("transpose 1, 2 of a slice of [2, 4, 3], used twice", {one(8, 3, 7)}, [](auto& v) {
        const auto x = slice(reshape(v[0], {2, 4, 3}), 1, 1, 3);
        return transpose(x, 1, 2) + transpose(x, -1, -2);
      }),
  };
  c["slice_dim"] = {
      make_case("[2, 3, 4] along 0, 1..2", {one(6, 4, 1)}, [](auto& v) { return slice(reshape(v[0], {2, 3, 4}), 0, 1, 2); }),
      make_case("[2, 3, 4] along 1, 1..3", {one(6, 4, 2)}, [](auto& v) { return slice(reshape(v[0], {2, 3, 4}), 1, 1, 3); }),
      make_case("[2, 3, 4] along -1, 0..3", {one(6, 4, 3)}, [](auto& v) { return slice(reshape(v[0], {2, 3, 4}), -1, 0, 3); }),
      make_case("two overlapping slices of [2, 3, 4] along 1", {one(6, 4, 4)}, [](auto& v) {
        const auto x = reshape(v[0], {2, 3, 4});
        return slice(x, 1, 0, 2) + slice(x, 1, 1, 3);
      }),
      make_case("narrow of a permuted [2, 3, 4]", {one(6, 4, 5)},
                [](auto& v) { return narrow(permute(reshape(v[0], {2, 3, 4}), {1, 2, 0}), 1, 1, 2); }),
      make_case("the size-1 dim of [2, 1, 3]", {one(2, 3, 6)}, [](auto& v) { return slice(reshape(v[0], {2, 1, 3}), 1, 0, 1); }),
      make_case("rank 1 [5], 1..4", {one(1, 5, 7)}, [](auto& v) { return slice(reshape(v[0], {5}), 0, 1, 4); }),
      make_case("4x3 along 0, 1..3", {one(4, 3, 8)}, [](auto& v) { return slice(v[0], 0, 1, 3); }),
  };
  // Three rank-3 inputs of sizes 1, 2 and 3 along the axis, [2, 3, 2] elsewhere.
  const auto along = [](int axis, std::int64_t size) {
    std::vector<std::int64_t> s{2, 3, 2};
    s[static_cast<std::size_t>(axis)] = size;
    return s;
  };
  const auto count = [](const std::vector<std::int64_t>& s) { return static_cast<std::size_t>(s[0] * s[1] * s[2]); };
  for (int axis : {0, 1, 2}) {
    const std::vector<std::int64_t> a = along(axis, 1), b = along(axis, 2), d = along(axis, 3);
    for (int dim : {axis, axis - 3}) {
      c["concat"].push_back(make_case("three of rank 3 along " + std::to_string(dim),
                                      {one(1, count(a), 4), one(1, count(b), 5), one(1, count(d), 6)},
                                      [a, b, d, dim](auto& v) {
                                        return concat({reshape(v[0], a), reshape(v[1], b), reshape(v[2], d)}, dim);
                                      }));
    }
  }
  for (Case& k : std::vector<Case>{
           make_case("rank 1, three along 0", {one(1, 2, 1), one(1, 1, 2), one(1, 3, 3)}, [](auto& v) {
             return concat(std::vector{reshape(v[0], {2}), reshape(v[1], {1}), reshape(v[2], {3})}, 0);
           }),
           make_case("rank 4 along 2, one input twice", {one(2, 6, 1), one(2, 4, 2)}, [](auto& v) {
             const auto x = reshape(v[0], {2, 1, 3, 2}), y = reshape(v[1], {2, 1, 2, 2});
             return concat({x, y, x}, 2);
           }),
           make_case("a permuted and a sliced input along 1 (cat)", {one(4, 3, 3), one(3, 4, 4)}, [](auto& v) {
             const auto x = permute(reshape(v[0], {2, 3, 2}), {0, 2, 1});       // [2, 2, 3]
             const auto y = slice(reshape(v[1], {2, 3, 2}), -1, 0, 1);         // [2, 3, 1]
             return cat({x, permute(y, {0, 2, 1})}, 1);                        // [2, 3, 3]
           }),
           make_case("matrices along -1", {one(2, 1, 5), one(2, 3, 6)}, [](auto& v) { return concat({v[0], v[1]}, -1); }),
       }) {
    c["concat"].push_back(k);
  }
  for (int dim : {0, 1, 2, 3, -1}) {
    c["stack"].push_back(make_case("three [2, 3, 2] along " + std::to_string(dim),
                                   {one(3, 4, 1), one(3, 4, 2), one(3, 4, 3)}, [dim](auto& v) {
                                     return stack({reshape(v[0], {2, 3, 2}), reshape(v[1], {2, 3, 2}),
                                                   reshape(v[2], {2, 3, 2})}, dim);
                                   }));
  }
  c["stack"].push_back(make_case("three 2x3 along 1", {one(2, 3, 4), one(2, 3, 5), one(2, 3, 6)},
                                 [](auto& v) { return stack(std::vector{v[0], v[1], v[2]}, 1); }));
  c["broadcast_to"] = {
      make_case("[3] to [2, 3]", {one(1, 3, 1)}, [](auto& v) { return broadcast_to(reshape(v[0], {3}), {2, 3}); }),
      make_case("2x1 to [4, 2, 5]", {one(2, 1, 2)}, [](auto& v) { return broadcast_to(v[0], {4, 2, 5}); }),
      make_case("rank 0 [] to [2, 3]", {one(1, 1, 3)}, [](auto& v) { return broadcast_to(reshape(v[0], {}), {2, 3}); }),
      make_case("[2, 1, 3] to [2, 2, 4, 3]", {one(2, 3, 4)}, [](auto& v) { return broadcast_to(reshape(v[0], {2, 1, 3}), {2, 2, 4, 3}); }),
      make_case("1x1 to [1, 1]", {one(1, 1, 5)}, [](auto& v) { return broadcast_to(v[0], {1, 1}); }),
  };
  c["index_select"] = {
      make_case("[3, 4, 2] along 1, ids 0 3 3 1 3", {one(6, 4, 1)},
                [](auto& v) { return index_select(reshape(v[0], {3, 4, 2}), 1, {0, 3, 3, 1, 3}); }),
      make_case("[3, 4, 2] along 0, ids 2 0 2", {one(6, 4, 2)}, [](auto& v) { return index_select(reshape(v[0], {3, 4, 2}), 0, {2, 0, 2}); }),
      make_case("[3, 4, 2] along -1, ids 1 1", {one(6, 4, 3)}, [](auto& v) { return index_select(reshape(v[0], {3, 4, 2}), -1, {1, 1}); }),
      make_case("4x3 along 1, ids 2 0", {one(4, 3, 4)}, [](auto& v) { return index_select(v[0], 1, {2, 0}); }),
      make_case("rank 1 [5], ids 4 0 4", {one(1, 5, 5)}, [](auto& v) { return index_select(reshape(v[0], {5}), 0, {4, 0, 4}); }),
  };
  c["embedding"] = {
      make_case("5x3 table, ids [2, 3] with repeats", {one(5, 3, 1)},
                [](auto& v) { return embedding(v[0], {4, 0, 4, 2, 4, 1}, {2, 3}); }),
      make_case("4x2 table, one id of shape []", {one(4, 2, 2)}, [](auto& v) { return embedding(v[0], {3}, {}); }),
      make_case("3x2 table, ids [2, 1, 2]", {one(3, 2, 3)}, [](auto& v) { return embedding(v[0], {2, 0, 1, 2}, {2, 1, 2}); }),
  };
  c["sum of a list"] = {
      make_case("three 2x3 terms, one twice", {one(2, 3, 1), one(2, 3, 2)}, [](auto& v) { return sum(std::vector{v[0], v[1], v[0]}); }),
  };
  products_softmax_masks_losses(c);
  return c;
}

}  // namespace

TEST_CASE("every registered op has a gradient check", "[gradcheck]") {
  const auto c = checks();
  for (const OpDef* op : registered_ops()) {
    if (op->backward == nullptr) continue;  // leaves: constants and parameters
    INFO("op without a gradient check in tests/test_ops_gradcheck.cpp: " << op->name);
    CHECK(c.count(op->name) == 1);
  }
}

TEST_CASE("every op's gradient matches central differences", "[gradcheck]") {
  for (const auto& [name, cases] : checks()) {
    for (const Case& k : cases) {
      INFO(name << " on " << k.shapes);
      const GradcheckResult r = gradcheck(k.f, k.inputs);
      INFO(r.message);
      CHECK(r.ok);
      CHECK(r.checked > 0);
    }
  }
}

TEST_CASE("every op's float32 gradient matches float32 central differences", "[gradcheck][float32]") {
  // The same cases evaluated in float, with GradcheckOptions::float32()'s step and tolerances
  // (justified in gradcheck.hpp).
  for (const auto& [name, cases] : checks()) {
    for (const Case& k : cases) {
      INFO(name << " on " << k.shapes << " in float32");
      std::vector<Matrix32> inputs;
      for (const Matrix& x : k.inputs) inputs.push_back(xt::cast<float>(x));
      const GradcheckResult r = gradcheck(k.f32, inputs);
      INFO(r.message);
      CHECK(r.ok);
      CHECK(r.checked > 0);
    }
  }
}

TEST_CASE("a value used twice gets both gradients (fan-out)", "[gradcheck]") {
  // f(x) = Σ (x·x + x·x) = 2Σx², so df/dx = 4x: every use adds its share.
  Parameter x(uniform(3, 2, -1, 1, 5));
  Tape t;
  const Var v = t.param(x);
  t.backward(sum(mul(v, v) + mul(v, v)));
  CHECK(xt::amax(xt::abs(x.grad - 4.0 * x.value))() <= 1e-15);

  const GradcheckResult r = gradcheck(
      [](Tape&, const std::vector<Var>& v) {
        const Var h = tanh(v[0]);  // one intermediate read by three ops
        return weighted_sum(matmul(h, v[1]) + matmul(h, v[1])) + l2_penalty(h);
      },
      {uniform(4, 3, -1, 1, 8), uniform(3, 2, -1, 1, 9)});
  INFO(r.message);
  CHECK(r.ok);
}

TEST_CASE("gradcheck reports a wrong gradient with the input, element and both values", "[gradcheck]") {
  // relu at exactly 0 has no derivative: the rule says 0, the central difference says 1/2.
  Matrix x = {{0.0, 1.0}};
  const GradcheckResult r =
      gradcheck([](Tape&, const std::vector<Var>& v) { return sum(relu(v[0])); }, {x}, {}, {"x"});
  CHECK_FALSE(r.ok);
  using Catch::Matchers::Contains;
  CHECK_THAT(r.message, Contains("x [1 x 2]") && Contains("element (0, 0)") &&
                            Contains("analytic 0") && Contains("numeric 0.5") &&
                            Contains("read by relu"));
}
