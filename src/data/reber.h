/* data/reber.h: the Reber grammar — a seeded generator of valid and invalid strings for
 * sequence classification, and the automaton that checks them.
 *
 * The (non-embedded) Reber automaton over the seven symbols B E P S T V X: a string is
 * B, then a walk from state 1 to state 6, then E, with the transitions
 *   1: T->2, P->3    2: S->2, X->4    3: T->3, V->5    4: X->3, S->6    5: P->4, V->6
 * A valid string is sampled by taking each state's two transitions with probability 1/2 each
 * (and rejecting walks outside [min_len, max_len]); an invalid one is a valid string with one
 * interior symbol (not the leading B or the final E) replaced by another of the seven such
 * that the automaton rejects the result (positions and symbols are redrawn until it does).
 * So valid and invalid strings have the same length distribution and differ in one symbol.
 *
 * Token ids: the index in "BEPSTVX" (0..6); padding is NNC_REBER_PAD = 7, so an embedding
 * takes vocab NNC_REBER_VOCAB = 8.  One-hot input has NNC_REBER_SYMBOLS = 7 channels and an
 * all-zero vector at padded positions. */
#ifndef NNC_DATA_REBER_H
#define NNC_DATA_REBER_H
#include <stdbool.h>
#include <stdint.h>
#include "core/error.h"
#include "core/rng.h"
#include "core/tensor.h"

#define NNC_REBER_SYMBOLS 7
#define NNC_REBER_PAD 7
#define NNC_REBER_VOCAB 8
extern const char nnc_reber_alphabet[]; /* "BEPSTVX" */

/* true if s[0..len) (letters) is a string of the grammar */
bool nnc_reber_accepts(const char *s, int64_t len);
/* the same on token ids (0..6; anything else rejects) */
bool nnc_reber_accepts_tokens(const int64_t *tok, int64_t len);

/* one valid string of length in [min_len, max_len] into buf (letters, NUL-terminated; needs
 * max_len + 1 bytes); returns its length, or -1 if the bounds are impossible (min_len >
 * max_len, max_len < 5, the shortest string BTXSE) */
int64_t nnc_reber_sample_valid(nnc_rng *r, int64_t min_len, int64_t max_len, char *buf);
/* replaces one interior symbol of the valid string s[0..len) so that the automaton rejects it;
 * returns the position changed */
int64_t nnc_reber_corrupt(nnc_rng *r, char *s, int64_t len);

/* a labelled set: n strings, half valid (label 1) and half invalid (label 0) in random order */
typedef struct {
  int64_t n, max_len; /* max_len = T, the padded length of tokens */
  int64_t *tokens;    /* [n, max_len]: token ids, NNC_REBER_PAD after each string's end */
  int64_t *lengths;   /* [n] true lengths */
  int64_t *labels;    /* [n] 1 valid, 0 invalid */
} nnc_reber_set;

/* builds the set from (seed, stream); NNC_ERR_ARG for impossible settings (n < 2, bounds as
 * above), NNC_ERR_NOMEM if allocation fails */
nnc_status nnc_reber_make(nnc_reber_set *d, int64_t n, int64_t min_len, int64_t max_len, uint64_t seed,
                          uint64_t stream);
void nnc_reber_free(nnc_reber_set *d);

/* a batch of examples idx[0..B) (new tensors in the current arena), padded to T = the longest
 * of them:  x  F32 [B, T, 7] one-hot (zeros at padding) when one_hot, else I64 tokens [B, T];
 * *y I64 [B] labels; *len I64 [B] true lengths (either may be NULL) */
nnc_tensor *nnc_reber_batch(const nnc_reber_set *d, const int64_t *idx, int64_t B, bool one_hot, nnc_tensor **y,
                            nnc_tensor **len);

#endif
