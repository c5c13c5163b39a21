/* ops/table_matmul.c: gradient-check rows for matmul (2-d, vector, batched with broadcast
 * batch dims, transposed operands) and linear. */
#include "autograd/gradcheck.h"
#include "ops/ops.h"

static nnc_tensor *f_mm(nnc_tensor **in, nnc_rng *r) { (void)r; return nnc_matmul(in[0], in[1]); }
static nnc_tensor *f_mm_tt(nnc_tensor **in, nnc_rng *r) { (void)r; return nnc_matmul_t(in[0], in[1], true, true); }
static nnc_tensor *f_mm_ta(nnc_tensor **in, nnc_rng *r) { (void)r; return nnc_matmul_t(in[0], in[1], true, false); }
static nnc_tensor *f_mm_tb(nnc_tensor **in, nnc_rng *r) { (void)r; return nnc_matmul_t(in[0], in[1], false, true); }
static nnc_tensor *f_linear(nnc_tensor **in, nnc_rng *r) { (void)r; return nnc_linear(in[0], in[1], in[2]); }
static nnc_tensor *f_linear_nb(nnc_tensor **in, nnc_rng *r) { (void)r; return nnc_linear(in[0], in[1], NULL); }

NNC_GRADCHECK_ROW(row_mm, .op = "matmul", .shapes = "3x4 4x5", .fn = f_mm);
NNC_GRADCHECK_ROW(row_mm_vec, .op = "matmul", .shapes = "4 4x5", .fn = f_mm);
NNC_GRADCHECK_ROW(row_mm_matvec, .op = "matmul", .shapes = "3x4 4", .fn = f_mm);
NNC_GRADCHECK_ROW(row_mm_batch, .op = "matmul", .shapes = "2x3x4 2x4x5", .fn = f_mm);
NNC_GRADCHECK_ROW(row_mm_bcast, .op = "matmul", .shapes = "2x1x3x4 3x4x2", .fn = f_mm);
NNC_GRADCHECK_ROW(row_mm_tt, .op = "matmul", .shapes = "2x4x3 5x4", .fn = f_mm_tt);
NNC_GRADCHECK_ROW(row_mm_ta, .op = "matmul", .shapes = "4x3 4x5", .fn = f_mm_ta);
NNC_GRADCHECK_ROW(row_mm_tb, .op = "matmul", .shapes = "3x4 2x5x4", .fn = f_mm_tb);
NNC_GRADCHECK_ROW(row_linear, .op = "linear", .shapes = "5x4 3x4 3", .fn = f_linear);
NNC_GRADCHECK_ROW(row_linear_3d, .op = "linear", .shapes = "2x3x4 5x4 5", .fn = f_linear);
NNC_GRADCHECK_ROW(row_linear_nobias, .op = "linear", .shapes = "5x4 3x4", .fn = f_linear_nb);
