/* nn/norm.c: LayerNorm, RMSNorm, BatchNorm (see norm.h).  LayerNorm and BatchNorm are the
 * fused ops of ops/layernorm.c and ops/norm.c; RMSNorm is composed from ops. */
#include "core/error.h"
#include "nn/init.h"
#include "nn/norm.h"
#include "ops/ops.h"

static void check_last_dim(const nnc_tensor *x, int64_t dim, const char *op) {
  char s[96];
  NNC_CHECK(x->ndim >= 1 && x->shape[x->ndim - 1] == dim, op, "input %s does not end in %lld",
            nnc_shape_str(x, s, sizeof s), (long long)dim);
}

/* ---- LayerNorm ---- */
static nnc_tensor *layernorm_forward(nnc_module *m, nnc_tensor *x) {
  nnc_layernorm_mod *l = (nnc_layernorm_mod *)m;
  check_last_dim(x, l->dim, "LayerNorm");
  return nnc_layer_norm(x, l->weight, l->bias, l->eps); /* the fused op (ops/layernorm.c) */
}

static void layernorm_describe(const nnc_module *m, char *buf, size_t size) {
  const nnc_layernorm_mod *l = (const nnc_layernorm_mod *)m;
  snprintf(buf, size, "(%lld,), eps=%g, elementwise_affine=%s", (long long)l->dim, l->eps, l->weight ? "True" : "False");
}

nnc_layernorm_mod *nnc_new_layernorm(nnc_params *p, const char *name, int64_t dim, double eps, bool affine) {
  NNC_CHECK(dim > 0 && eps >= 0, "LayerNorm", "dim %lld eps %g", (long long)dim, eps);
  nnc_layernorm_mod *l = nnc_module_alloc(sizeof *l, "LayerNorm", name, layernorm_forward, layernorm_describe);
  l->dim = dim;
  l->eps = eps;
  if (affine) {
    l->weight = nnc_module_param(p, &l->base, "weight", NNC_SHAPE(dim));
    l->bias = nnc_module_param(p, &l->base, "bias", NNC_SHAPE(dim));
    nnc_init_constant(l->weight, 1);
  }
  return l;
}

/* ---- RMSNorm ---- */
static nnc_tensor *rmsnorm_forward(nnc_module *m, nnc_tensor *x) {
  nnc_rmsnorm_mod *r = (nnc_rmsnorm_mod *)m;
  check_last_dim(x, r->dim, "RMSNorm");
  int ax = -1;
  nnc_tensor *ms = nnc_mean(nnc_square(x), 1, &ax, true);
  return nnc_mul(nnc_mul(x, nnc_rsqrt(nnc_shift(ms, r->eps))), r->weight);
}

static void rmsnorm_describe(const nnc_module *m, char *buf, size_t size) {
  const nnc_rmsnorm_mod *r = (const nnc_rmsnorm_mod *)m;
  snprintf(buf, size, "(%lld,), eps=%g", (long long)r->dim, r->eps);
}

nnc_rmsnorm_mod *nnc_new_rmsnorm(nnc_params *p, const char *name, int64_t dim, double eps) {
  NNC_CHECK(dim > 0 && eps >= 0, "RMSNorm", "dim %lld eps %g", (long long)dim, eps);
  nnc_rmsnorm_mod *r = nnc_module_alloc(sizeof *r, "RMSNorm", name, rmsnorm_forward, rmsnorm_describe);
  r->dim = dim;
  r->eps = eps;
  r->weight = nnc_module_param(p, &r->base, "weight", NNC_SHAPE(dim));
  nnc_init_constant(r->weight, 1);
  return r;
}

/* ---- BatchNorm ---- */
nnc_tensor *nnc_batchnorm_forward_fused(nnc_module *m, nnc_tensor *x) {
  nnc_batchnorm_mod *b = (nnc_batchnorm_mod *)m;
  char s[96];
  NNC_CHECK(x->ndim >= 2 && x->shape[1] == b->channels, m->kind, "input %s: expected [N, %lld, ...]",
            nnc_shape_str(x, s, sizeof s), (long long)b->channels);
  NNC_CHECK(!m->training || nnc_numel(x) / b->channels > 1, m->kind,
            "input %s: training needs more than one value per channel", nnc_shape_str(x, s, sizeof s));
  nnc_tensor *y =
      nnc_batch_norm(x, b->weight, b->bias, b->running_mean, b->running_var, m->training, b->momentum, b->eps);
  if (m->training) {
    nnc_set(b->num_batches_tracked, 0, nnc_get(b->num_batches_tracked, 0) + 1);
    nnc_bump_version(b->num_batches_tracked);
  }
  return y;
}

static void batchnorm_describe(const nnc_module *m, char *buf, size_t size) {
  const nnc_batchnorm_mod *b = (const nnc_batchnorm_mod *)m;
  snprintf(buf, size, "%lld, eps=%g, momentum=%g, affine=%s", (long long)b->channels, b->eps, b->momentum,
           b->weight ? "True" : "False");
}

static nnc_tensor *add_buffer(nnc_params *buffers, const nnc_module *m, const char *leaf, int ndim, const int64_t *shape) {
  nnc_tensor *t = nnc_module_param(buffers, m, leaf, ndim, shape);
  t->requires_grad = false;
  buffers->frozen[buffers->count - 1] = true;
  return t;
}

nnc_batchnorm_mod *nnc_new_batchnorm(nnc_params *p, nnc_params *buffers, const char *name, int64_t channels,
                                     double eps, double momentum, bool affine) {
  NNC_CHECK(channels > 0 && eps >= 0 && momentum >= 0 && momentum <= 1, "BatchNorm", "channels %lld eps %g momentum %g",
            (long long)channels, eps, momentum);
  NNC_CHECK(buffers, "BatchNorm", "needs a buffers block for the running statistics");
  nnc_batchnorm_mod *b = nnc_module_alloc(sizeof *b, "BatchNorm", name, nnc_batchnorm_forward_fused, batchnorm_describe);
  b->channels = channels;
  b->eps = eps;
  b->momentum = momentum;
  if (affine) {
    b->weight = nnc_module_param(p, &b->base, "weight", NNC_SHAPE(channels));
    b->bias = nnc_module_param(p, &b->base, "bias", NNC_SHAPE(channels));
    nnc_init_constant(b->weight, 1);
  }
  b->running_mean = add_buffer(buffers, &b->base, "running_mean", NNC_SHAPE(channels));
  b->running_var = add_buffer(buffers, &b->base, "running_var", NNC_SHAPE(channels));
  b->num_batches_tracked = add_buffer(buffers, &b->base, "num_batches_tracked", 0, NULL);
  nnc_init_constant(b->running_var, 1);
  return b;
}
