// Elementwise ops, of any rank: each op one block, its derivative, its OpDef (name + backward
// rule), then its forward. In the rules: g = n.grad is d loss / d result, out = n.value is the
// result, and t.value(n.in[k]) is input k. Rules add into their inputs' gradients (+=), so a value
// used twice gets both shares. Ops of two inputs broadcast by numpy's rules; their rules sum each
// input's share over what was broadcast.
#include <cmath>

#include <xtensor/xmath.hpp>

#include "autograd/kernels.hpp"
#include "autograd/op_support.hpp"
#include "autograd/ops.hpp"
#include "autograd/parallel.hpp"

namespace autograd {

// Arrays above parallel_threshold elements are cut into fixed blocks (parallel.hpp) that the
// engine's threads share; the blocks depend only on the shape, so results do not depend on the
// thread count.
using namespace detail;  // op_support.hpp: the helpers the op files share

// ---------------------------------------------------------------------------------------------------
// d(a + b) = (g, g), each summed over what was broadcast
namespace {
const OpDef add_op{"add", [](auto& t, const auto& n) {
  if (strided(t, n)) {
    const auto* g = n.grad.data();
    for (std::size_t k = 0; k < 2; ++k) accumulate_broadcast(t, n, k, [&](std::size_t o, std::size_t, std::size_t) { return g[o]; });
    return;
  }
  t.accumulate_sum_to(n.in[0], n.grad);
  t.accumulate_sum_to(n.in[1], n.grad);
}};
}  // namespace

template <class T>
BasicVar<T> add(const BasicVar<T>& a, const BasicVar<T>& b) {
  return binary(add_op, a, b, [](T x, T y) { return x + y; });
}

// a − b = a + (−1)·b: composed, no rule of its own
template <class T>
BasicVar<T> sub(const BasicVar<T>& a, const BasicVar<T>& b) {
  // Checked first so that the error names sub.
  if (a.dim() == 2 && b.dim() == 2) {
    broadcast_shape("sub", a.value(), b.value());
  } else {
    broadcast_of("sub", a, b);
  }
  (void)a.tape().node(b);  // b on a's tape (std::logic_error otherwise) before scale records it
  return add(a, scale(b, -1.0));
}

// ---------------------------------------------------------------------------------------------------
// d(a ∘ b) = (g ∘ b, g ∘ a), each summed over what was broadcast
namespace {
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
}  // namespace

template <class T>
BasicVar<T> mul(const BasicVar<T>& a, const BasicVar<T>& b) {
  return binary(mul_op, a, b, [](T x, T y) { return x * y; });
}

// ---------------------------------------------------------------------------------------------------
// d(a / b) = (g / b, −g · out / b), each summed over what was broadcast
namespace {
const OpDef div_op{"div", [](auto& t, const auto& n) {
  using T = value_t<decltype(n)>;
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
}  // namespace

template <class T>
BasicVar<T> div(const BasicVar<T>& a, const BasicVar<T>& b) {
  return binary(div_op, a, b, [](T x, T y) { return x / y; });
}

// ---------------------------------------------------------------------------------------------------
// d(c·a) = c·g; n.scalar holds c
namespace {
const OpDef scale_op{"scale", [](auto& t, const auto& n) {
  const auto* g = n.grad.data();
  const auto c = n.scalar;
  accumulate_each(t, n.in[0], [&](std::size_t i) { return c * g[i]; });
}};
}  // namespace

template <class T>
BasicVar<T> scale(const BasicVar<T>& a, double c) {
  const T k = static_cast<T>(c);
  return unary(scale_op, a, [k](const auto& x) { return k * x; }, k);
}

// ---------------------------------------------------------------------------------------------------
// d tanh(a) = (1 − out²) · g
namespace {
const OpDef tanh_op{"tanh", [](auto& t, const auto& n) {
  const auto *g = n.grad.data(), *out = n.value.data();
  accumulate_each(t, n.in[0], [&](std::size_t i) { return (1 - out[i] * out[i]) * g[i]; });
}};
}  // namespace

template <class T>
BasicVar<T> tanh(const BasicVar<T>& a) { return unary_kernel(tanh_op, a, kernels::tanh); }

// ---------------------------------------------------------------------------------------------------
// d σ(a) = out · (1 − out) · g
namespace {
const OpDef sigmoid_op{"sigmoid", [](auto& t, const auto& n) {
  const auto *g = n.grad.data(), *out = n.value.data();
  accumulate_each(t, n.in[0], [&](std::size_t i) { return out[i] * (1 - out[i]) * g[i]; });
}};
}  // namespace

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

// ---------------------------------------------------------------------------------------------------
// d relu(a) = [out > 0] · g
namespace {
const OpDef relu_op{"relu", [](auto& t, const auto& n) {
  const auto *g = n.grad.data(), *out = n.value.data();
  accumulate_each(t, n.in[0], [&](std::size_t i) { return out[i] > 0 ? g[i] : 0; });
}};
}  // namespace

template <class T>
BasicVar<T> relu(const BasicVar<T>& a) {
  return unary(relu_op, a, [](const auto& x) { return xt::maximum(x, T(0)); });
}

// ---------------------------------------------------------------------------------------------------
// d exp(a) = out · g
namespace {
const OpDef exp_op{"exp", [](auto& t, const auto& n) {
  const auto *g = n.grad.data(), *out = n.value.data();
  accumulate_each(t, n.in[0], [&](std::size_t i) { return out[i] * g[i]; });
}};
}  // namespace

template <class T>
BasicVar<T> exp(const BasicVar<T>& a) { return unary_kernel(exp_op, a, kernels::exp); }

// ---------------------------------------------------------------------------------------------------
// d log(a) = g / a
namespace {
const OpDef log_op{"log", [](auto& t, const auto& n) {
  const auto *g = n.grad.data(), *a = t.value(n.in[0]).data();
  accumulate_each(t, n.in[0], [&](std::size_t i) { return g[i] / a[i]; });
}};
}  // namespace

template <class T>
BasicVar<T> log(const BasicVar<T>& a) {
  return unary(log_op, a, [](const auto& x) { return xt::log(x); });
}

// ---------------------------------------------------------------------------------------------------
// d √a = g / (2 · out)
namespace {
const OpDef sqrt_op{"sqrt", [](auto& t, const auto& n) {
  const auto *g = n.grad.data(), *out = n.value.data();
  accumulate_each(t, n.in[0], [&](std::size_t i) { return g[i] / (2 * out[i]); });
}};
}  // namespace

template <class T>
BasicVar<T> sqrt(const BasicVar<T>& a) {
  return unary(sqrt_op, a, [](const auto& x) { return xt::sqrt(x); });
}

// ---------------------------------------------------------------------------------------------------
// a² = a ∘ a: composed, mul's rule gives 2·a·g
template <class T>
BasicVar<T> square(const BasicVar<T>& a) { return mul(a, a); }

// ---------------------------------------------------------------------------------------------------
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

// a + b, where an empty Var is the zero that starts a running sum
template <class T>
BasicVar<T> operator+(const BasicVar<T>& a, const BasicVar<T>& b) {
  if (a.empty()) return b;
  if (b.empty()) return a;
  return add(a, b);
}

// ---------------------------------------------------------------------------------------------------
// d ½Σw² = w · g
namespace {
const OpDef l2_penalty_op{"l2_penalty", [](auto& t, const auto& n) {
  const auto g = n.grad(0, 0);
  const auto* w = t.value(n.in[0]).data();
  accumulate_each(t, n.in[0], [&](std::size_t i) { return g * w[i]; });
}};
}  // namespace

template <class T>
BasicVar<T> l2_penalty(const BasicVar<T>& w) {
  BasicTape<T>& t = w.tape();
  BasicNode<T>& n = t.record(l2_penalty_op, w);
  const T* x = t.value(n.in[0]).data();
  const double s = sum_ranges(t.value(n.in[0]).size(), [&](std::size_t begin, std::size_t end) {
    double part = 0.0;  // float32 sums too are accumulated in double
    for (std::size_t i = begin; i < end; ++i) part += static_cast<double>(x[i]) * x[i];
    return part;
  });
  return scalar_result(t, n, static_cast<T>(0.5 * s));
}

// Every op of this file for both precisions.
#define AUTOGRAD_INSTANTIATE_ELEMENTWISE_OPS(T)                                                   \
  template BasicVar<T> add(const BasicVar<T>&, const BasicVar<T>&);                               \
  template BasicVar<T> sub(const BasicVar<T>&, const BasicVar<T>&);                               \
  template BasicVar<T> mul(const BasicVar<T>&, const BasicVar<T>&);                               \
  template BasicVar<T> div(const BasicVar<T>&, const BasicVar<T>&);                               \
  template BasicVar<T> scale(const BasicVar<T>&, double);                                         \
  template BasicVar<T> tanh(const BasicVar<T>&);                                                  \
  template BasicVar<T> sigmoid(const BasicVar<T>&);                                               \
  template BasicVar<T> relu(const BasicVar<T>&);                                                  \
  template BasicVar<T> exp(const BasicVar<T>&);                                                   \
  template BasicVar<T> log(const BasicVar<T>&);                                                   \
  template BasicVar<T> sqrt(const BasicVar<T>&);                                                  \
  template BasicVar<T> square(const BasicVar<T>&);                                                \
  template BasicVar<T> add(const BasicVar<T>&, double);                                           \
  template BasicVar<T> rsub(double, const BasicVar<T>&);                                          \
  template BasicVar<T> operator/(double, const BasicVar<T>&);                                     \
  template BasicVar<T> operator+(const BasicVar<T>&, const BasicVar<T>&);                         \
  template BasicVar<T> l2_penalty(const BasicVar<T>&);

AUTOGRAD_INSTANTIATE_ELEMENTWISE_OPS(double)
AUTOGRAD_INSTANTIATE_ELEMENTWISE_OPS(float)
#undef AUTOGRAD_INSTANTIATE_ELEMENTWISE_OPS

}  // namespace autograd
