/* ops/conv_onednn.h: the convolution family's kernel interface, private to src/ops/conv*.c
 * and bench/bench_conv.c (the public ops are in ops/ops.h).
 *
 * Every convolution op, transposed ones included, is one of three passes of a plain 2-D
 * convolution described by a geometry (1-d convolutions have H = KH = 1):
 *
 *   fwd          y[N,O,OH,OW]  = conv(x[N,C,H,W], w[O,C/G,KH,KW]) + b[O]
 *   bwd_data     dx[N,C,H,W]   = the transpose of fwd applied to dy[N,O,OH,OW]  (overwrites)
 *   bwd_weights  dw[O,C/G,KH,KW] = d(sum y*dy)/dw, db[O] = sum of dy over N,OH,OW (overwrite)
 *
 * y[n,o,i,j] = b[o] + sum_{c<C/G, p<KH, q<KW} x[n, g*C/G + c, i*sh - ph + p*dh, j*sw - pw + q*dw]
 *              * w[o, c, p, q]     with g = o / (O/G), and x read as 0 outside [0,H)x[0,W).
 *
 * OH and OW are given, not derived, so the same geometry serves a transposed convolution
 * (its forward is bwd_data, with output_padding making H larger than the usual formula).
 * All pointers are contiguous NCHW / OIHW, of the dtype passed. */
#ifndef NNC_CONV_ONEDNN_H
#define NNC_CONV_ONEDNN_H
#include <stdbool.h>
#include <stdint.h>
#include "core/tensor.h"

typedef struct nnc_conv_geom {
  int64_t N, C, H, W;       /* input */
  int64_t O, OH, OW;        /* output */
  int64_t KH, KW;           /* kernel */
  int64_t sh, sw, ph, pw;   /* stride, padding (top/left; the bottom/right follow from OH, OW) */
  int64_t dh, dw;           /* dilation, >= 1 */
  int64_t G;                /* groups: C % G == O % G == 0 */
} nnc_conv_geom;

/* The kernels.  AUTO is what the ops use: REF when nnc_reference_kernels(); otherwise, for
 * f32, ONEDNN_BLOCKED (im2col for the input gradient of a layer with < 16 input channels,
 * and wherever oneDNN refuses), and IM2COL for f64 (docs/conv.md has the measurements).
 * The others are there to be measured and compared (bench/bench_conv.c). */
typedef enum {
  NNC_CONV_AUTO,
  NNC_CONV_REF,            /* direct loops, one output at a time, in double: the oracle */
  NNC_CONV_DIRECT,         /* direct loops, vectorised along the output row, OpenMP */
  NNC_CONV_IM2COL,         /* im2col / col2im per sample + nnc_gemm, OpenMP over samples */
  NNC_CONV_ONEDNN,         /* oneDNN convolution primitives on plain nchw/oihw memory */
  NNC_CONV_ONEDNN_BLOCKED, /* oneDNN with the formats it prefers, reorders in and out */
  NNC_CONV_ONEDNN_NHWC,    /* oneDNN with activations in nhwc (its brgemm kernels), reorders */
  NNC_CONV_NIMPL
} nnc_conv_impl;

extern const char *const nnc_conv_impl_name[NNC_CONV_NIMPL];

/* b may be NULL (no bias); db may be NULL (no bias gradient).  dt is NNC_F32 or NNC_F64;
 * DIRECT and the ONEDNN kernels are f32 only (f64 runs IM2COL).  Scratch comes from the
 * current arena. */
void nnc_conv_fwd(nnc_conv_impl impl, nnc_dtype dt, const nnc_conv_geom *g, const void *x,
                  const void *w, const void *b, void *y);
void nnc_conv_bwd_data(nnc_conv_impl impl, nnc_dtype dt, const nnc_conv_geom *g, const void *dy,
                       const void *w, void *dx);
void nnc_conv_bwd_weights(nnc_conv_impl impl, nnc_dtype dt, const nnc_conv_geom *g,
                          const void *x, const void *dy, void *dw, void *db);

/* ---- the oneDNN kernels (conv_onednn.c) ----
 * layout: how oneDNN sees the activations (the caller's memory is always nchw / oihw):
 * Each returns false, having done nothing, when the caller must use another kernel: oneDNN
 * refused the problem or offers only its reference implementation, the primitive cache is
 * busy (another thread inside it), or the call comes from inside an OpenMP parallel region.
 * One primitive per (pass, geometry, bias, layout, thread count) is kept in a cache; a call
 * swaps data pointers and executes. */
typedef enum {
  NNC_CONV_PLAIN,   /* nchw, oihw: no reorders */
  NNC_CONV_BLOCKED, /* every format oneDNN's choice ("any"); reorders in and out */
  NNC_CONV_NHWC,    /* activations nhwc, weights oneDNN's choice; reorders in and out */
} nnc_conv_layout;
bool nnc_conv_onednn_fwd(const nnc_conv_geom *g, nnc_conv_layout layout, const float *x, const float *w,
                         const float *b, float *y);
bool nnc_conv_onednn_bwd_data(const nnc_conv_geom *g, nnc_conv_layout layout, const float *dy,
                              const float *w, float *dx);
bool nnc_conv_onednn_bwd_weights(const nnc_conv_geom *g, nnc_conv_layout layout, const float *x,
                                 const float *dy, float *dw, float *db);
/* the implementation oneDNN chose for a pass (0 fwd, 1 bwd_data, 2 bwd_weights), e.g.
 * "jit:avx512_core", or "refused"; runs nothing (makes the primitive if needed) */
const char *nnc_conv_onednn_impl(const nnc_conv_geom *g, nnc_conv_layout layout, int pass, bool bias);
/* seconds spent in reorders (in and out of the primitives' layouts) since the start */
double nnc_conv_onednn_reorder_seconds(void);
/* frees every cached primitive (for leak checkers and tests) */
void nnc_conv_onednn_cache_clear(void);

#endif
