/* nn/binary.h: pieces of binary neural networks (1-bit weights and activations).
 *
 * The forward of every binariser here is a sign with sign(0) = +1 (PyTorch's torch.sign gives
 * 0 there, a dead output; +1 keeps every output in {-1, +1} and agrees with a bit-packed
 * kernel); a NaN input gives NaN.  What differs is the backward, the "estimator" of
 * d sign / dx.  Each binariser is a custom op (autograd.h, nnc_custom) with its backward
 * written by hand:
 *
 *   nnc_sign_ste(x, c)        STE, clipped identity:       g(x) = 1[|x| <= c]   (c = 1 usually)
 *   nnc_sign_reste(x, o, t)   ReSTE (Wu et al., ICCV 2023), the derivative of the "equivalent
 *                             forward" f_o(x) = sign(x) |x|^(1/o):
 *                               g(x) = (1/o) |x|^((1-o)/o)   0.1 < |x| <= t
 *                               g(x) = 0.1^(1/o) / 0.1       |x| <= 0.1   (secant slope over [0, 0.1])
 *                               g(x) = 0                     |x| > t
 *                             o = 1 is the clipped identity at t; the official code uses t = 1.5.
 *   nnc_sign_periodic(w, om)  BiPer (Vargas et al., CVPR 2024) weights: the square wave
 *                             sign(sin(om*w)), backward om * cos(om*w) (identity through the
 *                             sign, the true derivative of the sine).  The wave is computed
 *                             from floor(om*w / pi) (+1 on [2k pi, (2k+1) pi)), not from a
 *                             sine: the same bits except where sin rounds at om*w = k pi
 *   nnc_sign_triangle(x)      BiPer activations: backward max(0, 2 - 2|x|)
 *
 * The scalar functions nnc_*_grad give the same derivatives one value at a time (for the
 * indicators of the papers and the tests).
 *
 * Modules (their settings in an nnc_binary_cfg the caller owns and may change between steps,
 * e.g. ReSTE's o per epoch):
 *   nnc_new_binact        sign activation with the configured estimator; for BiPer, in
 *                         training each sample is first divided by sqrt(Var + eps) over its
 *                         non-batch axes (unbiased variance, as the official code), which sign
 *                         ignores but the triangle's width sees; eval skips it
 *   nnc_new_binary_linear y = x @ Wb^T, no bias.  Wb from the latent weight W [out, in]:
 *                         STE, ReSTE: sign_est(W) * mean|W| (one scalar per layer, and the
 *                         gradient flows through the scale, as the official ReSTE code);
 *                         BiPer: sign(sin(om W)) (stage 2) or sin(om W) (stage 1, continuous),
 *                         and y is multiplied by a learnable alpha [out] ~ U(0, 1)
 *   nnc_new_binary_conv2d the same for a convolution, W [out, in, kh, kw], alpha [out, 1, 1]
 * Latent weights start as PyTorch's Linear / Conv2d: U(-1/sqrt(fan_in), 1/sqrt(fan_in)). */
#ifndef NNC_NN_BINARY_H
#define NNC_NN_BINARY_H
#include "core/params.h"
#include "core/rng.h"
#include "nn/module.h"
#include "ops/ops.h"

/* ---- binarisers (custom ops; f32 or f64, any shape and strides) ---- */
nnc_tensor *nnc_sign_ste(nnc_tensor *x, double clip);
nnc_tensor *nnc_sign_reste(nnc_tensor *x, double o, double t);
nnc_tensor *nnc_sign_periodic(nnc_tensor *w, double omega);
nnc_tensor *nnc_sign_triangle(nnc_tensor *x);

/* ---- the same maths on one value ---- */
/* sign with sign(0) = +1 (and -0 too); NaN stays NaN, so a diverged value is not hidden */
static inline double nnc_sign_pm1(double x) { return x >= 0 ? 1.0 : x < 0 ? -1.0 : x; }
double nnc_ste_grad(double x, double clip);
double nnc_reste_grad(double x, double o, double t);
/* ReSTE's equivalent forward f_o(x) = sign(x) |x|^(1/o) */
double nnc_reste_fo(double x, double o);
double nnc_periodic_grad(double w, double omega); /* omega cos(omega w) */
double nnc_square_wave(double w, double omega);   /* sign(sin(omega w)), +1 at 0 */
double nnc_triangle_grad(double x);               /* max(0, 2 - 2|x|) */
/* the schedule of the official ReSTE code: o(e) = 1 + (o_end - 1)(1 - cos(pi/2 * e / E)) for
 * 0-based epoch e of E (so o never quite reaches o_end) */
double nnc_reste_o_schedule(int epoch, int epochs, double o_end);

/* x / sqrt(Var(x) + eps) per sample: the variance (unbiased) over every axis but 0 */
nnc_tensor *nnc_sample_var_norm(nnc_tensor *x, double eps);

/* ---- modules ---- */
typedef enum { NNC_BIN_STE, NNC_BIN_RESTE, NNC_BIN_BIPER } nnc_bin_estimator;
const char *nnc_bin_estimator_name(nnc_bin_estimator e); /* "STE", "ReSTE", "BiPer" */

typedef struct {
  nnc_bin_estimator est;
  double ste_clip;  /* STE: the clip of the identity (1) */
  double o, t;      /* ReSTE: the power (1 .. 3, set per epoch) and the clip (1.5) */
  double omega;     /* BiPer: the frequency of the square wave (20 in the official scripts) */
  int stage;        /* BiPer: 1 = sin(om W) weights (not binary), 2 = sign(sin(om W)) */
  double var_eps;   /* BiPer: eps of the per-sample activation normalisation (1e-5) */
} nnc_binary_cfg;
/* the defaults of each method's official code (stage 2 for BiPer) */
nnc_binary_cfg nnc_binary_cfg_default(nnc_bin_estimator est);

typedef struct {
  nnc_module base;
  const nnc_binary_cfg *cfg; /* not owned */
} nnc_binact_mod;
nnc_binact_mod *nnc_new_binact(const nnc_binary_cfg *cfg);
/* the activation binariser of cfg applied to x (what an nnc_binact_mod does) */
nnc_tensor *nnc_binarize_act(nnc_tensor *x, const nnc_binary_cfg *cfg, bool training);

typedef struct {
  nnc_module base;
  const nnc_binary_cfg *cfg; /* not owned */
  int64_t in, out;
  nnc_conv_args conv;        /* conv only */
  nnc_tensor *weight;        /* latent weights: [out, in] or [out, in, kh, kw] */
  nnc_tensor *alpha;         /* BiPer only: [out] (linear) or [out, 1, 1] (conv); else NULL */
} nnc_binary_layer_mod;
nnc_binary_layer_mod *nnc_new_binary_linear(nnc_params *p, const char *name, int64_t in, int64_t out,
                                            const nnc_binary_cfg *cfg, nnc_rng *r);
nnc_binary_layer_mod *nnc_new_binary_conv2d(nnc_params *p, const char *name, int64_t in, int64_t out, int64_t k,
                                            nnc_conv_args conv, const nnc_binary_cfg *cfg, nnc_rng *r);
/* the weights the layer computes with (Wb, before alpha), on the tape */
nnc_tensor *nnc_binary_weight(nnc_binary_layer_mod *l);

/* ---- networks of the paper reproductions (papers/reste, papers/biper) ----
 * Both take two configurations: cfg_w for the binary layers' weights and cfg_a for the sign
 * activations; pass the same pointer twice for a plain network (two differ in ablations).
 * The binary MLP: x [N, in] -> Linear(in, hidden) -> BN -> sign -> [BinaryLinear(hidden,
 * hidden) -> BN -> sign] x n_binary -> Linear(hidden, classes).  First and last layers are
 * full precision (with bias); BN is BatchNorm1d (eps 1e-5, momentum 0.1, affine).
 * Names: fc0, bn0, fc1, bn1, ..., fc<n_binary+1>. */
nnc_sequential_mod *nnc_new_binary_mlp(nnc_params *p, nnc_params *buffers, int64_t in, int64_t hidden, int n_binary,
                                       int64_t classes, const nnc_binary_cfg *cfg_w, const nnc_binary_cfg *cfg_a,
                                       nnc_rng *r);
/* The binary CNN for 28x28 one-channel images given as rows x [N, 784]:
 *   [N, 1, 28, 28] -> Conv(1, c1, 3, pad 1) -> BN2d -> MaxPool(2) -> sign
 *   -> BinaryConv(c1, c2, 3, pad 1) -> MaxPool(2) -> BN2d -> sign          (14x14 -> 7x7)
 *   -> BinaryConv(c2, c2, 3, pad 1) -> BN2d -> sign -> Flatten -> Linear(c2*49, classes)
 * Names: conv0, bn0, conv1, bn1, conv2, bn2, fc. */
nnc_sequential_mod *nnc_new_binary_cnn(nnc_params *p, nnc_params *buffers, int64_t c1, int64_t c2, int64_t classes,
                                       const nnc_binary_cfg *cfg_w, const nnc_binary_cfg *cfg_a, nnc_rng *r);

#endif
