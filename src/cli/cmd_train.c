/* cli/cmd_train.c: `nnc train MODEL [flags]` and `nnc eval MODEL --weights FILE`.
 * MODEL is an image model (train/models.h, Fashion-MNIST) or a sequence task
 * (train/sequence.h: parity, count, recall, copy, sort, char-lm), each with its own flags. */
#include <stdio.h>
#include <string.h>
#include "cli/args.h"
#include "cli/commands.h"
#include "nnc.h"
#include "train/models.h"
#include "train/sequence.h"

static void list_models(FILE *f) {
  const nnc_model_spec *const *specs;
  int n = nnc_models(&specs);
  fprintf(f, "\nmodels (Fashion-MNIST):\n");
  for (int i = 0; i < n; i++) fprintf(f, "  %-14s %s\n", specs[i]->name, specs[i]->summary);
  const nnc_seq_spec *const *seq;
  n = nnc_seq_specs(&seq);
  fprintf(f, "\nsequence tasks (nnc train TASK --help for their flags):\n");
  for (int i = 0; i < n; i++) fprintf(f, "  %-14s %s\n", seq[i]->name, seq[i]->summary);
}

/* ---- sequence tasks ---- */
/* the task's description, then its defaults read from its spec (so the help stays true) */
static const char *seq_usage(const nnc_seq_spec *t) {
  static char buf[4096];
  const char *what;
  if (!strcmp(t->name, "recall"))
    what = "Multi-query associative recall (MQAR, Arora et al. 2023): each sequence starts with --pairs distinct\n"
           "key-value pairs, then holds the keys again as queries at random later positions among filler\n"
           "tokens; the model must output each query's value.  Loss and accuracy count the query positions\n"
           "only.  An epoch is --steps fresh batches; the test set is fixed sequences drawn from --seed.";
  else if (!strcmp(t->name, "count"))
    what = "The number of ones in random bit strings modulo --modulus (parity is modulo 2).  Training targets\n"
           "are the running count at every position; test accuracy is on the whole string's count only.";
  else if (!strcmp(t->name, "copy") || !strcmp(t->name, "sort"))
    what = !strcmp(t->name, "copy")
               ? "Copying: --length random items (of --items kinds), a delimiter, then the model writes the items\n"
                 "again, teacher forced (each position predicts the next item).  Loss and accuracy count the\n"
                 "written half only."
               : "Sorting: --length random items (of --items kinds), a delimiter, then the model writes them in\n"
                 "ascending order, teacher forced (each position predicts the next item).  Loss and accuracy\n"
                 "count the written half only.";
  else if (!strcmp(t->name, "parity"))
    what = "Parity of random bit strings.  Training targets are the running parity (the XOR of bits 0..t at\n"
           "every position t); test accuracy is on the XOR of the whole string only.  A GRU is the default:\n"
           "it learns the flip-flop in a few hundred steps and extends to any length, where a Transformer on\n"
           "the final label alone (--arch transformer --final-only) stalls at chance beyond ~20 bits.";
  else
    what = "A character-level language model of a text file: the last --holdout of the file is held out;\n"
           "training draws random windows from the rest; the score is bits per character (the mean\n"
           "cross-entropy in bits) on the held-out tail after every epoch of --steps steps.  The vocabulary\n"
           "is the file's own set of bytes (--byte-vocab: all 256).  bench/charlm.sh trains it on the text\n"
           "of Debian's fortunes package and checks the issue's floor (below 2.2 bits in 5 minutes).";
  const nnc_seq_model_opts *m = &t->model;
  char model[256];
  if (m->arch == NNC_SEQ_TRANSFORMER)
    snprintf(model, sizeof model, "a causal Transformer (%s positions, %d pre-norm\n"
             "blocks of width %lld, %d heads, feed-forward %lld, final LayerNorm, linear head)", m->rope ? "rotary" : "learned", m->layers,
             (long long)m->width, m->heads, (long long)(m->ff > 0 ? m->ff : 4 * m->width));
  else
    snprintf(model, sizeof model, "embedding + %d-layer %s of width %lld + linear head", m->layers,
             nnc_seq_arch_name(m->arch), (long long)m->width);
  char opt[128];
  if (t->muon_lr > 0) snprintf(opt, sizeof opt, "Muon lr %g on the blocks' matrices and AdamW lr %g on the rest", t->muon_lr, t->lr);
  else snprintf(opt, sizeof opt, "%s lr %g", t->optim == NNC_OPTIM_SGD ? "SGD" : t->optim == NNC_OPTIM_ADAM ? "Adam" : "AdamW", t->lr);
  snprintf(buf, sizeof buf,
           "usage: nnc train %s%s [flags]\n\n%s\n\n"
           "Defaults: sequence length %lld; %s.\n"
           "%s,\n"
           "weight decay %g, %d warm-up steps, cosine decay, batch %d, %d epochs of %d steps, clipping at 1.\n\n"
           "Writes metrics.jsonl (%s per epoch), model.safetensors, checkpoint.safetensors, curves.svg.",
           t->name, t->text ? " --text FILE" : "", what, (long long)t->seq_len, model, opt, t->weight_decay, t->warmup,
           t->batch, t->epochs, t->steps, t->text ? "test_bpc" : "test_acc");
  return buf;
}

static int cmd_train_sequence(const nnc_seq_spec *task, int argc, char **argv) {
  nnc_seq_options o = {0};
  int seed = 0;
  const arg_spec specs[] = {
      {"--epochs", ARG_INT, &o.epochs, "epochs to train (default: the task's)"},
      {"--steps", ARG_INT, &o.steps, "training steps (batches) per epoch (default: the task's)"},
      {"--batch", ARG_INT, &o.batch, "sequences per batch (default: the task's)"},
      {"--lr", ARG_DOUBLE, &o.lr, "peak learning rate of the warm-up + cosine schedule"},
      {"--optim", ARG_STRING, &o.optim, "sgd (momentum 0.9, Nesterov), adam, adamw, or muon (Muon lr 0.02 on the\n"
                                         "                         blocks' matrices, AdamW --lr on the rest) (default: the task's)"},
      {"--seed", ARG_INT, &seed, "seed of initialisation, training data and test set (default 0)"},
      {"--threads", ARG_INT, &o.threads, "threads (default: NNC_THREADS, or all cores)"},
      {"--out", ARG_STRING, &o.out_dir, "output folder (default runs/TASK)"},
      {"--resume", ARG_STRING, &o.resume, "continue from this checkpoint (same flags as the first run)"},
      {"--stop-after", ARG_INT, &o.stop_after, "stop after N epochs as if interrupted (then --resume)"},
      {"--seq-len", ARG_INT, &o.seq_len, "sequence length T (default: the task's)"},
      {"--arch", ARG_STRING, &o.arch, "transformer, gru or lstm (default: the task's)"},
      {"--width", ARG_INT, &o.width, "model width (d_model or hidden size)"},
      {"--layers", ARG_INT, &o.layers, "Transformer blocks or RNN layers"},
      {"--heads", ARG_INT, &o.heads, "attention heads"},
      {"--pos", ARG_STRING, &o.pos, "Transformer positions: learned or rope (default learned)"},
      {"--test-size", ARG_INT, &o.test_size, "test sequences (char-lm: held-out windows at most)"},
      {"--pairs", ARG_INT, &o.pairs, "recall: key-value pairs (default 4)"},
      {"--queries", ARG_INT, &o.queries, "recall: queries per sequence (default: as many as pairs)"},
      {"--keys", ARG_INT, &o.key_vocab, "recall: distinct keys (default 32)"},
      {"--values", ARG_INT, &o.value_vocab, "recall: distinct values (default 32)"},
      {"--text", ARG_STRING, &o.text, "char-lm: the text file (required)"},
      {"--holdout", ARG_DOUBLE, &o.holdout, "char-lm: held-out share of the end of the file (default 0.1)"},
      {"--byte-vocab", ARG_BOOL, &o.byte_vocab, "char-lm: all 256 bytes as the vocabulary"},
      {"--final-only", ARG_BOOL, &o.final_only, "parity, count: train on the whole string's label only (hard)"},
      {"--modulus", ARG_INT, &o.modulus, "count: the modulus (default 3)"},
      {"--length", ARG_INT, &o.length, "copy, sort: items to write (default 16; the sequence is twice that)"},
      {"--items", ARG_INT, &o.items, "copy, sort: kinds of item (default 10)"},
  };
  const char *pos[1];
  int np = 0;
  int rc = args_parse(argc, argv, 1, specs, sizeof specs / sizeof specs[0], pos, 1, &np, seq_usage(task));
  if (rc) return rc == 1 ? 0 : 2;
  if (o.epochs < 0 || o.steps < 0 || o.batch < 0 || o.lr < 0 || seed < 0 || o.seq_len < 0 || o.width < 0 ||
      o.layers < 0 || o.heads < 0 || o.pairs < 0 || o.queries < 0 || o.key_vocab < 0 || o.value_vocab < 0 || o.test_size < 0 || o.holdout < 0 || o.stop_after < 0 ||
      o.modulus < 0 || o.length < 0 || o.items < 0) {
    fprintf(stderr, "nnc train: numeric flags must not be negative\n");
    return 2;
  }
  o.seed = (uint64_t)seed;
  char out[512];
  if (!o.out_dir) {
    snprintf(out, sizeof out, "runs/%s", task->name);
    o.out_dir = out;
  }
  return nnc_train_sequence(task, &o);
}

/* the model name: the first argument that is neither a flag nor a flag's value */
static const char *find_model_name(int argc, char **argv) {
  static const char *const bools[] = {"--augment", "--no-augment", "--byte-vocab", "--final-only", "--help", "-h"};
  for (int i = 1; i < argc; i++) {
    if (argv[i][0] != '-') return argv[i];
    bool is_bool = false;
    for (size_t k = 0; k < sizeof bools / sizeof bools[0]; k++) is_bool |= strcmp(argv[i], bools[k]) == 0;
    if (!is_bool) i++; /* skip the value */
  }
  return NULL;
}

static const nnc_model_spec *model_arg(int np, const char **pos, const char *cmd) {
  if (np < 1) {
    fprintf(stderr, "nnc %s: name a model (see nnc %s --help)\n", cmd, cmd);
    return NULL;
  }
  const nnc_model_spec *spec = nnc_model_find(pos[0]);
  if (!spec) {
    fprintf(stderr, "nnc %s: unknown model '%s'\n", cmd, pos[0]);
    list_models(stderr);
  }
  return spec;
}

int cmd_train(int argc, char **argv) {
  const char *name = find_model_name(argc, argv);
  const nnc_seq_spec *seq = name ? nnc_seq_find(name) : NULL;
  if (seq) return cmd_train_sequence(seq, argc, argv);
  nnc_train_options o = {.out_dir = NULL};
  int seed = 0;
  int limit = 0;
  const arg_spec specs[] = {
      {"--epochs", ARG_INT, &o.epochs, "epochs to train (default: the model's, 10)"},
      {"--batch", ARG_INT, &o.batch, "mini-batch size (default 128)"},
      {"--lr", ARG_DOUBLE, &o.lr, "peak learning rate of the cosine schedule (default: the model's)"},
      {"--optim", ARG_STRING, &o.optim,
       "sgd (momentum 0.9, Nesterov), adam, adamw or muon (hidden matrices; --lr is Muon's, default 0.02, AdamW at lr/20 on the rest) (default: the model's)"},
      {"--seed", ARG_INT, &seed, "seed of initialisation, data order and augmentation (default 0)"},
      {"--threads", ARG_INT, &o.threads, "threads (default: NNC_THREADS, or all cores)"},
      {"--data", ARG_STRING, &o.data_dir, "folder of the Fashion-MNIST IDX files (default /usr/share/datasets/fashion-mnist)"},
      {"--out", ARG_STRING, &o.out_dir, "output folder (default runs/MODEL)"},
      {"--resume", ARG_STRING, &o.resume, "continue from this checkpoint (same flags as the first run)"},
      {"--limit", ARG_INT, &limit, "train on the first N training images only (quick runs)"},
      {"--augment", ARG_BOOL, &o.augment, "random crops (padding 2) and horizontal flips of the training images, seeded"},
      {"--no-augment", ARG_BOOL, &o.no_augment, "turn off the model's data augmentation"},
      {"--stop-after", ARG_INT, &o.stop_after, "stop after N epochs as if interrupted (then --resume)"},
      {"--grad-noise", ARG_DOUBLE, &o.grad_noise, "add Gaussian noise of variance ETA/(1+t)^0.55 to the gradients"},
  };
  const char *pos[1];
  int np = 0;
  const char *usage =
      "usage: nnc train MODEL [flags]\n\n"
      "Trains MODEL on Fashion-MNIST and writes to the output folder: metrics.jsonl (one line per\n"
      "epoch), model.safetensors (PyTorch names), checkpoint.safetensors, curves.svg,\n"
      "confusion.svg and filters.png.  Shows a progress bar on a terminal.  The sequence tasks\n"
      "(parity, count, recall, copy, sort, char-lm) take their own flags: nnc train TASK --help.";
  int rc = args_parse(argc, argv, 1, specs, sizeof specs / sizeof specs[0], pos, 1, &np, usage);
  if (rc == 1) list_models(stdout);
  if (rc) return rc == 1 ? 0 : 2;
  const nnc_model_spec *spec = model_arg(np, pos, "train");
  if (!spec) return 2;
  if (o.epochs < 0 || o.batch < 0 || o.lr < 0 || limit < 0 || seed < 0 || o.grad_noise < 0) {
    fprintf(stderr, "nnc train: --epochs, --batch, --lr, --limit, --seed and --grad-noise must not be negative\n");
    return 2;
  }
  if (o.augment && o.no_augment) {
    fprintf(stderr, "nnc train: --augment and --no-augment contradict each other\n");
    return 2;
  }
  o.seed = (uint64_t)seed;
  o.limit = limit;
  char out[512];
  if (!o.out_dir) {
    snprintf(out, sizeof out, "runs/%s", spec->name);
    o.out_dir = out;
  }
  return nnc_train_classifier(spec, &o);
}

int cmd_eval(int argc, char **argv) {
  const char *weights = NULL, *data = NULL;
  bool json = false;
  const arg_spec specs[] = {
      {"--weights", ARG_STRING, &weights, "a safetensors file with the model's parameters (PyTorch names)"},
      {"--data", ARG_STRING, &data, "folder of the Fashion-MNIST IDX files"},
      {"--json", ARG_BOOL, &json, "print one JSON object {\"test_acc\", \"test_loss\"}"},
  };
  const char *pos[1];
  int np = 0;
  int rc = args_parse(argc, argv, 1, specs, 3, pos, 1, &np,
                      "usage: nnc eval MODEL --weights FILE [--data DIR] [--json]\n\n"
                      "Evaluates weights on the Fashion-MNIST test set: accuracy and mean cross-entropy.");
  if (rc == 1) list_models(stdout);
  if (rc) return rc == 1 ? 0 : 2;
  const nnc_model_spec *spec = model_arg(np, pos, "eval");
  if (!spec) return 2;
  if (!weights) {
    fprintf(stderr, "nnc eval: --weights FILE is required\n");
    return 2;
  }
  return nnc_eval_classifier(spec, weights, data, json);
}
