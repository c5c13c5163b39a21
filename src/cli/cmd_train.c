/* cli/cmd_train.c: `nnc train MODEL [flags]` and `nnc eval MODEL --weights FILE`.
 * MODEL is an image model (train/models.h, Fashion-MNIST) or a sequence task
 * (train/sequence.h: parity, recall, char-lm), each with its own flags. */
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
static const char *seq_usage(const char *name) {
  if (!strcmp(name, "recall"))
    return "usage: nnc train recall [flags]\n\n"
           "Multi-query associative recall (MQAR, Arora et al. 2023): each sequence of 64 tokens starts with 4\n"
           "key-value pairs (64 possible keys, 64 values; keys distinct), then holds the 4 keys again as\n"
           "queries at random later positions among filler tokens; the model must output each query's value.\n"
           "Loss and accuracy count the query positions only.  An epoch is --steps fresh batches; the test\n"
           "set is 1000 fixed sequences (4000 queries) drawn from --seed.\n\n"
           "Defaults: a causal Transformer (learned positions, 2 pre-norm blocks of width 64, 2 heads,\n"
           "feed-forward 256, final LayerNorm, linear head; 110k parameters), AdamW lr 3e-3 (weight decay 0.01,\n"
           "100 warm-up steps, cosine decay), batch 64, 10 epochs of 200 steps, gradient clipping at 1.\n"
           "It reaches 100% test accuracy (>= 99% by epoch 4) in about 1.5 minutes on 2 cores.\n\n"
           "Writes metrics.jsonl (test_acc per epoch), model.safetensors, checkpoint.safetensors, curves.svg.";
  if (!strcmp(name, "parity"))
    return "usage: nnc train parity [flags]\n\n"
           "Parity of random bit strings of length 64.  Training targets are the running parity (the XOR of\n"
           "bits 0..t at every position t); test accuracy is on the XOR of the whole string only, over 2000\n"
           "fixed strings.  A GRU is the default: it learns the flip-flop in a few hundred steps and extends\n"
           "to any length, where a Transformer on the final label alone stalls at chance beyond ~20 bits.\n\n"
           "Defaults: embedding + 1-layer GRU of width 32 + linear head, AdamW lr 1e-2, batch 32, 4 epochs of\n"
           "100 steps, 20 warm-up steps, cosine decay, clipping at 1.  It reaches 100% test accuracy in about\n"
           "20 seconds.  --arch transformer trains the Transformer instead.\n\n"
           "Writes metrics.jsonl (test_acc per epoch), model.safetensors, checkpoint.safetensors, curves.svg.";
  return "usage: nnc train char-lm --text FILE [flags]\n\n"
         "A character-level language model of a text file: the last 10% of the file is held out; training\n"
         "draws random windows of 128 characters from the rest; the score is bits per character (the mean\n"
         "cross-entropy in bits) on up to 512 fixed held-out windows after every epoch of --steps steps.\n"
         "The vocabulary is the file's own set of bytes (--byte-vocab: all 256).\n\n"
         "Defaults: a causal Transformer (learned positions, 3 pre-norm blocks of width 128, 4 heads,\n"
         "feed-forward 512, final LayerNorm, linear head), AdamW lr 2e-3 (weight decay 0.01, 100 warm-up\n"
         "steps, cosine decay), batch 32 x 128 characters, 8 epochs of 200 steps, clipping at 1.\n"
         "On the Debian fortunes (2.6 MB) it reaches about 2.0 bits per character in under 5 minutes:\n"
         "  ls -d /usr/share/games/fortunes/* | grep -v '\\.dat$\\|\\.u8$' | xargs cat > fortunes.txt\n"
         "  nnc train char-lm --text fortunes.txt\n\n"
         "Writes metrics.jsonl (test_bpc per epoch), model.safetensors (with the vocabulary's bytes in its\n"
         "metadata), checkpoint.safetensors, curves.svg.";
}

static int cmd_train_sequence(const nnc_seq_spec *task, int argc, char **argv) {
  nnc_seq_options o = {0};
  int seed = 0;
  const arg_spec specs[] = {
      {"--epochs", ARG_INT, &o.epochs, "epochs to train (default: the task's)"},
      {"--steps", ARG_INT, &o.steps, "training steps (batches) per epoch (default: the task's)"},
      {"--batch", ARG_INT, &o.batch, "sequences per batch (default: the task's)"},
      {"--lr", ARG_DOUBLE, &o.lr, "peak learning rate of the warm-up + cosine schedule"},
      {"--optim", ARG_STRING, &o.optim, "sgd (momentum 0.9, Nesterov), adam or adamw (default adamw)"},
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
      {"--keys", ARG_INT, &o.key_vocab, "recall: distinct keys (default 64)"},
      {"--values", ARG_INT, &o.value_vocab, "recall: distinct values (default 64)"},
      {"--text", ARG_STRING, &o.text, "char-lm: the text file (required)"},
      {"--holdout", ARG_DOUBLE, &o.holdout, "char-lm: held-out share of the end of the file (default 0.1)"},
      {"--byte-vocab", ARG_BOOL, &o.byte_vocab, "char-lm: all 256 bytes as the vocabulary"},
  };
  const char *pos[1];
  int np = 0;
  int rc = args_parse(argc, argv, 1, specs, sizeof specs / sizeof specs[0], pos, 1, &np, seq_usage(task->name));
  if (rc) return rc == 1 ? 0 : 2;
  if (o.epochs < 0 || o.steps < 0 || o.batch < 0 || o.lr < 0 || seed < 0 || o.seq_len < 0 || o.width < 0 ||
      o.layers < 0 || o.heads < 0 || o.pairs < 0 || o.queries < 0 || o.key_vocab < 0 || o.value_vocab < 0 || o.test_size < 0 || o.holdout < 0 || o.stop_after < 0) {
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
  static const char *const bools[] = {"--no-augment", "--byte-vocab", "--help", "-h"};
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
      "(parity, recall, char-lm) take their own flags: nnc train TASK --help.";
  int rc = args_parse(argc, argv, 1, specs, sizeof specs / sizeof specs[0], pos, 1, &np, usage);
  if (rc == 1) list_models(stdout);
  if (rc) return rc == 1 ? 0 : 2;
  const nnc_model_spec *spec = model_arg(np, pos, "train");
  if (!spec) return 2;
  if (o.epochs < 0 || o.batch < 0 || o.lr < 0 || limit < 0 || seed < 0 || o.grad_noise < 0) {
    fprintf(stderr, "nnc train: --epochs, --batch, --lr, --limit, --seed and --grad-noise must not be negative\n");
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
