/* util/jsonl.h: a tiny JSON writer for result files, and appending lines to .jsonl logs.
 *
 *   nnc_json_writer w;
 *   nnc_json_init(&w);
 *   nnc_json_begin_object(&w);
 *   nnc_json_kv_string(&w, "paper", "dropout");
 *   nnc_json_kv_number(&w, "test_acc", 0.8931);   // NaN and inf are written as null
 *   nnc_json_key(&w, "losses"); nnc_json_begin_array(&w);
 *   for (...) nnc_json_number(&w, loss[i]);
 *   nnc_json_end_array(&w);
 *   nnc_json_end_object(&w);
 *   nnc_json_append_line("runs/results.jsonl", nnc_json_str(&w));
 *   nnc_json_free(&w);
 *
 * Commas are placed automatically.  The output is compact (one line, no newline inside), so
 * it can go straight into a .jsonl file.  Misuse (a key inside an array, a value where a key
 * is needed, unbalanced end_*) is a programming error and stops through nnc_fail.
 * Strings are escaped; bytes that are not valid UTF-8 become U+FFFD, so the output is always
 * valid JSON. */
#ifndef NNC_UTIL_JSONL_H
#define NNC_UTIL_JSONL_H
#include <stdbool.h>
#include <stdint.h>
#include "core/error.h"
#include "util/fsutil.h"

#define NNC_JSON_MAX_DEPTH 64

typedef struct {
  nnc_strbuf out;                         /* the JSON text so far */
  int depth;                              /* open objects/arrays */
  char kind[NNC_JSON_MAX_DEPTH];          /* 'o' object or 'a' array, per level */
  bool has_items[NNC_JSON_MAX_DEPTH];     /* a comma is needed before the next item */
  bool after_key;                         /* a key was written; its value comes next */
  bool done;                              /* a complete top-level value was written */
} nnc_json_writer;

void nnc_json_init(nnc_json_writer *w);
void nnc_json_free(nnc_json_writer *w);
/* Empties the writer for reuse (keeps its buffer). */
void nnc_json_reset(nnc_json_writer *w);
/* The text so far; complete JSON once every begin_* has its end_*. */
const char *nnc_json_str(const nnc_json_writer *w);

void nnc_json_begin_object(nnc_json_writer *w);
void nnc_json_end_object(nnc_json_writer *w);
void nnc_json_begin_array(nnc_json_writer *w);
void nnc_json_end_array(nnc_json_writer *w);
void nnc_json_key(nnc_json_writer *w, const char *key);

void nnc_json_number(nnc_json_writer *w, double v); /* 15-17 digits, reads back exactly */
void nnc_json_int(nnc_json_writer *w, int64_t v);
void nnc_json_string(nnc_json_writer *w, const char *s); /* NULL writes null */
void nnc_json_bool(nnc_json_writer *w, bool v);
void nnc_json_null(nnc_json_writer *w);
/* Writes `json` verbatim as one value (e.g. a nested document made by another writer). */
void nnc_json_raw(nnc_json_writer *w, const char *json);

/* key + value in one call, for the common case inside an object. */
void nnc_json_kv_number(nnc_json_writer *w, const char *key, double v);
void nnc_json_kv_int(nnc_json_writer *w, const char *key, int64_t v);
void nnc_json_kv_string(nnc_json_writer *w, const char *key, const char *s);
void nnc_json_kv_bool(nnc_json_writer *w, const char *key, bool v);
/* An array of n doubles (NaN/inf as null), as key: [..]. */
void nnc_json_kv_numbers(nnc_json_writer *w, const char *key, const double *v, int n);

/* Appends `json` and a newline to a .jsonl file (created if missing) in one write(2), so
 * lines from concurrent writers do not interleave.  NNC_ERR_ARG if json holds a newline. */
nnc_status nnc_json_append_line(const char *path, const char *json);

#endif
