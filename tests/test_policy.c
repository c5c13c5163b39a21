/* tests/test_policy.c: nn/policy.h: categorical sampling frequencies, the log-probability and
 * its gradient (onehot - softmax), the REINFORCE loss against central differences, the
 * entropy, the moving-average baseline, and errors on bad input. */
#include "test.h"

static nnc_tensor *f64(int n, const double *v) { return nnc_from_data(NNC_F64, 1, (int64_t[]){n}, v); }

static void test_sampling(void) {
  const double l[4] = {0.3, -1.0, 1.2, 0.0};
  nnc_tensor *logits = nnc_from_data(NNC_F64, NNC_SHAPE(1, 4), l);
  double z = 0, p[4];
  for (int c = 0; c < 4; c++) z += exp(l[c]);
  for (int c = 0; c < 4; c++) p[c] = exp(l[c]) / z;
  nnc_rng r;
  nnc_rng_seed(&r, 7, 0);
  int count[4] = {0}, n = 200000;
  for (int i = 0; i < n; i++) {
    count[nnc_i64(nnc_categorical_sample(logits, &r))[0]]++;
    if (i % 1000 == 999) { /* the arena holds the samples; logits go with them */
      nnc_step_end();
      logits = nnc_from_data(NNC_F64, NNC_SHAPE(1, 4), l);
    }
  }
  for (int c = 0; c < 4; c++) /* 5 standard errors */
    CHECKF(fabs(count[c] / (double)n - p[c]) < 5 * sqrt(p[c] * (1 - p[c]) / n), "class %d: %g vs %g", c,
           count[c] / (double)n, p[c]);
  /* a huge logit gap: always the big one; -inf logits are never drawn; f32 and strided rows */
  nnc_tensor *sure = nnc_from_data(NNC_F32, NNC_SHAPE(2, 3), (float[]){0, 500, 0, -INFINITY, 0, -INFINITY});
  int ok = 1;
  for (int i = 0; i < 1000; i++) {
    nnc_tensor *a = nnc_categorical_sample(sure, &r);
    ok &= nnc_i64(a)[0] == 1 && nnc_i64(a)[1] == 1;
  }
  CHECK(ok);
  nnc_tensor *t = nnc_transpose(nnc_from_data(NNC_F64, NNC_SHAPE(2, 2), (double[]){0, 400, 400, 0}), 0, 1);
  nnc_tensor *a = nnc_categorical_sample(t, &r); /* rows of t: (0, 400), (400, 0) */
  CHECK(nnc_i64(a)[0] == 1 && nnc_i64(a)[1] == 0);
  /* same seed, same draws */
  nnc_rng r1, r2;
  nnc_rng_seed(&r1, 3, 1);
  nnc_rng_seed(&r2, 3, 1);
  nnc_tensor *a1 = nnc_categorical_sample(logits, &r1), *a2 = nnc_categorical_sample(logits, &r2);
  CHECK(nnc_i64(a1)[0] == nnc_i64(a2)[0]);
  nnc_step_end();
}

static void test_log_prob_and_loss(void) {
  /* 3 rows of 4 logits, f64 */
  const double l[12] = {0.1, -0.4, 0.7, 0.2, 1.5, 0.0, -2.0, 0.3, -0.2, -0.2, 0.9, 0.4};
  const int64_t act[3] = {2, 0, 3};
  const double adv[3] = {0.5, -1.25, 2.0};
  nnc_tensor *logits = nnc_requires_grad(nnc_from_data(NNC_F64, NNC_SHAPE(3, 4), l));
  nnc_tensor *a = nnc_from_data(NNC_I64, NNC_SHAPE(3), act);
  nnc_tensor *lp = nnc_categorical_log_prob(logits, a);
  double p[3][4];
  for (int i = 0; i < 3; i++) {
    double m = -INFINITY, z = 0;
    for (int c = 0; c < 4; c++) m = fmax(m, l[i * 4 + c]);
    for (int c = 0; c < 4; c++) z += exp(l[i * 4 + c] - m);
    for (int c = 0; c < 4; c++) p[i][c] = exp(l[i * 4 + c] - m) / z;
    CHECK_NEAR(nnc_get(lp, i), log(p[i][act[i]]), 1e-12);
  }
  /* d sum_i log pi_i(a_i) / d logits = onehot - softmax */
  nnc_backward(nnc_sum_all(lp));
  double e = 0;
  for (int i = 0; i < 3; i++)
    for (int c = 0; c < 4; c++) e = fmax(e, fabs(nnc_get(logits->grad, i * 4 + c) - ((c == act[i]) - p[i][c])));
  CHECKF(e < 1e-12, "log-prob gradient error %g", e);
  nnc_step_end();

  /* the REINFORCE loss: value and gradient against central differences */
  double lv[12];
  for (int k = 0; k < 12; k++) lv[k] = l[k];
  logits = nnc_requires_grad(nnc_from_data(NNC_F64, NNC_SHAPE(3, 4), lv));
  a = nnc_from_data(NNC_I64, NNC_SHAPE(3), act);
  nnc_tensor *loss = nnc_reinforce_loss(logits, a, f64(3, adv));
  double want = 0;
  for (int i = 0; i < 3; i++) want -= adv[i] * log(p[i][act[i]]);
  CHECK_NEAR(nnc_item(loss), want, 1e-12);
  nnc_backward(loss);
  double g[12];
  for (int k = 0; k < 12; k++) g[k] = nnc_get(logits->grad, k);
  nnc_step_end();
  e = 0;
  for (int k = 0; k < 12; k++) {
    double h = 1e-6, f[2];
    for (int s = 0; s < 2; s++) {
      lv[k] = l[k] + (s ? -h : h);
      f[s] = nnc_item(nnc_reinforce_loss(nnc_from_data(NNC_F64, NNC_SHAPE(3, 4), lv),
                                         nnc_from_data(NNC_I64, NNC_SHAPE(3), act), f64(3, adv)));
      nnc_step_end();
    }
    lv[k] = l[k];
    e = fmax(e, fabs((f[0] - f[1]) / (2 * h) - g[k]));
  }
  CHECKF(e < 1e-8, "REINFORCE gradient vs central differences: %g", e);
  /* the advantage is a constant: no gradient flows into it */
  nnc_tensor *advt = nnc_requires_grad(f64(3, adv));
  logits = nnc_requires_grad(nnc_from_data(NNC_F64, NNC_SHAPE(3, 4), l));
  nnc_backward(nnc_reinforce_loss(logits, nnc_from_data(NNC_I64, NNC_SHAPE(3), act), advt));
  CHECK(advt->grad == NULL || nnc_get(advt->grad, 0) == 0);
  nnc_step_end();
}

static void test_entropy_and_baseline(void) {
  nnc_tensor *u = nnc_zeros(NNC_F64, NNC_SHAPE(2, 4));
  nnc_tensor *h = nnc_categorical_entropy(u);
  CHECK_NEAR(nnc_get(h, 0), log(4.0), 1e-12);
  nnc_tensor *s = nnc_from_data(NNC_F64, NNC_SHAPE(1, 2), (double[]){0, 800});
  CHECK(fabs(nnc_get(nnc_categorical_entropy(s), 0)) < 1e-12);
  nnc_step_end();
  nnc_ema_baseline b = nnc_ema_baseline_make(0.75);
  CHECK(!b.started && b.value == 0);
  nnc_ema_baseline_update(&b, 2.0);
  CHECK(b.started && b.value == 2.0);
  nnc_ema_baseline_update(&b, 6.0);
  CHECK_NEAR(b.value, 3.0, 1e-15);
}

static void test_errors(void) {
  nnc_tensor *v = nnc_zeros(NNC_F32, NNC_SHAPE(4));
  EXPECT_ABORT(nnc_categorical_sample(v, NULL), "[N, C]");
  EXPECT_ABORT(nnc_categorical_sample(nnc_zeros(NNC_I64, NNC_SHAPE(2, 2)), NULL), "categorical_sample");
  EXPECT_ABORT(nnc_categorical_sample(nnc_full(NNC_F32, -INFINITY, NNC_SHAPE(1, 3)), NULL), "finite");
  nnc_tensor *l = nnc_zeros(NNC_F32, NNC_SHAPE(2, 3)), *a = nnc_zeros(NNC_I64, NNC_SHAPE(2));
  EXPECT_ABORT(nnc_reinforce_loss(l, a, nnc_zeros(NNC_F32, NNC_SHAPE(3))), "adv");
  EXPECT_ABORT(nnc_reinforce_loss(l, a, nnc_zeros(NNC_F64, NNC_SHAPE(2))), "adv");
  EXPECT_ABORT(nnc_ema_baseline_make(1.0), "decay");
  nnc_step_end();
}

int main(void) {
  nnc_init();
  test_sampling();
  test_log_prob_and_loss();
  test_entropy_and_baseline();
  test_errors();
  return test_summary();
}
