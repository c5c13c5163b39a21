/* nn/act.h: activation functions by name, their init gains and their critical constants.
 *
 * One enum names the activations that layers, initialisers and the criticality tools talk
 * about.  nnc_act_apply() runs the matching op from ops/ops.h.  `param` is the one number
 * some activations take: the negative slope of leaky_relu (PyTorch default 0.01) and the
 * alpha of elu (default 1.0); it is ignored by the others. */
#ifndef NNC_NN_ACT_H
#define NNC_NN_ACT_H
#include <stdbool.h>
#include "core/tensor.h"

typedef enum {
  NNC_ACT_IDENTITY,
  NNC_ACT_RELU,
  NNC_ACT_LEAKY_RELU,
  NNC_ACT_ELU,
  NNC_ACT_TANH,
  NNC_ACT_SIGMOID,
  NNC_ACT_GELU,      /* the erf form */
  NNC_ACT_GELU_TANH, /* the tanh approximation */
  NNC_ACT_SILU,      /* x * sigmoid(x), a.k.a. swish */
  NNC_ACT_SOFTPLUS,
  NNC_ACT_COUNT
} nnc_act;

nnc_tensor *nnc_act_apply(nnc_tensor *x, nnc_act act, double param);
const char *nnc_act_name(nnc_act act);          /* "relu", "leaky_relu", ... */
/* the enum for a name as nnc_act_name spells it (also "swish", "linear"); false if unknown */
bool nnc_act_from_name(const char *name, nnc_act *out);

/* torch.nn.init.calculate_gain: sqrt(2) for relu, sqrt(2 / (1 + slope^2)) for leaky_relu
 * (slope = param), 5/3 for tanh, 1 for the others. */
double nnc_act_gain(nnc_act act, double param);

/* The critical initialisation (C_b, C_W) of "The Principles of Deep Learning Theory": biases
 * ~ N(0, C_b), weights ~ N(0, C_W / fan_in) keep the forward kernel and the gradients of
 * a deep MLP from exploding or vanishing (chi_parallel = chi_perp = 1 at the fixed point).
 *   identity (0, 1); relu (0, 2); leaky_relu slope a (0, 2/(1 + a^2)); tanh (0, 1);
 *   gelu (0.1729, 1.9831); silu (0.5551, 1.9880)  (numerical, Gauss-Hermite + root finding)
 * Returns false for activations without known constants (sigmoid, softplus, elu, gelu_tanh). */
bool nnc_act_critical(nnc_act act, double param, double *c_b, double *c_w);

#endif
