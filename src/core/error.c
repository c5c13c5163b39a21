/* core/error.c: the abort hook for programming errors and the last-error message for
 * runtime errors (see error.h). */
#include <execinfo.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include "core/error.h"

static void default_abort(const char *message) {
  (void)message;
  abort();
}

static nnc_abort_hook abort_hook = default_abort;
static _Thread_local char last_error[1024];

nnc_abort_hook nnc_set_abort_hook(nnc_abort_hook hook) {
  nnc_abort_hook old = abort_hook;
  abort_hook = hook ? hook : default_abort;
  return old;
}

_Noreturn void nnc_fail_at(const char *file, int line, const char *op, const char *fmt, ...) {
  char msg[1024];
  int n = snprintf(msg, sizeof msg, "nnc: %s: ", op);
  va_list ap;
  va_start(ap, fmt);
  if (n >= 0 && n < (int)sizeof msg) n += vsnprintf(msg + n, sizeof msg - n, fmt, ap);
  va_end(ap);
  if (n >= 0 && n < (int)sizeof msg) snprintf(msg + n, sizeof msg - n, " (at %s:%d)", file, line);
  if (abort_hook == default_abort) {
    fprintf(stderr, "%s\ncalled from:\n", msg);
    void *frames[32];
    int count = backtrace(frames, 32);
    backtrace_symbols_fd(frames + 1, count - 1, STDERR_FILENO);
  }
  abort_hook(msg);
  abort(); /* a hook must not return */
}

nnc_status nnc_error(nnc_status status, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(last_error, sizeof last_error, fmt, ap);
  va_end(ap);
  return status;
}

const char *nnc_last_error(void) { return last_error; }

const char *nnc_status_name(nnc_status status) {
  switch (status) {
  case NNC_OK: return "ok";
  case NNC_ERR_IO: return "i/o error";
  case NNC_ERR_FORMAT: return "format error";
  case NNC_ERR_NOMEM: return "out of memory";
  case NNC_ERR_ARG: return "bad argument";
  case NNC_ERR_NUMERIC: return "numeric error";
  }
  return "unknown error";
}

void *nnc_xmalloc(size_t bytes) {
  void *p = malloc(bytes ? bytes : 1);
  if (!p) NNC_FAIL("alloc", "out of memory allocating %zu bytes", bytes);
  return p;
}

void *nnc_xcalloc(size_t count, size_t size) {
  void *p = calloc(count ? count : 1, size ? size : 1);
  if (!p) NNC_FAIL("alloc", "out of memory allocating %zu x %zu bytes", count, size);
  return p;
}
