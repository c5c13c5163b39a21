/* train/sequence.h: sequence models and the training loop of `nnc train TASK` for the
 * sequence tasks parity, count, recall, copy, sort and char-lm.
 *
 * The model (nnc_seq_model) maps tokens [B, T] to logits [B, T, classes], causally (the
 * output at t sees tokens 0..t only):
 *   transformer  token embedding "tok_emb" + learned positions "pos_emb" (or rotary
 *                positions inside every attention), `layers` pre-norm blocks "blocks.<i>"
 *                (nn/transformer.h: causal self-attention and a GELU feed-forward), a final
 *                LayerNorm "norm" and a linear head "head"
 *   gru, lstm    token embedding "tok_emb", a `layers`-deep GRU/LSTM "rnn" (nn/rnn.h) and a
 *                linear head "head"
 * Embeddings (tokens and learned positions) start N(0, emb_std^2).  Measured: with GPT-2's
 * 0.02, recall (32 keys) sat on its plateau (loss ln 4: "one of the values present") for
 * 1000+ steps; with 0.3 it passed 99% within 400 steps on every seed tried; with
 * nn.Embedding's N(0, 1) it learned the values' outputs slowly.  On char-lm 0.3 also beat
 * 0.02 and 1.  Everything else keeps PyTorch's initialisation.
 *
 * A task (nnc_seq_spec) is a named training recipe: a generator from data/tasks.h (parity,
 * count, recall, copy, sort) or a text file (char-lm), the model and its default hyperparameters.  The trainer
 * runs AdamW (or Muon for the blocks' matrices with AdamW for the rest) with a linear warm-up
 * and cosine decay, gradient clipping at norm 1, and the masked cross-entropy over the
 * positions whose target is not -1.  An epoch is a fixed
 * number of steps on freshly generated batches (text: random training windows); after each
 * epoch it evaluates on a fixed held-out set (synthetic: a seeded test set made once; text:
 * sliding windows over the held-out tail, each character scored once with at least T/2
 * characters of context) and writes into the output folder, as
 * `nnc train fashion-mlp` does:
 *   metrics.jsonl            one object per epoch: epoch, step, train_loss, test_loss,
 *                            test_acc (synthetic tasks) or test_bpc (char-lm), seconds, lr
 *   model.safetensors        the parameters (PyTorch-style names) and the task in metadata
 *   checkpoint.safetensors   parameters, optimiser state, data rng, step, history and
 *                            config, written atomically; --resume continues exactly
 *   curves.svg               losses and accuracy (or bits per character) against epochs */
#ifndef NNC_TRAIN_SEQUENCE_H
#define NNC_TRAIN_SEQUENCE_H
#include <stdbool.h>
#include <stdint.h>
#include "core/params.h"
#include "core/rng.h"
#include "data/tasks.h"
#include "nn/layers.h"
#include "nn/norm.h"
#include "nn/rnn.h"
#include "nn/posenc.h"
#include "nn/transformer.h"
#include "optim/optim.h"

/* ---- the model ---- */
typedef enum { NNC_SEQ_TRANSFORMER, NNC_SEQ_GRU, NNC_SEQ_LSTM } nnc_seq_arch;
const char *nnc_seq_arch_name(nnc_seq_arch a); /* "transformer", "gru", "lstm" */

#define NNC_SEQ_MAX_LAYERS 16
typedef struct {
  nnc_seq_arch arch;
  int64_t vocab;   /* input tokens */
  int64_t classes; /* outputs per position */
  int64_t max_len; /* longest sequence (learned positions) */
  int64_t width;   /* d_model, or the RNN's hidden size (= its embedding size) */
  int layers;      /* blocks or RNN layers, 1..NNC_SEQ_MAX_LAYERS */
  int heads;       /* transformer: attention heads (width must be a multiple) */
  int64_t ff;      /* transformer: feed-forward width (0 = 4 * width) */
  bool rope;       /* transformer: rotary positions instead of learned ones */
  double emb_std;  /* embeddings start N(0, emb_std^2); 0 = nn.Embedding's N(0, 1) */
} nnc_seq_model_opts;

typedef struct {
  nnc_module base; /* forward: tokens [B, T] i64 -> logits [B, T, classes] */
  nnc_seq_model_opts o;
  nnc_embedding_mod *tok;
  nnc_learned_pos_mod *pos; /* NULL with rope or an RNN */
  nnc_encoder_layer_mod *blocks[NNC_SEQ_MAX_LAYERS];
  nnc_layernorm_mod *norm;  /* transformer only */
  nnc_rnn_mod *rnn;         /* gru, lstm only */
  nnc_linear_mod *head;
} nnc_seq_model;

/* builds the model into p (names above); bad options are programming errors */
nnc_seq_model *nnc_new_seq_model(nnc_params *p, const nnc_seq_model_opts *o, nnc_rng *r);
/* tokens [B, T] -> the last hidden states [B, T, width] (after the final norm) */
nnc_tensor *nnc_seq_model_features(nnc_seq_model *m, nnc_tensor *tokens);
/* the mean cross-entropy over the positions whose target is >= 0 (tokens, targets: i64
 * [B, T]); the head runs on those positions only.  *count gets how many there were and
 * *correct (may be NULL) how many the argmax got right.  With no target at all the loss is
 * a 0 without a gradient path. */
nnc_tensor *nnc_seq_model_loss(nnc_seq_model *m, nnc_tensor *tokens, nnc_tensor *targets, int64_t *count,
                               int64_t *correct);

/* ---- tasks and their training recipe ---- */
typedef struct {
  const char *name;      /* "parity", "count", "recall", "copy", "sort", "char-lm" */
  const char *summary;   /* one line for --help */
  bool text;             /* char-lm: the data is a text file, not a generator */
  nnc_task task;         /* the generator (synthetic tasks) */
  int64_t seq_len;       /* T */
  nnc_seq_model_opts model; /* vocab, classes and max_len are filled in from the task */
  int epochs, steps, batch; /* steps per epoch */
  double lr, weight_decay;
  int warmup;            /* linear warm-up steps */
  nnc_optim_kind optim;  /* the rule for everything (without Muon) or for what Muon leaves */
  double muon_lr;        /* > 0: Muon (optim/muon.h) updates the blocks' matrices at this lr,
                          * AdamW (betas 0.9, 0.95) the embeddings, head, norms and biases */
  int64_t test_size;     /* synthetic: test sequences; text: held-out windows at most */
} nnc_seq_spec;

const nnc_seq_spec *nnc_seq_find(const char *name); /* NULL if there is none */
int nnc_seq_specs(const nnc_seq_spec *const **specs);

/* command-line overrides; 0 / NULL keeps the spec's value */
typedef struct {
  int epochs, steps, batch;
  double lr;
  const char *optim;   /* "sgd", "adam", "adamw", "muon" */
  uint64_t seed;
  int threads;
  const char *out_dir;
  const char *resume;  /* checkpoint to continue from */
  int stop_after;      /* stop after this many epochs as if interrupted (0: never) */
  const char *text;    /* char-lm: the text file (required) */
  double holdout;      /* char-lm: held-out share of the file's end (0: 0.1) */
  bool byte_vocab;     /* char-lm: all 256 bytes instead of the file's own set */
  int seq_len, width, layers, heads;
  const char *arch;    /* "transformer", "gru", "lstm" */
  const char *pos;     /* "learned", "rope" */
  int pairs;           /* recall: key-value pairs */
  int queries;         /* recall: queries per sequence (with --pairs alone: as many as pairs) */
  int key_vocab, value_vocab; /* recall: distinct keys and values */
  int test_size;
  bool final_only;     /* parity, count: train on the whole string's label only (not the running one) */
  int modulus;         /* count: the modulus (default 3) */
  int length, items;   /* copy, sort: items to copy and their vocabulary (defaults 16, 10) */
} nnc_seq_options;

/* trains; returns the exit status (0 ok, 1 runtime failure: text file, outputs, NaN loss,
 * checkpoint; 2 bad settings) */
int nnc_train_sequence(const nnc_seq_spec *spec, const nnc_seq_options *o);

#endif
