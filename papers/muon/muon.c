/* papers/muon/muon.c: "Muon Outperforms Adam in Tail-End Associative Memory Learning" (Wang, Zhang,
 * Li, Du, Du, Pang, Yang, Hong, Tan; arXiv 2509.26030), with the Muon optimiser of K. Jordan et al.
 * (optim/muon.h).
 *
 * 1. The paper's theory setting in miniature (batch1 §9's construction; no official code): a
 *    one-layer linear associative memory, d = K = 128, keys e_k and values u_k orthonormal,
 *    either one-hot (E = U = I) or random rotations (Q factors of Gaussian matrices); class k
 *    has frequency p_k ~ 1/k; logits for key k are z = U^T W e_k, the population loss is
 *    L(W) = sum_k p_k CE(z, k), full batch, W_0 = 0.  GD with momentum 0.9, Adam (0.9, 0.95,
 *    eps 1e-8) and Muon (0.95, Nesterov, NS-5, f32), two learning rates each, run until L < 0.5;
 *    then the head loss (mean CE of the 10% most frequent classes) and the tail loss (the
 *    50% least frequent).  The claim: Muon learns head and tail at a balanced rate whatever
 *    the embeddings (it is rotation-equivariant: msign(U G E^T) = U msign(G) E^T); Adam is
 *    balanced only for axis-aligned (one-hot) embeddings; GD learns at a rate ~ p_k.
 * 2. Real data (not in the paper): Muon (hidden matrices, official choice; AdamW elsewhere) vs
 *    AdamW on Fashion-MNIST: the fashion-mlp (784-256-256-10; Muon on fc2) for 3 epochs, 2
 *    seeds, and the fashion-cnn (Muon on conv2 and fc1) for a short budget of steps (the
 *    orthogonalisation of fc1's 1024 x 3136 matrix costs several times the rest of a step on
 *    a CPU; see README).  Steps and seconds to a test accuracy, and the accuracy after a budget.
 * --quick: the memory at d = K = 32 and a short MLP run. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "nnc.h"
#include "optim/muon.h"
#include "papers/paper.h"
#include "train/classifier.h"
#include "train/models.h"

/* ---------------------------------------------------------------- 1. associative memory */
#define AM_MAX_D 128
#define AM_TARGET 0.5

typedef enum { AM_GD, AM_ADAM, AM_MUON } am_kind;
typedef struct {
  const char *label;
  am_kind kind;
  double lr;
} am_opt;

static const am_opt AM_OPTS[] = {
    {"GD lr 1", AM_GD, 1.0},       {"GD lr 10", AM_GD, 10.0},       {"Adam lr 1e-3", AM_ADAM, 1e-3},
    {"Adam lr 1e-2", AM_ADAM, 1e-2}, {"Muon lr 0.01", AM_MUON, 0.01}, {"Muon lr 0.1", AM_MUON, 0.1},
};
#define N_AM_OPTS 6
enum { EMB_ONEHOT, EMB_ROT, EMB_ROT2, N_EMB };
static const char *const EMB_NAME[N_EMB] = {"one-hot", "rotated", "rotated (2nd draw)"};

typedef struct {
  int d, max_steps;
  nnc_tensor *et[N_EMB], *u[N_EMB]; /* E^T [K, d] (rows e_k), U [d, K] (columns u_k); heap */
  nnc_tensor *p, *labels;            /* p [K] ~ 1/k normalised; labels 0..K-1 */
} am_task;

typedef struct {
  int steps;        /* steps taken until L < target (or max_steps) */
  bool reached;
  double head, tail, ratio;
  double class_loss[AM_MAX_D]; /* per-class CE when stopped */
  double snap[AM_MAX_D];       /* per-class CE at snap_step */
  double *curve;               /* weighted loss before each step (malloc'ed) */
  double seconds;
} am_result;

/* orthonormal columns of a Gaussian d x d matrix (modified Gram-Schmidt in double) */
static void random_rotation(int d, nnc_rng *rng, double *q) {
  for (int i = 0; i < d * d; i++) q[i] = nnc_rng_normal(rng);
  for (int j = 0; j < d; j++) {
    for (int k = 0; k < j; k++) {
      double dot = 0;
      for (int i = 0; i < d; i++) dot += q[i * d + k] * q[i * d + j];
      for (int i = 0; i < d; i++) q[i * d + j] -= dot * q[i * d + k];
    }
    double nrm = 0;
    for (int i = 0; i < d; i++) nrm += q[i * d + j] * q[i * d + j];
    nrm = sqrt(nrm);
    for (int i = 0; i < d; i++) q[i * d + j] /= nrm;
  }
}

static nnc_status am_task_make(am_task *t, int d, uint64_t seed) {
  memset(t, 0, sizeof *t);
  t->d = d;
  t->p = nnc_heap_tensor(NNC_F32, NNC_SHAPE(d));
  t->labels = nnc_heap_tensor(NNC_I64, NNC_SHAPE(d));
  double *q = malloc(sizeof(double) * (size_t)(d * d));
  if (!t->p || !t->labels || !q) {
    free(q);
    return nnc_error(NNC_ERR_NOMEM, "muon: associative-memory task of size %d", d);
  }
  double z = 0;
  for (int k = 0; k < d; k++) z += 1.0 / (k + 1);
  for (int k = 0; k < d; k++) nnc_f32(t->p)[k] = (float)(1.0 / (k + 1) / z), nnc_i64(t->labels)[k] = k;
  for (int e = 0; e < N_EMB; e++) {
    t->et[e] = nnc_heap_tensor(NNC_F32, NNC_SHAPE(d, d));
    t->u[e] = nnc_heap_tensor(NNC_F32, NNC_SHAPE(d, d));
    if (!t->et[e] || !t->u[e]) {
      free(q);
      return nnc_error(NNC_ERR_NOMEM, "muon: embeddings");
    }
    float *et = nnc_f32(t->et[e]), *u = nnc_f32(t->u[e]);
    if (e == EMB_ONEHOT) {
      for (int i = 0; i < d; i++) et[i * d + i] = u[i * d + i] = 1;
      continue;
    }
    nnc_rng rng;
    nnc_rng_seed(&rng, seed + (uint64_t)e, 0x726f74); /* "rot" */
    random_rotation(d, &rng, q);                    /* E: columns e_k; E^T[k][i] = E[i][k] */
    for (int i = 0; i < d; i++)
      for (int k = 0; k < d; k++) et[k * d + i] = (float)q[i * d + k];
    random_rotation(d, &rng, q); /* U: columns u_k */
    for (int i = 0; i < d * d; i++) u[i] = (float)q[i];
  }
  free(q);
  return NNC_OK;
}

static void am_task_free(am_task *t) {
  for (int e = 0; e < N_EMB; e++) nnc_heap_free(t->et[e]), nnc_heap_free(t->u[e]);
  nnc_heap_free(t->p);
  nnc_heap_free(t->labels);
}

/* per-class CE [K] of the current W (no gradient unless W requires it) */
static nnc_tensor *am_class_losses(const am_task *t, int e, nnc_tensor *w) {
  nnc_tensor *z = nnc_matmul(nnc_matmul_t(t->et[e], w, false, true), t->u[e]); /* [K, K]: row k = (U^T W e_k)^T */
  return nnc_cross_entropy(z, t->labels, 0, NNC_REDUCE_NONE);
}

static void head_tail(const am_task *t, const double *cl, double *head, double *tail) {
  int d = t->d, nh = d / 10, nt = d / 2;
  double h = 0, tl = 0;
  for (int k = 0; k < nh; k++) h += cl[k];
  for (int k = d - nt; k < d; k++) tl += cl[k];
  *head = h / nh;
  *tail = tl / nt;
}

static void am_run(const am_task *t, int e, const am_opt *o, int snap_step, am_result *res) {
  memset(res, 0, sizeof *res);
  int d = t->d;
  res->curve = malloc(sizeof(double) * (size_t)(t->max_steps + 1));
  nnc_params P;
  nnc_params_init(&P, NNC_F32);
  nnc_tensor *w = nnc_params_add(&P, "W", NNC_SHAPE(d, d)); /* W_0 = 0 */
  nnc_optim opt;
  if (o->kind == AM_GD) nnc_sgd_init(&opt, &P, o->lr, 0.9, 0, false);
  else if (o->kind == AM_ADAM) nnc_adam_init(&opt, &P, o->lr, 0.9, 0.95, 1e-8, 0);
  else {
    nnc_sgd_init(&opt, &P, o->lr, 0, 0, false); /* the base rule has nothing left to update */
    nnc_muon_attach(&opt, o->lr, 0.95, 0);
    nnc_muon_use(&opt, "W", true);
  }
  double t0 = nnc_now();
  for (int s = 0;; s++) {
    nnc_params_zero_grad(&P);
    nnc_tensor *cl = am_class_losses(t, e, w);
    nnc_tensor *loss = nnc_sum_all(nnc_mul(cl, t->p));
    double l = nnc_item(loss);
    res->curve[s] = l;
    res->steps = s;
    if (s == snap_step)
      for (int k = 0; k < d; k++) res->snap[k] = nnc_get(cl, k);
    if (l < AM_TARGET || s >= t->max_steps || !isfinite(l)) {
      res->reached = l < AM_TARGET;
      for (int k = 0; k < d; k++) res->class_loss[k] = nnc_get(cl, k);
      nnc_step_end();
      if (snap_step > s) /* not reached: keep the final losses */
        memcpy(res->snap, res->class_loss, sizeof res->snap);
      break;
    }
    nnc_backward(loss);
    nnc_optim_step(&opt);
    nnc_step_end();
  }
  res->seconds = nnc_now() - t0;
  head_tail(t, res->class_loss, &res->head, &res->tail);
  res->ratio = res->tail / res->head;
  nnc_optim_free(&opt);
  nnc_params_free(&P);
}

static nnc_status am_plots(nnc_paper_run *r, const am_task *t, am_result res[N_AM_OPTS][N_EMB]) {
  /* loss curves: one panel per embedding kind (one-hot, rotated) */
  nnc_series s[2][N_AM_OPTS];
  nnc_svg_panel panels[2];
  for (int e = 0; e < 2; e++) {
    for (int o = 0; o < N_AM_OPTS; o++)
      s[e][o] = (nnc_series){AM_OPTS[o].label, NULL, res[o][e].curve, res[o][e].steps + 1};
    panels[e] = (nnc_svg_panel){.title = e == EMB_ONEHOT ? "one-hot embeddings" : "rotated embeddings",
                                .xlabel = "step", .ylabel = "loss sum_k p_k CE_k (log)", .series = s[e],
                                .nseries = N_AM_OPTS, .log_y = true};
  }
  nnc_status st = nnc_svg_panels(nnc_paper_path(r, "memory_loss.svg"),
                                 "Associative memory, p_k ~ 1/k: frequency-weighted loss until it is below 0.5", panels, 2);
  if (st) return st;
  /* per-class loss against class rank when stopped */
  static double xs[AM_MAX_D];
  for (int k = 0; k < t->d; k++) xs[k] = k + 1;
  nnc_series c[2][N_AM_OPTS];
  for (int e = 0; e < 2; e++) {
    for (int o = 0; o < N_AM_OPTS; o++) c[e][o] = (nnc_series){AM_OPTS[o].label, xs, res[o][e].class_loss, t->d};
    panels[e] = (nnc_svg_panel){.title = e == EMB_ONEHOT ? "one-hot embeddings" : "rotated embeddings",
                                .xlabel = "class rank k (p_k ~ 1/k)", .ylabel = "CE of class k (log)", .series = c[e],
                                .nseries = N_AM_OPTS, .log_x = true, .log_y = true};
  }
  if ((st = nnc_svg_panels(nnc_paper_path(r, "memory_class_loss.svg"),
                           "Per-class loss when the weighted loss reaches 0.5: flat = balanced head and tail", panels, 2)))
    return st;
  /* head vs tail bars at the larger learning rate of each optimiser */
  static char names[24][48];
  const char *np[24];
  double v[24];
  int n = 0;
  const int pick[3] = {0, 3, 5}; /* GD lr 1, Adam lr 1e-2, Muon lr 0.1 */
  static const char *const shortname[3] = {"GD", "Adam", "Muon"};
  for (int i = 0; i < 3; i++)
    for (int e = 0; e < 2; e++)
      for (int ht = 0; ht < 2; ht++) {
        snprintf(names[n], sizeof names[n], "%s %s %s", shortname[i], e ? "rot" : "1hot", ht ? "tail" : "head");
        np[n] = names[n];
        v[n++] = ht ? res[pick[i]][e].tail : res[pick[i]][e].head;
      }
  return nnc_svg_bar_chart(nnc_paper_path(r, "memory_head_tail.svg"),
                           "Head (top 10%) vs tail (bottom 50%) class loss when the weighted loss reaches 0.5",
                           "mean cross-entropy", np, v, n);
}

static nnc_status associative_memory(nnc_paper_run *r) {
  am_task t;
  int d = r->quick ? 32 : AM_MAX_D;
  nnc_status st = am_task_make(&t, d, r->seed);
  if (st) {
    am_task_free(&t);
    return st;
  }
  t.max_steps = r->quick ? 3000 : 8000;
  static am_result res[N_AM_OPTS][N_EMB];
  char name[128];
  for (int o = 0; o < N_AM_OPTS; o++) {
    for (int e = 0; e < N_EMB; e++) {
      /* the rotated runs snapshot the per-class losses at the one-hot run's stopping step */
      am_run(&t, e, &AM_OPTS[o], e == EMB_ONEHOT ? -1 : res[o][EMB_ONEHOT].steps, &res[o][e]);
      const am_result *a = &res[o][e];
      nnc_paper_log(r, "memory d=%d %-13s %-18s steps %5d%s  head %.4f tail %.4f  tail/head %8.2f  (%.2f s)", d,
                    AM_OPTS[o].label, EMB_NAME[e], a->steps, a->reached ? "" : " (not reached)", a->head, a->tail,
                    a->ratio, a->seconds);
      static const char *const ek[N_EMB] = {"onehot", "rot", "rot2"};
      char key[64];
      snprintf(key, sizeof key, "%s_%s", AM_OPTS[o].label, ek[e]);
      for (char *c = key; *c; c++)
        if (*c == ' ') *c = '_';
      snprintf(name, sizeof name, "memory_%s_steps", key);
      nnc_paper_metric(r, name, a->reached ? a->steps : NAN);
      snprintf(name, sizeof name, "memory_%s_tail_over_head", key);
      nnc_paper_metric(r, name, a->ratio);
      snprintf(name, sizeof name, "memory_%s_head_loss", key);
      nnc_paper_metric(r, name, a->head);
      snprintf(name, sizeof name, "memory_%s_tail_loss", key);
      nnc_paper_metric(r, name, a->tail);
    }
  }
  /* Muon's rotation equivariance: per-class losses, one-hot vs rotated, at the same step */
  double equi = 0;
  for (int o = 4; o < 6; o++)
    for (int e = EMB_ROT; e < N_EMB; e++)
      for (int k = 0; k < d; k++) equi = fmax(equi, fabs(res[o][e].snap[k] - res[o][EMB_ONEHOT].class_loss[k]));
  double muon_worst = 0, adam_onehot_worst = 0, adam_rot_best = INFINITY, gd_best = INFINITY;
  int not_reached = 0;
  for (int o = 0; o < N_AM_OPTS; o++)
    for (int e = 0; e < N_EMB; e++) {
      const am_result *a = &res[o][e];
      not_reached += !a->reached;
      if (AM_OPTS[o].kind == AM_MUON) muon_worst = fmax(muon_worst, a->ratio);
      if (AM_OPTS[o].kind == AM_ADAM && e == EMB_ONEHOT) adam_onehot_worst = fmax(adam_onehot_worst, a->ratio);
      if (AM_OPTS[o].kind == AM_ADAM && e != EMB_ONEHOT) adam_rot_best = fmin(adam_rot_best, a->ratio);
      if (AM_OPTS[o].kind == AM_GD) gd_best = fmin(gd_best, a->ratio);
    }
  nnc_paper_criterion(r, "memory_runs_not_reaching_target", not_reached, "<=", 0);
  nnc_paper_criterion(r, "memory_muon_worst_tail_over_head", muon_worst, "<=", 3);
  nnc_paper_criterion(r, "memory_muon_onehot_vs_rotated_max_class_loss_diff", equi, "<=", 1e-3);
  nnc_paper_criterion(r, "memory_adam_onehot_worst_tail_over_head", adam_onehot_worst, "<=", 2);
  nnc_paper_criterion(r, "memory_adam_rotated_best_tail_over_head", adam_rot_best, ">=", r->quick ? 5 : 20);
  nnc_paper_criterion(r, "memory_gd_best_tail_over_head", gd_best, ">=", r->quick ? 10 : 50);
  if (!r->quick) st = am_plots(r, &t, res);
  for (int o = 0; o < N_AM_OPTS; o++)
    for (int e = 0; e < N_EMB; e++) free(res[o][e].curve);
  am_task_free(&t);
  return st;
}

/* ---------------------------------------------------------------- 2. Fashion-MNIST */
#define MAX_EVALS 128

typedef struct {
  const char *label;
  bool muon;
  double lr;      /* AdamW's lr (the base rule) */
  double muon_lr; /* Muon's */
} fm_arm;

typedef struct {
  int n;                          /* evaluations */
  double step[MAX_EVALS], acc[MAX_EVALS], secs[MAX_EVALS], loss[MAX_EVALS]; /* loss: mean train loss since the last */
  double final_acc, seconds, ms_per_step;
  int n_muon;                     /* parameters Muon updated */
} fm_result;

/* trains a model of `spec` for `steps` steps (batch 128, cosine schedule to 0 over the steps),
 * evaluating on `test` every `every` steps; training time excludes the evaluations */
static nnc_status fm_train(nnc_paper_run *r, const char *model, const fm_arm *a, uint64_t seed, int steps, int every,
                           const nnc_dataset *train, const nnc_dataset *test, fm_result *res) {
  memset(res, 0, sizeof *res);
  const nnc_model_spec *spec = nnc_model_find(model);
  if (!spec) return nnc_error(NNC_ERR_ARG, "muon: no model '%s'", model);
  nnc_params P, B;
  nnc_params_init(&P, NNC_F32);
  nnc_params_init(&B, NNC_F32);
  nnc_rng rng;
  nnc_rng_seed(&rng, seed, 1);
  nnc_module *net = spec->build(&P, &B, &rng);
  nnc_group_no_decay_1d(&P);
  nnc_optim opt;
  nnc_adamw_init(&opt, &P, a->lr, 0.9, 0.95, 1e-10, 0.01); /* muon.py's aux Adam settings, for both arms */
  if (a->muon) {
    nnc_muon_attach(&opt, a->muon_lr, 0.95, 0.01);
    for (int k = 0; k < P.count; k++) res->n_muon += nnc_muon_owns(&opt, k);
  }
  nnc_schedule sched = nnc_sched_cosine(a->lr, steps, 0);
  nnc_batcher batches;
  nnc_status st = nnc_batcher_init(&batches, train->n, 128, seed, true, true);
  if (st) goto done;
  double train_secs = 0, loss_sum = 0;
  int loss_n = 0;
  nnc_module_train(net, true);
  for (int s = 0; s < steps; s++) {
    const int64_t *idx;
    int64_t m;
    while ((m = nnc_batcher_next(&batches, &idx)) == 0) {
    }
    double t0 = nnc_now();
    nnc_tensor *x = nnc_empty(NNC_F32, NNC_SHAPE(m, 784)), *y = nnc_empty(NNC_I64, NNC_SHAPE(m));
    nnc_dataset_gather(train, idx, m, x, y);
    nnc_params_zero_grad(&P);
    nnc_tensor *loss = nnc_cross_entropy(nnc_forward(net, x), y, 0, NNC_REDUCE_MEAN);
    double l = nnc_item(loss);
    if (!isfinite(l)) {
      st = nnc_error(NNC_ERR_ARG, "muon: %s %s: the loss is not finite at step %d", model, a->label, s);
      nnc_step_end();
      break;
    }
    nnc_backward(loss);
    opt.lr = nnc_schedule_lr(&sched, s);
    nnc_optim_step(&opt);
    nnc_step_end();
    train_secs += nnc_now() - t0;
    loss_sum += l;
    loss_n++;
    if ((s + 1) % every == 0 || s + 1 == steps) {
      nnc_eval_result ev = nnc_evaluate(net, test, NULL);
      if (res->n < MAX_EVALS) {
        res->step[res->n] = s + 1;
        res->acc[res->n] = ev.acc;
        res->secs[res->n] = train_secs;
        res->loss[res->n] = loss_sum / loss_n;
        res->n++;
      }
      loss_sum = 0;
      loss_n = 0;
      res->final_acc = ev.acc;
    }
  }
  res->seconds = train_secs;
  res->ms_per_step = 1e3 * train_secs / steps;
  nnc_paper_log(r, "%s %-22s seed %llu: %d steps, test acc %.2f%%, %.2f ms/step (training only)", model, a->label,
                (unsigned long long)seed, steps, 100 * res->final_acc, res->ms_per_step);
  nnc_batcher_free(&batches);
done:
  nnc_optim_free(&opt);
  nnc_module_free(net);
  nnc_params_free(&P);
  nnc_params_free(&B);
  nnc_step_end();
  return st;
}

/* the first evaluation step (and its training seconds) at which acc >= target; NaN if never */
static double steps_to(const fm_result *res, double target, double *secs) {
  for (int i = 0; i < res->n; i++)
    if (res->acc[i] >= target) {
      if (secs) *secs = res->secs[i];
      return res->step[i];
    }
  if (secs) *secs = NAN;
  return NAN;
}

static nnc_status fm_plot(nnc_paper_run *r, const char *file, const char *title, const fm_arm *arms, int n_arms,
                          fm_result *res, int seeds) {
  static char names[16][64];
  static double pct[16][MAX_EVALS];
  nnc_series acc[16], loss[16];
  int n = 0;
  for (int a = 0; a < n_arms; a++)
    for (int s = 0; s < seeds && n < 16; s++, n++) {
      const fm_result *x = &res[a * seeds + s];
      snprintf(names[n], sizeof names[n], "%s, seed %d", arms[a].label, s);
      for (int i = 0; i < x->n; i++) pct[n][i] = 100 * x->acc[i];
      acc[n] = (nnc_series){names[n], x->step, pct[n], x->n};
      loss[n] = (nnc_series){names[n], x->step, x->loss, x->n};
    }
  nnc_svg_panel p[2] = {
      {.title = "test accuracy", .xlabel = "step", .ylabel = "%", .series = acc, .nseries = n},
      {.title = "training loss (mean between evaluations)", .xlabel = "step", .ylabel = "cross-entropy (log)",
       .series = loss, .nseries = n, .log_y = true},
  };
  return nnc_svg_panels(nnc_paper_path(r, file), title, p, 2);
}

static nnc_status fashion(nnc_paper_run *r) {
  nnc_dataset train, test;
  nnc_status st = nnc_fashion_load(r->data_dir, true, &train);
  if (st) return st;
  if ((st = nnc_fashion_load(r->data_dir, false, &test))) {
    nnc_dataset_free(&train);
    return st;
  }
  char name[128];
  /* MLP: AdamW at two learning rates vs Muon (lr 0.02 on fc2; AdamW 1e-3 on the rest) */
  const fm_arm mlp_arms[3] = {{"AdamW lr 1e-3", false, 1e-3, 0},
                              {"AdamW lr 3e-3", false, 3e-3, 0},
                              {"Muon 0.02 + AdamW 1e-3", true, 1e-3, 0.02}};
  int seeds = r->quick ? 1 : 2, steps = r->quick ? 100 : 3 * 468, every = r->quick ? 50 : 39;
  nnc_tensor hdr[4];
  nnc_dataset te = nnc_dataset_head(&test, r->quick ? 2000 : 0, hdr);
  static fm_result mlp[3 * 2];
  for (int a = 0; a < 3 && !st; a++)
    for (int s = 0; s < seeds && !st; s++)
      st = fm_train(r, "fashion-mlp", &mlp_arms[a], r->seed + (uint64_t)s, steps, every, &train, &te, &mlp[a * seeds + s]);
  if (st) goto done;
  static const char *const mkey[3] = {"adamw1e-3", "adamw3e-3", "muon"};
  double mean_final[3] = {0}, mean_steps85[3] = {0}, mean_steps87[3] = {0}, mean_ms[3] = {0}, mean_secs87[3] = {0};
  for (int a = 0; a < 3; a++) {
    for (int s = 0; s < seeds; s++) {
      fm_result *x = &mlp[a * seeds + s];
      double secs;
      mean_final[a] += x->final_acc / seeds;
      mean_steps85[a] += steps_to(x, 0.85, NULL) / seeds;
      mean_steps87[a] += steps_to(x, 0.87, &secs) / seeds;
      mean_secs87[a] += secs / seeds;
      mean_ms[a] += x->ms_per_step / seeds;
      snprintf(name, sizeof name, "mlp_%s_seed%d_test_acc", mkey[a], s);
      nnc_paper_metric(r, name, x->final_acc);
    }
    snprintf(name, sizeof name, "mlp_%s_mean_test_acc", mkey[a]);
    nnc_paper_metric(r, name, mean_final[a]);
    snprintf(name, sizeof name, "mlp_%s_mean_steps_to_85pct", mkey[a]);
    nnc_paper_metric(r, name, mean_steps85[a]);
    snprintf(name, sizeof name, "mlp_%s_mean_steps_to_87pct", mkey[a]);
    nnc_paper_metric(r, name, mean_steps87[a]);
    snprintf(name, sizeof name, "mlp_%s_mean_train_seconds_to_87pct", mkey[a]);
    nnc_paper_metric(r, name, mean_secs87[a]);
    snprintf(name, sizeof name, "mlp_%s_ms_per_step", mkey[a]);
    nnc_paper_metric(r, name, mean_ms[a]);
    nnc_paper_log(r, "MLP %-24s final %.2f%%  steps to 85%% %.0f, to 87%% %.0f (%.1f s)  %.2f ms/step", mlp_arms[a].label,
                  100 * mean_final[a], mean_steps85[a], mean_steps87[a], mean_secs87[a], mean_ms[a]);
  }
  nnc_paper_metric(r, "mlp_muon_params", mlp[2 * seeds].n_muon);
  if (r->quick) {
    nnc_paper_criterion(r, "quick_mlp_muon_100_steps_test_acc", mlp[2 * seeds].final_acc, ">", 0.7);
    nnc_paper_criterion(r, "quick_mlp_muon_owns_fc2_only", mlp[2 * seeds].n_muon, "<=", 1);
    goto done;
  }
  double best_adamw = fmax(mean_final[0], mean_final[1]);
  nnc_paper_criterion(r, "mlp_muon_minus_best_adamw_mean_test_acc", mean_final[2] - best_adamw, ">=", 0.0);
  nnc_paper_criterion(r, "mlp_muon_steps_to_87pct_over_best_adamw",
                      mean_steps87[2] / fmin(mean_steps87[0], mean_steps87[1]), "<=", 1.0);
  if ((st = fm_plot(r, "mlp_curves.svg", "fashion-mlp (784-256-256-10): Muon on fc2 vs AdamW", mlp_arms, 3, mlp, seeds)))
    goto done;

  /* CNN: a short budget (see README) */
  const fm_arm cnn_arms[2] = {{"AdamW lr 1e-3", false, 1e-3, 0}, {"Muon 0.02 + AdamW 1e-3", true, 1e-3, 0.02}};
  int cnn_steps = 60;
  nnc_dataset te2 = nnc_dataset_head(&test, 2000, hdr + 2);
  static fm_result cnn[2];
  for (int a = 0; a < 2 && !st; a++)
    st = fm_train(r, "fashion-cnn", &cnn_arms[a], r->seed, cnn_steps, 10, &train, &te2, &cnn[a]);
  if (st) goto done;
  static const char *const ckey[2] = {"adamw1e-3", "muon"};
  for (int a = 0; a < 2; a++) {
    snprintf(name, sizeof name, "cnn_%s_test_acc_after_%d_steps", ckey[a], cnn_steps);
    nnc_paper_metric(r, name, cnn[a].final_acc);
    snprintf(name, sizeof name, "cnn_%s_steps_to_80pct", ckey[a]);
    nnc_paper_metric(r, name, steps_to(&cnn[a], 0.80, NULL));
    nnc_paper_log(r, "CNN %-24s %d steps: test acc (2000 images) %.2f%%, steps to 80%% %.0f, %.0f ms/step", cnn_arms[a].label,
                  cnn_steps, 100 * cnn[a].final_acc, steps_to(&cnn[a], 0.80, NULL), cnn[a].ms_per_step);
    snprintf(name, sizeof name, "cnn_%s_ms_per_step", ckey[a]);
    nnc_paper_metric(r, name, cnn[a].ms_per_step);
  }
  nnc_paper_metric(r, "cnn_muon_params", cnn[1].n_muon);
  st = fm_plot(r, "cnn_curves.svg", "fashion-cnn, 60 steps (cosine to 0): Muon on conv2 and fc1 vs AdamW", cnn_arms, 2, cnn, 1);
done:
  nnc_dataset_free(&train);
  nnc_dataset_free(&test);
  return st;
}

static nnc_status run(nnc_paper_run *r) {
  nnc_status st = associative_memory(r);
  if (!st) st = fashion(r);
  return st;
}

NNC_PAPER(muon_paper, .slug = "muon",
          .title = "Muon Outperforms Adam in Tail-End Associative Memory Learning (Wang et al., arXiv 2509.26030), with "
                   "the Muon optimiser (K. Jordan et al., 2024)",
          .claim = "in a linear associative memory with p_k ~ 1/k, Muon learns tail classes as fast as head classes "
                   "whatever the embeddings; Adam only with one-hot embeddings, GD never",
          .run = run);
