/* tests/test_muon.c: Muon (optim/muon.h) and annealed gradient noise (optim/noise.h).
 *
 * Muon: the Newton-Schulz orthogonalisation against an exact polar factor U V^T (a one-sided
 * Jacobi SVD in double, here) on random Gaussian 64x32, 32x64 and 512x128 matrices: every
 * singular value of NS5(G) inside [0.6, 1.2] and cos(NS5(G), U V^T) >= 0.97 (batch1 §9's
 * bounds; muon.py's docstring speaks of S' ~ U(0.5, 1.5)); NS5(0) = 0; NS(G^T) = NS(G)^T; one
 * orthogonalisation and 6 optimiser steps (Nesterov and plain, tall, wide and 4-d parameters,
 * the aux AdamW on a bias) against PyTorch running muon.py's rule in float64
 * (tests/fixtures/muon_fixture.h, tools/make_muon_fixture.py), in f64 and f32; a 4-d filter
 * moves as its 2-d view; the default parameter choice; frozen parameters; state and reset.
 * Noise: sigma_t^2 = eta/(1+t)^0.55 measured on 10^6 draws, determinism in (seed, t), thread
 * count independence, frozen parameters untouched. */
#include "test.h"
#include <omp.h>
#include <stdlib.h>
#include "fixtures/muon_fixture.h"
#include "optim/muon.h"
#include "optim/noise.h"

/* ---- an exact reference: one-sided Jacobi SVD (double) ---- */
/* g [m, n] row-major.  Fills sv[min(m, n)] with the singular values and polar[m*n] with U V^T. */
static void jacobi_polar(const double *g, int m, int n, double *sv, double *polar) {
  bool wide = m < n;
  int R = wide ? n : m, C = wide ? m : n; /* work on the tall one: a [R, C], columns rotated */
  double *a = malloc(sizeof(double) * R * C), *v = calloc((size_t)C * C, sizeof(double));
  for (int i = 0; i < R; i++)
    for (int j = 0; j < C; j++) a[i * C + j] = wide ? g[j * n + i] : g[i * n + j];
  for (int i = 0; i < C; i++) v[i * C + i] = 1;
  for (int sweep = 0; sweep < 60; sweep++) {
    double off = 0;
    for (int p = 0; p < C; p++)
      for (int q = p + 1; q < C; q++) {
        double al = 0, be = 0, ga = 0;
        for (int i = 0; i < R; i++) {
          al += a[i * C + p] * a[i * C + p];
          be += a[i * C + q] * a[i * C + q];
          ga += a[i * C + p] * a[i * C + q];
        }
        if (fabs(ga) <= 1e-15 * sqrt(al * be)) continue;
        off = fmax(off, fabs(ga) / sqrt(al * be));
        double zeta = (be - al) / (2 * ga), t = (zeta >= 0 ? 1 : -1) / (fabs(zeta) + sqrt(1 + zeta * zeta));
        double c = 1 / sqrt(1 + t * t), s = c * t;
        for (int i = 0; i < R; i++) {
          double x = a[i * C + p], y = a[i * C + q];
          a[i * C + p] = c * x - s * y;
          a[i * C + q] = s * x + c * y;
        }
        for (int i = 0; i < C; i++) {
          double x = v[i * C + p], y = v[i * C + q];
          v[i * C + p] = c * x - s * y;
          v[i * C + q] = s * x + c * y;
        }
      }
    if (off < 1e-14) break;
  }
  for (int j = 0; j < C; j++) {
    double s = 0;
    for (int i = 0; i < R; i++) s += a[i * C + j] * a[i * C + j];
    sv[j] = sqrt(s);
    for (int i = 0; i < R; i++) a[i * C + j] /= sv[j]; /* U's columns */
  }
  /* tall polar [R, C] = U V^T; for a wide g it is the transpose */
  for (int i = 0; i < R; i++)
    for (int j = 0; j < C; j++) {
      double s = 0;
      for (int k = 0; k < C; k++) s += a[i * C + k] * v[j * C + k];
      if (wide) polar[j * n + i] = s;
      else polar[i * n + j] = s;
    }
  free(a);
  free(v);
}

static void singular_values(const double *g, int m, int n, double *sv) {
  double *polar = malloc(sizeof(double) * m * n);
  jacobi_polar(g, m, n, sv, polar);
  free(polar);
}

static void test_jacobi_reference(void) {
  /* [[3, 0], [4, 5]]: singular values sqrt(45), sqrt(5) */
  const double g[4] = {3, 0, 4, 5};
  double sv[2], polar[4];
  jacobi_polar(g, 2, 2, sv, polar);
  double hi = fmax(sv[0], sv[1]), lo = fmin(sv[0], sv[1]);
  CHECK_NEAR(hi, sqrt(45), 1e-12);
  CHECK_NEAR(lo, sqrt(5), 1e-12);
  /* the polar factor is orthogonal: P^T P = I */
  CHECK_NEAR(polar[0] * polar[0] + polar[2] * polar[2], 1, 1e-12);
  CHECK_NEAR(polar[0] * polar[1] + polar[2] * polar[3], 0, 1e-12);
}

static void test_spectrum(void) {
  const int shapes[3][3] = {{64, 32, 20}, {32, 64, 20}, {512, 128, 3}};
  nnc_rng rng;
  nnc_rng_seed(&rng, 7, 1);
  for (int s = 0; s < 3; s++) {
    int m = shapes[s][0], n = shapes[s][1], draws = shapes[s][2], k = m < n ? m : n;
    double lo = 1e9, hi = 0, worst_cos = 1;
    double *g = malloc(sizeof(double) * m * n), *x = malloc(sizeof(double) * m * n);
    double *polar = malloc(sizeof(double) * m * n), *sv = malloc(sizeof(double) * k);
    float *xf = malloc(sizeof(float) * m * n);
    for (int d = 0; d < draws; d++) {
      for (int i = 0; i < m * n; i++) g[i] = nnc_rng_normal(&rng);
      for (int i = 0; i < m * n; i++) xf[i] = (float)g[i];
      nnc_newton_schulz_f32(xf, m, n, 5, NULL); /* f32, as training runs it */
      for (int i = 0; i < m * n; i++) x[i] = xf[i];
      jacobi_polar(g, m, n, sv, polar);
      double dot = 0, nx = 0, np = 0;
      for (int i = 0; i < m * n; i++) dot += x[i] * polar[i], nx += x[i] * x[i], np += polar[i] * polar[i];
      worst_cos = fmin(worst_cos, dot / sqrt(nx * np));
      singular_values(x, m, n, sv);
      for (int i = 0; i < k; i++) lo = fmin(lo, sv[i]), hi = fmax(hi, sv[i]);
    }
    printf("NS5 %dx%d over %d draws: singular values in [%.3f, %.3f], min cosine to U V^T %.4f\n", m, n, draws, lo, hi,
           worst_cos);
    CHECKF(lo >= 0.6 && hi <= 1.2, "%dx%d: singular values [%g, %g]", m, n, lo, hi);
    CHECKF(worst_cos >= 0.97, "%dx%d: cosine %g", m, n, worst_cos);
    free(g), free(x), free(polar), free(sv), free(xf);
  }
}

static void test_ns_edge_cases(void) {
  /* zero in, zero out */
  float z[12] = {0};
  nnc_newton_schulz_f32(z, 3, 4, 5, NULL);
  int nonzero = 0;
  for (int i = 0; i < 12; i++) nonzero += z[i] != 0;
  CHECK(nonzero == 0);
  /* NS(G^T) = NS(G)^T; a 1 x n row becomes g / ||g|| times the scalar map of 1 */
  nnc_rng rng;
  nnc_rng_seed(&rng, 3, 1);
  double g[40 * 24], gt[24 * 40];
  for (int i = 0; i < 40; i++)
    for (int j = 0; j < 24; j++) gt[j * 40 + i] = g[i * 24 + j] = nnc_rng_normal(&rng);
  nnc_newton_schulz_f64(g, 40, 24, 5, NULL);
  nnc_newton_schulz_f64(gt, 24, 40, 5, NULL);
  double err = 0;
  for (int i = 0; i < 40; i++)
    for (int j = 0; j < 24; j++) err = fmax(err, fabs(gt[j * 40 + i] - g[i * 24 + j]));
  CHECKF(err < 1e-12, "transpose error %g", err);
  /* zero steps: only the Frobenius normalisation */
  double r[3] = {3, 0, 4};
  nnc_newton_schulz_f64(r, 1, 3, 0, NULL);
  CHECK_NEAR(r[0], 3 / (5 + 1e-7), 1e-15);
  CHECK_NEAR(r[2], 4 / (5 + 1e-7), 1e-15);
  /* the tensor helper keeps the shape and works on the [out, rest] view */
  nnc_tensor *w = nnc_randn(NNC_F64, NNC_SHAPE(4, 2, 3, 3), &rng);
  nnc_tensor *o = nnc_muon_orthogonalize(w, 5);
  CHECK(o->ndim == 4 && o->shape[3] == 3 && !o->requires_grad);
  double *flat = malloc(sizeof(double) * 72);
  for (int i = 0; i < 72; i++) flat[i] = nnc_get(w, i);
  nnc_newton_schulz_f64(flat, 4, 18, 5, NULL);
  err = 0;
  for (int i = 0; i < 72; i++) err = fmax(err, fabs(flat[i] - nnc_get(o, i)));
  CHECK(err == 0);
  free(flat);
  nnc_step_end();
}

static void test_ns_vs_torch(void) {
  double t[28], w[28];
  float tf[28], wf[28];
  memcpy(t, ns_tall_in, sizeof t);
  memcpy(w, ns_wide_in, sizeof w);
  for (int i = 0; i < 28; i++) tf[i] = (float)t[i], wf[i] = (float)w[i];
  nnc_newton_schulz_f64(t, 7, 4, 5, NULL);
  nnc_newton_schulz_f64(w, 4, 7, 5, NULL);
  nnc_newton_schulz_f32(tf, 7, 4, 5, NULL);
  nnc_newton_schulz_f32(wf, 4, 7, 5, NULL);
  double e64 = 0, e32 = 0;
  for (int i = 0; i < 28; i++) {
    e64 = fmax(e64, fmax(fabs(t[i] - ns_tall_out[i]), fabs(w[i] - ns_wide_out[i])));
    e32 = fmax(e32, fmax(fabs(tf[i] - ns_tall_out[i]), fabs(wf[i] - ns_wide_out[i])));
  }
  CHECKF(e64 < 1e-12, "f64 NS vs torch: %g", e64);
  CHECKF(e32 < 2e-5, "f32 NS vs torch: %g", e32);
}

/* ---- Muon steps against muon.py ---- */
static const char *const names[4] = {"w_tall", "w_wide", "conv", "bias"};

static void make_block(nnc_params *P, nnc_dtype dt) {
  nnc_params_init(P, dt);
  nnc_params_add(P, names[0], NNC_SHAPE(6, 4));
  nnc_params_add(P, names[1], NNC_SHAPE(3, 5));
  nnc_params_add(P, names[2], NNC_SHAPE(4, 2, 3, 3));
  nnc_params_add(P, names[3], NNC_SHAPE(4));
  for (int64_t i = 0; i < P->numel; i++) nnc_set(nnc_params_values(P), i, muon_w0[i]);
  nnc_step_end();
}

static double loss_step(nnc_params *P) {
  nnc_params_zero_grad(P);
  nnc_tensor *loss = NULL;
  for (int k = 0; k < P->count; k++) {
    nnc_tensor *p = P->tensors[k], *t = nnc_empty(P->dtype, p->ndim, p->shape);
    for (int64_t i = 0; i < nnc_numel(t); i++) nnc_set(t, i, muon_targets[p->offset + i]);
    nnc_tensor *term = nnc_sum_all(nnc_mul(t, nnc_tanh(p)));
    loss = loss ? nnc_add(loss, term) : term;
  }
  double l = nnc_item(loss);
  nnc_backward(loss);
  return l;
}

static void check_parity(nnc_dtype dt, bool nesterov, const double *want_loss, const double *want_final,
                         const double *want_mom, double tol) {
  nnc_params P;
  make_block(&P, dt);
  nnc_optim o;
  double mom = nesterov ? 0.95 : 0.9, muon_lr = nesterov ? 0.02 : 0.05, wd = nesterov ? 0.1 : 0.0;
  nnc_adamw_init(&o, &P, 0.01, 0.9, 0.95, 1e-10, wd);
  nnc_muon *mu = nnc_muon_attach(&o, muon_lr, mom, wd);
  mu->nesterov = nesterov;
  CHECK(nnc_muon_owns(&o, 1) && !nnc_muon_owns(&o, 0) && !nnc_muon_owns(&o, 2) && !nnc_muon_owns(&o, 3));
  CHECK(nnc_muon_use(&o, "w_", true) == 2 && nnc_muon_use(&o, "conv", true) == 1);
  double lerr = 0;
  for (int s = 0; s < 6; s++) {
    double l = loss_step(&P);
    lerr = fmax(lerr, fabs(l - want_loss[s]));
    nnc_optim_step(&o);
    nnc_step_end();
  }
  double werr = 0, merr = 0;
  for (int64_t i = 0; i < P.numel; i++) {
    werr = fmax(werr, fabs(nnc_get(nnc_params_values(&P), i) - want_final[i]));
    double m = dt == NNC_F32 ? ((float *)o.buf1)[i] : ((double *)o.buf1)[i];
    merr = fmax(merr, fabs(m - want_mom[i]));
  }
  nnc_step_end();
  CHECKF(lerr < tol && werr < tol && merr < tol, "%s %s: loss %g, weights %g, momentum %g", nnc_dtype_name(dt),
         nesterov ? "nesterov" : "plain", lerr, werr, merr);
  /* the step counts: every parameter updated 6 times, by one rule or the other */
  for (int k = 0; k < 4; k++) CHECK(o.param_steps[k] == 6);
  nnc_optim_free(&o);
  nnc_params_free(&P);
}

static void test_muon_vs_torch(void) {
  check_parity(NNC_F64, true, muon_nesterov_loss, muon_nesterov_final, muon_nesterov_momentum, 1e-10);
  check_parity(NNC_F64, false, muon_plain_loss, muon_plain_final, muon_plain_momentum, 1e-10);
  check_parity(NNC_F32, true, muon_nesterov_loss, muon_nesterov_final, muon_nesterov_momentum, 2e-5);
  check_parity(NNC_F32, false, muon_plain_loss, muon_plain_final, muon_plain_momentum, 2e-5);
}

/* a 4-d filter [8, 3, 2, 2] and its 2-d view [8, 12] get the same update when the scale is 1
 * for both (kh/kw = 1; 8/12 < 1) */
static void test_filter_vs_view(void) {
  nnc_params P4, P2;
  nnc_params_init(&P4, NNC_F64);
  nnc_params_init(&P2, NNC_F64);
  nnc_tensor *w4 = nnc_params_add(&P4, "w", NNC_SHAPE(8, 3, 2, 2)), *w2 = nnc_params_add(&P2, "w", NNC_SHAPE(8, 12));
  nnc_rng rng;
  nnc_rng_seed(&rng, 5, 1);
  for (int i = 0; i < 96; i++) {
    double v = nnc_rng_normal(&rng), g = nnc_rng_normal(&rng);
    nnc_f64(w4)[i] = nnc_f64(w2)[i] = v;
    nnc_f64(w4->grad)[i] = nnc_f64(w2->grad)[i] = g;
  }
  nnc_optim o4, o2;
  nnc_sgd_init(&o4, &P4, 0.1, 0, 0, false);
  nnc_sgd_init(&o2, &P2, 0.1, 0, 0, false);
  nnc_muon_attach(&o4, 0.05, 0.95, 0.01);
  nnc_muon_attach(&o2, 0.05, 0.95, 0.01);
  nnc_muon_use(&o4, "", true);
  nnc_muon_use(&o2, "", true);
  for (int s = 0; s < 3; s++) nnc_optim_step(&o4), nnc_optim_step(&o2);
  double err = 0, moved = 0;
  for (int i = 0; i < 96; i++) err = fmax(err, fabs(nnc_f64(w4)[i] - nnc_f64(w2)[i]));
  nnc_rng_seed(&rng, 5, 1);
  for (int i = 0; i < 96; i++) {
    moved = fmax(moved, fabs(nnc_f64(w2)[i] - nnc_rng_normal(&rng)));
    nnc_rng_normal(&rng);
  }
  CHECKF(err == 0 && moved > 0.01, "filter vs view %g, moved %g", err, moved);
  nnc_optim_free(&o4);
  nnc_optim_free(&o2);
  nnc_params_free(&P4);
  nnc_params_free(&P2);
}

/* the official scale: a tall [16, 4] matrix moves by lr * 2 * (orthogonal update): its update
 * has spectral norm about 2 lr; a wide [4, 16] by about lr */
static void test_shape_scale(void) {
  for (int tall = 0; tall < 2; tall++) {
    nnc_params P;
    nnc_params_init(&P, NNC_F64);
    int64_t shape[2] = {tall ? 16 : 4, tall ? 4 : 16};
    nnc_tensor *w = nnc_params_add(&P, "w", 2, shape);
    nnc_rng rng;
    nnc_rng_seed(&rng, 9, 1);
    for (int i = 0; i < 64; i++) nnc_f64(w->grad)[i] = nnc_rng_normal(&rng);
    nnc_optim o;
    nnc_sgd_init(&o, &P, 1.0, 0, 0, false);
    nnc_muon *mu = nnc_muon_attach(&o, 1.0, 0.0, 0.0);
    mu->nesterov = false;
    mu->ns_steps = 30; /* with many steps the singular values settle near the map's fixed band */
    nnc_muon_use(&o, "w", true);
    nnc_optim_step(&o);
    /* ||update||_F^2 = scale^2 * sum s'^2 with 4 singular values near 1 */
    double ss = 0;
    for (int i = 0; i < 64; i++) ss += nnc_f64(w)[i] * nnc_f64(w)[i];
    double per_sv = ss / 4, want = tall ? 4.0 : 1.0;
    CHECKF(per_sv > 0.5 * want && per_sv < 1.5 * want, "%s: mean squared singular value %g, want ~%g",
           tall ? "tall" : "wide", per_sv, want);
    nnc_optim_free(&o);
    nnc_params_free(&P);
  }
}

static void test_selection_and_state(void) {
  nnc_params P;
  nnc_params_init(&P, NNC_F32);
  nnc_rng rng;
  nnc_rng_seed(&rng, 1, 1);
  nnc_params_add(&P, "embed.weight", NNC_SHAPE(10, 8));
  nnc_sequential_mod *net = nnc_new_mlp(&P, "", 4, (int64_t[]){8, 16, 16, 3}, NNC_ACT_RELU, &rng);
  nnc_optim o;
  nnc_adamw_init(&o, &P, 1e-3, 0.9, 0.95, 1e-10, 0.01);
  nnc_muon *mu = nnc_muon_attach(&o, 0.02, 0.95, 0.0);
  CHECK(nnc_muon_get(&o) == mu && !strcmp(o.ext->name, "muon"));
  /* embed.weight (first, and "embed"), 0.weight [16, 8], 2.weight [16, 16], 4.weight [3, 16] (head):
   * the default gives 0.weight and 2.weight to Muon (the embedding is the input layer here) */
  int k0 = nnc_params_index(&P, nnc_params_find(&P, "0.weight")), k2 = nnc_params_index(&P, nnc_params_find(&P, "2.weight"));
  int k4 = nnc_params_index(&P, nnc_params_find(&P, "4.weight")), kb = nnc_params_index(&P, nnc_params_find(&P, "2.bias"));
  CHECK(nnc_muon_owns(&o, k0) && nnc_muon_owns(&o, k2) && !nnc_muon_owns(&o, k4) && !nnc_muon_owns(&o, kb) &&
        !nnc_muon_owns(&o, 0));
  EXPECT_ABORT(nnc_muon_use(&o, "2.bias", true), "Muon updates matrices only");
  EXPECT_ABORT(nnc_muon_attach(&o, 0.02, 0.95, 0), "already has an extension");
  /* a frozen Muon parameter does not move; the others do */
  for (int64_t i = 0; i < P.numel; i++) nnc_f32(nnc_params_grads(&P))[i] = (float)sin((double)i);
  nnc_step_end();
  P.frozen[k2] = true;
  float before2 = nnc_f32(P.tensors[k2])[5], before0 = nnc_f32(P.tensors[k0])[5];
  nnc_optim_step(&o);
  CHECK(nnc_f32(P.tensors[k2])[5] == before2 && nnc_f32(P.tensors[k0])[5] != before0);
  CHECK(o.param_steps[k2] == 0 && o.param_steps[k0] == 1);
  /* the momentum lives in the optimiser's state (exp_avg) */
  nnc_state_array arr[8];
  int n = nnc_optim_state(&o, arr);
  CHECK(n >= 2 && !strcmp(arr[0].name, "exp_avg") && ((float *)arr[0].data)[P.tensors[k0]->offset + 5] != 0);
  /* the gradient is not touched (muon.py's Nesterov path overwrites it) */
  CHECK(nnc_f32(P.tensors[k0]->grad)[5] == (float)sin((double)(P.tensors[k0]->offset + 5)));
  /* reset keeps Muon; lr follows o.lr */
  nnc_optim_reset(&o);
  CHECK(nnc_muon_get(&o) == mu && o.steps == 0);
  nnc_optim_free(&o);
  CHECK(o.ext == NULL);
  nnc_module_free(&net->base);
  nnc_params_free(&P);
}

/* ---- gradient noise ---- */
static void test_noise(void) {
  nnc_grad_noise gn = nnc_grad_noise_make(0.3, NNC_GRAD_NOISE_GAMMA, 42);
  CHECK_NEAR(nnc_grad_noise_std(&gn, 0), sqrt(0.3), 1e-15);
  double want = 0.3 / pow(100, 0.55);
  CHECK_NEAR(want, 0.0238, 0.005);
  nnc_params P;
  nnc_params_init(&P, NNC_F32);
  nnc_params_add(&P, "a", NNC_SHAPE(1000, 600));
  nnc_params_add(&P, "b", NNC_SHAPE(400000));
  nnc_params_zero_grad(&P);
  double sigma = nnc_grad_noise_apply(&gn, &P, 99);
  CHECK_NEAR(sigma * sigma, want, 1e-12);
  double s = 0, s2 = 0;
  const float *g = nnc_f32(nnc_params_grads(&P));
  for (int64_t i = 0; i < P.numel; i++) s += g[i], s2 += (double)g[i] * g[i];
  double mean = s / (double)P.numel, var = s2 / (double)P.numel - mean * mean;
  printf("noise at t = 99, eta 0.3: variance %.6f over %lld draws (want %.6f), mean %.2e\n", var, (long long)P.numel,
         want, mean);
  CHECKF(fabs(var / want - 1) < 0.01, "variance %g vs %g", var, want);
  CHECKF(fabs(mean) < 5 * sqrt(want / (double)P.numel), "mean %g", mean);
  /* the same (seed, t) gives the same bits whatever the thread count; another t does not */
  float *copy = malloc(sizeof(float) * (size_t)P.numel);
  memcpy(copy, g, sizeof(float) * (size_t)P.numel);
  int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  nnc_params_zero_grad(&P);
  nnc_grad_noise_apply(&gn, &P, 99);
  omp_set_num_threads(threads > 1 ? threads : 2);
  g = nnc_f32(nnc_params_grads(&P));
  CHECK(memcmp(copy, g, sizeof(float) * (size_t)P.numel) == 0);
  nnc_params_zero_grad(&P);
  nnc_grad_noise_apply(&gn, &P, 100);
  g = nnc_f32(nnc_params_grads(&P));
  CHECK(memcmp(copy, g, sizeof(float) * (size_t)P.numel) != 0);
  /* nnc_grad_noise_draw gives the unscaled draws of any chunk */
  double z[10];
  nnc_grad_noise_draw(&gn, 99, 2 * NNC_GRAD_NOISE_CHUNK, z, 10);
  CHECK_NEAR(sigma * z[3], copy[2 * NNC_GRAD_NOISE_CHUNK + 3], 1e-6);
  omp_set_num_threads(threads);
  /* adds to what is there; frozen parameters keep their gradients; eta 0 changes nothing */
  nnc_params_zero_grad(&P);
  nnc_f32(P.tensors[1]->grad)[7] = 5.0f;
  P.frozen[1] = true;
  nnc_grad_noise_apply(&gn, &P, 0);
  CHECK(nnc_f32(P.tensors[1]->grad)[7] == 5.0f && nnc_f32(P.tensors[1]->grad)[8] == 0.0f && nnc_f32(P.tensors[0]->grad)[8] != 0);
  nnc_grad_noise zero = nnc_grad_noise_make(0, 0.55, 1);
  float before = nnc_f32(P.tensors[0]->grad)[8];
  CHECK(nnc_grad_noise_apply(&zero, &P, 3) == 0 && nnc_f32(P.tensors[0]->grad)[8] == before);
  EXPECT_ABORT(nnc_grad_noise_make(-1, 0.55, 0), "grad_noise");
  free(copy);
  nnc_step_end();
  nnc_params_free(&P);
  /* f64 blocks too */
  nnc_params Q;
  nnc_params_init(&Q, NNC_F64);
  nnc_params_add(&Q, "w", NNC_SHAPE(3));
  nnc_params_zero_grad(&Q);
  nnc_grad_noise_apply(&gn, &Q, 5);
  nnc_grad_noise_draw(&gn, 5, 0, z, 3);
  CHECK_NEAR(nnc_f64(Q.tensors[0]->grad)[2], nnc_grad_noise_std(&gn, 5) * z[2], 1e-15);
  nnc_params_free(&Q);
}

int main(void) {
  nnc_init();
  test_jacobi_reference();
  test_spectrum();
  test_ns_edge_cases();
  test_ns_vs_torch();
  test_muon_vs_torch();
  test_filter_vs_view();
  test_shape_scale();
  test_selection_and_state();
  test_noise();
  return test_summary();
}
