// The derivatives table. Each op: its OpDef (name + backward rule), then its forward.
// In the rules: g = n.grad is d loss / d result, out = n.value is the result, and t.value(n.in[k])
// is input k. Rules add into their inputs' gradients (+=), so a value used twice gets both shares.
// Matrix products live in products.cpp; softmax along any dim and masks in softmax_ops.cpp.
#include "autograd/ops.hpp"

#include <algorithm>
#include <cmath>

#include <xtensor/xadapt.hpp>
#include <xtensor/xmath.hpp>
#include <xtensor/xoperation.hpp>

#include "autograd/op_support.hpp"
#include "autograd/kernels.hpp"
#include "autograd/parallel.hpp"

namespace autograd {

// Arrays above parallel_threshold elements are cut into fixed blocks (parallel.hpp) that the
// engine's threads share; the blocks depend only on the shape, so results do not depend on the
// thread count.
using namespace detail;  // op_support.hpp: the helpers the op files share

namespace {

// d(a + b) = (g, g), each summed over what was broadcast
const OpDef add_op{"add", [](auto& t, const auto& n) {
  if (strided(t, n)) {
    const auto* g = n.grad.data();
    for (std::size_t k = 0; k < 2; ++k) accumulate_broadcast(t, n, k, [&](std::size_t o, std::size_t, std::size_t) { return g[o]; });
    return;
  }
  t.accumulate_sum_to(n.in[0], n.grad);
  t.accumulate_sum_to(n.in[1], n.grad);
}};

// d(a ∘ b) = (g ∘ b, g ∘ a), each summed over what was broadcast
const OpDef mul_op{"mul", [](auto& t, const auto& n) {
  const auto* g = n.grad.data();
  if (strided(t, n)) {
    const auto *x = t.value(n.in[0]).data(), *y = t.value(n.in[1]).data();
    accumulate_broadcast(t, n, 0, [&](std::size_t o, std::size_t, std::size_t b) { return g[o] * y[b]; });
    accumulate_broadcast(t, n, 1, [&](std::size_t o, std::size_t a, std::size_t) { return g[o] * x[a]; });
    return;
  }
  for (int k = 0; k < 2; ++k) {
    const auto& other = t.value(n.in[1 - k]);
    if (t.value(n.in[k]).shape() == n.grad.shape() && other.shape() == n.grad.shape()) {
      const auto* o = other.data();
      accumulate_each(t, n.in[k], [&](std::size_t i) { return g[i] * o[i]; });
    } else {
      t.accumulate_sum_to(n.in[k], n.grad * other);
    }
  }
}};

// d(c·a) = c·g
const OpDef scale_op{"scale", [](auto& t, const auto& n) {
  const auto* g = n.grad.data();
  const auto c = n.scalar;
  accumulate_each(t, n.in[0], [&](std::size_t i) { return c * g[i]; });
}};

// d Σa = g in every element
const OpDef sum_op{"sum", [](auto& t, const auto& n) {
  const auto g = n.grad(0, 0);
  accumulate_each(t, n.in[0], [&](std::size_t) { return g; });
}};

// d tanh(a) = (1 − out²) · g
const OpDef tanh_op{"tanh", [](auto& t, const auto& n) {
  const auto *g = n.grad.data(), *out = n.value.data();
  accumulate_each(t, n.in[0], [&](std::size_t i) { return (1 - out[i] * out[i]) * g[i]; });
}};

// d σ(a) = out · (1 − out) · g
const OpDef sigmoid_op{"sigmoid", [](auto& t, const auto& n) {
  const auto *g = n.grad.data(), *out = n.value.data();
  accumulate_each(t, n.in[0], [&](std::size_t i) { return out[i] * (1 - out[i]) * g[i]; });
}};

// d relu(a) = [out > 0] · g
const OpDef relu_op{"relu", [](auto& t, const auto& n) {
  const auto *g = n.grad.data(), *out = n.value.data();
  accumulate_each(t, n.in[0], [&](std::size_t i) { return out[i] > 0 ? g[i] : 0; });
}};

// d exp(a) = out · g
const OpDef exp_op{"exp", [](auto& t, const auto& n) {
  const auto *g = n.grad.data(), *out = n.value.data();
  accumulate_each(t, n.in[0], [&](std::size_t i) { return out[i] * g[i]; });
}};

// d log(a) = g / a
const OpDef log_op{"log", [](auto& t, const auto& n) {
  const auto *g = n.grad.data(), *a = t.value(n.in[0]).data();
  accumulate_each(t, n.in[0], [&](std::size_t i) { return g[i] / a[i]; });
}};

// d softmax(a) = out ∘ (g − rowsum(g ∘ out))
const OpDef softmax_op{"softmax", [](auto& t, const auto& n) {
  using T = typename std::decay_t<decltype(n)>::value_type;
  if (!t.requires_grad(n.in[0])) return;
  bool add = false;
  BasicMatrix<T>& da = t.grad_target(n.in[0], add);
  const std::size_t rows = n.value.shape(0), cols = n.value.shape(1);
  for_rows(rows, cols, [&](std::size_t, std::size_t r0, std::size_t r1) {
    for (std::size_t r = r0; r < r1; ++r) {
      T dot = 0.0;
      for (std::size_t c = 0; c < cols; ++c) dot += n.grad(r, c) * n.value(r, c);
      for (std::size_t c = 0; c < cols; ++c) {
        const T d = n.value(r, c) * (n.grad(r, c) - dot);
        da(r, c) = add ? da(r, c) + d : d;
      }
    }
  });
}};

// d CE / d logits = (softmax(logits) − onehot(labels)) · g · s, with s = 1 (sum) or 1/N (mean)
// of the kept rows; Reduction::none: row r's share is g[r]. An ignored row (label −1 in n.labels)
// gets 0. n.saved holds softmax(logits), n.scalar holds s, n.attr[0] the Reduction.
const OpDef softmax_cross_entropy_op{"softmax_cross_entropy", [](auto& t, const auto& n) {
  using T = typename std::decay_t<decltype(n)>::value_type;
  if (!t.requires_grad(n.in[0])) return;
  bool add = false;
  BasicMatrix<T>& dz = t.grad_target(n.in[0], add);
  const bool per_row = n.attr[0] == static_cast<std::size_t>(Reduction::none);
  const T gs = per_row ? T(0) : n.grad(0, 0) * n.scalar;
  const std::size_t rows = n.saved.shape(0), cols = n.saved.shape(1);
  for_rows(rows, cols, [&](std::size_t, std::size_t r0, std::size_t r1) {
    for (std::size_t r = r0; r < r1; ++r) {
      const int kept = n.labels[r];
      const auto label = static_cast<std::size_t>(kept);
      const T share = kept < 0 ? T(0) : per_row ? n.grad.data()[r] : gs;
      const T* p = n.saved.data() + r * cols;
      T* d = dz.data() + r * cols;
      for (std::size_t c = 0; c < cols; ++c) {
        const T v = kept < 0 ? T(0) : (p[c] - (c == label ? T(1) : T(0))) * share;
        d[c] = add ? d[c] + v : v;
      }
    }
  });
}};

// d ½Σw² = w · g
const OpDef l2_penalty_op{"l2_penalty", [](auto& t, const auto& n) {
  const auto g = n.grad(0, 0);
  const auto* w = t.value(n.in[0]).data();
  accumulate_each(t, n.in[0], [&](std::size_t i) { return g * w[i]; });
}};

// d(a / b) = (g / b, −g · out / b), each summed over what was broadcast
const OpDef div_op{"div", [](auto& t, const auto& n) {
  using T = typename std::decay_t<decltype(n)>::value_type;
  const BasicMatrix<T>& b = t.value(n.in[1]);
  if (strided(t, n)) {
    const T *g = n.grad.data(), *y = b.data(), *out = n.value.data();
    accumulate_broadcast(t, n, 0, [&](std::size_t o, std::size_t, std::size_t j) { return g[o] / y[j]; });
    accumulate_broadcast(t, n, 1, [&](std::size_t o, std::size_t, std::size_t j) { return -g[o] * out[o] / y[j]; });
    return;
  }
  if (b.shape() == n.grad.shape() && t.value(n.in[0]).shape() == n.grad.shape()) {
    const T *g = n.grad.data(), *bp = b.data(), *out = n.value.data();
    accumulate_each(t, n.in[0], [&](std::size_t i) { return g[i] / bp[i]; });
    accumulate_each(t, n.in[1], [&](std::size_t i) { return -g[i] * out[i] / bp[i]; });
    return;
  }
  t.accumulate_sum_to(n.in[0], n.grad / b);
  t.accumulate_sum_to(n.in[1], -n.grad * n.value / b);
}};

// d √a = g / (2 · out)
const OpDef sqrt_op{"sqrt", [](auto& t, const auto& n) {
  const auto *g = n.grad.data(), *out = n.value.data();
  accumulate_each(t, n.in[0], [&](std::size_t i) { return g[i] / (2 * out[i]); });
}};

// d log_softmax(a) = g − softmax(a) · rowsum(g); n.saved holds softmax(a)
const OpDef log_softmax_op{"log_softmax", [](auto& t, const auto& n) {
  using T = typename std::decay_t<decltype(n)>::value_type;
  if (!t.requires_grad(n.in[0])) return;
  bool add = false;
  BasicMatrix<T>& da = t.grad_target(n.in[0], add);
  const std::size_t rows = n.value.shape(0), cols = n.value.shape(1);
  for_rows(rows, cols, [&](std::size_t, std::size_t r0, std::size_t r1) {
    for (std::size_t r = r0; r < r1; ++r) {
      const T* g = n.grad.data() + r * cols;
      const T* p = n.saved.data() + r * cols;
      T* d = da.data() + r * cols;
      T total = 0.0;
      for (std::size_t c = 0; c < cols; ++c) total += g[c];
      for (std::size_t c = 0; c < cols; ++c) d[c] = (add ? d[c] : T(0)) + g[c] - p[c] * total;
    }
  });
}};

// d Σ_axis a = g broadcast back along the axis
const OpDef sum_axis_op{"sum_axis", [](auto& t, const auto& n) {
  const std::size_t cols = t.value(n.in[0]).shape(1);
  const auto* g = n.grad.data();
  if (n.attr[0] == 0) {
    accumulate_each(t, n.in[0], [&](std::size_t i) { return g[i % cols]; });
  } else {
    accumulate_each(t, n.in[0], [&](std::size_t i) { return g[i / cols]; });
  }
}};

// d max_axis(a) = g at each arg-max (n.labels), 0 elsewhere; n.attr[0] is the axis
const OpDef max_op{"max", [](auto& t, const auto& n) {
  using T = typename std::decay_t<decltype(n)>::value_type;
  if (!t.requires_grad(n.in[0])) return;
  bool add = false;
  BasicMatrix<T>& da = t.grad_target(n.in[0], add);
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
const OpDef transpose_op{"transpose", [](auto& t, const auto& n) {
  t.accumulate(n.in[0], xt::transpose(n.grad));
}};

// d a[r0:r1, c0:c1] = g placed in the block, 0 elsewhere; n.attr = {r0, r1, c0, c1}
const OpDef slice_op{"slice", [](auto& t, const auto& n) {
  using T = typename std::decay_t<decltype(n)>::value_type;
  if (!t.requires_grad(n.in[0])) return;
  bool add = false;
  BasicMatrix<T>& da = t.grad_target(n.in[0], add);
  if (!add) da.fill(0.0);
  const std::size_t r0 = n.attr[0], c0 = n.attr[2], rows = n.grad.shape(0), cols = n.grad.shape(1);
  for (std::size_t r = 0; r < rows; ++r) {
    const T* g = n.grad.data() + r * cols;
    T* d = da.data() + (r0 + r) * da.shape(1) + c0;
    for (std::size_t c = 0; c < cols; ++c) d[c] += g[c];
  }
}};

// d table[ids] = g's row i added to table row ids[i] (a repeated id gets every share); n.labels = ids
const OpDef gather_rows_op{"gather_rows", [](auto& t, const auto& n) {
  using T = typename std::decay_t<decltype(n)>::value_type;
  if (!t.requires_grad(n.in[0])) return;
  bool add = false;
  BasicMatrix<T>& dt = t.grad_target(n.in[0], add);
  if (!add) dt.fill(0.0);
  const std::size_t cols = n.grad.shape(1);
  for (std::size_t i = 0; i < n.labels.size(); ++i) {
    const T* g = n.grad.data() + i * cols;
    T* d = dt.data() + static_cast<std::size_t>(n.labels[i]) * cols;
    for (std::size_t c = 0; c < cols; ++c) d[c] += g[c];
  }
}};

}  // namespace

// ---------------------------------------------------------------------------------------------------
// Forwards, in the order of the rules above.

template <class T>
BasicVar<T> add(const BasicVar<T>& a, const BasicVar<T>& b) {
  return binary(add_op, a, b, [](T x, T y) { return x + y; });
}

template <class T>
BasicVar<T> sub(const BasicVar<T>& a, const BasicVar<T>& b) {
  // a − b = a + (−1)·b: composed, no rule of its own. Checked first so that the error names sub.
  if (a.dim() == 2 && b.dim() == 2) {
    broadcast_shape("sub", a.value(), b.value());
  } else {
    broadcast_of("sub", a, b);
  }
  (void)a.tape().node(b);  // b on a's tape (std::logic_error otherwise) before scale records it
  return add(a, scale(b, -1.0));
}

template <class T>
BasicVar<T> mul(const BasicVar<T>& a, const BasicVar<T>& b) {
  return binary(mul_op, a, b, [](T x, T y) { return x * y; });
}

template <class T>
BasicVar<T> scale(const BasicVar<T>& a, double c) {
  const T k = static_cast<T>(c);
  return unary(scale_op, a, [k](const auto& x) { return k * x; }, k);
}

template <class T>
BasicVar<T> sum(const BasicVar<T>& a) {
  BasicTape<T>& t = a.tape();
  BasicNode<T>& n = t.record(sum_op, a);
  const T* x = t.value(n.in[0]).data();
  const double s = detail::sum_ranges(t.value(n.in[0]).size(), [&](std::size_t begin, std::size_t end) {
    double part = 0.0;  // float32 sums too are accumulated in double
    for (std::size_t i = begin; i < end; ++i) part += x[i];
    return part;
  });
  return scalar_result(t, n, static_cast<T>(s));
}

template <class T>
BasicVar<T> mean(const BasicVar<T>& a) {
  // mean = sum / count: composed, no rule of its own.
  const std::size_t count = a.value().size();
  if (count == 0) throw std::invalid_argument("mean: empty input " + shape_str(a.value()));
  return scale(sum(a), 1.0 / static_cast<double>(count));
}

template <class T>
BasicVar<T> tanh(const BasicVar<T>& a) { return unary_kernel(tanh_op, a, kernels::tanh); }

template <class T>
BasicVar<T> sigmoid(const BasicVar<T>& a) {
  // 1 / (1 + exp(−x)) with the engine's exp kernel, defined for every input (xsimd's exp converts
  // x·log2(e) to an integer, undefined for NaN, ±inf and |x| > 6e18). exp(−x) overflows to inf
  // for x < −709, and 1 / inf = 0 is the right limit.
  BasicTape<T>& t = a.tape();
  BasicNode<T>& n = t.record(sigmoid_op, a);
  const BasicMatrix<T>& x = t.value(n.in[0]);
  t.shape_like(n, n.in[0]);
  for_ranges(x.size(), [&](std::size_t begin, std::size_t end) {
    T* out = n.value.data();
    for (std::size_t i = begin; i < end; ++i) out[i] = -x.data()[i];
    kernels::exp(out + begin, out + begin, end - begin);
    for (std::size_t i = begin; i < end; ++i) out[i] = T(1) / (T(1) + out[i]);
  });
  return t.result(n);
}

template <class T>
BasicVar<T> relu(const BasicVar<T>& a) {
  return unary(relu_op, a, [](const auto& x) { return xt::maximum(x, T(0)); });
}

template <class T>
BasicVar<T> exp(const BasicVar<T>& a) { return unary_kernel(exp_op, a, kernels::exp); }

template <class T>
BasicVar<T> log(const BasicVar<T>& a) {
  return unary(log_op, a, [](const auto& x) { return xt::log(x); });
}

template <class T>
BasicVar<T> softmax(const BasicVar<T>& a) {
  const BasicMatrix<T>& z = a.value();
  if (z.shape(1) == 0) throw std::invalid_argument("softmax: no columns in " + shape_str(z));
  require_unmasked_rows("softmax", a);
  BasicTape<T>& t = a.tape();
  BasicNode<T>& n = t.record(softmax_op, a);
  t.shape_like(n, n.in[0]);  // over the last axis, whatever the rank
  row_softmax(z, n.value, [](std::size_t, std::size_t, T) {});
  return t.result(n);
}

template <class T>
BasicVar<T> softmax_cross_entropy(const BasicVar<T>& logits, const Labels& labels, Reduction reduction,
                                  int ignore_index) {
  // Logits of any rank are their storage's rows: [..., C] is [(…) x C], a label per row.
  const BasicMatrix<T>& z = logits.value();
  const std::size_t rows = z.shape(0), classes = z.shape(1);
  const auto shape = [&] { return logits.dim() == 2 ? shape_str(z) : shape_str(logits.shape()); };
  if (labels.size() != rows) {
    throw std::invalid_argument("softmax_cross_entropy: " + std::to_string(labels.size()) +
                                " labels for logits " + shape() +
                                (logits.dim() == 2 ? std::string()
                                                   : " (one per position: " + std::to_string(rows) + ")"));
  }
  if (rows == 0 || classes == 0) {
    throw std::invalid_argument("softmax_cross_entropy: empty logits " + shape());
  }
  const auto ignored = [&](std::size_t r) {
    return ignore_index != no_ignore_index && labels[r] == ignore_index;
  };
  std::size_t kept = 0;
  for (std::size_t r = 0; r < rows; ++r) {
    if (ignored(r)) continue;
    if (labels[r] < 0 || static_cast<std::size_t>(labels[r]) >= classes) {
      throw std::invalid_argument("softmax_cross_entropy: label " + std::to_string(labels[r]) +
                                  " at row " + std::to_string(r) + " is outside 0.." +
                                  std::to_string(classes - 1));
    }
    if (fully_masked(z.data() + r * classes, classes, 1)) {
      masked_row_error("softmax_cross_entropy", r, logits.shape());
    }
    ++kept;
  }
  BasicTape<T>& t = logits.tape();
  BasicNode<T>& n = t.record(softmax_cross_entropy_op, logits);
  n.labels.assign(labels.begin(), labels.end());
  if (kept < rows) {
    for (std::size_t r = 0; r < rows; ++r) n.labels[r] = ignored(r) ? -1 : labels[r];
  }
  n.attr[0] = static_cast<std::size_t>(reduction);
  if (reduction == Reduction::none) {
    // loss_r = log Σ_c exp(z_rc) − z_r,label for each position, 0 where ignored: logits.shape[:-1]
    const Shape& s = t.shape(n.in[0]);
    n.shape.assign(s.begin(), s.empty() ? s.end() : s.end() - 1);
    t.shape_value(n);
    T* out = n.value.data();
    row_softmax(z, n.saved, [&](std::size_t, std::size_t r, T lse) {
      out[r] = n.labels[r] < 0 ? T(0) : lse - z(r, static_cast<std::size_t>(n.labels[r]));
    });
    return t.result(n);
  }
  // Mean over the kept rows; with every row ignored the loss (and its gradient) is 0.
  n.scalar = reduction != Reduction::mean ? T(1) : kept == 0 ? T(0) : T(1) / static_cast<T>(kept);
  // loss_r = log Σ_c exp(z_rc) − z_r,label, summed per row block, the blocks' sums in order
  const std::size_t blocks = detail::row_blocks(rows, classes);
  double* partial = detail::scratch<double>(blocks);
  std::fill(partial, partial + blocks, 0.0);
  row_softmax(z, n.saved, [&](std::size_t b, std::size_t r, T lse) {
    if (n.labels[r] >= 0) partial[b] += lse - z(r, static_cast<std::size_t>(n.labels[r]));
  });
  double total = 0.0;
  for (std::size_t b = 0; b < blocks; ++b) total += partial[b];
  return scalar_result(t, n, static_cast<T>(total * n.scalar));
}

template <class T>
BasicVar<T> l2_penalty(const BasicVar<T>& w) {
  BasicTape<T>& t = w.tape();
  BasicNode<T>& n = t.record(l2_penalty_op, w);
  const T* x = t.value(n.in[0]).data();
  const double s = detail::sum_ranges(t.value(n.in[0]).size(), [&](std::size_t begin, std::size_t end) {
    double part = 0.0;  // float32 sums too are accumulated in double
    for (std::size_t i = begin; i < end; ++i) part += static_cast<double>(x[i]) * x[i];
    return part;
  });
  return scalar_result(t, n, static_cast<T>(0.5 * s));
}


// ---------------------------------------------------------------------------------------------------
// The ops for sequence models, in the order of their rules.

template <class T>
BasicVar<T> div(const BasicVar<T>& a, const BasicVar<T>& b) {
  return binary(div_op, a, b, [](T x, T y) { return x / y; });
}

template <class T>
BasicVar<T> sqrt(const BasicVar<T>& a) {
  return unary(sqrt_op, a, [](const auto& x) { return xt::sqrt(x); });
}

template <class T>
BasicVar<T> square(const BasicVar<T>& a) { return mul(a, a); }  // composed: mul's rule gives 2·a·g

template <class T>
BasicVar<T> log_softmax(const BasicVar<T>& a) {
  // A primitive rather than log(softmax(a)): that underflows to log(0) = −inf for logits far
  // below their row's max.
  const BasicMatrix<T>& z = a.value();
  if (z.shape(1) == 0) throw std::invalid_argument("log_softmax: no columns in " + shape_str(z));
  require_unmasked_rows("log_softmax", a);
  BasicTape<T>& t = a.tape();
  BasicNode<T>& n = t.record(log_softmax_op, a);
  t.shape_like(n, n.in[0]);  // over the last axis, whatever the rank
  const std::size_t cols = z.shape(1);
  row_softmax(z, n.saved, [&](std::size_t, std::size_t r, T lse) {
    for (std::size_t c = 0; c < cols; ++c) n.value(r, c) = z(r, c) - lse;
  });
  return t.result(n);
}

template <class T>
BasicVar<T> sum(const BasicVar<T>& a, int axis) {
  require_matrix("sum", a, "sum(a, dims, keepdim)");
  const BasicMatrix<T>& x = a.value();
  const std::size_t ax = check_axis("sum", axis, x);
  const std::size_t rows = x.shape(0), cols = x.shape(1);
  checked_size<T>("sum", ax == 0 ? 1 : rows, ax == 0 ? cols : 1);  // an empty [rows x 0] has any rows
  BasicTape<T>& t = a.tape();
  BasicNode<T>& n = t.record(sum_axis_op, a);
  n.attr[0] = ax;
  if (ax == 0) {
    n.value.resize({std::size_t{1}, cols});
    n.value.fill(0.0);
    detail::add_column_sums(x.data(), rows, cols, n.value.data());
  } else {
    n.value.resize({rows, std::size_t{1}});
    for_rows(rows, cols, [&](std::size_t, std::size_t r0, std::size_t r1) {
      for (std::size_t r = r0; r < r1; ++r) {
        T s = 0.0;
        for (std::size_t c = 0; c < cols; ++c) s += x(r, c);
        n.value(r, 0) = s;
      }
    });
  }
  return t.result(n);
}

template <class T>
BasicVar<T> mean(const BasicVar<T>& a, int axis) {
  require_matrix("mean", a, "mean(a, dims, keepdim)");
  // mean = sum / count along the axis: composed, no rule of its own.
  const std::size_t ax = check_axis("mean", axis, a.value());
  const std::size_t count = a.value().shape(ax);
  if (count == 0) throw std::invalid_argument("mean: nothing to average along axis " +
                                              std::to_string(axis) + " of " + shape_str(a.value()));
  return scale(sum(a, axis), 1.0 / static_cast<double>(count));
}

template <class T>
BasicVar<T> max(const BasicVar<T>& a, int axis) {
  require_matrix("max", a, "a reshape to a matrix first");
  const BasicMatrix<T>& x = a.value();
  const std::size_t ax = check_axis("max", axis, x);
  const std::size_t rows = x.shape(0), cols = x.shape(1);
  if (x.shape(ax) == 0) {
    throw std::invalid_argument("max: nothing to reduce along axis " + std::to_string(axis) +
                                " of " + shape_str(x));
  }
  BasicTape<T>& t = a.tape();
  BasicNode<T>& n = t.record(max_op, a);
  n.attr[0] = ax;
  const std::size_t outer = ax == 0 ? cols : rows, inner = ax == 0 ? rows : cols;
  n.value.resize(ax == 0 ? std::array<std::size_t, 2>{1, cols} : std::array<std::size_t, 2>{rows, 1});
  n.labels.resize(outer);
  for (std::size_t k = 0; k < outer; ++k) {
    std::size_t best = 0;
    for (std::size_t i = 1; i < inner; ++i) {
      const T v = ax == 0 ? x(i, k) : x(k, i);
      if (v > (ax == 0 ? x(best, k) : x(k, best))) best = i;  // strict: the first of equals wins
    }
    n.labels[k] = static_cast<int>(best);
    n.value.flat(k) = ax == 0 ? x(best, k) : x(k, best);
  }
  return t.result(n);
}

template <class T>
BasicVar<T> transpose(const BasicVar<T>& a) {
  require_matrix("transpose", a, "transpose(a, dim0, dim1) or permute(a, dims)");
  BasicTape<T>& t = a.tape();
  BasicNode<T>& n = t.record(transpose_op, a);
  const BasicMatrix<T>& x = t.value(n.in[0]);
  n.value.resize({x.shape(1), x.shape(0)});
  xt::noalias(n.value) = xt::transpose(x);
  return t.result(n);
}

template <class T>
BasicVar<T> slice(const BasicVar<T>& a, std::size_t row_begin, std::size_t row_end, std::size_t col_begin,
          std::size_t col_end) {
  require_matrix("slice", a, "slice(a, dim, begin, end)");
  const BasicMatrix<T>& x = a.value();
  if (row_begin > row_end || row_end > x.shape(0) || col_begin > col_end || col_end > x.shape(1)) {
    throw std::invalid_argument("slice: rows [" + std::to_string(row_begin) + ", " +
                                std::to_string(row_end) + ") and columns [" +
                                std::to_string(col_begin) + ", " + std::to_string(col_end) +
                                ") are not within " + shape_str(x));
  }
  BasicTape<T>& t = a.tape();
  BasicNode<T>& n = t.record(slice_op, a);
  n.attr = {row_begin, row_end, col_begin, col_end};
  const std::size_t rows = row_end - row_begin, cols = col_end - col_begin;
  n.value.resize({rows, cols});
  for (std::size_t r = 0; cols > 0 && r < rows; ++r) {
    const T* src = x.data() + (row_begin + r) * x.shape(1) + col_begin;
    std::copy(src, src + cols, n.value.data() + r * cols);
  }
  return t.result(n);
}

template <class T>
BasicVar<T> slice_rows(const BasicVar<T>& a, std::size_t row_begin, std::size_t row_end) {
  return slice(a, row_begin, row_end, 0, a.cols());
}

template <class T>
BasicVar<T> slice_cols(const BasicVar<T>& a, std::size_t col_begin, std::size_t col_end) {
  return slice(a, 0, a.rows(), col_begin, col_end);
}

template <class T>
BasicVar<T> gather_rows(const BasicVar<T>& table, const Labels& ids) {
  require_matrix("gather_rows", table, "index_select(a, 0, ids)");
  const BasicMatrix<T>& w = table.value();
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] < 0 || static_cast<std::size_t>(ids[i]) >= w.shape(0)) {
      throw std::invalid_argument("gather_rows: id " + std::to_string(ids[i]) + " at position " +
                                  std::to_string(i) + " is not a row of " + shape_str(w));
    }
  }
  checked_size<T>("gather_rows", ids.size(), w.shape(1));
  BasicTape<T>& t = table.tape();
  BasicNode<T>& n = t.record(gather_rows_op, table);
  n.labels.assign(ids.begin(), ids.end());
  const std::size_t cols = w.shape(1);
  n.value.resize({ids.size(), cols});
  const BasicMatrix<T>& src = t.value(n.in[0]);
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const T* row = src.data() + static_cast<std::size_t>(ids[i]) * cols;
    std::copy(row, row + cols, n.value.data() + i * cols);
  }
  return t.result(n);
}

template <class T>
BasicVar<T> sum(const std::vector<BasicVar<T>>& terms) {
  if (terms.empty()) throw std::invalid_argument("sum: no terms to add");
  BasicVar<T> total;
  for (const BasicVar<T>& v : terms) total = total + v;
  return total;
}

template <class T>
Labels argmax(const BasicVar<T>& a) {
  const BasicMatrix<T>& x = a.value();
  const std::size_t rows = x.shape(0), cols = x.shape(1);
  if (cols == 0) throw std::invalid_argument("argmax: no columns in " + shape_str(x));
  Labels out(rows);
  for (std::size_t r = 0; r < rows; ++r) {
    const T* row = x.data() + r * cols;
    out[r] = static_cast<int>(std::max_element(row, row + cols) - row);  // the first of equals
  }
  return out;
}

// Scalar arithmetic, composed: the number is a 1 x 1 constant that broadcasts.
template <class T>
BasicVar<T> add(const BasicVar<T>& a, double c) { return add(a, a.tape().constant(static_cast<T>(c))); }
template <class T>
BasicVar<T> rsub(double c, const BasicVar<T>& a) {
  return add(scale(a, -1.0), a.tape().constant(static_cast<T>(c)));
}
template <class T>
BasicVar<T> operator/(double c, const BasicVar<T>& a) {
  return div(a.tape().constant(static_cast<T>(c)), a);
}

template <class T>
BasicVar<T> operator+(const BasicVar<T>& a, const BasicVar<T>& b) {
  if (a.empty()) return b;  // an empty Var starts a running sum
  if (b.empty()) return a;
  return add(a, b);
}

// Every op for both precisions.
#define AUTOGRAD_INSTANTIATE_OPS(T)                                                               \
  template BasicVar<T> add(const BasicVar<T>&, const BasicVar<T>&);                               \
  template BasicVar<T> sub(const BasicVar<T>&, const BasicVar<T>&);                               \
  template BasicVar<T> mul(const BasicVar<T>&, const BasicVar<T>&);                               \
  template BasicVar<T> div(const BasicVar<T>&, const BasicVar<T>&);                               \
  template BasicVar<T> scale(const BasicVar<T>&, double);                                         \
  template BasicVar<T> sum(const BasicVar<T>&);                                                   \
  template BasicVar<T> mean(const BasicVar<T>&);                                                  \
  template BasicVar<T> sum(const std::vector<BasicVar<T>>&);                                      \
  template BasicVar<T> sum(const BasicVar<T>&, int);                                              \
  template BasicVar<T> mean(const BasicVar<T>&, int);                                             \
  template BasicVar<T> max(const BasicVar<T>&, int);                                              \
  template BasicVar<T> tanh(const BasicVar<T>&);                                                  \
  template BasicVar<T> sigmoid(const BasicVar<T>&);                                               \
  template BasicVar<T> relu(const BasicVar<T>&);                                                  \
  template BasicVar<T> exp(const BasicVar<T>&);                                                   \
  template BasicVar<T> log(const BasicVar<T>&);                                                   \
  template BasicVar<T> sqrt(const BasicVar<T>&);                                                  \
  template BasicVar<T> square(const BasicVar<T>&);                                                \
  template BasicVar<T> softmax(const BasicVar<T>&);                                               \
  template BasicVar<T> log_softmax(const BasicVar<T>&);                                           \
  template BasicVar<T> transpose(const BasicVar<T>&);                                             \
  template BasicVar<T> slice(const BasicVar<T>&, std::size_t, std::size_t, std::size_t, std::size_t); \
  template BasicVar<T> slice_rows(const BasicVar<T>&, std::size_t, std::size_t);                  \
  template BasicVar<T> slice_cols(const BasicVar<T>&, std::size_t, std::size_t);                  \
  template BasicVar<T> gather_rows(const BasicVar<T>&, const Labels&);                            \
  template BasicVar<T> softmax_cross_entropy(const BasicVar<T>&, const Labels&, Reduction, int);  \
  template BasicVar<T> l2_penalty(const BasicVar<T>&);                                            \
  template Labels argmax(const BasicVar<T>&);                                                     \
  template BasicVar<T> add(const BasicVar<T>&, double);                                           \
  template BasicVar<T> rsub(double, const BasicVar<T>&);                                          \
  template BasicVar<T> operator/(double, const BasicVar<T>&);                                     \
  template BasicVar<T> operator+(const BasicVar<T>&, const BasicVar<T>&);

AUTOGRAD_INSTANTIATE_OPS(double)
AUTOGRAD_INSTANTIATE_OPS(float)
#undef AUTOGRAD_INSTANTIATE_OPS

}  // namespace autograd
