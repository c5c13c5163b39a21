/* bench/bench_gemm.c: times the matrix-product candidates on the shapes that matter.
 *
 *   make bench && OMP_NUM_THREADS=1 build/bench/bench_gemm      (then OMP_NUM_THREADS=2)
 *
 * For each shape: nnc (nnc_gemm_f32 / nnc_gemm_batched_f32 / nnc_gemm_f64, the chosen
 * backends), dnnl_sgemm, OpenBLAS cblas_sgemm/dgemm (loaded with dlopen, so the library does
 * not link it, and timed after everything else; "n/a" if absent or NNC_BENCH_NO_OPENBLAS is
 * set), the reference kernel (small shapes only) and, for batched shapes, nnc-loop (a loop of
 * nnc_gemm_f32 calls).  Each line: the median time of many repetitions after a warm-up (best
 * of 5 rounds, see below), GFLOP/s, and the percentage of 228 GFLOP/s (f32) or
 * 114 GFLOP/s (f64) times the thread count.  `bench_gemm quick` runs fewer repetitions. */
#include <dlfcn.h>
#include <omp.h>
#include <oneapi/dnnl/dnnl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/gemm.h"

#define PEAK_F32 228.0 /* GFLOP/s per core: 2 x 512-bit FMA per cycle at ~3.56 GHz */
#define PEAK_F64 114.0

enum { CblasRowMajor = 101, CblasNoTrans = 111, CblasTrans = 112 };
typedef void (*sgemm_fn)(int, int, int, int, int, int, float, const float *, int, const float *,
                         int, float, float *, int);
typedef void (*dgemm_fn)(int, int, int, int, int, int, double, const double *, int,
                         const double *, int, double, double *, int);
static sgemm_fn ob_sgemm;
static dgemm_fn ob_dgemm;
static void (*ob_set_threads)(int);

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}
static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

typedef struct {
  const char *name;
  int ta, tb;
  int64_t batch, M, N, K;
  int64_t sA, sB; /* batch strides; -1: packed */
} shape;

typedef struct {
  const shape *s;
  int impl;
  void *A, *B, *C;
} job;

enum { NNC, DNNL_SGEMM, OPENBLAS, REF, NNC_LOOP, NIMPL };
static const char *impl_name[NIMPL] = {"nnc", "dnnl_sgemm", "openblas", "reference", "nnc-loop"};

static bool quick;

/* Each row is timed in `rounds` rounds spread over the run; a round's number is the median of
 * its repetitions and the table shows the best round.  On a shared machine another process
 * that takes a core for a while (an OpenMP thread then waits a whole scheduler tick, 4-8 ms)
 * spoils a round, not the result; the worst round is printed too, to show such noise. */
static int rounds = 5; /* the environment variable NNC_BENCH_ROUNDS overrides it */

static int64_t lda_of(const shape *s) { return s->ta ? s->M : s->K; }
static int64_t ldb_of(const shape *s) { return s->tb ? s->K : s->N; }

static void run_f32(const job *j) {
  const shape *s = j->s;
  const float *A = j->A, *B = j->B;
  float *C = j->C;
  int64_t lda = lda_of(s), ldb = ldb_of(s), ldc = s->N;
  switch (j->impl) {
  case NNC:
    if (s->batch > 1)
      nnc_gemm_batched_f32(s->ta, s->tb, s->batch, s->M, s->N, s->K, 1.0f, A, lda, s->sA, B, ldb,
                           s->sB, 0.0f, C, ldc, s->M * s->N);
    else
      nnc_gemm_f32(s->ta, s->tb, s->M, s->N, s->K, 1.0f, A, lda, B, ldb, 0.0f, C, ldc);
    break;
  case NNC_LOOP:
    for (int64_t b = 0; b < s->batch; b++)
      nnc_gemm_f32(s->ta, s->tb, s->M, s->N, s->K, 1.0f, A + b * s->sA, lda, B + b * s->sB, ldb,
                   0.0f, C + b * s->M * s->N, ldc);
    break;
  case DNNL_SGEMM:
    for (int64_t b = 0; b < s->batch; b++)
      dnnl_sgemm(s->ta ? 'T' : 'N', s->tb ? 'T' : 'N', s->M, s->N, s->K, 1.0f, A + b * s->sA,
                 lda, B + b * s->sB, ldb, 0.0f, C + b * s->M * s->N, ldc);
    break;
  case OPENBLAS:
    for (int64_t b = 0; b < s->batch; b++)
      ob_sgemm(CblasRowMajor, s->ta ? CblasTrans : CblasNoTrans, s->tb ? CblasTrans : CblasNoTrans,
               (int)s->M, (int)s->N, (int)s->K, 1.0f, A + b * s->sA, (int)lda, B + b * s->sB,
               (int)ldb, 0.0f, C + b * s->M * s->N, (int)ldc);
    break;
  case REF:
    for (int64_t b = 0; b < s->batch; b++)
      nnc_gemm_ref_f32(s->ta, s->tb, s->M, s->N, s->K, 1.0f, A + b * s->sA, lda, B + b * s->sB,
                       ldb, 0.0f, C + b * s->M * s->N, ldc);
    break;
  }
}

static void run_f64(const job *j) {
  const shape *s = j->s;
  const double *A = j->A, *B = j->B;
  double *C = j->C;
  int64_t lda = lda_of(s), ldb = ldb_of(s), ldc = s->N;
  switch (j->impl) {
  case NNC:
    nnc_gemm_f64(s->ta, s->tb, s->M, s->N, s->K, 1.0, A, lda, B, ldb, 0.0, C, ldc);
    break;
  case OPENBLAS:
    ob_dgemm(CblasRowMajor, s->ta ? CblasTrans : CblasNoTrans, s->tb ? CblasTrans : CblasNoTrans,
             (int)s->M, (int)s->N, (int)s->K, 1.0, A, (int)lda, B, (int)ldb, 0.0, C, (int)ldc);
    break;
  case REF:
    nnc_gemm_ref_f64(s->ta, s->tb, s->M, s->N, s->K, 1.0, A, lda, B, ldb, 0.0, C, ldc);
    break;
  }
}

/* Median seconds per call of one job (used for the slow reference). */
static double time_job(void (*run)(const job *), const job *j) {
  double budget = quick ? 0.02 : 0.06; /* seconds of timed calls per round, roughly */
  run(j);
  double t0 = now();
  run(j);
  double one = now() - t0;
  int reps = (int)(budget / (one > 1e-7 ? one : 1e-7));
  if (reps < 11) reps = one > 5e-3 ? 3 : 11; /* the reference on big shapes: fewer */
  if (reps > 3000) reps = 3000;
  double *t = malloc((size_t)reps * sizeof *t);
  for (int r = 0; r < reps; r++) {
    t0 = now();
    run(j);
    t[r] = now() - t0;
  }
  qsort(t, (size_t)reps, sizeof *t, cmp_double);
  double med = t[reps / 2];
  free(t);
  return med;
}

static void fill(void *p, int64_t n, bool f64) {
  for (int64_t i = 0; i < n; i++) {
    double v = (double)rand() / RAND_MAX - 0.5;
    if (f64) ((double *)p)[i] = v;
    else ((float *)p)[i] = (float)v;
  }
}

/* One row of the table. */
typedef struct {
  const shape *s;
  bool f64;
  int impl;
  double ms, worst; /* best and worst round's median; < 0: not measured */
} row;

static row rows[256];
static int nrows;

static void add_rows(const shape *s, bool f64) {
  double flops = 2.0 * (double)s->batch * (double)s->M * (double)s->N * (double)s->K;
  for (int impl = 0; impl < NIMPL; impl++) {
    if (f64 && (impl == DNNL_SGEMM || impl == NNC_LOOP)) continue;
    if (impl == NNC_LOOP && s->batch == 1) continue;
    if (impl == REF && flops > 1.1e8) continue;
    rows[nrows++] = (row){s, f64, impl, -1.0, -1.0};
  }
}

/* Times, for one round, the rows whose impl is (or, with `only_openblas` false, is not)
 * OpenBLAS.  The rows of one shape share their data and, except the slow reference, are timed
 * interleaved (one call of each in turn, many times), so that a burst of load from elsewhere
 * hits them alike; each gets the median of its calls. */
static void measure(bool only_openblas) {
  for (int r0 = 0; r0 < nrows;) {
    int r1 = r0;
    while (r1 < nrows && rows[r1].s == rows[r0].s && rows[r1].f64 == rows[r0].f64) r1++;
    const shape *s = rows[r0].s;
    bool f64 = rows[r0].f64;
    size_t es = f64 ? sizeof(double) : sizeof(float);
    int64_t nA = (s->sA ? s->batch : 1) * s->M * s->K, nB = (s->sB ? s->batch : 1) * s->K * s->N;
    int64_t nC = s->batch * s->M * s->N;
    void *A = malloc((size_t)nA * es), *B = malloc((size_t)nB * es), *C = malloc((size_t)nC * es);
    fill(A, nA, f64);
    fill(B, nB, f64);
    fill(C, nC, f64);
    void (*run)(const job *) = f64 ? run_f64 : run_f32;
    job jobs[NIMPL];
    row *which[NIMPL];
    int nj = 0;
    double one = 0.0;
    for (int r = r0; r < r1; r++) {
      row *w = &rows[r];
      if ((w->impl == OPENBLAS) != only_openblas) continue;
      if (w->impl == OPENBLAS && !(f64 ? (void *)ob_dgemm : (void *)ob_sgemm)) continue;
      job j = {s, w->impl, A, B, C};
      if (w->impl == REF) { /* alone, fewer calls */
        double ms = 1e3 * time_job(run, &j);
        if (w->ms < 0 || ms < w->ms) w->ms = ms;
        if (ms > w->worst) w->worst = ms;
        continue;
      }
      for (int k = 0; k < 5; k++) run(&j); /* warm-up: caches, primitive creation */
      double t0 = now();
      run(&j);
      one += now() - t0;
      jobs[nj] = j;
      which[nj++] = w;
    }
    if (nj > 0) {
      double budget = quick ? 0.02 : 0.06; /* seconds per round, roughly */
      int reps = (int)(budget / (one > 1e-7 ? one : 1e-7));
      if (reps < 11) reps = 11;
      if (reps > 3000) reps = 3000;
      double *t = malloc((size_t)(reps * nj) * sizeof *t);
      for (int k = 0; k < reps; k++)
        for (int i = 0; i < nj; i++) {
          double t0 = now();
          run(&jobs[i]);
          t[i * reps + k] = now() - t0;
        }
      for (int i = 0; i < nj; i++) {
        qsort(t + i * reps, (size_t)reps, sizeof *t, cmp_double);
        double ms = 1e3 * t[i * reps + reps / 2];
        if (which[i]->ms < 0 || ms < which[i]->ms) which[i]->ms = ms;
        if (ms > which[i]->worst) which[i]->worst = ms;
      }
      free(t);
    }
    free(A);
    free(B);
    free(C);
    r0 = r1;
  }
}

static void print_rows(int nthr) {
  for (int r = 0; r < nrows; r++) {
    const row *w = &rows[r];
    const shape *s = w->s;
    char shp[64];
    int l = snprintf(shp, sizeof shp, "%s%c%c %lldx%lldx%lld", w->f64 ? "f64 " : "",
                     s->ta ? 'T' : 'N', s->tb ? 'T' : 'N', (long long)s->M, (long long)s->N,
                     (long long)s->K);
    if (s->batch > 1)
      snprintf(shp + l, sizeof shp - (size_t)l, " x%lld%s", (long long)s->batch,
               s->sA == 0 ? " A-bcast" : s->sB == 0 ? " B-bcast" : "");
    if (w->ms < 0) {
      printf("%-16s %-27s %-10s %10s\n", s->name, shp, impl_name[w->impl], "n/a");
      continue;
    }
    double flops = 2.0 * (double)s->batch * (double)s->M * (double)s->N * (double)s->K;
    double gf = flops / w->ms * 1e-6, peak = (w->f64 ? PEAK_F64 : PEAK_F32) * nthr;
    printf("%-16s %-27s %-10s %9.4f ms %7.1f GFLOP/s %6.1f%%   (worst round %.4f ms)\n",
           s->name, shp, impl_name[w->impl], w->ms, gf, 100.0 * gf / peak, w->worst);
  }
}

int main(int argc, char **argv) {
  quick = argc > 1 && strcmp(argv[1], "quick") == 0;
  const char *env_rounds = getenv("NNC_BENCH_ROUNDS");
  if (env_rounds && atoi(env_rounds) > 0) rounds = atoi(env_rounds);
  int nthr = omp_get_max_threads();
  printf("# nnc gemm bench: backend %s, %d thread(s), peak %.0f GFLOP/s f32 (%.0f f64) per "
         "thread; ms = median of a round's repetitions, best of %d rounds\n",
         nnc_gemm_backend(), nthr, PEAK_F32, PEAK_F64, rounds);
  static const shape mlp[] = {
      /* Fashion-MNIST MLP 784-256-256-10 at batch 128; Linear.weight is [out, in] */
      {"fc1 fwd", 0, 1, 1, 128, 256, 784, 0, 0}, /* X[128,784] @ W1^T */
      {"fc2 fwd", 0, 1, 1, 128, 256, 256, 0, 0},
      {"fc3 fwd", 0, 1, 1, 128, 10, 256, 0, 0},
      {"fc1 dW", 1, 0, 1, 256, 784, 128, 0, 0}, /* dY^T[256,128] @ X[128,784] */
      {"fc2 dW", 1, 0, 1, 256, 256, 128, 0, 0},
      {"fc3 dW", 1, 0, 1, 10, 256, 128, 0, 0},
      {"fc2 dX", 0, 0, 1, 128, 256, 256, 0, 0}, /* dY[128,256] @ W2[256,256] */
      {"fc3 dX", 0, 0, 1, 128, 256, 10, 0, 0},
      {"square 1024", 0, 0, 1, 1024, 1024, 1024, 0, 0},
      {"infer 1 sample", 0, 1, 1, 1, 256, 784, 0, 0}, /* fc1 forward at batch 1 */
      {"infer 8 samples", 0, 1, 1, 8, 256, 784, 0, 0},
      {"tiny", 0, 0, 1, 3, 5, 7, 0, 0},
      {"small", 0, 1, 1, 16, 16, 16, 0, 0},
      {"small 40", 1, 0, 1, 40, 40, 40, 0, 0},
      /* batched.  attention-like: 8 sequences x 4 heads, 64 tokens, head size 32 */
      {"attn QK^T", 0, 1, 32, 64, 64, 32, 64 * 32, 64 * 32},
      {"attn PV", 0, 0, 32, 64, 32, 64, 64 * 64, 64 * 32},
      {"batch 16 fc2", 0, 1, 16, 128, 256, 256, 128 * 256, 0}, /* shared weight: B bcast */
      {"many tiny", 0, 0, 256, 8, 8, 8, 64, 64},
  };
  static const shape f64s[] = {
      {"fc1 fwd", 0, 1, 1, 128, 256, 784, 0, 0},
      {"fc1 dW", 1, 0, 1, 256, 784, 128, 0, 0},
      {"fc2 dX", 0, 0, 1, 128, 256, 256, 0, 0},
      {"gradcheck", 0, 1, 1, 4, 5, 6, 0, 0},
      {"square 512", 0, 0, 1, 512, 512, 512, 0, 0},
  };
  for (size_t i = 0; i < sizeof mlp / sizeof *mlp; i++) add_rows(&mlp[i], false);
  for (size_t i = 0; i < sizeof f64s / sizeof *f64s; i++) add_rows(&f64s[i], true);
  for (int r = 0; r < rounds; r++) measure(false);
  /* OpenBLAS last: it has its own (pthreads) thread pool; timing it after everything else keeps
   * its threads from competing with the OpenMP threads of oneDNN and nnc. */
  void *ob = getenv("NNC_BENCH_NO_OPENBLAS") ? NULL
                                             : dlopen("libopenblas.so.0", RTLD_NOW | RTLD_LOCAL);
  if (ob) {
    ob_sgemm = (sgemm_fn)(uintptr_t)dlsym(ob, "cblas_sgemm");
    ob_dgemm = (dgemm_fn)(uintptr_t)dlsym(ob, "cblas_dgemm");
    ob_set_threads = (void (*)(int))(uintptr_t)dlsym(ob, "openblas_set_num_threads");
    if (ob_set_threads) ob_set_threads(nthr);
    for (int r = 0; r < rounds; r++) measure(true);
  }
  print_rows(nthr);
  int64_t hits, misses, sgemm_calls;
  nnc_gemm_cache_stats(&hits, &misses, &sgemm_calls);
  printf("# nnc f32: %lld primitive cache hits, %lld misses, %lld calls to dnnl_sgemm\n",
         (long long)hits, (long long)misses, (long long)sgemm_calls);
  nnc_gemm_cache_clear();
  if (ob) dlclose(ob);
  return 0;
}
