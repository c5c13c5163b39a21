/* util/svg.c: line charts, panels, training curves, confusion matrices, bar charts and
 * histograms as SVG (see svg.h).
 *
 * Layout is computed in pixels from estimated text widths (DejaVu Sans is about 0.62 em per
 * character), so labels get the room they need.  Axes use "nice" tick steps (1, 2 or 5 times
 * a power of ten) and, when the range is fitted to the data, extend to a tick at each end. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "util/fsutil.h"
#include "util/svg.h"

#define FONT "DejaVu Sans, Helvetica, Arial, sans-serif"
#define CHAR_EM 0.62      /* average character width in em, for layout */
#define MAX_TICKS 64

static const char *PALETTE[10] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                  "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
static const char *DASHES[3] = {NULL, "8,4", "2,3"}; /* series 10.. and 20.. get dashes */

/* ---- text ---- */

/* Characters (code points) in s, for width estimates. */
static int text_chars(const char *s) {
  int n = 0;
  for (const unsigned char *p = (const unsigned char *)s; p && *p; p++)
    if ((*p & 0xC0) != 0x80) n++;
  return n;
}

static double text_width(const char *s, double size) { return CHAR_EM * size * text_chars(s); }

/* Appends s escaped for XML; control characters become spaces, bad UTF-8 becomes '?'. */
static void put_escaped(nnc_strbuf *sb, const char *s) {
  while (s && *s) {
    unsigned char c = (unsigned char)*s;
    if (c == '&') nnc_sb_puts(sb, "&amp;");
    else if (c == '<') nnc_sb_puts(sb, "&lt;");
    else if (c == '>') nnc_sb_puts(sb, "&gt;");
    else if (c == '"') nnc_sb_puts(sb, "&quot;");
    else if (c == '\'') nnc_sb_puts(sb, "&#39;");
    else if (c < 0x20 || c == 0x7F) nnc_sb_puts(sb, " ");
    else {
      int n = nnc_utf8_seq_len(s);
      if (n == 0) { nnc_sb_puts(sb, "?"); s++; continue; }
      nnc_sb_append(sb, s, (size_t)n);
      s += n;
      continue;
    }
    s++;
  }
}

/* <text> at (x, y) (y is the baseline).  anchor: start, middle or end.  attrs: extra
 * attributes (fill, weight, transform), may be "". */
static void put_text(nnc_strbuf *sb, double x, double y, double size, const char *anchor,
                     const char *attrs, const char *s) {
  nnc_sb_printf(sb, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"%.1f\" text-anchor=\"%s\" %s>", x, y,
                size, anchor, attrs);
  put_escaped(sb, s);
  nnc_sb_puts(sb, "</text>\n");
}

/* Text rotated -90 degrees around its anchor (for y-axis labels). */
static void put_text_vertical(nnc_strbuf *sb, double x, double y, double size, const char *s) {
  char attrs[96];
  snprintf(attrs, sizeof attrs, "fill=\"#222\" transform=\"rotate(-90 %.1f %.1f)\"", x, y);
  put_text(sb, x, y, size, "middle", attrs, s);
}

/* Copies s into buf, cut to at most max_chars characters with an ellipsis. */
static void shorten(char *buf, size_t n, const char *s, int max_chars) {
  snprintf(buf, n, "%s", s ? s : "");
  if (text_chars(buf) <= max_chars) return;
  int chars = 0;
  size_t i = 0;
  for (; buf[i]; i++) {
    if (((unsigned char)buf[i] & 0xC0) != 0x80) {
      if (chars == max_chars - 1) break;
      chars++;
    }
  }
  if (i + 4 <= n) memcpy(buf + i, "\xE2\x80\xA6", 4); /* U+2026 and the NUL */
}

/* ---- document ---- */

static void svg_begin(nnc_strbuf *sb, int width, int height) {
  nnc_sb_printf(sb,
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
                "viewBox=\"0 0 %d %d\" font-family=\"" FONT "\">\n"
                "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"#ffffff\"/>\n",
                width, height, width, height, width, height);
}

static nnc_status svg_finish(nnc_strbuf *sb, const char *path) {
  nnc_sb_puts(sb, "</svg>\n");
  nnc_status st = nnc_write_file_atomic(path, sb->buf, sb->len);
  nnc_sb_free(sb);
  return st;
}

/* The chart title, centred, shrunk to fit the width.  Returns the height it takes. */
static double put_title(nnc_strbuf *sb, const char *title, double width) {
  if (!title || !*title) return 12;
  double size = 16;
  double w = text_width(title, size);
  if (w > width - 20) size = fmax(9, size * (width - 20) / w);
  put_text(sb, width / 2, 26, size, "middle", "font-weight=\"bold\" fill=\"#111\"", title);
  return 40;
}

static nnc_status no_path(const char *path) {
  if (!path || !*path) return nnc_error(NNC_ERR_ARG, "svg: empty path");
  return NNC_OK;
}

/* ---- axes ---- */

typedef struct {
  double lo, hi; /* the ends, in data units */
  bool log;
  int n;         /* ticks */
  double tick[MAX_TICKS];
  char label[MAX_TICKS][32];
} axis;

/* A "nice" number near x: 1, 2 or 5 times a power of ten (Heckbert, Graphics Gems). */
static double nice_num(double x, bool round) {
  double e = floor(log10(x)), p = pow(10, e), f = x / p, nf;
  if (round) nf = f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10;
  else nf = f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10;
  return nf * p;
}

static void format_tick(char *buf, size_t n, double v, double step, double maxabs) {
  if (fabs(v) < step * 1e-6) v = 0; /* no "-0" or "1e-17" */
  if (maxabs >= 1e6 || (step < 1e-4 && maxabs < 1e-2)) {
    int digits = (int)ceil(log10(maxabs / step)) + 1;
    digits = digits < 1 ? 1 : digits > 12 ? 12 : digits;
    snprintf(buf, n, "%.*g", digits, v);
  } else {
    int decimals = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
    snprintf(buf, n, "%.*f", decimals, v);
  }
}

/* A linear axis over dmin..dmax with about `target` ticks.  fixed: keep the ends as given;
 * else widen them to the ticks just outside.  integer: no steps below 1 (epochs, counts). */
static void axis_linear(axis *a, double dmin, double dmax, int target, bool fixed, bool integer) {
  memset(a, 0, sizeof *a);
  if (!(dmax > dmin)) { /* one value: centre it */
    double d = dmin == 0 ? 1 : fabs(dmin) * 0.1;
    if (integer && d < 1) d = 1;
    dmin -= d;
    dmax += d;
    fixed = false;
  }
  if (target < 2) target = 2;
  double step = nice_num((dmax - dmin) / (target - 1), true);
  if (integer && step < 1) step = 1;
  for (;;) {
    a->lo = fixed ? dmin : floor(dmin / step) * step;
    a->hi = fixed ? dmax : ceil(dmax / step) * step;
    if (!(a->hi > a->lo)) a->hi = a->lo + step;
    double k0 = ceil(a->lo / step - 1e-9), k1 = floor(a->hi / step + 1e-9);
    if (k1 - k0 + 1 <= MAX_TICKS - 4) {
      double maxabs = fmax(fabs(a->lo), fabs(a->hi));
      for (double k = k0; k <= k1; k++) {
        a->tick[a->n] = k * step;
        format_tick(a->label[a->n], sizeof a->label[0], k * step, step, maxabs);
        a->n++;
      }
      return;
    }
    step *= 2;
  }
}

/* A log10 axis over dmin..dmax (both > 0): ticks at powers of ten, and at 2 and 5 times
 * them when the axis spans at most two decades. */
static void axis_log(axis *a, double dmin, double dmax, bool fixed) {
  memset(a, 0, sizeof *a);
  a->log = true;
  if (!(dmin > 0)) dmin = dmax > 0 ? dmax / 10 : 1;
  if (!(dmax > dmin)) { dmin /= 2; dmax = dmin * 4; fixed = false; }
  int e0 = (int)floor(log10(dmin) + 1e-9), e1 = (int)ceil(log10(dmax) - 1e-9);
  if (e1 <= e0) e1 = e0 + 1;
  a->lo = fixed ? dmin : pow(10, e0);
  a->hi = fixed ? dmax : pow(10, e1);
  int decades = e1 - e0, stride = (decades + 7) / 8;
  static const double minor[3] = {1, 2, 5};
  int nminor = decades <= 2 ? 3 : 1;
  for (int e = e0; e <= e1 && a->n < MAX_TICKS; e += stride) {
    for (int m = 0; m < nminor && a->n < MAX_TICKS; m++) {
      double v = minor[m] * pow(10, e);
      if (v < a->lo * (1 - 1e-9) || v > a->hi * (1 + 1e-9)) continue;
      a->tick[a->n] = v;
      snprintf(a->label[a->n], sizeof a->label[0], "%g", v);
      a->n++;
    }
  }
}

/* Where v falls on the axis, 0 at lo and 1 at hi. */
static double axis_frac(const axis *a, double v) {
  if (a->log) return (log10(v) - log10(a->lo)) / (log10(a->hi) - log10(a->lo));
  return (v - a->lo) / (a->hi - a->lo);
}

static double axis_label_width(const axis *a, double size) {
  double w = 0;
  for (int i = 0; i < a->n; i++) w = fmax(w, text_width(a->label[i], size));
  return w;
}

typedef struct {
  double x, y, w, h; /* the plot area in pixels */
} rect;

#define TICK_SIZE 11.0
#define LABEL_SIZE 12.5

/* Grid lines, frame, tick labels and axis labels around plot area r.  xa may be NULL (a
 * categorical x axis drawn by the caller). */
static void draw_axes(nnc_strbuf *sb, rect r, const axis *xa, const axis *ya, const char *xlabel,
                      const char *ylabel, double ylabel_x) {
  nnc_sb_puts(sb, "<g stroke=\"#e3e3e3\" stroke-width=\"1\">\n");
  for (int i = 0; i < ya->n; i++) {
    double y = r.y + r.h * (1 - axis_frac(ya, ya->tick[i]));
    nnc_sb_printf(sb, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", r.x, y, r.x + r.w, y);
  }
  for (int i = 0; xa && i < xa->n; i++) {
    double x = r.x + r.w * axis_frac(xa, xa->tick[i]);
    nnc_sb_printf(sb, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", x, r.y, x, r.y + r.h);
  }
  nnc_sb_puts(sb, "</g>\n");
  nnc_sb_printf(sb, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" "
                "stroke=\"#777\" stroke-width=\"1\"/>\n", r.x, r.y, r.w, r.h);
  nnc_sb_puts(sb, "<g stroke=\"#777\" stroke-width=\"1\">\n");
  for (int i = 0; i < ya->n; i++) {
    double y = r.y + r.h * (1 - axis_frac(ya, ya->tick[i]));
    nnc_sb_printf(sb, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", r.x - 4, y, r.x, y);
  }
  for (int i = 0; xa && i < xa->n; i++) {
    double x = r.x + r.w * axis_frac(xa, xa->tick[i]);
    nnc_sb_printf(sb, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", x, r.y + r.h, x,
                  r.y + r.h + 4);
  }
  nnc_sb_puts(sb, "</g>\n");
  for (int i = 0; i < ya->n; i++) {
    double y = r.y + r.h * (1 - axis_frac(ya, ya->tick[i]));
    put_text(sb, r.x - 7, y + TICK_SIZE * 0.35, TICK_SIZE, "end", "fill=\"#333\"", ya->label[i]);
  }
  for (int i = 0; xa && i < xa->n; i++) {
    double x = r.x + r.w * axis_frac(xa, xa->tick[i]);
    put_text(sb, x, r.y + r.h + 6 + TICK_SIZE, TICK_SIZE, "middle", "fill=\"#333\"", xa->label[i]);
  }
  if (xlabel && *xlabel)
    put_text(sb, r.x + r.w / 2, r.y + r.h + 22 + LABEL_SIZE, LABEL_SIZE, "middle", "fill=\"#222\"", xlabel);
  if (ylabel && *ylabel) put_text_vertical(sb, ylabel_x, r.y + r.h / 2, LABEL_SIZE, ylabel);
}

/* Fits a y axis, then the left margin its labels need, then an x axis whose labels do not
 * collide.  box: the panel's area; returns the plot area. */
static rect layout_plot(double bx, double by, double bw, double bh, bool has_ylabel, const axis *ya,
                        double *ylabel_x) {
  double left = 8 + (has_ylabel ? LABEL_SIZE + 8 : 0) + axis_label_width(ya, TICK_SIZE) + 9;
  rect r = {bx + left, by, bw - left - 18, bh - (TICK_SIZE + 10) - (LABEL_SIZE + 16)};
  *ylabel_x = bx + 8 + LABEL_SIZE;
  return r;
}

/* ---- line panels ---- */

typedef struct {
  double *px, *py; /* pixel coordinates */
  bool *ok;        /* drawable point */
  int n, nok, nonfinite, nonpositive;
  /* the points the path really visits (after thinning), for placing the legend */
  double *ex, *ey;
  bool *joined;    /* a line comes into this point from the previous one */
  int ne;
} mapped_series;

/* Is (x, y) a point we can draw on these axes? */
static bool point_ok(double x, double y, bool log_x, bool log_y) {
  return isfinite(x) && isfinite(y) && (!log_x || x > 0) && (!log_y || y > 0);
}

static double series_x(const nnc_series *s, int i) { return s->x ? s->x[i] : (double)i; }

/* How many sample points of the drawn lines fall in rectangle b (a legend candidate). */
static int count_in(const mapped_series *ms, int nseries, rect b) {
  int count = 0;
  for (int s = 0; s < nseries; s++) {
    const mapped_series *m = &ms[s];
    for (int i = 0; i < m->ne; i++) {
      bool seg = m->joined[i];
      double x1 = m->ex[i], y1 = m->ey[i];
      double dx = seg ? m->ex[i - 1] - x1 : 0, dy = seg ? m->ey[i - 1] - y1 : 0;
      int steps = seg ? (int)fmin(40, ceil(sqrt(dx * dx + dy * dy) / 5)) : 0;
      for (int k = 0; k < steps || k == 0; k++) { /* the point, and samples back to the previous */
        double t = steps ? (double)k / steps : 0;
        double x = x1 + t * dx, y = y1 + t * dy;
        if (x >= b.x && x <= b.x + b.w && y >= b.y && y <= b.y + b.h) count++;
      }
    }
  }
  return count;
}

static void series_style(nnc_strbuf *sb, int s) {
  nnc_sb_printf(sb, "stroke=\"%s\"", PALETTE[s % 10]);
  const char *dash = DASHES[(s / 10) % 3];
  if (dash) nnc_sb_printf(sb, " stroke-dasharray=\"%s\"", dash);
}

/* Draws one panel into box (bx, by, bw, bh). */
static void draw_line_panel(nnc_strbuf *sb, const nnc_svg_panel *p, double bx, double by, double bw,
                            double bh, int panel_id) {
  if (p->title && *p->title) {
    double size = 13.5, w = text_width(p->title, size);
    if (w > bw - 10) size = fmax(8, size * (bw - 10) / w);
    put_text(sb, bx + bw / 2, by + 16, size, "middle", "font-weight=\"bold\" fill=\"#222\"", p->title);
    by += 26;
    bh -= 26;
  } else {
    by += 8;
    bh -= 8;
  }
  /* data ranges */
  double xmin = INFINITY, xmax = -INFINITY, ymin = INFINITY, ymax = -INFINITY;
  bool x_integer = true;
  int total_ok = 0;
  int nseries = p->series && p->nseries > 0 ? p->nseries : 0;
  for (int s = 0; s < nseries; s++) {
    const nnc_series *se = &p->series[s];
    for (int i = 0; se->y && i < se->n; i++) {
      double x = series_x(se, i), y = se->y[i];
      if (!point_ok(x, y, p->log_x, p->log_y)) continue;
      total_ok++;
      xmin = fmin(xmin, x);
      xmax = fmax(xmax, x);
      ymin = fmin(ymin, y);
      ymax = fmax(ymax, y);
      if (x != floor(x)) x_integer = false;
    }
  }
  bool fixed_y = p->y_min < p->y_max && (!p->log_y || p->y_min > 0);
  if (total_ok == 0) {
    xmin = p->log_x ? 1 : 0;
    xmax = p->log_x ? 10 : 1;
    ymin = p->log_y ? 1 : 0;
    ymax = p->log_y ? 10 : 1;
    x_integer = false;
  }
  if (fixed_y) { ymin = p->y_min; ymax = p->y_max; }

  axis ya, xa;
  double plot_h = bh - (TICK_SIZE + 10) - (LABEL_SIZE + 16);
  if (p->log_y) axis_log(&ya, ymin, ymax, fixed_y);
  else axis_linear(&ya, ymin, ymax, (int)fmax(3, plot_h / 50), fixed_y, false);
  double ylabel_x;
  rect r = layout_plot(bx, by, bw, bh, p->ylabel && *p->ylabel, &ya, &ylabel_x);
  if (p->log_x) {
    axis_log(&xa, xmin, xmax, false);
  } else {
    /* x fits the data, with a 2% margin so end points sit off the frame */
    double margin = xmax > xmin ? 0.02 * (xmax - xmin) : 0;
    for (int target = (int)fmax(2, r.w / 80); ; target--) {
      axis_linear(&xa, xmin - margin, xmax + margin, target, true, x_integer);
      double lw = axis_label_width(&xa, TICK_SIZE) + 12;
      if (lw * xa.n <= r.w || target <= 2) break;
    }
  }
  draw_axes(sb, r, &xa, &ya, p->xlabel, p->ylabel, ylabel_x);

  /* map the points to pixels */
  mapped_series *ms = nnc_xcalloc((size_t)(nseries ? nseries : 1), sizeof *ms);
  for (int s = 0; s < nseries; s++) {
    const nnc_series *se = &p->series[s];
    mapped_series *m = &ms[s];
    m->n = se->y && se->n > 0 ? se->n : 0;
    m->px = nnc_xmalloc(sizeof(double) * (size_t)(m->n + 1));
    m->py = nnc_xmalloc(sizeof(double) * (size_t)(m->n + 1));
    m->ok = nnc_xmalloc(sizeof(bool) * (size_t)(m->n + 1));
    m->ex = nnc_xmalloc(sizeof(double) * (size_t)(m->n + 1));
    m->ey = nnc_xmalloc(sizeof(double) * (size_t)(m->n + 1));
    m->joined = nnc_xmalloc(sizeof(bool) * (size_t)(m->n + 1));
    for (int i = 0; i < m->n; i++) {
      double x = series_x(se, i), y = se->y[i];
      m->ok[i] = point_ok(x, y, p->log_x, p->log_y);
      if (!isfinite(x) || !isfinite(y)) m->nonfinite++;
      else if (!m->ok[i]) m->nonpositive++;
      if (!m->ok[i]) continue;
      m->nok++;
      m->px[i] = r.x + r.w * axis_frac(&xa, x);
      m->py[i] = r.y + r.h * (1 - axis_frac(&ya, y));
      /* keep far-off points (fixed range) at a drawable distance; the clip hides them */
      m->py[i] = fmax(r.y - 1e4, fmin(r.y + r.h + 1e4, m->py[i]));
    }
  }

  /* lines, clipped to the plot area (with room for markers on the frame) */
  nnc_sb_printf(sb, "<clipPath id=\"clip%d\"><rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"/></clipPath>\n",
                panel_id, r.x - 5, r.y - 5, r.w + 10, r.h + 10);
  nnc_sb_printf(sb, "<g clip-path=\"url(#clip%d)\" fill=\"none\" stroke-width=\"2\" stroke-linejoin=\"round\" stroke-linecap=\"round\">\n",
                panel_id);
  for (int s = 0; s < nseries; s++) {
    mapped_series *m = &ms[s];
    if (m->nok == 0) continue;
    nnc_sb_puts(sb, "<path ");
    series_style(sb, s);
    nnc_sb_puts(sb, " d=\"");
    bool pen = false;
    for (int i = 0; i < m->n;) {
      if (!m->ok[i]) { pen = false; i++; continue; }
      /* the run of points in this pixel column: keep first, lowest, highest, last */
      double col = floor(m->px[i]);
      int j = i, jmin = i, jmax = i;
      while (j + 1 < m->n && m->ok[j + 1] && floor(m->px[j + 1]) == col) {
        j++;
        if (m->py[j] < m->py[jmin]) jmin = j;
        if (m->py[j] > m->py[jmax]) jmax = j;
      }
      int keep[4] = {i, jmin < jmax ? jmin : jmax, jmin < jmax ? jmax : jmin, j};
      int last = -1;
      for (int k = 0; k < 4; k++) {
        if (keep[k] <= last) continue;
        last = keep[k];
        nnc_sb_printf(sb, "%s%.1f %.1f", pen ? " L" : m->ne ? " M" : "M", m->px[last], m->py[last]);
        m->ex[m->ne] = m->px[last];
        m->ey[m->ne] = m->py[last];
        m->joined[m->ne++] = pen;
        pen = true;
      }
      i = j + 1;
    }
    nnc_sb_puts(sb, "\"/>\n");
    /* markers: on every point of short series, and on isolated points of long ones */
    bool all = m->nok <= 40;
    for (int i = 0; i < m->n; i++) {
      if (!m->ok[i]) continue;
      bool alone = (i == 0 || !m->ok[i - 1]) && (i + 1 == m->n || !m->ok[i + 1]);
      if (all || alone)
        nnc_sb_printf(sb, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%.1f\" fill=\"%s\" stroke=\"none\"/>\n",
                      m->px[i], m->py[i], all && m->nok > 15 ? 2.2 : 3.2, PALETTE[s % 10]);
    }
  }
  nnc_sb_puts(sb, "</g>\n");

  if (total_ok == 0)
    put_text(sb, r.x + r.w / 2, r.y + r.h / 2 + 5, 14, "middle", "fill=\"#999\"", "no data");

  /* legend: in the candidate spot that covers the fewest drawn points; as many entries
   * as fit the plot's height, then "+ N more" */
  const double lh = 18;
  int fit = (int)fmax(1, (r.h - 24) / lh);
  if (fit > 64) fit = 64;
  int named = 0;
  for (int s = 0; s < nseries; s++) named += p->series[s].name && *p->series[s].name;
  int shown = named <= fit ? named : fit - 1;
  char names[64][160];
  int entries[64], nent = 0;
  double maxw = 0;
  for (int s = 0; s < nseries && nent < shown; s++) {
    const char *name = p->series[s].name;
    if (!name || !*name) continue;
    char shortname[96];
    shorten(shortname, sizeof shortname, name, 40);
    int len = snprintf(names[nent], sizeof names[0], "%s", shortname);
    if (ms[s].nonfinite && len < (int)sizeof names[0])
      len += snprintf(names[nent] + len, sizeof names[0] - len, " (%d NaN/inf)", ms[s].nonfinite);
    if (ms[s].nonpositive && len >= 0 && len < (int)sizeof names[0])
      snprintf(names[nent] + len, sizeof names[0] - len, " (%d \xE2\x89\xA4 0 not shown)", ms[s].nonpositive);
    maxw = fmax(maxw, text_width(names[nent], 12));
    entries[nent++] = s;
  }
  char more[48] = "";
  if (shown < named) {
    snprintf(more, sizeof more, "+ %d more", named - shown);
    maxw = fmax(maxw, text_width(more, 12));
  }
  if (nent + (more[0] != 0) > 0) {
    double lw = 10 + 26 + 6 + maxw + 10, lhh = (nent + (more[0] != 0)) * lh + 8;
    double pad = 8;
    double cx[3] = {r.x + r.w - pad - lw, r.x + pad, r.x + (r.w - lw) / 2};
    double cy[3] = {r.y + pad, r.y + r.h - pad - lhh, r.y + (r.h - lhh) / 2};
    /* preference order: top right, top left, bottom right, bottom left, top middle,
     * bottom middle, middle right, middle left */
    static const int order[8][2] = {{0, 0}, {1, 0}, {0, 1}, {1, 1}, {2, 0}, {2, 1}, {0, 2}, {1, 2}};
    int best = 0, best_count = -1;
    for (int c = 0; c < 8; c++) {
      rect b = {cx[order[c][0]] - 3, cy[order[c][1]] - 3, lw + 6, lhh + 6};
      int count = count_in(ms, nseries, b);
      if (best_count < 0 || count < best_count) { best = c; best_count = count; }
      if (count == 0) break;
    }
    double lx = cx[order[best][0]], ly = cy[order[best][1]];
    nnc_sb_printf(sb, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" rx=\"3\" fill=\"#ffffff\" "
                  "fill-opacity=\"0.88\" stroke=\"#bbb\" stroke-width=\"1\"/>\n", lx, ly, lw, lhh);
    for (int e = 0; e < nent; e++) {
      int s = entries[e];
      double y = ly + 4 + lh * e + lh / 2;
      nnc_sb_printf(sb, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke-width=\"2.5\" ",
                    lx + 10, y, lx + 36, y);
      series_style(sb, s);
      nnc_sb_puts(sb, "/>\n");
      if (ms[s].nok <= 40)
        nnc_sb_printf(sb, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>\n", lx + 23, y, PALETTE[s % 10]);
      put_text(sb, lx + 42, y + 4.3, 12, "start", "fill=\"#222\"", names[e]);
    }
    if (more[0]) put_text(sb, lx + 42, ly + 4 + lh * nent + lh / 2 + 4.3, 12, "start", "fill=\"#666\"", more);
  }
  for (int s = 0; s < nseries; s++) {
    free(ms[s].px);
    free(ms[s].py);
    free(ms[s].ok);
    free(ms[s].ex);
    free(ms[s].ey);
    free(ms[s].joined);
  }
  free(ms);
}

nnc_status nnc_svg_panels(const char *path, const char *title, const nnc_svg_panel *panels, int npanels) {
  nnc_status st = no_path(path);
  if (st != NNC_OK) return st;
  nnc_svg_panel empty = {0};
  if (!panels || npanels <= 0) { panels = &empty; npanels = 1; }
  int cols = npanels <= 3 ? npanels : (int)ceil(sqrt((double)npanels));
  int rows = (npanels + cols - 1) / cols;
  double pw = npanels == 1 ? 760 : 540, ph = npanels == 1 ? 440 : 400;
  double top = title && *title ? 40 : 12;
  int W = (int)(cols * pw), H = (int)(top + rows * ph + 6);
  nnc_strbuf sb = {0};
  svg_begin(&sb, W, H);
  put_title(&sb, title, W);
  for (int i = 0; i < npanels; i++)
    draw_line_panel(&sb, &panels[i], (i % cols) * pw + 4, top + (i / cols) * ph, pw - 8, ph - 4, i);
  return svg_finish(&sb, path);
}

nnc_status nnc_svg_line_chart(const char *path, const char *title, const char *xlabel,
                              const char *ylabel, const nnc_series *series, int nseries) {
  nnc_svg_panel p = {.xlabel = xlabel, .ylabel = ylabel, .series = series, .nseries = nseries};
  return nnc_svg_panels(path, title, &p, 1);
}

nnc_status nnc_svg_training_curves(const char *path, const char *title, const double *epochs,
                                   const double *train_loss, const double *test_loss,
                                   const double *test_acc, int n) {
  if (n < 0) n = 0;
  double *x = nnc_xmalloc(sizeof(double) * (size_t)(n + 1));
  double *acc = nnc_xmalloc(sizeof(double) * (size_t)(n + 1));
  for (int i = 0; i < n; i++) x[i] = epochs ? epochs[i] : i + 1;
  /* accuracy as a percentage: a fraction if every finite value is <= 1 */
  double amax = -INFINITY;
  for (int i = 0; test_acc && i < n; i++)
    if (isfinite(test_acc[i])) amax = fmax(amax, test_acc[i]);
  double mul = amax <= 1.0 + 1e-9 ? 100 : 1;
  int best = -1;
  for (int i = 0; test_acc && i < n; i++) {
    acc[i] = test_acc[i] * mul;
    if (isfinite(acc[i]) && (best < 0 || acc[i] > acc[best])) best = i;
  }
  nnc_series loss[2];
  int nloss = 0;
  if (train_loss) loss[nloss++] = (nnc_series){"train loss", x, train_loss, n};
  if (test_loss) loss[nloss++] = (nnc_series){"test loss", x, test_loss, n};
  nnc_series accs = {"test accuracy", x, acc, n};

  /* subtitles that state the result */
  char left_title[160] = "loss", right_title[160] = "test accuracy";
  int last = n - 1;
  if (n > 0 && (train_loss || test_loss)) {
    int len = snprintf(left_title, sizeof left_title, "loss (last:");
    if (train_loss) len += snprintf(left_title + len, sizeof left_title - len, " train %.4g", train_loss[last]);
    if (test_loss) len += snprintf(left_title + len, sizeof left_title - len, "%s test %.4g",
                                   train_loss ? "," : "", test_loss[last]);
    snprintf(left_title + len, sizeof left_title - len, ")");
  }
  if (best >= 0)
    snprintf(right_title, sizeof right_title, "test accuracy (best %.2f%% at epoch %g, last %.2f%%)",
             acc[best], x[best], acc[last]);

  nnc_svg_panel panels[2] = {
      {.title = left_title, .xlabel = "epoch", .ylabel = "loss", .series = loss, .nseries = nloss},
      {.title = right_title, .xlabel = "epoch", .ylabel = "accuracy (%)", .series = &accs,
       .nseries = test_acc ? 1 : 0},
  };
  nnc_status st = nnc_svg_panels(path, title, panels, test_acc ? 2 : 1);
  free(x);
  free(acc);
  return st;
}

/* ---- confusion matrix ---- */

/* White to dark blue ("Blues"), t in 0..1. */
static void blues(char *buf, size_t n, double t) {
  t = t < 0 ? 0 : t > 1 ? 1 : t;
  static const double c0[3] = {247, 251, 255}, c1[3] = {8, 48, 107};
  t = pow(t, 0.8); /* a little more contrast among the small shares */
  snprintf(buf, n, "rgb(%d,%d,%d)", (int)lround(c0[0] + t * (c1[0] - c0[0])),
           (int)lround(c0[1] + t * (c1[1] - c0[1])), (int)lround(c0[2] + t * (c1[2] - c0[2])));
}

/* A chart with only a title and a "no data" note. */
static nnc_status no_data_chart(const char *path, const char *title, const char *note) {
  nnc_strbuf sb = {0};
  svg_begin(&sb, 480, 240);
  put_title(&sb, title, 480);
  put_text(&sb, 240, 130, 14, "middle", "fill=\"#999\"", note);
  return svg_finish(&sb, path);
}

nnc_status nnc_svg_confusion_matrix(const char *path, const char *title, const int64_t *counts,
                                    int k, const char *const *class_names) {
  nnc_status st = no_path(path);
  if (st != NNC_OK) return st;
  if (!counts || k <= 0) return no_data_chart(path, title, "no data");
  if (k > 200) {
    char msg[96];
    snprintf(msg, sizeof msg, "%d classes: too many to draw (at most 200)", k);
    return no_data_chart(path, title, msg);
  }
  double c = floor(560.0 / k);
  c = c < 3 ? 3 : c > 56 ? 56 : c;
  /* names and their sizes */
  char (*names)[64] = nnc_xmalloc(sizeof *names * (size_t)k);
  double fs = fmin(12, c * 0.8), maxw = 0;
  int every = 1; /* with small cells, name every `every`-th class */
  if (fs < 8) { fs = 9; every = (int)ceil(11 / c); }
  for (int i = 0; i < k; i++) {
    if (class_names && class_names[i]) shorten(names[i], sizeof names[i], class_names[i], 24);
    else snprintf(names[i], sizeof names[i], "%d", i);
    maxw = fmax(maxw, text_width(names[i], fs));
  }
  int64_t *rowsum = nnc_xcalloc((size_t)k, sizeof *rowsum);
  int64_t total = 0, correct = 0, maxcount = 1;
  for (int i = 0; i < k; i++)
    for (int j = 0; j < k; j++) {
      int64_t v = counts[(size_t)i * k + j];
      if (v < 0) v = 0;
      rowsum[i] += v;
      total += v;
      if (i == j) correct += v;
      if (v > maxcount) maxcount = v;
    }
  bool rotate = maxw > c * every - 4;
  double col_h = rotate ? maxw * 0.72 + 14 : fs + 8;
  double left = 10 + LABEL_SIZE + 10 + maxw + 8;
  double top = (title && *title ? 40 : 12) + 26;
  double mw = k * c;
  double recall_w = 74;
  int W = (int)fmax(460, left + mw + recall_w + 10);
  int H = (int)(top + mw + col_h + LABEL_SIZE + 18);
  double mx = left + fmax(0, (W - left - mw - recall_w - 10) / 2), my = top;
  nnc_strbuf sb = {0};
  svg_begin(&sb, W, H);
  put_title(&sb, title, W);
  char sub[200];
  if (total > 0)
    snprintf(sub, sizeof sub, "accuracy %.2f%% of %lld \xC2\xB7 colour: share of the true class's row",
             100.0 * correct / total, (long long)total);
  else
    snprintf(sub, sizeof sub, "no samples");
  put_text(&sb, W / 2.0, top - 12, 12, "middle", "fill=\"#555\"", sub);

  int digits = snprintf(NULL, 0, "%lld", (long long)maxcount);
  double nfs = fmin(12, fmin(c * 0.42, (c - 3) / (CHAR_EM * digits)));
  char empty_fill[32];
  blues(empty_fill, sizeof empty_fill, 0);
  nnc_sb_printf(&sb, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"/>\n",
                mx, my, mw, mw, empty_fill);
  for (int i = 0; i < k; i++) {
    for (int j = 0; j < k; j++) {
      int64_t v = counts[(size_t)i * k + j];
      if (v < 0) v = 0;
      double share = rowsum[i] > 0 ? (double)v / rowsum[i] : 0;
      char fill[32];
      blues(fill, sizeof fill, share);
      double x = mx + j * c, y = my + i * c;
      if (v == 0 && c < 8) continue; /* small cells: the background shows empty ones */
      nnc_sb_printf(&sb, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"%s/>\n",
                    x, y, c, c, fill, c >= 8 ? " stroke=\"#ffffff\" stroke-width=\"1\"" : "");
      if (nfs >= 6) {
        char num[32];
        snprintf(num, sizeof num, "%lld", (long long)v);
        const char *color = v == 0 ? "fill=\"#c4c4c4\"" : share > 0.45 ? "fill=\"#ffffff\"" : "fill=\"#1a1a1a\"";
        put_text(&sb, x + c / 2, y + c / 2 + nfs * 0.36, nfs, "middle", color, num);
      }
    }
  }
  nnc_sb_printf(&sb, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" stroke=\"#777\"/>\n",
                mx, my, mw, mw);
  /* class names: rows on the left, columns below */
  for (int i = 0; i < k; i += every) {
    put_text(&sb, mx - 6, my + i * c + c / 2 + fs * 0.36, fs, "end", "fill=\"#333\"", names[i]);
    double x = mx + i * c + c / 2, y = my + mw + 6 + fs * 0.8;
    if (rotate) {
      char attrs[96];
      snprintf(attrs, sizeof attrs, "fill=\"#333\" transform=\"rotate(-45 %.1f %.1f)\"", x + fs * 0.3, y - fs * 0.3);
      put_text(&sb, x + fs * 0.3, y - fs * 0.3, fs, "end", attrs, names[i]);
    } else {
      put_text(&sb, x, y, fs, "middle", "fill=\"#333\"", names[i]);
    }
  }
  put_text(&sb, mx + mw / 2, my + mw + col_h + LABEL_SIZE + 4, LABEL_SIZE, "middle", "fill=\"#222\"",
           "predicted class");
  put_text_vertical(&sb, mx - maxw - 18 - LABEL_SIZE / 2 + 4, my + mw / 2, LABEL_SIZE, "true class");
  /* recall per row */
  double rfs = fmin(12, c * 0.8);
  if (rfs >= 6) put_text(&sb, mx + mw + recall_w / 2, my - 4, 11, "middle", "fill=\"#555\"", "recall");
  for (int i = 0; rfs >= 6 && i < k; i++) {
    char txt[32];
    int64_t diag = counts[(size_t)i * k + i] > 0 ? counts[(size_t)i * k + i] : 0;
    if (rowsum[i] > 0) snprintf(txt, sizeof txt, "%.1f%%", 100.0 * diag / rowsum[i]);
    else snprintf(txt, sizeof txt, "-");
    put_text(&sb, mx + mw + recall_w / 2, my + i * c + c / 2 + rfs * 0.36, rfs, "middle", "fill=\"#333\"", txt);
  }
  free(names);
  free(rowsum);
  return svg_finish(&sb, path);
}

/* ---- bar chart ---- */

nnc_status nnc_svg_bar_chart(const char *path, const char *title, const char *ylabel,
                             const char *const *names, const double *values, int n) {
  nnc_status st = no_path(path);
  if (st != NNC_OK) return st;
  if (!values || n <= 0) return no_data_chart(path, title, "no data");
  if (n > 2000) {
    char msg[96];
    snprintf(msg, sizeof msg, "%d bars: too many to draw (at most 2000)", n);
    return no_data_chart(path, title, msg);
  }
  double vmin = 0, vmax = 0;
  int nfinite = 0;
  for (int i = 0; i < n; i++)
    if (isfinite(values[i])) { vmin = fmin(vmin, values[i]); vmax = fmax(vmax, values[i]); nfinite++; }
  if (vmax == vmin) vmax = vmin + 1;
  double plot_h = 300;
  axis ya;
  axis_linear(&ya, vmin, vmax, 7, false, false);
  /* bar slots and name layout */
  double slot = fmin(90, fmax(3, 640.0 / n));
  double plot_w = fmax(360, slot * n);
  slot = plot_w / n;
  char (*label)[64] = nnc_xmalloc(sizeof *label * (size_t)n);
  double fs = 12, maxw = 0;
  for (int i = 0; i < n; i++) {
    if (names && names[i]) shorten(label[i], sizeof label[i], names[i], 28);
    else snprintf(label[i], sizeof label[i], "%d", i);
    maxw = fmax(maxw, text_width(label[i], fs));
  }
  bool rotate = maxw > slot - 4;
  int every = rotate ? (int)ceil(16.0 / slot) : 1; /* rotated names need ~16 px each */
  double names_h = rotate ? maxw * 0.72 + 16 : fs + 10;
  double top = title && *title ? 44 : 16;
  double left = 8 + (ylabel && *ylabel ? LABEL_SIZE + 8 : 0) + axis_label_width(&ya, TICK_SIZE) + 9;
  int W = (int)(left + plot_w + 24 + (rotate ? 10 : 0));
  int H = (int)(top + plot_h + names_h + 8);
  rect r = {left, top, plot_w, plot_h};
  nnc_strbuf sb = {0};
  svg_begin(&sb, W, H);
  put_title(&sb, title, W);
  draw_axes(&sb, r, NULL, &ya, NULL, ylabel, 8 + LABEL_SIZE);
  double y0 = r.y + r.h * (1 - axis_frac(&ya, 0));
  double vfs = 10.5;
  for (int i = 0; i < n; i++) {
    double cx = r.x + slot * (i + 0.5), bw = fmax(1, slot * 0.72);
    double v = values[i];
    if (isfinite(v)) {
      double y = r.y + r.h * (1 - axis_frac(&ya, v));
      nnc_sb_printf(&sb, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"/>\n",
                    cx - bw / 2, fmin(y, y0), bw, fabs(y0 - y), PALETTE[0]);
      char num[32];
      snprintf(num, sizeof num, "%.4g", v);
      if (text_width(num, vfs) <= slot + 2)
        put_text(&sb, cx, v >= 0 ? y - 4 : y + vfs + 2, vfs, "middle", "fill=\"#333\"", num);
    } else if (slot >= 14) {
      put_text(&sb, cx, y0 - 4, vfs, "middle", "fill=\"#d62728\"", isnan(v) ? "NaN" : "inf");
    }
    if (i % every) continue;
    double ty = r.y + r.h + 6 + fs * 0.8;
    if (rotate) {
      char attrs[96];
      snprintf(attrs, sizeof attrs, "fill=\"#333\" transform=\"rotate(-45 %.1f %.1f)\"", cx + 3, ty - 3);
      put_text(&sb, cx + 3, ty - 3, fs, "end", attrs, label[i]);
    } else {
      put_text(&sb, cx, ty, fs, "middle", "fill=\"#333\"", label[i]);
    }
  }
  /* the zero line */
  nnc_sb_printf(&sb, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#555\" stroke-width=\"1\"/>\n",
                r.x, y0, r.x + r.w, y0);
  if (nfinite == 0) put_text(&sb, r.x + r.w / 2, r.y + r.h / 2, 14, "middle", "fill=\"#999\"", "no finite values");
  free(label);
  return svg_finish(&sb, path);
}

/* ---- histogram ---- */

void nnc_density_curve(const float *v, int64_t n, double lo, double hi, int bins, double *centres, double *density) {
  double w = (hi - lo) / bins;
  for (int b = 0; b < bins; b++) {
    centres[b] = lo + (b + 0.5) * w;
    density[b] = 0;
  }
  for (int64_t i = 0; i < n; i++) {
    double b = floor((v[i] - lo) / w);
    if (b >= 0 && b < bins) density[(int)b] += 1.0 / ((double)n * w);
  }
}

nnc_status nnc_svg_histogram(const char *path, const char *title, const char *xlabel,
                             const double *values, int n, int bins) {
  nnc_status st = no_path(path);
  if (st != NNC_OK) return st;
  int nf = 0;
  double vmin = INFINITY, vmax = -INFINITY, sum = 0;
  for (int i = 0; values && i < n; i++)
    if (isfinite(values[i])) { nf++; vmin = fmin(vmin, values[i]); vmax = fmax(vmax, values[i]); sum += values[i]; }
  if (nf == 0) return no_data_chart(path, title, "no data");
  double mean = sum / nf, ss = 0;
  for (int i = 0; i < n; i++)
    if (isfinite(values[i])) ss += (values[i] - mean) * (values[i] - mean);
  double sd = sqrt(ss / nf);
  if (bins <= 0) bins = (int)fmin(60, fmax(5, round(sqrt((double)nf))));
  if (bins > 10000) bins = 10000;
  double lo = vmin, hi = vmax;
  if (!(hi > lo)) { lo -= 0.5; hi += 0.5; }
  int64_t *count = nnc_xcalloc((size_t)bins, sizeof *count);
  int64_t cmax = 1;
  for (int i = 0; i < n; i++) {
    if (!isfinite(values[i])) continue;
    int b = (int)((values[i] - lo) / (hi - lo) * bins);
    b = b < 0 ? 0 : b >= bins ? bins - 1 : b;
    if (++count[b] > cmax) cmax = count[b];
  }
  double top = (title && *title ? 40 : 12) + 22;
  rect box = {0, top, 760, 400};
  axis ya, xa;
  axis_linear(&ya, 0, (double)cmax, 7, false, true);
  double ylabel_x;
  rect r = layout_plot(box.x + 4, box.y, box.w - 8, box.h, true, &ya, &ylabel_x);
  for (int target = (int)fmax(2, r.w / 80); ; target--) {
    axis_linear(&xa, lo - 0.01 * (hi - lo), hi + 0.01 * (hi - lo), target, true, false);
    if ((axis_label_width(&xa, TICK_SIZE) + 12) * xa.n <= r.w || target <= 2) break;
  }
  int W = (int)box.w, H = (int)(top + box.h + 6);
  nnc_strbuf sb = {0};
  svg_begin(&sb, W, H);
  put_title(&sb, title, W);
  char sub[256];
  int len = snprintf(sub, sizeof sub, "n = %d, mean %.4g, std %.4g, min %.4g, max %.4g, %d bins", nf,
                     mean, sd, vmin, vmax, bins);
  if (nf < n && len >= 0 && len < (int)sizeof sub)
    snprintf(sub + len, sizeof sub - len, " (%d NaN/inf skipped)", n - nf);
  put_text(&sb, W / 2.0, top - 8, 12, "middle", "fill=\"#555\"", sub);
  draw_axes(&sb, r, &xa, &ya, xlabel, "count", ylabel_x);
  double y0 = r.y + r.h;
  nnc_sb_printf(&sb, "<g fill=\"%s\" stroke=\"%s\" stroke-width=\"%s\">\n", PALETTE[0],
                bins <= 100 ? "#ffffff" : "none", "0.6");
  for (int b = 0; b < bins; b++) {
    if (count[b] == 0) continue;
    double x0 = r.x + r.w * axis_frac(&xa, lo + (hi - lo) * b / bins);
    double x1 = r.x + r.w * axis_frac(&xa, lo + (hi - lo) * (b + 1) / bins);
    double y = r.y + r.h * (1 - axis_frac(&ya, (double)count[b]));
    nnc_sb_printf(&sb, "<rect x=\"%.2f\" y=\"%.1f\" width=\"%.2f\" height=\"%.1f\"/>\n", x0, y,
                  fmax(0.5, x1 - x0), y0 - y);
  }
  nnc_sb_puts(&sb, "</g>\n");
  free(count);
  return svg_finish(&sb, path);
}
