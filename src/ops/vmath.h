/* ops/vmath.h: float maths written without calls or branches, so that `omp simd` loops that
 * use them vectorise (libm's expf/erff are calls GCC vectorises only under -ffast-math).
 * Private to the ops that include it (attention.c, bias_gelu.c, elementwise.c, layernorm.c). */
#ifndef NNC_OPS_VMATH_H
#define NNC_OPS_VMATH_H
#include <stdint.h>

/* e^x in float, relative error ~2e-7 (Cephes' expf polynomial): x = n ln2 + r with
 * |r| <= ln2/2 (n rounded to nearest by the 1.5 * 2^23 trick), e^r by a degree-6 polynomial,
 * 2^n through the exponent bits.  Below -87 (and for -inf) it returns 0; x is clamped at 88.
 * The polynomials use explicit fused multiply-adds (-std=c11 turns off FMA contraction). */
__attribute__((always_inline)) static inline float nnc_vexpf(float x) {
  float xc = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
  float n = __builtin_fmaf(xc, 1.44269504088896341f, 12582912.0f) - 12582912.0f;
  float r = __builtin_fmaf(n, -0.693359375f, xc);
  r = __builtin_fmaf(n, 2.12194440e-4f, r);
  float p = 1.9875691500e-4f;
  p = __builtin_fmaf(p, r, 1.3981999507e-3f);
  p = __builtin_fmaf(p, r, 8.3334519073e-3f);
  p = __builtin_fmaf(p, r, 4.1665795894e-2f);
  p = __builtin_fmaf(p, r, 1.6666665459e-1f);
  p = __builtin_fmaf(p, r, 5.0000001201e-1f);
  p = __builtin_fmaf(p * r, r, r) + 1.0f;
  union { int32_t i; float f; } u;
  u.i = ((int32_t)n + 127) << 23;
  float y = p * u.f;
  return x < -87.0f ? 0.0f : y;
}

/* the standard normal CDF Phi(x) = (1 + erf(x / sqrt 2)) / 2 in float, with erf by
 * Abramowitz & Stegun 7.1.26 (|error| <= 1.5e-7 absolute): for z = |x| / sqrt 2,
 * erfc(z) = t (a1 + t (a2 + ... + t a5)) e^(-z^2), t = 1 / (1 + 0.3275911 z).
 * *pdf (if not NULL) gets phi(x) = e^(-x^2/2) / sqrt(2 pi), from the same exponential. */
__attribute__((always_inline)) static inline float nnc_vphif(float x, float *pdf) {
  float z = (x < 0 ? -x : x) * 0.70710678118654752f;
  float t = 1.0f / __builtin_fmaf(0.3275911f, z, 1.0f);
  float p = 1.061405429f;
  p = __builtin_fmaf(p, t, -1.453152027f);
  p = __builtin_fmaf(p, t, 1.421413741f);
  p = __builtin_fmaf(p, t, -0.284496736f);
  p = __builtin_fmaf(p, t, 0.254829592f);
  float e = nnc_vexpf(-z * z);
  if (pdf) *pdf = 0.39894228040143268f * e;
  float half_erfc = 0.5f * p * t * e; /* Phi(-|x|) */
  return x > 0 ? 1.0f - half_erfc : half_erfc;
}

/* ---- short-row reductions.  An `omp simd` reduction ends in a serial loop over the vector's
 * lanes, which costs more than a 64-element row; these keep L = one vector's worth of partial
 * sums and combine them by halving (one vectorisable loop per level).  The order is fixed, so
 * results repeat exactly. ---- */
#define NNC_MAX2(a, b) ((b) > (a) ? (b) : (a))
#define NNC_ADD2(a, b) ((a) + (b))
/* part[0] = OP over part[0 .. L) (L a power of two <= 16) */
#define NNC_HALVE(part, L, OP)                                                                 \
  do {                                                                                         \
    for (int j_ = 0; j_ < (L) / 2; j_++) part[j_] = OP(part[j_], part[j_ + (L) / 2]);          \
    for (int j_ = 0; j_ < (L) / 4; j_++) part[j_] = OP(part[j_], part[j_ + (L) / 4]);          \
    for (int j_ = 0; j_ < (L) / 8; j_++) part[j_] = OP(part[j_], part[j_ + (L) / 8]);          \
    for (int j_ = 0; j_ < (L) / 16; j_++) part[j_] = OP(part[j_], part[j_ + (L) / 16]);        \
  } while (0)
/* out = sum over IDX in [0, n) of EXPR (an expression in the int64_t IDX), element type T */
#define NNC_LANE_SUM(T, n, IDX, EXPR, out)                                                     \
  do {                                                                                         \
    enum { L_ = 64 / (int)sizeof(T) };                                                         \
    T p_[L_];                                                                                  \
    for (int j_ = 0; j_ < L_; j_++) p_[j_] = 0;                                                \
    int64_t b_ = 0;                                                                            \
    for (; b_ + L_ <= (n); b_ += L_)                                                           \
      for (int j_ = 0; j_ < L_; j_++) {                                                        \
        int64_t IDX = b_ + j_;                                                                 \
        p_[j_] += (EXPR);                                                                      \
      }                                                                                        \
    for (; b_ < (n); b_++) {                                                                   \
      int64_t IDX = b_;                                                                        \
      p_[0] += (EXPR);                                                                         \
    }                                                                                          \
    NNC_HALVE(p_, L_, NNC_ADD2);                                                               \
    (out) = p_[0];                                                                             \
  } while (0)

#endif
