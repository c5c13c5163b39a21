/* infer/binary_mlp.c: the binary MLP: STE training, the export plan, the float simulation,
 * integer thresholds and the export (see binary_mlp.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "autograd/autograd.h"
#include "core/arena.h"
#include "data/fashion.h"
#include "infer/binary_mlp.h"
#include "io/params_io.h"
#include "nn/layers.h"
#include "nn/norm.h"
#include "nn/norm2d.h"
#include "ops/ops.h"
#include "optim/optim.h"
#include "optim/schedule.h"
#include "quant/quant.h"
#include "train/classifier.h"
#include "util/fsutil.h"

#define BN_EPS 1e-5

/* ---- pixels ---- */
float nnc_fashion_norm(int p) { return ((float)p / 255.0f - NNC_FASHION_MEAN) / NNC_FASHION_STD; }

nnc_status nnc_fashion_pixels(const nnc_dataset *ds, uint8_t *out) {
  if (!ds->x || ds->x->dtype != NNC_F32 || ds->x->ndim != 2 || !nnc_is_contiguous(ds->x))
    return nnc_error(NNC_ERR_FORMAT, "pixels: the data must be f32 [n, features], contiguous");
  const float *x = nnc_f32(ds->x);
  int64_t n = nnc_numel(ds->x);
  float lut[256];
  for (int p = 0; p < 256; p++) lut[p] = nnc_fashion_norm(p);
  for (int64_t i = 0; i < n; i++) {
    double v = ((double)x[i] * NNC_FASHION_STD + NNC_FASHION_MEAN) * 255.0;
    long p = lrint(v);
    if (!(v > -1 && v < 256) || p < 0 || p > 255 || lut[p] != x[i])
      return nnc_error(NNC_ERR_FORMAT, "pixels: value %g at %lld is not a normalised Fashion-MNIST pixel", (double)x[i],
                       (long long)i);
    out[i] = (uint8_t)p;
  }
  return NNC_OK;
}

/* ---- the network ---- */
bool nnc_bmlp_arch_of(const char *model, nnc_bmlp_arch *a) {
  *a = (nnc_bmlp_arch){784, 512, 10, 2, false};
  if (strcmp(model, "binary-mlp") == 0) return true;
  if (strcmp(model, "binary-mlp-1bit") == 0) return a->first_binary = true;
  return false;
}

static void arch_defaults(nnc_bmlp_arch *a) {
  if (!a->in) a->in = 784;
  if (!a->hidden) a->hidden = 512;
  if (!a->classes) a->classes = 10;
  if (a->n_binary < 0) a->n_binary = 2;
}

static nnc_module *bn1d(nnc_params *p, nnc_params *buffers, const char *name, int64_t c) {
  nnc_batchnorm_mod *b = nnc_new_batchnorm(p, buffers, name, c, BN_EPS, 0.1, true);
  return &b->base;
}

nnc_sequential_mod *nnc_bmlp_build(nnc_params *p, nnc_params *buffers, const nnc_bmlp_arch *arch,
                                   const nnc_binary_cfg *cfg, nnc_rng *r) {
  nnc_bmlp_arch a = *arch;
  arch_defaults(&a);
  NNC_CHECK(a.n_binary >= 0 && a.n_binary + 2 <= NNC_IMODEL_MAX_LAYERS, "binary_mlp", "n_binary %d", a.n_binary);
  nnc_sequential_mod *net = nnc_new_sequential("");
  char name[32];
  if (a.first_binary) nnc_sequential_add(net, &nnc_new_binary_linear(p, "fc0", a.in, a.hidden, cfg, r)->base);
  else nnc_sequential_add(net, &nnc_new_linear(p, "fc0", a.in, a.hidden, true, r)->base);
  nnc_sequential_add(net, bn1d(p, buffers, "bn0", a.hidden));
  nnc_sequential_add(net, &nnc_new_binact(cfg)->base);
  for (int k = 1; k <= a.n_binary; k++) {
    snprintf(name, sizeof name, "fc%d", k);
    nnc_sequential_add(net, &nnc_new_binary_linear(p, name, a.hidden, a.hidden, cfg, r)->base);
    snprintf(name, sizeof name, "bn%d", k);
    nnc_sequential_add(net, bn1d(p, buffers, name, a.hidden));
    nnc_sequential_add(net, &nnc_new_binact(cfg)->base);
  }
  snprintf(name, sizeof name, "fc%d", a.n_binary + 1);
  nnc_sequential_add(net, &nnc_new_linear(p, name, a.hidden, a.classes, true, r)->base);
  return net;
}

/* predictions of a float module on the first n rows of ds (eval, no grad, batches of 500) */
static void module_predict(nnc_module *net, const nnc_dataset *ds, int64_t n, int64_t *pred) {
  nnc_module_eval(net);
  nnc_no_grad_begin();
  const int64_t D = ds->x->shape[1];
  for (int64_t r0 = 0; r0 < n; r0 += 500) {
    int64_t mb = n - r0 < 500 ? n - r0 : 500;
    nnc_tensor *x = nnc_wrap(NNC_F32, NNC_SHAPE(mb, D), nnc_f32(ds->x) + r0 * D);
    nnc_tensor *am = nnc_argmax(nnc_forward(net, x), 1, false);
    for (int64_t i = 0; i < mb; i++) pred[r0 + i] = nnc_i64(am)[i];
    nnc_step_end();
  }
  nnc_no_grad_end();
}

nnc_status nnc_bmlp_train(const nnc_bmlp_train_opts *o, const char *out, double *test_acc) {
  nnc_bmlp_arch a = o->arch;
  arch_defaults(&a);
  int epochs = o->epochs > 0 ? o->epochs : 2, batch = o->batch > 0 ? o->batch : 128;
  double lr = o->lr > 0 ? o->lr : 1e-3;
  nnc_dataset train, test;
  nnc_status st = nnc_fashion_load(o->data_dir, true, &train);
  if (st) return st;
  if ((st = nnc_fashion_load(o->data_dir, false, &test))) {
    nnc_dataset_free(&train);
    return st;
  }
  int64_t n = o->limit > 0 && o->limit < train.n ? o->limit : train.n;
  nnc_params P, B;
  nnc_params_init(&P, NNC_F32);
  nnc_params_init(&B, NNC_F32);
  nnc_binary_cfg cfg = nnc_binary_cfg_default(NNC_BIN_STE);
  nnc_rng rng;
  nnc_rng_seed(&rng, o->seed, 1);
  nnc_sequential_mod *net = nnc_bmlp_build(&P, &B, &a, &cfg, &rng);
  nnc_batcher batches;
  if ((st = nnc_batcher_init(&batches, n, batch, o->seed, true, false))) goto done_data;
  nnc_optim opt;
  nnc_adam_init(&opt, &P, lr, 0.9, 0.999, 1e-8, 0);
  nnc_schedule sched = nnc_sched_cosine(lr, (int64_t)epochs * nnc_batcher_batches_per_epoch(&batches), 0);
  nnc_fit fit = {.model = &net->base, .params = &P, .opt = &opt, .sched = &sched, .quiet = o->quiet,
                 .label = a.first_binary ? "binary-mlp-1bit" : "binary-mlp"};
  int64_t step = 0;
  for (int e = 0; e < epochs && !st; e++) {
    double loss = nnc_fit_epoch(&fit, &train, &batches, &step);
    if (!isfinite(loss)) st = nnc_error(NNC_ERR_NUMERIC, "binary-mlp: the loss is not finite in epoch %d", e + 1);
  }
  if (!st && test_acc) {
    nnc_eval_result ev = nnc_evaluate(&net->base, &test, NULL);
    *test_acc = ev.acc;
  }
  if (!st) {
    nnc_st_writer *w = nnc_st_writer_new();
    char ep[32], lim[32];
    snprintf(ep, sizeof ep, "%d", epochs);
    snprintf(lim, sizeof lim, "%lld", (long long)n);
    st = nnc_params_add_to_writer(&P, w, NULL, NNC_ST_F32);
    if (!st) st = nnc_params_add_to_writer(&B, w, NULL, NNC_ST_F32);
    if (!st) st = nnc_st_writer_meta(w, "model", a.first_binary ? "binary-mlp-1bit" : "binary-mlp");
    if (!st) st = nnc_st_writer_meta(w, "estimator", "STE");
    if (!st) st = nnc_st_writer_meta(w, "epochs", ep);
    if (!st) st = nnc_st_writer_meta(w, "train_examples", lim);
    if (!st) st = nnc_st_writer_write(w, out);
    nnc_st_writer_free(w);
  }
  nnc_optim_free(&opt);
  nnc_batcher_free(&batches);
done_data:
  nnc_module_free(&net->base);
  nnc_params_free(&P);
  nnc_params_free(&B);
  nnc_dataset_free(&train);
  nnc_dataset_free(&test);
  return st;
}

/* ---- the plan ---- */
void nnc_bmlp_plan_free(nnc_bmlp_plan *p) {
  free(p->w0);
  free(p->A0);
  free(p->B0);
  for (int k = 0; k < p->arch.n_binary && p->wb; k++) free(p->wb[k]);
  free(p->wb);
  free(p->alpha);
  for (int l = 0; l < NNC_IMODEL_MAX_LAYERS; l++)
    for (int j = 0; j < 4; j++) free(p->bn[l][j]);
  free(p->wl);
  free(p->sl);
  free(p->bl);
  memset(p, 0, sizeof *p);
}

/* tensor `name` of the given shape as a contiguous f32 tensor (current arena) */
static nnc_status get_tensor(const nnc_st_file *f, const char *name, int ndim, const int64_t *shape, nnc_tensor **out) {
  const nnc_st_entry *e = nnc_st_find(f, name);
  if (!e) return nnc_error(NNC_ERR_FORMAT, "%s: missing tensor '%s'", nnc_st_path(f), name);
  bool ok = e->ndim == ndim && nnc_st_dtype_is_float(e->dtype);
  for (int d = 0; ok && d < ndim; d++) ok = e->shape[d] == shape[d];
  if (!ok) {
    char want[64];
    int k = snprintf(want, sizeof want, "[");
    for (int d = 0; d < ndim; d++) k += snprintf(want + k, sizeof want - (size_t)k, d ? ", %lld" : "%lld", (long long)shape[d]);
    snprintf(want + k, sizeof want - (size_t)k, "]");
    return nnc_error(NNC_ERR_FORMAT, "%s: tensor '%s' must be a float tensor of shape %s", nnc_st_path(f), name, want);
  }
  return nnc_st_load(e, NNC_F32, out);
}

static double *f32_to_f64(const nnc_tensor *t) {
  int64_t n = nnc_numel(t);
  double *d = nnc_xmalloc((size_t)n * sizeof *d);
  const float *s = nnc_f32(t);
  for (int64_t i = 0; i < n; i++) d[i] = s[i];
  return d;
}

/* int8 codes of w [rows, cols], symmetric per row (quant/quant.h); scales into scale[rows] */
static void quantize_rows(const nnc_tensor *w, int8_t *codes, float *scale) {
  nnc_qparams qp = {0};
  nnc_qparams_calibrate(&qp, w, nnc_qscheme_weight(8), (nnc_calib){.method = NNC_CALIB_MINMAX}, true);
  int64_t rows = w->shape[0], cols = w->shape[1];
  const float *v = nnc_f32(w);
  for (int64_t r = 0; r < rows; r++) {
    scale[r] = qp.scale[r];
    for (int64_t c = 0; c < cols; c++)
      codes[r * cols + c] = (int8_t)nnc_quantize_f32(v[r * cols + c], qp.scale[r], 0, qp.qmin, qp.qmax);
  }
  nnc_qparams_free(&qp);
}

/* mean |w| as the training graph computes it (f32 ops) */
static double mean_abs(nnc_tensor *w) { return (double)nnc_item(nnc_mean_all(nnc_abs(w))); }

static nnc_status plan_from(const nnc_st_file *f, const nnc_bmlp_arch *arch, nnc_bmlp_plan *p) {
  memset(p, 0, sizeof *p);
  nnc_bmlp_arch a = *arch;
  arch_defaults(&a);
  p->arch = a;
  const int64_t H = a.hidden, I = a.in, C = a.classes, hw = nnc_bits_words(H);
  const int L = a.n_binary + 1;
  char name[64];
  nnc_status st;
  nnc_tensor *t;
  for (int k = 0; k <= L; k++) {
    snprintf(name, sizeof name, "fc%d.alpha", k);
    if (nnc_st_find(f, name))
      return nnc_error(NNC_ERR_ARG, "%s: '%s' is a BiPer scale: only sign(W) * mean|W| (STE/ReSTE) weights export",
                       nnc_st_path(f), name);
  }
  snprintf(name, sizeof name, "fc%d.weight", L + 1);
  if (nnc_st_find(f, name))
    return nnc_error(NNC_ERR_FORMAT, "%s: has '%s': more layers than the model (%d binary layers)", nnc_st_path(f), name,
                     a.n_binary);
  /* layer 0 */
  if ((st = get_tensor(f, "fc0.weight", NNC_SHAPE(H, I), &t))) return st;
  p->w0 = nnc_xmalloc((size_t)(H * I));
  float *s0 = nnc_xmalloc((size_t)H * sizeof *s0);
  double *b0 = nnc_xcalloc((size_t)H, sizeof *b0);
  if (a.first_binary) {
    double s = mean_abs(t);
    const float *v = nnc_f32(t);
    for (int64_t i = 0; i < H * I; i++) p->w0[i] = v[i] >= 0 ? 1 : -1;
    for (int64_t c = 0; c < H; c++) s0[c] = (float)s;
  } else quantize_rows(t, p->w0, s0);
  if (nnc_st_find(f, "fc0.bias")) {
    if ((st = get_tensor(f, "fc0.bias", NNC_SHAPE(H), &t))) goto fail0;
    for (int64_t c = 0; c < H; c++) b0[c] = nnc_f32(t)[c];
  } else if (!a.first_binary) {
    st = nnc_error(NNC_ERR_FORMAT, "%s: missing tensor 'fc0.bias'", nnc_st_path(f));
    goto fail0;
  }
  p->A0 = nnc_xmalloc((size_t)H * sizeof *p->A0);
  p->B0 = nnc_xmalloc((size_t)H * sizeof *p->B0);
  for (int64_t c = 0; c < H; c++) {
    int64_t rs = 0;
    for (int64_t k = 0; k < I; k++) rs += p->w0[c * I + k];
    double s = s0[c];
    p->A0[c] = s / (255.0 * (double)NNC_FASHION_STD);
    p->B0[c] = b0[c] - s * ((double)NNC_FASHION_MEAN / (double)NNC_FASHION_STD) * (double)rs;
  }
fail0:
  free(s0);
  free(b0);
  if (st) return st;
  /* batch norms */
  static const char *const leaf[4] = {"weight", "bias", "running_mean", "running_var"};
  for (int l = 0; l < L; l++)
    for (int j = 0; j < 4; j++) {
      snprintf(name, sizeof name, "bn%d.%s", l, leaf[j]);
      if ((st = get_tensor(f, name, NNC_SHAPE(H), &t))) return st;
      p->bn[l][j] = f32_to_f64(t);
      if (j == 3)
        for (int64_t c = 0; c < H; c++)
          if (!(p->bn[l][3][c] >= 0) || !isfinite(p->bn[l][3][c]))
            return nnc_error(NNC_ERR_FORMAT, "%s: '%s' has a negative or non-finite variance", nnc_st_path(f), name);
    }
  /* binary layers */
  p->wb = nnc_xcalloc((size_t)(a.n_binary ? a.n_binary : 1), sizeof *p->wb);
  p->alpha = nnc_xcalloc((size_t)(a.n_binary ? a.n_binary : 1), sizeof *p->alpha);
  for (int k = 1; k <= a.n_binary; k++) {
    snprintf(name, sizeof name, "fc%d.weight", k);
    if ((st = get_tensor(f, name, NNC_SHAPE(H, H), &t))) return st;
    p->alpha[k - 1] = mean_abs(t);
    p->wb[k - 1] = nnc_xmalloc((size_t)(H * hw) * sizeof **p->wb);
    nnc_pack_signs_f32(H, H, nnc_f32(t), H, p->wb[k - 1]);
  }
  /* last layer */
  snprintf(name, sizeof name, "fc%d.weight", L);
  if ((st = get_tensor(f, name, NNC_SHAPE(C, H), &t))) return st;
  p->wl = nnc_xmalloc((size_t)(C * H));
  p->sl = nnc_xmalloc((size_t)C * sizeof *p->sl);
  p->bl = nnc_xcalloc((size_t)C, sizeof *p->bl);
  quantize_rows(t, p->wl, p->sl);
  snprintf(name, sizeof name, "fc%d.bias", L);
  if (nnc_st_find(f, name)) {
    if ((st = get_tensor(f, name, NNC_SHAPE(C), &t))) return st;
    memcpy(p->bl, nnc_f32(t), (size_t)C * sizeof *p->bl);
  }
  for (int l = 0; l < L; l++)
    for (int64_t c = 0; c < H; c++)
      for (int j = 0; j < 3; j++)
        if (!isfinite(p->bn[l][j][c])) return nnc_error(NNC_ERR_FORMAT, "%s: batch norm %d has non-finite values", nnc_st_path(f), l);
  bool finite = true;
  for (int64_t c = 0; c < H; c++) finite &= isfinite(p->A0[c]) && isfinite(p->B0[c]);
  for (int k = 0; k < a.n_binary; k++) finite &= isfinite(p->alpha[k]);
  for (int64_t c = 0; c < C; c++) finite &= isfinite(p->sl[c]) && isfinite(p->bl[c]);
  if (!finite) return nnc_error(NNC_ERR_FORMAT, "%s: the weights have non-finite values", nnc_st_path(f));
  return NNC_OK;
}

/* runs body with nnc tensors in a private arena and no gradients */
typedef struct {
  nnc_arena arena, *prev;
} scope;
static void scope_begin(scope *s) {
  nnc_arena_init(&s->arena);
  s->prev = nnc_arena_set_current(&s->arena);
  nnc_no_grad_begin();
}
static void scope_end(scope *s) {
  nnc_no_grad_end();
  nnc_arena_set_current(s->prev);
  nnc_arena_free(&s->arena);
}

nnc_status nnc_bmlp_plan_from(const nnc_st_file *f, const nnc_bmlp_arch *a, nnc_bmlp_plan *plan) {
  scope s;
  scope_begin(&s);
  nnc_status st = plan_from(f, a, plan);
  scope_end(&s);
  if (st) nnc_bmlp_plan_free(plan);
  return st;
}

/* ---- the float simulation ---- */
static nnc_tensor *vec64(const double *v, int64_t n) { return nnc_from_data(NNC_F64, 1, &n, v); }

/* acc [rows, H] (f64, integer values) of sign layer l -> +-1 [rows, H] */
static nnc_tensor *sim_post(const nnc_bmlp_plan *p, int l, nnc_tensor *acc) {
  const int64_t H = p->arch.hidden;
  nnc_tensor *A, *B;
  if (l == 0) A = vec64(p->A0, H), B = vec64(p->B0, H);
  else A = nnc_full(NNC_F64, p->alpha[l - 1], NNC_SHAPE(H)), B = nnc_zeros(NNC_F64, NNC_SHAPE(H));
  nnc_tensor *pre = nnc_add(nnc_mul(acc, A), B);
  nnc_tensor *y = nnc_batch_norm(pre, vec64(p->bn[l][0], H), vec64(p->bn[l][1], H), vec64(p->bn[l][2], H),
                                 vec64(p->bn[l][3], H), false, 0.1, BN_EPS);
  return nnc_sign_ste(y, 1.0);
}

static nnc_tensor *i8_to_f64(const int8_t *w, int64_t rows, int64_t cols) {
  nnc_tensor *t = nnc_empty(NNC_F64, NNC_SHAPE(rows, cols));
  double *d = nnc_f64(t);
  for (int64_t i = 0; i < rows * cols; i++) d[i] = w[i];
  return t;
}

static nnc_tensor *bits_to_f64(const uint64_t *w, int64_t rows, int64_t cols) {
  nnc_tensor *t = nnc_empty(NNC_F64, NNC_SHAPE(rows, cols));
  double *d = nnc_f64(t);
  int64_t kw = nnc_bits_words(cols);
  for (int64_t r = 0; r < rows; r++)
    for (int64_t c = 0; c < cols; c++) d[r * cols + c] = (w[r * kw + c / 64] >> (c % 64)) & 1 ? 1.0 : -1.0;
  return t;
}

void nnc_bmlp_simulate(const nnc_bmlp_plan *p, int64_t n, const uint8_t *x, int64_t *pred, double *scores,
                       uint64_t **hidden) {
  const nnc_bmlp_arch *a = &p->arch;
  const int64_t H = a->hidden, I = a->in, C = a->classes, hw = nnc_bits_words(H);
  scope s;
  scope_begin(&s);
  nnc_arena weights; /* the weights as f64 tensors, kept over the batches */
  nnc_arena_init(&weights);
  nnc_arena_set_current(&weights);
  nnc_tensor *W0 = i8_to_f64(p->w0, H, I), *WL = i8_to_f64(p->wl, C, H);
  nnc_tensor **WB = nnc_arena_alloc(&weights, (size_t)(a->n_binary + 1) * sizeof *WB);
  for (int k = 0; k < a->n_binary; k++) WB[k] = bits_to_f64(p->wb[k], H, H);
  double *sl = nnc_arena_alloc(&weights, (size_t)C * sizeof *sl), *bl = nnc_arena_alloc(&weights, (size_t)C * sizeof *bl);
  for (int64_t c = 0; c < C; c++) sl[c] = p->sl[c], bl[c] = p->bl[c];
  nnc_arena_set_current(&s.arena);
  for (int64_t r0 = 0; r0 < n; r0 += 500) {
    int64_t mb = n - r0 < 500 ? n - r0 : 500;
    nnc_tensor *xt = nnc_empty(NNC_F64, NNC_SHAPE(mb, I));
    for (int64_t i = 0; i < mb * I; i++) nnc_f64(xt)[i] = x[r0 * I + i];
    nnc_tensor *h = sim_post(p, 0, nnc_linear(xt, W0, NULL));
    for (int l = 0; l <= a->n_binary; l++) {
      if (l > 0) h = sim_post(p, l, nnc_linear(h, WB[l - 1], NULL));
      if (hidden && hidden[l]) nnc_pack_signs_f64(mb, H, nnc_f64(h), H, hidden[l] + r0 * hw);
    }
    nnc_tensor *sc = nnc_add(nnc_mul(nnc_linear(h, WL, NULL), vec64(sl, C)), vec64(bl, C));
    const double *v = nnc_f64(sc);
    for (int64_t i = 0; i < mb; i++) {
      int64_t best = 0;
      for (int64_t c = 0; c < C; c++) {
        if (v[i * C + c] > v[i * C + best]) best = c;
        if (scores) scores[(r0 + i) * C + c] = v[i * C + c];
      }
      if (pred) pred[r0 + i] = best;
    }
    nnc_arena_reset(&s.arena);
  }
  nnc_arena_free(&weights);
  scope_end(&s);
}

/* ---- thresholds ---- */
/* bit of sign layer l for acc = v[c] in every channel c */
static void post_bits(const nnc_bmlp_plan *p, int l, const int64_t *v, uint8_t *bit) {
  const int64_t H = p->arch.hidden;
  nnc_tensor *acc = nnc_empty(NNC_F64, NNC_SHAPE(1, H));
  for (int64_t c = 0; c < H; c++) nnc_f64(acc)[c] = (double)v[c];
  nnc_tensor *h = sim_post(p, l, acc);
  for (int64_t c = 0; c < H; c++) bit[c] = nnc_f64(h)[c] > 0;
}

/* tau/dir of sign layer l, acc in [lo, hi] */
static void find_thresholds(const nnc_bmlp_plan *p, int l, int64_t lo, int64_t hi, int32_t *tau, int8_t *dir) {
  const int64_t H = p->arch.hidden;
  int64_t *L = nnc_xmalloc((size_t)H * sizeof *L), *R = nnc_xmalloc((size_t)H * sizeof *R);
  int64_t *mid = nnc_xmalloc((size_t)H * sizeof *mid);
  uint8_t *blo = nnc_xmalloc((size_t)H), *bhi = nnc_xmalloc((size_t)H), *bm = nnc_xmalloc((size_t)H);
  for (int64_t c = 0; c < H; c++) L[c] = lo, R[c] = hi;
  post_bits(p, l, L, blo);
  post_bits(p, l, R, bhi);
  /* invariant: bit(L) = blo, bit(R) = bhi, the change lies in (L, R] */
  for (;;) {
    bool more = false;
    for (int64_t c = 0; c < H; c++) {
      bool open = blo[c] != bhi[c] && R[c] - L[c] > 1;
      mid[c] = open ? L[c] + (R[c] - L[c]) / 2 : L[c];
      more |= open;
    }
    if (!more) break;
    post_bits(p, l, mid, bm);
    for (int64_t c = 0; c < H; c++) {
      if (blo[c] == bhi[c] || R[c] - L[c] <= 1) continue;
      if (bm[c] == blo[c]) L[c] = mid[c];
      else R[c] = mid[c];
    }
  }
  for (int64_t c = 0; c < H; c++) {
    if (blo[c] == bhi[c]) { /* constant over the range */
      dir[c] = 1;
      tau[c] = (int32_t)(blo[c] ? lo : hi + 1);
    } else if (bhi[c]) { /* 0 up to L, 1 from R */
      dir[c] = 1;
      tau[c] = (int32_t)R[c];
    } else { /* 1 up to L, 0 from R */
      dir[c] = -1;
      tau[c] = (int32_t)L[c];
    }
  }
  free(L), free(R), free(mid), free(blo), free(bhi), free(bm);
}

/* every acc of the same parity as K in [-K, K] (binary layers), or a sample around the
 * thresholds (layer 0): the rule must give the simulation's bit */
static bool check_thresholds(const nnc_bmlp_plan *p, int l, int64_t lo, int64_t hi, int64_t step, const int32_t *tau,
                             const int8_t *dir, bool exhaustive) {
  const int64_t H = p->arch.hidden;
  int64_t *v = nnc_xmalloc((size_t)H * sizeof *v);
  uint8_t *b = nnc_xmalloc((size_t)H);
  bool ok = true;
  int64_t count = exhaustive ? (hi - lo) / step + 1 : 7;
  for (int64_t i = 0; i < count && ok; i++) {
    for (int64_t c = 0; c < H; c++) {
      if (exhaustive) v[c] = lo + i * step;
      else {
        static const int64_t off[7] = {-2, -1, 0, 1, 2, 0, 0};
        v[c] = i == 5 ? lo : i == 6 ? hi : tau[c] + off[i];
        if (v[c] < lo) v[c] = lo;
        if (v[c] > hi) v[c] = hi;
      }
    }
    post_bits(p, l, v, b);
    for (int64_t c = 0; c < H && ok; c++) {
      bool rule = dir[c] > 0 ? v[c] >= tau[c] : v[c] <= tau[c];
      ok = rule == (b[c] != 0);
    }
  }
  free(v);
  free(b);
  return ok;
}

nnc_status nnc_bmlp_to_imodel(const nnc_bmlp_plan *p, const char *desc, nnc_imodel *out) {
  const nnc_bmlp_arch *a = &p->arch;
  const int64_t H = a->hidden, I = a->in, C = a->classes;
  int32_t *tau = nnc_xmalloc((size_t)H * sizeof *tau);
  int8_t *dir = nnc_xmalloc((size_t)H);
  nnc_status st = NNC_OK;
  nnc_imodel_init(out, NNC_IMODEL_BINARY, I, C, NULL, desc);
  scope s;
  scope_begin(&s);
  for (int l = 0; l <= a->n_binary && !st; l++) {
    int64_t lo, hi;
    if (l == 0) { /* the exact range of acc0 over pixels 0..255 */
      lo = hi = 0;
      for (int64_t c = 0; c < H; c++) {
        int64_t neg = 0, pos = 0;
        for (int64_t k = 0; k < I; k++) {
          int64_t v = p->w0[c * I + k] * 255;
          if (v < 0) neg += v;
          else pos += v;
        }
        if (neg < lo) lo = neg;
        if (pos > hi) hi = pos;
      }
    } else lo = -H, hi = H;
    find_thresholds(p, l, lo, hi, tau, dir);
    if (!check_thresholds(p, l, l ? -H : lo, hi, 2, tau, dir, l > 0))
      st = nnc_error(NNC_ERR_NUMERIC, "binary export: the thresholds of layer %d do not reproduce the simulation", l);
    else if (l == 0) {
      if (a->first_binary) {
        uint64_t *bits = nnc_xmalloc((size_t)(H * nnc_bits_words(I)) * sizeof *bits);
        for (int64_t c = 0; c < H; c++)
          for (int64_t w = 0; w < nnc_bits_words(I); w++) {
            uint64_t v = 0;
            for (int64_t k = w * 64; k < I && k < w * 64 + 64; k++) v |= (uint64_t)(p->w0[c * I + k] > 0) << (k - w * 64);
            bits[c * nnc_bits_words(I) + w] = v;
          }
        nnc_imodel_add_u8_sign(out, I, H, NULL, bits, tau, dir);
        free(bits);
      } else nnc_imodel_add_u8_sign(out, I, H, p->w0, NULL, tau, dir);
    } else nnc_imodel_add_bin_sign(out, H, H, p->wb[l - 1], tau, dir);
    nnc_arena_reset(&s.arena);
  }
  scope_end(&s);
  if (!st) {
    nnc_imodel_add_bin_score(out, H, C, p->wl, p->sl, p->bl);
    st = nnc_imodel_prepare(out);
  }
  free(tau);
  free(dir);
  if (st) nnc_imodel_free(out);
  return st;
}

/* ---- the export ---- */
static int64_t file_size(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return -1;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fclose(f);
  return n;
}

nnc_status nnc_bmlp_export(const char *weights, const char *model, const char *out, const char *data_dir,
                           nnc_export_report *rep) {
  memset(rep, 0, sizeof *rep);
  nnc_bmlp_arch a;
  if (!nnc_bmlp_arch_of(model, &a)) return nnc_error(NNC_ERR_ARG, "binary export: unknown model '%s'", model);
  nnc_st_file *f;
  nnc_status st = nnc_st_read(weights, &f);
  if (st) return st;
  const char *trained = nnc_st_metadata(f, "model");
  if (trained && (strcmp(trained, "binary-mlp") == 0 || strcmp(trained, "binary-mlp-1bit") == 0) &&
      strcmp(trained, model) != 0) {
    st = nnc_error(NNC_ERR_ARG, "%s: these weights are a %s, not a %s (--model)", weights, trained, model);
    nnc_st_free(f);
    return st;
  }
  nnc_bmlp_plan plan;
  if ((st = nnc_bmlp_plan_from(f, &a, &plan))) {
    nnc_st_free(f);
    return st;
  }
  char desc[512];
  snprintf(desc, sizeof desc, "%s: %lld-%lld(x%d binary)-%lld binary MLP from %s", model, (long long)a.in,
           (long long)a.hidden, a.n_binary, (long long)a.classes, weights);
  for (char *c = desc; *c; c++)
    if (*c < 32 || *c > 126) *c = '?';
  nnc_imodel m, back;
  if ((st = nnc_bmlp_to_imodel(&plan, desc, &m))) goto done_plan;
  st = nnc_imodel_save(&m, out);
  nnc_imodel_free(&m);
  if (st) goto done_plan;
  if ((st = nnc_imodel_load(out, &back))) goto done_plan;
  rep->file_bytes = file_size(out);
  rep->st_bytes = file_size(weights);

  nnc_dataset test;
  if ((st = nnc_fashion_load(data_dir, false, &test))) goto done_model;
  const int64_t n = test.n, H = a.hidden, hw = nnc_bits_words(H);
  rep->n_test = n;
  uint8_t *px = nnc_xmalloc((size_t)(n * a.in));
  int64_t *pf = nnc_xmalloc((size_t)n * sizeof *pf), *ps = nnc_xmalloc((size_t)n * sizeof *ps);
  int64_t *pm = nnc_xmalloc((size_t)n * sizeof *pm);
  uint64_t *hs[NNC_IMODEL_MAX_LAYERS] = {0};
  void *hm[NNC_IMODEL_MAX_LAYERS] = {0};
  for (int l = 0; l <= a.n_binary; l++) {
    hs[l] = nnc_xmalloc((size_t)(n * hw) * 8);
    hm[l] = nnc_xmalloc((size_t)(n * hw) * 8);
  }
  if (!(st = nnc_fashion_pixels(&test, px))) {
    /* the trained float model */
    nnc_params P, B;
    nnc_params_init(&P, NNC_F32);
    nnc_params_init(&B, NNC_F32);
    nnc_binary_cfg cfg = nnc_binary_cfg_default(NNC_BIN_STE);
    nnc_rng rng;
    nnc_rng_seed(&rng, 0, 1);
    nnc_sequential_mod *net = nnc_bmlp_build(&P, &B, &a, &cfg, &rng);
    st = nnc_params_load_from(&P, f, NULL, false);
    if (!st) st = nnc_params_load_from(&B, f, NULL, false);
    if (!st) module_predict(&net->base, &test, n, pf);
    nnc_module_free(&net->base);
    nnc_params_free(&P);
    nnc_params_free(&B);
  }
  if (!st) {
    nnc_bmlp_simulate(&plan, n, px, ps, NULL, hs);
    nnc_imodel_forward(&back, n, px, pm, NULL, hm);
    const int64_t *y = nnc_i64(test.y);
    int64_t cf = 0, cs = 0, cm = 0;
    for (int64_t i = 0; i < n; i++) {
      cf += pf[i] == y[i];
      cs += ps[i] == y[i];
      cm += pm[i] == y[i];
      rep->pred_diff_sim += pm[i] != ps[i];
      rep->pred_diff_float += pm[i] != pf[i];
    }
    for (int l = 0; l <= a.n_binary; l++)
      for (int64_t i = 0; i < n * hw; i++) rep->value_diff += __builtin_popcountll(hs[l][i] ^ ((uint64_t *)hm[l])[i]);
    rep->float_acc = (double)cf / (double)n;
    rep->sim_acc = (double)cs / (double)n;
    rep->file_acc = (double)cm / (double)n;
    snprintf(rep->isa, sizeof rep->isa, "%s+%s", nnc_infer_bin_isa(), nnc_infer_q8_isa());
  }
  for (int l = 0; l <= a.n_binary; l++) free(hs[l]), free(hm[l]);
  free(px), free(pf), free(ps), free(pm);
  nnc_dataset_free(&test);
done_model:
  nnc_imodel_free(&back);
done_plan:
  nnc_bmlp_plan_free(&plan);
  nnc_st_free(f);
  return st;
}
