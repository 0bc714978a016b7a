#pragma once
// Matrix products through BLAS, kept out of the public headers: xtensor-blas is heavy to compile.
#include "autograd/tensor.hpp"

namespace autograd::blas {

// C = alpha · op(A) · op(B) + beta · C, where op transposes when the flag is set. The transposes are
// BLAS flags, never copies. C must already have the result's shape (beta = 1 accumulates into it).
void gemm(bool trans_a, bool trans_b, double alpha, const Matrix& A, const Matrix& B, double beta,
          Matrix& C);
void gemm(bool trans_a, bool trans_b, float alpha, const Matrix32& A, const Matrix32& B, float beta,
          Matrix32& C);  // the same through cblas_sgemm

}  // namespace autograd::blas
