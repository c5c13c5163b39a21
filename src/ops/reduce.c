/* ops/reduce.c: reductions (sum, mean, max, min, var, std, logsumexp, sum_all, mean_all,
 * sum_to), softmax, log_softmax, cumsum and argmax.
 *
 * A reduction over a set of axes is planned once (rplan): the kept dims in output order and
 * the reduced dims sorted by stride, each merged where x is contiguous across them.  A
 * "pass" computes one double per output: a sum, max or min of x, or a sum of x-c, (x-c)^2,
 * exp(x-c) or [x == c] around a per-output centre c.  Every op is one or two passes: var is
 * the mean of x shifted by its first element (exact for constant data, so std is exactly 0
 * there; std's gradient is taken as 0 where std is 0, where PyTorch gives NaN), then squared
 * deviations; logsumexp is max, then sum of exp(x - max).  max/min backward counts ties with
 * an [x == max] pass and gives each tie an equal share.
 *
 * Two fast pass kernels, typed for f32 and f64, always accumulate in double:
 *   rows     each output walks its reduced elements; the innermost reduced dim is the row
 *            (unit stride when the reduced dims are innermost: softmax-like [N, C] -> [N]);
 *   columns  when the innermost kept dim is contiguous in x ([N, C] -> [C], the gradient of
 *            a broadcast bias), up to 256 neighbouring outputs accumulate together, so x
 *            is read once, in order.
 * Large passes split over blocks of outputs, or, when there are few outputs, over a fixed
 * number of blocks of the outermost reduced dim whose partial results are then combined in
 * block order.  The split depends only on the shapes, so results do not depend on the
 * thread count.  The reference pass visits x element by element through nnc_get.
 *
 * Softmax, log_softmax, cumsum and argmax work along one axis, on x seen as
 * [outer, n, inner] (contiguous; a strided x is copied first by the fast kernels). */
#include <math.h>
#include <string.h>
#include "autograd/autograd.h"
#include "core/arena.h"
#include "core/error.h"
#include "core/iter.h"
#include "core/threads.h"
#include "ops/ops.h"

/* ======================= axes and plans ======================= */

/* the bit mask of the reduced axes; naxes == 0 means all */
static unsigned axes_mask(const nnc_tensor *x, int naxes, const int *axes, const char *op) {
  NNC_CHECK(naxes >= 0 && naxes <= NNC_MAX_DIMS && (naxes == 0 || axes), op, "bad axes list (naxes %d)", naxes);
  if (naxes == 0) return (1u << x->ndim) - 1;
  unsigned m = 0;
  bool scalar_seen = false;
  for (int k = 0; k < naxes; k++) {
    if (x->ndim == 0) { /* a 0-d tensor accepts axis 0 or -1, as PyTorch */
      NNC_CHECK(axes[k] == 0 || axes[k] == -1, op, "axis %d out of range for a 0-d tensor", axes[k]);
      NNC_CHECK(!scalar_seen, op, "axis %d appears twice in the axes", axes[k]);
      scalar_seen = true;
      continue;
    }
    int a = nnc_axis(x, axes[k], op);
    NNC_CHECK(!(m >> a & 1u), op, "axis %d appears twice in the axes", axes[k]);
    m |= 1u << a;
  }
  return m;
}

/* the output shape of reducing x over mask; returns its ndim */
static int reduced_shape(const nnc_tensor *x, unsigned mask, bool keepdim, int64_t *shape) {
  int nd = 0;
  for (int d = 0; d < x->ndim; d++) {
    if (!(mask >> d & 1u)) shape[nd++] = x->shape[d];
    else if (keepdim) shape[nd++] = 1;
  }
  return nd;
}

typedef struct {
  int nk, nr;                                      /* merged kept / reduced dims */
  int64_t kshape[NNC_MAX_DIMS], kstride[NNC_MAX_DIMS]; /* kept dims in output order */
  int64_t rshape[NNC_MAX_DIMS], rstride[NNC_MAX_DIMS]; /* reduced dims, largest stride first */
  int64_t nout, count, off;                        /* outputs, elements per output, x offset */
} rplan;

static void make_plan(const nnc_tensor *x, unsigned mask, rplan *p) {
  memset(p, 0, sizeof *p);
  p->off = x->offset;
  p->nout = p->count = 1;
  int64_t rs[NNC_MAX_DIMS], rt[NNC_MAX_DIMS];
  int nr = 0;
  for (int d = 0; d < x->ndim; d++) {
    int64_t s = x->shape[d], t = x->stride[d];
    if (mask >> d & 1u) {
      p->count *= s;
      if (s != 1) rs[nr] = s, rt[nr] = t, nr++;
      continue;
    }
    p->nout *= s;
    if (s == 1) continue;
    if (p->nk > 0 && p->kstride[p->nk - 1] == t * s) {
      p->kshape[p->nk - 1] *= s;
      p->kstride[p->nk - 1] = t;
    } else {
      p->kshape[p->nk] = s;
      p->kstride[p->nk] = t;
      p->nk++;
    }
  }
  /* the order of summation is free: sort by stride so the innermost loop has the smallest */
  for (int i = 1; i < nr; i++)
    for (int j = i; j > 0 && rt[j - 1] < rt[j]; j--) {
      int64_t a = rs[j], b = rt[j];
      rs[j] = rs[j - 1], rt[j] = rt[j - 1];
      rs[j - 1] = a, rt[j - 1] = b;
    }
  for (int i = 0; i < nr; i++) {
    if (p->nr > 0 && p->rstride[p->nr - 1] == rt[i] * rs[i]) {
      p->rshape[p->nr - 1] *= rs[i];
      p->rstride[p->nr - 1] = rt[i];
    } else {
      p->rshape[p->nr] = rs[i];
      p->rstride[p->nr] = rt[i];
      p->nr++;
    }
  }
  if (p->nr == 0) { /* every reduced dim has size 1: one element per output */
    p->nr = 1;
    p->rshape[0] = 1;
    p->rstride[0] = 0;
  }
}

/* an odometer over dims 0..nd-1 of a shape, dim 0 restricted to [lo0, hi0); off = the
 * element offset of the current position.  nd == 0 visits one position. */
typedef struct {
  int nd;
  int64_t idx[NNC_MAX_DIMS], off, lo0, hi0;
  const int64_t *shape, *stride;
} odometer;

static inline bool odo_init(odometer *o, int nd, const int64_t *shape, const int64_t *stride, int64_t lo0, int64_t hi0) {
  o->nd = nd, o->shape = shape, o->stride = stride, o->lo0 = lo0, o->hi0 = hi0, o->off = 0;
  for (int d = 0; d < nd; d++) {
    o->idx[d] = d == 0 ? lo0 : 0;
    if ((d == 0 ? hi0 - lo0 : shape[d]) <= 0) return false;
    o->off += o->idx[d] * stride[d];
  }
  return true;
}

static inline bool odo_next(odometer *o) {
  for (int d = o->nd - 1; d >= 0; d--) {
    int64_t lo = d == 0 ? o->lo0 : 0, hi = d == 0 ? o->hi0 : o->shape[d];
    o->idx[d]++;
    o->off += o->stride[d];
    if (o->idx[d] < hi) return true;
    o->off -= (hi - lo) * o->stride[d];
    o->idx[d] = lo;
  }
  return false;
}

/* ======================= passes ======================= */
enum { P_SUM, P_MAX, P_MIN, P_DEV, P_SQDEV, P_EXP, P_EQ };

static inline double pass_init(int op) { return op == P_MAX ? -INFINITY : op == P_MIN ? INFINITY : 0.0; }

/* max and min propagate NaN, as PyTorch */
static inline double pass_combine(int op, double a, double b) {
  if (op == P_MAX) return (b > a || b != b) ? b : a;
  if (op == P_MIN) return (b < a || b != b) ? b : a;
  return a + b;
}

/* e^x in float within 1.5 ulp (Cody-Waite reduction, Cephes polynomial), written so that
 * loops over it vectorize, which glibc's expf does not without -ffast-math.  Overflow gives
 * inf, underflow gradual denormals then 0, NaN stays NaN.  The scale 2^k is applied in two
 * halves so that every k in [-150, 128] is representable. */
static inline float exp_f32(float x) {
  float xc = x < -104.0f ? -104.0f : (x > 89.0f ? 89.0f : x);
  float k = (xc * 1.44269504088896341f + 12582912.0f) - 12582912.0f; /* rounded to an integer */
  float r = xc - k * 0.693359375f;
  r = r - k * -2.12194440e-4f;
  float q = ((((1.9875691500E-4f * r + 1.3981999507E-3f) * r + 8.3334519073E-3f) * r + 4.1665795894E-2f) * r +
             1.6666665459E-1f) * r + 5.0000001201E-1f;
  float e = q * (r * r) + r + 1.0f;
  int32_t ki = (int32_t)k, k1 = ki >> 1, k2 = ki - k1;
  int32_t b1 = (k1 + 127) * (1 << 23), b2 = (k2 + 127) * (1 << 23);
  float s1, s2;
  memcpy(&s1, &b1, sizeof s1);
  memcpy(&s2, &b2, sizeof s2);
  float y = e * s1 * s2;
  return x != x ? x : y;
}

/* a vectorized sum into v over a loop that calls exp: f32 uses exp_f32, which vectorizes;
 * f64 calls libm's exp, which does not */
#define NNC_PRAGMA(x) _Pragma(#x)
#define SIMD_SUM_f32(v) NNC_PRAGMA(omp simd reduction(+ : v))
#define SIMD_SUM_f64(v)
/* gcc 12 at -O2 vectorizes only loops whose trip count fits the vector length ("very
 * cheap" cost model); omp simd asks for vectorization of the hot loops regardless */
#define NNC_SIMD _Pragma("omp simd")
#define SIMD_EXP_f32 NNC_SIMD
#define SIMD_EXP_f64

/* the max (min) of n contiguous values folded into a, NaN if any is NaN.  32 independent
 * lanes with a sticky-NaN select: compilers turn the lane loop into vector compares and
 * blends (a plain max reduction does not vectorize without -ffast-math). */
#define EXT_LANES 32
#define ROW_EXTREMUM(T, sfx, name, OP, CMP)                                                       \
  static inline double name##_##sfx(const T *p, int64_t n, double a) {                            \
    int64_t j = 0;                                                                                \
    if (n >= EXT_LANES) {                                                                         \
      T m[EXT_LANES];                                                                             \
      for (int k = 0; k < EXT_LANES; k++) m[k] = (T)a;                                            \
      for (; j + EXT_LANES <= n; j += EXT_LANES)                                                  \
        for (int k = 0; k < EXT_LANES; k++) {                                                     \
          T v = p[j + k];                                                                         \
          m[k] = ((v CMP m[k]) | (v != v)) ? v : m[k];                                            \
        }                                                                                         \
      for (int k = 0; k < EXT_LANES; k++) a = pass_combine(OP, a, m[k]);                          \
    }                                                                                             \
    for (; j < n; j++) a = pass_combine(OP, a, p[j]);                                             \
    return a;                                                                                     \
  }
#define ROW_EXTREMA(T, sfx) ROW_EXTREMUM(T, sfx, rowmax, P_MAX, >) ROW_EXTREMUM(T, sfx, rowmin, P_MIN, <)
ROW_EXTREMA(float, f32)
ROW_EXTREMA(double, f64)

#define PASS_KERNELS(T, sfx, EXPF)                                                                \
  /* a folded over n elements p[0], p[s], ... */                                                  \
  static inline double row_##sfx(int op, const T *p, int64_t n, int64_t s, double c, double a) {  \
    switch (op) {                                                                                 \
    case P_SUM:                                                                                   \
      if (s == 1) {                                                                               \
        _Pragma("omp simd reduction(+ : a)")                                                      \
        for (int64_t j = 0; j < n; j++) a += (double)p[j];                                        \
      } else {                                                                                    \
        for (int64_t j = 0; j < n; j++) a += (double)p[j * s];                                    \
      }                                                                                           \
      break;                                                                                      \
    case P_MAX:                                                                                   \
      if (s == 1) return rowmax_##sfx(p, n, a);                                                   \
      for (int64_t j = 0; j < n; j++) { double v = p[j * s]; if (v > a || v != v) a = v; }        \
      break;                                                                                      \
    case P_MIN:                                                                                   \
      if (s == 1) return rowmin_##sfx(p, n, a);                                                   \
      for (int64_t j = 0; j < n; j++) { double v = p[j * s]; if (v < a || v != v) a = v; }        \
      break;                                                                                      \
    case P_DEV:                                                                                   \
      if (s == 1) {                                                                               \
        _Pragma("omp simd reduction(+ : a)")                                                      \
        for (int64_t j = 0; j < n; j++) a += (double)p[j] - c;                                    \
      } else {                                                                                    \
        for (int64_t j = 0; j < n; j++) a += (double)p[j * s] - c;                                \
      }                                                                                           \
      break;                                                                                      \
    case P_SQDEV:                                                                                 \
      if (s == 1) {                                                                               \
        _Pragma("omp simd reduction(+ : a)")                                                      \
        for (int64_t j = 0; j < n; j++) { double d = (double)p[j] - c; a += d * d; }              \
      } else {                                                                                    \
        for (int64_t j = 0; j < n; j++) { double d = (double)p[j * s] - c; a += d * d; }          \
      }                                                                                           \
      break;                                                                                      \
    case P_EXP: {                                                                                 \
      T ct = (T)c;                                                                                \
      if (s == 1) {                                                                               \
        SIMD_SUM_##sfx(a)                                                                         \
        for (int64_t j = 0; j < n; j++) a += (double)EXPF(p[j] - ct);                             \
      } else {                                                                                    \
        for (int64_t j = 0; j < n; j++) a += (double)EXPF(p[j * s] - ct);                         \
      }                                                                                           \
      break;                                                                                      \
    }                                                                                             \
    default: /* P_EQ */                                                                           \
      for (int64_t j = 0; j < n; j++) a += (double)p[j * s] == c;                                 \
    }                                                                                             \
    return a;                                                                                     \
  }                                                                                               \
                                                                                                  \
  /* outputs [o0, o1) over reduced positions whose outermost index is in [r0, r1) */              \
  static void rows_##sfx(const rplan *p, const T *xb, int op, const double *cen, int64_t o0,      \
                         int64_t o1, int64_t r0, int64_t r1, double *res) {                       \
    int nr = p->nr;                                                                               \
    int64_t n = nr == 1 ? r1 - r0 : p->rshape[nr - 1], s = p->rstride[nr - 1];                    \
    int64_t first = nr == 1 ? r0 * s : 0;                                                         \
    odometer k;                                                                                   \
    odo_init(&k, p->nk, p->kshape, p->kstride, 0, p->nk ? p->kshape[0] : 1);                      \
    for (int64_t t = o0, d = p->nk - 1; d >= 0; d--) { /* seek to o0 */                           \
      k.idx[d] = t % p->kshape[d];                                                                \
      t /= p->kshape[d];                                                                          \
      k.off += k.idx[d] * p->kstride[d];                                                          \
    }                                                                                             \
    for (int64_t o = o0; o < o1; o++, odo_next(&k)) {                                             \
      double c = cen ? cen[o] : 0, a = pass_init(op);                                             \
      const T *base = xb + p->off + k.off + first;                                                \
      odometer r;                                                                                 \
      if (odo_init(&r, nr - 1, p->rshape, p->rstride, r0, r1))                                    \
        do a = row_##sfx(op, base + r.off, n, s, c, a); while (odo_next(&r));                     \
      res[o] = a;                                                                                 \
    }                                                                                             \
  }                                                                                               \
                                                                                                  \
  /* the same when the innermost kept dim has unit stride: blocks of neighbouring outputs */      \
  static void cols_##sfx(const rplan *p, const T *xb, int op, const double *cen, int64_t o0,      \
                         int64_t o1, int64_t r0, int64_t r1, double *res) {                       \
    enum { B = 256 };                                                                             \
    double acc[B], cc[B];                                                                         \
    int nr = p->nr;                                                                               \
    int64_t L = p->kshape[p->nk - 1], n = nr == 1 ? r1 - r0 : p->rshape[nr - 1];                  \
    int64_t s = p->rstride[nr - 1], first = nr == 1 ? r0 * s : 0;                                 \
    for (int64_t o = o0; o < o1;) {                                                               \
      int64_t len = L - o % L;                                                                    \
      if (len > o1 - o) len = o1 - o;                                                             \
      if (len > B) len = B;                                                                       \
      int64_t off = p->off + first;                                                               \
      for (int64_t t = o, d = p->nk - 1; d >= 0; d--) {                                           \
        off += (t % p->kshape[d]) * p->kstride[d];                                                \
        t /= p->kshape[d];                                                                        \
      }                                                                                           \
      for (int64_t j = 0; j < len; j++) acc[j] = pass_init(op), cc[j] = cen ? cen[o + j] : 0;     \
      odometer r;                                                                                 \
      if (odo_init(&r, nr - 1, p->rshape, p->rstride, r0, r1)) do {                               \
        for (int64_t i = 0; i < n; i++) {                                                         \
          const T *q = xb + off + r.off + i * s;                                                  \
          switch (op) {                                                                           \
          case P_SUM:                                                                             \
            NNC_SIMD                                                                              \
            for (int64_t j = 0; j < len; j++) acc[j] += (double)q[j];                             \
            break;                                                                                \
          case P_MAX:                                                                             \
            NNC_SIMD                                                                              \
            for (int64_t j = 0; j < len; j++) { double v = q[j]; acc[j] = (v > acc[j] || v != v) ? v : acc[j]; } \
            break;                                                                                \
          case P_MIN:                                                                             \
            NNC_SIMD                                                                              \
            for (int64_t j = 0; j < len; j++) { double v = q[j]; acc[j] = (v < acc[j] || v != v) ? v : acc[j]; } \
            break;                                                                                \
          case P_DEV:                                                                             \
            NNC_SIMD                                                                              \
            for (int64_t j = 0; j < len; j++) acc[j] += (double)q[j] - cc[j];                     \
            break;                                                                                \
          case P_SQDEV:                                                                           \
            NNC_SIMD                                                                              \
            for (int64_t j = 0; j < len; j++) { double v = (double)q[j] - cc[j]; acc[j] += v * v; } \
            break;                                                                                \
          case P_EXP:                                                                             \
            SIMD_EXP_##sfx                                                                        \
            for (int64_t j = 0; j < len; j++) acc[j] += (double)EXPF(q[j] - (T)cc[j]);            \
            break;                                                                                \
          default:                                                                                \
            NNC_SIMD                                                                              \
            for (int64_t j = 0; j < len; j++) acc[j] += (double)q[j] == cc[j];                    \
          }                                                                                       \
        }                                                                                         \
      } while (odo_next(&r));                                                                     \
      for (int64_t j = 0; j < len; j++) res[o + j] = acc[j];                                      \
      o += len;                                                                                   \
    }                                                                                             \
  }                                                                                               \
                                                                                                  \
  static void pass_##sfx(const rplan *p, const T *xb, int op, const double *cen, double *res) {   \
    bool cols = p->nk > 0 && p->kstride[p->nk - 1] == 1 && p->rstride[p->nr - 1] != 1;            \
    void (*kernel)(const rplan *, const T *, int, const double *, int64_t, int64_t, int64_t,      \
                   int64_t, double *) = cols ? cols_##sfx : rows_##sfx;                           \
    int64_t nout = p->nout, r0n = p->rshape[0];                                                   \
    /* the unit of work over outputs: one output (rows) or a block of neighbours (columns) */     \
    int64_t unit = cols ? (p->kshape[p->nk - 1] < 256 ? p->kshape[p->nk - 1] : 256) : 1;          \
    int64_t units = (nout + unit - 1) / unit;                                                     \
    if (nout == 0) return;                                                                        \
    if (nout * p->count < NNC_PARALLEL_MIN) {                                                     \
      kernel(p, xb, op, cen, 0, nout, 0, r0n, res);                                               \
    } else if (units >= 16 || r0n < 4) {                                                          \
      int64_t nch = units < 256 ? units : 256, per = (units + nch - 1) / nch * unit;              \
      _Pragma("omp parallel for schedule(dynamic, 1)")                                            \
      for (int64_t c = 0; c < nch; c++) {                                                         \
        int64_t a = c * per, b = a + per < nout ? a + per : nout;                                 \
        if (a < b) kernel(p, xb, op, cen, a, b, 0, r0n, res);                                     \
      }                                                                                           \
    } else { /* few outputs, many elements each: fixed blocks of the outer reduced dim */         \
      int64_t nb = nout * p->count / (NNC_PARALLEL_MIN / 2);                                      \
      nb = nb < 64 ? nb : 64, nb = nb < r0n ? nb : r0n;                                           \
      int64_t per = (r0n + nb - 1) / nb;                                                          \
      nb = (r0n + per - 1) / per;                                                                 \
      double *part = nnc_arena_alloc(nnc_arena_current(), (size_t)(nb * nout) * sizeof(double));  \
      _Pragma("omp parallel for schedule(dynamic, 1)")                                            \
      for (int64_t b = 0; b < nb; b++) {                                                          \
        int64_t lo = b * per, hi = lo + per < r0n ? lo + per : r0n;                               \
        kernel(p, xb, op, cen, 0, nout, lo, hi, part + b * nout);                                 \
      }                                                                                           \
      memcpy(res, part, (size_t)nout * sizeof(double));                                           \
      for (int64_t b = 1; b < nb; b++) { /* in block order, whatever the thread count */          \
        const double *q = part + b * nout;                                                        \
        if (op == P_MAX || op == P_MIN)                                                           \
          for (int64_t o = 0; o < nout; o++) res[o] = pass_combine(op, res[o], q[o]);             \
        else {                                                                                    \
          NNC_SIMD                                                                                \
          for (int64_t o = 0; o < nout; o++) res[o] += q[o];                                      \
        }                                                                                         \
      }                                                                                           \
    }                                                                                             \
  }

PASS_KERNELS(float, f32, exp_f32)
PASS_KERNELS(double, f64, exp)

/* the reference pass: every element of x in logical order, in double */
static void pass_ref(const nnc_tensor *x, unsigned mask, int op, const double *cen, double *res, int64_t nout) {
  for (int64_t o = 0; o < nout; o++) res[o] = pass_init(op);
  for (int64_t i = 0, n = nnc_numel(x); i < n; i++) {
    int64_t t = i, o = 0, mul = 1;
    for (int d = x->ndim - 1; d >= 0; d--) {
      int64_t id = t % x->shape[d];
      t /= x->shape[d];
      if (!(mask >> d & 1u)) o += id * mul, mul *= x->shape[d];
    }
    double v = nnc_get(x, i), c = cen ? cen[o] : 0;
    switch (op) {
    case P_SUM: res[o] += v; break;
    case P_MAX: if (v > res[o] || v != v) res[o] = v; break;
    case P_MIN: if (v < res[o] || v != v) res[o] = v; break;
    case P_DEV: res[o] += v - c; break;
    case P_SQDEV: res[o] += (v - c) * (v - c); break;
    case P_EXP: res[o] += exp(v - c); break;
    default: res[o] += v == c;
    }
  }
}

static void run_pass(const nnc_tensor *x, unsigned mask, const rplan *p, int op, const double *cen, double *res) {
  if (nnc_reference_kernels()) pass_ref(x, mask, op, cen, res, p->nout);
  else if (x->dtype == NNC_F32) pass_f32(p, x->storage->data, op, cen, res);
  else pass_f64(p, x->storage->data, op, cen, res);
}

/* c[o] = the first element of output o's group (0 for an empty group) */
static void first_elements(const rplan *p, const nnc_tensor *x, double *c) {
  for (int64_t o = 0; o < p->nout; o++) {
    int64_t off = p->off;
    for (int64_t t = o, d = p->nk - 1; d >= 0; d--) {
      off += (t % p->kshape[d]) * p->kstride[d];
      t /= p->kshape[d];
    }
    c[o] = p->count == 0 ? 0 : x->dtype == NNC_F32 ? ((const float *)x->storage->data)[off]
                                                   : ((const double *)x->storage->data)[off];
  }
}

static double *scratch(int64_t n) {
  return nnc_arena_alloc(nnc_arena_current(), (size_t)(n > 0 ? n : 1) * sizeof(double));
}

/* t's values as doubles (t contiguous float) */
static double *as_doubles(const nnc_tensor *t) {
  int64_t n = nnc_numel(t);
  double *d = scratch(n);
  if (t->dtype == NNC_F64) memcpy(d, nnc_data(t), (size_t)n * sizeof(double));
  else for (int64_t i = 0; i < n; i++) d[i] = ((const float *)nnc_data(t))[i];
  return d;
}

static void store_doubles(nnc_tensor *t, const double *v) {
  int64_t n = nnc_numel(t);
  if (t->dtype == NNC_F64) memcpy(nnc_data(t), v, (size_t)n * sizeof(double));
  else for (int64_t i = 0; i < n; i++) ((float *)nnc_data(t))[i] = (float)v[i];
}

/* ======================= gradient destination ======================= */
/* where backward adds x's gradient: x->grad itself (contiguous, x's shape), else a zeroed
 * scratch tensor that grad_done hands to nnc_accum_grad */
static nnc_tensor *grad_dst(nnc_tensor *x) {
  nnc_tensor *gx = nnc_grad_of(x);
  return (nnc_is_contiguous(gx) && gx->dtype == x->dtype && nnc_same_shape(gx, x)) ? gx : nnc_zeros_like(x);
}

static void grad_done(nnc_tensor *x, nnc_tensor *dst) {
  if (dst == x->grad) nnc_bump_version(dst);
  else nnc_accum_grad(x, dst);
}

/* moves an iterator made by nnc_iter_init to the start of row `row` */
static void iter_seek(nnc_iter *t, int64_t row) {
  for (int d = t->ndim - 2; d >= 0; d--) {
    t->idx[d] = row % t->shape[d];
    row /= t->shape[d];
    for (int k = 0; k < t->nops; k++) t->off[k] += t->idx[d] * t->stride[k][d];
  }
}

/* ======================= reduction backward ======================= */
enum { BW_SCALE, BW_EQ, BW_VAR, BW_STD, BW_LSE };

/* dst[i] += F(x[i], g[o(i)], a1[o(i)], a2[o(i)]) over x's shape, where o(i) is the output
 * that element i was reduced into: dst contiguous of xs's shape, x (may be NULL) strided,
 *   BW_SCALE  g*s                      BW_EQ   [x == a1] g / a2   (max/min; a2 = ties)
 *   BW_VAR    g*s*(x - a1)             BW_STD  g*s*(x - a1)/a2, 0 where a2 == 0
 *   BW_LSE    g*exp(x - a1) */
#define BW_ROW(T, DI, XI, OI, PRAG)                                                               \
  do {                                                                                            \
    switch (mode) {                                                                               \
    case BW_SCALE:                                                                                \
      PRAG                                                                                        \
      for (int64_t j = j0; j < j1; j++) dp[j * (DI)] += (T)(g[ob + j * (OI)] * s);                \
      break;                                                                                      \
    case BW_EQ:                                                                                   \
      PRAG                                                                                        \
      for (int64_t j = j0; j < j1; j++) {                                                         \
        int64_t k = ob + j * (OI);                                                                \
        if ((double)xp[j * (XI)] == a1[k]) dp[j * (DI)] += (T)(g[k] / a2[k]);                     \
      }                                                                                           \
      break;                                                                                      \
    case BW_VAR:                                                                                  \
      PRAG                                                                                        \
      for (int64_t j = j0; j < j1; j++) {                                                         \
        int64_t k = ob + j * (OI);                                                                \
        dp[j * (DI)] += (T)(g[k] * s * ((double)xp[j * (XI)] - a1[k]));                           \
      }                                                                                           \
      break;                                                                                      \
    case BW_STD:                                                                                  \
      PRAG                                                                                        \
      for (int64_t j = j0; j < j1; j++) {                                                         \
        int64_t k = ob + j * (OI);                                                                \
        if (a2[k] != 0) dp[j * (DI)] += (T)(g[k] * s * ((double)xp[j * (XI)] - a1[k]) / a2[k]);   \
      }                                                                                           \
      break;                                                                                      \
    default: /* BW_LSE */                                                                         \
      for (int64_t j = j0; j < j1; j++) {                                                         \
        int64_t k = ob + j * (OI);                                                                \
        dp[j * (DI)] += (T)(g[k] * exp((double)xp[j * (XI)] - a1[k]));                            \
      }                                                                                           \
    }                                                                                             \
  } while (0)

#define BW_KERNEL(T, sfx)                                                                         \
  static void bw_##sfx(const nnc_tensor *xs, const nnc_tensor *x, unsigned mask, int mode,        \
                       const T *g, const double *a1, const double *a2, double s, T *dst) {        \
    int nd = xs->ndim;                                                                            \
    int64_t ds[NNC_MAX_DIMS], xst[NNC_MAX_DIMS] = {0}, os[NNC_MAX_DIMS], m = 1;                   \
    nnc_contiguous_strides(nd, xs->shape, ds);                                                    \
    for (int d = nd - 1; d >= 0; d--) {                                                           \
      if (mask >> d & 1u) os[d] = 0;                                                              \
      else os[d] = m, m *= xs->shape[d];                                                          \
      if (x) xst[d] = x->stride[d];                                                               \
    }                                                                                             \
    const int64_t *st[3] = {ds, xst, os}, offs[3] = {0, x ? x->offset : 0, 0};                    \
    const T *xb = x ? (const T *)x->storage->data : NULL;                                         \
    nnc_iter it;                                                                                  \
    if (!nnc_iter_init(&it, nd, xs->shape, 3, st, offs)) return;                                  \
    int64_t total = nnc_numel(xs), n = it.n;                                                      \
    int64_t nch = total >= NNC_PARALLEL_MIN ? 64 : 1, per = (total + nch - 1) / nch;              \
    _Pragma("omp parallel for if (nch > 1) schedule(static)")                                     \
    for (int64_t c = 0; c < nch; c++) {                                                           \
      int64_t e = c * per, e1 = e + per < total ? e + per : total;                                \
      if (e >= e1) continue;                                                                      \
      nnc_iter t = it;                                                                            \
      iter_seek(&t, e / n);                                                                       \
      int64_t j0 = e % n;                                                                         \
      while (e < e1) {                                                                            \
        int64_t j1 = n < j0 + (e1 - e) ? n : j0 + (e1 - e);                                       \
        T *dp = dst + t.off[0];                                                                   \
        const T *xp = xb ? xb + t.off[1] : NULL;                                                  \
        int64_t di = t.inner[0], xi = t.inner[1], oi = t.inner[2], ob = t.off[2];                 \
        /* constant strides for the common rows, so they vectorize */                             \
        if (di == 1 && (xi == 1 || !xb) && oi == 0) BW_ROW(T, 1, 1, 0, NNC_SIMD);                 \
        else if (di == 1 && (xi == 1 || !xb) && oi == 1) BW_ROW(T, 1, 1, 1, NNC_SIMD);            \
        else BW_ROW(T, di, xi, oi, );                                                             \
        e += j1 - j0;                                                                             \
        j0 = 0;                                                                                   \
        if (e < e1) nnc_iter_next(&t);                                                            \
      }                                                                                           \
    }                                                                                             \
  }

BW_KERNEL(float, f32)
BW_KERNEL(double, f64)

/* ======================= reduction ops ======================= */
enum { K_SUM, K_MEAN, K_MAX, K_MIN, K_VAR, K_STD, K_LSE };

static void reduce_backward(nnc_node *n) {
  nnc_tensor *xin = n->in[0], *g = n->out->grad;
  if (!xin->requires_grad) return;
  unsigned mask = (unsigned)n->i[0];
  int kind = (int)n->i[1];
  double count = n->f[0], dof = fmax(0.0, count - (double)n->i[2]);
  nnc_tensor *x = NULL;
  const double *a1 = NULL, *a2 = NULL;
  double s = 1;
  int mode = BW_SCALE;
  switch (kind) {
  case K_SUM: break;
  case K_MEAN: s = 1.0 / count; break;
  case K_MAX:
  case K_MIN: {
    x = nnc_saved(n, 0);
    nnc_tensor *y = nnc_saved(n, 1);
    rplan p;
    make_plan(x, mask, &p);
    double *yd = as_doubles(y), *ties = scratch(p.nout);
    if (x->dtype == NNC_F32) pass_f32(&p, x->storage->data, P_EQ, yd, ties);
    else pass_f64(&p, x->storage->data, P_EQ, yd, ties);
    mode = BW_EQ, a1 = yd, a2 = ties;
    break;
  }
  case K_VAR:
    x = nnc_saved(n, 0);
    mode = BW_VAR, a1 = nnc_f64(nnc_saved(n, 1)), s = 2.0 / dof;
    break;
  case K_STD:
    x = nnc_saved(n, 0);
    mode = BW_STD, a1 = nnc_f64(nnc_saved(n, 1)), a2 = as_doubles(nnc_saved(n, 2)), s = 1.0 / dof;
    break;
  default: /* K_LSE */
    x = nnc_saved(n, 0);
    mode = BW_LSE, a1 = as_doubles(nnc_saved(n, 1));
  }
  nnc_tensor *dst = grad_dst(xin);
  if (xin->dtype == NNC_F32) bw_f32(xin, x, mask, mode, nnc_data(g), a1, a2, s, nnc_data(dst));
  else bw_f64(xin, x, mask, mode, nnc_data(g), a1, a2, s, nnc_data(dst));
  grad_done(xin, dst);
}

NNC_OP_DEF(op_sum, "sum", reduce_backward);
NNC_OP_DEF(op_mean, "mean", reduce_backward);
NNC_OP_DEF(op_max, "max", reduce_backward);
NNC_OP_DEF(op_min, "min", reduce_backward);
NNC_OP_DEF(op_var, "var", reduce_backward);
NNC_OP_DEF(op_std, "std", reduce_backward);
NNC_OP_DEF(op_logsumexp, "logsumexp", reduce_backward);
NNC_OP_DEF(op_sum_all, "sum_all", reduce_backward);
NNC_OP_DEF(op_mean_all, "mean_all", reduce_backward);
NNC_OP_DEF(op_sum_to, "sum_to", reduce_backward);

/* x reduced over mask into a new tensor of shape (ndim, shape), which has one element per
 * combination of x's kept dims, in order */
static nnc_tensor *reduce(const nnc_op_def *def, int kind, nnc_tensor *x, unsigned mask, int ndim,
                          const int64_t *shape, int correction) {
  const char *name = def->name;
  nnc_check_float(x, name);
  rplan p;
  make_plan(x, mask, &p);
  nnc_tensor *y = nnc_empty(x->dtype, ndim, shape);
  int64_t nout = p.nout;
  double *res = scratch(nout), count = (double)p.count;
  nnc_tensor *mean = NULL;
  switch (kind) {
  case K_SUM:
  case K_MEAN:
    run_pass(x, mask, &p, P_SUM, NULL, res);
    if (kind == K_MEAN)
      for (int64_t o = 0; o < nout; o++) res[o] /= count;
    break;
  case K_MAX:
  case K_MIN: {
    char b[96];
    NNC_CHECK(p.count > 0 || nout == 0, name, "reduction over an empty axis of %s has no identity",
              nnc_shape_str(x, b, sizeof b));
    run_pass(x, mask, &p, kind == K_MAX ? P_MAX : P_MIN, NULL, res);
    break;
  }
  case K_VAR:
  case K_STD: {
    mean = nnc_empty(NNC_F64, ndim, shape);
    double *m = nnc_f64(mean), dof = fmax(0.0, count - correction);
    if (nnc_reference_kernels()) {
      run_pass(x, mask, &p, P_SUM, NULL, m);
      for (int64_t o = 0; o < nout; o++) m[o] /= count;
    } else { /* the mean of the data shifted by its first element: exact for constant data */
      first_elements(&p, x, m);
      run_pass(x, mask, &p, P_DEV, m, res);
      for (int64_t o = 0; o < nout; o++) m[o] += res[o] / count;
    }
    run_pass(x, mask, &p, P_SQDEV, m, res);
    for (int64_t o = 0; o < nout; o++) res[o] = kind == K_VAR ? res[o] / dof : sqrt(res[o] / dof);
    break;
  }
  default: { /* K_LSE: max + log(sum(exp(x - max))), centre 0 where the max is infinite */
    double *c = scratch(nout);
    run_pass(x, mask, &p, P_MAX, NULL, c);
    for (int64_t o = 0; o < nout; o++)
      if (!isfinite(c[o])) c[o] = 0;
    run_pass(x, mask, &p, P_EXP, c, res);
    for (int64_t o = 0; o < nout; o++) res[o] = c[o] + log(res[o]);
  }
  }
  store_doubles(y, res);
  nnc_node *n = nnc_record(def, y, 1, &x);
  if (n) {
    n->i[0] = mask;
    n->i[1] = kind;
    n->i[2] = correction;
    n->f[0] = count;
    if (kind != K_SUM && kind != K_MEAN) nnc_save(n, x);
    if (kind == K_MAX || kind == K_MIN || kind == K_LSE) nnc_save(n, y);
    if (kind == K_VAR || kind == K_STD) nnc_save(n, mean);
    if (kind == K_STD) nnc_save(n, y);
  }
  return y;
}

static nnc_tensor *reduce_axes(const nnc_op_def *def, int kind, nnc_tensor *x, int naxes, const int *axes,
                               bool keepdim, int correction) {
  unsigned mask = axes_mask(x, naxes, axes, def->name);
  int64_t shape[NNC_MAX_DIMS];
  int nd = reduced_shape(x, mask, keepdim, shape);
  return reduce(def, kind, x, mask, nd, shape, correction);
}

nnc_tensor *nnc_sum(nnc_tensor *x, int naxes, const int *axes, bool keepdim) {
  return reduce_axes(&op_sum, K_SUM, x, naxes, axes, keepdim, 0);
}
nnc_tensor *nnc_mean(nnc_tensor *x, int naxes, const int *axes, bool keepdim) {
  return reduce_axes(&op_mean, K_MEAN, x, naxes, axes, keepdim, 0);
}
nnc_tensor *nnc_max(nnc_tensor *x, int naxes, const int *axes, bool keepdim) {
  return reduce_axes(&op_max, K_MAX, x, naxes, axes, keepdim, 0);
}
nnc_tensor *nnc_min(nnc_tensor *x, int naxes, const int *axes, bool keepdim) {
  return reduce_axes(&op_min, K_MIN, x, naxes, axes, keepdim, 0);
}
nnc_tensor *nnc_var(nnc_tensor *x, int naxes, const int *axes, int correction, bool keepdim) {
  NNC_CHECK(correction >= 0, "var", "negative correction %d", correction);
  return reduce_axes(&op_var, K_VAR, x, naxes, axes, keepdim, correction);
}
nnc_tensor *nnc_std(nnc_tensor *x, int naxes, const int *axes, int correction, bool keepdim) {
  NNC_CHECK(correction >= 0, "std", "negative correction %d", correction);
  return reduce_axes(&op_std, K_STD, x, naxes, axes, keepdim, correction);
}
nnc_tensor *nnc_logsumexp(nnc_tensor *x, int naxes, const int *axes, bool keepdim) {
  return reduce_axes(&op_logsumexp, K_LSE, x, naxes, axes, keepdim, 0);
}
nnc_tensor *nnc_sum_all(nnc_tensor *x) { return reduce(&op_sum_all, K_SUM, x, (1u << x->ndim) - 1, 0, NULL, 0); }
nnc_tensor *nnc_mean_all(nnc_tensor *x) { return reduce(&op_mean_all, K_MEAN, x, (1u << x->ndim) - 1, 0, NULL, 0); }

/* g summed down to (ndim, shape): g's extra leading dims are summed away, dims where shape
 * is 1 are summed with keepdim; shape may also have extra leading dims of size 1 */
nnc_tensor *nnc_sum_to(const nnc_tensor *g, int ndim, const int64_t *shape) {
  NNC_CHECK(ndim >= 0 && ndim <= NNC_MAX_DIMS && (ndim == 0 || shape), "sum_to", "bad target ndim %d", ndim);
  nnc_tensor target = {.ndim = ndim};
  for (int d = 0; d < ndim; d++) target.shape[d] = shape[d];
  char a[96], b[96];
  int lead = g->ndim - ndim;
  unsigned mask = 0;
  for (int d = 0; d < g->ndim; d++) {
    if (d < lead) {
      mask |= 1u << d;
      continue;
    }
    int64_t want = shape[d - lead];
    if (want == g->shape[d]) continue;
    NNC_CHECK(want == 1, "sum_to", "cannot sum %s down to %s", nnc_shape_str(g, a, 96), nnc_shape_str(&target, b, 96));
    mask |= 1u << d;
  }
  for (int d = 0; d < -lead; d++)
    NNC_CHECK(shape[d] == 1, "sum_to", "cannot sum %s down to %s", nnc_shape_str(g, a, 96), nnc_shape_str(&target, b, 96));
  return reduce(&op_sum_to, K_SUM, (nnc_tensor *)g, mask, ndim, shape, 0);
}

/* ======================= along one axis: [outer, n, inner] ======================= */
static void axis_split(const nnc_tensor *x, int axis, int64_t *outer, int64_t *n, int64_t *inner) {
  *outer = *inner = 1;
  *n = x->ndim ? x->shape[axis] : 1;
  for (int d = 0; d < x->ndim; d++) {
    if (d < axis) *outer *= x->shape[d];
    if (d > axis) *inner *= x->shape[d];
  }
}

/* a 0-d tensor accepts axis 0 or -1 */
static int one_axis(const nnc_tensor *x, int axis, const char *op) {
  if (x->ndim == 0) {
    NNC_CHECK(axis == 0 || axis == -1, op, "axis %d out of range for a 0-d tensor", axis);
    return 0;
  }
  return nnc_axis(x, axis, op);
}

/* x itself if contiguous, else a contiguous copy (no autograd) */
static const nnc_tensor *dense(const nnc_tensor *x) {
  if (nnc_is_contiguous(x)) return x;
  nnc_tensor *c = nnc_empty_like(x);
  nnc_copy_into(c, x);
  return c;
}

#define AXIS_BLOCK 256 /* inner positions processed together when inner > 1 */

/* softmax (lg false) or log_softmax (lg true) of contiguous x into y, and the backward
 * gx += y*(g - sum(g*y))  or  gx += g - exp(y)*sum(g)  (all contiguous) */
#define SOFTMAX_KERNELS(T, sfx, EXPF, LOGF)                                                       \
  static void softmax_fwd_##sfx(const T *x, T *y, int64_t outer, int64_t n, int64_t inner, bool lg) { \
    int64_t nblk = (inner + AXIS_BLOCK - 1) / AXIS_BLOCK, total = outer * n * inner;              \
    _Pragma("omp parallel for if (total >= NNC_PARALLEL_MIN) schedule(static)")                   \
    for (int64_t ob = 0; ob < outer * nblk; ob++) {                                               \
      int64_t o = ob / nblk, i0 = ob % nblk * AXIS_BLOCK;                                         \
      int64_t len = inner - i0 < AXIS_BLOCK ? inner - i0 : AXIS_BLOCK;                            \
      const T *xr = x + o * n * inner + i0;                                                       \
      T *yr = y + o * n * inner + i0;                                                             \
      if (inner == 1) {                                                                           \
        T m = (T)rowmax_##sfx(xr, n, -INFINITY);                                                  \
        double s = 0;                                                                             \
        if (lg) {                                                                                 \
          SIMD_SUM_##sfx(s)                                                                       \
          for (int64_t j = 0; j < n; j++) s += EXPF(xr[j] - m);                                   \
          T ls = (T)log(s);                                                                       \
          NNC_SIMD                                                                                \
          for (int64_t j = 0; j < n; j++) yr[j] = (xr[j] - m) - ls;                               \
        } else {                                                                                  \
          SIMD_SUM_##sfx(s)                                                                       \
          for (int64_t j = 0; j < n; j++) { T e = EXPF(xr[j] - m); yr[j] = e; s += e; }           \
          T inv = (T)(1.0 / s);                                                                   \
          NNC_SIMD                                                                                \
          for (int64_t j = 0; j < n; j++) yr[j] *= inv;                                           \
        }                                                                                         \
        continue;                                                                                 \
      }                                                                                           \
      T m[AXIS_BLOCK];                                                                            \
      double s[AXIS_BLOCK];                                                                       \
      for (int64_t i = 0; i < len; i++) m[i] = -INFINITY, s[i] = 0;                               \
      for (int64_t j = 0; j < n; j++)                                                             \
        NNC_SIMD                                                                                  \
        for (int64_t i = 0; i < len; i++) {                                                       \
          T v = xr[j * inner + i];                                                                \
          if (v > m[i] || v != v) m[i] = v;                                                       \
        }                                                                                         \
      for (int64_t j = 0; j < n; j++)                                                             \
        SIMD_EXP_##sfx                                                                            \
        for (int64_t i = 0; i < len; i++) {                                                       \
          T e = EXPF(xr[j * inner + i] - m[i]);                                                   \
          if (!lg) yr[j * inner + i] = e;                                                         \
          s[i] += e;                                                                              \
        }                                                                                         \
      for (int64_t i = 0; i < len; i++) s[i] = lg ? LOGF(s[i]) : 1.0 / s[i];                      \
      for (int64_t j = 0; j < n; j++)                                                             \
        NNC_SIMD                                                                                  \
        for (int64_t i = 0; i < len; i++) {                                                       \
          if (lg) yr[j * inner + i] = (xr[j * inner + i] - m[i]) - (T)s[i];                       \
          else yr[j * inner + i] *= (T)s[i];                                                      \
        }                                                                                         \
    }                                                                                             \
  }                                                                                               \
  static void softmax_bwd_##sfx(const T *y, const T *g, T *gx, int64_t outer, int64_t n,          \
                                int64_t inner, bool lg) {                                         \
    int64_t nblk = (inner + AXIS_BLOCK - 1) / AXIS_BLOCK, total = outer * n * inner;              \
    _Pragma("omp parallel for if (total >= NNC_PARALLEL_MIN) schedule(static)")                   \
    for (int64_t ob = 0; ob < outer * nblk; ob++) {                                               \
      int64_t o = ob / nblk, i0 = ob % nblk * AXIS_BLOCK;                                         \
      int64_t len = inner - i0 < AXIS_BLOCK ? inner - i0 : AXIS_BLOCK, base = o * n * inner + i0; \
      const T *yr = y + base, *gr = g + base;                                                     \
      T *gxr = gx + base;                                                                         \
      if (inner == 1) {                                                                           \
        double dd = 0;                                                                            \
        if (lg) {                                                                                 \
          _Pragma("omp simd reduction(+ : dd)")                                                   \
          for (int64_t j = 0; j < n; j++) dd += gr[j];                                            \
        } else {                                                                                  \
          _Pragma("omp simd reduction(+ : dd)")                                                   \
          for (int64_t j = 0; j < n; j++) dd += (double)gr[j] * yr[j];                            \
        }                                                                                         \
        T dt = (T)dd;                                                                             \
        if (lg)                                                                                   \
          SIMD_EXP_##sfx                                                                          \
          for (int64_t j = 0; j < n; j++) gxr[j] += gr[j] - EXPF(yr[j]) * dt;                     \
        else                                                                                      \
          NNC_SIMD                                                                                \
          for (int64_t j = 0; j < n; j++) gxr[j] += yr[j] * (gr[j] - dt);                         \
        continue;                                                                                 \
      }                                                                                           \
      double d[AXIS_BLOCK];                                                                       \
      for (int64_t i = 0; i < len; i++) d[i] = 0;                                                 \
      for (int64_t j = 0; j < n; j++)                                                             \
        NNC_SIMD                                                                                  \
        for (int64_t i = 0; i < len; i++) {                                                       \
          int64_t k = j * inner + i;                                                              \
          d[i] += lg ? (double)gr[k] : (double)gr[k] * yr[k];                                     \
        }                                                                                         \
      for (int64_t j = 0; j < n; j++)                                                             \
        SIMD_EXP_##sfx                                                                            \
        for (int64_t i = 0; i < len; i++) {                                                       \
          int64_t k = j * inner + i;                                                              \
          T di = (T)d[i];                                                                         \
          gxr[k] += lg ? gr[k] - EXPF(yr[k]) * di : yr[k] * (gr[k] - di);                         \
        }                                                                                         \
    }                                                                                             \
  }

SOFTMAX_KERNELS(float, f32, exp_f32, log)
SOFTMAX_KERNELS(double, f64, exp, log)

static void softmax_ref(const nnc_tensor *x, nnc_tensor *y, int64_t outer, int64_t n, int64_t inner, bool lg) {
  for (int64_t o = 0; o < outer; o++)
    for (int64_t i = 0; i < inner; i++) {
      int64_t base = o * n * inner + i;
      double m = -INFINITY, s = 0;
      for (int64_t j = 0; j < n; j++) {
        double v = nnc_get(x, base + j * inner);
        if (v > m || v != v) m = v;
      }
      for (int64_t j = 0; j < n; j++) s += exp(nnc_get(x, base + j * inner) - m);
      for (int64_t j = 0; j < n; j++) {
        double v = nnc_get(x, base + j * inner) - m;
        nnc_set(y, base + j * inner, lg ? v - log(s) : exp(v) / s);
      }
    }
}

static void softmax_backward(nnc_node *n) {
  nnc_tensor *xin = n->in[0], *y = nnc_saved(n, 0), *g = n->out->grad;
  if (!xin->requires_grad) return;
  int64_t outer, len, inner;
  axis_split(y, (int)n->i[0], &outer, &len, &inner);
  bool lg = n->i[1] != 0;
  nnc_tensor *dst = grad_dst(xin);
  if (y->dtype == NNC_F32) softmax_bwd_f32(nnc_data(y), nnc_data(g), nnc_data(dst), outer, len, inner, lg);
  else softmax_bwd_f64(nnc_data(y), nnc_data(g), nnc_data(dst), outer, len, inner, lg);
  grad_done(xin, dst);
}
NNC_OP_DEF(op_softmax, "softmax", softmax_backward);
NNC_OP_DEF(op_log_softmax, "log_softmax", softmax_backward);

static nnc_tensor *softmax_op(const nnc_op_def *def, nnc_tensor *x, int axis, bool lg) {
  nnc_check_float(x, def->name);
  int a = one_axis(x, axis, def->name);
  int64_t outer, n, inner;
  axis_split(x, a, &outer, &n, &inner);
  nnc_tensor *y = nnc_empty_like(x);
  if (nnc_reference_kernels()) {
    softmax_ref(x, y, outer, n, inner, lg);
  } else {
    const nnc_tensor *xc = dense(x);
    if (x->dtype == NNC_F32) softmax_fwd_f32(nnc_data(xc), nnc_data(y), outer, n, inner, lg);
    else softmax_fwd_f64(nnc_data(xc), nnc_data(y), outer, n, inner, lg);
  }
  nnc_node *node = nnc_record(def, y, 1, &x);
  if (node) {
    nnc_save(node, y);
    node->i[0] = a;
    node->i[1] = lg;
  }
  return y;
}

nnc_tensor *nnc_softmax(nnc_tensor *x, int axis) { return softmax_op(&op_softmax, x, axis, false); }
nnc_tensor *nnc_log_softmax(nnc_tensor *x, int axis) { return softmax_op(&op_log_softmax, x, axis, true); }

/* ---- cumsum: y[j] = sum_{k<=j} x[k]; the backward adds the reverse cumsum of g ---- */
#define CUMSUM_KERNEL(T, sfx)                                                                     \
  static void cumsum_##sfx(const T *x, T *y, int64_t outer, int64_t n, int64_t inner, bool reverse, \
                           bool add) {                                                            \
    int64_t nblk = (inner + AXIS_BLOCK - 1) / AXIS_BLOCK, total = outer * n * inner;              \
    _Pragma("omp parallel for if (total >= NNC_PARALLEL_MIN) schedule(static)")                   \
    for (int64_t ob = 0; ob < outer * nblk; ob++) {                                               \
      int64_t o = ob / nblk, i0 = ob % nblk * AXIS_BLOCK;                                         \
      int64_t len = inner - i0 < AXIS_BLOCK ? inner - i0 : AXIS_BLOCK, base = o * n * inner + i0; \
      double acc[AXIS_BLOCK];                                                                     \
      for (int64_t i = 0; i < len; i++) acc[i] = 0;                                               \
      for (int64_t jj = 0; jj < n; jj++) {                                                        \
        int64_t j = reverse ? n - 1 - jj : jj;                                                    \
        const T *xr = x + base + j * inner;                                                       \
        T *yr = y + base + j * inner;                                                             \
        NNC_SIMD                                                                                  \
        for (int64_t i = 0; i < len; i++) {                                                       \
          acc[i] += xr[i];                                                                        \
          yr[i] = add ? (T)(yr[i] + acc[i]) : (T)acc[i];                                          \
        }                                                                                         \
      }                                                                                           \
    }                                                                                             \
  }
CUMSUM_KERNEL(float, f32)
CUMSUM_KERNEL(double, f64)

static void cumsum_backward(nnc_node *n) {
  nnc_tensor *xin = n->in[0], *g = n->out->grad;
  if (!xin->requires_grad) return;
  int64_t outer, len, inner;
  axis_split(g, (int)n->i[0], &outer, &len, &inner);
  nnc_tensor *dst = grad_dst(xin);
  if (g->dtype == NNC_F32) cumsum_f32(nnc_data(g), nnc_data(dst), outer, len, inner, true, true);
  else cumsum_f64(nnc_data(g), nnc_data(dst), outer, len, inner, true, true);
  grad_done(xin, dst);
}
NNC_OP_DEF(op_cumsum, "cumsum", cumsum_backward);

nnc_tensor *nnc_cumsum(nnc_tensor *x, int axis) {
  nnc_check_float(x, "cumsum");
  int a = one_axis(x, axis, "cumsum");
  int64_t outer, n, inner;
  axis_split(x, a, &outer, &n, &inner);
  nnc_tensor *y = nnc_empty_like(x);
  if (nnc_reference_kernels()) {
    for (int64_t o = 0; o < outer; o++)
      for (int64_t i = 0; i < inner; i++) {
        double s = 0;
        for (int64_t j = 0; j < n; j++) {
          int64_t k = (o * n + j) * inner + i;
          s += nnc_get(x, k);
          nnc_set(y, k, s);
        }
      }
  } else {
    const nnc_tensor *xc = dense(x);
    if (x->dtype == NNC_F32) cumsum_f32(nnc_data(xc), nnc_data(y), outer, n, inner, false, false);
    else cumsum_f64(nnc_data(xc), nnc_data(y), outer, n, inner, false, false);
  }
  nnc_node *node = nnc_record(&op_cumsum, y, 1, &x);
  if (node) node->i[0] = a;
  return y;
}

/* ---- argmax: the first index of the largest value (NaN counts as largest), i64 ---- */
NNC_OP_DEF(op_argmax, "argmax", NULL);

#define ARGMAX_KERNEL(T, sfx)                                                                     \
  static void argmax_##sfx(const T *x, int64_t *out, int64_t outer, int64_t n, int64_t inner) {   \
    _Pragma("omp parallel for if (outer * n * inner >= NNC_PARALLEL_MIN) schedule(static)")       \
    for (int64_t o = 0; o < outer; o++)                                                           \
      for (int64_t i = 0; i < inner; i++) {                                                       \
        const T *xr = x + o * n * inner + i;                                                      \
        T best = xr[0];                                                                           \
        int64_t bi = 0;                                                                           \
        for (int64_t j = 1; j < n; j++) {                                                         \
          T v = xr[j * inner];                                                                    \
          if (v > best || (v != v && best == best)) best = v, bi = j;                             \
        }                                                                                         \
        out[o * inner + i] = bi;                                                                  \
      }                                                                                           \
  }
ARGMAX_KERNEL(float, f32)
ARGMAX_KERNEL(double, f64)

nnc_tensor *nnc_argmax(nnc_tensor *x, int axis, bool keepdim) {
  nnc_check_float(x, "argmax");
  int a = one_axis(x, axis, "argmax");
  int64_t outer, n, inner, shape[NNC_MAX_DIMS];
  axis_split(x, a, &outer, &n, &inner);
  char b[96];
  NNC_CHECK(n > 0 || outer * inner == 0, "argmax", "empty axis %d of %s", axis, nnc_shape_str(x, b, sizeof b));
  int nd = reduced_shape(x, x->ndim ? 1u << a : 0, keepdim, shape);
  nnc_tensor *y = nnc_empty(NNC_I64, nd, shape);
  int64_t *yp = nnc_i64(y);
  if (n == 0) return y;
  if (nnc_reference_kernels()) {
    for (int64_t o = 0; o < outer; o++)
      for (int64_t i = 0; i < inner; i++) {
        double best = nnc_get(x, o * n * inner + i);
        int64_t bi = 0;
        for (int64_t j = 1; j < n; j++) {
          double v = nnc_get(x, (o * n + j) * inner + i);
          if (v > best || (v != v && best == best)) best = v, bi = j;
        }
        yp[o * inner + i] = bi;
      }
  } else {
    const nnc_tensor *xc = dense(x);
    if (x->dtype == NNC_F32) argmax_f32(nnc_data(xc), yp, outer, n, inner);
    else argmax_f64(nnc_data(xc), yp, outer, n, inner);
  }
  return y; /* no gradient: not recorded */
}
