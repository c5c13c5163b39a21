/* nn/norm2d.c: BatchNorm2d, GroupNorm, LayerNorm2d and the pooling / upsampling modules
 * (see norm2d.h).  BatchNorm2d is nn/norm.h's BatchNorm with a 4-d input check and its own
 * kind. */
#include <stdio.h>
#include "core/error.h"
#include "nn/init.h"
#include "nn/norm2d.h"

/* ---- BatchNorm2d ---- */
static nnc_tensor *batchnorm2d_forward(nnc_module *m, nnc_tensor *x) {
  char s[96];
  NNC_CHECK(x->ndim == 4, "BatchNorm2d", "input %s: expected [N, C, H, W]", nnc_shape_str(x, s, sizeof s));
  return nnc_batchnorm_forward_fused(m, x);
}

nnc_batchnorm_mod *nnc_new_batchnorm2d(nnc_params *p, nnc_params *buffers, const char *name, int64_t channels,
                                       double eps, double momentum, bool affine) {
  nnc_batchnorm_mod *b = nnc_new_batchnorm(p, buffers, name, channels, eps, momentum, affine);
  b->base.kind = "BatchNorm2d";
  b->base.forward = batchnorm2d_forward;
  return b;
}

/* ---- GroupNorm ---- */
static nnc_tensor *groupnorm_forward(nnc_module *m, nnc_tensor *x) {
  nnc_groupnorm_mod *g = (nnc_groupnorm_mod *)m;
  char s[96];
  NNC_CHECK(x->ndim >= 2 && x->shape[1] == g->channels, "GroupNorm", "input %s: expected [N, %lld, ...]",
            nnc_shape_str(x, s, sizeof s), (long long)g->channels);
  return nnc_group_norm(x, g->groups, g->weight, g->bias, g->eps);
}

static void groupnorm_describe(const nnc_module *m, char *buf, size_t size) {
  const nnc_groupnorm_mod *g = (const nnc_groupnorm_mod *)m;
  snprintf(buf, size, "%lld, %lld, eps=%g, affine=%s", (long long)g->groups, (long long)g->channels, g->eps,
           g->weight ? "True" : "False");
}

nnc_groupnorm_mod *nnc_new_groupnorm(nnc_params *p, const char *name, int64_t groups, int64_t channels, double eps,
                                     bool affine) {
  NNC_CHECK(groups > 0 && channels > 0 && channels % groups == 0 && eps >= 0, "GroupNorm",
            "%lld channels in %lld groups, eps %g", (long long)channels, (long long)groups, eps);
  nnc_groupnorm_mod *g = nnc_module_alloc(sizeof *g, "GroupNorm", name, groupnorm_forward, groupnorm_describe);
  g->groups = groups;
  g->channels = channels;
  g->eps = eps;
  if (affine) {
    g->weight = nnc_module_param(p, &g->base, "weight", NNC_SHAPE(channels));
    g->bias = nnc_module_param(p, &g->base, "bias", NNC_SHAPE(channels));
    nnc_init_constant(g->weight, 1);
  }
  return g;
}

/* ---- LayerNorm2d (channels first) ---- */
static nnc_tensor *layernorm2d_forward(nnc_module *m, nnc_tensor *x) {
  nnc_layernorm2d_mod *l = (nnc_layernorm2d_mod *)m;
  char s[96];
  NNC_CHECK(x->ndim >= 2 && x->shape[1] == l->channels, "LayerNorm2d", "input %s: expected [N, %lld, ...]",
            nnc_shape_str(x, s, sizeof s), (long long)l->channels);
  return nnc_layer_norm_channels(x, l->weight, l->bias, l->eps);
}

static void layernorm2d_describe(const nnc_module *m, char *buf, size_t size) {
  const nnc_layernorm2d_mod *l = (const nnc_layernorm2d_mod *)m;
  snprintf(buf, size, "%lld, eps=%g, data_format=channels_first, affine=%s", (long long)l->channels, l->eps,
           l->weight ? "True" : "False");
}

nnc_layernorm2d_mod *nnc_new_layernorm2d(nnc_params *p, const char *name, int64_t channels, double eps, bool affine) {
  NNC_CHECK(channels > 0 && eps >= 0, "LayerNorm2d", "channels %lld eps %g", (long long)channels, eps);
  nnc_layernorm2d_mod *l = nnc_module_alloc(sizeof *l, "LayerNorm2d", name, layernorm2d_forward, layernorm2d_describe);
  l->channels = channels;
  l->eps = eps;
  if (affine) {
    l->weight = nnc_module_param(p, &l->base, "weight", NNC_SHAPE(channels));
    l->bias = nnc_module_param(p, &l->base, "bias", NNC_SHAPE(channels));
    nnc_init_constant(l->weight, 1);
  }
  return l;
}

/* ---- MaxPool2d / AvgPool2d ---- */
/* "2" for a square pair, "(2, 3)" otherwise, as PyTorch prints them */
static const char *pair_str(const int64_t *v, char *buf, size_t size) {
  if (v[0] == v[1]) snprintf(buf, size, "%lld", (long long)v[0]);
  else snprintf(buf, size, "(%lld, %lld)", (long long)v[0], (long long)v[1]);
  return buf;
}

static nnc_tensor *maxpool2d_forward(nnc_module *m, nnc_tensor *x) {
  return nnc_max_pool2d_with_indices(x, &((nnc_pool2d_mod *)m)->opts, NULL);
}
static nnc_tensor *avgpool2d_forward(nnc_module *m, nnc_tensor *x) {
  return nnc_avg_pool2d_opts(x, &((nnc_pool2d_mod *)m)->opts);
}

static void pool2d_describe(const nnc_module *m, char *buf, size_t size) {
  const nnc_pool2d_opts *o = &((const nnc_pool2d_mod *)m)->opts;
  char k[48], s[48], p[48], d[48];
  int64_t stride[2] = {o->stride[0] ? o->stride[0] : o->kernel[0], o->stride[1] ? o->stride[1] : o->kernel[1]};
  int64_t dil[2] = {o->dilation[0] ? o->dilation[0] : 1, o->dilation[1] ? o->dilation[1] : 1};
  pair_str(o->kernel, k, sizeof k);
  pair_str(stride, s, sizeof s);
  pair_str(o->padding, p, sizeof p);
  pair_str(dil, d, sizeof d);
  if (m->forward == maxpool2d_forward)
    snprintf(buf, size, "kernel_size=%s, stride=%s, padding=%s, dilation=%s, ceil_mode=%s", k, s, p, d,
             o->ceil_mode ? "True" : "False");
  else
    snprintf(buf, size, "kernel_size=%s, stride=%s, padding=%s%s%s", k, s, p, o->ceil_mode ? ", ceil_mode=True" : "",
             o->exclude_pad ? ", count_include_pad=False" : "");
}

static nnc_pool2d_mod *new_pool2d(const char *kind, nnc_forward_fn fwd, int64_t kernel, int64_t stride,
                                  int64_t padding) {
  NNC_CHECK(kernel > 0 && stride >= 0 && padding >= 0 && padding <= kernel / 2, kind,
            "kernel %lld stride %lld padding %lld", (long long)kernel, (long long)stride, (long long)padding);
  nnc_pool2d_mod *m = nnc_module_alloc(sizeof *m, kind, NULL, fwd, pool2d_describe);
  m->opts = (nnc_pool2d_opts){{kernel, kernel}, {stride, stride}, {padding, padding}, {1, 1}, false, false, 0};
  return m;
}

nnc_pool2d_mod *nnc_new_maxpool2d(int64_t kernel, int64_t stride, int64_t padding) {
  return new_pool2d("MaxPool2d", maxpool2d_forward, kernel, stride, padding);
}
nnc_pool2d_mod *nnc_new_avgpool2d(int64_t kernel, int64_t stride, int64_t padding) {
  return new_pool2d("AvgPool2d", avgpool2d_forward, kernel, stride, padding);
}

/* ---- AdaptiveAvgPool2d ---- */
static nnc_tensor *adaptive_forward(nnc_module *m, nnc_tensor *x) {
  nnc_adaptive_pool2d_mod *a = (nnc_adaptive_pool2d_mod *)m;
  return nnc_adaptive_avg_pool2d(x, a->out_h, a->out_w);
}

static void adaptive_describe(const nnc_module *m, char *buf, size_t size) {
  const nnc_adaptive_pool2d_mod *a = (const nnc_adaptive_pool2d_mod *)m;
  snprintf(buf, size, "output_size=(%lld, %lld)", (long long)a->out_h, (long long)a->out_w);
}

nnc_adaptive_pool2d_mod *nnc_new_adaptive_avgpool2d(int64_t out_h, int64_t out_w) {
  NNC_CHECK(out_h > 0 && out_w > 0, "AdaptiveAvgPool2d", "output size %lldx%lld", (long long)out_h, (long long)out_w);
  nnc_adaptive_pool2d_mod *a =
      nnc_module_alloc(sizeof *a, "AdaptiveAvgPool2d", NULL, adaptive_forward, adaptive_describe);
  a->out_h = out_h;
  a->out_w = out_w;
  return a;
}

/* ---- Upsample ---- */
static nnc_tensor *upsample_forward(nnc_module *m, nnc_tensor *x) {
  nnc_upsample_mod *u = (nnc_upsample_mod *)m;
  if (u->mode == NNC_UPSAMPLE_NEAREST)
    return nnc_upsample_nearest2d(x, u->size[0], u->size[1], u->scale[0], u->scale[1]);
  return nnc_upsample_bilinear2d(x, u->size[0], u->size[1], u->align_corners, u->scale[0], u->scale[1]);
}

static void upsample_describe(const nnc_module *m, char *buf, size_t size) {
  const nnc_upsample_mod *u = (const nnc_upsample_mod *)m;
  const char *mode = u->mode == NNC_UPSAMPLE_NEAREST ? "nearest" : "bilinear";
  const char *ac = u->mode == NNC_UPSAMPLE_BILINEAR && u->align_corners ? ", align_corners=True" : "";
  if (u->size[0] > 0)
    snprintf(buf, size, "size=(%lld, %lld), mode=%s%s", (long long)u->size[0], (long long)u->size[1], mode, ac);
  else if (u->scale[0] == u->scale[1]) snprintf(buf, size, "scale_factor=%g, mode=%s%s", u->scale[0], mode, ac);
  else snprintf(buf, size, "scale_factor=(%g, %g), mode=%s%s", u->scale[0], u->scale[1], mode, ac);
}

nnc_upsample_mod *nnc_new_upsample(nnc_upsample_mode mode, int64_t out_h, int64_t out_w, double scale_h,
                                   double scale_w, bool align_corners) {
  bool by_size = out_h > 0 && out_w > 0 && scale_h == 0 && scale_w == 0;
  bool by_scale = out_h == 0 && out_w == 0 && scale_h > 0 && scale_w > 0;
  NNC_CHECK(by_size || by_scale, "Upsample", "give a size (%lld, %lld) or a scale (%g, %g), not both",
            (long long)out_h, (long long)out_w, scale_h, scale_w);
  NNC_CHECK(mode == NNC_UPSAMPLE_NEAREST || mode == NNC_UPSAMPLE_BILINEAR, "Upsample", "unknown mode %d", (int)mode);
  nnc_upsample_mod *u = nnc_module_alloc(sizeof *u, "Upsample", NULL, upsample_forward, upsample_describe);
  u->mode = mode;
  u->size[0] = out_h, u->size[1] = out_w;
  u->scale[0] = scale_h, u->scale[1] = scale_w;
  u->align_corners = align_corners;
  return u;
}
