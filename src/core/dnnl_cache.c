/* core/dnnl_cache.c: the shared oneDNN engine and stream, and primitive-cache probing
 * (see dnnl_cache.h). */
#include "core/dnnl_cache.h"

#include <string.h>

#define PROBES 8

static dnnl_engine_t engine;
static dnnl_stream_t stream;

static void make_engine(void) {
  NNC_DNNL_OK("dnnl", dnnl_engine_create(&engine, dnnl_cpu, 0));
  NNC_DNNL_OK("dnnl", dnnl_stream_create(&stream, engine, dnnl_stream_default_flags));
}

dnnl_engine_t nnc_dnnl_engine(void) {
  if (!engine) make_engine();
  return engine;
}

dnnl_stream_t nnc_dnnl_stream(void) {
  if (!engine) make_engine();
  return stream;
}

/* FNV-1a over the words, then a final mix */
static uint64_t key_hash(const int64_t *key, int n) {
  uint64_t h = 1469598103934665603ull;
  for (int i = 0; i < n; i++) h = (h ^ (uint64_t)key[i]) * 1099511628211ull;
  h ^= h >> 29;
  h *= 0xbf58476d1ce4e5b9ull;
  return h ^ (h >> 32);
}

void *nnc_dnnl_cache_find(void *table, size_t entry_size, int slots, const int64_t *key, int key_len, bool *hit) {
  NNC_CHECK(key_len > 0 && key_len <= NNC_DNNL_KEY_MAX && (slots & (slots - 1)) == 0, "dnnl_cache",
            "bad key length %d or table size %d", key_len, slots);
  char *base = table;
  uint64_t h = key_hash(key, key_len);
  *hit = false;
  for (int p = 0; p < PROBES; p++) {
    nnc_dnnl_slot *s = (nnc_dnnl_slot *)(base + ((h + (uint64_t)p) & (uint64_t)(slots - 1)) * entry_size);
    if (!s->used) return s;
    if (s->key_len == key_len && memcmp(s->key, key, (size_t)key_len * sizeof *key) == 0) {
      *hit = true;
      return s;
    }
  }
  return base + (h & (uint64_t)(slots - 1)) * entry_size; /* all probes taken: evict the home slot */
}

void nnc_dnnl_slot_set(nnc_dnnl_slot *s, const int64_t *key, int key_len) {
  s->used = true;
  s->key_len = key_len;
  memcpy(s->key, key, (size_t)key_len * sizeof *key);
}
