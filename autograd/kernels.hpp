#pragma once
// Elementwise math over contiguous arrays, vectorised with the widest SIMD instructions of the CPU
// the program runs on (chosen once, at run time), so that portable builds are fast too: compiled
// for plain x86-64, xsimd has only SSE2, whose tanh is no faster than the C library's (7.6 ns per
// element here; these kernels: 0.7 ns with AVX-512, 1.35 ns with AVX2).
// Results are within 2 ulp of std::tanh / std::exp; near overflow, for subnormal results, ±inf and
// NaN the C library computes the value.
#include <cstddef>
#include <string>
#include <vector>

namespace autograd::kernels {

void tanh(const double* x, double* y, std::size_t n);  // y[i] = tanh(x[i]); y may be x
void exp(const double* x, double* y, std::size_t n);   // y[i] = exp(x[i]); y may be x
void tanh(const float* x, float* y, std::size_t n);    // float32: within 2 ulp of std::tanh(float)
void exp(const float* x, float* y, std::size_t n);     // float32: within 2 ulp of std::exp(float)

// The instruction set the kernels use: "avx512", "avx2+fma" or "scalar" (the C library's functions).
const char* instruction_set();
// Those this build and this CPU support, best first; the kernels start with the first.
std::vector<std::string> available_instruction_sets();
// Switches the kernels to one of the available sets, for tests and benchmarks; not while other
// threads are computing. Throws std::invalid_argument for a set that is not available.
void use_instruction_set(const std::string& name);

}  // namespace autograd::kernels
