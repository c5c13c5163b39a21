/* quant/quant.h: uniform quantisers, calibration, and the fake-quantisation ops that
 * quantisation-aware training differentiates through (after Gholami et al., "A Survey of
 * Quantization Methods for Efficient Neural Network Inference", 2021).
 *
 * A b-bit uniform quantiser maps a real r to an integer code and back:
 *   q = clamp(round(r / S) + Z, qmin, qmax),      r^ = S * (q - Z)
 * round is round-half-to-even (nearbyint, as PyTorch's fake_quantize), r / S is computed in
 * the input's precision.  Schemes (nnc_qscheme):
 *   symmetric  Z = 0, signed codes; narrow: [-(2^(b-1) - 1), 2^(b-1) - 1], S = beta / (2^(b-1) - 1)
 *              (the weight default: -q is representable); full: [-2^(b-1), 2^(b-1) - 1],
 *              S = 2 beta / (2^b - 1); beta = max(|lo|, |hi|)
 *   affine     unsigned codes [0, 2^b - 1]; the range [lo, hi] is first widened to contain 0,
 *              S = (hi - lo) / (2^b - 1), Z = round(-lo / S), so real 0 is exactly the code Z
 *              (zero padding and ReLU outputs depend on it)
 * A scale below NNC_QSCALE_MIN (an all-zero channel) is raised to it, so nothing divides by 0.
 *
 * Granularity: one (S, Z) for a whole tensor, or one per channel along axis 0 (the output
 * channel of a Linear [out, in] or Conv [out, in, kh, kw] weight).
 *
 * Calibration picks the clipping range [lo, hi] from values (nnc_calib):
 *   MINMAX      the smallest and largest value
 *   PERCENTILE  symmetric: the p-th percentile of |v|; affine: the (100-p)-th and p-th
 *               percentiles (linear interpolation between order statistics, as numpy)
 *   MSE         the range among k/G of the min-max range (k = 1..G, G = grid, default 100;
 *               affine: lo and hi shrunk by the same factor) with the smallest sum of
 *               squared quantisation errors (v - Q(v))^2
 * An observer (nnc_qobserver) gathers values over several batches for activations.
 *
 * Fake quantisation (differentiable, custom ops on the tape):
 *   nnc_fake_quant   r^ as above with a straight-through estimator: the gradient passes
 *                    unchanged (NNC_STE) or only where the unclamped code lies in
 *                    [qmin, qmax] (NNC_STE_CLIPPED, PyTorch's fake_quantize mask)
 *   nnc_lsq          learned step size quantisation (Esser et al., ICLR 2020):
 *                    v^ = s * clamp(round(v / s), -Q_N, Q_P) with gradients
 *                      d v^/d v = 1 if -Q_N < v/s < Q_P, else 0
 *                      d v^/d s = round(v/s) - v/s inside, -Q_N below, Q_P above,
 *                                 times the gradient scale g (1 / sqrt(N Q_P): N = numel(v)
 *                                 per step for weights, features per step for activations)
 *                    s may broadcast (a scalar, or [C, 1] per channel); its gradient is summed.
 * Neither op gives the scale or zero point of nnc_fake_quant a gradient. */
#ifndef NNC_QUANT_QUANT_H
#define NNC_QUANT_QUANT_H
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include "core/tensor.h"

#define NNC_QSCALE_MIN 1e-8f

typedef struct {
  int bits;       /* 2..16 */
  bool symmetric; /* Z = 0 and signed codes; false: affine, unsigned codes */
  bool narrow;    /* symmetric only: drop -2^(b-1) */
} nnc_qscheme;

/* common schemes */
static inline nnc_qscheme nnc_qscheme_weight(int bits) { return (nnc_qscheme){bits, true, true}; }
static inline nnc_qscheme nnc_qscheme_act(int bits) { return (nnc_qscheme){bits, false, false}; }

void nnc_qscheme_range(nnc_qscheme s, int32_t *qmin, int32_t *qmax);
/* (S, Z) for the clipping range [lo, hi] */
void nnc_qscheme_params(nnc_qscheme s, double lo, double hi, float *scale, int32_t *zero);

/* the code of x: clamp(nearbyint(x / scale) + zero, qmin, qmax); NaN gives qmin */
static inline int32_t nnc_quantize_f32(float x, float scale, int32_t zero, int32_t qmin, int32_t qmax) {
  float r = nearbyintf(x / scale) + (float)zero;
  r = r > (float)qmin ? r : (float)qmin; /* also maps NaN to qmin */
  r = r < (float)qmax ? r : (float)qmax;
  return (int32_t)r;
}

/* ---- calibration ---- */
typedef enum { NNC_CALIB_MINMAX, NNC_CALIB_PERCENTILE, NNC_CALIB_MSE } nnc_calib_method;
typedef struct {
  nnc_calib_method method;
  double percentile; /* PERCENTILE: in (50, 100], e.g. 99.99; 0 means 99.99 */
  int grid;          /* MSE: candidates, 0 means 100 */
} nnc_calib;
const char *nnc_calib_name(nnc_calib_method m); /* "minmax", "percentile", "mse" */

/* the clipping range of n values (n >= 1; non-finite values are ignored) */
void nnc_calib_range(const float *v, int64_t n, nnc_qscheme s, nnc_calib c, double *lo, double *hi);
/* sum of (v - Q(v))^2 over n values for one (S, Z) */
double nnc_quant_sq_error(const float *v, int64_t n, float scale, int32_t zero, int32_t qmin, int32_t qmax);

/* ---- quantisation parameters of a tensor ---- */
typedef struct {
  nnc_qscheme scheme;
  int32_t qmin, qmax;
  int64_t n;      /* 1 (per tensor) or the size of axis 0 (per channel) */
  float *scale;   /* [n], malloc'ed */
  int32_t *zero;  /* [n] */
} nnc_qparams;

/* per-tensor or per-channel (axis 0) parameters calibrated on the values of t (any float
 * dtype, any strides).  qp must be zeroed or freed before. */
void nnc_qparams_calibrate(nnc_qparams *qp, const nnc_tensor *t, nnc_qscheme s, nnc_calib c, bool per_channel);
/* per-tensor parameters for a given range */
void nnc_qparams_from_range(nnc_qparams *qp, nnc_qscheme s, double lo, double hi);
void nnc_qparams_free(nnc_qparams *qp);
/* the scale and zero point as tensors in the current arena, shaped to broadcast against a
 * tensor of ndim dims: [] per tensor, [n, 1, ..., 1] per channel; dtype dt */
nnc_tensor *nnc_qparams_scale_tensor(const nnc_qparams *qp, int ndim, nnc_dtype dt);
nnc_tensor *nnc_qparams_zero_tensor(const nnc_qparams *qp, int ndim, nnc_dtype dt);

/* ---- observers: values seen over several batches ---- */
typedef struct {
  int64_t n, cap, seen;  /* kept values, room, values offered */
  float *v;              /* kept values (all of them until cap, then a uniform reservoir) */
  uint64_t rng;          /* reservoir sampling state */
  double min, max;       /* over everything offered */
} nnc_qobserver;
/* cap: values to keep (0: 1 << 18, a uniform sample of everything offered beyond that) */
void nnc_qobserver_init(nnc_qobserver *o, int64_t cap);
void nnc_qobserver_add(nnc_qobserver *o, const nnc_tensor *t);
/* the clipping range by c (MINMAX uses min/max over everything offered) */
void nnc_qobserver_range(const nnc_qobserver *o, nnc_qscheme s, nnc_calib c, double *lo, double *hi);
void nnc_qobserver_free(nnc_qobserver *o);

/* ---- fake quantisation (custom ops) ---- */
typedef enum { NNC_STE, NNC_STE_CLIPPED } nnc_ste;
/* x^ = S (clamp(round(x/S) + Z, qmin, qmax) - Z); scale and zero broadcast to x, same
 * dtype as x; no gradient for them */
nnc_tensor *nnc_fake_quant(nnc_tensor *x, nnc_tensor *scale, nnc_tensor *zero, int32_t qmin, int32_t qmax,
                           nnc_ste ste);
/* the same with the parameters of qp (per channel: along axis 0 of x) */
nnc_tensor *nnc_fake_quant_qp(nnc_tensor *x, const nnc_qparams *qp, nnc_ste ste);
/* v^ = s clamp(round(v/s), -qn, qp); qn >= 0, qp >= 1; s > 0 broadcasts to v */
nnc_tensor *nnc_lsq(nnc_tensor *v, nnc_tensor *s, int32_t qn, int32_t qp, double grad_scale);
/* g = 1 / sqrt(n * qp) */
double nnc_lsq_grad_scale(int64_t n, int32_t qp);
/* Esser et al.'s initial step 2 mean|v| / sqrt(qp) of n values */
double nnc_lsq_init_step(const float *v, int64_t n, int32_t qp);

#endif
