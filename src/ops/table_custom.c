/* ops/table_custom.c: the gradient-check row for custom ops (autograd/tape.c): a user op
 * y = x^3 whose backward, 3 x^2 g, is written by hand as a user would. */
#include "autograd/autograd.h"
#include "autograd/gradcheck.h"
#include "ops/ops.h"

static nnc_tensor *cube_forward(nnc_node *ctx, int n_in, nnc_tensor *const *in, void *user) {
  (void)n_in;
  (void)user;
  nnc_save(ctx, in[0]);
  return nnc_mul(nnc_square(in[0]), in[0]);
}
static void cube_backward(nnc_node *ctx, const nnc_tensor *g, nnc_tensor **grad_in, void *user) {
  (void)user;
  nnc_tensor *x = nnc_saved(ctx, 0);
  grad_in[0] = nnc_mul(nnc_scale(nnc_square(x), 3), (nnc_tensor *)g);
}
static const nnc_custom_op cube = {"cube", cube_forward, cube_backward};
static nnc_tensor *f_custom(nnc_tensor **in, nnc_rng *r) {
  (void)r;
  return nnc_custom(&cube, 1, in, NULL);
}
NNC_GRADCHECK_ROW(row_custom, .op = "custom", .shapes = "3x4", .fn = f_custom);
