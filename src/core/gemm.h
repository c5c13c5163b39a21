/* core/gemm.h: the matrix product, row-major, strides in elements.
 *
 *   C[M,N] = alpha * op(A)[M,K] @ op(B)[K,N] + beta * C
 *
 * op(X) is X, or X^T when its flag (ta, tb) is set.  A is stored [M,K] with row stride lda,
 * or, when ta, [K,M] with row stride lda; B is stored [K,N] (ldb), or, when tb, [N,K] (ldb);
 * C is stored [M,N] (ldc).  BLAS conventions: lda >= max(1, stored columns) etc.;
 * M == 0 or N == 0 does nothing; K == 0 (or alpha == 0) gives C = beta * C without reading
 * A or B; beta == 0 overwrites C without reading it (NaNs in C do not survive).
 *
 * Backend (see docs/gemm.md for the measurements behind it):
 *   f32: oneDNN's matmul primitive (brgemm, AVX-512 here), one primitive per
 *        (shape, transposes, leading dimensions, alpha, beta, thread count) kept in a small
 *        cache; small products run dnnl_sgemm and tiny ones a plain loop.
 *   f64: nnc's own packed, blocked kernel (oneDNN has no f64), OpenMP over row blocks.
 *
 * Threads: the kernels use omp_get_max_threads() threads at the time of the call, so
 * omp_set_num_threads() / nnc_set_threads() takes effect on the next call.
 * Thread safety: every function here may be called from any thread.  The primitive cache
 * serves one caller at a time; a call that finds it busy (another thread inside it), or that
 * is made from inside an OpenMP parallel region, runs the stateless dnnl_sgemm instead, which
 * gives the same result up to rounding order. */
#ifndef NNC_GEMM_H
#define NNC_GEMM_H
#include <stdbool.h>
#include <stdint.h>

/* C[M,N] = alpha * op(A)[M,K] @ op(B)[K,N] + beta * C; op(X) = X or X^T per ta/tb.
 * A is stored [M,K] (lda) or, if ta, [K,M] (lda); B is stored [K,N] (ldb) or, if tb, [N,K]. */
void nnc_gemm_f32(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha,
                  const float *A, int64_t lda, const float *B, int64_t ldb, float beta,
                  float *C, int64_t ldc);
/* The same in float64. */
void nnc_gemm_f64(bool ta, bool tb, int64_t M, int64_t N, int64_t K, double alpha,
                  const double *A, int64_t lda, const double *B, int64_t ldb, double beta,
                  double *C, int64_t ldc);

/* Batched: for b in [0, batch): C_b[M,N] = alpha * op(A_b) @ op(B_b) + beta * C_b with
 * A_b = A + b*strideA, B_b = B + b*strideB, C_b = C + b*strideC.  strideA or strideB may be
 * 0 (one matrix broadcast over the batch).  strideC == 0 is allowed and means the batches run
 * in order, each one reading the C the previous one wrote (with beta = 1 this sums the
 * products over the batch). */
void nnc_gemm_batched_f32(bool ta, bool tb, int64_t batch, int64_t M, int64_t N, int64_t K,
                          float alpha, const float *A, int64_t lda, int64_t strideA,
                          const float *B, int64_t ldb, int64_t strideB, float beta,
                          float *C, int64_t ldc, int64_t strideC);
void nnc_gemm_batched_f64(bool ta, bool tb, int64_t batch, int64_t M, int64_t N, int64_t K,
                          double alpha, const double *A, int64_t lda, int64_t strideA,
                          const double *B, int64_t ldb, int64_t strideB, double beta,
                          double *C, int64_t ldc, int64_t strideC);

/* The reference kernels: C[M,N] = alpha * op(A) @ op(B) + beta * C by the plain triple loop,
 * accumulating in double; single-threaded, no blocking.  Kept forever as the oracle for the
 * fast kernels. */
void nnc_gemm_ref_f32(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha,
                      const float *A, int64_t lda, const float *B, int64_t ldb, float beta,
                      float *C, int64_t ldc);
void nnc_gemm_ref_f64(bool ta, bool tb, int64_t M, int64_t N, int64_t K, double alpha,
                      const double *A, int64_t lda, const double *B, int64_t ldb, double beta,
                      double *C, int64_t ldc);

/* The active f32 backend, for reports: "onednn-matmul". */
const char *nnc_gemm_backend(void);

/* Frees the cached oneDNN primitives (they are re-made on demand).  Not needed in normal use;
 * for leak checkers and tests.  Must not run concurrently with a gemm call. */
void nnc_gemm_cache_clear(void);

/* f32 statistics since start (or the last clear): primitive cache hits, misses (primitives
 * made) and calls served by dnnl_sgemm (small shapes, a busy cache, a refused layout).
 * Any pointer may be NULL. */
void nnc_gemm_cache_stats(int64_t *hits, int64_t *misses, int64_t *sgemm_calls);

#endif
