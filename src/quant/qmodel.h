/* quant/qmodel.h: quantising a trained model: batch-norm folding, post-training quantisation
 * (PTQ), quantisation-aware training (QAT, with STE or LSQ), and conversion of a quantised
 * MLP to the integer-only reference of quant/qint.h, with a float simulation that mirrors it.
 *
 * Batch-norm folding (Jacob et al. 2018; the survey's section on BN folding): a Linear or
 * Conv (weight [O, ...], bias [O]) followed by BatchNorm in eval mode equals one layer with
 *   W' = W * gamma / sigma  (per output channel),  b' = gamma * (b - mu) / sigma + beta,
 *   sigma = sqrt(running_var + eps).
 *
 * nnc_qmodel wraps a Sequential of Linear, Activation, Flatten and Dropout modules (fold any
 * BatchNorm first with nnc_fold_bn_sequential) and is itself a module: its forward is the
 * float model with fake quantisation inserted
 *   - on every Linear's weight (nnc_qconfig.w_bits; symmetric narrow codes, per output
 *     channel or per tensor, range by w_calib from the current weights; recomputed whenever
 *     the weights change, so QAT follows them), and
 *   - at every Linear's input and at the model's output (a_bits; affine uint8-style codes
 *     [0, 2^b - 1], per tensor, ranges from nnc_qmodel_observe by a_calib).
 * Biases stay float (they become int32 with scale S_w * S_x in the integer model).
 * nnc_evaluate() and nnc_fit_epoch() (train/classifier.h) take it like any module: eval is
 * PTQ, training is QAT (the master weights stay float; gradients pass the quantisers by the
 * straight-through estimator cfg.ste, or by LSQ when cfg.lsq). */
#ifndef NNC_QUANT_QMODEL_H
#define NNC_QUANT_QMODEL_H
#include "core/error.h"
#include "core/params.h"
#include "data/batch.h"
#include "nn/layers.h"
#include "nn/module.h"
#include "nn/norm.h"
#include "quant/qint.h"
#include "quant/quant.h"

/* ---- batch-norm folding ----
 * w [O, ...] (Linear [O, I], Conv [O, C, KH, KW]), b [O] or NULL (zeros), gamma and beta [O]
 * or NULL (ones, zeros), mean and var [O]: writes W' into w_out (w's shape) and b' into
 * b_out [O]; computed in double; w_out/b_out may be w/b (in place; the version is bumped). */
void nnc_bn_fold(const nnc_tensor *w, const nnc_tensor *b, const nnc_tensor *gamma, const nnc_tensor *beta,
                 const nnc_tensor *mean, const nnc_tensor *var, double eps, nnc_tensor *w_out, nnc_tensor *b_out);
/* a copy of src (Linear, BatchNorm, Activation, Flatten, Dropout children) with its
 * parameters in `params` (fresh names there, as in src), every Linear followed by a
 * BatchNorm replaced by one Linear with the folded weight and bias (the BatchNorm's running
 * statistics, i.e. eval mode).  NNC_ERR_ARG (and *out NULL) for any other child or a
 * BatchNorm that does not follow a Linear. */
nnc_status nnc_fold_bn_sequential(const nnc_sequential_mod *src, nnc_params *params, nnc_sequential_mod **out);

/* ---- the quantised model ---- */
typedef struct {
  int w_bits;         /* 0: float weights; else 2..8 */
  bool w_per_channel; /* one scale per output channel (else per tensor) */
  nnc_calib w_calib;  /* weight range from the weights */
  int a_bits;         /* 0: float activations; else 2..8 */
  nnc_calib a_calib;  /* activation ranges from the observed values */
  nnc_ste ste;        /* estimator of the fake quantisers in training */
  bool lsq;           /* learned steps (after nnc_qmodel_init_lsq) instead of fixed ranges */
  bool lsq_unscaled;  /* ablation: the step gradient without LSQ's scale g = 1/sqrt(N Q_P) */
} nnc_qconfig;

typedef struct {
  nnc_linear_mod *lin;    /* in the wrapped model; its weight is the master weight */
  nnc_qparams w;          /* weight parameters for the current weights */
  const void *w_data;     /* cache key: weight storage data and version when w was made */
  uint64_t w_version;
  int w_bits_made;        /* the config w was made for */
  nnc_qobserver obs;      /* values at this Linear's input */
  nnc_qparams a;          /* the quantiser at this Linear's input */
  nnc_tensor *w_step;     /* LSQ: [out, 1] or [1] parameter; NULL otherwise */
  nnc_tensor *a_step;     /* LSQ: [1] parameter */
  bool a_signed;          /* LSQ: the input has negative values (signed codes) */
} nnc_qlayer;

typedef struct {
  nnc_module base;
  nnc_sequential_mod *net; /* the wrapped float model (not owned) */
  nnc_qconfig cfg;
  int n;                   /* Linear layers */
  nnc_qlayer *layers;
  nnc_qobserver out_obs;   /* values at the output */
  nnc_qparams out;         /* the output quantiser */
  nnc_tensor *out_step;    /* LSQ */
  bool out_signed;
  bool observed;           /* nnc_qmodel_observe has run */
  bool observing;          /* inside nnc_qmodel_observe */
  /* when not NULL, forward stores in capture[k] (k = 0..n) the tensor after quantisation
   * point k: the input of Linear k, then the output (arena tensors, valid for the step) */
  nnc_tensor **capture;
} nnc_qmodel;

/* wraps net (which must outlive the qmodel); NNC_ERR_ARG if net has a child other than
 * Linear, Activation, Flatten or Dropout (*out NULL then) */
nnc_status nnc_new_qmodel(nnc_sequential_mod *net, nnc_qconfig cfg, nnc_qmodel **out);
void nnc_qmodel_free(nnc_qmodel *q); /* not the wrapped model */
/* runs the float model (eval, no quantisation) over the first n examples of data in batches
 * of 256 and records the values at every quantisation point; then applies the config */
void nnc_qmodel_observe(nnc_qmodel *q, const nnc_dataset *data, int64_t n);
/* a new configuration: activation ranges recomputed from the observed values (no data pass),
 * weight parameters at the next forward */
void nnc_qmodel_set_config(nnc_qmodel *q, nnc_qconfig cfg);
/* LSQ: adds step parameters to `params` ("<linear>.weight_step", "<linear>.input_step",
 * "output_step") initialised from the current weights and observed activations:
 * 2 mean|v| / sqrt(Q_P) (Esser et al.), or, if from_calibration, the scales of the current
 * min-max/percentile/MSE parameters; sets cfg.lsq.  Activations with negative values get
 * signed codes [-2^(b-1), 2^(b-1) - 1], the others [0, 2^b - 1]; weights [-(2^(b-1) - 1),
 * 2^(b-1) - 1] as every weight quantiser here. */
void nnc_qmodel_init_lsq(nnc_qmodel *q, nnc_params *params, bool from_calibration);

/* ---- integer model ----
 * The integer-only MLP of the current configuration: int8 weights (w_bits <= 8, per
 * channel or per tensor), uint8 activations (a_bits <= 8; codes clamped to [0, 2^a_bits - 1]),
 * int32 biases round(b / (S_w S_x)), a ReLU after a Linear fused into the clamp (other
 * activations: NNC_ERR_ARG).  LSQ steps become the scales (signed activation codes become
 * zero point 2^(b-1)).  Free with nnc_qmlp_free. */
nnc_status nnc_qmodel_to_qmlp(nnc_qmodel *q, nnc_qmlp *out);

/* The integer forward of m re-expressed in float64 tensor ops: the input quantised as
 * nnc_qmlp_quantize_input; per layer the codes minus the input zero point, the int8 weights
 * and the int32 bias as exact float64 integers, acc = nnc_linear(...) in float64 (exact:
 * every partial sum is an integer below 2^53), then the requantisation MBQM written in double
 * (the product acc * mult split in two exact halves, SRDHM's ties to +inf, RDBPOT's ties away
 * from zero) and the clamp.  x: f32 [batch, in].  Returns the output codes (f64 [batch, out],
 * arena); codes[l] (if codes is not NULL) gets layer l's output codes.  No gradient. */
nnc_tensor *nnc_qmlp_simulate_f64(const nnc_qmlp *m, nnc_tensor *x, nnc_tensor **codes);

#endif
