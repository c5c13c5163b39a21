/* ops/conv.c: convolutions: conv1d, conv2d and the transposed conv_transpose1d,
 * conv_transpose2d, PyTorch semantics and weight layouts (see docs/conv.md).
 *
 * Every op is one of three passes of a plain 2-D convolution (ops/conv_onednn.h): conv2d's
 * forward is fwd, its input gradient bwd_data and its weight gradient bwd_weights; a
 * transposed convolution is the same convolution read backwards (its forward is bwd_data,
 * its input gradient fwd, its weight gradient bwd_weights with the roles of x and dy
 * swapped).  1-d convolutions are 2-d ones with H = KH = 1; the kernels see only raw
 * contiguous pointers and a geometry, so the 1-d ops keep their own shapes and names.
 *
 * Kernels, per pass:
 *   REF     direct loops in double, one output at a time: the oracle, kept forever;
 *   DIRECT  direct loops vectorised along output rows (a measured candidate, f32);
 *   IM2COL  im2col/col2im per sample and group + nnc_gemm, OpenMP over samples (f32, f64);
 *   ONEDNN  oneDNN's convolution primitives on nnc's plain layouts (conv_onednn.c).
 * What the ops run (AUTO) follows the measurements in docs/conv.md. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "autograd/autograd.h"
#include "core/arena.h"
#include "core/error.h"
#include "core/gemm.h"
#include "ops/conv_onednn.h"
#include "ops/ops.h"

const char *const nnc_conv_impl_name[NNC_CONV_NIMPL] = {"auto",   "reference", "direct",        "im2col",
                                                        "onednn", "onednn-blocked", "onednn-nhwc"};

/* valid output columns j in [*j0, *j1) for which 0 <= j*s + off < W (at most OW) */
static void col_range(int64_t off, int64_t s, int64_t W, int64_t OW, int64_t *j0, int64_t *j1) {
  int64_t lo = off >= 0 ? 0 : (-off + s - 1) / s;
  int64_t hi = W - 1 - off < 0 ? 0 : (W - 1 - off) / s + 1;
  if (hi > OW) hi = OW;
  if (lo > hi) lo = hi;
  *j0 = lo;
  *j1 = hi;
}

static void *scratch(size_t bytes) { return nnc_arena_alloc(nnc_arena_current(), bytes ? bytes : 1); }

/* ================================================================ reference (double) */

static inline double ld(bool f32, const void *p, int64_t i) {
  return f32 ? (double)((const float *)p)[i] : ((const double *)p)[i];
}
static inline void st(bool f32, void *p, int64_t i, double v) {
  if (f32) ((float *)p)[i] = (float)v;
  else ((double *)p)[i] = v;
}

/* calls BODY for every (n, o, i, j, c, p, q) whose input pixel (ih, iw) lies inside x, with
 * xi, wi, yi the flat indices of x[n, grp*Cg + c, ih, iw], w[o, c, p, q], y[n, o, i, j] */
#define REF_LOOPS(g, BODY)                                                                     \
  do {                                                                                         \
    int64_t Cg_ = (g)->C / (g)->G, Og_ = (g)->O / (g)->G;                                      \
    for (int64_t n = 0; n < (g)->N; n++)                                                       \
      for (int64_t o = 0; o < (g)->O; o++)                                                     \
        for (int64_t i = 0; i < (g)->OH; i++)                                                  \
          for (int64_t j = 0; j < (g)->OW; j++)                                                \
            for (int64_t c = 0; c < Cg_; c++)                                                  \
              for (int64_t p = 0; p < (g)->KH; p++)                                            \
                for (int64_t q = 0; q < (g)->KW; q++) {                                        \
                  int64_t ih = i * (g)->sh - (g)->ph + p * (g)->dh;                            \
                  int64_t iw = j * (g)->sw - (g)->pw + q * (g)->dw;                            \
                  if (ih < 0 || ih >= (g)->H || iw < 0 || iw >= (g)->W) continue;             \
                  int64_t ci = o / Og_ * Cg_ + c;                                              \
                  int64_t xi = (((n * (g)->C) + ci) * (g)->H + ih) * (g)->W + iw;              \
                  int64_t wi = ((o * Cg_ + c) * (g)->KH + p) * (g)->KW + q;                    \
                  int64_t yi = ((n * (g)->O + o) * (g)->OH + i) * (g)->OW + j;                 \
                  BODY;                                                                        \
                }                                                                              \
  } while (0)

static void ref_fwd(bool f32, const nnc_conv_geom *g, const void *x, const void *w, const void *b, void *y) {
  int64_t ny = g->N * g->O * g->OH * g->OW, S = g->OH * g->OW;
  double *acc = nnc_xcalloc((size_t)(ny ? ny : 1), sizeof *acc);
  REF_LOOPS(g, acc[yi] += ld(f32, x, xi) * ld(f32, w, wi));
  for (int64_t k = 0; k < ny; k++) st(f32, y, k, acc[k] + (b ? ld(f32, b, k / S % g->O) : 0.0));
  free(acc);
}

static void ref_bwd_data(bool f32, const nnc_conv_geom *g, const void *dy, const void *w, void *dx) {
  int64_t nx = g->N * g->C * g->H * g->W;
  double *acc = nnc_xcalloc((size_t)(nx ? nx : 1), sizeof *acc);
  REF_LOOPS(g, acc[xi] += ld(f32, dy, yi) * ld(f32, w, wi));
  for (int64_t k = 0; k < nx; k++) st(f32, dx, k, acc[k]);
  free(acc);
}

static void ref_bwd_weights(bool f32, const nnc_conv_geom *g, const void *x, const void *dy, void *dw, void *db) {
  int64_t nw = g->O * (g->C / g->G) * g->KH * g->KW, S = g->OH * g->OW;
  double *acc = nnc_xcalloc((size_t)(nw ? nw : 1), sizeof *acc);
  REF_LOOPS(g, acc[wi] += ld(f32, x, xi) * ld(f32, dy, yi));
  for (int64_t k = 0; k < nw; k++) st(f32, dw, k, acc[k]);
  free(acc);
  if (!db) return;
  for (int64_t o = 0; o < g->O; o++) {
    double s = 0;
    for (int64_t n = 0; n < g->N; n++)
      for (int64_t k = 0; k < S; k++) s += ld(f32, dy, (n * g->O + o) * S + k);
    st(f32, db, o, s);
  }
}

/* ================================================================ direct loops (f32) */

static void direct_fwd(const nnc_conv_geom *g, const float *x, const float *w, const float *b, float *y) {
  int64_t Cg = g->C / g->G, Og = g->O / g->G, HW = g->H * g->W, S = g->OH * g->OW;
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t n = 0; n < g->N; n++)
    for (int64_t o = 0; o < g->O; o++) {
      float *yo = y + (n * g->O + o) * S;
      for (int64_t k = 0; k < S; k++) yo[k] = b ? b[o] : 0.0f;
      for (int64_t c = 0; c < Cg; c++) {
        const float *xc = x + (n * g->C + o / Og * Cg + c) * HW;
        for (int64_t p = 0; p < g->KH; p++)
          for (int64_t q = 0; q < g->KW; q++) {
            float wv = w[((o * Cg + c) * g->KH + p) * g->KW + q];
            int64_t off = q * g->dw - g->pw, j0, j1;
            col_range(off, g->sw, g->W, g->OW, &j0, &j1);
            for (int64_t i = 0; i < g->OH; i++) {
              int64_t ih = i * g->sh - g->ph + p * g->dh;
              if (ih < 0 || ih >= g->H) continue;
              const float *xr = xc + ih * g->W + off;
              float *yr = yo + i * g->OW;
              if (g->sw == 1)
                for (int64_t j = j0; j < j1; j++) yr[j] += wv * xr[j];
              else
                for (int64_t j = j0; j < j1; j++) yr[j] += wv * xr[j * g->sw];
            }
          }
      }
    }
}

static void direct_bwd_data(const nnc_conv_geom *g, const float *dy, const float *w, float *dx) {
  int64_t Cg = g->C / g->G, Og = g->O / g->G, HW = g->H * g->W, S = g->OH * g->OW;
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t n = 0; n < g->N; n++)
    for (int64_t ci = 0; ci < g->C; ci++) {
      float *xc = dx + (n * g->C + ci) * HW;
      memset(xc, 0, (size_t)HW * sizeof *xc);
      int64_t grp = ci / Cg, c = ci % Cg;
      for (int64_t o = grp * Og; o < (grp + 1) * Og; o++) {
        const float *yo = dy + (n * g->O + o) * S;
        for (int64_t p = 0; p < g->KH; p++)
          for (int64_t q = 0; q < g->KW; q++) {
            float wv = w[((o * Cg + c) * g->KH + p) * g->KW + q];
            int64_t off = q * g->dw - g->pw, j0, j1;
            col_range(off, g->sw, g->W, g->OW, &j0, &j1);
            for (int64_t i = 0; i < g->OH; i++) {
              int64_t ih = i * g->sh - g->ph + p * g->dh;
              if (ih < 0 || ih >= g->H) continue;
              float *xr = xc + ih * g->W + off;
              const float *yr = yo + i * g->OW;
              if (g->sw == 1)
                for (int64_t j = j0; j < j1; j++) xr[j] += wv * yr[j];
              else
                for (int64_t j = j0; j < j1; j++) xr[j * g->sw] += wv * yr[j];
            }
          }
      }
    }
}

static void bias_grad_f32(const nnc_conv_geom *g, const float *dy, float *db) {
  int64_t S = g->OH * g->OW;
#pragma omp parallel for schedule(static) if (g->N * g->O * S >= 65536)
  for (int64_t o = 0; o < g->O; o++) {
    double s = 0;
    for (int64_t n = 0; n < g->N; n++) {
      const float *r = dy + (n * g->O + o) * S;
      float t = 0;
#pragma omp simd reduction(+ : t)
      for (int64_t k = 0; k < S; k++) t += r[k];
      s += t;
    }
    db[o] = (float)s;
  }
}

static void bias_grad_f64(const nnc_conv_geom *g, const double *dy, double *db) {
  int64_t S = g->OH * g->OW;
  for (int64_t o = 0; o < g->O; o++) {
    double s = 0;
    for (int64_t n = 0; n < g->N; n++)
      for (int64_t k = 0; k < S; k++) s += dy[(n * g->O + o) * S + k];
    db[o] = s;
  }
}

static void direct_bwd_weights(const nnc_conv_geom *g, const float *x, const float *dy, float *dw, float *db) {
  int64_t Cg = g->C / g->G, Og = g->O / g->G, HW = g->H * g->W, S = g->OH * g->OW;
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t o = 0; o < g->O; o++)
    for (int64_t c = 0; c < Cg; c++)
      for (int64_t p = 0; p < g->KH; p++)
        for (int64_t q = 0; q < g->KW; q++) {
          int64_t off = q * g->dw - g->pw, j0, j1;
          col_range(off, g->sw, g->W, g->OW, &j0, &j1);
          float acc = 0;
          for (int64_t n = 0; n < g->N; n++) {
            const float *xc = x + (n * g->C + o / Og * Cg + c) * HW, *yo = dy + (n * g->O + o) * S;
            for (int64_t i = 0; i < g->OH; i++) {
              int64_t ih = i * g->sh - g->ph + p * g->dh;
              if (ih < 0 || ih >= g->H) continue;
              const float *xr = xc + ih * g->W + off, *yr = yo + i * g->OW;
              int64_t sw = g->sw;
#pragma omp simd reduction(+ : acc)
              for (int64_t j = j0; j < j1; j++) acc += yr[j] * xr[j * sw];
            }
          }
          dw[((o * Cg + c) * g->KH + p) * g->KW + q] = acc;
        }
  if (db) bias_grad_f32(g, dy, db);
}

/* ================================================================ im2col + gemm */

/* col[(c*KH + p)*KW + q][i*OW + j] = x[c, i*sh - ph + p*dh, j*sw - pw + q*dw] (0 outside),
 * for the Cg channels of one sample and group; col2im adds col back into x. */
#define DEFINE_IM2COL(SUF, T)                                                                  \
  static void im2col_##SUF(const nnc_conv_geom *g, int64_t Cg, const T *x, T *col) {           \
    int64_t S = g->OH * g->OW;                                                                 \
    for (int64_t c = 0; c < Cg; c++)                                                           \
      for (int64_t p = 0; p < g->KH; p++)                                                      \
        for (int64_t q = 0; q < g->KW; q++) {                                                  \
          T *row = col + ((c * g->KH + p) * g->KW + q) * S;                                    \
          int64_t off = q * g->dw - g->pw, j0, j1;                                             \
          col_range(off, g->sw, g->W, g->OW, &j0, &j1);                                        \
          for (int64_t i = 0; i < g->OH; i++) {                                                \
            T *r = row + i * g->OW;                                                            \
            int64_t ih = i * g->sh - g->ph + p * g->dh;                                        \
            if (ih < 0 || ih >= g->H) {                                                        \
              memset(r, 0, (size_t)g->OW * sizeof(T));                                         \
              continue;                                                                        \
            }                                                                                  \
            const T *xr = x + (c * g->H + ih) * g->W + off;                                    \
            for (int64_t j = 0; j < j0; j++) r[j] = 0;                                         \
            if (g->sw == 1) memcpy(r + j0, xr + j0, (size_t)(j1 - j0) * sizeof(T));            \
            else for (int64_t j = j0; j < j1; j++) r[j] = xr[j * g->sw];                       \
            for (int64_t j = j1; j < g->OW; j++) r[j] = 0;                                     \
          }                                                                                    \
        }                                                                                      \
  }                                                                                            \
  static void col2im_##SUF(const nnc_conv_geom *g, int64_t Cg, const T *col, T *x) {           \
    int64_t S = g->OH * g->OW;                                                                 \
    for (int64_t c = 0; c < Cg; c++)                                                           \
      for (int64_t p = 0; p < g->KH; p++)                                                      \
        for (int64_t q = 0; q < g->KW; q++) {                                                  \
          const T *row = col + ((c * g->KH + p) * g->KW + q) * S;                              \
          int64_t off = q * g->dw - g->pw, j0, j1;                                             \
          col_range(off, g->sw, g->W, g->OW, &j0, &j1);                                        \
          for (int64_t i = 0; i < g->OH; i++) {                                                \
            int64_t ih = i * g->sh - g->ph + p * g->dh;                                        \
            if (ih < 0 || ih >= g->H) continue;                                                \
            const T *r = row + i * g->OW;                                                      \
            T *xr = x + (c * g->H + ih) * g->W + off;                                          \
            if (g->sw == 1) for (int64_t j = j0; j < j1; j++) xr[j] += r[j];                   \
            else for (int64_t j = j0; j < j1; j++) xr[j * g->sw] += r[j];                      \
          }                                                                                    \
        }                                                                                      \
  }

/* The three passes.  A 1x1 convolution with stride 1 and no padding needs no im2col: the
 * input itself is the column matrix.  Samples run in parallel, each thread with its own
 * column buffer and (for bwd_weights) its own weight-gradient accumulator, summed in thread
 * order at the end; with fewer samples than threads, the gemm gets the threads instead. */
#define DEFINE_IM2COL_PASSES(SUF, T, GEMM)                                                     \
  static bool is_pointwise_##SUF(const nnc_conv_geom *g) {                                     \
    return g->KH == 1 && g->KW == 1 && g->sh == 1 && g->sw == 1 && g->ph == 0 && g->pw == 0 && \
           g->OH == g->H && g->OW == g->W;                                                     \
  }                                                                                            \
  static void im2col_fwd_##SUF(const nnc_conv_geom *g, const T *x, const T *w, const T *b,     \
                               T *y) {                                                         \
    int64_t Cg = g->C / g->G, Og = g->O / g->G, K = Cg * g->KH * g->KW, S = g->OH * g->OW;    \
    int nt = omp_get_max_threads();                                                            \
    bool pw = is_pointwise_##SUF(g), par = g->N >= nt && nt > 1;                               \
    T *cols = pw ? NULL : scratch((size_t)(par ? nt : 1) * (size_t)(K * S) * sizeof(T));       \
    _Pragma("omp parallel for schedule(static) if (par)")                                      \
    for (int64_t n = 0; n < g->N; n++) {                                                       \
      T *col = pw ? NULL : cols + (par ? omp_get_thread_num() : 0) * K * S;                    \
      for (int64_t grp = 0; grp < g->G; grp++) {                                               \
        const T *xg = x + (n * g->C + grp * Cg) * g->H * g->W;                                 \
        if (!pw) im2col_##SUF(g, Cg, xg, col);                                                 \
        T *yg = y + (n * g->O + grp * Og) * S;                                                 \
        GEMM(false, false, Og, S, K, 1, w + grp * Og * K, K, pw ? xg : col, S, 0, yg, S);     \
      }                                                                                        \
      if (b)                                                                                   \
        for (int64_t o = 0; o < g->O; o++)                                                     \
          for (int64_t k = 0; k < S; k++) y[(n * g->O + o) * S + k] += b[o];                   \
    }                                                                                          \
  }                                                                                            \
  static void im2col_bwd_data_##SUF(const nnc_conv_geom *g, const T *dy, const T *w, T *dx) {  \
    int64_t Cg = g->C / g->G, Og = g->O / g->G, K = Cg * g->KH * g->KW, S = g->OH * g->OW;    \
    int nt = omp_get_max_threads();                                                            \
    bool pw = is_pointwise_##SUF(g), par = g->N >= nt && nt > 1;                               \
    T *cols = pw ? NULL : scratch((size_t)(par ? nt : 1) * (size_t)(K * S) * sizeof(T));       \
    _Pragma("omp parallel for schedule(static) if (par)")                                      \
    for (int64_t n = 0; n < g->N; n++) {                                                       \
      T *col = pw ? NULL : cols + (par ? omp_get_thread_num() : 0) * K * S;                    \
      for (int64_t grp = 0; grp < g->G; grp++) {                                               \
        T *xg = dx + (n * g->C + grp * Cg) * g->H * g->W;                                      \
        const T *yg = dy + (n * g->O + grp * Og) * S;                                          \
        if (pw) {                                                                              \
          GEMM(true, false, K, S, Og, 1, w + grp * Og * K, K, yg, S, 0, xg, S);                \
          continue;                                                                            \
        }                                                                                      \
        GEMM(true, false, K, S, Og, 1, w + grp * Og * K, K, yg, S, 0, col, S);                 \
        memset(xg, 0, (size_t)(Cg * g->H * g->W) * sizeof(T));                                 \
        col2im_##SUF(g, Cg, col, xg);                                                          \
      }                                                                                        \
    }                                                                                          \
  }                                                                                            \
  static void im2col_bwd_weights_##SUF(const nnc_conv_geom *g, const T *x, const T *dy, T *dw, \
                                       T *db) {                                                \
    int64_t Cg = g->C / g->G, Og = g->O / g->G, K = Cg * g->KH * g->KW, S = g->OH * g->OW;    \
    int64_t nw = g->O * K;                                                                     \
    int nt = omp_get_max_threads();                                                            \
    bool pw = is_pointwise_##SUF(g), par = g->N >= nt && nt > 1;                               \
    int nacc = par ? nt : 1;                                                                   \
    T *cols = pw ? NULL : scratch((size_t)nacc * (size_t)(K * S) * sizeof(T));                 \
    T *accs = scratch((size_t)nacc * (size_t)nw * sizeof(T));                                  \
    memset(accs, 0, (size_t)nacc * (size_t)nw * sizeof(T));                                    \
    _Pragma("omp parallel for schedule(static) if (par)")                                      \
    for (int64_t n = 0; n < g->N; n++) {                                                       \
      int t = par ? omp_get_thread_num() : 0;                                                  \
      T *col = pw ? NULL : cols + t * K * S, *acc = accs + t * nw;                             \
      for (int64_t grp = 0; grp < g->G; grp++) {                                               \
        const T *xg = x + (n * g->C + grp * Cg) * g->H * g->W;                                 \
        if (!pw) im2col_##SUF(g, Cg, xg, col);                                                 \
        const T *yg = dy + (n * g->O + grp * Og) * S;                                          \
        GEMM(false, true, Og, K, S, 1, yg, S, pw ? xg : col, S, 1, acc + grp * Og * K, K);     \
      }                                                                                        \
    }                                                                                          \
    for (int64_t k = 0; k < nw; k++) {                                                         \
      T s = 0;                                                                                 \
      for (int t = 0; t < nacc; t++) s += accs[t * nw + k];                                    \
      dw[k] = s;                                                                               \
    }                                                                                          \
    if (db) bias_grad_##SUF(g, dy, db);                                                        \
  }

DEFINE_IM2COL(f32, float)
DEFINE_IM2COL(f64, double)
DEFINE_IM2COL_PASSES(f32, float, nnc_gemm_f32)
DEFINE_IM2COL_PASSES(f64, double, nnc_gemm_f64)

/* ================================================================ dispatch */

/* What AUTO runs (measurements in docs/conv.md).  f32: oneDNN with its blocked layouts
 * (nChw16c, reorders in and out included) for every pass, except the input gradient of a
 * convolution with fewer than 16 input channels per group (an RGB or grey first layer, the
 * last layer of a decoder), which a 16-channel block would mostly pad: im2col is 3-12x
 * faster there.  Where oneDNN refuses a problem the dispatch below falls back to im2col.
 * f64: im2col with nnc_gemm_f64 (oneDNN has no f64). */
enum { PASS_FWD, PASS_BWD_DATA, PASS_BWD_WEIGHTS };
static nnc_conv_impl resolve(nnc_conv_impl impl, nnc_dtype dt, int pass, const nnc_conv_geom *g) {
  if (impl == NNC_CONV_AUTO) {
    if (nnc_reference_kernels()) impl = NNC_CONV_REF;
    else if (pass == PASS_BWD_DATA && g->G == 1 && g->C < 16) impl = NNC_CONV_IM2COL;
    else impl = NNC_CONV_ONEDNN_BLOCKED;
  }
  if (dt == NNC_F64 && impl != NNC_CONV_REF) impl = NNC_CONV_IM2COL;
  return impl;
}

static bool is_onednn(nnc_conv_impl impl) {
  return impl == NNC_CONV_ONEDNN || impl == NNC_CONV_ONEDNN_BLOCKED || impl == NNC_CONV_ONEDNN_NHWC;
}
static nnc_conv_layout layout_of(nnc_conv_impl impl) {
  return impl == NNC_CONV_ONEDNN_BLOCKED ? NNC_CONV_BLOCKED : impl == NNC_CONV_ONEDNN_NHWC ? NNC_CONV_NHWC : NNC_CONV_PLAIN;
}

void nnc_conv_fwd(nnc_conv_impl impl, nnc_dtype dt, const nnc_conv_geom *g, const void *x,
                  const void *w, const void *b, void *y) {
  impl = resolve(impl, dt, PASS_FWD, g);
  if (impl == NNC_CONV_REF) ref_fwd(dt == NNC_F32, g, x, w, b, y);
  else if (impl == NNC_CONV_DIRECT) direct_fwd(g, x, w, b, y);
  else if (is_onednn(impl) && nnc_conv_onednn_fwd(g, layout_of(impl), x, w, b, y)) return;
  else if (dt == NNC_F32) im2col_fwd_f32(g, x, w, b, y); /* also where oneDNN refused */
  else im2col_fwd_f64(g, x, w, b, y);
}

void nnc_conv_bwd_data(nnc_conv_impl impl, nnc_dtype dt, const nnc_conv_geom *g, const void *dy,
                       const void *w, void *dx) {
  impl = resolve(impl, dt, PASS_BWD_DATA, g);
  if (impl == NNC_CONV_REF) ref_bwd_data(dt == NNC_F32, g, dy, w, dx);
  else if (impl == NNC_CONV_DIRECT) direct_bwd_data(g, dy, w, dx);
  else if (is_onednn(impl) && nnc_conv_onednn_bwd_data(g, layout_of(impl), dy, w, dx)) return;
  else if (dt == NNC_F32) im2col_bwd_data_f32(g, dy, w, dx);
  else im2col_bwd_data_f64(g, dy, w, dx);
}

void nnc_conv_bwd_weights(nnc_conv_impl impl, nnc_dtype dt, const nnc_conv_geom *g,
                          const void *x, const void *dy, void *dw, void *db) {
  impl = resolve(impl, dt, PASS_BWD_WEIGHTS, g);
  if (impl == NNC_CONV_REF) ref_bwd_weights(dt == NNC_F32, g, x, dy, dw, db);
  else if (impl == NNC_CONV_DIRECT) direct_bwd_weights(g, x, dy, dw, db);
  else if (is_onednn(impl) && nnc_conv_onednn_bwd_weights(g, layout_of(impl), x, dy, dw, db)) return;
  else if (dt == NNC_F32) im2col_bwd_weights_f32(g, x, dy, dw, db);
  else im2col_bwd_weights_f64(g, x, dy, dw, db);
}

/* ================================================================ the ops */

typedef struct {
  nnc_conv_geom g;  /* of the underlying convolution (for a transposed op, read backwards) */
  bool transposed;
} conv_ctx;

/* y[n, c, :, :] += b[c] for y [N, C, S] */
static void add_channel_bias(nnc_dtype dt, int64_t N, int64_t C, int64_t S, void *y, const void *b) {
  for (int64_t n = 0; n < N; n++)
    for (int64_t c = 0; c < C; c++) {
      if (dt == NNC_F32) {
        float *r = (float *)y + (n * C + c) * S, v = ((const float *)b)[c];
        for (int64_t k = 0; k < S; k++) r[k] += v;
      } else {
        double *r = (double *)y + (n * C + c) * S, v = ((const double *)b)[c];
        for (int64_t k = 0; k < S; k++) r[k] += v;
      }
    }
}

/* db[c] = sum over n and the S positions of dy[n, c, :] (dy [N, C, S]) */
static void channel_sum(nnc_dtype dt, int64_t N, int64_t C, int64_t S, const void *dy, void *db) {
  nnc_conv_geom g = {.N = N, .O = C, .OH = 1, .OW = S};
  if (dt == NNC_F32) bias_grad_f32(&g, dy, db);
  else bias_grad_f64(&g, dy, db);
}

static void conv_backward(nnc_node *n) {
  const conv_ctx *cx = n->ctx;
  const nnc_conv_geom *g = &cx->g;
  nnc_tensor *x = nnc_saved(n, 0), *w = nnc_saved(n, 1), *gy = n->out->grad;
  nnc_tensor *bias = n->n_in > 2 ? n->in[2] : NULL;
  nnc_dtype dt = x->dtype;
  bool need_x = n->in[0]->requires_grad, need_w = n->in[1]->requires_grad;
  bool need_b = bias && bias->requires_grad;
  if (need_x) {
    nnc_tensor *gx = nnc_empty(dt, x->ndim, x->shape);
    if (cx->transposed) nnc_conv_fwd(NNC_CONV_AUTO, dt, g, nnc_data(gy), nnc_data(w), NULL, nnc_data(gx));
    else nnc_conv_bwd_data(NNC_CONV_AUTO, dt, g, nnc_data(gy), nnc_data(w), nnc_data(gx));
    nnc_accum_grad(n->in[0], gx);
  }
  nnc_tensor *gb = need_b ? nnc_empty(dt, bias->ndim, bias->shape) : NULL;
  if (need_w) {
    nnc_tensor *gw = nnc_empty(dt, w->ndim, w->shape);
    if (cx->transposed) /* the underlying convolution's input is gy, its output gradient x */
      nnc_conv_bwd_weights(NNC_CONV_AUTO, dt, g, nnc_data(gy), nnc_data(x), nnc_data(gw), NULL);
    else
      nnc_conv_bwd_weights(NNC_CONV_AUTO, dt, g, nnc_data(x), nnc_data(gy), nnc_data(gw),
                           gb ? nnc_data(gb) : NULL);
    nnc_accum_grad(n->in[1], gw);
    if (!cx->transposed) need_b = false; /* done with the weights */
  }
  if (need_b) {
    if (cx->transposed) channel_sum(dt, g->N, g->C, g->H * g->W, nnc_data(gy), nnc_data(gb));
    else channel_sum(dt, g->N, g->O, g->OH * g->OW, nnc_data(gy), nnc_data(gb));
  }
  if (gb) nnc_accum_grad(bias, gb);
}

NNC_OP_DEF(op_conv1d, "conv1d", conv_backward);
NNC_OP_DEF(op_conv2d, "conv2d", conv_backward);
NNC_OP_DEF(op_conv_transpose1d, "conv_transpose1d", conv_backward);
NNC_OP_DEF(op_conv_transpose2d, "conv_transpose2d", conv_backward);

/* x [N, C, (H,) W] (or unbatched [C, (H,) W]), w as PyTorch, bias [out channels] or NULL;
 * nsp spatial dims (1 or 2) */
static nnc_tensor *conv_op(const nnc_op_def *def, nnc_tensor *x, nnc_tensor *w, nnc_tensor *bias,
                           nnc_conv_args a, int nsp, bool transposed) {
  const char *op = def->name;
  char sx[96], sw[96], sb[96];
  nnc_check_float_pair(x, w, op);
  if (bias) nnc_check_float_pair(x, bias, op);
  NNC_CHECK(x->ndim == nsp + 2 || x->ndim == nsp + 1, op, "input %s must have %d dims [N, C, %s] (or %d unbatched)",
            nnc_shape_str(x, sx, 96), nsp + 2, nsp == 2 ? "H, W" : "L", nsp + 1);
  if (x->ndim == nsp + 1) /* unbatched: a batch of one */
    return nnc_squeeze(conv_op(def, nnc_unsqueeze(x, 0), w, bias, a, nsp, transposed), 0);
  NNC_CHECK(w->ndim == nsp + 2, op, "weight %s must have %d dims", nnc_shape_str(w, sw, 96), nsp + 2);
  /* options: 0 means the default; a 1-d op uses index 0 only */
  int64_t s[2], p[2], d[2], op_[2], G = a.groups ? a.groups : 1;
  for (int k = 0; k < 2; k++) {
    bool used = k < nsp;
    NNC_CHECK(used || (a.stride[k] == 0 && a.pad[k] == 0 && a.dilation[k] == 0 && a.output_pad[k] == 0), op,
              "a 1-d convolution takes its options in index 0 only (index 1 is set)");
    s[k] = a.stride[k] ? a.stride[k] : 1;
    d[k] = a.dilation[k] ? a.dilation[k] : 1;
    p[k] = a.pad[k];
    op_[k] = a.output_pad[k];
    NNC_CHECK(a.stride[k] >= 0 && a.dilation[k] >= 0 && p[k] >= 0 && op_[k] >= 0 && G >= 1, op,
              "negative stride, padding, dilation, output_pad or groups");
    NNC_CHECK(transposed || op_[k] == 0, op, "output_pad is for transposed convolutions only");
    NNC_CHECK(op_[k] < s[k] || op_[k] < d[k], op, "output_pad %lld must be smaller than stride %lld or dilation %lld",
              (long long)op_[k], (long long)s[k], (long long)d[k]);
  }
  /* spatial sizes as 2-d: a 1-d op has H = KH = 1 (the 1-d options moved to the width) */
  int64_t N = x->shape[0], Cx = x->shape[1], H = nsp == 2 ? x->shape[2] : 1, W = x->shape[nsp + 1];
  int64_t KH = nsp == 2 ? w->shape[2] : 1, KW = w->shape[nsp + 1];
  int64_t sh = nsp == 2 ? s[0] : 1, sw_ = s[nsp - 1], ph = nsp == 2 ? p[0] : 0, pw = p[nsp - 1];
  int64_t dh = nsp == 2 ? d[0] : 1, dw = d[nsp - 1], oph = nsp == 2 ? op_[0] : 0, opw = op_[nsp - 1];
  NNC_CHECK(Cx % G == 0, op, "input %s: %lld channels do not split into %lld groups", nnc_shape_str(x, sx, 96),
            (long long)Cx, (long long)G);
  conv_ctx cx = {.transposed = transposed};
  nnc_conv_geom *g = &cx.g;
  int64_t Cout, OH, OW;
  if (!transposed) {
    Cout = w->shape[0];
    NNC_CHECK(w->shape[1] * G == Cx && Cout % G == 0, op,
              "weight %s does not fit input %s with %lld groups (expects [O, %lld, ...], O divisible by groups)",
              nnc_shape_str(w, sw, 96), nnc_shape_str(x, sx, 96), (long long)G, (long long)(Cx / G));
    int64_t eh = H + 2 * ph - dh * (KH - 1) - 1, ew = W + 2 * pw - dw * (KW - 1) - 1;
    NNC_CHECK(eh >= 0 && ew >= 0 && KH > 0 && KW > 0, op, "kernel %s (dilated) is larger than the padded input %s",
              nnc_shape_str(w, sw, 96), nnc_shape_str(x, sx, 96));
    OH = eh / sh + 1;
    OW = ew / sw_ + 1;
    *g = (nnc_conv_geom){N, Cx, H, W, Cout, OH, OW, KH, KW, sh, sw_, ph, pw, dh, dw, G};
  } else {
    NNC_CHECK(w->shape[0] == Cx, op, "weight %s does not fit input %s (expects [%lld, C_out/groups, ...])",
              nnc_shape_str(w, sw, 96), nnc_shape_str(x, sx, 96), (long long)Cx);
    Cout = w->shape[1] * G;
    OH = (H - 1) * sh - 2 * ph + dh * (KH - 1) + oph + 1;
    OW = (W - 1) * sw_ - 2 * pw + dw * (KW - 1) + opw + 1;
    NNC_CHECK(OH >= 1 && OW >= 1 && KH > 0 && KW > 0, op, "input %s and weight %s give an empty output",
              nnc_shape_str(x, sx, 96), nnc_shape_str(w, sw, 96));
    /* the convolution this one transposes: input [N, Cout, OH, OW] -> output [N, Cx, H, W] */
    *g = (nnc_conv_geom){N, Cout, OH, OW, Cx, H, W, KH, KW, sh, sw_, ph, pw, dh, dw, G};
  }
  if (bias)
    NNC_CHECK(bias->ndim == 1 && bias->shape[0] == Cout, op, "bias %s for %lld output channels",
              nnc_shape_str(bias, sb, 96), (long long)Cout);
  /* the kernels want contiguous operands; the copies are recorded, so gradients flow */
  x = nnc_contiguous(x);
  w = nnc_contiguous(w);
  if (bias) bias = nnc_contiguous(bias);
  int64_t shape[4] = {N, Cout, nsp == 2 ? OH : OW, OW};
  nnc_tensor *y = nnc_empty(x->dtype, nsp + 2, shape);
  if (nnc_numel(y) > 0 && nnc_numel(x) > 0) {
    if (!transposed) {
      nnc_conv_fwd(NNC_CONV_AUTO, x->dtype, g, nnc_data(x), nnc_data(w), bias ? nnc_data(bias) : NULL, nnc_data(y));
    } else {
      nnc_conv_bwd_data(NNC_CONV_AUTO, x->dtype, g, nnc_data(x), nnc_data(w), nnc_data(y));
      if (bias) add_channel_bias(x->dtype, N, Cout, OH * OW, nnc_data(y), nnc_data(bias));
    }
  } else {
    nnc_fill(y, 0.0); /* an empty batch, or no input channels: only the bias */
    if (bias && nnc_numel(y) > 0) add_channel_bias(x->dtype, N, Cout, OH * OW, nnc_data(y), nnc_data(bias));
  }
  nnc_tensor *in[3] = {x, w, bias};
  nnc_node *n = nnc_record(def, y, bias ? 3 : 2, in);
  if (n) {
    nnc_save(n, x);
    nnc_save(n, w);
    conv_ctx *c = nnc_arena_alloc(nnc_arena_current(), sizeof *c);
    *c = cx;
    n->ctx = c;
  }
  return y;
}

nnc_tensor *nnc_conv2d(nnc_tensor *x, nnc_tensor *w, nnc_tensor *bias, nnc_conv_args a) {
  return conv_op(&op_conv2d, x, w, bias, a, 2, false);
}
nnc_tensor *nnc_conv1d(nnc_tensor *x, nnc_tensor *w, nnc_tensor *bias, nnc_conv_args a) {
  return conv_op(&op_conv1d, x, w, bias, a, 1, false);
}
nnc_tensor *nnc_conv_transpose2d(nnc_tensor *x, nnc_tensor *w, nnc_tensor *bias, nnc_conv_args a) {
  return conv_op(&op_conv_transpose2d, x, w, bias, a, 2, true);
}
nnc_tensor *nnc_conv_transpose1d(nnc_tensor *x, nnc_tensor *w, nnc_tensor *bias, nnc_conv_args a) {
  return conv_op(&op_conv_transpose1d, x, w, bias, a, 1, true);
}
