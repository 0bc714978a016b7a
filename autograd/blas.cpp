#include "autograd/blas.hpp"

#include <algorithm>
#include <limits>
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
void gemm_raw(bool trans_a, bool trans_b, std::size_t m, std::size_t n, std::size_t k, T alpha,
              const T* A, std::size_t lda, const T* B, std::size_t ldb, T beta, T* C, std::size_t ldc) {
  if (m == 0 || n == 0) return;
  if (k == 0) {  // an empty sum: BLAS would read no A or B
    for (std::size_t r = 0; r < m; ++r) {
      T* c = C + r * ldc;
      for (std::size_t j = 0; j < n; ++j) c[j] = beta == T(0) ? T(0) : c[j] * beta;
    }
    return;
  }
  // BLAS takes int sizes and reads rows of lda elements: refuse what it would misread.
  constexpr std::size_t int_max = static_cast<std::size_t>(std::numeric_limits<int>::max());
  const std::size_t row_a = trans_a ? m : k, row_b = trans_b ? k : n;
  if (m > int_max || n > int_max || k > int_max || lda > int_max || ldb > int_max || ldc > int_max ||
      lda < row_a || ldb < row_b || ldc < n) {
    throw std::logic_error("gemm: [" + std::to_string(m) + " x " + std::to_string(k) + "] · [" +
                           std::to_string(k) + " x " + std::to_string(n) + "] with row strides " +
                           std::to_string(lda) + ", " + std::to_string(ldb) + ", " +
                           std::to_string(ldc) + " cannot go to BLAS");
  }
  call_gemm(trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans,
            static_cast<int>(m), static_cast<int>(n), static_cast<int>(k), alpha, A,
            static_cast<int>(lda), B, static_cast<int>(ldb), beta, C, static_cast<int>(ldc));
}

template <class T>
void gemm_any(bool trans_a, bool trans_b, T alpha, const BasicMatrix<T>& A, const BasicMatrix<T>& B,
              T beta, BasicMatrix<T>& C) {
  const std::size_t m = trans_a ? A.shape(1) : A.shape(0);
  const std::size_t k = trans_a ? A.shape(0) : A.shape(1);
  const std::size_t n = trans_b ? B.shape(0) : B.shape(1);
  // BLAS writes C blindly, past its end if the shapes disagree (outside AddressSanitizer's view):
  // check every dimension against the ones C was sized for.
  const std::size_t kb = trans_b ? B.shape(1) : B.shape(0);
  if (kb != k || C.shape(0) != m || C.shape(1) != n) {
    throw std::logic_error("gemm: " + std::string(trans_a ? "transposed " : "") + shape_str(A) +
                           " · " + (trans_b ? "transposed " : "") + shape_str(B) + " into " +
                           shape_str(C));
  }
  gemm_raw(trans_a, trans_b, m, n, k, alpha, A.data(), A.shape(1), B.data(), B.shape(1), beta,
           C.data(), C.shape(1));
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

void gemm(bool trans_a, bool trans_b, std::size_t m, std::size_t n, std::size_t k, double alpha,
          const double* A, std::size_t lda, const double* B, std::size_t ldb, double beta, double* C,
          std::size_t ldc) {
  gemm_raw(trans_a, trans_b, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
}

void gemm(bool trans_a, bool trans_b, std::size_t m, std::size_t n, std::size_t k, float alpha,
          const float* A, std::size_t lda, const float* B, std::size_t ldb, float beta, float* C,
          std::size_t ldc) {
  gemm_raw(trans_a, trans_b, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
}

}  // namespace autograd::blas
