/* ops/table_bias_gelu.c: gradient-check rows for bias_gelu (with and without a bias; inputs
 * over [-4, 4] so both tails of the GELU are exercised). */
#include "autograd/gradcheck.h"
#include "ops/ops.h"

static nnc_tensor *f_bg(nnc_tensor **in, nnc_rng *r) { (void)r; return nnc_bias_gelu(in[0], in[1]); }
static nnc_tensor *f_bg_nobias(nnc_tensor **in, nnc_rng *r) { (void)r; return nnc_bias_gelu(in[0], NULL); }

NNC_GRADCHECK_ROW(row_bg, .op = "bias_gelu", .shapes = "4x5 5", .fn = f_bg, .lo = -4, .hi = 4);
NNC_GRADCHECK_ROW(row_bg_3d, .op = "bias_gelu", .shapes = "2x70x3 3", .fn = f_bg);
NNC_GRADCHECK_ROW(row_bg_nobias, .op = "bias_gelu", .shapes = "3x6", .fn = f_bg_nobias, .lo = -4, .hi = 4);
