/* nn/layers.c: Linear, Embedding, Dropout, activation, Flatten and the MLP builder (see
 * layers.h).  Only ops from ops/ops.h; no kernels of their own. */
#include <math.h>
#include "core/error.h"
#include "nn/init.h"
#include "nn/layers.h"
#include "ops/ops.h"

/* ---- Linear ---- */
static nnc_tensor *linear_forward(nnc_module *m, nnc_tensor *x) {
  nnc_linear_mod *l = (nnc_linear_mod *)m;
  return nnc_linear(x, l->weight, l->bias);
}

static void linear_describe(const nnc_module *m, char *buf, size_t size) {
  const nnc_linear_mod *l = (const nnc_linear_mod *)m;
  snprintf(buf, size, "in_features=%lld, out_features=%lld, bias=%s", (long long)l->in, (long long)l->out,
           l->bias ? "True" : "False");
}

nnc_linear_mod *nnc_new_linear(nnc_params *p, const char *name, int64_t in, int64_t out, bool bias, nnc_rng *r) {
  NNC_CHECK(in > 0 && out > 0, "Linear", "sizes in=%lld out=%lld", (long long)in, (long long)out);
  nnc_linear_mod *l = nnc_module_alloc(sizeof *l, "Linear", name, linear_forward, linear_describe);
  l->in = in;
  l->out = out;
  l->weight = nnc_module_param(p, &l->base, "weight", NNC_SHAPE(out, in));
  double bound = 1.0 / sqrt((double)in);
  nnc_init_uniform(l->weight, -bound, bound, r);
  if (bias) {
    l->bias = nnc_module_param(p, &l->base, "bias", NNC_SHAPE(out));
    nnc_init_uniform(l->bias, -bound, bound, r);
  }
  return l;
}

/* ---- Embedding ---- */
static nnc_tensor *embedding_forward(nnc_module *m, nnc_tensor *idx) {
  nnc_embedding_mod *e = (nnc_embedding_mod *)m;
  NNC_CHECK(idx->dtype == NNC_I64, "Embedding", "indices must be i64, not %s", nnc_dtype_name(idx->dtype));
  nnc_tensor *rows = nnc_index_select(e->weight, 0, nnc_reshape(idx, NNC_SHAPE(-1)));
  int64_t shape[NNC_MAX_DIMS];
  NNC_CHECK(idx->ndim < NNC_MAX_DIMS, "Embedding", "too many index dims (%d)", idx->ndim);
  for (int d = 0; d < idx->ndim; d++) shape[d] = idx->shape[d];
  shape[idx->ndim] = e->dim;
  return nnc_reshape(rows, idx->ndim + 1, shape);
}

static void embedding_describe(const nnc_module *m, char *buf, size_t size) {
  const nnc_embedding_mod *e = (const nnc_embedding_mod *)m;
  snprintf(buf, size, "%lld, %lld", (long long)e->num, (long long)e->dim);
}

nnc_embedding_mod *nnc_new_embedding(nnc_params *p, const char *name, int64_t num, int64_t dim, nnc_rng *r) {
  NNC_CHECK(num > 0 && dim > 0, "Embedding", "sizes num=%lld dim=%lld", (long long)num, (long long)dim);
  nnc_embedding_mod *e = nnc_module_alloc(sizeof *e, "Embedding", name, embedding_forward, embedding_describe);
  e->num = num;
  e->dim = dim;
  e->weight = nnc_module_param(p, &e->base, "weight", NNC_SHAPE(num, dim));
  nnc_init_normal(e->weight, 0, 1, r);
  return e;
}

/* ---- Dropout ---- */
static nnc_tensor *dropout_forward(nnc_module *m, nnc_tensor *x) {
  nnc_dropout_mod *d = (nnc_dropout_mod *)m;
  if (!m->training || d->p == 0) return x;
  nnc_check_float(x, "Dropout");
  nnc_tensor *mask = nnc_empty(x->dtype, x->ndim, x->shape);
  int64_t n = nnc_numel(mask);
  double keep = 1.0 - d->p, scale = keep > 0 ? 1.0 / keep : 0.0;
  if (x->dtype == NNC_F32) {
    float *w = nnc_f32(mask), s = (float)scale;
    for (int64_t i = 0; i < n; i++) w[i] = nnc_rng_uniform(&d->rng) < keep ? s : 0.0f;
  } else {
    double *w = nnc_f64(mask);
    for (int64_t i = 0; i < n; i++) w[i] = nnc_rng_uniform(&d->rng) < keep ? scale : 0.0;
  }
  return nnc_mul(x, mask);
}

static void dropout_describe(const nnc_module *m, char *buf, size_t size) {
  snprintf(buf, size, "p=%g", ((const nnc_dropout_mod *)m)->p);
}

nnc_dropout_mod *nnc_new_dropout(double p, uint64_t seed, uint64_t stream) {
  NNC_CHECK(p >= 0 && p <= 1, "Dropout", "probability %g is not in [0, 1]", p);
  nnc_dropout_mod *d = nnc_module_alloc(sizeof *d, "Dropout", NULL, dropout_forward, dropout_describe);
  d->p = p;
  nnc_rng_seed(&d->rng, seed, stream);
  return d;
}

/* ---- activation ---- */
static nnc_tensor *act_forward(nnc_module *m, nnc_tensor *x) {
  nnc_act_mod *a = (nnc_act_mod *)m;
  return nnc_act_apply(x, a->act, a->param);
}

static void act_describe(const nnc_module *m, char *buf, size_t size) {
  const nnc_act_mod *a = (const nnc_act_mod *)m;
  if (a->act == NNC_ACT_LEAKY_RELU || a->act == NNC_ACT_ELU) snprintf(buf, size, "%s, %g", nnc_act_name(a->act), a->param);
  else snprintf(buf, size, "%s", nnc_act_name(a->act));
}

nnc_act_mod *nnc_new_act(nnc_act act, double param) {
  nnc_act_name(act); /* checks the value */
  nnc_act_mod *a = nnc_module_alloc(sizeof *a, "Activation", NULL, act_forward, act_describe);
  a->act = act;
  a->param = param;
  return a;
}

/* ---- Flatten ---- */
static nnc_tensor *flatten_forward(nnc_module *m, nnc_tensor *x) {
  nnc_flatten_mod *f = (nnc_flatten_mod *)m;
  return nnc_flatten(x, f->start, f->end);
}

static void flatten_describe(const nnc_module *m, char *buf, size_t size) {
  const nnc_flatten_mod *f = (const nnc_flatten_mod *)m;
  snprintf(buf, size, "start_dim=%d, end_dim=%d", f->start, f->end);
}

nnc_flatten_mod *nnc_new_flatten(int start, int end) {
  nnc_flatten_mod *f = nnc_module_alloc(sizeof *f, "Flatten", NULL, flatten_forward, flatten_describe);
  f->start = start;
  f->end = end;
  return f;
}

/* ---- MLP ---- */
nnc_sequential_mod *nnc_new_mlp(nnc_params *p, const char *name, int n_sizes, const int64_t *sizes, nnc_act act,
                                nnc_rng *r) {
  NNC_CHECK(n_sizes >= 2, "mlp", "needs at least 2 sizes, got %d", n_sizes);
  nnc_sequential_mod *s = nnc_new_sequential(name);
  for (int i = 0; i + 1 < n_sizes; i++) {
    nnc_sequential_add(s, &nnc_new_linear(p, nnc_sequential_next_name(s), sizes[i], sizes[i + 1], true, r)->base);
    if (i + 2 < n_sizes) nnc_sequential_add(s, &nnc_new_act(act, act == NNC_ACT_LEAKY_RELU ? 0.01 : 1.0)->base);
  }
  return s;
}
