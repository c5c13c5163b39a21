/* nn/attention.h: multi-head attention with torch.nn.MultiheadAttention's parameters.
 *
 * nnc_new_mha(p, "self_attn", E, H, ...) adds, as nn.MultiheadAttention(E, H, bias=True)
 * does (kdim = vdim = E):
 *   self_attn.in_proj_weight [3E, E]  rows 0..E-1 project the query, E..2E-1 the key,
 *                                     2E..3E-1 the value; xavier_uniform init
 *   self_attn.in_proj_bias   [3E]     zeros
 *   self_attn.out_proj.weight [E, E]  nn.Linear's default init; out_proj.bias [E] zeros
 * so a state_dict crosses over by name.  Inputs are batch_first: [B, T, E].  Head h uses
 * columns h*D .. h*D+D-1 (D = E/H) of each projection, as PyTorch.  Dropout on the attention
 * weights is not offered (PyTorch's dropout=0 default).
 *
 * Masks are nnc_attention's: u8, nonzero = keep, broadcastable to [B, H, Tq, Tk].  From
 * PyTorch's arguments: attn_mask (bool, True = masked) -> its negation; key_padding_mask
 * [B, Tk] (True = padding) -> its negation viewed as [B, 1, 1, Tk] (nnc_padding_mask makes
 * one from lengths); is_causal / a triu(-inf) float mask -> causal = true.
 *
 * Self-attention without rotary embeddings runs one fused in-projection (nnc_linear to
 * [B, T, 3E]) and nnc_attention_packed, which reads the heads where they lie; the general
 * path (cross-attention, rotary) projects q and k/v separately and runs nnc_attention on
 * [B, H, T, D] views. */
#ifndef NNC_NN_ATTENTION_H
#define NNC_NN_ATTENTION_H
#include "core/rng.h"
#include "nn/layers.h"
#include "nn/module.h"

typedef struct {
  nnc_module base;
  int64_t embed_dim, num_heads, head_dim;
  bool causal;                 /* what nnc_forward (self-attention) uses; default false */
  bool rope;                   /* rotary embeddings on q and k (positions 0..T-1); default false */
  double rope_base;            /* 0 = 10000 */
  nnc_tensor *in_proj_weight;  /* [3E, E] */
  nnc_tensor *in_proj_bias;    /* [3E] or NULL (bias = false) */
  nnc_linear_mod *out_proj;    /* child "out_proj" */
} nnc_mha_mod;

/* embed_dim must be a multiple of num_heads; bias = false drops both biases (as PyTorch) */
nnc_mha_mod *nnc_new_mha(nnc_params *p, const char *name, int64_t embed_dim, int64_t num_heads, bool bias, nnc_rng *r);
/* self-attention: x [B, T, E] -> [B, T, E]; mask may be NULL */
nnc_tensor *nnc_mha_self(nnc_mha_mod *m, nnc_tensor *x, const nnc_tensor *mask, bool causal);
/* query [B, Tq, E], key and value [B, Tk, E] -> [B, Tq, E] (key == value == query is
 * self-attention, which takes the packed path when it can) */
nnc_tensor *nnc_mha(nnc_mha_mod *m, nnc_tensor *query, nnc_tensor *key, nnc_tensor *value, const nnc_tensor *mask,
                    bool causal);
/* u8 [B, 1, 1, Tk]: 1 for positions < lengths[b] (keep), 0 for padding */
nnc_tensor *nnc_padding_mask(int64_t B, int64_t Tk, const int64_t *lengths);

#endif
