/* ops/table_norm.c: gradient-check rows for batch norm (training and eval; [N, C],
 * [N, C, L] and [N, C, H, W]; with and without affine) and group norm (1, 2 and C groups).
 * Inputs are x, then weight and bias when the row has them.  Running statistics for eval
 * rows are drawn from the row's rng (the same before every call); training rows get fresh
 * running buffers each call, so their updates do not change the output. */
#include "autograd/gradcheck.h"
#include "ops/ops.h"

static nnc_tensor *vec(nnc_dtype dt, int64_t c, double lo, double hi, nnc_rng *r) {
  nnc_tensor *t = nnc_empty(dt, 1, &c);
  nnc_fill_uniform(t, lo, hi, r);
  return t;
}

#define ROW(var, name, shapes_, expr)                                                                  \
  static nnc_tensor *f_##var(nnc_tensor **in, nnc_rng *r) { (void)r; nnc_tensor *x = in[0]; (void)x; return expr; } \
  NNC_GRADCHECK_ROW(row_##var, .op = #name, .shapes = shapes_, .fn = f_##var)

/* ---- batch norm ---- */
static nnc_tensor *bn_train(nnc_tensor **in, int n_in, nnc_rng *r, bool running) {
  nnc_tensor *x = in[0];
  (void)r;
  int64_t C = x->shape[1];
  nnc_tensor *rm = running ? nnc_zeros(x->dtype, 1, &C) : NULL, *rv = running ? nnc_ones(x->dtype, 1, &C) : NULL;
  return nnc_batch_norm(x, n_in > 1 ? in[1] : NULL, n_in > 2 ? in[2] : NULL, rm, rv, true, 0.1, 1e-5);
}
static nnc_tensor *bn_eval(nnc_tensor **in, int n_in, nnc_rng *r) {
  nnc_tensor *x = in[0];
  int64_t C = x->shape[1];
  nnc_tensor *rm = vec(x->dtype, C, -1, 1, r), *rv = vec(x->dtype, C, 0.5, 2, r);
  return nnc_batch_norm(x, n_in > 1 ? in[1] : NULL, n_in > 2 ? in[2] : NULL, rm, rv, false, 0.1, 1e-5);
}

ROW(bn_train_4d, batch_norm, "2x3x5x5 3 3", bn_train(in, 3, r, true));
ROW(bn_train_2d, batch_norm, "6x4 4 4", bn_train(in, 3, r, false));
ROW(bn_train_3d, batch_norm, "3x4x5 4 4", bn_train(in, 3, r, true));
ROW(bn_train_noaffine, batch_norm, "2x3x4x4", bn_train(in, 1, r, false));
ROW(bn_train_weight_only, batch_norm, "4x3x3 3", bn_train(in, 2, r, false));
ROW(bn_eval_4d, batch_norm, "2x3x5x5 3 3", bn_eval(in, 3, r));
ROW(bn_eval_2d, batch_norm, "5x4 4 4", bn_eval(in, 3, r));
ROW(bn_eval_noaffine, batch_norm, "2x3x4", bn_eval(in, 1, r));

/* ---- group norm ---- */
ROW(gn_2groups, group_norm, "2x4x3x3 4 4", nnc_group_norm(x, 2, in[1], in[2], 1e-5));
ROW(gn_1group, group_norm, "2x4x5 4 4", nnc_group_norm(x, 1, in[1], in[2], 1e-5));
ROW(gn_instance, group_norm, "2x4x3x3 4 4", nnc_group_norm(x, 4, in[1], in[2], 1e-5));
ROW(gn_noaffine, group_norm, "3x6x2x3", nnc_group_norm(x, 3, NULL, NULL, 1e-5));
ROW(gn_2d, group_norm, "3x6 6 6", nnc_group_norm(x, 2, in[1], in[2], 1e-5));
