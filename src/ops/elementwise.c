/* ops/elementwise.c: unary maths and activations, binary arithmetic with broadcasting,
 * where, and the in-place accumulators.
 *
 * Each unary op is one row of UNARY_OPS: its forward y = f(x) and derivative dy/dx written
 * with x, y and the attributes p0, p1.  From that row come a reference kernel (double, one
 * element at a time through nnc_get/nnc_set), fast typed kernels for f32 and f64 (strided
 * rows, OpenMP on large contiguous inputs), and a backward gx = g * dy/dx.  Binary ops are
 * rows of BINARY_OPS with forward and both partial derivatives in a, b, y. */
#include <math.h>
#include "autograd/autograd.h"
#include "core/error.h"
#include "core/iter.h"
#include "core/threads.h"
#include "ops/ops.h"
#include "ops/vmath.h"

static bool use_reference;
void nnc_set_reference_kernels(bool on) { use_reference = on; }
bool nnc_reference_kernels(void) { return use_reference; }

void nnc_check_float(const nnc_tensor *a, const char *op) {
  NNC_CHECK(nnc_dtype_is_float(a->dtype), op, "needs a float tensor, got %s", nnc_dtype_name(a->dtype));
}

void nnc_check_float_pair(const nnc_tensor *a, const nnc_tensor *b, const char *op) {
  nnc_check_float(a, op);
  NNC_CHECK(a->dtype == b->dtype, op, "dtypes differ: %s and %s", nnc_dtype_name(a->dtype), nnc_dtype_name(b->dtype));
}

void nnc_broadcast_shape(const nnc_tensor *a, const nnc_tensor *b, const char *op, int *ndim, int64_t *shape) {
  int n = a->ndim > b->ndim ? a->ndim : b->ndim;
  for (int d = 0; d < n; d++) {
    int da = d - (n - a->ndim), db = d - (n - b->ndim);
    int64_t sa = da >= 0 ? a->shape[da] : 1, sb = db >= 0 ? b->shape[db] : 1;
    if (sa != sb && sa != 1 && sb != 1) {
      char x[96], y[96];
      NNC_FAIL(op, "shapes %s and %s do not broadcast", nnc_shape_str(a, x, 96), nnc_shape_str(b, y, 96));
    }
    shape[d] = sa == 1 ? sb : sa;
  }
  *ndim = n;
}

void nnc_broadcast_strides(const nnc_tensor *t, int ndim, const int64_t *shape, int64_t *stride) {
  for (int d = 0; d < ndim; d++) {
    int dt = d - (ndim - t->ndim);
    stride[d] = (dt >= 0 && t->shape[dt] == shape[d]) ? t->stride[dt] : 0;
    if (dt >= 0 && t->shape[dt] != shape[d])
      NNC_CHECK(t->shape[dt] == 1, "broadcast", "dim %d of size %lld cannot broadcast to %lld", dt,
                (long long)t->shape[dt], (long long)shape[d]);
  }
}

/* a view of t broadcast to `shape` (stride 0 in broadcast dims), for reference kernels */
static nnc_tensor *broadcast_view(const nnc_tensor *t, int ndim, const int64_t *shape) {
  nnc_tensor *v = nnc_view_raw(t);
  v->ndim = ndim;
  for (int d = 0; d < ndim; d++) v->shape[d] = shape[d];
  nnc_broadcast_strides(t, ndim, shape, v->stride);
  return v;
}

/* ======================= unary ops ======================= */
#define C(v) ((T)(v))
#define SIGN(v) (T)(((v) > 0) - ((v) < 0))
#define UNARY_OPS(X)                                                                               \
  X(neg, -x, C(-1))                                                                                \
  X(exp, exp(x), y)                                                                                \
  X(log, log(x), C(1) / x)                                                                         \
  X(sqrt, sqrt(x), C(0.5) / y)                                                                     \
  X(rsqrt, C(1) / sqrt(x), C(-0.5) * y * y * y)                                                    \
  X(abs, fabs(x), SIGN(x))                                                                         \
  X(sign, SIGN(x), C(0))                                                                           \
  X(sin, sin(x), cos(x))                                                                           \
  X(cos, cos(x), -sin(x))                                                                          \
  X(tanh, tanh(x), C(1) - y * y)                                                                   \
  X(sigmoid, C(1) / (C(1) + exp(-x)), y * (C(1) - y))                                              \
  X(relu, x > 0 ? x : C(0), x > 0 ? C(1) : C(0))                                                   \
  X(gelu, gelu(x), gelu_grad(x))                                                                   \
  X(gelu_tanh, C(0.5) * x * (C(1) + tanh(C(0.7978845608028654) * (x + C(0.044715) * x * x * x))),  \
    gelu_tanh_grad(x))                                                                             \
  X(silu, x / (C(1) + exp(-x)), silu_grad(x))                                                      \
  X(softplus, x > 20 ? x : log1p(exp(x)), C(1) / (C(1) + exp(-x)))                                 \
  X(square, x * x, C(2) * x)                                                                       \
  X(affine, p0 * x + p1, p0)                                                                       \
  X(pows, pow(x, p0), p0 * pow(x, p0 - C(1)))                                                      \
  X(clamp, x < p0 ? p0 : (x > p1 ? p1 : x), (x >= p0 && x <= p1) ? C(1) : C(0))                    \
  X(leaky_relu, x > 0 ? x : p0 * x, x > 0 ? C(1) : p0)                                             \
  X(elu, x > 0 ? x : p0 * (exp(x) - C(1)), x > 0 ? C(1) : y + p0)

/* GELU x Phi(x) and its derivative Phi(x) + x phi(x): float through the branch-free Phi of
 * ops/vmath.h (|error| <= 1.5e-7, so the loop vectorises), double through libm's erf */
static inline float gelu_f32(float x) { return x * nnc_vphif(x, NULL); }
static inline float gelu_grad_f32(float x) { float pdf, cdf = nnc_vphif(x, &pdf); return cdf + x * pdf; }
static inline double gelu_f64(double x) { return 0.5 * x * (1 + erf(x * 0.70710678118654752)); }
static inline double gelu_grad_f64(double x) {
  return 0.5 * (1 + erf(x * 0.70710678118654752)) + x * exp(-0.5 * x * x) * 0.3989422804014327;
}
#define gelu(x) _Generic((x), float: gelu_f32, double: gelu_f64)(x)
#define gelu_grad(x) _Generic((x), float: gelu_grad_f32, double: gelu_grad_f64)(x)

/* derivatives too long for a table cell, for float and double */
static inline float gelu_tanh_grad_f32(float x) {
  float k = 0.7978845608028654f, t = tanhf(k * (x + 0.044715f * x * x * x));
  return 0.5f * (1 + t) + 0.5f * x * (1 - t * t) * k * (1 + 3 * 0.044715f * x * x);
}
static inline double gelu_tanh_grad_f64(double x) {
  double k = 0.7978845608028654, t = tanh(k * (x + 0.044715 * x * x * x));
  return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * k * (1 + 3 * 0.044715 * x * x);
}
static inline float silu_grad_f32(float x) { float s = 1 / (1 + expf(-x)); return s * (1 + x * (1 - s)); }
static inline double silu_grad_f64(double x) { double s = 1 / (1 + exp(-x)); return s * (1 + x * (1 - s)); }
#define gelu_tanh_grad(x) _Generic((x), float: gelu_tanh_grad_f32, double: gelu_tanh_grad_f64)(x)
#define silu_grad(x) _Generic((x), float: silu_grad_f32, double: silu_grad_f64)(x)

/* Kernels for one unary op and one C type T:
 *   fwd: y[i] = f(x[i]) over x's strides (y contiguous)
 *   bwd: gx[i] = g[i] * f'(x[i], y[i])   (gx, g, y contiguous; x strided) */
#define UNARY_KERNELS(name, F, D, CT, sfx)                                                       \
  static void name##_fwd_##sfx(const nnc_tensor *xt, nnc_tensor *yt, double p0d, double p1d) {  \
    typedef CT T;                                                                                \
    T p0 = (T)p0d, p1 = (T)p1d;                                                                  \
    (void)p0; (void)p1;                                                                          \
    const T *xb = xt->storage->data;                                                             \
    T *yp = nnc_data(yt);                                                                        \
    int64_t n = nnc_numel(xt);                                                                   \
    if (nnc_is_contiguous(xt)) {                                                                 \
      const T *xp = xb + xt->offset;                                                             \
      _Pragma("omp parallel for if (n >= NNC_PARALLEL_MIN) schedule(static)")                    \
      for (int64_t i = 0; i < n; i++) { T x = xp[i]; yp[i] = (F); }                              \
      return;                                                                                    \
    }                                                                                            \
    int64_t ys[NNC_MAX_DIMS];                                                                    \
    nnc_contiguous_strides(xt->ndim, xt->shape, ys);                                             \
    const int64_t *st[2] = {ys, xt->stride}, off[2] = {0, xt->offset};                           \
    nnc_iter it;                                                                                 \
    for (bool more = nnc_iter_init(&it, xt->ndim, xt->shape, 2, st, off); more; more = nnc_iter_next(&it)) \
      for (int64_t j = 0; j < it.n; j++) {                                                       \
        T x = xb[it.off[1] + j * it.inner[1]];                                                   \
        yp[it.off[0] + j * it.inner[0]] = (F);                                                   \
      }                                                                                          \
  }                                                                                              \
  static void name##_bwd_##sfx(const nnc_tensor *xt, const nnc_tensor *yt, const nnc_tensor *gt, \
                               nnc_tensor *gxt, double p0d, double p1d) {                        \
    typedef CT T;                                                                                \
    T p0 = (T)p0d, p1 = (T)p1d;                                                                  \
    (void)p0; (void)p1;                                                                          \
    const T *xb = xt->storage->data, *yp = nnc_data(yt), *gp = nnc_data(gt);                     \
    T *gxp = nnc_data(gxt);                                                                      \
    int64_t n = nnc_numel(xt);                                                                   \
    if (nnc_is_contiguous(xt)) {                                                                 \
      const T *xp = xb + xt->offset;                                                             \
      _Pragma("omp parallel for if (n >= NNC_PARALLEL_MIN) schedule(static)")                    \
      for (int64_t i = 0; i < n; i++) {                                                          \
        T x = xp[i], y = yp[i];                                                                  \
        (void)x; (void)y;                                                                        \
        gxp[i] = gp[i] * (D);                                                                    \
      }                                                                                          \
      return;                                                                                    \
    }                                                                                            \
    for (int64_t i = 0; i < n; i++) {                                                            \
      T x = xb[nnc_elem_offset(xt, i)], y = yp[i];                                               \
      (void)x; (void)y;                                                                          \
      gxp[i] = gp[i] * (D);                                                                      \
    }                                                                                            \
  }

/* the reference kernel: one element at a time in double */
#define UNARY_REFERENCE(name, F, D)                                                              \
  static void name##_fwd_ref(const nnc_tensor *xt, nnc_tensor *yt, double p0, double p1) {       \
    typedef double T;                                                                            \
    (void)p0; (void)p1;                                                                          \
    for (int64_t i = 0, n = nnc_numel(xt); i < n; i++) {                                         \
      T x = nnc_get(xt, i);                                                                      \
      nnc_set(yt, i, (F));                                                                       \
    }                                                                                            \
  }

#define UNARY_DEFINE(name, F, D)                                                                 \
  UNARY_KERNELS(name, F, D, float, f32)                                                          \
  UNARY_KERNELS(name, F, D, double, f64)                                                         \
  UNARY_REFERENCE(name, F, D)                                                                    \
  static void name##_backward(nnc_node *n) {                                                     \
    nnc_tensor *x = nnc_saved(n, 0), *y = nnc_saved(n, 1);                                       \
    nnc_tensor *gx = nnc_empty_like(n->out);                                                     \
    if (x->dtype == NNC_F32) name##_bwd_f32(x, y, n->out->grad, gx, n->f[0], n->f[1]);          \
    else name##_bwd_f64(x, y, n->out->grad, gx, n->f[0], n->f[1]);                               \
    nnc_accum_grad(n->in[0], gx);                                                                \
  }                                                                                              \
  NNC_OP_DEF(op_##name, #name, name##_backward);                                                 \
  static nnc_tensor *name##_op(nnc_tensor *x, double p0, double p1) {                            \
    nnc_check_float(x, #name);                                                                   \
    nnc_tensor *y = nnc_empty_like(x);                                                           \
    if (use_reference) name##_fwd_ref(x, y, p0, p1);                                             \
    else if (x->dtype == NNC_F32) name##_fwd_f32(x, y, p0, p1);                                  \
    else name##_fwd_f64(x, y, p0, p1);                                                           \
    nnc_node *n = nnc_record(&op_##name, y, 1, &x);                                              \
    if (n) {                                                                                     \
      nnc_save(n, x);                                                                            \
      nnc_save(n, y);                                                                            \
      n->f[0] = p0;                                                                              \
      n->f[1] = p1;                                                                              \
    }                                                                                            \
    return y;                                                                                    \
  }

UNARY_OPS(UNARY_DEFINE)

nnc_tensor *nnc_neg(nnc_tensor *x) { return neg_op(x, 0, 0); }
nnc_tensor *nnc_exp(nnc_tensor *x) { return exp_op(x, 0, 0); }
nnc_tensor *nnc_log(nnc_tensor *x) { return log_op(x, 0, 0); }
nnc_tensor *nnc_sqrt(nnc_tensor *x) { return sqrt_op(x, 0, 0); }
nnc_tensor *nnc_rsqrt(nnc_tensor *x) { return rsqrt_op(x, 0, 0); }
nnc_tensor *nnc_abs(nnc_tensor *x) { return abs_op(x, 0, 0); }
nnc_tensor *nnc_sign(nnc_tensor *x) { return sign_op(x, 0, 0); }
nnc_tensor *nnc_sin(nnc_tensor *x) { return sin_op(x, 0, 0); }
nnc_tensor *nnc_cos(nnc_tensor *x) { return cos_op(x, 0, 0); }
nnc_tensor *nnc_tanh(nnc_tensor *x) { return tanh_op(x, 0, 0); }
nnc_tensor *nnc_sigmoid(nnc_tensor *x) { return sigmoid_op(x, 0, 0); }
nnc_tensor *nnc_relu(nnc_tensor *x) { return relu_op(x, 0, 0); }
nnc_tensor *nnc_gelu(nnc_tensor *x) { return gelu_op(x, 0, 0); }
nnc_tensor *nnc_gelu_tanh(nnc_tensor *x) { return gelu_tanh_op(x, 0, 0); }
nnc_tensor *nnc_silu(nnc_tensor *x) { return silu_op(x, 0, 0); }
nnc_tensor *nnc_softplus(nnc_tensor *x) { return softplus_op(x, 0, 0); }
nnc_tensor *nnc_square(nnc_tensor *x) { return square_op(x, 0, 0); }
nnc_tensor *nnc_affine(nnc_tensor *x, double scale, double shift) { return affine_op(x, scale, shift); }
nnc_tensor *nnc_scale(nnc_tensor *x, double c) { return affine_op(x, c, 0); }
nnc_tensor *nnc_shift(nnc_tensor *x, double c) { return affine_op(x, 1, c); }
nnc_tensor *nnc_pows(nnc_tensor *x, double p) { return pows_op(x, p, 0); }
nnc_tensor *nnc_clamp(nnc_tensor *x, double lo, double hi) {
  NNC_CHECK(lo <= hi, "clamp", "lo %g > hi %g", lo, hi);
  return clamp_op(x, lo, hi);
}
nnc_tensor *nnc_leaky_relu(nnc_tensor *x, double slope) { return leaky_relu_op(x, slope, 0); }
nnc_tensor *nnc_elu(nnc_tensor *x, double alpha) { return elu_op(x, alpha, 0); }

/* ======================= binary ops ======================= */
/* rows: forward y = f(a, b), partials da = dy/da and db = dy/db */
#define BINARY_OPS(X)                                                                            \
  X(add, a + b, C(1), C(1))                                                                      \
  X(sub, a - b, C(1), C(-1))                                                                     \
  X(mul, a * b, b, a)                                                                            \
  X(div, a / b, C(1) / b, -a / (b * b))                                                          \
  X(pow, pow(a, b), b * pow(a, b - C(1)), a > 0 ? y * log(a) : C(0))                             \
  X(maximum, a > b ? a : b, a > b ? C(1) : (a == b ? C(0.5) : C(0)), a < b ? C(1) : (a == b ? C(0.5) : C(0))) \
  X(minimum, a < b ? a : b, a < b ? C(1) : (a == b ? C(0.5) : C(0)), a > b ? C(1) : (a == b ? C(0.5) : C(0)))

/* fwd: y = f(a, b) with a, b read through broadcast strides, y contiguous of the out shape.
 * bwd: ga = g * da, gb = g * db, both of the out shape (summed to the inputs' shapes later). */
#define BINARY_KERNELS(name, F, DA, DB, CT, sfx)                                                 \
  static void name##_fwd_##sfx(const nnc_tensor *at, const nnc_tensor *bt, nnc_tensor *yt) {     \
    typedef CT T;                                                                                \
    const T *ab = at->storage->data, *bb = bt->storage->data;                                    \
    T *yp = nnc_data(yt);                                                                        \
    int64_t n = nnc_numel(yt);                                                                   \
    if (nnc_same_shape(at, bt) && nnc_same_shape(at, yt) && nnc_is_contiguous(at) && nnc_is_contiguous(bt)) { \
      const T *ap = ab + at->offset, *bp = bb + bt->offset;                                      \
      _Pragma("omp parallel for if (n >= NNC_PARALLEL_MIN) schedule(static)")                    \
      for (int64_t i = 0; i < n; i++) { T a = ap[i], b = bp[i]; yp[i] = (F); }                   \
      return;                                                                                    \
    }                                                                                            \
    int64_t sa[NNC_MAX_DIMS], sb[NNC_MAX_DIMS];                                                  \
    nnc_broadcast_strides(at, yt->ndim, yt->shape, sa);                                          \
    nnc_broadcast_strides(bt, yt->ndim, yt->shape, sb);                                          \
    const int64_t *st[3] = {yt->stride, sa, sb}, off[3] = {0, at->offset, bt->offset};           \
    nnc_iter it;                                                                                 \
    for (bool more = nnc_iter_init(&it, yt->ndim, yt->shape, 3, st, off); more; more = nnc_iter_next(&it)) \
      for (int64_t j = 0; j < it.n; j++) {                                                       \
        T a = ab[it.off[1] + j * it.inner[1]], b = bb[it.off[2] + j * it.inner[2]];              \
        yp[it.off[0] + j * it.inner[0]] = (F);                                                   \
      }                                                                                          \
  }                                                                                              \
  static void name##_bwd_##sfx(const nnc_tensor *at, const nnc_tensor *bt, const nnc_tensor *yt, \
                               nnc_tensor *gat, nnc_tensor *gbt) {                               \
    typedef CT T;                                                                                \
    const T *ab = at->storage->data, *bb = bt->storage->data, *yp = nnc_data(yt);                \
    const T *gp = nnc_data(yt->grad);                                                            \
    T *gap = gat ? nnc_data(gat) : NULL, *gbp = gbt ? nnc_data(gbt) : NULL;                      \
    int64_t sa[NNC_MAX_DIMS], sb[NNC_MAX_DIMS];                                                  \
    nnc_broadcast_strides(at, yt->ndim, yt->shape, sa);                                          \
    nnc_broadcast_strides(bt, yt->ndim, yt->shape, sb);                                          \
    const int64_t *st[3] = {yt->stride, sa, sb}, off[3] = {0, at->offset, bt->offset};           \
    nnc_iter it;                                                                                 \
    for (bool more = nnc_iter_init(&it, yt->ndim, yt->shape, 3, st, off); more; more = nnc_iter_next(&it)) \
      for (int64_t j = 0; j < it.n; j++) {                                                       \
        int64_t i = it.off[0] + j * it.inner[0];                                                 \
        T a = ab[it.off[1] + j * it.inner[1]], b = bb[it.off[2] + j * it.inner[2]], y = yp[i];   \
        (void)a; (void)b; (void)y;                                                               \
        if (gap) gap[i] = gp[i] * (DA);                                                          \
        if (gbp) gbp[i] = gp[i] * (DB);                                                          \
      }                                                                                          \
  }

#define BINARY_DEFINE(name, F, DA, DB)                                                           \
  BINARY_KERNELS(name, F, DA, DB, float, f32)                                                    \
  BINARY_KERNELS(name, F, DA, DB, double, f64)                                                   \
  static void name##_fwd_ref(const nnc_tensor *at, const nnc_tensor *bt, nnc_tensor *yt) {       \
    typedef double T;                                                                            \
    nnc_tensor *av = broadcast_view(at, yt->ndim, yt->shape), *bv = broadcast_view(bt, yt->ndim, yt->shape); \
    for (int64_t i = 0, n = nnc_numel(yt); i < n; i++) {                                         \
      T a = nnc_get(av, i), b = nnc_get(bv, i);                                                  \
      nnc_set(yt, i, (F));                                                                       \
    }                                                                                            \
  }                                                                                              \
  static void name##_backward(nnc_node *n) {                                                     \
    nnc_tensor *a = nnc_saved(n, 0), *b = nnc_saved(n, 1);                                       \
    nnc_tensor *ga = n->in[0]->requires_grad ? nnc_empty_like(n->out) : NULL;                    \
    nnc_tensor *gb = n->in[1]->requires_grad ? nnc_empty_like(n->out) : NULL;                    \
    if (a->dtype == NNC_F32) name##_bwd_f32(a, b, n->out, ga, gb);                               \
    else name##_bwd_f64(a, b, n->out, ga, gb);                                                   \
    nnc_accum_grad(n->in[0], ga);                                                                \
    nnc_accum_grad(n->in[1], gb);                                                                \
  }                                                                                              \
  NNC_OP_DEF(op_##name, #name, name##_backward);                                                 \
  nnc_tensor *nnc_##name(nnc_tensor *a, nnc_tensor *b) {                                         \
    nnc_check_float_pair(a, b, #name);                                                           \
    int ndim;                                                                                    \
    int64_t shape[NNC_MAX_DIMS];                                                                 \
    nnc_broadcast_shape(a, b, #name, &ndim, shape);                                              \
    nnc_tensor *y = nnc_empty(a->dtype, ndim, shape);                                            \
    if (use_reference) name##_fwd_ref(a, b, y);                                                  \
    else if (a->dtype == NNC_F32) name##_fwd_f32(a, b, y);                                       \
    else name##_fwd_f64(a, b, y);                                                                \
    nnc_tensor *in[2] = {a, b};                                                                  \
    nnc_node *n = nnc_record(&op_##name, y, 2, in);                                              \
    if (n) {                                                                                     \
      nnc_save(n, a);                                                                            \
      nnc_save(n, b);                                                                            \
      nnc_save(n, y);                                                                            \
    }                                                                                            \
    return y;                                                                                    \
  }

BINARY_OPS(BINARY_DEFINE)

/* ======================= where ======================= */
static void where_backward(nnc_node *n) {
  nnc_tensor *cond = nnc_saved(n, 0), *g = n->out->grad;
  nnc_tensor *cv = broadcast_view(cond, g->ndim, g->shape);
  for (int k = 1; k <= 2; k++) {
    if (!n->in[k]->requires_grad) continue;
    nnc_tensor *gk = nnc_empty_like(g);
    for (int64_t i = 0, m = nnc_numel(g); i < m; i++)
      nnc_set(gk, i, ((nnc_get(cv, i) != 0) == (k == 1)) ? nnc_get(g, i) : 0.0);
    nnc_accum_grad(n->in[k], gk);
  }
}
NNC_OP_DEF(op_where, "where", where_backward);

/* y = cond ? a : b with cond, a, b broadcast together (reference kernel only: where is rare
 * on hot paths) */
nnc_tensor *nnc_where(nnc_tensor *cond, nnc_tensor *a, nnc_tensor *b) {
  nnc_check_float_pair(a, b, "where");
  NNC_CHECK(cond->dtype == NNC_U8, "where", "condition must be u8, got %s", nnc_dtype_name(cond->dtype));
  int nd1, nd;
  int64_t s1[NNC_MAX_DIMS], shape[NNC_MAX_DIMS];
  nnc_broadcast_shape(a, b, "where", &nd1, s1);
  nnc_tensor *ab = nnc_view_raw(a);
  ab->ndim = nd1;
  for (int d = 0; d < nd1; d++) ab->shape[d] = s1[d];
  nnc_broadcast_shape(cond, ab, "where", &nd, shape);
  nnc_tensor *y = nnc_empty(a->dtype, nd, shape);
  nnc_tensor *cv = broadcast_view(cond, nd, shape), *av = broadcast_view(a, nd, shape), *bv = broadcast_view(b, nd, shape);
  for (int64_t i = 0, m = nnc_numel(y); i < m; i++) nnc_set(y, i, nnc_get(cv, i) != 0 ? nnc_get(av, i) : nnc_get(bv, i));
  nnc_tensor *in[3] = {cond, a, b};
  nnc_node *n = nnc_record(&op_where, y, 3, in);
  if (n) nnc_save(n, cond);
  return y;
}

/* ======================= in-place accumulation ======================= */
/* dst += alpha * src, src broadcast to dst's shape; dst and src may have any strides */
void nnc_axpy_into(nnc_tensor *dst, double alpha, const nnc_tensor *src) {
  NNC_CHECK(dst->dtype == src->dtype, "axpy_into", "dtypes differ: %s and %s", nnc_dtype_name(dst->dtype),
            nnc_dtype_name(src->dtype));
  nnc_check_float(dst, "axpy_into");
  int64_t n = nnc_numel(dst);
  if (nnc_same_shape(dst, src) && nnc_is_contiguous(dst) && nnc_is_contiguous(src)) {
    if (dst->dtype == NNC_F32) {
      float *d = nnc_data(dst), a = (float)alpha;
      const float *s = nnc_data(src);
      #pragma omp parallel for if (n >= NNC_PARALLEL_MIN) schedule(static)
      for (int64_t i = 0; i < n; i++) d[i] += a * s[i];
    } else {
      double *d = nnc_data(dst);
      const double *s = nnc_data(src);
      for (int64_t i = 0; i < n; i++) d[i] += alpha * s[i];
    }
  } else { /* rows of the strided iterator; src read through broadcast strides */
    int64_t ss[NNC_MAX_DIMS];
    nnc_broadcast_strides(src, dst->ndim, dst->shape, ss);
    const int64_t *st[2] = {dst->stride, ss}, off[2] = {dst->offset, src->offset};
    nnc_iter it;
    if (dst->dtype == NNC_F32) {
      float *d = dst->storage->data, a = (float)alpha;
      const float *s = src->storage->data;
      for (bool more = nnc_iter_init(&it, dst->ndim, dst->shape, 2, st, off); more; more = nnc_iter_next(&it))
        for (int64_t j = 0; j < it.n; j++) d[it.off[0] + j * it.inner[0]] += a * s[it.off[1] + j * it.inner[1]];
    } else {
      double *d = dst->storage->data;
      const double *s = src->storage->data;
      for (bool more = nnc_iter_init(&it, dst->ndim, dst->shape, 2, st, off); more; more = nnc_iter_next(&it))
        for (int64_t j = 0; j < it.n; j++) d[it.off[0] + j * it.inner[0]] += alpha * s[it.off[1] + j * it.inner[1]];
    }
  }
  nnc_bump_version(dst);
}

void nnc_add_into(nnc_tensor *dst, const nnc_tensor *src) { nnc_axpy_into(dst, 1.0, src); }
