/* util/progress.h: a progress line for long work (epochs, evaluation, benchmarks).
 *
 *   nnc_progress p;
 *   nnc_progress_begin(&p, "epoch 1/10", steps);
 *   for (int i = 0; i < steps; i++) {
 *     ...
 *     nnc_progress_update(&p, i + 1, "loss %.4f", loss);   // steps done so far
 *   }
 *   nnc_progress_end(&p, "train loss %.4f, test acc %.2f%%", loss, 100 * acc);
 *
 * On a terminal (stderr is a tty) it redraws one line, at most 10 times a second:
 *   epoch 1/10 [##########..........]  52%  312/600  1.2k it/s  ETA 0:01 | loss 0.4123
 * cut to the terminal's width.  When stderr is not a terminal (a log file, CI) it prints a
 * plain line when another 10% is done (at most one a second) or every 10 s, so logs stay
 * short.  nnc_progress_end prints the final line (with elapsed time and rate) and a newline.
 *
 * NNC_NO_PROGRESS=1 in the environment silences the in-progress output; the end line is
 * still printed (it is the result).  A total <= 0 means "unknown": count and rate only.
 * Everything goes to stderr, so stdout stays clean for results. */
#ifndef NNC_UTIL_PROGRESS_H
#define NNC_UTIL_PROGRESS_H
#include <stdbool.h>
#include <stdint.h>

typedef struct {
  char label[96];
  char msg[160];       /* the caller's text from the last update */
  int64_t total;       /* <= 0: unknown */
  int64_t step;        /* steps done so far */
  double t_start;      /* nnc_now() at begin */
  double t_last_draw;  /* last redraw (tty) or last printed line (log) */
  int last_decile;     /* last 10% mark printed (log mode) */
  bool tty;            /* stderr is a terminal */
  bool quiet;          /* NNC_NO_PROGRESS set */
  bool drawn;          /* a line is on the screen and needs clearing (tty) */
} nnc_progress;

void nnc_progress_begin(nnc_progress *p, const char *label, int64_t total);
/* step: how many steps are done (1..total).  fmt may be NULL. */
void nnc_progress_update(nnc_progress *p, int64_t step, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Prints the final line "label: done N in 12.3 s (81.3 it/s) | text".  fmt may be NULL. */
void nnc_progress_end(nnc_progress *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints a message on its own line without garbling the bar (clears it, prints, redraws). */
void nnc_progress_log(nnc_progress *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
