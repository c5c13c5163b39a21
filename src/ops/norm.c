/* ops/norm.c: batch normalisation and group normalisation as fused ops, and layer
 * normalisation over channels composed from permutes and the fused layer_norm (see ops.h).
 *
 * x is seen as [N, C, S] (S = the product of the dims after axis 1).  Statistics are
 * computed in double, two passes (mean, then squared deviations), and kept per channel
 * (batch norm) or per (sample, group) (group norm) as f64 tensors saved for backward with a
 * contiguous x.  The fast kernels are typed for f32 and f64 and run OpenMP over channels
 * (batch norm) or (sample, group) pairs; the reference kernels read x element by element
 * through nnc_get and compute the same statistics and outputs in double.
 *
 * Layer norm over channels is composed: the fused layer_norm op (ops/layernorm.c) on x with the
 * channels moved last.
 *
 * Backward, with xhat = (x - mean) * invstd and M elements per statistic:
 *   dbias = sum g,  dweight = sum g * xhat  (per channel),
 *   dx = w * invstd * (g - mean(g) - xhat * mean(g * xhat))   (training batch norm; for group
 *        norm the means run over the group with dxhat = g * w in place of g * w),
 *   dx = w * invstd * g  (batch norm in eval: the statistics are constants). */
#include <math.h>
#include <string.h>
#include "autograd/autograd.h"
#include "core/error.h"
#include "core/threads.h"
#include "ops/ops.h"

/* x [N, C, ...] -> N, C, S */
static void ncs(const nnc_tensor *x, const char *op, int64_t *N, int64_t *C, int64_t *S) {
  char s[96];
  nnc_check_float(x, op);
  NNC_CHECK(x->ndim >= 2, op, "input %s: expected [N, C, ...]", nnc_shape_str(x, s, 96));
  *N = x->shape[0];
  *C = x->shape[1];
  *S = 1;
  for (int d = 2; d < x->ndim; d++) *S *= x->shape[d];
}

/* checks an optional per-channel tensor [C] against x */
static void check_channel_vec(const nnc_tensor *x, const nnc_tensor *t, int64_t C, const char *what, const char *op) {
  if (!t) return;
  char s[96];
  nnc_check_float_pair(x, t, op);
  NNC_CHECK(t->ndim == 1 && t->shape[0] == C, op, "%s %s for %lld channels", what, nnc_shape_str(t, s, 96),
            (long long)C);
}

/* t[c] as doubles (1 where t is NULL) */
static double *channel_values(const nnc_tensor *t, int64_t C, double dflt) {
  double *v = nnc_f64(nnc_empty(NNC_F64, 1, &C));
  for (int64_t c = 0; c < C; c++) v[c] = t ? nnc_get(t, c) : dflt;
  return v;
}

static const nnc_tensor *dense(const nnc_tensor *x) {
  if (nnc_is_contiguous(x)) return x;
  nnc_tensor *c = nnc_empty_like(x);
  nnc_copy_into(c, x);
  return c;
}

/* where dx goes: x's gradient itself when it is absent (made here, uninitialised: the kernel
 * assigns, *assign = true) or contiguous (the kernel adds); else a buffer the kernel assigns,
 * added to x's gradient by grad_done */
static nnc_tensor *grad_target(nnc_tensor *x, bool *direct, bool *assign) {
  if (!x->grad) {
    x->grad = nnc_empty_like(x);
    *direct = *assign = true;
    return x->grad;
  }
  *direct = nnc_is_contiguous(x->grad);
  *assign = !*direct;
  return *direct ? x->grad : nnc_empty_like(x);
}
static void grad_done(nnc_tensor *x, nnc_tensor *gx, bool direct) {
  if (direct) nnc_bump_version(gx);
  else nnc_accum_grad(x, gx);
}

/* a [C] gradient of x's dtype from doubles, added into t's gradient */
static void accum_channel_grad(nnc_tensor *t, const double *v, int64_t C) {
  if (!t || !t->requires_grad) return;
  nnc_tensor *g = nnc_empty(t->dtype, 1, &C);
  for (int64_t c = 0; c < C; c++) nnc_set(g, c, v[c]);
  nnc_accum_grad(t, g);
}

/* ======================= batch norm ======================= */
#define BN_KERNELS(CT, sfx)                                                                            \
  /* per channel: mean and biased variance over N x S */                                               \
  static void bn_stats_##sfx(const CT *x, int64_t N, int64_t C, int64_t S, double *mean, double *var) { \
    double M = (double)(N * S);                                                                        \
    _Pragma("omp parallel for if (N * C * S >= NNC_PARALLEL_MIN) schedule(dynamic, 1)")                \
    for (int64_t c = 0; c < C; c++) {                                                                  \
      double s = 0, v = 0;                                                                             \
      for (int64_t n = 0; n < N; n++) {                                                                \
        const CT *p = x + (n * C + c) * S;                                                             \
        _Pragma("omp simd reduction(+ : s)") for (int64_t i = 0; i < S; i++) s += (double)p[i];        \
      }                                                                                                \
      double m = s / M;                                                                                \
      for (int64_t n = 0; n < N; n++) {                                                                \
        const CT *p = x + (n * C + c) * S;                                                             \
        _Pragma("omp simd reduction(+ : v)") for (int64_t i = 0; i < S; i++) {                         \
          double d = (double)p[i] - m;                                                                 \
          v += d * d;                                                                                  \
        }                                                                                              \
      }                                                                                                \
      mean[c] = m;                                                                                     \
      var[c] = v / M;                                                                                  \
    }                                                                                                  \
  }                                                                                                    \
  /* y = (x - mean[c]) * scale[c] + shift[c] */                                                        \
  static void bn_apply_##sfx(const CT *x, CT *y, int64_t N, int64_t C, int64_t S, const double *mean,  \
                             const double *scale, const double *shift) {                               \
    _Pragma("omp parallel for if (N * C * S >= NNC_PARALLEL_MIN) schedule(static)")                    \
    for (int64_t r = 0; r < N * C; r++) {                                                              \
      int64_t c = r % C;                                                                               \
      CT m = (CT)mean[c], a = (CT)scale[c], b = (CT)shift[c];                                          \
      const CT *p = x + r * S;                                                                         \
      CT *q = y + r * S;                                                                               \
      _Pragma("omp simd") for (int64_t i = 0; i < S; i++) q[i] = (p[i] - m) * a + b;                   \
    }                                                                                                  \
  }                                                                                                    \
  /* sg[c] = sum g, sgx[c] = sum g * (x - mean); then, if gx, gx += k*g + c1 + c2*(x - mean) */        \
  static void bn_bwd_##sfx(const CT *x, const CT *g, CT *gx, bool assign, int64_t N, int64_t C,        \
                           int64_t S, const double *mean, const double *invstd, const double *w,       \
                           bool training, double *sg, double *sgx) {                                   \
    double M = (double)(N * S);                                                                        \
    _Pragma("omp parallel for if (N * C * S >= NNC_PARALLEL_MIN) schedule(dynamic, 1)")                \
    for (int64_t c = 0; c < C; c++) {                                                                  \
      double s1 = 0, s2 = 0, m = mean[c];                                                              \
      for (int64_t n = 0; n < N; n++) {                                                                \
        const CT *p = x + (n * C + c) * S, *q = g + (n * C + c) * S;                                   \
        _Pragma("omp simd reduction(+ : s1, s2)") for (int64_t i = 0; i < S; i++) {                    \
          s1 += (double)q[i];                                                                          \
          s2 += (double)q[i] * ((double)p[i] - m);                                                     \
        }                                                                                              \
      }                                                                                                \
      sg[c] = s1;                                                                                      \
      sgx[c] = s2;                                                                                     \
      if (!gx) continue;                                                                               \
      double k = w[c] * invstd[c];                                                                     \
      CT kk = (CT)k, c1 = training ? (CT)(-k * s1 / M) : (CT)0;                                        \
      CT c2 = training ? (CT)(-k * invstd[c] * invstd[c] * s2 / M) : (CT)0, mm = (CT)m;                \
      for (int64_t n = 0; n < N; n++) {                                                                \
        const CT *p = x + (n * C + c) * S, *q = g + (n * C + c) * S;                                   \
        CT *r = gx + (n * C + c) * S;                                                                  \
        if (assign)                                                                                    \
          _Pragma("omp simd") for (int64_t i = 0; i < S; i++) r[i] = kk * q[i] + c1 + c2 * (p[i] - mm); \
        else                                                                                           \
          _Pragma("omp simd") for (int64_t i = 0; i < S; i++) r[i] += kk * q[i] + c1 + c2 * (p[i] - mm); \
      }                                                                                                \
    }                                                                                                  \
  }
BN_KERNELS(float, f32)
BN_KERNELS(double, f64)

/* reference: statistics and output in double, element by element */
static void bn_stats_ref(const nnc_tensor *x, int64_t N, int64_t C, int64_t S, double *mean, double *var) {
  for (int64_t c = 0; c < C; c++) {
    double s = 0, v = 0;
    for (int64_t n = 0; n < N; n++)
      for (int64_t i = 0; i < S; i++) s += nnc_get(x, (n * C + c) * S + i);
    mean[c] = s / (double)(N * S);
    for (int64_t n = 0; n < N; n++)
      for (int64_t i = 0; i < S; i++) {
        double d = nnc_get(x, (n * C + c) * S + i) - mean[c];
        v += d * d;
      }
    var[c] = v / (double)(N * S);
  }
}

static void bn_apply_ref(const nnc_tensor *x, nnc_tensor *y, int64_t N, int64_t C, int64_t S, const double *mean,
                         const double *invstd, const double *w, const double *b) {
  for (int64_t n = 0; n < N; n++)
    for (int64_t c = 0; c < C; c++)
      for (int64_t i = 0; i < S; i++) {
        int64_t e = (n * C + c) * S + i;
        nnc_set(y, e, (nnc_get(x, e) - mean[c]) * invstd[c] * w[c] + b[c]);
      }
}

static void batch_norm_backward(nnc_node *n) {
  nnc_tensor *x = nnc_saved(n, 0), *meant = nnc_saved(n, 1), *invt = nnc_saved(n, 2), *g = n->out->grad;
  nnc_tensor *xin = n->in[0], *w = n->in[1], *b = n->in[2];
  int64_t N, C, S;
  ncs(x, "batch_norm", &N, &C, &S);
  bool training = n->i[0] != 0;
  double *wv = channel_values(w, C, 1.0);
  double *sg = nnc_f64(nnc_empty(NNC_F64, 1, &C)), *sgx = nnc_f64(nnc_empty(NNC_F64, 1, &C));
  bool direct = false, assign = false;
  nnc_tensor *gx = xin->requires_grad ? grad_target(xin, &direct, &assign) : NULL;
  const double *mean = nnc_f64(meant), *invstd = nnc_f64(invt);
  void *gxp = gx ? nnc_data(gx) : NULL;
  if (x->dtype == NNC_F32)
    bn_bwd_f32(nnc_data(x), nnc_data(g), gxp, assign, N, C, S, mean, invstd, wv, training, sg, sgx);
  else
    bn_bwd_f64(nnc_data(x), nnc_data(g), gxp, assign, N, C, S, mean, invstd, wv, training, sg, sgx);
  if (gx) grad_done(xin, gx, direct);
  for (int64_t c = 0; c < C; c++) sgx[c] *= invstd[c]; /* sum g * xhat */
  accum_channel_grad(w, sgx, C);
  accum_channel_grad(b, sg, C);
}
NNC_OP_DEF(op_batch_norm, "batch_norm", batch_norm_backward);

nnc_tensor *nnc_batch_norm(nnc_tensor *x, nnc_tensor *weight, nnc_tensor *bias, nnc_tensor *running_mean,
                           nnc_tensor *running_var, bool training, double momentum, double eps) {
  const char *op = "batch_norm";
  int64_t N, C, S;
  char s[96];
  ncs(x, op, &N, &C, &S);
  check_channel_vec(x, weight, C, "weight", op);
  check_channel_vec(x, bias, C, "bias", op);
  NNC_CHECK((running_mean == NULL) == (running_var == NULL), op, "give both running statistics or neither");
  NNC_CHECK(eps >= 0 && momentum >= 0 && momentum <= 1, op, "eps %g momentum %g", eps, momentum);
  for (int k = 0; k < 2; k++) {
    const nnc_tensor *r = k ? running_var : running_mean;
    if (!r) continue;
    NNC_CHECK(nnc_dtype_is_float(r->dtype) && r->ndim == 1 && r->shape[0] == C, op, "%s %s for %lld channels",
              k ? "running_var" : "running_mean", nnc_shape_str(r, s, 96), (long long)C);
  }
  NNC_CHECK(training || running_mean, op, "eval mode needs running_mean and running_var");
  int64_t M = N * S;
  NNC_CHECK(!training || M > 1, op, "input %s: training needs more than one value per channel",
            nnc_shape_str(x, s, 96));

  nnc_tensor *meant = nnc_empty(NNC_F64, 1, &C), *invt = nnc_empty(NNC_F64, 1, &C);
  double *mean = nnc_f64(meant), *invstd = nnc_f64(invt);
  double *var = nnc_f64(nnc_empty(NNC_F64, 1, &C));
  bool ref = nnc_reference_kernels();
  const nnc_tensor *xc = ref ? x : dense(x);
  if (training) {
    if (ref) bn_stats_ref(x, N, C, S, mean, var);
    else if (x->dtype == NNC_F32) bn_stats_f32(nnc_data(xc), N, C, S, mean, var);
    else bn_stats_f64(nnc_data(xc), N, C, S, mean, var);
  } else {
    for (int64_t c = 0; c < C; c++) mean[c] = nnc_get(running_mean, c), var[c] = nnc_get(running_var, c);
  }
  for (int64_t c = 0; c < C; c++) invstd[c] = 1.0 / sqrt(var[c] + eps);

  double *w = channel_values(weight, C, 1.0), *b = channel_values(bias, C, 0.0);
  nnc_tensor *y = nnc_empty_like(x);
  if (ref) {
    bn_apply_ref(x, y, N, C, S, mean, invstd, w, b);
  } else {
    double *scale = nnc_f64(nnc_empty(NNC_F64, 1, &C));
    for (int64_t c = 0; c < C; c++) scale[c] = invstd[c] * w[c];
    if (x->dtype == NNC_F32) bn_apply_f32(nnc_data(xc), nnc_data(y), N, C, S, mean, scale, b);
    else bn_apply_f64(nnc_data(xc), nnc_data(y), N, C, S, mean, scale, b);
  }

  if (training && running_mean) { /* outside the tape, as PyTorch */
    double unbias = (double)M / (double)(M - 1);
    for (int64_t c = 0; c < C; c++) {
      nnc_set(running_mean, c, (1 - momentum) * nnc_get(running_mean, c) + momentum * mean[c]);
      nnc_set(running_var, c, (1 - momentum) * nnc_get(running_var, c) + momentum * var[c] * unbias);
    }
    nnc_bump_version(running_mean);
    nnc_bump_version(running_var);
  }

  nnc_tensor *in[3] = {x, weight, bias};
  nnc_node *n = nnc_record(&op_batch_norm, y, 3, in);
  if (n) {
    nnc_save(n, (nnc_tensor *)(ref ? dense(x) : xc));
    nnc_save(n, meant);
    nnc_save(n, invt);
    n->i[0] = training;
    n->f[0] = eps;
  }
  return y;
}

/* ======================= group norm ======================= */
/* statistics per (n, g) over L = (C/G) * S contiguous elements */
#define GN_KERNELS(CT, sfx)                                                                            \
  static void gn_fwd_##sfx(const CT *x, CT *y, int64_t N, int64_t C, int64_t S, int64_t G, double eps, \
                           const double *w, const double *b, double *mean, double *invstd) {           \
    int64_t Cg = C / G, L = Cg * S;                                                                    \
    _Pragma("omp parallel for if (N * C * S >= NNC_PARALLEL_MIN) schedule(dynamic, 1)")                \
    for (int64_t ng = 0; ng < N * G; ng++) {                                                           \
      const CT *p = x + ng * L;                                                                        \
      CT *q = y + ng * L;                                                                              \
      double s = 0, v = 0;                                                                             \
      _Pragma("omp simd reduction(+ : s)") for (int64_t i = 0; i < L; i++) s += (double)p[i];          \
      double m = s / (double)L;                                                                        \
      _Pragma("omp simd reduction(+ : v)") for (int64_t i = 0; i < L; i++) {                           \
        double d = (double)p[i] - m;                                                                   \
        v += d * d;                                                                                    \
      }                                                                                                \
      double is = 1.0 / sqrt(v / (double)L + eps);                                                     \
      mean[ng] = m;                                                                                    \
      invstd[ng] = is;                                                                                 \
      int64_t c0 = (ng % G) * Cg;                                                                      \
      for (int64_t j = 0; j < Cg; j++) {                                                               \
        CT mm = (CT)m, a = (CT)(is * w[c0 + j]), bb = (CT)b[c0 + j];                                   \
        const CT *pj = p + j * S;                                                                      \
        CT *qj = q + j * S;                                                                            \
        _Pragma("omp simd") for (int64_t i = 0; i < S; i++) qj[i] = (pj[i] - mm) * a + bb;             \
      }                                                                                                \
    }                                                                                                  \
  }                                                                                                    \
  /* pg[n*C+c] = sum_s g, pgx[n*C+c] = sum_s g*xhat; gx += dx if gx */                                 \
  static void gn_bwd_##sfx(const CT *x, const CT *g, CT *gx, bool assign, int64_t N, int64_t C,        \
                           int64_t S, int64_t G,                                                       \
                           const double *w, const double *mean, const double *invstd, double *pg,      \
                           double *pgx) {                                                              \
    int64_t Cg = C / G, L = Cg * S;                                                                    \
    _Pragma("omp parallel for if (N * C * S >= NNC_PARALLEL_MIN) schedule(dynamic, 1)")                \
    for (int64_t ng = 0; ng < N * G; ng++) {                                                           \
      const CT *p = x + ng * L, *q = g + ng * L;                                                       \
      int64_t n = ng / G, c0 = (ng % G) * Cg;                                                          \
      double m = mean[ng], is = invstd[ng], s1 = 0, s2 = 0;                                            \
      for (int64_t j = 0; j < Cg; j++) {                                                               \
        const CT *pj = p + j * S, *qj = q + j * S;                                                     \
        double a = 0, e = 0;                                                                           \
        _Pragma("omp simd reduction(+ : a, e)") for (int64_t i = 0; i < S; i++) {                      \
          a += (double)qj[i];                                                                          \
          e += (double)qj[i] * ((double)pj[i] - m);                                                    \
        }                                                                                              \
        pg[n * C + c0 + j] = a;                                                                        \
        pgx[n * C + c0 + j] = e * is;                                                                  \
        s1 += a * w[c0 + j];                                                                           \
        s2 += e * w[c0 + j];                                                                           \
      }                                                                                                \
      if (!gx) continue;                                                                               \
      /* dx = is*w*g - is*s1/L - (x - m)*is^3*s2/L */                                                  \
      CT c1 = (CT)(-is * s1 / (double)L), c2 = (CT)(-is * is * is * s2 / (double)L), mm = (CT)m;       \
      CT *r = gx + ng * L;                                                                             \
      for (int64_t j = 0; j < Cg; j++) {                                                               \
        CT k = (CT)(is * w[c0 + j]);                                                                   \
        const CT *pj = p + j * S, *qj = q + j * S;                                                     \
        CT *rj = r + j * S;                                                                            \
        if (assign)                                                                                    \
          _Pragma("omp simd") for (int64_t i = 0; i < S; i++) rj[i] = k * qj[i] + c1 + c2 * (pj[i] - mm); \
        else                                                                                           \
          _Pragma("omp simd") for (int64_t i = 0; i < S; i++) rj[i] += k * qj[i] + c1 + c2 * (pj[i] - mm); \
      }                                                                                                \
    }                                                                                                  \
  }
GN_KERNELS(float, f32)
GN_KERNELS(double, f64)

static void gn_fwd_ref(const nnc_tensor *x, nnc_tensor *y, int64_t N, int64_t C, int64_t S, int64_t G, double eps,
                       const double *w, const double *b, double *mean, double *invstd) {
  int64_t Cg = C / G;
  for (int64_t n = 0; n < N; n++)
    for (int64_t g = 0; g < G; g++) {
      double s = 0, v = 0, cnt = (double)(Cg * S);
      for (int64_t c = g * Cg; c < (g + 1) * Cg; c++)
        for (int64_t i = 0; i < S; i++) s += nnc_get(x, (n * C + c) * S + i);
      double m = s / cnt;
      for (int64_t c = g * Cg; c < (g + 1) * Cg; c++)
        for (int64_t i = 0; i < S; i++) {
          double d = nnc_get(x, (n * C + c) * S + i) - m;
          v += d * d;
        }
      double is = 1.0 / sqrt(v / cnt + eps);
      mean[n * G + g] = m;
      invstd[n * G + g] = is;
      for (int64_t c = g * Cg; c < (g + 1) * Cg; c++)
        for (int64_t i = 0; i < S; i++) {
          int64_t e = (n * C + c) * S + i;
          nnc_set(y, e, (nnc_get(x, e) - m) * is * w[c] + b[c]);
        }
    }
}

static void group_norm_backward(nnc_node *n) {
  nnc_tensor *x = nnc_saved(n, 0), *meant = nnc_saved(n, 1), *invt = nnc_saved(n, 2), *g = n->out->grad;
  nnc_tensor *xin = n->in[0], *w = n->in[1], *b = n->in[2];
  int64_t N, C, S, G = n->i[0], NC;
  ncs(x, "group_norm", &N, &C, &S);
  NC = N * C;
  double *wv = channel_values(w, C, 1.0);
  double *pg = nnc_f64(nnc_empty(NNC_F64, 1, &NC)), *pgx = nnc_f64(nnc_empty(NNC_F64, 1, &NC));
  bool direct = false, assign = false;
  nnc_tensor *gx = xin->requires_grad ? grad_target(xin, &direct, &assign) : NULL;
  void *gxp = gx ? nnc_data(gx) : NULL;
  const double *mean = nnc_f64(meant), *invstd = nnc_f64(invt);
  if (x->dtype == NNC_F32) gn_bwd_f32(nnc_data(x), nnc_data(g), gxp, assign, N, C, S, G, wv, mean, invstd, pg, pgx);
  else gn_bwd_f64(nnc_data(x), nnc_data(g), gxp, assign, N, C, S, G, wv, mean, invstd, pg, pgx);
  if (gx) grad_done(xin, gx, direct);
  /* per-channel sums over the batch, in a fixed order */
  for (int64_t k = 1; k < N; k++)
    for (int64_t c = 0; c < C; c++) pg[c] += pg[k * C + c], pgx[c] += pgx[k * C + c];
  accum_channel_grad(w, pgx, C);
  accum_channel_grad(b, pg, C);
}
NNC_OP_DEF(op_group_norm, "group_norm", group_norm_backward);

nnc_tensor *nnc_group_norm(nnc_tensor *x, int64_t groups, nnc_tensor *weight, nnc_tensor *bias, double eps) {
  const char *op = "group_norm";
  int64_t N, C, S;
  char s[96];
  ncs(x, op, &N, &C, &S);
  NNC_CHECK(groups > 0 && C % groups == 0, op, "input %s: %lld channels do not split into %lld groups",
            nnc_shape_str(x, s, 96), (long long)C, (long long)groups);
  NNC_CHECK(eps >= 0, op, "eps %g", eps);
  check_channel_vec(x, weight, C, "weight", op);
  check_channel_vec(x, bias, C, "bias", op);
  int64_t NG = N * groups;
  nnc_tensor *meant = nnc_empty(NNC_F64, 1, &NG), *invt = nnc_empty(NNC_F64, 1, &NG);
  double *w = channel_values(weight, C, 1.0), *b = channel_values(bias, C, 0.0);
  nnc_tensor *y = nnc_empty_like(x);
  const nnc_tensor *xc = NULL;
  if (nnc_reference_kernels()) {
    gn_fwd_ref(x, y, N, C, S, groups, eps, w, b, nnc_f64(meant), nnc_f64(invt));
  } else {
    xc = dense(x);
    if (x->dtype == NNC_F32)
      gn_fwd_f32(nnc_data(xc), nnc_data(y), N, C, S, groups, eps, w, b, nnc_f64(meant), nnc_f64(invt));
    else
      gn_fwd_f64(nnc_data(xc), nnc_data(y), N, C, S, groups, eps, w, b, nnc_f64(meant), nnc_f64(invt));
  }
  nnc_tensor *in[3] = {x, weight, bias};
  nnc_node *n = nnc_record(&op_group_norm, y, 3, in);
  if (n) {
    nnc_save(n, (nnc_tensor *)(xc ? xc : dense(x)));
    nnc_save(n, meant);
    nnc_save(n, invt);
    n->i[0] = groups;
    n->f[0] = eps;
  }
  return y;
}

/* ======================= layer norm over channels ======================= */
/* channels moved last (a view), the fused layer_norm op (which copies x contiguous first),
 * channels moved back (a view: the result is strided) */
nnc_tensor *nnc_layer_norm_channels(nnc_tensor *x, nnc_tensor *weight, nnc_tensor *bias, double eps) {
  const char *op = "layer_norm_channels";
  int64_t N, C, S;
  ncs(x, op, &N, &C, &S);
  check_channel_vec(x, weight, C, "weight", op);
  check_channel_vec(x, bias, C, "bias", op);
  if (x->ndim == 2) return nnc_layer_norm(x, weight, bias, eps);
  int nd = x->ndim, last[NNC_MAX_DIMS], back[NNC_MAX_DIMS];
  for (int d = 0; d < nd; d++) {
    last[d] = d == 0 ? 0 : d == nd - 1 ? 1 : d + 1; /* [N, C, ...] -> [N, ..., C] */
    back[d] = d == 0 ? 0 : d == 1 ? nd - 1 : d - 1; /* and back */
  }
  return nnc_permute(nnc_layer_norm(nnc_permute(x, last), weight, bias, eps), back);
}
