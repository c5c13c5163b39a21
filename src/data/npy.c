/* data/npy.c: NumPy .npy reader and writer (see npy.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "data/batch.h"
#include "data/npy.h"
#include "util/fsutil.h"

#define NPY_MAX_HEADER (1 << 20)

typedef struct {
  const char *s, *end, *begin;
  const char *path;
} npy_parser;

static void skip_ws(npy_parser *p) {
  while (p->s < p->end && (*p->s == ' ' || *p->s == '\t' || *p->s == '\n' || *p->s == '\r')) p->s++;
}

static nnc_status bad(npy_parser *p, const char *what) {
  return nnc_error(NNC_ERR_FORMAT, "%s: bad .npy header: %s at header byte %d", p->path, what,
                   (int)(p->s - p->begin));
}

/* a Python string literal ('...' or "...") without escapes, into buf */
static nnc_status parse_str(npy_parser *p, char *buf, size_t size) {
  skip_ws(p);
  if (p->s >= p->end || (*p->s != '\'' && *p->s != '"')) return bad(p, "expected a quoted string");
  char q = *p->s++;
  size_t n = 0;
  while (p->s < p->end && *p->s != q) {
    if (*p->s == '\\' || (unsigned char)*p->s < 0x20) return bad(p, "unexpected character in string");
    if (n + 1 >= size) return bad(p, "string too long");
    buf[n++] = *p->s++;
  }
  if (p->s >= p->end) return bad(p, "unterminated string");
  p->s++;
  buf[n] = 0;
  return NNC_OK;
}

static int expect(npy_parser *p, char c) {
  skip_ws(p);
  if (p->s < p->end && *p->s == c) { p->s++; return 1; }
  return 0;
}

static int match_word(npy_parser *p, const char *w) {
  size_t n = strlen(w);
  if ((size_t)(p->end - p->s) >= n && memcmp(p->s, w, n) == 0) {
    const char *after = p->s + n;
    if (after < p->end && ((*after >= 'a' && *after <= 'z') || (*after >= 'A' && *after <= 'Z') ||
                           (*after >= '0' && *after <= '9') || *after == '_'))
      return 0;
    p->s = after;
    return 1;
  }
  return 0;
}

static nnc_status parse_shape(npy_parser *p, int *ndim, int64_t *shape) {
  if (!expect(p, '(')) return bad(p, "shape must be a tuple");
  *ndim = 0;
  int need_comma_for_one = 1;
  for (;;) {
    skip_ws(p);
    if (expect(p, ')')) break;
    if (p->s >= p->end || *p->s < '0' || *p->s > '9') return bad(p, "shape entries must be non-negative integers");
    int64_t v = 0;
    while (p->s < p->end && *p->s >= '0' && *p->s <= '9') {
      if (v > (INT64_MAX - 9) / 10) return bad(p, "shape entry too large");
      v = v * 10 + (*p->s++ - '0');
    }
    if (*ndim == NNC_MAX_DIMS) return bad(p, "more than 8 dimensions");
    shape[(*ndim)++] = v;
    skip_ws(p);
    if (expect(p, ',')) { need_comma_for_one = 0; continue; }
    if (expect(p, ')')) {
      if (*ndim == 1 && need_comma_for_one) return bad(p, "a one-element shape needs a trailing comma");
      break;
    }
    return bad(p, "expected ',' or ')' in shape");
  }
  return NNC_OK;
}

typedef struct {
  nnc_dtype dt;
  int is_bool;
  int fortran;
  int ndim;
  int64_t shape[NNC_MAX_DIMS];
} npy_header;

static nnc_status parse_header(const char *path, const char *text, size_t n, npy_header *h) {
  npy_parser p = {text, text + n, text, path};
  int seen_descr = 0, seen_fortran = 0, seen_shape = 0;
  if (!expect(&p, '{')) return bad(&p, "expected '{'");
  for (;;) {
    if (expect(&p, '}')) break;
    char key[32];
    nnc_status st = parse_str(&p, key, sizeof key);
    if (st) return st;
    if (!expect(&p, ':')) return bad(&p, "expected ':'");
    if (strcmp(key, "descr") == 0) {
      if (seen_descr++) return bad(&p, "duplicate key 'descr'");
      char d[32];
      if ((st = parse_str(&p, d, sizeof d))) return st;
      h->is_bool = 0;
      if (strcmp(d, "<f4") == 0) h->dt = NNC_F32;
      else if (strcmp(d, "<f8") == 0) h->dt = NNC_F64;
      else if (strcmp(d, "<i4") == 0) h->dt = NNC_I32;
      else if (strcmp(d, "<i8") == 0) h->dt = NNC_I64;
      else if (strcmp(d, "|u1") == 0) h->dt = NNC_U8;
      else if (strcmp(d, "|b1") == 0) { h->dt = NNC_U8; h->is_bool = 1; }
      else if (d[0] == '>')
        return nnc_error(NNC_ERR_FORMAT, "%s: big-endian dtype '%s' is not supported", path, d);
      else
        return nnc_error(NNC_ERR_FORMAT, "%s: unsupported dtype '%s' (supported: <f4 <f8 <i4 <i8 |u1 |b1)", path, d);
    } else if (strcmp(key, "fortran_order") == 0) {
      if (seen_fortran++) return bad(&p, "duplicate key 'fortran_order'");
      skip_ws(&p);
      if (match_word(&p, "True")) h->fortran = 1;
      else if (match_word(&p, "False")) h->fortran = 0;
      else return bad(&p, "fortran_order must be True or False");
    } else if (strcmp(key, "shape") == 0) {
      if (seen_shape++) return bad(&p, "duplicate key 'shape'");
      if ((st = parse_shape(&p, &h->ndim, h->shape))) return st;
    } else {
      return nnc_error(NNC_ERR_FORMAT, "%s: bad .npy header: unknown key '%s'", path, key);
    }
    if (expect(&p, ',')) continue;
    if (expect(&p, '}')) break;
    return bad(&p, "expected ',' or '}'");
  }
  skip_ws(&p);
  if (p.s != p.end) return bad(&p, "text after the dict");
  if (!seen_descr || !seen_fortran || !seen_shape)
    return nnc_error(NNC_ERR_FORMAT, "%s: bad .npy header: missing key '%s'", path,
                     !seen_descr ? "descr" : !seen_fortran ? "fortran_order" : "shape");
  if (h->fortran)
    return nnc_error(NNC_ERR_FORMAT, "%s: fortran_order True is not supported (save a C-ordered array)", path);
  return NNC_OK;
}

nnc_status nnc_npy_read(const char *path, nnc_tensor **out) {
  *out = NULL;
  FILE *f = fopen(path, "rb");
  if (!f) return nnc_error(NNC_ERR_IO, "cannot open %s: %s", path, strerror(errno));
  nnc_status st = NNC_OK;
  char *text = NULL;
  nnc_tensor *t = NULL;
  struct stat sb;
  if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
    st = nnc_error(NNC_ERR_IO, "cannot read %s: not a regular file", path);
    goto done;
  }
  int64_t fsize = (int64_t)sb.st_size;
  unsigned char pre[12];
  size_t got = fread(pre, 1, 10, f);
  if (got < 10) { st = nnc_error(NNC_ERR_FORMAT, "%s: truncated .npy preamble (%zu of 10 bytes)", path, got); goto done; }
  if (memcmp(pre, "\x93NUMPY", 6) != 0) { st = nnc_error(NNC_ERR_FORMAT, "%s: bad magic (not a .npy file)", path); goto done; }
  int major = pre[6], minor = pre[7];
  int64_t hlen, start;
  if (major == 1 && minor == 0) {
    hlen = pre[8] | (pre[9] << 8);
    start = 10;
  } else if (major == 2 && minor == 0) {
    if (fread(pre + 10, 1, 2, f) < 2) { st = nnc_error(NNC_ERR_FORMAT, "%s: truncated .npy preamble", path); goto done; }
    hlen = (int64_t)pre[8] | ((int64_t)pre[9] << 8) | ((int64_t)pre[10] << 16) | ((int64_t)pre[11] << 24);
    start = 12;
  } else {
    st = nnc_error(NNC_ERR_FORMAT, "%s: unsupported .npy format version %d.%d (want 1.0 or 2.0)", path, major, minor);
    goto done;
  }
  if (hlen > NPY_MAX_HEADER) { st = nnc_error(NNC_ERR_FORMAT, "%s: .npy header length %lld is above the 1 MiB limit", path, (long long)hlen); goto done; }
  if (start + hlen > fsize) { st = nnc_error(NNC_ERR_FORMAT, "%s: truncated: header length %lld is past the end of the file", path, (long long)hlen); goto done; }
  text = malloc((size_t)hlen + 1);
  if (!text) { st = nnc_error(NNC_ERR_NOMEM, "%s: cannot allocate the header", path); goto done; }
  if (fread(text, 1, (size_t)hlen, f) != (size_t)hlen) { st = nnc_error(NNC_ERR_IO, "%s: read error", path); goto done; }
  text[hlen] = 0;
  if (memchr(text, 0, (size_t)hlen)) { st = nnc_error(NNC_ERR_FORMAT, "%s: bad .npy header: NUL byte", path); goto done; }
  npy_header h;
  memset(&h, 0, sizeof h);
  if ((st = parse_header(path, text, (size_t)hlen, &h))) goto done;
  int64_t n = 1, es = (int64_t)nnc_dtype_size(h.dt);
  for (int d = 0; d < h.ndim; d++) {
    if (h.shape[d] && n > (INT64_MAX / 16) / h.shape[d]) {
      st = nnc_error(NNC_ERR_FORMAT, "%s: shape too large (element count overflows)", path);
      goto done;
    }
    n *= h.shape[d];
  }
  int64_t bytes = n * es, have = fsize - start - hlen;
  if (have < bytes) {
    st = nnc_error(NNC_ERR_FORMAT, "%s: truncated: the shape needs %lld data bytes, the file holds %lld", path,
                   (long long)bytes, (long long)have);
    goto done;
  }
  if (have > bytes) {
    st = nnc_error(NNC_ERR_FORMAT, "%s: %lld trailing bytes after the %lld data bytes the shape needs", path,
                   (long long)(have - bytes), (long long)bytes);
    goto done;
  }
  t = nnc_heap_tensor_uninit(h.dt, h.ndim, h.shape);
  if (!t) { st = nnc_error(NNC_ERR_NOMEM, "%s: cannot allocate %lld bytes", path, (long long)bytes); goto done; }
  if (bytes && fread(nnc_data(t), 1, (size_t)bytes, f) != (size_t)bytes) {
    st = nnc_error(NNC_ERR_IO, "%s: read error (file changed while reading?)", path);
    goto done;
  }
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#error "npy.c assumes a little-endian host"
#endif
  if (h.is_bool) {
    const uint8_t *b = nnc_data(t);
    for (int64_t i = 0; i < n; i++)
      if (b[i] > 1) {
        st = nnc_error(NNC_ERR_FORMAT, "%s: bool element %lld holds byte %d (want 0 or 1)", path, (long long)i, b[i]);
        goto done;
      }
  }
done:
  fclose(f);
  free(text);
  if (st != NNC_OK) { nnc_heap_free(t); return st; }
  *out = t;
  return NNC_OK;
}

nnc_status nnc_npy_write(const char *path, const nnc_tensor *t) {
  static const char *const descr[NNC_NDTYPES] = {"<f4", "<f8", "<i4", "<i8", "|u1"};
  if ((unsigned)t->dtype >= NNC_NDTYPES) return nnc_error(NNC_ERR_ARG, "npy write %s: unknown dtype", path);
  char dict[512];
  int len = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (", descr[t->dtype]);
  for (int d = 0; d < t->ndim; d++)
    len += snprintf(dict + len, sizeof dict - (size_t)len, "%s%lld", d ? ", " : "", (long long)t->shape[d]);
  len += snprintf(dict + len, sizeof dict - (size_t)len, "%s), }", t->ndim == 1 ? "," : "");
  /* pad with spaces and a newline so the data starts at a multiple of 64 */
  size_t pre = 10, total = (pre + (size_t)len + 1 + 63) / 64 * 64;
  size_t hlen = total - pre;
  unsigned char head[640];
  memcpy(head, "\x93NUMPY\x01\x00", 8);
  head[8] = (unsigned char)(hlen & 0xff);
  head[9] = (unsigned char)(hlen >> 8);
  memcpy(head + pre, dict, (size_t)len);
  memset(head + pre + len, ' ', hlen - (size_t)len - 1);
  head[total - 1] = '\n';
  nnc_atomic_file af;
  nnc_status st = nnc_atomic_open(&af, path);
  if (st) return st;
  fwrite(head, 1, total, af.f);
  int64_t n = nnc_numel(t);
  size_t es = nnc_dtype_size(t->dtype);
  if (nnc_is_contiguous(t)) {
    if (n) fwrite(nnc_data(t), es, (size_t)n, af.f);
  } else {
    const char *base = t->storage->data;
    for (int64_t i = 0; i < n; i++) fwrite(base + nnc_elem_offset(t, i) * (int64_t)es, es, 1, af.f);
  }
  return nnc_atomic_commit(&af);
}
