/* util/progress.c: the progress line for long work (see progress.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include "util/fsutil.h"
#include "util/progress.h"

#define TTY_INTERVAL 0.1    /* seconds between redraws on a terminal */
#define LOG_MIN_GAP 1.0     /* log mode: at most one line a second for 10% marks */
#define LOG_INTERVAL 10.0   /* log mode: a line at least this often */

static int terminal_width(void) {
  struct winsize ws;
  if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20) return ws.ws_col;
  return 80;
}

/* "1.2k it/s", "35 it/s", "2.50 s/it" */
static void format_rate(char *buf, size_t n, double rate) {
  if (!(rate > 0)) snprintf(buf, n, "- it/s");
  else if (rate >= 1e6) snprintf(buf, n, "%.1fM it/s", rate / 1e6);
  else if (rate >= 1e4) snprintf(buf, n, "%.0fk it/s", rate / 1e3);
  else if (rate >= 1e3) snprintf(buf, n, "%.1fk it/s", rate / 1e3);
  else if (rate >= 10) snprintf(buf, n, "%.0f it/s", rate);
  else if (rate >= 1) snprintf(buf, n, "%.1f it/s", rate);
  else snprintf(buf, n, "%.2f s/it", 1.0 / rate);
}

/* "0:07", "12:34", "1:02:03" */
static void format_clock(char *buf, size_t n, double seconds) {
  if (!(seconds >= 0) || seconds > 360000) { snprintf(buf, n, "?"); return; }
  long s = (long)(seconds + 0.5);
  if (s >= 3600) snprintf(buf, n, "%ld:%02ld:%02ld", s / 3600, (s / 60) % 60, s % 60);
  else snprintf(buf, n, "%ld:%02ld", s / 60, s % 60);
}

/* "0.42 s", "12.3 s", "2:05" */
static void format_elapsed(char *buf, size_t n, double seconds) {
  if (seconds < 1) snprintf(buf, n, "%.2f s", seconds);
  else if (seconds < 60) snprintf(buf, n, "%.1f s", seconds);
  else format_clock(buf, n, seconds);
}

/* The status text without the label: "[####....]  52%  312/600  1.2k it/s  ETA 0:01". */
static void format_status(const nnc_progress *p, double now, int bar_width, char *buf, size_t n) {
  double elapsed = now - p->t_start;
  double rate = elapsed > 0 ? (double)p->step / elapsed : 0;
  char rate_s[32], eta_s[32];
  format_rate(rate_s, sizeof rate_s, rate);
  if (p->total <= 0) {
    snprintf(buf, n, "%lld  %s", (long long)p->step, rate_s);
    return;
  }
  double frac = (double)p->step / (double)p->total;
  if (frac < 0) frac = 0;
  if (frac > 1) frac = 1;
  format_clock(eta_s, sizeof eta_s, rate > 0 ? (double)(p->total - p->step) / rate : -1);
  char bar[128] = "";
  if (bar_width > 0) {
    if (bar_width > 100) bar_width = 100;
    int fill = (int)(frac * bar_width + 0.5);
    bar[0] = '[';
    for (int i = 0; i < bar_width; i++) bar[1 + i] = i < fill ? '#' : '.';
    bar[1 + bar_width] = ']';
    bar[2 + bar_width] = ' ';
    bar[3 + bar_width] = 0;
  }
  snprintf(buf, n, "%s%3d%%  %lld/%lld  %s  ETA %s", bar, (int)(100 * frac + 1e-9),
           (long long)p->step, (long long)p->total, rate_s, eta_s);
}

static void draw_tty(nnc_progress *p, double now) {
  int width = terminal_width();
  char status[256], line[1024];
  format_status(p, now, width >= 100 ? 30 : width >= 70 ? 20 : 10, status, sizeof status);
  int len = snprintf(line, sizeof line, "%s %s%s%s", p->label, status, p->msg[0] ? " | " : "", p->msg);
  if (len < 0) return;
  if (len >= (int)sizeof line) len = (int)sizeof line - 1;
  if (len > width - 1) len = width - 1; /* a wrapped line cannot be redrawn with \r */
  fprintf(stderr, "\r%.*s\x1b[K", len, line);
  fflush(stderr);
  p->drawn = true;
}

static void print_log_line(nnc_progress *p, double now) {
  char status[256];
  format_status(p, now, 0, status, sizeof status);
  fprintf(stderr, "%s: %s%s%s\n", p->label, status, p->msg[0] ? " | " : "", p->msg);
  fflush(stderr);
}

void nnc_progress_begin(nnc_progress *p, const char *label, int64_t total) {
  memset(p, 0, sizeof *p);
  snprintf(p->label, sizeof p->label, "%s", label ? label : "");
  p->total = total;
  p->t_start = nnc_now();
  p->t_last_draw = p->t_start;
  const char *term = getenv("TERM");
  p->tty = isatty(STDERR_FILENO) && !(term && strcmp(term, "dumb") == 0);
  const char *quiet = getenv("NNC_NO_PROGRESS");
  p->quiet = quiet && *quiet && strcmp(quiet, "0") != 0;
  if (p->tty && !p->quiet) draw_tty(p, p->t_start);
}

void nnc_progress_update(nnc_progress *p, int64_t step, const char *fmt, ...) {
  p->step = step;
  if (p->quiet) return;
  double now = nnc_now();
  bool show;
  int decile = 0;
  if (p->tty) {
    show = now - p->t_last_draw >= TTY_INTERVAL || (p->total > 0 && step >= p->total);
  } else {
    decile = p->total > 0 ? (int)(10 * step / p->total) : 0;
    show = now - p->t_last_draw >= LOG_INTERVAL ||
           (decile > p->last_decile && now - p->t_last_draw >= LOG_MIN_GAP);
  }
  if (!show) return;
  if (fmt) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->msg, sizeof p->msg, fmt, ap);
    va_end(ap);
  } else {
    p->msg[0] = 0;
  }
  p->t_last_draw = now;
  if (p->tty) {
    draw_tty(p, now);
  } else {
    p->last_decile = decile;
    print_log_line(p, now);
  }
}

void nnc_progress_end(nnc_progress *p, const char *fmt, ...) {
  double now = nnc_now(), elapsed = now - p->t_start;
  int64_t done = p->step > 0 ? p->step : (p->total > 0 ? p->total : 0);
  char text[512] = "", el[32], rate[32];
  if (fmt) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
  }
  format_elapsed(el, sizeof el, elapsed);
  format_rate(rate, sizeof rate, elapsed > 0 ? (double)done / elapsed : 0);
  if (p->tty && p->drawn) fputs("\r\x1b[K", stderr);
  fprintf(stderr, "%s: done %lld in %s (%s)%s%s\n", p->label, (long long)done, el, rate,
          text[0] ? " | " : "", text);
  fflush(stderr);
  p->drawn = false;
}

void nnc_progress_log(nnc_progress *p, const char *fmt, ...) {
  if (!fmt) return;
  if (p->tty && p->drawn) fputs("\r\x1b[K", stderr);
  va_list ap;
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  size_t n = strlen(fmt);
  if (n == 0 || fmt[n - 1] != '\n') fputc('\n', stderr);
  if (p->tty && p->drawn && !p->quiet) draw_tty(p, nnc_now());
  fflush(stderr);
}
