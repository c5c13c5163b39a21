/* optim/muon.c: Muon as an nnc_optim extension, and the Newton-Schulz orthogonalisation on
 * nnc_gemm (see muon.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "core/error.h"
#include "autograd/autograd.h"
#include "core/gemm.h"
#include "ops/ops.h"
#include "optim/muon.h"

#define PAR_MIN (1 << 16) /* elementwise loops of at least this many elements use OpenMP */
#define NORM_BLOCK 4096   /* the Frobenius norm sums fixed blocks, then the blocks in order */

typedef float f32;
typedef double f64;

int64_t nnc_newton_schulz_work(int64_t rows, int64_t cols) {
  int64_t r = rows < cols ? rows : cols;
  return rows * cols + 2 * r * r;
}

/* The iteration for one dtype.  Wide (rows <= cols): A = X X^T [r, r], X <- P X with
 * P = a I + b A + c A A.  Tall: the official code transposes, X' = P X'^T... with A = X^T X,
 * which is X <- X P^T in the untransposed layout (P is symmetric up to rounding).
 * Norm: blocks of NORM_BLOCK summed in double in parallel, then in order (any thread count
 * gives the same bits). */
#define NS_KERNEL(T, GEMM)                                                                           \
  void nnc_newton_schulz_##T(T *x, int64_t rows, int64_t cols, int steps, T *work) {                \
    NNC_CHECK(rows >= 0 && cols >= 0 && steps >= 0, "newton_schulz", "%lld x %lld, %d steps",        \
              (long long)rows, (long long)cols, steps);                                              \
    int64_t n = rows * cols;                                                                         \
    if (n == 0) return;                                                                              \
    T *own = NULL;                                                                                   \
    if (!work) work = own = nnc_xmalloc((size_t)nnc_newton_schulz_work(rows, cols) * sizeof(T));     \
    int64_t nb = (n + NORM_BLOCK - 1) / NORM_BLOCK;                                                  \
    double *part = nnc_xmalloc((size_t)nb * sizeof *part);                                           \
    _Pragma("omp parallel for if (n > PAR_MIN) schedule(static)")                                   \
    for (int64_t b = 0; b < nb; b++) {                                                               \
      double s = 0;                                                                                  \
      int64_t end = (b + 1) * NORM_BLOCK < n ? (b + 1) * NORM_BLOCK : n;                             \
      for (int64_t i = b * NORM_BLOCK; i < end; i++) s += (double)x[i] * (double)x[i];               \
      part[b] = s;                                                                                   \
    }                                                                                                \
    double ss = 0;                                                                                   \
    for (int64_t b = 0; b < nb; b++) ss += part[b];                                                  \
    free(part);                                                                                      \
    const T denom = (T)(sqrt(ss) + NNC_MUON_EPS);                                                    \
    _Pragma("omp parallel for simd if (n > PAR_MIN) schedule(static)")                              \
    for (int64_t i = 0; i < n; i++) x[i] = x[i] / denom;                                             \
    bool wide = rows <= cols;                                                                        \
    int64_t r = wide ? rows : cols;                                                                  \
    T *y = work, *A = work + n, *B = A + r * r, *cur = x;                                            \
    const T a = (T)NNC_MUON_A, b = (T)NNC_MUON_B, c = (T)NNC_MUON_C;                                 \
    for (int s = 0; s < steps; s++) {                                                                \
      if (wide) GEMM(false, true, r, r, cols, 1, cur, cols, cur, cols, 0, A, r);                     \
      else GEMM(true, false, r, r, rows, 1, cur, cols, cur, cols, 0, A, r);                          \
      GEMM(false, false, r, r, r, c, A, r, A, r, 0, B, r);                                           \
      _Pragma("omp parallel for if (r * r > PAR_MIN) schedule(static)")                             \
      for (int64_t i = 0; i < r; i++) {                                                              \
        T *bi = B + i * r;                                                                           \
        const T *ai = A + i * r;                                                                     \
        for (int64_t j = 0; j < r; j++) bi[j] += b * ai[j];                                          \
        bi[i] += a;                                                                                  \
      }                                                                                              \
      T *next = cur == x ? y : x;                                                                    \
      if (wide) GEMM(false, false, rows, cols, rows, 1, B, r, cur, cols, 0, next, cols);             \
      else GEMM(false, true, rows, cols, cols, 1, cur, cols, B, r, 0, next, cols);                   \
      cur = next;                                                                                    \
    }                                                                                                \
    if (cur != x) memcpy(x, cur, (size_t)n * sizeof(T));                                             \
    free(own);                                                                                       \
  }

NS_KERNEL(f32, nnc_gemm_f32)
NS_KERNEL(f64, nnc_gemm_f64)

nnc_tensor *nnc_muon_orthogonalize(nnc_tensor *g, int steps) {
  NNC_CHECK(g->ndim >= 2 && (g->dtype == NNC_F32 || g->dtype == NNC_F64), "muon_orthogonalize",
            "needs a float matrix (2 or more dimensions), got %s of %d dimensions", nnc_dtype_name(g->dtype),
            g->ndim);
  nnc_tensor *x = nnc_clone(nnc_detach(g));
  int64_t rows = x->shape[0], cols = rows ? nnc_numel(x) / rows : 0;
  if (x->dtype == NNC_F32) nnc_newton_schulz_f32(nnc_f32(x), rows, cols, steps, NULL);
  else nnc_newton_schulz_f64(nnc_f64(x), rows, cols, steps, NULL);
  return x;
}

/* ---- the optimiser extension ---- */

/* torch.lerp: self + w (end - self) for |w| < 0.5, else end - (end - self)(1 - w) */
#define LERP(T, s, e, w) ((w) < (T)0.5 ? (s) + (w) * ((e) - (s)) : (e) - ((e) - (s)) * ((T)1 - (w)))

/* one parameter: momentum, blend into u, orthogonalise u, update p */
#define MUON_PARAM(T)                                                                                \
  static void muon_param_##T(T *restrict p, const T *restrict g, T *restrict m, T *restrict u,        \
                             T *ns_work, int64_t rows, int64_t cols, const nnc_muon *mu, double lr_,  \
                             double wd_, double scale_) {                                             \
    int64_t n = rows * cols;                                                                         \
    const T beta = (T)mu->momentum, w = (T)(1.0 - mu->momentum);                                     \
    const bool nesterov = mu->nesterov;                                                              \
    _Pragma("omp parallel for if (n > PAR_MIN) schedule(static)")                                   \
    for (int64_t i = 0; i < n; i++) {                                                                \
      T mi = LERP(T, m[i], g[i], w);                                                                    \
      m[i] = mi;                                                                                     \
      u[i] = nesterov ? LERP(T, g[i], mi, beta) : mi;                                                   \
    }                                                                                                \
    nnc_newton_schulz_##T(u, rows, cols, mu->ns_steps, ns_work);                                     \
    const T decay = (T)(1.0 - lr_ * wd_), lr = (T)lr_, scale = (T)scale_;                            \
    _Pragma("omp parallel for if (n > PAR_MIN) schedule(static)")                                   \
    for (int64_t i = 0; i < n; i++) p[i] = p[i] * decay + -lr * (u[i] * scale);                      \
  }

MUON_PARAM(f32)
MUON_PARAM(f64)

static void muon_step(nnc_optim_ext *e, nnc_optim *o) {
  nnc_muon *mu = (nnc_muon *)e;
  nnc_params *p = o->params;
  size_t es = nnc_dtype_size(p->dtype);
  bool f32 = p->dtype == NNC_F32;
  for (int k = 0; k < p->count && k < e->n_owned; k++) {
    if (!e->owned[k] || p->frozen[k]) continue;
    nnc_tensor *t = p->tensors[k];
    int64_t n = nnc_numel(t), rows = t->shape[0], cols = rows ? n / rows : 0;
    int64_t need = n + nnc_newton_schulz_work(rows, cols);
    if (need > mu->work_size) {
      free(mu->work);
      mu->work = nnc_xmalloc((size_t)need * es);
      mu->work_size = need;
    }
    double ratio = (double)t->shape[t->ndim - 2] / (double)t->shape[t->ndim - 1];
    double scale = sqrt(ratio > 1 ? ratio : 1.0);
    double lr = o->lr * mu->lr_ratio * p->lr_scale[k], wd = mu->weight_decay * p->decay_scale[k];
    int64_t off = t->offset;
    char *pv = (char *)p->values.data + off * es, *pg = (char *)p->grads.data + off * es, *pm = (char *)o->buf1 + off * es;
    o->param_steps[k]++;
    if (n == 0) continue;
    if (f32) {
      float *u = mu->work;
      muon_param_f32((float *)pv, (float *)pg, (float *)pm, u, u + n, rows, cols, mu, lr, wd, scale);
    } else {
      double *u = mu->work;
      muon_param_f64((double *)pv, (double *)pg, (double *)pm, u, u + n, rows, cols, mu, lr, wd, scale);
    }
  }
}

static void muon_destroy(nnc_optim_ext *e) {
  nnc_muon *mu = (nnc_muon *)e;
  free(mu->work);
  free(e->owned);
  free(mu);
}

nnc_muon *nnc_muon_get(nnc_optim *o) {
  return o->ext && o->ext->step == muon_step ? (nnc_muon *)o->ext : NULL;
}

nnc_muon *nnc_muon_attach(nnc_optim *o, double muon_lr, double momentum, double weight_decay) {
  NNC_CHECK(!o->ext, "muon", "the optimiser already has an extension ('%s')", o->ext ? o->ext->name : "");
  NNC_CHECK(o->lr > 0 && muon_lr >= 0 && momentum >= 0 && momentum < 1 && weight_decay >= 0, "muon",
            "optimiser lr %g (must be > 0), Muon lr %g, momentum %g, weight decay %g", o->lr, muon_lr, momentum,
            weight_decay);
  nnc_muon *mu = nnc_xcalloc(1, sizeof *mu);
  mu->ext = (nnc_optim_ext){.name = "muon", .step = muon_step, .destroy = muon_destroy};
  mu->lr_ratio = muon_lr / o->lr;
  mu->momentum = momentum;
  mu->weight_decay = weight_decay;
  mu->nesterov = true;
  mu->ns_steps = 5;
  o->ext = &mu->ext;
  nnc_muon_select_default(o);
  return mu;
}

bool nnc_muon_owns(const nnc_optim *o, int k) {
  return o->ext && k >= 0 && k < o->ext->n_owned && o->ext->owned[k];
}

/* sizes the ownership array to the block (parameters added since are not owned) */
static nnc_optim_ext *owned_sized(nnc_optim *o) {
  NNC_CHECK(nnc_muon_get(o), "muon", "Muon is not attached to this optimiser (nnc_muon_attach)");
  nnc_optim_ext *e = o->ext;
  int count = o->params->count;
  if (count > e->n_owned) {
    bool *grown = nnc_xcalloc((size_t)count, sizeof *grown);
    if (e->owned) memcpy(grown, e->owned, (size_t)e->n_owned * sizeof *grown);
    free(e->owned);
    e->owned = grown;
    e->n_owned = count;
  }
  return e;
}

int nnc_muon_select_default(nnc_optim *o) {
  nnc_optim_ext *e = owned_sized(o);
  const nnc_params *p = o->params;
  int first = -1, last = -1, n = 0;
  for (int k = 0; k < p->count; k++)
    if (p->tensors[k]->ndim >= 2) {
      if (first < 0) first = k;
      last = k;
    }
  for (int k = 0; k < p->count; k++) {
    e->owned[k] = p->tensors[k]->ndim >= 2 && k != first && k != last && !strstr(p->names[k], "embed");
    n += e->owned[k];
  }
  return n;
}

int nnc_muon_use(nnc_optim *o, const char *prefix, bool on) {
  nnc_optim_ext *e = owned_sized(o);
  const nnc_params *p = o->params;
  size_t len = strlen(prefix);
  int n = 0;
  for (int k = 0; k < p->count; k++) {
    if (strncmp(p->names[k], prefix, len) != 0) continue;
    NNC_CHECK(!on || p->tensors[k]->ndim >= 2, "muon", "'%s' has %d dimension(s); Muon updates matrices only",
              p->names[k], p->tensors[k]->ndim);
    e->owned[k] = on;
    n++;
  }
  return n;
}
