/* tests/test_kernels.c: nn/kernels.h: quadrature, criticality solver, dual activations and
 * the NTK recursion against closed forms, and the random-network statistics against Monte
 * Carlo predictions (tolerances: a few standard errors of the estimate, stated per check). */
#include "test.h"
#include "nn/kernels.h"

static double dfact2(int k) { /* (2k-1)!! = E g^(2k) */
  double r = 1;
  for (int i = 2 * k - 1; i > 1; i -= 2) r *= i;
  return r;
}

static void test_quadrature(void) {
  double x[20], w[20];
  nnc_gauss_hermite(20, x, w);
  for (int k = 0; k <= 9; k++) { /* exact for degree < 40 */
    double s = 0;
    for (int i = 0; i < 20; i++) s += w[i] * pow(x[i], 2 * k);
    CHECK_NEAR(s, dfact2(k), 1e-11);
  }
  /* moments with a kink: E relu(z)^2 = K/2, E relu'(z)^2 = 1/2, E relu(z) = sqrt(K / 2 pi) */
  CHECK_NEAR(nnc_act_moment(NNC_ACT_RELU, 0, 2.0, 2, 0, 0), 1.0, 1e-9);
  CHECK_NEAR(nnc_act_moment(NNC_ACT_RELU, 0, 2.0, 0, 2, 0), 0.5, 1e-9);
  CHECK_NEAR(nnc_act_moment(NNC_ACT_RELU, 0, 3.0, 1, 0, 0), sqrt(3.0 / (2 * M_PI)), 1e-8); /* Simpson h^4 */
  /* a smooth one against a 100-point Gauss-Hermite rule */
  double xs[100], ws[100], s = 0;
  nnc_gauss_hermite(100, xs, ws);
  for (int i = 0; i < 100; i++) s += ws[i] * pow(tanh(sqrt(0.7) * xs[i]), 2);
  CHECK_NEAR(nnc_act_moment(NNC_ACT_TANH, 0, 0.7, 2, 0, 0), s, 1e-9);
}

static void test_critical(void) {
  double cb, cw, k, tb, tw;
  CHECK(nnc_critical_solve(NNC_ACT_RELU, 0, &cb, &cw, &k) && fabs(cb) < 1e-12 && fabs(cw - 2) < 1e-8);
  CHECK(nnc_critical_solve(NNC_ACT_LEAKY_RELU, 0.2, &cb, &cw, &k) && fabs(cw - 2 / 1.04) < 1e-8);
  CHECK(nnc_critical_solve(NNC_ACT_TANH, 0, &cb, &cw, &k) && cb == 0 && fabs(cw - 1) < 1e-8 && k == 0);
  nnc_act smooth[2] = {NNC_ACT_GELU, NNC_ACT_SILU};
  for (int a = 0; a < 2; a++) {
    CHECK(nnc_critical_solve(smooth[a], 0, &cb, &cw, &k));
    CHECK(nnc_act_critical(smooth[a], 0, &tb, &tw));
    /* the table has 4 decimals */
    CHECK_NEAR(cb, tb, 1e-4);
    CHECK_NEAR(cw, tw, 1e-4);
    double cp, cq;
    nnc_kernel_chis(smooth[a], 0, cw, k, &cp, &cq);
    CHECK_NEAR(cp, 1, 1e-8);
    CHECK_NEAR(cq, 1, 1e-8);
    CHECK_NEAR(nnc_kernel_step(smooth[a], 0, cb, cw, k), k, 1e-8); /* a fixed point */
  }
  /* tanh at criticality: K^(l) ~ 1/(2l) (next order ~ log(l)/l) */
  double K = 1;
  for (int l = 1; l < 400; l++) K = nnc_kernel_step(NNC_ACT_TANH, 0, 0, 1, K);
  CHECKF(fabs(800 * K - 1) < 0.05, "2lK at l = 400: %g", 800 * K);
}

static void test_duals(void) {
  nnc_dual r = nnc_dual_relu();
  for (double t = -0.95; t < 1; t += 0.15) {
    CHECK_NEAR(nnc_dual_rho(&r, t), nnc_dual_rho_quadrature(NNC_ACT_RELU, 0, t), 1e-8);
    double h = 1e-6;
    CHECK_NEAR(nnc_dual_drho(&r, t), (nnc_dual_rho(&r, t + h) - nnc_dual_rho(&r, t - h)) / (2 * h), 1e-6);
  }
  CHECK_NEAR(nnc_dual_rho(&r, 1), 1, 1e-15);
  CHECK_NEAR(nnc_dual_xi(&r), 1, 1e-15);
  /* the Hermite expansion of relu, truncated at 40 terms: the missing mass sum_{k>=40} a_k^2
   * ~ k^-1.5 is ~0.5%, so rho agrees to ~1e-2 */
  nnc_dual rh = nnc_dual_from_act(NNC_ACT_RELU, 0, 1.0, 40);
  CHECK_NEAR(rh.a2[0], 1 / M_PI, 1e-2);
  CHECK_NEAR(rh.a2[1], 0.5, 1e-2);
  CHECK_NEAR(nnc_dual_rho(&rh, 0.5), nnc_dual_rho(&r, 0.5), 1e-2);
  /* tanh's dual from Hermite coefficients vs its quadrature (smooth: the series converges fast) */
  nnc_dual th = nnc_dual_from_act(NNC_ACT_TANH, 0, 1.0, 40);
  CHECK_NEAR(nnc_dual_rho(&th, 0.6), nnc_dual_rho_quadrature(NNC_ACT_TANH, 0, 0.6), 1e-6);
  /* the small-s series of 1 - rho(1 - s) */
  nnc_dual h = nnc_dual_hermite(3, (double[]){0, 1, 1});
  for (double s = 1e-9; s < 0.9; s *= 10)
    CHECKF(fabs(nnc_dual_one_minus_rho(&h, s) / (1.5 * s - 0.5 * s * s) - 1) < 1e-12, "s %g", s);
  /* Monte Carlo of E[phi(u) phi(v)] for sqrt(2) relu, t = 0.3: 400k pairs, SE ~ 0.0035; 4 SE */
  nnc_rng g;
  nnc_rng_seed(&g, 5, 0);
  double t = 0.3, c = sqrt(1 - t * t), s = 0;
  const int N = 400000;
  for (int i = 0; i < N; i++) {
    double u = nnc_rng_normal(&g), v = t * u + c * nnc_rng_normal(&g);
    s += 2 * (u > 0 ? u : 0) * (v > 0 ? v : 0);
  }
  CHECK_NEAR(s / N, nnc_dual_rho(&r, t), 0.014);
}

static void test_ntk(void) {
  nnc_dual r = nnc_dual_relu();
  double t[3] = {-0.5, 0.2, 0.9}, ntk[3 * 3], nngp[3 * 3];
  nnc_ntk_normalised(&r, 3, 3, t, ntk, nngp);
  for (int i = 0; i < 3; i++) {
    double s1 = nnc_dual_rho(&r, t[i]), th1 = t[i] * nnc_dual_drho(&r, t[i]) + s1;
    double s2 = nnc_dual_rho(&r, s1), th2 = th1 * nnc_dual_drho(&r, s1) + s2;
    double s3 = nnc_dual_rho(&r, s2), th3 = th2 * nnc_dual_drho(&r, s2) + s3;
    CHECK_NEAR(ntk[0 * 3 + i], th1 / 2, 1e-13);
    CHECK_NEAR(ntk[1 * 3 + i], th2 / 3, 1e-13);
    CHECK_NEAR(ntk[2 * 3 + i], th3 / 4, 1e-13);
    CHECK_NEAR(nngp[2 * 3 + i], s3, 1e-13);
  }
  /* the diagonal stays exactly 1, for xi > 1 too */
  nnc_dual h = nnc_dual_hermite(3, (double[]){0, 1, 1});
  double one = 1, out[50];
  nnc_ntk_normalised(&h, 50, 1, &one, out, NULL);
  CHECK_NEAR(out[49], 1, 1e-14);
  /* rho = t^2: Sigma^l = t^(2^l) keeps its relative precision far below 1e-16 */
  nnc_dual sq = nnc_dual_hermite(3, (double[]){0, 0, 1});
  double tt = 0.5, ng[8], nk[8];
  nnc_ntk_normalised(&sq, 8, 1, &tt, nk, ng);
  CHECK_NEAR(ng[7] / pow(0.5, 256), 1, 1e-12);
}

static void test_flow(void) {
  nnc_rng g;
  nnc_rng_seed(&g, 7, 0);
  nnc_kernel_stats s;
  /* ReLU at criticality, n = 64, l = 8, 3000 inits: kurtosis vs 3[(1 + 5/n)^7 - 1] = 2.08 within
   * 4 block standard errors; K within 3% of 2 (its SE over 3000 x 64 samples is ~1%) */
  nnc_kernel_flow(NNC_ACT_RELU, 0, 0, 2, 32, 1, 64, 8, 3000, false, &g, &s);
  double pred = 3 * (pow(1 + 5.0 / 64, 7) - 1);
  CHECKF(fabs(s.kurt[7] - pred) < 4 * s.kurt_se[7] + 0.02, "kurt %g +- %g vs %g", s.kurt[7], s.kurt_se[7], pred);
  CHECK_NEAR(s.K[7], 2, 0.03);
  CHECK_NEAR(s.kurt[0], 0, 0.05); /* the first layer is Gaussian */
  nnc_kernel_stats_free(&s);
  /* explicit weight matrices give the same statistics (n = 32, l = 4, 1500 inits) */
  nnc_kernel_stats d;
  nnc_kernel_flow(NNC_ACT_RELU, 0, 0, 2, 16, 1, 32, 4, 1500, true, &g, &d);
  pred = 3 * (pow(1 + 5.0 / 32, 3) - 1);
  CHECKF(fabs(d.kurt[3] - pred) < 4 * d.kurt_se[3] + 0.02, "dense kurt %g +- %g vs %g", d.kurt[3], d.kurt_se[3], pred);
  CHECK_NEAR(d.K[3], 2, 0.04);
  nnc_kernel_stats_free(&d);
}

static void test_solve(void) {
  enum { N = 30 };
  double A[N * N], M[N * N], b[N * 2], x[N * 2];
  nnc_rng g;
  nnc_rng_seed(&g, 3, 0);
  for (int i = 0; i < N * N; i++) M[i] = nnc_rng_normal(&g);
  for (int i = 0; i < N; i++)
    for (int j = 0; j < N; j++) {
      double s = i == j ? 1 : 0;
      for (int k = 0; k < N; k++) s += M[i * N + k] * M[j * N + k];
      A[i * N + j] = s;
    }
  for (int i = 0; i < 2 * N; i++) b[i] = x[i] = nnc_rng_normal(&g);
  double L[N * N];
  memcpy(L, A, sizeof L);
  CHECK(nnc_cholesky(N, L));
  nnc_cholesky_solve(N, L, 2, x);
  double worst = 0;
  for (int i = 0; i < N; i++)
    for (int c = 0; c < 2; c++) {
      double s = 0;
      for (int k = 0; k < N; k++) s += A[i * N + k] * x[k * 2 + c];
      worst = fmax(worst, fabs(s - b[i * 2 + c]));
    }
  CHECKF(worst < 1e-9, "residual %g", worst);
  double bad[4] = {1, 2, 2, 1};
  CHECK(!nnc_cholesky(2, bad));
  /* the identity kernel returns the training labels on the training points */
  double I[16] = {1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1};
  int64_t y[4] = {2, 0, 1, 2}, p[4];
  CHECK(nnc_kernel_classify(4, I, y, 3, 4, I, 0, p));
  CHECK(p[0] == 2 && p[1] == 0 && p[2] == 1 && p[3] == 2);
}

int main(void) {
  test_quadrature();
  test_critical();
  test_duals();
  test_ntk();
  test_flow();
  test_solve();
  return test_summary();
}
