// The derivatives table. Each op: its OpDef (name + backward rule), then its forward.
// In the rules: g = n.grad is d loss / d result, out = n.value is the result, and t.value(n.in[k])
// is input k. Rules add into their inputs' gradients (+=), so a value used twice gets both shares.
#include "autograd/ops.hpp"

#include <algorithm>
#include <cmath>

#include <xtensor/xmath.hpp>
#include <xtensor/xoperation.hpp>

#include "autograd/blas.hpp"
#include "autograd/kernels.hpp"

namespace autograd {

namespace {

[[noreturn]] void shape_error(const char* op, const std::string& what, const Matrix& a,
                              const Matrix& b) {
  throw std::invalid_argument(std::string(op) + ": " + what + " " + shape_str(a) + " and " +
                              shape_str(b));
}

// Result shape of a broadcasting elementwise op: per dimension, equal or 1 on one side.
std::array<std::size_t, 2> broadcast_shape(const char* op, const Matrix& a, const Matrix& b) {
  std::array<std::size_t, 2> s{};
  for (std::size_t d = 0; d < 2; ++d) {
    const std::size_t x = a.shape(d), y = b.shape(d);
    if (x != y && x != 1 && y != 1) shape_error(op, "shapes do not broadcast:", a, b);
    s[d] = x == 1 ? y : x;
  }
  return s;
}

// out = f(a) elementwise; f returns an xtensor expression of its argument.
// scalar is the op's attribute for its rule (the factor of scale).
template <class F>
Var unary(const OpDef& op, const Var& a, F&& f, double scalar = 0.0) {
  Tape& t = a.tape();
  Node& n = t.record(op, a);
  n.scalar = scalar;
  const Matrix& x = t.value(n.in[0]);
  n.value.resize(x.shape());
  xt::noalias(n.value) = f(x);
  return t.result(n);
}

// out = kernel(a) elementwise, by one of the vectorised kernels over the whole array (kernels.hpp).
Var unary_kernel(const OpDef& op, const Var& a, void (*kernel)(const double*, double*, std::size_t)) {
  Tape& t = a.tape();
  Node& n = t.record(op, a);
  const Matrix& x = t.value(n.in[0]);
  n.value.resize(x.shape());
  kernel(x.data(), n.value.data(), x.size());
  return t.result(n);
}

// out = f(a, b) elementwise with broadcasting; f combines two numbers. Row by row, a row or column
// of size 1 reused: xtensor's broadcasting assignment took several times longer on short rows.
template <class F>
Var binary(const OpDef& op, const Var& a, const Var& b, F&& f) {
  const auto shape = broadcast_shape(op.name, a.value(), b.value());
  Tape& t = a.tape();
  Node& n = t.record(op, a, b);
  n.value.resize(shape);
  const Matrix& x = t.value(n.in[0]);
  const Matrix& y = t.value(n.in[1]);
  const std::size_t rows = shape[0], cols = shape[1];
  const bool x_row = x.shape(1) == cols, y_row = y.shape(1) == cols;  // else one column, reused
  for (std::size_t r = 0; r < rows; ++r) {
    const double* xr = x.data() + (x.shape(0) == 1 ? 0 : r) * x.shape(1);
    const double* yr = y.data() + (y.shape(0) == 1 ? 0 : r) * y.shape(1);
    double* out = n.value.data() + r * cols;
    if (x_row && y_row) {
      for (std::size_t c = 0; c < cols; ++c) out[c] = f(xr[c], yr[c]);
    } else {
      for (std::size_t c = 0; c < cols; ++c) out[c] = f(xr[x_row ? c : 0], yr[y_row ? c : 0]);
    }
  }
  return t.result(n);
}

// A 1x1 result computed by a plain loop (a reduction).
Var scalar_result(Tape& t, Node& n, double v) {
  n.value.resize({1, 1});
  n.value(0, 0) = v;
  return t.result(n);
}

// Writes the row-wise softmax of z into p and reports each row's log Σ exp, computed stably: the
// row's max is subtracted before exp, so logits of ±1000 stay finite.
template <class OnRow>
void row_softmax(const Matrix& z, Matrix& p, OnRow&& on_row) {
  const std::size_t rows = z.shape(0), cols = z.shape(1);
  p.resize(z.shape());
  const auto row_max = [&](std::size_t r) {
    const double* zr = z.data() + r * cols;
    return *std::max_element(zr, zr + cols);
  };
  // p = z − rowmax, then exp over the whole array at once: rows are often short (2 or 10 classes)
  // and the vectorised kernel needs long arrays.
  for (std::size_t r = 0; r < rows; ++r) {
    const double m = row_max(r);
    const double* zr = z.data() + r * cols;
    double* pr = p.data() + r * cols;
    for (std::size_t c = 0; c < cols; ++c) pr[c] = zr[c] - m;
  }
  kernels::exp(p.data(), p.data(), p.size());
  for (std::size_t r = 0; r < rows; ++r) {
    double* pr = p.data() + r * cols;
    double s = 0.0;
    for (std::size_t c = 0; c < cols; ++c) s += pr[c];
    const double inv = 1.0 / s;
    for (std::size_t c = 0; c < cols; ++c) pr[c] *= inv;
    on_row(r, row_max(r) + std::log(s));
  }
}

// ---------------------------------------------------------------------------------------------------
// matmul. A:[n,k] B:[k,m] g:[n,m]  =>  dA += g·Bᵀ [n,k],  dB += Aᵀ·g [k,m], transposes as BLAS flags.
const OpDef matmul_op{"matmul", [](Tape& t, const Node& n) {
  bool add = false;
  if (t.requires_grad(n.in[0])) {
    Matrix& dA = t.grad_target(n.in[0], add);
    blas::gemm(false, true, 1.0, n.grad, t.value(n.in[1]), add ? 1.0 : 0.0, dA);
  }
  if (t.requires_grad(n.in[1])) {
    Matrix& dB = t.grad_target(n.in[1], add);
    blas::gemm(true, false, 1.0, t.value(n.in[0]), n.grad, add ? 1.0 : 0.0, dB);
  }
}};

// d(a + b) = (g, g), each summed over what was broadcast
const OpDef add_op{"add", [](Tape& t, const Node& n) {
  t.accumulate_sum_to(n.in[0], n.grad);
  t.accumulate_sum_to(n.in[1], n.grad);
}};

// d(a ∘ b) = (g ∘ b, g ∘ a), each summed over what was broadcast
const OpDef mul_op{"mul", [](Tape& t, const Node& n) {
  t.accumulate_sum_to(n.in[0], n.grad * t.value(n.in[1]));
  t.accumulate_sum_to(n.in[1], n.grad * t.value(n.in[0]));
}};

// d(c·a) = c·g
const OpDef scale_op{"scale", [](Tape& t, const Node& n) {
  t.accumulate(n.in[0], n.scalar * n.grad);
}};

// d Σa = g in every element
const OpDef sum_op{"sum", [](Tape& t, const Node& n) {
  t.accumulate(n.in[0], xt::broadcast(n.grad(0, 0), t.value(n.in[0]).shape()));
}};

// d tanh(a) = (1 − out²) · g
const OpDef tanh_op{"tanh", [](Tape& t, const Node& n) {
  t.accumulate(n.in[0], (1.0 - n.value * n.value) * n.grad);
}};

// d σ(a) = out · (1 − out) · g
const OpDef sigmoid_op{"sigmoid", [](Tape& t, const Node& n) {
  t.accumulate(n.in[0], n.value * (1.0 - n.value) * n.grad);
}};

// d relu(a) = [out > 0] · g
const OpDef relu_op{"relu", [](Tape& t, const Node& n) {
  t.accumulate(n.in[0], xt::where(n.value > 0.0, n.grad, 0.0));
}};

// d exp(a) = out · g
const OpDef exp_op{"exp", [](Tape& t, const Node& n) {
  t.accumulate(n.in[0], n.value * n.grad);
}};

// d log(a) = g / a
const OpDef log_op{"log", [](Tape& t, const Node& n) {
  t.accumulate(n.in[0], n.grad / t.value(n.in[0]));
}};

// d softmax(a) = out ∘ (g − rowsum(g ∘ out))
const OpDef softmax_op{"softmax", [](Tape& t, const Node& n) {
  if (!t.requires_grad(n.in[0])) return;
  bool add = false;
  Matrix& da = t.grad_target(n.in[0], add);
  const std::size_t rows = n.value.shape(0), cols = n.value.shape(1);
  for (std::size_t r = 0; r < rows; ++r) {
    double dot = 0.0;
    for (std::size_t c = 0; c < cols; ++c) dot += n.grad(r, c) * n.value(r, c);
    for (std::size_t c = 0; c < cols; ++c) {
      const double d = n.value(r, c) * (n.grad(r, c) - dot);
      da(r, c) = add ? da(r, c) + d : d;
    }
  }
}};

// d CE / d logits = (softmax(logits) − onehot(labels)) · g · s, with s = 1 (sum) or 1/N (mean).
// n.saved holds softmax(logits), n.scalar holds s.
const OpDef softmax_cross_entropy_op{"softmax_cross_entropy", [](Tape& t, const Node& n) {
  if (!t.requires_grad(n.in[0])) return;
  bool add = false;
  Matrix& dz = t.grad_target(n.in[0], add);
  const double gs = n.grad(0, 0) * n.scalar;
  const std::size_t rows = n.saved.shape(0), cols = n.saved.shape(1);
  for (std::size_t r = 0; r < rows; ++r) {
    const auto label = static_cast<std::size_t>(n.labels[r]);
    for (std::size_t c = 0; c < cols; ++c) {
      const double d = (n.saved(r, c) - (c == label ? 1.0 : 0.0)) * gs;
      dz(r, c) = add ? dz(r, c) + d : d;
    }
  }
}};

// d ½Σw² = w · g
const OpDef l2_penalty_op{"l2_penalty", [](Tape& t, const Node& n) {
  t.accumulate(n.in[0], n.grad(0, 0) * t.value(n.in[0]));
}};

}  // namespace

// ---------------------------------------------------------------------------------------------------
// Forwards, in the order of the rules above.

Var matmul(const Var& a, const Var& b) {
  const Matrix& A = a.value();
  const Matrix& B = b.value();
  if (A.shape(1) != B.shape(0)) shape_error("matmul", "inner dimensions differ:", A, B);
  Tape& t = a.tape();
  Node& n = t.record(matmul_op, a, b);
  n.value.resize({A.shape(0), B.shape(1)});
  blas::gemm(false, false, 1.0, A, B, 0.0, n.value);
  return t.result(n);
}

Var add(const Var& a, const Var& b) {
  return binary(add_op, a, b, [](double x, double y) { return x + y; });
}

Var sub(const Var& a, const Var& b) {
  // a − b = a + (−1)·b: composed, no rule of its own. Checked first so that the error names sub.
  broadcast_shape("sub", a.value(), b.value());
  return add(a, scale(b, -1.0));
}

Var mul(const Var& a, const Var& b) {
  return binary(mul_op, a, b, [](double x, double y) { return x * y; });
}

Var scale(const Var& a, double c) {
  return unary(scale_op, a, [c](const Matrix& x) { return c * x; }, c);
}

Var sum(const Var& a) {
  Tape& t = a.tape();
  Node& n = t.record(sum_op, a);
  double s = 0.0;
  for (double x : t.value(n.in[0])) s += x;
  return scalar_result(t, n, s);
}

Var mean(const Var& a) {
  // mean = sum / count: composed, no rule of its own.
  const std::size_t count = a.value().size();
  if (count == 0) throw std::invalid_argument("mean: empty input " + shape_str(a.value()));
  return scale(sum(a), 1.0 / static_cast<double>(count));
}

Var tanh(const Var& a) { return unary_kernel(tanh_op, a, kernels::tanh); }

Var sigmoid(const Var& a) {
  // exp(−x) overflows to inf for x < −709, and 1 / inf = 0 is the right limit.
  return unary(sigmoid_op, a, [](const Matrix& x) { return 1.0 / (1.0 + xt::exp(-x)); });
}

Var relu(const Var& a) {
  return unary(relu_op, a, [](const Matrix& x) { return xt::maximum(x, 0.0); });
}

Var exp(const Var& a) { return unary_kernel(exp_op, a, kernels::exp); }

Var log(const Var& a) {
  return unary(log_op, a, [](const Matrix& x) { return xt::log(x); });
}

Var softmax(const Var& a) {
  const Matrix& z = a.value();
  if (z.shape(1) == 0) throw std::invalid_argument("softmax: no columns in " + shape_str(z));
  Tape& t = a.tape();
  Node& n = t.record(softmax_op, a);
  row_softmax(z, n.value, [](std::size_t, double) {});
  return t.result(n);
}

Var softmax_cross_entropy(const Var& logits, const Labels& labels, Reduction reduction) {
  const Matrix& z = logits.value();
  const std::size_t rows = z.shape(0), classes = z.shape(1);
  if (labels.size() != rows) {
    throw std::invalid_argument("softmax_cross_entropy: " + std::to_string(labels.size()) +
                                " labels for logits " + shape_str(z));
  }
  if (rows == 0 || classes == 0) {
    throw std::invalid_argument("softmax_cross_entropy: empty logits " + shape_str(z));
  }
  for (std::size_t r = 0; r < rows; ++r) {
    if (labels[r] < 0 || static_cast<std::size_t>(labels[r]) >= classes) {
      throw std::invalid_argument("softmax_cross_entropy: label " + std::to_string(labels[r]) +
                                  " at row " + std::to_string(r) + " is outside 0.." +
                                  std::to_string(classes - 1));
    }
  }
  Tape& t = logits.tape();
  Node& n = t.record(softmax_cross_entropy_op, logits);
  n.labels.assign(labels.begin(), labels.end());
  n.scalar = reduction == Reduction::mean ? 1.0 / static_cast<double>(rows) : 1.0;
  // loss_r = log Σ_c exp(z_rc) − z_r,label
  double total = 0.0;
  row_softmax(z, n.saved, [&](std::size_t r, double lse) {
    total += lse - z(r, static_cast<std::size_t>(labels[r]));
  });
  return scalar_result(t, n, total * n.scalar);
}

Var l2_penalty(const Var& w) {
  Tape& t = w.tape();
  Node& n = t.record(l2_penalty_op, w);
  double s = 0.0;
  for (double x : t.value(n.in[0])) s += x * x;
  return scalar_result(t, n, 0.5 * s);
}

}  // namespace autograd
