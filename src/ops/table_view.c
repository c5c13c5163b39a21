/* ops/table_view.c: gradient-check rows for the view ops (see autograd/gradcheck.h). */
#include "autograd/gradcheck.h"
#include "ops/ops.h"

static nnc_tensor *f_reshape(nnc_tensor **in, nnc_rng *r) { (void)r; return nnc_reshape(in[0], NNC_SHAPE(4, -1)); }
static nnc_tensor *f_reshape_t(nnc_tensor **in, nnc_rng *r) {
  (void)r; /* a transposed input cannot be viewed with this shape: reshape copies */
  return nnc_reshape(nnc_transpose(in[0], 0, 2), NNC_SHAPE(6, 4));
}
static nnc_tensor *f_flatten(nnc_tensor **in, nnc_rng *r) { (void)r; return nnc_flatten(in[0], 1, -1); }
static nnc_tensor *f_permute(nnc_tensor **in, nnc_rng *r) { (void)r; return nnc_permute(in[0], (int[]){2, 0, 1}); }
static nnc_tensor *f_transpose(nnc_tensor **in, nnc_rng *r) { (void)r; return nnc_transpose(in[0], 0, -1); }
static nnc_tensor *f_slice(nnc_tensor **in, nnc_rng *r) { (void)r; return nnc_slice(in[0], 1, 1, -1, 2); }
static nnc_tensor *f_narrow(nnc_tensor **in, nnc_rng *r) { (void)r; return nnc_narrow(in[0], -1, 1, 2); }
static nnc_tensor *f_expand(nnc_tensor **in, nnc_rng *r) { (void)r; return nnc_expand(in[0], NNC_SHAPE(2, 3, 4)); }
static nnc_tensor *f_squeeze(nnc_tensor **in, nnc_rng *r) { (void)r; return nnc_squeeze(in[0], 1); }
static nnc_tensor *f_unsqueeze(nnc_tensor **in, nnc_rng *r) { (void)r; return nnc_unsqueeze(in[0], -1); }
static nnc_tensor *f_contiguous(nnc_tensor **in, nnc_rng *r) { (void)r; return nnc_contiguous(nnc_transpose(in[0], 0, 1)); }
static nnc_tensor *f_clone(nnc_tensor **in, nnc_rng *r) { (void)r; return nnc_clone(in[0]); }

NNC_GRADCHECK_ROW(row_reshape, .op = "reshape", .shapes = "2x3x4", .fn = f_reshape);
NNC_GRADCHECK_ROW(row_reshape_t, .op = "reshape", .shapes = "2x3x4", .fn = f_reshape_t);
NNC_GRADCHECK_ROW(row_flatten, .op = "reshape", .shapes = "2x3x4", .fn = f_flatten);
NNC_GRADCHECK_ROW(row_squeeze, .op = "reshape", .shapes = "3x1x4", .fn = f_squeeze, .flags = NNC_GC_NO_PERMUTE);
NNC_GRADCHECK_ROW(row_unsqueeze, .op = "reshape", .shapes = "3x4", .fn = f_unsqueeze);
NNC_GRADCHECK_ROW(row_permute, .op = "permute", .shapes = "2x3x4", .fn = f_permute);
NNC_GRADCHECK_ROW(row_transpose, .op = "permute", .shapes = "3x4", .fn = f_transpose);
NNC_GRADCHECK_ROW(row_slice, .op = "slice", .shapes = "3x7", .fn = f_slice);
NNC_GRADCHECK_ROW(row_narrow, .op = "slice", .shapes = "3x5", .fn = f_narrow);
NNC_GRADCHECK_ROW(row_expand, .op = "expand", .shapes = "3x1", .fn = f_expand, .flags = NNC_GC_NO_PERMUTE);
NNC_GRADCHECK_ROW(row_contiguous, .op = "contiguous", .shapes = "3x4", .fn = f_contiguous);
NNC_GRADCHECK_ROW(row_clone, .op = "clone", .shapes = "3x4", .fn = f_clone);
