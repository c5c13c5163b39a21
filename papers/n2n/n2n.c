/* papers/n2n/n2n.c: "N2N Learning: Network to Network Compression via Policy Gradient
 * Reinforcement Learning" (Ashok, Rhinehart, Beainy, Kitani; ICLR 2018), in miniature.
 *
 * A teacher network is compressed by two policies trained with REINFORCE:
 *   stage 1 (layer removal): a bidirectional LSTM reads one embedding per teacher layer and
 *     outputs, for every removable layer, a distribution over {keep, remove};
 *   stage 2 (layer shrinkage): an LSTM cell runs over the layers of the stage-1 result,
 *     autoregressively (the previous choice is part of the next input), and picks for each
 *     hidden layer a width factor in {0.25, 0.5, 0.75, 1} (new width max(floor(w f), 10)).
 * Every sampled student inherits its parent's weights (kept layers whole, shrunk layers as the
 * sub-matrix of their first units), is distilled from the teacher's logits (MSE) for one epoch
 * on a fixed subset, scored on a fixed validation split, and rewarded
 *   R = (acc_s / acc_t) * C (2 - C),   C = 1 - params_s / params_t,   R = -1 if invalid
 * (a removal whose neighbours' shapes no longer meet).  The policy's loss for N rollouts is
 *   -(1/N) sum_i (R_i - b) sum_t log pi(a_it),   b an exponential moving average of past mean
 * rewards (the official code credits every rollout with the batch mean and uses a running mean
 * biased towards 0; see batch1 §7's pitfalls).  Students are cached by architecture (the
 * distillation is deterministic), as the official code does.
 *
 * Setup (full run): teacher MLP 784-[256]x6-10 (ReLU), Adam 1e-3 with a cosine decay, 5 epochs
 * on 58 000 training images; validation = the last 2 000 training images; distillation subset
 * = the first 10 000 (Adam 3e-3, cosine, batch 64).  Layer embedding [in/784, out/784,
 * onehot(index)] (the hidden layers are identical, so only the index tells them apart).  The
 * policies' output layers start at zero (uniform policies); Adam 0.03 for both; baseline decay
 * 0.8.  Stage 1 may remove any hidden layer (removing the first is invalid, R = -1: the next
 * layer expects 256 inputs, not 784); stage 2 shrinks every hidden layer of the stage-1
 * greedy student (its parent is that student after its 1-epoch distillation).  5 rollouts x
 * 25 iterations per stage.  The greedy (arg-max) student of both stages is then distilled for
 * 10 epochs on the 58 000 images (Adam 1e-2, cosine) and compared with the teacher on the test
 * set; the same architecture trained from scratch on labels (10 epochs, Adam 1e-3, cosine) is
 * the reference for what inheritance and distillation buy.  Ablations: stage 1 with the
 * official code's credit assignment, and stage 2 alone on the teacher.  --quick: unit criteria
 * (reward values, sampler frequencies, policy log-prob gradients against central differences,
 * surgery, both policies learning a synthetic target) and a tiny end-to-end run. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "nnc.h"
#include "papers/paper.h"
#include "train/classifier.h"

#define IN 784
#define CLASSES 10
#define MAX_HIDDEN 12 /* hidden layers of any network here */
#define MAX_T (MAX_HIDDEN + 1)
#define EMB (2 + MAX_T) /* layer embedding: in/784, out/784, one-hot of the layer's index */
#define POLICY_HIDDEN 16
#define N_FACTORS 4
static const double FACTORS[N_FACTORS] = {0.25, 0.5, 0.75, 1.0};
#define MIN_WIDTH 10
#define MAX_ROLL 16 /* rollouts per iteration */

/* ---- the reward (rl.py::Reward, unconstrained) ---- */

/* R = (acc_s / acc_t) * C (2 - C) with C = 1 - params_s / params_t; -1 for an invalid student */
static double n2n_reward(bool valid, double acc_s, double acc_t, int64_t params_s, int64_t params_t) {
  if (!valid) return -1;
  double c = 1 - (double)params_s / (double)params_t;
  return acc_s / acc_t * c * (2 - c);
}

/* ---- MLPs and surgery ---- */

typedef struct {
  int n;                      /* hidden layers */
  int64_t width[MAX_HIDDEN];  /* their output widths */
} arch;

typedef struct {
  arch a;
  nnc_params P;
  nnc_sequential_mod *net; /* Linear, ReLU, Linear, ..., Linear (children 0, 2, ..., 2n) */
} mlp;

static int64_t layer_in(const arch *a, int j) { return j == 0 ? IN : a->width[j - 1]; }
static int64_t layer_out(const arch *a, int j) { return j == a->n ? CLASSES : a->width[j]; }

/* sum over the n+1 Linear layers of in*out + out */
static int64_t arch_params(const arch *a) {
  int64_t s = 0;
  for (int j = 0; j <= a->n; j++) s += layer_in(a, j) * layer_out(a, j) + layer_out(a, j);
  return s;
}

static void arch_str(const arch *a, char *buf, size_t size) {
  int k = snprintf(buf, size, "784");
  for (int j = 0; j < a->n && k < (int)size; j++) k += snprintf(buf + k, size - (size_t)k, "-%lld", (long long)a->width[j]);
  if (k < (int)size) snprintf(buf + k, size - (size_t)k, "-10");
}

static void mlp_build(mlp *m, const arch *a, nnc_rng *rng) {
  int64_t sizes[MAX_HIDDEN + 2];
  sizes[0] = IN;
  for (int j = 0; j < a->n; j++) sizes[j + 1] = a->width[j];
  sizes[a->n + 1] = CLASSES;
  m->a = *a;
  nnc_params_init(&m->P, NNC_F32);
  m->net = nnc_new_mlp(&m->P, "", a->n + 2, sizes, NNC_ACT_RELU, rng);
}

static void mlp_free(mlp *m) {
  nnc_module_free(&m->net->base);
  nnc_params_free(&m->P);
}

static nnc_linear_mod *mlp_linear(const mlp *m, int j) { return (nnc_linear_mod *)m->net->base.children[2 * j]; }

/* A student of `parent`: hidden layer l of the parent is kept when keep[l] (keep NULL: all),
 * and the j-th kept layer's width becomes max(floor(width * factor[j]), MIN_WIDTH), at most its
 * parent's width (factor NULL: unchanged).  Returns false, building nothing, when the kept layers' shapes do not meet (a
 * removed layer changed the width between its neighbours).  Otherwise builds *s with every
 * Linear layer the top-left block of its parent layer: W_s[r][c] = W_p[r][c] for the student's
 * r < out, c < in (units keep their index; a shrunk layer keeps its first units). */
static bool student_from(const mlp *parent, const bool *keep, const double *factor, mlp *s, arch *out_arch) {
  const arch *pa = &parent->a;
  int src[MAX_HIDDEN + 1], n = 0;
  for (int l = 0; l < pa->n; l++)
    if (!keep || keep[l]) src[n++] = l;
  src[n] = pa->n; /* the head */
  arch a = {.n = n};
  for (int j = 0; j <= n; j++) { /* the parent width arriving at each kept layer must be its input width */
    int64_t arriving = j == 0 ? IN : pa->width[src[j - 1]];
    if (arriving != layer_in(pa, src[j])) return false;
  }
  for (int j = 0; j < n; j++) {
    int64_t w = pa->width[src[j]];
    if (factor) w = (int64_t)floor((double)w * factor[j]);
    if (w < MIN_WIDTH) w = MIN_WIDTH;
    a.width[j] = w < pa->width[src[j]] ? w : pa->width[src[j]]; /* never wider than the parent */
  }
  if (out_arch) *out_arch = a;
  if (!s) return true;
  mlp_build(s, &a, NULL);
  for (int j = 0; j <= n; j++) {
    nnc_linear_mod *d = mlp_linear(s, j), *p = mlp_linear(parent, src[j]);
    int64_t out = d->out, in = d->in;
    float *dw = nnc_f32(d->weight), *db = nnc_f32(d->bias);
    const float *pw = nnc_f32(p->weight), *pb = nnc_f32(p->bias);
    for (int64_t r = 0; r < out; r++) {
      memcpy(dw + r * in, pw + r * p->in, (size_t)in * sizeof *dw);
      db[r] = pb[r];
    }
  }
  return true;
}

/* ---- data ---- */

typedef struct {
  nnc_dataset train, val, test; /* teacher training images, validation split, test set */
  nnc_dataset tlogits;          /* x = the teacher's logits on `train` [n, 10], y = NULL */
} data;

/* rows start .. start+n-1 of src as a new dataset (copies) */
static nnc_status subset(const nnc_dataset *src, int64_t start, int64_t n, nnc_dataset *out) {
  memset(out, 0, sizeof *out);
  int64_t row = nnc_numel(src->x) / src->n;
  out->x = nnc_heap_tensor_uninit(src->x->dtype, NNC_SHAPE(n, row));
  out->y = src->y ? nnc_heap_tensor_uninit(NNC_I64, NNC_SHAPE(n)) : NULL;
  if (!out->x || (src->y && !out->y)) {
    nnc_dataset_free(out);
    return NNC_ERR_NOMEM;
  }
  memcpy(nnc_data(out->x), (const char *)nnc_data(src->x) + (size_t)(start * row) * nnc_dtype_size(src->x->dtype),
         (size_t)(n * row) * nnc_dtype_size(src->x->dtype));
  if (src->y) memcpy(nnc_data(out->y), nnc_i64(src->y) + start, (size_t)n * sizeof(int64_t));
  out->n = n;
  out->num_classes = src->num_classes;
  return NNC_OK;
}

/* the teacher's logits on d.train, into d.tlogits */
static nnc_status teacher_logits(mlp *t, data *d) {
  int64_t n = d->train.n;
  d->tlogits.x = nnc_heap_tensor_uninit(NNC_F32, NNC_SHAPE(n, CLASSES));
  if (!d->tlogits.x) return NNC_ERR_NOMEM;
  d->tlogits.n = n;
  nnc_no_grad_begin();
  int64_t idx[1000];
  for (int64_t s = 0; s < n; s += 1000) {
    int64_t m = n - s < 1000 ? n - s : 1000;
    for (int64_t i = 0; i < m; i++) idx[i] = s + i;
    nnc_tensor *x = nnc_empty(NNC_F32, NNC_SHAPE(m, IN));
    nnc_dataset_gather(&d->train, idx, m, x, NULL);
    nnc_tensor *y = nnc_contiguous(nnc_forward(&t->net->base, x));
    memcpy(nnc_f32(d->tlogits.x) + s * CLASSES, nnc_f32(y), (size_t)(m * CLASSES) * sizeof(float));
    nnc_step_end();
  }
  nnc_no_grad_end();
  return NNC_OK;
}

/* ---- training: the teacher on labels, students on the teacher's logits ---- */

typedef struct {
  int epochs, batch;
  double lr;
} fit_cfg;

/* cross-entropy on labels with Adam, the lr decayed to 0 by a cosine over all steps (for the
 * teacher and the from-scratch reference) */
static double train_labels(mlp *m, const nnc_dataset *train, fit_cfg c, uint64_t seed) {
  nnc_optim opt;
  nnc_adam_init(&opt, &m->P, c.lr, 0.9, 0.999, 1e-8, 0);
  nnc_batcher b;
  double loss = NAN;
  if (nnc_batcher_init(&b, train->n, c.batch, seed, true, false) == NNC_OK) {
    nnc_schedule sched = nnc_sched_cosine(c.lr, c.epochs * nnc_batcher_batches_per_epoch(&b), 0);
    nnc_fit fit = {.model = &m->net->base, .params = &m->P, .opt = &opt, .sched = &sched, .quiet = true};
    int64_t step = 0;
    for (int e = 0; e < c.epochs; e++) loss = nnc_fit_epoch(&fit, train, &b, &step);
    nnc_batcher_free(&b);
  }
  nnc_optim_free(&opt);
  return loss;
}

/* logit distillation: MSE(student(x), teacher_logits(x)) over the first n training images,
 * Adam with a cosine decay to 0, the batch order fixed by seed; returns the last epoch's mean
 * loss */
static double distill(mlp *s, const data *d, int64_t n, fit_cfg c, uint64_t seed) {
  nnc_optim opt;
  nnc_adam_init(&opt, &s->P, c.lr, 0.9, 0.999, 1e-8, 0);
  nnc_batcher b;
  double sum = NAN;
  if (nnc_batcher_init(&b, n, c.batch, seed, true, false) == NNC_OK) {
    nnc_schedule sched = nnc_sched_cosine(c.lr, c.epochs * nnc_batcher_batches_per_epoch(&b), 0);
    for (int e = 0; e < c.epochs; e++) {
      const int64_t *idx;
      int64_t m, batches = 0;
      sum = 0;
      while ((m = nnc_batcher_next(&b, &idx)) > 0) {
        nnc_tensor *x = nnc_empty(NNC_F32, NNC_SHAPE(m, IN)), *t = nnc_empty(NNC_F32, NNC_SHAPE(m, CLASSES));
        nnc_dataset_gather(&d->train, idx, m, x, NULL);
        nnc_dataset_gather(&d->tlogits, idx, m, t, NULL);
        nnc_tensor *loss = nnc_mse(nnc_forward(&s->net->base, x), t, NNC_REDUCE_MEAN);
        sum += nnc_item(loss);
        batches++;
        nnc_params_zero_grad(&s->P);
        nnc_backward(loss);
        opt.lr = nnc_schedule_lr(&sched, opt.steps);
        nnc_optim_step(&opt);
        nnc_step_end();
      }
      sum /= (double)batches;
    }
    nnc_batcher_free(&b);
  }
  nnc_optim_free(&opt);
  return sum;
}

/* ---- the policies ---- */

typedef enum { POLICY_REMOVAL, POLICY_SHRINK } policy_kind;
typedef enum { ACT_SAMPLE, ACT_GREEDY, ACT_GIVEN } act_mode;

typedef struct {
  policy_kind kind;
  nnc_params P;
  nnc_optim opt;
  nnc_rnn_mod *fwd, *bwd;  /* removal: the two directions */
  nnc_rnn_cell_mod *cell;  /* shrink */
  nnc_linear_mod *head;    /* hidden state(s) -> C logits */
  int T;                   /* layers read */
  int K, C;                /* actions per rollout, choices per action */
  int act_pos[MAX_T];      /* removal: the sequence position of each action */
  double emb[MAX_T][EMB];
} policy;

/* embeddings [in/784, out/784, onehot(l)] of the parent's layers l = 0..T-1 */
static void embed_layers(policy *p, const arch *a, int T) {
  p->T = T;
  for (int l = 0; l < T; l++) {
    p->emb[l][0] = (double)layer_in(a, l) / IN;
    p->emb[l][1] = (double)layer_out(a, l) / IN;
    p->emb[l][2 + l] = 1;
  }
}

/* stage 1: reads all n+1 layers of `a`, acts (0 keep, 1 remove) on hidden layers first..n-1 */
static void removal_init(policy *p, const arch *a, int first, nnc_dtype dt, double lr, uint64_t seed) {
  memset(p, 0, sizeof *p);
  p->kind = POLICY_REMOVAL;
  embed_layers(p, a, a->n + 1);
  p->C = 2;
  for (int l = first; l < a->n; l++) p->act_pos[p->K++] = l;
  nnc_rng rng;
  nnc_rng_seed(&rng, seed, 0x6e326e);
  nnc_params_init(&p->P, dt);
  p->fwd = nnc_new_rnn(&p->P, "fwd", NNC_RNN_LSTM, EMB, POLICY_HIDDEN, 1, true, &rng);
  p->bwd = nnc_new_rnn(&p->P, "bwd", NNC_RNN_LSTM, EMB, POLICY_HIDDEN, 1, true, &rng);
  p->head = nnc_new_linear(&p->P, "head", 2 * POLICY_HIDDEN, p->C, true, &rng);
  nnc_fill(p->head->weight, 0); /* a uniform policy at the start */
  nnc_fill(p->head->bias, 0);
  nnc_adam_init(&p->opt, &p->P, lr, 0.9, 0.999, 1e-8, 0);
}

/* stage 2: an LSTM cell over hidden layers 0..n-1 of `a`, input [embedding, onehot(prev action)] */
static void shrink_init(policy *p, const arch *a, nnc_dtype dt, double lr, uint64_t seed) {
  memset(p, 0, sizeof *p);
  p->kind = POLICY_SHRINK;
  embed_layers(p, a, a->n);
  p->K = a->n;
  p->C = N_FACTORS;
  nnc_rng rng;
  nnc_rng_seed(&rng, seed, 0x6e326e + 1);
  nnc_params_init(&p->P, dt);
  p->cell = nnc_new_rnn_cell(&p->P, "cell", NNC_RNN_LSTM, EMB + N_FACTORS, POLICY_HIDDEN, true, &rng);
  p->head = nnc_new_linear(&p->P, "head", POLICY_HIDDEN, p->C, true, &rng);
  nnc_fill(p->head->weight, 0);
  nnc_fill(p->head->bias, 0);
  nnc_adam_init(&p->opt, &p->P, lr, 0.9, 0.999, 1e-8, 0);
}

static void policy_free(policy *p) {
  nnc_optim_free(&p->opt);
  if (p->fwd) nnc_module_free(&p->fwd->base);
  if (p->bwd) nnc_module_free(&p->bwd->base);
  if (p->cell) nnc_module_free(&p->cell->base);
  nnc_module_free(&p->head->base);
  nnc_params_free(&p->P);
}

/* one action per row of logits [N, C] into a[0..N-1]: sampled from softmax, or the arg-max */
static void choose(const nnc_tensor *logits, act_mode mode, nnc_rng *rng, int64_t *a, int N) {
  nnc_tensor *pick = mode == ACT_SAMPLE ? nnc_categorical_sample(logits, rng) : nnc_argmax(nnc_detach(logits), 1, false);
  for (int i = 0; i < N; i++) a[i] = nnc_i64(pick)[i];
}

/* Logits [N*K, C] for N rollouts (row i*K + k: rollout i, action k).  actions [N*K]: filled
 * (ACT_SAMPLE, ACT_GREEDY) or read (ACT_GIVEN, for the gradient of chosen actions).
 * removal: x [1, T, EMB]; h = [LSTM_fwd(x), reverse(LSTM_bwd(reverse(x)))] [1, T, 2H];
 *          logits = head(h) at the action positions, the same for every rollout.
 * shrink:  for k = 0..K-1: x_k = [emb_k, onehot(a_{k-1})] [N, EMB + C] (zeros for k = 0),
 *          (h, c) = LSTMCell(x_k, (h, c)), logits_k = head(h) [N, C], a_k chosen from it. */
static nnc_tensor *policy_logits(policy *p, int N, int64_t *actions, act_mode mode, nnc_rng *rng) {
  nnc_dtype dt = p->P.dtype;
  int K = p->K, C = p->C, T = p->T;
  if (p->kind == POLICY_REMOVAL) {
    nnc_tensor *x = nnc_empty(dt, NNC_SHAPE(1, T, EMB)), *xr = nnc_empty(dt, NNC_SHAPE(1, T, EMB));
    nnc_tensor *rev = nnc_empty(NNC_I64, NNC_SHAPE(T)), *pos = nnc_empty(NNC_I64, NNC_SHAPE(K));
    for (int l = 0; l < T; l++) {
      for (int e = 0; e < EMB; e++) nnc_set(x, l * EMB + e, p->emb[l][e]), nnc_set(xr, l * EMB + e, p->emb[T - 1 - l][e]);
      nnc_i64(rev)[l] = T - 1 - l;
    }
    for (int k = 0; k < K; k++) nnc_i64(pos)[k] = p->act_pos[k];
    nnc_tensor *h2[2] = {nnc_forward(&p->fwd->base, x), nnc_index_select(nnc_forward(&p->bwd->base, xr), 1, rev)};
    nnc_tensor *h = nnc_index_select(nnc_reshape(nnc_concat(2, h2, 2), NNC_SHAPE(T, 2 * POLICY_HIDDEN)), 0, pos);
    nnc_tensor *one = nnc_forward(&p->head->base, h); /* [K, C] */
    nnc_tensor *rows[MAX_ROLL];
    for (int i = 0; i < N; i++) {
      rows[i] = one;
      if (mode != ACT_GIVEN) choose(one, mode, rng, actions + (int64_t)i * K, K);
    }
    return N == 1 ? one : nnc_concat(N, rows, 0);
  }
  nnc_tensor *h = NULL, *c = NULL, *steps[MAX_T];
  int64_t *prev = NULL, cur[MAX_ROLL];
  for (int k = 0; k < K; k++) {
    nnc_tensor *x = nnc_zeros(dt, NNC_SHAPE(N, EMB + C));
    for (int i = 0; i < N; i++) {
      for (int e = 0; e < EMB; e++) nnc_set(x, i * (EMB + C) + e, p->emb[k][e]);
      if (prev) nnc_set(x, i * (EMB + C) + EMB + prev[i], 1.0);
    }
    h = nnc_rnn_cell_forward(p->cell, x, h, c, &c);
    steps[k] = nnc_forward(&p->head->base, h); /* [N, C] */
    if (mode != ACT_GIVEN) {
      choose(steps[k], mode, rng, cur, N);
      for (int i = 0; i < N; i++) actions[(int64_t)i * K + k] = cur[i];
    } else
      for (int i = 0; i < N; i++) cur[i] = actions[(int64_t)i * K + k];
    prev = cur;
  }
  return nnc_reshape(nnc_stack(K, steps, 1), NNC_SHAPE(N * K, C));
}

/* the REINFORCE loss -(1/N) sum_i (R_i - b) sum_k log pi(a_ik) of given actions */
static nnc_tensor *policy_loss(policy *p, int N, int64_t *actions, const double *R, double b) {
  int K = p->K;
  nnc_tensor *logits = policy_logits(p, N, actions, ACT_GIVEN, NULL);
  nnc_tensor *a = nnc_empty(NNC_I64, NNC_SHAPE(N * K)), *adv = nnc_empty(p->P.dtype, NNC_SHAPE(N * K));
  for (int i = 0; i < N; i++)
    for (int k = 0; k < K; k++) {
      nnc_i64(a)[i * K + k] = actions[i * K + k];
      nnc_set(adv, i * K + k, (R[i] - b) / N);
    }
  return nnc_reinforce_loss(logits, a, adv);
}

/* one REINFORCE step of the policy's Adam */
static void policy_update(policy *p, int N, int64_t *actions, const double *R, double b) {
  nnc_params_zero_grad(&p->P);
  nnc_backward(policy_loss(p, N, actions, R, b));
  nnc_optim_step(&p->opt);
  nnc_step_end();
}

/* N sampled (or one greedy) action sequences into actions; returns the mean entropy per action */
static double policy_act(policy *p, int N, int64_t *actions, act_mode mode, nnc_rng *rng) {
  nnc_no_grad_begin();
  nnc_tensor *logits = policy_logits(p, N, actions, mode, rng);
  double h = nnc_item(nnc_mean_all(nnc_categorical_entropy(logits)));
  nnc_no_grad_end();
  nnc_step_end();
  return h;
}

/* ---- the compression experiment ---- */

#define MAX_ITERS 64
#define CACHE_MAX 1024

typedef struct {
  int teacher_hidden, teacher_width, rollouts, iters;
  int64_t n_train, n_val, n_distill, n_test;
  fit_cfg teacher_fit, student_fit, final_fit, scratch_fit;
  double lr_removal, lr_shrink, baseline_decay;
} config;

typedef struct {
  char key[160];
  double acc;
} cache_entry;

typedef struct {
  double mean[MAX_ITERS], best[MAX_ITERS], base[MAX_ITERS], entropy[MAX_ITERS];
  int iters, evaluated, cached, invalid;
  double seconds;
} stage_log;

typedef struct {
  nnc_paper_run *r;
  const config *cfg;
  data *d;
  double acc_t; /* the teacher's validation accuracy */
  int64_t params_t;
  cache_entry *cache; /* validation accuracies of the current parent's students */
  int n_cache;
  double best_R; /* the best sampled student of the main stages */
  arch best_arch;
} ctx;

/* builds, distils and scores one student; the reward, and the architecture in *a */
static double score_student(ctx *x, const mlp *parent, const bool *keep, const double *factor, arch *a, stage_log *lg) {
  if (!student_from(parent, keep, factor, NULL, a)) {
    lg->invalid++;
    return n2n_reward(false, 0, 0, 0, 0);
  }
  char key[160];
  arch_str(a, key, sizeof key);
  double acc = -1;
  for (int i = 0; i < x->n_cache; i++)
    if (!strcmp(x->cache[i].key, key)) acc = x->cache[i].acc;
  if (acc >= 0) {
    lg->cached++;
  } else {
    mlp s;
    student_from(parent, keep, factor, &s, NULL);
    distill(&s, x->d, x->cfg->n_distill, x->cfg->student_fit, x->r->seed + 17);
    acc = nnc_evaluate(&s.net->base, &x->d->val, NULL).acc;
    mlp_free(&s);
    lg->evaluated++;
    if (x->n_cache < CACHE_MAX) {
      snprintf(x->cache[x->n_cache].key, sizeof x->cache[0].key, "%s", key);
      x->cache[x->n_cache++].acc = acc;
    }
  }
  return n2n_reward(true, acc, x->acc_t, arch_params(a), x->params_t);
}

/* actions of one rollout -> keep mask (removal) or width factors (shrink) */
static void decode(const policy *p, const arch *parent, const int64_t *act, bool *keep, double *factor) {
  if (p->kind == POLICY_REMOVAL) {
    for (int l = 0; l < parent->n; l++) keep[l] = true;
    for (int k = 0; k < p->K; k++) keep[p->act_pos[k]] = act[k] == 0;
  } else
    for (int k = 0; k < p->K; k++) factor[k] = FACTORS[act[k]];
}

/* REINFORCE for cfg->iters iterations of cfg->rollouts students of `parent`.  official: the
 * N2N code's credit assignment instead of ours: every rollout gets mean(R) - b with
 * b = sum of the previous iterations' mean rewards / (iteration + 1) */
static void run_stage(ctx *x, policy *p, const mlp *parent, const char *name, stage_log *lg, uint64_t seed,
                      bool official) {
  const config *c = x->cfg;
  int N = c->rollouts, K = p->K;
  nnc_rng rng;
  nnc_rng_seed(&rng, seed, 0x726f6c6c);
  nnc_ema_baseline bl = nnc_ema_baseline_make(c->baseline_decay);
  double past = 0; /* official: the sum of past mean rewards */
  double t0 = nnc_now();
  for (int it = 0; it < c->iters; it++) {
    int64_t act[MAX_ROLL * MAX_T];
    double R[MAX_ROLL], credit[MAX_ROLL], mean = 0, best = -2, b;
    lg->entropy[it] = policy_act(p, N, act, ACT_SAMPLE, &rng);
    for (int i = 0; i < N; i++) {
      bool keep[MAX_HIDDEN];
      double factor[MAX_HIDDEN];
      arch a;
      decode(p, &parent->a, act + i * K, keep, factor);
      R[i] = score_student(x, parent, p->kind == POLICY_REMOVAL ? keep : NULL, p->kind == POLICY_SHRINK ? factor : NULL,
                           &a, lg);
      if (!official && R[i] > x->best_R) x->best_R = R[i], x->best_arch = a;
      mean += R[i] / N;
      best = fmax(best, R[i]);
    }
    if (official) {
      b = past / (it + 1);
      for (int i = 0; i < N; i++) credit[i] = mean;
      past += mean;
    } else {
      if (!bl.started) nnc_ema_baseline_update(&bl, mean); /* the first baseline: this batch's mean */
      b = bl.value;
      for (int i = 0; i < N; i++) credit[i] = R[i];
      nnc_ema_baseline_update(&bl, mean);
    }
    lg->mean[it] = mean, lg->best[it] = best, lg->base[it] = b;
    policy_update(p, N, act, credit, b);
    nnc_paper_log(x->r, "%s iter %2d: reward mean %.4f best %.4f baseline %.4f entropy %.3f (%d students trained, %d cached, %d invalid)",
                  name, it + 1, mean, best, b, lg->entropy[it], lg->evaluated, lg->cached, lg->invalid);
  }
  lg->iters = c->iters;
  lg->seconds = nnc_now() - t0;
}

static double last5(const stage_log *s) {
  int w = s->iters < 5 ? s->iters : 5;
  double m = 0;
  for (int i = 0; i < w; i++) m += s->mean[s->iters - 1 - i] / w;
  return m;
}

static nnc_status plot_rewards(nnc_paper_run *r, const stage_log *s1, const stage_log *s1o, const stage_log *s2,
                               const stage_log *s2t) {
  static double xs[MAX_ITERS];
  for (int i = 0; i < MAX_ITERS; i++) xs[i] = i + 1;
  nnc_series a[4] = {{"mean of the rollouts", xs, s1->mean, s1->iters},
                     {"best rollout", xs, s1->best, s1->iters},
                     {"baseline (EMA)", xs, s1->base, s1->iters},
                     {"mean, official-code credit", xs, s1o->mean, s1o->iters}};
  nnc_series b[4] = {{"mean of the rollouts", xs, s2->mean, s2->iters},
                     {"best rollout", xs, s2->best, s2->iters},
                     {"baseline (EMA)", xs, s2->base, s2->iters},
                     {"mean, stage 2 alone on the teacher", xs, s2t->mean, s2t->iters}};
  nnc_series e[4] = {{"stage 1 (2 choices)", xs, s1->entropy, s1->iters},
                     {"stage 1, official-code credit", xs, s1o->entropy, s1o->iters},
                     {"stage 2 (4 choices)", xs, s2->entropy, s2->iters},
                     {"stage 2 alone on the teacher", xs, s2t->entropy, s2t->iters}};
  nnc_svg_panel p[3] = {
      {.title = "stage 1: layer removal", .xlabel = "iteration", .ylabel = "reward", .series = a, .nseries = 4},
      {.title = "stage 2: layer shrinkage", .xlabel = "iteration", .ylabel = "reward", .series = b, .nseries = 4},
      {.title = "policy entropy per action", .xlabel = "iteration", .ylabel = "nats", .series = e, .nseries = 4},
  };
  return nnc_svg_panels(nnc_paper_path(r, "rewards.svg"),
                        "N2N on an MLP teacher (Fashion-MNIST): reward (acc/acc_T) C(2-C) per iteration", p, 3);
}

/* the greedy removal of policy p, the student's architecture in *a; false if it is invalid */
static bool greedy_removal(policy *p, const mlp *teacher, bool *keep, arch *a) {
  int64_t g[MAX_T];
  policy_act(p, 1, g, ACT_GREEDY, NULL);
  decode(p, &teacher->a, g, keep, NULL);
  return student_from(teacher, keep, NULL, NULL, a);
}

/* the two stages, the ablation, the final distillation and the criteria */
static nnc_status compress(nnc_paper_run *r, const config *c, data *d) {
  char buf[160];
  ctx x = {.r = r, .cfg = c, .d = d, .best_R = -2};
  x.cache = calloc(CACHE_MAX, sizeof *x.cache);
  if (!x.cache) return nnc_error(NNC_ERR_NOMEM, "n2n: no memory for the student cache");
  /* the teacher */
  arch ta = {.n = c->teacher_hidden};
  for (int j = 0; j < ta.n; j++) ta.width[j] = c->teacher_width;
  mlp teacher, parent, fin;
  bool have_parent = false, have_fin = false;
  nnc_rng rng;
  nnc_rng_seed(&rng, r->seed, 1);
  mlp_build(&teacher, &ta, &rng);
  double t0 = nnc_now();
  train_labels(&teacher, &d->train, c->teacher_fit, r->seed);
  x.acc_t = nnc_evaluate(&teacher.net->base, &d->val, NULL).acc;
  x.params_t = arch_params(&ta);
  double test_t = nnc_evaluate(&teacher.net->base, &d->test, NULL).acc;
  nnc_status st = teacher_logits(&teacher, d);
  if (st) goto done;
  arch_str(&ta, buf, sizeof buf);
  nnc_paper_log(r, "teacher %s: %lld parameters, val %.2f%% test %.2f%% (%.1f s)", buf, (long long)x.params_t,
                100 * x.acc_t, 100 * test_t, nnc_now() - t0);
  nnc_paper_metric(r, "teacher_params", (double)x.params_t);
  nnc_paper_metric(r, "teacher_val_acc", x.acc_t);
  nnc_paper_metric(r, "teacher_test_acc", test_t);

  /* stage 1: removal of any hidden layer (removing the first one is invalid: 784 inputs
   * would meet a layer made for 256), then the same with the official code's credit */
  stage_log s1 = {0}, s1o = {0}, s2 = {0}, s2t = {0};
  policy pol;
  bool keep[MAX_HIDDEN], keep_o[MAX_HIDDEN];
  arch a1, a1o;
  removal_init(&pol, &ta, 0, NNC_F32, c->lr_removal, r->seed);
  run_stage(&x, &pol, &teacher, "stage 1", &s1, r->seed, false);
  bool valid1 = greedy_removal(&pol, &teacher, keep, &a1);
  policy_free(&pol);
  removal_init(&pol, &ta, 0, NNC_F32, c->lr_removal, r->seed);
  run_stage(&x, &pol, &teacher, "stage 1 (official credit)", &s1o, r->seed, true);
  bool valid1o = greedy_removal(&pol, &teacher, keep_o, &a1o);
  policy_free(&pol);
  double l1 = last5(&s1), l1o = last5(&s1o);
  nnc_paper_metric(r, "stage1_first_iter_mean_reward", s1.mean[0]);
  nnc_paper_metric(r, "stage1_last5_mean_reward", l1);
  nnc_paper_metric(r, "stage1_official_credit_last5_mean_reward", l1o);
  nnc_paper_metric(r, "stage1_official_credit_greedy_valid", valid1o);
  nnc_paper_metric(r, "stage1_official_credit_greedy_params", valid1o ? (double)arch_params(&a1o) : NAN);
  nnc_paper_metric(r, "stage1_seconds", s1.seconds);
  nnc_paper_metric(r, "stage1_students_trained", s1.evaluated);
  if (valid1o) arch_str(&a1o, buf, sizeof buf);
  nnc_paper_log(r, "ablation, official-code credit: last-5 mean reward %.4f (ours %.4f); greedy student %s", l1o, l1,
                valid1o ? buf : "invalid");
  if (!valid1) {
    nnc_paper_log(r, "the stage-1 greedy student is invalid: nothing to compress further");
    nnc_paper_criterion(r, "stage1_greedy_valid", 0, ">=", 1);
    goto done;
  }
  /* the stage-1 greedy student, distilled as during the search, is stage 2's parent */
  st = NNC_OK;
  student_from(&teacher, keep, NULL, &parent, NULL);
  have_parent = true;
  distill(&parent, d, c->n_distill, c->student_fit, r->seed + 17);
  double acc1 = nnc_evaluate(&parent.net->base, &d->val, NULL).acc;
  double R1 = n2n_reward(true, acc1, x.acc_t, arch_params(&a1), x.params_t);
  arch_str(&a1, buf, sizeof buf);
  nnc_paper_log(r, "stage 1 greedy student %s: %lld parameters, val %.2f%%, reward %.4f (%.1f s)", buf,
                (long long)arch_params(&a1), 100 * acc1, R1, s1.seconds);
  nnc_paper_metric(r, "stage1_greedy_hidden_layers", a1.n);
  nnc_paper_metric(r, "stage1_greedy_reward", R1);

  /* stage 2: shrinkage of every hidden layer of the stage-1 student */
  x.n_cache = 0; /* a new parent: new students */
  shrink_init(&pol, &a1, NNC_F32, c->lr_shrink, r->seed);
  run_stage(&x, &pol, &parent, "stage 2", &s2, r->seed + 1, false);
  int64_t g2[MAX_T];
  policy_act(&pol, 1, g2, ACT_GREEDY, NULL);
  double factor[MAX_HIDDEN];
  decode(&pol, &a1, g2, NULL, factor);
  policy_free(&pol);
  arch a2;
  student_from(&parent, NULL, factor, NULL, &a2);
  int64_t params_s = arch_params(&a2);
  double ratio = (double)x.params_t / (double)params_s;
  arch_str(&a2, buf, sizeof buf);
  nnc_paper_log(r, "stage 2 greedy student %s: %lld parameters (%.2fx smaller) (%.1f s)", buf, (long long)params_s,
                ratio, s2.seconds);
  nnc_paper_metric(r, "stage2_first_iter_mean_reward", s2.mean[0]);
  nnc_paper_metric(r, "stage2_last5_mean_reward", last5(&s2));
  nnc_paper_metric(r, "stage2_seconds", s2.seconds);
  nnc_paper_metric(r, "stage2_students_trained", s2.evaluated);
  nnc_paper_metric(r, "student_params", (double)params_s);
  nnc_paper_metric(r, "student_hidden_layers", a2.n);
  for (int j = 0; j < a2.n; j++) {
    snprintf(buf, sizeof buf, "student_width_%d", j + 1);
    nnc_paper_metric(r, buf, (double)a2.width[j]);
  }
  arch_str(&x.best_arch, buf, sizeof buf);
  nnc_paper_log(r, "best sampled student: %s, reward %.4f", buf, x.best_R);
  nnc_paper_metric(r, "best_sampled_reward", x.best_R);
  nnc_paper_metric(r, "best_sampled_params", (double)arch_params(&x.best_arch));

  /* ablation: stage 2 alone, shrinking the teacher's six hidden layers (no removal) */
  x.n_cache = 0;
  double best_R = x.best_R;
  arch best_arch = x.best_arch;
  shrink_init(&pol, &ta, NNC_F32, c->lr_shrink, r->seed);
  run_stage(&x, &pol, &teacher, "stage 2 alone", &s2t, r->seed + 1, false);
  policy_act(&pol, 1, g2, ACT_GREEDY, NULL);
  double factor_t[MAX_HIDDEN];
  decode(&pol, &ta, g2, NULL, factor_t);
  policy_free(&pol);
  x.best_R = best_R, x.best_arch = best_arch;
  arch a2t;
  student_from(&teacher, NULL, factor_t, NULL, &a2t);
  arch_str(&a2t, buf, sizeof buf);
  nnc_paper_log(r, "ablation, stage 2 alone: greedy student %s, %lld parameters (%.2fx smaller); last-5 mean reward %.4f "
                "(two stages %.4f) (%.1f s)", buf, (long long)arch_params(&a2t), (double)x.params_t / arch_params(&a2t),
                last5(&s2t), last5(&s2), s2t.seconds);
  nnc_paper_metric(r, "shrink_only_greedy_params", (double)arch_params(&a2t));
  nnc_paper_metric(r, "shrink_only_last5_mean_reward", last5(&s2t));
  nnc_paper_metric(r, "shrink_only_seconds", s2t.seconds);
  nnc_paper_metric(r, "shrink_only_students_trained", s2t.evaluated);

  /* the greedy student from its parent's weights, distilled on every training image; the
   * same architecture trained from scratch on labels as a reference */
  t0 = nnc_now();
  student_from(&parent, NULL, factor, &fin, NULL);
  have_fin = true;
  distill(&fin, d, d->train.n, c->final_fit, r->seed + 18);
  double test_s = nnc_evaluate(&fin.net->base, &d->test, NULL).acc;
  mlp scratch;
  nnc_rng_seed(&rng, r->seed, 2);
  mlp_build(&scratch, &a2, &rng);
  train_labels(&scratch, &d->train, c->scratch_fit, r->seed + 18);
  double test_scratch = nnc_evaluate(&scratch.net->base, &d->test, NULL).acc;
  mlp_free(&scratch);
  nnc_paper_log(r, "final: teacher %.2f%% (%lld parameters); student after %d-epoch distillation %.2f%% (%lld, %.2fx "
                "smaller); the same student from scratch on labels, %d epochs: %.2f%% (%.1f s)",
                100 * test_t, (long long)x.params_t, c->final_fit.epochs, 100 * test_s, (long long)params_s, ratio,
                c->scratch_fit.epochs, 100 * test_scratch, nnc_now() - t0);
  nnc_paper_metric(r, "student_test_acc", test_s);
  nnc_paper_metric(r, "student_scratch_test_acc", test_scratch);
  if ((st = plot_rewards(r, &s1, &s1o, &s2, &s2t))) goto done;

  if (r->quick) { /* the pipeline runs end to end and its numbers are sane */
    double lo = 1, hi = -1;
    for (int i = 0; i < s1.iters; i++) lo = fmin(lo, fmin(s1.mean[i], s2.mean[i])), hi = fmax(hi, fmax(s1.best[i], s2.best[i]));
    nnc_paper_criterion(r, "smoke_min_mean_reward", lo, ">=", -1);
    nnc_paper_criterion(r, "smoke_max_reward", hi, "<", 1);
    nnc_paper_criterion(r, "smoke_student_test_acc", test_s, ">=", 0.5);
  } else {
    nnc_paper_criterion(r, "teacher_test_acc", test_t, ">=", 0.86);
    nnc_paper_criterion(r, "stage1_reward_gain_last5_minus_first", l1 - s1.mean[0], ">=", 0.05);
    nnc_paper_criterion(r, "student_compression_ratio", ratio, ">=", 3);
    nnc_paper_criterion(r, "student_minus_teacher_test_acc", test_s - test_t, ">=", -0.02);
  }
done:
  if (have_fin) mlp_free(&fin);
  if (have_parent) mlp_free(&parent);
  mlp_free(&teacher);
  free(x.cache);
  return st;
}

/* ---- unit criteria (--quick) ---- */

/* d(REINFORCE loss)/d(policy parameters) by autograd against central differences, in f64:
 * max |numeric - autograd| / max |autograd| over every parameter.  The head gets random
 * weights first (it starts at zero, which would leave the LSTM without a gradient). */
static double policy_grad_error(policy *p, uint64_t seed) {
  int N = 3;
  int64_t act[3 * MAX_T];
  nnc_rng rng;
  nnc_rng_seed(&rng, seed, 5);
  nnc_fill_normal(p->head->weight, 0, 0.5, &rng);
  nnc_fill_normal(p->head->bias, 0, 0.5, &rng);
  policy_act(p, N, act, ACT_SAMPLE, &rng);
  const double R[3] = {0.9, 0.2, -1.0};
  double b = 0.3;
  nnc_params_zero_grad(&p->P);
  nnc_backward(policy_loss(p, N, act, R, b));
  nnc_step_end();
  double *v = p->P.values.data, *g = p->P.grads.data, err = 0, scale = 0;
  for (int64_t i = 0; i < p->P.numel; i++) {
    double keep = v[i], h = 1e-5, f[2];
    for (int s = 0; s < 2; s++) {
      v[i] = keep + (s ? -h : h);
      p->P.values.version++;
      f[s] = nnc_item(policy_loss(p, N, act, R, b));
      nnc_step_end();
    }
    v[i] = keep;
    double num = (f[0] - f[1]) / (2 * h);
    err = fmax(err, fabs(num - g[i]));
    scale = fmax(scale, fabs(g[i]));
  }
  return err / scale;
}

/* REINFORCE on a synthetic reward, the fraction of actions equal to a target, for `iters`
 * iterations of N rollouts (the baseline and optimiser of the real stages); returns the mean
 * reward of the last 10 iterations and, in *greedy, the fraction of greedy actions on target */
static double learns_target(policy *p, const int64_t *target, int N, int iters, double decay, uint64_t seed,
                            double *greedy) {
  nnc_rng rng;
  nnc_rng_seed(&rng, seed, 6);
  nnc_ema_baseline bl = nnc_ema_baseline_make(decay);
  int K = p->K;
  double last = 0;
  for (int it = 0; it < iters; it++) {
    int64_t act[MAX_ROLL * MAX_T];
    policy_act(p, N, act, ACT_SAMPLE, &rng);
    double R[MAX_ROLL], mean = 0;
    for (int i = 0; i < N; i++) {
      R[i] = 0;
      for (int k = 0; k < K; k++) R[i] += (double)(act[i * K + k] == target[k]) / K;
      mean += R[i] / N;
    }
    if (it >= iters - 10) last += mean / 10;
    if (!bl.started) nnc_ema_baseline_update(&bl, mean);
    policy_update(p, N, act, R, bl.value);
    nnc_ema_baseline_update(&bl, mean);
  }
  int64_t g[MAX_T];
  policy_act(p, 1, g, ACT_GREEDY, NULL);
  *greedy = 0;
  for (int k = 0; k < K; k++) *greedy += (double)(g[k] == target[k]) / K;
  return last;
}

static void unit_criteria(nnc_paper_run *r, const config *c) {
  /* the reward */
  nnc_paper_criterion(r, "unit_reward_acc_T_half_params", fabs(n2n_reward(true, 0.88, 0.88, 500, 1000) - 0.75), "<=", 1e-12);
  nnc_paper_criterion(r, "unit_reward_invalid", n2n_reward(false, 0.88, 0.88, 500, 1000), "<=", -1);
  nnc_paper_criterion(r, "unit_reward_teacher_itself", fabs(n2n_reward(true, 0.9, 0.9, 1000, 1000)), "<=", 0);
  /* the sampler: frequencies of softmax(0, 1, 2, -1) over 100 000 draws */
  nnc_rng rng;
  nnc_rng_seed(&rng, r->seed, 3);
  double l[4] = {0, 1, 2, -1}, z = 0, worst = 0;
  int64_t count[4] = {0};
  for (int b = 0; b < 100; b++) {
    nnc_tensor *lt = nnc_empty(NNC_F64, NNC_SHAPE(1000, 4));
    for (int i = 0; i < 4000; i++) nnc_f64(lt)[i] = l[i % 4];
    nnc_tensor *a = nnc_categorical_sample(lt, &rng);
    for (int i = 0; i < 1000; i++) count[nnc_i64(a)[i]]++;
    nnc_step_end();
  }
  for (int k = 0; k < 4; k++) z += exp(l[k]);
  for (int k = 0; k < 4; k++) worst = fmax(worst, fabs((double)count[k] / 1e5 - exp(l[k]) / z));
  nnc_paper_criterion(r, "unit_sampler_max_freq_error", worst, "<=", 0.006);
  /* gradients of log pi(a) through both policies, f64 */
  arch a7 = {.n = 6}, a4 = {.n = 4};
  for (int j = 0; j < 6; j++) a7.width[j] = a4.width[j] = 256;
  policy p;
  removal_init(&p, &a7, 1, NNC_F64, c->lr_removal, r->seed);
  nnc_paper_criterion(r, "unit_removal_policy_grad_rel_error", policy_grad_error(&p, r->seed), "<=", 1e-6);
  policy_free(&p);
  shrink_init(&p, &a4, NNC_F64, c->lr_shrink, r->seed);
  nnc_paper_criterion(r, "unit_shrink_policy_grad_rel_error", policy_grad_error(&p, r->seed), "<=", 1e-6);
  policy_free(&p);
  /* REINFORCE with the same learning rates learns a synthetic target */
  const int64_t t1[5] = {1, 0, 1, 1, 0}, t2[4] = {3, 0, 2, 1};
  int TI = 60;
  double g1, g2;
  removal_init(&p, &a7, 1, NNC_F32, c->lr_removal, r->seed);
  nnc_paper_criterion(r, "unit_removal_toy_last10_mean_reward", learns_target(&p, t1, c->rollouts, TI, c->baseline_decay, r->seed, &g1), ">=", 0.7);
  nnc_paper_metric(r, "unit_removal_toy_greedy_on_target", g1);
  policy_free(&p);
  shrink_init(&p, &a4, NNC_F32, c->lr_shrink, r->seed);
  nnc_paper_criterion(r, "unit_shrink_toy_last10_mean_reward", learns_target(&p, t2, c->rollouts, TI, c->baseline_decay, r->seed, &g2), ">=", 0.6);
  nnc_paper_metric(r, "unit_shrink_toy_greedy_on_target", g2);
  policy_free(&p);
  /* surgery: keeping everything reproduces the teacher exactly; parameter counts */
  arch ta = {.n = 3, .width = {48, 48, 48}};
  mlp t, s;
  nnc_rng_seed(&rng, r->seed, 4);
  mlp_build(&t, &ta, &rng);
  nnc_fill_normal(nnc_params_values(&t.P), 0, 0.1, &rng);
  student_from(&t, NULL, NULL, &s, NULL);
  nnc_no_grad_begin();
  nnc_tensor *x = nnc_randn(NNC_F32, NNC_SHAPE(8, IN), &rng);
  nnc_tensor *yt = nnc_forward(&t.net->base, x), *ys = nnc_forward(&s.net->base, x);
  double diff = 0;
  for (int i = 0; i < 8 * CLASSES; i++) diff = fmax(diff, fabs(nnc_get(yt, i) - nnc_get(ys, i)));
  nnc_no_grad_end();
  nnc_step_end();
  mlp_free(&s);
  nnc_paper_criterion(r, "unit_surgery_identity_max_logit_diff", diff, "<=", 0);
  bool keep[3] = {true, false, true};
  double f[2] = {0.25, 0.5};
  arch sa;
  student_from(&t, keep, f, &s, &sa);
  nnc_paper_criterion(r, "unit_surgery_param_count_error",
                      fabs((double)(arch_params(&sa) - s.P.numel)) + fabs((double)(sa.width[0] - 12)) +
                          fabs((double)(sa.width[1] - 24)) + fabs((double)(sa.n - 2)),
                      "<=", 0);
  mlp_free(&s);
  /* a removal between layers of different widths is invalid: 784-48-30-48-10 without its 30 */
  ta.width[1] = 30;
  mlp_free(&t);
  mlp_build(&t, &ta, &rng);
  keep[1] = false;
  nnc_paper_criterion(r, "unit_surgery_shape_mismatch_is_invalid", student_from(&t, keep, NULL, NULL, NULL), "<=", 0);
  mlp_free(&t);
}

static nnc_status run(nnc_paper_run *r) {
  config full = {.teacher_hidden = 6, .teacher_width = 256, .rollouts = 5, .iters = 25,
                 .n_train = 58000, .n_val = 2000, .n_distill = 10000, .n_test = 10000,
                 .teacher_fit = {5, 128, 1e-3}, .student_fit = {1, 64, 3e-3},
                 .final_fit = {10, 128, 1e-2}, .scratch_fit = {10, 128, 1e-3},
                 .lr_removal = 0.03, .lr_shrink = 0.03, .baseline_decay = 0.8};
  /* --quick: a 784-[32]x4-10 teacher, 3 rollouts x 3 iterations per stage, small data */
  config c = full;
  if (r->quick) {
    c.teacher_hidden = 4, c.teacher_width = 32, c.rollouts = 3, c.iters = 3;
    c.n_train = 3000, c.n_val = 500, c.n_distill = 1000, c.n_test = 1000;
    c.teacher_fit = (fit_cfg){2, 64, 2e-3}, c.final_fit = (fit_cfg){3, 64, 1e-2}, c.scratch_fit = (fit_cfg){3, 64, 2e-3};
  }
  unit_criteria(r, &full); /* the policies with the full run's settings */
  nnc_dataset train, test;
  nnc_status st = nnc_fashion_load(r->data_dir, true, &train);
  if (st) return st;
  if ((st = nnc_fashion_load(r->data_dir, false, &test))) {
    nnc_dataset_free(&train);
    return st;
  }
  data d = {0};
  if (train.n < c.n_train + c.n_val || test.n < c.n_test)
    st = nnc_error(NNC_ERR_FORMAT, "n2n: need %lld training and %lld test images, the data has %lld and %lld",
                   (long long)(c.n_train + c.n_val), (long long)c.n_test, (long long)train.n, (long long)test.n);
  if (!st && !(st = subset(&train, 0, c.n_train, &d.train)) && !(st = subset(&train, train.n - c.n_val, c.n_val, &d.val)) &&
      !(st = subset(&test, 0, c.n_test, &d.test)))
    st = compress(r, &c, &d);
  nnc_dataset_free(&d.train);
  nnc_dataset_free(&d.val);
  nnc_dataset_free(&d.test);
  nnc_dataset_free(&d.tlogits);
  nnc_dataset_free(&train);
  nnc_dataset_free(&test);
  return st;
}

NNC_PAPER(n2n_paper, .slug = "n2n",
          .title = "N2N Learning: Network to Network Compression via Policy Gradient Reinforcement Learning (Ashok, "
                   "Rhinehart, Beainy, Kitani; ICLR 2018)",
          .claim = "two REINFORCE policies (layer removal, then layer shrinkage) find a student at least 3x smaller "
                   "than the teacher whose test accuracy after distillation is within 2 pp of the teacher's",
          .run = run);
