/* ops/shape.c: concat, stack, split, pad, gather, index_select, scatter_add, one_hot, cast.
 *
 * Each op has a reference kernel (plain loops through nnc_get/nnc_set) and a fast kernel:
 * block memcpy for concat and index_select (an embedding lookup is index_select along axis
 * 0 of a contiguous table: one row memcpy per index), row kernels with precomputed per-dim
 * source maps for pad (zero mode copies each row's interior with memcpy: the NCHW padding of
 * convolutions), and typed strided loops for gather and scatter_add.  Copies are exact for
 * every dtype (concat, gather and index_select accept any dtype; pad and scatter_add need
 * floats).  stack is unsqueeze + concat and split is narrow views, so neither has an op of
 * its own.  Index tensors are i64; every index is checked against the axis size once,
 * before any kernel runs, so no kernel reads out of bounds. */
#include <string.h>
#include "autograd/autograd.h"
#include "core/arena.h"
#include "core/error.h"
#include "core/iter.h"
#include "core/threads.h"
#include "ops/ops.h"

/* ======================= helpers ======================= */
static int64_t prod(const int64_t *s, int from, int to) {
  int64_t p = 1;
  for (int d = from; d < to; d++) p *= s[d];
  return p;
}

/* one instantiation per dtype: X(C type, suffix, dtype) */
#define FOR_EACH_DTYPE(X)      \
  X(float, f32, NNC_F32)       \
  X(double, f64, NNC_F64)      \
  X(int32_t, i32, NNC_I32)     \
  X(int64_t, i64, NNC_I64)     \
  X(uint8_t, u8, NNC_U8)

/* dst = src, same dtype and shape, any strides (bit-exact for every dtype) */
#define COPY_KERNEL(T, sfx, DT)                                                                        \
  static void copy_##sfx(nnc_tensor *dst, const nnc_tensor *src) {                                     \
    T *db = dst->storage->data;                                                                        \
    const T *sb = src->storage->data;                                                                  \
    const int64_t *st[2] = {dst->stride, src->stride}, off[2] = {dst->offset, src->offset};           \
    nnc_iter it;                                                                                       \
    for (bool more = nnc_iter_init(&it, dst->ndim, dst->shape, 2, st, off); more; more = nnc_iter_next(&it)) \
      for (int64_t j = 0; j < it.n; j++) db[it.off[0] + j * it.inner[0]] = sb[it.off[1] + j * it.inner[1]]; \
  }
FOR_EACH_DTYPE(COPY_KERNEL)

static void copy_same(nnc_tensor *dst, const nnc_tensor *src) {
  if (nnc_numel(dst) == 0) return;
  if (nnc_is_contiguous(dst) && nnc_is_contiguous(src)) {
    memcpy(nnc_data(dst), nnc_data(src), (size_t)nnc_numel(src) * nnc_dtype_size(src->dtype));
    return;
  }
  switch (dst->dtype) {
#define COPY_CASE(T, sfx, DT) case DT: copy_##sfx(dst, src); break;
    FOR_EACH_DTYPE(COPY_CASE)
#undef COPY_CASE
  default: NNC_FAIL("copy", "bad dtype");
  }
}

/* t itself if contiguous, else a contiguous copy (not recorded) */
static nnc_tensor *contig(nnc_tensor *t) {
  if (nnc_is_contiguous(t)) return t;
  nnc_tensor *c = nnc_empty(t->dtype, t->ndim, t->shape);
  copy_same(c, t);
  return c;
}

/* the index as a contiguous i64 tensor after checking every value lies in [0, size) */
static nnc_tensor *checked_index(nnc_tensor *index, const char *op, int axis, int64_t size) {
  NNC_CHECK(index->dtype == NNC_I64, op, "index must be i64, got %s", nnc_dtype_name(index->dtype));
  nnc_tensor *ic = contig(index);
  const int64_t *p = nnc_data(ic);
  for (int64_t i = 0, n = nnc_numel(ic); i < n; i++)
    NNC_CHECK(p[i] >= 0 && p[i] < size, op, "index %lld (at position %lld) out of range for axis %d of size %lld",
              (long long)p[i], (long long)i, axis, (long long)size);
  return ic;
}

/* a view of t with shape[axis] = len starting at `start` along axis (not recorded) */
static nnc_tensor *part_view(const nnc_tensor *t, int axis, int64_t start, int64_t len) {
  nnc_tensor *v = nnc_view_raw(t);
  v->shape[axis] = len;
  v->offset = t->offset + start * t->stride[axis];
  return v;
}

/* ======================= concat / stack / split ======================= */
static void concat_backward(nnc_node *n) {
  int axis = (int)n->i[0];
  nnc_tensor *g = n->out->grad;
  int64_t off = 0;
  for (int k = 0; k < n->n_in; k++) {
    nnc_tensor *x = n->in[k];
    int64_t len = x->shape[axis];
    if (x->requires_grad) {
      nnc_tensor *gk = nnc_empty(g->dtype, x->ndim, x->shape);
      copy_same(gk, part_view(g, axis, off, len));
      nnc_accum_grad(x, gk);
    }
    off += len;
  }
}
NNC_OP_DEF(op_concat, "concat", concat_backward);

static void concat_ref(int n, nnc_tensor *const *xs, int axis, nnc_tensor *y) {
  int64_t inner = prod(y->shape, axis + 1, y->ndim), ymid = y->shape[axis], off = 0;
  for (int k = 0; k < n; k++) {
    int64_t len = xs[k]->shape[axis], block = len * inner;
    for (int64_t i = 0, m = nnc_numel(xs[k]); i < m; i++) {
      int64_t o = i / block, r = i % block;
      nnc_set(y, o * ymid * inner + off * inner + r, nnc_get(xs[k], i));
    }
    off += len;
  }
}

/* contiguous inputs: one memcpy per (outer index, input); others: a strided copy */
static void concat_fast(int n, nnc_tensor *const *xs, int axis, nnc_tensor *y) {
  size_t es = nnc_dtype_size(y->dtype);
  int64_t outer = prod(y->shape, 0, axis), inner = prod(y->shape, axis + 1, y->ndim);
  size_t yrow = (size_t)(y->shape[axis] * inner) * es;
  char *yp = nnc_data(y);
  int64_t off = 0;
  for (int k = 0; k < n; k++) {
    nnc_tensor *x = xs[k];
    int64_t len = x->shape[axis];
    if (nnc_is_contiguous(x)) {
      size_t chunk = (size_t)(len * inner) * es;
      const char *xp = nnc_data(x);
      if (chunk)
        for (int64_t o = 0; o < outer; o++) memcpy(yp + (size_t)o * yrow + (size_t)(off * inner) * es, xp + (size_t)o * chunk, chunk);
    } else {
      copy_same(part_view(y, axis, off, len), x);
    }
    off += len;
  }
}

nnc_tensor *nnc_concat(int n, nnc_tensor *const *xs, int axis_in) {
  char a[96], b[96];
  NNC_CHECK(n >= 1, "concat", "needs at least one tensor, got %d", n);
  const nnc_tensor *x0 = xs[0];
  NNC_CHECK(x0->ndim >= 1, "concat", "cannot concatenate 0-d tensors");
  int axis = nnc_axis(x0, axis_in, "concat");
  int64_t shape[NNC_MAX_DIMS];
  memcpy(shape, x0->shape, sizeof shape);
  shape[axis] = 0;
  for (int k = 0; k < n; k++) {
    const nnc_tensor *x = xs[k];
    NNC_CHECK(x->dtype == x0->dtype, "concat", "tensor %d is %s, tensor 0 is %s", k, nnc_dtype_name(x->dtype),
              nnc_dtype_name(x0->dtype));
    bool fits = x->ndim == x0->ndim;
    for (int d = 0; fits && d < x->ndim; d++)
      if (d != axis && x->shape[d] != x0->shape[d]) fits = false;
    NNC_CHECK(fits, "concat", "tensor %d has shape %s, tensor 0 has %s (they may differ only in axis %d)", k,
              nnc_shape_str(x, a, 96), nnc_shape_str(x0, b, 96), axis);
    shape[axis] += x->shape[axis];
  }
  nnc_tensor *y = nnc_empty(x0->dtype, x0->ndim, shape);
  if (nnc_reference_kernels()) concat_ref(n, xs, axis, y);
  else concat_fast(n, xs, axis, y);
  nnc_node *node = nnc_record(&op_concat, y, n, xs);
  if (node) node->i[0] = axis;
  return y;
}

nnc_tensor *nnc_stack(int n, nnc_tensor *const *xs, int axis_in) {
  char a[96], b[96];
  NNC_CHECK(n >= 1, "stack", "needs at least one tensor, got %d", n);
  int nd = xs[0]->ndim;
  int axis = axis_in < 0 ? axis_in + nd + 1 : axis_in;
  NNC_CHECK(axis >= 0 && axis <= nd && nd < NNC_MAX_DIMS, "stack", "axis %d out of range for %d-d tensors", axis_in, nd);
  nnc_tensor **u = nnc_arena_alloc(nnc_arena_current(), (size_t)n * sizeof *u);
  for (int k = 0; k < n; k++) {
    NNC_CHECK(nnc_same_shape(xs[k], xs[0]), "stack", "tensor %d has shape %s, tensor 0 has %s", k,
              nnc_shape_str(xs[k], a, 96), nnc_shape_str(xs[0], b, 96));
    u[k] = nnc_unsqueeze(xs[k], axis);
  }
  return nnc_concat(n, u, axis);
}

void nnc_split(nnc_tensor *x, int axis_in, int n, const int64_t *sizes, nnc_tensor **out) {
  char a[96];
  int axis = nnc_axis(x, axis_in, "split");
  NNC_CHECK(n >= 1, "split", "needs at least one piece, got %d", n);
  int64_t total = 0;
  for (int k = 0; k < n; k++) {
    NNC_CHECK(sizes[k] >= 0, "split", "piece %d has negative size %lld", k, (long long)sizes[k]);
    total += sizes[k];
  }
  NNC_CHECK(total == x->shape[axis], "split", "sizes sum to %lld but axis %d of %s has %lld", (long long)total, axis,
            nnc_shape_str(x, a, 96), (long long)x->shape[axis]);
  int64_t start = 0;
  for (int k = 0; k < n; k++) {
    out[k] = nnc_narrow(x, axis, start, sizes[k]);
    start += sizes[k];
  }
}

/* ======================= pad ======================= */
/* For each dim d, map[d][o] is the input index that output index o reads, or -1 for the
 * constant.  A 0-d input is treated as shape [1]. */
typedef struct {
  int nd;
  nnc_pad_mode mode;
  int64_t in[NNC_MAX_DIMS], out[NNC_MAX_DIMS], lo[NNC_MAX_DIMS];
  int64_t xstride[NNC_MAX_DIMS], xoffset; /* where the input is read (forward) or written (backward) */
  int64_t *map[NNC_MAX_DIMS];
} pad_geom;

static int64_t pad_source(int64_t o, int64_t lo, int64_t n, nnc_pad_mode mode) {
  int64_t i = o - lo;
  if (i >= 0 && i < n) return i;
  switch (mode) {
  case NNC_PAD_REFLECT:
    if (i < 0) i = -i;
    if (i >= n) i = 2 * (n - 1) - i;
    return i;
  case NNC_PAD_REPLICATE: return i < 0 ? 0 : n - 1;
  case NNC_PAD_CIRCULAR: i %= n; return i < 0 ? i + n : i;
  default: return -1;
  }
}

static const char *pad_mode_name(nnc_pad_mode m) {
  switch (m) {
  case NNC_PAD_ZERO: return "zero";
  case NNC_PAD_REFLECT: return "reflect";
  case NNC_PAD_REPLICATE: return "replicate";
  case NNC_PAD_CIRCULAR: return "circular";
  default: return "?";
  }
}

/* lohi[2d], lohi[2d+1]: the pads before and after dim d of x */
static void pad_geom_init(pad_geom *pg, const nnc_tensor *x, const int64_t *lohi, nnc_pad_mode mode,
                          const int64_t *stride, int64_t offset) {
  char a[96];
  pg->mode = mode;
  pg->xoffset = offset;
  pg->nd = x->ndim ? x->ndim : 1;
  if (x->ndim == 0) {
    pg->in[0] = pg->out[0] = 1;
    pg->lo[0] = 0;
    pg->xstride[0] = 0;
  }
  for (int d = 0; d < x->ndim; d++) {
    int64_t n = x->shape[d], lo = lohi[2 * d], hi = lohi[2 * d + 1];
    pg->in[d] = n;
    pg->lo[d] = lo;
    pg->out[d] = n + lo + hi;
    pg->xstride[d] = stride[d];
    NNC_CHECK(pg->out[d] >= 0, "pad", "pads (%lld, %lld) crop dim %d of %s below zero", (long long)lo, (long long)hi, d,
              nnc_shape_str(x, a, 96));
    if (mode != NNC_PAD_ZERO && (lo > 0 || hi > 0))
      NNC_CHECK(n > 0, "pad", "%s padding of the empty dim %d of %s", pad_mode_name(mode), d, nnc_shape_str(x, a, 96));
    if (mode == NNC_PAD_REFLECT)
      NNC_CHECK(lo < n && hi < n, "pad", "reflect pads (%lld, %lld) must be smaller than dim %d of %s", (long long)lo,
                (long long)hi, d, nnc_shape_str(x, a, 96));
  }
  for (int d = 0; d < pg->nd; d++) {
    pg->map[d] = nnc_arena_alloc(nnc_arena_current(), (size_t)(pg->out[d] > 0 ? pg->out[d] : 1) * sizeof(int64_t));
    for (int64_t o = 0; o < pg->out[d]; o++) pg->map[d][o] = pad_source(o, pg->lo[d], pg->in[d], mode);
  }
}

/* the input offset of output row r (all dims but the last), or -1 if the row is constant */
static inline int64_t pad_row_base(const pad_geom *pg, int64_t r) {
  int64_t base = pg->xoffset;
  for (int d = pg->nd - 2; d >= 0; d--) {
    int64_t o = r % pg->out[d];
    r /= pg->out[d];
    int64_t s = pg->map[d][o];
    if (s < 0) return -1;
    base += s * pg->xstride[d];
  }
  return base;
}

static void pad_ref(const nnc_tensor *x, const pad_geom *pg, double value, nnc_tensor *y) {
  int64_t xs[NNC_MAX_DIMS];
  nnc_contiguous_strides(pg->nd, pg->in, xs);
  for (int64_t i = 0, m = nnc_numel(y); i < m; i++) {
    int64_t rem = i, lin = 0;
    bool inside = true;
    for (int d = pg->nd - 1; d >= 0; d--) {
      int64_t s = pg->map[d][rem % pg->out[d]];
      rem /= pg->out[d];
      if (s < 0) inside = false;
      else lin += s * xs[d];
    }
    nnc_set(y, i, inside ? nnc_get(x, lin) : value);
  }
}

/* fwd: y (contiguous, out shape) from x's storage through pg->xstride/xoffset.
 * bwd: gx (contiguous zeros, pg->xstride are its strides) += g scattered back through the
 *      maps; serial unless the map is one-to-one (zero mode), since reflect, replicate and
 *      circular send several outputs to one input. */
#define PAD_KERNELS(T, sfx)                                                                       \
  static void pad_fwd_##sfx(const T *xb, const pad_geom *pg, T value, T *y) {                     \
    int nd = pg->nd;                                                                              \
    int64_t L = pg->out[nd - 1], lo = pg->lo[nd - 1], sl = pg->xstride[nd - 1];                   \
    int64_t rows = prod(pg->out, 0, nd - 1);                                                      \
    const int64_t *ml = pg->map[nd - 1];                                                          \
    int64_t j0 = lo > 0 ? lo : 0, j1 = pg->in[nd - 1] + lo < L ? pg->in[nd - 1] + lo : L;         \
    if (j1 < j0) j1 = j0;                                                                         \
    bool memcpy_rows = pg->mode == NNC_PAD_ZERO && sl == 1;                                       \
    _Pragma("omp parallel for if (rows * L >= NNC_PARALLEL_MIN) schedule(static)")                \
    for (int64_t r = 0; r < rows; r++) {                                                          \
      T *yr = y + r * L;                                                                          \
      int64_t base = pad_row_base(pg, r);                                                         \
      if (base < 0) {                                                                             \
        for (int64_t j = 0; j < L; j++) yr[j] = value;                                            \
      } else if (memcpy_rows) {                                                                   \
        for (int64_t j = 0; j < j0; j++) yr[j] = value;                                           \
        if (j1 > j0) memcpy(yr + j0, xb + base + (j0 - lo), (size_t)(j1 - j0) * sizeof(T));       \
        for (int64_t j = j1; j < L; j++) yr[j] = value;                                           \
      } else {                                                                                    \
        for (int64_t j = 0; j < L; j++) {                                                         \
          int64_t s = ml[j];                                                                      \
          yr[j] = s < 0 ? value : xb[base + s * sl];                                              \
        }                                                                                         \
      }                                                                                           \
    }                                                                                             \
  }                                                                                               \
  static void pad_bwd_##sfx(const pad_geom *pg, const T *g, T *gx) {                              \
    int nd = pg->nd;                                                                              \
    int64_t L = pg->out[nd - 1], sl = pg->xstride[nd - 1];                                        \
    int64_t rows = prod(pg->out, 0, nd - 1);                                                      \
    const int64_t *ml = pg->map[nd - 1];                                                          \
    _Pragma("omp parallel for if (pg->mode == NNC_PAD_ZERO && rows * L >= NNC_PARALLEL_MIN) schedule(static)") \
    for (int64_t r = 0; r < rows; r++) {                                                          \
      int64_t base = pad_row_base(pg, r);                                                         \
      if (base < 0) continue;                                                                     \
      const T *gr = g + r * L;                                                                    \
      for (int64_t j = 0; j < L; j++)                                                             \
        if (ml[j] >= 0) gx[base + ml[j] * sl] += gr[j];                                           \
    }                                                                                             \
  }
PAD_KERNELS(float, f32)
PAD_KERNELS(double, f64)

/* attributes: i[2d], i[2d+1] = pads before/after dim d; f[0] = mode */
static void pad_backward(nnc_node *n) {
  nnc_tensor *x = n->in[0], *g = n->out->grad;
  nnc_tensor *gx = nnc_zeros(x->dtype, x->ndim, x->shape);
  pad_geom pg;
  int64_t cs[NNC_MAX_DIMS];
  nnc_contiguous_strides(x->ndim, x->shape, cs);
  pad_geom_init(&pg, x, n->i, (nnc_pad_mode)n->f[0], cs, 0);
  if (x->dtype == NNC_F32) pad_bwd_f32(&pg, nnc_data(g), nnc_data(gx));
  else pad_bwd_f64(&pg, nnc_data(g), nnc_data(gx));
  nnc_accum_grad(x, gx);
}
NNC_OP_DEF(op_pad, "pad", pad_backward);

nnc_tensor *nnc_pad(nnc_tensor *x, int npad, const int64_t *pads, nnc_pad_mode mode, double value) {
  char a[96];
  nnc_check_float(x, "pad");
  NNC_CHECK(npad >= 0 && npad % 2 == 0 && npad / 2 <= x->ndim, "pad", "%d pads for %s: need an even number, at most 2 per dim",
            npad, nnc_shape_str(x, a, 96));
  NNC_CHECK((int)mode >= 0 && (int)mode <= (int)NNC_PAD_CIRCULAR, "pad", "unknown mode %d", (int)mode);
  int64_t lohi[2 * NNC_MAX_DIMS] = {0};
  for (int j = 0; j < npad / 2; j++) {
    int d = x->ndim - 1 - j;
    lohi[2 * d] = pads[2 * j];
    lohi[2 * d + 1] = pads[2 * j + 1];
  }
  pad_geom pg;
  pad_geom_init(&pg, x, lohi, mode, x->stride, x->offset);
  nnc_tensor *y = nnc_empty(x->dtype, x->ndim, pg.out);
  if (nnc_numel(y) > 0) {
    if (nnc_reference_kernels()) pad_ref(x, &pg, value, y);
    else if (x->dtype == NNC_F32) pad_fwd_f32(x->storage->data, &pg, (float)value, nnc_data(y));
    else pad_fwd_f64(x->storage->data, &pg, value, nnc_data(y));
  }
  nnc_node *n = nnc_record(&op_pad, y, 1, &x);
  if (n) {
    for (int k = 0; k < 2 * x->ndim; k++) n->i[k] = lohi[k];
    n->f[0] = (double)mode;
  }
  return y;
}

/* ======================= gather / scatter_add ======================= */
/* out[m] = x[m with m[axis] = idx[m]] for m over ishape (out, idx contiguous; x any strides) */
#define GATHER_KERNEL(T, sfx, DT)                                                                 \
  static void gather_##sfx(const nnc_tensor *x, int axis, const int64_t *idx, int nd, const int64_t *ishape, T *out) { \
    const T *xb = x->storage->data;                                                               \
    int64_t n = prod(ishape, 0, nd);                                                              \
    bool simple = nnc_is_contiguous(x);                                                           \
    for (int d = 0; d < nd; d++)                                                                  \
      if (d != axis && ishape[d] != x->shape[d]) simple = false;                                  \
    if (simple) {                                                                                 \
      int64_t mid = ishape[axis], inner = prod(ishape, axis + 1, nd), X = x->shape[axis];         \
      int64_t rows = prod(ishape, 0, axis) * mid;                                                 \
      const T *xp = xb + x->offset;                                                               \
      _Pragma("omp parallel for if (n >= NNC_PARALLEL_MIN) schedule(static)")                     \
      for (int64_t om = 0; om < rows; om++) {                                                     \
        const T *xr = xp + om / mid * X * inner;                                                  \
        const int64_t *ir = idx + om * inner;                                                     \
        T *orow = out + om * inner;                                                               \
        for (int64_t r = 0; r < inner; r++) orow[r] = xr[ir[r] * inner + r];                      \
      }                                                                                           \
      return;                                                                                     \
    }                                                                                             \
    int64_t m[NNC_MAX_DIMS] = {0};                                                                \
    for (int64_t i = 0; i < n; i++) {                                                             \
      int64_t off = x->offset;                                                                    \
      for (int d = 0; d < nd; d++) off += (d == axis ? idx[i] : m[d]) * x->stride[d];             \
      out[i] = xb[off];                                                                           \
      for (int d = nd - 1; d >= 0; d--) {                                                         \
        if (++m[d] < ishape[d]) break;                                                            \
        m[d] = 0;                                                                                 \
      }                                                                                           \
    }                                                                                             \
  }
FOR_EACH_DTYPE(GATHER_KERNEL)

static void gather_fast(const nnc_tensor *x, int axis, const nnc_tensor *ic, nnc_tensor *y) {
  if (nnc_numel(y) == 0) return;
  const int64_t *idx = nnc_data(ic);
  switch (x->dtype) {
#define GATHER_CASE(T, sfx, DT) case DT: gather_##sfx(x, axis, idx, ic->ndim, ic->shape, nnc_data(y)); break;
    FOR_EACH_DTYPE(GATHER_CASE)
#undef GATHER_CASE
  default: NNC_FAIL("gather", "bad dtype");
  }
}

/* dst[m with m[axis] = idx[m]] += src[m] for m over ishape; dst contiguous of shape dshape,
 * src any strides and at least ishape.  Serial: repeated indices add into one place. */
#define SCATTER_KERNEL(T, sfx)                                                                    \
  static void scatter_add_##sfx(T *dst, const int64_t *dshape, int axis, const int64_t *idx, int nd, \
                                const int64_t *ishape, const nnc_tensor *src) {                   \
    const T *sb = src->storage->data;                                                             \
    int64_t ds[NNC_MAX_DIMS], n = prod(ishape, 0, nd);                                            \
    nnc_contiguous_strides(nd, dshape, ds);                                                       \
    bool simple = nnc_is_contiguous(src);                                                         \
    for (int d = 0; d < nd; d++)                                                                  \
      if (src->shape[d] != ishape[d] || (d != axis && ishape[d] != dshape[d])) simple = false;    \
    if (simple) {                                                                                 \
      int64_t mid = ishape[axis], inner = prod(ishape, axis + 1, nd), X = dshape[axis];           \
      int64_t rows = prod(ishape, 0, axis) * mid;                                                 \
      const T *sp = sb + src->offset;                                                             \
      for (int64_t om = 0; om < rows; om++) {                                                     \
        T *dr = dst + om / mid * X * inner;                                                       \
        const int64_t *ir = idx + om * inner;                                                     \
        const T *sr = sp + om * inner;                                                            \
        for (int64_t r = 0; r < inner; r++) dr[ir[r] * inner + r] += sr[r];                       \
      }                                                                                           \
      return;                                                                                     \
    }                                                                                             \
    int64_t m[NNC_MAX_DIMS] = {0};                                                                \
    for (int64_t i = 0; i < n; i++) {                                                             \
      int64_t doff = 0, soff = src->offset;                                                       \
      for (int d = 0; d < nd; d++) {                                                              \
        doff += (d == axis ? idx[i] : m[d]) * ds[d];                                              \
        soff += m[d] * src->stride[d];                                                            \
      }                                                                                           \
      dst[doff] += sb[soff];                                                                      \
      for (int d = nd - 1; d >= 0; d--) {                                                         \
        if (++m[d] < ishape[d]) break;                                                            \
        m[d] = 0;                                                                                 \
      }                                                                                           \
    }                                                                                             \
  }
SCATTER_KERNEL(float, f32)
SCATTER_KERNEL(double, f64)

static void scatter_add_fast(nnc_tensor *dst, int axis, const nnc_tensor *ic, const nnc_tensor *src) {
  if (nnc_numel(ic) == 0) return;
  if (dst->dtype == NNC_F32) scatter_add_f32(nnc_data(dst), dst->shape, axis, nnc_data(ic), ic->ndim, ic->shape, src);
  else scatter_add_f64(nnc_data(dst), dst->shape, axis, nnc_data(ic), ic->ndim, ic->shape, src);
}

/* the logical row-major index in a tensor of shape `shape` of multi-index m, with m[axis]
 * replaced by `at` (at < 0: keep m[axis]) */
static int64_t linear_at(int nd, const int64_t *shape, const int64_t *m, int axis, int64_t at) {
  int64_t lin = 0;
  for (int d = 0; d < nd; d++) lin = lin * shape[d] + (d == axis && at >= 0 ? at : m[d]);
  return lin;
}

static void unravel(int nd, const int64_t *shape, int64_t i, int64_t *m) {
  for (int d = nd - 1; d >= 0; d--) {
    m[d] = i % shape[d];
    i /= shape[d];
  }
}

static void gather_ref(const nnc_tensor *x, int axis, const nnc_tensor *index, nnc_tensor *y) {
  int64_t m[NNC_MAX_DIMS];
  for (int64_t i = 0, n = nnc_numel(y); i < n; i++) {
    unravel(y->ndim, y->shape, i, m);
    nnc_set(y, i, nnc_get(x, linear_at(x->ndim, x->shape, m, axis, (int64_t)nnc_get(index, i))));
  }
}

/* gather needs, for each m, index[m] only in [0, x.shape[axis]); index.shape[d] <= x.shape[d] elsewhere */
static void check_index_shape(const char *op, const nnc_tensor *x, const nnc_tensor *index, int axis) {
  char a[96], b[96];
  bool fits = index->ndim == x->ndim;
  for (int d = 0; fits && d < x->ndim; d++)
    if (d != axis && index->shape[d] > x->shape[d]) fits = false;
  NNC_CHECK(fits, op, "index of shape %s does not fit %s along axis %d (same ndim, no larger in other dims)",
            nnc_shape_str(index, a, 96), nnc_shape_str(x, b, 96), axis);
}

/* saved: 0 = the checked index; i[0] = axis */
static void gather_backward(nnc_node *n) {
  nnc_tensor *x = n->in[0], *ic = nnc_saved(n, 0), *g = n->out->grad;
  nnc_tensor *gx = nnc_zeros(x->dtype, x->ndim, x->shape);
  scatter_add_fast(gx, (int)n->i[0], ic, g);
  nnc_accum_grad(x, gx);
}
NNC_OP_DEF(op_gather, "gather", gather_backward);

nnc_tensor *nnc_gather(nnc_tensor *x, int axis_in, nnc_tensor *index) {
  int axis = nnc_axis(x, axis_in, "gather");
  check_index_shape("gather", x, index, axis);
  nnc_tensor *ic = checked_index(index, "gather", axis, x->shape[axis]);
  nnc_tensor *y = nnc_empty(x->dtype, index->ndim, index->shape);
  if (nnc_reference_kernels()) gather_ref(x, axis, ic, y);
  else gather_fast(x, axis, ic, y);
  nnc_node *n = nnc_record(&op_gather, y, 1, &x);
  if (n) {
    nnc_save(n, ic);
    n->i[0] = axis;
  }
  return y;
}

/* saved: 0 = the checked index; i[0] = axis.  grad x = g; grad src = g gathered at index
 * (zero where src is larger than index) */
static void scatter_add_backward(nnc_node *n) {
  nnc_tensor *src = n->in[1], *g = n->out->grad;
  nnc_accum_grad(n->in[0], g);
  if (!src->requires_grad) return;
  nnc_tensor *ic = nnc_saved(n, 0);
  nnc_tensor *gs = nnc_empty(g->dtype, ic->ndim, ic->shape);
  gather_fast(g, (int)n->i[0], ic, gs);
  if (!nnc_same_shape(gs, src)) {
    nnc_tensor *full = nnc_zeros(g->dtype, src->ndim, src->shape);
    nnc_tensor *part = nnc_view_raw(full);
    for (int d = 0; d < part->ndim; d++) part->shape[d] = ic->shape[d];
    copy_same(part, gs);
    gs = full;
  }
  nnc_accum_grad(src, gs);
}
NNC_OP_DEF(op_scatter_add, "scatter_add", scatter_add_backward);

nnc_tensor *nnc_scatter_add(nnc_tensor *x, int axis_in, nnc_tensor *index, nnc_tensor *src) {
  char a[96], b[96];
  nnc_check_float_pair(x, src, "scatter_add");
  int axis = nnc_axis(x, axis_in, "scatter_add");
  check_index_shape("scatter_add", x, index, axis);
  bool fits = src->ndim == index->ndim;
  for (int d = 0; fits && d < src->ndim; d++)
    if (index->shape[d] > src->shape[d]) fits = false;
  NNC_CHECK(fits, "scatter_add", "index of shape %s is larger than src %s", nnc_shape_str(index, a, 96),
            nnc_shape_str(src, b, 96));
  nnc_tensor *ic = checked_index(index, "scatter_add", axis, x->shape[axis]);
  nnc_tensor *y = nnc_empty(x->dtype, x->ndim, x->shape);
  if (nnc_reference_kernels()) {
    for (int64_t i = 0, n = nnc_numel(x); i < n; i++) nnc_set(y, i, nnc_get(x, i));
    int64_t m[NNC_MAX_DIMS];
    for (int64_t i = 0, n = nnc_numel(ic); i < n; i++) {
      unravel(ic->ndim, ic->shape, i, m);
      int64_t at = linear_at(y->ndim, y->shape, m, axis, (int64_t)nnc_get(ic, i));
      nnc_set(y, at, nnc_get(y, at) + nnc_get(src, linear_at(src->ndim, src->shape, m, -1, -1)));
    }
  } else {
    copy_same(y, x);
    scatter_add_fast(y, axis, ic, src);
  }
  nnc_tensor *in[2] = {x, src};
  nnc_node *n = nnc_record(&op_scatter_add, y, 2, in);
  if (n) {
    nnc_save(n, ic);
    n->i[0] = axis;
  }
  return y;
}

/* ======================= index_select ======================= */
/* gx[o, idx[l], r] += g[o, l, r]; different o touch different rows, so o runs in parallel */
#define INDEX_ADD_KERNEL(T, sfx)                                                                  \
  static void index_add_##sfx(T *gx, int64_t outer, int64_t X, int64_t inner, const int64_t *idx, int64_t L, \
                              const T *g) {                                                       \
    _Pragma("omp parallel for if (outer > 1 && outer * L * inner >= NNC_PARALLEL_MIN) schedule(static)") \
    for (int64_t o = 0; o < outer; o++)                                                           \
      for (int64_t l = 0; l < L; l++) {                                                           \
        T *dr = gx + (o * X + idx[l]) * inner;                                                    \
        const T *sr = g + (o * L + l) * inner;                                                    \
        for (int64_t r = 0; r < inner; r++) dr[r] += sr[r];                                       \
      }                                                                                           \
  }
INDEX_ADD_KERNEL(float, f32)
INDEX_ADD_KERNEL(double, f64)

/* saved: 0 = the checked index; i[0] = axis */
static void index_select_backward(nnc_node *n) {
  nnc_tensor *x = n->in[0], *ic = nnc_saved(n, 0), *g = n->out->grad;
  int axis = (int)n->i[0];
  nnc_tensor *gx = nnc_zeros(x->dtype, x->ndim, x->shape);
  int64_t outer = prod(x->shape, 0, axis), inner = prod(x->shape, axis + 1, x->ndim), L = nnc_numel(ic);
  if (x->dtype == NNC_F32) index_add_f32(nnc_data(gx), outer, x->shape[axis], inner, nnc_data(ic), L, nnc_data(g));
  else index_add_f64(nnc_data(gx), outer, x->shape[axis], inner, nnc_data(ic), L, nnc_data(g));
  nnc_accum_grad(x, gx);
}
NNC_OP_DEF(op_index_select, "index_select", index_select_backward);

nnc_tensor *nnc_index_select(nnc_tensor *x, int axis_in, nnc_tensor *index) {
  char a[96];
  int axis = nnc_axis(x, axis_in, "index_select");
  NNC_CHECK(index->ndim <= 1, "index_select", "index must be 1-d, got shape %s", nnc_shape_str(index, a, 96));
  nnc_tensor *ic = checked_index(index, "index_select", axis, x->shape[axis]);
  int64_t L = nnc_numel(ic), shape[NNC_MAX_DIMS];
  memcpy(shape, x->shape, sizeof shape);
  shape[axis] = L;
  nnc_tensor *y = nnc_empty(x->dtype, x->ndim, shape);
  const int64_t *idx = nnc_data(ic);
  int64_t outer = prod(x->shape, 0, axis), inner = prod(x->shape, axis + 1, x->ndim), X = x->shape[axis];
  if (nnc_reference_kernels()) {
    for (int64_t i = 0, n = nnc_numel(y); i < n; i++) {
      int64_t r = i % inner, l = i / inner % L, o = i / inner / L;
      nnc_set(y, i, nnc_get(x, (o * X + idx[l]) * inner + r));
    }
  } else if (nnc_numel(y) > 0) {
    /* one memcpy of `inner` elements per (o, l): a whole row for axis 0 */
    nnc_tensor *xc = contig(x);
    size_t es = nnc_dtype_size(x->dtype), row = (size_t)inner * es;
    const char *xp = nnc_data(xc);
    char *yp = nnc_data(y);
    int64_t n = outer * L;
    #pragma omp parallel for if (n * inner >= NNC_PARALLEL_MIN) schedule(static)
    for (int64_t ol = 0; ol < n; ol++) {
      int64_t o = ol / L, l = ol % L;
      memcpy(yp + (size_t)ol * row, xp + (size_t)(o * X + idx[l]) * row, row);
    }
  }
  nnc_node *n = nnc_record(&op_index_select, y, 1, &x);
  if (n) {
    nnc_save(n, ic);
    n->i[0] = axis;
  }
  return y;
}

/* ======================= one_hot ======================= */
NNC_OP_DEF(op_one_hot, "one_hot", NULL); /* no gradient: never recorded */

nnc_tensor *nnc_one_hot(nnc_tensor *index, int64_t num_classes, nnc_dtype dt) {
  NNC_CHECK(num_classes > 0, "one_hot", "num_classes must be positive, got %lld", (long long)num_classes);
  NNC_CHECK(index->ndim < NNC_MAX_DIMS, "one_hot", "index has %d dims; the output would have too many", index->ndim);
  NNC_CHECK((int)dt >= 0 && (int)dt < (int)NNC_NDTYPES, "one_hot", "bad dtype %d", (int)dt);
  nnc_tensor *ic = checked_index(index, "one_hot", index->ndim, num_classes);
  int64_t shape[NNC_MAX_DIMS];
  memcpy(shape, index->shape, sizeof(int64_t) * (size_t)index->ndim);
  shape[index->ndim] = num_classes;
  nnc_tensor *y = nnc_empty(dt, index->ndim + 1, shape);
  const int64_t *idx = nnc_data(ic);
  int64_t n = nnc_numel(ic);
  if (nnc_reference_kernels()) {
    for (int64_t i = 0; i < n * num_classes; i++) nnc_set(y, i, idx[i / num_classes] == i % num_classes ? 1.0 : 0.0);
    return y;
  }
  if (n == 0) return y;
  memset(nnc_data(y), 0, (size_t)(n * num_classes) * nnc_dtype_size(dt));
  switch (dt) {
#define ONE_HOT_CASE(T, sfx, DT)                                                    \
  case DT: {                                                                        \
    T *p = nnc_data(y);                                                             \
    for (int64_t i = 0; i < n; i++) p[i * num_classes + idx[i]] = (T)1;             \
    break;                                                                          \
  }
    FOR_EACH_DTYPE(ONE_HOT_CASE)
#undef ONE_HOT_CASE
  default: NNC_FAIL("one_hot", "bad dtype");
  }
  return y;
}

/* ======================= cast ======================= */
/* only recorded float -> float; the gradient is cast back to the input's dtype */
static void cast_backward(nnc_node *n) {
  nnc_tensor *x = n->in[0], *g = n->out->grad;
  nnc_tensor *gx = nnc_empty(x->dtype, g->ndim, g->shape);
  nnc_copy_into(gx, g);
  nnc_accum_grad(x, gx);
}
NNC_OP_DEF(op_cast, "cast", cast_backward);

nnc_tensor *nnc_cast(nnc_tensor *x, nnc_dtype dt) {
  NNC_CHECK((int)dt >= 0 && (int)dt < (int)NNC_NDTYPES, "cast", "bad dtype %d", (int)dt);
  nnc_tensor *y = nnc_empty(dt, x->ndim, x->shape);
  int64_t n = nnc_numel(x);
  if (nnc_reference_kernels()) {
    for (int64_t i = 0; i < n; i++) nnc_set(y, i, nnc_get(x, i));
  } else if (x->dtype == dt) {
    copy_same(y, x);
  } else if (nnc_is_contiguous(x) && x->dtype == NNC_F32 && dt == NNC_F64) {
    const float *s = nnc_data(x);
    double *d = nnc_data(y);
    #pragma omp parallel for if (n >= NNC_PARALLEL_MIN) schedule(static)
    for (int64_t i = 0; i < n; i++) d[i] = s[i];
  } else if (nnc_is_contiguous(x) && x->dtype == NNC_F64 && dt == NNC_F32) {
    const double *s = nnc_data(x);
    float *d = nnc_data(y);
    #pragma omp parallel for if (n >= NNC_PARALLEL_MIN) schedule(static)
    for (int64_t i = 0; i < n; i++) d[i] = (float)s[i];
  } else {
    nnc_copy_into(y, x);
  }
  if (nnc_dtype_is_float(x->dtype) && nnc_dtype_is_float(dt)) nnc_record(&op_cast, y, 1, &x);
  return y;
}
