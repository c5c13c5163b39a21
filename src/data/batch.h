/* data/batch.h: heap tensors, datasets and seeded mini-batches.
 *
 * Data that must outlive a training step cannot live in the step arena, so the readers of
 * src/data hand back *heap tensors*: one malloc'ed block holding the tensor header, its
 * storage and the (64-byte aligned) bytes, freed with nnc_heap_free.  They are ordinary
 * contiguous tensors in every other respect (no autograd, no arena).
 *
 * A dataset is a pair of heap tensors: x [N, ...] (features, usually f32 [N, D]) and
 * y [N] (i64 class labels), e.g. from nnc_fashion_load (data/fashion.h).
 *
 * A batcher walks N examples in mini-batches, each epoch in a fresh order:
 *
 *   nnc_batcher b;
 *   nnc_batcher_init(&b, ds.n, 128, seed, true, false);   // shuffle, keep the last partial batch
 *   for (int epoch = 0; epoch < E; epoch++) {
 *     const int64_t *idx; int64_t m;
 *     while ((m = nnc_batcher_next(&b, &idx)) > 0) {
 *       nnc_tensor *xb = nnc_empty(NNC_F32, NNC_SHAPE(m, 784)), *yb = nnc_empty(NNC_I64, NNC_SHAPE(m));
 *       nnc_dataset_gather(&ds, idx, m, xb, yb);
 *       ...
 *     }
 *   }
 *
 * The order of epoch e is the Fisher-Yates permutation drawn from the rng stream seeded by
 * (seed, e) (stream NNC_BATCHER_STREAM), so the whole position of a batcher is three plain
 * numbers, nnc_batcher_state {seed, epoch, pos}: save it in a checkpoint, and
 * nnc_batcher_restore gives back exactly the batches that would have followed. */
#ifndef NNC_DATA_BATCH_H
#define NNC_DATA_BATCH_H
#include <stdbool.h>
#include <stdint.h>
#include "core/error.h"
#include "core/tensor.h"

/* ---- heap tensors ---- */
/* A contiguous tensor in its own malloc'ed block (header, storage, data; data zeroed).
 * Returns NULL (and sets nnc_last_error, NNC_ERR_NOMEM or NNC_ERR_ARG) when the shape is
 * invalid (ndim outside 0..8, a negative size, more than 2^62 bytes) or malloc fails. */
nnc_tensor *nnc_heap_tensor(nnc_dtype dt, int ndim, const int64_t *shape);
/* The same without zeroing the data (for readers that overwrite every byte). */
nnc_tensor *nnc_heap_tensor_uninit(nnc_dtype dt, int ndim, const int64_t *shape);
void nnc_heap_free(nnc_tensor *t); /* NULL is fine */

/* ---- datasets ---- */
typedef struct {
  nnc_tensor *x; /* [n, ...] features (heap tensor) */
  nnc_tensor *y; /* [n] i64 labels (heap tensor), or NULL */
  int64_t n;     /* examples */
  int num_classes; /* labels are 0..num_classes-1 (0 if unknown) */
} nnc_dataset;

void nnc_dataset_free(nnc_dataset *ds); /* frees x and y, zeroes ds; safe on a zeroed ds */
/* the first n examples of src (n <= 0 or n > src->n: all) as a dataset sharing src's storage;
 * its two tensor headers live in hdr[0..2), which must outlive it (never free the result) */
nnc_dataset nnc_dataset_head(const nnc_dataset *src, int64_t n, nnc_tensor hdr[2]);

/* Copies rows idx[0..m) of ds->x into xb and of ds->y into yb (one memcpy per row).
 * xb must be contiguous with ds->x's dtype and shape [m, <x's row shape>] (any shape with
 * m * row elements); yb contiguous i64 with m elements, or NULL.  Bumps their versions.
 * Indices outside 0..n-1 and mismatched tensors are programming errors (nnc_fail). */
void nnc_dataset_gather(const nnc_dataset *ds, const int64_t *idx, int64_t m,
                        nnc_tensor *xb, nnc_tensor *yb);

/* ---- batching ---- */
#define NNC_BATCHER_STREAM 0x6261746368ULL /* rng stream id of the shuffles ("batch") */

typedef struct {
  uint64_t seed; /* with the epoch, fixes that epoch's order */
  int64_t epoch; /* current epoch, from 0 */
  int64_t pos;   /* position in the current epoch's order of the next example */
} nnc_batcher_state;

typedef struct {
  int64_t n, batch_size;
  bool shuffle, drop_last;
  nnc_batcher_state st;
  int64_t *order; /* the current epoch's order (malloc'ed, n entries) */
} nnc_batcher;

/* n >= 0 examples in batches of batch_size >= 1; shuffle false walks 0..n-1 in order every
 * epoch; drop_last drops a last batch smaller than batch_size.  NNC_ERR_ARG on bad sizes,
 * NNC_ERR_NOMEM if the order does not fit. */
nnc_status nnc_batcher_init(nnc_batcher *b, int64_t n, int64_t batch_size, uint64_t seed,
                            bool shuffle, bool drop_last);
void nnc_batcher_free(nnc_batcher *b);
/* The next batch of the current epoch: *idx points at its m example indices (valid until the
 * next call) and m is returned.  At the end of an epoch returns 0 (with *idx = NULL) and moves
 * to the next epoch, so `while ((m = nnc_batcher_next(&b, &idx)) > 0)` is one epoch. */
int64_t nnc_batcher_next(nnc_batcher *b, const int64_t **idx);
/* batches per epoch */
int64_t nnc_batcher_batches_per_epoch(const nnc_batcher *b);
/* the position, for a checkpoint */
nnc_batcher_state nnc_batcher_save(const nnc_batcher *b);
/* goes back (or forward) to a saved position; NNC_ERR_FORMAT if pos/epoch are impossible */
nnc_status nnc_batcher_restore(nnc_batcher *b, nnc_batcher_state st);

#endif
