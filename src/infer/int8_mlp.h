/* infer/int8_mlp.h: post-training int8 quantisation of `nnc train fashion-mlp` weights
 * (784-256-256-10 ReLU MLP, fc1..fc3) and its export to an inference model (infer/imodel.h).
 *
 * The quantisation is src/quant's: nnc_qmodel with int8 weights (symmetric, narrow, one scale
 * per output channel, min-max of the weights) and uint8 activations (affine, per tensor,
 * ranges observed on `calib` training examples by the chosen calibration), converted to the
 * integer-only nnc_qmlp (int32 biases, fixed-point multipliers, ReLU fused into the clamp).
 * The exported model is that nnc_qmlp layer for layer (NNC_IL_QLINEAR) with a 256-entry table
 * mapping a raw pixel to its input code: lut[p] = nnc_quantize_f32(nnc_fashion_norm(p),
 * in_scale, in_zero, 0, in_max), exactly the code nnc_qmlp_quantize_input gives the loader's
 * value of p.  The VNNI kernels then reproduce nnc_qmlp_forward_ref bit for bit. */
#ifndef NNC_INFER_INT8_MLP_H
#define NNC_INFER_INT8_MLP_H
#include "infer/binary_mlp.h"
#include "quant/qmodel.h"

typedef struct {
  int64_t calib;          /* training examples observed for the activation ranges (0: 2048) */
  nnc_calib_method method; /* NNC_CALIB_MINMAX (default), _PERCENTILE (99.99) or _MSE */
} nnc_q8mlp_opts;

/* the integer MLP of fashion-mlp weights (file `weights`), calibrated on the training set of
 * data_dir; *lut gets the pixel table */
nnc_status nnc_q8mlp_quantize(const char *weights, const char *data_dir, const nnc_q8mlp_opts *o, nnc_qmlp *out,
                              uint8_t lut[256]);
/* nnc_qmlp + table -> inference model */
nnc_status nnc_q8mlp_to_imodel(const nnc_qmlp *q, const uint8_t lut[256], const char *desc, nnc_imodel *out);

/* the whole export, as `nnc export --format int8` runs it: rep->sim_acc is the integer
 * reference (nnc_qmlp_forward_ref), rep->fq_acc the float64 fake-quant simulation
 * (nnc_qmlp_simulate_f64), rep->value_diff the output codes where the file and the reference
 * differ (0) */
nnc_status nnc_q8mlp_export(const char *weights, const char *out, const char *data_dir, const nnc_q8mlp_opts *o,
                            nnc_export_report *rep);

#endif
