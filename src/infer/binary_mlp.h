/* infer/binary_mlp.h: the binary MLP of papers/reste and papers/biper (batch1.md section 1),
 * trained with the plain straight-through estimator, and its export to a bit-packed
 * inference model (infer/imodel.h).
 *
 * The network (nn/binary.h's names: fc0, bn0, fc1, bn1, ..., fc<L>):
 *   x [N, 784] -> fc0 (784 -> H) -> bn0 -> sign -> [fc_k binary (H -> H) -> bn_k -> sign] x B
 *              -> fc<B+1> (H -> 10)
 * with H = 512, B = 2 in the paper's setting; sign(0) = +1; a binary layer's weights are
 * sign(W) * mean|W| (one scale per layer, STE/ReSTE as nn/binary.h); BN is BatchNorm1d in
 * eval mode (running statistics, eps 1e-5).  Two variants of the first layer:
 *   "binary-mlp"       fc0 is a full-precision Linear with bias (the paper's model); the export
 *                      stores it as int8 (symmetric, per output channel)
 *   "binary-mlp-1bit"  fc0 is a binary-weight layer too (sign(W) * mean|W|, real-valued
 *                      inputs, no bias): the export stores it as 1 bit per weight.  Only this
 *                      variant reaches 1/25 of the fp32 file: 784 x 512 int8 weights alone
 *                      are 401 KB, more than 1/25 of the 3.75 MB fp32 file (docs/inference.md)
 * The last layer is stored as int8 (per output channel) with a float scale and bias.
 *
 * The exported model (layers NNC_IL_U8_SIGN, NNC_IL_BIN_SIGN x B, NNC_IL_BIN_SCORE) reads raw
 * pixels p (0..255).  Because x = (p/255 - mean)/std is affine in p, layer 0 is
 *   acc0[c] = sum_k q[c,k] p[k]  (int32, exact),  pre0[c] = acc0[c] * A0[c] + B0[c]
 *   A0[c] = s[c] / (255 std),  B0[c] = b[c] - s[c] (mean/std) sum_k q[c,k]
 * (q the int8 or +-1 weight codes, s their scale); a binary layer is acc = sum_k w a (+-1),
 * pre = acc * alpha.  Then bit = sign(BN(pre)).
 *
 * The float simulation (nnc_bmlp_simulate) is that network computed with nnc ops in float64:
 * nnc_linear on the integer-valued weights and inputs (exact), nnc_mul/nnc_add for A and B,
 * nnc_batch_norm (eval) and nnc_sign_ste (sign(0) = +1), and for the last layer
 * acc * scale + bias.  As pre -> BN -> sign is monotone in the integer acc, the exporter finds
 * for every output the integer threshold tau with bit = (acc >= tau) (or acc <= tau) by a
 * binary search that evaluates exactly those ops, so the exported model and the simulation
 * agree bit for bit on every hidden unit and every score (the binary layers' thresholds are
 * also checked exhaustively over every possible acc).  The trained float model (f32, weights
 * scaled before the product) differs from the simulation only by rounding. */
#ifndef NNC_INFER_BINARY_MLP_H
#define NNC_INFER_BINARY_MLP_H
#include <stdbool.h>
#include <stdint.h>
#include "core/error.h"
#include "core/params.h"
#include "core/rng.h"
#include "core/tensor.h"
#include "data/batch.h"
#include "infer/imodel.h"
#include "io/safetensors.h"
#include "nn/binary.h"
#include "nn/module.h"

/* ---- pixels ---- */
/* the raw pixels of a Fashion-MNIST data set as loaded by data/fashion.h (x normalised f32):
 * p = round((x std + mean) 255), checked to give back x exactly through the loader's formula
 * ((float)p / 255 - mean) / std; NNC_ERR_FORMAT if any value is not such a pixel.
 * out: [n, 784] */
nnc_status nnc_fashion_pixels(const nnc_dataset *ds, uint8_t *out);
/* the loader's normalised value of pixel p */
float nnc_fashion_norm(int p);

/* ---- the model and its training ---- */
typedef struct {
  int64_t in, hidden, classes; /* 0: 784, 512, 10 */
  int n_binary;                /* binary hidden layers; 0 is allowed; default (-1) 2 */
  bool first_binary;           /* the "binary-mlp-1bit" variant */
} nnc_bmlp_arch;
/* the arch of a variant name ("binary-mlp", "binary-mlp-1bit"); false if unknown */
bool nnc_bmlp_arch_of(const char *model, nnc_bmlp_arch *a);

/* builds the network (STE estimators, the cfg must outlive it; nn/binary.h) */
nnc_sequential_mod *nnc_bmlp_build(nnc_params *p, nnc_params *buffers, const nnc_bmlp_arch *a,
                                   const nnc_binary_cfg *cfg, nnc_rng *r);

typedef struct {
  nnc_bmlp_arch arch;
  int epochs;          /* 0: 2 */
  int64_t limit;       /* train on the first `limit` examples (0: all 60000) */
  int batch;           /* 0: 128 */
  double lr;           /* 0: 1e-3 (Adam, cosine to 0) */
  uint64_t seed;
  const char *data_dir;
  bool quiet;
} nnc_bmlp_train_opts;
/* trains with the STE (clip 1) and writes the parameters and BatchNorm buffers to `out`
 * (safetensors, metadata "model" = the variant); *test_acc (may be NULL) gets the float
 * model's test accuracy */
nnc_status nnc_bmlp_train(const nnc_bmlp_train_opts *o, const char *out, double *test_acc);

/* ---- the export plan: the integer network and its float parameters ---- */
typedef struct {
  nnc_bmlp_arch arch;
  int8_t *w0;              /* [H, in]: int8 codes (+-1 when first_binary) */
  double *A0, *B0;         /* [H] */
  uint64_t **wb;           /* n_binary x [H, words(H)]: +-1 weights */
  double *alpha;           /* [n_binary] */
  double *bn[NNC_IMODEL_MAX_LAYERS][4]; /* per sign layer l = 0..n_binary: gamma, beta, mean, var [H] */
  int8_t *wl;              /* [classes, H] */
  float *sl, *bl;          /* [classes] */
} nnc_bmlp_plan;
/* reads the weights of `a` from f (names as above); NNC_ERR_FORMAT naming the tensor on a
 * missing tensor or a wrong shape, NNC_ERR_ARG for BiPer weights (an "alpha" tensor) */
nnc_status nnc_bmlp_plan_from(const nnc_st_file *f, const nnc_bmlp_arch *a, nnc_bmlp_plan *plan);
void nnc_bmlp_plan_free(nnc_bmlp_plan *plan);
/* the float64 simulation of pixels x [n, in]: pred[n] (may be NULL), scores [n, classes]
 * (may be NULL), hidden[l] (may be NULL, each may be NULL) the +-1 outputs of sign layer l as
 * packed bits [n, words(H)] */
void nnc_bmlp_simulate(const nnc_bmlp_plan *plan, int64_t n, const uint8_t *x, int64_t *pred, double *scores,
                       uint64_t **hidden);
/* the exported model (thresholds found as described above); NNC_ERR_NUMERIC if a threshold
 * check fails (a non-monotone simulation: should not happen) */
nnc_status nnc_bmlp_to_imodel(const nnc_bmlp_plan *plan, const char *desc, nnc_imodel *out);

/* ---- the whole export, as `nnc export --format binary` runs it ---- */
typedef struct {
  int64_t n_test;
  double float_acc;        /* the trained model (f32 nnc modules, eval mode) */
  double sim_acc;          /* binary: the float simulation; int8: the integer reference */
  double fq_acc;           /* int8: the float64 fake-quant simulation (nnc_qmlp_simulate_f64) */
  double file_acc;         /* the exported file, read back and run by nnc_imodel_forward */
  int64_t pred_diff_sim;   /* test images whose prediction differs between file and sim (0) */
  int64_t pred_diff_float; /* ... between file and the trained float model */
  int64_t value_diff;      /* hidden bits (binary) / output codes (int8) that differ (0) */
  int64_t file_bytes, st_bytes;
  char isa[64];
} nnc_export_report;

/* weights (safetensors) of variant `model` -> file `out`, checked on the test set of
 * data_dir (NULL: the Debian package) */
nnc_status nnc_bmlp_export(const char *weights, const char *model, const char *out, const char *data_dir,
                           nnc_export_report *rep);

#endif
