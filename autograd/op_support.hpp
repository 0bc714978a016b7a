#pragma once
// What the op files share, kept out of the public headers: the names a rule uses (value_t,
// grad_out, zeroed_grad), shape checks and errors, the elementwise helpers (unary, binary,
// accumulate_each, accumulate_broadcast) and the softmax of a row. Internal to the engine.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <type_traits>

#include <xtensor/xadapt.hpp>
#include <xtensor/xmath.hpp>
#include <xtensor/xoperation.hpp>

#include "autograd/broadcast.hpp"
#include "autograd/kernels.hpp"
#include "autograd/parallel.hpp"
#include "autograd/tape.hpp"

namespace autograd::detail {

// The element type of a node, tape or handle: in a generic rule, `using T = value_t<decltype(n)>;`.
template <class N>
using value_t = typename std::decay_t<N>::value_type;

// Input i's gradient as a rule writes it element by element: put(k, x) adds x to element k, or
// sets it when the buffer holds nothing yet in this pass (so it is neither zeroed nor read first).
// False when no parameter reaches input i: the rule has nothing to do for it.
template <class T>
struct GradOut {
  T* d = nullptr;    // the buffer's elements, in the input's storage order
  bool add = false;  // it holds this pass's earlier shares: add to them
  explicit operator bool() const { return d != nullptr; }
  void put(std::size_t k, T x) const { d[k] = add ? d[k] + x : x; }
};
template <class T>
GradOut<T> grad_out(BasicTape<T>& t, std::uint32_t i) {
  GradOut<T> out;
  if (t.requires_grad(i)) out.d = t.grad_target(i, out.add).data();
  return out;
}

// Input i's gradient buffer, zeroed if it held nothing yet in this pass, for a rule that adds into
// parts of it (+=); nullptr when no parameter reaches input i.
template <class T>
BasicMatrix<T>* zeroed_grad(BasicTape<T>& t, std::uint32_t i) {
  if (!t.requires_grad(i)) return nullptr;
  bool add = false;
  BasicMatrix<T>& g = t.grad_target(i, add);
  if (!add) g.fill(T(0));
  return &g;
}

template <class T>
[[noreturn]] void shape_error(const char* op, const std::string& what, const BasicMatrix<T>& a,
                              const BasicMatrix<T>& b) {
  throw std::invalid_argument(std::string(op) + ": " + what + " " + shape_str(a) + " and " +
                              shape_str(b));
}

// Ops of matrices only (the 2-D spellings) refuse a value of another rank, naming the N-D op to use.
template <class T>
void require_matrix(const char* op, const BasicVar<T>& a, const char* instead) {
  if (a.dim() == 2) return;
  throw std::invalid_argument(std::string(op) + ": takes a matrix (rank 2), got " +
                              shape_str(a.shape()) + "; for any rank use " + instead);
}

// The axis of a 2-D reduction or join: 0 (over rows) or 1 (over columns), else
// std::invalid_argument naming op, the axis and the shape.
template <class T>
std::size_t check_axis(const char* op, int axis, const BasicMatrix<T>& a) {
  if (axis != 0 && axis != 1) {
    throw std::invalid_argument(std::string(op) + ": axis must be 0 (over rows) or 1 (over " +
                                "columns), got " + std::to_string(axis) + " for " + shape_str(a));
  }
  return static_cast<std::size_t>(axis);
}

// Result shape of a broadcasting elementwise op: per dimension, equal or 1 on one side.
template <class T>
std::array<std::size_t, 2> broadcast_shape(const char* op, const BasicMatrix<T>& a, const BasicMatrix<T>& b) {
  std::array<std::size_t, 2> s{};
  for (std::size_t d = 0; d < 2; ++d) {
    const std::size_t x = a.shape(d), y = b.shape(d);
    if (x != y && x != 1 && y != 1) shape_error(op, "shapes do not broadcast:", a, b);
    s[d] = x == 1 ? y : x;
  }
  checked_size<T>(op, s[0], s[1]);
  return s;
}

// out = f(a) elementwise; f returns an xtensor expression of its argument (a 1-D block of a).
// scalar is the op's attribute for its rule (the factor of scale).
template <class T, class F>
BasicVar<T> unary(const OpDef& op, const BasicVar<T>& a, F&& f, T scalar = 0) {
  BasicTape<T>& t = a.tape();
  BasicNode<T>& n = t.record(op, a);
  n.scalar = scalar;
  const BasicMatrix<T>& x = t.value(n.in[0]);
  t.shape_like(n, n.in[0]);
  for_ranges(x.size(), [&](std::size_t begin, std::size_t end) {
    const std::array<std::size_t, 1> shape{end - begin};
    auto in = xt::adapt(x.data() + begin, end - begin, xt::no_ownership(), shape);
    auto out = xt::adapt(n.value.data() + begin, end - begin, xt::no_ownership(), shape);
    xt::noalias(out) = f(in);
  });
  return t.result(n);
}

// out = kernel(a) elementwise, by one of the vectorised kernels over the whole array (kernels.hpp).
template <class T>
BasicVar<T> unary_kernel(const OpDef& op, const BasicVar<T>& a, void (*kernel)(const T*, T*, std::size_t)) {
  BasicTape<T>& t = a.tape();
  BasicNode<T>& n = t.record(op, a);
  const BasicMatrix<T>& x = t.value(n.in[0]);
  t.shape_like(n, n.in[0]);
  for_ranges(x.size(), [&](std::size_t begin, std::size_t end) {
    kernel(x.data() + begin, n.value.data() + begin, end - begin);
  });
  return t.result(n);
}

// The shape a and b broadcast to (numpy's rules, any rank), in a buffer of the calling thread
// that keeps its capacity; throws std::invalid_argument naming op and both shapes.
template <class T>
const Shape& broadcast_of(const char* op, const BasicVar<T>& a, const BasicVar<T>& b) {
  thread_local Shape out;
  detail::broadcast_shapes(op, a.shape(), b.shape(), out);
  checked_count<T>(op, out);
  return out;
}

// Whether n, an elementwise op of two inputs, broadcast them in more than two dimensions: its
// inputs, stored as matrices, do not broadcast to its own matrix as matrices do.
template <class T>
bool strided(const BasicTape<T>& t, const BasicNode<T>& n) {
  const std::size_t R = n.value.shape(0), C = n.value.shape(1);
  for (std::uint32_t i : n.in) {
    const BasicMatrix<T>& v = t.value(i);
    if (!detail::matrix_broadcasts(v.shape(0), v.shape(1), R, C)) return true;
  }
  return false;
}

// grad(input k) += f(o, a, b) for every element o of n's value, with a and b the positions of the
// inputs' elements that broadcast to it: the rule of an elementwise op broadcast in any rank (each
// input's share summed over the dimensions it was stretched along).
template <class T, class F>
void accumulate_broadcast(BasicTape<T>& t, const BasicNode<T>& n, std::size_t k, F&& f) {
  BasicMatrix<T>* g = zeroed_grad(t, n.in[k]);
  if (g == nullptr) return;
  T* d = g->data();
  detail::for_each_broadcast(n.shape, t.shape(n.in[0]), t.shape(n.in[1]),
                             [&](std::size_t o, std::size_t a, std::size_t b) {
                               d[k == 0 ? a : b] += f(o, a, b);
                             });
}

// out = f(a, b) elementwise with broadcasting; f combines two numbers. Row by row, a row or column
// of size 1 reused: xtensor's broadcasting assignment took several times longer on short rows.
// Values of other ranks broadcast by numpy's rules, as matrices where their storage allows.
template <class T, class F>
BasicVar<T> binary(const OpDef& op, const BasicVar<T>& a, const BasicVar<T>& b, F&& f) {
  const bool matrices = a.dim() == 2 && b.dim() == 2;
  std::array<std::size_t, 2> shape{};
  if (matrices) shape = broadcast_shape(op.name, a.value(), b.value());
  const Shape* nd = matrices ? nullptr : &broadcast_of(op.name, a, b);
  BasicTape<T>& t = a.tape();
  BasicNode<T>& n = t.record(op, a, b);
  if (matrices) {
    n.value.resize(shape);
  } else {
    n.shape.assign(nd->begin(), nd->end());
    t.shape_value(n);
    shape = {n.value.shape(0), n.value.shape(1)};
    if (strided(t, n)) {
      const T *x = t.value(n.in[0]).data(), *y = t.value(n.in[1]).data();
      T* out = n.value.data();
      detail::for_each_broadcast(n.shape, t.shape(n.in[0]), t.shape(n.in[1]),
                                 [&](std::size_t o, std::size_t i, std::size_t j) { out[o] = f(x[i], y[j]); });
      return t.result(n);
    }
  }
  const BasicMatrix<T>& x = t.value(n.in[0]);
  const BasicMatrix<T>& y = t.value(n.in[1]);
  const std::size_t rows = shape[0], cols = shape[1];
  const bool x_row = x.shape(1) == cols, y_row = y.shape(1) == cols;  // else one column, reused
  if (rows == 0 || cols == 0) return t.result(n);  // empty: no loop over its (maybe 2^62) rows
  for_rows(rows, cols, [&](std::size_t, std::size_t r0, std::size_t r1) {
    for (std::size_t r = r0; r < r1; ++r) {
      const T* xr = x.data() + (x.shape(0) == 1 ? 0 : r) * x.shape(1);
      const T* yr = y.data() + (y.shape(0) == 1 ? 0 : r) * y.shape(1);
      T* out = n.value.data() + r * cols;
      if (x_row && y_row) {
        for (std::size_t c = 0; c < cols; ++c) out[c] = f(xr[c], yr[c]);
      } else {
        for (std::size_t c = 0; c < cols; ++c) out[c] = f(xr[x_row ? c : 0], yr[y_row ? c : 0]);
      }
    }
  });
  return t.result(n);
}

// A 1x1 result computed by a plain loop (a reduction).
template <class T>
BasicVar<T> scalar_result(BasicTape<T>& t, BasicNode<T>& n, T v) {
  n.value.resize({1, 1});
  n.value(0, 0) = v;
  return t.result(n);
}

// Whether the len entries at z, stride apart, are all −inf: a fully masked row, which has no
// softmax (its max is −inf, and z − max is NaN). The scan stops at the first other entry, in
// most rows the first one, so checking every row costs about one read per row.
template <class T>
bool fully_masked(const T* z, std::size_t len, std::size_t stride) {
  for (std::size_t j = 0; j < len; ++j) {
    if (!(z[j * stride] == -std::numeric_limits<T>::infinity())) return false;
  }
  return true;
}

// "softmax: row 3 of [2, 4, 4] is entirely −inf (fully masked)"; along names the axis when it is
// not the last one (" along dim 1").
[[noreturn]] inline void masked_row_error(const char* op, std::size_t row, const Shape& shape,
                                          const std::string& along = "") {
  throw std::invalid_argument(std::string(op) + ": row " + std::to_string(row) + along + " of " +
                              shape_str(shape) + " is entirely −inf (fully masked)");
}

// Refuses a value with a fully masked row along its last axis, before the op records anything
// (row_softmax would fill that row with NaN).
template <class T>
void require_unmasked_rows(const char* op, const BasicVar<T>& a) {
  const BasicMatrix<T>& z = a.value();
  const std::size_t rows = z.shape(0), cols = z.shape(1);
  for (std::size_t r = 0; r < rows; ++r) {
    if (fully_masked(z.data() + r * cols, cols, 1)) masked_row_error(op, r, a.shape());
  }
}

// Writes the row-wise softmax of z into p and reports each row's log Σ exp, computed stably: the
// row's max is subtracted before exp, so logits of ±1000 stay finite. on_row(block, row, lse) is
// called for the rows of each row block in order, blocks possibly at once on several threads.
template <class T, class OnRow>
void row_softmax(const BasicMatrix<T>& z, BasicMatrix<T>& p, OnRow&& on_row) {
  const std::size_t rows = z.shape(0), cols = z.shape(1);
  p.resize(z.shape());
  const auto row_max = [&](std::size_t r) {
    const T* zr = z.data() + r * cols;
    return *std::max_element(zr, zr + cols);
  };
  for_rows(rows, cols, [&](std::size_t b, std::size_t r0, std::size_t r1) {
    // p = z − rowmax, then exp over the whole block at once: rows are often short (2 or 10
    // classes) and the vectorised kernel needs long arrays.
    for (std::size_t r = r0; r < r1; ++r) {
      const T m = row_max(r);
      const T* zr = z.data() + r * cols;
      T* pr = p.data() + r * cols;
      for (std::size_t c = 0; c < cols; ++c) pr[c] = zr[c] - m;
    }
    kernels::exp(p.data() + r0 * cols, p.data() + r0 * cols, (r1 - r0) * cols);
    for (std::size_t r = r0; r < r1; ++r) {
      T* pr = p.data() + r * cols;
      T s = 0.0;
      for (std::size_t c = 0; c < cols; ++c) s += pr[c];
      const T inv = T(1) / s;
      for (std::size_t c = 0; c < cols; ++c) pr[c] *= inv;
      on_row(b, r, row_max(r) + std::log(s));
    }
  });
}

// grad(i) += f(k) for every element k of input i (whose shape is the node's own: the rule of an
// elementwise op), block by block.
template <class T, class F>
void accumulate_each(BasicTape<T>& t, std::uint32_t i, F&& f) {
  if (!t.requires_grad(i)) return;
  bool add = false;
  BasicMatrix<T>& g = t.grad_target(i, add);
  T* d = g.data();
  for_ranges(g.size(), [&](std::size_t begin, std::size_t end) {
    if (add) {
      for (std::size_t k = begin; k < end; ++k) d[k] += f(k);
    } else {
      for (std::size_t k = begin; k < end; ++k) d[k] = f(k);
    }
  });
}

}  // namespace autograd::detail
