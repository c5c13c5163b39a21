/* nn/init.h: weight initialisers, in place on any float tensor (a parameter or not).
 *
 * Every initialiser takes an nnc_rng so that a seed fixes the weights (NULL = the global
 * stream).  Fans follow PyTorch: for a weight of shape [out, in, k...],
 * fan_in = in * prod(k), fan_out = out * prod(k); a 1-d tensor has fan_in = fan_out = its size.
 *
 *   kaiming (He) normal    N(0, gain^2 / fan_in)           gain = nnc_act_gain(act, param)
 *   kaiming uniform        U(-b, b), b = gain * sqrt(3 / fan_in)
 *   xavier (Glorot) normal N(0, gain^2 * 2 / (fan_in + fan_out))
 *   xavier uniform         U(-b, b), b = gain * sqrt(6 / (fan_in + fan_out))
 *   critical               W ~ N(0, C_W / fan_in), bias ~ N(0, C_b)  (nnc_act_critical) */
#ifndef NNC_NN_INIT_H
#define NNC_NN_INIT_H
#include "core/rng.h"
#include "core/tensor.h"
#include "nn/act.h"

int64_t nnc_fan_in(const nnc_tensor *t);
int64_t nnc_fan_out(const nnc_tensor *t);

void nnc_init_constant(nnc_tensor *t, double value);
void nnc_init_normal(nnc_tensor *t, double mean, double std, nnc_rng *r);
void nnc_init_uniform(nnc_tensor *t, double lo, double hi, nnc_rng *r);
/* gain: e.g. nnc_act_gain(NNC_ACT_RELU, 0) = sqrt(2) for He init before a ReLU */
void nnc_init_kaiming_normal(nnc_tensor *t, double gain, nnc_rng *r);
void nnc_init_kaiming_uniform(nnc_tensor *t, double gain, nnc_rng *r);
void nnc_init_xavier_normal(nnc_tensor *t, double gain, nnc_rng *r);
void nnc_init_xavier_uniform(nnc_tensor *t, double gain, nnc_rng *r);
/* W ~ N(0, C_W / fan_in) with C_W of `act` (param: leaky_relu slope); stops for an
 * activation without known constants */
void nnc_init_critical(nnc_tensor *w, int64_t fan_in, nnc_act act, double param, nnc_rng *r);
/* bias ~ N(0, C_b) (zeros where C_b = 0, as for relu and tanh) */
void nnc_init_critical_bias(nnc_tensor *b, nnc_act act, double param, nnc_rng *r);

#endif
