/* nn/kernels.h: the infinite-width theory of deep MLPs, and finite-width probes of it.
 *
 * Gaussian expectations by Gauss-Hermite quadrature; the single-input kernel recursion
 * K^(l+1) = C_b + C_W <sigma(z)^2>_{K^(l)}, the susceptibilities chi_par / chi_perp and a
 * solver for the critical (C_b, C_W) ("The Principles of Deep Learning Theory", Roberts,
 * Yaida, Hanin); per-layer preactivation statistics of random MLPs over many
 * initialisations (kernel, excess kurtosis, the four-point vertex); normalised dual
 * activations (the arc-cosine closed form of ReLU, squared-Hermite-coefficient duals, and the
 * dual of any activation from its Hermite coefficients), the NNGP/NTK recursions on Gram
 * matrices (Jacot et al.; Radhakrishnan, Belkin, Uhler), and kernel regression with a
 * Cholesky solve in double.  Everything here is double precision and single-threaded. */
#ifndef NNC_NN_KERNELS_H
#define NNC_NN_KERNELS_H
#include <stdbool.h>
#include <stdint.h>
#include "core/rng.h"
#include "nn/act.h"

/* ---- Gaussian expectations ---- */
/* n-point Gauss-Hermite rule for the standard normal: sum_k w[k] f(x[k]) ~ E_{g~N(0,1)} f(g);
 * exact for polynomials of degree < 2n.  n in [1, 400]. */
void nnc_gauss_hermite(int n, double *x, double *w);
/* sigma(x) and sigma'(x) for an activation, in double (param as in nn/act.h) */
double nnc_act_value(nnc_act act, double param, double x);
double nnc_act_deriv(nnc_act act, double param, double x);
/* E_{z~N(0,K)} [sigma(z)^p1 sigma'(z)^p2 z^p3] (p1..p3 >= 0), composite Simpson split at the
 * kink z = 0 (error ~1e-9 for ReLU-like activations, where Gauss-Hermite is only ~1e-3) */
double nnc_act_moment(nnc_act act, double param, double K, int p_sigma, int p_deriv, int p_z);

/* ---- criticality ---- */
/* one step of the kernel recursion: C_b + C_W <sigma^2>_K */
double nnc_kernel_step(nnc_act act, double param, double c_b, double c_w, double K);
/* chi_par = (C_W / 2K^2) <sigma sigma (z^2 - K)>_K,  chi_perp = C_W <sigma'^2>_K */
void nnc_kernel_chis(nnc_act act, double param, double c_w, double K, double *chi_par, double *chi_perp);
/* The critical initialisation solved numerically: scale-invariant activations (relu,
 * leaky_relu, identity) give C_b = 0, C_W = 1/<sigma'^2> (K* arbitrary, returned as 1);
 * the K* = 0 class (sigma(0) = 0 and K = 0 attracting: 3 sigma''(0)^2/4 + sigma'(0) sigma'''(0) < 0,
 * e.g. tanh) gives (0, 1/sigma'(0)^2) with K* = 0; otherwise
 * the root in K* of chi_par = chi_perp with C_W = 1/<sigma'^2>_{K*}, C_b = K* - C_W <sigma^2>,
 * searched on K in [0.01, 1000] (gelu, silu).  False if no root with C_b >= 0 was found. */
bool nnc_critical_solve(nnc_act act, double param, double *c_b, double *c_w, double *k_star);

/* ---- per-layer statistics of random MLPs ---- */
typedef struct {
  int depth;         /* L: preactivation layers z^(1)..z^(L) measured */
  double *K;         /* [L] mean of z_i^2 over neurons and initialisations */
  double *kurt;      /* [L] excess kurtosis E z^4 / (E z^2)^2 - 3 of one preactivation */
  double *kurt_se;   /* [L] its standard error over initialisations (jackknife-free: blocks) */
  double *vertex;    /* [L] V/(n K^2) = Var_inits(mean_i z_i^2)/K^2 - 2/n */
} nnc_kernel_stats;
void nnc_kernel_stats_free(nnc_kernel_stats *s);
/* A bias-free-or-not MLP z^(1) = b + W x, z^(l+1) = b + W sigma(z^(l)), widths n0 -> n -> ... -> n,
 * b ~ N(0, C_b), W ~ N(0, C_W / fan_in), applied to one input with ||x||^2 / n0 = q0, over
 * `inits` independent initialisations.  dense = false samples each layer exactly in
 * distribution from the previous one (for a single input the next layer's preactivations
 * are, given the previous layer, i.i.d. N(0, C_b + C_W ||sigma(z)||^2 / n)): O(n) per layer;
 * dense = true draws the weight matrices (O(n^2)), for checking the shortcut. */
void nnc_kernel_flow(nnc_act act, double param, double c_b, double c_w, int n0, double q0, int n, int depth, int inits,
                     bool dense, nnc_rng *rng, nnc_kernel_stats *out);

/* ---- normalised duals and the NTK ---- */
/* rho(t) = E[phi(u) phi(v)] for unit-variance u, v with correlation t and E phi(g)^2 = 1. */
typedef struct {
  bool relu;        /* the arc-cosine closed form of sqrt(2) relu */
  int n;            /* otherwise rho(t) = sum_{k<n} a2[k] t^k (squared Hermite coefficients) */
  double a2[64];
  double b[64];     /* rho(1 - s) = sum_j b[j] s^j (for small s) */
} nnc_dual;
nnc_dual nnc_dual_relu(void);
nnc_dual nnc_dual_hermite(int n, const double *a2); /* normalised to sum a2 = 1 */
/* the Hermite expansion (n terms) of sigma(sqrt(q) g) / ||.||, by quadrature; q = input variance */
nnc_dual nnc_dual_from_act(nnc_act act, double param, double q, int n);
double nnc_dual_rho(const nnc_dual *d, double t);
double nnc_dual_drho(const nnc_dual *d, double t);
/* 1 - rho(1 - s), accurate for small s */
double nnc_dual_one_minus_rho(const nnc_dual *d, double s);
/* xi = rho'(1) */
double nnc_dual_xi(const nnc_dual *d);
/* rho(t) of sigma normalised at unit input variance, by nested 1-d quadratures of the
 * activation itself (each split at the kink), for checks of the closed forms */
double nnc_dual_rho_quadrature(nnc_act act, double param, double t);

/* The normalised NNGP and NTK after each of depth layers for unit-norm inputs, from the
 * cosines t = x^T z (array of m values, in place of the Gram matrix entries):
 *   Sigma^0 = t, Theta^0 = t, Sigma^l = rho(Sigma^(l-1)), Theta^l = Theta^(l-1) rho'(Sigma^(l-1)) + Sigma^l,
 * returned divided by the diagonal Theta^l(x,x) = sum_{k<=l} xi^k (so the diagonal is 1).
 * Sigma is carried as Sigma and as s = 1 - Sigma, stepping the smaller one (accurate both near
 * 1, a repelling fixed point when xi > 1, and near 0, where 1-NN kernels underflow slowly).
 * ntk_out[(l-1)*m + i] for l = 1..depth (and nngp_out likewise if non-NULL). */
void nnc_ntk_normalised(const nnc_dual *d, int depth, int64_t m, const double *t, double *ntk_out, double *nngp_out);

/* ---- kernel regression ---- */
/* In-place Cholesky A = L L^T of an n x n SPD matrix (lower triangle written); false if not PD. */
bool nnc_cholesky(int64_t n, double *A);
/* solves (L L^T) X = B for k right-hand sides, B [n x k] row-major, in place */
void nnc_cholesky_solve(int64_t n, const double *L, int64_t k, double *B);
/* kernel regression on one-hot targets: Ktr [n x n] (copied), Kte [m x n], ridge lambda;
 * pred[m] = argmax of Kte (Ktr + lambda I)^-1 Y.  False if the solve failed. */
bool nnc_kernel_classify(int64_t n, const double *Ktr, const int64_t *ytr, int classes, int64_t m, const double *Kte,
                         double lambda, int64_t *pred);

#endif
