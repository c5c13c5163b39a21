/* core/error.h: nnc's two kinds of error.
 *
 * A programming error (shapes that don't fit, a bad axis, a wrong dtype) stops the program
 * through nnc_fail(): it formats "nnc: OP: message (at file:line)", prints a backtrace so the
 * caller's place is visible, and calls the abort hook (default: abort()).  Tests replace the
 * hook with one that longjmps.
 *
 * A runtime error (a file that is missing or lies, a parse error, an allocation failure)
 * is returned: functions return nnc_status (NNC_OK = 0) and set a message that
 * nnc_last_error() returns.  The library never calls exit(). */
#ifndef NNC_ERROR_H
#define NNC_ERROR_H
#include <stddef.h>

typedef enum {
  NNC_OK = 0,
  NNC_ERR_IO,       /* a file could not be opened, read or written */
  NNC_ERR_FORMAT,   /* a file's content is malformed or lies about its sizes */
  NNC_ERR_NOMEM,    /* an allocation failed */
  NNC_ERR_ARG,      /* a bad argument from the user (unknown flag, bad value) */
  NNC_ERR_NUMERIC,  /* a NaN or infinite loss */
} nnc_status;

typedef void (*nnc_abort_hook)(const char *message);

/* Replaces the abort hook; returns the previous one.  NULL restores the default. */
nnc_abort_hook nnc_set_abort_hook(nnc_abort_hook hook);

/* Stops with a programming error.  Use through NNC_FAIL / NNC_CHECK. */
_Noreturn void nnc_fail_at(const char *file, int line, const char *op, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
#define NNC_FAIL(op, ...) nnc_fail_at(__FILE__, __LINE__, op, __VA_ARGS__)
#define NNC_CHECK(cond, op, ...) do { if (!(cond)) NNC_FAIL(op, __VA_ARGS__); } while (0)

/* Records a runtime error message and returns `status`, so callers can write
 * `return nnc_error(NNC_ERR_IO, "cannot open %s", path);`. */
nnc_status nnc_error(nnc_status status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
const char *nnc_last_error(void);
const char *nnc_status_name(nnc_status status);

/* malloc/calloc that stop with a clear message instead of returning NULL (for internal,
 * bounded allocations; file readers use plain malloc and return NNC_ERR_NOMEM). */
void *nnc_xmalloc(size_t bytes);
void *nnc_xcalloc(size_t count, size_t size);

#endif
