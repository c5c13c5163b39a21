/* tests/test_scan.c: the linear-recurrence ops (ops/scan.c) beyond the gradient-check rows:
 * fast kernels (chunked diagonal scan; blocked, checkpointed delta rule) against the plain
 * reference loops, forward and backward, on long random sequences in f64 and f32; closed forms
 * (a = 1 is cumsum; the delta rule with beta = 1 and unit k writes v exactly); chaining the
 * final state; independence of the thread count; shape errors; and the timings of loop vs
 * fast (printed, not checked). */
#include <stdlib.h>
#include <time.h>
#include "test.h"

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

/* max |a - b| / (1 + |b|) */
static double max_err(const nnc_tensor *a, const nnc_tensor *b) {
  if (!a || !b || !nnc_same_shape(a, b)) return INFINITY;
  double e = 0;
  for (int64_t i = 0, n = nnc_numel(a); i < n; i++) {
    double x = nnc_get(a, i), y = nnc_get(b, i);
    e = fmax(e, isnan(x) || isnan(y) ? INFINITY : fabs(x - y) / (1 + fabs(y)));
  }
  return e;
}

static bool bit_equal(const nnc_tensor *a, const nnc_tensor *b) {
  if (!nnc_same_shape(a, b)) return false;
  for (int64_t i = 0, n = nnc_numel(a); i < n; i++)
    if (nnc_get(a, i) != nnc_get(b, i)) return false;
  return true;
}

/* a fresh leaf of dtype dt with the values of src */
static nnc_tensor *leaf(nnc_dtype dt, const nnc_tensor *src) {
  nnc_tensor *t = nnc_empty(dt, src->ndim, src->shape);
  nnc_copy_into(t, src);
  return nnc_requires_grad(t);
}

/* ---------------- diagonal scan ---------------- */
typedef struct { nnc_tensor *y, *da, *dbx, *dh0; } diag_out;

static diag_out run_diag(bool ref, nnc_dtype dt, nnc_tensor *a0, nnc_tensor *x0, nnc_tensor *h00, nnc_tensor *g0) {
  nnc_set_reference_kernels(ref);
  nnc_tensor *a = leaf(dt, a0), *x = leaf(dt, x0), *h0 = h00 ? leaf(dt, h00) : NULL;
  nnc_tensor *y = nnc_scan_diag(a, x, h0), *g = nnc_empty(dt, g0->ndim, g0->shape);
  nnc_copy_into(g, g0);
  nnc_backward_with(y, g);
  nnc_set_reference_kernels(false);
  return (diag_out){y, a->grad, x->grad, h0 ? h0->grad : NULL};
}

static void diag_case(int64_t B, int64_t T, int64_t D, bool with_h0, uint64_t seed) {
  nnc_rng r;
  nnc_rng_seed(&r, seed, 1);
  nnc_tensor *a = nnc_rand(NNC_F64, NNC_SHAPE(B, T, D), &r), *x = nnc_randn(NNC_F64, NNC_SHAPE(B, T, D), &r);
  nnc_tensor *h0 = with_h0 ? nnc_randn(NNC_F64, NNC_SHAPE(B, D), &r) : NULL;
  nnc_tensor *g = nnc_randn(NNC_F64, NNC_SHAPE(B, T, D), &r);
  for (int64_t i = 0, n = nnc_numel(a); i < n; i++) nnc_set(a, i, 2 * nnc_get(a, i) - 1); /* (-1, 1) */
  diag_out ref = run_diag(true, NNC_F64, a, x, h0, g);
  for (int k = 0; k < 2; k++) {
    nnc_dtype dt = k ? NNC_F32 : NNC_F64;
    double tol = k ? 2e-5 : 1e-12;
    diag_out f = run_diag(false, dt, a, x, h0, g);
    double e[4] = {max_err(f.y, ref.y), max_err(f.da, ref.da), max_err(f.dbx, ref.dbx),
                   with_h0 ? max_err(f.dh0, ref.dh0) : 0};
    CHECKF(e[0] <= tol && e[1] <= tol && e[2] <= tol && e[3] <= tol,
           "scan_diag %lldx%lldx%lld %s: y %.2e da %.2e dbx %.2e dh0 %.2e", (long long)B, (long long)T, (long long)D,
           nnc_dtype_name(dt), e[0], e[1], e[2], e[3]);
  }
  /* the reference f32 loop agrees too (it computes in double) */
  diag_out r32 = run_diag(true, NNC_F32, a, x, h0, g);
  CHECKF(max_err(r32.y, ref.y) < 1e-6 && max_err(r32.da, ref.da) < 1e-5, "scan_diag reference f32");
  nnc_step_end();
}

static void test_diag(void) {
  diag_case(3, 256, 64, true, 1);   /* 3 units: chunked over time (8 chunks of 32) */
  diag_case(2, 256, 70, true, 2);   /* a partial channel block */
  diag_case(1, 1000, 5, false, 3);  /* a partial last chunk */
  diag_case(70, 40, 8, true, 4);    /* enough units: not chunked */
  diag_case(2, 1, 3, true, 5);      /* one step */

  /* a = 1 is a cumulative sum; a = 0 returns bx */
  nnc_rng r;
  nnc_rng_seed(&r, 9, 1);
  nnc_tensor *x = nnc_randn(NNC_F64, NNC_SHAPE(2, 300, 3), &r);
  nnc_tensor *y1 = nnc_scan_diag(nnc_ones(NNC_F64, NNC_SHAPE(2, 300, 3)), x, NULL);
  CHECK(max_err(y1, nnc_cumsum(x, 1)) < 1e-12);
  CHECK(bit_equal(nnc_scan_diag(nnc_zeros(NNC_F64, NNC_SHAPE(2, 300, 3)), x, NULL), x));

  /* shape errors name the op */
  EXPECT_ABORT(nnc_scan_diag(nnc_zeros(NNC_F32, NNC_SHAPE(2, 3, 4)), nnc_zeros(NNC_F32, NNC_SHAPE(2, 3, 5)), NULL),
               "scan_diag");
  EXPECT_ABORT(nnc_scan_diag(nnc_zeros(NNC_F32, NNC_SHAPE(2, 3, 4)), nnc_zeros(NNC_F32, NNC_SHAPE(2, 3, 4)),
                             nnc_zeros(NNC_F32, NNC_SHAPE(3, 4))),
               "h0");
  EXPECT_ABORT(nnc_scan_diag(nnc_zeros(NNC_F32, NNC_SHAPE(3, 4)), nnc_zeros(NNC_F32, NNC_SHAPE(3, 4)), NULL), "[B, T, D]");
  nnc_step_end();
}

/* ---------------- delta rule ---------------- */
typedef struct { nnc_tensor *o, *S, *dq, *dk, *dv, *db, *dS0; } delta_out;

static delta_out run_delta(bool ref, nnc_dtype dt, nnc_tensor *q0, nnc_tensor *k0, nnc_tensor *v0, nnc_tensor *b0,
                           nnc_tensor *S00, nnc_tensor *g0) {
  nnc_set_reference_kernels(ref);
  nnc_tensor *q = leaf(dt, q0), *k = leaf(dt, k0), *v = leaf(dt, v0), *b = leaf(dt, b0);
  nnc_tensor *S0 = S00 ? leaf(dt, S00) : NULL, *S = NULL;
  nnc_tensor *o = nnc_scan_delta_ex(q, k, v, b, S0, &S), *g = nnc_empty(dt, g0->ndim, g0->shape);
  nnc_copy_into(g, g0);
  nnc_backward_with(o, g);
  nnc_set_reference_kernels(false);
  return (delta_out){o, S, q->grad, k->grad, v->grad, b->grad, S0 ? S0->grad : NULL};
}

/* random q, v, S0; k unit rows; beta in (0, 2) */
static void delta_inputs(nnc_rng *r, int64_t B, int64_t H, int64_t T, int64_t Dk, int64_t Dv, nnc_tensor **q,
                         nnc_tensor **k, nnc_tensor **v, nnc_tensor **b, nnc_tensor **S0) {
  *q = nnc_randn(NNC_F64, NNC_SHAPE(B, H, T, Dk), r);
  *k = nnc_randn(NNC_F64, NNC_SHAPE(B, H, T, Dk), r);
  *v = nnc_randn(NNC_F64, NNC_SHAPE(B, H, T, Dv), r);
  *b = nnc_rand(NNC_F64, NNC_SHAPE(B, H, T), r);
  for (int64_t i = 0, n = nnc_numel(*b); i < n; i++) nnc_set(*b, i, 2 * nnc_get(*b, i));
  double *kp = nnc_f64(*k);
  for (int64_t row = 0; row < B * H * T; row++) {
    double s = 0;
    for (int64_t j = 0; j < Dk; j++) s += kp[row * Dk + j] * kp[row * Dk + j];
    for (int64_t j = 0; j < Dk; j++) kp[row * Dk + j] /= sqrt(s);
  }
  if (S0) *S0 = nnc_randn(NNC_F64, NNC_SHAPE(B, H, Dv, Dk), r);
}

static void delta_case(int64_t B, int64_t H, int64_t T, int64_t Dk, int64_t Dv, bool with_s0, uint64_t seed) {
  nnc_rng r;
  nnc_rng_seed(&r, seed, 2);
  nnc_tensor *q, *k, *v, *b, *S0 = NULL;
  delta_inputs(&r, B, H, T, Dk, Dv, &q, &k, &v, &b, with_s0 ? &S0 : NULL);
  nnc_tensor *g = nnc_randn(NNC_F64, NNC_SHAPE(B, H, T, Dv), &r);
  delta_out ref = run_delta(true, NNC_F64, q, k, v, b, S0, g);
  /* f32 tolerance: rounding the inputs alone to f32 moves dk by 4e-5 (reference loop in
   * double on f32 inputs, 256 steps of D = 64); f32 arithmetic adds a few times that */
  for (int kk = 0; kk < 2; kk++) {
    nnc_dtype dt = kk ? NNC_F32 : NNC_F64;
    double tol = kk ? 5e-4 : 1e-11;
    delta_out f = run_delta(false, dt, q, k, v, b, S0, g);
    double e[7] = {max_err(f.o, ref.o),   max_err(f.S, ref.S),   max_err(f.dq, ref.dq), max_err(f.dk, ref.dk),
                   max_err(f.dv, ref.dv), max_err(f.db, ref.db), with_s0 ? max_err(f.dS0, ref.dS0) : 0};
    double m = 0;
    for (int i = 0; i < 7; i++) m = fmax(m, e[i]);
    CHECKF(m <= tol, "scan_delta %lldx%lldx%lldx%lld/%lld %s: o %.2e S %.2e dq %.2e dk %.2e dv %.2e dbeta %.2e dS0 %.2e",
           (long long)B, (long long)H, (long long)T, (long long)Dk, (long long)Dv, nnc_dtype_name(dt), e[0], e[1], e[2],
           e[3], e[4], e[5], e[6]);
  }
  nnc_step_end();
}

static void test_delta(void) {
  delta_case(2, 2, 256, 64, 64, true, 1);
  delta_case(1, 3, 100, 32, 48, true, 2);  /* Dv != Dk, a partial last checkpoint chunk */
  delta_case(2, 1, 33, 16, 8, false, 3);
  delta_case(1, 1, 1, 4, 4, true, 4);      /* one step */
  delta_case(1, 1, 40, 5, 100, true, 5);   /* Dv over one forward block */

  nnc_rng r;
  nnc_rng_seed(&r, 7, 3);
  nnc_tensor *q, *k, *v, *b, *S0;
  delta_inputs(&r, 2, 2, 64, 8, 8, &q, &k, &v, &b, &S0);
  /* beta = 1 and unit k: S_t k_t = v_t, so o_t = v_t when q = k */
  nnc_tensor *o = nnc_scan_delta(k, k, v, nnc_ones(NNC_F64, NNC_SHAPE(2, 2, 64)), S0);
  CHECK(max_err(o, v) < 1e-12);
  /* two halves chained through the final state give the whole */
  nnc_tensor *Sa, *Sb, *Sw;
  nnc_tensor *ow = nnc_scan_delta_ex(q, k, v, b, S0, &Sw);
  nnc_tensor *o1 = nnc_scan_delta_ex(nnc_narrow(q, 2, 0, 30), nnc_narrow(k, 2, 0, 30), nnc_narrow(v, 2, 0, 30),
                                     nnc_narrow(b, 2, 0, 30), S0, &Sa);
  nnc_tensor *o2 = nnc_scan_delta_ex(nnc_narrow(q, 2, 30, 34), nnc_narrow(k, 2, 30, 34), nnc_narrow(v, 2, 30, 34),
                                     nnc_narrow(b, 2, 30, 34), Sa, &Sb);
  CHECK(max_err(nnc_concat(2, (nnc_tensor *[]){o1, o2}, 2), ow) < 1e-12);
  CHECK(max_err(Sb, Sw) < 1e-12);
  /* a 3-d call ([B, T, D], no heads) is the 4-d call with the leading dims merged */
  nnc_tensor *o3 = nnc_scan_delta(nnc_reshape(q, NNC_SHAPE(4, 64, 8)), nnc_reshape(k, NNC_SHAPE(4, 64, 8)),
                                  nnc_reshape(v, NNC_SHAPE(4, 64, 8)), nnc_reshape(b, NNC_SHAPE(4, 64)),
                                  nnc_reshape(S0, NNC_SHAPE(4, 8, 8)));
  CHECK(bit_equal(o3, nnc_reshape(ow, NNC_SHAPE(4, 64, 8))));

  EXPECT_ABORT(nnc_scan_delta(q, k, v, nnc_ones(NNC_F64, NNC_SHAPE(2, 2, 63)), NULL), "beta");
  EXPECT_ABORT(nnc_scan_delta(q, nnc_narrow(k, 3, 0, 4), v, b, NULL), "scan_delta");
  EXPECT_ABORT(nnc_scan_delta(q, k, v, b, nnc_zeros(NNC_F64, NNC_SHAPE(2, 2, 8, 7))), "S0");
  nnc_step_end();
}

/* the fast kernels give the same bits whatever the thread count */
static void test_threads(void) {
  int nt = nnc_get_threads();
  nnc_rng r;
  nnc_rng_seed(&r, 11, 4);
  nnc_tensor *a = nnc_rand(NNC_F32, NNC_SHAPE(2, 512, 40), &r), *x = nnc_randn(NNC_F32, NNC_SHAPE(2, 512, 40), &r);
  nnc_tensor *q, *k, *v, *b, *S0;
  delta_inputs(&r, 2, 3, 70, 16, 16, &q, &k, &v, &b, &S0);
  nnc_tensor *g = nnc_randn(NNC_F64, NNC_SHAPE(2, 3, 70, 16), &r), *gd = nnc_randn(NNC_F64, NNC_SHAPE(2, 512, 40), &r);
  diag_out d[2];
  delta_out e[2];
  for (int i = 0; i < 2; i++) {
    nnc_set_threads(i ? nt : 1);
    d[i] = run_diag(false, NNC_F32, a, x, NULL, gd);
    e[i] = run_delta(false, NNC_F32, q, k, v, b, S0, g);
  }
  nnc_set_threads(nt);
  CHECK(bit_equal(d[0].y, d[1].y) && bit_equal(d[0].da, d[1].da) && bit_equal(d[0].dbx, d[1].dbx));
  CHECK(bit_equal(e[0].o, e[1].o) && bit_equal(e[0].dk, e[1].dk) && bit_equal(e[0].dS0, e[1].dS0) &&
        bit_equal(e[0].db, e[1].db));
  nnc_step_end();
}

/* ms per call, the best of `reps` */
#define TIME_BEST(reps, out, code)                           \
  do {                                                       \
    out = INFINITY;                                          \
    for (int rep_ = 0; rep_ < (reps); rep_++) {              \
      double t0_ = now_ms();                                 \
      code;                                                  \
      out = fmin(out, now_ms() - t0_);                       \
      nnc_step_end();                                        \
    }                                                        \
  } while (0)

/* inputs for the timings live in malloc'd buffers, wrapped afresh after every step end */
static float *rand_buf(int64_t n, double lo, double hi, nnc_rng *r) {
  float *p = nnc_xmalloc(sizeof(float) * (size_t)n);
  for (int64_t i = 0; i < n; i++) p[i] = (float)(lo + (hi - lo) * nnc_rng_uniform(r));
  return p;
}

static void bench(void) {
  nnc_rng r;
  nnc_rng_seed(&r, 5, 5);
  printf("timings (f32, %d threads, best of 15; ms):\n", nnc_get_threads());
  {
    int64_t B = 8, T = 1024, D = 64, n = B * T * D;
    float *ab = rand_buf(n, -1, 1, &r), *xb = rand_buf(n, -1, 1, &r);
    double t[4];
    for (int ref = 1; ref >= 0; ref--) {
      nnc_set_reference_kernels(ref);
      TIME_BEST(15, t[2 * ref], nnc_tensor *a = nnc_wrap(NNC_F32, NNC_SHAPE(B, T, D), ab);
                nnc_scan_diag(a, nnc_wrap(NNC_F32, NNC_SHAPE(B, T, D), xb), NULL));
      TIME_BEST(15, t[2 * ref + 1], nnc_tensor *a = nnc_requires_grad(nnc_wrap(NNC_F32, NNC_SHAPE(B, T, D), ab));
                nnc_tensor *x = nnc_requires_grad(nnc_wrap(NNC_F32, NNC_SHAPE(B, T, D), xb));
                nnc_backward_with(nnc_scan_diag(a, x, NULL), nnc_wrap(NNC_F32, NNC_SHAPE(B, T, D), xb)));
    }
    nnc_set_reference_kernels(false);
    printf("  scan_diag  B=8 T=1024 D=64     forward: loop %7.3f  fast %7.3f   fwd+bwd: loop %7.3f  fast %7.3f\n",
           t[2], t[0], t[3], t[1]);
    free(ab);
    free(xb);
  }
  {
    int64_t B = 4, H = 2, T = 256, D = 32, n = B * H * T * D;
    float *qb = rand_buf(n, -1, 1, &r), *kb = rand_buf(n, -1, 1, &r), *vb = rand_buf(n, -1, 1, &r);
    float *bb = rand_buf(B * H * T, 0, 2, &r);
    for (int64_t row = 0; row < B * H * T; row++) {
      double s = 0;
      for (int64_t j = 0; j < D; j++) s += kb[row * D + j] * kb[row * D + j];
      for (int64_t j = 0; j < D; j++) kb[row * D + j] /= (float)sqrt(s);
    }
    double t[4];
#define W4(p) nnc_wrap(NNC_F32, NNC_SHAPE(B, H, T, D), p)
    for (int ref = 1; ref >= 0; ref--) {
      nnc_set_reference_kernels(ref);
      TIME_BEST(15, t[2 * ref], nnc_scan_delta(W4(qb), W4(kb), W4(vb), nnc_wrap(NNC_F32, NNC_SHAPE(B, H, T), bb), NULL));
      TIME_BEST(15, t[2 * ref + 1], nnc_tensor *q = nnc_requires_grad(W4(qb)); nnc_tensor *k = nnc_requires_grad(W4(kb));
                nnc_tensor *v = nnc_requires_grad(W4(vb));
                nnc_tensor *be = nnc_requires_grad(nnc_wrap(NNC_F32, NNC_SHAPE(B, H, T), bb));
                nnc_backward_with(nnc_scan_delta(q, k, v, be, NULL), W4(qb)));
    }
#undef W4
    nnc_set_reference_kernels(false);
    printf("  scan_delta B=4 H=2 T=256 D=32  forward: loop %7.3f  fast %7.3f   fwd+bwd: loop %7.3f  fast %7.3f\n",
           t[2], t[0], t[3], t[1]);
    free(qb);
    free(kb);
    free(vb);
    free(bb);
  }
}

int main(int argc, char **argv) {
  nnc_init();
  test_diag();
  test_delta();
  test_threads();
  if (!(argc > 1 && strcmp(argv[1], "--no-bench") == 0) && !getenv("NNC_SANITIZE")) bench();
  return test_summary();
}
