/* papers/reste/reste.c: ReSTE, "Estimator Meets Equilibrium Perspective: A Rectified Straight
 * Through Estimator for Binary Neural Networks Training" (Wu, Lu, Wang, Zhang; ICCV 2023).
 *
 * The estimator: forward sign, backward the derivative of f_o(x) = sign(x)|x|^(1/o) (clipped
 * at t = 1.5, a secant slope on |x| <= 0.1), with o raised 1 -> 3 over the epochs
 * (nn/binary.h, nnc_sign_reste).  What we measure (README.md):
 *   1. the backward against the formula's values (o = 3 table, o = 1 clipped identity);
 *   2. the "equilibrium" indicators on Gaussian samples w ~ N(0, s^2), s in {0.05, 0.2, 0.5}:
 *      fitting error E(f_o(w) - sign(w))^2 falls and gradient variance Var(g_o(w)) rises with o;
 *      the same on the trained network's latent weights;
 *   3. a binary MLP on Fashion-MNIST, STE vs ReSTE, 2 seeds x 5 epochs (full run), and a
 *      small binary CNN (1 seed x 2 epochs);
 *   --quick: 1 and 2 on 10^5 samples, and one ReSTE epoch on 2000 images (accuracy > 50%). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "nn/binary.h"
#include "nnc.h"
#include "papers/paper.h"
#include "train/classifier.h"

#define MAX_EPOCHS 8
#define O_END 3.0
#define T_CLIP 1.5

static const double O_SET[] = {1, 1.5, 2, 3, 5};
#define N_O 5
static const double SIGMAS[] = {0.05, 0.2, 0.5};
#define N_SIGMA 3

/* ---- 1. the estimator's values ---- */
static double check_backward(const double *x, const double *want, int n, double o) {
  nnc_tensor *t = nnc_requires_grad(nnc_empty(NNC_F64, NNC_SHAPE(n)));
  for (int i = 0; i < n; i++) nnc_set(t, i, x[i]);
  nnc_tensor *y = nnc_sign_reste(t, o, T_CLIP);
  nnc_backward_with(y, nnc_ones(NNC_F64, NNC_SHAPE(n)));
  double err = 0;
  for (int i = 0; i < n; i++) err = fmax(err, fabs(nnc_get(t->grad, i) - want[i]));
  nnc_step_end();
  return err;
}

static void unit_criteria(nnc_paper_run *r) {
  /* o = 3: g(0.05) = 0.1^(1/3)/0.1 = 10^(2/3), g(0.5) = (1/3) 0.5^(-2/3), g(1.2) = (1/3) 1.2^(-2/3),
   * g(2) = 0 (beyond t), both signs */
  const double x3[] = {0.05, -0.05, 0.5, -0.5, 1.2, -1.2, 2, -2};
  const double g3[] = {4.641588833612779, 4.641588833612779, 0.5291336839893998, 0.5291336839893998,
                       0.29518293588405864, 0.29518293588405864, 0, 0};
  nnc_paper_criterion(r, "unit_reste_o3_table_max_error", check_backward(x3, g3, 8, 3), "<=", 1e-6);
  /* o = 1: the identity clipped at t = 1.5 */
  const double x1[] = {0, 0.05, -0.5, 1.0, -1.2, 1.5, -1.5, 1.51, -2, 3};
  double g1[10];
  for (int i = 0; i < 10; i++) g1[i] = fabs(x1[i]) <= 1.5 ? 1 : 0;
  nnc_paper_criterion(r, "unit_reste_o1_clipped_identity_max_error", check_backward(x1, g1, 10, 1), "<=", 1e-12);
  /* forward: {-1, +1}, sign(0) = +1 */
  nnc_tensor *z = nnc_empty(NNC_F32, NNC_SHAPE(5));
  const double zv[] = {0, -0.0, 1e-30, -1e-30, 7};
  for (int i = 0; i < 5; i++) nnc_set(z, i, zv[i]);
  nnc_tensor *s = nnc_sign_reste(z, 3, T_CLIP);
  int bad = 0;
  for (int i = 0; i < 5; i++) bad += nnc_get(s, i) != (zv[i] >= 0 ? 1 : -1);
  nnc_paper_criterion(r, "unit_forward_pm1_sign0_plus1_mismatches", bad, "<=", 0);
  nnc_step_end();
}

/* ---- 2. the indicators ---- */
typedef struct {
  double fit[N_O], gvar[N_O];
} indicators;

/* over n values w[]: fitting error mean (f_o(w) - sign(w))^2 and Var(g_o(w)) for each o */
static indicators measure(const float *w, int64_t n) {
  indicators ind;
  for (int k = 0; k < N_O; k++) {
    double o = O_SET[k], fit = 0, s = 0, s2 = 0;
    for (int64_t i = 0; i < n; i++) {
      double d = nnc_reste_fo(w[i], o) - nnc_sign_pm1(w[i]), g = nnc_reste_grad(w[i], o, T_CLIP);
      fit += d * d;
      s += g;
      s2 += g * g;
    }
    ind.fit[k] = fit / (double)n;
    double m = s / (double)n;
    ind.gvar[k] = fmax(0, s2 / (double)n - m * m);
  }
  return ind;
}

/* violations of "fit strictly falls and gvar strictly rises with o" */
static int violations(const indicators *ind, int *fit_bad, int *var_bad) {
  *fit_bad = *var_bad = 0;
  for (int k = 1; k < N_O; k++) {
    *fit_bad += !(ind->fit[k] < ind->fit[k - 1]);
    *var_bad += !(ind->gvar[k] > ind->gvar[k - 1]);
  }
  return *fit_bad + *var_bad;
}

/* E|w|^k for w ~ N(0, s^2) */
static double abs_moment(double s, double k) { return pow(s, k) * pow(2, k / 2) * tgamma((k + 1) / 2) / sqrt(M_PI); }

static nnc_status gaussian_indicators(nnc_paper_run *r, int64_t n, indicators *out) {
  float *w = malloc((size_t)n * sizeof *w);
  if (!w) return nnc_error(NNC_ERR_NOMEM, "reste: %lld samples", (long long)n);
  int fit_bad = 0, var_bad = 0;
  double worst_exact = 0;
  char name[96];
  for (int si = 0; si < N_SIGMA; si++) {
    nnc_rng g;
    nnc_rng_seed(&g, r->seed, 100 + (uint64_t)si);
    for (int64_t i = 0; i < n; i++) w[i] = (float)(SIGMAS[si] * nnc_rng_normal(&g));
    out[si] = measure(w, n);
    int fb, vb;
    violations(&out[si], &fb, &vb);
    fit_bad += fb;
    var_bad += vb;
    for (int k = 0; k < N_O; k++) {
      double o = O_SET[k], s = SIGMAS[si];
      double exact = abs_moment(s, 2 / o) - 2 * abs_moment(s, 1 / o) + 1; /* E(|w|^(1/o) - 1)^2 */
      worst_exact = fmax(worst_exact, fabs(out[si].fit[k] - exact));
      snprintf(name, sizeof name, "gauss_s%g_o%g_fit_error", s, o);
      nnc_paper_metric(r, name, out[si].fit[k]);
      snprintf(name, sizeof name, "gauss_s%g_o%g_grad_var", s, o);
      nnc_paper_metric(r, name, out[si].gvar[k]);
    }
    nnc_paper_log(r, "w ~ N(0, %.2f^2):", SIGMAS[si]);
    for (int k = 0; k < N_O; k++)
      nnc_paper_log(r, "  o=%-4g fit error %.4f  grad variance %.4f", O_SET[k], out[si].fit[k], out[si].gvar[k]);
  }
  free(w);
  nnc_paper_criterion(r, "gauss_fit_error_not_strictly_decreasing", fit_bad, "<=", 0);
  nnc_paper_criterion(r, "gauss_grad_var_not_strictly_increasing", var_bad, "<=", 0);
  /* the Monte Carlo fitting error against its closed form E|w|^(2/o) - 2E|w|^(1/o) + 1 */
  nnc_paper_criterion(r, "gauss_fit_error_vs_closed_form_max_abs", worst_exact, "<=", 0.005);
  return NNC_OK;
}

/* ---- 3. training ---- */
typedef struct {
  const char *label;
  nnc_bin_estimator est;
  bool cnn;
  int epochs;
  int64_t limit; /* training examples (0: all) */
  uint64_t seed;
  /* results */
  double train_loss[MAX_EPOCHS], test_acc[MAX_EPOCHS], o[MAX_EPOCHS];
  double fit_err[MAX_EPOCHS];  /* official indicator: sum over binary layers ||f_3(w) - sign(w)||_2 */
  double grad_var[MAX_EPOCHS]; /* official indicator: sum over binary layers Var(|dL/dw|), epoch mean */
  double final_acc, seconds;
  int n_latent;
  float *latent; /* the binary layers' latent weights at the end */
  indicators act; /* the indicators on the inputs of the sign activations (1000 test images) */
  double act_share_clipped; /* share of those inputs with |a| > t */
  bool have_act;
} arm;

typedef struct {
  nnc_params *params;
  const char *names[2];
  double sum;
  int64_t steps;
} grad_probe;

static double var_abs(const float *g, int64_t n) {
  double s = 0, s2 = 0;
  for (int64_t i = 0; i < n; i++) {
    s += fabsf(g[i]);
    s2 += (double)g[i] * g[i];
  }
  double m = s / (double)n;
  return (s2 - (double)n * m * m) / (double)(n - 1); /* torch.var: unbiased */
}

static void probe_step(void *ctx) {
  grad_probe *p = ctx;
  double v = 0;
  for (int k = 0; k < 2; k++) {
    nnc_tensor *w = nnc_params_find(p->params, p->names[k]);
    v += var_abs(nnc_f32(w->grad), nnc_numel(w));
  }
  p->sum += v;
  p->steps++;
}

static double fitting_error(nnc_params *P, const char *const *names) {
  double tot = 0;
  for (int k = 0; k < 2; k++) {
    nnc_tensor *w = nnc_params_find(P, names[k]);
    const float *v = nnc_f32(w);
    double s = 0;
    for (int64_t i = 0, n = nnc_numel(w); i < n; i++) {
      double d = nnc_reste_fo(v[i], O_END) - nnc_sign_pm1(v[i]);
      s += d * d;
    }
    tot += sqrt(s);
  }
  return tot;
}

/* the indicators of the inputs of every sign activation of the trained net (eval mode) on
 * the first 1000 test images */
static void activation_indicators(nnc_module *net, const nnc_dataset *test, arm *a) {
  int64_t m = test->n < 1000 ? test->n : 1000, *idx = malloc((size_t)m * sizeof *idx);
  if (!idx) return;
  for (int64_t i = 0; i < m; i++) idx[i] = i;
  nnc_module_eval(net);
  nnc_no_grad_begin();
  nnc_tensor *x = nnc_empty(NNC_F32, NNC_SHAPE(m, 784));
  nnc_dataset_gather(test, idx, m, x, NULL);
  float *vals = NULL;
  int64_t n = 0;
  for (int c = 0; c < net->n_children; c++) {
    nnc_module *ch = net->children[c];
    if (!strcmp(ch->kind, "BinaryActivation")) {
      nnc_tensor *xc = nnc_contiguous(x);
      int64_t k = nnc_numel(xc);
      float *grown = realloc(vals, (size_t)(n + k) * sizeof *vals);
      if (!grown) break;
      vals = grown;
      memcpy(vals + n, nnc_f32(xc), (size_t)k * sizeof *vals);
      n += k;
    }
    x = nnc_forward(ch, x);
  }
  nnc_no_grad_end();
  nnc_step_end();
  nnc_module_train(net, true);
  if (vals && n > 0) {
    a->act = measure(vals, n);
    int64_t clipped = 0;
    for (int64_t i = 0; i < n; i++) clipped += fabsf(vals[i]) > T_CLIP;
    a->act_share_clipped = (double)clipped / (double)n;
    a->have_act = true;
  }
  free(vals);
  free(idx);
}

static nnc_status train_arm(nnc_paper_run *r, arm *a, const nnc_dataset *train_all, const nnc_dataset *test) {
  nnc_params P, B;
  nnc_params_init(&P, NNC_F32);
  nnc_params_init(&B, NNC_F32);
  nnc_binary_cfg cfg = nnc_binary_cfg_default(a->est);
  nnc_rng rng;
  nnc_rng_seed(&rng, a->seed, 1);
  nnc_sequential_mod *net = a->cnn ? nnc_new_binary_cnn(&P, &B, 16, 32, 10, &cfg, &cfg, &rng)
                                   : nnc_new_binary_mlp(&P, &B, 784, 512, 2, 10, &cfg, &cfg, &rng);
  const char *names[2] = {a->cnn ? "conv1.weight" : "fc1.weight", a->cnn ? "conv2.weight" : "fc2.weight"};
  nnc_tensor hdr[2];
  nnc_dataset train_ds = nnc_dataset_head(train_all, a->limit, hdr), *train = &train_ds;
  nnc_batcher batches;
  nnc_status st = nnc_batcher_init(&batches, train->n, 128, a->seed, true, false);
  if (st) return st;
  nnc_optim opt;
  nnc_adam_init(&opt, &P, 1e-3, 0.9, 0.999, 1e-8, 0);
  nnc_schedule sched = nnc_sched_cosine(1e-3, (int64_t)a->epochs * nnc_batcher_batches_per_epoch(&batches), 0);
  grad_probe probe = {&P, {names[0], names[1]}, 0, 0};
  char label[64];
  snprintf(label, sizeof label, "%s seed %llu", a->label, (unsigned long long)a->seed);
  nnc_fit fit = {.model = &net->base, .params = &P, .opt = &opt, .sched = &sched, .after_step = probe_step,
                 .ctx = &probe, .label = label};
  int64_t step = 0;
  double t0 = nnc_now();
  for (int e = 0; e < a->epochs; e++) {
    /* ReSTE: o raised per epoch, the same o for weights and activations */
    cfg.o = a->est == NNC_BIN_RESTE ? nnc_reste_o_schedule(e, a->epochs, O_END) : 1;
    probe.sum = 0;
    probe.steps = 0;
    double loss = nnc_fit_epoch(&fit, train, &batches, &step);
    if (!isfinite(loss)) {
      st = nnc_error(NNC_ERR_ARG, "reste: %s: the loss is not finite in epoch %d", label, e + 1);
      break;
    }
    nnc_eval_result ev = nnc_evaluate(&net->base, test, NULL);
    a->train_loss[e] = loss;
    a->test_acc[e] = ev.acc;
    a->o[e] = cfg.o;
    a->grad_var[e] = probe.sum / (double)(probe.steps ? probe.steps : 1);
    a->fit_err[e] = fitting_error(&P, names);
    nnc_paper_log(r, "%s epoch %d: o %.3f train_loss %.4f test_acc %.2f%% fit_err %.2f grad_var %.3g", label, e + 1,
                  cfg.o, loss, 100 * ev.acc, a->fit_err[e], a->grad_var[e]);
  }
  a->seconds = nnc_now() - t0;
  a->final_acc = a->test_acc[a->epochs - 1];
  if (!st) activation_indicators(&net->base, test, a);
  if (!st) { /* keep the latent weights of the binary layers */
    nnc_tensor *w0 = nnc_params_find(&P, names[0]), *w1 = nnc_params_find(&P, names[1]);
    int64_t n0 = nnc_numel(w0), n1 = nnc_numel(w1);
    a->latent = malloc((size_t)(n0 + n1) * sizeof *a->latent);
    if (a->latent) {
      memcpy(a->latent, nnc_f32(w0), (size_t)n0 * sizeof(float));
      memcpy(a->latent + n0, nnc_f32(w1), (size_t)n1 * sizeof(float));
      a->n_latent = (int)(n0 + n1);
    }
  }
  nnc_batcher_free(&batches);
  nnc_optim_free(&opt);
  nnc_module_free(&net->base);
  nnc_params_free(&P);
  nnc_params_free(&B);
  nnc_step_end();
  return st;
}

/* ---- pictures ---- */
static nnc_status plot_indicators(nnc_paper_run *r, const indicators *gauss, const indicators *trained,
                                  const char *const *trained_names, int n_trained, const indicators *act,
                                  const char *act_name) {
  nnc_series fit[N_SIGMA + 3], var[N_SIGMA + 3];
  char names[N_SIGMA + 3][64];
  int n = 0;
  for (int si = 0; si < N_SIGMA; si++, n++) {
    snprintf(names[n], sizeof names[n], "N(0, %g^2)", SIGMAS[si]);
    fit[n] = (nnc_series){names[n], O_SET, gauss[si].fit, N_O};
    var[n] = (nnc_series){names[n], O_SET, gauss[si].gvar, N_O};
  }
  for (int k = 0; k < n_trained; k++, n++) {
    snprintf(names[n], sizeof names[n], "latent W, %s-trained", trained_names[k]);
    fit[n] = (nnc_series){names[n], O_SET, trained[k].fit, N_O};
    var[n] = (nnc_series){names[n], O_SET, trained[k].gvar, N_O};
  }
  if (act) {
    snprintf(names[n], sizeof names[n], "pre-sign activations, %s-trained", act_name);
    fit[n] = (nnc_series){names[n], O_SET, act->fit, N_O};
    var[n] = (nnc_series){names[n], O_SET, act->gvar, N_O};
    n++;
  }
  nnc_svg_panel p[2] = {
      {.title = "fitting error E(f_o(w) - sign w)^2", .xlabel = "o", .ylabel = "fitting error", .series = fit,
       .nseries = n},
      {.title = "gradient variance Var(g_o(w))", .xlabel = "o", .ylabel = "variance (log)", .series = var,
       .nseries = n, .log_y = true},
  };
  return nnc_svg_panels(nnc_paper_path(r, "indicators.svg"),
                        "ReSTE's equilibrium: raising o fits sign better but makes gradients less stable", p, 2);
}

static nnc_status plot_training(nnc_paper_run *r, arm *arms, int n_arms) {
  nnc_series acc[8], loss[8], fe[8], gv[8];
  double xs[MAX_EPOCHS], pct[8][MAX_EPOCHS];
  char names[8][64];
  for (int e = 0; e < MAX_EPOCHS; e++) xs[e] = e + 1;
  for (int k = 0; k < n_arms && k < 8; k++) {
    snprintf(names[k], sizeof names[k], "%s seed %llu", arms[k].label, (unsigned long long)arms[k].seed);
    for (int e = 0; e < arms[k].epochs; e++) pct[k][e] = 100 * arms[k].test_acc[e];
    acc[k] = (nnc_series){names[k], xs, pct[k], arms[k].epochs};
    loss[k] = (nnc_series){names[k], xs, arms[k].train_loss, arms[k].epochs};
    fe[k] = (nnc_series){names[k], xs, arms[k].fit_err, arms[k].epochs};
    gv[k] = (nnc_series){names[k], xs, arms[k].grad_var, arms[k].epochs};
  }
  nnc_svg_panel p[4] = {
      {.title = "test accuracy", .xlabel = "epoch", .ylabel = "%", .series = acc, .nseries = n_arms},
      {.title = "training loss", .xlabel = "epoch", .ylabel = "cross-entropy", .series = loss, .nseries = n_arms},
      {.title = "fitting error sum ||f_3(W) - sign W||", .xlabel = "epoch", .ylabel = "L2", .series = fe,
       .nseries = n_arms},
      {.title = "gradient stability sum Var(|dL/dW|)", .xlabel = "epoch", .ylabel = "variance (log)", .series = gv,
       .nseries = n_arms, .log_y = true},
  };
  return nnc_svg_panels(nnc_paper_path(r, "curves.svg"), "Binary MLP on Fashion-MNIST: STE vs ReSTE (o 1 -> 3)", p, 4);
}

static nnc_status plot_latent(nnc_paper_run *r, arm *const *arms, int n) {
  enum { BINS = 120 };
  double lo = -0.3, hi = 0.3, xs[BINS], dens[4][BINS];
  nnc_series s[4];
  char names[4][64];
  for (int k = 0; k < n && k < 4; k++) {
    nnc_density_curve(arms[k]->latent, arms[k]->n_latent, lo, hi, BINS, xs, dens[k]);
    snprintf(names[k], sizeof names[k], "%s", arms[k]->label);
    s[k] = (nnc_series){names[k], xs, dens[k], BINS};
  }
  return nnc_svg_line_chart(nnc_paper_path(r, "latent_weights.svg"),
                            "Latent weights of the binary layers after training (density; ReSTE's centre |w| <= 0.1)",
                            "w", "density", s, n);
}

/* ---- the run ---- */
static double mean_final(const arm *arms, int n, const char *label) {
  double s = 0;
  int c = 0;
  for (int k = 0; k < n; k++)
    if (!strcmp(arms[k].label, label)) {
      s += arms[k].final_acc;
      c++;
    }
  return c ? s / c : NAN;
}

static nnc_status run(nnc_paper_run *r) {
  unit_criteria(r);
  indicators gauss[N_SIGMA];
  nnc_status st = gaussian_indicators(r, r->quick ? 100000 : 1000000, gauss);
  if (st) return st;

  nnc_dataset train, test;
  if ((st = nnc_fashion_load(r->data_dir, true, &train))) return st;
  if ((st = nnc_fashion_load(r->data_dir, false, &test))) {
    nnc_dataset_free(&train);
    return st;
  }
  nnc_tensor test_hdr[2];
  nnc_dataset test_ds = nnc_dataset_head(&test, r->quick ? 2000 : 0, test_hdr);
  arm arms[8];
  memset(arms, 0, sizeof arms);
  int n_arms = 0;
  if (r->quick) {
    arms[n_arms++] = (arm){.label = "ReSTE", .est = NNC_BIN_RESTE, .epochs = 1, .limit = 2000, .seed = r->seed};
  } else {
    for (int s = 0; s < 2; s++) {
      arms[n_arms++] = (arm){.label = "STE", .est = NNC_BIN_STE, .epochs = 5, .seed = r->seed + (uint64_t)s};
      arms[n_arms++] = (arm){.label = "ReSTE", .est = NNC_BIN_RESTE, .epochs = 5, .seed = r->seed + (uint64_t)s};
    }
  }
  for (int k = 0; k < n_arms && !st; k++) st = train_arm(r, &arms[k], &train, &test_ds);

  /* the binary CNN variant (full run): 1 seed, 2 epochs on all 60000 images */
  arm cnn[2];
  memset(cnn, 0, sizeof cnn);
  int n_cnn = 0;
  if (!st && !r->quick) {
    cnn[n_cnn++] = (arm){.label = "STE", .est = NNC_BIN_STE, .cnn = true, .epochs = 2, .limit = 0, .seed = r->seed};
    cnn[n_cnn++] = (arm){.label = "ReSTE", .est = NNC_BIN_RESTE, .cnn = true, .epochs = 2, .limit = 0, .seed = r->seed};
    for (int k = 0; k < n_cnn && !st; k++) st = train_arm(r, &cnn[k], &train, &test_ds);
  }
  nnc_dataset_free(&train);
  nnc_dataset_free(&test);
  if (st) goto done;

  char name[96];
  for (int k = 0; k < n_arms; k++) {
    snprintf(name, sizeof name, "%s_seed%llu_test_acc", arms[k].label, (unsigned long long)arms[k].seed);
    nnc_paper_metric(r, name, arms[k].final_acc);
    snprintf(name, sizeof name, "%s_seed%llu_seconds", arms[k].label, (unsigned long long)arms[k].seed);
    nnc_paper_metric(r, name, arms[k].seconds);
  }
  /* indicators on the trained latent weights of the first seed's arms */
  indicators trained[2];
  const char *trained_names[2];
  arm *first[2];
  int n_first = 0;
  for (int k = 0; k < n_arms && n_first < 2; k++)
    if (arms[k].seed == r->seed && arms[k].latent) {
      first[n_first] = &arms[k];
      trained_names[n_first] = arms[k].label;
      trained[n_first] = measure(arms[k].latent, arms[k].n_latent);
      int fb, vb;
      violations(&trained[n_first], &fb, &vb);
      for (int j = 0; j < N_O; j++) {
        snprintf(name, sizeof name, "latent_%s_o%g_fit_error", arms[k].label, O_SET[j]);
        nnc_paper_metric(r, name, trained[n_first].fit[j]);
        snprintf(name, sizeof name, "latent_%s_o%g_grad_var", arms[k].label, O_SET[j]);
        nnc_paper_metric(r, name, trained[n_first].gvar[j]);
      }
      double inside = 0, absmean = 0;
      for (int i = 0; i < arms[k].n_latent; i++) {
        inside += fabsf(arms[k].latent[i]) <= 0.1f;
        absmean += fabsf(arms[k].latent[i]);
      }
      snprintf(name, sizeof name, "latent_%s_share_abs_le_0.1", arms[k].label);
      nnc_paper_metric(r, name, inside / arms[k].n_latent);
      snprintf(name, sizeof name, "latent_%s_mean_abs", arms[k].label);
      nnc_paper_metric(r, name, absmean / arms[k].n_latent);
      if (!r->quick) {
        snprintf(name, sizeof name, "latent_%s_fit_error_not_decreasing", arms[k].label);
        nnc_paper_criterion(r, name, fb, "<=", 0);
        snprintf(name, sizeof name, "latent_%s_grad_var_not_increasing", arms[k].label);
        nnc_paper_metric(r, name, vb);
      }
      n_first++;
    }
  /* the same on the inputs of the sign activations (where ReSTE acts on most values: the
   * latent weights sit in the centre interval |w| <= 0.1, where g_o is a constant) */
  const arm *act_arm = NULL;
  for (int k = 0; k < n_arms; k++)
    if (arms[k].seed == r->seed && arms[k].have_act) {
      int fb, vb;
      violations(&arms[k].act, &fb, &vb);
      for (int j = 0; j < N_O; j++) {
        snprintf(name, sizeof name, "act_%s_o%g_fit_error", arms[k].label, O_SET[j]);
        nnc_paper_metric(r, name, arms[k].act.fit[j]);
        snprintf(name, sizeof name, "act_%s_o%g_grad_var", arms[k].label, O_SET[j]);
        nnc_paper_metric(r, name, arms[k].act.gvar[j]);
      }
      snprintf(name, sizeof name, "act_%s_share_abs_gt_t", arms[k].label);
      nnc_paper_metric(r, name, arms[k].act_share_clipped);
      if (arms[k].est == NNC_BIN_RESTE) {
        act_arm = &arms[k];
        if (!r->quick) {
          nnc_paper_criterion(r, "act_ReSTE_fit_error_not_decreasing", fb, "<=", 0);
          nnc_paper_criterion(r, "act_ReSTE_grad_var_not_increasing", vb, "<=", 0);
        }
      }
    }
  if ((st = plot_indicators(r, gauss, trained, trained_names, n_first, act_arm ? &act_arm->act : NULL, "ReSTE")))
    goto done;
  if ((st = plot_training(r, arms, n_arms))) goto done;
  if ((st = plot_latent(r, first, n_first))) goto done;

  if (r->quick) {
    nnc_paper_criterion(r, "quick_reste_1epoch_2000img_test_acc", arms[0].final_acc, ">", 0.50);
  } else {
    double ste = mean_final(arms, n_arms, "STE"), re = mean_final(arms, n_arms, "ReSTE");
    nnc_paper_metric(r, "STE_mean_test_acc", ste);
    nnc_paper_metric(r, "ReSTE_mean_test_acc", re);
    nnc_paper_log(r, "mean of 2 seeds: STE %.2f%%  ReSTE %.2f%%", 100 * ste, 100 * re);
    nnc_paper_criterion(r, "reste_minus_ste_test_acc", re - ste, ">=", -0.010);
    nnc_paper_criterion(r, "reste_mean_test_acc", re, ">=", 0.86);
    for (int k = 0; k < n_cnn; k++) {
      snprintf(name, sizeof name, "cnn_%s_test_acc", cnn[k].label);
      nnc_paper_metric(r, name, cnn[k].final_acc);
      snprintf(name, sizeof name, "cnn_%s_seconds", cnn[k].label);
      nnc_paper_metric(r, name, cnn[k].seconds);
    }
  }
done:
  for (int k = 0; k < n_arms; k++) free(arms[k].latent);
  for (int k = 0; k < n_cnn; k++) free(cnn[k].latent);
  return st;
}

NNC_PAPER(reste_paper, .slug = "reste",
          .title = "Estimator Meets Equilibrium Perspective: A Rectified Straight Through Estimator for Binary Neural "
                   "Networks Training (Wu et al., ICCV 2023)",
          .claim = "ReSTE's power-function estimator trades fitting error against gradient variance through o; a "
                   "binary MLP trains as well as with STE",
          .run = run);
