/* papers/biper/biper.c: BiPer, "Binary Neural Networks using a Periodic Function" (Vargas,
 * Correa, Hinojosa, Arguello; CVPR 2024).
 *
 * Weights are binarised by a square wave, Wb = sign(sin(om W)), whose backward is the sine's
 * derivative om cos(om W); activations by sign with a triangle surrogate max(0, 2 - 2|a|)
 * after a per-sample variance normalisation (nn/binary.h).  What we measure (README.md):
 *   1. the binarisers: values in {-1, +1}, sign(0) = +1, backward = om cos(om W) x upstream,
 *      triangle surrogate, periodicity (W and W + 2 pi / om give the same bits);
 *   2. the paper's quantisation-error analysis: for latent weights W ~ Laplace(0, b),
 *      QE(om) = E[(sin(om W) - a* sign(sin(om W)))^2], a* = E|sin(om W)| (the error between the
 *      stage-1 sine weights and their best scaled binarisation), a function of b om alone; the
 *      paper reports its maximum 0.102835 at b om = 0.954882.  Closed form and Monte Carlo, for
 *      Laplace and Gaussian weights; also the error against the latent weights themselves,
 *      E[(a* sign(sin(om W)) - W)^2] / b^2, and the official code's mean|sin - sign(sin)|;
 *   3. the binary MLP of papers/reste on Fashion-MNIST: STE vs BiPer (om = 20, tau = 0,
 *      square-wave weights from scratch) and BiPer in two stages (2 epochs of sine weights,
 *      then 3 of square-wave weights), and an ablation with BiPer's weights but STE's
 *      activations, 2 seeds x 5 epochs; a small binary CNN (1 seed x 2 epochs);
 *   --quick: 1, 2 on 10^5 samples, one BiPer epoch on 2000 images (accuracy > 50%). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "nn/binary.h"
#include "nnc.h"
#include "papers/paper.h"
#include "train/classifier.h"

#define MAX_EPOCHS 8
#define OMEGA 20.0
#define PAPER_QE_MAX 0.102835
#define PAPER_QE_ARGMAX 0.954882

/* ---- 1. the binarisers ---- */
static void unit_criteria(nnc_paper_run *r) {
  enum { M = 100000 };
  nnc_rng g;
  nnc_rng_seed(&g, r->seed, 11);
  nnc_tensor *w = nnc_requires_grad(nnc_empty(NNC_F64, NNC_SHAPE(M)));
  nnc_tensor *up = nnc_empty(NNC_F64, NNC_SHAPE(M));
  for (int i = 0; i < M; i++) {
    nnc_set(w, i, 0.2 * nnc_rng_normal(&g));
    nnc_set(up, i, nnc_rng_normal(&g));
  }
  nnc_set(w, 0, 0.0);
  nnc_tensor *y = nnc_sign_periodic(w, OMEGA);
  nnc_backward_with(y, up);
  int not_pm1 = 0;
  double err = 0;
  for (int i = 0; i < M; i++) {
    double v = nnc_get(y, i), wi = nnc_get(w, i);
    not_pm1 += v != 1 && v != -1;
    not_pm1 += v != (sin(OMEGA * wi) >= 0 ? 1 : -1);
    err = fmax(err, fabs(nnc_get(w->grad, i) - OMEGA * cos(OMEGA * wi) * nnc_get(up, i)));
  }
  nnc_paper_criterion(r, "unit_forward_not_sign_sin_pm1", not_pm1, "<=", 0);
  nnc_paper_criterion(r, "unit_sign0_is_plus1", nnc_get(y, 0), ">=", 1);
  nnc_paper_criterion(r, "unit_backward_omega_cos_max_error", err, "<=", 1e-6);
  /* periodicity */
  nnc_tensor *w2 = nnc_empty(NNC_F64, NNC_SHAPE(M));
  for (int i = 0; i < M; i++) nnc_set(w2, i, nnc_get(w, i) + 2 * M_PI / OMEGA);
  nnc_tensor *y2 = nnc_sign_periodic(w2, OMEGA);
  int diff = 0;
  for (int i = 1; i < M; i++) diff += nnc_get(y, i) != nnc_get(y2, i); /* i = 0 sits on an edge */
  nnc_paper_criterion(r, "unit_periodicity_bits_differing", diff, "<=", 0);
  nnc_step_end();
  /* the activation surrogate */
  nnc_tensor *a = nnc_requires_grad(nnc_empty(NNC_F64, NNC_SHAPE(M)));
  up = nnc_empty(NNC_F64, NNC_SHAPE(M)); /* the last one went with the step arena */
  for (int i = 0; i < M; i++) {
    nnc_set(a, i, 1.5 * nnc_rng_normal(&g));
    nnc_set(up, i, nnc_rng_normal(&g));
  }
  nnc_backward_with(nnc_sign_triangle(a), up);
  err = 0;
  for (int i = 0; i < M; i++)
    err = fmax(err, fabs(nnc_get(a->grad, i) - fmax(0, 2 - 2 * fabs(nnc_get(a, i))) * nnc_get(up, i)));
  nnc_paper_criterion(r, "unit_triangle_surrogate_max_error", err, "<=", 1e-12);
  nnc_step_end();
}

/* ---- 2. quantisation error ----
 * The scale b is E|W| for both laws (what the official vis_get_QE.py measures as b: mean|W|,
 * which is the Laplace scale); a Gaussian of that b has std s = b sqrt(pi/2).  For u = om W
 * with W symmetric and c = b om (g = s om = c sqrt(pi/2) for the Gaussian):
 *   Laplace(0, b):  E cos(k u) = 1 / (1 + k^2 c^2)
 *   Normal(0, s^2): E cos(k u) = exp(-k^2 g^2 / 2)
 *   E sin^2 u = (1 - E cos 2u) / 2
 *   E|sin u|  = 2/pi - (4/pi) sum_k E cos(2ku) / (4k^2 - 1)            (Fourier series of |sin|)
 *   QE_paper  = E sin^2 u - (E|sin u|)^2
 *   E[W sq(u)] / b = (4/pi) sum_{k odd} E[(W/b) sin(k u)] / k, with
 *     Laplace: E[(W/b) sin(k u)] = 2 k c / (1 + k^2 c^2)^2,
 *     Normal:  E[(W/b) sin(k u)] = (s/b) k g exp(-k^2 g^2 / 2)
 *   QE_latent / b^2 = E W^2 / b^2 - (E[W sq(u)] / b)^2  (E W^2 / b^2 = 2 Laplace, pi/2 Normal)
 * For Laplace, E|sin u| also has the closed form p/(p^2+1) coth(pi p/2), p = 1/c. */
typedef enum { LAPLACE, NORMAL } dist;

#define SQRT_PI_2 1.2533141373155003 /* sqrt(pi/2): std / E|W| of a Gaussian */
static double ecos(dist d, double k, double c) {
  double g = c * SQRT_PI_2;
  return d == LAPLACE ? 1 / (1 + k * k * c * c) : exp(-k * k * g * g / 2);
}

static double eabs_sin(dist d, double c) {
  if (d == LAPLACE && c > 0) {
    double p = 1 / c;
    return p / (p * p + 1) / tanh(M_PI * p / 2);
  }
  double s = 0;
  for (int k = 1; k <= 200000; k++) {
    double t = ecos(d, 2 * k, c) / (4.0 * k * k - 1);
    s += t;
    if (t < 1e-17) break;
  }
  return 2 / M_PI - 4 / M_PI * s;
}

static double qe_paper(dist d, double c) {
  double es2 = (1 - ecos(d, 2, c)) / 2, ea = eabs_sin(d, c);
  return es2 - ea * ea;
}

static double qe_latent(dist d, double c) {
  double s = 0;
  for (int k = 1; k <= 2000001; k += 2) {
    double g = c * SQRT_PI_2;
    double t = d == LAPLACE ? 2 * k * c / pow(1 + (double)k * k * c * c, 2)
                            : SQRT_PI_2 * k * g * exp(-(double)k * k * g * g / 2);
    s += t / k;
    if (k > 11 && fabs(t / k) < 1e-16) break;
  }
  double ews = 4 / M_PI * s;
  return (d == LAPLACE ? 2 : M_PI / 2) - ews * ews;
}

/* Monte Carlo of the three errors for n samples with E|W| = 1 at c = om */
typedef struct {
  double paper, latent, code;
} qe_mc;
static qe_mc qe_monte_carlo(const double *w, int64_t n, double om) {
  double s2 = 0, sa = 0, ws = 0, w2 = 0, code = 0;
  for (int64_t i = 0; i < n; i++) {
    double s = sin(om * w[i]), q = nnc_sign_pm1(s);
    s2 += s * s;
    sa += fabs(s);
    ws += w[i] * q;
    w2 += w[i] * w[i];
    code += fabs(s - q);
  }
  double N = (double)n;
  return (qe_mc){s2 / N - (sa / N) * (sa / N), w2 / N - (ws / N) * (ws / N), code / N};
}

/* the maximum of qe_paper(d, .) on [lo, hi] by golden-section search */
static double qe_argmax(dist d, double lo, double hi) {
  const double g = (sqrt(5) - 1) / 2;
  double a = lo, b = hi, x1 = b - g * (b - a), x2 = a + g * (b - a);
  double f1 = qe_paper(d, x1), f2 = qe_paper(d, x2);
  for (int it = 0; it < 200 && b - a > 1e-10; it++) {
    if (f1 < f2) {
      a = x1;
      x1 = x2;
      f1 = f2;
      x2 = a + g * (b - a);
      f2 = qe_paper(d, x2);
    } else {
      b = x2;
      x2 = x1;
      f2 = f1;
      x1 = b - g * (b - a);
      f1 = qe_paper(d, x1);
    }
  }
  return (a + b) / 2;
}

#define N_C 60
typedef struct {
  double c[N_C];
  double paper[2][N_C], latent[2][N_C], code[2][N_C];    /* closed forms: [LAPLACE], [NORMAL] */
  double mc_paper[2][N_C], mc_latent[2][N_C], mc_code[2][N_C];
} qe_curves;

static nnc_status quantisation_error(nnc_paper_run *r, int64_t n, qe_curves *q) {
  double *w = malloc((size_t)n * sizeof *w);
  if (!w) return nnc_error(NNC_ERR_NOMEM, "biper: %lld samples", (long long)n);
  for (int i = 0; i < N_C; i++) q->c[i] = 0.05 * pow(100.0, (double)i / (N_C - 1)); /* 0.05 .. 5, log spaced */
  double worst_mc = 0, worst_latent = 0;
  for (int d = 0; d < 2; d++) {
    nnc_rng g;
    nnc_rng_seed(&g, r->seed, 200 + (uint64_t)d);
    for (int64_t i = 0; i < n; i++) {
      if (d == LAPLACE) { /* inverse CDF of Laplace(0, 1) */
        double u = nnc_rng_uniform(&g) - 0.5;
        w[i] = -(u < 0 ? -1 : 1) * log(1 - 2 * fabs(u));
      } else { /* E|W| = 1 */
        w[i] = SQRT_PI_2 * nnc_rng_normal(&g);
      }
    }
    for (int i = 0; i < N_C; i++) {
      q->paper[d][i] = qe_paper((dist)d, q->c[i]);
      q->latent[d][i] = qe_latent((dist)d, q->c[i]);
      q->code[d][i] = 1 - eabs_sin((dist)d, q->c[i]);
      qe_mc m = qe_monte_carlo(w, n, q->c[i]);
      q->mc_paper[d][i] = m.paper;
      q->mc_latent[d][i] = m.latent;
      q->mc_code[d][i] = m.code;
      /* the paper's QE and the code's error are means of bounded values (standard error
       * below 0.5/sqrt(n)); the latent one has heavy Laplace tails and is only reported */
      worst_mc = fmax(worst_mc, fabs(m.paper - q->paper[d][i]));
      worst_mc = fmax(worst_mc, fabs(m.code - q->code[d][i]));
      worst_latent = fmax(worst_latent, fabs(m.latent - q->latent[d][i]));
    }
  }
  free(w);
  nnc_paper_criterion(r, "qe_monte_carlo_vs_closed_form_max_abs", worst_mc, "<=", r->quick ? 0.01 : 0.003);
  nnc_paper_metric(r, "qe_latent_monte_carlo_vs_series_max_abs", worst_latent);
  /* the paper's maximum, Laplace weights */
  double cmax = qe_argmax(LAPLACE, 0.2, 3), qmax = qe_paper(LAPLACE, cmax);
  nnc_paper_log(r, "Laplace weights: QE max %.6f at b*omega = %.6f (paper: %.6f at %.6f)", qmax, cmax, PAPER_QE_MAX,
                PAPER_QE_ARGMAX);
  nnc_paper_criterion(r, "qe_laplace_argmax_b_omega_abs_diff_from_paper", fabs(cmax - PAPER_QE_ARGMAX), "<=", 1e-3);
  nnc_paper_criterion(r, "qe_laplace_max_abs_diff_from_paper", fabs(qmax - PAPER_QE_MAX), "<=", 1e-5);
  double cn = qe_argmax(NORMAL, 0.2, 3);
  nnc_paper_metric(r, "qe_laplace_argmax_b_omega", cmax);
  nnc_paper_metric(r, "qe_laplace_max", qmax);
  nnc_paper_metric(r, "qe_laplace_limit_large_b_omega", qe_paper(LAPLACE, 1e4));
  nnc_paper_metric(r, "qe_normal_argmax_b_omega", cn);
  nnc_paper_metric(r, "qe_normal_max", qe_paper(NORMAL, cn));
  nnc_paper_log(r, "Gaussian weights (b = E|W|): QE max %.6f at b*omega = %.6f", qe_paper(NORMAL, cn), cn);
  /* the error against the latent weights grows with b om (no interior maximum): count the
   * grid points where it falls */
  int falls = 0;
  for (int i = 1; i < N_C; i++) falls += q->latent[LAPLACE][i] < q->latent[LAPLACE][i - 1] - 1e-9; /* rounding */
  nnc_paper_metric(r, "qe_latent_laplace_grid_points_falling", falls);
  nnc_paper_metric(r, "qe_latent_laplace_at_0.95", qe_latent(LAPLACE, 0.954882));
  return NNC_OK;
}

/* ---- 3. training ---- */
typedef struct {
  const char *label;
  nnc_bin_estimator est;
  int stage1_epochs; /* BiPer: epochs of sine weights first (0: square wave from the start) */
  bool ste_act;      /* ablation: the activations binarised with STE whatever est is */
  bool cnn;
  int epochs;
  int64_t limit;
  uint64_t seed;
  double train_loss[MAX_EPOCHS], test_acc[MAX_EPOCHS];
  double final_acc, seconds;
  int n_latent;
  float *latent;
  double alpha_mean;
} arm;

static nnc_status train_arm(nnc_paper_run *r, arm *a, const nnc_dataset *train_all, const nnc_dataset *test) {
  nnc_params P, B;
  nnc_params_init(&P, NNC_F32);
  nnc_params_init(&B, NNC_F32);
  nnc_binary_cfg cfg = nnc_binary_cfg_default(a->est);
  cfg.omega = OMEGA;
  nnc_binary_cfg cfg_ste = nnc_binary_cfg_default(NNC_BIN_STE), *act = a->ste_act ? &cfg_ste : &cfg;
  nnc_rng rng;
  nnc_rng_seed(&rng, a->seed, 1);
  nnc_sequential_mod *net = a->cnn ? nnc_new_binary_cnn(&P, &B, 16, 32, 10, &cfg, act, &rng)
                                   : nnc_new_binary_mlp(&P, &B, 784, 512, 2, 10, &cfg, act, &rng);
  const char *names[2] = {a->cnn ? "conv1.weight" : "fc1.weight", a->cnn ? "conv2.weight" : "fc2.weight"};
  const char *anames[2] = {a->cnn ? "conv1.alpha" : "fc1.alpha", a->cnn ? "conv2.alpha" : "fc2.alpha"};
  nnc_tensor hdr[2];
  nnc_dataset train_ds = nnc_dataset_head(train_all, a->limit, hdr), *train = &train_ds;
  nnc_batcher batches;
  nnc_status st = nnc_batcher_init(&batches, train->n, 128, a->seed, true, false);
  if (st) return st;
  int64_t per_epoch = nnc_batcher_batches_per_epoch(&batches);
  /* one Adam + cosine per stage: stage 2 starts afresh from the stage-1 weights, as the
   * official main_stage2.py loads the stage-1 checkpoint into a new optimiser */
  int s1 = a->stage1_epochs, s2 = a->epochs - s1;
  nnc_optim opt;
  nnc_adam_init(&opt, &P, 1e-3, 0.9, 0.999, 1e-8, 0);
  nnc_schedule sched = nnc_sched_cosine(1e-3, (int64_t)(s1 > 0 ? s1 : a->epochs) * per_epoch, 0);
  char label[64];
  snprintf(label, sizeof label, "%s seed %llu", a->label, (unsigned long long)a->seed);
  nnc_fit fit = {.model = &net->base, .params = &P, .opt = &opt, .sched = &sched, .label = label};
  int64_t step = 0;
  double t0 = nnc_now();
  for (int e = 0; e < a->epochs; e++) {
    cfg.stage = e < s1 ? 1 : 2;
    if (s1 > 0 && e == s1) {
      nnc_optim_reset(&opt);
      sched = nnc_sched_cosine(1e-3, (int64_t)s2 * per_epoch, 0);
      step = 0;
    }
    double loss = nnc_fit_epoch(&fit, train, &batches, &step);
    if (!isfinite(loss)) {
      st = nnc_error(NNC_ERR_ARG, "biper: %s: the loss is not finite in epoch %d", label, e + 1);
      break;
    }
    nnc_eval_result ev = nnc_evaluate(&net->base, test, NULL);
    a->train_loss[e] = loss;
    a->test_acc[e] = ev.acc;
    nnc_paper_log(r, "%s epoch %d%s: train_loss %.4f test_acc %.2f%%", label, e + 1,
                  a->est != NNC_BIN_BIPER ? "" : cfg.stage == 1 ? " (stage 1, sine weights)" : " (square wave)", loss,
                  100 * ev.acc);
  }
  a->seconds = nnc_now() - t0;
  a->final_acc = a->test_acc[a->epochs - 1];
  if (!st) {
    nnc_tensor *w0 = nnc_params_find(&P, names[0]), *w1 = nnc_params_find(&P, names[1]);
    int64_t n0 = nnc_numel(w0), n1 = nnc_numel(w1);
    a->latent = malloc((size_t)(n0 + n1) * sizeof *a->latent);
    if (a->latent) {
      memcpy(a->latent, nnc_f32(w0), (size_t)n0 * sizeof(float));
      memcpy(a->latent + n0, nnc_f32(w1), (size_t)n1 * sizeof(float));
      a->n_latent = (int)(n0 + n1);
    }
    double s = 0;
    int64_t c = 0;
    for (int k = 0; k < 2; k++) {
      nnc_tensor *al = nnc_params_find(&P, anames[k]);
      for (int64_t i = 0; al && i < nnc_numel(al); i++, c++) s += nnc_get(al, i);
    }
    a->alpha_mean = c ? s / (double)c : NAN;
  }
  nnc_batcher_free(&batches);
  nnc_optim_free(&opt);
  nnc_module_free(&net->base);
  nnc_params_free(&P);
  nnc_params_free(&B);
  nnc_step_end();
  return st;
}

/* the quantisation error of trained latent weights: b = mean|W| (the Laplace scale's maximum
 * likelihood estimate, as the official vis_get_QE.py), QE_paper and the code's error */
typedef struct {
  double b, c, paper, code, beyond_half_period, near_peak;
} trained_qe;
static trained_qe measure_trained(const float *w, int n) {
  double sa = 0, s2 = 0, sab = 0, code = 0, beyond = 0, peak = 0;
  for (int i = 0; i < n; i++) {
    double s = sin(OMEGA * w[i]);
    sab += fabs(w[i]);
    s2 += s * s;
    sa += fabs(s);
    code += fabs(s - nnc_sign_pm1(s));
    beyond += fabs(w[i]) > M_PI / OMEGA; /* where sign(sin(om W)) != sign(W) starts */
    peak += fabs(OMEGA * fabs(w[i]) - M_PI / 2) < 0.05; /* at the sine's peak, where om cos(om W) = 0 */
  }
  trained_qe t;
  t.b = sab / n;
  t.c = t.b * OMEGA;
  t.paper = s2 / n - (sa / n) * (sa / n);
  t.code = code / n;
  t.beyond_half_period = beyond / n;
  t.near_peak = peak / n;
  return t;
}

/* ---- pictures ---- */
static nnc_status plot_qe(nnc_paper_run *r, const qe_curves *q, const trained_qe *t, int n_t) {
  double px[1] = {PAPER_QE_ARGMAX}, py[1] = {PAPER_QE_MAX}, tx[4], ty[4], tl[4];
  for (int k = 0; k < n_t && k < 4; k++) {
    tx[k] = t[k].c;
    ty[k] = t[k].paper;
    tl[k] = t[k].code;
  }
  nnc_series a[6] = {
      {"Laplace, closed form", q->c, q->paper[LAPLACE], N_C},
      {"Laplace, Monte Carlo", q->c, q->mc_paper[LAPLACE], N_C},
      {"Gaussian (b = E|W|), series", q->c, q->paper[NORMAL], N_C},
      {"Gaussian, Monte Carlo", q->c, q->mc_paper[NORMAL], N_C},
      {"paper's maximum (0.9549, 0.1028)", px, py, 1},
      {"trained BiPer MLP layers", tx, ty, n_t},
  };
  nnc_series b[4] = {
      {"Laplace, closed form", q->c, q->latent[LAPLACE], N_C},
      {"Laplace, Monte Carlo", q->c, q->mc_latent[LAPLACE], N_C},
      {"Gaussian, series", q->c, q->latent[NORMAL], N_C},
      {"Gaussian, Monte Carlo", q->c, q->mc_latent[NORMAL], N_C},
  };
  nnc_series c[3] = {
      {"Laplace", q->c, q->code[LAPLACE], N_C},
      {"Gaussian", q->c, q->code[NORMAL], N_C},
      {"trained BiPer MLP layers", tx, tl, n_t},
  };
  nnc_svg_panel p[3] = {
      {.title = "E(sin wW - a* sign sin wW)^2 (the paper's QE)", .xlabel = "b * omega", .ylabel = "QE", .series = a,
       .nseries = 6, .log_x = true},
      {.title = "E(a* sign sin wW - W)^2 / b^2 (vs latent W)", .xlabel = "b * omega", .ylabel = "QE / b^2",
       .series = b, .nseries = 4, .log_x = true},
      {.title = "mean|sin wW - sign sin wW| (official code)", .xlabel = "b * omega", .ylabel = "error", .series = c,
       .nseries = 3, .log_x = true},
  };
  return nnc_svg_panels(nnc_paper_path(r, "qe_vs_b_omega.svg"),
                        "BiPer: quantisation error of the square wave against b * omega (weights of scale b)", p, 3);
}

static nnc_status plot_training(nnc_paper_run *r, arm *arms, int n_arms) {
  nnc_series acc[8], loss[8];
  double xs[MAX_EPOCHS], pct[8][MAX_EPOCHS];
  char names[8][64];
  for (int e = 0; e < MAX_EPOCHS; e++) xs[e] = e + 1;
  for (int k = 0; k < n_arms && k < 8; k++) {
    snprintf(names[k], sizeof names[k], "%s seed %llu", arms[k].label, (unsigned long long)arms[k].seed);
    for (int e = 0; e < arms[k].epochs; e++) pct[k][e] = 100 * arms[k].test_acc[e];
    acc[k] = (nnc_series){names[k], xs, pct[k], arms[k].epochs};
    loss[k] = (nnc_series){names[k], xs, arms[k].train_loss, arms[k].epochs};
  }
  nnc_svg_panel p[2] = {
      {.title = "test accuracy", .xlabel = "epoch", .ylabel = "%", .series = acc, .nseries = n_arms},
      {.title = "training loss", .xlabel = "epoch", .ylabel = "cross-entropy", .series = loss, .nseries = n_arms},
  };
  return nnc_svg_panels(nnc_paper_path(r, "curves.svg"), "Binary MLP on Fashion-MNIST: STE vs BiPer (omega = 20)", p, 2);
}

static nnc_status plot_latent(nnc_paper_run *r, arm *const *arms, int n) {
  enum { BINS = 160 };
  double lo = -0.2, hi = 0.2, xs[BINS], dens[4][BINS];
  nnc_series s[4];
  char names[4][64];
  for (int k = 0; k < n && k < 4; k++) {
    nnc_density_curve(arms[k]->latent, arms[k]->n_latent, lo, hi, BINS, xs, dens[k]);
    snprintf(names[k], sizeof names[k], "%s", arms[k]->label);
    s[k] = (nnc_series){names[k], xs, dens[k], BINS};
  }
  return nnc_svg_line_chart(nnc_paper_path(r, "latent_weights.svg"),
                            "Latent binary-layer weights after training (wave flips at +-0.157, cos = 0 at +-0.0785)",
                            "w", "density", s, n);
}

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
  qe_curves *q = calloc(1, sizeof *q);
  if (!q) return nnc_error(NNC_ERR_NOMEM, "biper: curves");
  nnc_status st = quantisation_error(r, r->quick ? 100000 : 1000000, q);
  if (st) {
    free(q);
    return st;
  }
  nnc_dataset train, test;
  if ((st = nnc_fashion_load(r->data_dir, true, &train))) {
    free(q);
    return st;
  }
  if ((st = nnc_fashion_load(r->data_dir, false, &test))) {
    nnc_dataset_free(&train);
    free(q);
    return st;
  }
  nnc_tensor test_hdr[2];
  nnc_dataset test_ds = nnc_dataset_head(&test, r->quick ? 2000 : 0, test_hdr);
  arm arms[8], cnn[2];
  memset(arms, 0, sizeof arms);
  memset(cnn, 0, sizeof cnn);
  int n_arms = 0, n_cnn = 0;
  if (r->quick) {
    arms[n_arms++] = (arm){.label = "BiPer", .est = NNC_BIN_BIPER, .epochs = 1, .limit = 2000, .seed = r->seed};
  } else {
    for (int s = 0; s < 2; s++) {
      uint64_t seed = r->seed + (uint64_t)s;
      arms[n_arms++] = (arm){.label = "STE", .est = NNC_BIN_STE, .epochs = 5, .seed = seed};
      arms[n_arms++] = (arm){.label = "BiPer", .est = NNC_BIN_BIPER, .epochs = 5, .seed = seed};
      arms[n_arms++] = (arm){.label = "BiPer-2stage", .est = NNC_BIN_BIPER, .stage1_epochs = 2, .epochs = 5, .seed = seed};
      /* ablation: BiPer's weights with STE's activations, to tell which half gives the gain */
      arms[n_arms++] = (arm){.label = "BiPer-W+STE-A", .est = NNC_BIN_BIPER, .ste_act = true, .epochs = 5, .seed = seed};
    }
    cnn[n_cnn++] = (arm){.label = "STE", .est = NNC_BIN_STE, .cnn = true, .epochs = 2, .limit = 0, .seed = r->seed};
    cnn[n_cnn++] = (arm){.label = "BiPer", .est = NNC_BIN_BIPER, .cnn = true, .epochs = 2, .limit = 0, .seed = r->seed};
  }
  for (int k = 0; k < n_arms && !st; k++) st = train_arm(r, &arms[k], &train, &test_ds);
  for (int k = 0; k < n_cnn && !st; k++) st = train_arm(r, &cnn[k], &train, &test_ds);
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
  /* the trained latent weights of the first seed */
  trained_qe tq[4];
  arm *first[4];
  int n_first = 0, n_tq = 0;
  for (int k = 0; k < n_arms && n_first < 4; k++)
    if (arms[k].seed == r->seed && arms[k].latent) {
      first[n_first++] = &arms[k];
      trained_qe t = measure_trained(arms[k].latent, arms[k].n_latent);
      snprintf(name, sizeof name, "latent_%s_b_mean_abs", arms[k].label);
      nnc_paper_metric(r, name, t.b);
      snprintf(name, sizeof name, "latent_%s_b_omega", arms[k].label);
      nnc_paper_metric(r, name, t.c);
      snprintf(name, sizeof name, "latent_%s_qe_paper", arms[k].label);
      nnc_paper_metric(r, name, t.paper);
      snprintf(name, sizeof name, "latent_%s_qe_code", arms[k].label);
      nnc_paper_metric(r, name, t.code);
      snprintf(name, sizeof name, "latent_%s_share_beyond_half_period", arms[k].label);
      nnc_paper_metric(r, name, t.beyond_half_period);
      snprintf(name, sizeof name, "latent_%s_share_at_sine_peak", arms[k].label);
      nnc_paper_metric(r, name, t.near_peak);
      if (arms[k].est == NNC_BIN_BIPER) {
        snprintf(name, sizeof name, "latent_%s_alpha_mean", arms[k].label);
        nnc_paper_metric(r, name, arms[k].alpha_mean);
        tq[n_tq++] = t;
      }
      nnc_paper_log(r, "%s latent weights: b = %.4f, b*omega = %.3f, QE %.4f, beyond pi/omega %.2f%%, at the sine's peak "
                    "%.2f%%", arms[k].label, t.b, t.c, t.paper, 100 * t.beyond_half_period, 100 * t.near_peak);
    }
  if ((st = plot_qe(r, q, tq, n_tq))) goto done;
  if ((st = plot_training(r, arms, n_arms))) goto done;
  if ((st = plot_latent(r, first, n_first))) goto done;

  if (r->quick) {
    nnc_paper_criterion(r, "quick_biper_1epoch_2000img_test_acc", arms[0].final_acc, ">", 0.50);
  } else {
    double ste = mean_final(arms, n_arms, "STE"), bp = mean_final(arms, n_arms, "BiPer"),
           bp2 = mean_final(arms, n_arms, "BiPer-2stage");
    nnc_paper_metric(r, "STE_mean_test_acc", ste);
    nnc_paper_metric(r, "BiPer_mean_test_acc", bp);
    double abl = mean_final(arms, n_arms, "BiPer-W+STE-A");
    nnc_paper_metric(r, "BiPer-2stage_mean_test_acc", bp2);
    nnc_paper_metric(r, "BiPer-W+STE-A_mean_test_acc", abl);
    nnc_paper_log(r, "mean of 2 seeds: STE %.2f%%  BiPer %.2f%%  BiPer-2stage %.2f%%  BiPer-W+STE-A %.2f%%", 100 * ste,
                  100 * bp, 100 * bp2, 100 * abl);
    nnc_paper_criterion(r, "biper_minus_ste_test_acc", bp - ste, ">=", -0.005);
    nnc_paper_criterion(r, "biper_mean_test_acc", bp, ">=", 0.86);
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
  free(q);
  return st;
}

NNC_PAPER(biper_paper, .slug = "biper",
          .title = "BiPer: Binary Neural Networks using a Periodic Function (Vargas et al., CVPR 2024)",
          .claim = "a square-wave binariser with a sine backward trains a binary MLP as well as STE; its quantisation "
                   "error peaks at b*omega = 0.955",
          .run = run);
