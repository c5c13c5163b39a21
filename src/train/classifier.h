/* train/classifier.h: training and evaluating an image classifier on Fashion-MNIST, the
 * loop every `nnc train <model>` command shares.
 *
 * A model is described by an nnc_model_spec (its name, the shape of one example, a function
 * that builds the network into a parameter block, and its default hyperparameters).  The
 * trainer runs seeded shuffled mini-batches with SGD/Adam/AdamW under a cosine schedule,
 * evaluates on the test set after each epoch and writes into the output folder:
 *   metrics.jsonl        one JSON object per epoch: epoch, train_loss, test_loss, test_acc,
 *                        seconds (training time of the epoch), lr
 *   model.safetensors    the parameters (and buffers) under PyTorch's names
 *   checkpoint.safetensors  parameters, buffers, optimiser state, data order, step and config,
 *                        written atomically; `resume` continues the run exactly
 *   curves.svg           losses and accuracy against epochs
 *   confusion.svg        the test set's confusion matrix
 *   filters.png          the first layer's filters (models that name one) */
#ifndef NNC_TRAIN_CLASSIFIER_H
#define NNC_TRAIN_CLASSIFIER_H
#include <stdbool.h>
#include <stdint.h>
#include "core/params.h"
#include "core/rng.h"
#include "data/batch.h"
#include "nn/module.h"
#include "optim/optim.h"
#include "optim/schedule.h"

typedef struct {
  const char *name;         /* "fashion-mlp" */
  const char *summary;      /* one line for --help */
  /* builds the network (its forward takes a batch [B, 784] and reshapes it as it needs);
   * parameters go to `params`, running statistics to `buffers` */
  nnc_module *(*build)(nnc_params *params, nnc_params *buffers, nnc_rng *rng);
  /* defaults */
  int epochs, batch;
  double lr, momentum, weight_decay;
  nnc_optim_kind optim;
  const char *filters_param; /* a weight [out, in...] drawn as filters.png, or NULL */
  bool augment;              /* random crop (pad 2) and horizontal flip of 28x28 images */
} nnc_model_spec;

typedef struct {
  int epochs, batch;         /* 0: the spec's default */
  double lr;                 /* 0: the spec's default */
  const char *optim;         /* "sgd", "adam", "adamw", "muon"; NULL: the spec's default.  "muon":
                              * Muon (optim/muon.h) on the hidden matrices, lr (default 0.02)
                              * being Muon's, AdamW (betas 0.9, 0.95, eps 1e-10) at lr/20 on the rest */
  uint64_t seed;
  int threads;               /* 0: leave as set (NNC_THREADS or all cores) */
  const char *data_dir;      /* NULL: the Debian package's folder */
  const char *out_dir;
  const char *resume;        /* a checkpoint to continue from, or NULL */
  int64_t limit;             /* train on the first `limit` examples only (0: all) */
  bool augment, no_augment;  /* force the model's crop+flip augmentation on / off */
  int stop_after;            /* stop after this many epochs as if interrupted (0: never) */
  double grad_noise;         /* > 0: annealed gradient noise of variance eta/(1+t)^0.55 (optim/noise.h) */
} nnc_train_options;

/* trains; returns the exit status (0 ok, 1 runtime failure: data, files, NaN loss) */
int nnc_train_classifier(const nnc_model_spec *spec, const nnc_train_options *opt);

/* loads weights (PyTorch names) and evaluates on the test set; prints
 * "test_acc X test_loss Y" or, with json, {"test_acc": X, "test_loss": Y}.  Exit status. */
int nnc_eval_classifier(const nnc_model_spec *spec, const char *weights, const char *data_dir, bool json);

/* ---- the pieces, for experiments that train their own way (papers/) ---- */

/* the metrics of a model on a data set (eval mode, no gradients, batches of 1000);
 * counts[k*k] (k = num_classes; row = true class) may be NULL */
typedef struct {
  double loss, acc;
} nnc_eval_result;
nnc_eval_result nnc_evaluate(nnc_module *model, const nnc_dataset *data, int64_t *counts);

/* One epoch of mini-batch training with cross-entropy: for each batch of the batcher,
 * forward, backward, before_step (if any), lr from the schedule (if any), optimiser step, then after_step (if
 * any; for weight clipping, masks, ...).  *step counts optimiser steps across epochs.
 * Returns the mean training loss, or NaN if a loss was not finite (training stopped). */
typedef struct {
  nnc_module *model;
  nnc_params *params;
  nnc_optim *opt;
  const nnc_schedule *sched;                   /* NULL: keep opt->lr */
  void (*after_step)(void *ctx);
  void *ctx;
  nnc_rng *augment_rng;                        /* non-NULL: crop+flip 28x28 images */
  bool quiet;                                  /* no progress bar */
  const char *label;                           /* progress label */
  /* non-NULL: called between backward and the optimiser step with the step count (gradient
   * transforms: clipping, noise) */
  void (*before_step)(void *before_ctx, int64_t step);
  void *before_ctx;
} nnc_fit;
double nnc_fit_epoch(nnc_fit *f, const nnc_dataset *train, nnc_batcher *batches, int64_t *step);

#endif
