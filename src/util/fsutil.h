/* util/fsutil.h: small file-system helpers every output writer uses.
 *
 * Files that a crash must never leave half written (charts, images, checkpoints, results)
 * are written atomically: the bytes go to "<path>.<pid>.tmp", which is flushed, fsync'ed and
 * renamed over <path>, so a reader sees either the old file or the whole new one.
 *
 *   nnc_write_file_atomic(path, data, n)         whole buffer at once
 *   nnc_atomic_open / nnc_atomic_commit / ..._abort  the same through a FILE* (for libpng,
 *                                                 or writers that stream)
 *   nnc_mkdirs(path)                             mkdir -p
 *   nnc_read_file(path, &data, &n)               whole file into memory (NUL terminated)
 *   nnc_now()                                    monotonic seconds, for timing
 *   nnc_strbuf                                   a growing text buffer (printf-append), used
 *                                                 to build a file in memory before writing it
 *   nnc_utf8_seq_len                             UTF-8 validation, for writers that escape text */
#ifndef NNC_UTIL_FSUTIL_H
#define NNC_UTIL_FSUTIL_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "core/error.h"

/* Writes n bytes to path atomically (tmp file, fflush, fsync, rename, fsync of the folder).
 * On failure the tmp file is removed, path is untouched, and NNC_ERR_IO is returned. */
nnc_status nnc_write_file_atomic(const char *path, const void *data, size_t n);

/* An atomic write through a FILE*: open, write to f, then commit (or abort). */
typedef struct {
  FILE *f;        /* write here */
  char *path;     /* final name */
  char *tmp_path; /* where the bytes go until commit */
} nnc_atomic_file;
nnc_status nnc_atomic_open(nnc_atomic_file *af, const char *path);
/* Flushes, fsyncs, closes and renames; on any failure removes the tmp file.  Always frees af. */
nnc_status nnc_atomic_commit(nnc_atomic_file *af);
/* Closes and removes the tmp file; path is untouched.  Safe on a zeroed or committed af. */
void nnc_atomic_abort(nnc_atomic_file *af);

/* mkdir -p: creates path and every missing parent (mode 0777 & ~umask).  NNC_OK if it
 * already exists as a folder; NNC_ERR_IO if a part of it is a file or mkdir fails. */
nnc_status nnc_mkdirs(const char *path);

/* Reads a whole file into *data (malloc'ed, caller frees; one extra NUL byte after the
 * n bytes so text can be used as a C string).  Missing or unreadable file: NNC_ERR_IO with
 * a message naming the path; *data = NULL, *n = 0. */
nnc_status nnc_read_file(const char *path, uint8_t **data, size_t *n);

/* Seconds from an arbitrary fixed point, monotonic (CLOCK_MONOTONIC). */
double nnc_now(void);

/* A growing, always NUL-terminated text buffer.  Zero-initialise ({0}) or nnc_sb_init. */
typedef struct {
  char *buf;  /* the text, NUL terminated (NULL until something is appended) */
  size_t len; /* bytes used, not counting the NUL */
  size_t cap; /* bytes allocated */
} nnc_strbuf;
void nnc_sb_init(nnc_strbuf *sb);
void nnc_sb_free(nnc_strbuf *sb);
void nnc_sb_append(nnc_strbuf *sb, const char *s, size_t n);
void nnc_sb_puts(nnc_strbuf *sb, const char *s);
void nnc_sb_printf(nnc_strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The text so far ("" when empty; never NULL). */
const char *nnc_sb_str(const nnc_strbuf *sb);

/* Length (1..4) of the valid UTF-8 sequence that starts at s, or 0 if the bytes there are
 * not valid UTF-8 (overlong, surrogate, truncated, or s at its NUL). */
int nnc_utf8_seq_len(const char *s);

#endif
