#include "autograd/blas.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

// xtensor-blas declares the cblas interface; OpenBLAS's own <cblas.h> conflicts with it.
#include <xtensor-blas/xblas.hpp>

namespace autograd::blas {

namespace {

void call_gemm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int m, int n, int k, double alpha,
               const double* A, int lda, const double* B, int ldb, double beta, double* C, int ldc) {
  cblas_dgemm(CblasRowMajor, ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
}

void call_gemm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int m, int n, int k, float alpha,
               const float* A, int lda, const float* B, int ldb, float beta, float* C, int ldc) {
  cblas_sgemm(CblasRowMajor, ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
}

template <class T>
void gemm_any(bool trans_a, bool trans_b, T alpha, const BasicMatrix<T>& A, const BasicMatrix<T>& B,
              T beta, BasicMatrix<T>& C) {
  const auto m = static_cast<int>(trans_a ? A.shape(1) : A.shape(0));
  const auto k = static_cast<int>(trans_a ? A.shape(0) : A.shape(1));
  const auto n = static_cast<int>(trans_b ? B.shape(0) : B.shape(1));
  // BLAS writes C blindly, past its end if the shapes disagree (outside AddressSanitizer's view):
  // check every dimension against the ones C was sized for.
  const auto kb = static_cast<int>(trans_b ? B.shape(1) : B.shape(0));
  if (kb != k || static_cast<int>(C.shape(0)) != m || static_cast<int>(C.shape(1)) != n) {
    throw std::logic_error("gemm: " + std::string(trans_a ? "transposed " : "") + shape_str(A) +
                           " · " + (trans_b ? "transposed " : "") + shape_str(B) + " into " +
                           shape_str(C));
  }
  if (m == 0 || n == 0) return;
  if (k == 0) {  // an empty sum: BLAS would read no A or B
    if (beta == T(0)) {
      C.fill(T(0));
    } else {
      C *= beta;
    }
    return;
  }
  const int lda = std::max<int>(1, static_cast<int>(A.shape(1)));
  const int ldb = std::max<int>(1, static_cast<int>(B.shape(1)));
  const int ldc = std::max<int>(1, static_cast<int>(C.shape(1)));
  call_gemm(trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, m, n, k, alpha,
            A.data(), lda, B.data(), ldb, beta, C.data(), ldc);
}

}  // namespace

void gemm(bool trans_a, bool trans_b, double alpha, const Matrix& A, const Matrix& B, double beta,
          Matrix& C) {
  gemm_any(trans_a, trans_b, alpha, A, B, beta, C);
}

void gemm(bool trans_a, bool trans_b, float alpha, const Matrix32& A, const Matrix32& B, float beta,
          Matrix32& C) {
  gemm_any(trans_a, trans_b, alpha, A, B, beta, C);
}

}  // namespace autograd::blas
