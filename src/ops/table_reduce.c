/* ops/table_reduce.c: gradient-check rows for the reductions, softmax, log_softmax, cumsum,
 * argmax and sum_to.  Rows cover single and several axes, negative axes, all axes
 * (naxes 0), keepdim on and off, and 0-d, 1-d, 2-d, 3-d and 4-d inputs.
 *
 * max/min: uniform inputs are distinct almost surely, so only the broadcast layout (an
 * expanded [1, ...] leaf) makes ties, all exact copies along dim 0.  Equal sharing is the
 * true derivative there: a leaf entry moves every copy together, so the max moves with it
 * and the copies' shares sum back to 1.  The *_tie2 rows add a two-way tie through a
 * broadcast add; the central difference at such a tie is 1/2 per copy, which equal sharing
 * matches too. */
#include "autograd/gradcheck.h"
#include "ops/ops.h"

#define AXES(...) (int)(sizeof((int[]){__VA_ARGS__}) / sizeof(int)), (const int[]){__VA_ARGS__}

#define ROW(var, name, shapes_, expr, lo_, hi_, flags_)                                     \
  static nnc_tensor *f_##var(nnc_tensor **in, nnc_rng *r) { (void)r; nnc_tensor *x = in[0]; return expr; } \
  NNC_GRADCHECK_ROW(row_##var, .op = #name, .shapes = shapes_, .fn = f_##var, .lo = lo_, .hi = hi_, .flags = flags_)

/* ---- sum ---- */
ROW(sum_mid, sum, "3x4x5", nnc_sum(x, AXES(1), false), -2, 2, 0);
ROW(sum_outer_inner_keep, sum, "3x4x5", nnc_sum(x, AXES(0, 2), true), -2, 2, 0);
ROW(sum_neg, sum, "3x4x5", nnc_sum(x, AXES(-1, 0), false), -2, 2, 0);
ROW(sum_all_axes, sum, "3x4", nnc_sum(x, 0, NULL, false), -2, 2, 0);
ROW(sum_all_keep, sum, "3x4", nnc_sum(x, 0, NULL, true), -2, 2, 0);
ROW(sum_batch, sum, "6x4", nnc_sum(x, AXES(0), false), -2, 2, 0);
ROW(sum_1d, sum, "7", nnc_sum(x, AXES(0), false), -2, 2, 0);
ROW(sum_4d, sum, "2x3x4x5", nnc_sum(x, AXES(3, 1), true), -2, 2, 0);
ROW(sum_scalar, sum, "s", nnc_sum(x, AXES(-1), false), -2, 2, 0);

/* ---- mean ---- */
ROW(mean_last, mean, "3x4x5", nnc_mean(x, AXES(-1), false), -2, 2, 0);
ROW(mean_keep, mean, "3x4x5", nnc_mean(x, AXES(0, 1), true), -2, 2, 0);
ROW(mean_all_axes, mean, "3x4", nnc_mean(x, 0, NULL, false), -2, 2, 0);
ROW(mean_1d, mean, "7", nnc_mean(x, AXES(-1), true), -2, 2, 0);
ROW(mean_4d, mean, "2x3x4x5", nnc_mean(x, AXES(0, 2, 3), false), -2, 2, 0);

/* ---- max / min ---- */
ROW(max_mid, max, "3x4x5", nnc_max(x, AXES(1), false), -2, 2, 0);
ROW(max_first_keep, max, "3x4x5", nnc_max(x, AXES(0), true), -2, 2, 0);
ROW(max_two, max, "3x4x5", nnc_max(x, AXES(-1, 0), false), -2, 2, 0);
ROW(max_all, max, "3x4", nnc_max(x, 0, NULL, false), -2, 2, 0);
ROW(max_1d, max, "7", nnc_max(x, AXES(0), false), -2, 2, 0);
ROW(max_tie2, max, "1x4", nnc_max(nnc_add(x, nnc_zeros(x->dtype, 2, (int64_t[]){2, 4})), AXES(0), false), -2, 2, 0);
ROW(min_mid, min, "3x4x5", nnc_min(x, AXES(-2), true), -2, 2, 0);
ROW(min_first, min, "3x4x5", nnc_min(x, AXES(0), false), -2, 2, 0);
ROW(min_all, min, "2x3x4", nnc_min(x, 0, NULL, true), -2, 2, 0);
ROW(min_1d, min, "7", nnc_min(x, AXES(-1), false), -2, 2, 0);
ROW(min_tie2, min, "1x4", nnc_min(nnc_add(x, nnc_zeros(x->dtype, 2, (int64_t[]){2, 4})), AXES(0), true), -2, 2, 0);

/* ---- var / std (std is not differentiable where it is 0: the gradient there is 0) ---- */
ROW(var_last, var, "3x4x5", nnc_var(x, AXES(-1), 1, false), -2, 2, 0);
ROW(var_pop_keep, var, "3x4x5", nnc_var(x, AXES(0, 2), 0, true), -2, 2, 0);
ROW(var_all, var, "3x4", nnc_var(x, 0, NULL, 1, false), -2, 2, 0);
ROW(var_first, var, "4x5", nnc_var(x, AXES(0), 1, false), -2, 2, 0);
ROW(var_1d, var, "7", nnc_var(x, AXES(0), 0, false), -2, 2, 0);
ROW(std_last, std, "3x4x5", nnc_std(x, AXES(-1), 1, true), -2, 2, 0);
ROW(std_two, std, "3x4x5", nnc_std(x, AXES(1, 0), 0, false), -2, 2, 0);
ROW(std_all, std, "3x4", nnc_std(x, 0, NULL, 1, false), -2, 2, 0);
ROW(std_first, std, "4x5", nnc_std(x, AXES(0), 1, false), -2, 2, 0);
ROW(std_1d, std, "7", nnc_std(x, AXES(-1), 1, false), -2, 2, 0);

/* ---- logsumexp ---- */
ROW(lse_last, logsumexp, "3x4x5", nnc_logsumexp(x, AXES(-1), false), -3, 3, 0);
ROW(lse_keep, logsumexp, "3x4x5", nnc_logsumexp(x, AXES(0, 1), true), -3, 3, 0);
ROW(lse_all, logsumexp, "3x4", nnc_logsumexp(x, 0, NULL, false), -3, 3, 0);
ROW(lse_1d, logsumexp, "7", nnc_logsumexp(x, AXES(0), false), -3, 3, 0);
ROW(lse_big, logsumexp, "3x4", nnc_logsumexp(x, AXES(1), false), 500, 520, 0);

/* ---- sum_all / mean_all ---- */
ROW(sum_all, sum_all, "3x4x5", nnc_sum_all(x), -2, 2, 0);
ROW(sum_all_1d, sum_all, "7", nnc_sum_all(x), -2, 2, 0);
ROW(sum_all_s, sum_all, "s", nnc_sum_all(x), -2, 2, 0);
ROW(mean_all, mean_all, "3x4x5", nnc_mean_all(x), -2, 2, 0);
ROW(mean_all_1d, mean_all, "7", nnc_mean_all(x), -2, 2, 0);

/* ---- softmax / log_softmax ---- */
ROW(softmax_last, softmax, "3x5", nnc_softmax(x, -1), -3, 3, 0);
ROW(softmax_first, softmax, "4x3x5", nnc_softmax(x, 0), -3, 3, 0);
ROW(softmax_mid, softmax, "4x3x5", nnc_softmax(x, 1), -3, 3, 0);
ROW(softmax_1d, softmax, "6", nnc_softmax(x, 0), -3, 3, 0);
ROW(softmax_big, softmax, "3x5", nnc_softmax(x, 1), 300, 310, 0);
ROW(log_softmax_last, log_softmax, "3x5", nnc_log_softmax(x, -1), -3, 3, 0);
ROW(log_softmax_first, log_softmax, "4x3x5", nnc_log_softmax(x, 0), -3, 3, 0);
ROW(log_softmax_mid, log_softmax, "4x3x5", nnc_log_softmax(x, -2), -3, 3, 0);
ROW(log_softmax_1d, log_softmax, "6", nnc_log_softmax(x, -1), -3, 3, 0);
ROW(log_softmax_big, log_softmax, "3x5", nnc_log_softmax(x, -1), -310, -300, 0);

/* ---- cumsum ---- */
ROW(cumsum_last, cumsum, "3x4", nnc_cumsum(x, -1), -2, 2, 0);
ROW(cumsum_first, cumsum, "3x4x5", nnc_cumsum(x, 0), -2, 2, 0);
ROW(cumsum_mid, cumsum, "3x4x5", nnc_cumsum(x, 1), -2, 2, 0);
ROW(cumsum_1d, cumsum, "7", nnc_cumsum(x, 0), -2, 2, 0);

/* ---- argmax (forward only) ---- */
ROW(argmax_last, argmax, "3x7", nnc_argmax(x, -1, false), -2, 2, NNC_GC_NO_GRAD);
ROW(argmax_mid_keep, argmax, "3x4x5", nnc_argmax(x, 1, true), -2, 2, NNC_GC_NO_GRAD);
ROW(argmax_first, argmax, "3x4x5", nnc_argmax(x, 0, false), -2, 2, NNC_GC_NO_GRAD);
ROW(argmax_1d, argmax, "7", nnc_argmax(x, 0, false), -2, 2, NNC_GC_NO_GRAD);

/* ---- sum_to (the gradient of a broadcast) ---- */
ROW(sum_to_bias, sum_to, "6x4", nnc_sum_to(x, NNC_SHAPE(4)), -2, 2, 0);
ROW(sum_to_keep, sum_to, "3x4", nnc_sum_to(x, NNC_SHAPE(1, 4)), -2, 2, 0);
ROW(sum_to_mixed, sum_to, "2x3x4", nnc_sum_to(x, NNC_SHAPE(3, 1)), -2, 2, 0);
ROW(sum_to_ones, sum_to, "2x3x4", nnc_sum_to(x, NNC_SHAPE(1, 1, 1)), -2, 2, 0);
ROW(sum_to_scalar, sum_to, "2x3", nnc_sum_to(x, 0, NULL), -2, 2, 0);
ROW(sum_to_same, sum_to, "3x4", nnc_sum_to(x, NNC_SHAPE(3, 4)), -2, 2, 0);
ROW(sum_to_lead1, sum_to, "3x4", nnc_sum_to(x, NNC_SHAPE(1, 1, 4)), -2, 2, 0);
