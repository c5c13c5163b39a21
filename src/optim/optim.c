/* optim/optim.c: SGD, Adam, AdamW, clipping and parameter groups (see optim.h).
 * Each kernel is a plain loop over one parameter's range of the block, written once for
 * float and once for double by a macro, with the operations in torch.optim's order so that
 * float32 results agree with PyTorch to rounding. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "core/error.h"
#include "optim/optim.h"


/* SGD for one parameter's range.  The branches of torch's rule (first step, Nesterov) are
 * folded into loop-invariant coefficients, exact for 0 and 1, so the loop has no control flow:
 *   g' = g + wd*p;  b = bm*buf + bk*g' (bm = 0, bk = 1 on the first step; mom, 1-damp after);
 *   u = un*g' + ub*b (Nesterov: 1, mom; plain: 0, 1);  p -= lr*u.  buf is 0 before the first step. */
#define SGD_KERNEL(T)                                                                              \
  static void sgd_##T(T *restrict p, const T *restrict g, T *restrict buf, int64_t n, double lr_, \
                      double wd_, double mom_, double damp_, bool nesterov, bool first) {          \
    const T lr = (T)lr_, wd = (T)wd_;                                                              \
    if (mom_ == 0) {                                                                               \
      _Pragma("omp parallel for simd if (n > NNC_OPTIM_PARALLEL_MIN) schedule(static)")           \
      for (int64_t i = 0; i < n; i++) p[i] = p[i] - lr * (g[i] + wd * p[i]);                       \
      return;                                                                                      \
    }                                                                                              \
    const T bm = first ? 0 : (T)mom_, bk = first ? 1 : (T)(1.0 - damp_);                           \
    const T un = nesterov ? 1 : 0, ub = nesterov ? (T)mom_ : 1;                                    \
    _Pragma("omp parallel for simd if (n > NNC_OPTIM_PARALLEL_MIN) schedule(static)")             \
    for (int64_t i = 0; i < n; i++) {                                                              \
      T gi = g[i] + wd * p[i];                                                                     \
      T b = bm * buf[i] + bk * gi;                                                                 \
      buf[i] = b;                                                                                  \
      p[i] = p[i] - lr * (un * gi + ub * b);                                                       \
    }                                                                                              \
  }

/* Adam / AdamW: p *= decay; g += l2*p; m, v moments; p -= step_size * (m / (sqrt(v)/bc2s + eps)).
 * No `simd` here: sqrt may set errno, so the loop only vectorises under -fno-math-errno, and
 * clang warns when a requested simd loop is not vectorised.  It is memory-bound anyway. */
#define ADAM_KERNEL(T, SQRT)                                                                        \
  static void adam_##T(T *restrict p, const T *restrict g, T *restrict m, T *restrict v, int64_t n, \
                       double decay_, double l2_, double b1_, double b2_, double step_size_,        \
                       double bc2_sqrt_, double eps_) {                                             \
    const T decay = (T)decay_, l2 = (T)l2_, b1 = (T)b1_, b2 = (T)b2_, c1 = (T)(1.0 - b1_),           \
            c2 = (T)(1.0 - b2_), step_size = (T)step_size_, bc2s = (T)bc2_sqrt_, eps = (T)eps_;      \
    _Pragma("omp parallel for if (n > NNC_OPTIM_PARALLEL_MIN) schedule(static)")              \
    for (int64_t i = 0; i < n; i++) {                                                               \
      T pi = p[i] * decay;                                                                          \
      T gi = g[i] + l2 * pi;                                                                        \
      T mi = m[i] * b1 + c1 * gi;                                                                   \
      T vi = v[i] * b2 + c2 * (gi * gi);                                                            \
      m[i] = mi;                                                                                    \
      v[i] = vi;                                                                                    \
      p[i] = pi - step_size * (mi / (SQRT(vi) / bc2s + eps));                                       \
    }                                                                                               \
  }

SGD_KERNEL(float)
SGD_KERNEL(double)
ADAM_KERNEL(float, sqrtf)
ADAM_KERNEL(double, sqrt)

static void optim_common(nnc_optim *o, nnc_optim_kind kind, nnc_params *p, double lr, double wd) {
  memset(o, 0, sizeof *o);
  NNC_CHECK(lr >= 0 && wd >= 0, "optim", "lr %g, weight decay %g", lr, wd);
  o->kind = kind;
  o->params = p;
  o->lr = lr;
  o->weight_decay = wd;
}

void nnc_sgd_init(nnc_optim *o, nnc_params *p, double lr, double momentum, double weight_decay, bool nesterov) {
  optim_common(o, NNC_OPTIM_SGD, p, lr, weight_decay);
  NNC_CHECK(momentum >= 0, "sgd", "momentum %g", momentum);
  NNC_CHECK(!nesterov || momentum > 0, "sgd", "Nesterov momentum needs momentum > 0");
  o->momentum = momentum;
  o->nesterov = nesterov;
}

static void adam_common(nnc_optim *o, nnc_optim_kind kind, nnc_params *p, double lr, double beta1, double beta2,
                        double eps, double weight_decay) {
  optim_common(o, kind, p, lr, weight_decay);
  NNC_CHECK(beta1 >= 0 && beta1 < 1 && beta2 >= 0 && beta2 < 1 && eps >= 0, "adam", "betas (%g, %g), eps %g", beta1,
            beta2, eps);
  o->beta1 = beta1;
  o->beta2 = beta2;
  o->eps = eps;
}

void nnc_adam_init(nnc_optim *o, nnc_params *p, double lr, double beta1, double beta2, double eps, double weight_decay) {
  adam_common(o, NNC_OPTIM_ADAM, p, lr, beta1, beta2, eps, weight_decay);
}

void nnc_adamw_init(nnc_optim *o, nnc_params *p, double lr, double beta1, double beta2, double eps, double weight_decay) {
  adam_common(o, NNC_OPTIM_ADAMW, p, lr, beta1, beta2, eps, weight_decay);
}

void nnc_optim_free(nnc_optim *o) {
  if (o->ext) o->ext->destroy(o->ext);
  o->ext = NULL;
  free(o->buf1);
  free(o->buf2);
  free(o->param_steps);
  o->buf1 = o->buf2 = NULL;
  o->param_steps = NULL;
  o->numel = 0;
  o->count = 0;
}

void nnc_optim_reset(nnc_optim *o) {
  nnc_optim_ext *ext = o->ext; /* kept */
  o->ext = NULL;
  nnc_optim_free(o);
  o->ext = ext;
  o->steps = 0;
}

static void *grow_zeroed(void *old, size_t old_bytes, size_t new_bytes) {
  void *fresh = nnc_xcalloc(1, new_bytes ? new_bytes : 1);
  if (old) memcpy(fresh, old, old_bytes);
  free(old);
  return fresh;
}

/* sizes the state to the block (parameters may have been added since the last step) */
static void ensure_state(nnc_optim *o) {
  const nnc_params *p = o->params;
  NNC_CHECK(p->numel >= o->numel && p->count >= o->count, "optim",
            "the parameter block shrank (%lld elements, state for %lld)", (long long)p->numel, (long long)o->numel);
  size_t es = nnc_dtype_size(p->dtype);
  if (p->numel > o->numel || !o->buf1) {
    size_t ob = (size_t)o->numel * es, nb = (size_t)p->numel * es;
    o->buf1 = grow_zeroed(o->buf1, ob, nb);
    if (o->kind != NNC_OPTIM_SGD) o->buf2 = grow_zeroed(o->buf2, ob, nb);
    o->numel = p->numel;
  }
  if (p->count > o->count || !o->param_steps) {
    o->param_steps = grow_zeroed(o->param_steps, (size_t)o->count * sizeof(int64_t), (size_t)p->count * sizeof(int64_t));
    o->count = p->count;
  }
}

/* Masks (core/params.h): before the update g *= M; after it, where M == 0, the weight and the
 * per-element state (buf1: momentum / exp_avg / Muon's momentum, buf2: exp_avg_sq) are zeroed,
 * so a pruned entry stays exactly 0 and a regrown one starts from 0 with no stale state.
 * Frozen parameters are not touched. */
#define MASK_KERNELS(T)                                                                       \
  static void mask_grad_##T(T *restrict g, const float *restrict m, int64_t n) {              \
    for (int64_t i = 0; i < n; i++) g[i] = m[i] == 0.0f ? 0 : g[i];  /* (inf * 0 would be NaN) */ \
  }                                                                                           \
  static void mask_zero_##T(T *restrict p, T *restrict b1, T *restrict b2, const float *m, int64_t n) { \
    for (int64_t i = 0; i < n; i++)                                                           \
      if (m[i] == 0.0f) {                                                                     \
        p[i] = 0;                                                                             \
        b1[i] = 0;                                                                            \
        if (b2) b2[i] = 0;                                                                    \
      }                                                                                       \
  }
MASK_KERNELS(float)
MASK_KERNELS(double)

static void masks_before(nnc_optim *o) {
  nnc_params *p = o->params;
  size_t es = nnc_dtype_size(p->dtype);
  for (int k = 0; k < p->count; k++) {
    if (!p->masks[k] || p->frozen[k]) continue;
    char *pg = (char *)p->grads.data + p->tensors[k]->offset * es;
    const float *m = p->masks[k]->storage->data;
    if (p->dtype == NNC_F32) mask_grad_float((float *)pg, m, nnc_numel(p->tensors[k]));
    else mask_grad_double((double *)pg, m, nnc_numel(p->tensors[k]));
    p->grads.version++;
  }
}

static void masks_after(nnc_optim *o) {
  nnc_params *p = o->params;
  size_t es = nnc_dtype_size(p->dtype);
  for (int k = 0; k < p->count; k++) {
    if (!p->masks[k] || p->frozen[k]) continue;
    int64_t off = p->tensors[k]->offset, n = nnc_numel(p->tensors[k]);
    char *pv = (char *)p->values.data + off * es, *b1 = (char *)o->buf1 + off * es;
    char *b2 = o->buf2 ? (char *)o->buf2 + off * es : NULL;
    const float *m = p->masks[k]->storage->data;
    if (p->dtype == NNC_F32) mask_zero_float((float *)pv, (float *)b1, (float *)b2, m, n);
    else mask_zero_double((double *)pv, (double *)b1, (double *)b2, m, n);
  }
}

void nnc_optim_step(nnc_optim *o) {
  nnc_params *p = o->params;
  ensure_state(o);
  masks_before(o);
  bool f32 = p->dtype == NNC_F32;
  size_t es = nnc_dtype_size(p->dtype);
  for (int k = 0; k < p->count; k++) {
    if (p->frozen[k] || (o->ext && k < o->ext->n_owned && o->ext->owned[k])) continue;
    nnc_tensor *t = p->tensors[k];
    int64_t off = t->offset, n = nnc_numel(t);
    char *pv = (char *)p->values.data + off * es, *pg = (char *)p->grads.data + off * es;
    char *b1 = (char *)o->buf1 + off * es, *b2 = o->buf2 ? (char *)o->buf2 + off * es : NULL;
    double lr = o->lr * p->lr_scale[k], wd = o->weight_decay * p->decay_scale[k];
    int64_t step = ++o->param_steps[k];
    if (o->kind == NNC_OPTIM_SGD) {
      if (f32) sgd_float((float *)pv, (float *)pg, (float *)b1, n, lr, wd, o->momentum, o->dampening, o->nesterov, step == 1);
      else sgd_double((double *)pv, (double *)pg, (double *)b1, n, lr, wd, o->momentum, o->dampening, o->nesterov, step == 1);
    } else {
      bool decoupled = o->kind == NNC_OPTIM_ADAMW;
      double decay = decoupled ? 1.0 - lr * wd : 1.0, l2 = decoupled ? 0.0 : wd;
      double bc1 = 1.0 - pow(o->beta1, (double)step), bc2 = 1.0 - pow(o->beta2, (double)step);
      double step_size = lr / bc1, bc2s = sqrt(bc2);
      if (f32) adam_float((float *)pv, (float *)pg, (float *)b1, (float *)b2, n, decay, l2, o->beta1, o->beta2, step_size, bc2s, o->eps);
      else adam_double((double *)pv, (double *)pg, (double *)b1, (double *)b2, n, decay, l2, o->beta1, o->beta2, step_size, bc2s, o->eps);
    }
  }
  if (o->ext) o->ext->step(o->ext, o);
  masks_after(o);
  p->values.version++;
  o->steps++;
}

int nnc_optim_state(nnc_optim *o, nnc_state_array *out) {
  ensure_state(o);
  nnc_dtype dt = o->params->dtype;
  int n = 0;
  if (o->kind == NNC_OPTIM_SGD) {
    out[n++] = (nnc_state_array){"momentum_buffer", dt, o->buf1, o->numel};
  } else {
    out[n++] = (nnc_state_array){"exp_avg", dt, o->buf1, o->numel};
    out[n++] = (nnc_state_array){"exp_avg_sq", dt, o->buf2, o->numel};
  }
  out[n++] = (nnc_state_array){"param_steps", NNC_I64, o->param_steps, o->count};
  out[n++] = (nnc_state_array){"steps", NNC_I64, &o->steps, 1};
  return n;
}

/* ---- clipping ---- */
static void scale_grads(nnc_params *p, double c) {
  if (p->dtype == NNC_F32) {
    float *g = p->grads.data, s = (float)c;
    for (int64_t i = 0; i < p->numel; i++) g[i] *= s;
  } else {
    double *g = p->grads.data;
    for (int64_t i = 0; i < p->numel; i++) g[i] *= c;
  }
  p->grads.version++;
}

double nnc_clip_grad_norm(nnc_params *p, double max_norm) {
  NNC_CHECK(max_norm > 0, "clip_grad_norm", "max_norm %g", max_norm);
  double norm = nnc_params_grad_norm(p), coef = max_norm / (norm + 1e-6);
  if (coef < 1.0) scale_grads(p, coef);
  return norm;
}

void nnc_clip_grad_value(nnc_params *p, double max_abs) {
  NNC_CHECK(max_abs >= 0, "clip_grad_value", "max %g", max_abs);
  if (p->dtype == NNC_F32) {
    float *g = p->grads.data, c = (float)max_abs;
    for (int64_t i = 0; i < p->numel; i++) g[i] = g[i] > c ? c : g[i] < -c ? -c : g[i];
  } else {
    double *g = p->grads.data;
    for (int64_t i = 0; i < p->numel; i++) g[i] = g[i] > max_abs ? max_abs : g[i] < -max_abs ? -max_abs : g[i];
  }
  p->grads.version++;
}

/* ---- parameter groups ---- */
int nnc_group_no_decay_1d(nnc_params *p) {
  int n = 0;
  for (int k = 0; k < p->count; k++)
    if (p->tensors[k]->ndim <= 1) p->decay_scale[k] = 0.0f, n++;
  return n;
}

#define FOR_PREFIX(p, prefix, stmt)                                             \
  int n = 0;                                                                    \
  size_t len = strlen(prefix);                                                  \
  for (int k = 0; k < (p)->count; k++)                                          \
    if (strncmp((p)->names[k], prefix, len) == 0) { stmt; n++; }                \
  return n

int nnc_group_lr_scale(nnc_params *p, const char *prefix, float scale) { FOR_PREFIX(p, prefix, p->lr_scale[k] = scale); }
int nnc_group_decay_scale(nnc_params *p, const char *prefix, float scale) { FOR_PREFIX(p, prefix, p->decay_scale[k] = scale); }
int nnc_group_freeze(nnc_params *p, const char *prefix, bool frozen) { FOR_PREFIX(p, prefix, p->frozen[k] = frozen); }
