/* ops/table_pool.c: gradient-check rows for pooling and upsampling.
 *
 * Max pooling: uniform inputs are tie-free within a plane.  The broadcast layout expands a
 * [1, ...] leaf along dim 0, so whole planes repeat; each plane picks its own argmax and the
 * copies' gradients sum back into the leaf, which is the true derivative (no tie inside a
 * window).  An element that is the maximum of two overlapping windows gets both gradients,
 * also exact.  Windows stay away from ties because central differences move one element by
 * 1e-6 while distinct uniform values differ by far more.
 *
 * 1-d ops are the 2-d ops on [..., 1, L], so their rows are rows of the 2-d ops. */
#include "autograd/gradcheck.h"
#include "ops/ops.h"

#define ROW(var, name, shapes_, expr, lo_, hi_, flags_)                                                  \
  static nnc_tensor *f_##var(nnc_tensor **in, nnc_rng *r) { (void)r; nnc_tensor *x = in[0]; return expr; } \
  NNC_GRADCHECK_ROW(row_##var, .op = #name, .shapes = shapes_, .fn = f_##var, .lo = lo_, .hi = hi_, .flags = flags_)

#define P2(...) (&(nnc_pool2d_opts){__VA_ARGS__})
#define P1(...) (&(nnc_pool1d_opts){__VA_ARGS__})

/* ---- max pooling ---- */
ROW(maxpool_k2s2, max_pool2d, "2x3x6x6", nnc_max_pool2d(x, 2, 2, 0), -2, 2, 0);
ROW(maxpool_k2s2_w7, max_pool2d, "2x2x4x14", nnc_max_pool2d(x, 2, 2, 0), -2, 2, 0);   /* 4-wide blocks, overlapping */
ROW(maxpool_k2s2_w9, max_pool2d, "2x1x4x19", nnc_max_pool2d(x, 2, 2, 0), -2, 2, 0);   /* 8-wide blocks, overlapping */
ROW(maxpool_k2s2_odd, max_pool2d, "2x3x5x5", nnc_max_pool2d(x, 2, 0, 0), -2, 2, 0);
ROW(maxpool_k3s2, max_pool2d, "2x3x5x5", nnc_max_pool2d(x, 3, 2, 0), -2, 2, 0);
ROW(maxpool_pad, max_pool2d, "2x3x5x5", nnc_max_pool2d(x, 3, 2, 1), -2, 2, 0);
ROW(maxpool_ceil, max_pool2d, "2x3x6x6", nnc_max_pool2d_with_indices(x, P2(.kernel = {3, 3}, .stride = {2, 2}, .ceil_mode = true), NULL), -2, 2, 0);
ROW(maxpool_ceil_pad, max_pool2d, "2x2x5x7", nnc_max_pool2d_with_indices(x, P2(.kernel = {2, 3}, .stride = {2, 2}, .padding = {1, 1}, .ceil_mode = true), NULL), -2, 2, 0);
ROW(maxpool_dil, max_pool2d, "2x2x7x6", nnc_max_pool2d_with_indices(x, P2(.kernel = {3, 2}, .stride = {1, 2}, .padding = {1, 0}, .dilation = {2, 2}), NULL), -2, 2, 0);
ROW(maxpool_3d, max_pool2d, "3x5x4", nnc_max_pool2d(x, 2, 1, 1), -2, 2, 0);
ROW(maxpool_neg, max_pool2d, "2x2x4x4", nnc_max_pool2d(x, 2, 2, 0), -5, -1, 0);
ROW(maxpool1d, max_pool2d, "2x3x9", nnc_max_pool1d(x, 3, 2, 1), -2, 2, 0);
ROW(maxpool1d_ceil, max_pool2d, "3x8", nnc_max_pool1d_with_indices(x, P1(.kernel = 2, .stride = 3, .dilation = 2, .ceil_mode = true), NULL), -2, 2, 0);

/* ---- average pooling ---- */
ROW(avgpool_k2s2, avg_pool2d, "2x3x6x6", nnc_avg_pool2d(x, 2, 2, 0), -2, 2, 0);
ROW(avgpool_k3s2, avg_pool2d, "2x3x5x5", nnc_avg_pool2d(x, 3, 2, 0), -2, 2, 0);
ROW(avgpool_pad, avg_pool2d, "2x3x5x5", nnc_avg_pool2d(x, 3, 2, 1), -2, 2, 0);
ROW(avgpool_pad_excl, avg_pool2d, "2x3x5x5", nnc_avg_pool2d_opts(x, P2(.kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 1}, .exclude_pad = true)), -2, 2, 0);
ROW(avgpool_ceil, avg_pool2d, "2x2x6x7", nnc_avg_pool2d_opts(x, P2(.kernel = {3, 2}, .stride = {2, 2}, .padding = {1, 1}, .ceil_mode = true)), -2, 2, 0);
ROW(avgpool_ceil_excl, avg_pool2d, "2x2x6x7", nnc_avg_pool2d_opts(x, P2(.kernel = {3, 2}, .stride = {2, 2}, .padding = {1, 1}, .ceil_mode = true, .exclude_pad = true)), -2, 2, 0);
ROW(avgpool_div, avg_pool2d, "2x2x5x5", nnc_avg_pool2d_opts(x, P2(.kernel = {2, 2}, .stride = {1, 1}, .padding = {1, 1}, .divisor = 3)), -2, 2, 0);
ROW(avgpool1d, avg_pool2d, "2x3x9", nnc_avg_pool1d(x, 3, 2, 1), -2, 2, 0);
ROW(avgpool1d_ceil, avg_pool2d, "3x8", nnc_avg_pool1d_opts(x, P1(.kernel = 3, .stride = 2, .padding = 1, .ceil_mode = true, .exclude_pad = true)), -2, 2, 0);

/* ---- adaptive average pooling (overlapping windows when the size does not divide) ---- */
ROW(adaptive_3x2, adaptive_avg_pool2d, "2x3x5x7", nnc_adaptive_avg_pool2d(x, 3, 2), -2, 2, 0);
ROW(adaptive_up, adaptive_avg_pool2d, "2x2x3x4", nnc_adaptive_avg_pool2d(x, 5, 6), -2, 2, 0);
ROW(adaptive_global, adaptive_avg_pool2d, "2x3x4x5", nnc_adaptive_avg_pool2d(x, 1, 1), -2, 2, 0);
ROW(adaptive_1d, adaptive_avg_pool2d, "2x3x10", nnc_adaptive_avg_pool1d(x, 4), -2, 2, 0);

/* ---- upsampling ---- */
ROW(nearest_x2, upsample_nearest2d, "2x3x4x5", nnc_upsample_nearest2d(x, 0, 0, 2, 2), -2, 2, 0);
ROW(nearest_size, upsample_nearest2d, "2x3x4x5", nnc_upsample_nearest2d(x, 7, 3, 0, 0), -2, 2, 0);
ROW(nearest_scale, upsample_nearest2d, "2x2x4x5", nnc_upsample_nearest2d(x, 0, 0, 1.5, 2.7), -2, 2, 0);
ROW(bilinear, upsample_bilinear2d, "2x3x4x5", nnc_upsample_bilinear2d(x, 7, 9, false, 0, 0), -2, 2, 0);
ROW(bilinear_ac, upsample_bilinear2d, "2x3x4x5", nnc_upsample_bilinear2d(x, 7, 9, true, 0, 0), -2, 2, 0);
ROW(bilinear_scale, upsample_bilinear2d, "2x2x4x5", nnc_upsample_bilinear2d(x, 0, 0, false, 2, 1.5), -2, 2, 0);
ROW(bilinear_down, upsample_bilinear2d, "2x2x7x6", nnc_upsample_bilinear2d(x, 3, 4, false, 0, 0), -2, 2, 0);
ROW(bilinear_down_ac, upsample_bilinear2d, "2x2x7x6", nnc_upsample_bilinear2d(x, 3, 1, true, 0, 0), -2, 2, 0);
