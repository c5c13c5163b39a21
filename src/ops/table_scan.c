/* ops/table_scan.c: gradient-check rows for the linear recurrences: the diagonal scan with
 * and without h0 and over a long sequence (the chunked fast path), and the delta rule with
 * L2-normalised keys (with and without S0, Dv != Dk, beta = 2 sigmoid(.) in (0, 2) so the
 * transition has negative eigenvalues, and a sequence crossing the backward checkpoints). */
#include "autograd/gradcheck.h"
#include "ops/ops.h"

static nnc_tensor *f_diag(nnc_tensor **in, nnc_rng *r) { (void)r; return nnc_scan_diag(in[0], in[1], in[2]); }
static nnc_tensor *f_diag_noh0(nnc_tensor **in, nnc_rng *r) { (void)r; return nnc_scan_diag(in[0], in[1], NULL); }

/* k / |k| over the last axis */
static nnc_tensor *l2norm(nnc_tensor *k) {
  nnc_tensor *ss = nnc_sum(nnc_square(k), 1, (int[]){-1}, true);
  return nnc_mul(k, nnc_rsqrt(nnc_shift(ss, 1e-6)));
}
/* beta = 2 sigmoid(x): the [-1, 1] eigenvalue range */
static nnc_tensor *beta2(nnc_tensor *x) { return nnc_scale(nnc_sigmoid(x), 2.0); }

static nnc_tensor *f_delta(nnc_tensor **in, nnc_rng *r) {
  (void)r;
  return nnc_scan_delta(in[0], l2norm(in[1]), in[2], beta2(in[3]), NULL);
}
/* q, k, v (Dv != Dk), S0; beta drawn in (0, 2), not differentiated */
static nnc_tensor *f_delta_s0(nnc_tensor **in, nnc_rng *r) {
  nnc_tensor *q = in[0], *beta = nnc_empty(q->dtype, q->ndim - 1, q->shape);
  nnc_fill_uniform(beta, 0.05, 1.95, r);
  return nnc_scan_delta(q, l2norm(in[1]), in[2], beta, in[3]);
}

NNC_GRADCHECK_ROW(row_scan_diag, .op = "scan_diag", .shapes = "2x5x3 2x5x3 2x3", .fn = f_diag, .lo = -1, .hi = 1);
NNC_GRADCHECK_ROW(row_scan_diag_noh0, .op = "scan_diag", .shapes = "3x4x2 3x4x2", .fn = f_diag_noh0);
NNC_GRADCHECK_ROW(row_scan_diag_long, .op = "scan_diag", .shapes = "1x150x2 1x150x2 1x2", .fn = f_diag, .lo = -1,
                  .hi = 1);
NNC_GRADCHECK_ROW(row_scan_delta, .op = "scan_delta", .shapes = "2x2x4x3 2x2x4x3 2x2x4x3 2x2x4", .fn = f_delta);
NNC_GRADCHECK_ROW(row_scan_delta_s0, .op = "scan_delta", .shapes = "2x3x4 2x3x4 2x3x2 2x2x4", .fn = f_delta_s0,
                  .lo = -1, .hi = 1);
NNC_GRADCHECK_ROW(row_scan_delta_long, .op = "scan_delta", .shapes = "1x1x40x3 1x1x40x3 1x1x40x2 1x1x40",
                  .fn = f_delta, .lo = -1, .hi = 1);
