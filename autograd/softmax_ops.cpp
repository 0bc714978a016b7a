// Softmaxes, the fused softmax cross-entropy and masks, for values of any rank: each op one block,
// its derivative, its OpDef (name + backward rule), then its forward. In the rules: g = n.grad is
// d loss / d result, out = n.value is the result, and t.value(n.in[k]) is input k, stored as the
// matrix of its last axis. Over the last axis, the rows of that matrix are the slices; another
// axis is walked along its stride: a value of shape [outer..., len, inner...] is `outer` blocks of
// [len x inner], each column of a block one slice.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <stdexcept>
#include <string>

#include "autograd/kernels.hpp"
#include "autograd/op_support.hpp"
#include "autograd/ops.hpp"
#include "autograd/parallel.hpp"

namespace autograd {

using namespace detail;  // op_support.hpp: the helpers the op files share

namespace {

// dim as an index into shape s (−1 the last); a scalar takes 0 and −1, as in PyTorch.
std::size_t dim_index(const char* op, int dim, const Shape& s) {
  const int rank = s.empty() ? 1 : static_cast<int>(s.size());
  if (dim < -rank || dim >= rank) {
    throw std::invalid_argument(std::string(op) + ": dim " + std::to_string(dim) +
                                " is out of range for " + shape_str(s) + " (expected " +
                                std::to_string(-rank) + ".." + std::to_string(rank - 1) + ")");
  }
  return static_cast<std::size_t>(dim < 0 ? dim + rank : dim);
}

// The [outer, len, inner] view of a shape around dim d, in n.attr[0..2] for the rules.
struct Along {
  std::size_t outer = 1, len = 1, inner = 1;
};
Along along(const Shape& s, std::size_t d) {
  Along v;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (i < d) v.outer *= s[i];
    if (i == d) v.len = s[i];
    if (i > d) v.inner *= s[i];
  }
  return v;
}

// The checks of a softmax along dim d other than the last, before anything is recorded: dim d is
// not empty and no slice along it is entirely −inf (slice o·inner + i for block o, column i).
template <class T>
Along check_along(const char* op, const BasicVar<T>& a, std::size_t d) {
  const Along v = along(a.shape(), d);
  if (v.len == 0) {
    throw std::invalid_argument(std::string(op) + ": dim " + std::to_string(d) + " of " +
                                shape_str(a.shape()) + " is empty");
  }
  const T* z = a.value().data();
  for (std::size_t o = 0; o < v.outer; ++o) {
    for (std::size_t i = 0; i < v.inner; ++i) {
      if (fully_masked(z + o * v.len * v.inner + i, v.len, v.inner)) {
        masked_row_error(op, o * v.inner + i, a.shape(), " along dim " + std::to_string(d));
      }
    }
  }
  return v;
}

// p = softmax of z along the middle axis of [outer, len, inner], stable (each slice's max is
// subtracted before exp); log_out, when given, gets z − log Σ exp z (log softmax).
template <class T>
void softmax_along(const T* z, T* p, T* log_out, const Along& v) {
  T* m = scratch<T>(2 * v.inner);  // per column of a block: its max, then its Σ exp
  T* s = m + v.inner;
  const std::size_t block = v.len * v.inner;
  for (std::size_t o = 0; o < v.outer; ++o) {
    const T* zo = z + o * block;
    T* po = p + o * block;
    std::copy(zo, zo + v.inner, m);
    for (std::size_t j = 1; j < v.len; ++j) {
      for (std::size_t i = 0; i < v.inner; ++i) m[i] = std::max(m[i], zo[j * v.inner + i]);
    }
    for (std::size_t j = 0; j < v.len; ++j) {
      for (std::size_t i = 0; i < v.inner; ++i) po[j * v.inner + i] = zo[j * v.inner + i] - m[i];
    }
    kernels::exp(po, po, block);  // the whole block at once: the vectorised kernel wants length
    std::fill(s, s + v.inner, T(0));
    for (std::size_t j = 0; j < v.len; ++j) {
      for (std::size_t i = 0; i < v.inner; ++i) s[i] += po[j * v.inner + i];
    }
    if (log_out != nullptr) {
      T* lo = log_out + o * block;
      for (std::size_t i = 0; i < v.inner; ++i) m[i] += std::log(s[i]);  // m is now log Σ exp z
      for (std::size_t j = 0; j < v.len; ++j) {
        for (std::size_t i = 0; i < v.inner; ++i) lo[j * v.inner + i] = zo[j * v.inner + i] - m[i];
      }
    }
    for (std::size_t i = 0; i < v.inner; ++i) s[i] = T(1) / s[i];
    for (std::size_t j = 0; j < v.len; ++j) {
      for (std::size_t i = 0; i < v.inner; ++i) po[j * v.inner + i] *= s[i];
    }
  }
}

// Σ_j x[j] ∘ y[j] (y = nullptr: Σ_j x[j]) for each column of block o, into sums[0..inner).
template <class T>
void column_sums(const T* x, const T* y, std::size_t o, const Along& v, T* sums) {
  const std::size_t base = o * v.len * v.inner;
  std::fill(sums, sums + v.inner, T(0));
  for (std::size_t j = 0; j < v.len; ++j) {
    const std::size_t row = base + j * v.inner;
    for (std::size_t i = 0; i < v.inner; ++i) sums[i] += y ? x[row + i] * y[row + i] : x[row + i];
  }
}

Along attr_along(const std::array<std::size_t, 4>& attr) { return {attr[0], attr[1], attr[2]}; }

}  // namespace

// ---------------------------------------------------------------------------------------------------
// d softmax(a) = out ∘ (g − rowsum(g ∘ out)), over the last axis
namespace {
// d = out ∘ (g − rowsum(g ∘ out)) row by row: the gradient of a softmax over the last axis.
template <class T>
void softmax_rows_grad(const BasicMatrix<T>& out, const BasicMatrix<T>& g, const GradOut<T>& d) {
  const std::size_t rows = out.shape(0), cols = out.shape(1);
  for_rows(rows, cols, [&](std::size_t, std::size_t r0, std::size_t r1) {
    for (std::size_t r = r0; r < r1; ++r) {
      T dot = 0.0;
      for (std::size_t c = 0; c < cols; ++c) dot += g(r, c) * out(r, c);
      for (std::size_t c = 0; c < cols; ++c) d.put(r * cols + c, out(r, c) * (g(r, c) - dot));
    }
  });
}

const OpDef softmax_op{"softmax", [](auto& t, const auto& n) {
  if (const auto d = grad_out(t, n.in[0])) softmax_rows_grad(n.value, n.grad, d);
}};
}  // namespace

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

// ---------------------------------------------------------------------------------------------------
// d log_softmax(a) = g − softmax(a) · rowsum(g), over the last axis; n.saved holds softmax(a)
namespace {
// d = g − p · rowsum(g) row by row, p the softmax: the gradient of a log softmax over the last axis.
// Added as (d + g) − p · rowsum(g), in that order.
template <class T>
void log_softmax_rows_grad(const BasicMatrix<T>& p, const BasicMatrix<T>& g, const GradOut<T>& d) {
  const std::size_t rows = p.shape(0), cols = p.shape(1);
  for_rows(rows, cols, [&](std::size_t, std::size_t r0, std::size_t r1) {
    for (std::size_t r = r0; r < r1; ++r) {
      const T* gr = g.data() + r * cols;
      const T* pr = p.data() + r * cols;
      T* dr = d.d + r * cols;
      T total = 0.0;
      for (std::size_t c = 0; c < cols; ++c) total += gr[c];
      for (std::size_t c = 0; c < cols; ++c) dr[c] = (d.add ? dr[c] : T(0)) + gr[c] - pr[c] * total;
    }
  });
}

const OpDef log_softmax_op{"log_softmax", [](auto& t, const auto& n) {
  if (const auto d = grad_out(t, n.in[0])) log_softmax_rows_grad(n.saved, n.grad, d);
}};
}  // namespace

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

// ---------------------------------------------------------------------------------------------------
// d CE / d logits = (softmax(logits) − onehot(labels)) · g · s, with s = 1 (sum) or 1/N (mean)
// of the kept rows; Reduction::none: row r's share is g[r]. An ignored row (label −1 in n.labels)
// gets 0. n.saved holds softmax(logits), n.scalar holds s, n.attr[0] the Reduction.
namespace {
// d = (p − onehot(label)) · share row by row, p the softmax of the logits; share is row r's
// gradient g[r] when per_row, else gs; a row whose label is −1 (ignored) gets 0.
template <class T>
void cross_entropy_grad(const BasicMatrix<T>& p, const Labels& labels, bool per_row, const T* g, T gs,
                        const GradOut<T>& d) {
  const std::size_t rows = p.shape(0), cols = p.shape(1);
  for_rows(rows, cols, [&](std::size_t, std::size_t r0, std::size_t r1) {
    for (std::size_t r = r0; r < r1; ++r) {
      const int kept = labels[r];
      const auto label = static_cast<std::size_t>(kept);
      const T share = kept < 0 ? T(0) : per_row ? g[r] : gs;
      const T* pr = p.data() + r * cols;
      for (std::size_t c = 0; c < cols; ++c) {
        d.put(r * cols + c, kept < 0 ? T(0) : (pr[c] - (c == label ? T(1) : T(0))) * share);
      }
    }
  });
}

const OpDef softmax_cross_entropy_op{"softmax_cross_entropy", [](auto& t, const auto& n) {
  using T = value_t<decltype(n)>;
  const auto d = grad_out(t, n.in[0]);
  if (!d) return;
  const bool per_row = n.attr[0] == static_cast<std::size_t>(Reduction::none);
  const T gs = per_row ? T(0) : n.grad(0, 0) * n.scalar;
  cross_entropy_grad(n.saved, n.labels, per_row, n.grad.data(), gs, d);
}};
}  // namespace

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
  const std::size_t blocks = row_blocks(rows, classes);
  double* partial = scratch<double>(blocks);
  std::fill(partial, partial + blocks, 0.0);
  row_softmax(z, n.saved, [&](std::size_t b, std::size_t r, T lse) {
    if (n.labels[r] >= 0) partial[b] += lse - z(r, static_cast<std::size_t>(n.labels[r]));
  });
  double total = 0.0;
  for (std::size_t b = 0; b < blocks; ++b) total += partial[b];
  return scalar_result(t, n, static_cast<T>(total * n.scalar));
}

// ---------------------------------------------------------------------------------------------------
// d softmax(a, dim) = out ∘ (g − Σ_dim g ∘ out); n.attr = {outer, len, inner} around dim
namespace {
const OpDef softmax_dim_op{"softmax_dim", [](auto& t, const auto& n) {
  using T = value_t<decltype(n)>;
  const auto d = grad_out(t, n.in[0]);
  if (!d) return;
  const T *g = n.grad.data(), *out = n.value.data();
  const Along v = attr_along(n.attr);
  T* dot = scratch<T>(v.inner);
  for (std::size_t o = 0; o < v.outer; ++o) {
    column_sums(g, out, o, v, dot);
    for (std::size_t j = 0; j < v.len; ++j) {
      const std::size_t row = (o * v.len + j) * v.inner;
      for (std::size_t i = 0; i < v.inner; ++i) d.put(row + i, out[row + i] * (g[row + i] - dot[i]));
    }
  }
}};
}  // namespace

template <class T>
BasicVar<T> softmax(const BasicVar<T>& a, int dim) {
  const std::size_t d = dim_index("softmax", dim, a.shape());
  if (a.dim() == 0 || d + 1 == a.dim()) return softmax(a);  // the last axis: rows of the storage
  const Along v = check_along("softmax", a, d);
  BasicTape<T>& t = a.tape();
  BasicNode<T>& n = t.record(softmax_dim_op, a);
  n.attr = {v.outer, v.len, v.inner, d};
  t.shape_like(n, n.in[0]);
  softmax_along(t.value(n.in[0]).data(), n.value.data(), static_cast<T*>(nullptr), v);
  return t.result(n);
}

// d log_softmax(a, dim) = g − softmax(a) ∘ Σ_dim g; n.saved holds softmax(a), n.attr as softmax_dim
namespace {
const OpDef log_softmax_dim_op{"log_softmax_dim", [](auto& t, const auto& n) {
  using T = value_t<decltype(n)>;
  const auto d = grad_out(t, n.in[0]);
  if (!d) return;
  const T *g = n.grad.data(), *p = n.saved.data();
  const Along v = attr_along(n.attr);
  T* total = scratch<T>(v.inner);
  for (std::size_t o = 0; o < v.outer; ++o) {
    column_sums(g, static_cast<const T*>(nullptr), o, v, total);
    for (std::size_t j = 0; j < v.len; ++j) {
      const std::size_t row = (o * v.len + j) * v.inner;
      for (std::size_t i = 0; i < v.inner; ++i) d.put(row + i, g[row + i] - p[row + i] * total[i]);
    }
  }
}};
}  // namespace

template <class T>
BasicVar<T> log_softmax(const BasicVar<T>& a, int dim) {
  const std::size_t d = dim_index("log_softmax", dim, a.shape());
  if (a.dim() == 0 || d + 1 == a.dim()) return log_softmax(a);
  const Along v = check_along("log_softmax", a, d);
  BasicTape<T>& t = a.tape();
  BasicNode<T>& n = t.record(log_softmax_dim_op, a);
  n.attr = {v.outer, v.len, v.inner, d};
  t.shape_like(n, n.in[0]);
  n.saved.resize(n.value.shape());
  softmax_along(t.value(n.in[0]).data(), n.saved.data(), n.value.data(), v);
  return t.result(n);
}

// d masked_fill(a, mask) = g where mask = 0, else 0, for a alone (the mask is read, not
// differentiated); mask's element for each of a's is found through broadcasting
namespace {
const OpDef masked_fill_op{"masked_fill", [](auto& t, const auto& n) {
  using T = value_t<decltype(n)>;
  const auto d = grad_out(t, n.in[0]);
  if (!d) return;
  const T *g = n.grad.data(), *mask = t.value(n.in[1]).data();
  for_each_broadcast(n.shape, n.shape, t.shape(n.in[1]), [&](std::size_t o, std::size_t, std::size_t k) {
    d.put(o, mask[k] != T(0) ? T(0) : g[o]);
  });
}};
}  // namespace

template <class T>
BasicVar<T> masked_fill(const BasicVar<T>& a, const BasicVar<T>& mask, double value) {
  const Shape& to = broadcast_of("masked_fill", a, mask);
  if (to != a.shape()) {
    throw std::invalid_argument("masked_fill: mask " + shape_str(mask.shape()) +
                                " does not broadcast to the shape of the input " +
                                shape_str(a.shape()) + " (it would make " + shape_str(to) + ")");
  }
  BasicTape<T>& t = a.tape();
  BasicNode<T>& n = t.record(masked_fill_op, a, mask);
  t.shape_like(n, n.in[0]);
  const T fill = static_cast<T>(value);
  const T *x = t.value(n.in[0]).data(), *m = t.value(n.in[1]).data();
  T* out = n.value.data();
  for_each_broadcast(n.shape, n.shape, t.shape(n.in[1]), [&](std::size_t o, std::size_t, std::size_t k) {
    out[o] = m[k] != T(0) ? fill : x[o];
  });
  return t.result(n);
}

// Every op of this file for both precisions.
#define AUTOGRAD_INSTANTIATE_SOFTMAX_OPS(T)                                      \
  template BasicVar<T> softmax(const BasicVar<T>&);                               \
  template BasicVar<T> log_softmax(const BasicVar<T>&);                           \
  template BasicVar<T> softmax_cross_entropy(const BasicVar<T>&, const Labels&, Reduction, int); \
  template BasicVar<T> softmax(const BasicVar<T>&, int);                          \
  template BasicVar<T> log_softmax(const BasicVar<T>&, int);                      \
  template BasicVar<T> masked_fill(const BasicVar<T>&, const BasicVar<T>&, double);

AUTOGRAD_INSTANTIATE_SOFTMAX_OPS(double)
AUTOGRAD_INSTANTIATE_SOFTMAX_OPS(float)
#undef AUTOGRAD_INSTANTIATE_SOFTMAX_OPS

}  // namespace autograd
