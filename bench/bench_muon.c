/* bench/bench_muon.c: the cost of Muon's orthogonalisation against the matrix products it is
 * made of.
 *
 *   make bench && build/bench/bench_muon [N] [REPS]      (default 1024, 9)
 *
 * Times one nnc_newton_schulz_f32 of an N x N Gaussian matrix (5 steps: Frobenius
 * normalisation, then per step A = X X^T, B = c A A + b A + a I, X <- B X) and, alone, the
 * 15 nnc_gemm_f32 calls of the same shapes and flags on the same buffers, interleaved (one
 * of each per round, REPS rounds after a warm-up round, so that both see the same machine load).
 * Prints one JSON line per shape (N x N, and N x N/4 tall): {"bench": "muon", "rows", "cols",
 * "ns_ms", "gemm_ms", "ratio" (medians), "ns_min_ms", "gemm_min_ms", "ratio_min", "threads",
 * "reps"}.  The claim it checks: ratio <= 1.5 at 1024 x 1024 (no hidden overhead beyond the
 * products). */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "core/gemm.h"
#include "core/rng.h"
#include "optim/muon.h"

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e3 + (double)t.tv_nsec * 1e-6;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static void bench(int64_t rows, int64_t cols, int reps) {
  int64_t n = rows * cols, r = rows < cols ? rows : cols;
  bool wide = rows <= cols;
  float *g = malloc(sizeof(float) * (size_t)n), *x = malloc(sizeof(float) * (size_t)n);
  float *work = malloc(sizeof(float) * (size_t)nnc_newton_schulz_work(rows, cols));
  float *y = work, *A = work + n, *B = A + r * r;
  nnc_rng rng;
  nnc_rng_seed(&rng, 1, 1);
  for (int64_t i = 0; i < n; i++) g[i] = (float)nnc_rng_normal(&rng);
  double *t_ns = malloc(sizeof(double) * (size_t)reps), *t_mm = malloc(sizeof(double) * (size_t)reps);
  /* interleaved (one of each per round, after a warm-up round) so that both see the same load */
  for (int k = -1; k < reps; k++) {
    for (int64_t i = 0; i < n; i++) x[i] = g[i];
    double t0 = now_ms();
    nnc_newton_schulz_f32(x, rows, cols, 5, work);
    if (k >= 0) t_ns[k] = now_ms() - t0;
    /* the products alone, on the normalised matrix so the values are those of the iteration */
    for (int64_t i = 0; i < n; i++) x[i] = g[i];
    nnc_newton_schulz_f32(x, rows, cols, 0, work);
    float *cur = x, *next = y;
    t0 = now_ms();
    for (int s = 0; s < 5; s++) {
      if (wide) nnc_gemm_f32(false, true, r, r, cols, 1, cur, cols, cur, cols, 0, A, r);
      else nnc_gemm_f32(true, false, r, r, rows, 1, cur, cols, cur, cols, 0, A, r);
      nnc_gemm_f32(false, false, r, r, r, 2.0315f, A, r, A, r, 0, B, r);
      if (wide) nnc_gemm_f32(false, false, rows, cols, rows, 1, B, r, cur, cols, 0, next, cols);
      else nnc_gemm_f32(false, true, rows, cols, cols, 1, cur, cols, B, r, 0, next, cols);
      float *t = cur;
      cur = next;
      next = t;
    }
    if (k >= 0) t_mm[k] = now_ms() - t0;
  }
  double ns = median(t_ns, reps), mm = median(t_mm, reps); /* sorts: [0] is the minimum */
  printf("{\"bench\": \"muon\", \"rows\": %lld, \"cols\": %lld, \"ns_ms\": %.3f, \"gemm_ms\": %.3f, \"ratio\": %.3f, "
         "\"ns_min_ms\": %.3f, \"gemm_min_ms\": %.3f, \"ratio_min\": %.3f, \"threads\": %d, \"reps\": %d}\n",
         (long long)rows, (long long)cols, ns, mm, ns / mm, t_ns[0], t_mm[0], t_ns[0] / t_mm[0], omp_get_max_threads(),
         reps);
  fflush(stdout);
  free(g), free(x), free(work), free(t_ns), free(t_mm);
}

int main(int argc, char **argv) {
  int64_t n = argc > 1 ? atoll(argv[1]) : 1024;
  int reps = argc > 2 ? atoi(argv[2]) : 9;
  if (n < 4 || reps < 1) {
    fprintf(stderr, "usage: bench_muon [N >= 4] [REPS >= 1]\n");
    return 2;
  }
  bench(n, n, reps);
  bench(n, n / 4, reps);
  return 0;
}
