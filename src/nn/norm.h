/* nn/norm.h: LayerNorm, RMSNorm and BatchNorm, built from the mean/var ops.
 *
 * BatchNorm keeps running statistics as buffers, not parameters: they go into a second
 * nnc_params block (`buffers`, frozen and without gradients) under PyTorch's state_dict
 * names "<name>.running_mean", "<name>.running_var" and "<name>.num_batches_tracked", so a
 * checkpoint saves them by name.  num_batches_tracked is stored in the block's float dtype
 * (PyTorch: int64; exact up to 2^24 steps in f32, and load_state_dict casts it back). */
#ifndef NNC_NN_NORM_H
#define NNC_NN_NORM_H
#include "nn/module.h"

/* over the last dim: y = (x - mean) / sqrt(var + eps) * weight + bias, var biased;
 * weight = 1, bias = 0 ([dim] each) when affine.  PyTorch's eps is 1e-5. */
typedef struct {
  nnc_module base;
  int64_t dim;
  double eps;
  nnc_tensor *weight, *bias; /* NULL without affine */
} nnc_layernorm_mod;
nnc_layernorm_mod *nnc_new_layernorm(nnc_params *p, const char *name, int64_t dim, double eps, bool affine);

/* over the last dim: y = x / sqrt(mean(x^2) + eps) * weight; weight [dim] = 1.
 * (torch.nn.RMSNorm, PyTorch >= 2.4, uses eps = machine epsilon when not given; LLaMA 1e-6.) */
typedef struct {
  nnc_module base;
  int64_t dim;
  double eps;
  nnc_tensor *weight;
} nnc_rmsnorm_mod;
nnc_rmsnorm_mod *nnc_new_rmsnorm(nnc_params *p, const char *name, int64_t dim, double eps);

/* BatchNorm over channel axis 1 of x [N, C] or [N, C, ...] (PyTorch's BatchNorm1d for [N, C]
 * and [N, C, L], BatchNorm2d for [N, C, H, W]):
 *   training: normalise with the batch mean and biased variance over all axes but 1, then
 *             running = (1 - momentum) * running + momentum * batch (unbiased variance),
 *             num_batches_tracked += 1;
 *   eval:     normalise with running_mean / running_var.
 * PyTorch defaults: eps 1e-5, momentum 0.1 (momentum=None, the cumulative average, is not
 * offered).  weight = 1, bias = 0 ([C]) when affine. */
typedef struct {
  nnc_module base;
  int64_t channels;
  double eps, momentum;
  nnc_tensor *weight, *bias;                                   /* in p; NULL without affine */
  nnc_tensor *running_mean, *running_var, *num_batches_tracked; /* in buffers */
} nnc_batchnorm_mod;
nnc_batchnorm_mod *nnc_new_batchnorm(nnc_params *p, nnc_params *buffers, const char *name, int64_t channels,
                                     double eps, double momentum, bool affine);
/* its forward for x [N, C, ...]: the fused nnc_batch_norm op (training: batch statistics,
 * running statistics updated, num_batches_tracked += 1; eval: running statistics) */
nnc_tensor *nnc_batchnorm_forward_fused(nnc_module *m, nnc_tensor *x);

#endif
