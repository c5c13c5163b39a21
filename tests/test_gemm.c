/* tests/test_gemm.c: the fast matrix products (core/gemm.h) against the reference kernels.
 *
 * Every comparison fills A, B and C with random numbers and the padding between rows (when
 * lda/ldb/ldc exceed the row length) with sentinels: NaN in A and B (a kernel that reads
 * padding turns the result into NaN) and a fixed value in C (a kernel that writes padding is
 * caught).  The error bound is relative to |alpha| |op(A)| |op(B)| + |beta| |C|, computed with
 * the reference kernel on absolute values, times a tolerance that grows with K. */
#include <float.h>
#include <omp.h>
#include <stdlib.h>

#include "test.h"

#define PAD_C 12345.0

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static double urand(void) { /* uniform in [-1, 1) */
  rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
  return (double)(rng_state >> 11) * 0x1.0p-52 - 1.0;
}

/* A matrix of `rows` rows of `cols` values with row stride ld >= cols; the padding gets `pad`. */
static void fill_f32(float *x, int64_t rows, int64_t cols, int64_t ld, float pad) {
  for (int64_t i = 0; i < rows; i++)
    for (int64_t j = 0; j < ld; j++) x[i * ld + j] = j < cols ? (float)urand() : pad;
}
static void fill_f64(double *x, int64_t rows, int64_t cols, int64_t ld, double pad) {
  for (int64_t i = 0; i < rows; i++)
    for (int64_t j = 0; j < ld; j++) x[i * ld + j] = j < cols ? urand() : pad;
}

typedef struct {
  bool ta, tb;
  int64_t M, N, K, padA, padB, padC;
  double alpha, beta;
} gemm_case;

/* Checks got[M,N] against want within tol * scale; the padding of got must still be PAD_C.
 * Returns true if all is well, else prints the first bad element. */
static bool compare(const char *what, const gemm_case *g, const double *got, const double *want,
                    const double *scale, int64_t ldc, double tol) {
  for (int64_t i = 0; i < g->M; i++)
    for (int64_t j = 0; j < ldc; j++) {
      double x = got[i * ldc + j];
      if (j >= g->N) {
        if (x != PAD_C) {
          fprintf(stderr, "%s: padding of C written at (%lld,%lld)\n", what, (long long)i,
                  (long long)j);
          return false;
        }
        continue;
      }
      double w = want[i * ldc + j], s = scale[i * ldc + j];
      if (!(fabs(x - w) <= tol * s + 1e-30)) {
        fprintf(stderr,
                "%s: ta=%d tb=%d M=%lld N=%lld K=%lld alpha=%g beta=%g pads=%lld,%lld,%lld: "
                "C[%lld,%lld] = %.10g, want %.10g (scale %.3g, tol %.3g)\n",
                what, g->ta, g->tb, (long long)g->M, (long long)g->N, (long long)g->K, g->alpha,
                g->beta, (long long)g->padA, (long long)g->padB, (long long)g->padC, (long long)i,
                (long long)j, x, w, s, tol);
        return false;
      }
    }
  return true;
}

static double tol_f32(int64_t K) { return 2.0 * FLT_EPSILON * (double)(K + 8); }
static double tol_f64(int64_t K) { return 2.0 * DBL_EPSILON * (double)(K + 8); }

/* One f32 comparison: nnc_gemm_f32 against nnc_gemm_ref_f32. */
static bool check_f32(const gemm_case *g) {
  int64_t ar = g->ta ? g->K : g->M, ac = g->ta ? g->M : g->K;
  int64_t br = g->tb ? g->N : g->K, bc = g->tb ? g->K : g->N;
  int64_t lda = (ac > 0 ? ac : 1) + g->padA, ldb = (bc > 0 ? bc : 1) + g->padB;
  int64_t ldc = (g->N > 0 ? g->N : 1) + g->padC;
  size_t na = (size_t)(ar * lda + 1), nb = (size_t)(br * ldb + 1), nc = (size_t)(g->M * ldc + 1);
  float *A = calloc(na, sizeof *A), *B = calloc(nb, sizeof *B), *C = calloc(nc, sizeof *C);
  float *R = calloc(nc, sizeof *R), *aA = calloc(na, sizeof *aA), *aB = calloc(nb, sizeof *aB);
  float *S = calloc(nc, sizeof *S);
  fill_f32(A, ar, ac, lda, NAN);
  fill_f32(B, br, bc, ldb, NAN);
  fill_f32(C, g->M, g->N, ldc, (float)PAD_C);
  for (size_t i = 0; i < na; i++) aA[i] = fabsf(A[i]);
  for (size_t i = 0; i < nb; i++) aB[i] = fabsf(B[i]);
  memcpy(R, C, nc * sizeof *C);
  for (size_t i = 0; i < nc; i++) S[i] = fabsf(C[i]);
  nnc_gemm_f32(g->ta, g->tb, g->M, g->N, g->K, (float)g->alpha, A, lda, B, ldb, (float)g->beta, C,
               ldc);
  nnc_gemm_ref_f32(g->ta, g->tb, g->M, g->N, g->K, (float)g->alpha, A, lda, B, ldb,
                   (float)g->beta, R, ldc);
  nnc_gemm_ref_f32(g->ta, g->tb, g->M, g->N, g->K, (float)fabs(g->alpha), aA, lda, aB, ldb,
                   (float)fabs(g->beta), S, ldc);
  double *got = malloc(nc * sizeof *got), *want = malloc(nc * sizeof *want);
  double *scale = malloc(nc * sizeof *scale);
  for (size_t i = 0; i < nc; i++) { got[i] = C[i]; want[i] = R[i]; scale[i] = S[i]; }
  bool ok = compare("gemm_f32", g, got, want, scale, ldc, tol_f32(g->K));
  free(A); free(B); free(C); free(R); free(aA); free(aB); free(S);
  free(got); free(want); free(scale);
  return ok;
}

/* One f64 comparison: nnc_gemm_f64 against nnc_gemm_ref_f64. */
static bool check_f64(const gemm_case *g) {
  int64_t ar = g->ta ? g->K : g->M, ac = g->ta ? g->M : g->K;
  int64_t br = g->tb ? g->N : g->K, bc = g->tb ? g->K : g->N;
  int64_t lda = (ac > 0 ? ac : 1) + g->padA, ldb = (bc > 0 ? bc : 1) + g->padB;
  int64_t ldc = (g->N > 0 ? g->N : 1) + g->padC;
  size_t na = (size_t)(ar * lda + 1), nb = (size_t)(br * ldb + 1), nc = (size_t)(g->M * ldc + 1);
  double *A = calloc(na, sizeof *A), *B = calloc(nb, sizeof *B), *C = calloc(nc, sizeof *C);
  double *R = calloc(nc, sizeof *R), *aA = calloc(na, sizeof *aA), *aB = calloc(nb, sizeof *aB);
  double *S = calloc(nc, sizeof *S);
  fill_f64(A, ar, ac, lda, NAN);
  fill_f64(B, br, bc, ldb, NAN);
  fill_f64(C, g->M, g->N, ldc, PAD_C);
  for (size_t i = 0; i < na; i++) aA[i] = fabs(A[i]);
  for (size_t i = 0; i < nb; i++) aB[i] = fabs(B[i]);
  memcpy(R, C, nc * sizeof *C);
  for (size_t i = 0; i < nc; i++) S[i] = fabs(C[i]);
  nnc_gemm_f64(g->ta, g->tb, g->M, g->N, g->K, g->alpha, A, lda, B, ldb, g->beta, C, ldc);
  nnc_gemm_ref_f64(g->ta, g->tb, g->M, g->N, g->K, g->alpha, A, lda, B, ldb, g->beta, R, ldc);
  nnc_gemm_ref_f64(g->ta, g->tb, g->M, g->N, g->K, fabs(g->alpha), aA, lda, aB, ldb,
                   fabs(g->beta), S, ldc);
  bool ok = compare("gemm_f64", g, C, R, S, ldc, tol_f64(g->K));
  free(A); free(B); free(C); free(R); free(aA); free(aB); free(S);
  return ok;
}

/* Shapes: tiny (plain loop), small (dnnl_sgemm), gemv-like, the MLP's, odd and larger ones. */
static const int64_t shapes[][3] = {
    {1, 1, 1},     {3, 5, 7},     {7, 3, 5},      {2, 2, 2},      {1, 256, 784},
    {4, 10, 16},   {16, 16, 16},  {17, 33, 9},    {64, 1, 64},    {1, 300, 17},
    {128, 256, 2}, {128, 2, 256}, {128, 10, 256}, {10, 256, 128}, {128, 256, 10},
    {50, 70, 90},  {33, 65, 129}, {129, 31, 67},  {256, 64, 128}, {128, 256, 784},
    {256, 784, 128},
};
#define NSHAPES (sizeof shapes / sizeof *shapes)

static void test_all_shapes(bool f64) {
  static const double ab[][2] = {{1.0, 0.0}, {1.0, 1.0}, {0.75, -1.25}, {-2.0, 0.5}};
  int bad = 0, total = 0;
  for (size_t s = 0; s < NSHAPES; s++)
    for (int t = 0; t < 4; t++)
      for (int p = 0; p < 4; p++) {
        bool big = shapes[s][0] * shapes[s][1] * shapes[s][2] > 1000000;
        if (big && p > 1) continue; /* keep the reference's time down */
        gemm_case g = {t & 1, t >> 1, shapes[s][0], shapes[s][1], shapes[s][2],
                       p & 1 ? 3 : 0, p & 1 ? 5 : 0, p & 1 ? 2 : 0, ab[p][0], ab[p][1]};
        bool ok = f64 ? check_f64(&g) : check_f32(&g);
        bad += !ok;
        total++;
      }
  CHECKF(bad == 0, "%s: %d of %d shape cases wrong", f64 ? "f64" : "f32", bad, total);
}

/* beta == 0 must overwrite C without reading it (NaN in C must not survive), on every path. */
static void test_beta_zero_ignores_c(void) {
  static const int64_t sz[][3] = {{2, 3, 4}, {16, 16, 16}, {128, 10, 256}, {128, 256, 256}};
  for (size_t s = 0; s < sizeof sz / sizeof *sz; s++) {
    int64_t M = sz[s][0], N = sz[s][1], K = sz[s][2];
    float *A = malloc((size_t)(M * K) * sizeof *A), *B = malloc((size_t)(K * N) * sizeof *B);
    float *C = malloc((size_t)(M * N) * sizeof *C);
    double *Ad = malloc((size_t)(M * K) * sizeof *Ad), *Bd = malloc((size_t)(K * N) * sizeof *Bd);
    double *Cd = malloc((size_t)(M * N) * sizeof *Cd);
    for (int64_t i = 0; i < M * K; i++) Ad[i] = A[i] = (float)urand();
    for (int64_t i = 0; i < K * N; i++) Bd[i] = B[i] = (float)urand();
    for (int64_t i = 0; i < M * N; i++) Cd[i] = C[i] = NAN;
    nnc_gemm_f32(false, false, M, N, K, 1.0f, A, K, B, N, 0.0f, C, N);
    nnc_gemm_f64(false, false, M, N, K, 1.0, Ad, K, Bd, N, 0.0, Cd, N);
    int nan32 = 0, nan64 = 0;
    for (int64_t i = 0; i < M * N; i++) { nan32 += isnan(C[i]); nan64 += isnan(Cd[i]); }
    CHECKF(nan32 == 0, "f32 %lldx%lldx%lld beta=0 kept %d NaNs", (long long)M, (long long)N,
           (long long)K, nan32);
    CHECKF(nan64 == 0, "f64 %lldx%lldx%lld beta=0 kept %d NaNs", (long long)M, (long long)N,
           (long long)K, nan64);
    free(A); free(B); free(C); free(Ad); free(Bd); free(Cd);
  }
}

/* K == 0 or alpha == 0: C = beta * C, A and B unread; M == 0 or N == 0: nothing happens. */
static void test_degenerate(void) {
  float C[6] = {1, 2, 3, 4, 5, 6}, Anan[6] = {NAN, NAN, NAN, NAN, NAN, NAN};
  nnc_gemm_f32(false, false, 2, 3, 0, 1.0f, NULL, 1, NULL, 3, 2.0f, C, 3);
  CHECK(C[0] == 2 && C[5] == 12);
  nnc_gemm_f32(true, true, 2, 3, 0, 1.0f, NULL, 2, NULL, 1, 0.0f, C, 3);
  CHECK(C[0] == 0 && C[5] == 0);
  float D[6] = {1, 2, 3, 4, 5, 6};
  nnc_gemm_f32(false, false, 2, 3, 2, 0.0f, Anan, 2, Anan, 3, -1.0f, D, 3);
  CHECK(D[0] == -1 && D[5] == -6);
  float E[6] = {1, 2, 3, 4, 5, 6};
  nnc_gemm_f32(false, false, 0, 3, 5, 1.0f, NULL, 5, Anan, 3, 0.0f, E, 3);
  nnc_gemm_f32(false, false, 2, 0, 5, 1.0f, Anan, 5, NULL, 1, 0.0f, E, 1);
  nnc_gemm_batched_f32(false, false, 0, 2, 3, 1, 1.0f, Anan, 1, 2, Anan, 3, 3, 0.0f, E, 3, 6);
  CHECK(E[0] == 1 && E[5] == 6);
  double Cd[6] = {1, 2, 3, 4, 5, 6};
  nnc_gemm_f64(false, true, 2, 3, 0, 1.0, NULL, 1, NULL, 1, 0.5, Cd, 3);
  CHECK(Cd[0] == 0.5 && Cd[5] == 3);
  nnc_gemm_f64(false, false, 2, 3, 0, 1.0, NULL, 1, NULL, 3, 0.0, Cd, 3);
  CHECK(Cd[0] == 0 && Cd[5] == 0);
  double Dd[6] = {1, 2, 3, 4, 5, 6}, Adnan[6] = {NAN, NAN, NAN, NAN, NAN, NAN};
  nnc_gemm_f64(false, false, 2, 3, 2, 0.0, Adnan, 2, Adnan, 3, 1.0, Dd, 3);
  CHECK(Dd[0] == 1 && Dd[5] == 6);
  nnc_gemm_f64(false, false, 0, 0, 0, 1.0, NULL, 1, NULL, 1, 0.0, NULL, 1);
  CHECK(true);
  /* 1x1x1 exactly */
  float a = 3, b = 4, c = 10;
  nnc_gemm_f32(false, false, 1, 1, 1, 2.0f, &a, 1, &b, 1, 0.5f, &c, 1);
  CHECK(c == 29.0f);
  double ad = 3, bd = 4, cd = 10;
  nnc_gemm_f64(true, true, 1, 1, 1, 2.0, &ad, 1, &bd, 1, 0.5, &cd, 1);
  CHECK(cd == 29.0);
}

/* Bad arguments stop with a message naming the op and the argument. */
static void test_bad_args(void) {
  float x[64] = {0};
  EXPECT_ABORT(nnc_gemm_f32(false, false, 4, 4, 4, 1.0f, x, 3, x, 4, 0.0f, x, 4), "lda");
  EXPECT_ABORT(nnc_gemm_f32(false, true, 4, 4, 3, 1.0f, x, 3, x, 2, 0.0f, x, 4), "ldb");
  EXPECT_ABORT(nnc_gemm_f32(false, false, 4, 4, 4, 1.0f, x, 4, x, 4, 0.0f, x, 3), "ldc");
  EXPECT_ABORT(nnc_gemm_f32(false, false, -1, 4, 4, 1.0f, x, 4, x, 4, 0.0f, x, 4), "gemm_f32");
  double y[64] = {0};
  EXPECT_ABORT(nnc_gemm_f64(true, false, 4, 4, 4, 1.0, y, 3, y, 4, 0.0, y, 4), "lda");
  EXPECT_ABORT(nnc_gemm_batched_f32(false, false, -2, 2, 2, 2, 1.0f, x, 2, 4, x, 2, 4, 0.0f, x,
                                    2, 4),
               "batch");
}

/* Batched products against a loop over the reference, all transposes, packed, padded and
 * broadcast (stride 0) operands, and strideC == 0 (in-order accumulation). */
typedef struct {
  int64_t batch, M, N, K;
  int bcast; /* 0: none, 1: A stride 0, 2: B stride 0, 3: C stride 0 (beta 1) */
  int64_t gap; /* extra elements between batch items */
} batch_case;

static bool check_batched(bool f64, bool ta, bool tb, const batch_case *c, double alpha,
                          double beta) {
  int64_t ar = ta ? c->K : c->M, ac = ta ? c->M : c->K, br = tb ? c->N : c->K,
          bc = tb ? c->K : c->N;
  int64_t lda = (ac > 0 ? ac : 1) + (c->gap ? 1 : 0), ldb = (bc > 0 ? bc : 1) + (c->gap ? 2 : 0);
  int64_t ldc = c->N;
  int64_t sA = c->bcast == 1 ? 0 : ar * lda + c->gap, sB = c->bcast == 2 ? 0 : br * ldb + c->gap;
  int64_t sC = c->bcast == 3 ? 0 : c->M * ldc + c->gap;
  if (c->bcast == 3) beta = 1.0;
  int64_t nA = (sA ? c->batch : 1) * (ar * lda + c->gap);
  int64_t nB = (sB ? c->batch : 1) * (br * ldb + c->gap);
  int64_t nC = (sC ? c->batch : 1) * (c->M * ldc + c->gap);
  double tol = (f64 ? tol_f64(c->K) : tol_f32(c->K)) * (c->bcast == 3 ? (double)c->batch : 1.0);
  bool ok = true;
  double *A = malloc((size_t)nA * sizeof *A), *B = malloc((size_t)nB * sizeof *B);
  double *C = malloc((size_t)nC * sizeof *C), *R = malloc((size_t)nC * sizeof *R);
  double *S = malloc((size_t)nC * sizeof *S), *aA = malloc((size_t)nA * sizeof *aA);
  double *aB = malloc((size_t)nB * sizeof *aB);
  for (int64_t i = 0; i < nA; i++) { A[i] = urand(); aA[i] = fabs(A[i]); }
  for (int64_t i = 0; i < nB; i++) { B[i] = urand(); aB[i] = fabs(B[i]); }
  for (int64_t i = 0; i < nC; i++) { C[i] = urand(); S[i] = fabs(C[i]); }
  if (f64) {
    memcpy(R, C, (size_t)nC * sizeof *C);
    nnc_gemm_batched_f64(ta, tb, c->batch, c->M, c->N, c->K, alpha, A, lda, sA, B, ldb, sB, beta,
                         C, ldc, sC);
  } else {
    float *Af = malloc((size_t)nA * sizeof *Af), *Bf = malloc((size_t)nB * sizeof *Bf);
    float *Cf = malloc((size_t)nC * sizeof *Cf);
    for (int64_t i = 0; i < nA; i++) A[i] = Af[i] = (float)A[i];
    for (int64_t i = 0; i < nB; i++) B[i] = Bf[i] = (float)B[i];
    for (int64_t i = 0; i < nC; i++) C[i] = Cf[i] = (float)C[i];
    nnc_gemm_batched_f32(ta, tb, c->batch, c->M, c->N, c->K, (float)alpha, Af, lda, sA, Bf, ldb,
                         sB, (float)beta, Cf, ldc, sC);
    memcpy(R, C, (size_t)nC * sizeof *C);
    for (int64_t i = 0; i < nC; i++) C[i] = Cf[i];
    free(Af); free(Bf); free(Cf);
  }
  for (int64_t b = 0; b < c->batch; b++) {
    nnc_gemm_ref_f64(ta, tb, c->M, c->N, c->K, alpha, A + b * sA, lda, B + b * sB, ldb, beta,
                     R + b * sC, ldc);
    nnc_gemm_ref_f64(ta, tb, c->M, c->N, c->K, fabs(alpha), aA + b * sA, lda, aB + b * sB, ldb,
                     fabs(beta), S + b * sC, ldc);
  }
  for (int64_t i = 0; i < nC && ok; i++)
    if (!(fabs(C[i] - R[i]) <= tol * S[i] + 1e-30)) {
      fprintf(stderr,
              "batched_%s ta=%d tb=%d batch=%lld M=%lld N=%lld K=%lld bcast=%d gap=%lld: "
              "C[%lld] = %.10g, want %.10g\n",
              f64 ? "f64" : "f32", ta, tb, (long long)c->batch, (long long)c->M, (long long)c->N,
              (long long)c->K, c->bcast, (long long)c->gap, (long long)i, C[i], R[i]);
      ok = false;
    }
  free(A); free(B); free(C); free(R); free(S); free(aA); free(aB);
  return ok;
}

static void test_batched(bool f64) {
  static const batch_case cases[] = {
      {1, 5, 6, 7, 0, 0},       {3, 2, 3, 4, 0, 0},      {4, 64, 64, 32, 0, 0},
      {4, 64, 32, 64, 0, 3},    {5, 33, 17, 65, 1, 0},   {5, 33, 17, 65, 2, 0},
      {3, 128, 256, 64, 2, 0},  {6, 20, 30, 40, 3, 0},   {3, 64, 64, 64, 3, 0},
      {7, 1, 40, 50, 0, 0},     {4, 16, 16, 0, 0, 0},    {2, 128, 10, 256, 1, 5},
      {200, 4, 4, 4, 0, 0},     {3, 64, 64, 64, 1, 7},   {3, 64, 64, 64, 2, 7},
  };
  int bad = 0, total = 0;
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
    for (int t = 0; t < 4; t++) {
      bad += !check_batched(f64, t & 1, t >> 1, &cases[i], 1.0, 0.0);
      bad += !check_batched(f64, t & 1, t >> 1, &cases[i], -0.5, 1.5);
      total += 2;
    }
  CHECKF(bad == 0, "batched %s: %d of %d cases wrong", f64 ? "f64" : "f32", bad, total);
}

/* The primitive cache: hits on repeat, a new primitive per thread count, correct results at
 * both thread counts, after more shapes than it has slots, and after a clear. */
static void test_cache_and_threads(void) {
  int saved = omp_get_max_threads();
  gemm_case g = {false, true, 128, 256, 256, 0, 0, 0, 1.0, 0.0};
  int64_t h0, m0, h1, m1;
  nnc_gemm_cache_stats(&h0, &m0, NULL);
  CHECK(check_f32(&g));
  CHECK(check_f32(&g));
  nnc_gemm_cache_stats(&h1, &m1, NULL);
  CHECKF(h1 - h0 >= 1 && m1 - m0 <= 1, "hits %lld, misses %lld", (long long)(h1 - h0),
         (long long)(m1 - m0));
  omp_set_num_threads(saved == 1 ? 2 : 1);
  CHECK(check_f32(&g));
  int64_t m2;
  nnc_gemm_cache_stats(NULL, &m2, NULL);
  CHECKF(m2 == m1 + 1, "a new thread count should make a new primitive (misses %lld -> %lld)",
         (long long)m1, (long long)m2);
  gemm_case g2 = {true, false, 256, 784, 128, 1, 0, 2, 1.0, 1.0};
  CHECK(check_f32(&g2));
  CHECK(check_f64(&g2));
  omp_set_num_threads(saved);
  int bad = 0;
  for (int64_t m = 16; m < 16 + 300; m++) {
    gemm_case e = {m & 1, (m >> 1) & 1, m, 64, 64, 0, 0, 0, 1.0, 0.0};
    bad += !check_f32(&e);
  }
  CHECKF(bad == 0, "%d of 300 cache-filling shapes wrong", bad);
  nnc_gemm_cache_clear();
  CHECK(check_f32(&g));
  CHECK(check_f32(&g2));
}

/* Calls from inside an OpenMP parallel region (each thread its own product) stay correct. */
static void test_inside_parallel(void) {
  int bad = 0;
#pragma omp parallel num_threads(2) reduction(+ : bad)
  {
    for (int r = 0; r < 3; r++) {
      gemm_case g = {r & 1, true, 64 + omp_get_thread_num(), 96, 80, 0, 0, 0, 1.0, 0.5};
      int64_t M = g.M, N = g.N, K = g.K;
      float *A = malloc((size_t)(M * K) * sizeof *A), *B = malloc((size_t)(K * N) * sizeof *B);
      float *C = malloc((size_t)(M * N) * sizeof *C), *R = malloc((size_t)(M * N) * sizeof *R);
      for (int64_t i = 0; i < M * K; i++) A[i] = (float)((i * 7 % 13) - 6) / 8;
      for (int64_t i = 0; i < K * N; i++) B[i] = (float)((i * 5 % 11) - 5) / 8;
      for (int64_t i = 0; i < M * N; i++) R[i] = C[i] = (float)(i % 3);
      int64_t lda = g.ta ? M : K;
      nnc_gemm_f32(g.ta, g.tb, M, N, K, 1.0f, A, lda, B, K, 0.5f, C, N);
      nnc_gemm_ref_f32(g.ta, g.tb, M, N, K, 1.0f, A, lda, B, K, 0.5f, R, N);
      for (int64_t i = 0; i < M * N; i++) bad += fabsf(C[i] - R[i]) > 1e-4f * (1 + fabsf(R[i]));
      free(A); free(B); free(C); free(R);
    }
  }
  CHECKF(bad == 0, "%d elements wrong when called inside a parallel region", bad);
}

int main(void) {
  CHECK(strlen(nnc_gemm_backend()) > 0);
  test_degenerate();
  test_bad_args();
  test_beta_zero_ignores_c();
  test_all_shapes(false);
  test_all_shapes(true);
  test_batched(false);
  test_batched(true);
  test_cache_and_threads();
  test_inside_parallel();
  int64_t hits, misses, sg;
  nnc_gemm_cache_stats(&hits, &misses, &sg);
  printf("gemm backend %s: %lld cache hits, %lld misses, %lld dnnl_sgemm calls\n",
         nnc_gemm_backend(), (long long)hits, (long long)misses, (long long)sg);
  nnc_gemm_cache_clear();
  return test_summary();
}
