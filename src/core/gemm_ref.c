/* core/gemm_ref.c: the reference matrix products (the test oracle).  Plain triple loop,
 * double accumulation, BLAS conventions: beta == 0 does not read C, alpha == 0 ignores A and B. */
#include "core/gemm.h"

/* C[M,N] = alpha * op(A)[M,K] @ op(B)[K,N] + beta * C; A is [M,K] (lda) or, if ta, [K,M];
 * B is [K,N] (ldb) or, if tb, [N,K]. */
void nnc_gemm_ref_f32(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha,
                      const float *A, int64_t lda, const float *B, int64_t ldb, float beta,
                      float *C, int64_t ldc) {
  for (int64_t i = 0; i < M; i++)
    for (int64_t j = 0; j < N; j++) {
      double s = 0.0;
      for (int64_t k = 0; k < K; k++) {
        double a = ta ? A[k * lda + i] : A[i * lda + k];
        double b = tb ? B[j * ldb + k] : B[k * ldb + j];
        s += a * b;
      }
      double ab = alpha == 0.0f ? 0.0 : (double)alpha * s; /* alpha == 0: A, B not used */
      double c = beta == 0.0f ? 0.0 : (double)beta * C[i * ldc + j];
      C[i * ldc + j] = (float)(ab + c);
    }
}

/* C[M,N] = alpha * op(A)[M,K] @ op(B)[K,N] + beta * C, in float64. */
void nnc_gemm_ref_f64(bool ta, bool tb, int64_t M, int64_t N, int64_t K, double alpha,
                      const double *A, int64_t lda, const double *B, int64_t ldb, double beta,
                      double *C, int64_t ldc) {
  for (int64_t i = 0; i < M; i++)
    for (int64_t j = 0; j < N; j++) {
      double s = 0.0;
      for (int64_t k = 0; k < K; k++) {
        double a = ta ? A[k * lda + i] : A[i * lda + k];
        double b = tb ? B[j * ldb + k] : B[k * ldb + j];
        s += a * b;
      }
      double ab = alpha == 0.0 ? 0.0 : alpha * s;
      double c = beta == 0.0 ? 0.0 : beta * C[i * ldc + j];
      C[i * ldc + j] = ab + c;
    }
}
