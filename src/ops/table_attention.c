/* ops/table_attention.c: gradient-check rows for attention (causal, padding mask with fully
 * masked rows, Tq != Tk, a given scale, B*H > 1, batch dims broadcast between q and k/v),
 * block-local (chunked) attention with and without a dividing chunk, and the packed
 * multi-head form.  Masks are drawn from the row's rng (the same before every call). */
#include "autograd/gradcheck.h"
#include "ops/ops.h"

/* u8 keep-mask of `shape`, each entry kept with probability 0.6; row 0 of the first
 * [Tq, Tk] plane fully masked (its outputs and gradients must be zeros) */
static nnc_tensor *random_mask(int ndim, const int64_t *shape, nnc_rng *r) {
  nnc_tensor *m = nnc_empty(NNC_U8, ndim, shape);
  uint8_t *p = nnc_u8(m);
  int64_t n = nnc_numel(m), Tk = shape[ndim - 1];
  for (int64_t i = 0; i < n; i++) p[i] = nnc_rng_uniform(r) < 0.6;
  for (int64_t c = 0; c < Tk; c++) p[c] = 0;
  return m;
}

static nnc_tensor *f_plain(nnc_tensor **in, nnc_rng *r) { (void)r; return nnc_attention(in[0], in[1], in[2], NULL, false, 0); }
static nnc_tensor *f_causal(nnc_tensor **in, nnc_rng *r) { (void)r; return nnc_attention(in[0], in[1], in[2], NULL, true, 0); }
static nnc_tensor *f_scale(nnc_tensor **in, nnc_rng *r) { (void)r; return nnc_attention(in[0], in[1], in[2], NULL, false, 0.7); }
/* padding mask [B, 1, 1, Tk] with batch 0 fully padded, and a per-query mask [B, 1, Tq, Tk] */
static nnc_tensor *f_pad(nnc_tensor **in, nnc_rng *r) {
  int64_t B = in[0]->shape[0], Tk = in[1]->shape[2];
  return nnc_attention(in[0], in[1], in[2], random_mask(NNC_SHAPE(B, 1, 1, Tk), r), false, 0);
}
static nnc_tensor *f_mask_causal(nnc_tensor **in, nnc_rng *r) {
  int64_t B = in[0]->shape[0], Tq = in[0]->shape[2], Tk = in[1]->shape[2];
  return nnc_attention(in[0], in[1], in[2], random_mask(NNC_SHAPE(B, 1, Tq, Tk), r), true, 0.5);
}
static nnc_tensor *f_chunk2(nnc_tensor **in, nnc_rng *r) { (void)r; return nnc_chunked_attention(in[0], in[1], in[2], 2, false); }
static nnc_tensor *f_chunk3c(nnc_tensor **in, nnc_rng *r) { (void)r; return nnc_chunked_attention(in[0], in[1], in[2], 3, true); }
static nnc_tensor *f_packed(nnc_tensor **in, nnc_rng *r) { (void)r; return nnc_attention_packed(in[0], 2, NULL, true, 0); }
static nnc_tensor *f_packed_mask(nnc_tensor **in, nnc_rng *r) {
  int64_t B = in[0]->shape[0], T = in[0]->shape[1];
  return nnc_attention_packed(in[0], 2, random_mask(NNC_SHAPE(B, 1, T, T), r), false, 0.6);
}

NNC_GRADCHECK_ROW(row_attn_plain, .op = "attention", .shapes = "2x2x3x4 2x2x5x4 2x2x5x3", .fn = f_plain);
NNC_GRADCHECK_ROW(row_attn_causal, .op = "attention", .shapes = "2x2x4x3 2x2x4x3 2x2x4x3", .fn = f_causal);
NNC_GRADCHECK_ROW(row_attn_causal_tk, .op = "attention", .shapes = "3x3x2 3x5x2 3x5x4", .fn = f_causal);
NNC_GRADCHECK_ROW(row_attn_scale, .op = "attention", .shapes = "2x1x3x4 2x2x4x4 2x2x4x2", .fn = f_scale);
NNC_GRADCHECK_ROW(row_attn_pad, .op = "attention", .shapes = "2x2x3x4 2x2x5x4 2x2x5x3", .fn = f_pad);
NNC_GRADCHECK_ROW(row_attn_mask_causal, .op = "attention", .shapes = "2x2x4x3 2x2x5x3 2x2x5x2", .fn = f_mask_causal);
NNC_GRADCHECK_ROW(row_attn_2d, .op = "attention", .shapes = "3x4 5x4 5x2", .fn = f_plain);
NNC_GRADCHECK_ROW(row_attn_chunk, .op = "attention", .shapes = "2x2x6x3 2x2x6x3 2x2x6x2", .fn = f_chunk2);
NNC_GRADCHECK_ROW(row_attn_chunk_mask, .op = "attention", .shapes = "2x5x3 2x5x3 2x5x2", .fn = f_chunk3c);
NNC_GRADCHECK_ROW(row_attn_packed, .op = "attention_packed", .shapes = "2x4x12", .fn = f_packed);
NNC_GRADCHECK_ROW(row_attn_packed_mask, .op = "attention_packed", .shapes = "2x3x12", .fn = f_packed_mask);
