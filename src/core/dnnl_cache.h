/* core/dnnl_cache.h: what the oneDNN-backed kernels (core/gemm.c, ops/conv_onednn.c) share.
 *
 * One CPU engine and one stream for the process, made on first use.  A status check that
 * stops with oneDNN's message.  And the probing of a primitive cache: making a primitive
 * costs far more than running a small one, so each kernel keeps a small open-addressing table
 * of entries keyed by a few int64 words (the problem's shape, the thread count, ...); every
 * entry type starts with an nnc_dnnl_slot, and nnc_dnnl_cache_find returns the entry for a key:
 * the one holding it, else a free one, else (all probes taken) the key's home slot, which the
 * caller frees and reuses.  The caller serialises access (the kernels use an atomic flag and
 * fall back to another path when the cache is busy). */
#ifndef NNC_DNNL_CACHE_H
#define NNC_DNNL_CACHE_H
#include <oneapi/dnnl/dnnl.h>
#include <oneapi/dnnl/dnnl_debug.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

#define NNC_DNNL_KEY_MAX 24

typedef struct {
  bool used;
  int key_len;
  int64_t key[NNC_DNNL_KEY_MAX];
} nnc_dnnl_slot;

dnnl_engine_t nnc_dnnl_engine(void);
dnnl_stream_t nnc_dnnl_stream(void);

/* table: `slots` entries (a power of two) of entry_size bytes, each starting with an
 * nnc_dnnl_slot.  Returns the entry for key[0..key_len); *hit says whether it holds the key
 * already.  On a miss the entry may be in use by another key (the caller frees it first), and
 * its slot is not yet filled: the caller calls nnc_dnnl_slot_set after making the entry. */
void *nnc_dnnl_cache_find(void *table, size_t entry_size, int slots, const int64_t *key, int key_len, bool *hit);
void nnc_dnnl_slot_set(nnc_dnnl_slot *s, const int64_t *key, int key_len);

/* stops with op's name, the call and oneDNN's status when a oneDNN call fails */
#define NNC_DNNL_OK(op, call)                                                                      \
  do {                                                                                             \
    dnnl_status_t st_ = (call);                                                                    \
    NNC_CHECK(st_ == dnnl_success, op, "oneDNN: %s failed: %s", #call, dnnl_status2str(st_));      \
  } while (0)

#endif
