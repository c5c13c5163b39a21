/* data/text.c: byte-level text for language modelling (see text.h). */
#include <stdlib.h>
#include <string.h>
#include "core/error.h"
#include "data/text.h"
#include "util/fsutil.h"

nnc_status nnc_text_from_bytes(const uint8_t *bytes, int64_t n, double holdout, bool compact, nnc_text *out) {
  memset(out, 0, sizeof *out);
  if (!(holdout >= 0 && holdout < 1)) return nnc_error(NNC_ERR_ARG, "text: held-out share %g is not in [0, 1)", holdout);
  if (n <= 0) return nnc_error(NNC_ERR_FORMAT, "text: empty");
  out->ids = malloc((size_t)n);
  if (!out->ids) return nnc_error(NNC_ERR_NOMEM, "text: no memory for %lld bytes", (long long)n);
  bool present[256] = {false};
  for (int64_t i = 0; i < n; i++) present[bytes[i]] = true;
  int v = 0;
  for (int c = 0; c < 256; c++) {
    out->id_of[c] = -1;
    if (!compact || present[c]) {
      out->id_of[c] = (int16_t)v;
      out->byte_of[v] = (uint8_t)c;
      v++;
    }
  }
  out->vocab = v;
  for (int64_t i = 0; i < n; i++) out->ids[i] = (uint8_t)out->id_of[bytes[i]];
  out->n = n;
  out->n_train = n - (int64_t)((double)n * holdout);
  return NNC_OK;
}

nnc_status nnc_text_load(const char *path, double holdout, bool compact, nnc_text *out) {
  memset(out, 0, sizeof *out);
  uint8_t *data;
  size_t n;
  nnc_status st = nnc_read_file(path, &data, &n);
  if (st) return st;
  if (n == 0) st = nnc_error(NNC_ERR_FORMAT, "%s: the text file is empty", path);
  else st = nnc_text_from_bytes(data, (int64_t)n, holdout, compact, out);
  free(data);
  return st;
}

void nnc_text_free(nnc_text *t) {
  free(t->ids);
  memset(t, 0, sizeof *t);
}

static void check_batch(const nnc_tensor *tokens, const nnc_tensor *targets, const char *op) {
  char s[96], u[96];
  NNC_CHECK(tokens->dtype == NNC_I64 && targets->dtype == NNC_I64 && tokens->ndim == 2 && nnc_same_shape(tokens, targets) &&
                nnc_is_contiguous(tokens) && nnc_is_contiguous(targets) && tokens->shape[1] > 0,
            op, "tokens %s, targets %s: want contiguous i64 [B, T] of the same shape", nnc_shape_str(tokens, s, 96),
            nnc_shape_str(targets, u, 96));
}

/* window starting at s into row b */
static void window(const nnc_text *t, int64_t s, int64_t T, int64_t *x, int64_t *y) {
  const uint8_t *p = t->ids + s;
  for (int64_t i = 0; i < T; i++) x[i] = p[i], y[i] = p[i + 1];
}

void nnc_text_train_batch(const nnc_text *t, nnc_tensor *tokens, nnc_tensor *targets, nnc_rng *r) {
  check_batch(tokens, targets, "text train batch");
  int64_t B = tokens->shape[0], T = tokens->shape[1];
  NNC_CHECK(t->n_train >= T + 1, "text train batch", "window length %lld needs at least %lld training characters, have %lld",
            (long long)T, (long long)(T + 1), (long long)t->n_train);
  int64_t *x = nnc_i64(tokens), *y = nnc_i64(targets);
  for (int64_t b = 0; b < B; b++) window(t, nnc_rng_below(r, t->n_train - T), T, x + b * T, y + b * T);
  nnc_bump_version(tokens);
  nnc_bump_version(targets);
}

/* all sliding windows of the tail */
static int64_t all_windows(const nnc_text *t, int64_t T, int64_t stride) {
  int64_t tail = t->n - t->n_train;
  return T >= 1 && stride >= 1 && stride <= T && tail >= T + 1 ? (tail - 1 - T) / stride + 1 : 0;
}

int64_t nnc_text_eval_count(const nnc_text *t, int64_t T, int64_t stride, int64_t max_windows) {
  int64_t all = all_windows(t, T, stride);
  return max_windows > 0 && all > max_windows ? max_windows : all;
}

void nnc_text_eval_batch(const nnc_text *t, int64_t first, int64_t stride, int64_t max_windows, nnc_tensor *tokens,
                         nnc_tensor *targets) {
  check_batch(tokens, targets, "text eval batch");
  int64_t B = tokens->shape[0], T = tokens->shape[1];
  NNC_CHECK(stride >= 1 && stride <= T, "text eval batch", "stride %lld: want 1..T (%lld)", (long long)stride, (long long)T);
  int64_t all = all_windows(t, T, stride), count = nnc_text_eval_count(t, T, stride, max_windows);
  NNC_CHECK(first >= 0 && first + B <= count, "text eval batch", "windows %lld..%lld of %lld", (long long)first,
            (long long)(first + B - 1), (long long)count);
  int64_t *x = nnc_i64(tokens), *y = nnc_i64(targets);
  for (int64_t b = 0; b < B; b++) {
    int64_t i = first + b, slot = count == all ? i : i * all / count; /* evenly spread when thinned */
    window(t, t->n_train + slot * stride, T, x + b * T, y + b * T);
    if (slot > 0)
      for (int64_t k = 0; k < T - stride; k++) y[b * T + k] = -1; /* seen by the previous window */
  }
  nnc_bump_version(tokens);
  nnc_bump_version(targets);
}
