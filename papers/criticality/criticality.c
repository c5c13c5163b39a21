/* papers/criticality/criticality.c: "The Principles of Deep Learning Theory" (Roberts, Yaida,
 * Hanin, 2022), chapters 5 and 4/8 in miniature: the critical initialisations of ReLU, tanh,
 * GELU and SiLU solved numerically, the kernel K^(l) = E[z^2] of random MLPs vs depth at and
 * off criticality, and the 1/n correction: the excess kurtosis of a preactivation grows with
 * the depth-to-width ratio.  See papers/criticality/README.md. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "nnc.h"
#include "nn/kernels.h"
#include "papers/paper.h"
#include "train/classifier.h"

typedef struct {
  nnc_act act;
  const char *name;
} act_row;
static const act_row ACTS[4] = {{NNC_ACT_RELU, "relu"}, {NNC_ACT_TANH, "tanh"}, {NNC_ACT_GELU, "gelu"}, {NNC_ACT_SILU, "silu"}};


/* ---- experiment 3: trainability of a deep ReLU MLP at and off criticality ---- */
/* 784 -> width x depth (ReLU) -> 10, W ~ N(0, C_W / fan_in), b = 0; SGD momentum 0.9, lr 0.01,
 * batch 128; returns the test accuracy (NaN if the loss diverged) */
static double train_deep(const nnc_dataset *trn, const nnc_dataset *tst, int depth, int width, double c_w, int epochs,
                         uint64_t seed) {
  nnc_rng rng;
  nnc_rng_seed(&rng, seed, 3);
  nnc_params P;
  nnc_params_init(&P, NNC_F32);
  nnc_sequential_mod *net = nnc_new_sequential("");
  char nm[32];
  int64_t in = 784;
  for (int l = 0; l <= depth; l++) {
    int64_t out = l == depth ? 10 : width;
    snprintf(nm, sizeof nm, "fc%d", l);
    nnc_linear_mod *lin = nnc_new_linear(&P, nm, in, out, true, &rng);
    nnc_init_normal(lin->weight, 0, sqrt(c_w / (double)in), &rng);
    nnc_init_constant(lin->bias, 0);
    nnc_sequential_add(net, &lin->base);
    if (l < depth) nnc_sequential_add(net, &nnc_new_act(NNC_ACT_RELU, 0)->base);
    in = out;
  }
  nnc_optim opt;
  nnc_sgd_init(&opt, &P, 0.01, 0.9, 0, false);
  nnc_batcher b;
  double acc = NAN;
  if (!nnc_batcher_init(&b, trn->n, 128, seed, true, false)) {
    nnc_fit fit = {.model = &net->base, .params = &P, .opt = &opt, .quiet = true, .label = "deep mlp"};
    int64_t step = 0;
    double loss = NAN;
    for (int e = 0; e < epochs; e++) {
      loss = nnc_fit_epoch(&fit, trn, &b, &step);
      if (!isfinite(loss)) break;
    }
    if (isfinite(loss)) acc = nnc_evaluate(&net->base, tst, NULL).acc;
    nnc_batcher_free(&b);
  }
  nnc_optim_free(&opt);
  nnc_module_free(&net->base);
  nnc_params_free(&P);
  return acc;
}

static nnc_status run_criticality(nnc_paper_run *r) {
  const bool quick = r->quick;
  char name[128];
  nnc_rng rng;
  nnc_rng_seed(&rng, r->seed, 10);
  double t0 = nnc_now();

  /* 0. the critical constants */
  double cb[4], cw[4], ks[4], worst = 0;
  for (int a = 0; a < 4; a++) {
    double tb, tw;
    if (!nnc_critical_solve(ACTS[a].act, 0, &cb[a], &cw[a], &ks[a]) || !nnc_act_critical(ACTS[a].act, 0, &tb, &tw))
      return nnc_error(NNC_ERR_NUMERIC, "criticality: no critical point for %s", ACTS[a].name);
    snprintf(name, sizeof name, "%s_critical_cb", ACTS[a].name);
    nnc_paper_metric(r, name, cb[a]);
    snprintf(name, sizeof name, "%s_critical_cw", ACTS[a].name);
    nnc_paper_metric(r, name, cw[a]);
    snprintf(name, sizeof name, "%s_critical_kstar", ACTS[a].name);
    nnc_paper_metric(r, name, ks[a]);
    double d = fmax(fabs(cb[a] - tb), fabs(cw[a] - tw));
    if (d > worst) worst = d;
    double cp, cq;
    nnc_kernel_chis(ACTS[a].act, 0, cw[a], ks[a] > 0 ? ks[a] : 1e-6, &cp, &cq);
    snprintf(name, sizeof name, "%s_chi_par_at_kstar", ACTS[a].name);
    nnc_paper_metric(r, name, cp);
    snprintf(name, sizeof name, "%s_chi_perp_at_kstar", ACTS[a].name);
    nnc_paper_metric(r, name, cq);
    nnc_paper_log(r, "%-5s critical C_b %.4f C_W %.4f K* %.4g (table %.4f %.4f); chi_par %.4f chi_perp %.4f", ACTS[a].name,
                  cb[a], cw[a], ks[a], tb, tw, cp, cq);
  }
  nnc_paper_criterion(r, "solver_vs_table_max_abs_diff", worst, "<=", 1e-4);

  /* 1. kernel vs depth at and off criticality (C_W x 0.8, 1, 1.2), n = 128, one input */
  const int n = 128, L = quick ? 24 : 48, inits = quick ? 200 : 600, n0 = 64;
  static const double fac[3] = {0.8, 1.0, 1.2};
  double Kc[4][3][48];
  for (int a = 0; a < 4; a++)
    for (int f = 0; f < 3; f++) {
      /* the input sets K^(1) = K* (1 for relu and tanh) */
      double k1 = ks[a] > 0 ? ks[a] : 1.0, c_w = cw[a] * fac[f];
      double q0 = (k1 - cb[a]) / c_w;
      nnc_kernel_stats s;
      nnc_kernel_flow(ACTS[a].act, 0, cb[a], c_w, n0, q0, n, L, inits, false, &rng, &s);
      for (int l = 0; l < L; l++) Kc[a][f][l] = s.K[l];
      nnc_kernel_stats_free(&s);
    }
  double relu_dev = 0;
  for (int l = 0; l < L && l < 24; l++) relu_dev = fmax(relu_dev, fabs(Kc[0][1][l] / Kc[0][1][0] - 1));
  nnc_paper_criterion(r, "relu_critical_max_rel_kernel_drift_l_le_24", relu_dev, "<=", 0.1);
  for (int f = 0; f < 3; f += 2) {
    double pred = pow(fac[f], 15), meas = Kc[0][f][15] / Kc[0][f][0];
    snprintf(name, sizeof name, "relu_cw_x%.1f_K16_over_K1", fac[f]);
    nnc_paper_metric(r, name, meas);
    snprintf(name, sizeof name, "relu_cw_x%.1f_K16_over_K1_pred", fac[f]);
    nnc_paper_metric(r, name, pred);
    snprintf(name, sizeof name, "relu_cw_x%.1f_K16_rel_err_vs_pred", fac[f]);
    nnc_paper_criterion(r, name, fabs(meas / pred - 1), "<=", 0.2);
  }
  double tmin = 1e9, tmax = -1e9;
  for (int l = 16; l <= 24; l++) {
    double v = 2 * l * Kc[1][1][l - 1];
    tmin = fmin(tmin, v);
    tmax = fmax(tmax, v);
  }
  nnc_paper_metric(r, "tanh_critical_2lK_min_l16_24", tmin);
  nnc_paper_criterion(r, "tanh_critical_2lK_max_l16_24", tmax, "<=", 1.15);
  nnc_paper_criterion(r, "tanh_critical_2lK_min_l16_24_ge", tmin, ">=", 0.9);
  nnc_paper_metric(r, "tanh_cw_x0.8_K_last", Kc[1][0][L - 1]);
  nnc_paper_metric(r, "tanh_cw_x1.2_K_last", Kc[1][2][L - 1]);
  for (int a = 2; a < 4; a++)
    for (int f = 0; f < 3; f++) {
      snprintf(name, sizeof name, "%s_cw_x%.1f_K_last_over_K1", ACTS[a].name, fac[f]);
      nnc_paper_metric(r, name, Kc[a][f][L - 1] / Kc[a][f][0]);
    }
  {
    double gd = fabs(Kc[2][1][L - 1] / Kc[2][1][0] - 1);
    nnc_paper_criterion(r, "gelu_critical_rel_kernel_drift_at_L", gd, "<=", 0.25);
  }
  nnc_paper_log(r, "kernel flow (n %d, L %d, %d inits): relu K^L/K^1 %.3f (x0.8: %.3g, x1.2: %.3g); tanh 2lK at 16..24 "
                   "[%.3f, %.3f], K^L x0.8 %.3g x1.2 %.3g; gelu %.3f / %.3g / %.3g; silu %.3f / %.3g / %.3g (%.1f s)",
                n, L, inits, Kc[0][1][L - 1] / Kc[0][1][0], Kc[0][0][L - 1] / Kc[0][0][0], Kc[0][2][L - 1] / Kc[0][2][0], tmin,
                tmax, Kc[1][0][L - 1], Kc[1][2][L - 1], Kc[2][1][L - 1] / Kc[2][1][0], Kc[2][0][L - 1] / Kc[2][0][0],
                Kc[2][2][L - 1] / Kc[2][2][0], Kc[3][1][L - 1] / Kc[3][1][0], Kc[3][0][L - 1] / Kc[3][0][0],
                Kc[3][2][L - 1] / Kc[3][2][0], nnc_now() - t0);
  {
    double depth[48];
    for (int l = 0; l < L; l++) depth[l] = l + 1;
    nnc_series ser[4][3];
    nnc_svg_panel pan[4];
    static const char *lab[3] = {"C_W x 0.8", "critical", "C_W x 1.2"};
    char titles[4][64];
    for (int a = 0; a < 4; a++) {
      for (int f = 0; f < 3; f++) ser[a][f] = (nnc_series){lab[f], depth, Kc[a][f], L};
      snprintf(titles[a], sizeof titles[a], "%s (C_b %.3g, C_W %.4g)", ACTS[a].name, cb[a], cw[a]);
      pan[a] = (nnc_svg_panel){.title = titles[a], .xlabel = "layer l", .ylabel = "K(l) = E[z^2]", .series = ser[a],
                               .nseries = 3, .log_y = true};
    }
    nnc_status st = nnc_svg_panels(nnc_paper_path(r, "kernel_vs_depth.svg"),
                                   "Kernel of random MLPs vs depth at and off criticality (width 128)", pan, 4);
    if (st) return st;
  }

  /* 2. the 1/n correction: excess kurtosis of z^(l) for ReLU at criticality vs (l-1)/n */
  static const int widths[3] = {64, 128, 256};
  const int Lk = 24, kinits = quick ? 1000 : 20000;
  double kurt[3][24], pred[3][24], ratio[3][24];
  double sxy = 0, sxx = 0, spy = 0, worst_rel = 0;
  for (int w = 0; w < 3; w++) {
    nnc_kernel_stats s;
    nnc_kernel_flow(NNC_ACT_RELU, 0, 0, 2, n0, 1, widths[w], Lk, kinits, false, &rng, &s);
    for (int l = 0; l < Lk; l++) {
      kurt[w][l] = s.kurt[l];
      pred[w][l] = 3 * (pow(1 + 5.0 / widths[w], l) - 1);
      ratio[w][l] = (double)l / widths[w];
      if (ratio[w][l] > 0 && ratio[w][l] <= 0.1)
        sxy += ratio[w][l] * kurt[w][l], spy += ratio[w][l] * pred[w][l], sxx += ratio[w][l] * ratio[w][l];
    }
    for (int l = 8; l <= 24; l += 8) {
      double rel = fabs(kurt[w][l - 1] / pred[w][l - 1] - 1);
      snprintf(name, sizeof name, "relu_kurt_n%d_l%d", widths[w], l);
      nnc_paper_metric(r, name, kurt[w][l - 1]);
      snprintf(name, sizeof name, "relu_kurt_n%d_l%d_pred", widths[w], l);
      nnc_paper_metric(r, name, pred[w][l - 1]);
      snprintf(name, sizeof name, "relu_kurt_n%d_l%d_se", widths[w], l);
      nnc_paper_metric(r, name, s.kurt_se[l - 1]);
      if (widths[w] >= 128 && rel > worst_rel) worst_rel = rel;
    }
    nnc_paper_log(r, "relu n %d: excess kurtosis at l = 8/16/24: %.3f/%.3f/%.3f (pred 3[(1+5/n)^(l-1)-1] = %.3f/%.3f/%.3f)",
                  widths[w], kurt[w][7], kurt[w][15], kurt[w][23], pred[w][7], pred[w][15], pred[w][23]);
    nnc_kernel_stats_free(&s);
  }
  /* least-squares slope through the origin over the points with (l-1)/n <= 0.1, of the
   * measurements and of the exact prediction at the same points (leading order: 15) */
  double slope = sxy / sxx, slope_pred = spy / sxx;
  nnc_paper_metric(r, "relu_kurt_slope_pred_exact", slope_pred);
  nnc_paper_criterion(r, "relu_kurt_max_rel_err_vs_exact_n128_256", worst_rel, "<=", 0.15);
  nnc_paper_criterion(r, "relu_kurt_slope_rel_err_vs_exact", fabs(slope / slope_pred - 1), "<=", 0.1);
  double r128_256 = kurt[1][15] / kurt[2][15];
  nnc_paper_criterion(r, "relu_kurt_ratio_n128_over_n256_l16", r128_256, ">=", 1.8);
  nnc_paper_criterion(r, "relu_kurt_ratio_n128_over_n256_l16_le", r128_256, "<=", 2.8);
  /* tanh at criticality, n = 256: kurtosis ~ (2/3)*3 l/n = 2 l/n (recalled) */
  {
    nnc_kernel_stats s;
    nnc_kernel_flow(NNC_ACT_TANH, 0, 0, 1, n0, 1, 256, Lk, kinits, false, &rng, &s);
    for (int l = 8; l <= 24; l += 8) {
      snprintf(name, sizeof name, "tanh_kurt_n256_l%d", l);
      nnc_paper_metric(r, name, s.kurt[l - 1]);
    }
    nnc_paper_log(r, "tanh n 256: excess kurtosis at l = 8/16/24: %.3f/%.3f/%.3f (book: ~2l/n = %.3f/%.3f/%.3f)", s.kurt[7],
                  s.kurt[15], s.kurt[23], 16.0 / 256, 32.0 / 256, 48.0 / 256);
    nnc_kernel_stats_free(&s);
  }
  /* the O(n) layer sampler against explicit weight matrices */
  {
    nnc_kernel_stats s1, s2;
    const int nd = 64, ld = 12, id = quick ? 300 : 1000;
    nnc_kernel_flow(NNC_ACT_RELU, 0, 0, 2, n0, 1, nd, ld, id, true, &rng, &s1);
    nnc_kernel_flow(NNC_ACT_RELU, 0, 0, 2, n0, 1, nd, ld, id, false, &rng, &s2);
    nnc_paper_metric(r, "dense_kurt_n64_l12", s1.kurt[ld - 1]);
    nnc_paper_metric(r, "shortcut_kurt_n64_l12", s2.kurt[ld - 1]);
    double z = fabs(s1.kurt[ld - 1] - s2.kurt[ld - 1]) / hypot(s1.kurt_se[ld - 1], s2.kurt_se[ld - 1]);
    nnc_paper_criterion(r, "dense_vs_shortcut_kurt_z_score", z, "<=", 4);
    nnc_paper_log(r, "explicit weights vs exact layer sampler (n 64, l 12, %d inits): kurtosis %.3f +- %.3f vs %.3f +- %.3f", id,
                  s1.kurt[ld - 1], s1.kurt_se[ld - 1], s2.kurt[ld - 1], s2.kurt_se[ld - 1]);
    nnc_kernel_stats_free(&s1);
    nnc_kernel_stats_free(&s2);
  }
  nnc_paper_metric(r, "relu_kurt_fitted_slope", slope);
  nnc_paper_log(r, "fitted slope of kurtosis vs (l-1)/n (points with ratio <= 0.1): %.2f (exact formula at the same points "
                   "%.2f; leading order 15) (%.1f s)", slope, slope_pred, nnc_now() - t0);
  {
    nnc_series ser[6];
    static const char *ln[3] = {"n = 64", "n = 128", "n = 256"};
    static const char *lp[3] = {"3[(1+5/n)^(l-1) - 1], n = 64", "exact, n = 128", "exact, n = 256"};
    for (int w = 0; w < 3; w++) {
      ser[2 * w] = (nnc_series){ln[w], ratio[w], kurt[w], Lk};
      ser[2 * w + 1] = (nnc_series){lp[w], ratio[w], pred[w], Lk};
    }
    nnc_status st = nnc_svg_line_chart(nnc_paper_path(r, "kurtosis_vs_depth_over_width.svg"),
                                       "ReLU at criticality: excess kurtosis of z(l) vs (l-1)/n", "(l - 1) / n",
                                       "excess kurtosis", ser, 6);
    if (st) return st;
  }

  /* 3. trainability: a 20-hidden-layer ReLU MLP (width 64) on a Fashion-MNIST subset (full run only) */
  if (!quick) {
    nnc_dataset tr_full, te_full;
    nnc_status st = nnc_fashion_load(r->data_dir, true, &tr_full);
    if (st) return st;
    if ((st = nnc_fashion_load(r->data_dir, false, &te_full))) {
      nnc_dataset_free(&tr_full);
      return st;
    }
    const int64_t ntr = 20000, nte = 2000;
    const int epochs = 3, depth = 20, width = 64;
    nnc_tensor hdr[4]; /* the subsets are views of the full sets */
    nnc_dataset trn = nnc_dataset_head(&tr_full, ntr, hdr), tst = nnc_dataset_head(&te_full, nte, hdr + 2);
    static const double cws[3] = {1.0, 2.0, 3.0};
    double acc[3];
    for (int k = 0; k < 3; k++) {
      acc[k] = train_deep(&trn, &tst, depth, width, cws[k], epochs, r->seed + 11);
      snprintf(name, sizeof name, "train_depth20_cw%.0f_test_acc", cws[k]);
      nnc_paper_metric(r, name, acc[k]);
    }
    nnc_paper_log(r, "depth-20 width-64 ReLU MLP, %lld train, %d epoch(s) SGD: test acc at C_W = 1 / 2 / 3: %.2f / %.2f / %.2f %% "
                     "(NaN: diverged) (%.1f s)", (long long)ntr, epochs, 100 * acc[0], 100 * acc[1], 100 * acc[2],
                  nnc_now() - t0);
    nnc_paper_criterion(r, "train_critical_cw2_test_acc", acc[1], ">=", 0.75);
    /* the vanishing side is slow, not stuck: with 20000 examples x 3 epochs it escapes (one seed: 63.8 %) */
    nnc_paper_criterion(r, "train_critical_minus_vanishing_cw1_acc", acc[1] - acc[0], ">=", 0.1);
    /* exploding side: diverged (counted as 0) or far below the critical net */
    nnc_paper_criterion(r, "train_exploding_cw3_acc_or_0_if_diverged_minus_critical",
                        (isfinite(acc[2]) ? acc[2] : 0) - acc[1], "<=", -0.2);
    nnc_dataset_free(&tr_full);
    nnc_dataset_free(&te_full);
  }
  return NNC_OK;
}

NNC_PAPER(criticality_paper, .slug = "criticality",
          .title = "The Principles of Deep Learning Theory (Roberts, Yaida, Hanin, 2022): criticality and 1/n corrections",
          .claim = "at (C_b, C_W) criticality the kernel of a deep MLP neither explodes nor vanishes, and the "
                   "preactivations' non-Gaussianity grows with depth/width",
          .run = run_criticality);
