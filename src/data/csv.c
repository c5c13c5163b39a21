/* data/csv.c: numeric CSV reader and writer (see csv.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "data/batch.h"
#include "data/csv.h"
#include "util/fsutil.h"

/* parses one trimmed field [s, e) as a number; 0 if it is not one */
static int parse_number(const char *s, const char *e, double *v) {
  char buf[128];
  size_t n = (size_t)(e - s);
  if (n == 0 || n >= sizeof buf) return 0;
  memcpy(buf, s, n);
  buf[n] = 0;
  if (memchr(buf, 0, n)) return 0;
  char *end;
  *v = strtod(buf, &end);
  return end == buf + n;
}

static int is_blank(char c) { return c == ' ' || c == '\t'; }

/* splits a line [s, e) into trimmed fields; calls back per field. */
typedef struct {
  const char *path;
  int64_t line;
  int64_t cols;        /* width of the first data row (-1 before it) */
  int64_t cols_line;   /* the line that set it */
  double *vals;
  int64_t nvals, cap;
  int64_t rows;
} csv_state;

static nnc_status push(csv_state *c, double v) {
  if (c->nvals == c->cap) {
    int64_t cap = c->cap ? 2 * c->cap : 1024;
    double *nv = realloc(c->vals, (size_t)cap * sizeof *nv);
    if (!nv) return nnc_error(NNC_ERR_NOMEM, "%s: out of memory at line %lld", c->path, (long long)c->line);
    c->vals = nv;
    c->cap = cap;
  }
  c->vals[c->nvals++] = v;
  return NNC_OK;
}

/* 1 if no field of the line is a number (the line looks like column names) */
static int line_no_numbers(const char *s, const char *e) {
  for (;;) {
    const char *f = s;
    while (s < e && *s != ',') s++;
    const char *fs = f, *fe = s;
    while (fs < fe && is_blank(*fs)) fs++;
    while (fe > fs && is_blank(fe[-1])) fe--;
    double v;
    if (parse_number(fs, fe, &v)) return 0;
    if (s == e) return 1;
    s++;
  }
}

static nnc_status data_line(csv_state *c, const char *s, const char *e) {
  int64_t col = 0;
  for (;;) {
    const char *f = s;
    while (s < e && *s != ',') s++;
    const char *fs = f, *fe = s;
    while (fs < fe && is_blank(*fs)) fs++;
    while (fe > fs && is_blank(fe[-1])) fe--;
    col++;
    double v;
    if (fs == fe)
      return nnc_error(NNC_ERR_FORMAT, "%s:%lld: column %lld: empty field", c->path, (long long)c->line, (long long)col);
    if (!parse_number(fs, fe, &v)) {
      int w = (int)(fe - fs) > 40 ? 40 : (int)(fe - fs);
      return nnc_error(NNC_ERR_FORMAT, "%s:%lld: column %lld: '%.*s%s' is not a number", c->path, (long long)c->line,
                       (long long)col, w, fs, (fe - fs) > 40 ? "..." : "");
    }
    nnc_status st = push(c, v);
    if (st) return st;
    if (s == e) break;
    s++;
  }
  if (c->cols < 0) {
    c->cols = col;
    c->cols_line = c->line;
  } else if (col != c->cols) {
    return nnc_error(NNC_ERR_FORMAT, "%s:%lld: %lld fields, expected %lld (as on line %lld)", c->path, (long long)c->line,
                     (long long)col, (long long)c->cols, (long long)c->cols_line);
  }
  c->rows++;
  return NNC_OK;
}

nnc_status nnc_csv_read(const char *path, nnc_dtype dt, int header, nnc_tensor **out) {
  *out = NULL;
  if ((unsigned)dt >= NNC_NDTYPES) return nnc_error(NNC_ERR_ARG, "csv read %s: unknown dtype", path);
  uint8_t *text = NULL;
  size_t n = 0;
  nnc_status st = nnc_read_file(path, &text, &n);
  if (st) return st;
  csv_state c = {.path = path, .cols = -1};
  const char *s = (const char *)text, *end = s + n;
  int first = 1;
  while (s < end) {
    const char *e = memchr(s, '\n', (size_t)(end - s));
    const char *next = e ? e + 1 : end;
    if (!e) e = end;
    if (e > s && e[-1] == '\r') e--;
    c.line++;
    const char *t = s;
    while (t < e && is_blank(*t)) t++;
    if (t < e) {
      if (first) {
        first = 0;
        int skip = header == NNC_CSV_HEADER || (header == NNC_CSV_AUTO && line_no_numbers(s, e));
        if (skip) { s = next; continue; }
      }
      if ((st = data_line(&c, s, e))) goto done;
    }
    s = next;
  }
  if (c.rows == 0) { st = nnc_error(NNC_ERR_FORMAT, "%s: no data rows", path); goto done; }
  nnc_tensor *t = nnc_heap_tensor_uninit(dt, 2, (const int64_t[]){c.rows, c.cols});
  if (!t) { st = NNC_ERR_NOMEM; goto done; }
  for (int64_t i = 0; i < c.nvals; i++) {
    double v = c.vals[i];
    if (dt != NNC_F32 && dt != NNC_F64) {
      double lo = dt == NNC_U8 ? 0 : dt == NNC_I32 ? -2147483648.0 : -9223372036854775808.0;
      double hi = dt == NNC_U8 ? 255 : dt == NNC_I32 ? 2147483647.0 : 9223372036854775807.0;
      if (!(v == floor(v) && v >= lo && v < hi + 1)) {
        st = nnc_error(NNC_ERR_FORMAT, "%s: row %lld, column %lld: %g is not a %s value", path,
                       (long long)(i / c.cols + 1), (long long)(i % c.cols + 1), v, nnc_dtype_name(dt));
        nnc_heap_free(t);
        goto done;
      }
    }
    switch (dt) {
    case NNC_F32: ((float *)nnc_data(t))[i] = (float)v; break;
    case NNC_F64: ((double *)nnc_data(t))[i] = v; break;
    case NNC_I32: ((int32_t *)nnc_data(t))[i] = (int32_t)v; break;
    case NNC_I64: ((int64_t *)nnc_data(t))[i] = (int64_t)v; break;
    default: ((uint8_t *)nnc_data(t))[i] = (uint8_t)v; break;
    }
  }
  *out = t;
done:
  free(c.vals);
  free(text);
  return st;
}

nnc_status nnc_csv_write(const char *path, const nnc_tensor *t, const char *header) {
  if (t->ndim != 1 && t->ndim != 2)
    return nnc_error(NNC_ERR_ARG, "csv write %s: want a 1-d or 2-d tensor, got %d dims", path, t->ndim);
  int64_t rows = t->shape[0], cols = t->ndim == 2 ? t->shape[1] : 1;
  nnc_strbuf sb = {0};
  if (header) { nnc_sb_puts(&sb, header); nnc_sb_puts(&sb, "\n"); }
  for (int64_t r = 0; r < rows; r++) {
    for (int64_t k = 0; k < cols; k++) {
      int64_t i = r * cols + k;
      if (k) nnc_sb_puts(&sb, ",");
      const char *base = t->storage->data;
      int64_t off = nnc_elem_offset(t, i);
      switch (t->dtype) {
      case NNC_F32: nnc_sb_printf(&sb, "%.9g", (double)((const float *)base)[off]); break;
      case NNC_F64: nnc_sb_printf(&sb, "%.17g", ((const double *)base)[off]); break;
      case NNC_I32: nnc_sb_printf(&sb, "%d", ((const int32_t *)base)[off]); break;
      case NNC_I64: nnc_sb_printf(&sb, "%lld", (long long)((const int64_t *)base)[off]); break;
      default: nnc_sb_printf(&sb, "%d", ((const uint8_t *)base)[off]); break;
      }
    }
    nnc_sb_puts(&sb, "\n");
  }
  nnc_status st = nnc_write_file_atomic(path, nnc_sb_str(&sb), sb.len);
  nnc_sb_free(&sb);
  return st;
}
