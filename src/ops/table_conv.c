/* ops/table_conv.c: gradient-check rows for the convolutions: strided, padded, dilated,
 * grouped, depthwise, non-square kernels, no bias, batch > 1, 1-d, unbatched, and
 * transposed with output_pad.  Sizes stay small: the check perturbs every element. */
#include "autograd/gradcheck.h"
#include "ops/ops.h"

#define CONV_FN(name, OP, ...)                                                     \
  __attribute__((unused)) static nnc_tensor *name(nnc_tensor **in, nnc_rng *r) {   \
    (void)r;                                                                       \
    return OP(in[0], in[1], in[2], (nnc_conv_args){__VA_ARGS__});                  \
  }                                                                                \
  __attribute__((unused)) static nnc_tensor *name##_nb(nnc_tensor **in, nnc_rng *r) { \
    (void)r;                                                                       \
    return OP(in[0], in[1], NULL, (nnc_conv_args){__VA_ARGS__});                   \
  }

/* ---- conv2d ---- */
CONV_FN(f_c2_plain, nnc_conv2d, .groups = 1)
CONV_FN(f_c2_pad, nnc_conv2d, .pad = {1, 1})
CONV_FN(f_c2_stride, nnc_conv2d, .stride = {2, 2}, .pad = {1, 1})
CONV_FN(f_c2_mixed, nnc_conv2d, .stride = {2, 1}, .pad = {1, 2}, .dilation = {1, 2})
CONV_FN(f_c2_dil, nnc_conv2d, .pad = {2, 2}, .dilation = {2, 2})
CONV_FN(f_c2_grp, nnc_conv2d, .pad = {1, 1}, .groups = 2)
CONV_FN(f_c2_dw, nnc_conv2d, .pad = {1, 1}, .stride = {2, 2}, .groups = 4)
CONV_FN(f_c2_1x1, nnc_conv2d, .groups = 1)
CONV_FN(f_c2_odd, nnc_conv2d, .stride = {3, 2}, .pad = {0, 1})

NNC_GRADCHECK_ROW(row_c2_plain, .op = "conv2d", .shapes = "2x3x5x5 4x3x3x3 4", .fn = f_c2_plain);
NNC_GRADCHECK_ROW(row_c2_pad, .op = "conv2d", .shapes = "2x4x5x5 6x4x3x3 6", .fn = f_c2_pad);
NNC_GRADCHECK_ROW(row_c2_nobias, .op = "conv2d", .shapes = "1x3x5x4 4x3x3x3", .fn = f_c2_pad_nb);
NNC_GRADCHECK_ROW(row_c2_stride, .op = "conv2d", .shapes = "2x2x6x7 3x2x3x3 3", .fn = f_c2_stride);
NNC_GRADCHECK_ROW(row_c2_nonsquare, .op = "conv2d", .shapes = "2x2x6x7 3x2x2x4 3", .fn = f_c2_mixed);
NNC_GRADCHECK_ROW(row_c2_dilated, .op = "conv2d", .shapes = "1x2x7x6 3x2x3x2 3", .fn = f_c2_dil);
NNC_GRADCHECK_ROW(row_c2_grouped, .op = "conv2d", .shapes = "2x4x5x5 6x2x3x3 6", .fn = f_c2_grp);
NNC_GRADCHECK_ROW(row_c2_depthwise, .op = "conv2d", .shapes = "2x4x6x6 4x1x3x3 4", .fn = f_c2_dw);
NNC_GRADCHECK_ROW(row_c2_depthwise_mult, .op = "conv2d", .shapes = "1x4x5x5 8x1x3x3", .fn = f_c2_dw_nb);
NNC_GRADCHECK_ROW(row_c2_1x1, .op = "conv2d", .shapes = "2x3x4x4 5x3x1x1 5", .fn = f_c2_1x1);
NNC_GRADCHECK_ROW(row_c2_odd, .op = "conv2d", .shapes = "2x2x7x6 3x2x2x3 3", .fn = f_c2_odd);
NNC_GRADCHECK_ROW(row_c2_unbatched, .op = "conv2d", .shapes = "3x5x5 4x3x3x3 4", .fn = f_c2_pad);

/* ---- conv1d ---- */
CONV_FN(f_c1_plain, nnc_conv1d, .pad = {1})
CONV_FN(f_c1_stride, nnc_conv1d, .stride = {2}, .pad = {2}, .dilation = {2})
CONV_FN(f_c1_grp, nnc_conv1d, .pad = {1}, .groups = 2)
CONV_FN(f_c1_dw, nnc_conv1d, .stride = {2}, .groups = 4)

NNC_GRADCHECK_ROW(row_c1_plain, .op = "conv1d", .shapes = "2x3x8 4x3x3 4", .fn = f_c1_plain);
NNC_GRADCHECK_ROW(row_c1_stride, .op = "conv1d", .shapes = "2x3x9 4x3x3 4", .fn = f_c1_stride);
NNC_GRADCHECK_ROW(row_c1_grouped, .op = "conv1d", .shapes = "2x4x7 6x2x3", .fn = f_c1_grp_nb);
NNC_GRADCHECK_ROW(row_c1_depthwise, .op = "conv1d", .shapes = "2x4x9 4x1x4 4", .fn = f_c1_dw);
NNC_GRADCHECK_ROW(row_c1_unbatched, .op = "conv1d", .shapes = "3x8 4x3x3 4", .fn = f_c1_plain);

/* ---- conv_transpose2d: w [C_in, C_out/groups, KH, KW] ---- */
CONV_FN(f_t2_plain, nnc_conv_transpose2d, .groups = 1)
CONV_FN(f_t2_stride, nnc_conv_transpose2d, .stride = {2, 2}, .pad = {1, 1}, .output_pad = {1, 1})
CONV_FN(f_t2_mixed, nnc_conv_transpose2d, .stride = {2, 3}, .pad = {1, 0}, .dilation = {2, 1},
        .output_pad = {1, 2})
CONV_FN(f_t2_dilpad, nnc_conv_transpose2d, .stride = {1, 2}, .dilation = {3, 2}, .output_pad = {2, 0})
CONV_FN(f_t2_grp, nnc_conv_transpose2d, .stride = {2, 2}, .pad = {1, 1}, .groups = 2)
CONV_FN(f_t2_dw, nnc_conv_transpose2d, .stride = {2, 2}, .output_pad = {1, 1}, .groups = 4)

NNC_GRADCHECK_ROW(row_t2_plain, .op = "conv_transpose2d", .shapes = "2x3x4x4 3x2x3x3 2", .fn = f_t2_plain);
NNC_GRADCHECK_ROW(row_t2_stride, .op = "conv_transpose2d", .shapes = "2x3x3x4 3x2x3x3 2", .fn = f_t2_stride);
NNC_GRADCHECK_ROW(row_t2_nonsquare, .op = "conv_transpose2d", .shapes = "2x2x3x3 2x3x2x3 3", .fn = f_t2_mixed);
NNC_GRADCHECK_ROW(row_t2_dilated, .op = "conv_transpose2d", .shapes = "1x2x3x3 2x2x2x2", .fn = f_t2_dilpad_nb);
NNC_GRADCHECK_ROW(row_t2_grouped, .op = "conv_transpose2d", .shapes = "2x4x3x3 4x3x3x3 6", .fn = f_t2_grp);
NNC_GRADCHECK_ROW(row_t2_depthwise, .op = "conv_transpose2d", .shapes = "1x4x3x3 4x1x3x3 4", .fn = f_t2_dw);
NNC_GRADCHECK_ROW(row_t2_nobias, .op = "conv_transpose2d", .shapes = "2x3x3x3 3x4x2x2", .fn = f_t2_stride_nb);

/* ---- conv_transpose1d ---- */
CONV_FN(f_t1_plain, nnc_conv_transpose1d, .pad = {1})
CONV_FN(f_t1_stride, nnc_conv_transpose1d, .stride = {3}, .pad = {1}, .output_pad = {2})
CONV_FN(f_t1_grp, nnc_conv_transpose1d, .stride = {2}, .dilation = {2}, .output_pad = {1}, .groups = 2)

NNC_GRADCHECK_ROW(row_t1_plain, .op = "conv_transpose1d", .shapes = "2x3x5 3x2x3 2", .fn = f_t1_plain);
NNC_GRADCHECK_ROW(row_t1_stride, .op = "conv_transpose1d", .shapes = "2x3x4 3x2x3 2", .fn = f_t1_stride);
NNC_GRADCHECK_ROW(row_t1_grouped, .op = "conv_transpose1d", .shapes = "2x4x4 4x2x3", .fn = f_t1_grp_nb);
NNC_GRADCHECK_ROW(row_t1_unbatched, .op = "conv_transpose1d", .shapes = "3x5 3x2x3 2", .fn = f_t1_plain);
