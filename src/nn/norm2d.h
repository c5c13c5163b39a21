/* nn/norm2d.h: modules for convolutional networks: BatchNorm2d, GroupNorm, LayerNorm2d
 * (over channels), MaxPool2d, AvgPool2d, AdaptiveAvgPool2d and Upsample.  Each is one fused
 * op from ops/ops.h (LayerNorm2d is composed).  Parameter and buffer names follow PyTorch's
 * state_dict ("<name>.weight", "<name>.bias", "<name>.running_mean", ...). */
#ifndef NNC_NN_NORM2D_H
#define NNC_NN_NORM2D_H
#include "nn/module.h"
#include "nn/norm.h"
#include "ops/ops.h"

/* BatchNorm2d over x [N, C, H, W]: an nnc_batchnorm_mod (nn/norm.h: same fields, parameters
 * in p, running_mean / running_var / num_batches_tracked in `buffers`) whose forward is the
 * fused nnc_batch_norm op.  PyTorch defaults: eps 1e-5, momentum 0.1, affine. */
nnc_batchnorm_mod *nnc_new_batchnorm2d(nnc_params *p, nnc_params *buffers, const char *name, int64_t channels,
                                       double eps, double momentum, bool affine);

/* GroupNorm(groups, channels): weight = 1, bias = 0 ([C]) when affine; eps 1e-5 in PyTorch */
typedef struct {
  nnc_module base;
  int64_t groups, channels;
  double eps;
  nnc_tensor *weight, *bias; /* NULL without affine */
} nnc_groupnorm_mod;
nnc_groupnorm_mod *nnc_new_groupnorm(nnc_params *p, const char *name, int64_t groups, int64_t channels, double eps,
                                     bool affine);

/* layer norm over the channels of x [N, C, ...] at each position (ConvNeXt's LayerNorm with
 * data_format "channels_first", eps 1e-6 there); weight = 1, bias = 0 ([C]) when affine */
typedef struct {
  nnc_module base;
  int64_t channels;
  double eps;
  nnc_tensor *weight, *bias;
} nnc_layernorm2d_mod;
nnc_layernorm2d_mod *nnc_new_layernorm2d(nnc_params *p, const char *name, int64_t channels, double eps, bool affine);

/* MaxPool2d / AvgPool2d: square kernel, stride (0 = kernel) and padding; change `opts` after
 * creation for rectangular kernels, dilation, ceil_mode, count_include_pad or divisor */
typedef struct {
  nnc_module base;
  nnc_pool2d_opts opts;
} nnc_pool2d_mod;
nnc_pool2d_mod *nnc_new_maxpool2d(int64_t kernel, int64_t stride, int64_t padding);
nnc_pool2d_mod *nnc_new_avgpool2d(int64_t kernel, int64_t stride, int64_t padding);

/* AdaptiveAvgPool2d((out_h, out_w)); (1, 1) is global average pooling */
typedef struct {
  nnc_module base;
  int64_t out_h, out_w;
} nnc_adaptive_pool2d_mod;
nnc_adaptive_pool2d_mod *nnc_new_adaptive_avgpool2d(int64_t out_h, int64_t out_w);

/* Upsample(size=(out_h, out_w)) or Upsample(scale_factor=(scale_h, scale_w)) (give one: the
 * other 0), mode nearest or bilinear (align_corners for bilinear) */
typedef enum { NNC_UPSAMPLE_NEAREST, NNC_UPSAMPLE_BILINEAR } nnc_upsample_mode;
typedef struct {
  nnc_module base;
  nnc_upsample_mode mode;
  int64_t size[2];
  double scale[2];
  bool align_corners;
} nnc_upsample_mod;
nnc_upsample_mod *nnc_new_upsample(nnc_upsample_mode mode, int64_t out_h, int64_t out_w, double scale_h,
                                   double scale_w, bool align_corners);

#endif
