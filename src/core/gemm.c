/* core/gemm.c: the fast matrix products.  Why this backend: docs/gemm.md.
 *
 * f32: oneDNN's matmul primitive.  Making a primitive costs far more than running a small one,
 *      so each (transposes, batch, M, N, K, strides, alpha, beta, thread count) gets one
 *      primitive, kept in a small open-addressing cache with its three memory objects; a call
 *      only swaps the data pointers and executes.  Alpha is baked in as an output scale and
 *      beta as a sum post-op (with a runtime scale oneDNN picks its slower gemm:jit path for
 *      small shapes).  The thread count is part of the key because oneDNN plans its work split
 *      for omp_get_max_threads() when the primitive is made (one made for 1 thread stays on
 *      1).  Tiny products run a plain loop and small ones dnnl_sgemm (stateless, and it keeps
 *      small work on one thread), as do calls that find the cache busy, come from inside an
 *      OpenMP parallel region, or have a layout oneDNN's matmul refuses.
 * f64: a packed, blocked kernel in C with GCC/Clang vector extensions (8x16 doubles per micro
 *      tile), OpenMP over tiles.  oneDNN has no f64, and OpenBLAS's dgemm is 1.7x slower here
 *      (its AVX2 kernels) and would add a library with a second thread pool. */
#include "core/gemm.h"

#include <omp.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/dnnl_cache.h"
#include "core/error.h"

/* ---------------------------------------------------------------- argument checks */

static void check_args(const char *op, bool ta, bool tb, int64_t M, int64_t N, int64_t K,
                       int64_t lda, int64_t ldb, int64_t ldc) {
  NNC_CHECK(M >= 0 && N >= 0 && K >= 0, op, "negative size M=%lld N=%lld K=%lld", (long long)M,
            (long long)N, (long long)K);
  int64_t acols = ta ? M : K, bcols = tb ? K : N;
  int64_t mina = acols > 1 ? acols : 1, minb = bcols > 1 ? bcols : 1, minc = N > 1 ? N : 1;
  NNC_CHECK(lda >= mina, op, "lda=%lld < %lld (A stored [%lld,%lld]%s)", (long long)lda,
            (long long)mina, (long long)(ta ? K : M), (long long)acols, ta ? ", ta" : "");
  NNC_CHECK(ldb >= minb, op, "ldb=%lld < %lld (B stored [%lld,%lld]%s)", (long long)ldb,
            (long long)minb, (long long)(tb ? N : K), (long long)bcols, tb ? ", tb" : "");
  NNC_CHECK(ldc >= minc, op, "ldc=%lld < %lld (C [%lld,%lld])", (long long)ldc, (long long)minc,
            (long long)M, (long long)N);
}

/* C[M,N] = beta * C (beta == 0 writes zeros without reading C). */
static void scale_f32(int64_t M, int64_t N, float beta, float *C, int64_t ldc) {
  if (beta == 1.0f) return;
  for (int64_t i = 0; i < M; i++) {
    float *c = C + i * ldc;
    if (beta == 0.0f) memset(c, 0, (size_t)N * sizeof *c);
    else for (int64_t j = 0; j < N; j++) c[j] *= beta;
  }
}

static void scale_f64(int64_t M, int64_t N, double beta, double *C, int64_t ldc) {
  if (beta == 1.0) return;
#pragma omp parallel for schedule(static) if (M * N >= 65536)
  for (int64_t i = 0; i < M; i++) {
    double *c = C + i * ldc;
    if (beta == 0.0) memset(c, 0, (size_t)N * sizeof *c);
    else for (int64_t j = 0; j < N; j++) c[j] *= beta;
  }
}

/* ---------------------------------------------------------------- tiny products */

/* Routing by size, from the crossover measurements in docs/gemm.md (M*N*K multiply-adds):
 *   <= TINY_MNK                      a plain loop (oneDNN's call costs ~0.2 us, the loop less);
 *   < SGEMM_MNK, or M <= 8, N == 1
 *   or K <= 4                        dnnl_sgemm (no primitive; it keeps small work on one
 *                                    thread, where matmul would fork threads for ~2 us);
 *   otherwise                        the cached matmul primitive. */
#ifndef TINY_MNK
#define TINY_MNK 256
#endif
#ifndef SGEMM_MNK
#define SGEMM_MNK 65536
#endif
#define TINY_F64_MNK 4096 /* below this the f64 kernel's packing and set-up cost more */

/* C[M,N] = alpha * op(A) @ op(B) + beta * C for tiny sizes, accumulating in the element type.
 * Written once for both types: T is float or double. */
#define DEFINE_GEMM_TINY(NAME, T)                                                             \
  static void NAME(bool ta, bool tb, int64_t M, int64_t N, int64_t K, T alpha, const T *A,    \
                   int64_t lda, const T *B, int64_t ldb, T beta, T *C, int64_t ldc) {         \
    T acc[64]; /* a row of C, 64 columns at a time */                                         \
    for (int64_t i = 0; i < M; i++)                                                           \
      for (int64_t j0 = 0; j0 < N; j0 += 64) {                                                \
        int64_t nb = N - j0 < 64 ? N - j0 : 64;                                               \
        for (int64_t j = 0; j < nb; j++) acc[j] = 0;                                          \
        for (int64_t k = 0; k < K; k++) {                                                     \
          T a = ta ? A[k * lda + i] : A[i * lda + k];                                         \
          if (tb) for (int64_t j = 0; j < nb; j++) acc[j] += a * B[(j0 + j) * ldb + k];       \
          else for (int64_t j = 0; j < nb; j++) acc[j] += a * B[k * ldb + j0 + j];            \
        }                                                                                     \
        T *c = C + i * ldc + j0;                                                              \
        for (int64_t j = 0; j < nb; j++) c[j] = alpha * acc[j] + (beta == 0 ? 0 : beta * c[j]); \
      }                                                                                       \
  }
DEFINE_GEMM_TINY(gemm_tiny_f32, float)
DEFINE_GEMM_TINY(gemm_tiny_f64, double)

/* ---------------------------------------------------------------- oneDNN primitive cache */

#define CACHE_SLOTS 256 /* power of two */
#define KEY_LEN 15

typedef struct {
  nnc_dnnl_slot slot; /* first: the key (core/dnnl_cache.h) */
  dnnl_primitive_t prim; /* NULL: oneDNN refused this layout; use dnnl_sgemm */
  dnnl_memory_t a, b, c;
} cache_entry;

static cache_entry cache[CACHE_SLOTS];
static atomic_flag cache_busy = ATOMIC_FLAG_INIT;
static _Atomic int64_t stat_hits, stat_misses, stat_sgemm; /* relaxed counters */

#define DNNL_OK(call) NNC_DNNL_OK("gemm", call)

static void entry_free(cache_entry *e) {
  if (e->prim) dnnl_primitive_destroy(e->prim);
  if (e->a) dnnl_memory_destroy(e->a);
  if (e->b) dnnl_memory_destroy(e->b);
  if (e->c) dnnl_memory_destroy(e->c);
  memset(e, 0, sizeof *e);
}

static int64_t float_bits(float x) {
  uint32_t u;
  memcpy(&u, &x, sizeof u);
  return (int64_t)u;
}

/* Describes a [batch, rows, cols] operand (batch == 0: a plain 2-D [rows, cols]) whose element
 * (b, r, c) lies at b*bstride + r*rs + c*cs. */
static dnnl_status_t make_desc(dnnl_memory_desc_t *d, int64_t batch, int64_t bstride,
                               int64_t rows, int64_t cols, int64_t rs, int64_t cs) {
  if (batch == 0) {
    dnnl_dims_t dims = {rows, cols}, strides = {rs, cs};
    return dnnl_memory_desc_init_by_strides(d, 2, dims, dnnl_f32, strides);
  }
  dnnl_dims_t dims = {batch, rows, cols}, strides = {bstride, rs, cs};
  return dnnl_memory_desc_init_by_strides(d, 3, dims, dnnl_f32, strides);
}

/* Makes the primitive for the key's problem; on refusal leaves e->prim NULL. */
static void entry_make(cache_entry *e, bool ta, bool tb, int64_t batch, int64_t M, int64_t N,
                       int64_t K, float alpha, int64_t lda, int64_t sA, int64_t ldb,
                       int64_t sB, float beta, int64_t ldc, int64_t sC) {
  /* batch == 0: 2-D.  Otherwise 3-D with a broadcast operand given batch 1. */
  int64_t bA = batch == 0 ? 0 : (sA == 0 ? 1 : batch), bB = batch == 0 ? 0 : (sB == 0 ? 1 : batch);
  int64_t bsA = sA ? sA : M * K, bsB = sB ? sB : K * N; /* any stride will do for a batch of 1 */
  dnnl_memory_desc_t ad, bd, cd;
  if (make_desc(&ad, bA, bsA, M, K, ta ? 1 : lda, ta ? lda : 1) != dnnl_success ||
      make_desc(&bd, bB, bsB, K, N, tb ? 1 : ldb, tb ? ldb : 1) != dnnl_success ||
      make_desc(&cd, batch, sC, M, N, ldc, 1) != dnnl_success)
    return;
  dnnl_matmul_desc_t md;
  if (dnnl_matmul_desc_init(&md, &ad, &bd, NULL, &cd) != dnnl_success) return;
  dnnl_primitive_attr_t attr;
  DNNL_OK(dnnl_primitive_attr_create(&attr));
  bool ok = true;
  if (alpha != 1.0f) ok = dnnl_primitive_attr_set_output_scales(attr, 1, 0, &alpha) == dnnl_success;
  if (ok && beta != 0.0f) {
    dnnl_post_ops_t po;
    DNNL_OK(dnnl_post_ops_create(&po));
    ok = dnnl_post_ops_append_sum(po, beta) == dnnl_success &&
         dnnl_primitive_attr_set_post_ops(attr, po) == dnnl_success;
    dnnl_post_ops_destroy(po);
  }
  dnnl_primitive_desc_t pd = NULL;
  if (ok && dnnl_primitive_desc_create(&pd, &md, attr, nnc_dnnl_engine(), NULL) != dnnl_success) pd = NULL;
  dnnl_primitive_attr_destroy(attr);
  if (!pd) return;
  dnnl_status_t st = dnnl_primitive_create(&e->prim, pd);
  dnnl_primitive_desc_destroy(pd);
  if (st != dnnl_success) { e->prim = NULL; return; }
  DNNL_OK(dnnl_memory_create(&e->a, &ad, nnc_dnnl_engine(), DNNL_MEMORY_NONE));
  DNNL_OK(dnnl_memory_create(&e->b, &bd, nnc_dnnl_engine(), DNNL_MEMORY_NONE));
  DNNL_OK(dnnl_memory_create(&e->c, &cd, nnc_dnnl_engine(), DNNL_MEMORY_NONE));
}

/* Runs the problem through a cached primitive.  Returns false if the caller must fall back
 * (cache busy, inside a parallel region, or oneDNN refused the layout). */
static bool onednn_matmul(bool ta, bool tb, int64_t batch, int64_t M, int64_t N, int64_t K,
                          float alpha, const float *A, int64_t lda, int64_t sA, const float *B,
                          int64_t ldb, int64_t sB, float beta, float *C, int64_t ldc, int64_t sC) {
  if (omp_in_parallel()) return false;
  if (atomic_flag_test_and_set_explicit(&cache_busy, memory_order_acquire)) return false;
  int64_t key[KEY_LEN] = {ta, tb, batch, M, N, K, lda, sA, ldb, sB, ldc, sC,
                          float_bits(alpha), float_bits(beta), omp_get_max_threads()};
  bool hit;
  cache_entry *e = nnc_dnnl_cache_find(cache, sizeof cache[0], CACHE_SLOTS, key, KEY_LEN, &hit);
  if (hit) {
    atomic_fetch_add_explicit(&stat_hits, 1, memory_order_relaxed);
  } else {
    entry_free(e);
    entry_make(e, ta, tb, batch, M, N, K, alpha, lda, sA, ldb, sB, beta, ldc, sC);
    nnc_dnnl_slot_set(&e->slot, key, KEY_LEN);
    atomic_fetch_add_explicit(&stat_misses, 1, memory_order_relaxed);
  }
  bool done = false;
  if (e->prim) {
    DNNL_OK(dnnl_memory_set_data_handle(e->a, (void *)A));
    DNNL_OK(dnnl_memory_set_data_handle(e->b, (void *)B));
    DNNL_OK(dnnl_memory_set_data_handle(e->c, C));
    dnnl_exec_arg_t args[3] = {
        {DNNL_ARG_SRC, e->a}, {DNNL_ARG_WEIGHTS, e->b}, {DNNL_ARG_DST, e->c}};
    DNNL_OK(dnnl_primitive_execute(e->prim, nnc_dnnl_stream(), 3, args));
    DNNL_OK(dnnl_stream_wait(nnc_dnnl_stream()));
    done = true;
  }
  atomic_flag_clear_explicit(&cache_busy, memory_order_release);
  return done;
}

void nnc_gemm_cache_clear(void) {
  for (int i = 0; i < CACHE_SLOTS; i++) entry_free(&cache[i]);
  atomic_store(&stat_hits, 0);
  atomic_store(&stat_misses, 0);
  atomic_store(&stat_sgemm, 0);
}

void nnc_gemm_cache_stats(int64_t *hits, int64_t *misses, int64_t *sgemm_calls) {
  if (hits) *hits = atomic_load(&stat_hits);
  if (misses) *misses = atomic_load(&stat_misses);
  if (sgemm_calls) *sgemm_calls = atomic_load(&stat_sgemm);
}

const char *nnc_gemm_backend(void) { return "onednn-matmul"; }

static void sgemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha,
                           const float *A, int64_t lda, const float *B, int64_t ldb, float beta,
                           float *C, int64_t ldc) {
  atomic_fetch_add_explicit(&stat_sgemm, 1, memory_order_relaxed);
  DNNL_OK(dnnl_sgemm(ta ? 'T' : 'N', tb ? 'T' : 'N', M, N, K, alpha, A, lda, B, ldb, beta, C, ldc));
}

/* C[M,N] = alpha * op(A)[M,K] @ op(B)[K,N] + beta * C (see gemm.h). */
void nnc_gemm_f32(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha,
                  const float *A, int64_t lda, const float *B, int64_t ldb, float beta,
                  float *C, int64_t ldc) {
  check_args("gemm_f32", ta, tb, M, N, K, lda, ldb, ldc);
  if (M == 0 || N == 0) return;
  if (K == 0 || alpha == 0.0f) { scale_f32(M, N, beta, C, ldc); return; }
  int64_t mnk = M * N * K;
  if (mnk <= TINY_MNK) {
    gemm_tiny_f32(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    return;
  }
  bool small = mnk < SGEMM_MNK || M <= 8 || N == 1 || K <= 4;
  if (!small && onednn_matmul(ta, tb, 0, M, N, K, alpha, A, lda, 0, B, ldb, 0, beta, C, ldc, 0))
    return;
  sgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

/* for b < batch: C_b[M,N] = alpha * op(A_b) @ op(B_b) + beta * C_b, X_b = X + b*strideX. */
void nnc_gemm_batched_f32(bool ta, bool tb, int64_t batch, int64_t M, int64_t N, int64_t K,
                          float alpha, const float *A, int64_t lda, int64_t strideA,
                          const float *B, int64_t ldb, int64_t strideB, float beta,
                          float *C, int64_t ldc, int64_t strideC) {
  check_args("gemm_batched_f32", ta, tb, M, N, K, lda, ldb, ldc);
  NNC_CHECK(batch >= 0, "gemm_batched_f32", "negative batch %lld", (long long)batch);
  if (batch == 0 || M == 0 || N == 0) return;
  /* One 3-D primitive when the C blocks are disjoint and all strides are non-negative;
   * otherwise (or for K == 0, or if oneDNN refuses) a loop, in order. */
  int64_t extentC = (M - 1) * ldc + N;
  bool fused = batch > 1 && K > 0 && alpha != 0.0f && strideC >= extentC && strideA >= 0 &&
               strideB >= 0;
  if (fused && onednn_matmul(ta, tb, batch, M, N, K, alpha, A, lda, strideA, B, ldb, strideB,
                             beta, C, ldc, strideC))
    return;
  for (int64_t b = 0; b < batch; b++)
    nnc_gemm_f32(ta, tb, M, N, K, alpha, A + b * strideA, lda, B + b * strideB, ldb, beta,
                 C + b * strideC, ldc);
}

/* ---------------------------------------------------------------- f64 blocked kernel */

typedef double v8d __attribute__((vector_size(64)));
#define MR 8        /* micro tile rows */
#define NR 16       /* micro tile columns: two v8d */
#define KC 256      /* k block: an A micro panel (MR x KC) and a B one (KC x NR) fit in L1 */
#define NC 2048     /* columns of B packed at once */
#define MCP 16      /* A micro panels per task (128 rows, 256 KiB of A: L2) */
#define NCP 8       /* B micro panels per task (128 columns) */

/* Unaligned vector load and store.  Macros, not functions: a function that takes or returns
 * a 64-byte vector has a different ABI with and without AVX-512 (gcc warns, -Wpsabi). */
#define LOAD8(v, p) memcpy(&(v), (p), sizeof(v8d))
#define STORE8(p, v) memcpy((p), &(v), sizeof(v8d))

/* GCC in ISO C mode does not fuse a*b+c into one FMA (-ffp-contract=off); ask for it here.
 * Clang fuses within an expression by default. */
#if defined(__GNUC__) && !defined(__clang__)
#define FUSE_MUL_ADD __attribute__((optimize("fp-contract=fast")))
#else
#define FUSE_MUL_ADD
#endif

/* c[mr,nr] += a_panel[kc][MR] @ b_panel[kc][NR]. */
FUSE_MUL_ADD static void ukernel_f64(int64_t kc, const double *restrict a,
                                     const double *restrict b, double *restrict c, int64_t ldc,
                                     int mr, int nr) {
  v8d acc[MR][2];
  for (int i = 0; i < MR; i++) acc[i][0] = acc[i][1] = (v8d){0};
  for (int64_t k = 0; k < kc; k++) {
    v8d b0, b1;
    LOAD8(b0, b + k * NR);
    LOAD8(b1, b + k * NR + 8);
#pragma GCC unroll 8
    for (int i = 0; i < MR; i++) {
      double x = a[k * MR + i];
      v8d ai = {x, x, x, x, x, x, x, x};
      acc[i][0] += ai * b0;
      acc[i][1] += ai * b1;
    }
  }
  if (mr == MR && nr == NR) {
#pragma GCC unroll 8
    for (int i = 0; i < MR; i++) {
      v8d c0, c1;
      LOAD8(c0, c + i * ldc);
      LOAD8(c1, c + i * ldc + 8);
      c0 += acc[i][0];
      c1 += acc[i][1];
      STORE8(c + i * ldc, c0);
      STORE8(c + i * ldc + 8, c1);
    }
  } else {
    double t[MR][NR];
    for (int i = 0; i < MR; i++) { STORE8(t[i], acc[i][0]); STORE8(t[i] + 8, acc[i][1]); }
    for (int i = 0; i < mr; i++)
      for (int j = 0; j < nr; j++) c[i * ldc + j] += t[i][j];
  }
}

/* C[M,N] = alpha * op(A)[M,K] @ op(B)[K,N] + beta * C (see gemm.h). */
void nnc_gemm_f64(bool ta, bool tb, int64_t M, int64_t N, int64_t K, double alpha,
                  const double *A, int64_t lda, const double *B, int64_t ldb, double beta,
                  double *C, int64_t ldc) {
  check_args("gemm_f64", ta, tb, M, N, K, lda, ldb, ldc);
  if (M == 0 || N == 0) return;
  if (M * N * K <= TINY_F64_MNK && K > 0 && alpha != 0.0) {
    gemm_tiny_f64(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    return;
  }
  scale_f64(M, N, beta, C, ldc);
  if (K == 0 || alpha == 0.0) return;
  int64_t mp = (M + MR - 1) / MR;                          /* A micro panels */
  int64_t ncmax = N < NC ? N : NC, kcmax = K < KC ? K : KC;
  double *Ap = nnc_xmalloc((size_t)(mp * MR * kcmax) * sizeof(double));
  double *Bp = nnc_xmalloc((size_t)(((ncmax + NR - 1) / NR) * NR * kcmax) * sizeof(double));
  bool par = (double)M * N * K >= 1e6 && omp_get_max_threads() > 1;
  for (int64_t jc = 0; jc < N; jc += NC) {
    int64_t nc = N - jc < NC ? N - jc : NC, np = (nc + NR - 1) / NR;
    for (int64_t pc = 0; pc < K; pc += KC) {
      int64_t kc = K - pc < KC ? K - pc : KC;
#pragma omp parallel if (par)
      {
        /* B block [kc, nc] -> np panels of [kc][NR], zero padded */
#pragma omp for schedule(static) nowait
        for (int64_t p = 0; p < np; p++) {
          double *dst = Bp + p * NR * kc;
          int64_t j0 = jc + p * NR, nr = nc - p * NR < NR ? nc - p * NR : NR;
          for (int64_t k = 0; k < kc; k++) {
            int64_t kk = pc + k;
            for (int64_t j = 0; j < nr; j++)
              dst[k * NR + j] = tb ? B[(j0 + j) * ldb + kk] : B[kk * ldb + j0 + j];
            for (int64_t j = nr; j < NR; j++) dst[k * NR + j] = 0.0;
          }
        }
        /* A block [M, kc] * alpha -> mp panels of [kc][MR], zero padded */
#pragma omp for schedule(static)
        for (int64_t p = 0; p < mp; p++) {
          double *dst = Ap + p * MR * kc;
          int64_t i0 = p * MR, mr = M - i0 < MR ? M - i0 : MR;
          for (int64_t k = 0; k < kc; k++) {
            int64_t kk = pc + k;
            for (int64_t i = 0; i < mr; i++)
              dst[k * MR + i] = alpha * (ta ? A[kk * lda + i0 + i] : A[(i0 + i) * lda + kk]);
            for (int64_t i = mr; i < MR; i++) dst[k * MR + i] = 0.0;
          }
        }
        int64_t tm = (mp + MCP - 1) / MCP, tn = (np + NCP - 1) / NCP;
#pragma omp for schedule(static)
        for (int64_t t = 0; t < tm * tn; t++) {
          int64_t ib = t / tn, jb = t % tn;
          int64_t pe = (ib + 1) * MCP < mp ? (ib + 1) * MCP : mp;
          int64_t qe = (jb + 1) * NCP < np ? (jb + 1) * NCP : np;
          for (int64_t q = jb * NCP; q < qe; q++)
            for (int64_t p = ib * MCP; p < pe; p++) {
              int64_t i0 = p * MR, j0 = q * NR;
              int mr = (int)(M - i0 < MR ? M - i0 : MR), nr = (int)(nc - j0 < NR ? nc - j0 : NR);
              ukernel_f64(kc, Ap + p * MR * kc, Bp + q * NR * kc, C + i0 * ldc + jc + j0, ldc,
                          mr, nr);
            }
        }
      }
    }
  }
  free(Ap);
  free(Bp);
}

void nnc_gemm_batched_f64(bool ta, bool tb, int64_t batch, int64_t M, int64_t N, int64_t K,
                          double alpha, const double *A, int64_t lda, int64_t strideA,
                          const double *B, int64_t ldb, int64_t strideB, double beta,
                          double *C, int64_t ldc, int64_t strideC) {
  check_args("gemm_batched_f64", ta, tb, M, N, K, lda, ldb, ldc);
  NNC_CHECK(batch >= 0, "gemm_batched_f64", "negative batch %lld", (long long)batch);
  for (int64_t b = 0; b < batch; b++)
    nnc_gemm_f64(ta, tb, M, N, K, alpha, A + b * strideA, lda, B + b * strideB, ldb, beta,
                 C + b * strideC, ldc);
}
