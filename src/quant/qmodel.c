/* quant/qmodel.c: batch-norm folding, the fake-quantised model (PTQ and QAT), its integer
 * export and the float64 simulation of the integer model (see qmodel.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "autograd/autograd.h"
#include "core/error.h"
#include "core/rng.h"
#include "nn/act.h"
#include "ops/ops.h"
#include "quant/qmodel.h"

/* ---- batch-norm folding ---- */
static double get_or(const nnc_tensor *t, int64_t i, double dflt) { return t ? nnc_get(t, i) : dflt; }

void nnc_bn_fold(const nnc_tensor *w, const nnc_tensor *b, const nnc_tensor *gamma, const nnc_tensor *beta,
                 const nnc_tensor *mean, const nnc_tensor *var, double eps, nnc_tensor *w_out, nnc_tensor *b_out) {
  char s1[96], s2[96];
  NNC_CHECK(w->ndim >= 1 && nnc_same_shape(w, w_out), "bn_fold", "weight %s and output %s",
            nnc_shape_str(w, s1, 96), nnc_shape_str(w_out, s2, 96));
  int64_t O = w->shape[0], row = nnc_numel(w) / (O ? O : 1);
  const nnc_tensor *vecs[5] = {b, gamma, beta, mean, var};
  const char *names[5] = {"bias", "gamma", "beta", "mean", "var"};
  NNC_CHECK(mean && var, "bn_fold", "running mean and variance are required");
  for (int k = 0; k < 5; k++)
    NNC_CHECK(!vecs[k] || nnc_numel(vecs[k]) == O, "bn_fold", "%s %s for %lld output channels", names[k],
              nnc_shape_str(vecs[k], s1, 96), (long long)O);
  NNC_CHECK(nnc_numel(b_out) == O, "bn_fold", "bias output %s for %lld channels", nnc_shape_str(b_out, s1, 96),
            (long long)O);
  for (int64_t c = 0; c < O; c++) {
    double g = get_or(gamma, c, 1), be = get_or(beta, c, 0), mu = nnc_get(mean, c), v = nnc_get(var, c);
    double bb = get_or(b, c, 0);
    double k = g / sqrt(v + eps);
    for (int64_t j = 0; j < row; j++) nnc_set(w_out, c * row + j, nnc_get(w, c * row + j) * k);
    nnc_set(b_out, c, k * (bb - mu) + be);
  }
  nnc_bump_version(w_out);
  nnc_bump_version(b_out);
}

static bool is_kind(const nnc_module *m, const char *kind) { return strcmp(m->kind, kind) == 0; }

nnc_status nnc_fold_bn_sequential(const nnc_sequential_mod *src, nnc_params *params, nnc_sequential_mod **out) {
  *out = NULL;
  const nnc_module *sb = &src->base;
  for (int i = 0; i < sb->n_children; i++) {
    const nnc_module *c = sb->children[i];
    if (is_kind(c, "BatchNorm") && (i == 0 || !is_kind(sb->children[i - 1], "Linear")))
      return nnc_error(NNC_ERR_ARG, "fold_bn: BatchNorm '%s' does not follow a Linear", c->name);
    if (!is_kind(c, "Linear") && !is_kind(c, "BatchNorm") && !is_kind(c, "Activation") && !is_kind(c, "Flatten") &&
        !is_kind(c, "Dropout"))
      return nnc_error(NNC_ERR_ARG, "fold_bn: cannot copy a %s module ('%s')", c->kind, c->name);
  }
  nnc_sequential_mod *dst = nnc_new_sequential(sb->name);
  nnc_rng rng;
  nnc_rng_seed(&rng, 0, 0); /* the new Linears' initial values are overwritten */
  for (int i = 0; i < sb->n_children; i++) {
    const nnc_module *c = sb->children[i];
    if (is_kind(c, "Linear")) {
      const nnc_linear_mod *l = (const nnc_linear_mod *)c;
      const nnc_batchnorm_mod *bn =
          i + 1 < sb->n_children && is_kind(sb->children[i + 1], "BatchNorm") ? (const nnc_batchnorm_mod *)sb->children[i + 1] : NULL;
      if (bn && bn->channels != l->out) {
        nnc_module_free(&dst->base);
        return nnc_error(NNC_ERR_ARG, "fold_bn: BatchNorm '%s' has %lld channels after Linear '%s' with %lld outputs",
                         bn->base.name, (long long)bn->channels, l->base.name, (long long)l->out);
      }
      nnc_linear_mod *nl = nnc_new_linear(params, l->base.name, l->in, l->out, bn || l->bias, &rng);
      if (bn) nnc_bn_fold(l->weight, l->bias, bn->weight, bn->bias, bn->running_mean, bn->running_var, bn->eps, nl->weight, nl->bias);
      else {
        nnc_copy_into(nl->weight, l->weight);
        if (l->bias) nnc_copy_into(nl->bias, l->bias);
      }
      nnc_sequential_add(dst, &nl->base);
    } else if (is_kind(c, "BatchNorm")) {
      continue; /* folded into the Linear before it */
    } else if (is_kind(c, "Activation")) {
      const nnc_act_mod *a = (const nnc_act_mod *)c;
      nnc_sequential_add(dst, &nnc_new_act(a->act, a->param)->base);
    } else if (is_kind(c, "Flatten")) {
      const nnc_flatten_mod *f = (const nnc_flatten_mod *)c;
      nnc_sequential_add(dst, &nnc_new_flatten(f->start, f->end)->base);
    } else { /* Dropout */
      const nnc_dropout_mod *d = (const nnc_dropout_mod *)c;
      nnc_dropout_mod *nd = nnc_new_dropout(d->p, 0, 0);
      nd->rng = d->rng;
      nnc_sequential_add(dst, &nd->base);
    }
  }
  nnc_module_train(&dst->base, sb->training);
  *out = dst;
  return NNC_OK;
}

/* ---- the quantised model ---- */
static void act_range(int bits, bool is_signed, int32_t *qn, int32_t *qp) {
  if (is_signed) {
    *qn = 1 << (bits - 1);
    *qp = (1 << (bits - 1)) - 1;
  } else {
    *qn = 0;
    *qp = (1 << bits) - 1;
  }
}

static void check_config(const nnc_qconfig *c) {
  NNC_CHECK(c->w_bits == 0 || (c->w_bits >= 2 && c->w_bits <= 8), "qmodel", "w_bits %d: 0 or 2..8", c->w_bits);
  NNC_CHECK(c->a_bits == 0 || (c->a_bits >= 2 && c->a_bits <= 8), "qmodel", "a_bits %d: 0 or 2..8", c->a_bits);
}

/* the quantisation point k (0..n-1: input of Linear k; n: output) */
static nnc_qobserver *point_obs(nnc_qmodel *q, int k) { return k < q->n ? &q->layers[k].obs : &q->out_obs; }
static nnc_qparams *point_qp(nnc_qmodel *q, int k) { return k < q->n ? &q->layers[k].a : &q->out; }
static nnc_tensor *point_step(nnc_qmodel *q, int k) { return k < q->n ? q->layers[k].a_step : q->out_step; }
static bool point_signed(nnc_qmodel *q, int k) { return k < q->n ? q->layers[k].a_signed : q->out_signed; }

static nnc_tensor *quant_point(nnc_qmodel *q, int k, nnc_tensor *x) {
  if (q->observing) {
    nnc_qobserver_add(point_obs(q, k), x);
  } else if (q->cfg.a_bits > 0) {
    if (q->cfg.lsq) {
      nnc_tensor *s = point_step(q, k);
      NNC_CHECK(s, "qmodel", "LSQ is on but no steps were made (nnc_qmodel_init_lsq)");
      int32_t qn, qp;
      act_range(q->cfg.a_bits, point_signed(q, k), &qn, &qp);
      double g = q->cfg.lsq_unscaled ? 1.0 : nnc_lsq_grad_scale(x->ndim ? x->shape[x->ndim - 1] : 1, qp);
      x = nnc_lsq(x, s, qn, qp, g);
    } else {
      NNC_CHECK(q->observed, "qmodel", "activation quantisation needs nnc_qmodel_observe first");
      x = nnc_fake_quant_qp(x, point_qp(q, k), q->base.training ? q->cfg.ste : NNC_STE);
    }
  }
  if (q->capture) q->capture[k] = x;
  return x;
}

static void refresh_weight_qparams(nnc_qmodel *q, nnc_qlayer *L) {
  const nnc_tensor *w = L->lin->weight;
  if (L->w.scale && L->w_data == w->storage->data && L->w_version == w->storage->version &&
      L->w_bits_made == q->cfg.w_bits)
    return;
  nnc_qparams_free(&L->w);
  nnc_qparams_calibrate(&L->w, w, nnc_qscheme_weight(q->cfg.w_bits), q->cfg.w_calib, q->cfg.w_per_channel);
  L->w_data = w->storage->data;
  L->w_version = w->storage->version;
  L->w_bits_made = q->cfg.w_bits;
}

static nnc_tensor *quant_weight(nnc_qmodel *q, nnc_qlayer *L) {
  nnc_tensor *w = L->lin->weight;
  if (q->cfg.w_bits == 0) return w;
  int32_t qp = (1 << (q->cfg.w_bits - 1)) - 1;
  if (q->cfg.lsq) {
    NNC_CHECK(L->w_step, "qmodel", "LSQ is on but no steps were made (nnc_qmodel_init_lsq)");
    int64_t per = nnc_numel(w) / nnc_numel(L->w_step);
    return nnc_lsq(w, L->w_step, qp, qp, q->cfg.lsq_unscaled ? 1.0 : nnc_lsq_grad_scale(per, qp));
  }
  refresh_weight_qparams(q, L);
  return nnc_fake_quant_qp(w, &L->w, q->base.training ? q->cfg.ste : NNC_STE);
}

static nnc_tensor *qmodel_forward(nnc_module *m, nnc_tensor *x) {
  nnc_qmodel *q = (nnc_qmodel *)m;
  nnc_module *net = &q->net->base;
  if (net->training != m->training) nnc_module_train(net, m->training);
  int k = 0;
  for (int i = 0; i < net->n_children; i++) {
    nnc_module *c = net->children[i];
    if (is_kind(c, "Linear")) {
      nnc_qlayer *L = &q->layers[k];
      x = quant_point(q, k, x);
      x = nnc_linear(x, q->observing ? L->lin->weight : quant_weight(q, L), L->lin->bias);
      k++;
    } else {
      x = nnc_forward(c, x);
    }
  }
  return quant_point(q, q->n, x);
}

static void qmodel_describe(const nnc_module *m, char *buf, size_t size) {
  const nnc_qmodel *q = (const nnc_qmodel *)m;
  snprintf(buf, size, "w_bits=%d%s (%s), a_bits=%d (%s)%s", q->cfg.w_bits, q->cfg.w_per_channel ? " per-channel" : "",
           nnc_calib_name(q->cfg.w_calib.method), q->cfg.a_bits, nnc_calib_name(q->cfg.a_calib.method),
           q->cfg.lsq ? ", lsq" : "");
}

nnc_status nnc_new_qmodel(nnc_sequential_mod *net, nnc_qconfig cfg, nnc_qmodel **out) {
  *out = NULL;
  check_config(&cfg);
  int n = 0;
  for (int i = 0; i < net->base.n_children; i++) {
    const nnc_module *c = net->base.children[i];
    if (is_kind(c, "Linear")) n++;
    else if (!is_kind(c, "Activation") && !is_kind(c, "Flatten") && !is_kind(c, "Dropout"))
      return nnc_error(NNC_ERR_ARG, "qmodel: cannot quantise a %s module ('%s'); fold BatchNorm first", c->kind,
                       c->name);
  }
  if (n == 0) return nnc_error(NNC_ERR_ARG, "qmodel: the model has no Linear layer");
  nnc_qmodel *q = nnc_module_alloc(sizeof *q, "QuantizedModel", net->base.name, qmodel_forward, qmodel_describe);
  q->net = net;
  q->cfg = cfg;
  q->n = n;
  q->layers = nnc_xcalloc((size_t)n, sizeof *q->layers);
  for (int i = 0, k = 0; i < net->base.n_children; i++)
    if (is_kind(net->base.children[i], "Linear")) q->layers[k++].lin = (nnc_linear_mod *)net->base.children[i];
  q->base.training = net->base.training;
  *out = q;
  return NNC_OK;
}

void nnc_qmodel_free(nnc_qmodel *q) {
  if (!q) return;
  for (int k = 0; k < q->n; k++) {
    nnc_qparams_free(&q->layers[k].w);
    nnc_qparams_free(&q->layers[k].a);
    nnc_qobserver_free(&q->layers[k].obs);
  }
  nnc_qparams_free(&q->out);
  nnc_qobserver_free(&q->out_obs);
  free(q->layers);
  nnc_module_free(&q->base);
}

void nnc_qmodel_set_config(nnc_qmodel *q, nnc_qconfig cfg) {
  check_config(&cfg);
  NNC_CHECK(!cfg.lsq || q->cfg.lsq, "qmodel", "set lsq through nnc_qmodel_init_lsq (it makes the steps)");
  q->cfg = cfg;
  for (int k = 0; k <= q->n; k++) {
    nnc_qparams *qp = point_qp(q, k);
    nnc_qparams_free(qp);
    if (cfg.a_bits > 0 && q->observed) {
      double lo, hi;
      nnc_qscheme s = nnc_qscheme_act(cfg.a_bits);
      nnc_qobserver_range(point_obs(q, k), s, cfg.a_calib, &lo, &hi);
      nnc_qparams_from_range(qp, s, lo, hi);
    }
  }
  for (int k = 0; k < q->n; k++) q->layers[k].w_data = NULL; /* weight parameters at the next forward */
}

void nnc_qmodel_observe(nnc_qmodel *q, const nnc_dataset *data, int64_t n) {
  NNC_CHECK(n >= 1 && n <= data->n, "qmodel_observe", "%lld examples of %lld", (long long)n, (long long)data->n);
  for (int k = 0; k <= q->n; k++) {
    nnc_qobserver_free(point_obs(q, k));
    nnc_qobserver_init(point_obs(q, k), 0);
  }
  bool was_training = q->base.training;
  nnc_module_train(&q->base, false);
  q->observing = true;
  nnc_no_grad_begin();
  const int64_t B = 256;
  int64_t *idx = nnc_xmalloc((size_t)B * sizeof *idx);
  int64_t shape[NNC_MAX_DIMS];
  memcpy(shape, data->x->shape, sizeof shape);
  for (int64_t start = 0; start < n; start += B) {
    int64_t m = n - start < B ? n - start : B;
    for (int64_t i = 0; i < m; i++) idx[i] = start + i;
    shape[0] = m;
    nnc_tensor *x = nnc_empty(data->x->dtype, data->x->ndim, shape);
    nnc_dataset_gather(data, idx, m, x, NULL);
    nnc_forward(&q->base, x);
    nnc_step_end();
  }
  free(idx);
  nnc_no_grad_end();
  q->observing = false;
  q->observed = true;
  nnc_module_train(&q->base, was_training);
  nnc_qmodel_set_config(q, q->cfg);
}

static nnc_tensor *add_step(nnc_params *p, const char *prefix, const char *leaf, int ndim, const int64_t *shape) {
  char name[256];
  nnc_tensor *t = nnc_params_add(p, nnc_module_join(prefix, leaf, name, sizeof name), ndim, shape);
  NNC_CHECK(t->dtype == NNC_F32, "qmodel", "LSQ steps need an f32 parameter block");
  return t;
}

void nnc_qmodel_init_lsq(nnc_qmodel *q, nnc_params *params, bool from_calibration) {
  const nnc_qconfig *c = &q->cfg;
  NNC_CHECK(c->w_bits > 0 || c->a_bits > 0, "qmodel", "LSQ needs w_bits or a_bits");
  NNC_CHECK(c->a_bits == 0 || q->observed, "qmodel", "LSQ for activations needs nnc_qmodel_observe first");
  for (int k = 0; k < q->n; k++) {
    nnc_qlayer *L = &q->layers[k];
    if (c->w_bits > 0 && !L->w_step) {
      int32_t qp = (1 << (c->w_bits - 1)) - 1;
      int64_t O = L->lin->out, I = L->lin->in;
      L->w_step = c->w_per_channel ? add_step(params, L->lin->base.name, "weight_step", 2, (int64_t[]){O, 1})
                                   : add_step(params, L->lin->base.name, "weight_step", 1, (int64_t[]){1});
      if (from_calibration) refresh_weight_qparams(q, L);
      NNC_CHECK(nnc_is_contiguous(L->lin->weight), "qmodel", "weights must be contiguous");
      const float *w = nnc_f32(L->lin->weight);
      int64_t ns = c->w_per_channel ? O : 1, per = O * I / ns;
      for (int64_t j = 0; j < ns; j++)
        nnc_f32(L->w_step)[j] = from_calibration ? L->w.scale[L->w.n == 1 ? 0 : j] : (float)nnc_lsq_init_step(w + j * per, per, qp);
      nnc_bump_version(L->w_step);
    }
  }
  if (c->a_bits > 0)
    for (int k = 0; k <= q->n; k++) {
      nnc_tensor **sp = k < q->n ? &q->layers[k].a_step : &q->out_step;
      if (*sp) continue;
      nnc_qobserver *o = point_obs(q, k);
      bool sgn = o->min < 0;
      if (k < q->n) q->layers[k].a_signed = sgn;
      else q->out_signed = sgn;
      int32_t qn, qp;
      act_range(c->a_bits, sgn, &qn, &qp);
      *sp = add_step(params, k < q->n ? q->layers[k].lin->base.name : "", k < q->n ? "input_step" : "output_step", 1,
                     (int64_t[]){1});
      double step = from_calibration ? (double)point_qp(q, k)->scale[0] : nnc_lsq_init_step(o->v, o->n, qp);
      nnc_f32(*sp)[0] = (float)step;
      nnc_bump_version(*sp);
    }
  q->cfg.lsq = true;
}

/* ---- integer export ---- */
/* the activation quantiser at point k as (scale, zero) on uint8 codes [0, 2^bits - 1] */
static void point_affine(nnc_qmodel *q, int k, float *scale, int32_t *zero) {
  if (q->cfg.lsq) {
    nnc_tensor *s = point_step(q, k);
    NNC_CHECK(s, "qmodel", "LSQ steps missing");
    *scale = nnc_f32(s)[0];
    *zero = point_signed(q, k) ? 1 << (q->cfg.a_bits - 1) : 0; /* signed codes shifted by 2^(b-1) */
  } else {
    nnc_qparams *qp = point_qp(q, k);
    NNC_CHECK(qp->scale, "qmodel", "activation parameters missing (nnc_qmodel_observe)");
    *scale = qp->scale[0];
    *zero = qp->zero[0];
  }
}

nnc_status nnc_qmodel_to_qmlp(nnc_qmodel *q, nnc_qmlp *out) {
  memset(out, 0, sizeof *out);
  const nnc_qconfig *c = &q->cfg;
  if (c->w_bits < 2 || c->w_bits > 8 || c->a_bits < 2 || c->a_bits > 8)
    return nnc_error(NNC_ERR_ARG, "qmlp: needs 2..8-bit weights and activations (have w%d a%d)", c->w_bits, c->a_bits);
  if (!c->lsq && !q->observed) return nnc_error(NNC_ERR_ARG, "qmlp: call nnc_qmodel_observe first");
  /* which Linears are followed by a ReLU */
  bool *relu = nnc_xcalloc((size_t)q->n, sizeof *relu);
  const nnc_module *net = &q->net->base;
  for (int i = 0, k = -1; i < net->n_children; i++) {
    const nnc_module *m = net->children[i];
    if (is_kind(m, "Linear")) k++;
    else if (is_kind(m, "Activation")) {
      const nnc_act_mod *a = (const nnc_act_mod *)m;
      if (k < 0 || (a->act != NNC_ACT_RELU && a->act != NNC_ACT_IDENTITY) || (a->act == NNC_ACT_RELU && relu[k])) {
        free(relu);
        return nnc_error(NNC_ERR_ARG, "qmlp: a %s activation at child %d cannot be fused (only one ReLU after a Linear)",
                         nnc_act_name(a->act), i);
      }
      relu[k] = a->act == NNC_ACT_RELU;
    } else if (is_kind(m, "Flatten") && k >= 0) {
      free(relu);
      return nnc_error(NNC_ERR_ARG, "qmlp: Flatten after a Linear is not supported");
    }
  }
  out->n = q->n;
  out->layers = nnc_xcalloc((size_t)q->n, sizeof *out->layers);
  int32_t amax = (1 << c->a_bits) - 1, wq = (1 << (c->w_bits - 1)) - 1;
  for (int k = 0; k < q->n; k++) {
    nnc_qlayer *QL = &q->layers[k];
    nnc_qlinear *L = &out->layers[k];
    const nnc_tensor *w = QL->lin->weight, *b = QL->lin->bias;
    nnc_qlinear_alloc(L, QL->lin->in, QL->lin->out);
    point_affine(q, k, &L->in_scale, &L->in_zero);
    point_affine(q, k + 1, &L->out_scale, &L->out_zero);
    if (!c->lsq) refresh_weight_qparams(q, QL);
    for (int64_t o = 0; o < L->out; o++) {
      float S;
      if (c->lsq) S = nnc_f32(QL->w_step)[nnc_numel(QL->w_step) == 1 ? 0 : o];
      else S = QL->w.scale[QL->w.n == 1 ? 0 : o];
      L->w_scale[o] = S;
      for (int64_t i = 0; i < L->in; i++)
        L->w[o * L->in + i] = (int8_t)nnc_quantize_f32((float)nnc_get(w, o * L->in + i), S, 0, -wq, wq);
      double qb = b ? nearbyint(nnc_get(b, o) / ((double)S * (double)L->in_scale)) : 0;
      L->bias[o] = (int32_t)fmin(fmax(qb, (double)INT32_MIN), (double)INT32_MAX);
    }
    L->out_min = relu[k] ? L->out_zero : 0;
    L->out_max = amax;
    L->in_max = amax;
    nnc_qlinear_finish(L);
  }
  free(relu);
  return NNC_OK;
}

/* ---- the float64 simulation of the integer model ---- */
/* MBQM in double, exactly: acc, mult, shift as in nnc_multiply_by_quantized_multiplier */
static double requant_f64(double acc, double mult, int shift) {
  double a = acc;
  if (shift > 0) a = fmin(fmax(a * ldexp(1, shift), -2147483648.0), 2147483647.0);
  int right = shift > 0 ? 0 : -shift;
  /* SRDHM: floor((a * mult + 2^30) / 2^31), with a * mult split so every step is exact:
   * mult = mh 2^16 + ml, a mh = q1 2^15 + r1 */
  double mh = floor(mult / 65536.0), ml = mult - mh * 65536.0;
  double p1 = a * mh; /* |.| < 2^46 */
  double q1 = floor(p1 / 32768.0), r1 = p1 - q1 * 32768.0;
  double p2 = a * ml + 1073741824.0; /* |.| < 2^48 */
  double h = q1 + floor((r1 * 65536.0 + p2) / 2147483648.0);
  /* RDBPOT: ties away from zero */
  double t = h / ldexp(1, right);
  return t >= 0 ? floor(t + 0.5) : ceil(t - 0.5);
}

nnc_tensor *nnc_qmlp_simulate_f64(const nnc_qmlp *m, nnc_tensor *x, nnc_tensor **codes) {
  char b[96];
  NNC_CHECK(m->n > 0, "qmlp_simulate", "no layers");
  NNC_CHECK(x->dtype == NNC_F32 && x->ndim == 2 && x->shape[1] == m->layers[0].in, "qmlp_simulate",
            "input %s %s for %lld features", nnc_dtype_name(x->dtype), nnc_shape_str(x, b, 96),
            (long long)m->layers[0].in);
  nnc_no_grad_begin();
  int64_t B = x->shape[0];
  const nnc_qlinear *L0 = &m->layers[0];
  nnc_tensor *xc = nnc_contiguous(x);
  nnc_tensor *cur = nnc_empty(NNC_F64, NNC_SHAPE(B, L0->in)); /* codes of the input */
  for (int64_t i = 0; i < B * L0->in; i++)
    nnc_f64(cur)[i] = (double)nnc_quantize_f32(nnc_f32(xc)[i], L0->in_scale, L0->in_zero, 0, L0->in_max);
  for (int l = 0; l < m->n; l++) {
    const nnc_qlinear *L = &m->layers[l];
    nnc_tensor *W = nnc_empty(NNC_F64, NNC_SHAPE(L->out, L->in)), *bias = nnc_empty(NNC_F64, NNC_SHAPE(L->out));
    for (int64_t i = 0; i < L->out * L->in; i++) nnc_f64(W)[i] = L->w[i];
    for (int64_t o = 0; o < L->out; o++) nnc_f64(bias)[o] = L->bias[o];
    nnc_tensor *acc = nnc_linear(nnc_shift(cur, -(double)L->in_zero), W, bias);
    nnc_tensor *y = nnc_empty(NNC_F64, NNC_SHAPE(B, L->out));
    const double *pa = nnc_f64(acc);
    double *py = nnc_f64(y);
    for (int64_t i = 0; i < B; i++)
      for (int64_t o = 0; o < L->out; o++) {
        double v = (double)L->out_zero + requant_f64(pa[i * L->out + o], (double)L->mult[o], L->shift[o]);
        py[i * L->out + o] = fmin(fmax(v, (double)L->out_min), (double)L->out_max);
      }
    if (codes) codes[l] = y;
    cur = y;
  }
  nnc_no_grad_end();
  return cur;
}
