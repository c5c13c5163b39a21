/* util/jsonl.c: the compact JSON writer and .jsonl line appends (see jsonl.h). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "util/jsonl.h"

void nnc_json_init(nnc_json_writer *w) { memset(w, 0, sizeof *w); }

void nnc_json_free(nnc_json_writer *w) {
  nnc_sb_free(&w->out);
  memset(w, 0, sizeof *w);
}

void nnc_json_reset(nnc_json_writer *w) {
  nnc_strbuf out = w->out;
  memset(w, 0, sizeof *w);
  out.len = 0;
  if (out.buf) out.buf[0] = 0;
  w->out = out;
}

const char *nnc_json_str(const nnc_json_writer *w) { return nnc_sb_str(&w->out); }

/* Called before every value: checks that a value may go here and writes the comma. */
static void before_value(nnc_json_writer *w, const char *what) {
  if (w->depth == 0) {
    NNC_CHECK(!w->done, "json", "%s after the complete top-level value", what);
    return;
  }
  if (w->kind[w->depth - 1] == 'o') {
    NNC_CHECK(w->after_key, "json", "%s inside an object needs a key first", what);
    w->after_key = false;
    return;
  }
  if (w->has_items[w->depth - 1]) nnc_sb_puts(&w->out, ",");
  w->has_items[w->depth - 1] = true;
}

static void after_value(nnc_json_writer *w) {
  if (w->depth == 0) w->done = true;
}

static void begin(nnc_json_writer *w, char kind) {
  before_value(w, kind == 'o' ? "begin_object" : "begin_array");
  NNC_CHECK(w->depth < NNC_JSON_MAX_DEPTH, "json", "nesting deeper than %d", NNC_JSON_MAX_DEPTH);
  w->kind[w->depth] = kind;
  w->has_items[w->depth] = false;
  w->depth++;
  nnc_sb_puts(&w->out, kind == 'o' ? "{" : "[");
}

static void end(nnc_json_writer *w, char kind) {
  const char *name = kind == 'o' ? "end_object" : "end_array";
  NNC_CHECK(w->depth > 0 && w->kind[w->depth - 1] == kind, "json", "%s without a matching begin", name);
  NNC_CHECK(!w->after_key, "json", "%s right after a key (the key has no value)", name);
  w->depth--;
  nnc_sb_puts(&w->out, kind == 'o' ? "}" : "]");
  after_value(w);
}

void nnc_json_begin_object(nnc_json_writer *w) { begin(w, 'o'); }
void nnc_json_end_object(nnc_json_writer *w) { end(w, 'o'); }
void nnc_json_begin_array(nnc_json_writer *w) { begin(w, 'a'); }
void nnc_json_end_array(nnc_json_writer *w) { end(w, 'a'); }

static void write_escaped(nnc_strbuf *sb, const char *str) {
  const unsigned char *s = (const unsigned char *)str;
  nnc_sb_puts(sb, "\"");
  while (*s) {
    unsigned char c = *s;
    if (c == '"') nnc_sb_puts(sb, "\\\"");
    else if (c == '\\') nnc_sb_puts(sb, "\\\\");
    else if (c == '\n') nnc_sb_puts(sb, "\\n");
    else if (c == '\r') nnc_sb_puts(sb, "\\r");
    else if (c == '\t') nnc_sb_puts(sb, "\\t");
    else if (c == '\b') nnc_sb_puts(sb, "\\b");
    else if (c == '\f') nnc_sb_puts(sb, "\\f");
    else if (c < 0x20 || c == 0x7F) nnc_sb_printf(sb, "\\u%04x", c);
    else {
      int n = nnc_utf8_seq_len((const char *)s);
      if (n == 0) { nnc_sb_puts(sb, "\\ufffd"); s++; continue; }
      nnc_sb_append(sb, (const char *)s, (size_t)n);
      s += n;
      continue;
    }
    s++;
  }
  nnc_sb_puts(sb, "\"");
}

void nnc_json_key(nnc_json_writer *w, const char *key) {
  NNC_CHECK(w->depth > 0 && w->kind[w->depth - 1] == 'o', "json", "key \"%s\" outside an object",
            key ? key : "(null)");
  NNC_CHECK(!w->after_key, "json", "key \"%s\" right after another key", key ? key : "(null)");
  if (w->has_items[w->depth - 1]) nnc_sb_puts(&w->out, ",");
  w->has_items[w->depth - 1] = true;
  write_escaped(&w->out, key ? key : "");
  nnc_sb_puts(&w->out, ":");
  w->after_key = true;
}

void nnc_json_number(nnc_json_writer *w, double v) {
  before_value(w, "number");
  if (!isfinite(v)) {
    nnc_sb_puts(&w->out, "null");
  } else {
    char buf[40];
    for (int prec = 15; prec <= 17; prec++) { /* fewest digits that read back exactly */
      snprintf(buf, sizeof buf, "%.*g", prec, v);
      if (strtod(buf, NULL) == v) break;
    }
    nnc_sb_puts(&w->out, buf);
  }
  after_value(w);
}

void nnc_json_int(nnc_json_writer *w, int64_t v) {
  before_value(w, "int");
  nnc_sb_printf(&w->out, "%" PRId64, v);
  after_value(w);
}

void nnc_json_string(nnc_json_writer *w, const char *s) {
  before_value(w, "string");
  if (s) write_escaped(&w->out, s);
  else nnc_sb_puts(&w->out, "null");
  after_value(w);
}

void nnc_json_bool(nnc_json_writer *w, bool v) {
  before_value(w, "bool");
  nnc_sb_puts(&w->out, v ? "true" : "false");
  after_value(w);
}

void nnc_json_null(nnc_json_writer *w) {
  before_value(w, "null");
  nnc_sb_puts(&w->out, "null");
  after_value(w);
}

void nnc_json_raw(nnc_json_writer *w, const char *json) {
  before_value(w, "raw value");
  nnc_sb_puts(&w->out, json && *json ? json : "null");
  after_value(w);
}

void nnc_json_kv_number(nnc_json_writer *w, const char *key, double v) { nnc_json_key(w, key); nnc_json_number(w, v); }
void nnc_json_kv_int(nnc_json_writer *w, const char *key, int64_t v) { nnc_json_key(w, key); nnc_json_int(w, v); }
void nnc_json_kv_string(nnc_json_writer *w, const char *key, const char *s) { nnc_json_key(w, key); nnc_json_string(w, s); }
void nnc_json_kv_bool(nnc_json_writer *w, const char *key, bool v) { nnc_json_key(w, key); nnc_json_bool(w, v); }

void nnc_json_kv_numbers(nnc_json_writer *w, const char *key, const double *v, int n) {
  nnc_json_key(w, key);
  nnc_json_begin_array(w);
  for (int i = 0; i < n; i++) nnc_json_number(w, v[i]);
  nnc_json_end_array(w);
}

nnc_status nnc_json_append_line(const char *path, const char *json) {
  if (!json) return nnc_error(NNC_ERR_ARG, "append to %s: no JSON text", path);
  if (strchr(json, '\n')) return nnc_error(NNC_ERR_ARG, "append to %s: a .jsonl line cannot hold a newline", path);
  size_t n = strlen(json);
  char *line = nnc_xmalloc(n + 1);
  memcpy(line, json, n);
  line[n] = '\n';
  int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0666);
  if (fd < 0) {
    free(line);
    return nnc_error(NNC_ERR_IO, "cannot open %s for appending: %s", path, strerror(errno));
  }
  size_t done = 0;
  while (done < n + 1) {
    ssize_t got = write(fd, line + done, n + 1 - done);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) {
      nnc_status st = nnc_error(NNC_ERR_IO, "cannot append to %s: %s", path, strerror(errno));
      close(fd);
      free(line);
      return st;
    }
    done += (size_t)got;
  }
  free(line);
  if (close(fd) != 0) return nnc_error(NNC_ERR_IO, "cannot close %s: %s", path, strerror(errno));
  return NNC_OK;
}
