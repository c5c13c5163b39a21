/* infer/kernels.h: the inference kernels of binary and int8 networks.
 *
 * Binary (1-bit) linear layer.  Weights and activations are +-1, packed 64 per uint64 along
 * the input dimension: value k of a row is bit (k % 64) of word k / 64, bit 1 = +1 (x >= 0,
 * so sign(0) = +1 as nn/binary.h), bit 0 = -1.  Bits beyond the row length (padding up to a
 * multiple of 64) are 0 in both operands, so their XOR is 0 and they cancel:
 *
 *   y[m, n] = sum_k a[m, k] w[n, k] = K - 2 popcount(a[m] XOR w[n])      (exact integers)
 *
 * A binary layer followed by BatchNorm and sign needs only y: sign(BN(alpha y)) is monotone
 * in y, so it equals one integer comparison per output, y >= tau (or y <= tau when the
 * composed slope is negative), which the kernel evaluates on the popcount directly and writes
 * as the next layer's packed bits (nnc_bin_linear_bits).  infer/binary_mlp.c finds tau.
 *
 * int8 GEMM.  C[m, n] = sum_k A[m, k] B[n, k] with A uint8 [M, K], B int8 [N, K] (a Linear
 * weight [out, in]) and int32 accumulation, exact while K * 255 * 128 < 2^31.  AVX-512 VNNI's
 * vpdpbusd multiplies u8 by s8 and adds groups of 4 into int32 lanes without saturation,
 * which is exactly this product; int8 activations use the usual trick: A + 128 is uint8 and
 * sum (a + 128) b = sum a b + 128 sum b, so the row sums of B correct it (nnc_q8_gemm_s8s8).
 * Requantisation (nnc_q8_requant) is TFLite's MultiplyByQuantizedMultiplier, bit for bit the
 * reference of quant/qint.h (a vectorised version when no multiplier is >= 1).
 *
 * Every kernel has an AVX-512 version (VPOPCNTDQ for the binary kernels, VNNI + BW for int8),
 * compiled with function-level target attributes and chosen at run time with
 * __builtin_cpu_supports, and a portable version in plain C (popcount, int32 loops) that
 * gives bit-identical results; nnc_infer_force_portable(true) selects the portable one
 * everywhere (tests, benchmarks).  The kernels are single-threaded: callers split the batch
 * (infer/imodel.c runs one OpenMP task per chunk of rows). */
#ifndef NNC_INFER_KERNELS_H
#define NNC_INFER_KERNELS_H
#include <stdbool.h>
#include <stdint.h>

/* ---- instruction sets ---- */
bool nnc_infer_have_vpopcntdq(void); /* the CPU runs AVX-512F + VPOPCNTDQ */
bool nnc_infer_have_vnni(void);      /* the CPU runs AVX-512F + BW + VNNI */
void nnc_infer_force_portable(bool on);
bool nnc_infer_portable_forced(void);
/* "avx512-vpopcntdq" / "portable" etc.: what the binary (or int8) kernels use now */
const char *nnc_infer_bin_isa(void);
const char *nnc_infer_q8_isa(void);

/* ---- bit packing ---- */
static inline int64_t nnc_bits_words(int64_t n) { return (n + 63) / 64; }
/* rows x[m * ldx + k] (k < K) -> packed bits out[m * words(K) + ...]: 1 where x >= 0 (NaN: 0) */
void nnc_pack_signs_f32(int64_t M, int64_t K, const float *x, int64_t ldx, uint64_t *out);
void nnc_pack_signs_f64(int64_t M, int64_t K, const double *x, int64_t ldx, uint64_t *out);
/* packed bits -> bytes 0/1 (out [M, K]) */
void nnc_unpack_bits_u8(int64_t M, int64_t K, const uint64_t *a, uint8_t *out);
/* true if every padding bit (beyond K) of the M rows is 0 */
bool nnc_bits_padding_clear(int64_t M, int64_t K, const uint64_t *a);

/* ---- binary linear layer ---- */
typedef struct {
  int64_t in, out;   /* K and N */
  int64_t kw;        /* words per row: nnc_bits_words(in) */
  int64_t npad;      /* out rounded up to 32 */
  uint64_t *w;       /* [out, kw], padding bits 0 */
  uint64_t *wp;      /* kernel layout: [npad / 32][kw][32] */
  int64_t *pthr;     /* [npad]: output bit = (popcount <= pthr) XOR flip */
  uint8_t *flip;     /* [npad / 8]: flip bits, 8 outputs per byte */
  bool have_thr;
} nnc_bin_linear;

/* copies the packed weights w [out, words(in)] (padding bits must be 0: checked, stops) */
void nnc_bin_linear_init(nnc_bin_linear *L, int64_t in, int64_t out, const uint64_t *w);
void nnc_bin_linear_free(nnc_bin_linear *L);
/* the threshold of every output in terms of y = K - 2 popcount: bit n is 1 (+1) where
 * y >= tau[n] if dir[n] > 0, where y <= tau[n] if dir[n] < 0 */
void nnc_bin_linear_set_thresholds(nnc_bin_linear *L, const int32_t *tau, const int8_t *dir);
/* y [M, out] (row stride out) = K - 2 popcount(a XOR w) for a [M, kw] packed rows */
void nnc_bin_linear_acc(const nnc_bin_linear *L, int64_t M, const uint64_t *a, int32_t *y);
/* the thresholded outputs as packed bits out [M, words(out)] (padding bits 0) */
void nnc_bin_linear_bits(const nnc_bin_linear *L, int64_t M, const uint64_t *a, uint64_t *out);
/* the oracle: y = sum_k a_k w_k one bit at a time, for a [M, words(K)] and w [N, words(K)] */
void nnc_bin_gemm_ref(int64_t M, int64_t N, int64_t K, const uint64_t *a, const uint64_t *w, int32_t *y);

/* ---- binary 2-d convolution (correct, not tuned) ----
 * x: packed bits [N, H, W, words(C)] (channels packed per pixel, NHWC), weights: packed
 * [O, KH, KW, words(C)], zero padding `pad` (padding is 0, not +-1: those taps add nothing),
 * stride `stride` -> y int32 [N, OH, OW, O] = sum over valid taps and channels of x w.
 * Computed as im2col on packed words and nnc_bin_linear_acc, with the taps that fall into
 * the padding corrected by the weight popcounts of those taps. */
typedef struct {
  int64_t C, O, KH, KW;
  int stride, pad;
  int64_t cw;              /* words(C) */
  nnc_bin_linear gemm;     /* in = KH*KW*cw*64 bits */
  int32_t *wpop;           /* [O, KH*KW]: popcount of each tap's weight words */
} nnc_bin_conv2d;
void nnc_bin_conv2d_init(nnc_bin_conv2d *L, int64_t C, int64_t O, int64_t KH, int64_t KW, int stride, int pad,
                         const uint64_t *w);
void nnc_bin_conv2d_free(nnc_bin_conv2d *L);
void nnc_bin_conv2d_out_size(const nnc_bin_conv2d *L, int64_t H, int64_t W, int64_t *OH, int64_t *OW);
void nnc_bin_conv2d_forward(const nnc_bin_conv2d *L, int64_t N, int64_t H, int64_t W, const uint64_t *x, int32_t *y);
/* the oracle: direct convolution one bit at a time */
void nnc_bin_conv2d_ref(int64_t N, int64_t C, int64_t H, int64_t W, int64_t O, int64_t KH, int64_t KW, int stride,
                        int pad, const uint64_t *x, const uint64_t *w, int32_t *y);

/* ---- int8 GEMM ---- */
typedef struct {
  int64_t in, out;   /* K and N */
  int64_t k4;        /* K rounded up to 4, divided by 4 */
  int64_t npad;      /* N rounded up to 64 */
  int8_t *w;         /* [out, in] */
  int8_t *wp;        /* VNNI layout: [npad / 64][k4][64][4] (zero padded) */
  int32_t *wsum;     /* [out]: sum_k w[n, k] */
} nnc_q8_weights;
void nnc_q8_weights_init(nnc_q8_weights *W, int64_t in, int64_t out, const int8_t *w);
void nnc_q8_weights_free(nnc_q8_weights *W);
/* C[m * ldc + n] = sum_k A[m * lda + k] W[n, k]  (A uint8 [M, K]) */
void nnc_q8_gemm_u8s8(const nnc_q8_weights *W, int64_t M, const uint8_t *A, int64_t lda, int32_t *C, int64_t ldc);
/* the same for int8 A (through A + 128 and the row sums) */
void nnc_q8_gemm_s8s8(const nnc_q8_weights *W, int64_t M, const int8_t *A, int64_t lda, int32_t *C, int64_t ldc);

/* out[m, n] = clamp(out_zero + MBQM(acc[m, n] + add[n], mult[n], shift[n]), out_min, out_max)
 * (acc and out with row stride N; 0 <= out_min <= out_max <= 255; mult[n] >= 0), bit for bit
 * quant/qint.h's nnc_requantize_ref applied to acc + add */
void nnc_q8_requant(int64_t M, int64_t N, const int32_t *acc, const int32_t *add, const int32_t *mult,
                    const int32_t *shift, int32_t out_zero, int32_t out_min, int32_t out_max, uint8_t *out);
/* one value (the same arithmetic as nnc_multiply_by_quantized_multiplier, without its checks) */
static inline int32_t nnc_q8_mbqm(int32_t x, int32_t mult, int shift) {
  int left = shift > 0 ? shift : 0, right = shift > 0 ? 0 : -shift;
  int64_t xs = (int64_t)x * ((int64_t)1 << left);
  if (xs > INT32_MAX) xs = INT32_MAX;
  if (xs < INT32_MIN) xs = INT32_MIN;
  int32_t a = (int32_t)xs, r;
  if (a == INT32_MIN && mult == INT32_MIN) r = INT32_MAX;
  else {
    int64_t ab = (int64_t)a * (int64_t)mult;
    int64_t nudge = ab >= 0 ? (1 << 30) : (1 - (1 << 30));
    r = (int32_t)((ab + nudge) / ((int64_t)1 << 31));
  }
  const int64_t mask = ((int64_t)1 << right) - 1, rem = (int64_t)r & mask;
  const int64_t thr = (mask >> 1) + (r < 0);
  return (int32_t)(((int64_t)r - rem) / ((int64_t)1 << right) + (rem > thr));
}

#endif
