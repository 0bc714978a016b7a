// The kernels compiled for AVX-512F (this file only); kernels.cpp calls them on CPUs that have it.
#include "autograd/kernels_simd.hpp"

namespace autograd::kernels {

void tanh_avx512(const double* x, double* y, std::size_t n) { simd::tanh<xsimd::avx512f>(x, y, n); }
void exp_avx512(const double* x, double* y, std::size_t n) { simd::exp<xsimd::avx512f>(x, y, n); }
void tanh_avx512(const float* x, float* y, std::size_t n) { simd::tanh<xsimd::avx512f>(x, y, n); }
void exp_avx512(const float* x, float* y, std::size_t n) { simd::exp<xsimd::avx512f>(x, y, n); }

}  // namespace autograd::kernels
