// The kernels compiled for AVX2 + FMA (this file only); kernels.cpp calls them on CPUs that have it.
#include "autograd/kernels_simd.hpp"

namespace autograd::kernels {

void tanh_avx2(const double* x, double* y, std::size_t n) { simd::tanh<xsimd::fma3<xsimd::avx2>>(x, y, n); }
void exp_avx2(const double* x, double* y, std::size_t n) { simd::exp<xsimd::fma3<xsimd::avx2>>(x, y, n); }
void tanh_avx2(const float* x, float* y, std::size_t n) { simd::tanh<xsimd::fma3<xsimd::avx2>>(x, y, n); }
void exp_avx2(const float* x, float* y, std::size_t n) { simd::exp<xsimd::fma3<xsimd::avx2>>(x, y, n); }

}  // namespace autograd::kernels
