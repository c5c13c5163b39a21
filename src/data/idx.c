/* data/idx.c: IDX reader and writer, plain or gzip (see idx.h). */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>
#include "data/batch.h"
#include "data/idx.h"
#include "util/fsutil.h"

static int type_dtype(int code, nnc_dtype *dt) {
  switch (code) {
  case 0x08: *dt = NNC_U8; return 1;
  case 0x0C: *dt = NNC_I32; return 1;
  case 0x0D: *dt = NNC_F32; return 1;
  case 0x0E: *dt = NNC_F64; return 1;
  default: return 0;
  }
}

static int dtype_code(nnc_dtype dt) {
  switch (dt) {
  case NNC_U8: return 0x08;
  case NNC_I32: return 0x0C;
  case NNC_F32: return 0x0D;
  case NNC_F64: return 0x0E;
  default: return 0;
  }
}

/* reads up to n bytes; returns the count read, or -1 on a zlib/IO error */
static int64_t gz_read_full(gzFile f, void *buf, int64_t n) {
  int64_t got = 0;
  while (got < n) {
    int64_t want = n - got;
    if (want > (1 << 30)) want = 1 << 30;
    int r = gzread(f, (char *)buf + got, (unsigned)want);
    if (r < 0) return -1;
    if (r == 0) break;
    got += r;
  }
  return got;
}

static nnc_status gz_fail(gzFile f, const char *path, const char *what) {
  int errnum = 0;
  const char *msg = gzerror(f, &errnum);
  nnc_status st = nnc_error(NNC_ERR_FORMAT, "%s: %s (%s)", path, what,
                            errnum == Z_ERRNO ? strerror(errno) : msg ? msg : "read error");
  return st;
}

/* swaps big-endian elements of size es in place to host order */
static void from_big_endian(void *data, int64_t n, size_t es) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  (void)data; (void)n; (void)es;
#else
  unsigned char *p = data;
  if (es == 4) {
    for (int64_t i = 0; i < n; i++) {
      uint32_t v;
      memcpy(&v, p + 4 * i, 4);
      v = __builtin_bswap32(v);
      memcpy(p + 4 * i, &v, 4);
    }
  } else if (es == 8) {
    for (int64_t i = 0; i < n; i++) {
      uint64_t v;
      memcpy(&v, p + 8 * i, 8);
      v = __builtin_bswap64(v);
      memcpy(p + 8 * i, &v, 8);
    }
  }
#endif
}

nnc_status nnc_idx_read(const char *path, nnc_tensor **out) {
  *out = NULL;
  struct stat sb;
  if (stat(path, &sb) != 0) return nnc_error(NNC_ERR_IO, "cannot open %s: %s", path, strerror(errno));
  if (!S_ISREG(sb.st_mode)) return nnc_error(NNC_ERR_IO, "cannot read %s: not a regular file", path);
  gzFile f = gzopen(path, "rb");
  if (!f) return nnc_error(NNC_ERR_IO, "cannot open %s: %s", path, errno ? strerror(errno) : "gzopen failed");
  gzbuffer(f, 1 << 18);
  nnc_status st = NNC_OK;
  nnc_tensor *t = NULL;
  unsigned char head[4 + 4 * 4];
  int64_t got = gz_read_full(f, head, 4);
  if (got < 0) { st = gz_fail(f, path, "corrupt gzip data"); goto done; }
  if (got < 4) { st = nnc_error(NNC_ERR_FORMAT, "%s: truncated IDX header (%lld of 4 bytes)", path, (long long)got); goto done; }
  if (head[0] != 0 || head[1] != 0) {
    st = nnc_error(NNC_ERR_FORMAT, "%s: bad magic %02x %02x (an IDX file starts with two zero bytes)", path, head[0], head[1]);
    goto done;
  }
  nnc_dtype dt;
  if (!type_dtype(head[2], &dt)) {
    st = nnc_error(NNC_ERR_FORMAT, "%s: unsupported IDX type code 0x%02x (supported: 0x08 u8, 0x0C i32, 0x0D f32, 0x0E f64)", path, head[2]);
    goto done;
  }
  int ndim = head[3];
  if (ndim < 1 || ndim > 4) { st = nnc_error(NNC_ERR_FORMAT, "%s: bad IDX dimension count %d (want 1..4)", path, ndim); goto done; }
  got = gz_read_full(f, head + 4, 4 * ndim);
  if (got < 0) { st = gz_fail(f, path, "corrupt gzip data"); goto done; }
  if (got < 4 * ndim) { st = nnc_error(NNC_ERR_FORMAT, "%s: truncated IDX header (%d dimensions, %lld of %d size bytes)", path, ndim, (long long)got, 4 * ndim); goto done; }
  int64_t shape[4], n = 1;
  size_t es = nnc_dtype_size(dt);
  const int64_t max_elems = NNC_IDX_MAX_BYTES / (int64_t)es;
  for (int d = 0; d < ndim; d++) {
    const unsigned char *p = head + 4 + 4 * d;
    shape[d] = ((int64_t)p[0] << 24) | ((int64_t)p[1] << 16) | ((int64_t)p[2] << 8) | p[3];
    if (shape[d] && n > max_elems / shape[d]) {
      st = nnc_error(NNC_ERR_FORMAT, "%s: IDX dimensions too large (dimension %d is %lld; the payload would exceed the %lld-byte limit)",
                     path, d, (long long)shape[d], (long long)NNC_IDX_MAX_BYTES);
      goto done;
    }
    n *= shape[d];
  }
  int64_t bytes = n * (int64_t)es, header = 4 + 4 * ndim, fsize = (int64_t)sb.st_size;
  if (gzdirect(f)) {
    if (fsize < header + bytes) {
      st = nnc_error(NNC_ERR_FORMAT, "%s: truncated: the header promises %lld data bytes, the file holds %lld", path,
                     (long long)bytes, (long long)(fsize - header));
      goto done;
    }
    if (fsize > header + bytes) {
      st = nnc_error(NNC_ERR_FORMAT, "%s: %lld trailing bytes after the %lld data bytes the header promises", path,
                     (long long)(fsize - header - bytes), (long long)bytes);
      goto done;
    }
  } else if (header + bytes > fsize * 1100 + 4096) {
    /* deflate cannot compress better than about 1032:1: these bytes cannot be in the file */
    st = nnc_error(NNC_ERR_FORMAT, "%s: truncated: the header promises %lld data bytes, more than %lld compressed bytes can hold",
                   path, (long long)bytes, (long long)fsize);
    goto done;
  }
  t = nnc_heap_tensor_uninit(dt, ndim, shape);
  if (!t) { st = nnc_error(NNC_ERR_NOMEM, "%s: cannot allocate %lld bytes", path, (long long)bytes); goto done; }
  got = gz_read_full(f, nnc_data(t), bytes);
  if (got < 0) { st = gz_fail(f, path, "corrupt gzip data"); goto done; }
  if (got < bytes) {
    st = nnc_error(NNC_ERR_FORMAT, "%s: truncated: the header promises %lld data bytes, the file holds %lld", path,
                   (long long)bytes, (long long)got);
    goto done;
  }
  unsigned char extra[64];
  got = gz_read_full(f, extra, sizeof extra);
  if (got < 0) { st = gz_fail(f, path, "corrupt gzip data"); goto done; }
  if (got > 0) {
    st = nnc_error(NNC_ERR_FORMAT, "%s: trailing bytes after the %lld data bytes the header promises", path, (long long)bytes);
    goto done;
  }
  if (es > 1) from_big_endian(nnc_data(t), n, es);
done:
  gzclose(f);
  if (st != NNC_OK) { nnc_heap_free(t); return st; }
  *out = t;
  return NNC_OK;
}

/* gzip-compresses src into a malloc'ed buffer */
static nnc_status gzip_bytes(const unsigned char *src, size_t n, unsigned char **dst, size_t *dn) {
  z_stream zs;
  memset(&zs, 0, sizeof zs);
  if (deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    return nnc_error(NNC_ERR_NOMEM, "gzip: deflateInit2 failed");
  size_t cap = deflateBound(&zs, (uLong)n) + 64;
  unsigned char *out = malloc(cap);
  if (!out) { deflateEnd(&zs); return nnc_error(NNC_ERR_NOMEM, "gzip: cannot allocate %zu bytes", cap); }
  zs.next_in = (unsigned char *)src;
  zs.next_out = out;
  size_t left_in = n, left_out = cap;
  int rc;
  for (;;) {
    uInt in_chunk = left_in > UINT_MAX ? UINT_MAX : (uInt)left_in;
    uInt out_chunk = left_out > UINT_MAX ? UINT_MAX : (uInt)left_out;
    zs.avail_in = in_chunk;
    zs.avail_out = out_chunk;
    rc = deflate(&zs, left_in == in_chunk ? Z_FINISH : Z_NO_FLUSH);
    left_in -= in_chunk - zs.avail_in;
    left_out -= out_chunk - zs.avail_out;
    if (rc != Z_OK || left_out == 0) break;
  }
  deflateEnd(&zs);
  if (rc != Z_STREAM_END) { free(out); return nnc_error(NNC_ERR_NOMEM, "gzip: deflate failed (%d)", rc); }
  *dst = out;
  *dn = cap - left_out;
  return NNC_OK;
}

nnc_status nnc_idx_write(const char *path, const nnc_tensor *t, bool gzip) {
  int code = dtype_code(t->dtype);
  if (!code) return nnc_error(NNC_ERR_ARG, "idx write %s: dtype %s has no IDX type", path, nnc_dtype_name(t->dtype));
  if (t->ndim < 1 || t->ndim > 4) return nnc_error(NNC_ERR_ARG, "idx write %s: %d dimensions (IDX holds 1..4)", path, t->ndim);
  for (int d = 0; d < t->ndim; d++)
    if (t->shape[d] > (int64_t)UINT32_MAX)
      return nnc_error(NNC_ERR_ARG, "idx write %s: dimension %d is %lld, above 2^32-1", path, d, (long long)t->shape[d]);
  int64_t n = nnc_numel(t);
  size_t es = nnc_dtype_size(t->dtype), header = 4 + 4 * (size_t)t->ndim, total = header + (size_t)n * es;
  unsigned char *buf = malloc(total);
  if (!buf) return nnc_error(NNC_ERR_NOMEM, "idx write %s: cannot allocate %zu bytes", path, total);
  buf[0] = buf[1] = 0;
  buf[2] = (unsigned char)code;
  buf[3] = (unsigned char)t->ndim;
  for (int d = 0; d < t->ndim; d++) {
    uint32_t v = (uint32_t)t->shape[d];
    unsigned char *p = buf + 4 + 4 * d;
    p[0] = (unsigned char)(v >> 24); p[1] = (unsigned char)(v >> 16); p[2] = (unsigned char)(v >> 8); p[3] = (unsigned char)v;
  }
  const char *src = t->storage->data;
  for (int64_t i = 0; i < n; i++)
    memcpy(buf + header + (size_t)i * es, src + nnc_elem_offset(t, i) * (int64_t)es, es);
  if (es > 1) from_big_endian(buf + header, n, es); /* host -> big endian is the same swap */
  nnc_status st;
  if (gzip) {
    unsigned char *z = NULL;
    size_t zn = 0;
    st = gzip_bytes(buf, total, &z, &zn);
    if (st == NNC_OK) st = nnc_write_file_atomic(path, z, zn);
    free(z);
  } else {
    st = nnc_write_file_atomic(path, buf, total);
  }
  free(buf);
  return st;
}
