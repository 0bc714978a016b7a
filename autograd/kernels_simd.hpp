#pragma once
// The kernels' loops for one instruction set Arch, included only by the files compiled for it
// (kernels_avx2.cpp, kernels_avx512.cpp). Everything here is a template on Arch, so the copies
// compiled with different instruction sets are different functions to the linker.
//
// exp and tanh are written out here rather than taken from xsimd: xsimd 8.1's exp divides once and
// its tanh three times (exp, 1/(1 + e), and a rational function), and divisions are slow. These take
// 0.7 ns per element on AVX-512 (xsimd's tanh: 2.0 ns), 1.35 ns on AVX2 (3.6 ns), with the same
// accuracy: at most 2 ulp from the C library over the test's grid (tests/bench/test_kernels.cpp).
#include <cfloat>
#include <cmath>
#include <cstddef>
#include <cstdint>

#include <xsimd/xsimd.hpp>

namespace autograd::kernels::simd {

// e^y for y in [-708, 709], where the result is a normal double (the caller makes sure).
// y = k·ln2 + r with k an integer and |r| <= ln2/2; ln2 in two parts (Cody and Waite), so that k·ln2_hi
// is exact and r is y's remainder to full precision. e^r by its Taylor series to r^13, whose
// truncation error is below 5e-18 relative; 2^k is written straight into the exponent bits.
template <class Arch>
xsimd::batch<double, Arch> exp_in_range(const xsimd::batch<double, Arch>& y) {
  using batch = xsimd::batch<double, Arch>;
  using bits = xsimd::batch<std::uint64_t, Arch>;
  const batch shift(0x1.8p52);  // adding it rounds to an integer, which lands in the low bits
  const batch k_shifted = xsimd::fma(y, batch(1.4426950408889634), shift);  // y / ln2 + shift
  const batch k = k_shifted - shift;
  const batch r = xsimd::fnma(k, batch(6.93147180369123816490e-01), y) - k * batch(1.90821492927058770002e-10);
  batch p(1.0 / 6227020800.0);  // 1/13!
  for (const double c : {1.0 / 479001600.0, 1.0 / 39916800.0, 1.0 / 3628800.0, 1.0 / 362880.0,
                         1.0 / 40320.0, 1.0 / 5040.0, 1.0 / 720.0, 1.0 / 120.0, 1.0 / 24.0,
                         1.0 / 6.0, 0.5, 1.0, 1.0}) {
    p = xsimd::fma(p, r, batch(c));
  }
  const bits k_int = xsimd::bitwise_cast<bits>(k_shifted) - xsimd::bitwise_cast<bits>(shift);
  const batch two_to_k = xsimd::bitwise_cast<batch>((k_int + bits(1023)) << 52);
  return p * two_to_k;
}

// tanh for every finite x, with one division for both ranges:
// |x| < 0.625: x + x·s·P(s)/Q(s) with s = x², Cephes' rational function (the one xsimd uses);
// otherwise 1 − 2/(1 + e^{2|x|}). The sign of x is put back at the end. |x| is clamped to 20 first:
// from 19.06 on tanh rounds to ±1 in double, and at 20 the formula gives 1 − 1.7e-17, which rounds
// to 1 as well, so the clamp changes no result (saturated inputs stay on the vector path).
template <class Arch>
xsimd::batch<double, Arch> tanh_in_range(const xsimd::batch<double, Arch>& x_signed) {
  using batch = xsimd::batch<double, Arch>;
  const batch one(1.0);
  const batch x = xsimd::min(xsimd::abs(x_signed), batch(20.0));
  const auto small = x < batch(0.625);
  const batch s = x * x;
  const batch P = xsimd::fma(xsimd::fma(batch(-9.64399179425052238628e-1), s,
                                        batch(-9.92877231001918586564e1)), s,
                             batch(-1.61468768441708447952e3));
  const batch Q = xsimd::fma(xsimd::fma(xsimd::fma(one, s, batch(1.12811678491632931402e2)), s,
                                        batch(2.23548839060100448583e3)), s,
                             batch(4.84406305325125486048e3));
  const batch e = exp_in_range<Arch>(xsimd::select(small, batch(0.0), x + x));
  const batch t = xsimd::select(small, s * P, one) / xsimd::select(small, Q, one + e);
  const batch magnitude = xsimd::select(small, xsimd::fma(t, x, x), xsimd::fma(batch(-2.0), t, one));
  return magnitude ^ xsimd::bitofsign(x_signed);
}

// e^y in float lanes for y in [-87.33, 88.72], where the result is a normal float (e^y >= 2^-126 from
// y = -87.3365; e^y <= FLT_MAX up to y = 88.7228); the caller makes sure.
// y = k·ln2 + r with k an integer and |r| <= ln2/2. ln2 in two parts (Cody and Waite, as below),
// so that r is y's remainder to full precision. e^r by its Taylor series to r^8,
// whose truncation error (with the coefficients rounded to float) is below 1e-10 relative, 1/300 of
// float's smallest relative half-ulp 2^-25. 2^k goes into the exponent bits (bias 127, shift 23) in
// two factors 2^(k>>1)·2^(k − (k>>1)): k reaches 128 near y = 88.72, which one float exponent
// cannot hold; multiplying by powers of two is exact while the result is normal.
template <class Arch>
xsimd::batch<float, Arch> exp_in_range(const xsimd::batch<float, Arch>& y) {
  using batch = xsimd::batch<float, Arch>;
  using bits = xsimd::batch<std::int32_t, Arch>;
  const batch shift(0x1.8p23f);  // adding it rounds to an integer, which lands in the low bits
  const batch k_shifted = xsimd::fma(y, batch(1.44269504088896341f), shift);  // y / ln2 + shift
  const batch k = k_shifted - shift;
  // ln2 = C1 + C2 with C1 = 0.693359375 (9 significant bits, Cephes' expf), so k·C1 is exact for
  // |k| < 2^15 and y − k·C1 is exact (Sterbenz) with or without a fused multiply-add: xsimd 8.1's
  // avx512f fnma is a separate multiply and add, and unoptimised or instrumented builds do not
  // contract them (a full-precision ln2_hi then lost 64 ulp near y = −83).
  const batch r = (y - k * batch(0.693359375f)) - k * batch(-2.12194440e-4f);
  batch p(1.0f / 40320.0f);  // 1/8!
  for (const float c : {1.0f / 5040.0f, 1.0f / 720.0f, 1.0f / 120.0f, 1.0f / 24.0f, 1.0f / 6.0f, 0.5f,
                        1.0f, 1.0f}) {
    p = xsimd::fma(p, r, batch(c));
  }
  const bits k_int = xsimd::bitwise_cast<bits>(k_shifted) - xsimd::bitwise_cast<bits>(shift);
  const bits k_half = k_int >> 1;  // arithmetic shift: floor(k / 2)
  const batch two_to_half = xsimd::bitwise_cast<batch>((k_half + bits(127)) << 23);
  const batch two_to_rest = xsimd::bitwise_cast<batch>((k_int - k_half + bits(127)) << 23);
  return (p * two_to_half) * two_to_rest;
}

// tanh in float lanes for every finite x. |x| is clamped to 10 first: from |x| = 13·ln2/2 = 9.0109
// on, 2/(1 + e^{2|x|}) < 2^-25, half an ulp below 1, so tanh(x) rounds to ±1 in float, and at 10 the
// term is 4.1e-9, far from that tie, so the clamp changes no result and e^{2|x|} never overflows.
// |x| < 0.625: x + x·z·P(z) with z = x², Cephes' tanhf polynomial (truncation error below 9e-9
// relative); otherwise 1 − 2/(1 + e^{2|x|}). The sign of x is put back at the end.
template <class Arch>
xsimd::batch<float, Arch> tanh_in_range(const xsimd::batch<float, Arch>& x_signed) {
  using batch = xsimd::batch<float, Arch>;
  const batch one(1.0f);
  const batch x = xsimd::min(xsimd::abs(x_signed), batch(10.0f));
  const auto small = x < batch(0.625f);
  const batch z = x * x;
  batch P(-5.70498872745e-3f);
  for (const float c : {2.06390887954e-2f, -5.37397155531e-2f, 1.33314422036e-1f, -3.33332819422e-1f}) {
    P = xsimd::fma(P, z, batch(c));
  }
  const batch e = exp_in_range<Arch>(xsimd::select(small, batch(0.0f), x + x));
  const batch large = xsimd::fma(batch(-2.0f), one / (one + e), one);
  const batch magnitude = xsimd::select(small, xsimd::fma(x * z, P, x), large);
  return magnitude ^ xsimd::bitofsign(x_signed);
}

// y = f(x) batch by batch; the last, partial batch goes through a padded copy, so that every
// element gets the same function. A batch with a lane that vector_ok rejects (those outside the
// vector formula's range, NaN) is computed by the C library's scalar f instead.
template <class Arch, class T, class Ok, class Vector, class Scalar>
void map(const T* x, T* y, std::size_t n, Ok vector_ok, Vector vector_f, Scalar scalar_f) {
  using batch = xsimd::batch<T, Arch>;
  constexpr std::size_t width = batch::size;
  const auto one = [&](const T* in, T* out) {
    const batch b = batch::load_unaligned(in);
    if (xsimd::all(vector_ok(b))) {
      vector_f(b).store_unaligned(out);
    } else {
      for (std::size_t k = 0; k < width; ++k) out[k] = scalar_f(in[k]);
    }
  };
  std::size_t i = 0;
  for (; i + width <= n; i += width) one(x + i, y + i);
  if (i < n) {
    T in[width] = {}, out[width];
    for (std::size_t k = 0; i + k < n; ++k) in[k] = x[i + k];
    one(in, out);
    for (std::size_t k = 0; i + k < n; ++k) y[i + k] = out[k];
  }
}

// Within [lo, hi]; false for NaN.
template <class Arch, class T>
auto within(T lo, T hi) {
  using batch = xsimd::batch<T, Arch>;
  return [lo, hi](const batch& b) { return (b >= batch(lo)) & (b <= batch(hi)); };
}

// Double: NaN and ±inf go to the C library; every finite x is in tanh_in_range's range.
template <class Arch>
void tanh(const double* x, double* y, std::size_t n) {
  map<Arch>(x, y, n, within<Arch>(-DBL_MAX, DBL_MAX),
            [](const auto& b) { return tanh_in_range<Arch>(b); }, [](double v) { return std::tanh(v); });
}

// Below −745.2 e^x is below half the smallest subnormal and rounds to 0, as the C library's does:
// those lanes (masked attention scores of −1e9, say) stay on the vector path. Between −745.2 and
// −708 the result is subnormal, and the C library computes it.
template <class Arch>
void exp(const double* x, double* y, std::size_t n) {
  using batch = xsimd::batch<double, Arch>;
  const auto in_range = within<Arch>(-708.0, 709.0);
  map<Arch>(x, y, n, [&](const batch& b) { return in_range(b) | (b < batch(-745.2)); },
            [](const batch& b) {
              return xsimd::select(b < batch(-745.2), batch(0.0), exp_in_range<Arch>(xsimd::max(b, batch(-708.0))));
            },
            [](double v) { return std::exp(v); });
}

// Float: NaN and ±inf go to the C library (tanhf); every finite x is in tanh_in_range's range.
template <class Arch>
void tanh(const float* x, float* y, std::size_t n) {
  map<Arch>(x, y, n, within<Arch>(-FLT_MAX, FLT_MAX), [](const auto& b) { return tanh_in_range<Arch>(b); },
            [](float v) { return std::tanh(v); });
}

template <class Arch>
void exp(const float* x, float* y, std::size_t n) {
  map<Arch>(x, y, n, within<Arch>(-87.33f, 88.72f), [](const auto& b) { return exp_in_range<Arch>(b); },
            [](float v) { return std::exp(v); });
}

}  // namespace autograd::kernels::simd
