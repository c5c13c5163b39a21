/* tests/test_reber.c: the Reber-grammar generator (data/reber.h).  The automaton against hand
 * examples and against an independent oracle (a POSIX regular expression of the same
 * language); every generated valid string accepted and every invalid one rejected by both;
 * each invalid string one substitution away from a valid one; exact 50/50 classes, length
 * bounds and padding; batches (one-hot and tokens); seeds reproduce; bad settings give
 * NNC_ERR_ARG. */
#include <regex.h>
#include <stdlib.h>
#include "test.h"
#include "data/reber.h"

/* the language as a regular expression: L3 = strings from state 3 to the final state */
#define L3 "(T*VPX)*T*V(V|PS)"
static regex_t oracle;

static bool oracle_accepts(const char *s) { return regexec(&oracle, s, 0, NULL, 0) == 0; }

static void to_letters(const int64_t *tok, int64_t len, char *s) {
  for (int64_t i = 0; i < len; i++) s[i] = tok[i] >= 0 && tok[i] < 7 ? nnc_reber_alphabet[tok[i]] : '?';
  s[len] = 0;
}

/* some single substitution of s makes it valid */
static bool one_away(char *s, int64_t len) {
  for (int64_t i = 0; i < len; i++) {
    char old = s[i];
    for (int c = 0; c < 7; c++) {
      s[i] = nnc_reber_alphabet[c];
      bool ok = nnc_reber_accepts(s, len);
      s[i] = old;
      if (ok && nnc_reber_alphabet[c] != old) return true;
    }
  }
  return false;
}

static void test_automaton(void) {
  const char *good[] = {"BTXSE", "BPVVE", "BTSSXXTVVE", "BPTTVPXTVPSE", "BPVPSE", "BTXXVVE", "BTSXXTTVPSE"};
  const char *bad[] = {"", "B", "BE", "TXSE", "BTXS", "BTXSEE", "BTSE", "BTXXE", "BPVPXE", "BTXSB", "bTXSE", "BTVSE"};
  for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
    CHECKF(nnc_reber_accepts(good[i], (int64_t)strlen(good[i])), "rejects %s", good[i]);
    CHECKF(oracle_accepts(good[i]), "oracle rejects %s", good[i]);
  }
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    CHECKF(!nnc_reber_accepts(bad[i], (int64_t)strlen(bad[i])), "accepts %s", bad[i]);
    CHECKF(!oracle_accepts(bad[i]), "oracle accepts %s", bad[i]);
  }
  CHECK(!nnc_reber_accepts(NULL, 5));
  int64_t tok[] = {0, 4, 6, 3, 1}; /* BTXSE */
  CHECK(nnc_reber_accepts_tokens(tok, 5));
  tok[2] = 7;
  CHECK(!nnc_reber_accepts_tokens(tok, 5));
  /* sampled strings: the automaton and the oracle agree on them and on their corruptions */
  nnc_rng r;
  nnc_rng_seed(&r, 5, 0);
  char buf[64];
  int agree = 0, valid = 0, rejected = 0, n = 3000;
  for (int i = 0; i < n; i++) {
    int64_t len = nnc_reber_sample_valid(&r, 5, 60, buf);
    valid += nnc_reber_accepts(buf, len) && oracle_accepts(buf) && (int64_t)strlen(buf) == len;
    int64_t pos = nnc_reber_corrupt(&r, buf, len);
    rejected += !nnc_reber_accepts(buf, len) && !oracle_accepts(buf) && pos >= 1 && pos <= len - 2;
    /* a random string of the alphabet: both say the same */
    int64_t m = 5 + nnc_rng_below(&r, 8);
    buf[0] = 'B', buf[m - 1] = 'E', buf[m] = 0;
    for (int64_t j = 1; j < m - 1; j++) buf[j] = nnc_reber_alphabet[2 + nnc_rng_below(&r, 5)];
    agree += nnc_reber_accepts(buf, m) == oracle_accepts(buf);
  }
  CHECKF(valid == n, "%d of %d sampled strings valid", valid, n);
  CHECKF(rejected == n, "%d of %d corruptions rejected (interior position)", rejected, n);
  CHECKF(agree == n, "automaton and oracle agree on %d of %d random strings", agree, n);
  CHECK(nnc_reber_sample_valid(&r, 10, 9, buf) == -1);
  CHECK(nnc_reber_sample_valid(&r, 1, 4, buf) == -1);
}

static void test_set(void) {
  enum { N = 4000, MIN = 10, MAX = 54 };
  nnc_reber_set d, e;
  CHECK(nnc_reber_make(&d, N, MIN, MAX, 7, 0) == NNC_OK);
  CHECK(d.n == N && d.max_len == MAX);
  int64_t pos = 0, valid_ok = 0, invalid_ok = 0, pad_ok = 0, near = 0, len_ok = 0, sum_len = 0, max_seen = 0;
  char s[MAX + 1];
  for (int64_t i = 0; i < N; i++) {
    const int64_t *t = d.tokens + i * MAX;
    int64_t len = d.lengths[i];
    len_ok += len >= MIN && len <= MAX;
    sum_len += len;
    if (len > max_seen) max_seen = len;
    bool pads = true;
    for (int64_t j = len; j < MAX; j++) pads = pads && t[j] == NNC_REBER_PAD;
    pad_ok += pads;
    to_letters(t, len, s);
    bool a = nnc_reber_accepts_tokens(t, len), o = oracle_accepts(s);
    if (d.labels[i] == 1) {
      pos++;
      valid_ok += a && o;
    } else {
      invalid_ok += !a && !o;
      near += one_away(s, len);
    }
  }
  CHECKF(pos == N / 2, "%lld valid of %d", (long long)pos, N);
  CHECKF(valid_ok == N / 2, "%lld of %d valid strings accepted", (long long)valid_ok, N / 2);
  CHECKF(invalid_ok == N / 2, "%lld of %d invalid strings rejected", (long long)invalid_ok, N / 2);
  CHECKF(near == N / 2, "%lld of %d invalid strings one substitution from valid", (long long)near, N / 2);
  CHECK(len_ok == N && pad_ok == N);
  printf("reber: %d strings, lengths %d..%lld, mean %.1f\n", N, MIN, (long long)max_seen, (double)sum_len / N);
  /* the two classes are interleaved, not in blocks */
  int64_t first_half = 0;
  for (int64_t i = 0; i < N / 2; i++) first_half += d.labels[i];
  CHECKF(first_half > N / 4 - 150 && first_half < N / 4 + 150, "%lld valid in the first half", (long long)first_half);

  /* seeds reproduce; another seed or stream differs */
  CHECK(nnc_reber_make(&e, N, MIN, MAX, 7, 0) == NNC_OK);
  CHECK(!memcmp(d.tokens, e.tokens, sizeof(int64_t) * N * MAX) && !memcmp(d.labels, e.labels, sizeof(int64_t) * N) &&
        !memcmp(d.lengths, e.lengths, sizeof(int64_t) * N));
  nnc_reber_free(&e);
  CHECK(nnc_reber_make(&e, N, MIN, MAX, 8, 0) == NNC_OK);
  CHECK(memcmp(d.tokens, e.tokens, sizeof(int64_t) * N * MAX) != 0);
  nnc_reber_free(&e);
  CHECK(nnc_reber_make(&e, N, MIN, MAX, 7, 1) == NNC_OK);
  CHECK(memcmp(d.tokens, e.tokens, sizeof(int64_t) * N * MAX) != 0);
  nnc_reber_free(&e);

  /* batches: padded to the longest, one-hot rows sum to 1 on real steps and 0 on padding */
  int64_t idx[5] = {3, 0, 17, 4000 - 1, 42}, T = 0;
  for (int b = 0; b < 5; b++)
    if (d.lengths[idx[b]] > T) T = d.lengths[idx[b]];
  nnc_tensor *y, *len;
  nnc_tensor *x = nnc_reber_batch(&d, idx, 5, true, &y, &len);
  CHECK(x->ndim == 3 && x->shape[0] == 5 && x->shape[1] == T && x->shape[2] == NNC_REBER_SYMBOLS);
  bool rows = true, match = true;
  for (int b = 0; b < 5; b++) {
    match = match && nnc_i64(y)[b] == d.labels[idx[b]] && nnc_i64(len)[b] == d.lengths[idx[b]];
    for (int64_t t = 0; t < T; t++) {
      float sum = 0;
      for (int c = 0; c < NNC_REBER_SYMBOLS; c++) sum += nnc_f32(x)[(b * T + t) * NNC_REBER_SYMBOLS + c];
      int64_t tok = d.tokens[idx[b] * MAX + t];
      rows = rows && sum == (t < d.lengths[idx[b]] ? 1.0f : 0.0f) &&
             (tok == NNC_REBER_PAD || nnc_f32(x)[(b * T + t) * NNC_REBER_SYMBOLS + tok] == 1.0f);
    }
  }
  CHECK(rows && match);
  nnc_tensor *xt = nnc_reber_batch(&d, idx, 5, false, NULL, NULL);
  CHECK(xt->dtype == NNC_I64 && xt->ndim == 2 && xt->shape[1] == T);
  CHECK(nnc_i64(xt)[2 * T + 0] == 0 && nnc_i64(xt)[2 * T + d.lengths[idx[2]] - 1] == 1); /* B ... E */
  int64_t bad_idx = N;
  EXPECT_ABORT(nnc_reber_batch(&d, &bad_idx, 1, true, NULL, NULL), "reber_batch");
  nnc_step_end();
  nnc_reber_free(&d);

  /* bad settings */
  CHECK(nnc_reber_make(&e, 1, MIN, MAX, 0, 0) == NNC_ERR_ARG);
  CHECK(nnc_reber_make(&e, 10, 20, 10, 0, 0) == NNC_ERR_ARG);
  CHECK(nnc_reber_make(&e, 10, 1, 4, 0, 0) == NNC_ERR_ARG);
  CHECK(e.tokens == NULL);
}

int main(void) {
  nnc_init();
  if (regcomp(&oracle, "^B(TS*X(S|X" L3 ")|P" L3 ")E$", REG_EXTENDED | REG_NOSUB)) {
    printf("cannot compile the oracle\n");
    return 1;
  }
  test_automaton();
  test_set();
  regfree(&oracle);
  return test_summary();
}
