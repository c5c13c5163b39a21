/* nn/transformer.c: pre-norm encoder and decoder layers (see transformer.h). */
#include "core/error.h"
#include "nn/transformer.h"
#include "ops/ops.h"

static nnc_tensor *norm(nnc_layernorm_mod *n, nnc_tensor *x) { return nnc_layer_norm(x, n->weight, n->bias, n->eps); }

static nnc_tensor *drop(nnc_dropout_mod *d, nnc_tensor *x) { return d ? nnc_forward(&d->base, x) : x; }

/* linear2(dropout(gelu(linear1(x)))), linear1's bias added by the fused bias_gelu op */
static nnc_tensor *feed_forward(nnc_linear_mod *l1, nnc_dropout_mod *d, nnc_linear_mod *l2, nnc_tensor *x) {
  return nnc_forward(&l2->base, drop(d, nnc_bias_gelu(nnc_linear(x, l1->weight, NULL), l1->bias)));
}

static void check_opts(nnc_transformer_opts *o, const char *op) {
  NNC_CHECK(o->d_model > 0 && o->nhead > 0 && o->d_model % o->nhead == 0 && o->dim_ff > 0 && o->dropout >= 0 &&
                o->dropout < 1 && o->eps >= 0,
            op, "d_model %lld, nhead %lld, dim_feedforward %lld, dropout %g, eps %g", (long long)o->d_model,
            (long long)o->nhead, (long long)o->dim_ff, o->dropout, o->eps);
  if (o->eps == 0) o->eps = 1e-5;
}

/* children "<parent>.<leaf>", made and registered with the parent (in PyTorch's order of
 * registration, which the callers keep) */
static nnc_mha_mod *add_mha(nnc_module *parent, nnc_params *p, const char *leaf, const nnc_transformer_opts *o,
                            nnc_rng *r) {
  char buf[512];
  nnc_mha_mod *m = nnc_new_mha(p, nnc_module_join(parent->name, leaf, buf, sizeof buf), o->d_model, o->nhead, true, r);
  nnc_module_add_child(parent, &m->base);
  return m;
}

static nnc_linear_mod *add_linear(nnc_module *parent, nnc_params *p, const char *leaf, int64_t in, int64_t out,
                                  nnc_rng *r) {
  char buf[512];
  nnc_linear_mod *m = nnc_new_linear(p, nnc_module_join(parent->name, leaf, buf, sizeof buf), in, out, true, r);
  nnc_module_add_child(parent, &m->base);
  return m;
}

static nnc_layernorm_mod *add_norm(nnc_module *parent, nnc_params *p, const char *leaf, const nnc_transformer_opts *o) {
  char buf[512];
  nnc_layernorm_mod *m = nnc_new_layernorm(p, nnc_module_join(parent->name, leaf, buf, sizeof buf), o->d_model, o->eps, true);
  nnc_module_add_child(parent, &m->base);
  return m;
}

/* dropout k of a layer: stream = a hash of the layer's name * 4 + k, so layers differ */
static nnc_dropout_mod *new_drop(nnc_module *parent, const nnc_transformer_opts *o, uint64_t k) {
  if (o->dropout == 0) return NULL;
  uint64_t h = 1469598103934665603ull;
  for (const char *c = parent->name; *c; c++) h = (h ^ (uint8_t)*c) * 1099511628211ull;
  nnc_dropout_mod *d = nnc_new_dropout(o->dropout, o->seed, h * 4 + k);
  nnc_module_add_child(parent, &d->base);
  return d;
}

static void describe(const nnc_module *m, const nnc_transformer_opts *o, char *buf, size_t size) {
  (void)m;
  snprintf(buf, size, "d_model=%lld, nhead=%lld, dim_feedforward=%lld, dropout=%g, activation=gelu, norm_first=True",
           (long long)o->d_model, (long long)o->nhead, (long long)o->dim_ff, o->dropout);
}

/* ---- encoder ---- */
nnc_tensor *nnc_encoder_layer_forward(nnc_encoder_layer_mod *m, nnc_tensor *x, const nnc_tensor *mask, bool causal) {
  x = nnc_add(x, drop(m->dropout1, nnc_mha_self(m->self_attn, norm(m->norm1, x), mask, causal)));
  return nnc_add(x, drop(m->dropout2, feed_forward(m->linear1, m->dropout, m->linear2, norm(m->norm2, x))));
}

static nnc_tensor *encoder_forward(nnc_module *mod, nnc_tensor *x) {
  nnc_encoder_layer_mod *m = (nnc_encoder_layer_mod *)mod;
  return nnc_encoder_layer_forward(m, x, NULL, m->o.causal);
}

static void encoder_describe(const nnc_module *m, char *buf, size_t size) {
  describe(m, &((const nnc_encoder_layer_mod *)m)->o, buf, size);
}

nnc_encoder_layer_mod *nnc_new_encoder_layer(nnc_params *p, const char *name, nnc_transformer_opts o, nnc_rng *r) {
  check_opts(&o, "TransformerEncoderLayer");
  nnc_encoder_layer_mod *m =
      nnc_module_alloc(sizeof *m, "TransformerEncoderLayer", name, encoder_forward, encoder_describe);
  m->o = o;
  nnc_module *b = &m->base; /* children in PyTorch's order of registration */
  m->self_attn = add_mha(b, p, "self_attn", &o, r);
  m->linear1 = add_linear(b, p, "linear1", o.d_model, o.dim_ff, r);
  m->dropout = new_drop(b, &o, 0);
  m->linear2 = add_linear(b, p, "linear2", o.dim_ff, o.d_model, r);
  m->norm1 = add_norm(b, p, "norm1", &o);
  m->norm2 = add_norm(b, p, "norm2", &o);
  m->dropout1 = new_drop(b, &o, 1);
  m->dropout2 = new_drop(b, &o, 2);
  return m;
}

/* ---- decoder ---- */
nnc_tensor *nnc_decoder_layer_forward(nnc_decoder_layer_mod *m, nnc_tensor *x, nnc_tensor *memory,
                                      const nnc_tensor *tgt_mask, const nnc_tensor *memory_mask, bool causal) {
  NNC_CHECK(memory, "TransformerDecoderLayer", "no memory to attend to (set ->memory or pass it)");
  x = nnc_add(x, drop(m->dropout1, nnc_mha_self(m->self_attn, norm(m->norm1, x), tgt_mask, causal)));
  x = nnc_add(x, drop(m->dropout2, nnc_mha(m->multihead_attn, norm(m->norm2, x), memory, memory, memory_mask, false)));
  return nnc_add(x, drop(m->dropout3, feed_forward(m->linear1, m->dropout, m->linear2, norm(m->norm3, x))));
}

static nnc_tensor *decoder_forward(nnc_module *mod, nnc_tensor *x) {
  nnc_decoder_layer_mod *m = (nnc_decoder_layer_mod *)mod;
  return nnc_decoder_layer_forward(m, x, m->memory, NULL, NULL, m->o.causal);
}

static void decoder_describe(const nnc_module *m, char *buf, size_t size) {
  describe(m, &((const nnc_decoder_layer_mod *)m)->o, buf, size);
}

nnc_decoder_layer_mod *nnc_new_decoder_layer(nnc_params *p, const char *name, nnc_transformer_opts o, nnc_rng *r) {
  check_opts(&o, "TransformerDecoderLayer");
  nnc_decoder_layer_mod *m =
      nnc_module_alloc(sizeof *m, "TransformerDecoderLayer", name, decoder_forward, decoder_describe);
  m->o = o;
  nnc_module *b = &m->base; /* children in PyTorch's order of registration */
  m->self_attn = add_mha(b, p, "self_attn", &o, r);
  m->multihead_attn = add_mha(b, p, "multihead_attn", &o, r);
  m->linear1 = add_linear(b, p, "linear1", o.d_model, o.dim_ff, r);
  m->dropout = new_drop(b, &o, 0);
  m->linear2 = add_linear(b, p, "linear2", o.dim_ff, o.d_model, r);
  m->norm1 = add_norm(b, p, "norm1", &o);
  m->norm2 = add_norm(b, p, "norm2", &o);
  m->norm3 = add_norm(b, p, "norm3", &o);
  m->dropout1 = new_drop(b, &o, 1);
  m->dropout2 = new_drop(b, &o, 2);
  m->dropout3 = new_drop(b, &o, 3);
  return m;
}
