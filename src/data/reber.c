/* data/reber.c: the Reber grammar's automaton, its string generator and labelled sets
 * (see reber.h). */
#include <stdlib.h>
#include <string.h>
#include "data/reber.h"

const char nnc_reber_alphabet[] = "BEPSTVX";

#define START 1
#define FINAL 6
/* the automaton: from state s (1..5) the two edges NEXT[s][k] labelled SYM[s][k] */
static const char SYM[6][2] = {{0, 0}, {'T', 'P'}, {'S', 'X'}, {'T', 'V'}, {'X', 'S'}, {'P', 'V'}};
static const int NEXT[6][2] = {{0, 0}, {2, 3}, {2, 4}, {3, 5}, {3, 6}, {4, 6}};

/* the state after reading c in state s, or 0 (dead) */
static int delta(int s, char c) {
  if (s < START || s >= FINAL) return 0;
  for (int k = 0; k < 2; k++)
    if (SYM[s][k] == c) return NEXT[s][k];
  return 0;
}

bool nnc_reber_accepts(const char *s, int64_t len) {
  if (!s || len < 2 || s[0] != 'B' || s[len - 1] != 'E') return false;
  int state = START;
  for (int64_t i = 1; i < len - 1 && state; i++) state = delta(state, s[i]);
  return state == FINAL;
}

bool nnc_reber_accepts_tokens(const int64_t *tok, int64_t len) {
  if (!tok || len < 2) return false;
  char buf[256];
  char *s = len <= 256 ? buf : malloc((size_t)len);
  if (!s) return false;
  bool ok = true;
  for (int64_t i = 0; i < len && ok; i++) {
    ok = tok[i] >= 0 && tok[i] < NNC_REBER_SYMBOLS;
    if (ok) s[i] = nnc_reber_alphabet[tok[i]];
  }
  ok = ok && nnc_reber_accepts(s, len);
  if (s != buf) free(s);
  return ok;
}

int64_t nnc_reber_sample_valid(nnc_rng *r, int64_t min_len, int64_t max_len, char *buf) {
  if (min_len > max_len || max_len < 5) return -1;
  for (;;) { /* rejection: walks are short (mean length ~8), so a few tries suffice */
    int64_t n = 0;
    buf[n++] = 'B';
    int state = START;
    while (state != FINAL && n < max_len - 1) {
      int k = (int)nnc_rng_below(r, 2);
      buf[n++] = SYM[state][k];
      state = NEXT[state][k];
    }
    if (state != FINAL) continue; /* too long */
    buf[n++] = 'E';
    if (n < min_len) continue;
    buf[n] = 0;
    return n;
  }
}

int64_t nnc_reber_corrupt(nnc_rng *r, char *s, int64_t len) {
  for (;;) {
    int64_t pos = 1 + nnc_rng_below(r, len - 2);
    char old = s[pos], c = nnc_reber_alphabet[nnc_rng_below(r, NNC_REBER_SYMBOLS)];
    if (c == old) continue;
    s[pos] = c;
    if (!nnc_reber_accepts(s, len)) return pos;
    s[pos] = old;
  }
}

static int64_t token_of(char c) { return (int64_t)(strchr(nnc_reber_alphabet, c) - nnc_reber_alphabet); }

nnc_status nnc_reber_make(nnc_reber_set *d, int64_t n, int64_t min_len, int64_t max_len, uint64_t seed,
                          uint64_t stream) {
  memset(d, 0, sizeof *d);
  if (n < 2) return nnc_error(NNC_ERR_ARG, "reber: %lld strings (need at least 2)", (long long)n);
  if (min_len > max_len || max_len < 5 || max_len > 100000)
    return nnc_error(NNC_ERR_ARG, "reber: lengths [%lld, %lld] are impossible (the shortest string has 5 symbols)",
                     (long long)min_len, (long long)max_len);
  d->tokens = malloc(sizeof(int64_t) * (size_t)(n * max_len));
  d->lengths = malloc(sizeof(int64_t) * (size_t)n);
  d->labels = malloc(sizeof(int64_t) * (size_t)n);
  char *buf = malloc((size_t)max_len + 1);
  int64_t *perm = malloc(sizeof(int64_t) * (size_t)n);
  if (!d->tokens || !d->lengths || !d->labels || !buf || !perm) {
    free(buf), free(perm), nnc_reber_free(d);
    return nnc_error(NNC_ERR_NOMEM, "reber: no memory for %lld strings", (long long)n);
  }
  d->n = n;
  d->max_len = max_len;
  nnc_rng r;
  nnc_rng_seed(&r, seed, stream);
  nnc_rng_permutation(&r, perm, n); /* example perm[i] gets label i < n/2 ... */
  for (int64_t i = 0; i < n; i++) {
    int64_t e = perm[i], len = nnc_reber_sample_valid(&r, min_len, max_len, buf);
    int64_t label = i < n / 2 ? 1 : 0;
    if (!label) nnc_reber_corrupt(&r, buf, len);
    int64_t *t = d->tokens + e * max_len;
    for (int64_t j = 0; j < max_len; j++) t[j] = j < len ? token_of(buf[j]) : NNC_REBER_PAD;
    d->lengths[e] = len;
    d->labels[e] = label;
  }
  free(buf);
  free(perm);
  return NNC_OK;
}

void nnc_reber_free(nnc_reber_set *d) {
  free(d->tokens);
  free(d->lengths);
  free(d->labels);
  memset(d, 0, sizeof *d);
}

nnc_tensor *nnc_reber_batch(const nnc_reber_set *d, const int64_t *idx, int64_t B, bool one_hot, nnc_tensor **y,
                            nnc_tensor **len) {
  NNC_CHECK(B >= 1, "reber_batch", "batch of %lld", (long long)B);
  int64_t T = 1;
  for (int64_t b = 0; b < B; b++) {
    NNC_CHECK(idx[b] >= 0 && idx[b] < d->n, "reber_batch", "example %lld of a set of %lld", (long long)idx[b],
              (long long)d->n);
    if (d->lengths[idx[b]] > T) T = d->lengths[idx[b]];
  }
  nnc_tensor *x = one_hot ? nnc_zeros(NNC_F32, NNC_SHAPE(B, T, NNC_REBER_SYMBOLS)) : nnc_empty(NNC_I64, NNC_SHAPE(B, T));
  nnc_tensor *yt = y ? nnc_empty(NNC_I64, NNC_SHAPE(B)) : NULL, *lt = len ? nnc_empty(NNC_I64, NNC_SHAPE(B)) : NULL;
  for (int64_t b = 0; b < B; b++) {
    const int64_t *t = d->tokens + idx[b] * d->max_len;
    for (int64_t j = 0; j < T; j++) {
      if (one_hot) {
        if (t[j] < NNC_REBER_SYMBOLS) nnc_f32(x)[(b * T + j) * NNC_REBER_SYMBOLS + t[j]] = 1.0f;
      } else {
        nnc_i64(x)[b * T + j] = t[j];
      }
    }
    if (yt) nnc_i64(yt)[b] = d->labels[idx[b]];
    if (lt) nnc_i64(lt)[b] = d->lengths[idx[b]];
  }
  if (y) *y = yt;
  if (len) *len = lt;
  return x;
}
