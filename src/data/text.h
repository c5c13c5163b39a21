/* data/text.h: character-level (byte-level) text for language modelling.
 *
 * A text is a file's bytes turned into token ids: either every byte is its own id
 * (vocabulary 256) or the ids are the ranks of the bytes the file holds (vocabulary = the
 * number of distinct bytes, e.g. 114 for the Debian fortunes).  The file is split once: the
 * first (1 - holdout) of it trains, the tail is held out for evaluation, so no training
 * window ever sees a held-out character.
 *
 *   nnc_text txt;
 *   if (nnc_text_load("book.txt", 0.1, true, &txt)) { puts(nnc_last_error()); ... }
 *   nnc_text_train_batch(&txt, tokens, targets, &rng);   // random windows of the training part
 *   int64_t n = nnc_text_eval_count(&txt, T, T / 2, 512); // fixed held-out windows
 *   nnc_text_eval_batch(&txt, first, T / 2, 512, tokens, targets);
 *   nnc_text_free(&txt);
 *
 * A window of length T starting at s gives tokens = ids[s .. s+T) and targets =
 * ids[s+1 .. s+T]: the next character at every position. */
#ifndef NNC_DATA_TEXT_H
#define NNC_DATA_TEXT_H
#include <stdbool.h>
#include <stdint.h>
#include "core/error.h"
#include "core/rng.h"
#include "core/tensor.h"

typedef struct {
  uint8_t *ids;          /* n token ids (malloc'ed) */
  int64_t n;             /* characters (bytes) in the file */
  int64_t n_train;       /* ids[0 .. n_train) train; ids[n_train .. n) are held out */
  int vocab;             /* 256, or the number of distinct bytes */
  int16_t id_of[256];    /* byte -> id, -1 for bytes the file lacks (compact vocabulary) */
  uint8_t byte_of[256];  /* id -> byte */
} nnc_text;

/* Reads path; holdout in [0, 1) is the held-out share of the end of the file; compact picks
 * the file's own byte set as the vocabulary (else all 256 bytes).  NNC_ERR_IO if the file
 * cannot be read (the message names it), NNC_ERR_FORMAT if it is empty, NNC_ERR_ARG for a
 * bad holdout.  On error *out is zeroed. */
nnc_status nnc_text_load(const char *path, double holdout, bool compact, nnc_text *out);
/* The same from bytes in memory (copied). */
nnc_status nnc_text_from_bytes(const uint8_t *bytes, int64_t n, double holdout, bool compact, nnc_text *out);
void nnc_text_free(nnc_text *t); /* safe on a zeroed text */

/* B random training windows of length T (tokens, targets: contiguous i64 [B, T]), each start
 * uniform in [0, n_train - T - 1] drawn from r.  Needs n_train >= T + 1 (else nnc_fail). */
void nnc_text_train_batch(const nnc_text *t, nnc_tensor *tokens, nnc_tensor *targets, nnc_rng *r);

/* The fixed held-out windows: windows of length T whose starts step by `stride` (1..T)
 * through the tail (window i starts at n_train + i*stride).  In window 0 every target counts;
 * in the others only the last `stride` targets do (the rest are -1), so each held-out
 * character after the first is predicted exactly once, with at least T - stride characters
 * of context (a sliding-window evaluation; stride = T gives plain consecutive windows).
 * When there are more than max_windows (> 0), max_windows of them spread evenly over the
 * tail are used.  Returns how many (0 if the tail is shorter than T + 1). */
int64_t nnc_text_eval_count(const nnc_text *t, int64_t T, int64_t stride, int64_t max_windows);
/* windows first .. first+B-1 of that list into tokens and targets ([B, T]) */
void nnc_text_eval_batch(const nnc_text *t, int64_t first, int64_t stride, int64_t max_windows, nnc_tensor *tokens,
                         nnc_tensor *targets);

#endif
