/* util/fsutil.c: atomic file writes, mkdir -p, whole-file reads, a monotonic clock and a
 * growing text buffer (see fsutil.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "util/fsutil.h"

static char *dup_string(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = nnc_xmalloc(n);
  memcpy(d, s, n);
  return d;
}

/* fsyncs the folder holding path, so the rename itself survives a crash.  Best effort:
 * some file systems refuse to open or fsync a folder, and that is not an error. */
static void sync_parent_dir(const char *path) {
  char *dir = dup_string(path);
  char *slash = strrchr(dir, '/');
  const char *d = ".";
  if (slash == dir) d = "/";
  else if (slash) { *slash = 0; d = dir; }
  int fd = open(d, O_RDONLY | O_DIRECTORY);
  if (fd >= 0) { (void)fsync(fd); close(fd); }
  free(dir);
}

nnc_status nnc_atomic_open(nnc_atomic_file *af, const char *path) {
  memset(af, 0, sizeof *af);
  if (!path || !*path) return nnc_error(NNC_ERR_ARG, "atomic write: empty path");
  size_t n = strlen(path) + 32;
  af->tmp_path = nnc_xmalloc(n);
  snprintf(af->tmp_path, n, "%s.%ld.tmp", path, (long)getpid());
  af->path = dup_string(path);
  af->f = fopen(af->tmp_path, "wb");
  if (!af->f) {
    nnc_status st = nnc_error(NNC_ERR_IO, "cannot create %s: %s", af->tmp_path, strerror(errno));
    nnc_atomic_abort(af);
    return st;
  }
  return NNC_OK;
}

static void atomic_free(nnc_atomic_file *af) {
  free(af->path);
  free(af->tmp_path);
  memset(af, 0, sizeof *af);
}

void nnc_atomic_abort(nnc_atomic_file *af) {
  if (af->f) fclose(af->f);
  if (af->tmp_path) unlink(af->tmp_path);
  atomic_free(af);
}

nnc_status nnc_atomic_commit(nnc_atomic_file *af) {
  if (!af->f) { atomic_free(af); return nnc_error(NNC_ERR_ARG, "atomic write: file not open"); }
  const char *what = NULL;
  int err = 0;
  if (ferror(af->f)) { what = "write"; err = EIO; }
  else if (fflush(af->f) != 0) { what = "write"; err = errno; }
  else if (fsync(fileno(af->f)) != 0 && errno != EINVAL && errno != EROFS) { what = "fsync"; err = errno; }
  int close_rc = fclose(af->f);
  af->f = NULL;
  if (!what && close_rc != 0) { what = "close"; err = errno; }
  if (!what && rename(af->tmp_path, af->path) != 0) { what = "rename to"; err = errno; }
  if (what) {
    nnc_status st = nnc_error(NNC_ERR_IO, "cannot %s %s: %s", what,
                              strcmp(what, "rename to") == 0 ? af->path : af->tmp_path,
                              strerror(err));
    nnc_atomic_abort(af);
    return st;
  }
  sync_parent_dir(af->path);
  atomic_free(af);
  return NNC_OK;
}

nnc_status nnc_write_file_atomic(const char *path, const void *data, size_t n) {
  nnc_atomic_file af;
  nnc_status st = nnc_atomic_open(&af, path);
  if (st != NNC_OK) return st;
  if (n > 0 && fwrite(data, 1, n, af.f) != n) {
    st = nnc_error(NNC_ERR_IO, "cannot write %s: %s", af.tmp_path, strerror(errno));
    nnc_atomic_abort(&af);
    return st;
  }
  return nnc_atomic_commit(&af);
}

nnc_status nnc_mkdirs(const char *path) {
  if (!path || !*path) return nnc_error(NNC_ERR_ARG, "mkdirs: empty path");
  char *p = dup_string(path);
  nnc_status st = NNC_OK;
  /* Walk the path, creating each prefix that ends just before a '/', then the whole. */
  for (char *s = p + 1;; s++) {
    if (*s != '/' && *s != 0) continue;
    char saved = *s;
    *s = 0;
    if (mkdir(p, 0777) != 0 && errno != EEXIST) {
      st = nnc_error(NNC_ERR_IO, "cannot create folder %s: %s", p, strerror(errno));
      break;
    }
    struct stat sbuf;
    if (stat(p, &sbuf) != 0 || !S_ISDIR(sbuf.st_mode)) {
      st = nnc_error(NNC_ERR_IO, "cannot create folder %s: a file of that name is in the way", p);
      break;
    }
    *s = saved;
    if (saved == 0) break;
    while (s[1] == '/') s++; /* "a//b" */
  }
  free(p);
  return st;
}

nnc_status nnc_read_file(const char *path, uint8_t **data, size_t *n) {
  *data = NULL;
  *n = 0;
  FILE *f = fopen(path, "rb");
  if (!f) return nnc_error(NNC_ERR_IO, "cannot open %s: %s", path, strerror(errno));
  size_t cap = 1 << 16, len = 0;
  struct stat sbuf;
  if (fstat(fileno(f), &sbuf) == 0 && S_ISREG(sbuf.st_mode) && sbuf.st_size > 0)
    cap = (size_t)sbuf.st_size + 1;
  uint8_t *buf = malloc(cap);
  if (!buf) { fclose(f); return nnc_error(NNC_ERR_NOMEM, "out of memory reading %s (%zu bytes)", path, cap); }
  for (;;) {
    if (len + 1 >= cap) { /* full (room kept for the NUL): at the end, or grow */
      int c = fgetc(f);
      if (c == EOF) break;
      size_t ncap = cap * 2;
      uint8_t *nb = ncap > cap ? realloc(buf, ncap) : NULL;
      if (!nb) { free(buf); fclose(f); return nnc_error(NNC_ERR_NOMEM, "out of memory reading %s", path); }
      buf = nb;
      cap = ncap;
      buf[len++] = (uint8_t)c;
    }
    size_t got = fread(buf + len, 1, cap - 1 - len, f);
    len += got;
    if (got == 0) break;
  }
  if (ferror(f)) {
    nnc_status st = nnc_error(NNC_ERR_IO, "cannot read %s: %s", path, strerror(errno));
    free(buf);
    fclose(f);
    return st;
  }
  fclose(f);
  buf[len] = 0;
  *data = buf;
  *n = len;
  return NNC_OK;
}

double nnc_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- growing text buffer ---- */

void nnc_sb_init(nnc_strbuf *sb) { memset(sb, 0, sizeof *sb); }

void nnc_sb_free(nnc_strbuf *sb) {
  free(sb->buf);
  memset(sb, 0, sizeof *sb);
}

static void sb_reserve(nnc_strbuf *sb, size_t extra) {
  if (sb->len + extra + 1 <= sb->cap) return;
  size_t cap = sb->cap ? sb->cap : 256;
  while (cap < sb->len + extra + 1) cap *= 2;
  char *nb = realloc(sb->buf, cap);
  if (!nb) NNC_FAIL("strbuf", "out of memory growing a text buffer to %zu bytes", cap);
  sb->buf = nb;
  sb->cap = cap;
}

void nnc_sb_append(nnc_strbuf *sb, const char *s, size_t n) {
  sb_reserve(sb, n);
  memcpy(sb->buf + sb->len, s, n);
  sb->len += n;
  sb->buf[sb->len] = 0;
}

void nnc_sb_puts(nnc_strbuf *sb, const char *s) { nnc_sb_append(sb, s, strlen(s)); }

void nnc_sb_printf(nnc_strbuf *sb, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char small[256];
  int n = vsnprintf(small, sizeof small, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if ((size_t)n < sizeof small) { nnc_sb_append(sb, small, (size_t)n); return; }
  sb_reserve(sb, (size_t)n);
  va_start(ap, fmt);
  vsnprintf(sb->buf + sb->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  sb->len += (size_t)n;
}

const char *nnc_sb_str(const nnc_strbuf *sb) { return sb->buf ? sb->buf : ""; }

int nnc_utf8_seq_len(const char *str) {
  const unsigned char *s = (const unsigned char *)str;
  unsigned c = s[0];
  if (c == 0) return 0;
  int n;
  unsigned min;
  if (c < 0x80) return 1;
  else if ((c & 0xE0) == 0xC0) { n = 2; min = 0x80; c &= 0x1F; }
  else if ((c & 0xF0) == 0xE0) { n = 3; min = 0x800; c &= 0x0F; }
  else if ((c & 0xF8) == 0xF0) { n = 4; min = 0x10000; c &= 0x07; }
  else return 0;
  for (int i = 1; i < n; i++) {
    if ((s[i] & 0xC0) != 0x80) return 0; /* also stops at the NUL */
    c = (c << 6) | (s[i] & 0x3F);
  }
  if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return 0;
  return n;
}
