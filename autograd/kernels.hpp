#pragma once
/// \file
/// Elementwise tanh and exp over contiguous arrays, vectorised for the CPU the program runs on.
///
/// The kernels use the widest SIMD instructions of that CPU (chosen once, at run time), so that
/// portable builds are fast too: compiled for plain x86-64, xsimd has only SSE2, whose tanh is no
/// faster than the C library's (7.6 ns per element here; these kernels: 0.7 ns with AVX-512,
/// 1.35 ns with AVX2).
/// Results are within 2 ulp of std::tanh / std::exp; near overflow, for subnormal results, ±inf and
/// NaN the C library computes the value.
/// Float overloads: the same structure in float lanes (8 with AVX2, 16 with AVX-512), within 2 ulp of
/// tanhf / expf (exhaustively over all 2^32 floats: tanh 2 ulp, exp 1 ulp). Timed in one run with
/// the double kernels, 4096 elements in cache, on a loaded machine (the double numbers there were
/// about 2.5 times the quiet ones above): tanh float 0.7 ns per element vs double 1.8 (AVX-512),
/// 1.15 vs 2.85 (AVX2); exp float 0.32 vs 1.1 (AVX-512), 0.6 vs 1.65 (AVX2).
#include <cstddef>
#include <string>
#include <vector>

/// Vectorised elementwise tanh and exp over contiguous arrays, with the instruction set chosen at
/// run time (see kernels.hpp).
namespace autograd::kernels {

void tanh(const double* x, double* y, std::size_t n);  ///< y[i] = tanh(x[i]) for i < n; y may be x.
void exp(const double* x, double* y, std::size_t n);   ///< y[i] = exp(x[i]) for i < n; y may be x.
/// float32: y[i] = tanh(x[i]) for i < n, within 2 ulp of std::tanh(float); y may be x.
void tanh(const float* x, float* y, std::size_t n);
/// float32: y[i] = exp(x[i]) for i < n, within 2 ulp of std::exp(float); y may be x.
void exp(const float* x, float* y, std::size_t n);

/// The instruction set the kernels use: "avx512", "avx2+fma" or "scalar" (the C library's functions).
const char* instruction_set();
/// Those this build and this CPU support, best first; the kernels start with the first.
std::vector<std::string> available_instruction_sets();
/// Switches the kernels to one of the available sets, for tests and benchmarks; not while other
/// threads are computing. Throws std::invalid_argument for a set that is not available.
void use_instruction_set(const std::string& name);

}  // namespace autograd::kernels
