/* ops/loss.c: the loss family, each one fused op with its own backward.
 *
 *   cross_entropy  logits [N, C], target [N] i64, label smoothing eps:
 *                  loss_i = lse_i - (1-eps) x[i,t_i] - (eps/C) sum_c x[i,c]
 *                  (= -(1-eps) logp[i,t_i] - (eps/C) sum_c logp[i,c], as PyTorch);
 *                  d/dx[i,c] = softmax[i,c] - (1-eps)[c == t_i] - eps/C.
 *                  The fast kernel makes one sweep per row (chunked online max and sum of
 *                  exponentials) and keeps only the log-sum-exp per row for backward.
 *   nll            logp [N, C], target [N] i64: loss_i = -logp[i, t_i]
 *   mse, l1, huber, bce_with_logits: pointwise in (pred, target) of the same shape; each is a
 *                  row of POINTWISE_LOSSES with its loss and both partial derivatives (the
 *                  target is differentiable too, as in PyTorch).
 *
 * Reductions: NNC_REDUCE_MEAN (over all elements; over N for cross_entropy and nll),
 * NNC_REDUCE_SUM (0-d results) or NNC_REDUCE_NONE (per element / per sample).  Sums
 * accumulate in double for both dtypes. */
#include <math.h>
#include "autograd/autograd.h"
#include "core/error.h"
#include "core/iter.h"
#include "core/threads.h"
#include "ops/ops.h"

/* type-generic maths for kernels instantiated with float and double */
#define TEXP(x) _Generic((x), float: expf, default: exp)(x)
#define TLOG(x) _Generic((x), float: logf, default: log)(x)
#define TLOG1P(x) _Generic((x), float: log1pf, default: log1p)(x)
#define TABS(x) _Generic((x), float: fabsf, default: fabs)(x)

static void check_reduction(nnc_reduction r, const char *op) {
  NNC_CHECK(r == NNC_REDUCE_MEAN || r == NNC_REDUCE_SUM || r == NNC_REDUCE_NONE, op, "unknown reduction %d", (int)r);
}

/* the output: per-item values of shape (ndim, shape) for NONE, else a 0-d scalar */
static nnc_tensor *loss_output(nnc_dtype dt, nnc_reduction r, int ndim, const int64_t *shape) {
  return r == NNC_REDUCE_NONE ? nnc_empty(dt, ndim, shape) : nnc_empty(dt, 0, shape);
}

/* stores the reduced total of a MEAN/SUM loss over `count` items */
static void store_total(nnc_tensor *out, nnc_reduction r, double total, int64_t count) {
  if (r != NNC_REDUCE_NONE) nnc_set(out, 0, r == NNC_REDUCE_MEAN ? total / (double)count : total);
}

/* the upstream gradient of a loss node: per item (g != NULL, contiguous, NONE) or one value
 * gs for every item (MEAN/SUM, already divided by the count for MEAN) */
static void upstream(const nnc_node *n, int64_t count, const void **g, double *gs) {
  const nnc_tensor *go = n->out->grad;
  nnc_reduction r = (nnc_reduction)n->i[0];
  *g = NULL;
  *gs = 0;
  if (r == NNC_REDUCE_NONE) *g = nnc_data(go);
  else *gs = nnc_get(go, 0) / (r == NNC_REDUCE_MEAN ? (double)count : 1.0);
}

/* class-index targets: logits [N, C] float, target [N] i64 with 0 <= target < C */
static void check_class_target(const nnc_tensor *x, const nnc_tensor *target, const char *op, const char *what) {
  char a[96], b[96];
  nnc_check_float(x, op);
  NNC_CHECK(x->ndim == 2, op, "%s must be [N, C], got %s", what, nnc_shape_str(x, a, 96));
  NNC_CHECK(target->dtype == NNC_I64, op, "target must be i64 class indices, got %s", nnc_dtype_name(target->dtype));
  NNC_CHECK(target->ndim == 1 && target->shape[0] == x->shape[0], op, "target shape %s does not fit %s %s (want [N])",
            nnc_shape_str(target, a, 96), what, nnc_shape_str(x, b, 96));
  const int64_t *tb = target->storage->data;
  int64_t C = x->shape[1];
  for (int64_t i = 0, N = x->shape[0]; i < N; i++) {
    int64_t t = tb[target->offset + i * target->stride[0]];
    NNC_CHECK(t >= 0 && t < C, op, "target[%lld] = %lld is out of range for %lld classes (want 0 <= target < %lld)",
              (long long)i, (long long)t, (long long)C, (long long)C);
  }
}

/* ======================= cross_entropy ======================= */
/* columns per chunk of the online log-sum-exp: a row up to this long is read twice from L1
 * (max, then exponentials); longer rows are swept once, chunk by chunk */
#define CE_CHUNK 512

/* reference: double, one element at a time, two plain passes per row */
static void ce_fwd_ref(const nnc_tensor *x, const nnc_tensor *target, double eps, nnc_tensor *lse_out,
                       nnc_tensor *out, nnc_reduction r) {
  int64_t N = x->shape[0], C = x->shape[1];
  double total = 0;
  for (int64_t i = 0; i < N; i++) {
    double m = -INFINITY, s = 0, sx = 0;
    for (int64_t c = 0; c < C; c++) m = fmax(m, nnc_get(x, i * C + c));
    for (int64_t c = 0; c < C; c++) {
      double v = nnc_get(x, i * C + c);
      s += exp(v - m);
      sx += v;
    }
    double lse = m + log(s);
    int64_t t = (int64_t)nnc_get(target, i);
    /* -(1-eps) logp_t - (eps/C) sum_c logp_c */
    double loss = -(1 - eps) * (nnc_get(x, i * C + t) - lse);
    if (eps != 0) loss -= eps / (double)C * (sx - (double)C * lse);
    if (lse_out) nnc_set(lse_out, i, lse);
    if (r == NNC_REDUCE_NONE) nnc_set(out, i, loss);
    total += loss;
  }
  store_total(out, r, total, N);
}

#define CE_KERNELS(CT, sfx)                                                                         \
  /* the loss of row xr (column stride sc) and its log-sum-exp */                                 \
  static inline double ce_row_##sfx(const CT *xr, int64_t sc, int64_t C, int64_t t, double eps,   \
                                    CT *lse_out) {                                                \
    typedef CT T;                                                                                 \
    T m = -INFINITY;                                                                              \
    double s = 0, sx = 0;                                                                         \
    for (int64_t c0 = 0; c0 < C; c0 += CE_CHUNK) {                                                \
      int64_t c1 = C - c0 < CE_CHUNK ? C : c0 + CE_CHUNK;                                         \
      T cm = -INFINITY;                                                                           \
      for (int64_t c = c0; c < c1; c++) {                                                         \
        T v = xr[c * sc];                                                                         \
        cm = v > cm ? v : cm;                                                                     \
      }                                                                                           \
      if (cm > m) {                                                                               \
        s *= (double)TEXP((T)(m - cm));                                                           \
        m = cm;                                                                                   \
      }                                                                                           \
      T cs = 0, csx = 0;                                                                          \
      for (int64_t c = c0; c < c1; c++) {                                                         \
        T v = xr[c * sc];                                                                         \
        cs += TEXP((T)(v - m));                                                                   \
        csx += v;                                                                                 \
      }                                                                                           \
      s += (double)cs;                                                                            \
      sx += (double)csx;                                                                          \
    }                                                                                             \
    double lse = (double)m + log(s);                                                              \
    if (lse_out) *lse_out = (T)lse;                                                               \
    double loss = lse - (1 - eps) * (double)xr[t * sc];                                           \
    if (eps != 0) loss -= eps / (double)C * sx;                                                   \
    return loss;                                                                                  \
  }                                                                                               \
  static void ce_fwd_##sfx(const nnc_tensor *xt, const nnc_tensor *tt, double eps, nnc_tensor *lse_t, \
                           nnc_tensor *out, nnc_reduction r) {                                    \
    typedef CT T;                                                                                 \
    const T *xb = (const T *)xt->storage->data + xt->offset;                                      \
    const int64_t *tb = (const int64_t *)tt->storage->data + tt->offset;                          \
    int64_t N = xt->shape[0], C = xt->shape[1], sr = xt->stride[0], sc = xt->stride[1];           \
    int64_t ts = tt->stride[0];                                                                   \
    T *lse = lse_t ? nnc_data(lse_t) : NULL, *op = r == NNC_REDUCE_NONE ? nnc_data(out) : NULL;   \
    double total = 0;                                                                             \
    _Pragma("omp parallel for reduction(+:total) if (N * C >= NNC_PARALLEL_MIN) schedule(static)") \
    for (int64_t i = 0; i < N; i++) {                                                             \
      /* sc == 1 gets its own call so the inner loops see a unit stride */                        \
      double loss = sc == 1 ? ce_row_##sfx(xb + i * sr, 1, C, tb[i * ts], eps, lse ? lse + i : NULL) \
                            : ce_row_##sfx(xb + i * sr, sc, C, tb[i * ts], eps, lse ? lse + i : NULL); \
      if (op) op[i] = (T)loss;                                                                    \
      total += loss;                                                                              \
    }                                                                                             \
    store_total(out, r, total, N);                                                                \
  }                                                                                               \
  /* gx[i, c] = (exp(x[i, c] - lse_i) - eps/C - (1-eps)[c == t_i]) * g_i, gx contiguous */        \
  static void ce_bwd_##sfx(const nnc_tensor *xt, const nnc_tensor *tt, const nnc_tensor *lse_t,   \
                           double eps, const void *gv, double gs, nnc_tensor *gxt) {              \
    typedef CT T;                                                                                 \
    const T *xb = (const T *)xt->storage->data + xt->offset, *lse = nnc_data(lse_t);              \
    const T *g = gv;                                                                              \
    const int64_t *tb = (const int64_t *)tt->storage->data + tt->offset;                          \
    int64_t N = xt->shape[0], C = xt->shape[1], sr = xt->stride[0], sc = xt->stride[1];           \
    int64_t ts = tt->stride[0];                                                                   \
    T *gx = nnc_data(gxt), u = (T)(eps / (double)C), on = (T)(1 - eps);                           \
    _Pragma("omp parallel for if (N * C >= NNC_PARALLEL_MIN) schedule(static)")                   \
    for (int64_t i = 0; i < N; i++) {                                                             \
      T gi = g ? g[i] : (T)gs, L = lse[i];                                                        \
      const T *xr = xb + i * sr;                                                                  \
      T *gr = gx + i * C;                                                                         \
      if (sc == 1)                                                                                \
        for (int64_t c = 0; c < C; c++) gr[c] = (TEXP((T)(xr[c] - L)) - u) * gi;                  \
      else                                                                                        \
        for (int64_t c = 0; c < C; c++) gr[c] = (TEXP((T)(xr[c * sc] - L)) - u) * gi;             \
      gr[tb[i * ts]] -= on * gi;                                                                  \
    }                                                                                             \
  }

CE_KERNELS(float, f32)
CE_KERNELS(double, f64)

static void cross_entropy_backward(nnc_node *n) {
  nnc_tensor *x = nnc_saved(n, 0), *t = nnc_saved(n, 1), *lse = nnc_saved(n, 2);
  if (!n->in[0]->requires_grad) return;
  const void *g;
  double gs;
  upstream(n, x->shape[0], &g, &gs);
  nnc_tensor *gx = nnc_empty(x->dtype, x->ndim, x->shape);
  if (x->dtype == NNC_F32) ce_bwd_f32(x, t, lse, n->f[0], g, gs, gx);
  else ce_bwd_f64(x, t, lse, n->f[0], g, gs, gx);
  nnc_accum_grad(n->in[0], gx);
}
NNC_OP_DEF(op_cross_entropy, "cross_entropy", cross_entropy_backward);

nnc_tensor *nnc_cross_entropy(nnc_tensor *logits, nnc_tensor *target, double label_smoothing, nnc_reduction r) {
  check_class_target(logits, target, "cross_entropy", "logits");
  check_reduction(r, "cross_entropy");
  NNC_CHECK(label_smoothing >= 0 && label_smoothing <= 1, "cross_entropy", "label_smoothing %g is outside [0, 1]",
            label_smoothing);
  nnc_tensor *in[2] = {logits, target};
  int64_t N = logits->shape[0];
  nnc_tensor *out = loss_output(logits->dtype, r, 1, &N);
  nnc_tensor *lse = nnc_needs_grad(2, in) ? nnc_empty(logits->dtype, 1, &N) : NULL;
  if (nnc_reference_kernels()) ce_fwd_ref(logits, target, label_smoothing, lse, out, r);
  else if (logits->dtype == NNC_F32) ce_fwd_f32(logits, target, label_smoothing, lse, out, r);
  else ce_fwd_f64(logits, target, label_smoothing, lse, out, r);
  nnc_node *n = nnc_record(&op_cross_entropy, out, 2, in);
  if (n) {
    nnc_save(n, logits);
    nnc_save(n, target);
    nnc_save(n, lse);
    n->f[0] = label_smoothing;
    n->i[0] = r;
  }
  return out;
}

/* ======================= nll ======================= */
static void nll_fwd_ref(const nnc_tensor *x, const nnc_tensor *target, nnc_tensor *out, nnc_reduction r) {
  int64_t N = x->shape[0], C = x->shape[1];
  double total = 0;
  for (int64_t i = 0; i < N; i++) {
    double loss = -nnc_get(x, i * C + (int64_t)nnc_get(target, i));
    if (r == NNC_REDUCE_NONE) nnc_set(out, i, loss);
    total += loss;
  }
  store_total(out, r, total, N);
}

#define NLL_KERNELS(CT, sfx)                                                                        \
  static void nll_fwd_##sfx(const nnc_tensor *xt, const nnc_tensor *tt, nnc_tensor *out, nnc_reduction r) { \
    typedef CT T;                                                                                 \
    const T *xb = (const T *)xt->storage->data + xt->offset;                                      \
    const int64_t *tb = (const int64_t *)tt->storage->data + tt->offset;                          \
    int64_t N = xt->shape[0], sr = xt->stride[0], sc = xt->stride[1], ts = tt->stride[0];         \
    T *op = r == NNC_REDUCE_NONE ? nnc_data(out) : NULL;                                          \
    double total = 0;                                                                             \
    for (int64_t i = 0; i < N; i++) {                                                             \
      T loss = -xb[i * sr + tb[i * ts] * sc];                                                     \
      if (op) op[i] = loss;                                                                       \
      total += (double)loss;                                                                      \
    }                                                                                             \
    store_total(out, r, total, N);                                                                \
  }                                                                                               \
  static void nll_bwd_##sfx(const nnc_tensor *tt, const void *gv, double gs, nnc_tensor *gxt) {   \
    typedef CT T;                                                                                 \
    const T *g = gv;                                                                              \
    const int64_t *tb = (const int64_t *)tt->storage->data + tt->offset;                          \
    int64_t N = gxt->shape[0], C = gxt->shape[1], ts = tt->stride[0];                             \
    T *gx = nnc_data(gxt);                                                                        \
    for (int64_t i = 0; i < N; i++) gx[i * C + tb[i * ts]] = -(g ? g[i] : (T)gs);                 \
  }

NLL_KERNELS(float, f32)
NLL_KERNELS(double, f64)

static void nll_backward(nnc_node *n) {
  nnc_tensor *t = nnc_saved(n, 0), *x = n->in[0];
  if (!x->requires_grad) return;
  const void *g;
  double gs;
  upstream(n, x->shape[0], &g, &gs);
  nnc_tensor *gx = nnc_zeros(x->dtype, x->ndim, x->shape);
  if (x->dtype == NNC_F32) nll_bwd_f32(t, g, gs, gx);
  else nll_bwd_f64(t, g, gs, gx);
  nnc_accum_grad(x, gx);
}
NNC_OP_DEF(op_nll, "nll", nll_backward);

nnc_tensor *nnc_nll(nnc_tensor *logp, nnc_tensor *target, nnc_reduction r) {
  check_class_target(logp, target, "nll", "logp");
  check_reduction(r, "nll");
  int64_t N = logp->shape[0];
  nnc_tensor *out = loss_output(logp->dtype, r, 1, &N);
  if (nnc_reference_kernels()) nll_fwd_ref(logp, target, out, r);
  else if (logp->dtype == NNC_F32) nll_fwd_f32(logp, target, out, r);
  else nll_fwd_f64(logp, target, out, r);
  nnc_tensor *in[2] = {logp, target};
  nnc_node *n = nnc_record(&op_nll, out, 2, in);
  if (n) {
    nnc_save(n, target);
    n->i[0] = r;
  }
  return out;
}

/* ======================= pointwise losses ======================= */
/* rows: name, loss F, dF/dp DP, dF/dt DT, written with p (pred or logit), t (target),
 * d = p - t and the attribute p0 (huber's delta), all of type T */
#define C(v) ((T)(v))
#define SIGN(v) (T)(((v) > 0) - ((v) < 0))
#define POINTWISE_LOSSES(X)                                                                       \
  X(mse, d * d, C(2) * d, C(-2) * d)                                                             \
  X(l1, TABS(d), SIGN(d), -SIGN(d))                                                              \
  X(huber, TABS(d) < p0 ? C(0.5) * d * d : p0 * (TABS(d) - C(0.5) * p0),                          \
    d < -p0 ? -p0 : (d > p0 ? p0 : d), d < -p0 ? p0 : (d > p0 ? -p0 : -d))                        \
  X(bce_with_logits, (p > 0 ? p : C(0)) - p * t + TLOG1P(TEXP(-TABS(p))), sigmoid_of(p) - t, -p)

/* a sigmoid that does not overflow for large |x| */
static inline float sigmoid_f32(float x) {
  if (x >= 0) return 1 / (1 + expf(-x));
  float e = expf(x);
  return e / (1 + e);
}
static inline double sigmoid_f64(double x) {
  if (x >= 0) return 1 / (1 + exp(-x));
  double e = exp(x);
  return e / (1 + e);
}
#define sigmoid_of(x) _Generic((x), float: sigmoid_f32, default: sigmoid_f64)(x)

/* Kernels for one pointwise loss and one C type T (pred and target strided, same shape):
 *   fwd: per-element losses into out (NONE) and/or their double total (MEAN/SUM)
 *   bwd: gp = g * DP, gt = g * DT, contiguous of the shape; either may be NULL */
#define POINTWISE_KERNELS(name, F, DP, DT, CT, sfx)                                               \
  static void name##_fwd_##sfx(const nnc_tensor *pt, const nnc_tensor *tt, nnc_tensor *out,       \
                               nnc_reduction r, double p0d) {                                     \
    typedef CT T;                                                                                 \
    T p0 = (T)p0d;                                                                                \
    (void)p0;                                                                                     \
    const T *pb = pt->storage->data, *tb = tt->storage->data;                                     \
    T *op = r == NNC_REDUCE_NONE ? nnc_data(out) : NULL;                                          \
    int64_t n = nnc_numel(pt);                                                                    \
    double total = 0;                                                                             \
    if (nnc_is_contiguous(pt) && nnc_is_contiguous(tt)) {                                         \
      const T *pp = pb + pt->offset, *tp = tb + tt->offset;                                       \
      _Pragma("omp parallel for reduction(+:total) if (n >= NNC_PARALLEL_MIN) schedule(static)")  \
      for (int64_t i = 0; i < n; i++) {                                                           \
        T p = pp[i], t = tp[i], d = p - t;                                                        \
        (void)d;                                                                                  \
        T v = (F);                                                                                \
        if (op) op[i] = v;                                                                        \
        total += (double)v;                                                                       \
      }                                                                                           \
    } else {                                                                                      \
      int64_t os[NNC_MAX_DIMS];                                                                   \
      nnc_contiguous_strides(pt->ndim, pt->shape, os);                                            \
      const int64_t *st[3] = {os, pt->stride, tt->stride}, off[3] = {0, pt->offset, tt->offset};  \
      nnc_iter it;                                                                                \
      for (bool more = nnc_iter_init(&it, pt->ndim, pt->shape, 3, st, off); more; more = nnc_iter_next(&it)) \
        for (int64_t j = 0; j < it.n; j++) {                                                      \
          T p = pb[it.off[1] + j * it.inner[1]], t = tb[it.off[2] + j * it.inner[2]], d = p - t;  \
          (void)d;                                                                                \
          T v = (F);                                                                              \
          if (op) op[it.off[0] + j * it.inner[0]] = v;                                            \
          total += (double)v;                                                                     \
        }                                                                                         \
    }                                                                                             \
    store_total(out, r, total, n);                                                                \
  }                                                                                               \
  static void name##_bwd_##sfx(const nnc_tensor *pt, const nnc_tensor *tt, const void *gv, double gsd, \
                               nnc_tensor *gpt, nnc_tensor *gtt, double p0d) {                    \
    typedef CT T;                                                                                 \
    T p0 = (T)p0d, gs = (T)gsd;                                                                   \
    (void)p0;                                                                                     \
    const T *pb = pt->storage->data, *tb = tt->storage->data, *g = gv;                            \
    T *gp = gpt ? nnc_data(gpt) : NULL, *gt = gtt ? nnc_data(gtt) : NULL;                         \
    int64_t os[NNC_MAX_DIMS];                                                                     \
    nnc_contiguous_strides(pt->ndim, pt->shape, os);                                              \
    const int64_t *st[3] = {os, pt->stride, tt->stride}, off[3] = {0, pt->offset, tt->offset};    \
    nnc_iter it;                                                                                  \
    for (bool more = nnc_iter_init(&it, pt->ndim, pt->shape, 3, st, off); more; more = nnc_iter_next(&it)) { \
      const T *prow = pb + it.off[1], *trow = tb + it.off[2];                                     \
      int64_t o = it.off[0], io = it.inner[0], ip = it.inner[1], itt = it.inner[2], m = it.n;     \
      _Pragma("omp parallel for if (m >= NNC_PARALLEL_MIN) schedule(static)")                     \
      for (int64_t j = 0; j < m; j++) {                                                           \
        int64_t i = o + j * io;                                                                   \
        T p = prow[j * ip], t = trow[j * itt], d = p - t, gi = g ? g[i] : gs;                     \
        (void)d; (void)t;                                                                         \
        if (gp) gp[i] = gi * (DP);                                                                \
        if (gt) gt[i] = gi * (DT);                                                                \
      }                                                                                           \
    }                                                                                             \
  }

#define POINTWISE_DEFINE(name, F, DP, DT)                                                         \
  POINTWISE_KERNELS(name, F, DP, DT, float, f32)                                                  \
  POINTWISE_KERNELS(name, F, DP, DT, double, f64)                                                 \
  static void name##_fwd_ref(const nnc_tensor *pt, const nnc_tensor *tt, nnc_tensor *out,         \
                             nnc_reduction r, double p0) {                                        \
    typedef double T;                                                                             \
    (void)p0;                                                                                     \
    int64_t n = nnc_numel(pt);                                                                    \
    double total = 0;                                                                             \
    for (int64_t i = 0; i < n; i++) {                                                             \
      T p = nnc_get(pt, i), t = nnc_get(tt, i), d = p - t;                                        \
      (void)d;                                                                                    \
      T v = (F);                                                                                  \
      if (r == NNC_REDUCE_NONE) nnc_set(out, i, v);                                               \
      total += v;                                                                                 \
    }                                                                                             \
    store_total(out, r, total, n);                                                                \
  }                                                                                               \
  static void name##_backward(nnc_node *n) {                                                      \
    nnc_tensor *p = nnc_saved(n, 0), *t = nnc_saved(n, 1);                                        \
    nnc_tensor *gp = n->in[0]->requires_grad ? nnc_empty(p->dtype, p->ndim, p->shape) : NULL;     \
    nnc_tensor *gt = n->in[1]->requires_grad ? nnc_empty(p->dtype, p->ndim, p->shape) : NULL;     \
    if (!gp && !gt) return;                                                                       \
    const void *g;                                                                                \
    double gs;                                                                                    \
    upstream(n, nnc_numel(p), &g, &gs);                                                           \
    if (p->dtype == NNC_F32) name##_bwd_f32(p, t, g, gs, gp, gt, n->f[0]);                        \
    else name##_bwd_f64(p, t, g, gs, gp, gt, n->f[0]);                                            \
    nnc_accum_grad(n->in[0], gp);                                                                 \
    nnc_accum_grad(n->in[1], gt);                                                                 \
  }                                                                                               \
  NNC_OP_DEF(op_##name, #name, name##_backward);                                                  \
  static nnc_tensor *name##_op(nnc_tensor *pred, nnc_tensor *target, double p0, nnc_reduction r) { \
    char a[96], b[96];                                                                            \
    nnc_check_float_pair(pred, target, #name);                                                    \
    check_reduction(r, #name);                                                                    \
    NNC_CHECK(nnc_same_shape(pred, target), #name, "input shape %s and target shape %s differ",   \
              nnc_shape_str(pred, a, 96), nnc_shape_str(target, b, 96));                          \
    nnc_tensor *out = loss_output(pred->dtype, r, pred->ndim, pred->shape);                       \
    if (nnc_reference_kernels()) name##_fwd_ref(pred, target, out, r, p0);                        \
    else if (pred->dtype == NNC_F32) name##_fwd_f32(pred, target, out, r, p0);                    \
    else name##_fwd_f64(pred, target, out, r, p0);                                                \
    nnc_tensor *in[2] = {pred, target};                                                           \
    nnc_node *n = nnc_record(&op_##name, out, 2, in);                                             \
    if (n) {                                                                                      \
      nnc_save(n, pred);                                                                          \
      nnc_save(n, target);                                                                        \
      n->f[0] = p0;                                                                               \
      n->i[0] = r;                                                                                \
    }                                                                                             \
    return out;                                                                                   \
  }

POINTWISE_LOSSES(POINTWISE_DEFINE)

nnc_tensor *nnc_mse(nnc_tensor *pred, nnc_tensor *target, nnc_reduction r) { return mse_op(pred, target, 0, r); }
nnc_tensor *nnc_l1(nnc_tensor *pred, nnc_tensor *target, nnc_reduction r) { return l1_op(pred, target, 0, r); }
nnc_tensor *nnc_huber(nnc_tensor *pred, nnc_tensor *target, double delta, nnc_reduction r) {
  NNC_CHECK(delta > 0, "huber", "delta must be positive, got %g", delta);
  return huber_op(pred, target, delta, r);
}
nnc_tensor *nnc_bce_with_logits(nnc_tensor *logits, nnc_tensor *target, nnc_reduction r) {
  return bce_with_logits_op(logits, target, 0, r);
}
