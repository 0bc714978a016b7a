// The vectorised tanh and exp (autograd/kernels.hpp) against the C library.
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "autograd/kernels.hpp"

namespace {

// Distance in units in the last place: how many doubles lie between a and b. NaN matches only NaN;
// values of opposite signs (other than ±0) count as infinitely far apart.
double ulps(double a, double b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b) ? 0.0 : INFINITY;
  if (a == b) return 0.0;  // also +0 and −0
  if (std::signbit(a) != std::signbit(b)) return INFINITY;
  std::uint64_t ia, ib;  // for doubles of one sign, the bit patterns are ordered like the values
  std::memcpy(&ia, &a, sizeof ia);
  std::memcpy(&ib, &b, sizeof ib);
  return static_cast<double>(ia > ib ? ia - ib : ib - ia);
}

// The same for floats, on their 32-bit patterns.
double ulps(float a, float b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b) ? 0.0 : INFINITY;
  if (a == b) return 0.0;
  if (std::signbit(a) != std::signbit(b)) return INFINITY;
  std::uint32_t ia, ib;
  std::memcpy(&ia, &a, sizeof ia);
  std::memcpy(&ib, &b, sizeof ib);
  return static_cast<double>(ia > ib ? ia - ib : ib - ia);
}

// A dense grid over [lo, hi], the edge cases, and random values in between.
std::vector<double> inputs(double lo, double hi) {
  std::vector<double> x;
  for (double v = lo; v <= hi; v += (hi - lo) / 400000) x.push_back(v);
  for (double m = 1e-310; m < 1.0; m *= 1.07) x.insert(x.end(), {m, -m});
  std::mt19937_64 bits(42);
  for (int i = 0; i < 100000; ++i) x.push_back(lo + (hi - lo) * double(bits() >> 11) * 0x1.0p-53);
  x.insert(x.end(), {0.0, -0.0, INFINITY, -INFINITY, NAN, 19.0, 20.0, 20.5, -20.5, 0.625,
                     std::nextafter(0.625, 0.0), 708.0, 709.0, 709.78, 709.79, -708.0, -708.5, -745.2,
                     -745.1, -745.3, -1e9, 1e9, -1e300, 1e300, 19.06, -19.07});
  return x;
}

// For float: a dense grid over [lo, hi] (every 2^-8 of the width apart: 2^20 points, several per
// ulp near 0.625), powers 1.07 apart from the subnormal 1e-40 up to 1 (1e-45 · 1.07 would round
// back to 1e-45), the smallest subnormals, random values, and the edges of
// the kernels' ranges: tanh's polynomial below 0.625, its clamp at 10 (±1 from 9.0109 on), exp's
// vector range [-87.33, 88.72] and the C library's beyond (overflow from 88.7228, subnormal results
// below −87.3365, zero below −103.98).
std::vector<float> inputs_f(float lo, float hi) {
  std::vector<float> x;
  const double step = (double(hi) - lo) / (1 << 20);
  for (double v = lo; v <= hi; v += step) x.push_back(static_cast<float>(v));
  for (float m = 1e-40f; m < 1.0f; m *= 1.07f) x.insert(x.end(), {m, -m});
  for (const float m : {FLT_TRUE_MIN, 2 * FLT_TRUE_MIN, FLT_MIN, std::nextafter(FLT_MIN, 0.0f)}) {
    x.insert(x.end(), {m, -m});
  }
  std::mt19937 bits(42);
  for (int i = 0; i < 200000; ++i) x.push_back(lo + (hi - lo) * float(bits() >> 8) * 0x1.0p-24f);
  for (const float v : {0.625f, 9.0109f, 10.0f, 20.0f, 44.4f, 1e30f, FLT_MAX, -87.33f, 88.72f, 88.7228f,
                        88.7229f, -87.3365f, -103.97f, -103.98f, -104.0f}) {
    x.insert(x.end(), {v, std::nextafter(v, 0.0f), std::nextafter(v, INFINITY), -v,
                       std::nextafter(-v, 0.0f), std::nextafter(-v, -INFINITY)});
  }
  x.insert(x.end(), {0.0f, -0.0f, INFINITY, -INFINITY, NAN, -NAN});
  return x;
}

struct Worst {
  double ulps = 0.0, at = 0.0, got = 0.0, want = 0.0;
};

template <class T, class Kernel, class Reference>
Worst compare(Kernel kernel, Reference reference, const std::vector<T>& x) {
  std::vector<T> y(x.size());
  kernel(x.data(), y.data(), x.size());
  Worst w;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double d = ulps(y[i], reference(x[i]));
    if (d > w.ulps) w = {d, x[i], y[i], reference(x[i])};
  }
  return w;
}

}  // namespace

// Each instruction set this CPU has, one after the other; the best one again afterwards.
struct EachInstructionSet {
  EachInstructionSet() : best(autograd::kernels::instruction_set()) {}
  ~EachInstructionSet() { autograd::kernels::use_instruction_set(best); }
  std::string best;
};

TEST_CASE("tanh and exp kernels are within 2 ulp of the C library", "[kernels]") {
  EachInstructionSet restore;
  const std::string set = GENERATE(from_range(autograd::kernels::available_instruction_sets()));
  autograd::kernels::use_instruction_set(set);
  INFO("instruction set: " << set);
  // The C library is within 1 ulp of the exact values and the kernels' formulas within 2 (Cephes'
  // rational function for small |x|, measured); a wrong coefficient or range reduction errs by far
  // more than 2 ulp.
  using Kernel = void (*)(const double*, double*, std::size_t);
  const Worst t = compare(Kernel(autograd::kernels::tanh), [](double v) { return std::tanh(v); }, inputs(-25, 25));
  INFO("tanh: " << t.ulps << " ulp at x = " << t.at << ": " << t.got << " instead of " << t.want);
  CHECK(t.ulps <= 2);
  const Worst e = compare(Kernel(autograd::kernels::exp), [](double v) { return std::exp(v); }, inputs(-760, 720));
  INFO("exp: " << e.ulps << " ulp at x = " << e.at << ": " << e.got << " instead of " << e.want);
  CHECK(e.ulps <= 2);
}

TEST_CASE("float tanh and exp kernels are within 2 ulp of the C library's tanhf and expf", "[kernels]") {
  EachInstructionSet restore;
  const std::string set = GENERATE(from_range(autograd::kernels::available_instruction_sets()));
  autograd::kernels::use_instruction_set(set);
  INFO("instruction set: " << set);
  // As for double: glibc's tanhf and expf are within 1 ulp of the exact values, and the kernels'
  // truncation errors are a small fraction of an ulp; a wrong coefficient, range reduction or
  // range bound errs by more than 2 ulp. Seen to fail: tanhf's z coefficient −0.333332819422 as
  // −0.33334 (42 ulp) or z² 0.0206390887954 as 0.0207 (16 ulp), the polynomial up to 0.5 instead of
  // 0.625 (3 ulp), the clamp at 8 instead of 10 (4 ulp), exp's ln2_lo left out (5 ulp), the exponent
  // bias 128 instead of 127 (1.7e7 ulp). Within 2 ulp, so not caught: 1/7! left out of exp's list
  // (degree 7 with 1/8! for r^7), the clamp at 8.5, and exp's vector range widened to
  // [−87.5, 88.75] (it stays right there).
  using Kernel = void (*)(const float*, float*, std::size_t);
  const Worst t = compare(Kernel(autograd::kernels::tanh), [](float v) { return std::tanh(v); },
                          inputs_f(-12.0f, 12.0f));
  INFO("tanh: " << t.ulps << " ulp at x = " << t.at << ": " << t.got << " instead of " << t.want);
  CHECK(t.ulps <= 2);
  const Worst e = compare(Kernel(autograd::kernels::exp), [](float v) { return std::exp(v); },
                          inputs_f(-110.0f, 95.0f));
  INFO("exp: " << e.ulps << " ulp at x = " << e.at << ": " << e.got << " instead of " << e.want);
  CHECK(e.ulps <= 2);
  // The worst cases, for the record (run with -s).
  SUCCEED("float " << set << ": tanh " << t.ulps << " ulp at " << t.at << ", exp " << e.ulps << " ulp at " << e.at);
}

TEST_CASE("tanh and exp kernels give an element the same value at any array length", "[kernels]") {
  EachInstructionSet restore;
  const std::string set = GENERATE(from_range(autograd::kernels::available_instruction_sets()));
  autograd::kernels::use_instruction_set(set);
  INFO("instruction set: " << set);
  // The kernels work in batches of 4 or 8; the tail of an array takes another path.
  std::vector<double> x(19);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = 0.37 * double(i) - 3.1;
  using Kernel = void (*)(const double*, double*, std::size_t);
  for (const Kernel kernel : {Kernel(autograd::kernels::tanh), Kernel(autograd::kernels::exp)}) {
    std::vector<double> full(x.size());
    kernel(x.data(), full.data(), x.size());
    for (std::size_t n = 0; n <= x.size(); ++n) {
      std::vector<double> part(x.begin(), x.begin() + static_cast<std::ptrdiff_t>(n));
      kernel(part.data(), part.data(), n);  // in place
      for (std::size_t i = 0; i < n; ++i) {
        INFO("length " << n << ", element " << i);
        CHECK(ulps(part[i], full[i]) == 0);  // bit for bit (== would fail for NaN)
      }
    }
  }
}

TEST_CASE("float tanh and exp kernels give an element the same value at any array length", "[kernels]") {
  EachInstructionSet restore;
  const std::string set = GENERATE(from_range(autograd::kernels::available_instruction_sets()));
  autograd::kernels::use_instruction_set(set);
  INFO("instruction set: " << set);
  // Batches of 8 or 16 floats: 37 elements are two full batches of 16 and a tail, or four of 8 and one.
  std::vector<float> x(37);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = 0.37f * float(i) - 6.1f;
  using Kernel = void (*)(const float*, float*, std::size_t);
  for (const Kernel kernel : {Kernel(autograd::kernels::tanh), Kernel(autograd::kernels::exp)}) {
    std::vector<float> full(x.size());
    kernel(x.data(), full.data(), x.size());
    for (std::size_t n = 0; n <= x.size(); ++n) {
      std::vector<float> part(x.begin(), x.begin() + static_cast<std::ptrdiff_t>(n));
      kernel(part.data(), part.data(), n);  // in place
      for (std::size_t i = 0; i < n; ++i) {
        INFO("length " << n << ", element " << i);
        CHECK(ulps(part[i], full[i]) == 0);
      }
    }
  }
}

TEST_CASE("asking for an instruction set the CPU lacks names the ones it has", "[kernels]") {
  const std::string best = autograd::kernels::instruction_set();
  try {
    autograd::kernels::use_instruction_set("sse9");
    FAIL("no error");
  } catch (const std::invalid_argument& e) {
    CHECK_THAT(e.what(), Catch::Matchers::Contains("'sse9' is not available") &&
                             Catch::Matchers::Contains("scalar"));
  }
  CHECK(autograd::kernels::instruction_set() == best);
}
