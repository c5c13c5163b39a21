/* nn/tcn.c: causal dilated convolutions and TCN blocks (see tcn.h).  Only ops from
 * ops/ops.h: nnc_pad (left side only) then nnc_conv1d with the dilation. */
#include <math.h>
#include <stdio.h>
#include "core/error.h"
#include "nn/init.h"
#include "nn/tcn.h"
#include "ops/ops.h"

nnc_tensor *nnc_causal_conv1d(nnc_tensor *x, nnc_tensor *w, nnc_tensor *bias, int64_t dilation) {
  char s1[96], s2[96];
  NNC_CHECK(dilation >= 1 && dilation <= (1 << 30), "causal_conv1d", "dilation %lld", (long long)dilation);
  NNC_CHECK(x->ndim == 3 && w->ndim == 3 && x->shape[1] == w->shape[1], "causal_conv1d",
            "input %s and weight %s are not [N, C, L] and [O, C, K]", nnc_shape_str(x, s1, 96), nnc_shape_str(w, s2, 96));
  int64_t left = (w->shape[2] - 1) * dilation;
  if (left > 0) x = nnc_pad(x, 2, (const int64_t[]){left, 0}, NNC_PAD_ZERO, 0.0);
  return nnc_conv1d(x, w, bias, (nnc_conv_args){.dilation = {(int)dilation}});
}

/* PyTorch's Conv1d initialisation: weight and bias U(-1/sqrt(fan_in), 1/sqrt(fan_in)) */
static void conv_param(nnc_params *p, const nnc_module *m, const char *leaf_w, const char *leaf_b, int64_t out,
                       int64_t in, int64_t k, nnc_rng *r, nnc_tensor **w, nnc_tensor **b) {
  *w = nnc_module_param(p, m, leaf_w, NNC_SHAPE(out, in, k));
  *b = nnc_module_param(p, m, leaf_b, NNC_SHAPE(out));
  double bound = 1.0 / sqrt((double)(in * k));
  nnc_init_uniform(*w, -bound, bound, r);
  nnc_init_uniform(*b, -bound, bound, r);
}

static nnc_tensor *drop(nnc_tcn_block_mod *b, nnc_tensor *x) {
  if (!b->base.training || b->dropout <= 0) return x;
  nnc_tensor *mask = nnc_empty(x->dtype, x->ndim, x->shape);
  double keep = 1.0 - b->dropout;
  for (int64_t i = 0, n = nnc_numel(mask); i < n; i++) nnc_set(mask, i, nnc_rng_uniform(&b->rng) < keep ? 1.0 / keep : 0.0);
  return nnc_mul(x, mask);
}

static nnc_tensor *block_forward(nnc_module *m, nnc_tensor *x) {
  nnc_tcn_block_mod *b = (nnc_tcn_block_mod *)m;
  char s1[96];
  NNC_CHECK(x->ndim == 3 && x->shape[1] == b->in_channels, m->kind, "input %s is not [N, %lld, L]",
            nnc_shape_str(x, s1, 96), (long long)b->in_channels);
  nnc_tensor *h = drop(b, nnc_relu(nnc_causal_conv1d(x, b->conv1_w, b->conv1_b, b->dilation)));
  h = drop(b, nnc_relu(nnc_causal_conv1d(h, b->conv2_w, b->conv2_b, b->dilation)));
  nnc_tensor *res = b->down_w ? nnc_conv1d(x, b->down_w, b->down_b, (nnc_conv_args){0}) : x;
  return nnc_relu(nnc_add(h, res));
}

static void block_describe(const nnc_module *m, char *buf, size_t size) {
  const nnc_tcn_block_mod *b = (const nnc_tcn_block_mod *)m;
  snprintf(buf, size, "%lld, %lld, kernel_size=%lld, dilation=%lld, dropout=%g", (long long)b->in_channels,
           (long long)b->out_channels, (long long)b->kernel, (long long)b->dilation, b->dropout);
}

nnc_tcn_block_mod *nnc_new_tcn_block(nnc_params *p, const char *name, int64_t in_channels, int64_t out_channels,
                                     int64_t kernel, int64_t dilation, double dropout, uint64_t seed, nnc_rng *r) {
  NNC_CHECK(in_channels > 0 && out_channels > 0 && kernel > 0 && dilation > 0, "TemporalBlock",
            "in=%lld out=%lld kernel=%lld dilation=%lld", (long long)in_channels, (long long)out_channels,
            (long long)kernel, (long long)dilation);
  NNC_CHECK(dropout >= 0 && dropout < 1, "TemporalBlock", "dropout %g is not in [0, 1)", dropout);
  nnc_tcn_block_mod *b = nnc_module_alloc(sizeof *b, "TemporalBlock", name, block_forward, block_describe);
  b->in_channels = in_channels;
  b->out_channels = out_channels;
  b->kernel = kernel;
  b->dilation = dilation;
  b->dropout = dropout;
  uint64_t h = 1469598103934665603ull; /* FNV-1a of the name: a stream per block */
  for (const char *c = b->base.name; *c; c++) h = (h ^ (unsigned char)*c) * 1099511628211ull;
  nnc_rng_seed(&b->rng, seed, h);
  conv_param(p, &b->base, "conv1.weight", "conv1.bias", out_channels, in_channels, kernel, r, &b->conv1_w, &b->conv1_b);
  conv_param(p, &b->base, "conv2.weight", "conv2.bias", out_channels, out_channels, kernel, r, &b->conv2_w,
             &b->conv2_b);
  if (in_channels != out_channels)
    conv_param(p, &b->base, "downsample.weight", "downsample.bias", out_channels, in_channels, 1, r, &b->down_w,
               &b->down_b);
  return b;
}

nnc_sequential_mod *nnc_new_tcn(nnc_params *p, const char *name, int64_t in_channels, int levels,
                                const int64_t *channels, int64_t kernel, double dropout, uint64_t seed, nnc_rng *r) {
  NNC_CHECK(levels >= 1 && levels <= 30, "TemporalConvNet", "%d levels (1 to 30)", levels);
  nnc_sequential_mod *s = nnc_new_sequential(name);
  for (int i = 0; i < levels; i++) {
    int64_t in = i ? channels[i - 1] : in_channels;
    nnc_sequential_add(
        s, &nnc_new_tcn_block(p, nnc_sequential_next_name(s), in, channels[i], kernel, (int64_t)1 << i, dropout, seed, r)->base);
  }
  return s;
}

int64_t nnc_tcn_receptive_field(int levels, int64_t kernel) {
  return 1 + 2 * (kernel - 1) * (((int64_t)1 << levels) - 1);
}
