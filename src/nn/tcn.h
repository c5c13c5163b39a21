/* nn/tcn.h: temporal convolutional networks (Bai, Kolter and Koltun 2018, "An empirical
 * evaluation of generic convolutional and recurrent networks for sequence modeling"):
 * stacks of residual blocks of causal dilated 1-d convolutions.  Built only from ops
 * (nnc_pad + nnc_conv1d); channels-first [N, C, L] as PyTorch's Conv1d.
 *
 * Causal: the input is padded on the left only, by (K - 1) * dilation, so the output at
 * time t sees inputs t - (K-1)*dilation .. t and never the future, and has the input's length.
 *
 * A block (the reference code's TemporalBlock, without weight normalisation):
 *   h = dropout(relu(causal_conv(x, conv1)));  h = dropout(relu(causal_conv(h, conv2)))
 *   y = relu(h + (in != out ? downsample(x) : x))       downsample: a 1x1 convolution
 * Parameters "<name>.conv1.weight" [out, in, K], "conv1.bias" [out], "conv2.weight"
 * [out, out, K], "conv2.bias", "downsample.weight" [out, in, 1], "downsample.bias";
 * PyTorch's Conv1d initialisation (U(-1/sqrt(fan_in), 1/sqrt(fan_in)); Bai et al. re-draw the
 * weights from N(0, 0.01), which nnc_init_normal does).  A network is a Sequential of blocks
 * "<name>.0", "<name>.1", ... with dilations 1, 2, 4, ...; its receptive field is
 * 1 + 2 (K - 1) (2^levels - 1) steps. */
#ifndef NNC_NN_TCN_H
#define NNC_NN_TCN_H
#include "core/rng.h"
#include "nn/module.h"

/* y[n, o, t] = b[o] + sum_{c,k} w[o, c, k] x[n, c, t - (K-1-k) * dilation] (x = 0 before t = 0):
 * x [N, C, L], w [O, C, K], bias [O] or NULL -> [N, O, L] */
nnc_tensor *nnc_causal_conv1d(nnc_tensor *x, nnc_tensor *w, nnc_tensor *bias, int64_t dilation);

typedef struct {
  nnc_module base;
  int64_t in_channels, out_channels, kernel, dilation;
  double dropout; /* in training; 0 = none */
  nnc_rng rng;    /* the dropout masks' stream */
  nnc_tensor *conv1_w, *conv1_b, *conv2_w, *conv2_b;
  nnc_tensor *down_w, *down_b; /* NULL when in_channels == out_channels */
} nnc_tcn_block_mod;
/* rng NULL = the global stream (initialisation); dropout masks from stream (seed, name hash) */
nnc_tcn_block_mod *nnc_new_tcn_block(nnc_params *p, const char *name, int64_t in_channels, int64_t out_channels,
                                     int64_t kernel, int64_t dilation, double dropout, uint64_t seed, nnc_rng *r);

/* levels blocks: block i maps channels[i-1] (in_channels for i = 0) to channels[i] with
 * dilation 2^i (the reference code's TemporalConvNet) */
nnc_sequential_mod *nnc_new_tcn(nnc_params *p, const char *name, int64_t in_channels, int levels,
                                const int64_t *channels, int64_t kernel, double dropout, uint64_t seed, nnc_rng *r);
/* 1 + 2 (kernel - 1) (2^levels - 1) */
int64_t nnc_tcn_receptive_field(int levels, int64_t kernel);

#endif
