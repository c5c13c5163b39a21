/* core/arena.h: a bump allocator that grows in chunks and resets in O(1).
 *
 * All memory of one training step (activations, tape nodes, gradients of activations) comes
 * from an arena; nnc_arena_reset() at the end of the step makes it free again at once.
 * Chunks are kept across resets, so after the first step a training loop allocates nothing.
 * No size has to be guessed up front: a request larger than what is left opens a new chunk. */
#ifndef NNC_ARENA_H
#define NNC_ARENA_H
#include <stddef.h>

typedef struct nnc_arena_chunk nnc_arena_chunk;
typedef struct nnc_arena {
  nnc_arena_chunk *first, *current; /* chunk list; `current` is the one being filled */
  size_t used;                      /* bytes handed out since the last reset */
  size_t high_water;                /* the largest `used` ever seen */
  size_t reserved;                  /* bytes held in chunks */
} nnc_arena;

void nnc_arena_init(nnc_arena *a);
void nnc_arena_free(nnc_arena *a);            /* returns every chunk to the system */
void *nnc_arena_alloc(nnc_arena *a, size_t bytes); /* 64-byte aligned, uninitialised */
void *nnc_arena_calloc(nnc_arena *a, size_t bytes); /* zeroed */
void nnc_arena_reset(nnc_arena *a);           /* O(1) in the bytes used */
size_t nnc_arena_high_water(const nnc_arena *a);

/* The arena tensors are created in.  nnc has one default step arena; a caller may make
 * another current for a while (e.g. a long-lived arena for a dataset). */
nnc_arena *nnc_arena_current(void);
nnc_arena *nnc_arena_set_current(nnc_arena *a); /* returns the previous one */
nnc_arena *nnc_arena_step(void);                /* the default step arena */

#endif
