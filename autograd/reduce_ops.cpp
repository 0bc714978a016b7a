// Reductions: each op one block, its derivative, its OpDef (name + backward rule), then its
// forward. Over every element (sum, mean, into [1 x 1]), along one axis of a matrix (kept 2-D),
// over any dims of a value of any rank, the sum of a list, and argmax (no gradient).
// In the rules: g = n.grad is d loss / d result; t.value(n.in[0]) is the input. Rules add into
// their input's gradient (+=), so a value used twice gets both shares.
#include <algorithm>
#include <string>

#include "autograd/op_support.hpp"
#include "autograd/ops.hpp"
#include "autograd/parallel.hpp"

namespace autograd {

using namespace detail;  // op_support.hpp: the helpers the op files share

// ---------------------------------------------------------------------------------------------------
// d Σa = g in every element
namespace {
const OpDef sum_op{"sum", [](auto& t, const auto& n) {
  const auto g = n.grad(0, 0);
  accumulate_each(t, n.in[0], [&](std::size_t) { return g; });
}};
}  // namespace

template <class T>
BasicVar<T> sum(const BasicVar<T>& a) {
  BasicTape<T>& t = a.tape();
  BasicNode<T>& n = t.record(sum_op, a);
  const T* x = t.value(n.in[0]).data();
  const double s = sum_ranges(t.value(n.in[0]).size(), [&](std::size_t begin, std::size_t end) {
    double part = 0.0;  // float32 sums too are accumulated in double
    for (std::size_t i = begin; i < end; ++i) part += x[i];
    return part;
  });
  return scalar_result(t, n, static_cast<T>(s));
}

// mean = sum / count: composed, no rule of its own
template <class T>
BasicVar<T> mean(const BasicVar<T>& a) {
  const std::size_t count = a.value().size();
  if (count == 0) throw std::invalid_argument("mean: empty input " + shape_str(a.value()));
  return scale(sum(a), 1.0 / static_cast<double>(count));
}

// ---------------------------------------------------------------------------------------------------
// d Σ_axis a = g broadcast back along the axis; n.attr[0] is the axis
namespace {
const OpDef sum_axis_op{"sum_axis", [](auto& t, const auto& n) {
  const std::size_t cols = t.value(n.in[0]).shape(1);
  const auto* g = n.grad.data();
  if (n.attr[0] == 0) {
    accumulate_each(t, n.in[0], [&](std::size_t i) { return g[i % cols]; });
  } else {
    accumulate_each(t, n.in[0], [&](std::size_t i) { return g[i / cols]; });
  }
}};
}  // namespace

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
    add_column_sums(x.data(), rows, cols, n.value.data());
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

// mean = sum / count along the axis: composed, no rule of its own
template <class T>
BasicVar<T> mean(const BasicVar<T>& a, int axis) {
  require_matrix("mean", a, "mean(a, dims, keepdim)");
  const std::size_t ax = check_axis("mean", axis, a.value());
  const std::size_t count = a.value().shape(ax);
  if (count == 0) throw std::invalid_argument("mean: nothing to average along axis " +
                                              std::to_string(axis) + " of " + shape_str(a.value()));
  return scale(sum(a, axis), 1.0 / static_cast<double>(count));
}

// ---------------------------------------------------------------------------------------------------
// Sums and means over dims, of any rank.
namespace {

// The dims a reduction of a value of rank `rank` names, as a bit per dimension; throws
// std::invalid_argument naming op and the shape for a dim out of range or named twice.
unsigned reduced_dims(const char* op, const Dims& dims, const Shape& shape) {
  check_dims(op, dims, "dims");
  const auto rank = static_cast<std::int64_t>(shape.size());
  if (dims.empty()) {
    throw std::invalid_argument(std::string(op) + ": no dims given for " + shape_str(shape) +
                                " (" + op + "(a) reduces every element)");
  }
  unsigned mask = 0;
  for (const std::int64_t d : dims) {
    const std::int64_t k = d < 0 ? d + rank : d;
    if (k < 0 || k >= rank) {
      throw std::invalid_argument(std::string(op) + ": dim " + std::to_string(d) +
                                  " is not a dimension of " + shape_str(shape));
    }
    if (mask & (1u << k)) {
      throw std::invalid_argument(std::string(op) + ": dim " + std::to_string(d) +
                                  " is named twice for " + shape_str(shape));
    }
    mask |= 1u << k;
  }
  return mask;
}

// The input's shape with the reduced dims (a bit each in mask) set to 1, into out.
void kept_shape(const Shape& in, unsigned mask, Shape& out) {
  out.assign(in.begin(), in.end());
  for (std::size_t d = 0; d < in.size(); ++d) {
    if (mask & (1u << d)) out[d] = 1;
  }
}

// d sum_dims(a) = g broadcast back over the summed dims; n.attr[0] holds the dims as bits
const OpDef sum_dims_op{"sum_dims", [](auto& t, const auto& n) {
  const std::uint32_t i = n.in[0];
  const auto d = grad_out(t, i);
  if (!d) return;
  thread_local Shape kept;
  kept_shape(t.shape(i), static_cast<unsigned>(n.attr[0]), kept);
  const auto* g = n.grad.data();
  for_each_broadcast(t.shape(i), t.shape(i), kept, [&](std::size_t k, std::size_t, std::size_t j) { d.put(k, g[j]); });
}};

}  // namespace

template <class T>
BasicVar<T> sum(const BasicVar<T>& a, const Dims& dims, bool keepdim) {
  const unsigned mask = reduced_dims("sum", dims, a.shape());
  BasicTape<T>& t = a.tape();
  BasicNode<T>& n = t.record(sum_dims_op, a);
  n.attr[0] = mask;
  const Shape& in = t.shape(n.in[0]);
  thread_local Shape kept;
  kept_shape(in, mask, kept);
  if (keepdim) {
    n.shape.assign(kept.begin(), kept.end());
  } else {
    n.shape.clear();
    for (std::size_t d = 0; d < in.size(); ++d) {
      if (!(mask & (1u << d))) n.shape.push_back(in[d]);
    }
  }
  t.shape_value(n);
  n.value.fill(T(0));
  T* out = n.value.data();
  const T* x = t.value(n.in[0]).data();
  // The elements in storage order, each added to the one element of the result it reduces to:
  // the sums are added up in the same order at every thread count.
  for_each_broadcast(in, in, kept, [&](std::size_t k, std::size_t, std::size_t j) { out[j] += x[k]; });
  return t.result(n);
}

template <class T>
BasicVar<T> mean(const BasicVar<T>& a, const Dims& dims, bool keepdim) {
  // mean = sum / count over the dims: composed, no rule of its own.
  const Shape& shape = a.shape();
  const unsigned mask = reduced_dims("mean", dims, shape);
  std::size_t count = 1;
  for (std::size_t d = 0; d < shape.size(); ++d) {
    if (mask & (1u << d)) count *= shape[d];
  }
  if (count == 0) {
    throw std::invalid_argument("mean: nothing to average over the dims given of " + shape_str(shape));
  }
  return scale(sum(a, dims, keepdim), 1.0 / static_cast<double>(count));
}

// ---------------------------------------------------------------------------------------------------
// d max_axis(a) = g at each arg-max (n.labels), 0 elsewhere; n.attr[0] is the axis
namespace {
const OpDef max_op{"max", [](auto& t, const auto& n) {
  auto* da = zeroed_grad(t, n.in[0]);
  if (da == nullptr) return;
  for (std::size_t k = 0; k < n.labels.size(); ++k) {
    const auto arg = static_cast<std::size_t>(n.labels[k]);
    if (n.attr[0] == 0) {
      (*da)(arg, k) += n.grad(0, k);
    } else {
      (*da)(k, arg) += n.grad(k, 0);
    }
  }
}};
}  // namespace

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

// ---------------------------------------------------------------------------------------------------
// t0 + t1 + …: composed of add, no rule of its own
template <class T>
BasicVar<T> sum(const std::vector<BasicVar<T>>& terms) {
  if (terms.empty()) throw std::invalid_argument("sum: no terms to add");
  BasicVar<T> total;
  for (const BasicVar<T>& v : terms) total = total + v;
  return total;
}

// The index of each row's largest value: labels, not a value on the tape (no gradient)
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

// Every op of this file for both precisions.
#define AUTOGRAD_INSTANTIATE_REDUCTIONS(T)                                                        \
  template BasicVar<T> sum(const BasicVar<T>&);                                                   \
  template BasicVar<T> mean(const BasicVar<T>&);                                                  \
  template BasicVar<T> sum(const BasicVar<T>&, int);                                              \
  template BasicVar<T> mean(const BasicVar<T>&, int);                                             \
  template BasicVar<T> sum(const BasicVar<T>&, const Dims&, bool);                                \
  template BasicVar<T> mean(const BasicVar<T>&, const Dims&, bool);                               \
  template BasicVar<T> max(const BasicVar<T>&, int);                                              \
  template BasicVar<T> sum(const std::vector<BasicVar<T>>&);                                      \
  template Labels argmax(const BasicVar<T>&);
AUTOGRAD_INSTANTIATE_REDUCTIONS(double)
AUTOGRAD_INSTANTIATE_REDUCTIONS(float)
#undef AUTOGRAD_INSTANTIATE_REDUCTIONS

}  // namespace autograd
