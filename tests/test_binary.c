/* tests/test_binary.c: the binarisers of nn/binary.h and their hand-written estimators.
 * Each backward is checked through the tape (nnc_backward_with an upstream gradient) against
 * numbers written out here: ReSTE's g(x) at o = 3 (10^(2/3), (1/3) 2^(2/3), (1/3) 1.2^(-2/3),
 * 0, to 1e-6), ReSTE at o = 1 (the identity clipped at 1.5), STE (clipped at 1), BiPer's
 * omega cos(omega W) (to 1e-6), the triangle max(0, 2 - 2|x|); forwards in {-1, +1} with
 * sign(0) = +1; the square wave is periodic (W and W + 2 pi / omega give the same bits).  Then
 * the binary layers: forward against the formula, the weight gradient through the mean|W|
 * scale, BiPer's alpha gradient, the per-sample normalisation, the MLP and CNN builders. */
#include <stdlib.h>
#include "test.h"
#include "nn/binary.h"

#define N(a) ((int64_t)(sizeof(a) / sizeof(*(a))))

static nnc_tensor *vec(nnc_dtype dt, int64_t n, const double *v) {
  nnc_tensor *t = nnc_empty(dt, NNC_SHAPE(n));
  for (int64_t i = 0; i < n; i++) nnc_set(t, i, v[i]);
  return t;
}

/* d op(x) / dx at each x, through the tape, with upstream gradient `up` */
typedef nnc_tensor *(*unary_fn)(nnc_tensor *x, const double *a);
static nnc_tensor *grad_of(unary_fn f, const double *a, nnc_dtype dt, int64_t n, const double *x, const double *up,
                           nnc_tensor **out) {
  nnc_tensor *t = nnc_requires_grad(vec(dt, n, x));
  nnc_tensor *y = f(t, a);
  if (out) *out = y;
  nnc_backward_with(y, vec(dt, n, up));
  return t->grad;
}

static nnc_tensor *f_reste(nnc_tensor *x, const double *a) { return nnc_sign_reste(x, a[0], a[1]); }
static nnc_tensor *f_ste(nnc_tensor *x, const double *a) { return nnc_sign_ste(x, a[0]); }
static nnc_tensor *f_periodic(nnc_tensor *x, const double *a) { return nnc_sign_periodic(x, a[0]); }
static nnc_tensor *f_triangle(nnc_tensor *x, const double *a) {
  (void)a;
  return nnc_sign_triangle(x);
}

static void test_reste(nnc_dtype dt, double tol) {
  /* o = 3, t = 1.5: the table of the research notes, to full precision */
  const double x[] = {0.05, -0.05, 0.5, -0.5, 1.2, -1.2, 2.0, -2.0, 0.1, -0.1, 0.0, 1.5, -1.5, 1.5001};
  const double g3[] = {4.641588833612779, 4.641588833612779, 0.5291336839893998, 0.5291336839893998,
                       0.29518293588405864, 0.29518293588405864, 0, 0,
                       4.641588833612779, 4.641588833612779, 4.641588833612779,
                       0.2543809427896293, 0.2543809427896293, 0};
  double ones[N(x)], a[2] = {3, 1.5};
  for (int i = 0; i < N(x); i++) ones[i] = 1;
  nnc_tensor *y;
  nnc_tensor *g = grad_of(f_reste, a, dt, N(x), x, ones, &y);
  for (int i = 0; i < N(x); i++) {
    CHECKF(fabs(nnc_get(g, i) - g3[i]) <= tol, "%s ReSTE o=3 g(%g) = %.9g, want %.9g", nnc_dtype_name(dt), x[i],
           nnc_get(g, i), g3[i]);
    CHECKF(fabs(nnc_reste_grad(x[i], 3, 1.5) - g3[i]) <= 1e-12, "nnc_reste_grad(%g)", x[i]);
    CHECKF(nnc_get(y, i) == (x[i] >= 0 ? 1 : -1), "ReSTE forward at %g: %g", x[i], nnc_get(y, i));
  }
  nnc_step_end();
  /* o = 1: the identity clipped at t = 1.5 (not 1) */
  const double x1[] = {0.0, 0.05, -0.3, 0.99, 1.2, -1.49, 1.5, -1.5, 1.51, -1.6, 3.0};
  double up[N(x1)];
  for (int i = 0; i < N(x1); i++) up[i] = 0.5 + 0.25 * i;
  a[0] = 1;
  g = grad_of(f_reste, a, dt, N(x1), x1, up, NULL);
  for (int i = 0; i < N(x1); i++) {
    double want = fabs(x1[i]) <= 1.5 ? up[i] : 0;
    CHECKF(fabs(nnc_get(g, i) - want) <= tol, "%s ReSTE o=1 at %g: %g, want %g", nnc_dtype_name(dt), x1[i],
           nnc_get(g, i), want);
  }
  nnc_step_end();
  /* f_o and the schedule */
  CHECK_NEAR(nnc_reste_fo(0.125, 3), 0.5, 1e-15);
  CHECK_NEAR(nnc_reste_fo(-0.125, 3), -0.5, 1e-15);
  CHECK_NEAR(nnc_reste_fo(0.3, 1), 0.3, 1e-15);
  CHECK(nnc_reste_o_schedule(0, 5, 3) == 1);
  CHECK_NEAR(nnc_reste_o_schedule(4, 5, 3), 1 + 2 * (1 - cos(M_PI / 2 * 0.8)), 1e-15);
  CHECK(nnc_reste_o_schedule(4, 5, 3) < 3);
  for (int e = 1; e < 10; e++) CHECK(nnc_reste_o_schedule(e, 10, 3) > nnc_reste_o_schedule(e - 1, 10, 3));
}

static void test_ste(nnc_dtype dt) {
  const double x[] = {0.0, 0.5, -0.99, 1.0, -1.0, 1.01, -2.0};
  const double up[] = {1, 2, 3, 4, 5, 6, 7};
  double a[1] = {1};
  nnc_tensor *y;
  nnc_tensor *g = grad_of(f_ste, a, dt, N(x), x, up, &y);
  for (int i = 0; i < N(x); i++) {
    CHECK(nnc_get(g, i) == (fabs(x[i]) <= 1 ? up[i] : 0));
    CHECK(nnc_get(y, i) == (x[i] >= 0 ? 1 : -1));
  }
  nnc_step_end();
}

static void test_periodic(nnc_dtype dt, double tol) {
  enum { M = 2000 };
  double w[M], up[M], a[1] = {20};
  nnc_rng r;
  nnc_rng_seed(&r, 7, 0);
  for (int i = 0; i < M; i++) {
    w[i] = 0.3 * nnc_rng_normal(&r);
    up[i] = nnc_rng_normal(&r);
  }
  w[0] = 0; /* sin(0) = 0: +1 */
  nnc_tensor *y;
  nnc_tensor *g = grad_of(f_periodic, a, dt, M, w, up, &y);
  double err = 0;
  int bad_values = 0, bad_sign = 0;
  for (int i = 0; i < M; i++) {
    double wi = dt == NNC_F32 ? (double)(float)w[i] : w[i]; /* the value the op saw */
    err = fmax(err, fabs(nnc_get(g, i) - 20 * cos(20 * wi) * up[i]));
    double v = nnc_get(y, i);
    bad_values += v != 1 && v != -1;
    bad_sign += v != (sin(20 * wi) >= 0 ? 1 : -1);
  }
  CHECKF(err <= tol, "%s periodic backward max error %.3g", nnc_dtype_name(dt), err);
  CHECK(bad_values == 0);
  CHECK(bad_sign == 0);
  CHECK(nnc_get(y, 0) == 1);
  nnc_step_end();
  /* periodicity: W and W + 2 pi / omega give the same bits (f64 inputs) */
  nnc_tensor *w1 = vec(NNC_F64, M, w), *w2 = nnc_empty(NNC_F64, NNC_SHAPE(M));
  for (int i = 0; i < M; i++) nnc_set(w2, i, w[i] + 2 * M_PI / 20);
  nnc_tensor *b1 = nnc_sign_periodic(w1, 20), *b2 = nnc_sign_periodic(w2, 20);
  int diff = 0;
  for (int i = 1; i < M; i++) diff += nnc_get(b1, i) != nnc_get(b2, i);
  CHECKF(diff == 0, "%d of %d bits differ after a shift by one period", diff, M - 1);
  nnc_step_end();
}

static void test_triangle(nnc_dtype dt) {
  const double x[] = {0.0, 0.25, -0.25, 0.5, -0.75, 0.999, 1.0, -1.0, 1.5, -3};
  const double up[] = {1, -2, 3, 1, 1, 1, 1, 1, 1, 1};
  double a[1] = {0};
  nnc_tensor *y;
  nnc_tensor *g = grad_of(f_triangle, a, dt, N(x), x, up, &y);
  for (int i = 0; i < N(x); i++) {
    double want = fmax(0, 2 - 2 * fabs(x[i])) * up[i];
    CHECKF(fabs(nnc_get(g, i) - want) <= 1e-6, "triangle at %g: %g want %g", x[i], nnc_get(g, i), want);
    CHECK(nnc_triangle_grad(x[i]) == fmax(0, 2 - 2 * fabs(x[i])));
    CHECK(nnc_get(y, i) == (x[i] >= 0 ? 1 : -1));
  }
  nnc_step_end();
}

/* strided input: the op reads a transposed view */
static void test_strided(void) {
  nnc_tensor *x = nnc_randn(NNC_F64, NNC_SHAPE(3, 4), NULL);
  nnc_requires_grad(x);
  nnc_tensor *xt = nnc_transpose(x, 0, 1); /* [4, 3] */
  nnc_tensor *y = nnc_sign_reste(xt, 2, 1.5);
  CHECK(y->shape[0] == 4 && y->shape[1] == 3);
  nnc_tensor *up = nnc_randn(NNC_F64, NNC_SHAPE(4, 3), NULL);
  nnc_backward_with(y, up);
  int bad = 0;
  for (int i = 0; i < 3; i++)
    for (int j = 0; j < 4; j++) {
      double xv = nnc_get(x, i * 4 + j);
      bad += nnc_get(y, j * 3 + i) != (xv >= 0 ? 1 : -1);
      bad += fabs(nnc_get(x->grad, i * 4 + j) - nnc_reste_grad(xv, 2, 1.5) * nnc_get(up, j * 3 + i)) > 1e-12;
    }
  CHECK(bad == 0);
  nnc_step_end();
  /* a NaN is not hidden by the binarisers */
  nnc_tensor *nan = nnc_full(NNC_F32, NAN, NNC_SHAPE(2));
  CHECK(isnan(nnc_get(nnc_sign_ste(nan, 1), 0)) && isnan(nnc_get(nnc_sign_periodic(nan, 20), 1)));
  CHECK(isnan(nnc_get(nnc_sign_reste(nan, 2, 1.5), 0)) && isnan(nnc_get(nnc_sign_triangle(nan), 0)));
  nnc_step_end();
  EXPECT_ABORT(nnc_sign_reste(nnc_ones(NNC_F32, NNC_SHAPE(2)), 0.5, 1.5), "o >= 1");
  EXPECT_ABORT(nnc_sign_ste(nnc_zeros(NNC_I64, NNC_SHAPE(2)), 1), "sign_ste");
  nnc_step_end();
}

static void test_sample_var_norm(void) {
  nnc_tensor *x = nnc_randn(NNC_F64, NNC_SHAPE(3, 2, 5), NULL);
  nnc_tensor *y = nnc_sample_var_norm(x, 1e-5);
  for (int n = 0; n < 3; n++) {
    double m = 0, v = 0;
    for (int k = 0; k < 10; k++) m += nnc_get(x, n * 10 + k) / 10;
    for (int k = 0; k < 10; k++) v += pow(nnc_get(x, n * 10 + k) - m, 2) / 9; /* unbiased */
    double worst = 0;
    for (int k = 0; k < 10; k++) worst = fmax(worst, fabs(nnc_get(y, n * 10 + k) - nnc_get(x, n * 10 + k) / sqrt(v + 1e-5)));
    CHECK(worst < 1e-12);
  }
  nnc_step_end();
}

/* BinaryLinear with STE: y = x Wb^T, Wb = sign(W) m, m = mean|W|; the weight gradient is
 *   dW = 1[|W| <= 1] (G^T x) m + sign(W) sum((G^T x) sign(W)) / numel(W)   (through m) */
static void test_binary_linear(void) {
  nnc_params P;
  nnc_params_init(&P, NNC_F64);
  nnc_binary_cfg cfg = nnc_binary_cfg_default(NNC_BIN_STE);
  nnc_binary_layer_mod *l = nnc_new_binary_linear(&P, "fc", 5, 3, &cfg, NULL);
  CHECK(l->alpha == NULL && !strcmp(P.names[0], "fc.weight"));
  nnc_set(l->weight, 4, 1.7); /* outside the STE clip */
  nnc_tensor *x = nnc_randn(NNC_F64, NNC_SHAPE(4, 5), NULL), *G = nnc_randn(NNC_F64, NNC_SHAPE(4, 3), NULL);
  nnc_tensor *y = nnc_forward(&l->base, x);
  nnc_params_zero_grad(&P);
  nnc_backward_with(y, G);
  double m = 0;
  for (int i = 0; i < 15; i++) m += fabs(nnc_get(l->weight, i)) / 15;
  double gx[15] = {0}, dot = 0, yerr = 0, gerr = 0;
  for (int o = 0; o < 3; o++)
    for (int i = 0; i < 5; i++) {
      for (int n = 0; n < 4; n++) gx[o * 5 + i] += nnc_get(G, n * 3 + o) * nnc_get(x, n * 5 + i);
      dot += gx[o * 5 + i] * nnc_sign_pm1(nnc_get(l->weight, o * 5 + i));
    }
  for (int n = 0; n < 4; n++)
    for (int o = 0; o < 3; o++) {
      double s = 0;
      for (int i = 0; i < 5; i++) s += nnc_get(x, n * 5 + i) * nnc_sign_pm1(nnc_get(l->weight, o * 5 + i)) * m;
      yerr = fmax(yerr, fabs(s - nnc_get(y, n * 3 + o)));
    }
  for (int k = 0; k < 15; k++) {
    double w = nnc_get(l->weight, k);
    double want = nnc_ste_grad(w, 1) * gx[k] * m + nnc_sign_pm1(w) * dot / 15;
    gerr = fmax(gerr, fabs(nnc_get(l->weight->grad, k) - want));
  }
  CHECKF(yerr < 1e-12, "binary linear forward error %.3g", yerr);
  CHECKF(gerr < 1e-12, "binary linear weight gradient error %.3g", gerr);
  nnc_module_free(&l->base);
  nnc_params_free(&P);
  nnc_step_end();
}

/* BinaryLinear with BiPer: y = (x sign(sin(om W))^T) * alpha; alpha's gradient is
 * sum_n G * (x Wb^T), W's is om cos(om W) (G*alpha)^T x */
static void test_biper_linear(void) {
  nnc_params P;
  nnc_params_init(&P, NNC_F64);
  nnc_binary_cfg cfg = nnc_binary_cfg_default(NNC_BIN_BIPER);
  nnc_binary_layer_mod *l = nnc_new_binary_linear(&P, "fc", 4, 3, &cfg, NULL);
  CHECK(l->alpha && l->alpha->ndim == 1 && l->alpha->shape[0] == 3 && nnc_params_find(&P, "fc.alpha"));
  double amin = 1, amax = 0;
  for (int o = 0; o < 3; o++) {
    amin = fmin(amin, nnc_get(l->alpha, o));
    amax = fmax(amax, nnc_get(l->alpha, o));
  }
  CHECK(amin >= 0 && amax < 1);
  nnc_tensor *x = nnc_randn(NNC_F64, NNC_SHAPE(2, 4), NULL), *G = nnc_randn(NNC_F64, NNC_SHAPE(2, 3), NULL);
  nnc_tensor *y = nnc_forward(&l->base, x);
  nnc_params_zero_grad(&P);
  nnc_backward_with(y, G);
  double err = 0;
  for (int o = 0; o < 3; o++) {
    double a = nnc_get(l->alpha, o), ga = 0;
    for (int n = 0; n < 2; n++) {
      double z = 0;
      for (int i = 0; i < 4; i++) z += nnc_get(x, n * 4 + i) * nnc_sign_pm1(sin(20 * nnc_get(l->weight, o * 4 + i)));
      err = fmax(err, fabs(nnc_get(y, n * 3 + o) - z * a));
      ga += nnc_get(G, n * 3 + o) * z;
    }
    err = fmax(err, fabs(nnc_get(l->alpha->grad, o) - ga));
    for (int i = 0; i < 4; i++) {
      double gw = 0, w = nnc_get(l->weight, o * 4 + i);
      for (int n = 0; n < 2; n++) gw += nnc_get(G, n * 3 + o) * a * nnc_get(x, n * 4 + i);
      err = fmax(err, fabs(nnc_get(l->weight->grad, o * 4 + i) - 20 * cos(20 * w) * gw));
    }
  }
  CHECKF(err < 1e-12, "BiPer linear error %.3g", err);
  /* stage 1: continuous sine weights */
  cfg.stage = 1;
  nnc_tensor *wb = nnc_binary_weight(l);
  CHECK_NEAR(nnc_get(wb, 5), sin(20 * nnc_get(l->weight, 5)), 1e-14);
  nnc_module_free(&l->base);
  nnc_params_free(&P);
  nnc_step_end();
}

static void test_networks(void) {
  const nnc_bin_estimator ests[] = {NNC_BIN_STE, NNC_BIN_RESTE, NNC_BIN_BIPER};
  for (int e = 0; e < 3; e++) {
    nnc_params P, B;
    nnc_params_init(&P, NNC_F32);
    nnc_params_init(&B, NNC_F32);
    nnc_binary_cfg cfg = nnc_binary_cfg_default(ests[e]);
    nnc_rng r;
    nnc_rng_seed(&r, 1, 2);
    nnc_sequential_mod *mlp = nnc_new_binary_mlp(&P, &B, 784, 32, 2, 10, &cfg, &cfg, &r);
    CHECK(mlp->base.n_children == 10);
    CHECK(nnc_params_find(&P, "fc1.weight") && nnc_params_find(&P, "fc3.bias") && nnc_params_find(&B, "bn2.running_var"));
    CHECK((nnc_params_find(&P, "fc2.alpha") != NULL) == (ests[e] == NNC_BIN_BIPER));
    nnc_tensor *x = nnc_randn(NNC_F32, NNC_SHAPE(8, 784), NULL);
    nnc_tensor *y = nnc_forward(&mlp->base, x);
    CHECK(y->shape[0] == 8 && y->shape[1] == 10);
    nnc_tensor *loss = nnc_mean_all(nnc_square(y));
    nnc_params_zero_grad(&P);
    nnc_backward(loss);
    double gn = nnc_params_grad_norm(&P);
    CHECKF(isfinite(gn) && gn > 0, "%s MLP gradient norm %g", nnc_bin_estimator_name(ests[e]), gn);
    /* the binary layer's weight gets a gradient */
    nnc_tensor *w1 = nnc_params_find(&P, "fc1.weight");
    double s = 0;
    for (int64_t i = 0; i < nnc_numel(w1); i++) s += fabs(nnc_get(w1->grad, i));
    CHECK(s > 0);
    nnc_module_eval(&mlp->base);
    y = nnc_forward(&mlp->base, x);
    CHECK(isfinite(nnc_get(y, 0)));
    nnc_step_end();
    nnc_params PC, BC;
    nnc_params_init(&PC, NNC_F32);
    nnc_params_init(&BC, NNC_F32);
    nnc_sequential_mod *cnn = nnc_new_binary_cnn(&PC, &BC, 4, 8, 10, &cfg, &cfg, &r);
    nnc_tensor *yc = nnc_forward(&cnn->base, nnc_randn(NNC_F32, NNC_SHAPE(3, 784), NULL));
    CHECK(yc->shape[0] == 3 && yc->shape[1] == 10);
    nnc_params_zero_grad(&PC);
    nnc_backward(nnc_mean_all(nnc_square(yc)));
    nnc_tensor *wc = nnc_params_find(&PC, "conv2.weight");
    s = 0;
    for (int64_t i = 0; i < nnc_numel(wc); i++) s += fabs(nnc_get(wc->grad, i));
    CHECK(s > 0 && isfinite(s));
    nnc_step_end();
    nnc_module_free(&mlp->base);
    nnc_module_free(&cnn->base);
    nnc_params_free(&P);
    nnc_params_free(&B);
    nnc_params_free(&PC);
    nnc_params_free(&BC);
  }
}

int main(void) {
  nnc_init();
  test_reste(NNC_F64, 1e-6);
  test_reste(NNC_F32, 1e-6);
  test_ste(NNC_F64);
  test_ste(NNC_F32);
  test_periodic(NNC_F64, 1e-6);
  test_periodic(NNC_F32, 1e-4); /* f32 rounding of 20 cos(20 w) */
  test_triangle(NNC_F64);
  test_triangle(NNC_F32);
  test_strided();
  test_sample_var_norm();
  test_binary_linear();
  test_biper_linear();
  test_networks();
  return test_summary();
}
