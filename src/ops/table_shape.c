/* ops/table_shape.c: gradient-check rows for the shape and indexing ops (see
 * autograd/gradcheck.h).  Index tensors come from the row's rng (re-seeded identically
 * before every call, so every evaluation sees the same indices); idx() also copies the first
 * index into the last place, so each index tensor has a repeated value and the backward's
 * accumulation into one place is exercised. */
#include "autograd/gradcheck.h"
#include "ops/ops.h"

static nnc_tensor *idx(nnc_rng *r, int nd, const int64_t *shape, int64_t below) {
  nnc_tensor *t = nnc_empty(NNC_I64, nd, shape);
  int64_t *p = nnc_i64(t), n = nnc_numel(t);
  for (int64_t i = 0; i < n; i++) p[i] = nnc_rng_below(r, below);
  if (n > 1) p[n - 1] = p[0];
  return t;
}

/* ---- concat, and stack / split (built from unsqueeze + concat and narrow views) ---- */
static nnc_tensor *f_concat3_mid(nnc_tensor **in, nnc_rng *r) { (void)r; return nnc_concat(3, in, 1); }
static nnc_tensor *f_concat_first(nnc_tensor **in, nnc_rng *r) { (void)r; return nnc_concat(2, in, 0); }
static nnc_tensor *f_concat_last(nnc_tensor **in, nnc_rng *r) { (void)r; return nnc_concat(2, in, -1); }
static nnc_tensor *f_concat_twice(nnc_tensor **in, nnc_rng *r) {
  (void)r; /* the same tensor twice: both halves of the gradient reach it */
  return nnc_concat(3, (nnc_tensor *[]){in[0], in[1], in[0]}, 0);
}
static nnc_tensor *f_stack_mid(nnc_tensor **in, nnc_rng *r) { (void)r; return nnc_stack(3, in, 1); }
static nnc_tensor *f_stack_last(nnc_tensor **in, nnc_rng *r) { (void)r; return nnc_stack(2, in, -1); }
static nnc_tensor *f_split(nnc_tensor **in, nnc_rng *r) {
  (void)r; /* three pieces put back in another order, so every piece's gradient is checked */
  nnc_tensor *p[3];
  nnc_split(in[0], 1, 3, (const int64_t[]){2, 4, 1}, p);
  return nnc_concat(3, (nnc_tensor *[]){p[2], p[0], p[1]}, 1);
}

NNC_GRADCHECK_ROW(row_concat3_mid, .op = "concat", .shapes = "2x3x4 2x1x4 2x2x4", .fn = f_concat3_mid);
NNC_GRADCHECK_ROW(row_concat_first, .op = "concat", .shapes = "2x3 4x3", .fn = f_concat_first);
NNC_GRADCHECK_ROW(row_concat_last, .op = "concat", .shapes = "3x2 3x4", .fn = f_concat_last);
NNC_GRADCHECK_ROW(row_concat_twice, .op = "concat", .shapes = "2x3 1x3", .fn = f_concat_twice);
NNC_GRADCHECK_ROW(row_stack_mid, .op = "concat", .shapes = "3x4 3x4 3x4", .fn = f_stack_mid);
NNC_GRADCHECK_ROW(row_stack_last, .op = "concat", .shapes = "2x3 2x3", .fn = f_stack_last);
NNC_GRADCHECK_ROW(row_split, .op = "slice", .shapes = "3x7", .fn = f_split);

/* ---- pad: each mode, pads on both sides, 1-d and 2-d (spatial NCHW) and cropping ---- */
#define PAD_ROW(var, shapes_, mode, value, ...)                                                   \
  static nnc_tensor *f_##var(nnc_tensor **in, nnc_rng *r) {                                       \
    (void)r;                                                                                      \
    const int64_t pads[] = {__VA_ARGS__};                                                         \
    return nnc_pad(in[0], (int)(sizeof pads / sizeof pads[0]), pads, mode, value);                \
  }                                                                                               \
  NNC_GRADCHECK_ROW(row_##var, .op = "pad", .shapes = shapes_, .fn = f_##var)

PAD_ROW(pad_zero_1d, "3x5", NNC_PAD_ZERO, 0.0, 2, 1);
PAD_ROW(pad_const_2d, "2x3x4x5", NNC_PAD_ZERO, 0.5, 1, 2, 2, 1);
PAD_ROW(pad_zero_crop, "3x4x5", NNC_PAD_ZERO, -1.0, -1, 2, 1, -2);
PAD_ROW(pad_zero_3d, "2x3x4", NNC_PAD_ZERO, 0.0, 1, 0, 0, 2, 1, 1);
PAD_ROW(pad_reflect_1d, "2x3x5", NNC_PAD_REFLECT, 0.0, 2, 3);
PAD_ROW(pad_reflect_2d, "2x2x4x5", NNC_PAD_REFLECT, 0.0, 1, 2, 3, 1);
PAD_ROW(pad_reflect_crop, "3x5", NNC_PAD_REFLECT, 0.0, -1, 4);
PAD_ROW(pad_replicate_1d, "2x4", NNC_PAD_REPLICATE, 0.0, 3, 2);
PAD_ROW(pad_replicate_2d, "2x2x3x4", NNC_PAD_REPLICATE, 0.0, 2, 3, 1, 2);
PAD_ROW(pad_circular_1d, "2x4", NNC_PAD_CIRCULAR, 0.0, 3, 2);
PAD_ROW(pad_circular_2d, "2x2x3x4", NNC_PAD_CIRCULAR, 0.0, 1, 2, 2, 1);
PAD_ROW(pad_circular_crop, "3x5", NNC_PAD_CIRCULAR, 0.0, -2, 3);

/* ---- gather, index_select, scatter_add: indices drawn with repeats ---- */
static nnc_tensor *f_gather0(nnc_tensor **in, nnc_rng *r) { return nnc_gather(in[0], 0, idx(r, NNC_SHAPE(6, 3), 4)); }
static nnc_tensor *f_gather1(nnc_tensor **in, nnc_rng *r) { return nnc_gather(in[0], 1, idx(r, NNC_SHAPE(3, 7), 4)); }
static nnc_tensor *f_gather_small(nnc_tensor **in, nnc_rng *r) {
  /* an index smaller than x in the other dims: x's extra rows and columns get no gradient */
  return nnc_gather(in[0], 1, idx(r, NNC_SHAPE(3, 2), 4));
}
static nnc_tensor *f_gather_3d(nnc_tensor **in, nnc_rng *r) { return nnc_gather(in[0], -1, idx(r, NNC_SHAPE(2, 3, 5), 4)); }
static nnc_tensor *f_index_select0(nnc_tensor **in, nnc_rng *r) { return nnc_index_select(in[0], 0, idx(r, NNC_SHAPE(8), 5)); }
static nnc_tensor *f_index_select1(nnc_tensor **in, nnc_rng *r) { return nnc_index_select(in[0], 1, idx(r, NNC_SHAPE(5), 4)); }
static nnc_tensor *f_index_select_last(nnc_tensor **in, nnc_rng *r) {
  return nnc_index_select(in[0], -1, idx(r, NNC_SHAPE(4), 3));
}
static nnc_tensor *f_scatter_add0(nnc_tensor **in, nnc_rng *r) {
  return nnc_scatter_add(in[0], 0, idx(r, NNC_SHAPE(5, 3), 4), in[1]);
}
static nnc_tensor *f_scatter_add1(nnc_tensor **in, nnc_rng *r) {
  /* src larger than index: src's positions outside the index get no gradient */
  return nnc_scatter_add(in[0], 1, idx(r, NNC_SHAPE(2, 5), 4), in[1]);
}

NNC_GRADCHECK_ROW(row_gather0, .op = "gather", .shapes = "4x3", .fn = f_gather0);
NNC_GRADCHECK_ROW(row_gather1, .op = "gather", .shapes = "3x4", .fn = f_gather1);
NNC_GRADCHECK_ROW(row_gather_small, .op = "gather", .shapes = "5x4", .fn = f_gather_small);
NNC_GRADCHECK_ROW(row_gather_3d, .op = "gather", .shapes = "2x3x4", .fn = f_gather_3d);
NNC_GRADCHECK_ROW(row_index_select0, .op = "index_select", .shapes = "5x3", .fn = f_index_select0);
NNC_GRADCHECK_ROW(row_index_select1, .op = "index_select", .shapes = "2x4x3", .fn = f_index_select1);
NNC_GRADCHECK_ROW(row_index_select_last, .op = "index_select", .shapes = "2x4x3", .fn = f_index_select_last);
NNC_GRADCHECK_ROW(row_scatter_add0, .op = "scatter_add", .shapes = "4x3 5x3", .fn = f_scatter_add0);
NNC_GRADCHECK_ROW(row_scatter_add1, .op = "scatter_add", .shapes = "3x4 3x6", .fn = f_scatter_add1);

/* ---- one_hot: forward only (the float input only chooses the output dtype) ---- */
static nnc_tensor *f_one_hot(nnc_tensor **in, nnc_rng *r) { return nnc_one_hot(idx(r, NNC_SHAPE(2, 3), 5), 5, in[0]->dtype); }
static nnc_tensor *f_one_hot_i64(nnc_tensor **in, nnc_rng *r) { (void)in; return nnc_one_hot(idx(r, NNC_SHAPE(7), 4), 4, NNC_I64); }
NNC_GRADCHECK_ROW(row_one_hot, .op = "one_hot", .shapes = "3", .fn = f_one_hot, .flags = NNC_GC_NO_GRAD);
NNC_GRADCHECK_ROW(row_one_hot_i64, .op = "one_hot", .shapes = "3", .fn = f_one_hot_i64, .flags = NNC_GC_NO_GRAD);

/* ---- cast ----
 * The gradient check runs in f64 with central differences (eps 1e-6): through an f32
 * intermediate (f64 -> f32 -> f64) the rounding to f32 (relative 6e-8, i.e. absolute ~1e-7
 * on values near 2) swamps the 2e-6 step, so the difference quotient is off by ~5%.  So the
 * gradient row casts to the input's own dtype (the same recorded op and backward, identity
 * Jacobian), and dtype changes are checked forward only, fast kernel against reference. */
static nnc_tensor *f_cast_same(nnc_tensor **in, nnc_rng *r) { (void)r; return nnc_cast(in[0], in[0]->dtype); }
static nnc_tensor *f_cast_other(nnc_tensor **in, nnc_rng *r) {
  (void)r;
  return nnc_cast(in[0], in[0]->dtype == NNC_F64 ? NNC_F32 : NNC_F64);
}
static nnc_tensor *f_cast_int(nnc_tensor **in, nnc_rng *r) { (void)r; return nnc_cast(nnc_scale(in[0], 10), NNC_I64); }
NNC_GRADCHECK_ROW(row_cast_same, .op = "cast", .shapes = "3x4", .fn = f_cast_same);
NNC_GRADCHECK_ROW(row_cast_other, .op = "cast", .shapes = "3x4", .fn = f_cast_other, .flags = NNC_GC_NO_GRAD);
NNC_GRADCHECK_ROW(row_cast_int, .op = "cast", .shapes = "3x4", .fn = f_cast_int, .flags = NNC_GC_NO_GRAD);
