/* core/params.c: the persistent parameter block (see params.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "core/arena.h"
#include "core/error.h"
#include "core/params.h"

void nnc_params_init(nnc_params *p, nnc_dtype dt) {
  memset(p, 0, sizeof *p);
  NNC_CHECK(nnc_dtype_is_float(dt), "params", "parameters must be f32 or f64");
  p->dtype = dt;
}

void nnc_params_free(nnc_params *p) {
  for (int i = 0; i < p->count; i++) {
    free(p->tensors[i]->grad);
    free(p->tensors[i]);
    free(p->names[i]);
    if (p->masks[i]) free(p->masks[i]->storage->data);
    free(p->masks[i]);
  }
  free(p->tensors);
  free(p->names);
  free(p->lr_scale);
  free(p->decay_scale);
  free(p->frozen);
  free(p->masks);
  free(p->values.data);
  free(p->grads.data);
  memset(p, 0, sizeof *p);
}

static void grow_block(nnc_storage *s, size_t old_bytes, size_t new_bytes) {
  void *fresh = nnc_xcalloc(1, new_bytes);
  if (s->data) memcpy(fresh, s->data, old_bytes);
  free(s->data);
  s->data = fresh;
  s->nbytes = new_bytes;
}

nnc_tensor *nnc_params_add(nnc_params *p, const char *name, int ndim, const int64_t *shape) {
  NNC_CHECK(!nnc_params_find(p, name), "params_add", "parameter '%s' already exists", name);
  NNC_CHECK(ndim >= 0 && ndim <= NNC_MAX_DIMS, "params_add", "bad ndim %d for '%s'", ndim, name);
  int64_t n = 1;
  for (int d = 0; d < ndim; d++) {
    NNC_CHECK(shape[d] >= 0, "params_add", "negative size in '%s'", name);
    n *= shape[d];
  }
  size_t es = nnc_dtype_size(p->dtype);
  if (p->numel + n > p->elem_capacity) {
    int64_t cap = p->elem_capacity ? p->elem_capacity : 1024;
    while (cap < p->numel + n) cap *= 2;
    grow_block(&p->values, (size_t)p->numel * es, (size_t)cap * es);
    grow_block(&p->grads, (size_t)p->numel * es, (size_t)cap * es);
    p->elem_capacity = cap;
  }
  if (p->count == p->capacity) {
    p->capacity = p->capacity ? 2 * p->capacity : 16;
    p->tensors = realloc(p->tensors, (size_t)p->capacity * sizeof *p->tensors);
    p->names = realloc(p->names, (size_t)p->capacity * sizeof *p->names);
    p->lr_scale = realloc(p->lr_scale, (size_t)p->capacity * sizeof *p->lr_scale);
    p->decay_scale = realloc(p->decay_scale, (size_t)p->capacity * sizeof *p->decay_scale);
    p->frozen = realloc(p->frozen, (size_t)p->capacity * sizeof *p->frozen);
    p->masks = realloc(p->masks, (size_t)p->capacity * sizeof *p->masks);
    NNC_CHECK(p->tensors && p->names && p->lr_scale && p->decay_scale && p->frozen && p->masks, "params_add",
              "out of memory");
  }
  nnc_tensor *t = nnc_xcalloc(1, sizeof *t), *g = nnc_xcalloc(1, sizeof *g);
  t->dtype = g->dtype = p->dtype;
  t->ndim = g->ndim = ndim;
  for (int d = 0; d < ndim; d++) t->shape[d] = g->shape[d] = shape[d];
  nnc_contiguous_strides(ndim, shape, t->stride);
  nnc_contiguous_strides(ndim, shape, g->stride);
  t->offset = g->offset = p->numel;
  t->storage = &p->values;
  g->storage = &p->grads;
  t->requires_grad = true;
  t->grad = g;
  p->tensors[p->count] = t;
  p->names[p->count] = strdup(name);
  p->lr_scale[p->count] = 1.0f;
  p->decay_scale[p->count] = 1.0f;
  p->frozen[p->count] = false;
  p->masks[p->count] = NULL;
  p->count++;
  p->numel += n;
  return t;
}

nnc_tensor *nnc_params_find(const nnc_params *p, const char *name) {
  for (int i = 0; i < p->count; i++)
    if (strcmp(p->names[i], name) == 0) return p->tensors[i];
  return NULL;
}

int nnc_params_index(const nnc_params *p, const nnc_tensor *t) {
  for (int i = 0; i < p->count; i++)
    if (p->tensors[i] == t) return i;
  return -1;
}

void nnc_params_zero_grad(nnc_params *p) {
  if (p->numel) memset(p->grads.data, 0, (size_t)p->numel * nnc_dtype_size(p->dtype));
}

nnc_tensor *nnc_params_values(nnc_params *p) {
  nnc_tensor *t = nnc_wrap(p->dtype, 1, &p->numel, p->values.data);
  t->storage = &p->values;
  return t;
}

nnc_tensor *nnc_params_grads(nnc_params *p) {
  nnc_tensor *t = nnc_wrap(p->dtype, 1, &p->numel, p->grads.data);
  t->storage = &p->grads;
  return t;
}

double nnc_params_grad_norm(const nnc_params *p) {
  double s = 0;
  if (p->dtype == NNC_F32) {
    const float *g = p->grads.data;
    for (int64_t i = 0; i < p->numel; i++) s += (double)g[i] * g[i];
  } else {
    const double *g = p->grads.data;
    for (int64_t i = 0; i < p->numel; i++) s += g[i] * g[i];
  }
  return sqrt(s);
}

/* A mask is one allocation holding the tensor and its storage, plus the values. */
typedef struct {
  nnc_tensor t;
  nnc_storage s;
} mask_box;

nnc_tensor *nnc_params_mask_add(nnc_params *p, int k) {
  NNC_CHECK(k >= 0 && k < p->count, "params_mask_add", "no parameter %d (block has %d)", k, p->count);
  if (p->masks[k]) return p->masks[k];
  const nnc_tensor *w = p->tensors[k];
  int64_t n = nnc_numel(w);
  mask_box *b = nnc_xcalloc(1, sizeof *b);
  float *m = nnc_xmalloc((size_t)(n ? n : 1) * sizeof *m);
  for (int64_t i = 0; i < n; i++) m[i] = 1.0f;
  b->s = (nnc_storage){.data = m, .nbytes = (size_t)n * sizeof *m};
  b->t.dtype = NNC_F32;
  b->t.ndim = w->ndim;
  for (int d = 0; d < w->ndim; d++) b->t.shape[d] = w->shape[d];
  nnc_contiguous_strides(w->ndim, w->shape, b->t.stride);
  b->t.storage = &b->s;
  p->masks[k] = &b->t; /* t is the box's first member: freeing it frees the box */
  return p->masks[k];
}
