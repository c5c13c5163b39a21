/* tests/test_tasks.c: the synthetic sequence tasks and the text windows: each generator's
 * invariants (parity and count labels, recall answers consistent with the pairs, copy targets
 * equal to the inputs, sorted outputs sorted and a permutation of the inputs, text windows
 * equal to the file), determinism for a seed, and bad settings stopping with a message. */
#include <stdlib.h>
#include <unistd.h>
#include "test.h"
#include "data/tasks.h"
#include "data/text.h"

enum { B = 16 };

static nnc_tensor *i64(int64_t b, int64_t t) { return nnc_empty(NNC_I64, NNC_SHAPE(b, t)); }

/* every token within the vocabulary, every target -1 or a class */
static bool in_range(const nnc_task *task, const nnc_tensor *x, const nnc_tensor *y) {
  int64_t V = nnc_task_vocab(task), C = nnc_task_classes(task);
  for (int64_t i = 0; i < nnc_numel(x); i++) {
    int64_t a = nnc_i64(x)[i], b = nnc_i64(y)[i];
    if (a < 0 || a >= V || b < -1 || b >= C) return false;
  }
  return true;
}

static bool same(const nnc_tensor *a, const nnc_tensor *b) {
  return memcmp(nnc_i64(a), nnc_i64(b), (size_t)nnc_numel(a) * sizeof(int64_t)) == 0;
}

/* two fills from the same seed agree, from another seed differ */
static void check_determinism(const nnc_task *task, int64_t T) {
  nnc_tensor *x1 = i64(B, T), *y1 = i64(B, T), *x2 = i64(B, T), *y2 = i64(B, T);
  nnc_rng r1, r2;
  nnc_rng_seed(&r1, 42, 7);
  nnc_rng_seed(&r2, 42, 7);
  nnc_task_fill(task, x1, y1, &r1);
  nnc_task_fill(task, x2, y2, &r2);
  CHECKF(same(x1, x2) && same(y1, y2), "%s: same seed, different data", nnc_task_name(task->kind));
  nnc_rng_seed(&r2, 43, 7);
  nnc_task_fill(task, x2, y2, &r2);
  CHECKF(!same(x1, x2), "%s: another seed gave the same tokens", nnc_task_name(task->kind));
  CHECK(in_range(task, x1, y1));
}

static void test_parity_count(void) {
  const int64_t T = 37;
  nnc_rng r;
  nnc_rng_seed(&r, 1, 0);
  for (int dense = 0; dense <= 1; dense++)
    for (int64_t m = 2; m <= 5; m++) {
      nnc_task task = {.kind = m == 2 ? NNC_TASK_PARITY : NNC_TASK_COUNT, .modulus = m, .dense = dense};
      nnc_tensor *x = i64(B, T), *y = i64(B, T);
      nnc_task_fill(&task, x, y, &r);
      bool ok = true;
      int64_t ones = 0, zeros = 0;
      for (int64_t b = 0; b < B; b++) {
        int64_t c = 0;
        for (int64_t t = 0; t < T; t++) {
          int64_t bit = nnc_i64(x)[b * T + t], lab = nnc_i64(y)[b * T + t];
          ok &= bit == 0 || bit == 1;
          c += bit;
          ones += bit, zeros += !bit;
          if (dense || t == T - 1) ok &= lab == c % m;
          else ok &= lab == -1;
        }
        if (m == 2) { /* the label is the XOR of the bits */
          int64_t x_or = 0;
          for (int64_t t = 0; t < T; t++) x_or ^= nnc_i64(x)[b * T + t];
          ok &= nnc_i64(y)[b * T + T - 1] == x_or;
        }
      }
      CHECKF(ok, "count mod %lld dense %d: a wrong label", (long long)m, dense);
      CHECKF(ones > B * T / 4 && zeros > B * T / 4, "bits not balanced: %lld ones, %lld zeros", (long long)ones,
             (long long)zeros);
      CHECK(in_range(&task, x, y));
      check_determinism(&task, T);
      nnc_step_end();
    }
  nnc_task p = {.kind = NNC_TASK_PARITY};
  CHECK(nnc_task_vocab(&p) == 2 && nnc_task_classes(&p) == 2);
}

static void test_mqar(void) {
  nnc_rng r;
  nnc_rng_seed(&r, 2, 0);
  struct { int64_t pairs, queries, kv, vv, T; } cases[] = {{4, 0, 0, 0, 64}, {8, 3, 16, 5, 40}, {3, 10, 3, 2, 16}, {1, 1, 2, 2, 3}};
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    nnc_task task = {.kind = NNC_TASK_MQAR, .pairs = cases[c].pairs, .queries = cases[c].queries,
                     .key_vocab = cases[c].kv, .value_vocab = cases[c].vv};
    int64_t T = cases[c].T, P = task.pairs, Q = task.queries ? task.queries : P;
    int64_t K = task.key_vocab ? task.key_vocab : 64, V = task.value_vocab ? task.value_vocab : 64;
    CHECK(nnc_task_vocab(&task) == 1 + K + V && nnc_task_classes(&task) == 1 + K + V);
    CHECK(nnc_task_min_len(&task) == 2 * P + Q);
    nnc_tensor *x = i64(B, T), *y = i64(B, T);
    nnc_task_fill(&task, x, y, &r);
    bool ok = true, distinct_keys = true, distinct_queries = true;
    for (int64_t b = 0; b < B; b++) {
      const int64_t *xb = nnc_i64(x) + b * T, *yb = nnc_i64(y) + b * T;
      /* the pairs: keys in 1..K, distinct; values in K+1..K+V; no targets there */
      for (int64_t i = 0; i < P; i++) {
        ok &= xb[2 * i] >= 1 && xb[2 * i] <= K && xb[2 * i + 1] > K && xb[2 * i + 1] <= K + V;
        ok &= yb[2 * i] == -1 && yb[2 * i + 1] == -1;
        for (int64_t j = 0; j < i; j++) distinct_keys &= xb[2 * i] != xb[2 * j];
      }
      /* after the pairs: filler 0 without a target, or a key whose target is its value */
      int64_t nq = 0;
      for (int64_t t = 2 * P; t < T; t++) {
        if (xb[t] == 0) {
          ok &= yb[t] == -1;
          continue;
        }
        nq++;
        int64_t answer = -2;
        for (int64_t i = 0; i < P; i++)
          if (xb[2 * i] == xb[t]) answer = xb[2 * i + 1];
        ok &= answer == yb[t];
        if (Q <= P)
          for (int64_t s = 2 * P; s < t; s++) distinct_queries &= xb[s] != xb[t];
      }
      ok &= nq == Q;
    }
    CHECKF(ok, "mqar case %zu: a query whose target is not its pair's value", c);
    CHECKF(distinct_keys, "mqar case %zu: repeated keys", c);
    CHECKF(distinct_queries, "mqar case %zu: a key queried twice", c);
    CHECK(in_range(&task, x, y));
    check_determinism(&task, T);
    nnc_step_end();
  }
}

static void test_copy_sort(void) {
  nnc_rng r;
  nnc_rng_seed(&r, 3, 0);
  for (int sort = 0; sort <= 1; sort++)
    for (int64_t T = 2; T <= 33; T += 31)
      for (int64_t len = 0; len <= 1; len++) {
        nnc_task task = {.kind = sort ? NNC_TASK_SORT : NNC_TASK_COPY, .length = len ? T / 2 - (T > 2) : 0,
                         .items = sort ? 7 : 0};
        int64_t n = task.length ? task.length : T / 2, I = task.items ? task.items : 10;
        CHECK(nnc_task_vocab(&task) == I + 2);
        nnc_tensor *x = i64(B, T), *y = i64(B, T);
        nnc_task_fill(&task, x, y, &r);
        bool ok = true;
        for (int64_t b = 0; b < B; b++) {
          const int64_t *xb = nnc_i64(x) + b * T, *yb = nnc_i64(y) + b * T;
          for (int64_t t = 0; t < n; t++) ok &= xb[t] >= 0 && xb[t] < I && yb[t] == -1;
          ok &= xb[n] == I; /* the delimiter */
          const int64_t *out = yb + n;
          if (!sort) {
            for (int64_t i = 0; i < n; i++) ok &= out[i] == xb[i]; /* copy targets equal the inputs */
          } else {
            for (int64_t i = 1; i < n; i++) ok &= out[i - 1] <= out[i]; /* sorted */
            int64_t hist[16] = {0};                                    /* a permutation of the inputs */
            for (int64_t i = 0; i < n; i++) hist[xb[i]]++, hist[out[i]]--;
            for (int k = 0; k < 16; k++) ok &= hist[k] == 0;
          }
          /* teacher forcing: the input after the delimiter is the previous target */
          for (int64_t i = 0; i + 1 < n; i++) ok &= xb[n + 1 + i] == out[i];
          for (int64_t t = 2 * n; t < T; t++) ok &= xb[t] == I + 1 && yb[t] == -1;
        }
        CHECKF(ok, "%s T %lld length %lld: layout or values wrong", sort ? "sort" : "copy", (long long)T, (long long)n);
        CHECK(in_range(&task, x, y));
        if (T > 2) check_determinism(&task, T);
        nnc_step_end();
      }
}

static void test_bad_settings(void) {
  nnc_rng r;
  nnc_rng_seed(&r, 4, 0);
  nnc_tensor *x = i64(2, 8), *y = i64(2, 8), *f = nnc_empty(NNC_F32, NNC_SHAPE(2, 8)), *z = i64(2, 7);
  EXPECT_ABORT(nnc_task_mqar(x, y, 4, 4, 64, 64, &r), "T >= 2*pairs + queries");
  EXPECT_ABORT(nnc_task_mqar(x, y, 3, 1, 2, 4, &r), "keys >= pairs");
  EXPECT_ABORT(nnc_task_copy(x, y, 5, 10, &r), "length <= T/2");
  EXPECT_ABORT(nnc_task_count(x, y, 1, false, &r), "modulus");
  EXPECT_ABORT(nnc_task_parity(f, y, false, &r), "contiguous i64");
  EXPECT_ABORT(nnc_task_parity(x, z, false, &r), "same shape");
  nnc_step_end();
}

static void test_text(void) {
  char dir[] = "/tmp/nnc_test_tasks_XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  char path[512];
  snprintf(path, sizeof path, "%s/text.txt", dir);
  /* 2000 bytes of a small alphabet, with one byte only in the tail */
  enum { N = 2000 };
  uint8_t bytes[N];
  for (int i = 0; i < N; i++) bytes[i] = (uint8_t)("abcdefgh ij\n"[(i * 7 + i / 13) % 12]);
  bytes[N - 5] = 0xE9;
  FILE *fp = fopen(path, "wb");
  fwrite(bytes, 1, N, fp);
  fclose(fp);

  nnc_text t;
  CHECK(nnc_text_load(path, 0.1, true, &t) == NNC_OK);
  CHECK(t.n == N && t.n_train == N - 200);
  CHECK(t.vocab == 13); /* 12 letters + the tail's byte */
  bool map_ok = true;
  for (int64_t i = 0; i < N; i++) map_ok &= t.byte_of[t.ids[i]] == bytes[i] && t.id_of[bytes[i]] == t.ids[i];
  for (int i = 1; i < t.vocab; i++) map_ok &= t.byte_of[i - 1] < t.byte_of[i]; /* ids in byte order */
  CHECK(map_ok);

  /* training windows: consecutive characters of the training part, target = next character */
  const int64_t T = 16;
  nnc_rng r;
  nnc_rng_seed(&r, 5, 0);
  nnc_tensor *x = i64(64, T), *y = i64(64, T);
  nnc_text_train_batch(&t, x, y, &r);
  bool win_ok = true;
  for (int64_t b = 0; b < 64; b++) {
    const int64_t *xb = nnc_i64(x) + b * T, *yb = nnc_i64(y) + b * T;
    int64_t found = -1;
    for (int64_t s = 0; s + T < t.n_train && found < 0; s++) { /* find it in the training part */
      bool m = true;
      for (int64_t i = 0; i < T && m; i++) m = bytes[s + i] == t.byte_of[xb[i]] && bytes[s + i + 1] == t.byte_of[yb[i]];
      if (m) found = s;
    }
    win_ok &= found >= 0;
  }
  CHECKF(win_ok, "a training window is not a piece of the file's training part");
  nnc_tensor *x2 = i64(64, T), *y2 = i64(64, T);
  nnc_rng_seed(&r, 5, 0);
  nnc_text_train_batch(&t, x2, y2, &r);
  CHECK(same(x, x2) && same(y, y2));

  /* held-out windows, stride T: consecutive windows of the tail, each target the next byte */
  int64_t all = nnc_text_eval_count(&t, T, T, 0);
  CHECK(all == (200 - 1) / T);
  nnc_tensor *ex = i64(all, T), *ey = i64(all, T);
  nnc_text_eval_batch(&t, 0, T, 0, ex, ey);
  bool ev_ok = true;
  for (int64_t w = 0; w < all; w++)
    for (int64_t i = 0; i < T; i++) {
      int64_t s = t.n_train + w * T + i;
      ev_ok &= t.byte_of[nnc_i64(ex)[w * T + i]] == bytes[s] && t.byte_of[nnc_i64(ey)[w * T + i]] == bytes[s + 1];
    }
  CHECK(ev_ok);
  /* thinned: 3 windows spread over the tail, each one of the full list */
  CHECK(nnc_text_eval_count(&t, T, T, 3) == 3);
  nnc_tensor *tx = i64(1, T), *ty = i64(1, T);
  nnc_text_eval_batch(&t, 2, T, 3, tx, ty);
  CHECK(memcmp(nnc_i64(tx), nnc_i64(ex) + (2 * all / 3) * T, T * sizeof(int64_t)) == 0);
  EXPECT_ABORT(nnc_text_eval_batch(&t, 2, T, 3, ex, ey), "windows");
  EXPECT_ABORT(nnc_text_eval_batch(&t, 0, T + 1, 3, tx, ty), "stride");

  /* sliding windows, stride T/4: every held-out character after the first is a target once,
   * the right one, with at least 3T/4 characters before it in its window (but in window 0) */
  const int64_t S = T / 4;
  int64_t ns = nnc_text_eval_count(&t, T, S, 0);
  CHECK(ns == (200 - 1 - T) / S + 1);
  nnc_tensor *sx = i64(ns, T), *sy = i64(ns, T);
  nnc_text_eval_batch(&t, 0, S, 0, sx, sy);
  int hits[200] = {0};
  bool sl_ok = true;
  for (int64_t w = 0; w < ns; w++)
    for (int64_t i = 0; i < T; i++) {
      int64_t pos = t.n_train + w * S + i; /* the input character's place in the file */
      sl_ok &= t.byte_of[nnc_i64(sx)[w * T + i]] == bytes[pos];
      int64_t yv = nnc_i64(sy)[w * T + i];
      if (yv < 0) continue;
      sl_ok &= t.byte_of[yv] == bytes[pos + 1] && (w == 0 || i >= T - S);
      hits[pos + 1 - t.n_train]++;
    }
  CHECK(sl_ok);
  bool once = true;
  int64_t last = t.n_train + (ns - 1) * S + T; /* the last character predicted */
  for (int64_t k = 1; k <= last - t.n_train; k++) once &= hits[k] == 1;
  CHECKF(once && hits[0] == 0, "a held-out character is predicted %s", once ? "at the first place" : "not exactly once");
  CHECK(N - last <= S); /* at most a stride left out at the end */
  nnc_text_free(&t);

  /* full byte vocabulary: ids are the bytes */
  CHECK(nnc_text_load(path, 0.5, false, &t) == NNC_OK);
  CHECK(t.vocab == 256 && t.ids[N - 5] == 0xE9 && t.n_train == N / 2);
  nnc_text_free(&t);

  /* errors: missing file, empty file, bad holdout, too short for a window */
  char missing[600];
  snprintf(missing, sizeof missing, "%s/none.txt", dir);
  CHECK(nnc_text_load(missing, 0.1, true, &t) == NNC_ERR_IO && strstr(nnc_last_error(), "none.txt"));
  CHECK(t.ids == NULL);
  char empty[600];
  snprintf(empty, sizeof empty, "%s/empty.txt", dir);
  fclose(fopen(empty, "wb"));
  CHECK(nnc_text_load(empty, 0.1, true, &t) == NNC_ERR_FORMAT && strstr(nnc_last_error(), "empty"));
  CHECK(nnc_text_from_bytes(bytes, N, 1.0, true, &t) == NNC_ERR_ARG);
  CHECK(nnc_text_from_bytes(bytes, 10, 0.5, true, &t) == NNC_OK);
  CHECK(nnc_text_eval_count(&t, 16, 8, 0) == 0);
  EXPECT_ABORT(nnc_text_train_batch(&t, x, y, &r), "training characters");
  nnc_text_free(&t);
  remove(path);
  remove(empty);
  rmdir(dir);
  nnc_step_end();
}

int main(void) {
  nnc_init();
  test_parity_count();
  test_mqar();
  test_copy_sort();
  test_bad_settings();
  test_text();
  return test_summary();
}
