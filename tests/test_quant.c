/* tests/test_quant.c: the quantisation library (src/quant).
 *   integer primitives against hand-computed values and exact edge cases (gemmlowp/TFLite
 *   semantics: SRDHM ties to +inf and INT32_MIN^2 saturation, RDBPOT ties away from zero,
 *   QuantizeMultiplier rounding and range), and against independent formulas on random inputs;
 *   reference GEMMs and requantisation; quantisers, schemes and calibration (min-max,
 *   percentile, MSE); fake-quant STE / clipped STE and LSQ forward and backward against
 *   hand-computed gradients; batch-norm folding (Linear and Conv, f64 exact, and a whole
 *   Sequential); the quantised model, its integer export, and the float64 simulation that
 *   must equal the integer forward code for code; the error paths. */
#include <stdint.h>
#include <stdlib.h>
#include "test.h"
#include "quant/qint.h"
#include "train/classifier.h"
#include "quant/qmodel.h"
#include "quant/quant.h"

static uint64_t rs = 12345;
static uint64_t rnd(void) { /* splitmix64 */
  uint64_t z = (rs += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
static int32_t rnd_i32(void) { return (int32_t)(uint32_t)rnd(); }

/* ---- fixed-point primitives ---- */
static void test_srdhm(void) {
  CHECK(nnc_srdhm(INT32_MIN, INT32_MIN) == INT32_MAX); /* the one overflow saturates */
  CHECK(nnc_srdhm(1 << 15, 1 << 15) == 1);              /* +0.5 -> 1 */
  CHECK(nnc_srdhm(-(1 << 15), 1 << 15) == 0);           /* -0.5 -> 0: ties go towards +inf */
  CHECK(nnc_srdhm(-3 * (1 << 15), 1 << 15) == -1);      /* -1.5 -> -1 */
  CHECK(nnc_srdhm(3 * (1 << 15), 1 << 15) == 2);        /* +1.5 -> 2 */
  CHECK(nnc_srdhm(INT32_MAX, INT32_MAX) == 2147483646); /* (2^31-1)^2 / 2^31 = 2^31 - 2 + 2^-31 */
  CHECK(nnc_srdhm(INT32_MIN, INT32_MAX) == -2147483647);
  CHECK(nnc_srdhm(INT32_MAX, INT32_MIN) == -2147483647);
  CHECK(nnc_srdhm(1 << 30, 1 << 30) == 1 << 29);
  CHECK(nnc_srdhm(1, 1) == 0 && nnc_srdhm(-1, 1) == 0 && nnc_srdhm(0, INT32_MIN) == 0);
  CHECK(nnc_srdhm(INT32_MIN, 1 << 30) == -(1 << 30));
  CHECK(nnc_srdhm(100, 1 << 30) == 50 && nnc_srdhm(-100, 1 << 30) == -50);
  /* against floor((ab + 2^30) / 2^31) computed with an arithmetic shift of an int64 */
  int bad = 0;
  for (int i = 0; i < 200000; i++) {
    int32_t a = rnd_i32(), b = rnd_i32();
    if (i % 4 == 1) a >>= (int)(rnd() % 31);
    if (i % 4 == 2) b = (int32_t)(rnd() % 2 ? 1 << 15 : -(1 << 15)) * (int32_t)(rnd() % 64);
    if (a == INT32_MIN && b == INT32_MIN) continue;
    int64_t want = ((int64_t)a * b + (1 << 30)) >> 31;
    bad += nnc_srdhm(a, b) != want;
  }
  CHECKF(bad == 0, "%d mismatches", bad);
}

static void test_rdbpot(void) {
  CHECK(nnc_rdbpot(3, 1) == 2 && nnc_rdbpot(-3, 1) == -2); /* ties away from zero */
  CHECK(nnc_rdbpot(1, 1) == 1 && nnc_rdbpot(-1, 1) == -1);
  CHECK(nnc_rdbpot(5, 2) == 1 && nnc_rdbpot(-5, 2) == -1);  /* 1.25 */
  CHECK(nnc_rdbpot(6, 2) == 2 && nnc_rdbpot(-6, 2) == -2);  /* 1.5 */
  CHECK(nnc_rdbpot(7, 2) == 2 && nnc_rdbpot(-7, 2) == -2);  /* 1.75 */
  CHECK(nnc_rdbpot(12345, 0) == 12345 && nnc_rdbpot(-12345, 0) == -12345);
  CHECK(nnc_rdbpot(INT32_MIN, 31) == -1 && nnc_rdbpot(INT32_MAX, 31) == 1);
  CHECK(nnc_rdbpot(1 << 30, 31) == 1 && nnc_rdbpot(-(1 << 30), 31) == -1);
  CHECK(nnc_rdbpot((1 << 30) - 1, 31) == 0 && nnc_rdbpot(-(1 << 30) + 1, 31) == 0);
  CHECK(nnc_rdbpot(INT32_MIN, 1) == -(1 << 30) && nnc_rdbpot(INT32_MAX, 1) == 1 << 30);
  int bad = 0;
  for (int i = 0; i < 200000; i++) {
    int32_t x = rnd_i32();
    int e = (int)(rnd() % 32);
    if (i % 3 == 0) x >>= (int)(rnd() % 31);
    double want = round(ldexp((double)x, -e)); /* C round(): ties away from zero, exact here */
    bad += nnc_rdbpot(x, e) != (int32_t)want;
  }
  CHECKF(bad == 0, "%d mismatches", bad);
  EXPECT_ABORT(nnc_rdbpot(1, 32), "exponent");
  EXPECT_ABORT(nnc_rdbpot(1, -1), "exponent");
}

static void test_quantize_multiplier(void) {
  int32_t m;
  int s;
  nnc_quantize_multiplier(0, &m, &s);
  CHECK(m == 0 && s == 0);
  nnc_quantize_multiplier(0.5, &m, &s);
  CHECK(m == 1 << 30 && s == 0);
  nnc_quantize_multiplier(1.0, &m, &s);
  CHECK(m == 1 << 30 && s == 1);
  nnc_quantize_multiplier(0.75, &m, &s);
  CHECK(m == 1610612736 && s == 0);
  nnc_quantize_multiplier(0.1, &m, &s); /* 0.8 * 2^-3; 0.8 * 2^31 = 1717986918.4 */
  CHECK(m == 1717986918 && s == -3);
  nnc_quantize_multiplier(3.0, &m, &s); /* 0.75 * 2^2 */
  CHECK(m == 1610612736 && s == 2);
  nnc_quantize_multiplier(0.5 + ldexp(1, -32), &m, &s); /* mantissa 2^30 + 0.5: half away from zero */
  CHECK(m == (1 << 30) + 1 && s == 0);
  nnc_quantize_multiplier(1 - ldexp(1, -40), &m, &s); /* rounds up to 2^31: becomes 2^30, shift + 1 */
  CHECK(m == 1 << 30 && s == 1);
  nnc_quantize_multiplier(ldexp(1, -32), &m, &s); /* 0.5 * 2^-31: the smallest kept */
  CHECK(m == 1 << 30 && s == -31);
  nnc_quantize_multiplier(ldexp(1, -33), &m, &s); /* shift -32 < -31: zero */
  CHECK(m == 0 && s == 0);
  double worst = 0;
  for (int i = 0; i < 10000; i++) {
    double r = ldexp(0.5 + 0.5 * (double)(rnd() >> 11) / 9007199254740992.0, (int)(rnd() % 40) - 30);
    nnc_quantize_multiplier(r, &m, &s);
    CHECK(m >= 1 << 30 || m == 0);
    worst = fmax(worst, fabs(ldexp((double)m, s - 31) - r) / r);
  }
  CHECKF(worst <= ldexp(1, -31), "relative error %g", worst);
  EXPECT_ABORT(nnc_quantize_multiplier(-1, &m, &s), "multiplier");
  EXPECT_ABORT(nnc_quantize_multiplier(NAN, &m, &s), "multiplier");
}

static void test_mbqm(void) {
  CHECK(nnc_multiply_by_quantized_multiplier(100, 1 << 30, 0) == 50);
  CHECK(nnc_multiply_by_quantized_multiplier(3, 1 << 30, 0) == 2);   /* +1.5 -> 2 */
  CHECK(nnc_multiply_by_quantized_multiplier(-3, 1 << 30, 0) == -1); /* -1.5 -> -1 (SRDHM's tie) */
  CHECK(nnc_multiply_by_quantized_multiplier(6, 1 << 30, -1) == 2);  /* 3 / 2 -> 2 */
  CHECK(nnc_multiply_by_quantized_multiplier(-6, 1 << 30, -1) == -2); /* -3 / 2 -> -2 (RDBPOT's tie) */
  CHECK(nnc_multiply_by_quantized_multiplier(-2, 1 << 30, -1) == -1); /* -0.5 -> -1 */
  CHECK(nnc_multiply_by_quantized_multiplier(-1, 1 << 30, -1) == 0); /* -0.25: SRDHM gives 0 (-0.5 -> 0) */
  CHECK(nnc_multiply_by_quantized_multiplier(5, 1610612736, 2) == 15);      /* 5 * 3 */
  CHECK(nnc_multiply_by_quantized_multiplier(INT32_MAX, 1610612736, 2) == 1610612735); /* x * 4 saturates */
  CHECK(nnc_multiply_by_quantized_multiplier(INT32_MIN, 1 << 30, 1) == -(1 << 30)); /* x * 2 saturates to -2^31 */
  /* within one unit of the exact product with the quantised multiplier */
  double worst = 0;
  for (int i = 0; i < 100000; i++) {
    int32_t x = rnd_i32() >> (int)(rnd() % 31);
    int32_t m = (int32_t)((1u << 30) + (uint32_t)(rnd() % (1u << 30)));
    int s = -(int)(rnd() % 20);
    double exact = ldexp((double)x * (double)m, s - 31);
    worst = fmax(worst, fabs(nnc_multiply_by_quantized_multiplier(x, m, s) - exact));
  }
  CHECKF(worst < 1, "worst error %g", worst);
}

static void test_qgemm(void) {
  const uint8_t A[6] = {1, 2, 3, 255, 0, 128};
  const int8_t B[6] = {1, -1, 2, -128, 127, 0};
  int32_t C[4];
  nnc_qgemm_ref_u8s8(2, 2, 3, A, B, C);
  CHECK(C[0] == 1 - 2 + 6 && C[1] == -128 + 254 && C[2] == 255 + 256 && C[3] == -255 * 128);
  const int8_t As[3] = {-128, -128, -128}, Bs[3] = {-128, -128, -128};
  nnc_qgemm_ref_s8(1, 1, 3, As, Bs, C);
  CHECK(C[0] == 3 * 16384);
  int32_t sum[2];
  nnc_qrow_sums_s8(2, 3, B, sum);
  CHECK(sum[0] == 2 && sum[1] == -1);
  int32_t acc[4] = {-1000, 0, 10, 1000}, mult[2] = {1 << 30, 1 << 30}, shift[2] = {0, -1};
  uint8_t out[4];
  nnc_requantize_ref(2, 2, acc, mult, shift, true, 100, 50, 200, out);
  CHECK(out[0] == 50 && out[1] == 100 && out[2] == 105 && out[3] == 200);
  nnc_requantize_ref(2, 2, acc, mult, shift, false, 10, 0, 255, out);
  CHECK(out[0] == 0 && out[1] == 10 && out[2] == 15 && out[3] == 255);
  EXPECT_ABORT(nnc_requantize_ref(1, 1, acc, mult, shift, false, 0, 0, 256, out), "clamp");
}

/* ---- quantisers and calibration ---- */
static void test_schemes(void) {
  int32_t lo, hi;
  nnc_qscheme_range(nnc_qscheme_weight(8), &lo, &hi);
  CHECK(lo == -127 && hi == 127);
  nnc_qscheme_range((nnc_qscheme){8, true, false}, &lo, &hi);
  CHECK(lo == -128 && hi == 127);
  nnc_qscheme_range(nnc_qscheme_act(4), &lo, &hi);
  CHECK(lo == 0 && hi == 15);
  nnc_qscheme_range(nnc_qscheme_weight(2), &lo, &hi);
  CHECK(lo == -1 && hi == 1);
  EXPECT_ABORT(nnc_qscheme_range(nnc_qscheme_weight(1), &lo, &hi), "bits");
  float S;
  int32_t Z;
  nnc_qscheme_params(nnc_qscheme_act(8), -1, 3, &S, &Z);
  CHECK(S == (float)(4.0 / 255) && Z == 64); /* round(1 / (4/255)) = round(63.75) */
  CHECK(nnc_quantize_f32(0, S, Z, 0, 255) == Z);
  nnc_qscheme_params(nnc_qscheme_act(8), 0.5, 2, &S, &Z); /* widened to contain 0 */
  CHECK(S == (float)(2.0 / 255) && Z == 0);
  nnc_qscheme_params(nnc_qscheme_act(8), -3, -1, &S, &Z);
  CHECK(S == (float)(3.0 / 255) && Z == 255);
  nnc_qscheme_params(nnc_qscheme_weight(8), -0.5, 2, &S, &Z);
  CHECK(S == (float)(2.0 / 127) && Z == 0);
  nnc_qscheme_params((nnc_qscheme){8, true, false}, -0.5, 2, &S, &Z);
  CHECK(S == (float)(4.0 / 255) && Z == 0);
  nnc_qscheme_params(nnc_qscheme_weight(4), 0, 0, &S, &Z); /* all zero: the floor scale */
  CHECK(S == NNC_QSCALE_MIN && Z == 0);
  /* round half to even, clamping, NaN */
  CHECK(nnc_quantize_f32(0.5f, 1, 0, -8, 7) == 0 && nnc_quantize_f32(1.5f, 1, 0, -8, 7) == 2);
  CHECK(nnc_quantize_f32(2.5f, 1, 0, -8, 7) == 2 && nnc_quantize_f32(-0.5f, 1, 0, -8, 7) == 0);
  CHECK(nnc_quantize_f32(-1.5f, 1, 0, -8, 7) == -2 && nnc_quantize_f32(-2.5f, 1, 0, -8, 7) == -2);
  CHECK(nnc_quantize_f32(100, 1, 0, -8, 7) == 7 && nnc_quantize_f32(-100, 1, 3, 0, 15) == 0);
  CHECK(nnc_quantize_f32(NAN, 1, 0, -8, 7) == -8 && nnc_quantize_f32(INFINITY, 1, 0, -8, 7) == 7);
}

static void test_calibration(void) {
  enum { N = 10000 };
  float *v = malloc(N * sizeof *v);
  for (int i = 0; i < N; i++) v[i] = (float)(i + 1);
  double lo, hi;
  nnc_calib mm = {NNC_CALIB_MINMAX, 0, 0}, pc = {NNC_CALIB_PERCENTILE, 99, 0}, mse = {NNC_CALIB_MSE, 0, 0};
  nnc_calib_range(v, N, nnc_qscheme_act(8), mm, &lo, &hi);
  CHECK(lo == 1 && hi == N);
  nnc_calib_range(v, N, nnc_qscheme_weight(8), mm, &lo, &hi);
  CHECK(lo == -N && hi == N);
  nnc_calib_range(v, N, nnc_qscheme_weight(8), pc, &lo, &hi); /* numpy: 0.99 * 9999 = 9899.01 -> 9900.01 */
  CHECK_NEAR(hi, 9900.01, 1e-9);
  CHECK(lo == -hi);
  nnc_calib_range(v, N, nnc_qscheme_act(8), pc, &lo, &hi); /* 1st and 99th percentiles */
  CHECK_NEAR(lo, 100.99, 1e-9);
  CHECK_NEAR(hi, 9900.01, 1e-9);
  /* MSE: gaussian values with ten outliers at +-20: never a larger error than min-max, and
   * at 4 bits or fewer a much tighter range (clipping ten values costs less than coarse steps
   * for all the others); at 8 bits clipping does not pay */
  nnc_rng r;
  nnc_rng_seed(&r, 1, 2);
  for (int i = 0; i < N; i++) v[i] = (float)nnc_rng_normal(&r);
  for (int i = 0; i < 10; i++) v[i * 997] = i % 2 ? 20.0f : -20.0f;
  for (int bits = 2; bits <= 8; bits += 2) {
    nnc_qscheme s = nnc_qscheme_weight(bits);
    int32_t qmin, qmax;
    nnc_qscheme_range(s, &qmin, &qmax);
    double l1, h1, l2, h2;
    float S1, S2;
    int32_t Z1, Z2;
    nnc_calib_range(v, N, s, mm, &l1, &h1);
    nnc_calib_range(v, N, s, mse, &l2, &h2);
    nnc_qscheme_params(s, l1, h1, &S1, &Z1);
    nnc_qscheme_params(s, l2, h2, &S2, &Z2);
    CHECKF(bits > 4 || h2 < 0.5 * h1, "bits %d: mse range %g vs %g", bits, h2, h1);
    CHECKF(bits < 8 || h2 > 0.9 * h1, "bits %d: mse range %g vs %g", bits, h2, h1);
    CHECK(nnc_quant_sq_error(v, N, S2, Z2, qmin, qmax) <= nnc_quant_sq_error(v, N, S1, Z1, qmin, qmax));
  }
  /* non-finite values are ignored */
  float w[4] = {NAN, -2, INFINITY, 1};
  nnc_calib_range(w, 4, nnc_qscheme_act(8), mm, &lo, &hi);
  CHECK(lo == -2 && hi == 1);
  free(v);

  /* per channel: an all-zero channel gets the floor scale, and fake quantisation stays finite */
  nnc_tensor *t = nnc_from_data(NNC_F32, NNC_SHAPE(2, 3), (float[]){1, -2, 0.5f, 0, 0, 0});
  nnc_qparams qp = {0};
  nnc_qparams_calibrate(&qp, t, nnc_qscheme_weight(8), mm, true);
  CHECK(qp.n == 2 && qp.scale[0] == (float)(2.0 / 127) && qp.scale[1] == NNC_QSCALE_MIN && qp.zero[0] == 0);
  nnc_tensor *y = nnc_fake_quant_qp(t, &qp, NNC_STE);
  CHECK(nnc_get(y, 1) == -2 && nnc_get(y, 3) == 0 && nnc_get(y, 5) == 0);
  CHECK(fabs(nnc_get(y, 2) - 0.5) <= qp.scale[0] / 2);
  nnc_qparams_free(&qp);
  nnc_qparams_calibrate(&qp, nnc_transpose(t, 0, 1), nnc_qscheme_weight(8), mm, true); /* strided */
  CHECK(qp.n == 3 && qp.scale[1] == (float)(2.0 / 127));
  nnc_qparams_free(&qp);

  /* observer: min/max over everything, a reservoir of cap values */
  nnc_qobserver o;
  nnc_qobserver_init(&o, 100);
  for (int b = 0; b < 10; b++) {
    nnc_tensor *x = nnc_arange(NNC_F32, 1000);
    nnc_qobserver_add(&o, nnc_shift(x, b * 1000.0 - 5000));
  }
  CHECK(o.n == 100 && o.seen == 10000 && o.min == -5000 && o.max == 4999);
  nnc_qobserver_range(&o, nnc_qscheme_act(8), mm, &lo, &hi);
  CHECK(lo == -5000 && hi == 4999);
  nnc_qobserver_range(&o, nnc_qscheme_act(8), pc, &lo, &hi);
  CHECK(lo > -5000 && hi < 4999 && lo < -3000 && hi > 3000);
  nnc_qobserver_free(&o);
  nnc_step_end();
}

/* ---- fake quantisation ops ---- */
static void test_fake_quant(void) {
  for (int f64 = 0; f64 <= 1; f64++) {
    nnc_dtype dt = f64 ? NNC_F64 : NNC_F32;
    /* S = 0.5, Z = 2, codes 0..7: real range [-1, 2.5] */
    nnc_tensor *x = nnc_requires_grad(nnc_from_data(NNC_F64, NNC_SHAPE(6), (double[]){-3, -1, -0.2, 0.26, 1.25, 9}));
    if (!f64) x = nnc_requires_grad(nnc_cast(nnc_detach(x), NNC_F32));
    nnc_tensor *S = nnc_scalar(dt, 0.5), *Z = nnc_scalar(dt, 2);
    nnc_tensor *y = nnc_fake_quant(x, S, Z, 0, 7, NNC_STE_CLIPPED);
    const double want[6] = {-1, -1, 0, 0.5, 1.0, 2.5}; /* 1.25/0.5 = 2.5 -> 2 (half to even) */
    for (int i = 0; i < 6; i++) CHECKF(nnc_get(y, i) == want[i], "%s %d: %g", nnc_dtype_name(dt), i, nnc_get(y, i));
    nnc_tensor *g = nnc_from_data(NNC_F64, NNC_SHAPE(6), (double[]){1, 2, 3, 4, 5, 6});
    nnc_backward_with(y, f64 ? g : nnc_cast(g, NNC_F32));
    const double gc[6] = {0, 2, 3, 4, 5, 0}; /* codes -4 and 20 are outside [0, 7] */
    for (int i = 0; i < 6; i++) CHECKF(nnc_get(x->grad, i) == gc[i], "clipped %d: %g", i, nnc_get(x->grad, i));
    x->grad = NULL;
    y = nnc_fake_quant(x, S, Z, 0, 7, NNC_STE);
    nnc_backward_with(y, f64 ? g : nnc_cast(g, NNC_F32));
    for (int i = 0; i < 6; i++) CHECK(nnc_get(x->grad, i) == i + 1);
    nnc_step_end();
  }
  /* per channel along axis 0 of a transposed (strided) input */
  nnc_tensor *w = nnc_from_data(NNC_F32, NNC_SHAPE(3, 2), (float[]){0.3f, -1, 0.7f, 2, 0.1f, 5});
  nnc_tensor *wt = nnc_transpose(w, 0, 1); /* [2, 3]: rows (0.3, 0.7, 0.1) and (-1, 2, 5) */
  nnc_tensor *S = nnc_from_data(NNC_F32, NNC_SHAPE(2, 1), (float[]){0.25f, 1}), *Z = nnc_zeros(NNC_F32, NNC_SHAPE(2, 1));
  nnc_tensor *y = nnc_fake_quant(wt, S, Z, -3, 3, NNC_STE);
  const float want[6] = {0.25f, 0.75f, 0, -1, 2, 3};
  for (int i = 0; i < 6; i++) CHECKF(nnc_get(y, i) == want[i], "%d: %g", i, nnc_get(y, i));
  EXPECT_ABORT(nnc_fake_quant(wt, nnc_zeros(NNC_F32, NNC_SHAPE(3, 1)), Z, -3, 3, NNC_STE), "broadcast");
  EXPECT_ABORT(nnc_fake_quant(wt, nnc_scalar(NNC_F64, 1), nnc_scalar(NNC_F32, 0), -3, 3, NNC_STE), "dtype");
  EXPECT_ABORT(nnc_fake_quant(wt, S, Z, 3, 3, NNC_STE), "range");
  nnc_step_end();
}

static void test_lsq(void) {
  /* v/s = (0.6, -3.4, 5.2, 1.48, -4.4), Q_N = 4, Q_P = 3 */
  nnc_tensor *v = nnc_requires_grad(nnc_from_data(NNC_F64, NNC_SHAPE(5), (double[]){0.3, -1.7, 2.6, 0.74, -2.2}));
  nnc_tensor *s = nnc_requires_grad(nnc_from_data(NNC_F64, NNC_SHAPE(1), (double[]){0.5}));
  double gs = 0.125;
  nnc_tensor *y = nnc_lsq(v, s, 4, 3, gs);
  const double want[5] = {0.5, -1.5, 1.5, 0.5, -2.0}; /* codes 1, -3, 3 (clamped), 1, -4 (clamped) */
  for (int i = 0; i < 5; i++) CHECKF(nnc_get(y, i) == want[i], "%d: %g", i, nnc_get(y, i));
  nnc_backward_with(y, nnc_from_data(NNC_F64, NNC_SHAPE(5), (double[]){1, 2, 3, 4, 5}));
  const double gv[5] = {1, 2, 0, 4, 0};
  for (int i = 0; i < 5; i++) CHECKF(nnc_get(v->grad, i) == gv[i], "dv %d: %g", i, nnc_get(v->grad, i));
  /* ds = g * sum(grad * (round(r) - r inside, Q_P above, -Q_N below)) */
  double ds = gs * (1 * 0.4 + 2 * 0.4 + 3 * 3 + 4 * (1 - 1.48) + 5 * -4);
  CHECK_NEAR(nnc_get(s->grad, 0), ds, 1e-12);
  nnc_step_end();
  /* per-channel steps [2, 1]: each row's gradient summed into its own step */
  nnc_tensor *w = nnc_requires_grad(nnc_from_data(NNC_F32, NNC_SHAPE(2, 2), (float[]){0.3f, 0.9f, -0.3f, 10}));
  nnc_tensor *st = nnc_requires_grad(nnc_from_data(NNC_F32, NNC_SHAPE(2, 1), (float[]){0.5f, 1}));
  nnc_tensor *q = nnc_lsq(w, st, 1, 1, 1.0);
  CHECK(nnc_get(q, 0) == 0.5 && nnc_get(q, 1) == 0.5 && nnc_get(q, 2) == 0 && nnc_get(q, 3) == 1);
  nnc_backward(nnc_sum_all(q));
  CHECK_NEAR(nnc_get(st->grad, 0), (1 - 0.6) + 1, 1e-6); /* 0.6 inside, 1.8 above */
  CHECK_NEAR(nnc_get(st->grad, 1), (0 + 0.3) + 1, 1e-6);  /* -0.3 inside, 10 above */
  CHECK(nnc_get(w->grad, 0) == 1 && nnc_get(w->grad, 1) == 0 && nnc_get(w->grad, 3) == 0);
  /* a strided input gives the same values and gradients as its contiguous copy */
  nnc_step_end();
  nnc_rng r;
  nnc_rng_seed(&r, 5, 0);
  nnc_tensor *base = nnc_randn(NNC_F32, NNC_SHAPE(3, 4), &r);
  nnc_tensor *a = nnc_requires_grad(nnc_transpose(nnc_detach(base), 0, 1)); /* [4, 3], strided */
  nnc_tensor *b = nnc_requires_grad(nnc_contiguous(nnc_transpose(nnc_detach(base), 0, 1)));
  nnc_tensor *sa = nnc_requires_grad(nnc_from_data(NNC_F32, NNC_SHAPE(4, 1), (float[]){0.3f, 0.5f, 0.2f, 0.7f}));
  nnc_tensor *sb = nnc_requires_grad(nnc_from_data(NNC_F32, NNC_SHAPE(4, 1), (float[]){0.3f, 0.5f, 0.2f, 0.7f}));
  nnc_tensor *gw = nnc_randn(NNC_F32, NNC_SHAPE(4, 3), &r);
  nnc_tensor *ya = nnc_lsq(a, sa, 2, 1, 0.5), *yb = nnc_lsq(b, sb, 2, 1, 0.5);
  nnc_backward_with(ya, gw);
  nnc_backward_with(yb, gw);
  bool same = true;
  for (int64_t i = 0; i < 12; i++) same &= nnc_get(ya, i) == nnc_get(yb, i) && nnc_get(a->grad, i) == nnc_get(b->grad, i);
  for (int64_t i = 0; i < 4; i++) same &= nnc_get(sa->grad, i) == nnc_get(sb->grad, i);
  CHECK(same);
  /* the op and nnc_quantize_f32 round the same way */
  nnc_tensor *xr = nnc_scale(nnc_randn(NNC_F32, NNC_SHAPE(1000), &r), 3);
  nnc_tensor *fq = nnc_fake_quant(xr, nnc_scalar(NNC_F32, 0.0625), nnc_scalar(NNC_F32, 7), 0, 15, NNC_STE);
  int64_t bad = 0;
  for (int64_t i = 0; i < 1000; i++)
    bad += nnc_f32(fq)[i] != 0.0625f * (float)(nnc_quantize_f32(nnc_f32(xr)[i], 0.0625f, 7, 0, 15) - 7);
  CHECK(bad == 0);
  CHECK_NEAR(nnc_lsq_grad_scale(100, 4), 0.05, 1e-15);
  float vals[4] = {1, -1, 3, -3};
  CHECK_NEAR(nnc_lsq_init_step(vals, 4, 4), 2.0, 1e-15); /* 2 * 2 / sqrt(4) */
  EXPECT_ABORT(nnc_lsq(a, sa, -1, 1, 1), "range");
  nnc_step_end();
}

/* ---- batch-norm folding ---- */
static void fill_rand(nnc_tensor *t, double lo, double hi, nnc_rng *r) { nnc_fill_uniform(t, lo, hi, r); }

static void test_bn_fold(void) {
  nnc_rng r;
  nnc_rng_seed(&r, 7, 0);
  /* Linear in f64 */
  nnc_tensor *x = nnc_randn(NNC_F64, NNC_SHAPE(5, 4), &r), *w = nnc_randn(NNC_F64, NNC_SHAPE(3, 4), &r);
  nnc_tensor *b = nnc_randn(NNC_F64, NNC_SHAPE(3), &r), *g = nnc_randn(NNC_F64, NNC_SHAPE(3), &r);
  nnc_tensor *be = nnc_randn(NNC_F64, NNC_SHAPE(3), &r), *mu = nnc_randn(NNC_F64, NNC_SHAPE(3), &r);
  nnc_tensor *var = nnc_empty(NNC_F64, NNC_SHAPE(3));
  fill_rand(var, 0.1, 3, &r);
  nnc_tensor *ref = nnc_batch_norm(nnc_linear(x, w, b), g, be, mu, var, false, 0.1, 1e-5);
  nnc_tensor *w2 = nnc_empty_like(w), *b2 = nnc_empty_like(b);
  nnc_bn_fold(w, b, g, be, mu, var, 1e-5, w2, b2);
  nnc_tensor *got = nnc_linear(x, w2, b2);
  double err = 0;
  for (int64_t i = 0; i < nnc_numel(ref); i++) err = fmax(err, fabs(nnc_get(ref, i) - nnc_get(got, i)));
  CHECKF(err < 1e-12, "linear fold error %g", err);
  /* no bias, no affine, in place */
  ref = nnc_batch_norm(nnc_linear(x, w, NULL), NULL, NULL, mu, var, false, 0.1, 1e-3);
  nnc_bn_fold(w, NULL, NULL, NULL, mu, var, 1e-3, w, b);
  got = nnc_linear(x, w, b);
  err = 0;
  for (int64_t i = 0; i < nnc_numel(ref); i++) err = fmax(err, fabs(nnc_get(ref, i) - nnc_get(got, i)));
  CHECKF(err < 1e-12, "in-place fold error %g", err);
  /* Conv2d [O, C, KH, KW] */
  nnc_tensor *xc = nnc_randn(NNC_F64, NNC_SHAPE(2, 3, 6, 6), &r), *wc = nnc_randn(NNC_F64, NNC_SHAPE(4, 3, 3, 3), &r);
  nnc_tensor *bc = nnc_randn(NNC_F64, NNC_SHAPE(4), &r), *gc = nnc_randn(NNC_F64, NNC_SHAPE(4), &r);
  nnc_tensor *bec = nnc_randn(NNC_F64, NNC_SHAPE(4), &r), *muc = nnc_randn(NNC_F64, NNC_SHAPE(4), &r);
  nnc_tensor *varc = nnc_empty(NNC_F64, NNC_SHAPE(4));
  fill_rand(varc, 0.1, 3, &r);
  nnc_conv_args ca = {.pad = {1, 1}};
  nnc_tensor *refc = nnc_batch_norm(nnc_conv2d(xc, wc, bc, ca), gc, bec, muc, varc, false, 0.1, 1e-5);
  nnc_tensor *wc2 = nnc_empty_like(wc), *bc2 = nnc_empty_like(bc);
  nnc_bn_fold(wc, bc, gc, bec, muc, varc, 1e-5, wc2, bc2);
  nnc_tensor *gotc = nnc_conv2d(xc, wc2, bc2, ca);
  err = 0;
  for (int64_t i = 0; i < nnc_numel(refc); i++) err = fmax(err, fabs(nnc_get(refc, i) - nnc_get(gotc, i)));
  CHECKF(err < 1e-11, "conv fold error %g", err);
  EXPECT_ABORT(nnc_bn_fold(w, b, NULL, NULL, nnc_zeros(NNC_F64, NNC_SHAPE(2)), var, 1e-5, w2, b2), "mean");
  nnc_step_end();

  /* a whole Sequential: Linear-BN-ReLU-Linear-BN-ReLU-Linear in eval, f32 */
  nnc_params P, Bf, F;
  nnc_params_init(&P, NNC_F32);
  nnc_params_init(&Bf, NNC_F32);
  nnc_params_init(&F, NNC_F32);
  nnc_sequential_mod *net = nnc_new_sequential("net");
  nnc_sequential_add(net, &nnc_new_flatten(1, -1)->base);
  nnc_sequential_add(net, &nnc_new_linear(&P, nnc_sequential_next_name(net), 6, 5, true, &r)->base);
  nnc_batchnorm_mod *bn1 = nnc_new_batchnorm(&P, &Bf, nnc_sequential_next_name(net), 5, 1e-5, 0.1, true);
  nnc_sequential_add(net, &bn1->base);
  nnc_sequential_add(net, &nnc_new_act(NNC_ACT_RELU, 0)->base);
  nnc_sequential_add(net, &nnc_new_linear(&P, nnc_sequential_next_name(net), 5, 4, false, &r)->base);
  nnc_batchnorm_mod *bn2 = nnc_new_batchnorm(&P, &Bf, nnc_sequential_next_name(net), 4, 1e-3, 0.1, false);
  nnc_sequential_add(net, &bn2->base);
  nnc_sequential_add(net, &nnc_new_act(NNC_ACT_RELU, 0)->base);
  nnc_sequential_add(net, &nnc_new_linear(&P, nnc_sequential_next_name(net), 4, 3, true, &r)->base);
  fill_rand(bn1->weight, 0.5, 2, &r);
  fill_rand(bn1->bias, -1, 1, &r);
  fill_rand(bn1->running_mean, -1, 1, &r);
  fill_rand(bn1->running_var, 0.2, 2, &r);
  fill_rand(bn2->running_mean, -1, 1, &r);
  fill_rand(bn2->running_var, 0.2, 2, &r);
  nnc_module_eval(&net->base);
  nnc_sequential_mod *folded;
  CHECK(nnc_fold_bn_sequential(net, &F, &folded) == NNC_OK);
  CHECK(folded->base.n_children == 6 && F.count == 6); /* fc1, fc2 (a bias made by folding), fc3: w, b */
  nnc_tensor *xin = nnc_randn(NNC_F32, NNC_SHAPE(8, 2, 3), &r);
  nnc_tensor *y1 = nnc_forward(&net->base, xin), *y2 = nnc_forward(&folded->base, xin);
  err = 0;
  for (int64_t i = 0; i < nnc_numel(y1); i++) err = fmax(err, fabs(nnc_get(y1, i) - nnc_get(y2, i)));
  CHECKF(err < 1e-5, "sequential fold error %g", err);
  nnc_module_free(&folded->base);
  /* a BatchNorm first cannot be folded */
  nnc_sequential_mod *bad = nnc_new_sequential("");
  nnc_sequential_add(bad, &nnc_new_batchnorm(&P, &Bf, "bn", 6, 1e-5, 0.1, true)->base);
  CHECK(nnc_fold_bn_sequential(bad, &F, &folded) == NNC_ERR_ARG && folded == NULL);
  nnc_qmodel *qm;
  CHECK(nnc_new_qmodel(net, (nnc_qconfig){0}, &qm) == NNC_ERR_ARG && qm == NULL); /* BatchNorm inside */
  nnc_module_free(&bad->base);
  nnc_module_free(&net->base);
  nnc_params_free(&P);
  nnc_params_free(&Bf);
  nnc_params_free(&F);
  nnc_step_end();
}

/* ---- the quantised model and its integer form ---- */
static nnc_sequential_mod *small_mlp(nnc_params *P, nnc_rng *r, nnc_act mid) {
  nnc_sequential_mod *net = nnc_new_sequential("");
  nnc_sequential_add(net, &nnc_new_linear(P, "fc1", 20, 16, true, r)->base);
  nnc_sequential_add(net, &nnc_new_act(mid, 0)->base);
  nnc_sequential_add(net, &nnc_new_linear(P, "fc2", 16, 12, true, r)->base);
  nnc_sequential_add(net, &nnc_new_act(NNC_ACT_RELU, 0)->base);
  nnc_sequential_add(net, &nnc_new_linear(P, "fc3", 12, 5, true, r)->base);
  return net;
}

static nnc_dataset random_data(int64_t n, int64_t d, nnc_rng *r) {
  nnc_dataset ds = {0};
  ds.x = nnc_heap_tensor(NNC_F32, NNC_SHAPE(n, d));
  ds.y = nnc_heap_tensor(NNC_I64, NNC_SHAPE(n));
  ds.n = n;
  ds.num_classes = 5;
  for (int64_t i = 0; i < n * d; i++) nnc_f32(ds.x)[i] = (float)(nnc_rng_normal(r) * 1.5 + 0.3);
  for (int64_t i = 0; i < n; i++) nnc_i64(ds.y)[i] = nnc_rng_below(r, 5);
  return ds;
}

/* integer forward vs the float64 simulation: every layer's codes equal */
static int64_t sim_mismatches(const nnc_qmlp *m, const nnc_dataset *ds) {
  int64_t B = ds->n, bad = 0;
  uint8_t *xq = malloc((size_t)(B * m->layers[0].in));
  uint8_t *codes[8], *out = malloc((size_t)(B * m->layers[m->n - 1].out));
  for (int l = 0; l < m->n; l++) codes[l] = malloc((size_t)(B * m->layers[l].out));
  nnc_qmlp_quantize_input(m, B, nnc_f32(ds->x), xq);
  nnc_qmlp_forward_ref(m, B, xq, out, codes);
  nnc_tensor *sc[8];
  nnc_tensor *y = nnc_qmlp_simulate_f64(m, ds->x, sc);
  for (int l = 0; l < m->n; l++)
    for (int64_t i = 0; i < B * m->layers[l].out; i++) bad += nnc_f64(sc[l])[i] != codes[l][i];
  for (int64_t i = 0; i < B * m->layers[m->n - 1].out; i++) bad += nnc_f64(y)[i] != out[i];
  for (int l = 0; l < m->n; l++) free(codes[l]);
  free(out);
  free(xq);
  nnc_step_end();
  return bad;
}

static void test_qmodel(void) {
  nnc_rng r;
  nnc_rng_seed(&r, 3, 0);
  nnc_params P;
  nnc_params_init(&P, NNC_F32);
  nnc_sequential_mod *net = small_mlp(&P, &r, NNC_ACT_RELU);
  nnc_dataset ds = random_data(300, 20, &r);
  nnc_qmodel *q;
  nnc_qconfig cfg = {.w_bits = 8, .w_per_channel = true, .a_bits = 8};
  CHECK(nnc_new_qmodel(net, cfg, &q) == NNC_OK && q->n == 3);
  nnc_qmodel_observe(q, &ds, 300);
  CHECK(q->layers[0].obs.seen == 300 * 20 && q->out_obs.seen == 300 * 5);
  CHECK(q->layers[1].obs.min >= 0 && q->layers[1].a.zero[0] == 0); /* after a ReLU: zero point 0 */
  CHECK(q->layers[0].a.zero[0] > 0);                               /* the input has negatives */
  /* W8A8 fake quantisation stays close to the float model */
  nnc_eval_result ef = nnc_evaluate(&net->base, &ds, NULL), eq = nnc_evaluate(&q->base, &ds, NULL);
  CHECKF(fabs(ef.loss - eq.loss) < 0.02, "float loss %g, w8a8 %g", ef.loss, eq.loss);

  /* integer export: the simulation equals the integer forward for several configurations */
  const nnc_qconfig cfgs[] = {
      {.w_bits = 8, .w_per_channel = true, .a_bits = 8},
      {.w_bits = 8, .w_per_channel = false, .a_bits = 8, .a_calib = {NNC_CALIB_PERCENTILE, 99, 0}},
      {.w_bits = 4, .w_per_channel = true, .w_calib = {NNC_CALIB_MSE, 0, 0}, .a_bits = 4, .a_calib = {NNC_CALIB_MSE, 0, 0}},
      {.w_bits = 2, .w_per_channel = true, .a_bits = 3},
  };
  for (size_t c = 0; c < sizeof cfgs / sizeof cfgs[0]; c++) {
    nnc_qmodel_set_config(q, cfgs[c]);
    nnc_qmlp m;
    CHECK(nnc_qmodel_to_qmlp(q, &m) == NNC_OK && m.n == 3);
    CHECK(m.layers[0].out_min == m.layers[0].out_zero && m.layers[2].out_min == 0); /* fused ReLU, none last */
    CHECK(m.layers[2].out_max == (1 << cfgs[c].a_bits) - 1);
    int64_t bad = sim_mismatches(&m, &ds);
    CHECKF(bad == 0, "config %zu: %lld codes differ", c, (long long)bad);
    /* the fake-quantised float model agrees with the integer codes at the first layer
     * almost everywhere (float bias and unquantised multipliers move a few ties) */
    nnc_tensor *cap[4];
    q->capture = cap;
    nnc_module_eval(&q->base);
    nnc_forward(&q->base, ds.x);
    q->capture = NULL;
    uint8_t *xq = malloc(300 * 20), *c1 = malloc(300 * 16), *out = malloc(300 * 5);
    uint8_t *codes[3] = {c1, NULL, NULL};
    nnc_qmlp_quantize_input(&m, 300, nnc_f32(ds.x), xq);
    nnc_qmlp_forward_ref(&m, 300, xq, out, codes);
    int64_t same = 0, worst = 0;
    for (int64_t i = 0; i < 300 * 16; i++) {
      int64_t code = nnc_quantize_f32((float)nnc_get(cap[1], i), m.layers[1].in_scale, m.layers[1].in_zero, 0, m.layers[1].in_max);
      same += code == c1[i];
      worst = code - c1[i] > worst ? code - c1[i] : c1[i] - code > worst ? c1[i] - code : worst;
    }
    for (int64_t i = 0; i < 300 * 20; i++) /* the input quantiser is the same function */
      CHECK(nnc_quantize_f32((float)nnc_get(cap[0], i), m.layers[0].in_scale, m.layers[0].in_zero, 0, m.layers[0].in_max) == xq[i]);
    CHECKF((c >= 2 || same >= 300 * 16 * 95 / 100) && worst <= 1, "config %zu: %lld of %d equal, worst %lld", c, (long long)same,
           300 * 16, (long long)worst);
    free(xq);
    free(c1);
    free(out);
    nnc_qmlp_free(&m);
    nnc_step_end();
  }

  /* QAT: one STE step moves the weights and leaves the parameter cache consistent */
  nnc_qmodel_set_config(q, (nnc_qconfig){.w_bits = 4, .w_per_channel = true, .a_bits = 8, .ste = NNC_STE_CLIPPED});
  nnc_optim opt;
  nnc_sgd_init(&opt, &P, 0.1, 0, 0, false);
  nnc_module_train(&q->base, true);
  nnc_tensor *xb = nnc_narrow(ds.x, 0, 0, 32), *yb = nnc_narrow(ds.y, 0, 0, 32);
  nnc_params_zero_grad(&P);
  nnc_backward(nnc_cross_entropy(nnc_forward(&q->base, xb), yb, 0, NNC_REDUCE_MEAN));
  CHECK(nnc_params_grad_norm(&P) > 0);
  nnc_optim_step(&opt);
  nnc_step_end();
  uint64_t v0 = q->layers[0].w_version;
  xb = nnc_narrow(ds.x, 0, 0, 32);
  yb = nnc_narrow(ds.y, 0, 0, 32);
  nnc_forward(&q->base, xb);
  CHECK(q->layers[0].w_version != v0); /* weights changed: parameters recomputed */
  nnc_step_end();

  /* LSQ: steps added as parameters, and they receive gradients */
  int before = P.count;
  nnc_qmodel_init_lsq(q, &P, false);
  CHECK(P.count == before + 3 + 4 && q->cfg.lsq);
  xb = nnc_narrow(ds.x, 0, 0, 32);
  yb = nnc_narrow(ds.y, 0, 0, 32);
  CHECK(nnc_params_find(&P, "fc1.weight_step") && nnc_params_find(&P, "output_step"));
  CHECK(q->layers[0].a_signed && !q->layers[1].a_signed);
  nnc_params_zero_grad(&P);
  nnc_backward(nnc_cross_entropy(nnc_forward(&q->base, xb), yb, 0, NNC_REDUCE_MEAN));
  double gsum = 0;
  for (int64_t i = 0; i < 16; i++) gsum += fabs(nnc_get(q->layers[0].w_step->grad, i));
  CHECK(gsum > 0 && nnc_get(q->layers[1].a_step->grad, 0) != 0);
  nnc_step_end();
  nnc_qmlp m;
  CHECK(nnc_qmodel_to_qmlp(q, &m) == NNC_OK);
  CHECK(m.layers[0].in_zero == 128); /* signed LSQ codes become zero point 2^(b-1) */
  CHECK(sim_mismatches(&m, &ds) == 0);
  nnc_qmlp_free(&m);
  nnc_optim_free(&opt);

  /* errors: no quantised activations, or an activation that cannot be fused */
  nnc_qmodel_set_config(q, (nnc_qconfig){.w_bits = 8, .a_bits = 0});
  CHECK(nnc_qmodel_to_qmlp(q, &m) == NNC_ERR_ARG);
  nnc_qmodel_free(q);
  nnc_params P2;
  nnc_params_init(&P2, NNC_F32);
  nnc_sequential_mod *tnet = small_mlp(&P2, &r, NNC_ACT_TANH);
  CHECK(nnc_new_qmodel(tnet, (nnc_qconfig){.w_bits = 8, .a_bits = 8}, &q) == NNC_OK);
  nnc_qmodel_observe(q, &ds, 100);
  CHECK(nnc_qmodel_to_qmlp(q, &m) == NNC_ERR_ARG);
  EXPECT_ABORT(nnc_qmodel_set_config(q, (nnc_qconfig){.w_bits = 9}), "w_bits");
  nnc_qmodel_free(q);
  nnc_module_free(&tnet->base);
  nnc_params_free(&P2);
  nnc_module_free(&net->base);
  nnc_dataset_free(&ds);
  nnc_params_free(&P);
  nnc_step_end();
}

/* the requantisation of the simulation at exact ties and at extreme multipliers */
static void test_sim_edges(void) {
  nnc_rng r;
  nnc_rng_seed(&r, 11, 0);
  /* layer 1: in = 1, w = 1, input codes 0..255 with zero 128: acc = -128..127 (+ bias) */
  nnc_dataset ds = {0};
  ds.n = 256;
  ds.x = nnc_heap_tensor(NNC_F32, NNC_SHAPE(256, 1));
  for (int i = 0; i < 256; i++) nnc_f32(ds.x)[i] = (float)(i - 128);
  const int32_t mults[] = {1 << 30, 1 << 30, 1 << 30, 1610612736, INT32_MAX, (1 << 30) + 1};
  const int32_t shifts[] = {0, -1, -3, 0, -2, 2};
  for (size_t c = 0; c < sizeof mults / sizeof mults[0]; c++) {
    nnc_qmlp m = {1, malloc(sizeof(nnc_qlinear))};
    nnc_qlinear_alloc(&m.layers[0], 1, 1);
    nnc_qlinear *L = &m.layers[0];
    L->w[0] = 1;
    L->w_scale[0] = 1;
    L->in_scale = 1;
    L->in_zero = 128;
    L->out_scale = 1;
    L->out_zero = 128;
    nnc_qlinear_finish(L);
    L->mult[0] = mults[c];
    L->shift[0] = shifts[c];
    CHECKF(sim_mismatches(&m, &ds) == 0, "multiplier %d shift %d", (int)mults[c], (int)shifts[c]);
    nnc_qmlp_free(&m);
  }
  nnc_dataset_free(&ds);
  /* random wide layers: large accumulators, random multipliers and shifts, big biases */
  ds = (nnc_dataset){0};
  ds.n = 64;
  ds.x = nnc_heap_tensor(NNC_F32, NNC_SHAPE(64, 700));
  for (int64_t i = 0; i < 64 * 700; i++) nnc_f32(ds.x)[i] = (float)nnc_rng_below(&r, 256);
  nnc_qmlp m = {1, malloc(sizeof(nnc_qlinear))};
  nnc_qlinear_alloc(&m.layers[0], 700, 300);
  nnc_qlinear *L = &m.layers[0];
  for (int64_t i = 0; i < 700 * 300; i++) L->w[i] = (int8_t)(nnc_rng_below(&r, 256) - 128 + (i % 300 == 0 ? 0 : 0));
  for (int64_t o = 0; o < 300; o++) {
    L->w_scale[o] = 1;
    L->bias[o] = (int32_t)(nnc_rng_below(&r, 2000001) - 1000000);
  }
  L->in_scale = 1;
  L->in_zero = (int32_t)nnc_rng_below(&r, 256);
  L->out_scale = 1;
  L->out_zero = 128;
  nnc_qlinear_finish(L);
  for (int64_t o = 0; o < 300; o++) {
    L->mult[o] = (int32_t)((1u << 30) + (uint32_t)nnc_rng_below(&r, 1 << 30));
    L->shift[o] = o < 20 ? 0 : -(int32_t)nnc_rng_below(&r, 32); /* 0..-31: some outputs saturate */
    if (o == 5) L->mult[o] = INT32_MAX;
  }
  CHECK(sim_mismatches(&m, &ds) == 0);
  nnc_qmlp_free(&m);
  nnc_dataset_free(&ds);
}

int main(void) {
  nnc_init();
  test_srdhm();
  test_rdbpot();
  test_quantize_multiplier();
  test_mbqm();
  test_qgemm();
  test_schemes();
  test_calibration();
  test_fake_quant();
  test_lsq();
  test_bn_fold();
  test_qmodel();
  test_sim_edges();
  return test_summary();
}
