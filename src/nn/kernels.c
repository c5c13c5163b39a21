/* nn/kernels.c: see kernels.h. */
#include "nn/kernels.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "core/error.h"

/* ---- Gauss-Hermite ---- */
void nnc_gauss_hermite(int n, double *x, double *w) {
  NNC_CHECK(n >= 1 && n <= 400, "gauss_hermite", "n = %d outside [1, 400]", n);
  /* Golub-Welsch-free Newton iteration on orthonormal physicists' Hermite polynomials
   * (weight exp(-x^2)), then x -> sqrt(2) x, w -> w / sqrt(pi) for the standard normal */
  const double PIM4 = 0.7511255444649425; /* pi^(-1/4) */
  int m = (n + 1) / 2;
  double z = 0, pp = 1;
  for (int i = 0; i < m; i++) {
    if (i == 0) z = sqrt(2.0 * n + 1) - 1.85575 * pow(2.0 * n + 1, -0.16667);
    else if (i == 1) z -= 1.14 * pow((double)n, 0.426) / z;
    else if (i == 2) z = 1.86 * z - 0.86 * x[0];
    else if (i == 3) z = 1.91 * z - 0.91 * x[1];
    else z = 2.0 * z - x[i - 2];
    for (int it = 0; it < 100; it++) {
      double p1 = PIM4, p2 = 0;
      for (int j = 1; j <= n; j++) {
        double p3 = p2;
        p2 = p1;
        p1 = z * sqrt(2.0 / j) * p2 - sqrt((double)(j - 1) / j) * p3;
      }
      pp = sqrt(2.0 * n) * p2;
      double z1 = z;
      z = z1 - p1 / pp;
      if (fabs(z - z1) <= 1e-15 * (1 + fabs(z))) break;
    }
    x[i] = z;
    x[n - 1 - i] = -z;
    w[i] = w[n - 1 - i] = 2.0 / (pp * pp);
  }
  for (int i = 0; i < n; i++) {
    x[i] *= sqrt(2.0);
    w[i] /= sqrt(M_PI);
  }
  if (n % 2) x[n / 2] = 0;
}


static double sigmoid(double x) { return x >= 0 ? 1 / (1 + exp(-x)) : exp(x) / (1 + exp(x)); }
static double phi_cdf(double x) { return 0.5 * erfc(-x / sqrt(2.0)); }

double nnc_act_value(nnc_act a, double p, double x) {
  switch (a) {
  case NNC_ACT_IDENTITY: return x;
  case NNC_ACT_RELU: return x > 0 ? x : 0;
  case NNC_ACT_LEAKY_RELU: return x > 0 ? x : p * x;
  case NNC_ACT_ELU: return x > 0 ? x : p * expm1(x);
  case NNC_ACT_TANH: return tanh(x);
  case NNC_ACT_SIGMOID: return sigmoid(x);
  case NNC_ACT_GELU: return x * phi_cdf(x);
  case NNC_ACT_GELU_TANH: return 0.5 * x * (1 + tanh(sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
  case NNC_ACT_SILU: return x * sigmoid(x);
  case NNC_ACT_SOFTPLUS: return x > 30 ? x : log1p(exp(x));
  default: NNC_FAIL("act_value", "unknown activation %d", (int)a);
  }
  return 0;
}

double nnc_act_deriv(nnc_act a, double p, double x) {
  switch (a) {
  case NNC_ACT_IDENTITY: return 1;
  case NNC_ACT_RELU: return x > 0 ? 1 : 0;
  case NNC_ACT_LEAKY_RELU: return x > 0 ? 1 : p;
  case NNC_ACT_ELU: return x > 0 ? 1 : p * exp(x);
  case NNC_ACT_TANH: { double t = tanh(x); return 1 - t * t; }
  case NNC_ACT_SIGMOID: { double s = sigmoid(x); return s * (1 - s); }
  case NNC_ACT_GELU: return phi_cdf(x) + x * exp(-0.5 * x * x) / sqrt(2 * M_PI);
  case NNC_ACT_GELU_TANH: {
    double c = sqrt(2 / M_PI), u = c * (x + 0.044715 * x * x * x), t = tanh(u);
    return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * c * (1 + 3 * 0.044715 * x * x);
  }
  case NNC_ACT_SILU: { double s = sigmoid(x); return s + x * s * (1 - s); }
  case NNC_ACT_SOFTPLUS: return sigmoid(x);
  default: NNC_FAIL("act_deriv", "unknown activation %d", (int)a);
  }
  return 0;
}

static double ipow(double v, int p) {
  double r = 1;
  for (int i = 0; i < p; i++) r *= v;
  return r;
}

/* E_{g~N(0,1)} f(g): composite Simpson on [-12, split] and [split, 12] (600 intervals each),
 * with the split at the integrand's kink so that ReLU-like functions integrate to ~1e-9
 * (Gauss-Hermite converges only algebraically across a kink) */
typedef double (*gfun)(double g, const void *ctx);
static double normal_expect(gfun f, const void *ctx, double split) {
  enum { M = 600 };
  const double lo = -12, hi = 12;
  split = split < lo + 1 ? lo + 1 : split > hi - 1 ? hi - 1 : split;
  double total = 0;
  for (int side = 0; side < 2; side++) {
    double a = side ? split : lo, b = side ? hi : split, h = (b - a) / M, s = 0;
    for (int i = 0; i <= M; i++) {
      double g = a + i * h, c = (i == 0 || i == M) ? 1 : (i % 2 ? 4 : 2);
      if (side == 0 && i == M) g = b - 1e-9 * h; /* one-sided limits at the kink */
      if (side == 1 && i == 0) g = a + 1e-9 * h;
      s += c * f(g, ctx) * exp(-0.5 * g * g);
    }
    total += s * h / 3;
  }
  return total / sqrt(2 * M_PI);
}

typedef struct {
  nnc_act act;
  double param, sk;
  int ps, pd, pz;
} moment_ctx;
static double moment_f(double g, const void *vc) {
  const moment_ctx *c = vc;
  double z = c->sk * g, v = 1;
  if (c->ps) v *= ipow(nnc_act_value(c->act, c->param, z), c->ps);
  if (c->pd) v *= ipow(nnc_act_deriv(c->act, c->param, z), c->pd);
  if (c->pz) v *= ipow(z, c->pz);
  return v;
}

double nnc_act_moment(nnc_act act, double param, double K, int ps, int pd, int pz) {
  moment_ctx c = {act, param, sqrt(K > 0 ? K : 0), ps, pd, pz};
  return normal_expect(moment_f, &c, 0);
}

/* ---- criticality ---- */
double nnc_kernel_step(nnc_act act, double param, double c_b, double c_w, double K) {
  return c_b + c_w * nnc_act_moment(act, param, K, 2, 0, 0);
}

void nnc_kernel_chis(nnc_act act, double param, double c_w, double K, double *chi_par, double *chi_perp) {
  double s2z2 = nnc_act_moment(act, param, K, 2, 0, 2), s2 = nnc_act_moment(act, param, K, 2, 0, 0);
  *chi_par = c_w / (2 * K * K) * (s2z2 - K * s2);
  *chi_perp = c_w * nnc_act_moment(act, param, K, 0, 2, 0);
}

/* chi_par / chi_perp - 1 at C_W = 1 / <sigma'^2>_K (C_W cancels) */
static double crit_gap(nnc_act act, double param, double K) {
  double cp, cq;
  nnc_kernel_chis(act, param, 1.0, K, &cp, &cq);
  return cp / cq - 1;
}

bool nnc_critical_solve(nnc_act act, double param, double *c_b, double *c_w, double *k_star) {
  if (act == NNC_ACT_IDENTITY || act == NNC_ACT_RELU || act == NNC_ACT_LEAKY_RELU) {
    /* scale-invariant: <sigma'^2> does not depend on K */
    *c_b = 0;
    *c_w = 1 / nnc_act_moment(act, param, 1.0, 0, 2, 0);
    *k_star = 1;
    return true;
  }
  double s0 = nnc_act_value(act, param, 0), d0 = nnc_act_deriv(act, param, 0);
  /* sigma''(0), sigma'''(0) by central differences of sigma' */
  const double e = 1e-4;
  double s2 = (nnc_act_deriv(act, param, e) - nnc_act_deriv(act, param, -e)) / (2 * e);
  double s3 = (nnc_act_deriv(act, param, e) - 2 * d0 + nnc_act_deriv(act, param, -e)) / (e * e);
  /* with C_W = 1/s1^2: K' = K + (3 s2^2 / 4 + s1 s3) / s1^2 K^2 + ...; K* = 0 attracts iff the
   * bracket is negative (tanh: -2, so K ~ 1/(2l)); GELU/SiLU have s2 != 0 and a positive one */
  if (fabs(s0) < 1e-15 && d0 != 0 && 0.75 * s2 * s2 + d0 * s3 < 0) {
    /* K* = 0 class: chi_perp(0) = C_W sigma'(0)^2 = 1 */
    *c_b = 0;
    *c_w = 1 / (d0 * d0);
    *k_star = 0;
    return true;
  }
  /* scan K on a log grid for a sign change of the gap with C_b >= 0, then bisect */
  double prevK = 0.01, prevg = crit_gap(act, param, prevK);
  for (int i = 1; i <= 600; i++) {
    double K = 0.01 * pow(1e5, i / 600.0), g = crit_gap(act, param, K);
    if (isfinite(g) && isfinite(prevg) && (g == 0 || (g > 0) != (prevg > 0))) {
      double lo = prevK, hi = K, glo = prevg;
      for (int it = 0; it < 200 && hi - lo > 1e-13 * hi; it++) {
        double mid = 0.5 * (lo + hi), gm = crit_gap(act, param, mid);
        if ((gm > 0) == (glo > 0)) lo = mid, glo = gm;
        else hi = mid;
      }
      double Ks = 0.5 * (lo + hi);
      double cw = 1 / nnc_act_moment(act, param, Ks, 0, 2, 0);
      double cb = Ks - cw * nnc_act_moment(act, param, Ks, 2, 0, 0);
      if (cb >= -1e-12) {
        *c_b = cb > 0 ? cb : 0;
        *c_w = cw;
        *k_star = Ks;
        return true;
      }
    }
    prevK = K;
    prevg = g;
  }
  return false;
}

/* ---- per-layer statistics ---- */
void nnc_kernel_stats_free(nnc_kernel_stats *s) {
  free(s->K);
  free(s->kurt);
  free(s->kurt_se);
  free(s->vertex);
  memset(s, 0, sizeof *s);
}

void nnc_kernel_flow(nnc_act act, double param, double c_b, double c_w, int n0, double q0, int n, int depth, int inits,
                     bool dense, nnc_rng *rng, nnc_kernel_stats *out) {
  NNC_CHECK(n0 >= 1 && n >= 1 && depth >= 1 && inits >= 2, "kernel_flow", "n0 %d n %d depth %d inits %d", n0, n, depth,
            inits);
  enum { NB = 10 }; /* blocks of initialisations for the standard error of the kurtosis */
  const int L = depth;
  double *m2 = calloc((size_t)L, sizeof *m2), *m4 = calloc((size_t)L, sizeof *m4), *m22 = calloc((size_t)L, sizeof *m22);
  double *b2 = calloc((size_t)L * NB, sizeof *b2), *b4 = calloc((size_t)L * NB, sizeof *b4);
  int bcount[NB] = {0};
  int nmax = n > n0 ? n : n0;
  double *h = malloc((size_t)nmax * sizeof *h), *z = malloc((size_t)n * sizeof *z);
  if (!m2 || !m4 || !m22 || !b2 || !b4 || !h || !z) NNC_FAIL("kernel_flow", "out of memory");
  for (int it = 0; it < inits; it++) {
    int blk = (int)((int64_t)it * NB / inits);
    bcount[blk]++;
    int nin = n0;
    for (int j = 0; j < n0; j++) h[j] = sqrt(q0);
    for (int l = 0; l < L; l++) {
      if (dense) {
        double sd = sqrt(c_w / nin), sb = sqrt(c_b);
        for (int i = 0; i < n; i++) {
          double s = sb * nnc_rng_normal(rng);
          for (int j = 0; j < nin; j++) s += sd * nnc_rng_normal(rng) * h[j];
          z[i] = s;
        }
      } else {
        double q = 0;
        for (int j = 0; j < nin; j++) q += h[j] * h[j];
        double sd = sqrt(c_b + c_w * q / nin);
        for (int i = 0; i < n; i++) z[i] = sd * nnc_rng_normal(rng);
      }
      double s2 = 0, s4 = 0;
      for (int i = 0; i < n; i++) {
        double z2 = z[i] * z[i];
        s2 += z2;
        s4 += z2 * z2;
        h[i] = nnc_act_value(act, param, z[i]);
      }
      s2 /= n;
      s4 /= n;
      m2[l] += s2;
      m4[l] += s4;
      m22[l] += s2 * s2;
      b2[l * NB + blk] += s2;
      b4[l * NB + blk] += s4;
      nin = n;
    }
  }
  out->depth = L;
  out->K = malloc((size_t)L * sizeof(double));
  out->kurt = malloc((size_t)L * sizeof(double));
  out->kurt_se = malloc((size_t)L * sizeof(double));
  out->vertex = malloc((size_t)L * sizeof(double));
  for (int l = 0; l < L; l++) {
    double K = m2[l] / inits, E4 = m4[l] / inits, var = m22[l] / inits - K * K;
    var *= (double)inits / (inits - 1);
    out->K[l] = K;
    out->kurt[l] = E4 / (K * K) - 3;
    out->vertex[l] = var / (K * K) - 2.0 / n;
    double mk = 0, vk = 0;
    for (int b = 0; b < NB; b++) {
      double kb = b4[l * NB + b] / bcount[b] / ((b2[l * NB + b] / bcount[b]) * (b2[l * NB + b] / bcount[b])) - 3;
      mk += kb;
      vk += kb * kb;
    }
    mk /= NB;
    vk = vk / NB - mk * mk;
    out->kurt_se[l] = sqrt(vk > 0 ? vk / (NB - 1) : 0);
  }
  free(m2);
  free(m4);
  free(m22);
  free(b2);
  free(b4);
  free(h);
  free(z);
}

/* ---- duals ---- */
nnc_dual nnc_dual_relu(void) { return (nnc_dual){.relu = true}; }

nnc_dual nnc_dual_hermite(int n, const double *a2) {
  NNC_CHECK(n >= 1 && n <= 64, "dual_hermite", "n = %d outside [1, 64]", n);
  nnc_dual d = {.n = n};
  double s = 0;
  for (int k = 0; k < n; k++) s += a2[k];
  NNC_CHECK(s > 0, "dual_hermite", "all coefficients zero");
  for (int k = 0; k < n; k++) d.a2[k] = a2[k] / s;
  /* b_j = (-1)^j sum_k a2_k C(k, j): the expansion of rho(1 - s) in s */
  for (int j = 0; j < n; j++) {
    double b = 0;
    for (int k = j; k < n; k++) {
      double c = 1;
      for (int i = 0; i < j; i++) c = c * (k - i) / (i + 1);
      b += d.a2[k] * c;
    }
    d.b[j] = j % 2 ? -b : b;
  }
  return d;
}

typedef struct {
  nnc_act act;
  double param, sq;
  int k;
} herm_ctx;
static double herm_f(double g, const void *vc) {
  const herm_ctx *c = vc;
  double hm = 0, hk = 1; /* orthonormal probabilists' Hermite h_{j-1}, h_j */
  for (int j = 0; j < c->k; j++) {
    double hn = (g * hk - sqrt((double)j) * hm) / sqrt(j + 1.0);
    hm = hk;
    hk = hn;
  }
  return nnc_act_value(c->act, c->param, c->sq * g) * hk;
}

nnc_dual nnc_dual_from_act(nnc_act act, double param, double q, int n) {
  NNC_CHECK(n >= 1 && n <= 64, "dual_from_act", "n = %d outside [1, 64]", n);
  double a2[64];
  for (int k = 0; k < n; k++) {
    herm_ctx c = {act, param, sqrt(q), k};
    double a = normal_expect(herm_f, &c, 0);
    a2[k] = a * a;
  }
  return nnc_dual_hermite(n, a2);
}

double nnc_dual_rho(const nnc_dual *d, double t) {
  t = t > 1 ? 1 : t < -1 ? -1 : t;
  if (d->relu) return (sqrt(1 - t * t) + (M_PI - acos(t)) * t) / M_PI;
  double s = 0;
  for (int k = d->n - 1; k >= 0; k--) s = s * t + d->a2[k];
  return s;
}

double nnc_dual_drho(const nnc_dual *d, double t) {
  t = t > 1 ? 1 : t < -1 ? -1 : t;
  if (d->relu) return (M_PI - acos(t)) / M_PI;
  double s = 0;
  for (int k = d->n - 1; k >= 1; k--) s = s * t + k * d->a2[k];
  return s;
}

double nnc_dual_one_minus_rho(const nnc_dual *d, double s) {
  if (d->relu || s >= 1e-3) return 1 - nnc_dual_rho(d, 1 - s); /* loses at most ~1e-13 relative */
  /* rho(1 - s) = sum_j b_j s^j, b_0 = 1; for s < 1e-3 the terms fall at least as (n s)^j / j! */
  double r = 0;
  for (int j = d->n - 1; j >= 1; j--) r = r * s + d->b[j];
  return -r * s;
}

double nnc_dual_xi(const nnc_dual *d) { return nnc_dual_drho(d, 1.0); }

typedef struct {
  nnc_act act;
  double param, t, c, u;
} rho_ctx;
static double rho_inner(double g, const void *vc) {
  const rho_ctx *r = vc;
  return nnc_act_value(r->act, r->param, r->t * r->u + r->c * g);
}
static double rho_outer(double u, const void *vc) {
  rho_ctx r = *(const rho_ctx *)vc;
  r.u = u;
  double split = r.c > 1e-12 ? -r.t * u / r.c : 0;
  return nnc_act_value(r.act, r.param, u) * normal_expect(rho_inner, &r, split);
}

double nnc_dual_rho_quadrature(nnc_act act, double param, double t) {
  rho_ctx r = {act, param, t, sqrt(1 - t * t > 0 ? 1 - t * t : 0), 0};
  return normal_expect(rho_outer, &r, 0) / nnc_act_moment(act, param, 1.0, 2, 0, 0);
}

void nnc_ntk_normalised(const nnc_dual *d, int depth, int64_t m, const double *t, double *ntk_out, double *nngp_out) {
  double xi = nnc_dual_xi(d);
  for (int64_t i = 0; i < m; i++) {
    /* Sigma is carried both as sig and as s = 1 - sig; whichever is small is the accurate one */
    double sig = t[i], s = 1 - t[i], th = t[i], invD = 1; /* th = Theta / D */
    for (int l = 1; l <= depth; l++) {
      double dr = nnc_dual_drho(d, sig);
      double sig_new, s_new;
      if (s < 0.5) {
        s_new = nnc_dual_one_minus_rho(d, s);
        sig_new = 1 - s_new;
      } else {
        sig_new = nnc_dual_rho(d, sig);
        s_new = 1 - sig_new;
      }
      double invD_new = invD / (xi + invD);
      /* Theta_l / D_l = (Theta_{l-1}/D_{l-1}) rho' D_{l-1}/D_l + Sigma_l / D_l */
      th = th * dr * (invD_new / invD) + sig_new * invD_new;
      sig = sig_new;
      s = s_new;
      invD = invD_new;
      ntk_out[(int64_t)(l - 1) * m + i] = th;
      if (nngp_out) nngp_out[(int64_t)(l - 1) * m + i] = sig;
    }
  }
}

/* ---- kernel regression ---- */
bool nnc_cholesky(int64_t n, double *A) {
  for (int64_t j = 0; j < n; j++) {
    double *Aj = A + j * n;
    double d = Aj[j];
    for (int64_t k = 0; k < j; k++) d -= Aj[k] * Aj[k];
    if (!(d > 0)) return false;
    d = sqrt(d);
    Aj[j] = d;
    for (int64_t i = j + 1; i < n; i++) {
      double *Ai = A + i * n;
      double s = Ai[j];
      for (int64_t k = 0; k < j; k++) s -= Ai[k] * Aj[k];
      Ai[j] = s / d;
    }
  }
  return true;
}

void nnc_cholesky_solve(int64_t n, const double *L, int64_t k, double *B) {
  /* forward: L Y = B */
  for (int64_t i = 0; i < n; i++) {
    for (int64_t j = 0; j < i; j++) {
      double l = L[i * n + j];
      if (l != 0)
        for (int64_t c = 0; c < k; c++) B[i * k + c] -= l * B[j * k + c];
    }
    for (int64_t c = 0; c < k; c++) B[i * k + c] /= L[i * n + i];
  }
  /* backward: L^T X = Y */
  for (int64_t i = n - 1; i >= 0; i--) {
    for (int64_t c = 0; c < k; c++) B[i * k + c] /= L[i * n + i];
    for (int64_t j = 0; j < i; j++) {
      double l = L[i * n + j];
      if (l != 0)
        for (int64_t c = 0; c < k; c++) B[j * k + c] -= l * B[i * k + c];
    }
  }
}

bool nnc_kernel_classify(int64_t n, const double *Ktr, const int64_t *ytr, int classes, int64_t m, const double *Kte,
                         double lambda, int64_t *pred) {
  double *A = malloc((size_t)(n * n) * sizeof *A), *Y = calloc((size_t)(n * classes), sizeof *Y);
  if (!A || !Y) NNC_FAIL("kernel_classify", "out of memory");
  memcpy(A, Ktr, (size_t)(n * n) * sizeof *A);
  for (int64_t i = 0; i < n; i++) {
    A[i * n + i] += lambda;
    Y[i * classes + ytr[i]] = 1;
  }
  bool ok = nnc_cholesky(n, A);
  if (ok) {
    nnc_cholesky_solve(n, A, classes, Y);
    double *f = malloc((size_t)classes * sizeof *f);
    for (int64_t a = 0; a < m; a++) {
      for (int c = 0; c < classes; c++) f[c] = 0;
      const double *row = Kte + a * n;
      for (int64_t i = 0; i < n; i++)
        for (int c = 0; c < classes; c++) f[c] += row[i] * Y[i * classes + c];
      int best = 0;
      for (int c = 1; c < classes; c++)
        if (f[c] > f[best]) best = c;
      pred[a] = best;
    }
    free(f);
  }
  free(A);
  free(Y);
  return ok;
}
