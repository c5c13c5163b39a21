/* infer/bench_infer.c: binary, int8 and sparse kernels against nnc's fp32 matmul (see bench_infer.h). */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include "core/gemm.h"
#include "core/rng.h"
#include "core/threads.h"
#include "infer/bench_infer.h"
#include "infer/kernels.h"
#include "infer/sparse.h"
#include "util/fsutil.h"

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

typedef void (*bench_fn)(void *ctx);

/* the median milliseconds of f and g over reps calls each, after warm-up calls; the calls
 * alternate (f, g, f, g, ...) so both see the same machine load */
static void time_pair(bench_fn f, bench_fn g, void *ctx, int reps, double *mf, double *mg) {
  double *a = malloc((size_t)reps * sizeof *a), *b = malloc((size_t)reps * sizeof *b);
  for (int i = 0; i < reps / 10 + 3; i++) f(ctx), g(ctx);
  for (int i = 0; i < reps; i++) {
    double t0 = nnc_now();
    f(ctx);
    double t1 = nnc_now();
    g(ctx);
    double t2 = nnc_now();
    a[i] = (t1 - t0) * 1e3;
    b[i] = (t2 - t1) * 1e3;
  }
  *mf = median(a, reps);
  *mg = median(b, reps);
  free(a);
  free(b);
}

static double time_ms(bench_fn f, void *ctx, int reps) {
  double m, unused;
  time_pair(f, f, ctx, reps, &m, &unused);
  return m;
}

typedef struct {
  int64_t M, N, K;
  int threads;
  const float *x, *w;
  float *y;
  const nnc_bin_linear *bl;
  const uint64_t *a;
  uint64_t *bits;
  const nnc_q8_weights *qw;
  const uint8_t *xq;
  int32_t *acc;
  const int32_t *add, *mult, *shift;
  uint8_t *yq;
  const nnc_sparse_linear *sp;
  float *ys, *work;
} ctx_t;

static void run_fp32(void *p) {
  ctx_t *c = p;
  nnc_gemm_f32(false, true, c->M, c->N, c->K, 1.0f, c->x, c->K, c->w, c->K, 0.0f, c->y, c->N);
}

/* rows split evenly over the threads */
#define SPLIT_ROWS(c, body)                                                    \
  do {                                                                         \
    int nt_ = (c)->threads;                                                    \
    _Pragma("omp parallel for num_threads(nt_) if (nt_ > 1) schedule(static)") \
    for (int t_ = 0; t_ < nt_; t_++) {                                         \
      int64_t m0 = (c)->M * t_ / nt_, m1 = (c)->M * (t_ + 1) / nt_;            \
      if (m1 > m0) { body; }                                                   \
    }                                                                          \
  } while (0)

static void run_bin(void *p) {
  ctx_t *c = p;
  int64_t kw = c->bl->kw, ow = nnc_bits_words(c->N);
  SPLIT_ROWS(c, nnc_bin_linear_bits(c->bl, m1 - m0, c->a + m0 * kw, c->bits + m0 * ow));
}

static void run_q8_gemm(void *p) {
  ctx_t *c = p;
  SPLIT_ROWS(c, nnc_q8_gemm_u8s8(c->qw, m1 - m0, c->xq + m0 * c->K, c->K, c->acc + m0 * c->N, c->N));
}

static void run_q8(void *p) {
  ctx_t *c = p;
  SPLIT_ROWS(c, {
    nnc_q8_gemm_u8s8(c->qw, m1 - m0, c->xq + m0 * c->K, c->K, c->acc + m0 * c->N, c->N);
    nnc_q8_requant(m1 - m0, c->N, c->acc + m0 * c->N, c->add, c->mult, c->shift, 128, 0, 255, c->yq + m0 * c->N);
  });
}

static int setup(const nnc_bench_infer_opts *o, ctx_t *c, int *reps, uint64_t *seed) {
  c->M = o->M ? o->M : 64;
  c->N = o->N ? o->N : 1024;
  c->K = o->K ? o->K : 1024;
  c->threads = o->threads ? o->threads : 1;
  *reps = o->reps ? o->reps : 200;
  *seed = o->seed;
  if (c->M < 1 || c->N < 1 || c->K < 1 || c->K > 65000 || c->threads < 1 || *reps < 1) {
    fprintf(stderr, "nnc bench: sizes must be >= 1 (K <= 65000), threads and reps >= 1\n");
    return 2;
  }
  nnc_set_threads(c->threads);
  return 0;
}

int nnc_bench_binary(const nnc_bench_infer_opts *o, FILE *out) {
  ctx_t c = {0};
  int reps;
  uint64_t seed;
  if (setup(o, &c, &reps, &seed)) return 2;
  nnc_rng r;
  nnc_rng_seed(&r, seed, 7);
  float *x = malloc((size_t)(c.M * c.K) * sizeof *x), *w = malloc((size_t)(c.N * c.K) * sizeof *w);
  float *y = malloc((size_t)(c.M * c.N) * sizeof *y);
  for (int64_t i = 0; i < c.M * c.K; i++) x[i] = nnc_rng_uniform(&r) < 0.5 ? -1.0f : 1.0f;
  for (int64_t i = 0; i < c.N * c.K; i++) w[i] = nnc_rng_uniform(&r) < 0.5 ? -1.0f : 1.0f;
  int64_t kw = nnc_bits_words(c.K);
  uint64_t *a = malloc((size_t)(c.M * kw) * sizeof *a), *wb = malloc((size_t)(c.N * kw) * sizeof *wb);
  uint64_t *bits = malloc((size_t)(c.M * nnc_bits_words(c.N)) * sizeof *bits);
  nnc_pack_signs_f32(c.M, c.K, x, c.K, a);
  nnc_pack_signs_f32(c.N, c.K, w, c.K, wb);
  nnc_bin_linear bl;
  nnc_bin_linear_init(&bl, c.K, c.N, wb);
  int32_t *tau = malloc((size_t)c.N * sizeof *tau);
  int8_t *dir = malloc((size_t)c.N);
  for (int64_t n = 0; n < c.N; n++) tau[n] = (int32_t)(nnc_rng_below(&r, 21) - 10), dir[n] = n % 3 ? 1 : -1;
  nnc_bin_linear_set_thresholds(&bl, tau, dir);
  c.x = x, c.w = w, c.y = y, c.bl = &bl, c.a = a, c.bits = bits;

  double fp32, kern;
  time_pair(run_fp32, run_bin, &c, reps, &fp32, &kern);
  const char *isa = nnc_infer_bin_isa();
  bool was = nnc_infer_portable_forced();
  nnc_infer_force_portable(true);
  double port = time_ms(run_bin, &c, reps > 20 ? reps / 4 : reps);
  nnc_infer_force_portable(was);
  fprintf(out,
          "{\"bench\": \"binary\", \"M\": %lld, \"N\": %lld, \"K\": %lld, \"threads\": %d, \"reps\": %d, "
          "\"fp32_ms\": %.5f, \"kernel_ms\": %.5f, \"speedup\": %.2f, \"portable_ms\": %.5f, \"isa\": \"%s\", "
          "\"fp32_backend\": \"%s\"}\n",
          (long long)c.M, (long long)c.N, (long long)c.K, c.threads, reps, fp32, kern, fp32 / kern, port, isa,
          nnc_gemm_backend());
  nnc_bin_linear_free(&bl);
  free(x), free(w), free(y), free(a), free(wb), free(bits), free(tau), free(dir);
  return 0;
}

int nnc_bench_int8(const nnc_bench_infer_opts *o, FILE *out) {
  ctx_t c = {0};
  int reps;
  uint64_t seed;
  if (setup(o, &c, &reps, &seed)) return 2;
  nnc_rng r;
  nnc_rng_seed(&r, seed, 8);
  float *x = malloc((size_t)(c.M * c.K) * sizeof *x), *w = malloc((size_t)(c.N * c.K) * sizeof *w);
  float *y = malloc((size_t)(c.M * c.N) * sizeof *y);
  uint8_t *xq = malloc((size_t)(c.M * c.K)), *yq = malloc((size_t)(c.M * c.N));
  int8_t *wq = malloc((size_t)(c.N * c.K));
  for (int64_t i = 0; i < c.M * c.K; i++) xq[i] = (uint8_t)nnc_rng_below(&r, 256), x[i] = (float)xq[i];
  for (int64_t i = 0; i < c.N * c.K; i++) wq[i] = (int8_t)(nnc_rng_below(&r, 255) - 127), w[i] = (float)wq[i];
  int32_t *acc = malloc((size_t)(c.M * c.N) * sizeof *acc), *add = malloc((size_t)c.N * sizeof *add);
  int32_t *mult = malloc((size_t)c.N * sizeof *mult), *shift = malloc((size_t)c.N * sizeof *shift);
  for (int64_t n = 0; n < c.N; n++) {
    add[n] = (int32_t)nnc_rng_below(&r, 20001) - 10000;
    mult[n] = (int32_t)((1u << 30) + (uint32_t)nnc_rng_below(&r, 1 << 30));
    shift[n] = -(int32_t)(14 + nnc_rng_below(&r, 4));
  }
  nnc_q8_weights qw;
  nnc_q8_weights_init(&qw, c.K, c.N, wq);
  c.x = x, c.w = w, c.y = y, c.qw = &qw, c.xq = xq, c.acc = acc, c.add = add, c.mult = mult, c.shift = shift, c.yq = yq;

  double fp32, kern, gemm, unused;
  time_pair(run_fp32, run_q8, &c, reps, &fp32, &kern);
  time_pair(run_q8_gemm, run_fp32, &c, reps / 2 > 0 ? reps / 2 : 1, &gemm, &unused);
  const char *isa = nnc_infer_q8_isa();
  bool was = nnc_infer_portable_forced();
  nnc_infer_force_portable(true);
  double port = time_ms(run_q8, &c, reps > 20 ? reps / 10 : reps);
  nnc_infer_force_portable(was);
  fprintf(out,
          "{\"bench\": \"int8\", \"M\": %lld, \"N\": %lld, \"K\": %lld, \"threads\": %d, \"reps\": %d, "
          "\"fp32_ms\": %.5f, \"kernel_ms\": %.5f, \"speedup\": %.2f, \"gemm_only_ms\": %.5f, \"portable_ms\": %.5f, "
          "\"isa\": \"%s\", \"fp32_backend\": \"%s\"}\n",
          (long long)c.M, (long long)c.N, (long long)c.K, c.threads, reps, fp32, kern, fp32 / kern, gemm, port, isa,
          nnc_gemm_backend());
  nnc_q8_weights_free(&qw);
  free(x), free(w), free(y), free(xq), free(yq), free(wq), free(acc), free(add), free(mult), free(shift);
  return 0;
}

static void run_sparse(void *p) {
  ctx_t *c = p;
  nnc_sparse_linear_forward(c->sp, c->M, c->x, c->ys, false, c->work);
}

static int cmp_float(const void *a, const void *b) {
  float x = *(const float *)a, y = *(const float *)b;
  return (x > y) - (x < y);
}

/* w [n] ~ N(0, 1) with exactly round(s n) of the smallest magnitudes set to 0 */
static void magnitude_pruned(nnc_rng *r, int64_t n, double s, float *w) {
  float *mag = malloc((size_t)n * sizeof *mag);
  for (int64_t i = 0; i < n; i++) w[i] = (float)nnc_rng_normal(r), mag[i] = fabsf(w[i]);
  int64_t cut = (int64_t)(s * (double)n + 0.5), done = 0;
  if (cut > 0) {
    qsort(mag, (size_t)n, sizeof *mag, cmp_float);
    float thr = mag[cut - 1];
    for (int64_t i = 0; i < n; i++)
      if (fabsf(w[i]) < thr) w[i] = 0.0f, done++;
    for (int64_t i = 0; i < n && done < cut; i++) /* ties at the threshold, in index order */
      if (w[i] != 0.0f && fabsf(w[i]) == thr) w[i] = 0.0f, done++;
  }
  free(mag);
}

int nnc_bench_sparse(const nnc_bench_infer_opts *o, FILE *out) {
  nnc_bench_infer_opts oo = *o;
  if (!oo.reps) oo.reps = 500;
  if (!(o->sparsity >= 0.0 && o->sparsity < 1.0)) {
    fprintf(stderr, "nnc bench sparse: sparsity must be in [0, 1)\n");
    return 2;
  }
  ctx_t c = {0};
  int reps;
  uint64_t seed;
  if (setup(&oo, &c, &reps, &seed)) return 2;
  const double list[] = {0.5, 0.75, 0.9, 0.95};
  const int ns = o->sparsity > 0 ? 1 : 4;
  nnc_rng r;
  nnc_rng_seed(&r, seed, 9);
  /* 64-byte aligned activations for both (as a runtime's would be; unaligned rows cost both about 5%) */
  float *x = aligned_alloc(64, (size_t)(c.M * c.K + 15) / 16 * 64), *w = malloc((size_t)(c.N * c.K) * sizeof *w);
  float *y = aligned_alloc(64, (size_t)(c.M * c.N + 15) / 16 * 64), *ys = aligned_alloc(64, (size_t)(c.M * c.N + 15) / 16 * 64);
  float *bias = malloc((size_t)c.N * sizeof *bias);
  for (int64_t i = 0; i < c.M * c.K; i++) x[i] = (float)nnc_rng_normal(&r);
  for (int64_t i = 0; i < c.N; i++) bias[i] = (float)nnc_rng_normal(&r);
  for (int si = 0; si < ns; si++) {
    const double s = o->sparsity > 0 ? o->sparsity : list[si];
    magnitude_pruned(&r, c.N * c.K, s, w);
    nnc_sparse_linear sp;
    nnc_sparse_linear_init(&sp, c.N, c.K, w, bias, 0);
    float *work = aligned_alloc(64, (size_t)nnc_sparse_work_floats(&sp) * sizeof *work);
    c.x = x, c.w = w, c.y = y, c.sp = &sp, c.ys = ys, c.work = work;
    double dense, sparse;
    time_pair(run_fp32, run_sparse, &c, reps, &dense, &sparse);
    double diff = 0; /* the last calls' outputs */
    for (int64_t i = 0; i < c.M * c.N; i++) diff = fmax(diff, fabs((double)ys[i] - (y[i] + bias[i % c.N])));
    bool was = nnc_infer_portable_forced();
    nnc_infer_force_portable(true);
    double port = time_ms(run_sparse, &c, reps > 20 ? reps / 10 : reps);
    nnc_infer_force_portable(was);
    nnc_sparse_linear plain; /* one panel: plain CSR, xT read from L2 */
    nnc_sparse_linear_init(&plain, c.N, c.K, w, bias, c.K);
    c.sp = &plain;
    double csr = time_ms(run_sparse, &c, reps > 4 ? reps / 2 : reps);
    nnc_sparse_linear_free(&plain);
    fprintf(out,
            "{\"bench\": \"sparse\", \"M\": %lld, \"N\": %lld, \"K\": %lld, \"threads\": %d, \"reps\": %d, "
            "\"sparsity\": %.4f, \"nnz\": %lld, \"dense_ms\": %.5f, \"sparse_ms\": %.5f, \"speedup\": %.2f, "
            "\"sparse_gflops\": %.1f, \"one_panel_ms\": %.5f, \"portable_ms\": %.5f, \"max_abs_diff\": %.3g, "
            "\"format\": \"panel-csr\", "
            "\"panel\": %lld, \"isa\": \"%s\", \"fp32_backend\": \"%s\"}\n",
            (long long)c.M, (long long)c.N, (long long)c.K, c.threads, reps, 1.0 - nnc_sparse_density(&sp),
            (long long)sp.nnz, dense, sparse, dense / sparse, 2e-6 * (double)sp.nnz * (double)c.M / sparse, csr, port, diff,
            (long long)sp.panel, nnc_sparse_isa(), nnc_gemm_backend());
    fflush(out);
    free(work);
    nnc_sparse_linear_free(&sp);
  }
  free(x), free(w), free(y), free(ys), free(bias);
  return 0;
}
