/* core/arena.c: chunked bump allocator (see arena.h). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "core/arena.h"
#include "core/error.h"

#define ARENA_ALIGN 64
#define ARENA_MIN_CHUNK ((size_t)1 << 22) /* 4 MiB */

struct nnc_arena_chunk {
  nnc_arena_chunk *next;
  size_t size, used;
  unsigned char *base; /* ARENA_ALIGN-aligned data of `size` bytes */
};

void nnc_arena_init(nnc_arena *a) { memset(a, 0, sizeof *a); }

void nnc_arena_free(nnc_arena *a) {
  for (nnc_arena_chunk *c = a->first, *next; c; c = next) {
    next = c->next;
    free(c->base);
    free(c);
  }
  memset(a, 0, sizeof *a);
}

static nnc_arena_chunk *chunk_new(size_t size) {
  nnc_arena_chunk *c = nnc_xcalloc(1, sizeof *c);
  c->base = aligned_alloc(ARENA_ALIGN, size);
  if (!c->base) NNC_FAIL("arena", "out of memory growing the step arena by %zu bytes", size);
  c->size = size;
  return c;
}

void *nnc_arena_alloc(nnc_arena *a, size_t bytes) {
  bytes = (bytes + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
  if (bytes == 0) bytes = ARENA_ALIGN;
  /* try the current chunk, then the following (already reserved) ones */
  nnc_arena_chunk *c = a->current ? a->current : a->first;
  while (c && c->size - c->used < bytes) {
    if (!c->next) break;
    c = c->next;
    c->used = 0;
  }
  if (!c || c->size - c->used < bytes) {
    size_t size = bytes > ARENA_MIN_CHUNK ? bytes : ARENA_MIN_CHUNK;
    if (a->reserved > size) size = a->reserved; /* double the total each time */
    nnc_arena_chunk *fresh = chunk_new(size);
    a->reserved += size;
    if (c) {
      fresh->next = c->next;
      c->next = fresh;
    } else {
      a->first = fresh;
    }
    c = fresh;
  }
  a->current = c;
  void *p = c->base + c->used;
  c->used += bytes;
  a->used += bytes;
  if (a->used > a->high_water) a->high_water = a->used;
  return p;
}

void *nnc_arena_calloc(nnc_arena *a, size_t bytes) {
  void *p = nnc_arena_alloc(a, bytes);
  memset(p, 0, bytes);
  return p;
}

void nnc_arena_reset(nnc_arena *a) {
  if (a->first) a->first->used = 0;
  a->current = a->first;
  a->used = 0;
}

size_t nnc_arena_high_water(const nnc_arena *a) { return a->high_water; }

static nnc_arena step_arena;
static nnc_arena *current_arena = &step_arena;

nnc_arena *nnc_arena_current(void) { return current_arena; }
nnc_arena *nnc_arena_step(void) { return &step_arena; }

nnc_arena *nnc_arena_set_current(nnc_arena *a) {
  nnc_arena *old = current_arena;
  current_arena = a ? a : &step_arena;
  return old;
}
