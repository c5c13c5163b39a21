/* ops/bias_gelu.c: y = gelu(x + bias), one fused op (see ops.h): the first half of a
 * Transformer feed-forward runs nnc_linear without its bias and then this, so the bias add,
 * the GELU and, in backward, the GELU derivative and the bias gradient are one pass each
 * (Megatron-LM's bias_gelu fusion).  GELU is the erf form, x * Phi(x).
 *
 * Kernels: f32 evaluates Phi with ops/vmath.h (vectorised; absolute error <= 1.5e-7), f64 with
 * libm's erf, both OpenMP over rows; the reference kernel is one element at a time in double.
 * Backward: gh = g * (Phi(h) + h * phi(h)) with h = x + bias recomputed from the saved x;
 * dbias sums gh over fixed blocks of BG_BLOCK rows, added in block order (the result does not
 * depend on the thread count). */
#include <math.h>
#include <string.h>
#include "autograd/autograd.h"
#include "core/arena.h"
#include "core/error.h"
#include "core/threads.h"
#include "ops/ops.h"
#include "ops/vmath.h"

#define BG_BLOCK 64

__attribute__((always_inline)) static inline float phi_f32(float h, float *pdf) { return nnc_vphif(h, pdf); }
static inline double phi_f64(double h, double *pdf) {
  if (pdf) *pdf = 0.39894228040143268 * exp(-0.5 * h * h);
  return 0.5 * erfc(-h * 0.70710678118654752);
}

#define SIMD_ON _Pragma("omp simd")
#define SIMD_OFF
/* SIMD: SIMD_ON where the element maths is call-free (f32), SIMD_OFF where it calls libm (f64).
 * b is never NULL here (zeros stand in for no bias): a conditional in the loop costs masking. */
#define BG_KERNELS(T, SFX, SIMD)                                                                         \
  static void bg_fwd_##SFX(const T *x, const T *b, T *y, int64_t R, int64_t C) {                  \
    _Pragma("omp parallel for schedule(static) if (R * C >= NNC_PARALLEL_MIN)")                   \
    for (int64_t r = 0; r < R; r++) {                                                             \
      const T *xr = x + r * C;                                                                    \
      T *yr = y + r * C;                                                                          \
      SIMD                                                                                        \
      for (int64_t c = 0; c < C; c++) {                                                           \
        T h = xr[c] + b[c];                                                                       \
        yr[c] = h * phi_##SFX(h, NULL);                                                           \
      }                                                                                           \
    }                                                                                             \
  }                                                                                               \
  /* gx = g * gelu'(x + b); pb (may be NULL): [nblocks, C] partial sums of gx */                  \
  static void bg_bwd_##SFX(const T *x, const T *b, const T *g, T *gx, T *pb, int64_t R, int64_t C) { \
    int64_t nblk = (R + BG_BLOCK - 1) / BG_BLOCK;                                                 \
    _Pragma("omp parallel for schedule(static) if (R * C >= NNC_PARALLEL_MIN)")                   \
    for (int64_t blk = 0; blk < nblk; blk++) {                                                    \
      T *pr = pb ? pb + blk * C : NULL;                                                           \
      if (pr) memset(pr, 0, sizeof(T) * (size_t)C);                                               \
      int64_t r1 = (blk + 1) * BG_BLOCK < R ? (blk + 1) * BG_BLOCK : R;                           \
      for (int64_t r = blk * BG_BLOCK; r < r1; r++) {                                             \
        const T *xr = x + r * C, *gr = g + r * C;                                                 \
        T *dr = gx + r * C;                                                                       \
        SIMD                                                                                      \
        for (int64_t c = 0; c < C; c++) {                                                         \
          T h = xr[c] + b[c], pdf;                                                                \
          T cdf = phi_##SFX(h, &pdf);                                                             \
          dr[c] = gr[c] * (cdf + h * pdf);                                                        \
        }                                                                                         \
        if (pr) {                                                                                 \
          _Pragma("omp simd")                                                                     \
          for (int64_t c = 0; c < C; c++) pr[c] += dr[c];                                         \
        }                                                                                         \
      }                                                                                           \
    }                                                                                             \
  }
BG_KERNELS(float, f32, SIMD_ON)
BG_KERNELS(double, f64, SIMD_OFF)

static void bg_fwd_ref(const nnc_tensor *x, const nnc_tensor *b, nnc_tensor *y, int64_t R, int64_t C) {
  for (int64_t r = 0; r < R; r++)
    for (int64_t c = 0; c < C; c++) {
      double h = nnc_get(x, r * C + c) + (b ? nnc_get(b, c) : 0.0);
      nnc_set(y, r * C + c, 0.5 * h * (1.0 + erf(h * 0.70710678118654752)));
    }
}

/* in: x, then bias if n->i[0]; saved: x, bias */
static void bias_gelu_backward(nnc_node *n) {
  bool has_b = n->i[0];
  nnc_tensor *x = nnc_saved(n, 0), *b = has_b ? nnc_saved(n, 1) : NULL, *g = n->out->grad;
  int64_t C = x->ndim ? x->shape[x->ndim - 1] : 1, R = C ? nnc_numel(x) / C : 0;
  int64_t nblk = (R + BG_BLOCK - 1) / BG_BLOCK;
  nnc_tensor *gx = nnc_empty_like(x);
  bool want_b = has_b && n->in[1]->requires_grad;
  void *pb = want_b ? nnc_arena_alloc(nnc_arena_current(), (size_t)(nblk * C + 1) * nnc_dtype_size(x->dtype)) : NULL;
  const void *bp = b ? nnc_data(b) : nnc_data(nnc_zeros(x->dtype, 1, &C));
  if (x->dtype == NNC_F32) bg_bwd_f32(nnc_data(x), bp, nnc_data(g), nnc_data(gx), pb, R, C);
  else bg_bwd_f64(nnc_data(x), bp, nnc_data(g), nnc_data(gx), pb, R, C);
  if (want_b) {
    nnc_tensor *db = nnc_zeros(x->dtype, 1, &C);
    for (int64_t k = 0; k < nblk; k++)
      for (int64_t c = 0; c < C; c++) {
        if (x->dtype == NNC_F32) ((float *)nnc_data(db))[c] += ((const float *)pb)[k * C + c];
        else ((double *)nnc_data(db))[c] += ((const double *)pb)[k * C + c];
      }
    nnc_accum_grad(n->in[1], db);
  }
  if (n->in[0]->requires_grad) {
    if (!n->in[0]->grad) n->in[0]->grad = gx; /* private and contiguous: take it as is */
    else nnc_accum_grad(n->in[0], gx);
  }
}
NNC_OP_DEF(op_bias_gelu, "bias_gelu", bias_gelu_backward);

nnc_tensor *nnc_bias_gelu(nnc_tensor *x, nnc_tensor *bias) {
  char sx[96], sb[96];
  nnc_check_float(x, "bias_gelu");
  int64_t C = x->ndim ? x->shape[x->ndim - 1] : 1;
  if (bias) {
    nnc_check_float_pair(x, bias, "bias_gelu");
    NNC_CHECK(x->ndim >= 1 && bias->ndim == 1 && bias->shape[0] == C, "bias_gelu", "bias %s for input %s (expects [%lld])",
              nnc_shape_str(bias, sb, 96), nnc_shape_str(x, sx, 96), (long long)C);
    bias = nnc_contiguous(bias);
  }
  x = nnc_contiguous(x);
  int64_t R = C ? nnc_numel(x) / C : 0;
  nnc_tensor *y = nnc_empty_like(x);
  if (nnc_reference_kernels()) bg_fwd_ref(x, bias, y, R, C);
  else {
    const void *bp = bias ? nnc_data(bias) : nnc_data(nnc_zeros(x->dtype, 1, &C));
    if (x->dtype == NNC_F32) bg_fwd_f32(nnc_data(x), bp, nnc_data(y), R, C);
    else bg_fwd_f64(nnc_data(x), bp, nnc_data(y), R, C);
  }
  nnc_tensor *in[2] = {x, bias};
  nnc_node *n = nnc_record(&op_bias_gelu, y, bias ? 2 : 1, in);
  if (n) {
    nnc_save(n, x);
    if (bias) nnc_save(n, bias);
    n->i[0] = bias != NULL;
  }
  return y;
}
