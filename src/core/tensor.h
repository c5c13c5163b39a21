/* core/tensor.h: the n-dimensional tensor.
 *
 * A tensor is a view: dtype, shape and strides (in elements, PyTorch order, outermost first,
 * up to NNC_MAX_DIMS), an offset into a storage, and autograd fields.  Views (reshape,
 * permute, narrow, expand, ...) share the storage and copy nothing.  A storage carries a
 * version counter that every in-place write bumps; autograd uses it to refuse a gradient
 * computed from a tensor changed after it was saved.
 *
 * Tensors made by nnc_empty() and friends live in the current arena (core/arena.h) and
 * vanish at the end of the step; parameters live in a persistent block (core/params.h). */
#ifndef NNC_TENSOR_H
#define NNC_TENSOR_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NNC_MAX_DIMS 8

typedef enum { NNC_F32, NNC_F64, NNC_I32, NNC_I64, NNC_U8, NNC_NDTYPES } nnc_dtype;

typedef struct nnc_storage {
  void *data;       /* the bytes; may be replaced when a parameter block grows */
  size_t nbytes;
  uint64_t version; /* bumped by every in-place write */
} nnc_storage;

struct nnc_node;
typedef struct nnc_tensor nnc_tensor;
struct nnc_tensor {
  nnc_dtype dtype;
  int ndim;
  int64_t shape[NNC_MAX_DIMS];
  int64_t stride[NNC_MAX_DIMS]; /* in elements; 0 for a broadcast dimension */
  int64_t offset;               /* in elements from storage->data */
  nnc_storage *storage;
  /* autograd */
  bool requires_grad;    /* a leaf that wants .grad, or a result of such tensors */
  nnc_tensor *grad;      /* same shape, contiguous; made by backward unless preset */
  struct nnc_node *node; /* the tape node that produced this tensor; NULL for a leaf */
};

/* NNC_SHAPE(2, 3) expands to `2, (int64_t[]){2, 3}`: the (ndim, shape) argument pair. */
#define NNC_SHAPE(...) \
  (int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), (const int64_t[]){__VA_ARGS__}

size_t nnc_dtype_size(nnc_dtype dt);
const char *nnc_dtype_name(nnc_dtype dt);
static inline bool nnc_dtype_is_float(nnc_dtype dt) { return dt == NNC_F32 || dt == NNC_F64; }

/* ---- creation (in the current arena) ---- */
nnc_tensor *nnc_empty(nnc_dtype dt, int ndim, const int64_t *shape);
nnc_tensor *nnc_zeros(nnc_dtype dt, int ndim, const int64_t *shape);
nnc_tensor *nnc_full(nnc_dtype dt, double value, int ndim, const int64_t *shape);
nnc_tensor *nnc_ones(nnc_dtype dt, int ndim, const int64_t *shape);
nnc_tensor *nnc_scalar(nnc_dtype dt, double value); /* 0-d tensor */
nnc_tensor *nnc_arange(nnc_dtype dt, int64_t n);    /* 0, 1, ..., n-1 */
/* copies `data` (contiguous, row-major) into a new tensor */
nnc_tensor *nnc_from_data(nnc_dtype dt, int ndim, const int64_t *shape, const void *data);
/* wraps caller-owned memory without copying; the caller keeps it alive */
nnc_tensor *nnc_wrap(nnc_dtype dt, int ndim, const int64_t *shape, void *data);
nnc_tensor *nnc_empty_like(const nnc_tensor *t);   /* contiguous, same dtype and shape */
nnc_tensor *nnc_zeros_like(const nnc_tensor *t);

/* ---- facts ---- */
int64_t nnc_numel(const nnc_tensor *t);
bool nnc_is_contiguous(const nnc_tensor *t);
bool nnc_same_shape(const nnc_tensor *a, const nnc_tensor *b);
/* "[2, 3]" into buf (for messages); returns buf */
const char *nnc_shape_str(const nnc_tensor *t, char *buf, size_t size);
/* normalises a possibly negative axis; stops with an error naming `op` if out of range */
int nnc_axis(const nnc_tensor *t, int axis, const char *op);

/* ---- data access ---- */
static inline void *nnc_data(const nnc_tensor *t) {
  return (char *)t->storage->data + t->offset * (int64_t)nnc_dtype_size(t->dtype);
}
float *nnc_f32(const nnc_tensor *t);  /* checks the dtype */
double *nnc_f64(const nnc_tensor *t);
int64_t *nnc_i64(const nnc_tensor *t);
int32_t *nnc_i32(const nnc_tensor *t);
uint8_t *nnc_u8(const nnc_tensor *t);
/* element `i` in row-major logical order (strides honoured), as a double */
double nnc_get(const nnc_tensor *t, int64_t i);
void nnc_set(nnc_tensor *t, int64_t i, double v); /* does not bump the version */
double nnc_item(const nnc_tensor *t);             /* the value of a one-element tensor */
/* storage offset (elements) of logical row-major element `i` */
int64_t nnc_elem_offset(const nnc_tensor *t, int64_t i);
/* marks the storage changed (after writing through a data pointer) */
static inline void nnc_bump_version(nnc_tensor *t) { t->storage->version++; }

/* ---- raw views (no autograd; ops/view.h has the differentiable ones) ---- */
nnc_tensor *nnc_view_raw(const nnc_tensor *t); /* a shallow copy sharing storage, no grad */
/* contiguous strides for shape, into stride[] */
void nnc_contiguous_strides(int ndim, const int64_t *shape, int64_t *stride);
/* copies src's values (any strides, same shape, dtype converted) into dst (any strides) */
void nnc_copy_into(nnc_tensor *dst, const nnc_tensor *src);
void nnc_fill(nnc_tensor *t, double value);

/* prints dtype, shape and (up to `max_items`) values to stderr */
void nnc_print(const char *label, const nnc_tensor *t, int max_items);

#endif
