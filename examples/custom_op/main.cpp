// The README's "Adding an op" as a whole program: softplus defined outside the library, with its
// own OpDef and backward rule, on values of any rank in both precisions, checked by gradcheck
// against central differences; exits 1 if the check fails. A test checks that the README shows
// the lines between the markers.
// README-BEGIN
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

#include <xtensor/xmath.hpp>

#include "autograd/autograd.hpp"
using namespace autograd;

// d softplus(x) = g · σ(x), where softplus(x) = log(1 + eˣ). A generic lambda: one rule serves
// float64 and float32 tapes. Defined at namespace scope: tapes keep the OpDef's address.
const OpDef softplus_op{"softplus", [](auto& t, const auto& n) {
  const auto& x = t.value(n.in[0]);                   // input 0, stored as a matrix
  t.accumulate(n.in[0], n.grad / (1 + xt::exp(-x)));  // its gradient += g · σ(x)
}};

template <class T>
BasicVar<T> softplus(const BasicVar<T>& a) {
  BasicTape<T>& t = a.tape();
  BasicNode<T>& n = t.record(softplus_op, a);  // check the arguments before: this records a node
  t.shape_like(n, n.in[0]);                    // a's shape, of any rank; sizes n.value
  const T* x = t.value(n.in[0]).data();
  for (std::size_t i = 0; i < n.value.size(); ++i) {  // max(x, 0) + log(1 + e^−|x|): no overflow
    n.value.data()[i] = std::max(x[i], T(0)) + std::log1p(std::exp(-std::abs(x[i])));
  }
  return t.result(n);
}

// A loss through softplus of rank 4 (x as [2, 1, 3, 2], times w broadcast) and of rank 0 (s).
template <class T>
BasicVar<T> loss(BasicTape<T>&, const std::vector<BasicVar<T>>& v) {
  return sum(mul(softplus(reshape(v[0], Dims{2, 1, 3, 2})), v[1])) +
         sum(softplus(reshape(v[2], Dims{})));
}

template <class T>
bool check(const char* precision, const GradcheckOptions& options) {
  const std::vector<BasicMatrix<T>> inputs = {
      {{-6, -2, -0.5}, {0, 0.25, 1}, {2, 3.5, 6}, {-1, 0.5, 4}},  // x [4 x 3]
      {{0.5, -1}, {2, 0.25}, {-1.5, 1}},                          // w [3 x 2]
      {{0.75}}};                                                  // s [1 x 1]
  const GradcheckResult r = gradcheck(BasicScalarFunction<T>(loss<T>), inputs, options, {"x", "w", "s"});
  std::printf("%s: %zu elements, largest difference %.2g: %s\n", precision, r.checked,
              r.max_abs_error, r ? "ok" : r.message.c_str());
  return r.ok;
}

int main() {
  const bool f64 = check<double>("float64", GradcheckOptions{});             // 1e-8 + 1e-6·|g|
  const bool f32 = check<float>("float32", GradcheckOptions::float32());     // 2e-3 + 1e-2·|g|
  return f64 && f32 ? 0 : 1;
}
// README-END
