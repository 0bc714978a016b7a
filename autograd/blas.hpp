#pragma once
// Matrix products through BLAS, kept out of the public headers: xtensor-blas is heavy to compile.
#include <cstddef>

#include "autograd/tensor.hpp"

namespace autograd::blas {

// C = alpha · op(A) · op(B) + beta · C, where op transposes when the flag is set. The transposes are
// BLAS flags, never copies. C must already have the result's shape (beta = 1 accumulates into it).
void gemm(bool trans_a, bool trans_b, double alpha, const Matrix& A, const Matrix& B, double beta,
          Matrix& C);
void gemm(bool trans_a, bool trans_b, float alpha, const Matrix32& A, const Matrix32& B, float beta,
          Matrix32& C);  // the same through cblas_sgemm

// The same on row-major storage the caller owns (a slice of a batch): op(A) is [m x k], op(B)
// [k x n] and C [m x n]; lda, ldb and ldc are the row strides of A, B and C as stored (so of Aᵀ
// when trans_a is set). Sizes beyond BLAS's int, or a stride shorter than its row, throw
// std::logic_error; an empty product (k = 0) scales C by beta without reading A or B.
void gemm(bool trans_a, bool trans_b, std::size_t m, std::size_t n, std::size_t k, double alpha,
          const double* A, std::size_t lda, const double* B, std::size_t ldb, double beta, double* C,
          std::size_t ldc);
void gemm(bool trans_a, bool trans_b, std::size_t m, std::size_t n, std::size_t k, float alpha,
          const float* A, std::size_t lda, const float* B, std::size_t ldb, float beta, float* C,
          std::size_t ldc);  // the same through cblas_sgemm

}  // namespace autograd::blas
