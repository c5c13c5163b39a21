/* data/tasks.c: seeded synthetic sequence tasks (see tasks.h). */
#include <stdlib.h>
#include <string.h>
#include "core/error.h"
#include "data/tasks.h"

#define DEFAULT_KV_VOCAB 64
#define DEFAULT_ITEMS 10

const char *nnc_task_name(nnc_task_kind kind) {
  switch (kind) {
  case NNC_TASK_PARITY: return "parity";
  case NNC_TASK_COUNT: return "count";
  case NNC_TASK_MQAR: return "mqar";
  case NNC_TASK_COPY: return "copy";
  case NNC_TASK_SORT: return "sort";
  }
  return "?";
}

static int64_t or_default(int64_t v, int64_t d) { return v > 0 ? v : d; }

int64_t nnc_task_vocab(const nnc_task *t) {
  switch (t->kind) {
  case NNC_TASK_PARITY:
  case NNC_TASK_COUNT: return 2;
  case NNC_TASK_MQAR: return 1 + or_default(t->key_vocab, DEFAULT_KV_VOCAB) + or_default(t->value_vocab, DEFAULT_KV_VOCAB);
  case NNC_TASK_COPY:
  case NNC_TASK_SORT: return or_default(t->items, DEFAULT_ITEMS) + 2;
  }
  return 0;
}

int64_t nnc_task_classes(const nnc_task *t) {
  if (t->kind == NNC_TASK_PARITY) return 2;
  if (t->kind == NNC_TASK_COUNT) return t->modulus;
  return nnc_task_vocab(t);
}

int64_t nnc_task_min_len(const nnc_task *t) {
  switch (t->kind) {
  case NNC_TASK_PARITY:
  case NNC_TASK_COUNT: return 1;
  case NNC_TASK_MQAR: return 2 * t->pairs + or_default(t->queries, t->pairs);
  case NNC_TASK_COPY:
  case NNC_TASK_SORT: return t->length > 0 ? 2 * t->length : 2;
  }
  return 0;
}

/* checks tokens/targets and returns B and T */
static void check_pair(const nnc_tensor *tokens, const nnc_tensor *targets, const char *op, int64_t *B, int64_t *T) {
  char s[96], u[96];
  NNC_CHECK(tokens->dtype == NNC_I64 && targets->dtype == NNC_I64 && tokens->ndim == 2 && nnc_same_shape(tokens, targets) &&
                nnc_is_contiguous(tokens) && nnc_is_contiguous(targets) && tokens->shape[1] > 0,
            op, "tokens %s %s, targets %s %s: want contiguous i64 [B, T] of the same shape, T >= 1",
            nnc_dtype_name(tokens->dtype), nnc_shape_str(tokens, s, 96), nnc_dtype_name(targets->dtype),
            nnc_shape_str(targets, u, 96));
  *B = tokens->shape[0];
  *T = tokens->shape[1];
}

static void done(nnc_tensor *tokens, nnc_tensor *targets) {
  nnc_bump_version(tokens);
  nnc_bump_version(targets);
}

void nnc_task_count(nnc_tensor *tokens, nnc_tensor *targets, int64_t modulus, bool dense, nnc_rng *r) {
  int64_t B, T;
  check_pair(tokens, targets, "task count", &B, &T);
  NNC_CHECK(modulus >= 2, "task count", "modulus %lld: want >= 2", (long long)modulus);
  int64_t *x = nnc_i64(tokens), *y = nnc_i64(targets);
  for (int64_t b = 0; b < B; b++) {
    int64_t c = 0;
    for (int64_t t = 0; t < T; t++) {
      int64_t bit = (int64_t)(nnc_rng_u64(r) >> 63);
      c = (c + bit) % modulus;
      x[b * T + t] = bit;
      y[b * T + t] = dense || t == T - 1 ? c : -1;
    }
  }
  done(tokens, targets);
}

void nnc_task_parity(nnc_tensor *tokens, nnc_tensor *targets, bool dense, nnc_rng *r) {
  nnc_task_count(tokens, targets, 2, dense, r);
}

void nnc_task_mqar(nnc_tensor *tokens, nnc_tensor *targets, int64_t pairs, int64_t queries, int64_t key_vocab,
                   int64_t value_vocab, nnc_rng *r) {
  int64_t B, T;
  check_pair(tokens, targets, "task mqar", &B, &T);
  queries = or_default(queries, pairs);
  key_vocab = or_default(key_vocab, DEFAULT_KV_VOCAB);
  value_vocab = or_default(value_vocab, DEFAULT_KV_VOCAB);
  NNC_CHECK(pairs >= 1 && key_vocab >= pairs && T >= 2 * pairs + queries, "task mqar",
            "%lld pairs, %lld queries, %lld keys, %lld values, T %lld: want pairs >= 1, keys >= pairs and "
            "T >= 2*pairs + queries",
            (long long)pairs, (long long)queries, (long long)key_vocab, (long long)value_vocab, (long long)T);
  int64_t *x = nnc_i64(tokens), *y = nnc_i64(targets);
  int64_t slots = T - 2 * pairs;
  /* scratch: keys (a partial shuffle of the key vocabulary), values, query positions */
  int64_t *keys = nnc_xmalloc((size_t)key_vocab * sizeof *keys);
  int64_t *vals = nnc_xmalloc((size_t)pairs * sizeof *vals);
  int64_t *order = nnc_xmalloc((size_t)pairs * sizeof *order);
  int64_t *pos = nnc_xmalloc((size_t)slots * sizeof *pos);
  for (int64_t b = 0; b < B; b++) {
    int64_t *xb = x + b * T, *yb = y + b * T;
    for (int64_t t = 0; t < T; t++) xb[t] = 0, yb[t] = -1;
    /* distinct keys: the first `pairs` entries of a partial Fisher-Yates shuffle */
    for (int64_t k = 0; k < key_vocab; k++) keys[k] = k;
    for (int64_t i = 0; i < pairs; i++) {
      int64_t j = i + nnc_rng_below(r, key_vocab - i), tmp = keys[i];
      keys[i] = keys[j], keys[j] = tmp;
    }
    for (int64_t i = 0; i < pairs; i++) {
      vals[i] = nnc_rng_below(r, value_vocab);
      xb[2 * i] = 1 + keys[i];
      xb[2 * i + 1] = 1 + key_vocab + vals[i];
    }
    /* query positions: `queries` distinct slots after the pairs */
    for (int64_t s = 0; s < slots; s++) pos[s] = 2 * pairs + s;
    for (int64_t i = 0; i < queries; i++) {
      int64_t j = i + nnc_rng_below(r, slots - i), tmp = pos[i];
      pos[i] = pos[j], pos[j] = tmp;
    }
    /* which pair each query asks for: distinct (a shuffle) while queries <= pairs */
    for (int64_t i = 0; i < queries; i++) {
      int64_t k;
      if (queries <= pairs) {
        if (i == 0)
          for (int64_t q = 0; q < pairs; q++) order[q] = q;
        int64_t j = i + nnc_rng_below(r, pairs - i), tmp = order[i];
        order[i] = order[j], order[j] = tmp;
        k = order[i];
      } else {
        k = nnc_rng_below(r, pairs);
      }
      xb[pos[i]] = 1 + keys[k];
      yb[pos[i]] = 1 + key_vocab + vals[k];
    }
  }
  free(keys);
  free(vals);
  free(order);
  free(pos);
  done(tokens, targets);
}

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

static void copy_or_sort(nnc_tensor *tokens, nnc_tensor *targets, int64_t length, int64_t items, bool sort, nnc_rng *r) {
  const char *op = sort ? "task sort" : "task copy";
  int64_t B, T;
  check_pair(tokens, targets, op, &B, &T);
  int64_t n = length > 0 ? length : T / 2;
  items = or_default(items, DEFAULT_ITEMS);
  NNC_CHECK(n >= 1 && 2 * n <= T && items >= 1, op, "length %lld, items %lld, T %lld: want 1 <= length <= T/2",
            (long long)n, (long long)items, (long long)T);
  int64_t SEP = items, PAD = items + 1;
  int64_t *x = nnc_i64(tokens), *y = nnc_i64(targets);
  int64_t *out = nnc_xmalloc((size_t)n * sizeof *out);
  for (int64_t b = 0; b < B; b++) {
    int64_t *xb = x + b * T, *yb = y + b * T;
    for (int64_t i = 0; i < n; i++) out[i] = xb[i] = nnc_rng_below(r, items);
    if (sort) qsort(out, (size_t)n, sizeof *out, cmp_i64);
    for (int64_t t = n; t < T; t++) xb[t] = PAD, yb[t] = -1;
    for (int64_t t = 0; t < n; t++) yb[t] = -1;
    xb[n] = SEP;
    for (int64_t i = 0; i < n; i++) {
      yb[n + i] = out[i];
      if (i + 1 < n) xb[n + 1 + i] = out[i];
    }
  }
  free(out);
  done(tokens, targets);
}

void nnc_task_copy(nnc_tensor *tokens, nnc_tensor *targets, int64_t length, int64_t items, nnc_rng *r) {
  copy_or_sort(tokens, targets, length, items, false, r);
}

void nnc_task_sort(nnc_tensor *tokens, nnc_tensor *targets, int64_t length, int64_t items, nnc_rng *r) {
  copy_or_sort(tokens, targets, length, items, true, r);
}

void nnc_task_fill(const nnc_task *t, nnc_tensor *tokens, nnc_tensor *targets, nnc_rng *r) {
  switch (t->kind) {
  case NNC_TASK_PARITY: nnc_task_parity(tokens, targets, t->dense, r); return;
  case NNC_TASK_COUNT: nnc_task_count(tokens, targets, t->modulus, t->dense, r); return;
  case NNC_TASK_MQAR: nnc_task_mqar(tokens, targets, t->pairs, t->queries, t->key_vocab, t->value_vocab, r); return;
  case NNC_TASK_COPY: nnc_task_copy(tokens, targets, t->length, t->items, r); return;
  case NNC_TASK_SORT: nnc_task_sort(tokens, targets, t->length, t->items, r); return;
  }
  NNC_FAIL("task", "unknown task kind %d", (int)t->kind);
}
