/* nn/binary.c: sign binarisers with hand-written estimators (custom ops) and the binary
 * layers built on them (see binary.h). */
#include <math.h>
#include <stdio.h>
#include "autograd/autograd.h"
#include "core/error.h"
#include "nn/binary.h"
#include "nn/init.h"
#include "nn/layers.h"
#include "nn/norm.h"
#include "nn/norm2d.h"

/* ---- scalar maths ---- */
double nnc_ste_grad(double x, double clip) { return fabs(x) <= clip ? 1.0 : 0.0; }

#define RESTE_INTERVAL 0.1 /* hard-coded in the official code */
/* iv: the edge of the centre interval, 0.1 rounded to the input's precision (PyTorch compares
 * a float32 tensor with the float32 rounding of 0.1 and of t) */
static inline double reste_centre(double o) { return pow(RESTE_INTERVAL, 1.0 / o) / RESTE_INTERVAL; }
static inline double reste_grad_iv(double x, double o, double t, double iv, double centre) {
  double a = fabs(x);
  if (a > t) return 0.0;
  if (a <= iv) return centre;
  return pow(a, (1.0 - o) / o) / o;
}
double nnc_reste_grad(double x, double o, double t) {
  return reste_grad_iv(x, o, t, RESTE_INTERVAL, reste_centre(o));
}

double nnc_reste_fo(double x, double o) { return x > 0 ? pow(x, 1.0 / o) : -pow(-x, 1.0 / o); }

double nnc_periodic_grad(double w, double omega) { return omega * cos(omega * w); }

double nnc_triangle_grad(double x) {
  double g = 2.0 - 2.0 * fabs(x);
  return g > 0 ? g : 0.0;
}

double nnc_reste_o_schedule(int epoch, int epochs, double o_end) {
  if (epochs <= 0) return 1.0;
  return 1.0 + (o_end - 1.0) * (1.0 - cos(M_PI / 2 * (double)epoch / (double)epochs));
}

/* ---- the binariser custom ops ----
 * One forward and one backward shared by the four estimators: ctx->i[0] names the kind,
 * ctx->f[] holds its numbers.  Forward saves the (contiguous) input; backward multiplies the
 * output gradient by the estimator's derivative at each input value. */
enum { K_STE, K_RESTE, K_PERIODIC, K_TRIANGLE };

/* sign(sin(u)) without a sine: +1 on [2k pi, (2k+1) pi), -1 on [(2k+1) pi, (2k+2) pi) (the
 * square wave, closed on the left so that u = 0 gives +1; sin itself rounds to either sign at
 * u = k pi for k != 0, a set of measure zero) */
static inline double square_wave(double u) {
  if (isnan(u)) return u;
  double k = floor(u * (1.0 / M_PI));
  return fmod(k, 2.0) == 0 ? 1.0 : -1.0;
}
double nnc_square_wave(double w, double omega) { return square_wave(omega * w); }

static inline double bin_forward(int kind, double x, const double *f) {
  return kind == K_PERIODIC ? square_wave(f[0] * x) : nnc_sign_pm1(x);
}
static inline double bin_grad(int kind, double x, const double *f) {
  switch (kind) {
  case K_STE: return nnc_ste_grad(x, f[0]);
  case K_RESTE: return reste_grad_iv(x, f[0], f[1], f[2], f[3]);
  case K_PERIODIC: return nnc_periodic_grad(x, f[0]);
  default: return nnc_triangle_grad(x);
  }
}

#define PAR_MIN 65536
/* the attributes reach the forward through `user` (it is read during the forward only); the
 * forward copies them into ctx->f / ctx->i, which nnc_custom keeps on the node for backward */
typedef struct {
  int kind;
  double f[3];
} bin_attr;

static nnc_tensor *bin_fwd(nnc_node *ctx, int n_in, nnc_tensor *const *in, void *user) {
  (void)n_in;
  const bin_attr *a = user;
  ctx->i[0] = a->kind;
  nnc_tensor *x = nnc_contiguous(in[0]);
  ctx->f[0] = a->f[0];
  ctx->f[1] = a->f[1];
  ctx->f[2] = RESTE_INTERVAL;
  ctx->f[3] = a->kind == K_RESTE ? reste_centre(a->f[0]) : 0;
  if (a->kind == K_RESTE && x->dtype == NNC_F32) { /* compare in float32, as PyTorch */
    ctx->f[1] = (float)a->f[1];
    ctx->f[2] = (float)RESTE_INTERVAL;
  }
  nnc_save(ctx, x);
  nnc_tensor *y = nnc_empty(x->dtype, x->ndim, x->shape);
  int64_t n = nnc_numel(x);
  int kind = a->kind;
  const double *f = ctx->f;
  if (x->dtype == NNC_F32) {
    const float *xp = nnc_f32(x);
    float *yp = nnc_f32(y);
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
    for (int64_t i = 0; i < n; i++) yp[i] = (float)bin_forward(kind, xp[i], f);
  } else {
    const double *xp = nnc_f64(x);
    double *yp = nnc_f64(y);
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
    for (int64_t i = 0; i < n; i++) yp[i] = bin_forward(kind, xp[i], f);
  }
  return y;
}

static void bin_bwd(nnc_node *ctx, const nnc_tensor *g, nnc_tensor **grad_in, void *user) {
  (void)user; /* the forward's attributes, gone by now: use ctx->f / ctx->i */
  nnc_tensor *x = nnc_saved(ctx, 0);
  nnc_tensor *gc = nnc_contiguous((nnc_tensor *)g);
  nnc_tensor *gx = nnc_empty(x->dtype, x->ndim, x->shape);
  int64_t n = nnc_numel(x);
  int kind = (int)ctx->i[0];
  const double *f = ctx->f;
  if (x->dtype == NNC_F32) {
    const float *xp = nnc_f32(x), *gp = nnc_f32(gc);
    float *op = nnc_f32(gx);
    if (kind == K_PERIODIC) { /* cosf: the f32 path's cost is the cosine */
      float om = (float)f[0];
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
      for (int64_t i = 0; i < n; i++) op[i] = om * cosf(om * xp[i]) * gp[i];
    } else {
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
      for (int64_t i = 0; i < n; i++) op[i] = (float)(bin_grad(kind, xp[i], f) * gp[i]);
    }
  } else {
    const double *xp = nnc_f64(x), *gp = nnc_f64(gc);
    double *op = nnc_f64(gx);
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
    for (int64_t i = 0; i < n; i++) op[i] = bin_grad(kind, xp[i], f) * gp[i];
  }
  grad_in[0] = gx;
}

/* nnc_custom keeps a pointer to the op for backward: these live forever */
static const nnc_custom_op op_sign_ste = {"sign_ste", bin_fwd, bin_bwd};
static const nnc_custom_op op_sign_reste = {"sign_reste", bin_fwd, bin_bwd};
static const nnc_custom_op op_sign_periodic = {"sign_periodic", bin_fwd, bin_bwd};
static const nnc_custom_op op_sign_triangle = {"sign_triangle", bin_fwd, bin_bwd};

static nnc_tensor *bin_apply(const nnc_custom_op *op, nnc_tensor *x, int kind, double f0, double f1) {
  nnc_check_float(x, op->name);
  bin_attr a = {kind, {f0, f1, 0}};
  return nnc_custom(op, 1, &x, &a);
}

nnc_tensor *nnc_sign_ste(nnc_tensor *x, double clip) { return bin_apply(&op_sign_ste, x, K_STE, clip, 0); }
nnc_tensor *nnc_sign_reste(nnc_tensor *x, double o, double t) {
  NNC_CHECK(o >= 1 && t > 0, "sign_reste", "needs o >= 1 and t > 0 (o=%g, t=%g)", o, t);
  return bin_apply(&op_sign_reste, x, K_RESTE, o, t);
}
nnc_tensor *nnc_sign_periodic(nnc_tensor *w, double omega) {
  NNC_CHECK(omega > 0, "sign_periodic", "needs omega > 0 (omega=%g)", omega);
  return bin_apply(&op_sign_periodic, w, K_PERIODIC, omega, 0);
}
nnc_tensor *nnc_sign_triangle(nnc_tensor *x) { return bin_apply(&op_sign_triangle, x, K_TRIANGLE, 0, 0); }

nnc_tensor *nnc_sample_var_norm(nnc_tensor *x, double eps) {
  char s[96];
  NNC_CHECK(x->ndim >= 2 && nnc_numel(x) / x->shape[0] > 1, "sample_var_norm",
            "input %s: needs [N, ...] with more than one value per sample", nnc_shape_str(x, s, sizeof s));
  int axes[NNC_MAX_DIMS], na = 0;
  for (int d = 1; d < x->ndim; d++) axes[na++] = d;
  nnc_tensor *var = nnc_var(x, na, axes, 1, true);
  return nnc_mul(x, nnc_rsqrt(nnc_shift(var, eps)));
}

/* ---- configuration ---- */
const char *nnc_bin_estimator_name(nnc_bin_estimator e) {
  switch (e) {
  case NNC_BIN_STE: return "STE";
  case NNC_BIN_RESTE: return "ReSTE";
  case NNC_BIN_BIPER: return "BiPer";
  }
  return "?";
}

nnc_binary_cfg nnc_binary_cfg_default(nnc_bin_estimator est) {
  return (nnc_binary_cfg){.est = est, .ste_clip = 1.0, .o = 1.0, .t = 1.5, .omega = 20.0, .stage = 2, .var_eps = 1e-5};
}

/* ---- activation module ---- */
nnc_tensor *nnc_binarize_act(nnc_tensor *x, const nnc_binary_cfg *c, bool training) {
  switch (c->est) {
  case NNC_BIN_STE: return nnc_sign_ste(x, c->ste_clip);
  case NNC_BIN_RESTE: return nnc_sign_reste(x, c->o, c->t);
  case NNC_BIN_BIPER: return nnc_sign_triangle(training ? nnc_sample_var_norm(x, c->var_eps) : x);
  }
  NNC_FAIL("binact", "unknown estimator %d", (int)c->est);
}

static nnc_tensor *binact_forward(nnc_module *m, nnc_tensor *x) {
  nnc_binact_mod *b = (nnc_binact_mod *)m;
  return nnc_binarize_act(x, b->cfg, m->training);
}

static void describe_cfg(const nnc_binary_cfg *c, char *buf, size_t size) {
  switch (c->est) {
  case NNC_BIN_STE: snprintf(buf, size, "estimator=STE, clip=%g", c->ste_clip); break;
  case NNC_BIN_RESTE: snprintf(buf, size, "estimator=ReSTE, o=%g, t=%g", c->o, c->t); break;
  case NNC_BIN_BIPER: snprintf(buf, size, "estimator=BiPer, omega=%g, stage=%d", c->omega, c->stage); break;
  }
}

static void binact_describe(const nnc_module *m, char *buf, size_t size) {
  describe_cfg(((const nnc_binact_mod *)m)->cfg, buf, size);
}

nnc_binact_mod *nnc_new_binact(const nnc_binary_cfg *cfg) {
  NNC_CHECK(cfg, "BinaryActivation", "needs a configuration");
  nnc_binact_mod *b = nnc_module_alloc(sizeof *b, "BinaryActivation", "", binact_forward, binact_describe);
  b->cfg = cfg;
  return b;
}

/* ---- binary linear and conv ---- */
nnc_tensor *nnc_binary_weight(nnc_binary_layer_mod *l) {
  const nnc_binary_cfg *c = l->cfg;
  nnc_tensor *w = l->weight;
  switch (c->est) {
  case NNC_BIN_STE: return nnc_mul(nnc_sign_ste(w, c->ste_clip), nnc_mean_all(nnc_abs(w)));
  case NNC_BIN_RESTE: return nnc_mul(nnc_sign_reste(w, c->o, c->t), nnc_mean_all(nnc_abs(w)));
  case NNC_BIN_BIPER: return c->stage == 1 ? nnc_sin(nnc_scale(w, c->omega)) : nnc_sign_periodic(w, c->omega);
  }
  NNC_FAIL("binary layer", "unknown estimator %d", (int)c->est);
}

static nnc_tensor *binary_linear_forward(nnc_module *m, nnc_tensor *x) {
  nnc_binary_layer_mod *l = (nnc_binary_layer_mod *)m;
  nnc_tensor *y = nnc_linear(x, nnc_binary_weight(l), NULL);
  return l->alpha ? nnc_mul(y, l->alpha) : y;
}

static nnc_tensor *binary_conv_forward(nnc_module *m, nnc_tensor *x) {
  nnc_binary_layer_mod *l = (nnc_binary_layer_mod *)m;
  nnc_tensor *y = nnc_conv2d(x, nnc_binary_weight(l), NULL, l->conv);
  return l->alpha ? nnc_mul(y, l->alpha) : y;
}

static void binary_layer_describe(const nnc_module *m, char *buf, size_t size) {
  const nnc_binary_layer_mod *l = (const nnc_binary_layer_mod *)m;
  char c[96];
  describe_cfg(l->cfg, c, sizeof c);
  snprintf(buf, size, "%lld, %lld, %s", (long long)l->in, (long long)l->out, c);
}

static nnc_binary_layer_mod *new_layer(nnc_params *p, const char *kind, const char *name, nnc_forward_fn fwd, int64_t in,
                                       int64_t out, int wdim, const int64_t *wshape, int adim, const int64_t *ashape,
                                       const nnc_binary_cfg *cfg, nnc_rng *r) {
  NNC_CHECK(cfg && in > 0 && out > 0, kind, "sizes in=%lld out=%lld and a configuration", (long long)in, (long long)out);
  nnc_binary_layer_mod *l = nnc_module_alloc(sizeof *l, kind, name, fwd, binary_layer_describe);
  l->cfg = cfg;
  l->in = in;
  l->out = out;
  l->weight = nnc_module_param(p, &l->base, "weight", wdim, wshape);
  double bound = 1.0 / sqrt((double)nnc_fan_in(l->weight));
  nnc_init_uniform(l->weight, -bound, bound, r);
  if (cfg->est == NNC_BIN_BIPER) {
    l->alpha = nnc_module_param(p, &l->base, "alpha", adim, ashape);
    nnc_init_uniform(l->alpha, 0, 1, r);
  }
  return l;
}

nnc_binary_layer_mod *nnc_new_binary_linear(nnc_params *p, const char *name, int64_t in, int64_t out,
                                            const nnc_binary_cfg *cfg, nnc_rng *r) {
  return new_layer(p, "BinaryLinear", name, binary_linear_forward, in, out, NNC_SHAPE(out, in), NNC_SHAPE(out), cfg, r);
}

nnc_binary_layer_mod *nnc_new_binary_conv2d(nnc_params *p, const char *name, int64_t in, int64_t out, int64_t k,
                                            nnc_conv_args conv, const nnc_binary_cfg *cfg, nnc_rng *r) {
  NNC_CHECK(k > 0, "BinaryConv2d", "kernel size %lld", (long long)k);
  nnc_binary_layer_mod *l = new_layer(p, "BinaryConv2d", name, binary_conv_forward, in, out, NNC_SHAPE(out, in, k, k),
                                      NNC_SHAPE(out, 1, 1), cfg, r);
  l->conv = conv;
  return l;
}

/* ---- the networks of the papers ---- */
static nnc_module *bn1d(nnc_params *p, nnc_params *buffers, const char *name, int64_t c) {
  nnc_batchnorm_mod *b = nnc_new_batchnorm(p, buffers, name, c, 1e-5, 0.1, true);
  return &b->base;
}

nnc_sequential_mod *nnc_new_binary_mlp(nnc_params *p, nnc_params *buffers, int64_t in, int64_t hidden, int n_binary,
                                       int64_t classes, const nnc_binary_cfg *cfg_w, const nnc_binary_cfg *cfg_a,
                                       nnc_rng *r) {
  NNC_CHECK(n_binary >= 0, "binary_mlp", "n_binary %d", n_binary);
  nnc_sequential_mod *net = nnc_new_sequential("");
  char name[32];
  nnc_sequential_add(net, &nnc_new_linear(p, "fc0", in, hidden, true, r)->base);
  nnc_sequential_add(net, bn1d(p, buffers, "bn0", hidden));
  nnc_sequential_add(net, &nnc_new_binact(cfg_a)->base);
  for (int k = 1; k <= n_binary; k++) {
    snprintf(name, sizeof name, "fc%d", k);
    nnc_sequential_add(net, &nnc_new_binary_linear(p, name, hidden, hidden, cfg_w, r)->base);
    snprintf(name, sizeof name, "bn%d", k);
    nnc_sequential_add(net, bn1d(p, buffers, name, hidden));
    nnc_sequential_add(net, &nnc_new_binact(cfg_a)->base);
  }
  snprintf(name, sizeof name, "fc%d", n_binary + 1);
  nnc_sequential_add(net, &nnc_new_linear(p, name, hidden, classes, true, r)->base);
  return net;
}

static nnc_tensor *to_image_forward(nnc_module *m, nnc_tensor *x) {
  (void)m;
  return nnc_reshape(x, NNC_SHAPE(-1, 1, 28, 28));
}

/* a full-precision Conv2d (PyTorch's init), for the first layer; nn/ has no conv module yet */
typedef struct {
  nnc_module base;
  nnc_tensor *weight, *bias;
  nnc_conv_args conv;
} fp_conv_mod;
static nnc_tensor *fp_conv_forward(nnc_module *m, nnc_tensor *x) {
  fp_conv_mod *c = (fp_conv_mod *)m;
  return nnc_conv2d(x, c->weight, c->bias, c->conv);
}
static nnc_module *fp_conv(nnc_params *p, const char *name, int64_t in, int64_t out, int64_t k, nnc_conv_args a,
                           nnc_rng *r) {
  fp_conv_mod *c = nnc_module_alloc(sizeof *c, "Conv2d", name, fp_conv_forward, NULL);
  c->conv = a;
  c->weight = nnc_module_param(p, &c->base, "weight", NNC_SHAPE(out, in, k, k));
  c->bias = nnc_module_param(p, &c->base, "bias", NNC_SHAPE(out));
  double bound = 1.0 / sqrt((double)(in * k * k));
  nnc_init_uniform(c->weight, -bound, bound, r);
  nnc_init_uniform(c->bias, -bound, bound, r);
  return &c->base;
}

nnc_sequential_mod *nnc_new_binary_cnn(nnc_params *p, nnc_params *buffers, int64_t c1, int64_t c2, int64_t classes,
                                       const nnc_binary_cfg *cfg_w, const nnc_binary_cfg *cfg_a, nnc_rng *r) {
  NNC_CHECK(c1 > 0 && c2 > 0, "binary_cnn", "channels %lld, %lld", (long long)c1, (long long)c2);
  nnc_sequential_mod *net = nnc_new_sequential("");
  nnc_conv_args pad1 = {.pad = {1, 1}};
  nnc_sequential_add(net, nnc_module_alloc(sizeof(nnc_module), "Unflatten", "", to_image_forward, NULL));
  nnc_sequential_add(net, fp_conv(p, "conv0", 1, c1, 3, pad1, r));
  nnc_sequential_add(net, &nnc_new_batchnorm2d(p, buffers, "bn0", c1, 1e-5, 0.1, true)->base);
  nnc_sequential_add(net, &nnc_new_maxpool2d(2, 2, 0)->base);
  nnc_sequential_add(net, &nnc_new_binact(cfg_a)->base);
  nnc_sequential_add(net, &nnc_new_binary_conv2d(p, "conv1", c1, c2, 3, pad1, cfg_w, r)->base);
  nnc_sequential_add(net, &nnc_new_maxpool2d(2, 2, 0)->base);
  nnc_sequential_add(net, &nnc_new_batchnorm2d(p, buffers, "bn1", c2, 1e-5, 0.1, true)->base);
  nnc_sequential_add(net, &nnc_new_binact(cfg_a)->base);
  nnc_sequential_add(net, &nnc_new_binary_conv2d(p, "conv2", c2, c2, 3, pad1, cfg_w, r)->base);
  nnc_sequential_add(net, &nnc_new_batchnorm2d(p, buffers, "bn2", c2, 1e-5, 0.1, true)->base);
  nnc_sequential_add(net, &nnc_new_binact(cfg_a)->base);
  nnc_sequential_add(net, &nnc_new_flatten(1, -1)->base);
  nnc_sequential_add(net, &nnc_new_linear(p, "fc", c2 * 49, classes, true, r)->base);
  return net;
}
