/* nn/transformer.h: pre-norm Transformer blocks with PyTorch's parameter names.
 *
 * Encoder layer = torch.nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward, dropout,
 * activation='gelu', layer_norm_eps, batch_first=True, norm_first=True):
 *   x = x + dropout1(self_attn(norm1(x)))
 *   x = x + dropout2(linear2(dropout(gelu(linear1(norm2(x))))))
 * parameters "<name>.self_attn.in_proj_weight", ".self_attn.in_proj_bias",
 * ".self_attn.out_proj.weight/bias", ".linear1.*" [ff, d], ".linear2.*" [d, ff], ".norm1.*",
 * ".norm2.*" (weight = 1, bias = 0).  GELU is the erf form (PyTorch's 'gelu').
 *
 * Decoder layer = torch.nn.TransformerDecoderLayer(..., batch_first=True, norm_first=True):
 *   x = x + dropout1(self_attn(norm1(x), causal))
 *   x = x + dropout2(multihead_attn(norm2(x), memory, memory))
 *   x = x + dropout3(linear2(dropout(gelu(linear1(norm3(x))))))
 * parameters as the encoder's plus "<name>.multihead_attn.*" and ".norm3.*".
 *
 * The norms run the fused nnc_layer_norm op on the LayerNorm modules' parameters.  Dropout
 * (p > 0) uses nnc_new_dropout modules seeded (seed, stream from the layer's name and its
 * place), so layers draw different masks; p = 0 adds no dropout modules. */
#ifndef NNC_NN_TRANSFORMER_H
#define NNC_NN_TRANSFORMER_H
#include "nn/attention.h"
#include "nn/layers.h"
#include "nn/norm.h"

typedef struct {
  int64_t d_model, nhead, dim_ff;
  double dropout; /* 0 = none */
  double eps;     /* LayerNorm eps; 0 = 1e-5 (PyTorch's default) */
  bool causal;    /* self-attention masks future positions in nnc_forward */
  uint64_t seed;  /* dropout streams */
} nnc_transformer_opts;

typedef struct {
  nnc_module base;
  nnc_transformer_opts o;
  nnc_mha_mod *self_attn;
  nnc_linear_mod *linear1, *linear2;
  nnc_layernorm_mod *norm1, *norm2;
  nnc_dropout_mod *dropout, *dropout1, *dropout2; /* NULL when o.dropout == 0 */
} nnc_encoder_layer_mod;

nnc_encoder_layer_mod *nnc_new_encoder_layer(nnc_params *p, const char *name, nnc_transformer_opts o, nnc_rng *r);
/* x [B, T, d] -> [B, T, d]; mask (may be NULL) and causal for the self-attention */
nnc_tensor *nnc_encoder_layer_forward(nnc_encoder_layer_mod *m, nnc_tensor *x, const nnc_tensor *mask, bool causal);

typedef struct {
  nnc_module base;
  nnc_transformer_opts o;
  nnc_mha_mod *self_attn, *multihead_attn;
  nnc_linear_mod *linear1, *linear2;
  nnc_layernorm_mod *norm1, *norm2, *norm3;
  nnc_dropout_mod *dropout, *dropout1, *dropout2, *dropout3;
  nnc_tensor *memory; /* what nnc_forward attends to (set before calling it) */
} nnc_decoder_layer_mod;

nnc_decoder_layer_mod *nnc_new_decoder_layer(nnc_params *p, const char *name, nnc_transformer_opts o, nnc_rng *r);
/* x [B, T, d], memory [B, S, d] -> [B, T, d]; tgt_mask / memory_mask may be NULL; the
 * self-attention is causal when `causal` */
nnc_tensor *nnc_decoder_layer_forward(nnc_decoder_layer_mod *m, nnc_tensor *x, nnc_tensor *memory,
                                      const nnc_tensor *tgt_mask, const nnc_tensor *memory_mask, bool causal);

#endif
