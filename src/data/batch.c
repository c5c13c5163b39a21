/* data/batch.c: heap tensors, datasets and seeded mini-batches (see batch.h). */
#include <stdlib.h>
#include <string.h>
#include "core/rng.h"
#include "data/batch.h"

/* ---- heap tensors ---- */
#define HEAP_HEADER (((sizeof(nnc_tensor) + sizeof(nnc_storage)) + 63) / 64 * 64)

static nnc_tensor *heap_tensor(nnc_dtype dt, int ndim, const int64_t *shape, bool zero) {
  if ((unsigned)dt >= NNC_NDTYPES) { nnc_error(NNC_ERR_ARG, "heap tensor: unknown dtype %d", (int)dt); return NULL; }
  if (ndim < 0 || ndim > NNC_MAX_DIMS) {
    nnc_error(NNC_ERR_ARG, "heap tensor: ndim %d outside 0..%d", ndim, NNC_MAX_DIMS);
    return NULL;
  }
  int64_t n = 1;
  const int64_t limit = ((int64_t)1 << 62) / 8;
  for (int d = 0; d < ndim; d++) {
    if (shape[d] < 0) { nnc_error(NNC_ERR_ARG, "heap tensor: negative size %lld", (long long)shape[d]); return NULL; }
    if (shape[d] && n > limit / shape[d]) { nnc_error(NNC_ERR_ARG, "heap tensor: shape too large"); return NULL; }
    n *= shape[d];
  }
  size_t bytes = (size_t)n * nnc_dtype_size(dt);
  void *block = NULL;
  if (posix_memalign(&block, 64, HEAP_HEADER + bytes) != 0 || !block) {
    nnc_error(NNC_ERR_NOMEM, "heap tensor: cannot allocate %zu bytes", bytes);
    return NULL;
  }
  memset(block, 0, zero ? HEAP_HEADER + bytes : HEAP_HEADER);
  nnc_tensor *t = block;
  nnc_storage *s = (nnc_storage *)((char *)block + sizeof(nnc_tensor));
  s->data = (char *)block + HEAP_HEADER;
  s->nbytes = bytes;
  t->dtype = dt;
  t->ndim = ndim;
  for (int d = 0; d < ndim; d++) t->shape[d] = shape[d];
  nnc_contiguous_strides(ndim, shape, t->stride);
  t->storage = s;
  return t;
}

nnc_tensor *nnc_heap_tensor(nnc_dtype dt, int ndim, const int64_t *shape) {
  return heap_tensor(dt, ndim, shape, true);
}
nnc_tensor *nnc_heap_tensor_uninit(nnc_dtype dt, int ndim, const int64_t *shape) {
  return heap_tensor(dt, ndim, shape, false);
}

void nnc_heap_free(nnc_tensor *t) { free(t); }

/* ---- datasets ---- */
void nnc_dataset_free(nnc_dataset *ds) {
  if (!ds) return;
  nnc_heap_free(ds->x);
  nnc_heap_free(ds->y);
  memset(ds, 0, sizeof *ds);
}

nnc_dataset nnc_dataset_head(const nnc_dataset *src, int64_t n, nnc_tensor hdr[2]) {
  if (n <= 0 || n > src->n) n = src->n;
  hdr[0] = *src->x;
  hdr[0].shape[0] = n;
  if (src->y) {
    hdr[1] = *src->y;
    hdr[1].shape[0] = n;
  }
  return (nnc_dataset){.x = &hdr[0], .y = src->y ? &hdr[1] : NULL, .n = n, .num_classes = src->num_classes};
}

void nnc_dataset_gather(const nnc_dataset *ds, const int64_t *idx, int64_t m,
                        nnc_tensor *xb, nnc_tensor *yb) {
  NNC_CHECK(ds && ds->x && ds->x->ndim >= 1 && ds->x->shape[0] == ds->n, "dataset_gather",
            "dataset x must have shape [n, ...]");
  NNC_CHECK(nnc_is_contiguous(ds->x), "dataset_gather", "dataset x must be contiguous");
  NNC_CHECK(m >= 0, "dataset_gather", "negative batch size %lld", (long long)m);
  int64_t row = 1;
  for (int d = 1; d < ds->x->ndim; d++) row *= ds->x->shape[d];
  char buf[128];
  NNC_CHECK(xb->dtype == ds->x->dtype && nnc_is_contiguous(xb) && nnc_numel(xb) == m * row,
            "dataset_gather", "xb is %s %s, want contiguous %s with %lld x %lld elements",
            nnc_dtype_name(xb->dtype), nnc_shape_str(xb, buf, sizeof buf),
            nnc_dtype_name(ds->x->dtype), (long long)m, (long long)row);
  if (yb) {
    NNC_CHECK(ds->y && ds->y->dtype == NNC_I64 && nnc_is_contiguous(ds->y), "dataset_gather",
              "dataset has no contiguous i64 labels");
    NNC_CHECK(yb->dtype == NNC_I64 && nnc_is_contiguous(yb) && nnc_numel(yb) == m,
              "dataset_gather", "yb must be contiguous i64 with %lld elements", (long long)m);
  }
  size_t row_bytes = (size_t)row * nnc_dtype_size(xb->dtype);
  const char *xs = nnc_data(ds->x);
  char *xd = nnc_data(xb);
  const int64_t *ys = yb ? nnc_data(ds->y) : NULL;
  int64_t *yd = yb ? nnc_data(yb) : NULL;
  for (int64_t i = 0; i < m; i++) {
    int64_t k = idx[i];
    NNC_CHECK(k >= 0 && k < ds->n, "dataset_gather", "index %lld outside 0..%lld", (long long)k,
              (long long)ds->n - 1);
    if (row_bytes) memcpy(xd + (size_t)i * row_bytes, xs + (size_t)k * row_bytes, row_bytes);
    if (yd) yd[i] = ys[k];
  }
  nnc_bump_version(xb);
  if (yb) nnc_bump_version(yb);
}

/* ---- batching ---- */
static void make_order(nnc_batcher *b) {
  if (!b->shuffle) {
    for (int64_t i = 0; i < b->n; i++) b->order[i] = i;
    return;
  }
  nnc_rng r;
  /* one stream per epoch: the epoch is mixed into the seed through an odd multiplier */
  nnc_rng_seed(&r, b->st.seed + (uint64_t)b->st.epoch * 0x9e3779b97f4a7c15ULL, NNC_BATCHER_STREAM);
  nnc_rng_permutation(&r, b->order, b->n);
}

nnc_status nnc_batcher_init(nnc_batcher *b, int64_t n, int64_t batch_size, uint64_t seed,
                            bool shuffle, bool drop_last) {
  memset(b, 0, sizeof *b);
  if (n < 0 || batch_size < 1)
    return nnc_error(NNC_ERR_ARG, "batcher: need n >= 0 and batch size >= 1 (got %lld, %lld)",
                     (long long)n, (long long)batch_size);
  if ((uint64_t)n > SIZE_MAX / sizeof(int64_t) / 2)
    return nnc_error(NNC_ERR_ARG, "batcher: %lld examples is too many", (long long)n);
  b->order = malloc((size_t)(n ? n : 1) * sizeof *b->order);
  if (!b->order) return nnc_error(NNC_ERR_NOMEM, "batcher: cannot allocate the order of %lld examples", (long long)n);
  b->n = n;
  b->batch_size = batch_size;
  b->shuffle = shuffle;
  b->drop_last = drop_last;
  b->st.seed = seed;
  make_order(b);
  return NNC_OK;
}

void nnc_batcher_free(nnc_batcher *b) {
  free(b->order);
  memset(b, 0, sizeof *b);
}

int64_t nnc_batcher_next(nnc_batcher *b, const int64_t **idx) {
  int64_t left = b->n - b->st.pos;
  if (left <= 0 || (b->drop_last && left < b->batch_size)) {
    b->st.epoch++;
    b->st.pos = 0;
    make_order(b);
    *idx = NULL;
    return 0;
  }
  int64_t m = left < b->batch_size ? left : b->batch_size;
  *idx = b->order + b->st.pos;
  b->st.pos += m;
  return m;
}

int64_t nnc_batcher_batches_per_epoch(const nnc_batcher *b) {
  if (b->drop_last) return b->n / b->batch_size;
  return (b->n + b->batch_size - 1) / b->batch_size;
}

nnc_batcher_state nnc_batcher_save(const nnc_batcher *b) { return b->st; }

nnc_status nnc_batcher_restore(nnc_batcher *b, nnc_batcher_state st) {
  if (st.epoch < 0 || st.pos < 0 || st.pos > b->n)
    return nnc_error(NNC_ERR_FORMAT, "batcher: saved position (epoch %lld, pos %lld) is impossible for %lld examples",
                     (long long)st.epoch, (long long)st.pos, (long long)b->n);
  bool same_order = st.seed == b->st.seed && st.epoch == b->st.epoch;
  b->st = st;
  if (!same_order) make_order(b);
  return NNC_OK;
}
