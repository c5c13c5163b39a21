/* ops/table_elementwise.c: gradient-check rows for the elementwise ops.  Domains keep away
 * from points where an op is not differentiable (0 for abs/relu, the clamp edges). */
#include "autograd/gradcheck.h"
#include "ops/ops.h"

#define UNARY_ROW_OP(var, name, expr, lo_, hi_)                                          \
  static nnc_tensor *f_##var(nnc_tensor **in, nnc_rng *r) { (void)r; nnc_tensor *x = in[0]; return expr; } \
  NNC_GRADCHECK_ROW(row_##var, .op = #name, .shapes = "3x4", .fn = f_##var, .lo = lo_, .hi = hi_)
#define UNARY_ROW(name, expr, lo_, hi_) UNARY_ROW_OP(name, name, expr, lo_, hi_)

UNARY_ROW(neg, nnc_neg(x), -2, 2);
UNARY_ROW(exp, nnc_exp(x), -2, 2);
UNARY_ROW(log, nnc_log(x), 0.5, 3);
UNARY_ROW(sqrt, nnc_sqrt(x), 0.5, 3);
UNARY_ROW(rsqrt, nnc_rsqrt(x), 0.5, 3);
UNARY_ROW(abs, nnc_abs(x), 0.1, 2);
UNARY_ROW(sin, nnc_sin(x), -3, 3);
UNARY_ROW(cos, nnc_cos(x), -3, 3);
UNARY_ROW(tanh, nnc_tanh(x), -2, 2);
UNARY_ROW(sigmoid, nnc_sigmoid(x), -4, 4);
UNARY_ROW(relu, nnc_relu(x), 0.1, 2);
UNARY_ROW(gelu, nnc_gelu(x), -3, 3);
UNARY_ROW(gelu_tanh, nnc_gelu_tanh(x), -3, 3);
UNARY_ROW(silu, nnc_silu(x), -3, 3);
UNARY_ROW(softplus, nnc_softplus(x), -3, 3);
UNARY_ROW(square, nnc_square(x), -2, 2);
UNARY_ROW(affine, nnc_affine(x, -1.5, 0.25), -2, 2);
UNARY_ROW(pows, nnc_pows(x, 2.5), 0.5, 2);
UNARY_ROW(clamp, nnc_clamp(x, -1, 1), -0.9, 0.9);
UNARY_ROW(leaky_relu, nnc_leaky_relu(x, 0.1), 0.1, 2);
UNARY_ROW(elu, nnc_elu(x, 1.3), -2, -0.1);
UNARY_ROW(sign, nnc_sign(x), 0.1, 2);

/* the other side of the kinks, and the clamp's flat parts */
UNARY_ROW_OP(abs_neg, abs, nnc_abs(x), -2, -0.1);
UNARY_ROW_OP(relu_neg, relu, nnc_relu(x), -2, -0.1);
UNARY_ROW_OP(leaky_relu_neg, leaky_relu, nnc_leaky_relu(x, 0.1), -2, -0.1);
UNARY_ROW_OP(elu_pos, elu, nnc_elu(x, 1.3), 0.1, 2);
UNARY_ROW_OP(clamp_out, clamp, nnc_clamp(x, -0.5, 0.5), 0.6, 2);
UNARY_ROW_OP(softplus_big, softplus, nnc_softplus(x), 21, 25);

#define BINARY_ROW(var, name, shapes_, expr, lo_, hi_)                                                \
  static nnc_tensor *f_##var(nnc_tensor **in, nnc_rng *r) { (void)r; nnc_tensor *a = in[0], *b = in[1]; return expr; } \
  NNC_GRADCHECK_ROW(row_##var, .op = #name, .shapes = shapes_, .fn = f_##var, .lo = lo_, .hi = hi_)

BINARY_ROW(add, add, "3x4 3x4", nnc_add(a, b), -2, 2);
BINARY_ROW(add_bc, add, "2x3x4 4", nnc_add(a, b), -2, 2);
BINARY_ROW(add_bc2, add, "3x1 1x4", nnc_add(a, b), -2, 2);
BINARY_ROW(sub, sub, "3x4 3x4", nnc_sub(a, b), -2, 2);
BINARY_ROW(sub_bc, sub, "3x4 s", nnc_sub(a, b), -2, 2);
BINARY_ROW(mul, mul, "3x4 3x4", nnc_mul(a, b), -2, 2);
BINARY_ROW(mul_bc, mul, "4 2x3x4", nnc_mul(a, b), -2, 2);
BINARY_ROW(div, div, "3x4 3x4", nnc_div(a, b), 0.5, 2);
BINARY_ROW(div_bc, div, "3x4 3x1", nnc_div(a, b), 0.5, 2);
BINARY_ROW(pow, pow, "3x4 3x4", nnc_pow(a, b), 0.5, 2);
BINARY_ROW(maximum, maximum, "3x4 3x4", nnc_maximum(a, b), -2, 2);
BINARY_ROW(maximum_bc, maximum, "3x4 4", nnc_maximum(a, b), -2, 2);
BINARY_ROW(minimum, minimum, "3x4 3x4", nnc_minimum(a, b), -2, 2);

/* where: the condition is drawn from the row's rng */
static nnc_tensor *f_where(nnc_tensor **in, nnc_rng *r) {
  nnc_tensor *cond = nnc_empty(NNC_U8, NNC_SHAPE(3, 4));
  for (int i = 0; i < 12; i++) nnc_u8(cond)[i] = (uint8_t)nnc_rng_below(r, 2);
  return nnc_where(cond, in[0], in[1]);
}
NNC_GRADCHECK_ROW(row_where, .op = "where", .shapes = "3x4 4", .fn = f_where);
