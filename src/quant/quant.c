/* quant/quant.c: quantisers, calibration, observers and the fake-quantisation ops (see quant.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "autograd/autograd.h"
#include "core/error.h"
#include "core/iter.h"
#include "ops/ops.h"
#include "quant/quant.h"

/* ---- schemes ---- */
void nnc_qscheme_range(nnc_qscheme s, int32_t *qmin, int32_t *qmax) {
  NNC_CHECK(s.bits >= 2 && s.bits <= 16, "quant", "bits %d outside 2..16", s.bits);
  if (s.symmetric) {
    *qmax = (1 << (s.bits - 1)) - 1;
    *qmin = s.narrow ? -*qmax : -*qmax - 1;
  } else {
    *qmin = 0;
    *qmax = (1 << s.bits) - 1;
  }
}

void nnc_qscheme_params(nnc_qscheme s, double lo, double hi, float *scale, int32_t *zero) {
  int32_t qmin, qmax;
  nnc_qscheme_range(s, &qmin, &qmax);
  if (!isfinite(lo)) lo = 0;
  if (!isfinite(hi)) hi = 0;
  double S;
  if (s.symmetric) {
    double beta = fmax(fabs(lo), fabs(hi));
    S = s.narrow ? beta / qmax : 2 * beta / ((double)qmax - qmin);
    *scale = (float)S < NNC_QSCALE_MIN ? NNC_QSCALE_MIN : (float)S;
    *zero = 0;
  } else {
    lo = fmin(lo, 0);
    hi = fmax(hi, 0);
    S = (hi - lo) / ((double)qmax - qmin);
    *scale = (float)S < NNC_QSCALE_MIN ? NNC_QSCALE_MIN : (float)S;
    double z = nearbyint(-lo / (double)*scale);
    *zero = (int32_t)fmin(fmax(z, qmin), qmax);
  }
}

/* ---- calibration ---- */
const char *nnc_calib_name(nnc_calib_method m) {
  switch (m) {
  case NNC_CALIB_MINMAX: return "minmax";
  case NNC_CALIB_PERCENTILE: return "percentile";
  case NNC_CALIB_MSE: return "mse";
  }
  return "?";
}

double nnc_quant_sq_error(const float *v, int64_t n, float scale, int32_t zero, int32_t qmin, int32_t qmax) {
  double e = 0;
  for (int64_t i = 0; i < n; i++) {
    if (!isfinite(v[i])) continue;
    float r = scale * (float)(nnc_quantize_f32(v[i], scale, zero, qmin, qmax) - zero);
    double d = (double)v[i] - (double)r;
    e += d * d;
  }
  return e;
}

static int cmp_float(const void *a, const void *b) {
  float x = *(const float *)a, y = *(const float *)b;
  return (x > y) - (x < y);
}

/* the q-quantile (0..1) of sorted values, interpolating linearly as numpy's default */
static double quantile_sorted(const float *s, int64_t n, double q) {
  double pos = q * (double)(n - 1);
  int64_t i = (int64_t)floor(pos);
  if (i >= n - 1) return s[n - 1];
  double f = pos - (double)i;
  return (double)s[i] + f * ((double)s[i + 1] - (double)s[i]);
}

void nnc_calib_range(const float *v, int64_t n, nnc_qscheme s, nnc_calib c, double *lo, double *hi) {
  NNC_CHECK(n >= 1, "calibrate", "no values");
  double mn = INFINITY, mx = -INFINITY;
  int64_t nf = 0;
  for (int64_t i = 0; i < n; i++)
    if (isfinite(v[i])) {
      mn = fmin(mn, v[i]);
      mx = fmax(mx, v[i]);
      nf++;
    }
  if (nf == 0) {
    *lo = *hi = 0;
    return;
  }
  if (s.symmetric) {
    double b = fmax(fabs(mn), fabs(mx));
    mn = -b;
    mx = b;
  }
  switch (c.method) {
  case NNC_CALIB_MINMAX: break;
  case NNC_CALIB_PERCENTILE: {
    double p = c.percentile > 0 ? c.percentile : 99.99;
    NNC_CHECK(p > 50 && p <= 100, "calibrate", "percentile %g outside (50, 100]", p);
    float *w = nnc_xmalloc((size_t)nf * sizeof *w);
    int64_t k = 0;
    for (int64_t i = 0; i < n; i++)
      if (isfinite(v[i])) w[k++] = s.symmetric ? fabsf(v[i]) : v[i];
    qsort(w, (size_t)nf, sizeof *w, cmp_float);
    if (s.symmetric) {
      double b = quantile_sorted(w, nf, p / 100);
      mn = -b;
      mx = b;
    } else {
      mn = quantile_sorted(w, nf, 1 - p / 100);
      mx = quantile_sorted(w, nf, p / 100);
    }
    free(w);
    break;
  }
  case NNC_CALIB_MSE: {
    int G = c.grid > 0 ? c.grid : 100;
    int32_t qmin, qmax;
    nnc_qscheme_range(s, &qmin, &qmax);
    double best = INFINITY, blo = mn, bhi = mx;
    for (int k = G; k >= 1; k--) { /* from the full range down: ties keep the wider range */
      double l = mn * k / G, h = mx * k / G;
      float S;
      int32_t Z;
      nnc_qscheme_params(s, l, h, &S, &Z);
      double e = nnc_quant_sq_error(v, n, S, Z, qmin, qmax);
      if (e < best) {
        best = e;
        blo = l;
        bhi = h;
      }
    }
    mn = blo;
    mx = bhi;
    break;
  }
  default: NNC_FAIL("calibrate", "unknown method %d", (int)c.method);
  }
  *lo = mn;
  *hi = mx;
}

/* the values of t as contiguous floats (t's own data when it is already that) */
static float *values_f32(const nnc_tensor *t, bool *owned) {
  int64_t n = nnc_numel(t);
  if (t->dtype == NNC_F32 && nnc_is_contiguous(t)) {
    *owned = false;
    return nnc_f32(t);
  }
  NNC_CHECK(nnc_dtype_is_float(t->dtype), "quant", "values must be float, not %s", nnc_dtype_name(t->dtype));
  float *v = nnc_xmalloc((size_t)(n ? n : 1) * sizeof *v);
  for (int64_t i = 0; i < n; i++) v[i] = (float)nnc_get(t, i);
  *owned = true;
  return v;
}

/* ---- qparams ---- */
static void qparams_alloc(nnc_qparams *qp, nnc_qscheme s, int64_t n) {
  qp->scheme = s;
  nnc_qscheme_range(s, &qp->qmin, &qp->qmax);
  qp->n = n;
  qp->scale = nnc_xmalloc((size_t)n * sizeof *qp->scale);
  qp->zero = nnc_xmalloc((size_t)n * sizeof *qp->zero);
}

void nnc_qparams_calibrate(nnc_qparams *qp, const nnc_tensor *t, nnc_qscheme s, nnc_calib c, bool per_channel) {
  int64_t n = nnc_numel(t);
  NNC_CHECK(n > 0, "quant", "empty tensor");
  NNC_CHECK(!per_channel || t->ndim >= 1, "quant", "per-channel parameters need a tensor with an axis 0");
  int64_t ch = per_channel ? t->shape[0] : 1, row = n / ch;
  bool owned;
  float *v = values_f32(t, &owned);
  qparams_alloc(qp, s, ch);
  for (int64_t k = 0; k < ch; k++) {
    double lo, hi;
    nnc_calib_range(v + k * row, row, s, c, &lo, &hi);
    nnc_qscheme_params(s, lo, hi, &qp->scale[k], &qp->zero[k]);
  }
  if (owned) free(v);
}

void nnc_qparams_from_range(nnc_qparams *qp, nnc_qscheme s, double lo, double hi) {
  qparams_alloc(qp, s, 1);
  nnc_qscheme_params(s, lo, hi, &qp->scale[0], &qp->zero[0]);
}

void nnc_qparams_free(nnc_qparams *qp) {
  free(qp->scale);
  free(qp->zero);
  memset(qp, 0, sizeof *qp);
}

static nnc_tensor *qp_tensor(const nnc_qparams *qp, int ndim, nnc_dtype dt, bool zero) {
  NNC_CHECK(qp->n >= 1 && qp->scale, "quant", "qparams not set");
  int64_t shape[NNC_MAX_DIMS];
  int nd = qp->n == 1 ? 0 : ndim;
  NNC_CHECK(nd <= NNC_MAX_DIMS && (qp->n == 1 || ndim >= 1), "quant", "per-channel parameters for a %d-d tensor", ndim);
  for (int d = 0; d < nd; d++) shape[d] = d == 0 ? qp->n : 1;
  nnc_tensor *t = nnc_empty(dt, nd, shape);
  for (int64_t k = 0; k < qp->n; k++) nnc_set(t, k, zero ? (double)qp->zero[k] : (double)qp->scale[k]);
  return t;
}
nnc_tensor *nnc_qparams_scale_tensor(const nnc_qparams *qp, int ndim, nnc_dtype dt) { return qp_tensor(qp, ndim, dt, false); }
nnc_tensor *nnc_qparams_zero_tensor(const nnc_qparams *qp, int ndim, nnc_dtype dt) { return qp_tensor(qp, ndim, dt, true); }

/* ---- observers ---- */
void nnc_qobserver_init(nnc_qobserver *o, int64_t cap) {
  memset(o, 0, sizeof *o);
  o->cap = cap > 0 ? cap : (1 << 18);
  o->v = nnc_xmalloc((size_t)o->cap * sizeof *o->v);
  o->rng = 0x9e3779b97f4a7c15ULL;
  o->min = INFINITY;
  o->max = -INFINITY;
}

static uint64_t splitmix(uint64_t *s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

void nnc_qobserver_add(nnc_qobserver *o, const nnc_tensor *t) {
  bool owned;
  float *v = values_f32(t, &owned);
  int64_t n = nnc_numel(t);
  for (int64_t i = 0; i < n; i++) {
    float x = v[i];
    if (!isfinite(x)) continue;
    o->min = fmin(o->min, x);
    o->max = fmax(o->max, x);
    o->seen++;
    if (o->n < o->cap) o->v[o->n++] = x;
    else {
      uint64_t j = splitmix(&o->rng) % (uint64_t)o->seen;
      if (j < (uint64_t)o->cap) o->v[j] = x;
    }
  }
  if (owned) free(v);
}

void nnc_qobserver_range(const nnc_qobserver *o, nnc_qscheme s, nnc_calib c, double *lo, double *hi) {
  NNC_CHECK(o->n > 0, "observer", "no values observed");
  if (c.method == NNC_CALIB_MINMAX) {
    *lo = o->min;
    *hi = o->max;
    if (s.symmetric) {
      *hi = fmax(fabs(*lo), fabs(*hi));
      *lo = -*hi;
    }
    return;
  }
  nnc_calib_range(o->v, o->n, s, c, lo, hi);
}

void nnc_qobserver_free(nnc_qobserver *o) {
  free(o->v);
  memset(o, 0, sizeof *o);
}

/* ---- fake quantisation ---- */
/* walks x (any strides) with scale and zero broadcast to it and out (contiguous, x's shape) */
#define FQ_LOOP(T, BODY)                                                                                     \
  do {                                                                                                       \
    int64_t st[4][NNC_MAX_DIMS];                                                                             \
    nnc_contiguous_strides(x->ndim, x->shape, st[0]);                                                        \
    memcpy(st[1], x->stride, sizeof st[1]);                                                                  \
    nnc_broadcast_strides(a2, x->ndim, x->shape, st[2]);                                                     \
    nnc_broadcast_strides(a3, x->ndim, x->shape, st[3]);                                                     \
    const int64_t *sp[4] = {st[0], st[1], st[2], st[3]};                                                     \
    int64_t offs[4] = {0, x->offset, a2->offset, a3->offset};                                                \
    T *po = (T *)out->storage->data + out->offset;                                                           \
    const T *px = (const T *)x->storage->data, *p2 = (const T *)a2->storage->data,                           \
            *p3 = (const T *)a3->storage->data;                                                              \
    nnc_iter it;                                                                                             \
    for (bool more = nnc_iter_init(&it, x->ndim, x->shape, 4, sp, offs); more; more = nnc_iter_next(&it))   \
      for (int64_t j = 0; j < it.n; j++) {                                                                   \
        T *o_ = &po[it.off[0] + j * it.inner[0]];                                                            \
        T xv = px[it.off[1] + j * it.inner[1]], v2 = p2[it.off[2] + j * it.inner[2]],                       \
          v3 = p3[it.off[3] + j * it.inner[3]];                                                              \
        BODY;                                                                                                \
      }                                                                                                      \
  } while (0)

static void check_params(const nnc_tensor *x, const nnc_tensor *a, const char *op, const char *what) {
  char b1[96], b2[96];
  NNC_CHECK(a->dtype == x->dtype, op, "%s dtype %s differs from the input's %s", what, nnc_dtype_name(a->dtype),
            nnc_dtype_name(x->dtype));
  int nd;
  int64_t sh[NNC_MAX_DIMS];
  nnc_broadcast_shape(x, a, op, &nd, sh);
  bool same = nd == x->ndim;
  for (int d = 0; same && d < nd; d++) same = sh[d] == x->shape[d];
  NNC_CHECK(same, op, "%s %s does not broadcast to the input %s", what, nnc_shape_str(a, b1, 96),
            nnc_shape_str(x, b2, 96));
}

/* the attributes reach the forward through `user` (a pointer to the caller's stack, valid
 * during the forward only); the forward copies them into ctx->i for the backward */
typedef struct {
  int32_t qmin, qmax;
  int ste;
} fq_attr;

static nnc_tensor *fq_forward(nnc_node *ctx, int n_in, nnc_tensor *const *in, void *user) {
  (void)n_in;
  const fq_attr *at = user;
  ctx->i[0] = at->qmin;
  ctx->i[1] = at->qmax;
  ctx->i[2] = at->ste;
  nnc_tensor *x = in[0], *a2 = in[1], *a3 = in[2];
  const double qmin = (double)ctx->i[0], qmax = (double)ctx->i[1];
  nnc_tensor *out = nnc_empty(x->dtype, x->ndim, x->shape);
  if (x->dtype == NNC_F32) {
    const float fmn = (float)qmin, fmx = (float)qmax;
    FQ_LOOP(float, {
      float q = nearbyintf(xv / v2) + v3;
      q = q > fmn ? q : fmn;
      q = q < fmx ? q : fmx;
      *o_ = v2 * (q - v3);
    });
  } else {
    FQ_LOOP(double, {
      double q = nearbyint(xv / v2) + v3;
      q = q > qmin ? q : qmin;
      q = q < qmax ? q : qmax;
      *o_ = v2 * (q - v3);
    });
  }
  if (ctx->i[2] == NNC_STE_CLIPPED) {
    nnc_save(ctx, x);
    nnc_save(ctx, a2);
    nnc_save(ctx, a3);
  }
  return out;
}

static void fq_backward(nnc_node *ctx, const nnc_tensor *g, nnc_tensor **grad_in, void *user) {
  (void)user;
  if (ctx->i[2] != NNC_STE_CLIPPED) {
    grad_in[0] = (nnc_tensor *)g;
    return;
  }
  nnc_tensor *x = nnc_saved(ctx, 0), *a2 = nnc_saved(ctx, 1), *a3 = nnc_saved(ctx, 2);
  const double qmin = (double)ctx->i[0], qmax = (double)ctx->i[1];
  nnc_tensor *out = nnc_empty(x->dtype, x->ndim, x->shape); /* the mask, then times g */
  if (x->dtype == NNC_F32) {
    FQ_LOOP(float, {
      float q = nearbyintf(xv / v2) + v3;
      *o_ = (q >= (float)qmin && q <= (float)qmax) ? 1.0f : 0.0f;
    });
  } else {
    FQ_LOOP(double, {
      double q = nearbyint(xv / v2) + v3;
      *o_ = (q >= qmin && q <= qmax) ? 1.0 : 0.0;
    });
  }
  grad_in[0] = nnc_mul(out, (nnc_tensor *)g);
}

static const nnc_custom_op fake_quant_op = {"fake_quant", fq_forward, fq_backward};

nnc_tensor *nnc_fake_quant(nnc_tensor *x, nnc_tensor *scale, nnc_tensor *zero, int32_t qmin, int32_t qmax,
                           nnc_ste ste) {
  nnc_check_float(x, "fake_quant");
  check_params(x, scale, "fake_quant", "scale");
  check_params(x, zero, "fake_quant", "zero point");
  NNC_CHECK(qmin < qmax, "fake_quant", "empty code range [%d, %d]", (int)qmin, (int)qmax);
  NNC_CHECK(ste == NNC_STE || ste == NNC_STE_CLIPPED, "fake_quant", "unknown estimator %d", (int)ste);
  nnc_tensor *in[3] = {x, scale, zero};
  fq_attr attr = {qmin, qmax, (int)ste};
  return nnc_custom(&fake_quant_op, 3, in, &attr);
}

nnc_tensor *nnc_fake_quant_qp(nnc_tensor *x, const nnc_qparams *qp, nnc_ste ste) {
  char b[96];
  NNC_CHECK(qp->n == 1 || (x->ndim >= 1 && x->shape[0] == qp->n), "fake_quant",
            "%lld per-channel parameters for an input %s", (long long)qp->n, nnc_shape_str(x, b, 96));
  return nnc_fake_quant(x, nnc_qparams_scale_tensor(qp, x->ndim, x->dtype), nnc_qparams_zero_tensor(qp, x->ndim, x->dtype),
                        qp->qmin, qp->qmax, ste);
}

/* ---- LSQ ---- */
typedef struct {
  int32_t qn, qp;
  double g;
} lsq_attr;

static nnc_tensor *lsq_forward(nnc_node *ctx, int n_in, nnc_tensor *const *in, void *user) {
  (void)n_in;
  const lsq_attr *at = user;
  ctx->i[0] = at->qn;
  ctx->i[1] = at->qp;
  ctx->f[0] = at->g;
  nnc_tensor *x = in[0], *a2 = in[1], *a3 = in[1]; /* a3 unused: the loop wants four operands */
  const double lo = -(double)at->qn, hi = (double)at->qp;
  nnc_tensor *out = nnc_empty(x->dtype, x->ndim, x->shape);
  if (x->dtype == NNC_F32) {
    FQ_LOOP(float, {
      (void)v3;
      float q = nearbyintf(xv / v2);
      q = q > (float)lo ? q : (float)lo;
      q = q < (float)hi ? q : (float)hi;
      *o_ = q * v2;
    });
  } else {
    FQ_LOOP(double, {
      (void)v3;
      double q = nearbyint(xv / v2);
      q = q > lo ? q : lo;
      q = q < hi ? q : hi;
      *o_ = q * v2;
    });
  }
  nnc_save(ctx, x);
  nnc_save(ctx, a2);
  return out;
}

static void lsq_backward(nnc_node *ctx, const nnc_tensor *g, nnc_tensor **grad_in, void *user) {
  (void)user;
  nnc_tensor *x = nnc_saved(ctx, 0), *a2 = nnc_saved(ctx, 1), *a3 = a2;
  const double lo = -(double)ctx->i[0], hi = (double)ctx->i[1], gs = ctx->f[0];
  nnc_tensor *out = nnc_empty(x->dtype, x->ndim, x->shape), *ds = NULL;
  bool want_x = x->requires_grad, want_s = a2->requires_grad;
  if (want_s) ds = nnc_empty(x->dtype, x->ndim, x->shape);
  /* out = inside mask; ds = d v^/d s (before the gradient scale) */
  if (x->dtype == NNC_F32) {
    float *pd = ds ? nnc_f32(ds) : NULL; /* contiguous like out: the same offsets */
    FQ_LOOP(float, {
      (void)v3;
      float r = xv / v2;
      bool inside = r > (float)lo && r < (float)hi;
      *o_ = inside ? 1.0f : 0.0f;
      if (pd) pd[o_ - po] = inside ? nearbyintf(r) - r : (r <= (float)lo ? (float)lo : (float)hi);
    });
  } else {
    double *pd = ds ? nnc_f64(ds) : NULL;
    FQ_LOOP(double, {
      (void)v3;
      double r = xv / v2;
      bool inside = r > lo && r < hi;
      *o_ = inside ? 1.0 : 0.0;
      if (pd) pd[o_ - po] = inside ? nearbyint(r) - r : (r <= lo ? lo : hi);
    });
  }
  if (want_x) grad_in[0] = nnc_mul(out, (nnc_tensor *)g);
  if (want_s) grad_in[1] = nnc_scale(nnc_mul(ds, (nnc_tensor *)g), gs);
}

static const nnc_custom_op lsq_op = {"lsq", lsq_forward, lsq_backward};

nnc_tensor *nnc_lsq(nnc_tensor *v, nnc_tensor *s, int32_t qn, int32_t qp, double grad_scale) {
  nnc_check_float(v, "lsq");
  check_params(v, s, "lsq", "step");
  NNC_CHECK(qn >= 0 && qp >= 1, "lsq", "bad code range -%d..%d", (int)qn, (int)qp);
  NNC_CHECK(isfinite(grad_scale), "lsq", "gradient scale %g", grad_scale);
  nnc_tensor *in[2] = {v, s};
  lsq_attr attr = {qn, qp, grad_scale};
  return nnc_custom(&lsq_op, 2, in, &attr);
}

double nnc_lsq_grad_scale(int64_t n, int32_t qp) {
  NNC_CHECK(n >= 1 && qp >= 1, "lsq", "bad n %lld or qp %d", (long long)n, (int)qp);
  return 1.0 / sqrt((double)n * (double)qp);
}

double nnc_lsq_init_step(const float *v, int64_t n, int32_t qp) {
  double s = 0;
  for (int64_t i = 0; i < n; i++) s += fabs((double)v[i]);
  double step = 2 * (s / (double)(n ? n : 1)) / sqrt((double)qp);
  return step > NNC_QSCALE_MIN ? step : NNC_QSCALE_MIN;
}
