/* core/tensor.c: tensor creation, facts, element access and raw copies (see tensor.h). */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "core/arena.h"
#include "core/error.h"
#include "core/iter.h"
#include "core/tensor.h"

static const size_t dtype_sizes[NNC_NDTYPES] = {4, 8, 4, 8, 1};
static const char *const dtype_names[NNC_NDTYPES] = {"f32", "f64", "i32", "i64", "u8"};

size_t nnc_dtype_size(nnc_dtype dt) {
  NNC_CHECK((unsigned)dt < NNC_NDTYPES, "dtype", "unknown dtype %d", (int)dt);
  return dtype_sizes[dt];
}
const char *nnc_dtype_name(nnc_dtype dt) { return (unsigned)dt < NNC_NDTYPES ? dtype_names[dt] : "?"; }

void nnc_contiguous_strides(int ndim, const int64_t *shape, int64_t *stride) {
  int64_t s = 1;
  for (int d = ndim - 1; d >= 0; d--) {
    stride[d] = s;
    s *= shape[d];
  }
}

static int64_t shape_numel(int ndim, const int64_t *shape, const char *op) {
  int64_t n = 1;
  for (int d = 0; d < ndim; d++) {
    NNC_CHECK(shape[d] >= 0, op, "negative size %lld in dim %d", (long long)shape[d], d);
    NNC_CHECK(shape[d] == 0 || n <= INT64_MAX / 8 / shape[d], op, "shape too large");
    n *= shape[d];
  }
  return n;
}

static nnc_tensor *tensor_header(nnc_dtype dt, int ndim, const int64_t *shape, const char *op) {
  NNC_CHECK(ndim >= 0 && ndim <= NNC_MAX_DIMS, op, "ndim %d outside 0..%d", ndim, NNC_MAX_DIMS);
  nnc_dtype_size(dt);
  nnc_arena *a = nnc_arena_current();
  nnc_tensor *t = nnc_arena_calloc(a, sizeof *t);
  t->dtype = dt;
  t->ndim = ndim;
  for (int d = 0; d < ndim; d++) t->shape[d] = shape[d];
  nnc_contiguous_strides(ndim, shape, t->stride);
  t->storage = nnc_arena_calloc(a, sizeof *t->storage);
  return t;
}

nnc_tensor *nnc_empty(nnc_dtype dt, int ndim, const int64_t *shape) {
  nnc_tensor *t = tensor_header(dt, ndim, shape, "empty");
  int64_t n = shape_numel(ndim, shape, "empty");
  t->storage->nbytes = (size_t)n * nnc_dtype_size(dt);
  t->storage->data = nnc_arena_alloc(nnc_arena_current(), t->storage->nbytes);
  return t;
}

nnc_tensor *nnc_zeros(nnc_dtype dt, int ndim, const int64_t *shape) {
  nnc_tensor *t = nnc_empty(dt, ndim, shape);
  memset(t->storage->data, 0, t->storage->nbytes);
  return t;
}

nnc_tensor *nnc_full(nnc_dtype dt, double value, int ndim, const int64_t *shape) {
  nnc_tensor *t = nnc_empty(dt, ndim, shape);
  nnc_fill(t, value);
  return t;
}

nnc_tensor *nnc_ones(nnc_dtype dt, int ndim, const int64_t *shape) { return nnc_full(dt, 1.0, ndim, shape); }
nnc_tensor *nnc_scalar(nnc_dtype dt, double value) { return nnc_full(dt, value, 0, NULL); }

nnc_tensor *nnc_arange(nnc_dtype dt, int64_t n) {
  nnc_tensor *t = nnc_empty(dt, 1, &n);
  for (int64_t i = 0; i < n; i++) nnc_set(t, i, (double)i);
  return t;
}

nnc_tensor *nnc_from_data(nnc_dtype dt, int ndim, const int64_t *shape, const void *data) {
  nnc_tensor *t = nnc_empty(dt, ndim, shape);
  if (t->storage->nbytes) memcpy(t->storage->data, data, t->storage->nbytes);
  return t;
}

nnc_tensor *nnc_wrap(nnc_dtype dt, int ndim, const int64_t *shape, void *data) {
  nnc_tensor *t = tensor_header(dt, ndim, shape, "wrap");
  t->storage->nbytes = (size_t)shape_numel(ndim, shape, "wrap") * nnc_dtype_size(dt);
  t->storage->data = data;
  return t;
}

nnc_tensor *nnc_empty_like(const nnc_tensor *t) { return nnc_empty(t->dtype, t->ndim, t->shape); }
nnc_tensor *nnc_zeros_like(const nnc_tensor *t) { return nnc_zeros(t->dtype, t->ndim, t->shape); }

int64_t nnc_numel(const nnc_tensor *t) {
  int64_t n = 1;
  for (int d = 0; d < t->ndim; d++) n *= t->shape[d];
  return n;
}

bool nnc_is_contiguous(const nnc_tensor *t) {
  int64_t s = 1;
  for (int d = t->ndim - 1; d >= 0; d--) {
    if (t->shape[d] != 1 && t->stride[d] != s) return false;
    s *= t->shape[d];
  }
  return true;
}

bool nnc_same_shape(const nnc_tensor *a, const nnc_tensor *b) {
  if (a->ndim != b->ndim) return false;
  for (int d = 0; d < a->ndim; d++)
    if (a->shape[d] != b->shape[d]) return false;
  return true;
}

const char *nnc_shape_str(const nnc_tensor *t, char *buf, size_t size) {
  size_t n = (size_t)snprintf(buf, size, "[");
  for (int d = 0; d < t->ndim && n < size; d++)
    n += (size_t)snprintf(buf + n, size - n, d ? ", %lld" : "%lld", (long long)t->shape[d]);
  if (n < size) snprintf(buf + n, size - n, "]");
  return buf;
}

int nnc_axis(const nnc_tensor *t, int axis, const char *op) {
  int a = axis < 0 ? axis + t->ndim : axis;
  NNC_CHECK(a >= 0 && a < t->ndim, op, "axis %d out of range for a %d-d tensor", axis, t->ndim);
  return a;
}

#define TYPED_ACCESSOR(name, ctype, DT)                                                      \
  ctype *name(const nnc_tensor *t) {                                                         \
    NNC_CHECK(t->dtype == DT, #name, "tensor is %s, not %s", nnc_dtype_name(t->dtype), #DT); \
    return (ctype *)nnc_data(t);                                                             \
  }
TYPED_ACCESSOR(nnc_f32, float, NNC_F32)
TYPED_ACCESSOR(nnc_f64, double, NNC_F64)
TYPED_ACCESSOR(nnc_i64, int64_t, NNC_I64)
TYPED_ACCESSOR(nnc_i32, int32_t, NNC_I32)
TYPED_ACCESSOR(nnc_u8, uint8_t, NNC_U8)

int64_t nnc_elem_offset(const nnc_tensor *t, int64_t i) {
  int64_t off = t->offset;
  for (int d = t->ndim - 1; d >= 0; d--) {
    off += (i % t->shape[d]) * t->stride[d];
    i /= t->shape[d];
  }
  return off;
}

static double load(const void *base, nnc_dtype dt, int64_t off) {
  switch (dt) {
  case NNC_F32: return ((const float *)base)[off];
  case NNC_F64: return ((const double *)base)[off];
  case NNC_I32: return ((const int32_t *)base)[off];
  case NNC_I64: return (double)((const int64_t *)base)[off];
  case NNC_U8: return ((const uint8_t *)base)[off];
  default: NNC_FAIL("load", "bad dtype");
  }
}

static void store(void *base, nnc_dtype dt, int64_t off, double v) {
  switch (dt) {
  case NNC_F32: ((float *)base)[off] = (float)v; break;
  case NNC_F64: ((double *)base)[off] = v; break;
  case NNC_I32: ((int32_t *)base)[off] = (int32_t)v; break;
  case NNC_I64: ((int64_t *)base)[off] = (int64_t)v; break;
  case NNC_U8: ((uint8_t *)base)[off] = (uint8_t)v; break;
  default: NNC_FAIL("store", "bad dtype");
  }
}

double nnc_get(const nnc_tensor *t, int64_t i) { return load(t->storage->data, t->dtype, nnc_elem_offset(t, i)); }
void nnc_set(nnc_tensor *t, int64_t i, double v) { store(t->storage->data, t->dtype, nnc_elem_offset(t, i), v); }

double nnc_item(const nnc_tensor *t) {
  NNC_CHECK(nnc_numel(t) == 1, "item", "tensor has %lld elements, not 1", (long long)nnc_numel(t));
  return nnc_get(t, 0);
}

nnc_tensor *nnc_view_raw(const nnc_tensor *t) {
  nnc_tensor *v = nnc_arena_alloc(nnc_arena_current(), sizeof *v);
  *v = *t;
  v->requires_grad = false;
  v->grad = NULL;
  v->node = NULL;
  return v;
}

void nnc_copy_into(nnc_tensor *dst, const nnc_tensor *src) {
  char a[64], b[64];
  NNC_CHECK(nnc_same_shape(dst, src), "copy", "shapes %s and %s differ", nnc_shape_str(dst, a, 64),
            nnc_shape_str(src, b, 64));
  if (dst->dtype == src->dtype && nnc_is_contiguous(dst) && nnc_is_contiguous(src)) {
    memmove(nnc_data(dst), nnc_data(src), (size_t)nnc_numel(src) * nnc_dtype_size(src->dtype));
    return;
  }
  const int64_t *strides[2] = {dst->stride, src->stride};
  const int64_t offs[2] = {dst->offset, src->offset};
  nnc_iter it;
  void *db = dst->storage->data;
  const void *sb = src->storage->data;
  if (dst->dtype == NNC_F32 && src->dtype == NNC_F32) {
    for (bool more = nnc_iter_init(&it, dst->ndim, dst->shape, 2, strides, offs); more; more = nnc_iter_next(&it))
      for (int64_t j = 0; j < it.n; j++)
        ((float *)db)[it.off[0] + j * it.inner[0]] = ((const float *)sb)[it.off[1] + j * it.inner[1]];
    return;
  }
  for (bool more = nnc_iter_init(&it, dst->ndim, dst->shape, 2, strides, offs); more; more = nnc_iter_next(&it))
    for (int64_t j = 0; j < it.n; j++)
      store(db, dst->dtype, it.off[0] + j * it.inner[0], load(sb, src->dtype, it.off[1] + j * it.inner[1]));
}

void nnc_fill(nnc_tensor *t, double value) {
  if (t->dtype == NNC_F32 && nnc_is_contiguous(t)) {
    float *p = nnc_f32(t), v = (float)value;
    for (int64_t i = 0, n = nnc_numel(t); i < n; i++) p[i] = v;
    return;
  }
  for (int64_t i = 0, n = nnc_numel(t); i < n; i++) nnc_set(t, i, value);
}

void nnc_print(const char *label, const nnc_tensor *t, int max_items) {
  char s[128];
  fprintf(stderr, "%s: %s %s", label ? label : "tensor", nnc_dtype_name(t->dtype), nnc_shape_str(t, s, sizeof s));
  int64_t n = nnc_numel(t);
  fprintf(stderr, " [");
  for (int64_t i = 0; i < n && i < max_items; i++) fprintf(stderr, i ? ", %.6g" : "%.6g", nnc_get(t, i));
  fprintf(stderr, n > max_items ? ", ...]\n" : "]\n");
}
