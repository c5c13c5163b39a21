/* quant/qint.h: integer-only arithmetic for quantised inference, as gemmlowp and TFLite do it.
 *
 * This is the plain reference: one element at a time, no SIMD, no threads, every rounding
 * written out.  It is the oracle for fast int8 kernels (a VNNI GEMM must reproduce
 * nnc_qgemm_ref_u8s8 exactly, and a fused requantisation nnc_requantize_ref exactly).
 *
 * Fixed-point primitives (gemmlowp fixedpoint.h, TFLite kernels/internal/common.h):
 *
 *   nnc_srdhm(a, b)      SaturatingRoundingDoublingHighMul: round(a*b / 2^31) with ties
 *                        towards +infinity (the nudge 2^30, or 1 - 2^30 for a negative
 *                        product, then C division truncating towards zero), and the one
 *                        overflow, INT32_MIN * INT32_MIN, saturated to INT32_MAX.
 *                        So srdhm(2^15, 2^15) = 1 (+0.5 -> 1) but srdhm(-2^15, 2^15) = 0
 *                        (-0.5 -> 0), and -1.5 -> -1.
 *   nnc_rdbpot(x, e)     RoundingDivideByPOT: round(x / 2^e), 0 <= e <= 31, ties away from
 *                        zero: rdbpot(3, 1) = 2, rdbpot(-3, 1) = -2, rdbpot(-1, 1) = -1.
 *   nnc_quantize_multiplier(m, &mult, &shift)
 *                        TFLite's QuantizeMultiplier: m = mult * 2^(shift - 31) with mult a Q31
 *                        mantissa in [2^30, 2^31) (frexp, then round half away from zero; a
 *                        mantissa that rounds up to 2^31 becomes 2^30 with shift + 1); m = 0,
 *                        or m < 2^-32 (shift < -31), gives mult = 0, shift = 0.  m must be
 *                        finite and >= 0.  shift > 0 means a left shift (m >= 1).
 *   nnc_multiply_by_quantized_multiplier(x, mult, shift)
 *                        TFLite's MultiplyByQuantizedMultiplier (double rounding):
 *                        rdbpot(srdhm(x * 2^max(shift, 0), mult), max(-shift, 0)).
 *                        One difference: x * 2^shift saturates to int32 here (TFLite's
 *                        reference overflows, which is undefined behaviour).
 *
 * Quantised linear layer (int8 weights, uint8 activations, int32 accumulation):
 *
 *   real y[b, c] = sum_k W[c, k] x[b, k] + bias[c], with
 *     W[c, k]  = w_scale[c] * w[c, k]               int8 codes, symmetric per output channel
 *     x[b, k]  = in_scale * (xq[b, k] - in_zero)     uint8 codes, affine per tensor
 *     bias[c]  = w_scale[c] * in_scale * qbias[c]    int32 codes, zero point 0
 *     y[b, c]  = out_scale * (yq[b, c] - out_zero)   uint8 codes, affine per tensor
 *   the integer computation (nnc_qlinear_forward_ref) is
 *     acc[b, c] = sum_k xq[b, k] * w[c, k]                     (nnc_qgemm_ref_u8s8, int32)
 *               - in_zero * wsum[c] + qbias[c]                 (wsum[c] = sum_k w[c, k])
 *     yq[b, c]  = clamp(out_zero + MBQM(acc[b, c], mult[c], shift[c]), out_min, out_max)
 *   with (mult[c], shift[c]) = nnc_quantize_multiplier(w_scale[c] * in_scale / out_scale)
 *   (computed in double from the float scales).  A fused ReLU is out_min = out_zero.
 *   int32 accumulation is exact while K * 255 * 128 + |qbias| < 2^31 (K < 65 000): checked.
 *
 * Layouts: row-major, contiguous.  A GEMM's B operand is [N, K] (rows are output channels,
 * as a Linear weight [out, in]), so C = A B^T. */
#ifndef NNC_QUANT_QINT_H
#define NNC_QUANT_QINT_H
#include <stdbool.h>
#include <stdint.h>

/* ---- fixed-point primitives ---- */
int32_t nnc_srdhm(int32_t a, int32_t b);
int32_t nnc_rdbpot(int32_t x, int exponent);
void nnc_quantize_multiplier(double m, int32_t *mult, int *shift);
int32_t nnc_multiply_by_quantized_multiplier(int32_t x, int32_t mult, int shift);

/* ---- reference GEMMs: C[i*N + j] = sum_k A[i*K + k] * B[j*K + k] (int32, overwritten) ----
 * A [M, K], B [N, K], C [M, N].  Exact: the caller keeps K * max|A| * max|B| < 2^31. */
void nnc_qgemm_ref_s8(int64_t M, int64_t N, int64_t K, const int8_t *A, const int8_t *B, int32_t *C);
void nnc_qgemm_ref_u8s8(int64_t M, int64_t N, int64_t K, const uint8_t *A, const int8_t *B, int32_t *C);

/* sum[j] = sum_k B[j*K + k], the per-row sums the zero-point correction needs */
void nnc_qrow_sums_s8(int64_t N, int64_t K, const int8_t *B, int32_t *sum);

/* ---- requantisation ----
 * out[i*N + j] = clamp(out_zero + MBQM(acc[i*N + j], mult[c], shift[c]), out_min, out_max)
 * with c = j if per_channel, else 0.  out_min..out_max must lie in 0..255. */
void nnc_requantize_ref(int64_t M, int64_t N, const int32_t *acc, const int32_t *mult, const int32_t *shift,
                        bool per_channel, int32_t out_zero, int32_t out_min, int32_t out_max, uint8_t *out);

/* ---- a quantised linear layer (see the top of this file for the arithmetic) ---- */
typedef struct {
  int64_t in, out;
  int8_t *w;                   /* [out, in] */
  int32_t *bias;               /* [out], scale w_scale[c] * in_scale */
  int32_t *wsum;               /* [out], sum_k w[c, k] */
  int32_t *mult, *shift;       /* [out], nnc_quantize_multiplier(w_scale[c] * in_scale / out_scale) */
  float *w_scale;              /* [out] */
  float in_scale, out_scale;
  int32_t in_zero, out_zero;
  int32_t out_min, out_max;    /* clamp of the output codes; fused ReLU: out_min = out_zero */
  int32_t in_max;              /* input codes are 0..in_max (2^bits - 1; 255 for 8 bits) */
} nnc_qlinear;

/* allocates the arrays of a layer (zeroed; out_min 0, out_max and in_max 255) */
void nnc_qlinear_alloc(nnc_qlinear *L, int64_t in, int64_t out);
void nnc_qlinear_free(nnc_qlinear *L);
/* fills wsum, mult and shift from w, w_scale, in_scale and out_scale */
void nnc_qlinear_finish(nnc_qlinear *L);
/* x [batch, in] uint8 -> y [batch, out] uint8; acc [batch, out] receives the int32
 * accumulators after the bias and zero-point terms (NULL: a scratch buffer is used) */
void nnc_qlinear_forward_ref(const nnc_qlinear *L, int64_t batch, const uint8_t *x, uint8_t *y, int32_t *acc);

/* ---- a quantised MLP: layers applied in order, each one's out_scale/out_zero the next
 * one's in_scale/in_zero ---- */
typedef struct {
  int n;
  nnc_qlinear *layers; /* malloc'ed, n */
} nnc_qmlp;
void nnc_qmlp_free(nnc_qmlp *m);
/* the float input x [batch, in] quantised with layers[0]'s in_scale/in_zero
 * (nnc_quantize_f32 of quant/quant.h: round half to even of x / scale, plus zero, clamped
 * to 0..in_max) */
void nnc_qmlp_quantize_input(const nnc_qmlp *m, int64_t batch, const float *x, uint8_t *xq);
/* integer-only forward: xq [batch, in] -> out [batch, last out] uint8 codes.  codes, if not
 * NULL, is an array of n pointers; codes[l] (size batch * layers[l].out) receives the
 * output codes of layer l (codes[n-1] may equal out). */
void nnc_qmlp_forward_ref(const nnc_qmlp *m, int64_t batch, const uint8_t *xq, uint8_t *out, uint8_t **codes);

#endif
