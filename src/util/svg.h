/* util/svg.h: charts as SVG files that read without explanation: a title, axis labels,
 * ticks at round numbers, light grid lines, a legend placed in the emptiest corner.
 *
 *   nnc_svg_line_chart       one panel of lines (x may be NULL: 0, 1, 2, ...)
 *   nnc_svg_panels           several panels side by side, each with its own options
 *                            (log axes, fixed y range, subtitle)
 *   nnc_svg_training_curves  losses on the left, test accuracy (%) on the right
 *   nnc_svg_confusion_matrix heat-map, counts in the cells, recall per class
 *   nnc_svg_bar_chart        one bar per name, value above each bar
 *   nnc_svg_histogram        counts of values in equal bins, with n/mean/std in the subtitle
 *
 * Robust to bad input: NaN/inf points break a line (and are counted in the legend), empty
 * series or no data give a chart that says "no data", and nothing crashes.  Lines with very
 * many points are thinned to what the pixels can show (min and max per pixel column kept).
 * Files are written atomically (see fsutil.h); NNC_ERR_IO if that fails. */
#ifndef NNC_UTIL_SVG_H
#define NNC_UTIL_SVG_H
#include <stdbool.h>
#include <stdint.h>
#include "core/error.h"

typedef struct {
  const char *name;     /* legend text; NULL or "" leaves it out of the legend */
  const double *x, *y;  /* n points; x NULL means 0, 1, ..., n-1 */
  int n;
} nnc_series;

typedef struct {
  const char *title;          /* above the panel, may be NULL */
  const char *xlabel, *ylabel;
  const nnc_series *series;
  int nseries;
  bool log_x, log_y;          /* log10 axes; points <= 0 are skipped on them */
  double y_min, y_max;        /* fixed y range when y_min < y_max, else fitted to the data */
} nnc_svg_panel;

nnc_status nnc_svg_line_chart(const char *path, const char *title, const char *xlabel,
                              const char *ylabel, const nnc_series *series, int nseries);

/* npanels panels in a row (more than 3 wrap into a grid) under one title. */
nnc_status nnc_svg_panels(const char *path, const char *title, const nnc_svg_panel *panels,
                          int npanels);

/* epochs may be NULL (1..n); any of the three curves may be NULL.  test_acc may be a
 * fraction (all values <= 1) or already a percentage; it is drawn as a percentage. */
nnc_status nnc_svg_training_curves(const char *path, const char *title, const double *epochs,
                                   const double *train_loss, const double *test_loss,
                                   const double *test_acc, int n);

/* counts: [k][k], row = true class, column = predicted class.  class_names may be NULL
 * (then 0..k-1).  Cell colour is the share of its row, so rare classes read as well as
 * common ones. */
nnc_status nnc_svg_confusion_matrix(const char *path, const char *title, const int64_t *counts,
                                    int k, const char *const *class_names);

nnc_status nnc_svg_bar_chart(const char *path, const char *title, const char *ylabel,
                             const char *const *names, const double *values, int n);

/* the empirical density of v[0..n) on [lo, hi) in `bins` equal bins, for a line chart:
 * centres[b] = lo + (b + 1/2) w, density[b] = (values in bin b) / (n w), w = (hi - lo) / bins;
 * values outside [lo, hi) count in n but in no bin */
void nnc_density_curve(const float *v, int64_t n, double lo, double hi, int bins, double *centres, double *density);

/* bins <= 0 picks a count from n.  Non-finite values are skipped (and counted). */
nnc_status nnc_svg_histogram(const char *path, const char *title, const char *xlabel,
                             const double *values, int n, int bins);

#endif
