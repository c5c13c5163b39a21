/* nn/posenc.h: positional encodings.
 *
 *   sinusoidal  "Attention is all you need" (Vaswani et al. 2017, section 3.5):
 *               pe[t, 2i] = sin(t / base^(2i/d)), pe[t, 2i+1] = cos(t / base^(2i/d)), base 10000;
 *               a fixed table added to x [B, T, d] (odd d: the last column is a sin).
 *   learned     a [max_len, d] parameter "<name>.weight" (an nn.Embedding of the positions,
 *               N(0, 1) init as nn.Embedding) whose first T rows are added to x [B, T, d].
 *   rotary      RoPE (Su et al. 2021) on q and k, in the half-split convention of GPT-NeoX and
 *               Hugging Face's LLaMA ("rotate_half"): dims i and i + D/2 form a pair rotated by
 *               the angle t * base^(-2i/D), i < D/2.  (Meta's original LLaMA code and
 *               RoFormer rotate the interleaved pairs (2i, 2i+1) instead: the same rotation on
 *               a permuted head dim; weights trained with one convention need their q/k
 *               projection rows permuted to be used with the other.) */
#ifndef NNC_NN_POSENC_H
#define NNC_NN_POSENC_H
#include "core/rng.h"
#include "nn/module.h"

/* the sinusoidal table [T, d] in the current arena (no gradient) */
nnc_tensor *nnc_sinusoidal_table(nnc_dtype dt, int64_t T, int64_t d, double base);

/* x [B, T, d] (or [T, d]) + pe[:T]; the table (max_len rows, f64) is made once, held by the
 * module.  base 0 = 10000. */
typedef struct {
  nnc_module base;
  int64_t max_len, dim;
  double freq_base;
  double *table; /* [max_len, dim], inside the module's allocation */
} nnc_sinusoidal_mod;
nnc_sinusoidal_mod *nnc_new_sinusoidal(int64_t max_len, int64_t dim, double base);

/* x [B, T, d] (or [T, d]) + weight[:T]; weight [max_len, d] = "<name>.weight" */
typedef struct {
  nnc_module base;
  int64_t max_len, dim;
  nnc_tensor *weight;
} nnc_learned_pos_mod;
nnc_learned_pos_mod *nnc_new_learned_pos(nnc_params *p, const char *name, int64_t max_len, int64_t dim, nnc_rng *r);

/* rotary embedding of x [..., T, D] (D even; heads as leading dims, e.g. [B, H, T, D]) for
 * positions offset, offset+1, ...: x * cos + rotate_half(x) * sin with
 * rotate_half(x) = concat(-x[..., D/2:], x[..., :D/2]) and cos/sin[t, i] = cos/sin(t * base^(-2i/D))
 * for i < D/2, repeated for i >= D/2 (the half-split convention).  Composed from ops, so it
 * is differentiable; base 0 = 10000. */
nnc_tensor *nnc_rope(nnc_tensor *x, int64_t offset, double base);
/* the cos and sin tables [T, D] that nnc_rope multiplies by (current arena, no gradient) */
void nnc_rope_tables(nnc_dtype dt, int64_t T, int64_t D, int64_t offset, double base, nnc_tensor **cos_t,
                     nnc_tensor **sin_t);

#endif
