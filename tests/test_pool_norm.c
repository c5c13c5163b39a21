/* tests/test_pool_norm.c: pooling, upsampling and 2-d normalisation against PyTorch
 * (tests/fixtures/pool_norm.h, made by tools/make_pool_norm_fixture.py): outputs, max-pool
 * indices and gradients, with the fast and the reference kernels, in f64 (tight) and f32 (to
 * 1e-5 relative); BatchNorm2d over two training steps (running statistics) and in eval;
 * GroupNorm; LayerNorm over channels.  Also: the fused batch norm against BatchNorm built
 * from primitive ops, fast against reference kernels on a large f32 batch (the OpenMP path),
 * NaN in a max-pool window, the modules, and the error messages.
 * NNC_POOL_BENCH=1 prints timings of the CNN's pooling shapes. */
#include "test.h"
#include <stdlib.h>
#include <time.h>
#include "fixtures/pool_norm.h"

#define N(a) ((int64_t)(sizeof(a) / sizeof((a)[0])))

static nnc_tensor *from(nnc_dtype dt, int ndim, const int64_t *shape, const double *v) {
  nnc_tensor *t = nnc_empty(dt, ndim, shape);
  for (int64_t i = 0, n = nnc_numel(t); i < n; i++) nnc_set(t, i, v[i]);
  return t;
}

static void set_from(nnc_tensor *t, const double *v) {
  for (int64_t i = 0, n = nnc_numel(t); i < n; i++) nnc_set(t, i, v[i]);
  nnc_bump_version(t);
}

/* the fixture's upstream gradient: cos(0.37 i + 0.1) */
static nnc_tensor *gy_like(const nnc_tensor *y) {
  nnc_tensor *g = nnc_empty(y->dtype, y->ndim, y->shape);
  for (int64_t i = 0, n = nnc_numel(g); i < n; i++) nnc_set(g, i, cos(0.37 * (double)i + 0.1));
  return g;
}

/* every element of t within tol * (1 + |ref|) of ref; one CHECK per tensor */
static void check_t(const char *what, const char *name, const nnc_tensor *t, const double *ref, int64_t n, double tol) {
  CHECKF(t && nnc_numel(t) == n, "%s %s: %lld elements, expected %lld", what, name, t ? (long long)nnc_numel(t) : -1LL,
         (long long)n);
  if (!t || nnc_numel(t) != n) return;
  double worst = 0;
  int64_t at = 0;
  for (int64_t i = 0; i < n; i++) {
    double a = nnc_get(t, i), e = fabs(a - ref[i]) / (1 + fabs(ref[i]));
    if (!(e <= worst)) worst = e, at = i;
  }
  CHECKF(worst <= tol, "%s %s: element %lld is %.10g, expected %.10g (rel err %.3g > %.1g)", what, name, (long long)at,
         nnc_get(t, at), ref[at], worst, tol);
}

/* ---------------- pooling and upsampling cases ---------------- */
typedef nnc_tensor *(*case_fn)(nnc_tensor *x, nnc_tensor **idx);
#define P2(...) (&(nnc_pool2d_opts){__VA_ARGS__})

static nnc_tensor *mp_k3s2p1(nnc_tensor *x, nnc_tensor **i) {
  return nnc_max_pool2d_with_indices(x, P2(.kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 1}), i);
}
static nnc_tensor *mp_k2s2(nnc_tensor *x, nnc_tensor **i) {
  return nnc_max_pool2d_with_indices(x, P2(.kernel = {2, 2}), i);
}
static nnc_tensor *mp_ceil(nnc_tensor *x, nnc_tensor **i) {
  return nnc_max_pool2d_with_indices(x, P2(.kernel = {3, 2}, .stride = {2, 2}, .padding = {1, 0}, .ceil_mode = true), i);
}
static nnc_tensor *mp_dil(nnc_tensor *x, nnc_tensor **i) {
  return nnc_max_pool2d_with_indices(x, P2(.kernel = {2, 2}, .stride = {1, 1}, .padding = {1, 1}, .dilation = {2, 2}), i);
}
static nnc_tensor *mp1d(nnc_tensor *x, nnc_tensor **i) {
  return nnc_max_pool1d_with_indices(x, &(nnc_pool1d_opts){.kernel = 3, .stride = 2, .padding = 1}, i);
}
static nnc_tensor *ap_k3s2p1(nnc_tensor *x, nnc_tensor **i) { (void)i; return nnc_avg_pool2d(x, 3, 2, 1); }
static nnc_tensor *ap_k2s2(nnc_tensor *x, nnc_tensor **i) { (void)i; return nnc_avg_pool2d(x, 2, 0, 0); }
static nnc_tensor *ap_ceil_excl(nnc_tensor *x, nnc_tensor **i) {
  (void)i;
  return nnc_avg_pool2d_opts(x, P2(.kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 1}, .ceil_mode = true, .exclude_pad = true));
}
static nnc_tensor *ap_ceil(nnc_tensor *x, nnc_tensor **i) {
  (void)i;
  return nnc_avg_pool2d_opts(x, P2(.kernel = {2, 3}, .stride = {2, 2}, .padding = {1, 1}, .ceil_mode = true));
}
static nnc_tensor *ap_div(nnc_tensor *x, nnc_tensor **i) {
  (void)i;
  return nnc_avg_pool2d_opts(x, P2(.kernel = {2, 2}, .stride = {1, 1}, .padding = {1, 1}, .divisor = 3));
}
static nnc_tensor *ap1d(nnc_tensor *x, nnc_tensor **i) { (void)i; return nnc_avg_pool1d(x, 3, 2, 1); }
static nnc_tensor *aap_4x3(nnc_tensor *x, nnc_tensor **i) { (void)i; return nnc_adaptive_avg_pool2d(x, 4, 3); }
static nnc_tensor *aap_up(nnc_tensor *x, nnc_tensor **i) { (void)i; return nnc_adaptive_avg_pool2d(x, 5, 7); }
static nnc_tensor *aap_1(nnc_tensor *x, nnc_tensor **i) { (void)i; return nnc_adaptive_avg_pool2d(x, 1, 1); }
static nnc_tensor *up_nearest_size(nnc_tensor *x, nnc_tensor **i) { (void)i; return nnc_upsample_nearest2d(x, 7, 13, 0, 0); }
static nnc_tensor *up_nearest_x2(nnc_tensor *x, nnc_tensor **i) { (void)i; return nnc_upsample_nearest2d(x, 0, 0, 2, 2); }
static nnc_tensor *up_nearest_scale(nnc_tensor *x, nnc_tensor **i) { (void)i; return nnc_upsample_nearest2d(x, 0, 0, 1.5, 2.7); }
static nnc_tensor *up_nearest_down(nnc_tensor *x, nnc_tensor **i) { (void)i; return nnc_upsample_nearest2d(x, 3, 4, 0, 0); }
static nnc_tensor *up_bilinear(nnc_tensor *x, nnc_tensor **i) { (void)i; return nnc_upsample_bilinear2d(x, 7, 13, false, 0, 0); }
static nnc_tensor *up_bilinear_ac(nnc_tensor *x, nnc_tensor **i) { (void)i; return nnc_upsample_bilinear2d(x, 7, 13, true, 0, 0); }
static nnc_tensor *up_bilinear_scale(nnc_tensor *x, nnc_tensor **i) { (void)i; return nnc_upsample_bilinear2d(x, 0, 0, false, 2, 1.5); }
static nnc_tensor *up_bilinear_down(nnc_tensor *x, nnc_tensor **i) { (void)i; return nnc_upsample_bilinear2d(x, 3, 4, false, 0, 0); }

typedef struct {
  const char *name;
  case_fn fn;
  int ndim;
  int64_t shape[4];
  const double *x, *y, *gx;
  int64_t ny;
  const long long *idx;
} pool_case;

#define X4 4, {2, 2, 7, 6}, x4
#define X8 4, {2, 2, 8, 8}, x8
#define X1D 3, {2, 3, 9}, x1d
#define XA 4, {1, 2, 3, 4}, xa
#define XU 4, {1, 2, 4, 5}, xu
#define CASE(nm, X) {#nm, nm, X, nm##_y, nm##_gx, N(nm##_y), NULL}
#define CASE_IDX(nm, X) {#nm, nm, X, nm##_y, nm##_gx, N(nm##_y), nm##_idx}

static const pool_case cases[] = {
    CASE_IDX(mp_k3s2p1, X4), CASE_IDX(mp_k2s2, X8), CASE_IDX(mp_ceil, X4), CASE_IDX(mp_dil, X4), CASE_IDX(mp1d, X1D),
    CASE(ap_k3s2p1, X4), CASE(ap_k2s2, X8), CASE(ap_ceil_excl, X4), CASE(ap_ceil, X4), CASE(ap_div, X4), CASE(ap1d, X1D),
    CASE(aap_4x3, X4), CASE(aap_up, XA), CASE(aap_1, X4),
    CASE(up_nearest_size, XU), CASE(up_nearest_x2, XU), CASE(up_nearest_scale, XU), CASE(up_nearest_down, X4),
    CASE(up_bilinear, XU), CASE(up_bilinear_ac, XU), CASE(up_bilinear_scale, XU), CASE(up_bilinear_down, X4),
};

static void test_pool_cases(nnc_dtype dt, double tol) {
  for (int ref = 0; ref < 2; ref++) {
    nnc_set_reference_kernels(ref);
    const char *what = ref ? (dt == NNC_F32 ? "ref f32" : "ref f64") : (dt == NNC_F32 ? "fast f32" : "fast f64");
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
      const pool_case *k = &cases[c];
      nnc_tensor *x = nnc_requires_grad(from(dt, k->ndim, k->shape, k->x)), *idx = NULL;
      nnc_tensor *y = k->fn(x, k->idx ? &idx : NULL);
      check_t(what, k->name, y, k->y, k->ny, tol);
      if (k->idx) {
        bool same = idx && idx->dtype == NNC_I64 && nnc_same_shape(idx, y);
        for (int64_t i = 0; same && i < k->ny; i++) same = nnc_get(idx, i) == (double)k->idx[i];
        CHECKF(same, "%s %s: indices differ from PyTorch's", what, k->name);
      }
      nnc_backward_with(y, gy_like(y));
      check_t(what, k->name, x->grad, k->gx, nnc_numel(x), tol);
      /* the same on a transposed (strided) view of the input */
      nnc_tensor *xt = nnc_requires_grad(nnc_contiguous(nnc_transpose(from(dt, k->ndim, k->shape, k->x), -1, -2)));
      nnc_tensor *xv = nnc_transpose(xt, -1, -2);
      y = k->fn(xv, NULL);
      check_t(what, k->name, y, k->y, k->ny, tol);
      nnc_backward_with(y, gy_like(y));
      nnc_tensor *gback = nnc_contiguous(nnc_transpose(xt->grad, -1, -2));
      check_t(what, k->name, gback, k->gx, nnc_numel(x), tol);
      nnc_step_end();
    }
  }
  nnc_set_reference_kernels(false);
}

/* ---------------- BatchNorm2d, GroupNorm, LayerNorm2d ---------------- */
static void test_batchnorm2d(nnc_dtype dt, double tol) {
  nnc_params P, B;
  nnc_params_init(&P, dt);
  nnc_params_init(&B, dt);
  nnc_batchnorm_mod *b = nnc_new_batchnorm2d(&P, &B, "bn", 3, 1e-5, 0.1, true);
  CHECK(strcmp(b->base.kind, "BatchNorm2d") == 0);
  CHECK(P.count == 2 && nnc_params_find(&P, "bn.weight") == b->weight && nnc_params_find(&P, "bn.bias") == b->bias);
  CHECK(B.count == 3 && nnc_params_find(&B, "bn.running_mean") == b->running_mean &&
        nnc_params_find(&B, "bn.running_var") == b->running_var &&
        nnc_params_find(&B, "bn.num_batches_tracked") == b->num_batches_tracked);
  set_from(b->weight, bn_w);
  set_from(b->bias, bn_b);
  const double *xs[2] = {bn_x0, bn_x1}, *ys[2] = {bn_y0, bn_y1}, *gxs[2] = {bn_gx0, bn_gx1};
  const double *gws[2] = {bn_gw0, bn_gw1}, *gbs[2] = {bn_gb0, bn_gb1};
  for (int s = 0; s < 2; s++) {
    nnc_params_zero_grad(&P);
    nnc_tensor *x = nnc_requires_grad(from(dt, NNC_SHAPE(4, 3, 5, 5), xs[s]));
    nnc_tensor *y = nnc_forward(&b->base, x);
    nnc_backward_with(y, gy_like(y));
    check_t("bn2d train", "y", y, ys[s], N(bn_y0), tol);
    check_t("bn2d train", "gx", x->grad, gxs[s], N(bn_gx0), tol);
    check_t("bn2d train", "gw", b->weight->grad, gws[s], 3, tol);
    check_t("bn2d train", "gb", b->bias->grad, gbs[s], 3, tol);
    nnc_step_end();
  }
  check_t("bn2d", "running_mean", b->running_mean, bn_rm, 3, tol);
  check_t("bn2d", "running_var", b->running_var, bn_rv, 3, tol);
  CHECK(nnc_item(b->num_batches_tracked) == BN_NBT);
  nnc_module_eval(&b->base);
  nnc_params_zero_grad(&P);
  nnc_tensor *x = nnc_requires_grad(from(dt, NNC_SHAPE(2, 3, 5, 5), bne_x));
  nnc_tensor *y = nnc_forward(&b->base, x);
  nnc_backward_with(y, gy_like(y));
  check_t("bn2d eval", "y", y, bne_y, N(bne_y), tol);
  check_t("bn2d eval", "gx", x->grad, bne_gx, N(bne_gx), tol);
  check_t("bn2d eval", "gw", b->weight->grad, bne_gw, 3, tol);
  check_t("bn2d eval", "gb", b->bias->grad, bne_gb, 3, tol);
  check_t("bn2d eval", "running_mean", b->running_mean, bn_rm, 3, tol);
  CHECK(nnc_item(b->num_batches_tracked) == BN_NBT);
  nnc_step_end();
  nnc_module_train(&b->base, true);
  EXPECT_ABORT(nnc_forward(&b->base, nnc_zeros(dt, NNC_SHAPE(2, 3, 5))), "expected [N, C, H, W]");
  EXPECT_ABORT(nnc_forward(&b->base, nnc_zeros(dt, NNC_SHAPE(2, 4, 5, 5))), "expected [N, 3, ...]");
  EXPECT_ABORT(nnc_forward(&b->base, nnc_zeros(dt, NNC_SHAPE(1, 3, 1, 1))), "more than one value");
  char buf[512];
  FILE *f = fmemopen(buf, sizeof buf, "w");
  nnc_module_print(&b->base, f);
  fclose(f);
  CHECKF(strcmp(buf, "BatchNorm2d(3, eps=1e-05, momentum=0.1, affine=True)\n") == 0, "printed '%s'", buf);
  nnc_module_free(&b->base);
  nnc_params_free(&P);
  nnc_params_free(&B);
  nnc_step_end();
}

/* GroupNorm and LayerNorm2d: module name, fixture w, b, x -> y, gx, gw, gb */
static void test_affine_norm(nnc_dtype dt, double tol, bool group) {
  nnc_params P;
  nnc_params_init(&P, dt);
  nnc_module *m;
  nnc_tensor *w, *b;
  if (group) {
    nnc_groupnorm_mod *g = nnc_new_groupnorm(&P, "gn", 2, 4, 1e-5, true);
    m = &g->base, w = g->weight, b = g->bias;
  } else {
    nnc_layernorm2d_mod *l = nnc_new_layernorm2d(&P, "lnc", 4, 1e-6, true);
    m = &l->base, w = l->weight, b = l->bias;
  }
  CHECK(nnc_params_find(&P, group ? "gn.weight" : "lnc.weight") == w && nnc_get(w, 2) == 1 && nnc_get(b, 1) == 0);
  set_from(w, group ? gn_w : lnc_w);
  set_from(b, group ? gn_b : lnc_b);
  for (int ref = 0; ref < 2; ref++) {
    nnc_set_reference_kernels(ref);
    nnc_params_zero_grad(&P);
    nnc_tensor *x = nnc_requires_grad(from(dt, NNC_SHAPE(2, 4, 3, 5), group ? gn_x : lnc_x));
    nnc_tensor *y = nnc_forward(m, x);
    nnc_backward_with(y, gy_like(y));
    const char *what = group ? "GroupNorm" : "LayerNorm2d";
    check_t(what, "y", y, group ? gn_y : lnc_y, N(gn_y), tol);
    check_t(what, "gx", x->grad, group ? gn_gx : lnc_gx, N(gn_gx), tol);
    check_t(what, "gw", w->grad, group ? gn_gw : lnc_gw, 4, tol);
    check_t(what, "gb", b->grad, group ? gn_gb : lnc_gb, 4, tol);
    nnc_step_end();
  }
  nnc_set_reference_kernels(false);
  char buf[512];
  FILE *f = fmemopen(buf, sizeof buf, "w");
  nnc_module_print(m, f);
  fclose(f);
  const char *want = group ? "GroupNorm(2, 4, eps=1e-05, affine=True)\n"
                           : "LayerNorm2d(4, eps=1e-06, data_format=channels_first, affine=True)\n";
  CHECKF(strcmp(buf, want) == 0, "printed '%s'", buf);
  nnc_module_free(m);
  nnc_params_free(&P);
  nnc_step_end();
}

/* the fused batch norm against nn/norm.h's BatchNorm built from mean/var ops, for [N, C],
 * [N, C, L] and [N, C, H, W], two training steps then eval */
static void test_fused_vs_composed(void) {
  const int64_t shapes[3][4] = {{16, 5}, {4, 5, 7}, {3, 5, 4, 6}};
  const int ndims[3] = {2, 3, 4};
  nnc_rng r;
  nnc_rng_seed(&r, 5, 0);
  for (int s = 0; s < 3; s++) {
    nnc_params P[2], B[2];
    nnc_batchnorm_mod *bn[2];
    for (int k = 0; k < 2; k++) {
      nnc_params_init(&P[k], NNC_F64);
      nnc_params_init(&B[k], NNC_F64);
      bn[k] = nnc_new_batchnorm(&P[k], &B[k], "bn", 5, 1e-5, 0.2, true);
      if (k) bn[k]->base.forward = nnc_batchnorm_forward_fused;
      nnc_rng rw;
      nnc_rng_seed(&rw, 9, 0);
      nnc_fill_uniform(bn[k]->weight, 0.5, 2, &rw);
      nnc_fill_uniform(bn[k]->bias, -1, 1, &rw);
    }
    for (int step = 0; step < 3; step++) {
      bool train = step < 2;
      nnc_tensor *x0 = nnc_randn(NNC_F64, ndims[s], shapes[s], &r);
      nnc_tensor *y[2], *x[2];
      for (int k = 0; k < 2; k++) {
        nnc_module_train(&bn[k]->base, train);
        nnc_params_zero_grad(&P[k]);
        x[k] = nnc_requires_grad(nnc_clone(x0));
        y[k] = nnc_forward(&bn[k]->base, x[k]);
        nnc_backward_with(y[k], gy_like(y[k]));
      }
      double ey = 0, eg = 0, ew = 0, eb = 0;
      for (int64_t i = 0; i < nnc_numel(x0); i++) {
        ey = fmax(ey, fabs(nnc_get(y[0], i) - nnc_get(y[1], i)));
        eg = fmax(eg, fabs(nnc_get(x[0]->grad, i) - nnc_get(x[1]->grad, i)));
      }
      for (int c = 0; c < 5; c++) {
        ew = fmax(ew, fabs(nnc_get(bn[0]->weight->grad, c) - nnc_get(bn[1]->weight->grad, c)));
        eb = fmax(eb, fabs(nnc_get(bn[0]->bias->grad, c) - nnc_get(bn[1]->bias->grad, c)));
        ew = fmax(ew, fabs(nnc_get(bn[0]->running_var, c) - nnc_get(bn[1]->running_var, c)));
        eb = fmax(eb, fabs(nnc_get(bn[0]->running_mean, c) - nnc_get(bn[1]->running_mean, c)));
      }
      CHECKF(ey < 1e-12 && eg < 1e-12 && ew < 1e-12 && eb < 1e-12, "fused vs composed %dd step %d: %g %g %g %g",
             ndims[s], step, ey, eg, ew, eb);
      CHECK(nnc_item(bn[0]->num_batches_tracked) == nnc_item(bn[1]->num_batches_tracked));
      nnc_step_end();
    }
    for (int k = 0; k < 2; k++) {
      nnc_module_free(&bn[k]->base);
      nnc_params_free(&P[k]);
      nnc_params_free(&B[k]);
    }
  }
}

/* ---------------- fast vs reference on a large f32 batch ---------------- */
static double max_diff(const nnc_tensor *a, const nnc_tensor *b) {
  double e = 0;
  for (int64_t i = 0, n = nnc_numel(a); i < n; i++) e = fmax(e, fabs(nnc_get(a, i) - nnc_get(b, i)));
  return e;
}

typedef nnc_tensor *(*big_fn)(nnc_tensor *x, nnc_tensor **idx);
static nnc_tensor *big_mp2(nnc_tensor *x, nnc_tensor **i) { return nnc_max_pool2d_with_indices(x, P2(.kernel = {2, 2}), i); }
static nnc_tensor *big_mp3(nnc_tensor *x, nnc_tensor **i) { return nnc_max_pool2d_with_indices(x, P2(.kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 1}), i); }
static nnc_tensor *big_ap2(nnc_tensor *x, nnc_tensor **i) { (void)i; return nnc_avg_pool2d(x, 2, 2, 0); }
static nnc_tensor *big_aap(nnc_tensor *x, nnc_tensor **i) { (void)i; return nnc_adaptive_avg_pool2d(x, 5, 3); }
static nnc_tensor *big_up(nnc_tensor *x, nnc_tensor **i) { (void)i; return nnc_upsample_bilinear2d(x, 0, 0, false, 2, 2); }
static nnc_tensor *big_bn(nnc_tensor *x, nnc_tensor **i) {
  (void)i;
  nnc_tensor *w = nnc_full(x->dtype, 1.5, NNC_SHAPE(16)), *b = nnc_full(x->dtype, 0.25, NNC_SHAPE(16));
  return nnc_batch_norm(x, w, b, NULL, NULL, true, 0.1, 1e-5);
}
static nnc_tensor *big_gn(nnc_tensor *x, nnc_tensor **i) { (void)i; return nnc_group_norm(x, 4, NULL, NULL, 1e-5); }

static void test_big_fast_vs_ref(void) {
  const struct { const char *name; big_fn fn; } fns[] = {{"max_pool k2", big_mp2}, {"max_pool k3", big_mp3},
      {"avg_pool", big_ap2}, {"adaptive", big_aap}, {"bilinear", big_up}, {"batch_norm", big_bn}, {"group_norm", big_gn}};
  nnc_rng r;
  nnc_rng_seed(&r, 3, 0);
  for (size_t f = 0; f < sizeof fns / sizeof fns[0]; f++) {
    nnc_tensor *x0 = nnc_randn(NNC_F32, NNC_SHAPE(8, 16, 28, 28), &r), *y[2], *x[2], *idx[2] = {NULL, NULL};
    for (int ref = 0; ref < 2; ref++) {
      nnc_set_reference_kernels(ref);
      x[ref] = nnc_requires_grad(nnc_clone(x0));
      y[ref] = fns[f].fn(x[ref], &idx[ref]);
      nnc_backward_with(y[ref], gy_like(y[ref]));
    }
    nnc_set_reference_kernels(false);
    double ey = max_diff(y[0], y[1]), eg = max_diff(x[0]->grad, x[1]->grad);
    CHECKF(ey < 2e-5 && eg < 2e-5, "%s: fast vs reference f32: y %g, grad %g", fns[f].name, ey, eg);
    if (idx[0]) CHECKF(max_diff(idx[0], idx[1]) == 0, "%s: indices differ", fns[f].name);
    nnc_step_end();
  }
}

/* ties go to the first maximum in scan order, as PyTorch (ReLU outputs tie at 0 all the
 * time); a NaN wins its window; an all -inf window keeps a valid index.  Checked in the 2x2/2
 * kernel (a row of 8 windows: the vector blocks), the general kernel (3x3/3) and the reference.
 * With several NaNs in a window the last one wins (PyTorch replaces the maximum by any NaN). */
static void test_ties_nan(void) {
  /* rows 0-1 hold eight 2x2 windows; row 2 completes the 3x3 windows */
  const float v[3][16] = {
      {0, 0, 1, 5, 2, 2, 7, 1, NAN, 3, -INFINITY, -INFINITY, 4, NAN, 1, 1},
      {0, 0, 5, 2, 1, 2, 7, 7, 3, NAN, -INFINITY, -INFINITY, 4, 4, 1, 1},
      {9, 9, 9, 0, 0, 0, 7, 7, 7, 7, 7, 7, 0, 0, 0, 0}};
  const int64_t want2[8] = {0, 3, 4, 6, 25, 10, 13, 14}; /* PyTorch 1.13 gives these */
  for (int ref = 0; ref < 2; ref++) {
    nnc_set_reference_kernels(ref);
    nnc_tensor *x = nnc_from_data(NNC_F32, NNC_SHAPE(1, 1, 3, 16), v), *idx;
    nnc_tensor *y = nnc_max_pool2d_with_indices(x, P2(.kernel = {2, 2}), &idx);
    bool ok = true;
    for (int o = 0; o < 8; o++) ok = ok && nnc_get(idx, o) == (double)want2[o];
    CHECKF(ok, "%s 2x2: tie/NaN indices", ref ? "reference" : "fast");
    CHECK(isnan(nnc_get(y, 4)) && isnan(nnc_get(y, 6)) && nnc_get(y, 5) == -INFINITY && nnc_get(y, 0) == 0);
    /* 3x3/3: windows at columns 0, 3, 6, 9, 12 */
    y = nnc_max_pool2d_with_indices(x, P2(.kernel = {3, 3}, .stride = {3, 3}), &idx);
    const int64_t want3[5] = {32, 3, 8, 25, 13}; /* (a later NaN replaces an earlier one) */
    ok = true;
    for (int o = 0; o < 5; o++) ok = ok && nnc_get(idx, o) == (double)want3[o];
    CHECKF(ok, "%s 3x3: tie/NaN indices %g %g %g %g %g", ref ? "reference" : "fast", nnc_get(idx, 0),
           nnc_get(idx, 1), nnc_get(idx, 2), nnc_get(idx, 3), nnc_get(idx, 4));
    nnc_step_end();
  }
  nnc_set_reference_kernels(false);
}

/* ---------------- modules ---------------- */
static void test_modules(void) {
  nnc_rng r;
  nnc_rng_seed(&r, 4, 0);
  nnc_tensor *x = nnc_randn(NNC_F32, NNC_SHAPE(2, 3, 8, 8), &r);
  nnc_pool2d_mod *mp = nnc_new_maxpool2d(2, 0, 0), *ap = nnc_new_avgpool2d(3, 2, 1);
  nnc_adaptive_pool2d_mod *aap = nnc_new_adaptive_avgpool2d(1, 1);
  nnc_upsample_mod *up = nnc_new_upsample(NNC_UPSAMPLE_NEAREST, 0, 0, 2, 2, false);
  nnc_upsample_mod *ub = nnc_new_upsample(NNC_UPSAMPLE_BILINEAR, 5, 7, 0, 0, true);
  CHECK(max_diff(nnc_forward(&mp->base, x), nnc_max_pool2d(x, 2, 2, 0)) == 0);
  CHECK(max_diff(nnc_forward(&ap->base, x), nnc_avg_pool2d(x, 3, 2, 1)) == 0);
  CHECK(max_diff(nnc_forward(&aap->base, x), nnc_mean(x, 2, (const int[]){2, 3}, true)) < 1e-6);
  CHECK(nnc_forward(&up->base, x)->shape[3] == 16);
  CHECK(max_diff(nnc_forward(&ub->base, x), nnc_upsample_bilinear2d(x, 5, 7, true, 0, 0)) == 0);
  mp->opts.ceil_mode = true;
  mp->opts.stride[0] = mp->opts.stride[1] = 3;
  CHECK(nnc_forward(&mp->base, x)->shape[2] == 3);

  nnc_sequential_mod *s = nnc_new_sequential("net");
  nnc_sequential_add(s, &mp->base);
  nnc_sequential_add(s, &ap->base);
  nnc_sequential_add(s, &aap->base);
  nnc_sequential_add(s, &up->base);
  nnc_sequential_add(s, &ub->base);
  char buf[1024];
  FILE *f = fmemopen(buf, sizeof buf, "w");
  nnc_module_print(&s->base, f);
  fclose(f);
  const char *want =
      "Sequential(\n"
      "  (0): MaxPool2d(kernel_size=2, stride=3, padding=0, dilation=1, ceil_mode=True)\n"
      "  (1): AvgPool2d(kernel_size=3, stride=2, padding=1)\n"
      "  (2): AdaptiveAvgPool2d(output_size=(1, 1))\n"
      "  (3): Upsample(scale_factor=2, mode=nearest)\n"
      "  (4): Upsample(size=(5, 7), mode=bilinear, align_corners=True)\n"
      ")\n";
  CHECKF(strcmp(buf, want) == 0, "printed\n%s", buf);
  nnc_module_free(&s->base);
  EXPECT_ABORT(nnc_new_upsample(NNC_UPSAMPLE_NEAREST, 4, 4, 2, 2, false), "not both");
  EXPECT_ABORT(nnc_new_groupnorm(NULL, "g", 3, 4, 1e-5, true), "4 channels in 3 groups");
  nnc_step_end();
}

static void test_errors(void) {
  nnc_tensor *x = nnc_zeros(NNC_F32, NNC_SHAPE(2, 3, 5, 5));
  EXPECT_ABORT(nnc_max_pool2d(x, 2, 2, 2), "at most half the kernel");
  EXPECT_ABORT(nnc_max_pool2d(x, 7, 1, 0), "too small");
  EXPECT_ABORT(nnc_max_pool2d(nnc_zeros(NNC_F32, NNC_SHAPE(5, 5)), 2, 2, 0), "at least 3 dims");
  EXPECT_ABORT(nnc_avg_pool2d_opts(x, P2(.kernel = {2, 2}, .dilation = {2, 2})), "no dilation");
  EXPECT_ABORT(nnc_max_pool1d(nnc_zeros(NNC_F32, NNC_SHAPE(5)), 2, 2, 0), "at least 2 dims");
  EXPECT_ABORT(nnc_adaptive_avg_pool2d(x, 0, 2), "output size");
  EXPECT_ABORT(nnc_upsample_nearest2d(x, 4, 4, 2, 2), "not both");
  EXPECT_ABORT(nnc_upsample_bilinear2d(x, 0, 0, false, 0, 0), "neither");
  EXPECT_ABORT(nnc_max_pool2d(nnc_zeros(NNC_I64, NNC_SHAPE(1, 2, 2)), 2, 2, 0), "float");
  nnc_tensor *w = nnc_ones(NNC_F32, NNC_SHAPE(4));
  EXPECT_ABORT(nnc_batch_norm(x, w, NULL, NULL, NULL, true, 0.1, 1e-5), "weight [4] for 3 channels");
  EXPECT_ABORT(nnc_batch_norm(x, NULL, NULL, NULL, NULL, false, 0.1, 1e-5), "eval mode needs");
  EXPECT_ABORT(nnc_batch_norm(x, NULL, NULL, w, NULL, true, 0.1, 1e-5), "both running statistics");
  EXPECT_ABORT(nnc_batch_norm(nnc_zeros(NNC_F32, NNC_SHAPE(1, 3)), NULL, NULL, NULL, NULL, true, 0.1, 1e-5), "more than one value");
  EXPECT_ABORT(nnc_batch_norm(x, nnc_ones(NNC_F64, NNC_SHAPE(3)), NULL, NULL, NULL, true, 0.1, 1e-5), "dtypes differ");
  EXPECT_ABORT(nnc_group_norm(x, 2, NULL, NULL, 1e-5), "do not split into 2 groups");
  EXPECT_ABORT(nnc_layer_norm_channels(x, w, NULL, 1e-5), "weight [4] for 3 channels");
  nnc_step_end();
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* timings of the Fashion-MNIST CNN's pooling and batch norm (NNC_POOL_BENCH=1) */
static void bench(void) {
  const int64_t shapes[2][4] = {{128, 32, 28, 28}, {128, 64, 14, 14}};
  nnc_rng r;
  nnc_rng_seed(&r, 1, 0);
  for (int s = 0; s < 2; s++) {
    /* the input outlives the step arena, which every iteration resets */
    int64_t n = shapes[s][0] * shapes[s][1] * shapes[s][2] * shapes[s][3], C = shapes[s][1];
    float *buf = malloc((size_t)n * sizeof *buf);
    nnc_fill_normal(nnc_wrap(NNC_F32, 4, shapes[s], buf), 0, 1, &r);
    for (int op = 0; op < 3; op++) {
      const char *name = op == 0 ? "max_pool2d k2s2" : op == 1 ? "avg_pool2d k2s2" : "batch_norm train";
      double tf = 1e9, tb = 1e9;
      for (int it = 0; it < 12; it++) {
        nnc_tensor *x = nnc_requires_grad(nnc_wrap(NNC_F32, 4, shapes[s], buf));
        nnc_tensor *w = nnc_requires_grad(nnc_ones(NNC_F32, 1, &C)), *b = nnc_zeros(NNC_F32, 1, &C);
        double t0 = now_s();
        nnc_tensor *y = op == 0 ? nnc_max_pool2d(x, 2, 2, 0) : op == 1 ? nnc_avg_pool2d(x, 2, 2, 0)
                                                                     : nnc_batch_norm(x, w, b, NULL, NULL, true, 0.1, 1e-5);
        double t1 = now_s();
        nnc_tensor *g = nnc_ones(NNC_F32, y->ndim, y->shape);
        double t2 = now_s();
        nnc_backward_with(y, g);
        double t3 = now_s();
        if (it >= 2) tf = fmin(tf, t1 - t0), tb = fmin(tb, t3 - t2);
        nnc_step_end();
      }
      printf("bench %-17s [%lld, %lld, %lld, %lld] f32, %d threads: forward %.3f ms, backward %.3f ms\n", name,
             (long long)shapes[s][0], (long long)shapes[s][1], (long long)shapes[s][2], (long long)shapes[s][3],
             nnc_get_threads(), 1e3 * tf, 1e3 * tb);
    }
    free(buf);
  }
}

int main(void) {
  nnc_init();
  test_pool_cases(NNC_F64, 1e-10);
  test_pool_cases(NNC_F32, 1e-5);
  test_batchnorm2d(NNC_F64, 1e-10);
  test_batchnorm2d(NNC_F32, 1e-5);
  test_affine_norm(NNC_F64, 1e-10, true);
  test_affine_norm(NNC_F32, 1e-5, true);
  test_affine_norm(NNC_F64, 1e-10, false);
  test_affine_norm(NNC_F32, 1e-5, false);
  test_fused_vs_composed();
  test_big_fast_vs_ref();
  test_ties_nan();
  test_modules();
  test_errors();
  const char *b = getenv("NNC_POOL_BENCH");
  if (b && *b && *b != '0') bench();
  return test_summary();
}
