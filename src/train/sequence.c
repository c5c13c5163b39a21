/* train/sequence.c: sequence models and the training loop of the sequence tasks (see
 * sequence.h). */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "nnc.h"
#include "data/tasks.h"
#include "data/text.h"
#include "io/params_io.h"
#include "io/safetensors.h"
#include "optim/muon.h"
#include "optim/schedule.h"
#include "train/ckpt.h"
#include "train/sequence.h"

#define DATA_STREAM 0x7365712d64617461ULL /* rng stream of the training batches ("seq-data") */
#define TEST_STREAM 0x7365712d74657374ULL /* rng stream of the synthetic test set ("seq-test") */
#define INIT_STREAM 1                      /* initialisation, as the image trainer */
#define EVAL_ROWS 256                      /* sequences per evaluation batch */
#define CLIP_NORM 1.0

/* ======================= the model ======================= */

const char *nnc_seq_arch_name(nnc_seq_arch a) {
  return a == NNC_SEQ_TRANSFORMER ? "transformer" : a == NNC_SEQ_GRU ? "gru" : a == NNC_SEQ_LSTM ? "lstm" : "?";
}

nnc_tensor *nnc_seq_model_features(nnc_seq_model *m, nnc_tensor *tokens) {
  char s[96];
  NNC_CHECK(tokens->dtype == NNC_I64 && tokens->ndim == 2 && tokens->shape[1] <= m->o.max_len, "SeqModel",
            "tokens %s %s: want i64 [B, T] with T <= %lld", nnc_dtype_name(tokens->dtype), nnc_shape_str(tokens, s, 96),
            (long long)m->o.max_len);
  nnc_tensor *x = nnc_forward(&m->tok->base, tokens); /* [B, T, width] */
  if (m->o.arch != NNC_SEQ_TRANSFORMER) return nnc_rnn_forward(m->rnn, x, NULL, NULL, NULL, NULL);
  if (m->pos) x = nnc_forward(&m->pos->base, x);
  for (int l = 0; l < m->o.layers; l++) x = nnc_encoder_layer_forward(m->blocks[l], x, NULL, true);
  return nnc_layer_norm(x, m->norm->weight, m->norm->bias, m->norm->eps);
}

/* h [..., width] -> logits [..., classes] */
static nnc_tensor *head(nnc_seq_model *m, nnc_tensor *h) { return nnc_forward(&m->head->base, h); }

static nnc_tensor *seq_forward(nnc_module *mod, nnc_tensor *tokens) {
  nnc_seq_model *m = (nnc_seq_model *)mod;
  return head(m, nnc_seq_model_features(m, tokens));
}

static void seq_describe(const nnc_module *mod, char *buf, size_t size) {
  const nnc_seq_model_opts *o = &((const nnc_seq_model *)mod)->o;
  snprintf(buf, size, "arch=%s, vocab=%lld, classes=%lld, width=%lld, layers=%d", nnc_seq_arch_name(o->arch),
           (long long)o->vocab, (long long)o->classes, (long long)o->width, o->layers);
}

nnc_seq_model *nnc_new_seq_model(nnc_params *p, const nnc_seq_model_opts *opts, nnc_rng *r) {
  nnc_seq_model_opts o = *opts;
  if (o.ff <= 0) o.ff = 4 * o.width;
  NNC_CHECK(o.vocab > 0 && o.classes > 0 && o.max_len > 0 && o.width > 0 && o.layers >= 1 &&
                o.layers <= NNC_SEQ_MAX_LAYERS &&
                (o.arch != NNC_SEQ_TRANSFORMER || (o.heads >= 1 && o.width % o.heads == 0 && (!o.rope || (o.width / o.heads) % 2 == 0))),
            "SeqModel", "arch %s, vocab %lld, classes %lld, max_len %lld, width %lld, layers %d, heads %d, rope %d",
            nnc_seq_arch_name(o.arch), (long long)o.vocab, (long long)o.classes, (long long)o.max_len, (long long)o.width,
            o.layers, o.heads, (int)o.rope);
  nnc_seq_model *m = nnc_module_alloc(sizeof *m, "SeqModel", NULL, seq_forward, seq_describe);
  m->o = o;
  m->tok = nnc_new_embedding(p, "tok_emb", o.vocab, o.width, r);
  if (o.emb_std > 0) nnc_init_normal(m->tok->weight, 0, o.emb_std, r);
  nnc_module_add_child(&m->base, &m->tok->base);
  if (o.arch == NNC_SEQ_TRANSFORMER) {
    if (!o.rope) {
      m->pos = nnc_new_learned_pos(p, "pos_emb", o.max_len, o.width, r);
      if (o.emb_std > 0) nnc_init_normal(m->pos->weight, 0, o.emb_std, r);
      nnc_module_add_child(&m->base, &m->pos->base);
    }
    nnc_transformer_opts to = {.d_model = o.width, .nhead = o.heads, .dim_ff = o.ff, .causal = true};
    for (int l = 0; l < o.layers; l++) {
      char name[32];
      snprintf(name, sizeof name, "blocks.%d", l);
      m->blocks[l] = nnc_new_encoder_layer(p, name, to, r);
      m->blocks[l]->self_attn->rope = o.rope;
      nnc_module_add_child(&m->base, &m->blocks[l]->base);
    }
    m->norm = nnc_new_layernorm(p, "norm", o.width, 1e-5, true);
    nnc_module_add_child(&m->base, &m->norm->base);
  } else {
    m->rnn = nnc_new_rnn(p, "rnn", o.arch == NNC_SEQ_GRU ? NNC_RNN_GRU : NNC_RNN_LSTM, o.width, o.width, o.layers, true, r);
    nnc_module_add_child(&m->base, &m->rnn->base);
  }
  m->head = nnc_new_linear(p, "head", o.width, o.classes, true, r);
  nnc_module_add_child(&m->base, &m->head->base);
  return m;
}

nnc_tensor *nnc_seq_model_loss(nnc_seq_model *m, nnc_tensor *tokens, nnc_tensor *targets, int64_t *count,
                               int64_t *correct) {
  char s[96], u[96];
  NNC_CHECK(targets->dtype == NNC_I64 && nnc_same_shape(tokens, targets), "SeqModel loss", "tokens %s, targets %s",
            nnc_shape_str(tokens, s, 96), nnc_shape_str(targets, u, 96));
  int64_t B = tokens->shape[0], T = tokens->shape[1], N = B * T, n = 0;
  nnc_tensor *tg = nnc_contiguous(targets);
  const int64_t *y = nnc_i64(tg);
  for (int64_t i = 0; i < N; i++) n += y[i] >= 0;
  *count = n;
  if (correct) *correct = 0;
  if (n == 0) return nnc_scalar(NNC_F32, 0.0);
  nnc_tensor *h = nnc_reshape(nnc_seq_model_features(m, tokens), NNC_SHAPE(N, m->o.width));
  nnc_tensor *yt = nnc_reshape(tg, NNC_SHAPE(N));
  if (n < N) { /* only the positions with a target go through the head */
    nnc_tensor *idx = nnc_empty(NNC_I64, NNC_SHAPE(n)), *ys = nnc_empty(NNC_I64, NNC_SHAPE(n));
    int64_t *ip = nnc_i64(idx), *yp = nnc_i64(ys), k = 0;
    for (int64_t i = 0; i < N; i++)
      if (y[i] >= 0) ip[k] = i, yp[k++] = y[i];
    h = nnc_index_select(h, 0, idx);
    yt = ys;
  }
  nnc_tensor *logits = head(m, h);
  if (correct) {
    nnc_tensor *pred = nnc_argmax(logits, 1, false);
    const int64_t *pp = nnc_i64(pred), *yy = nnc_i64(yt);
    int64_t c = 0;
    for (int64_t i = 0; i < n; i++) c += pp[i] == yy[i];
    *correct = c;
  }
  return nnc_cross_entropy(logits, yt, 0.0, NNC_REDUCE_MEAN);
}

/* ======================= the tasks ======================= */

static const nnc_seq_spec parity_spec = {
    .name = "parity",
    .summary = "parity of 64 random bits (GRU, running-parity targets; test: the XOR of all 64)",
    .task = {.kind = NNC_TASK_PARITY, .dense = true},
    .seq_len = 64,
    .model = {.arch = NNC_SEQ_GRU, .width = 32, .layers = 1, .emb_std = 0.3},
    .epochs = 4, .steps = 100, .batch = 32,
    .lr = 1e-2, .weight_decay = 0.0, .warmup = 20, .optim = NNC_OPTIM_ADAMW,
    .test_size = 2000,
};

static const nnc_seq_spec recall_spec = {
    .name = "recall",
    .summary = "multi-query associative recall: 4 key-value pairs, sequence 64 (causal Transformer)",
    .task = {.kind = NNC_TASK_MQAR, .pairs = 4, .queries = 4, .key_vocab = 32, .value_vocab = 32},
    .seq_len = 64,
    .model = {.arch = NNC_SEQ_TRANSFORMER, .width = 64, .layers = 2, .heads = 2, .emb_std = 0.3},
    .epochs = 5, .steps = 200, .batch = 64,
    .lr = 2e-3, .weight_decay = 0.01, .warmup = 100, .optim = NNC_OPTIM_ADAMW,
    .test_size = 1000,
};

static const nnc_seq_spec count_spec = {
    .name = "count",
    .summary = "the number of ones in 64 random bits modulo 3 (GRU, running-count targets; test: the whole string)",
    .task = {.kind = NNC_TASK_COUNT, .dense = true, .modulus = 3},
    .seq_len = 64,
    .model = {.arch = NNC_SEQ_GRU, .width = 32, .layers = 1, .emb_std = 0.3},
    .epochs = 4, .steps = 100, .batch = 32,
    .lr = 1e-2, .weight_decay = 0.0, .warmup = 20, .optim = NNC_OPTIM_ADAMW,
    .test_size = 2000,
};

static const nnc_seq_spec copy_spec = {
    .name = "copy",
    .summary = "copy 16 random items after a delimiter (causal Transformer; accuracy over the copied half)",
    .task = {.kind = NNC_TASK_COPY, .length = 16, .items = 10},
    .seq_len = 32,
    .model = {.arch = NNC_SEQ_TRANSFORMER, .width = 64, .layers = 2, .heads = 2, .emb_std = 0.3},
    .epochs = 5, .steps = 200, .batch = 64,
    .lr = 2e-3, .weight_decay = 0.01, .warmup = 100, .optim = NNC_OPTIM_ADAMW,
    .test_size = 1000,
};

static const nnc_seq_spec sort_spec = {
    .name = "sort",
    .summary = "write 16 random items in ascending order after a delimiter (causal Transformer)",
    .task = {.kind = NNC_TASK_SORT, .length = 16, .items = 10},
    .seq_len = 32,
    .model = {.arch = NNC_SEQ_TRANSFORMER, .width = 64, .layers = 2, .heads = 2, .emb_std = 0.3},
    .epochs = 5, .steps = 200, .batch = 64,
    .lr = 2e-3, .weight_decay = 0.01, .warmup = 100, .optim = NNC_OPTIM_ADAMW,
    .test_size = 1000,
};

static const nnc_seq_spec charlm_spec = {
    .name = "char-lm",
    .summary = "character-level language model of a text file (--text FILE; causal Transformer)",
    .text = true,
    .seq_len = 64,
    .model = {.arch = NNC_SEQ_TRANSFORMER, .width = 128, .layers = 2, .heads = 4, .emb_std = 0.3},
    .epochs = 20, .steps = 200, .batch = 64,
    .lr = 3e-3, .weight_decay = 0.01, .warmup = 100, .optim = NNC_OPTIM_ADAMW, .muon_lr = 0.02,
    .test_size = 512,
};

static const nnc_seq_spec *const all_specs[] = {&parity_spec, &count_spec, &recall_spec, &copy_spec, &sort_spec,
                                                 &charlm_spec};

const nnc_seq_spec *nnc_seq_find(const char *name) {
  for (size_t i = 0; i < sizeof all_specs / sizeof all_specs[0]; i++)
    if (strcmp(all_specs[i]->name, name) == 0) return all_specs[i];
  return NULL;
}

int nnc_seq_specs(const nnc_seq_spec *const **specs) {
  *specs = all_specs;
  return (int)(sizeof all_specs / sizeof all_specs[0]);
}

/* ======================= the trainer ======================= */

/* what a run keeps per epoch (also in the checkpoint, to rewrite metrics and curves) */
enum { H_TRAIN_LOSS, H_TEST_LOSS, H_TEST_METRIC, H_SECONDS, H_LR, H_COLS };
static const char *const history_names[H_COLS] = {"train_loss", "test_loss", "test_metric", "seconds", "lr"};

typedef struct {
  nnc_seq_spec s;        /* the resolved settings */
  const char *dir;
  double holdout;
  bool byte_vocab;
  uint64_t seed;
  char config[1024];
  /* data */
  nnc_text text;
  nnc_tensor *test_x, *test_y; /* synthetic test set (heap) */
  int64_t test_windows;        /* text */
  /* model and optimiser */
  nnc_params params;
  nnc_seq_model *model;
  nnc_optim opt;
  nnc_schedule sched;
  /* run state */
  int epochs_done;
  int64_t step;
  nnc_rng data_rng;
  double *hist[H_COLS];
} run;

static const char *path_in(const char *dir, const char *file, char *buf, size_t size) {
  snprintf(buf, size, "%s/%s", dir, file);
  return buf;
}

static int fail(const char *what) {
  fprintf(stderr, "nnc: %s: %s\n", what, nnc_last_error());
  return 1;
}

static const char *optim_name(const nnc_seq_spec *s) {
  return s->muon_lr > 0 ? "muon" : s->optim == NNC_OPTIM_SGD ? "sgd" : s->optim == NNC_OPTIM_ADAM ? "adam" : "adamw";
}

/* the spec with the command line's overrides; 0 or a message (and 2) */
static int resolve(run *R, const nnc_seq_spec *spec, const nnc_seq_options *o) {
  nnc_seq_spec *s = &R->s;
  *s = *spec;
  if (o->epochs > 0) s->epochs = o->epochs;
  if (o->steps > 0) s->steps = o->steps;
  if (o->batch > 0) s->batch = o->batch;
  if (o->lr > 0) s->lr = o->lr;
  if (o->seq_len > 0) s->seq_len = o->seq_len;
  if (o->width > 0) s->model.width = o->width;
  if (o->layers > 0) s->model.layers = o->layers;
  if (o->heads > 0) s->model.heads = o->heads;
  if (o->test_size > 0) s->test_size = o->test_size;
  if (o->optim) {
    bool muon = s->muon_lr > 0;
    s->muon_lr = 0;
    if (!strcmp(o->optim, "sgd")) s->optim = NNC_OPTIM_SGD;
    else if (!strcmp(o->optim, "adam")) s->optim = NNC_OPTIM_ADAM;
    else if (!strcmp(o->optim, "adamw")) s->optim = NNC_OPTIM_ADAMW;
    else if (!strcmp(o->optim, "muon")) s->optim = NNC_OPTIM_ADAMW, s->muon_lr = muon ? spec->muon_lr : 0.02;
    else {
      fprintf(stderr, "nnc: --optim must be sgd, adam, adamw or muon, not '%s'\n", o->optim);
      return 2;
    }
  }
  if (o->arch) {
    if (!strcmp(o->arch, "transformer")) s->model.arch = NNC_SEQ_TRANSFORMER;
    else if (!strcmp(o->arch, "gru")) s->model.arch = NNC_SEQ_GRU;
    else if (!strcmp(o->arch, "lstm")) s->model.arch = NNC_SEQ_LSTM;
    else {
      fprintf(stderr, "nnc: --arch must be transformer, gru or lstm, not '%s'\n", o->arch);
      return 2;
    }
    if (s->model.arch == NNC_SEQ_TRANSFORMER && s->model.heads < 1) s->model.heads = 2;
  }
  if (o->pos) {
    if (!strcmp(o->pos, "learned")) s->model.rope = false;
    else if (!strcmp(o->pos, "rope")) s->model.rope = true;
    else {
      fprintf(stderr, "nnc: --pos must be learned or rope, not '%s'\n", o->pos);
      return 2;
    }
  }
  if (o->pairs > 0 || o->queries > 0 || o->key_vocab > 0 || o->value_vocab > 0) {
    if (s->task.kind != NNC_TASK_MQAR) {
      fprintf(stderr, "nnc: --pairs, --queries, --keys and --values are for recall only\n");
      return 2;
    }
    if (o->pairs > 0) s->task.pairs = s->task.queries = o->pairs;
    if (o->queries > 0) s->task.queries = o->queries;
    if (o->key_vocab > 0) s->task.key_vocab = o->key_vocab;
    if (o->value_vocab > 0) s->task.value_vocab = o->value_vocab;
    if (o->key_vocab == 0 && s->task.key_vocab < s->task.pairs) s->task.key_vocab = s->task.pairs;
    if (s->task.key_vocab < s->task.pairs) {
      fprintf(stderr, "nnc: --keys %lld must be at least --pairs %lld (keys are distinct)\n", (long long)s->task.key_vocab,
              (long long)s->task.pairs);
      return 2;
    }
  }
  if (o->modulus > 0) {
    if (s->task.kind != NNC_TASK_COUNT || o->modulus < 2) {
      fprintf(stderr, "nnc: --modulus is for count only, and at least 2\n");
      return 2;
    }
    s->task.modulus = o->modulus;
  }
  if (o->length > 0 || o->items > 0) {
    if (s->task.kind != NNC_TASK_COPY && s->task.kind != NNC_TASK_SORT) {
      fprintf(stderr, "nnc: --length and --items are for copy and sort only\n");
      return 2;
    }
    if (o->length > 0) s->task.length = o->length;
    if (o->items > 0) s->task.items = o->items;
    if (o->length > 0 && o->seq_len == 0) s->seq_len = 2 * o->length;
  }
  if (!s->text && (o->text || o->holdout > 0 || o->byte_vocab)) {
    fprintf(stderr, "nnc: --text, --holdout and --byte-vocab are for char-lm only\n");
    return 2;
  }
  R->holdout = o->holdout > 0 ? o->holdout : 0.1;
  R->byte_vocab = o->byte_vocab;
  if (s->text && !o->text) {
    fprintf(stderr, "nnc train %s: --text FILE is required: the text file to model (see nnc train %s --help)\n", s->name,
            s->name);
    return 2;
  }
  if (R->holdout >= 0.9) {
    fprintf(stderr, "nnc: --holdout must be in (0, 0.9)\n");
    return 2;
  }
  if (s->model.arch == NNC_SEQ_TRANSFORMER &&
      (s->model.width % s->model.heads != 0 || (s->model.rope && (s->model.width / s->model.heads) % 2))) {
    fprintf(stderr, "nnc: --width %lld must be a multiple of --heads %d (an even multiple with --pos rope)\n",
            (long long)s->model.width, s->model.heads);
    return 2;
  }
  if (s->model.layers > NNC_SEQ_MAX_LAYERS) {
    fprintf(stderr, "nnc: --layers must be at most %d\n", NNC_SEQ_MAX_LAYERS);
    return 2;
  }
  if (!s->text && s->seq_len < nnc_task_min_len(&s->task)) {
    fprintf(stderr, "nnc: --seq-len %lld is too short for %s (needs %lld)\n", (long long)s->seq_len, s->name,
            (long long)nnc_task_min_len(&s->task));
    return 2;
  }
  if (o->final_only) {
    if (s->task.kind != NNC_TASK_PARITY && s->task.kind != NNC_TASK_COUNT) {
      fprintf(stderr, "nnc: --final-only is for parity and count only\n");
      return 2;
    }
    s->task.dense = false;
  }
  R->seed = o->seed;
  return 0;
}

static void make_config(run *R) {
  const nnc_seq_spec *s = &R->s;
  const nnc_seq_model_opts *m = &s->model;
  int n = snprintf(R->config, sizeof R->config,
                   "{\"task\": \"%s\", \"epochs\": %d, \"steps\": %d, \"batch\": %d, \"lr\": %.17g, \"optim\": \"%s\", \"muon_lr\": %g, "
                   "\"weight_decay\": %g, \"warmup\": %d, \"clip\": %g, \"seed\": %" PRIu64 ", \"seq_len\": %lld, "
                   "\"arch\": \"%s\", \"width\": %lld, \"layers\": %d, \"heads\": %d, \"ff\": %lld, \"pos\": \"%s\", "
                   "\"vocab\": %lld, \"classes\": %lld, \"test_size\": %lld",
                   s->name, s->epochs, s->steps, s->batch, s->lr, optim_name(s), s->muon_lr, s->weight_decay, s->warmup,
                   CLIP_NORM, R->seed, (long long)s->seq_len, nnc_seq_arch_name(m->arch), (long long)m->width, m->layers,
                   m->arch == NNC_SEQ_TRANSFORMER ? m->heads : 0, (long long)(m->arch == NNC_SEQ_TRANSFORMER ? m->ff : 0),
                   m->arch != NNC_SEQ_TRANSFORMER ? "none" : m->rope ? "rope" : "learned", (long long)m->vocab,
                   (long long)m->classes, (long long)s->test_size);
  if (s->text)
    snprintf(R->config + n, sizeof R->config - (size_t)n, ", \"holdout\": %g, \"byte_vocab\": %s, \"text_bytes\": %lld}",
             R->holdout, R->byte_vocab ? "true" : "false", (long long)R->text.n);
  else if (s->task.kind == NNC_TASK_MQAR)
    snprintf(R->config + n, sizeof R->config - (size_t)n,
             ", \"pairs\": %lld, \"queries\": %lld, \"key_vocab\": %lld, \"value_vocab\": %lld}", (long long)s->task.pairs,
             (long long)s->task.queries, (long long)s->task.key_vocab, (long long)s->task.value_vocab);
  else if (s->task.kind == NNC_TASK_COPY || s->task.kind == NNC_TASK_SORT)
    snprintf(R->config + n, sizeof R->config - (size_t)n, ", \"length\": %lld, \"items\": %lld}",
             (long long)s->task.length, (long long)s->task.items);
  else
    snprintf(R->config + n, sizeof R->config - (size_t)n, ", \"dense_targets\": %s, \"modulus\": %lld}",
             s->task.dense ? "true" : "false", (long long)(s->task.kind == NNC_TASK_COUNT ? s->task.modulus : 2));
}

/* one fresh training batch */
static void train_batch(run *R, nnc_tensor **x, nnc_tensor **y) {
  int64_t B = R->s.batch, T = R->s.seq_len;
  *x = nnc_empty(NNC_I64, NNC_SHAPE(B, T));
  *y = nnc_empty(NNC_I64, NNC_SHAPE(B, T));
  if (R->s.text) nnc_text_train_batch(&R->text, *x, *y, &R->data_rng);
  else nnc_task_fill(&R->s.task, *x, *y, &R->data_rng);
}

typedef struct {
  double loss; /* mean cross-entropy (nats) per target */
  double acc;  /* share of targets predicted right */
} eval_result;

static eval_result evaluate(run *R) {
  nnc_module_eval(&R->model->base);
  nnc_no_grad_begin();
  int64_t T = R->s.seq_len, rows = R->s.text ? R->test_windows : R->test_x->shape[0];
  double loss_sum = 0;
  int64_t count_sum = 0, correct_sum = 0;
  for (int64_t r0 = 0; r0 < rows; r0 += EVAL_ROWS) {
    int64_t m = rows - r0 < EVAL_ROWS ? rows - r0 : EVAL_ROWS, count, correct;
    nnc_tensor *x, *y;
    if (R->s.text) {
      x = nnc_empty(NNC_I64, NNC_SHAPE(m, T));
      y = nnc_empty(NNC_I64, NNC_SHAPE(m, T));
      nnc_text_eval_batch(&R->text, r0, T / 2 > 0 ? T / 2 : 1, R->s.test_size, x, y);
    } else {
      x = nnc_wrap(NNC_I64, NNC_SHAPE(m, T), nnc_i64(R->test_x) + r0 * T);
      y = nnc_wrap(NNC_I64, NNC_SHAPE(m, T), nnc_i64(R->test_y) + r0 * T);
    }
    nnc_tensor *loss = nnc_seq_model_loss(R->model, x, y, &count, &correct);
    loss_sum += nnc_item(loss) * (double)count;
    count_sum += count;
    correct_sum += correct;
    nnc_step_end();
  }
  nnc_no_grad_end();
  nnc_module_train(&R->model->base, true);
  double n = count_sum ? (double)count_sum : 1;
  return (eval_result){loss_sum / n, (double)correct_sum / n};
}

/* ---- outputs ---- */
static nnc_status append_metrics(const run *R, int e) {
  char path[1024];
  nnc_json_writer w;
  nnc_json_init(&w);
  nnc_json_begin_object(&w);
  nnc_json_kv_int(&w, "epoch", e + 1);
  nnc_json_kv_int(&w, "step", (int64_t)(e + 1) * R->s.steps);
  nnc_json_kv_number(&w, "train_loss", R->hist[H_TRAIN_LOSS][e]);
  nnc_json_kv_number(&w, "test_loss", R->hist[H_TEST_LOSS][e]);
  nnc_json_kv_number(&w, R->s.text ? "test_bpc" : "test_acc", R->hist[H_TEST_METRIC][e]);
  nnc_json_kv_number(&w, "seconds", R->hist[H_SECONDS][e]);
  nnc_json_kv_number(&w, "lr", R->hist[H_LR][e]);
  nnc_json_end_object(&w);
  nnc_status st = nnc_json_append_line(path_in(R->dir, "metrics.jsonl", path, sizeof path), nnc_json_str(&w));
  nnc_json_free(&w);
  return st;
}

static nnc_status save_model(const run *R, const char *path) {
  nnc_st_writer *w = nnc_st_writer_new();
  nnc_status st = nnc_params_add_to_writer(&R->params, w, "", NNC_ST_F32);
  if (!st) st = nnc_st_writer_meta(w, "model", R->s.name);
  if (!st) st = nnc_st_writer_meta(w, "config", R->config);
  if (!st && R->s.text) { /* the vocabulary: id i is byte_of[i], as two hex digits each */
    char hex[513];
    for (int i = 0; i < R->text.vocab; i++) snprintf(hex + 2 * i, 3, "%02x", R->text.byte_of[i]);
    st = nnc_st_writer_meta(w, "vocab_bytes", hex);
  }
  if (!st) st = nnc_st_writer_write(w, path);
  nnc_st_writer_free(w);
  return st;
}

static nnc_status save_checkpoint(run *R, const char *path) {
  nnc_st_writer *w = nnc_st_writer_new();
  nnc_status st = nnc_params_add_to_writer(&R->params, w, "param/", NNC_ST_F32);
  if (!st) st = nnc_ckpt_add_optim(w, &R->opt);
  if (!st) st = nnc_ckpt_add_rng(w, "data", &R->data_rng);
  char *hist = nnc_ckpt_history_json(H_COLS, history_names, R->hist, R->epochs_done);
  if (!st) st = nnc_st_writer_meta(w, "format", "nnc-checkpoint-1");
  if (!st) st = nnc_st_writer_meta(w, "model", R->s.name);
  if (!st) st = nnc_ckpt_meta_int(w, "epochs_done", R->epochs_done);
  if (!st) st = nnc_ckpt_meta_int(w, "step", R->step);
  if (!st) st = nnc_st_writer_meta(w, "config", R->config);
  if (!st) st = nnc_st_writer_meta(w, "history", hist);
  if (!st) st = nnc_st_writer_write(w, path);
  free(hist);
  nnc_st_writer_free(w);
  return st;
}

static nnc_status load_checkpoint(run *R, const char *path) {
  nnc_st_file *f;
  nnc_status st = nnc_st_read(path, &f);
  if (st) return st;
  const char *model = nnc_st_metadata(f, "model"), *config = nnc_st_metadata(f, "config");
  int64_t epochs_done = 0, step = 0;
  if (!nnc_st_metadata(f, "format") || !model || !config)
    st = nnc_error(NNC_ERR_FORMAT, "%s: not an nnc checkpoint (no format/model/config metadata)", path);
  else if (strcmp(model, R->s.name) != 0)
    st = nnc_error(NNC_ERR_FORMAT, "%s: checkpoint of '%s', not '%s'", path, model, R->s.name);
  else if (strcmp(config, R->config) != 0)
    st = nnc_error(NNC_ERR_ARG, "%s: checkpoint made with other settings (resume with the same flags):\n  checkpoint %s\n  now        %s",
                   path, config, R->config);
  if (!st) st = nnc_ckpt_read_int(f, "epochs_done", &epochs_done);
  if (!st) st = nnc_ckpt_read_int(f, "step", &step);
  if (!st && epochs_done > R->s.epochs)
    st = nnc_error(NNC_ERR_FORMAT, "%s: %lld epochs done, more than the run's %d", path, (long long)epochs_done, R->s.epochs);
  if (!st) st = nnc_params_load_from(&R->params, f, "param/", false);
  if (!st) st = nnc_ckpt_load_optim(f, &R->opt);
  if (!st) st = nnc_ckpt_load_rng(f, "data", &R->data_rng);
  if (!st) st = nnc_ckpt_read_history(f, H_COLS, history_names, R->hist, (int)epochs_done);
  if (!st) {
    R->epochs_done = (int)epochs_done;
    R->step = step;
  }
  nnc_st_free(f);
  return st;
}

static nnc_status write_curves(const run *R) {
  char path[1024], title[160];
  int n = R->epochs_done;
  double *ep = nnc_xmalloc((size_t)(n + 1) * sizeof(double));
  for (int i = 0; i < n; i++) ep[i] = i + 1;
  nnc_status st;
  path_in(R->dir, "curves.svg", path, sizeof path);
  if (!R->s.text) {
    snprintf(title, sizeof title, "%s (%s, %d steps per epoch)", R->s.name, nnc_seq_arch_name(R->s.model.arch), R->s.steps);
    st = nnc_svg_training_curves(path, title, ep, R->hist[H_TRAIN_LOSS], R->hist[H_TEST_LOSS], R->hist[H_TEST_METRIC], n);
  } else {
    double *tr = nnc_xmalloc((size_t)(n + 1) * sizeof(double));
    for (int i = 0; i < n; i++) tr[i] = R->hist[H_TRAIN_LOSS][i] / log(2.0);
    nnc_series loss[2] = {{"train", ep, tr, n}, {"held-out", ep, R->hist[H_TEST_METRIC], n}};
    nnc_svg_panel panel = {.title = "bits per character", .xlabel = "epoch", .ylabel = "bits per character",
                           .series = loss, .nseries = 2};
    snprintf(title, sizeof title, "%s (%s, %d steps of %d x %lld characters per epoch)", R->s.name,
             nnc_seq_arch_name(R->s.model.arch), R->s.steps, R->s.batch, (long long)R->s.seq_len);
    st = nnc_svg_panels(path, title, &panel, 1);
    free(tr);
  }
  free(ep);
  return st;
}

/* ---- the loop ---- */
static double train_epoch(run *R, int e, bool *diverged) {
  nnc_progress bar;
  char label[64];
  snprintf(label, sizeof label, "epoch %d/%d", e + 1, R->s.epochs);
  nnc_progress_begin(&bar, label, R->s.steps);
  double loss_sum = 0;
  *diverged = false;
  for (int i = 0; i < R->s.steps; i++) {
    nnc_tensor *x, *y;
    int64_t count;
    train_batch(R, &x, &y);
    nnc_tensor *loss = nnc_seq_model_loss(R->model, x, y, &count, NULL);
    double l = nnc_item(loss);
    if (!isfinite(l)) {
      nnc_step_end();
      nnc_progress_end(&bar, "stopped: loss %g", l);
      *diverged = true;
      return NAN;
    }
    nnc_params_zero_grad(&R->params);
    if (count > 0) nnc_backward(loss);
    nnc_clip_grad_norm(&R->params, CLIP_NORM);
    R->opt.lr = nnc_schedule_lr(&R->sched, R->step);
    nnc_optim_step(&R->opt);
    nnc_step_end();
    R->step++;
    loss_sum += l;
    nnc_progress_update(&bar, i + 1, "loss %.4f", loss_sum / (i + 1));
  }
  nnc_progress_end(&bar, "loss %.4f", loss_sum / R->s.steps);
  return loss_sum / R->s.steps;
}

static void free_run(run *R) {
  for (int k = 0; k < H_COLS; k++) free(R->hist[k]);
  nnc_heap_free(R->test_x);
  nnc_heap_free(R->test_y);
  nnc_text_free(&R->text);
  if (R->model) {
    nnc_optim_free(&R->opt);
    nnc_module_free(&R->model->base);
    nnc_params_free(&R->params);
  }
}

int nnc_train_sequence(const nnc_seq_spec *spec, const nnc_seq_options *o) {
  run *R = nnc_xcalloc(1, sizeof *R);
  int rc = resolve(R, spec, o);
  if (rc) {
    free(R);
    return rc;
  }
  nnc_seq_spec *s = &R->s;
  char path[1024];
  if (o->threads > 0) nnc_set_threads(o->threads);
  R->dir = o->out_dir ? o->out_dir : "runs/out";

  /* data */
  int64_t T = s->seq_len;
  if (s->text) {
    if (nnc_text_load(o->text, R->holdout, !R->byte_vocab, &R->text)) {
      rc = fail("text");
      goto done;
    }
    R->test_windows = nnc_text_eval_count(&R->text, T, T / 2 > 0 ? T / 2 : 1, s->test_size);
    if (R->text.n_train < T + 1 || R->test_windows < 1) {
      fprintf(stderr, "nnc: text: %s has %lld bytes: too short for windows of %lld characters with %g held out\n", o->text,
              (long long)R->text.n, (long long)T, R->holdout);
      rc = 1;
      goto done;
    }
    s->model.vocab = s->model.classes = R->text.vocab;
  } else {
    s->model.vocab = nnc_task_vocab(&s->task);
    s->model.classes = nnc_task_classes(&s->task);
    nnc_task test_task = s->task;
    test_task.dense = false; /* parity/count are tested on the label of the whole sequence */
    R->test_x = nnc_heap_tensor(NNC_I64, NNC_SHAPE(s->test_size, T));
    R->test_y = nnc_heap_tensor(NNC_I64, NNC_SHAPE(s->test_size, T));
    if (!R->test_x || !R->test_y) {
      rc = fail("test set");
      goto done;
    }
    nnc_rng test_rng;
    nnc_rng_seed(&test_rng, R->seed, TEST_STREAM);
    nnc_task_fill(&test_task, R->test_x, R->test_y, &test_rng);
  }
  s->model.max_len = T;
  if (s->model.ff <= 0) s->model.ff = 4 * s->model.width;
  make_config(R);
  if (nnc_mkdirs(R->dir)) {
    rc = fail("output folder");
    goto done;
  }

  /* model, optimiser, schedule */
  nnc_params_init(&R->params, NNC_F32);
  nnc_rng init_rng;
  nnc_rng_seed(&init_rng, R->seed, INIT_STREAM);
  R->model = nnc_new_seq_model(&R->params, &s->model, &init_rng);
  nnc_group_no_decay_1d(&R->params);
  if (s->optim == NNC_OPTIM_SGD) nnc_sgd_init(&R->opt, &R->params, s->lr, 0.9, s->weight_decay, true);
  else if (s->optim == NNC_OPTIM_ADAM) nnc_adam_init(&R->opt, &R->params, s->lr, 0.9, 0.999, 1e-8, s->weight_decay);
  else nnc_adamw_init(&R->opt, &R->params, s->lr, 0.9, 0.999, 1e-8, s->weight_decay);
  if (s->muon_lr > 0) {
    R->opt.beta2 = 0.95;
    nnc_muon_attach(&R->opt, s->muon_lr, 0.95, s->weight_decay);
    nnc_muon_use(&R->opt, "tok_emb", false);
    nnc_muon_use(&R->opt, "pos_emb", false);
    nnc_muon_use(&R->opt, "head", false);
  }
  int64_t total = (int64_t)s->epochs * s->steps, warm = s->warmup < total / 2 ? s->warmup : total / 2;
  R->sched = nnc_sched_warmup(nnc_sched_cosine(s->lr, total - warm, s->lr * 0.01), warm, 0.01);
  for (int k = 0; k < H_COLS; k++) R->hist[k] = nnc_xcalloc((size_t)s->epochs, sizeof(double));
  nnc_rng_seed(&R->data_rng, R->seed, DATA_STREAM);

  path_in(R->dir, "metrics.jsonl", path, sizeof path);
  remove(path);
  if (o->resume) {
    if (load_checkpoint(R, o->resume)) {
      rc = fail("resume");
      goto done;
    }
    for (int e = 0; e < R->epochs_done; e++) append_metrics(R, e);
    fprintf(stderr, "resuming %s from %s after epoch %d (step %" PRId64 ")\n", s->name, o->resume, R->epochs_done, R->step);
  }
  fprintf(stderr, "%s: %s, width %lld, %d layers, %" PRId64 " parameters; %d epochs of %d steps, batch %d x %lld\n",
          s->name, nnc_seq_arch_name(s->model.arch), (long long)s->model.width, s->model.layers, R->params.numel, s->epochs,
          s->steps, s->batch, (long long)T);

  const char *metric = s->text ? "test_bpc" : "test_acc";
  for (int e = R->epochs_done; e < s->epochs; e++) {
    double t0 = nnc_now();
    bool diverged;
    double train_loss = train_epoch(R, e, &diverged);
    if (diverged) {
      fprintf(stderr, "nnc: training diverged: the loss is not finite in epoch %d (try a smaller --lr)\n", e + 1);
      rc = 1;
      goto done;
    }
    R->hist[H_SECONDS][e] = nnc_now() - t0;
    R->hist[H_TRAIN_LOSS][e] = train_loss;
    R->hist[H_LR][e] = R->opt.lr;
    eval_result r = evaluate(R);
    R->hist[H_TEST_LOSS][e] = r.loss;
    R->hist[H_TEST_METRIC][e] = s->text ? r.loss / log(2.0) : r.acc;
    R->epochs_done = e + 1;
    if (s->text)
      fprintf(stderr, "epoch %d/%d: train_loss %.4f test_loss %.4f test_bpc %.4f (%.2f s)\n", e + 1, s->epochs, train_loss,
              r.loss, R->hist[H_TEST_METRIC][e], R->hist[H_SECONDS][e]);
    else
      fprintf(stderr, "epoch %d/%d: train_loss %.4f test_loss %.4f test_acc %.2f%% (%.2f s)\n", e + 1, s->epochs, train_loss,
              r.loss, 100 * r.acc, R->hist[H_SECONDS][e]);
    if (append_metrics(R, e) || save_model(R, path_in(R->dir, "model.safetensors", path, sizeof path)) ||
        save_checkpoint(R, path_in(R->dir, "checkpoint.safetensors", path, sizeof path)) || write_curves(R)) {
      rc = fail("writing results");
      goto done;
    }
    if (o->stop_after > 0 && R->epochs_done >= o->stop_after && R->epochs_done < s->epochs) {
      fprintf(stderr, "stopping after epoch %d as asked; continue with --resume %s/checkpoint.safetensors\n", R->epochs_done,
              R->dir);
      break;
    }
  }
  if (R->epochs_done > 0) {
    double secs = 0;
    for (int e = 0; e < R->epochs_done; e++) secs += R->hist[H_SECONDS][e];
    printf("%s: %s %.4f test_loss %.4f after %d epochs (%.1f s training); results in %s/\n", s->name, metric,
           R->hist[H_TEST_METRIC][R->epochs_done - 1], R->hist[H_TEST_LOSS][R->epochs_done - 1], R->epochs_done, secs,
           R->dir);
  }
done:
  free_run(R);
  free(R);
  nnc_step_end();
  return rc;
}
