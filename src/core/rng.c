/* core/rng.c: xoshiro256** streams and tensor fillers (see rng.h). */
#include <math.h>
#include "core/rng.h"

static uint64_t splitmix64(uint64_t *x) {
  uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

void nnc_rng_seed(nnc_rng *r, uint64_t seed, uint64_t stream) {
  uint64_t x = seed ^ (stream * 0xd1342543de82ef95ULL + 0x2545f4914f6cdd1dULL);
  for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&x);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t nnc_rng_u64(nnc_rng *r) {
  uint64_t *s = r->s;
  uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return result;
}

double nnc_rng_uniform(nnc_rng *r) { return (double)(nnc_rng_u64(r) >> 11) * 0x1.0p-53; }

double nnc_rng_normal(nnc_rng *r) {
  double u1 = 1.0 - nnc_rng_uniform(r); /* (0, 1]: log is finite */
  double u2 = nnc_rng_uniform(r);
  return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

int64_t nnc_rng_below(nnc_rng *r, int64_t n) {
  if (n <= 1) return 0;
  uint64_t un = (uint64_t)n, limit = UINT64_MAX - UINT64_MAX % un, x;
  do x = nnc_rng_u64(r); while (x >= limit);
  return (int64_t)(x % un);
}

int nnc_rng_bernoulli(nnc_rng *r, double p) { return nnc_rng_uniform(r) < p; }

void nnc_rng_permutation(nnc_rng *r, int64_t *out, int64_t n) {
  for (int64_t i = 0; i < n; i++) out[i] = i;
  for (int64_t i = n - 1; i > 0; i--) {
    int64_t j = nnc_rng_below(r, i + 1), tmp = out[i];
    out[i] = out[j];
    out[j] = tmp;
  }
}

static nnc_rng global_rng = {{0x9e3779b97f4a7c15ULL, 0xbf58476d1ce4e5b9ULL, 0x94d049bb133111ebULL, 1}};
nnc_rng *nnc_rng_global(void) { return &global_rng; }
void nnc_seed(uint64_t seed) { nnc_rng_seed(&global_rng, seed, 0); }

void nnc_fill_uniform(nnc_tensor *t, double lo, double hi, nnc_rng *r) {
  if (!r) r = &global_rng;
  for (int64_t i = 0, n = nnc_numel(t); i < n; i++) nnc_set(t, i, lo + (hi - lo) * nnc_rng_uniform(r));
  nnc_bump_version(t);
}

void nnc_fill_normal(nnc_tensor *t, double mean, double std, nnc_rng *r) {
  if (!r) r = &global_rng;
  for (int64_t i = 0, n = nnc_numel(t); i < n; i++) nnc_set(t, i, mean + std * nnc_rng_normal(r));
  nnc_bump_version(t);
}

void nnc_fill_bernoulli(nnc_tensor *t, double p, nnc_rng *r) {
  if (!r) r = &global_rng;
  for (int64_t i = 0, n = nnc_numel(t); i < n; i++) nnc_set(t, i, nnc_rng_bernoulli(r, p));
  nnc_bump_version(t);
}

nnc_tensor *nnc_randn(nnc_dtype dt, int ndim, const int64_t *shape, nnc_rng *r) {
  nnc_tensor *t = nnc_empty(dt, ndim, shape);
  nnc_fill_normal(t, 0, 1, r);
  return t;
}

nnc_tensor *nnc_rand(nnc_dtype dt, int ndim, const int64_t *shape, nnc_rng *r) {
  nnc_tensor *t = nnc_empty(dt, ndim, shape);
  nnc_fill_uniform(t, 0, 1, r);
  return t;
}
