/* papers/ntk/ntk.c: "Wide and Deep Neural Networks Achieve Optimality for Classification"
 * (Radhakrishnan, Belkin, Uhler, 2022) with the NNGP/NTK recursions of Jacot et al.: ridgeless
 * regression with the infinite-width NTK on Fashion-MNIST subsets at several depths, the
 * infinite-depth taxonomy (1-nearest-neighbour, majority vote, singular-kernel vote) measured
 * as agreement of the deep-NTK classifier with each limit, and the empirical NTK of finite
 * ReLU MLPs from per-example gradients against the analytic one as the width grows.
 * See papers/ntk/README.md. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "nnc.h"
#include "nn/kernels.h"
#include "papers/paper.h"

/* ---- data: rows centred by the training mean and projected on the unit sphere ---- */
typedef struct {
  int64_t n, d;
  double *x; /* [n x d] unit rows */
  int64_t *y;
} unit_set;

static void unit_free(unit_set *u) {
  free(u->x);
  free(u->y);
}

/* picks rows idx of ds, subtracts mean[] and normalises */
static void make_unit(const nnc_dataset *ds, const int64_t *idx, int64_t n, const double *mean, unit_set *u) {
  int64_t d = nnc_numel(ds->x) / ds->n;
  u->n = n;
  u->d = d;
  u->x = malloc((size_t)(n * d) * sizeof(double));
  u->y = malloc((size_t)n * sizeof(int64_t));
  const float *X = nnc_f32(ds->x);
  for (int64_t i = 0; i < n; i++) {
    double s = 0, *row = u->x + i * d;
    for (int64_t j = 0; j < d; j++) {
      row[j] = X[idx[i] * d + j] - mean[j];
      s += row[j] * row[j];
    }
    s = 1 / sqrt(s);
    for (int64_t j = 0; j < d; j++) row[j] *= s;
    u->y[i] = nnc_i64(ds->y)[idx[i]];
  }
}

static double *mean_of(const nnc_dataset *ds, const int64_t *idx, int64_t n) {
  int64_t d = nnc_numel(ds->x) / ds->n;
  double *m = calloc((size_t)d, sizeof *m);
  const float *X = nnc_f32(ds->x);
  for (int64_t i = 0; i < n; i++)
    for (int64_t j = 0; j < d; j++) m[j] += X[idx[i] * d + j];
  for (int64_t j = 0; j < d; j++) m[j] /= (double)n;
  return m;
}

/* cosines a_i . b_j, [na x nb] */
static double *cosines(const unit_set *a, const unit_set *b) {
  double *T = malloc((size_t)(a->n * b->n) * sizeof *T);
  for (int64_t i = 0; i < a->n; i++)
    for (int64_t j = 0; j < b->n; j++) {
      const double *p = a->x + i * a->d, *q = b->x + j * b->d;
      double s = 0;
      for (int64_t k = 0; k < a->d; k++) s += p[k] * q[k];
      T[i * b->n + j] = s > 1 ? 1 : s < -1 ? -1 : s;
    }
  return T;
}

/* normalised NTK at depth L for every entry of T (m entries) */
static double *ntk_at(const nnc_dual *du, int L, int64_t m, const double *T) {
  double *out = malloc((size_t)m * sizeof *out), *buf = malloc((size_t)L * sizeof *buf);
  for (int64_t i = 0; i < m; i++) {
    nnc_ntk_normalised(du, L, 1, T + i, buf, NULL);
    out[i] = buf[L - 1];
  }
  free(buf);
  return out;
}

/* NTK regression: accuracy on the test set (predictions in pred); ridge grows x100 until the
 * Cholesky succeeds (the ridge used is returned in *ridge) */
static double ntk_predict(const nnc_dual *du, int L, const unit_set *tr, const unit_set *te, const double *Ttr,
                          const double *Tte, double *ridge, int64_t *pred) {
  double *Ktr = ntk_at(du, L, tr->n * tr->n, Ttr), *Kte = ntk_at(du, L, te->n * tr->n, Tte);
  for (int64_t i = 0; i < tr->n; i++) Ktr[i * tr->n + i] = 1; /* exactly, by construction */
  bool ok = false;
  for (int k = 0; k < 8 && !ok; k++) {
    ok = nnc_kernel_classify(tr->n, Ktr, tr->y, 10, te->n, Kte, *ridge, pred);
    if (!ok) *ridge *= 100;
  }
  free(Ktr);
  free(Kte);
  if (!ok) return NAN;
  int64_t c = 0;
  for (int64_t i = 0; i < te->n; i++) c += pred[i] == te->y[i];
  return (double)c / (double)te->n;
}

static void nn1(const unit_set *tr, const unit_set *te, const double *Tte, int64_t *pred) {
  for (int64_t a = 0; a < te->n; a++) {
    int64_t b = 0;
    for (int64_t i = 1; i < tr->n; i++)
      if (Tte[a * tr->n + i] > Tte[a * tr->n + b]) b = i;
    pred[a] = tr->y[b];
  }
}

/* singular-kernel vote: argmax_c sum_{i in c} ||x - x_i||^-alpha, in the log domain */
static void nw_vote(const unit_set *tr, const unit_set *te, const double *Tte, double alpha, int64_t *pred) {
  double *lw = malloc((size_t)tr->n * sizeof *lw);
  for (int64_t a = 0; a < te->n; a++) {
    double mx = -INFINITY, sc[10] = {0};
    for (int64_t i = 0; i < tr->n; i++) {
      double d2 = 2 * (1 - Tte[a * tr->n + i]);
      lw[i] = -(alpha / 2) * log(d2 > 1e-300 ? d2 : 1e-300);
      if (lw[i] > mx) mx = lw[i];
    }
    for (int64_t i = 0; i < tr->n; i++) sc[tr->y[i]] += exp(lw[i] - mx);
    int best = 0;
    for (int c = 1; c < 10; c++)
      if (sc[c] > sc[best]) best = c;
    pred[a] = best;
  }
  free(lw);
}

static double agree(const int64_t *a, const int64_t *b, int64_t n) {
  int64_t c = 0;
  for (int64_t i = 0; i < n; i++) c += a[i] == b[i];
  return (double)c / (double)n;
}
static double acc_of(const int64_t *p, const int64_t *y, int64_t n) { return agree(p, y, n); }

/* ---- the empirical NTK of a finite ReLU MLP (NTK parameterisation, 2 hidden layers) ---- */
static double empirical_ntk_error(const unit_set *u, int64_t width, uint64_t seed, const double *analytic) {
  const int64_t n = u->n, d = u->d;
  nnc_params P;
  nnc_params_init(&P, NNC_F64);
  nnc_tensor *W1 = nnc_params_add(&P, "W1", NNC_SHAPE(width, d));
  nnc_tensor *W2 = nnc_params_add(&P, "W2", NNC_SHAPE(width, width));
  nnc_tensor *w3 = nnc_params_add(&P, "w3", NNC_SHAPE(1, width));
  nnc_rng rng;
  nnc_rng_seed(&rng, seed, 77);
  nnc_fill_normal(W1, 0, 1, &rng);
  nnc_fill_normal(W2, 0, 1, &rng);
  nnc_fill_normal(w3, 0, 1, &rng);
  const int64_t np = P.numel;
  double *J = malloc((size_t)(n * np) * sizeof *J);
  const double c = sqrt(2.0 / (double)width); /* sqrt(2) relu, divided by sqrt(fan_in) */
  for (int64_t i = 0; i < n; i++) {
    nnc_params_zero_grad(&P);
    nnc_tensor *x = nnc_from_data(NNC_F64, NNC_SHAPE(1, d), u->x + i * d);
    nnc_tensor *z1 = nnc_matmul_t(x, W1, false, true);
    nnc_tensor *a1 = nnc_scale(nnc_relu(z1), c);
    nnc_tensor *z2 = nnc_matmul_t(a1, W2, false, true);
    nnc_tensor *a2 = nnc_scale(nnc_relu(z2), c);
    nnc_tensor *f = nnc_sum_all(nnc_matmul_t(a2, w3, false, true));
    nnc_backward(f);
    memcpy(J + i * np, P.grads.data, (size_t)np * sizeof(double));
    nnc_step_end();
  }
  double num = 0, den = 0;
  for (int64_t a = 0; a < n; a++)
    for (int64_t b = 0; b < n; b++) {
      double s = 0;
      const double *p = J + a * np, *q = J + b * np;
      for (int64_t k = 0; k < np; k++) s += p[k] * q[k];
      double e = s - analytic[a * n + b];
      num += e * e;
      den += analytic[a * n + b] * analytic[a * n + b];
    }
  free(J);
  nnc_params_free(&P);
  return sqrt(num / den);
}

static nnc_status run_ntk(nnc_paper_run *r) {
  const bool quick = r->quick;
  char name[160];
  double t0 = nnc_now();
  nnc_dataset train, test;
  nnc_status st = nnc_fashion_load(r->data_dir, true, &train);
  if (st) return st;
  if ((st = nnc_fashion_load(r->data_dir, false, &test))) {
    nnc_dataset_free(&train);
    return st;
  }

  /* A. ReLU NTK / NNGP regression vs depth, balanced 10-class subset */
  const int64_t nA = quick ? 300 : 1000, mA = quick ? 300 : 1000;
  int64_t *idx = malloc((size_t)(nA > mA ? nA : mA) * 2 * sizeof *idx);
  for (int64_t i = 0; i < nA; i++) idx[i] = i;
  double *mean = mean_of(&train, idx, nA);
  unit_set trA, teA;
  make_unit(&train, idx, nA, mean, &trA);
  for (int64_t i = 0; i < mA; i++) idx[i] = i;
  make_unit(&test, idx, mA, mean, &teA);
  free(mean);
  double *TtrA = cosines(&trA, &trA), *TteA = cosines(&teA, &trA);
  static const int DEP[] = {1, 2, 3, 4, 6, 8, 12, 16, 24, 32};
  const int ND = quick ? 5 : 10;
  double accA[10], depA[10];
  int64_t *pred = malloc((size_t)(mA > 1000 ? mA : 1000) * sizeof *pred), *ref = malloc(1000 * sizeof *ref);
  nnc_dual relu = nnc_dual_relu();
  nn1(&trA, &teA, TteA, ref);
  double acc1nn = acc_of(ref, teA.y, mA);
  nnc_paper_metric(r, "A_1nn_acc", acc1nn);
  double best = 0;
  for (int k = 0; k < ND; k++) {
    double ridge = 1e-8;
    depA[k] = DEP[k];
    accA[k] = ntk_predict(&relu, DEP[k], &trA, &teA, TtrA, TteA, &ridge, pred);
    snprintf(name, sizeof name, "A_relu_ntk_acc_L%d", DEP[k]);
    nnc_paper_metric(r, name, accA[k]);
    if (accA[k] > best) best = accA[k];
    nnc_paper_log(r, "ReLU NTK L %2d: test acc %.2f%% (ridge %.0e) (%.1f s)", DEP[k], 100 * accA[k], ridge, nnc_now() - t0);
  }
  nnc_paper_criterion(r, "A_relu_ntk_best_acc_minus_1nn", best - acc1nn, ">=", 0.0);
  nnc_paper_criterion(r, "A_relu_ntk_best_acc", best, ">=", quick ? 0.6 : 0.7);
  {
    double one[10];
    for (int k = 0; k < ND; k++) one[k] = acc1nn;
    nnc_series s[2] = {{"ReLU NTK regression (ridge 1e-8)", depA, accA, ND}, {"1-nearest neighbour", depA, one, ND}};
    if ((st = nnc_svg_line_chart(nnc_paper_path(r, "ntk_accuracy_vs_depth.svg"),
                                 "Infinite-width ReLU NTK on Fashion-MNIST (10 classes)", "depth L (hidden layers)",
                                 "test accuracy", s, 2)))
      return st;
  }
  free(TtrA);
  free(TteA);
  unit_free(&trA);

  /* B. the taxonomy, on an imbalanced training set (class c: 10 (c + 1) images) */
  const int64_t mB = quick ? 300 : 1000;
  int64_t nB = 0;
  {
    int cnt[10] = {0};
    for (int64_t i = 0; i < train.n && nB < 550; i++) {
      int64_t y = nnc_i64(train.y)[i];
      if (cnt[y] < 10 * (y + 1)) cnt[y]++, idx[nB++] = i;
    }
  }
  mean = mean_of(&train, idx, nB);
  unit_set trB, teB;
  make_unit(&train, idx, nB, mean, &trB);
  for (int64_t i = 0; i < mB; i++) idx[i] = i;
  make_unit(&test, idx, mB, mean, &teB);
  free(mean);
  double *TtrB = cosines(&trB, &trB), *TteB = cosines(&teB, &trB);
  int64_t *p1nn = malloc((size_t)mB * sizeof *p1nn), *pnw = malloc((size_t)mB * sizeof *pnw);
  nn1(&trB, &teB, TteB, p1nn);
  nnc_paper_metric(r, "B_1nn_acc", acc_of(p1nn, teB.y, mB));
  /* (i) rho = t^2: xi = 2, a1 = 0 -> 1-NN */
  {
    nnc_dual du = nnc_dual_hermite(3, (double[]){0, 0, 1});
    static const int Ls[4] = {2, 4, 6, 8};
    for (int k = 0; k < 4; k++) {
      double ridge = 1e-8;
      double acc = ntk_predict(&du, Ls[k], &trB, &teB, TtrB, TteB, &ridge, pred);
      double ag = agree(pred, p1nn, mB);
      snprintf(name, sizeof name, "B_t2_L%d_agree_1nn", Ls[k]);
      if (Ls[k] == 8) nnc_paper_criterion(r, name, ag, ">=", 0.98);
      else nnc_paper_metric(r, name, ag);
      nnc_paper_log(r, "rho = t^2 (xi 2, 1-NN class) L %d: agreement with 1-NN %.3f (acc %.2f%%)", Ls[k], ag, 100 * acc);
    }
  }
  /* (ii) (0, 1/2, 1/2): xi = 1.5, alpha = 2 ln(xi / a1^2) / ln xi = 5.42 -> singular kernel */
  {
    nnc_dual du = nnc_dual_hermite(3, (double[]){0, 0.5, 0.5});
    double alpha = 2 * log(1.5 / 0.5) / log(1.5);
    nnc_paper_metric(r, "B_h012_alpha", alpha);
    static const int Ls[2] = {10, 30};
    static const double alphas[4] = {0, 4, 8, 0};
    for (int k = 0; k < 2; k++) {
      double ridge = 1e-8;
      double acc = ntk_predict(&du, Ls[k], &trB, &teB, TtrB, TteB, &ridge, pred);
      double ag[4];
      for (int a = 0; a < 3; a++) {
        nw_vote(&trB, &teB, TteB, a == 0 ? alpha : alphas[a], pnw);
        ag[a] = agree(pred, pnw, mB);
      }
      ag[3] = agree(pred, p1nn, mB);
      snprintf(name, sizeof name, "B_h012_L%d_agree_nw_alpha5.42", Ls[k]);
      nnc_paper_criterion(r, name, ag[0], ">=", 0.93);
      snprintf(name, sizeof name, "B_h012_L%d_agree_gain_over_alpha4", Ls[k]);
      nnc_paper_criterion(r, name, ag[0] - ag[1], ">=", 0.05);
      snprintf(name, sizeof name, "B_h012_L%d_agree_nw_alpha8", Ls[k]);
      nnc_paper_metric(r, name, ag[2]);
      snprintf(name, sizeof name, "B_h012_L%d_agree_1nn", Ls[k]);
      nnc_paper_metric(r, name, ag[3]);
      nnc_paper_log(r, "(0,1/2,1/2) (xi 1.5, alpha %.2f) L %d: agreement with NW alpha %.2f / 4 / 8: %.3f / %.3f / %.3f, "
                       "1-NN %.3f (acc %.2f%%)", alpha, Ls[k], alpha, ag[0], ag[1], ag[2], ag[3], 100 * acc);
    }
  }
  /* (iii) xi <= 1 with a ridge: the majority class (9, the largest) */
  {
    nnc_dual du[2] = {nnc_dual_hermite(3, (double[]){0.5, 0.25, 0.25}), nnc_dual_relu()};
    static const char *nm[2] = {"h_half_quarter_quarter", "relu"};
    static const int Ls[2][4] = {{10, 30, 100, 0}, {30, 100, 300, 1000}};
    for (int a = 0; a < 2; a++)
      for (int k = 0; k < 4 && Ls[a][k]; k++) {
        if (quick && Ls[a][k] > 100) continue;
        double ridge = 1e-4;
        double acc = ntk_predict(&du[a], Ls[a][k], &trB, &teB, TtrB, TteB, &ridge, pred);
        int64_t c = 0;
        for (int64_t i = 0; i < mB; i++) c += pred[i] == 9;
        snprintf(name, sizeof name, "B_%s_L%d_majority_frac", nm[a], Ls[a][k]);
        if (a == 0 && Ls[a][k] == 100) nnc_paper_criterion(r, name, (double)c / mB, ">=", 0.99);
        else nnc_paper_metric(r, name, (double)c / mB);
        nnc_paper_log(r, "%s (xi %.2f, majority class) ridge 1e-4 L %d: predicts the majority class for %.3f (acc %.2f%%) "
                         "(%.1f s)", nm[a], nnc_dual_xi(&du[a]), Ls[a][k], (double)c / mB, 100 * acc, nnc_now() - t0);
      }
  }
  /* (iv) common activations placed in the taxonomy (duals from 40 Hermite coefficients at unit
   * variance), and the deep NTK's agreement with the predicted limit; full run only */
  static const nnc_act acts[4] = {NNC_ACT_TANH, NNC_ACT_GELU, NNC_ACT_SILU, NNC_ACT_SIGMOID};
  for (int a = 0; a < 4 && !quick; a++) {
    const char *an = nnc_act_name(acts[a]);
    nnc_dual du = nnc_dual_from_act(acts[a], 0, 1.0, 40);
    double xi = nnc_dual_xi(&du), ts = 0;
    for (int it = 0; it < 2000; it++) ts = nnc_dual_rho(&du, ts); /* attracting fixed point from 0 */
    double slope = nnc_dual_drho(&du, ts);
    const char *cls = xi <= 1 ? "majority" : slope < 1e-9 ? "1-NN" : "singular";
    double alpha = xi > 1 && slope > 0 ? 2 * log(xi / slope) / log(xi) : NAN;
    snprintf(name, sizeof name, "C_%s_xi", an);
    nnc_paper_metric(r, name, xi);
    snprintf(name, sizeof name, "C_%s_a0sq", an);
    nnc_paper_metric(r, name, du.a2[0]);
    snprintf(name, sizeof name, "C_%s_a1sq", an);
    nnc_paper_metric(r, name, du.a2[1]);
    snprintf(name, sizeof name, "C_%s_alpha", an);
    nnc_paper_metric(r, name, alpha);
    static const int Lc[2] = {20, 100};
    double ag[2], mode[2];
    for (int k = 0; k < 2; k++) {
      double ridge = xi <= 1 ? 1e-4 : 1e-8;
      ntk_predict(&du, Lc[k], &trB, &teB, TtrB, TteB, &ridge, pred);
      int64_t hist[10] = {0}, hm = 0;
      for (int64_t i = 0; i < mB; i++) hist[pred[i]]++;
      for (int c = 0; c < 10; c++) hm = hist[c] > hm ? hist[c] : hm;
      mode[k] = (double)hm / mB; /* the share of the most predicted class */
      snprintf(name, sizeof name, "C_%s_L%d_most_predicted_class_frac", an, Lc[k]);
      nnc_paper_metric(r, name, mode[k]);
      if (xi <= 1) {
        int64_t c = 0;
        for (int64_t i = 0; i < mB; i++) c += pred[i] == 9;
        ag[k] = (double)c / mB;
      } else {
        nw_vote(&trB, &teB, TteB, alpha, pnw);
        ag[k] = agree(pred, pnw, mB);
      }
      snprintf(name, sizeof name, "C_%s_L%d_agree_predicted_limit", an, Lc[k]);
      nnc_paper_metric(r, name, ag[k]);
    }
    nnc_paper_log(r, "%-7s a0^2 %.3f a1^2 %.3f xi %.3f rho'(t*) %.3f -> %s (alpha %.2f); agreement with it at L 20 / 100: "
                     "%.3f / %.3f; most predicted class %.3f / %.3f (%.1f s)", an, du.a2[0], du.a2[1], xi, slope, cls, alpha,
                  ag[0], ag[1], mode[0], mode[1], nnc_now() - t0);
  }
  free(TtrB);
  free(TteB);
  unit_free(&trB);
  free(p1nn);
  free(pnw);

  /* D. empirical NTK of finite ReLU MLPs (2 hidden layers) vs the analytic one */
  {
    const int64_t ne = 6;
    unit_set ex = {.n = ne, .d = teA.d, .x = teA.x, .y = teA.y}; /* the first test images */
    double *T = cosines(&ex, &ex), *an = ntk_at(&relu, 2, ne * ne, T);
    for (int64_t i = 0; i < ne * ne; i++) an[i] *= 3; /* Theta^2(x, x) = 1 + xi + xi^2 = 3 */
    static const int64_t W[5] = {64, 128, 256, 512, 1024};
    const int NW = 5, seeds = quick ? 3 : 8;
    double err[5], wd[5], lx[5], ly[5], mx = 0, my = 0;
    for (int k = 0; k < NW; k++) {
      err[k] = 0;
      for (int s = 0; s < seeds; s++) err[k] += empirical_ntk_error(&ex, W[k], r->seed + 100 * s + k, an) / seeds;
      wd[k] = (double)W[k];
      lx[k] = log(wd[k]);
      ly[k] = log(err[k]);
      mx += lx[k] / NW;
      my += ly[k] / NW;
      snprintf(name, sizeof name, "D_emp_ntk_rel_frob_err_n%d", (int)W[k]);
      nnc_paper_metric(r, name, err[k]);
      nnc_paper_log(r, "empirical NTK, width %4d: relative Frobenius error %.4f (mean of %d nets) (%.1f s)", (int)W[k],
                    err[k], seeds, nnc_now() - t0);
    }
    double sxy = 0, sxx = 0;
    for (int k = 0; k < NW; k++) sxy += (lx[k] - mx) * (ly[k] - my), sxx += (lx[k] - mx) * (lx[k] - mx);
    double slope = sxy / sxx;
    nnc_paper_criterion(r, "D_loglog_slope_err_vs_width_ge", slope, ">=", -0.7);
    nnc_paper_criterion(r, "D_loglog_slope_err_vs_width_(pred_-0.5)", slope, "<=", -0.3);
    nnc_paper_log(r, "log-log slope of the error vs width: %.3f (1/sqrt(width): -0.5)", slope);
    double ref2[5];
    for (int k = 0; k < NW; k++) ref2[k] = err[0] * sqrt(wd[0] / wd[k]);
    nnc_series s[2] = {{"empirical vs analytic NTK", wd, err, NW}, {"c / sqrt(width)", wd, ref2, NW}};
    nnc_svg_panel pan = {.title = "ReLU MLP, 2 hidden layers, 6 Fashion-MNIST images", .xlabel = "width",
                         .ylabel = "||Theta_emp - Theta|| / ||Theta||", .series = s, .nseries = 2, .log_x = true,
                         .log_y = true};
    if ((st = nnc_svg_panels(nnc_paper_path(r, "empirical_ntk_error_vs_width.svg"),
                             "Empirical NTK from per-example gradients vs the infinite-width NTK", &pan, 1)))
      return st;
    free(T);
    free(an);
  }
  unit_free(&teA);
  unit_free(&teB);
  free(idx);
  free(pred);
  free(ref);
  nnc_dataset_free(&train);
  nnc_dataset_free(&test);
  return NNC_OK;
}

NNC_PAPER(ntk_paper, .slug = "ntk",
          .title = "Wide and Deep Neural Networks Achieve Optimality for Classification (Radhakrishnan, Belkin, Uhler, 2022)",
          .claim = "the infinitely wide and deep NTK classifier becomes 1-NN, majority vote or a singular-kernel vote "
                   "depending on the activation; a finite MLP's NTK approaches the analytic one as 1/sqrt(width)",
          .run = run_ntk);
