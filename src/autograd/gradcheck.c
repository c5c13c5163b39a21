/* autograd/gradcheck.c: the gradient-check driver over the op table (see gradcheck.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "autograd/autograd.h"
#include "autograd/gradcheck.h"
#include "core/arena.h"
#include "core/error.h"
#include "ops/ops.h"

extern __attribute__((weak)) const nnc_gradcheck_row *const __start_nnc_gradcheck[];
extern __attribute__((weak)) const nnc_gradcheck_row *const __stop_nnc_gradcheck[];

int nnc_gradcheck_rows(const nnc_gradcheck_row *const **rows) {
  *rows = __start_nnc_gradcheck;
  return (int)(__stop_nnc_gradcheck - __start_nnc_gradcheck);
}

enum { LAYOUT_CONTIGUOUS, LAYOUT_PERMUTED, LAYOUT_BROADCAST, NLAYOUTS };

/* parses "3x4 4 s" into shapes; returns the number of inputs */
static int parse_shapes(const char *s, int ndim[4], int64_t shape[4][NNC_MAX_DIMS]) {
  int n = 0;
  while (s && *s) {
    while (*s == ' ') s++;
    if (!*s) break;
    NNC_CHECK(n < 4, "gradcheck", "more than 4 inputs in '%s'", s);
    ndim[n] = 0;
    if (*s == 's') {
      s++;
    } else {
      for (;;) {
        char *end;
        long long v = strtoll(s, &end, 10);
        NNC_CHECK(end != s && ndim[n] < NNC_MAX_DIMS, "gradcheck", "bad shape string '%s'", s);
        shape[n][ndim[n]++] = v;
        s = end;
        if (*s != 'x') break;
        s++;
      }
    }
    n++;
  }
  return n;
}

typedef struct {
  int n;
  nnc_tensor *leaf[4];  /* what the gradient is taken with respect to */
  nnc_tensor *input[4]; /* what the op sees (a view of the leaf in some layouts) */
} inputs;

/* makes leaves with values in [lo, hi] and the views the op sees, for one layout */
static void make_inputs(inputs *in, const nnc_gradcheck_row *row, int layout, nnc_dtype dt, uint64_t seed) {
  int ndim[4];
  int64_t shape[4][NNC_MAX_DIMS];
  in->n = parse_shapes(row->shapes, ndim, shape);
  double lo = row->lo, hi = row->hi;
  if (lo == 0 && hi == 0) lo = -2, hi = 2;
  nnc_rng rng;
  nnc_rng_seed(&rng, seed, 7);
  for (int k = 0; k < in->n; k++) {
    int64_t leaf_shape[NNC_MAX_DIMS];
    memcpy(leaf_shape, shape[k], sizeof leaf_shape);
    int nd = ndim[k];
    bool permute = layout == LAYOUT_PERMUTED && nd >= 2;
    bool broadcast = layout == LAYOUT_BROADCAST && nd >= 1 && shape[k][0] > 1;
    if (permute) {
      leaf_shape[nd - 1] = shape[k][nd - 2];
      leaf_shape[nd - 2] = shape[k][nd - 1];
    }
    if (broadcast) leaf_shape[0] = 1;
    nnc_tensor *leaf = nnc_empty(dt, nd, leaf_shape);
    nnc_fill_uniform(leaf, lo, hi, &rng);
    nnc_requires_grad(leaf);
    in->leaf[k] = leaf;
    in->input[k] = permute ? nnc_transpose(leaf, -1, -2) : broadcast ? nnc_expand(leaf, nd, shape[k]) : leaf;
  }
}

static nnc_tensor *apply(const nnc_gradcheck_row *row, inputs *in, uint64_t seed) {
  nnc_rng rng;
  nnc_rng_seed(&rng, seed, 11);
  return row->fn(in->input, &rng);
}

/* re-derives the views from the leaves (after a leaf value changed, views share storage,
 * so nothing is needed) and evaluates sum(out * R) without recording */
static double objective(const nnc_gradcheck_row *row, inputs *in, nnc_tensor *R, uint64_t seed) {
  nnc_no_grad_begin();
  nnc_tensor *out = apply(row, in, seed);
  double s = 0;
  for (int64_t i = 0, n = nnc_numel(out); i < n; i++) s += nnc_get(out, i) * nnc_get(R, i);
  nnc_no_grad_end();
  return s;
}

static double rel_err(double a, double b) {
  double scale = fmax(1.0, fmax(fabs(a), fabs(b)));
  if (isnan(a) || isnan(b)) return (isnan(a) && isnan(b)) ? 0 : INFINITY;
  if (isinf(a) || isinf(b)) return a == b ? 0 : INFINITY;
  return fabs(a - b) / scale;
}

static double compare(const nnc_tensor *a, const nnc_tensor *b) {
  if (!nnc_same_shape(a, b)) return INFINITY;
  double e = 0;
  for (int64_t i = 0, n = nnc_numel(a); i < n; i++) e = fmax(e, rel_err(nnc_get(a, i), nnc_get(b, i)));
  return e;
}

static double fast_vs_reference(const nnc_gradcheck_row *row, int layout, nnc_dtype dt, uint64_t seed) {
  inputs in;
  nnc_no_grad_begin();
  make_inputs(&in, row, layout, dt, seed);
  nnc_tensor *fast = apply(row, &in, seed);
  bool was = nnc_reference_kernels();
  nnc_set_reference_kernels(true);
  nnc_tensor *ref = apply(row, &in, seed);
  nnc_set_reference_kernels(was);
  nnc_no_grad_end();
  return compare(fast, ref);
}

nnc_gradcheck_result nnc_gradcheck_run(const nnc_gradcheck_row *row) {
  nnc_gradcheck_result res = {0, 0, 0, 0};
  const double eps = 1e-6;
  for (int layout = 0; layout < NLAYOUTS; layout++) {
    if (layout == LAYOUT_PERMUTED && (row->flags & NNC_GC_NO_PERMUTE)) continue;
    if (layout == LAYOUT_BROADCAST && (row->flags & NNC_GC_NO_BROADCAST)) continue;
    uint64_t seed = 1000 + (uint64_t)layout;
    res.layouts++;
    res.ref_err64 = fmax(res.ref_err64, fast_vs_reference(row, layout, NNC_F64, seed));
    if (!(row->flags & NNC_GC_NO_F32)) res.ref_err32 = fmax(res.ref_err32, fast_vs_reference(row, layout, NNC_F32, seed));
    if (row->flags & NNC_GC_NO_GRAD) continue;

    inputs in;
    make_inputs(&in, row, layout, NNC_F64, seed);
    nnc_tensor *out = apply(row, &in, seed);
    nnc_rng rr;
    nnc_rng_seed(&rr, seed, 13);
    nnc_tensor *R = nnc_empty(NNC_F64, out->ndim, out->shape);
    nnc_fill_uniform(R, -1, 1, &rr);
    nnc_tensor *loss = nnc_sum_all(nnc_mul(out, R));
    nnc_backward(loss);
    for (int k = 0; k < in.n; k++) {
      nnc_tensor *leaf = in.leaf[k];
      double *x = nnc_f64(leaf);
      for (int64_t i = 0, n = nnc_numel(leaf); i < n; i++) {
        double orig = x[i];
        x[i] = orig + eps;
        double lp = objective(row, &in, R, seed);
        x[i] = orig - eps;
        double lm = objective(row, &in, R, seed);
        x[i] = orig;
        double numeric = (lp - lm) / (2 * eps);
        double analytic = leaf->grad ? nnc_get(leaf->grad, i) : 0.0;
        res.grad_err = fmax(res.grad_err, rel_err(analytic, numeric));
      }
    }
  }
  return res;
}

bool nnc_gradcheck_ok(const nnc_gradcheck_row *row, const nnc_gradcheck_result *r) {
  double tol = row->tol > 0 ? row->tol : 1e-6;
  return r->grad_err <= tol && r->ref_err64 <= 1e-9 && r->ref_err32 <= 1e-4;
}

int nnc_gradcheck_all(const char *filter, bool verbose) {
  const nnc_gradcheck_row *const *rows;
  int nrows = nnc_gradcheck_rows(&rows);
  const nnc_op_def *const *defs;
  int ndefs = nnc_op_defs(&defs);
  int failed = 0, checked = 0;
  /* one line per op: the worst over its rows */
  for (int d = 0; d < ndefs; d++) {
    const char *name = defs[d]->name;
    bool seen = false;
    for (int e = 0; e < d; e++)
      if (strcmp(defs[e]->name, name) == 0) seen = true;
    if (seen || (filter && !strstr(name, filter))) continue;
    double worst = 0;
    bool ok = true;
    int nr = 0;
    for (int r = 0; r < nrows; r++) {
      if (strcmp(rows[r]->op, name) != 0) continue;
      nnc_gradcheck_result res = nnc_gradcheck_run(rows[r]);
      nnc_step_end();
      double e = fmax(res.grad_err, fmax(res.ref_err64, res.ref_err32));
      worst = fmax(worst, e);
      if (!nnc_gradcheck_ok(rows[r], &res)) ok = false;
      if (verbose)
        printf("  %-16s %-14s grad %.2e  ref64 %.2e  ref32 %.2e\n", name, rows[r]->shapes, res.grad_err, res.ref_err64,
               res.ref_err32);
      nr++;
    }
    if (nr == 0) ok = false; /* an op without a row fails */
    printf("%-16s %.2e %s%s\n", name, worst, ok ? "ok" : "FAIL", nr == 0 ? " (no table row)" : "");
    fflush(stdout);
    failed += !ok;
    checked++;
  }
  printf("gradcheck: %d ops, %d ok, %d failed\n", checked, checked - failed, failed);
  return failed;
}
