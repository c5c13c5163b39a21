/* nn/attention.c: MultiheadAttention (see attention.h).  Built only from ops. */
#include <math.h>
#include "core/error.h"
#include "nn/attention.h"
#include "nn/init.h"
#include "nn/posenc.h"
#include "ops/ops.h"

static void check_input(const nnc_mha_mod *m, const nnc_tensor *x, const char *what) {
  char s[96];
  NNC_CHECK(x->ndim == 3 && x->shape[2] == m->embed_dim, "MultiheadAttention", "%s %s: expected [B, T, %lld]", what,
            nnc_shape_str(x, s, 96), (long long)m->embed_dim);
}

/* rows [r0, r0 + n) of the in-projection applied to x: [B, T, n] */
static nnc_tensor *project(nnc_mha_mod *m, nnc_tensor *x, int64_t r0, int64_t n) {
  bool all = r0 == 0 && n == 3 * m->embed_dim;
  nnc_tensor *w = all ? m->in_proj_weight : nnc_narrow(m->in_proj_weight, 0, r0, n);
  nnc_tensor *b = m->in_proj_bias ? (all ? m->in_proj_bias : nnc_narrow(m->in_proj_bias, 0, r0, n)) : NULL;
  return nnc_linear(x, w, b);
}

/* [B, T, H*D] -> [B, H, T, D] (a view) */
static nnc_tensor *split_heads(nnc_tensor *x, int64_t H) {
  int64_t B = x->shape[0], T = x->shape[1], D = x->shape[2] / H;
  return nnc_permute(nnc_reshape(x, NNC_SHAPE(B, T, H, D)), (const int[]){0, 2, 1, 3});
}

/* [B, H, T, D] -> [B, T, H*D] */
static nnc_tensor *merge_heads(nnc_tensor *x) {
  int64_t B = x->shape[0], H = x->shape[1], T = x->shape[2], D = x->shape[3];
  return nnc_reshape(nnc_contiguous(nnc_permute(x, (const int[]){0, 2, 1, 3})), NNC_SHAPE(B, T, H * D));
}

nnc_tensor *nnc_mha(nnc_mha_mod *m, nnc_tensor *query, nnc_tensor *key, nnc_tensor *value, const nnc_tensor *mask,
                    bool causal) {
  check_input(m, query, "query");
  check_input(m, key, "key");
  check_input(m, value, "value");
  char s[96], t[96], u[96];
  NNC_CHECK(key->shape[0] == query->shape[0] && value->shape[0] == query->shape[0] && key->shape[1] == value->shape[1],
            "MultiheadAttention", "query %s, key %s, value %s: batch or key lengths differ", nnc_shape_str(query, s, 96),
            nnc_shape_str(key, t, 96), nnc_shape_str(value, u, 96));
  int64_t E = m->embed_dim, H = m->num_heads;
  nnc_tensor *o;
  if (query == key && key == value && !m->rope) {
    o = nnc_attention_packed(project(m, query, 0, 3 * E), H, mask, causal, 0);
  } else {
    nnc_tensor *q, *k, *v;
    if (query == key && key == value) {
      nnc_tensor *qkv = project(m, query, 0, 3 * E);
      q = nnc_narrow(qkv, -1, 0, E), k = nnc_narrow(qkv, -1, E, E), v = nnc_narrow(qkv, -1, 2 * E, E);
    } else {
      q = project(m, query, 0, E);
      if (key == value) {
        nnc_tensor *kv = project(m, key, E, 2 * E);
        k = nnc_narrow(kv, -1, 0, E), v = nnc_narrow(kv, -1, E, E);
      } else {
        k = project(m, key, E, E), v = project(m, value, 2 * E, E);
      }
    }
    q = split_heads(q, H), k = split_heads(k, H), v = split_heads(v, H);
    if (m->rope) {
      q = nnc_rope(q, 0, m->rope_base);
      k = nnc_rope(k, 0, m->rope_base);
    }
    o = merge_heads(nnc_attention(q, k, v, mask, causal, 0));
  }
  return nnc_forward(&m->out_proj->base, o);
}

nnc_tensor *nnc_mha_self(nnc_mha_mod *m, nnc_tensor *x, const nnc_tensor *mask, bool causal) {
  return nnc_mha(m, x, x, x, mask, causal);
}

static nnc_tensor *mha_forward(nnc_module *mod, nnc_tensor *x) {
  nnc_mha_mod *m = (nnc_mha_mod *)mod;
  return nnc_mha_self(m, x, NULL, m->causal);
}

static void mha_describe(const nnc_module *mod, char *buf, size_t size) {
  const nnc_mha_mod *m = (const nnc_mha_mod *)mod;
  snprintf(buf, size, "embed_dim=%lld, num_heads=%lld%s%s", (long long)m->embed_dim, (long long)m->num_heads,
           m->causal ? ", causal=True" : "", m->rope ? ", rope=True" : "");
}

nnc_mha_mod *nnc_new_mha(nnc_params *p, const char *name, int64_t embed_dim, int64_t num_heads, bool bias,
                         nnc_rng *r) {
  NNC_CHECK(embed_dim > 0 && num_heads > 0 && embed_dim % num_heads == 0, "MultiheadAttention",
            "embed_dim %lld must be a positive multiple of num_heads %lld", (long long)embed_dim, (long long)num_heads);
  nnc_mha_mod *m = nnc_module_alloc(sizeof *m, "MultiheadAttention", name, mha_forward, mha_describe);
  int64_t E = embed_dim;
  m->embed_dim = E;
  m->num_heads = num_heads;
  m->head_dim = E / num_heads;
  m->in_proj_weight = nnc_module_param(p, &m->base, "in_proj_weight", NNC_SHAPE(3 * E, E));
  nnc_init_xavier_uniform(m->in_proj_weight, 1.0, r);
  if (bias) m->in_proj_bias = nnc_module_param(p, &m->base, "in_proj_bias", NNC_SHAPE(3 * E)); /* zeros */
  char buf[512];
  m->out_proj = nnc_new_linear(p, nnc_module_join(name, "out_proj", buf, sizeof buf), E, E, bias, r);
  if (bias) nnc_init_constant(m->out_proj->bias, 0);
  nnc_module_add_child(&m->base, &m->out_proj->base);
  return m;
}

nnc_tensor *nnc_padding_mask(int64_t B, int64_t Tk, const int64_t *lengths) {
  NNC_CHECK(B >= 0 && Tk >= 0 && (lengths || B == 0), "padding_mask", "B %lld Tk %lld", (long long)B, (long long)Tk);
  nnc_tensor *m = nnc_empty(NNC_U8, NNC_SHAPE(B, 1, 1, Tk));
  uint8_t *d = nnc_u8(m);
  for (int64_t b = 0; b < B; b++)
    for (int64_t t = 0; t < Tk; t++) d[b * Tk + t] = t < lengths[b];
  return m;
}
