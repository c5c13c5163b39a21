/* cli/cmd_train.c: `nnc train MODEL [flags]` and `nnc eval MODEL --weights FILE`. */
#include <stdio.h>
#include <string.h>
#include "cli/args.h"
#include "cli/commands.h"
#include "nnc.h"
#include "train/models.h"

static void list_models(FILE *f) {
  const nnc_model_spec *const *specs;
  int n = nnc_models(&specs);
  fprintf(f, "\nmodels:\n");
  for (int i = 0; i < n; i++) fprintf(f, "  %-14s %s\n", specs[i]->name, specs[i]->summary);
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
  nnc_train_options o = {.out_dir = NULL};
  int seed = 0;
  int limit = 0;
  const arg_spec specs[] = {
      {"--epochs", ARG_INT, &o.epochs, "epochs to train (default: the model's, 10)"},
      {"--batch", ARG_INT, &o.batch, "mini-batch size (default 128)"},
      {"--lr", ARG_DOUBLE, &o.lr, "peak learning rate of the cosine schedule (default: the model's)"},
      {"--optim", ARG_STRING, &o.optim, "sgd (momentum 0.9, Nesterov), adam or adamw (default: the model's)"},
      {"--seed", ARG_INT, &seed, "seed of initialisation, data order and augmentation (default 0)"},
      {"--threads", ARG_INT, &o.threads, "threads (default: NNC_THREADS, or all cores)"},
      {"--data", ARG_STRING, &o.data_dir, "folder of the Fashion-MNIST IDX files (default /usr/share/datasets/fashion-mnist)"},
      {"--out", ARG_STRING, &o.out_dir, "output folder (default runs/MODEL)"},
      {"--resume", ARG_STRING, &o.resume, "continue from this checkpoint (same flags as the first run)"},
      {"--limit", ARG_INT, &limit, "train on the first N training images only (quick runs)"},
      {"--no-augment", ARG_BOOL, &o.no_augment, "turn off the model's data augmentation"},
      {"--stop-after", ARG_INT, &o.stop_after, "stop after N epochs as if interrupted (then --resume)"},
  };
  const char *pos[1];
  int np = 0;
  const char *usage =
      "usage: nnc train MODEL [flags]\n\n"
      "Trains MODEL on Fashion-MNIST and writes to the output folder: metrics.jsonl (one line per\n"
      "epoch), model.safetensors (PyTorch names), checkpoint.safetensors, curves.svg,\n"
      "confusion.svg and filters.png.  Shows a progress bar on a terminal.";
  int rc = args_parse(argc, argv, 1, specs, sizeof specs / sizeof specs[0], pos, 1, &np, usage);
  if (rc == 1) list_models(stdout);
  if (rc) return rc == 1 ? 0 : 2;
  const nnc_model_spec *spec = model_arg(np, pos, "train");
  if (!spec) return 2;
  if (o.epochs < 0 || o.batch < 0 || o.lr < 0 || limit < 0 || seed < 0) {
    fprintf(stderr, "nnc train: --epochs, --batch, --lr, --limit and --seed must not be negative\n");
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
