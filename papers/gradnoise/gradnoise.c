/* papers/gradnoise/gradnoise.c: "Adding Gradient Noise Improves Learning for Very Deep Networks"
 * (Neelakantan, Vilnis, Le, Sutskever, Kaiser, Kurach, Martens; 2015, ICLR workshop 2016).
 *
 * The mechanism (optim/noise.h): g <- g + N(0, eta/(1+t)^0.55) on every gradient element at
 * every step, between backward and the optimiser.  The paper's MNIST experiment, moved to
 * Fashion-MNIST (batch1 §8's protocol): a 20-hidden-layer x 50-unit ReLU MLP (21 Linear layers,
 * 784 -> 50 x 20 -> 10) from the paper's "simple" (poor) initialisation, every weight
 * N(0, 0.1^2) and every bias 0 (C_W = 50 * 0.01 = 0.5, a quarter of ReLU's critical 2, so the
 * signal shrinks ~4x per layer); inputs pixel/255 minus the training mean; plain SGD (no
 * momentum) lr 0.05, batch 128, the global gradient norm clipped at 10 and then the noise added,
 * 3 epochs.  Arms: poor init without noise, with eta = 0.3 and eta = 1.0; the critical
 * initialisation W ~ N(0, 2/fan_in) (nnc_init_critical) without noise and with eta = 0.3.
 * Five seeds per arm (full run).  Also: the per-layer gradient norms of one batch at step 0
 * for both initialisations (why the poor one does not train), and the noise's variance.
 * --quick: the variance check, one batch of diagnostics, and 1 epoch (one seed) for the
 * critical init and the poor init with and without noise. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "nnc.h"
#include "optim/noise.h"
#include "papers/paper.h"
#include "train/classifier.h"

#define DEPTH 20   /* hidden layers */
#define WIDTH 50
#define N_LIN (DEPTH + 1)
#define LR 0.05
#define BATCH 128
#define CLIP 10.0
#define EPOCHS 3
#define MAX_SEEDS 5
#define POOR_STD 0.1

typedef struct {
  const char *label;
  bool critical;
  double eta;
} arm_cfg;

static const arm_cfg ARMS[] = {
    {"poor init", false, 0.0},
    {"poor init + noise 0.3", false, 0.3},
    {"poor init + noise 1.0", false, 1.0},
    {"critical init", true, 0.0},
    {"critical init + noise 0.3", true, 0.3},
};
#define N_ARMS 5

typedef struct {
  double acc[MAX_SEEDS][EPOCHS], loss[MAX_SEEDS][EPOCHS], final[MAX_SEEDS];
  int seeds, epochs;
  double seconds;
} arm_result;

/* the deep MLP; weights N(0, 0.1^2) (poor) or N(0, 2/fan_in) (critical), biases 0 */
static nnc_sequential_mod *build(nnc_params *P, bool critical, nnc_rng *rng) {
  int64_t sizes[DEPTH + 2];
  sizes[0] = 784;
  for (int i = 1; i <= DEPTH; i++) sizes[i] = WIDTH;
  sizes[DEPTH + 1] = 10;
  nnc_sequential_mod *net = nnc_new_mlp(P, "", DEPTH + 2, sizes, NNC_ACT_RELU, rng);
  for (int k = 0; k < P->count; k++) {
    nnc_tensor *t = P->tensors[k];
    if (t->ndim == 1) nnc_init_constant(t, 0);
    else if (critical) nnc_init_critical(t, nnc_fan_in(t), NNC_ACT_RELU, 0, rng);
    else nnc_init_normal(t, 0, POOR_STD, rng);
  }
  return net;
}

/* between backward and step: clip the global norm at CLIP, then add the noise of step t */
typedef struct {
  nnc_params *params;
  const nnc_grad_noise *noise; /* NULL: none */
} pre_step;

static void clip_then_noise(void *ctx, int64_t t) {
  pre_step *c = ctx;
  nnc_clip_grad_norm(c->params, CLIP);
  if (c->noise) nnc_grad_noise_apply(c->noise, c->params, t);
}

static nnc_status train_one(nnc_paper_run *r, const arm_cfg *a, uint64_t seed, int epochs, const nnc_dataset *train,
                            const nnc_dataset *test, arm_result *res, int si) {
  nnc_params P;
  nnc_params_init(&P, NNC_F32);
  nnc_rng rng;
  nnc_rng_seed(&rng, seed, 1);
  nnc_sequential_mod *net = build(&P, a->critical, &rng);
  nnc_optim opt;
  nnc_sgd_init(&opt, &P, LR, 0, 0, false);
  nnc_grad_noise noise = nnc_grad_noise_make(a->eta, NNC_GRAD_NOISE_GAMMA, seed);
  pre_step ctx = {&P, a->eta > 0 ? &noise : NULL};
  nnc_batcher batches;
  nnc_status st = nnc_batcher_init(&batches, train->n, BATCH, seed, true, false);
  char label[96];
  snprintf(label, sizeof label, "%s, seed %llu", a->label, (unsigned long long)seed);
  nnc_fit fit = {.model = &net->base, .params = &P, .opt = &opt, .before_step = clip_then_noise, .before_ctx = &ctx,
                 .label = label, .quiet = true};
  int64_t step = 0;
  for (int e = 0; e < epochs && !st; e++) {
    double loss = nnc_fit_epoch(&fit, train, &batches, &step);
    nnc_eval_result ev = nnc_evaluate(&net->base, test, NULL);
    res->loss[si][e] = loss;
    res->acc[si][e] = isfinite(loss) ? ev.acc : 0.1; /* a diverged run counts as chance */
    nnc_paper_log(r, "%s epoch %d: train_loss %.4f test_acc %.2f%%", label, e + 1, loss, 100 * res->acc[si][e]);
    if (!isfinite(loss)) {
      for (int f = e + 1; f < epochs; f++) res->loss[si][f] = NAN, res->acc[si][f] = 0.1;
      break;
    }
  }
  res->final[si] = res->acc[si][epochs - 1];
  nnc_batcher_free(&batches);
  nnc_optim_free(&opt);
  nnc_module_free(&net->base);
  nnc_params_free(&P);
  nnc_step_end();
  return st;
}

/* ---- diagnostics: per-layer gradient norms and forward variance for one batch at step 0 ---- */
static void layer_stats(const nnc_dataset *train, bool critical, uint64_t seed, double *gnorm, double *fvar) {
  nnc_params P;
  nnc_params_init(&P, NNC_F32);
  nnc_rng rng;
  nnc_rng_seed(&rng, seed, 1);
  nnc_sequential_mod *net = build(&P, critical, &rng);
  int64_t idx[BATCH];
  for (int i = 0; i < BATCH; i++) idx[i] = i;
  nnc_tensor *x = nnc_empty(NNC_F32, NNC_SHAPE(BATCH, 784)), *y = nnc_empty(NNC_I64, NNC_SHAPE(BATCH));
  nnc_dataset_gather(train, idx, BATCH, x, y);
  int lin = 0;
  for (int c = 0; c < net->base.n_children; c++) {
    nnc_module *ch = net->base.children[c];
    x = nnc_forward(ch, x);
    if (!strcmp(ch->kind, "Linear")) { /* mean square of the pre-activations */
      nnc_tensor *xc = nnc_contiguous(nnc_detach(x));
      double s = 0;
      for (int64_t i = 0, n = nnc_numel(xc); i < n; i++) s += (double)nnc_f32(xc)[i] * nnc_f32(xc)[i];
      fvar[lin++] = s / (double)nnc_numel(xc);
    }
  }
  nnc_params_zero_grad(&P);
  nnc_backward(nnc_cross_entropy(x, y, 0, NNC_REDUCE_MEAN));
  lin = 0;
  for (int k = 0; k < P.count; k++)
    if (P.tensors[k]->ndim == 2) {
      const float *g = nnc_f32(P.tensors[k]->grad);
      double s = 0;
      for (int64_t i = 0, n = nnc_numel(P.tensors[k]); i < n; i++) s += (double)g[i] * g[i];
      gnorm[lin++] = sqrt(s);
    }
  nnc_step_end();
  nnc_module_free(&net->base);
  nnc_params_free(&P);
}

/* ---- the noise's own statistics ---- */
static void noise_criteria(nnc_paper_run *r) {
  nnc_grad_noise gn = nnc_grad_noise_make(0.3, NNC_GRAD_NOISE_GAMMA, r->seed);
  int64_t n = 1000000;
  double *z = malloc((size_t)n * sizeof *z), s = 0, s2 = 0;
  if (!z) return;
  nnc_grad_noise_draw(&gn, 99, 0, z, n);
  double sigma = nnc_grad_noise_std(&gn, 99);
  for (int64_t i = 0; i < n; i++) {
    double v = sigma * z[i];
    s += v;
    s2 += v * v;
  }
  free(z);
  double mean = s / (double)n, var = s2 / (double)n - mean * mean, want = 0.3 / pow(100.0, 0.55);
  nnc_paper_metric(r, "noise_t99_eta0.3_variance", var);
  nnc_paper_metric(r, "noise_t99_eta0.3_variance_formula", want);
  nnc_paper_criterion(r, "unit_noise_variance_rel_error_t99", fabs(var / want - 1), "<=", 0.01);
  nnc_paper_criterion(r, "unit_noise_mean_abs_t99", fabs(mean), "<=", 5 * sqrt(want / (double)n));
}

/* ---- pictures ---- */
static nnc_status plot_layers(nnc_paper_run *r, const double gn[2][N_LIN], const double fv[2][N_LIN]) {
  double xs[N_LIN];
  for (int i = 0; i < N_LIN; i++) xs[i] = i + 1;
  nnc_series g[2] = {{"poor init N(0, 0.1^2)", xs, gn[0], N_LIN}, {"critical init N(0, 2/fan_in)", xs, gn[1], N_LIN}};
  nnc_series f[2] = {{"poor init N(0, 0.1^2)", xs, fv[0], N_LIN}, {"critical init N(0, 2/fan_in)", xs, fv[1], N_LIN}};
  nnc_svg_panel p[2] = {
      {.title = "forward: mean square of each layer's pre-activations", .xlabel = "layer", .ylabel = "E z^2 (log)",
       .series = f, .nseries = 2, .log_y = true},
      {.title = "backward: ||dL/dW|| per layer, one batch at step 0", .xlabel = "layer", .ylabel = "norm (log)",
       .series = g, .nseries = 2, .log_y = true},
  };
  return nnc_svg_panels(nnc_paper_path(r, "layers.svg"), "20 x 50 ReLU MLP at initialisation: the signal vanishes from the poor init", p, 2);
}

static nnc_status plot_training(nnc_paper_run *r, const arm_result *res, int n_arms) {
  static double xs[EPOCHS + 1], acc[N_ARMS][EPOCHS + 1], loss[N_ARMS][EPOCHS];
  nnc_series sa[N_ARMS], sl[N_ARMS];
  for (int e = 0; e <= EPOCHS; e++) xs[e] = e;
  int epochs = res[0].epochs;
  for (int a = 0; a < n_arms; a++) {
    acc[a][0] = 10; /* chance before training */
    for (int e = 0; e < epochs; e++) {
      double sa_ = 0, sl_ = 0;
      int finite = 0;
      for (int s = 0; s < res[a].seeds; s++) {
        sa_ += res[a].acc[s][e];
        if (isfinite(res[a].loss[s][e])) sl_ += res[a].loss[s][e], finite++;
      }
      acc[a][e + 1] = 100 * sa_ / res[a].seeds;
      loss[a][e] = finite ? sl_ / finite : NAN;
    }
    sa[a] = (nnc_series){ARMS[a].label, xs, acc[a], epochs + 1};
    sl[a] = (nnc_series){ARMS[a].label, xs + 1, loss[a], epochs};
  }
  nnc_svg_panel p[2] = {
      {.title = "test accuracy (mean over seeds)", .xlabel = "epoch", .ylabel = "%", .series = sa, .nseries = n_arms},
      {.title = "training loss (mean over seeds)", .xlabel = "epoch", .ylabel = "cross-entropy", .series = sl,
       .nseries = n_arms},
  };
  return nnc_svg_panels(nnc_paper_path(r, "curves.svg"), "Deep MLP on Fashion-MNIST: gradient noise vs initialisation", p, 2);
}

static nnc_status plot_final(nnc_paper_run *r, const arm_result *res, int n_arms) {
  /* one bar per (arm, seed) so the spread across seeds shows */
  static char names[N_ARMS * MAX_SEEDS][64];
  const char *np[N_ARMS * MAX_SEEDS];
  double v[N_ARMS * MAX_SEEDS];
  static const char *const shortname[N_ARMS] = {"poor", "poor+0.3", "poor+1.0", "crit", "crit+0.3"};
  int n = 0;
  for (int a = 0; a < n_arms; a++)
    for (int s = 0; s < res[a].seeds; s++) {
      snprintf(names[n], sizeof names[n], "%s s%d", shortname[a], s);
      np[n] = names[n];
      v[n++] = 100 * res[a].final[s];
    }
  return nnc_svg_bar_chart(nnc_paper_path(r, "final_acc.svg"), "Test accuracy after training, every arm and seed", "%",
                           np, v, n);
}

static nnc_status run(nnc_paper_run *r) {
  noise_criteria(r);
  nnc_dataset train, test;
  nnc_status st = nnc_fashion_load(r->data_dir, true, &train);
  if (st) return st;
  if ((st = nnc_fashion_load(r->data_dir, false, &test))) {
    nnc_dataset_free(&train);
    return st;
  }
  /* pixel/255 minus the training mean: undo the division by the std of nnc_fashion_load */
  for (int k = 0; k < 2; k++) {
    nnc_dataset *d = k ? &test : &train;
    float *x = nnc_f32(d->x);
    for (int64_t i = 0, n = nnc_numel(d->x); i < n; i++) x[i] *= NNC_FASHION_STD;
  }
  double gn[2][N_LIN], fv[2][N_LIN];
  layer_stats(&train, false, r->seed, gn[0], fv[0]);
  layer_stats(&train, true, r->seed, gn[1], fv[1]);
  nnc_paper_metric(r, "init_poor_grad_norm_layer1", gn[0][0]);
  nnc_paper_metric(r, "init_poor_grad_norm_layer21", gn[0][N_LIN - 1]);
  nnc_paper_metric(r, "init_critical_grad_norm_layer1", gn[1][0]);
  nnc_paper_metric(r, "init_critical_grad_norm_layer21", gn[1][N_LIN - 1]);
  nnc_paper_metric(r, "init_poor_preact_meansq_layer21", fv[0][N_LIN - 1]);
  nnc_paper_metric(r, "init_critical_preact_meansq_layer21", fv[1][N_LIN - 1]);
  nnc_paper_log(r, "step 0: ||dL/dW1|| poor %.3g critical %.3g; E z^2 at layer 21: poor %.3g critical %.3g", gn[0][0],
                gn[1][0], fv[0][N_LIN - 1], fv[1][N_LIN - 1]);
  /* the poor init's first-layer gradient is many orders of magnitude below the critical one's */
  nnc_paper_criterion(r, "unit_init_grad_ratio_layer1_poor_over_critical", gn[0][0] / gn[1][0], "<", 1e-3);
  if ((st = plot_layers(r, gn, fv))) goto done;

  arm_result res[N_ARMS];
  memset(res, 0, sizeof res);
  int seeds = r->quick ? 1 : MAX_SEEDS, epochs = r->quick ? 1 : EPOCHS;
  nnc_tensor hdr[4];
  nnc_dataset tr = nnc_dataset_head(&train, 0, hdr), te = nnc_dataset_head(&test, 0, hdr + 2);
  /* quick: poor, poor + 0.3, critical */
  const int quick_arms[3] = {0, 1, 3};
  int n_run = r->quick ? 3 : N_ARMS;
  for (int i = 0; i < n_run && !st; i++) {
    int a = r->quick ? quick_arms[i] : i;
    res[a].seeds = seeds;
    res[a].epochs = epochs;
    double t0 = nnc_now();
    for (int s = 0; s < seeds && !st; s++) st = train_one(r, &ARMS[a], r->seed + (uint64_t)s, epochs, &tr, &te, &res[a], s);
    res[a].seconds = nnc_now() - t0;
  }
  if (st) goto done;

  static const char *const key[N_ARMS] = {"poor", "poor_noise0.3", "poor_noise1.0", "critical", "critical_noise0.3"};
  double mean[N_ARMS] = {0};
  int above20[N_ARMS] = {0}, above40[N_ARMS] = {0};
  char name[128];
  for (int a = 0; a < N_ARMS; a++) {
    if (!res[a].seeds) continue;
    for (int s = 0; s < res[a].seeds; s++) {
      snprintf(name, sizeof name, "%s_seed%llu_test_acc", key[a], (unsigned long long)(r->seed + (uint64_t)s));
      nnc_paper_metric(r, name, res[a].final[s]);
      mean[a] += res[a].final[s] / res[a].seeds;
      above20[a] += res[a].final[s] > 0.2;
      above40[a] += res[a].final[s] > 0.4;
    }
    snprintf(name, sizeof name, "%s_mean_test_acc", key[a]);
    nnc_paper_metric(r, name, mean[a]);
    snprintf(name, sizeof name, "%s_seeds_above_40pct", key[a]);
    nnc_paper_metric(r, name, above40[a]);
    snprintf(name, sizeof name, "%s_seconds", key[a]);
    nnc_paper_metric(r, name, res[a].seconds);
    nnc_paper_log(r, "%-26s mean %.2f%%  seeds > 20%%: %d  > 40%%: %d  (%.0f s)", ARMS[a].label, 100 * mean[a], above20[a],
                  above40[a], res[a].seconds);
  }
  if (!r->quick) {
    if ((st = plot_training(r, res, N_ARMS))) goto done;
    if ((st = plot_final(r, res, N_ARMS))) goto done;
  }
  if (r->quick) {
    /* one epoch: the critical init learns, the poor one does not without noise (the loss stays
     * at log 10 = 2.303), and with noise it has left chance */
    nnc_paper_criterion(r, "quick_critical_1epoch_test_acc", res[3].final[0], ">", 0.6);
    nnc_paper_criterion(r, "quick_poor_no_noise_1epoch_train_loss", res[0].loss[0][0], ">", 2.29);
    nnc_paper_criterion(r, "quick_poor_noise0.3_1epoch_test_acc", res[1].final[0], ">", 0.2);
  } else {
    nnc_paper_criterion(r, "poor_no_noise_seeds_above_20pct", above20[0], "<=", 1);
    nnc_paper_criterion(r, "poor_noise0.3_seeds_above_40pct", above40[1], ">=", 4);
    nnc_paper_criterion(r, "poor_noise0.3_mean_test_acc", mean[1], ">=", 0.55);
    nnc_paper_criterion(r, "critical_no_noise_mean_test_acc", mean[3], ">=", 0.80);
    /* at this budget the right initialisation beats the noise, and noise on top of it costs accuracy */
    nnc_paper_criterion(r, "critical_minus_poor_noise0.3_mean_test_acc", mean[3] - mean[1], ">=", 0.05);
    nnc_paper_metric(r, "critical_noise0.3_minus_critical_mean_test_acc", mean[4] - mean[3]);
  }
done:
  nnc_dataset_free(&train);
  nnc_dataset_free(&test);
  return st;
}

NNC_PAPER(gradnoise_paper, .slug = "gradnoise",
          .title = "Adding Gradient Noise Improves Learning for Very Deep Networks (Neelakantan et al., 2015; ICLR "
                   "workshop 2016)",
          .claim = "annealed Gaussian gradient noise lets plain SGD train a 20-layer MLP from a poor initialisation; a "
                   "critical initialisation does it without noise",
          .run = run);
