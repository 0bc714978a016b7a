// Every op's backward rule against central differences, on several shapes. The list below is the
// one place that says how each op is checked; an op registered in the engine without an entry here
// fails the suite.
#include <functional>
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

// Reduces any value to a scalar with fixed, uneven weights, so that every element's gradient is
// distinct (a plain sum would give a uniform upstream gradient and hide mixed-up elements).
Var weighted_sum(const Var& v) {
  const Matrix w = uniform(v.rows(), v.cols(), 0.5, 1.5, 99);
  return sum(mul(v, v.tape().constant(w)));
}

struct Case {
  std::string shapes;
  std::vector<Matrix> inputs;
  ScalarFunction f;
};

using Shape = std::pair<std::size_t, std::size_t>;

std::vector<Case> unary_cases(const std::function<Var(const Var&)>& op, bool positive = false,
                              bool avoid_zero = false) {
  std::vector<Case> cases;
  for (Shape s : {Shape{1, 1}, Shape{4, 3}, Shape{1, 5}}) {
    Matrix x = positive     ? uniform(s.first, s.second, 0.3, 2.0, 7)
               : avoid_zero ? away_from_zero(s.first, s.second, 7)
                            : uniform(s.first, s.second, -1.5, 1.5, 7);
    cases.push_back({std::to_string(s.first) + "x" + std::to_string(s.second), {x},
                     [op](Tape&, const std::vector<Var>& v) { return weighted_sum(op(v[0])); }});
  }
  return cases;
}

// Same shape, a broadcast bias row, a broadcast column, a 1x1 scalar against a matrix. A divisor
// (b_away_from_zero) stays at least 0.2 from 0, where a / b is steep.
std::vector<Case> binary_cases(const std::function<Var(const Var&, const Var&)>& op,
                               bool b_away_from_zero = false) {
  std::vector<Case> cases;
  for (auto [a, b] : {std::pair<Shape, Shape>{{3, 4}, {3, 4}}, {{5, 3}, {1, 3}}, {{1, 3}, {4, 3}},
                      {{4, 2}, {4, 1}}, {{1, 1}, {2, 3}}, {{1, 1}, {1, 1}}}) {
    cases.push_back({std::to_string(a.first) + "x" + std::to_string(a.second) + " with " +
                         std::to_string(b.first) + "x" + std::to_string(b.second),
                     {uniform(a.first, a.second, -1, 1, 3),
                      b_away_from_zero ? away_from_zero(b.first, b.second, 4)
                                       : uniform(b.first, b.second, -1, 1, 4)},
                     [op](Tape&, const std::vector<Var>& v) { return weighted_sum(op(v[0], v[1])); }});
  }
  return cases;
}

std::vector<Case> cross_entropy_cases(Reduction reduction) {
  std::vector<Case> cases;
  for (auto [rows, classes] : {Shape{1, 2}, Shape{6, 3}, Shape{1, 1}}) {
    Labels y(rows);
    for (std::size_t i = 0; i < rows; ++i) y[i] = static_cast<int>((i * 7 + 1) % classes);
    cases.push_back({std::to_string(rows) + "x" + std::to_string(classes),
                     {uniform(rows, classes, -2, 2, 11)},
                     [y, reduction](Tape&, const std::vector<Var>& v) {
                       return softmax_cross_entropy(v[0], y, reduction);
                     }});
  }
  return cases;
}

// Every op of the API, and how it is checked.
std::map<std::string, std::vector<Case>> checks() {
  std::map<std::string, std::vector<Case>> c;
  c["matmul"] = {
      {"4x3 · 3x2", {uniform(4, 3, -1, 1, 1), uniform(3, 2, -1, 1, 2)},
       [](Tape&, const std::vector<Var>& v) { return weighted_sum(matmul(v[0], v[1])); }},
      {"1x1 · 1x1", {uniform(1, 1, -1, 1, 1), uniform(1, 1, -1, 1, 2)},
       [](Tape&, const std::vector<Var>& v) { return weighted_sum(matmul(v[0], v[1])); }},
      {"1x5 · 5x1", {uniform(1, 5, -1, 1, 1), uniform(5, 1, -1, 1, 2)},
       [](Tape&, const std::vector<Var>& v) { return weighted_sum(matmul(v[0], v[1])); }},
  };
  c["add"] = binary_cases([](const Var& a, const Var& b) { return add(a, b); });
  c["sub"] = binary_cases([](const Var& a, const Var& b) { return sub(a, b); });
  c["mul"] = binary_cases([](const Var& a, const Var& b) { return mul(a, b); });
  c["scale"] = unary_cases([](const Var& a) { return scale(a, -2.5); });
  c["sum"] = unary_cases([](const Var& a) { return sum(a); });
  c["mean"] = unary_cases([](const Var& a) { return mean(a); });
  c["tanh"] = unary_cases([](const Var& a) { return tanh(a); });
  c["sigmoid"] = unary_cases([](const Var& a) { return sigmoid(a); });
  c["relu"] = unary_cases([](const Var& a) { return relu(a); }, false, true);
  c["exp"] = unary_cases([](const Var& a) { return exp(a); });
  c["log"] = unary_cases([](const Var& a) { return log(a); }, true);
  c["softmax"] = unary_cases([](const Var& a) { return softmax(a); });
  c["softmax_cross_entropy"] = cross_entropy_cases(Reduction::sum);
  for (Case& k : cross_entropy_cases(Reduction::mean)) c["softmax_cross_entropy"].push_back(k);
  c["l2_penalty"] = unary_cases([](const Var& a) { return l2_penalty(a); });

  // The ops for sequence models.
  c["div"] = binary_cases([](const Var& a, const Var& b) { return div(a, b); }, true);
  c["sqrt"] = unary_cases([](const Var& a) { return sqrt(a); }, true);
  c["square"] = unary_cases([](const Var& a) { return square(a); });
  c["log_softmax"] = unary_cases([](const Var& a) { return log_softmax(a); });
  c["transpose"] = unary_cases([](const Var& a) { return transpose(a); });
  c["scalar arithmetic"] = unary_cases([](const Var& a) {
    return (a * 0.5 + 1.0) / 3.0 - (2.0 - a) + 1.5 * a - 0.25;
  });
  c["double / Var"] = unary_cases([](const Var& a) { return 2.0 / a; }, false, true);
  for (int axis : {0, 1}) {
    for (Case& k : unary_cases([axis](const Var& a) { return sum(a, axis); })) c["sum_axis"].push_back(k);
    for (Case& k : unary_cases([axis](const Var& a) { return mean(a, axis); })) c["mean_axis"].push_back(k);
    // Distinct values (uniform draws), so no tie lies within the step of the central difference.
    for (Case& k : unary_cases([axis](const Var& a) { return max(a, axis); })) c["max"].push_back(k);
  }
  const auto one = [](std::size_t r, std::size_t cols, std::uint32_t seed) {
    return uniform(r, cols, -1, 1, seed);
  };
  const auto of = [](std::function<Var(const std::vector<Var>&)> g) {
    return [g](Tape&, const std::vector<Var>& v) { return weighted_sum(g(v)); };
  };
  c["reshape"] = {
      {"4x3 as 2x6", {one(4, 3, 1)}, of([](auto& v) { return reshape(v[0], 2, 6); })},
      {"1x5 as 5x1", {one(1, 5, 2)}, of([](auto& v) { return reshape(v[0], 5, 1); })},
      {"1x1 as 1x1", {one(1, 1, 3)}, of([](auto& v) { return reshape(v[0], 1, 1); })},
  };
  c["slice"] = {
      {"rows 1..3, cols 0..2 of 4x3", {one(4, 3, 1)}, of([](auto& v) { return slice(v[0], 1, 3, 0, 2); })},
      {"cols 1..4 of 1x5", {one(1, 5, 2)}, of([](auto& v) { return slice_cols(v[0], 1, 4); })},
      {"all of 1x1", {one(1, 1, 3)}, of([](auto& v) { return slice_rows(v[0], 0, 1); })},
      {"two overlapping slices of 4x3", {one(4, 3, 4)},
       of([](auto& v) { return slice(v[0], 0, 3, 1, 3) + slice(v[0], 1, 4, 0, 2); })},
  };
  c["concat"] = {
      {"three along rows", {one(2, 3, 1), one(1, 3, 2), one(3, 3, 3)},
       of([](auto& v) { return concat({v[0], v[1], v[2]}, 0); })},
      {"three along columns", {one(2, 1, 1), one(2, 3, 2), one(2, 2, 3)},
       of([](auto& v) { return concat({v[0], v[1], v[2]}, 1); })},
      {"1x1s, one of them twice", {one(1, 1, 1), one(1, 1, 2)},
       of([](auto& v) { return concat({v[0], v[1], v[0]}, 1); })},
  };
  c["gather_rows"] = {
      {"5x3 table, ids 0 2 2 4 2", {one(5, 3, 1)},
       of([](auto& v) { return gather_rows(v[0], {0, 2, 2, 4, 2}); })},
      {"1x1 table, id 0 twice", {one(1, 1, 2)}, of([](auto& v) { return gather_rows(v[0], {0, 0}); })},
      {"4x2 table, no repeats", {one(4, 2, 3)}, of([](auto& v) { return gather_rows(v[0], {3, 1}); })},
  };
  c["sum of a list"] = {
      {"three 2x3 terms, one twice", {one(2, 3, 1), one(2, 3, 2)},
       of([](auto& v) { return sum(std::vector<Var>{v[0], v[1], v[0]}); })},
  };
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
