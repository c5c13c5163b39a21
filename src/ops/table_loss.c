/* ops/table_loss.c: gradient-check rows for the losses, one per op and reduction.
 *
 * Class targets are drawn from the row's rng.  l1 and huber keep the difference pred-target
 * away from their kinks: the row adds to pred a constant offset tensor drawn from the rng
 * (+-3 for l1; -3, 0 or +3 for huber with inputs in [-0.25, 0.25], so |d| <= 0.5 or
 * 2.5 <= |d| <= 3.5 around delta = 1), which keeps both signs and both huber branches. */
#include "autograd/gradcheck.h"
#include "core/rng.h"
#include "ops/ops.h"

/* N class indices in [0, C) */
static nnc_tensor *class_targets(const nnc_tensor *x, nnc_rng *r) {
  int64_t N = x->shape[0];
  nnc_tensor *t = nnc_empty(NNC_I64, 1, &N);
  int64_t *p = nnc_i64(t);
  for (int64_t i = 0; i < N; i++) p[i] = nnc_rng_below(r, x->shape[1]);
  return t;
}

/* x + (a constant drawn per element from vals) */
static nnc_tensor *offset(nnc_tensor *x, nnc_rng *r, int nvals, const double *vals) {
  nnc_tensor *o = nnc_empty(x->dtype, x->ndim, x->shape);
  for (int64_t i = 0, n = nnc_numel(o); i < n; i++) nnc_set(o, i, vals[nnc_rng_below(r, nvals)]);
  return nnc_add(x, o);
}
static const double l1_offsets[] = {-3, 3}, huber_offsets[] = {-3, 0, 3};

#define LOSS_ROW(var, name, shapes_, expr, lo_, hi_)                                      \
  static nnc_tensor *f_##var(nnc_tensor **in, nnc_rng *r) {                                \
    (void)r;                                                                               \
    nnc_tensor *a = in[0], *b = in[1];                                                     \
    return expr;                                                                           \
  }                                                                                        \
  NNC_GRADCHECK_ROW(row_##var, .op = #name, .shapes = shapes_, .fn = f_##var, .lo = lo_, .hi = hi_)

#define MEAN NNC_REDUCE_MEAN
#define SUM NNC_REDUCE_SUM
#define NONE NNC_REDUCE_NONE

/* rows with one float input (logits; the class targets come from the rng) */
#define CLASS_ROW(var, name, shapes_, expr, lo_, hi_)                                     \
  static nnc_tensor *f_##var(nnc_tensor **in, nnc_rng *r) {                                \
    nnc_tensor *a = in[0];                                                                 \
    return expr;                                                                           \
  }                                                                                        \
  NNC_GRADCHECK_ROW(row_##var, .op = #name, .shapes = shapes_, .fn = f_##var, .lo = lo_, .hi = hi_)

/* cross_entropy */
CLASS_ROW(ce_mean, cross_entropy, "4x5", nnc_cross_entropy(a, class_targets(a, r), 0, MEAN), -2, 2);
CLASS_ROW(ce_sum, cross_entropy, "4x5", nnc_cross_entropy(a, class_targets(a, r), 0, SUM), -2, 2);
CLASS_ROW(ce_none, cross_entropy, "4x5", nnc_cross_entropy(a, class_targets(a, r), 0, NONE), -2, 2);
CLASS_ROW(ce_ls_mean, cross_entropy, "4x5", nnc_cross_entropy(a, class_targets(a, r), 0.1, MEAN), -2, 2);
CLASS_ROW(ce_ls_sum, cross_entropy, "4x5", nnc_cross_entropy(a, class_targets(a, r), 0.1, SUM), -2, 2);
CLASS_ROW(ce_ls_none, cross_entropy, "4x5", nnc_cross_entropy(a, class_targets(a, r), 0.1, NONE), -2, 2);
/* rows longer than the kernel's chunk (two chunks of the online log-sum-exp) */
CLASS_ROW(ce_long, cross_entropy, "3x700", nnc_cross_entropy(a, class_targets(a, r), 0.2, NONE), -3, 3);
/* large logits: exp would overflow without the max shift (f32 too) */
CLASS_ROW(ce_large, cross_entropy, "4x5", nnc_cross_entropy(a, class_targets(a, r), 0.1, MEAN), 80, 100);

/* nll */
CLASS_ROW(nll_mean, nll, "4x5", nnc_nll(a, class_targets(a, r), MEAN), -2, 2);
CLASS_ROW(nll_sum, nll, "4x5", nnc_nll(a, class_targets(a, r), SUM), -2, 2);
CLASS_ROW(nll_none, nll, "4x5", nnc_nll(a, class_targets(a, r), NONE), -2, 2);

/* mse */
LOSS_ROW(mse_mean, mse, "3x4 3x4", nnc_mse(a, b, MEAN), -2, 2);
LOSS_ROW(mse_sum, mse, "3x4 3x4", nnc_mse(a, b, SUM), -2, 2);
LOSS_ROW(mse_none, mse, "3x4 3x4", nnc_mse(a, b, NONE), -2, 2);
LOSS_ROW(mse_3d, mse, "2x3x4 2x3x4", nnc_mse(a, b, MEAN), -2, 2);

/* l1 */
LOSS_ROW(l1_mean, l1, "3x4 3x4", nnc_l1(offset(a, r, 2, l1_offsets), b, MEAN), -1, 1);
LOSS_ROW(l1_sum, l1, "3x4 3x4", nnc_l1(offset(a, r, 2, l1_offsets), b, SUM), -1, 1);
LOSS_ROW(l1_none, l1, "3x4 3x4", nnc_l1(offset(a, r, 2, l1_offsets), b, NONE), -1, 1);

/* huber, delta 1 (1.5 on the none row; either way |d| stays 1 away from delta) */
LOSS_ROW(huber_mean, huber, "3x4 3x4", nnc_huber(offset(a, r, 3, huber_offsets), b, 1.0, MEAN), -0.25, 0.25);
LOSS_ROW(huber_sum, huber, "3x4 3x4", nnc_huber(offset(a, r, 3, huber_offsets), b, 1.0, SUM), -0.25, 0.25);
LOSS_ROW(huber_none, huber, "3x4 3x4", nnc_huber(offset(a, r, 3, huber_offsets), b, 1.5, NONE), -0.25, 0.25);

/* bce_with_logits: targets in [-3, 3] (the formula and its gradients hold for any t) */
LOSS_ROW(bce_mean, bce_with_logits, "3x4 3x4", nnc_bce_with_logits(a, b, MEAN), -3, 3);
LOSS_ROW(bce_sum, bce_with_logits, "3x4 3x4", nnc_bce_with_logits(a, b, SUM), -3, 3);
LOSS_ROW(bce_none, bce_with_logits, "3x4 3x4", nnc_bce_with_logits(a, b, NONE), -3, 3);
/* large |logits| on both sides: the stable form must not overflow */
LOSS_ROW(bce_large, bce_with_logits, "3x4 3x4", nnc_bce_with_logits(nnc_scale(a, 40), b, MEAN), -3, 3);
