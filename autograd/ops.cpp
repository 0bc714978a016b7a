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

// d(a / b) = (g / b, −g · out / b), each summed over what was broadcast
const OpDef div_op{"div", [](Tape& t, const Node& n) {
  const Matrix& b = t.value(n.in[1]);
  t.accumulate_sum_to(n.in[0], n.grad / b);
  t.accumulate_sum_to(n.in[1], -n.grad * n.value / b);
}};

// d √a = g / (2 · out)
const OpDef sqrt_op{"sqrt", [](Tape& t, const Node& n) {
  t.accumulate(n.in[0], n.grad / (2.0 * n.value));
}};

// d log_softmax(a) = g − softmax(a) · rowsum(g); n.saved holds softmax(a)
const OpDef log_softmax_op{"log_softmax", [](Tape& t, const Node& n) {
  if (!t.requires_grad(n.in[0])) return;
  bool add = false;
  Matrix& da = t.grad_target(n.in[0], add);
  const std::size_t rows = n.value.shape(0), cols = n.value.shape(1);
  for (std::size_t r = 0; r < rows; ++r) {
    const double* g = n.grad.data() + r * cols;
    const double* p = n.saved.data() + r * cols;
    double* d = da.data() + r * cols;
    double total = 0.0;
    for (std::size_t c = 0; c < cols; ++c) total += g[c];
    for (std::size_t c = 0; c < cols; ++c) d[c] = (add ? d[c] : 0.0) + g[c] - p[c] * total;
  }
}};

// d Σ_axis a = g broadcast back along the axis
const OpDef sum_axis_op{"sum_axis", [](Tape& t, const Node& n) {
  t.accumulate(n.in[0], xt::broadcast(n.grad, t.value(n.in[0]).shape()));
}};

// d max_axis(a) = g at each arg-max (n.labels), 0 elsewhere; n.attr[0] is the axis
const OpDef max_op{"max", [](Tape& t, const Node& n) {
  if (!t.requires_grad(n.in[0])) return;
  bool add = false;
  Matrix& da = t.grad_target(n.in[0], add);
  if (!add) da.fill(0.0);
  for (std::size_t k = 0; k < n.labels.size(); ++k) {
    const auto arg = static_cast<std::size_t>(n.labels[k]);
    if (n.attr[0] == 0) {
      da(arg, k) += n.grad(0, k);
    } else {
      da(k, arg) += n.grad(k, 0);
    }
  }
}};

// d aᵀ = gᵀ
const OpDef transpose_op{"transpose", [](Tape& t, const Node& n) {
  t.accumulate(n.in[0], xt::transpose(n.grad));
}};

// d reshape(a) = g read in a's shape (both are row-major: the elements keep their order)
const OpDef reshape_op{"reshape", [](Tape& t, const Node& n) {
  if (!t.requires_grad(n.in[0])) return;
  bool add = false;
  Matrix& da = t.grad_target(n.in[0], add);
  const double* g = n.grad.data();
  double* d = da.data();
  for (std::size_t i = 0; i < n.grad.size(); ++i) d[i] = add ? d[i] + g[i] : g[i];
}};

// d a[r0:r1, c0:c1] = g placed in the block, 0 elsewhere; n.attr = {r0, r1, c0, c1}
const OpDef slice_op{"slice", [](Tape& t, const Node& n) {
  if (!t.requires_grad(n.in[0])) return;
  bool add = false;
  Matrix& da = t.grad_target(n.in[0], add);
  if (!add) da.fill(0.0);
  const std::size_t r0 = n.attr[0], c0 = n.attr[2], rows = n.grad.shape(0), cols = n.grad.shape(1);
  for (std::size_t r = 0; r < rows; ++r) {
    const double* g = n.grad.data() + r * cols;
    double* d = da.data() + (r0 + r) * da.shape(1) + c0;
    for (std::size_t c = 0; c < cols; ++c) d[c] += g[c];
  }
}};

// d concat(a₀, a₁, …) = the block of g where each input went; n.attr[0] is the axis
const OpDef concat_op{"concat", [](Tape& t, const Node& n) {
  const std::size_t cols = n.grad.shape(1);
  std::size_t offset = 0;
  for (std::uint32_t in : n.in) {
    const Matrix& v = t.value(in);
    const std::size_t vr = v.shape(0), vc = v.shape(1);
    if (t.requires_grad(in)) {
      bool add = false;
      Matrix& da = t.grad_target(in, add);
      for (std::size_t r = 0; r < vr; ++r) {
        const double* g = n.attr[0] == 0 ? n.grad.data() + (offset + r) * cols
                                         : n.grad.data() + r * cols + offset;
        double* d = da.data() + r * vc;
        for (std::size_t c = 0; c < vc; ++c) d[c] = add ? d[c] + g[c] : g[c];
      }
    }
    offset += n.attr[0] == 0 ? vr : vc;
  }
}};

// d table[ids] = g's row i added to table row ids[i] (a repeated id gets every share); n.labels = ids
const OpDef gather_rows_op{"gather_rows", [](Tape& t, const Node& n) {
  if (!t.requires_grad(n.in[0])) return;
  bool add = false;
  Matrix& dt = t.grad_target(n.in[0], add);
  if (!add) dt.fill(0.0);
  const std::size_t cols = n.grad.shape(1);
  for (std::size_t i = 0; i < n.labels.size(); ++i) {
    const double* g = n.grad.data() + i * cols;
    double* d = dt.data() + static_cast<std::size_t>(n.labels[i]) * cols;
    for (std::size_t c = 0; c < cols; ++c) d[c] += g[c];
  }
}};

std::size_t check_axis(const char* op, int axis, const Matrix& a) {
  if (axis != 0 && axis != 1) {
    throw std::invalid_argument(std::string(op) + ": axis must be 0 (over rows) or 1 (over " +
                                "columns), got " + std::to_string(axis) + " for " + shape_str(a));
  }
  return static_cast<std::size_t>(axis);
}

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


// ---------------------------------------------------------------------------------------------------
// The ops for sequence models, in the order of their rules.

Var div(const Var& a, const Var& b) {
  return binary(div_op, a, b, [](double x, double y) { return x / y; });
}

Var sqrt(const Var& a) {
  return unary(sqrt_op, a, [](const Matrix& x) { return xt::sqrt(x); });
}

Var square(const Var& a) { return mul(a, a); }  // composed: mul's rule gives 2·a·g

Var log_softmax(const Var& a) {
  // A primitive rather than log(softmax(a)): that underflows to log(0) = −inf for logits far
  // below their row's max.
  const Matrix& z = a.value();
  if (z.shape(1) == 0) throw std::invalid_argument("log_softmax: no columns in " + shape_str(z));
  Tape& t = a.tape();
  Node& n = t.record(log_softmax_op, a);
  n.value.resize(z.shape());
  const std::size_t cols = z.shape(1);
  row_softmax(z, n.saved, [&](std::size_t r, double lse) {
    for (std::size_t c = 0; c < cols; ++c) n.value(r, c) = z(r, c) - lse;
  });
  return t.result(n);
}

Var sum(const Var& a, int axis) {
  const Matrix& x = a.value();
  const std::size_t ax = check_axis("sum", axis, x);
  Tape& t = a.tape();
  Node& n = t.record(sum_axis_op, a);
  n.attr[0] = ax;
  const std::size_t rows = x.shape(0), cols = x.shape(1);
  if (ax == 0) {
    n.value.resize({std::size_t{1}, cols});
    n.value.fill(0.0);
    for (std::size_t r = 0; r < rows; ++r) {
      for (std::size_t c = 0; c < cols; ++c) n.value(0, c) += x(r, c);
    }
  } else {
    n.value.resize({rows, std::size_t{1}});
    for (std::size_t r = 0; r < rows; ++r) {
      double s = 0.0;
      for (std::size_t c = 0; c < cols; ++c) s += x(r, c);
      n.value(r, 0) = s;
    }
  }
  return t.result(n);
}

Var mean(const Var& a, int axis) {
  // mean = sum / count along the axis: composed, no rule of its own.
  const std::size_t ax = check_axis("mean", axis, a.value());
  const std::size_t count = a.value().shape(ax);
  if (count == 0) throw std::invalid_argument("mean: nothing to average along axis " +
                                              std::to_string(axis) + " of " + shape_str(a.value()));
  return scale(sum(a, axis), 1.0 / static_cast<double>(count));
}

Var max(const Var& a, int axis) {
  const Matrix& x = a.value();
  const std::size_t ax = check_axis("max", axis, x);
  const std::size_t rows = x.shape(0), cols = x.shape(1);
  if (x.shape(ax) == 0) {
    throw std::invalid_argument("max: nothing to reduce along axis " + std::to_string(axis) +
                                " of " + shape_str(x));
  }
  Tape& t = a.tape();
  Node& n = t.record(max_op, a);
  n.attr[0] = ax;
  const std::size_t outer = ax == 0 ? cols : rows, inner = ax == 0 ? rows : cols;
  n.value.resize(ax == 0 ? std::array<std::size_t, 2>{1, cols} : std::array<std::size_t, 2>{rows, 1});
  n.labels.resize(outer);
  for (std::size_t k = 0; k < outer; ++k) {
    std::size_t best = 0;
    for (std::size_t i = 1; i < inner; ++i) {
      const double v = ax == 0 ? x(i, k) : x(k, i);
      if (v > (ax == 0 ? x(best, k) : x(k, best))) best = i;  // strict: the first of equals wins
    }
    n.labels[k] = static_cast<int>(best);
    n.value.flat(k) = ax == 0 ? x(best, k) : x(k, best);
  }
  return t.result(n);
}

Var transpose(const Var& a) {
  Tape& t = a.tape();
  Node& n = t.record(transpose_op, a);
  const Matrix& x = t.value(n.in[0]);
  n.value.resize({x.shape(1), x.shape(0)});
  xt::noalias(n.value) = xt::transpose(x);
  return t.result(n);
}

Var reshape(const Var& a, std::size_t rows, std::size_t cols) {
  const Matrix& x = a.value();
  if (rows * cols != x.size()) {
    throw std::invalid_argument("reshape: cannot view " + shape_str(x) + " (" +
                                std::to_string(x.size()) + " elements) as [" + std::to_string(rows) +
                                " x " + std::to_string(cols) + "]");
  }
  Tape& t = a.tape();
  Node& n = t.record(reshape_op, a);
  n.value.resize({rows, cols});
  std::copy(x.data(), x.data() + x.size(), n.value.data());
  return t.result(n);
}

Var slice(const Var& a, std::size_t row_begin, std::size_t row_end, std::size_t col_begin,
          std::size_t col_end) {
  const Matrix& x = a.value();
  if (row_begin > row_end || row_end > x.shape(0) || col_begin > col_end || col_end > x.shape(1)) {
    throw std::invalid_argument("slice: rows [" + std::to_string(row_begin) + ", " +
                                std::to_string(row_end) + ") and columns [" +
                                std::to_string(col_begin) + ", " + std::to_string(col_end) +
                                ") are not within " + shape_str(x));
  }
  Tape& t = a.tape();
  Node& n = t.record(slice_op, a);
  n.attr = {row_begin, row_end, col_begin, col_end};
  const std::size_t rows = row_end - row_begin, cols = col_end - col_begin;
  n.value.resize({rows, cols});
  for (std::size_t r = 0; r < rows; ++r) {
    const double* src = x.data() + (row_begin + r) * x.shape(1) + col_begin;
    std::copy(src, src + cols, n.value.data() + r * cols);
  }
  return t.result(n);
}

Var slice_rows(const Var& a, std::size_t row_begin, std::size_t row_end) {
  return slice(a, row_begin, row_end, 0, a.cols());
}

Var slice_cols(const Var& a, std::size_t col_begin, std::size_t col_end) {
  return slice(a, 0, a.rows(), col_begin, col_end);
}

namespace {
Var concat_parts(const Var* parts, std::size_t count, int axis) {
  if (count == 0) throw std::invalid_argument("concat: no inputs");
  const Matrix& first = parts[0].value();
  const std::size_t ax = check_axis("concat", axis, first);
  const std::size_t keep = 1 - ax;  // the dimension all parts share
  std::size_t total = 0;
  for (std::size_t k = 0; k < count; ++k) {
    const Matrix& v = parts[k].value();
    if (v.shape(keep) != first.shape(keep)) {
      throw std::invalid_argument("concat: along axis " + std::to_string(axis) + " input " +
                                  std::to_string(k) + " is " + shape_str(v) + ", input 0 is " +
                                  shape_str(first) + " (their " + (ax == 0 ? "column" : "row") +
                                  " counts must agree)");
    }
    total += v.shape(ax);
  }
  Tape& t = parts[0].tape();
  Node& n = t.record(concat_op, parts, count);
  n.attr[0] = ax;
  const std::size_t rows = ax == 0 ? total : first.shape(0), cols = ax == 0 ? first.shape(1) : total;
  n.value.resize({rows, cols});
  std::size_t offset = 0;
  for (std::uint32_t in : n.in) {
    const Matrix& v = t.value(in);
    const std::size_t vr = v.shape(0), vc = v.shape(1);
    for (std::size_t r = 0; r < vr; ++r) {
      double* out = ax == 0 ? n.value.data() + (offset + r) * cols : n.value.data() + r * cols + offset;
      std::copy(v.data() + r * vc, v.data() + (r + 1) * vc, out);
    }
    offset += ax == 0 ? vr : vc;
  }
  return t.result(n);
}
}  // namespace

Var concat(std::initializer_list<Var> parts, int axis) {
  return concat_parts(parts.begin(), parts.size(), axis);
}

Var concat(const std::vector<Var>& parts, int axis) {
  return concat_parts(parts.data(), parts.size(), axis);
}

Var gather_rows(const Var& table, const Labels& ids) {
  const Matrix& w = table.value();
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] < 0 || static_cast<std::size_t>(ids[i]) >= w.shape(0)) {
      throw std::invalid_argument("gather_rows: id " + std::to_string(ids[i]) + " at position " +
                                  std::to_string(i) + " is not a row of " + shape_str(w));
    }
  }
  Tape& t = table.tape();
  Node& n = t.record(gather_rows_op, table);
  n.labels.assign(ids.begin(), ids.end());
  const std::size_t cols = w.shape(1);
  n.value.resize({ids.size(), cols});
  const Matrix& src = t.value(n.in[0]);
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const double* row = src.data() + static_cast<std::size_t>(ids[i]) * cols;
    std::copy(row, row + cols, n.value.data() + i * cols);
  }
  return t.result(n);
}

Var sum(const std::vector<Var>& terms) {
  if (terms.empty()) throw std::invalid_argument("sum: no terms to add");
  Var total;
  for (const Var& v : terms) total = total + v;
  return total;
}

Labels argmax(const Var& a) {
  const Matrix& x = a.value();
  const std::size_t rows = x.shape(0), cols = x.shape(1);
  if (cols == 0) throw std::invalid_argument("argmax: no columns in " + shape_str(x));
  Labels out(rows);
  for (std::size_t r = 0; r < rows; ++r) {
    const double* row = x.data() + r * cols;
    out[r] = static_cast<int>(std::max_element(row, row + cols) - row);  // the first of equals
  }
  return out;
}

// Scalar arithmetic, composed: the number is a 1 x 1 constant that broadcasts.
Var add(const Var& a, double c) { return add(a, a.tape().constant(c)); }
Var rsub(double c, const Var& a) { return add(scale(a, -1.0), a.tape().constant(c)); }
Var operator/(double c, const Var& a) { return div(a.tape().constant(c), a); }

Var operator+(const Var& a, const Var& b) {
  if (a.empty()) return b;  // an empty Var starts a running sum
  if (b.empty()) return a;
  return add(a, b);
}

}  // namespace autograd
