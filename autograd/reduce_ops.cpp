// Reductions of any rank: each op's rule, then its forward.
#include <string>

#include "autograd/op_support.hpp"
#include "autograd/ops.hpp"

namespace autograd {

namespace {

// The dims a reduction of a value of rank `rank` names, as a bit per dimension; throws
// std::invalid_argument naming op and the shape for a dim out of range or named twice.
unsigned reduced_dims(const char* op, const Dims& dims, const Shape& shape) {
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
  using T = typename std::decay_t<decltype(n)>::value_type;
  const std::uint32_t i = n.in[0];
  if (!t.requires_grad(i)) return;
  thread_local Shape kept;
  kept_shape(t.shape(i), static_cast<unsigned>(n.attr[0]), kept);
  bool add = false;
  BasicMatrix<T>& da = t.grad_target(i, add);
  T* d = da.data();
  const T* g = n.grad.data();
  detail::for_each_broadcast(t.shape(i), t.shape(i), kept, [&](std::size_t k, std::size_t, std::size_t j) {
    d[k] = add ? d[k] + g[j] : g[j];
  });
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
  detail::for_each_broadcast(in, in, kept, [&](std::size_t k, std::size_t, std::size_t j) { out[j] += x[k]; });
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

#define AUTOGRAD_INSTANTIATE_REDUCTIONS(T)                                          \
  template BasicVar<T> sum(const BasicVar<T>&, const Dims&, bool);     \
  template BasicVar<T> mean(const BasicVar<T>&, const Dims&, bool);
AUTOGRAD_INSTANTIATE_REDUCTIONS(double)
AUTOGRAD_INSTANTIATE_REDUCTIONS(float)
#undef AUTOGRAD_INSTANTIATE_REDUCTIONS

}  // namespace autograd
