/* ops/pool.c: max and average pooling (1-d, 2-d), adaptive average pooling and nearest /
 * bilinear upsampling, with PyTorch's index formulas (see ops.h).
 *
 * Every 2-d op sees x as [B, H, W]: B planes (all leading dims) of H x W.  The fast kernels
 * (typed f32 and f64) want x contiguous (a strided x is copied first, outside the tape) and
 * run OpenMP over planes.  Max and average pooling with a 2x2 kernel, stride 2 and no padding
 * (the CNN's pooling) have their own kernels; max pooling's makes branch-free selects in
 * fixed-width vector blocks, the last block of a row moved back to end at the row's end
 * instead of a scalar tail (rows are 14 or 7 outputs long; [128, 32, 28, 28] went from 9 to
 * 0.8 ms on one core).  The reference kernels walk the windows element by element in double
 * through nnc_get, the kernel offsets one by one, so they share no loop bounds with the fast
 * ones.
 *
 * Backward kernels accumulate straight into x's gradient when it is contiguous (planes are
 * independent, so the scatter of overlapping windows runs in parallel without races); a new
 * gradient is zeroed first in a few large parallel memsets.
 * 1-d ops are the 2-d ops on [..., 1, L] through unsqueeze/squeeze views. */
#include <math.h>
#include <string.h>
#include "autograd/autograd.h"
#include "core/arena.h"
#include "core/error.h"
#include "core/threads.h"
#include "ops/ops.h"

/* ======================= geometry ======================= */
typedef struct {
  int64_t B, H, W, OH, OW;
  int64_t kh, kw, sh, sw, ph, pw, dh, dw;
  bool include_pad;
  int64_t divisor;
} pgeom;

static int64_t div_floor(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }
static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }

/* PyTorch's pooling_output_shape */
static int64_t pool_out_size(int64_t in, int64_t k, int64_t s, int64_t p, int64_t d, bool ceil_mode) {
  int64_t out = div_floor(in + 2 * p - d * (k - 1) - 1 + (ceil_mode ? s - 1 : 0), s) + 1;
  if (ceil_mode && (out - 1) * s >= in + p) out--;
  return out;
}

/* checks x [..., H, W] and fills B, H, W */
static void plane_dims(const nnc_tensor *x, int min_ndim, const char *op, pgeom *g) {
  char s[96];
  nnc_check_float(x, op);
  NNC_CHECK(x->ndim >= min_ndim, op, "input %s: expected [..., H, W] with at least %d dims", nnc_shape_str(x, s, 96),
            min_ndim);
  g->H = x->shape[x->ndim - 2];
  g->W = x->shape[x->ndim - 1];
  g->B = g->H * g->W > 0 ? nnc_numel(x) / (g->H * g->W) : 0;
  NNC_CHECK(g->H > 0 && g->W > 0, op, "input %s has an empty plane", nnc_shape_str(x, s, 96));
}

static void pool_geom(const nnc_tensor *x, const nnc_pool2d_opts *o, bool is_max, const char *op, pgeom *g) {
  char s[96];
  NNC_CHECK(o, op, "options are NULL");
  plane_dims(x, 3, op, g);
  g->kh = o->kernel[0], g->kw = o->kernel[1];
  g->sh = o->stride[0] ? o->stride[0] : g->kh, g->sw = o->stride[1] ? o->stride[1] : g->kw;
  g->ph = o->padding[0], g->pw = o->padding[1];
  g->dh = o->dilation[0] ? o->dilation[0] : 1, g->dw = o->dilation[1] ? o->dilation[1] : 1;
  g->include_pad = !o->exclude_pad;
  g->divisor = o->divisor;
  NNC_CHECK(g->kh > 0 && g->kw > 0 && g->sh > 0 && g->sw > 0 && g->dh > 0 && g->dw > 0, op,
            "kernel (%lld, %lld), stride (%lld, %lld) and dilation (%lld, %lld) must be positive", (long long)g->kh,
            (long long)g->kw, (long long)g->sh, (long long)g->sw, (long long)g->dh, (long long)g->dw);
  NNC_CHECK(is_max || (g->dh == 1 && g->dw == 1), op, "average pooling has no dilation");
  NNC_CHECK(g->ph >= 0 && g->pw >= 0 && g->ph <= g->kh / 2 && g->pw <= g->kw / 2, op,
            "padding (%lld, %lld) must be at most half the kernel (%lld, %lld)", (long long)g->ph, (long long)g->pw,
            (long long)g->kh, (long long)g->kw);
  NNC_CHECK(g->divisor >= 0, op, "divisor %lld", (long long)g->divisor);
  g->OH = pool_out_size(g->H, g->kh, g->sh, g->ph, g->dh, o->ceil_mode);
  g->OW = pool_out_size(g->W, g->kw, g->sw, g->pw, g->dw, o->ceil_mode);
  NNC_CHECK(g->OH > 0 && g->OW > 0, op, "input %s is too small for kernel (%lld, %lld) (output %lldx%lld)",
            nnc_shape_str(x, s, 96), (long long)g->kh, (long long)g->kw, (long long)g->OH, (long long)g->OW);
}

/* x's shape with the last two dims replaced by (oh, ow) */
static nnc_tensor *plane_out(const nnc_tensor *x, nnc_dtype dt, int64_t oh, int64_t ow) {
  int64_t shape[NNC_MAX_DIMS];
  memcpy(shape, x->shape, sizeof shape);
  shape[x->ndim - 2] = oh;
  shape[x->ndim - 1] = ow;
  return nnc_empty(dt, x->ndim, shape);
}

/* x itself if contiguous, else a contiguous copy made outside the tape */
static const nnc_tensor *dense(const nnc_tensor *x) {
  if (nnc_is_contiguous(x)) return x;
  nnc_tensor *c = nnc_empty_like(x);
  nnc_copy_into(c, x);
  return c;
}

/* zeroes `bytes` at p, in a few large pieces in parallel (large memsets stream, small ones
 * interleaved with a kernel do not: measured) */
static void zero_fill(void *p, size_t bytes) {
  int64_t pieces = bytes >= ((size_t)1 << 20) ? nnc_get_threads() : 1;
  #pragma omp parallel for if (pieces > 1) schedule(static)
  for (int64_t k = 0; k < pieces; k++) {
    size_t step = bytes / (size_t)pieces, lo = step * (size_t)k, hi = k == pieces - 1 ? bytes : lo + step;
    memset((char *)p + lo, 0, hi - lo);
  }
}

/* the zeroed buffer a backward kernel accumulates into: x's gradient itself when it is absent
 * (made here) or contiguous (*direct = true), else a fresh tensor for nnc_accum_grad */
static nnc_tensor *grad_target(nnc_tensor *x, bool *direct) {
  nnc_tensor *g = x->grad;
  *direct = !g || nnc_is_contiguous(g);
  if (g && *direct) return g;
  g = nnc_empty_like(x);
  zero_fill(nnc_data(g), (size_t)nnc_numel(g) * nnc_dtype_size(g->dtype));
  if (*direct) x->grad = g;
  return g;
}
static void grad_done(nnc_tensor *x, nnc_tensor *gx, bool direct) {
  if (direct) nnc_bump_version(gx);
  else nnc_accum_grad(x, gx);
}

/* kernel 2x2, stride 2, no padding or dilation, every window inside the plane (the CNN case) */
static bool is_k2s2(const pgeom *g) {
  return g->kh == 2 && g->kw == 2 && g->sh == 2 && g->sw == 2 && g->ph == 0 && g->pw == 0 && g->dh == 1 &&
         g->dw == 1 && 2 * g->OH <= g->H && 2 * g->OW <= g->W && g->H * g->W < INT32_MAX;
}

static pgeom *save_geom(nnc_node *n, const pgeom *g) {
  pgeom *c = nnc_arena_alloc(nnc_arena_step(), sizeof *c);
  *c = *g;
  n->ctx = c;
  return c;
}

/* OpenMP over the planes of a kernel whose geometry is `g` (a name inside the pragma string) */
#define PAR_PLANES                                                                                     \
  _Pragma("omp parallel for if (g->B * (g->H * g->W + g->OH * g->OW) >= NNC_PARALLEL_MIN) schedule(static)")

/* outputs ow0 .. ow0+V-1 of one row of 2x2/2 windows (input rows r0, r1): the first maximum
 * in PyTorch's scan order (a NaN wins), branch-free so that the fixed-length loop becomes V-wide
 * vector code with no scalar tail (random data would mispredict every other branch) */
#define K2S2_BLOCK(CT, V, WITH_IDX)                                                                    \
  {                                                                                                    \
    _Pragma("omp simd") for (int32_t j = 0; j < V; j++) {                                              \
      int32_t ow = ow0 + j;                                                                            \
      CT a = r0[2 * ow], c = r0[2 * ow + 1], d = r1[2 * ow], e = r1[2 * ow + 1], m = a;                \
      int32_t k = 0;                                                                                   \
      bool t = c > m || c != c;                                                                        \
      m = t ? c : m, k = t ? 1 : k;                                                                    \
      t = d > m || d != d;                                                                             \
      m = t ? d : m, k = t ? w32 : k;                                                                  \
      t = e > m || e != e;                                                                             \
      m = t ? e : m, k = t ? w32 + 1 : k;                                                              \
      yr[ow] = m;                                                                                      \
      if (WITH_IDX) ir[ow] = (int64_t)(b32 + 2 * ow + k);                                              \
      (void)k;                                                                                         \
    }                                                                                                  \
  }
/* a whole row in blocks of V, the last block moved back to end at OW (it recomputes a few
 * outputs rather than running a scalar tail); needs OW >= V */
#define K2S2_ROW(CT, V, WITH_IDX)                                                                      \
  for (int32_t ow0 = 0; ow0 < (int32_t)OW; ow0 += V) {                                                 \
    if (ow0 + V > (int32_t)OW) ow0 = (int32_t)OW - V;                                                  \
    K2S2_BLOCK(CT, V, WITH_IDX)                                                                        \
  }

/* ======================= max pooling ======================= */
/* fast: rows [hs, he) step dh of the window, PyTorch's loop (start moved into the image) */
#define MAXPOOL_KERNELS(CT, sfx)                                                                       \
  static void maxpool_fwd_##sfx(const CT *x, CT *y, int64_t *idx, const pgeom *g) {                    \
    int64_t H = g->H, W = g->W, OH = g->OH, OW = g->OW;                                                \
    PAR_PLANES                                                                                         \
    for (int64_t b = 0; b < g->B; b++) {                                                               \
      const CT *xp = x + b * H * W;                                                                    \
      CT *yp = y + b * OH * OW;                                                                        \
      int64_t *ip = idx ? idx + b * OH * OW : NULL;                                                    \
      for (int64_t oh = 0; oh < OH; oh++) {                                                            \
        int64_t hs = oh * g->sh - g->ph, he = min64(hs + (g->kh - 1) * g->dh + 1, H);                  \
        while (hs < 0) hs += g->dh;                                                                    \
        for (int64_t ow = 0; ow < OW; ow++) {                                                          \
          int64_t ws = ow * g->sw - g->pw, we = min64(ws + (g->kw - 1) * g->dw + 1, W);                \
          while (ws < 0) ws += g->dw;                                                                  \
          int64_t best = hs * W + ws;                                                                  \
          CT m = -INFINITY;                                                                            \
          for (int64_t ih = hs; ih < he; ih += g->dh)                                                  \
            for (int64_t iw = ws; iw < we; iw += g->dw) {                                              \
              CT v = xp[ih * W + iw];                                                                  \
              bool t = v > m || v != v; /* branch-free: random data mispredicts */                     \
              m = t ? v : m, best = t ? ih * W + iw : best;                                            \
            }                                                                                          \
          yp[oh * OW + ow] = m;                                                                        \
          if (ip) ip[oh * OW + ow] = best;                                                             \
        }                                                                                              \
      }                                                                                                \
    }                                                                                                  \
  }                                                                                                    \
  /* kernel 2x2, stride 2, no padding or dilation, every window inside the plane */                    \
  static void maxpool_k2s2_##sfx(const CT *x, CT *y, int64_t *idx, const pgeom *g) {                   \
    int64_t H = g->H, W = g->W, OH = g->OH, OW = g->OW;                                                \
    PAR_PLANES                                                                                         \
    for (int64_t b = 0; b < g->B; b++) {                                                               \
      const CT *xp = x + b * H * W;                                                                    \
      CT *yp = y + b * OH * OW;                                                                        \
      int64_t *ip = idx ? idx + b * OH * OW : NULL;                                                    \
      for (int64_t oh = 0; oh < OH; oh++) {                                                            \
        const CT *r0 = xp + 2 * oh * W, *r1 = r0 + W;                                                  \
        CT *yr = yp + oh * OW;                                                                         \
        int64_t *ir = ip ? ip + oh * OW : NULL;                                                        \
        int32_t w32 = (int32_t)W, b32 = (int32_t)(2 * oh * W);                                         \
        if (OW >= 8 && ir) K2S2_ROW(CT, 8, 1)                                                          \
        else if (OW >= 8) K2S2_ROW(CT, 8, 0)                                                           \
        else if (OW >= 4 && ir) K2S2_ROW(CT, 4, 1)                                                     \
        else if (OW >= 4) K2S2_ROW(CT, 4, 0)                                                           \
        else if (ir) K2S2_ROW(CT, 1, 1)                                                                \
        else K2S2_ROW(CT, 1, 0)                                                                        \
      }                                                                                                \
    }                                                                                                  \
  }                                                                                                    \
  static void maxpool_bwd_##sfx(const CT *gy, const int64_t *idx, CT *gx, const pgeom *g) {            \
    int64_t HW = g->H * g->W, OHW = g->OH * g->OW;                                                     \
    PAR_PLANES                                                                                         \
    for (int64_t b = 0; b < g->B; b++) {                                                               \
      const CT *gp = gy + b * OHW;                                                                     \
      const int64_t *ip = idx + b * OHW;                                                               \
      CT *gxp = gx + b * HW;                                                                           \
      for (int64_t o = 0; o < OHW; o++)                                                                \
        if (ip[o] >= 0 && ip[o] < HW) gxp[ip[o]] += gp[o]; /* an empty window has no element */        \
    }                                                                                                  \
  }
MAXPOOL_KERNELS(float, f32)
MAXPOOL_KERNELS(double, f64)

/* reference: every kernel offset in turn, in double */
static void maxpool_fwd_ref(const nnc_tensor *x, nnc_tensor *y, int64_t *idx, const pgeom *g) {
  for (int64_t b = 0, o = 0; b < g->B; b++)
    for (int64_t oh = 0; oh < g->OH; oh++)
      for (int64_t ow = 0; ow < g->OW; ow++, o++) {
        double m = -INFINITY;
        int64_t best = -1, first = -1;
        for (int64_t i = 0; i < g->kh; i++)
          for (int64_t j = 0; j < g->kw; j++) {
            int64_t ih = oh * g->sh - g->ph + i * g->dh, iw = ow * g->sw - g->pw + j * g->dw;
            if (ih < 0 || ih >= g->H || iw < 0 || iw >= g->W) continue;
            double v = nnc_get(x, (b * g->H + ih) * g->W + iw);
            if (first < 0) first = ih * g->W + iw;
            if (v > m || isnan(v)) m = v, best = ih * g->W + iw;
          }
        nnc_set(y, o, m);
        if (idx) idx[o] = best >= 0 ? best : first;
      }
}

static void max_pool2d_backward(nnc_node *n) {
  const pgeom *g = n->ctx;
  nnc_tensor *idx = nnc_saved(n, 0), *gy = n->out->grad;
  bool direct;
  nnc_tensor *gx = grad_target(n->in[0], &direct);
  if (gy->dtype == NNC_F32) maxpool_bwd_f32(nnc_data(gy), nnc_data(idx), nnc_data(gx), g);
  else maxpool_bwd_f64(nnc_data(gy), nnc_data(idx), nnc_data(gx), g);
  grad_done(n->in[0], gx, direct);
}
NNC_OP_DEF(op_max_pool2d, "max_pool2d", max_pool2d_backward);

nnc_tensor *nnc_max_pool2d_with_indices(nnc_tensor *x, const nnc_pool2d_opts *o, nnc_tensor **indices) {
  pgeom g;
  pool_geom(x, o, true, "max_pool2d", &g);
  nnc_tensor *y = plane_out(x, x->dtype, g.OH, g.OW);
  bool need_grad = nnc_needs_grad(1, &x);
  nnc_tensor *idx = (indices || need_grad) ? plane_out(x, NNC_I64, g.OH, g.OW) : NULL;
  int64_t *ip = idx ? nnc_i64(idx) : NULL;
  if (nnc_reference_kernels()) {
    maxpool_fwd_ref(x, y, ip, &g);
  } else {
    const nnc_tensor *xc = dense(x);
    bool k2s2 = is_k2s2(&g);
    if (x->dtype == NNC_F32) (k2s2 ? maxpool_k2s2_f32 : maxpool_fwd_f32)(nnc_data(xc), nnc_data(y), ip, &g);
    else (k2s2 ? maxpool_k2s2_f64 : maxpool_fwd_f64)(nnc_data(xc), nnc_data(y), ip, &g);
  }
  nnc_node *n = nnc_record(&op_max_pool2d, y, 1, &x);
  if (n) {
    nnc_save(n, idx);
    save_geom(n, &g);
  }
  if (indices) *indices = idx;
  return y;
}

nnc_tensor *nnc_max_pool2d(nnc_tensor *x, int64_t kernel, int64_t stride, int64_t padding) {
  nnc_pool2d_opts o = {{kernel, kernel}, {stride, stride}, {padding, padding}, {1, 1}, false, false, 0};
  return nnc_max_pool2d_with_indices(x, &o, NULL);
}

/* [..., L] -> [..., 1, L] for the 1-d ops */
static nnc_tensor *as_planes(nnc_tensor *x, const char *op) {
  char s[96];
  NNC_CHECK(x->ndim >= 2, op, "input %s: expected [..., L] with at least 2 dims", nnc_shape_str(x, s, 96));
  return nnc_unsqueeze(x, -2);
}

static nnc_pool2d_opts opts_1d(const nnc_pool1d_opts *o, const char *op) {
  NNC_CHECK(o, op, "options are NULL");
  return (nnc_pool2d_opts){{1, o->kernel}, {1, o->stride ? o->stride : o->kernel}, {0, o->padding},
                           {1, o->dilation}, o->ceil_mode, o->exclude_pad, 0};
}

nnc_tensor *nnc_max_pool1d_with_indices(nnc_tensor *x, const nnc_pool1d_opts *o, nnc_tensor **indices) {
  nnc_pool2d_opts o2 = opts_1d(o, "max_pool1d");
  nnc_tensor *idx = NULL;
  nnc_tensor *y = nnc_squeeze(nnc_max_pool2d_with_indices(as_planes(x, "max_pool1d"), &o2, indices ? &idx : NULL), -2);
  if (indices) *indices = nnc_squeeze(idx, -2);
  return y;
}

nnc_tensor *nnc_max_pool1d(nnc_tensor *x, int64_t kernel, int64_t stride, int64_t padding) {
  nnc_pool1d_opts o = {kernel, stride, padding, 1, false, false};
  return nnc_max_pool1d_with_indices(x, &o, NULL);
}

/* ======================= average pooling ======================= */
/* PyTorch's window: [hs, he) clipped to the padded image for the divisor, then to the image */
typedef struct { int64_t hs, he, ws, we; double div; } avg_win;
static inline avg_win avg_window(const pgeom *g, int64_t oh, int64_t ow) {
  avg_win w;
  int64_t hs = oh * g->sh - g->ph, ws = ow * g->sw - g->pw;
  int64_t he = min64(hs + g->kh, g->H + g->ph), we = min64(ws + g->kw, g->W + g->pw);
  int64_t pool = (he - hs) * (we - ws);
  w.hs = max64(hs, 0), w.ws = max64(ws, 0), w.he = min64(he, g->H), w.we = min64(we, g->W);
  w.div = g->divisor ? (double)g->divisor : g->include_pad ? (double)pool : (double)((w.he - w.hs) * (w.we - w.ws));
  return w;
}

/* the plain kernels of an average over a window per output: WIN(g, oh, ow) gives the window
 * [hs, he) x [ws, we) and its divisor (average pooling and adaptive average pooling) */
#define WINDOW_KERNELS(name, WIN, CT, sfx)                                                             \
  static void name##_fwd_##sfx(const CT *x, CT *y, const pgeom *g) {                                   \
    int64_t H = g->H, W = g->W, OH = g->OH, OW = g->OW;                                                \
    PAR_PLANES                                                                                         \
    for (int64_t b = 0; b < g->B; b++) {                                                               \
      const CT *xp = x + b * H * W;                                                                    \
      CT *yp = y + b * OH * OW;                                                                        \
      for (int64_t oh = 0; oh < OH; oh++)                                                              \
        for (int64_t ow = 0; ow < OW; ow++) {                                                          \
          avg_win w = WIN(g, oh, ow);                                                                  \
          CT s = 0;                                                                                    \
          for (int64_t ih = w.hs; ih < w.he; ih++)                                                     \
            for (int64_t iw = w.ws; iw < w.we; iw++) s += xp[ih * W + iw];                             \
          yp[oh * OW + ow] = (w.hs < w.he && w.ws < w.we) ? s / (CT)w.div : (CT)0;                     \
        }                                                                                              \
    }                                                                                                  \
  }                                                                                                    \
  static void name##_bwd_##sfx(const CT *gy, CT *gx, const pgeom *g) {                                 \
    int64_t H = g->H, W = g->W, OH = g->OH, OW = g->OW;                                                \
    PAR_PLANES                                                                                         \
    for (int64_t b = 0; b < g->B; b++) {                                                               \
      const CT *gp = gy + b * OH * OW;                                                                 \
      CT *gxp = gx + b * H * W;                                                                        \
      for (int64_t oh = 0; oh < OH; oh++)                                                              \
        for (int64_t ow = 0; ow < OW; ow++) {                                                          \
          avg_win w = WIN(g, oh, ow);                                                                  \
          CT v = gp[oh * OW + ow] / (CT)w.div;                                                         \
          for (int64_t ih = w.hs; ih < w.he; ih++)                                                     \
            for (int64_t iw = w.ws; iw < w.we; iw++) gxp[ih * W + iw] += v;                            \
        }                                                                                              \
    }                                                                                                  \
  }
WINDOW_KERNELS(avgpool, avg_window, float, f32)
WINDOW_KERNELS(avgpool, avg_window, double, f64)

/* kernel 2x2, stride 2, no padding, every window inside: sums in PyTorch's order */
#define AVGPOOL_K2S2_KERNELS(CT, sfx)                                                                  \
  static void avgpool_k2s2_fwd_##sfx(const CT *x, CT *y, const pgeom *g) {                             \
    int64_t H = g->H, W = g->W, OH = g->OH, OW = g->OW;                                                \
    CT dv = (CT)(g->divisor ? g->divisor : 4);                                                         \
    PAR_PLANES                                                                                         \
    for (int64_t b = 0; b < g->B; b++)                                                                 \
      for (int64_t oh = 0; oh < OH; oh++) {                                                            \
        const CT *r0 = x + (b * H + 2 * oh) * W, *r1 = r0 + W;                                         \
        CT *yr = y + (b * OH + oh) * OW;                                                               \
        _Pragma("omp simd") for (int64_t ow = 0; ow < OW; ow++)                                        \
          yr[ow] = (r0[2 * ow] + r0[2 * ow + 1] + r1[2 * ow] + r1[2 * ow + 1]) / dv;                   \
      }                                                                                                \
  }                                                                                                    \
  static void avgpool_k2s2_bwd_##sfx(const CT *gy, CT *gx, const pgeom *g) {                           \
    int64_t H = g->H, W = g->W, OH = g->OH, OW = g->OW;                                                \
    CT dv = (CT)(g->divisor ? g->divisor : 4);                                                         \
    PAR_PLANES                                                                                         \
    for (int64_t b = 0; b < g->B; b++) {                                                               \
      for (int64_t oh = 0; oh < OH; oh++) {                                                            \
        CT *r0 = gx + (b * H + 2 * oh) * W, *r1 = r0 + W;                                              \
        const CT *gr = gy + (b * OH + oh) * OW;                                                        \
        _Pragma("omp simd") for (int64_t ow = 0; ow < OW; ow++) {                                      \
          CT v = gr[ow] / dv;                                                                          \
          r0[2 * ow] += v, r0[2 * ow + 1] += v, r1[2 * ow] += v, r1[2 * ow + 1] += v;                  \
        }                                                                                              \
      }                                                                                                \
    }                                                                                                  \
  }
AVGPOOL_K2S2_KERNELS(float, f32)
AVGPOOL_K2S2_KERNELS(double, f64)

/* reference: every kernel offset, counting the ones in the padding for the default divisor */
static void avgpool_fwd_ref(const nnc_tensor *x, nnc_tensor *y, const pgeom *g) {
  for (int64_t b = 0, o = 0; b < g->B; b++)
    for (int64_t oh = 0; oh < g->OH; oh++)
      for (int64_t ow = 0; ow < g->OW; ow++, o++) {
        double s = 0;
        int64_t inside = 0, padded = 0;
        for (int64_t i = 0; i < g->kh; i++)
          for (int64_t j = 0; j < g->kw; j++) {
            int64_t ih = oh * g->sh - g->ph + i, iw = ow * g->sw - g->pw + j;
            if (ih >= g->H + g->ph || iw >= g->W + g->pw) continue; /* beyond the right padding */
            padded++;
            if (ih < 0 || ih >= g->H || iw < 0 || iw >= g->W) continue;
            inside++;
            s += nnc_get(x, (b * g->H + ih) * g->W + iw);
          }
        double div = g->divisor ? (double)g->divisor : g->include_pad ? (double)padded : (double)inside;
        nnc_set(y, o, inside ? s / div : 0.0);
      }
}

static void avg_pool2d_backward(nnc_node *n) {
  const pgeom *g = n->ctx;
  nnc_tensor *gy = n->out->grad;
  bool direct;
  nnc_tensor *gx = grad_target(n->in[0], &direct);
  if (gy->dtype == NNC_F32) (is_k2s2(g) ? avgpool_k2s2_bwd_f32 : avgpool_bwd_f32)(nnc_data(gy), nnc_data(gx), g);
  else (is_k2s2(g) ? avgpool_k2s2_bwd_f64 : avgpool_bwd_f64)(nnc_data(gy), nnc_data(gx), g);
  grad_done(n->in[0], gx, direct);
}
NNC_OP_DEF(op_avg_pool2d, "avg_pool2d", avg_pool2d_backward);

nnc_tensor *nnc_avg_pool2d_opts(nnc_tensor *x, const nnc_pool2d_opts *o) {
  pgeom g;
  pool_geom(x, o, false, "avg_pool2d", &g);
  nnc_tensor *y = plane_out(x, x->dtype, g.OH, g.OW);
  if (nnc_reference_kernels()) {
    avgpool_fwd_ref(x, y, &g);
  } else {
    const nnc_tensor *xc = dense(x);
    if (x->dtype == NNC_F32) (is_k2s2(&g) ? avgpool_k2s2_fwd_f32 : avgpool_fwd_f32)(nnc_data(xc), nnc_data(y), &g);
    else (is_k2s2(&g) ? avgpool_k2s2_fwd_f64 : avgpool_fwd_f64)(nnc_data(xc), nnc_data(y), &g);
  }
  nnc_node *n = nnc_record(&op_avg_pool2d, y, 1, &x);
  if (n) save_geom(n, &g);
  return y;
}

nnc_tensor *nnc_avg_pool2d(nnc_tensor *x, int64_t kernel, int64_t stride, int64_t padding) {
  nnc_pool2d_opts o = {{kernel, kernel}, {stride, stride}, {padding, padding}, {1, 1}, false, false, 0};
  return nnc_avg_pool2d_opts(x, &o);
}

nnc_tensor *nnc_avg_pool1d_opts(nnc_tensor *x, const nnc_pool1d_opts *o) {
  nnc_pool2d_opts o2 = opts_1d(o, "avg_pool1d");
  NNC_CHECK(o->dilation <= 1, "avg_pool1d", "average pooling has no dilation");
  o2.dilation[1] = 1;
  return nnc_squeeze(nnc_avg_pool2d_opts(as_planes(x, "avg_pool1d"), &o2), -2);
}

nnc_tensor *nnc_avg_pool1d(nnc_tensor *x, int64_t kernel, int64_t stride, int64_t padding) {
  nnc_pool1d_opts o = {kernel, stride, padding, 1, false, false};
  return nnc_avg_pool1d_opts(x, &o);
}

/* ======================= adaptive average pooling ======================= */
static inline int64_t ad_start(int64_t i, int64_t in, int64_t out) { return i * in / out; }
static inline int64_t ad_end(int64_t i, int64_t in, int64_t out) { return ((i + 1) * in + out - 1) / out; }

/* the adaptive window of output (oh, ow), divided by its area */
static inline avg_win adaptive_window(const pgeom *g, int64_t oh, int64_t ow) {
  avg_win w = {ad_start(oh, g->H, g->OH), ad_end(oh, g->H, g->OH), ad_start(ow, g->W, g->OW), ad_end(ow, g->W, g->OW), 0};
  w.div = (double)((w.he - w.hs) * (w.we - w.ws));
  return w;
}
WINDOW_KERNELS(adaptive, adaptive_window, float, f32)
WINDOW_KERNELS(adaptive, adaptive_window, double, f64)

/* reference: the floor/ceil formula in floating point */
static void adaptive_fwd_ref(const nnc_tensor *x, nnc_tensor *y, const pgeom *g) {
  for (int64_t b = 0, o = 0; b < g->B; b++)
    for (int64_t oh = 0; oh < g->OH; oh++)
      for (int64_t ow = 0; ow < g->OW; ow++, o++) {
        int64_t hs = (int64_t)floor((double)oh * g->H / g->OH), he = (int64_t)ceil((double)(oh + 1) * g->H / g->OH);
        int64_t ws = (int64_t)floor((double)ow * g->W / g->OW), we = (int64_t)ceil((double)(ow + 1) * g->W / g->OW);
        double s = 0;
        for (int64_t ih = hs; ih < he; ih++)
          for (int64_t iw = ws; iw < we; iw++) s += nnc_get(x, (b * g->H + ih) * g->W + iw);
        nnc_set(y, o, s / (double)((he - hs) * (we - ws)));
      }
}

static void adaptive_avg_pool2d_backward(nnc_node *n) {
  const pgeom *g = n->ctx;
  nnc_tensor *gy = n->out->grad;
  bool direct;
  nnc_tensor *gx = grad_target(n->in[0], &direct);
  if (gy->dtype == NNC_F32) adaptive_bwd_f32(nnc_data(gy), nnc_data(gx), g);
  else adaptive_bwd_f64(nnc_data(gy), nnc_data(gx), g);
  grad_done(n->in[0], gx, direct);
}
NNC_OP_DEF(op_adaptive_avg_pool2d, "adaptive_avg_pool2d", adaptive_avg_pool2d_backward);

nnc_tensor *nnc_adaptive_avg_pool2d(nnc_tensor *x, int64_t out_h, int64_t out_w) {
  pgeom g = {0};
  plane_dims(x, 3, "adaptive_avg_pool2d", &g);
  NNC_CHECK(out_h > 0 && out_w > 0, "adaptive_avg_pool2d", "output size %lldx%lld", (long long)out_h, (long long)out_w);
  g.OH = out_h, g.OW = out_w;
  nnc_tensor *y = plane_out(x, x->dtype, g.OH, g.OW);
  if (nnc_reference_kernels()) {
    adaptive_fwd_ref(x, y, &g);
  } else {
    const nnc_tensor *xc = dense(x);
    if (x->dtype == NNC_F32) adaptive_fwd_f32(nnc_data(xc), nnc_data(y), &g);
    else adaptive_fwd_f64(nnc_data(xc), nnc_data(y), &g);
  }
  nnc_node *n = nnc_record(&op_adaptive_avg_pool2d, y, 1, &x);
  if (n) save_geom(n, &g);
  return y;
}

nnc_tensor *nnc_adaptive_avg_pool1d(nnc_tensor *x, int64_t out_l) {
  return nnc_squeeze(nnc_adaptive_avg_pool2d(as_planes(x, "adaptive_avg_pool1d"), 1, out_l), -2);
}

/* ======================= upsampling ======================= */
/* the output size and the scale for the index formula (0 = in/out), from a size or a scale */
static void up_size(int64_t in, int64_t size, double scale, const char *op, int64_t *out, double *s) {
  NNC_CHECK((size > 0) != (scale > 0), op, "give either a size (%lld) or a scale factor (%g), not both or neither",
            (long long)size, scale);
  *out = size > 0 ? size : (int64_t)floor((double)in * scale);
  *s = size > 0 ? 0.0 : scale;
  NNC_CHECK(*out > 0, op, "output size %lld from input %lld and scale %g", (long long)*out, (long long)in, scale);
}

/* PyTorch's nearest_idx, in float as PyTorch computes it */
static int64_t nearest_src(int64_t dst, int64_t in, int64_t out, double scale) {
  if (out == in) return dst;
  if (out == 2 * in) return dst >> 1;
  float s = scale > 0 ? (float)(1.0 / scale) : (float)in / (float)out;
  return min64((int64_t)floorf((float)dst * s), in - 1);
}

/* PyTorch's bilinear source index and weight of the second neighbour, in double */
static void linear_src(int64_t dst, int64_t in, int64_t out, bool align, double scale, int64_t *i0, int64_t *i1,
                       double *l1) {
  if (out == in) {
    *i0 = *i1 = dst;
    *l1 = 0;
    return;
  }
  double s = align ? (out > 1 ? (double)(in - 1) / (double)(out - 1) : 0.0)
                   : (scale > 0 ? 1.0 / scale : (double)in / (double)out);
  double r = align ? s * (double)dst : fmax(s * ((double)dst + 0.5) - 0.5, 0.0);
  *i0 = min64((int64_t)r, in - 1);
  *i1 = *i0 + (*i0 < in - 1 ? 1 : 0);
  *l1 = fmin(fmax(r - (double)*i0, 0.0), 1.0);
}

typedef struct {
  pgeom g;
  bool bilinear;
  int64_t *h0, *h1, *w0, *w1; /* source rows/columns per output row/column */
  double *lh, *lw;            /* weights of h1 / w1 (bilinear) */
} up_plan;

static up_plan *make_up_plan(nnc_arena *a, const pgeom *g, bool bilinear, bool align, double sh, double sw) {
  up_plan *p = nnc_arena_alloc(a, sizeof *p);
  p->g = *g;
  p->bilinear = bilinear;
  p->h0 = nnc_arena_alloc(a, (size_t)g->OH * 2 * sizeof(int64_t));
  p->h1 = p->h0 + g->OH;
  p->w0 = nnc_arena_alloc(a, (size_t)g->OW * 2 * sizeof(int64_t));
  p->w1 = p->w0 + g->OW;
  p->lh = nnc_arena_alloc(a, (size_t)g->OH * sizeof(double));
  p->lw = nnc_arena_alloc(a, (size_t)g->OW * sizeof(double));
  for (int64_t i = 0; i < g->OH; i++) {
    if (bilinear) linear_src(i, g->H, g->OH, align, sh, &p->h0[i], &p->h1[i], &p->lh[i]);
    else p->h0[i] = p->h1[i] = nearest_src(i, g->H, g->OH, sh), p->lh[i] = 0;
  }
  for (int64_t j = 0; j < g->OW; j++) {
    if (bilinear) linear_src(j, g->W, g->OW, align, sw, &p->w0[j], &p->w1[j], &p->lw[j]);
    else p->w0[j] = p->w1[j] = nearest_src(j, g->W, g->OW, sw), p->lw[j] = 0;
  }
  return p;
}

#define UPSAMPLE_KERNELS(CT, sfx)                                                                      \
  static void up_fwd_##sfx(const CT *x, CT *y, const up_plan *p) {                                     \
    const pgeom *g = &p->g;                                                                            \
    int64_t H = g->H, W = g->W, OH = g->OH, OW = g->OW;                                                \
    PAR_PLANES                                                                                         \
    for (int64_t b = 0; b < g->B; b++) {                                                               \
      const CT *xp = x + b * H * W;                                                                    \
      CT *yp = y + b * OH * OW;                                                                        \
      for (int64_t oh = 0; oh < OH; oh++) {                                                            \
        const CT *r0 = xp + p->h0[oh] * W, *r1 = xp + p->h1[oh] * W;                                   \
        CT *yr = yp + oh * OW;                                                                         \
        if (!p->bilinear) {                                                                            \
          for (int64_t ow = 0; ow < OW; ow++) yr[ow] = r0[p->w0[ow]];                                  \
          continue;                                                                                    \
        }                                                                                              \
        CT b1 = (CT)p->lh[oh], b0 = (CT)1 - b1;                                                        \
        for (int64_t ow = 0; ow < OW; ow++) {                                                          \
          CT a1 = (CT)p->lw[ow], a0 = (CT)1 - a1;                                                      \
          int64_t j0 = p->w0[ow], j1 = p->w1[ow];                                                      \
          yr[ow] = b0 * (a0 * r0[j0] + a1 * r0[j1]) + b1 * (a0 * r1[j0] + a1 * r1[j1]);                \
        }                                                                                              \
      }                                                                                                \
    }                                                                                                  \
  }                                                                                                    \
  static void up_bwd_##sfx(const CT *gy, CT *gx, const up_plan *p) {                                   \
    const pgeom *g = &p->g;                                                                            \
    int64_t H = g->H, W = g->W, OH = g->OH, OW = g->OW;                                                \
    PAR_PLANES                                                                                         \
    for (int64_t b = 0; b < g->B; b++) {                                                               \
      const CT *gp = gy + b * OH * OW;                                                                 \
      CT *gxp = gx + b * H * W;                                                                        \
      for (int64_t oh = 0; oh < OH; oh++) {                                                            \
        CT *r0 = gxp + p->h0[oh] * W, *r1 = gxp + p->h1[oh] * W;                                       \
        const CT *gr = gp + oh * OW;                                                                   \
        if (!p->bilinear) {                                                                            \
          for (int64_t ow = 0; ow < OW; ow++) r0[p->w0[ow]] += gr[ow];                                 \
          continue;                                                                                    \
        }                                                                                              \
        CT b1 = (CT)p->lh[oh], b0 = (CT)1 - b1;                                                        \
        for (int64_t ow = 0; ow < OW; ow++) {                                                          \
          CT a1 = (CT)p->lw[ow], a0 = (CT)1 - a1, v = gr[ow];                                          \
          int64_t j0 = p->w0[ow], j1 = p->w1[ow];                                                      \
          r0[j0] += b0 * a0 * v;                                                                       \
          r0[j1] += b0 * a1 * v;                                                                       \
          r1[j0] += b1 * a0 * v;                                                                       \
          r1[j1] += b1 * a1 * v;                                                                       \
        }                                                                                              \
      }                                                                                                \
    }                                                                                                  \
  }
UPSAMPLE_KERNELS(float, f32)
UPSAMPLE_KERNELS(double, f64)

/* reference: each output from its source coordinates, computed on the spot */
static void up_fwd_ref(const nnc_tensor *x, nnc_tensor *y, const pgeom *g, bool bilinear, bool align, double sh,
                       double sw) {
  for (int64_t b = 0, o = 0; b < g->B; b++)
    for (int64_t oh = 0; oh < g->OH; oh++)
      for (int64_t ow = 0; ow < g->OW; ow++, o++) {
        if (!bilinear) {
          int64_t ih = nearest_src(oh, g->H, g->OH, sh), iw = nearest_src(ow, g->W, g->OW, sw);
          nnc_set(y, o, nnc_get(x, (b * g->H + ih) * g->W + iw));
          continue;
        }
        int64_t h0, h1, w0, w1;
        double lh, lw;
        linear_src(oh, g->H, g->OH, align, sh, &h0, &h1, &lh);
        linear_src(ow, g->W, g->OW, align, sw, &w0, &w1, &lw);
        int64_t base = b * g->H * g->W;
        double v = (1 - lh) * (1 - lw) * nnc_get(x, base + h0 * g->W + w0) +
                   (1 - lh) * lw * nnc_get(x, base + h0 * g->W + w1) +
                   lh * (1 - lw) * nnc_get(x, base + h1 * g->W + w0) + lh * lw * nnc_get(x, base + h1 * g->W + w1);
        nnc_set(y, o, v);
      }
}

static void upsample_backward(nnc_node *n) {
  const up_plan *p = n->ctx;
  nnc_tensor *gy = n->out->grad;
  bool direct;
  nnc_tensor *gx = grad_target(n->in[0], &direct);
  if (gy->dtype == NNC_F32) up_bwd_f32(nnc_data(gy), nnc_data(gx), p);
  else up_bwd_f64(nnc_data(gy), nnc_data(gx), p);
  grad_done(n->in[0], gx, direct);
}
NNC_OP_DEF(op_upsample_nearest2d, "upsample_nearest2d", upsample_backward);
NNC_OP_DEF(op_upsample_bilinear2d, "upsample_bilinear2d", upsample_backward);

static nnc_tensor *upsample(nnc_tensor *x, int64_t out_h, int64_t out_w, bool bilinear, bool align, double scale_h,
                            double scale_w) {
  const char *op = bilinear ? "upsample_bilinear2d" : "upsample_nearest2d";
  pgeom g = {0};
  plane_dims(x, 3, op, &g);
  double sh, sw;
  up_size(g.H, out_h, scale_h, op, &g.OH, &sh);
  up_size(g.W, out_w, scale_w, op, &g.OW, &sw);
  nnc_tensor *y = plane_out(x, x->dtype, g.OH, g.OW);
  /* the plan (source indices and weights) lives in the step arena when the node keeps it */
  bool need_grad = nnc_needs_grad(1, &x);
  up_plan *p = NULL;
  if (need_grad || !nnc_reference_kernels())
    p = make_up_plan(need_grad ? nnc_arena_step() : nnc_arena_current(), &g, bilinear, align, sh, sw);
  if (nnc_reference_kernels()) {
    up_fwd_ref(x, y, &g, bilinear, align, sh, sw);
  } else {
    const nnc_tensor *xc = dense(x);
    if (x->dtype == NNC_F32) up_fwd_f32(nnc_data(xc), nnc_data(y), p);
    else up_fwd_f64(nnc_data(xc), nnc_data(y), p);
  }
  nnc_node *n = nnc_record(bilinear ? &op_upsample_bilinear2d : &op_upsample_nearest2d, y, 1, &x);
  if (n) n->ctx = p;
  return y;
}

nnc_tensor *nnc_upsample_nearest2d(nnc_tensor *x, int64_t out_h, int64_t out_w, double scale_h, double scale_w) {
  return upsample(x, out_h, out_w, false, false, scale_h, scale_w);
}

nnc_tensor *nnc_upsample_bilinear2d(nnc_tensor *x, int64_t out_h, int64_t out_w, bool align_corners, double scale_h,
                                    double scale_w) {
  return upsample(x, out_h, out_w, true, align_corners, scale_h, scale_w);
}
