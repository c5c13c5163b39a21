/* ops/table_layernorm.c: gradient-check rows for the fused layer_norm (2-d and 3-d input;
 * weight and bias, weight only, neither). */
#include "autograd/gradcheck.h"
#include "ops/ops.h"

static nnc_tensor *f_ln(nnc_tensor **in, nnc_rng *r) { (void)r; return nnc_layer_norm(in[0], in[1], in[2], 1e-5); }
static nnc_tensor *f_ln_w(nnc_tensor **in, nnc_rng *r) { (void)r; return nnc_layer_norm(in[0], in[1], NULL, 1e-5); }
static nnc_tensor *f_ln_none(nnc_tensor **in, nnc_rng *r) { (void)r; return nnc_layer_norm(in[0], NULL, NULL, 0.1); }

NNC_GRADCHECK_ROW(row_ln, .op = "layer_norm", .shapes = "3x5 5 5", .fn = f_ln);
NNC_GRADCHECK_ROW(row_ln_3d, .op = "layer_norm", .shapes = "2x3x4 4 4", .fn = f_ln);
NNC_GRADCHECK_ROW(row_ln_rows, .op = "layer_norm", .shapes = "40x3 3 3", .fn = f_ln);
NNC_GRADCHECK_ROW(row_ln_w, .op = "layer_norm", .shapes = "4x6 6", .fn = f_ln_w);
NNC_GRADCHECK_ROW(row_ln_none, .op = "layer_norm", .shapes = "3x5", .fn = f_ln_none);
