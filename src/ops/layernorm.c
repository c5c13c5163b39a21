/* ops/layernorm.c: layer normalisation over the last dim as one fused op (see ops.h).
 *
 *   y = (x - mean) * rstd * weight + bias,   rstd = 1 / sqrt(var + eps), var biased,
 * per row of x [..., C] (R rows).  Forward saves x and the per-row mean and rstd (f64 for
 * f64 input, else f32).  Backward, with xhat = (x - mean) * rstd and gy = g * weight:
 *   dx = rstd * (gy - mean(gy) - xhat * mean(gy * xhat)),
 *   dweight = sum over rows of g * xhat,  dbias = sum over rows of g.
 * dx is written straight into x's gradient when one exists (x + f(norm(x)) residual streams),
 * else it becomes x's gradient.  The weight and bias sums run over fixed blocks of LN_BLOCK rows whose partial sums are then
 * added in block order: the split depends on the shape only, so results do not depend on the
 * thread count.  Fast kernels typed for f32 (float arithmetic, vectorised rows) and f64,
 * OpenMP over rows; the reference kernel reads x element by element in double. */
#include <math.h>
#include <string.h>
#include "autograd/autograd.h"
#include "core/arena.h"
#include "core/error.h"
#include "core/threads.h"
#include "ops/ops.h"
#include "ops/vmath.h"

#define LN_BLOCK 32 /* rows per partial sum of dweight / dbias */

#define LN_KERNELS(T, SFX)                                                                          \
  static void ln_fwd_##SFX(const T *x, const T *w, const T *b, T *y, T *mean, T *rstd, int64_t R,  \
                           int64_t C, double eps) {                                                \
    _Pragma("omp parallel for schedule(static) if (R * C >= NNC_PARALLEL_MIN)")                    \
    for (int64_t r = 0; r < R; r++) {                                                              \
      const T *xr = x + r * C;                                                                     \
      T *yr = y + r * C, s, ss;                                                                    \
      NNC_LANE_SUM(T, C, c, xr[c], s);                                                             \
      T mu = s / (T)C;                                                                             \
      NNC_LANE_SUM(T, C, c, (xr[c] - mu) * (xr[c] - mu), ss);                                      \
      T rs = (T)(1.0 / sqrt((double)(ss / (T)C) + eps));                                          \
      mean[r] = mu;                                                                                \
      rstd[r] = rs;                                                                                \
      if (w && b) {                                                                                \
        _Pragma("omp simd")                                                                        \
        for (int64_t c = 0; c < C; c++) yr[c] = (xr[c] - mu) * rs * w[c] + b[c];                   \
      } else {                                                                                     \
        for (int64_t c = 0; c < C; c++) yr[c] = (xr[c] - mu) * rs * (w ? w[c] : (T)1) + (b ? b[c] : (T)0); \
      }                                                                                            \
    }                                                                                              \
  }                                                                                                \
  /* dx (may be NULL) for all rows, added to what is there when acc; pw / pb (may be NULL):   \
   * [nblocks, C] partial sums */                                                                  \
  static void ln_bwd_##SFX(const T *x, const T *w, const T *g, const T *mean, const T *rstd, T *dx, \
                           bool acc, T *pw, T *pb, int64_t R, int64_t C) {                         \
    int64_t nblk = (R + LN_BLOCK - 1) / LN_BLOCK;                                                  \
    _Pragma("omp parallel for schedule(static) if (R * C >= NNC_PARALLEL_MIN)")                    \
    for (int64_t blk = 0; blk < nblk; blk++) {                                                     \
      T *bw = pw ? pw + blk * C : NULL, *bb = pb ? pb + blk * C : NULL;                            \
      if (bw) memset(bw, 0, sizeof(T) * (size_t)C);                                                \
      if (bb) memset(bb, 0, sizeof(T) * (size_t)C);                                                \
      int64_t r1 = (blk + 1) * LN_BLOCK < R ? (blk + 1) * LN_BLOCK : R;                            \
      for (int64_t r = blk * LN_BLOCK; r < r1; r++) {                                              \
        const T *xr = x + r * C, *gr = g + r * C;                                                  \
        T mu = mean[r], rs = rstd[r];                                                              \
        if (bw) {                                                                                  \
          _Pragma("omp simd")                                                                      \
          for (int64_t c = 0; c < C; c++) bw[c] += gr[c] * (xr[c] - mu) * rs;                      \
        }                                                                                          \
        if (bb) {                                                                                  \
          _Pragma("omp simd")                                                                      \
          for (int64_t c = 0; c < C; c++) bb[c] += gr[c];                                          \
        }                                                                                          \
        if (!dx) continue;                                                                         \
        T a, bsum;                                                                                 \
        if (w) {                                                                                   \
          NNC_LANE_SUM(T, C, c, gr[c] * w[c], a);                                                  \
          NNC_LANE_SUM(T, C, c, gr[c] * w[c] * (xr[c] - mu) * rs, bsum);                           \
        } else {                                                                                   \
          NNC_LANE_SUM(T, C, c, gr[c], a);                                                         \
          NNC_LANE_SUM(T, C, c, gr[c] * (xr[c] - mu) * rs, bsum);                                  \
        }                                                                                          \
        a /= (T)C;                                                                                 \
        bsum /= (T)C;                                                                              \
        T *dr = dx + r * C;                                                                        \
        /* the four cases apart: a conditional inside keeps the loop from vectorising */          \
        if (w && acc) {                                                                            \
          _Pragma("omp simd")                                                                      \
          for (int64_t c = 0; c < C; c++) dr[c] += rs * (gr[c] * w[c] - a - (xr[c] - mu) * rs * bsum); \
        } else if (w) {                                                                            \
          _Pragma("omp simd")                                                                      \
          for (int64_t c = 0; c < C; c++) dr[c] = rs * (gr[c] * w[c] - a - (xr[c] - mu) * rs * bsum); \
        } else if (acc) {                                                                          \
          _Pragma("omp simd")                                                                      \
          for (int64_t c = 0; c < C; c++) dr[c] += rs * (gr[c] - a - (xr[c] - mu) * rs * bsum);    \
        } else {                                                                                   \
          _Pragma("omp simd")                                                                      \
          for (int64_t c = 0; c < C; c++) dr[c] = rs * (gr[c] - a - (xr[c] - mu) * rs * bsum);     \
        }                                                                                          \
      }                                                                                            \
    }                                                                                              \
  }
LN_KERNELS(float, f32)
LN_KERNELS(double, f64)

/* the reference forward: one element at a time in double */
static void ln_fwd_ref(const nnc_tensor *x, const nnc_tensor *w, const nnc_tensor *b, nnc_tensor *y, nnc_tensor *mean,
                       nnc_tensor *rstd, int64_t R, int64_t C, double eps) {
  for (int64_t r = 0; r < R; r++) {
    double s = 0, ss = 0;
    for (int64_t c = 0; c < C; c++) s += nnc_get(x, r * C + c);
    double mu = s / (double)C;
    for (int64_t c = 0; c < C; c++) {
      double d = nnc_get(x, r * C + c) - mu;
      ss += d * d;
    }
    double rs = 1.0 / sqrt(ss / (double)C + eps);
    nnc_set(mean, r, mu);
    nnc_set(rstd, r, rs);
    for (int64_t c = 0; c < C; c++)
      nnc_set(y, r * C + c,
              (nnc_get(x, r * C + c) - mu) * rs * (w ? nnc_get(w, c) : 1.0) + (b ? nnc_get(b, c) : 0.0));
  }
}

/* sums [nblk, C] partials in block order into a new [C] tensor */
static nnc_tensor *sum_blocks(nnc_dtype dt, const void *part, int64_t nblk, int64_t C) {
  nnc_tensor *t = nnc_zeros(dt, 1, &C);
  if (dt == NNC_F32) {
    float *o = nnc_data(t);
    const float *p = part;
    for (int64_t k = 0; k < nblk; k++)
      for (int64_t c = 0; c < C; c++) o[c] += p[k * C + c];
  } else {
    double *o = nnc_data(t);
    const double *p = part;
    for (int64_t k = 0; k < nblk; k++)
      for (int64_t c = 0; c < C; c++) o[c] += p[k * C + c];
  }
  return t;
}

/* in: x, then weight if n->i[0], then bias if n->i[1]; saved: x, weight (or absent), mean, rstd */
static void layer_norm_backward(nnc_node *n) {
  bool has_w = n->i[0], has_b = n->i[1];
  nnc_tensor *x = nnc_saved(n, 0), *w = has_w ? nnc_saved(n, 1) : NULL;
  nnc_tensor *mean = nnc_saved(n, has_w ? 2 : 1), *rstd = nnc_saved(n, has_w ? 3 : 2), *g = n->out->grad;
  nnc_tensor *tw = has_w ? n->in[1] : NULL, *tb = has_b ? n->in[has_w ? 2 : 1] : NULL;
  int64_t C = x->shape[x->ndim - 1], R = C ? nnc_numel(x) / C : 0, nblk = (R + LN_BLOCK - 1) / LN_BLOCK;
  nnc_dtype dt = x->dtype;
  size_t es = nnc_dtype_size(dt);
  /* dx goes straight into x's gradient when there is one already (a residual stream) */
  nnc_tensor *x_in = n->in[0], *dx = NULL;
  bool acc = false;
  if (x_in->requires_grad) {
    acc = x_in->grad && x_in->grad->dtype == dt && nnc_is_contiguous(x_in->grad) && nnc_same_shape(x_in->grad, x);
    dx = acc ? x_in->grad : nnc_empty_like(x);
  }
  void *pw = tw && tw->requires_grad ? nnc_arena_alloc(nnc_arena_current(), (size_t)(nblk * C + 1) * es) : NULL;
  void *pb = tb && tb->requires_grad ? nnc_arena_alloc(nnc_arena_current(), (size_t)(nblk * C + 1) * es) : NULL;
  if (dt == NNC_F32)
    ln_bwd_f32(nnc_data(x), w ? nnc_data(w) : NULL, nnc_data(g), nnc_data(mean), nnc_data(rstd), dx ? nnc_data(dx) : NULL,
               acc, pw, pb, R, C);
  else
    ln_bwd_f64(nnc_data(x), w ? nnc_data(w) : NULL, nnc_data(g), nnc_data(mean), nnc_data(rstd), dx ? nnc_data(dx) : NULL,
               acc, pw, pb, R, C);
  if (dx && acc) nnc_bump_version(dx);
  else if (dx) x_in->grad = dx; /* private and contiguous: x's gradient as it is */
  if (pw) nnc_accum_grad(tw, sum_blocks(dt, pw, nblk, C));
  if (pb) nnc_accum_grad(tb, sum_blocks(dt, pb, nblk, C));
}
NNC_OP_DEF(op_layer_norm, "layer_norm", layer_norm_backward);

nnc_tensor *nnc_layer_norm(nnc_tensor *x, nnc_tensor *weight, nnc_tensor *bias, double eps) {
  char sx[96], sw[96];
  nnc_check_float(x, "layer_norm");
  NNC_CHECK(x->ndim >= 1, "layer_norm", "input %s: expected [..., C]", nnc_shape_str(x, sx, 96));
  NNC_CHECK(eps >= 0, "layer_norm", "eps %g < 0", eps);
  int64_t C = x->shape[x->ndim - 1];
  nnc_tensor *aff[2] = {weight, bias};
  for (int j = 0; j < 2; j++) {
    if (!aff[j]) continue;
    nnc_check_float_pair(x, aff[j], "layer_norm");
    NNC_CHECK(aff[j]->ndim == 1 && aff[j]->shape[0] == C, "layer_norm", "%s %s for input %s (expects [%lld])",
              j ? "bias" : "weight", nnc_shape_str(aff[j], sw, 96), nnc_shape_str(x, sx, 96), (long long)C);
    aff[j] = nnc_contiguous(aff[j]);
  }
  weight = aff[0], bias = aff[1];
  x = nnc_contiguous(x);
  int64_t R = C ? nnc_numel(x) / C : 0;
  nnc_tensor *y = nnc_empty_like(x);
  nnc_tensor *mean = nnc_empty(x->dtype, 1, &R), *rstd = nnc_empty(x->dtype, 1, &R);
  if (nnc_reference_kernels()) ln_fwd_ref(x, weight, bias, y, mean, rstd, R, C, eps);
  else if (x->dtype == NNC_F32)
    ln_fwd_f32(nnc_data(x), weight ? nnc_data(weight) : NULL, bias ? nnc_data(bias) : NULL, nnc_data(y),
               nnc_data(mean), nnc_data(rstd), R, C, eps);
  else
    ln_fwd_f64(nnc_data(x), weight ? nnc_data(weight) : NULL, bias ? nnc_data(bias) : NULL, nnc_data(y),
               nnc_data(mean), nnc_data(rstd), R, C, eps);
  nnc_tensor *in[3];
  int n_in = 0;
  in[n_in++] = x;
  if (weight) in[n_in++] = weight;
  if (bias) in[n_in++] = bias;
  nnc_node *n = nnc_record(&op_layer_norm, y, n_in, in);
  if (n) {
    nnc_save(n, x);
    if (weight) nnc_save(n, weight);
    nnc_save(n, mean);
    nnc_save(n, rstd);
    n->i[0] = weight != NULL;
    n->i[1] = bias != NULL;
    n->f[0] = eps;
  }
  return y;
}
