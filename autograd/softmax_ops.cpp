// Softmax along any dim and masks, for values of any rank: each op, its OpDef (name + backward
// rule), then its forward. In the rules: g = n.grad is d loss / d result, out = n.value is the
// result, and t.value(n.in[k]) is input k, stored as the matrix of its last axis. The last axis
// is the softmax of ops.cpp; another axis is walked along its stride: a value of shape
// [outer..., len, inner...] is `outer` blocks of [len x inner], each column of a block one slice.
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
// d softmax(a, dim) = out ∘ (g − Σ_dim g ∘ out); n.attr = {outer, len, inner} around dim
namespace {
const OpDef softmax_dim_op{"softmax_dim", [](auto& t, const auto& n) {
  using T = typename std::decay_t<decltype(n)>::value_type;
  if (!t.requires_grad(n.in[0])) return;
  bool add = false;
  T* d = t.grad_target(n.in[0], add).data();
  const T *g = n.grad.data(), *out = n.value.data();
  const Along v = attr_along(n.attr);
  T* dot = scratch<T>(v.inner);
  for (std::size_t o = 0; o < v.outer; ++o) {
    column_sums(g, out, o, v, dot);
    for (std::size_t j = 0; j < v.len; ++j) {
      const std::size_t row = (o * v.len + j) * v.inner;
      for (std::size_t i = 0; i < v.inner; ++i) {
        const T x = out[row + i] * (g[row + i] - dot[i]);
        d[row + i] = add ? d[row + i] + x : x;
      }
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
  using T = typename std::decay_t<decltype(n)>::value_type;
  if (!t.requires_grad(n.in[0])) return;
  bool add = false;
  T* d = t.grad_target(n.in[0], add).data();
  const T *g = n.grad.data(), *p = n.saved.data();
  const Along v = attr_along(n.attr);
  T* total = scratch<T>(v.inner);
  for (std::size_t o = 0; o < v.outer; ++o) {
    column_sums(g, static_cast<const T*>(nullptr), o, v, total);
    for (std::size_t j = 0; j < v.len; ++j) {
      const std::size_t row = (o * v.len + j) * v.inner;
      for (std::size_t i = 0; i < v.inner; ++i) {
        const T x = g[row + i] - p[row + i] * total[i];
        d[row + i] = add ? d[row + i] + x : x;
      }
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
  using T = typename std::decay_t<decltype(n)>::value_type;
  if (!t.requires_grad(n.in[0])) return;
  bool add = false;
  T* d = t.grad_target(n.in[0], add).data();
  const T *g = n.grad.data(), *mask = t.value(n.in[1]).data();
  for_each_broadcast(n.shape, n.shape, t.shape(n.in[1]), [&](std::size_t o, std::size_t, std::size_t k) {
    const T x = mask[k] != T(0) ? T(0) : g[o];
    d[o] = add ? d[o] + x : x;
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

#define AUTOGRAD_INSTANTIATE_SOFTMAX_OPS(T)                                      \
  template BasicVar<T> softmax(const BasicVar<T>&, int);                          \
  template BasicVar<T> log_softmax(const BasicVar<T>&, int);                      \
  template BasicVar<T> masked_fill(const BasicVar<T>&, const BasicVar<T>&, double);

AUTOGRAD_INSTANTIATE_SOFTMAX_OPS(double)
AUTOGRAD_INSTANTIATE_SOFTMAX_OPS(float)
#undef AUTOGRAD_INSTANTIATE_SOFTMAX_OPS

}  // namespace autograd
