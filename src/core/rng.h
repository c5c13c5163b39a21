/* core/rng.h: seedable random streams (xoshiro256**, seeded through splitmix64).
 *
 * The same seed and stream id give the same numbers on every run and machine.  Each
 * consumer that needs independence (data shuffling, dropout, initialisation) takes its own
 * stream id, so adding draws in one place does not shift another.  The state is four
 * 64-bit words and can be saved in a checkpoint. */
#ifndef NNC_RNG_H
#define NNC_RNG_H
#include <stdint.h>
#include "core/tensor.h"

typedef struct { uint64_t s[4]; } nnc_rng;

void nnc_rng_seed(nnc_rng *r, uint64_t seed, uint64_t stream);
uint64_t nnc_rng_u64(nnc_rng *r);
double nnc_rng_uniform(nnc_rng *r);            /* [0, 1) with 53 random bits */
double nnc_rng_normal(nnc_rng *r);             /* standard normal (Box-Muller) */
int64_t nnc_rng_below(nnc_rng *r, int64_t n);  /* uniform integer in [0, n), unbiased */
int nnc_rng_bernoulli(nnc_rng *r, double p);   /* 1 with probability p */
void nnc_rng_permutation(nnc_rng *r, int64_t *out, int64_t n); /* Fisher-Yates of 0..n-1 */

/* the process-wide default stream, set by nnc_seed() */
nnc_rng *nnc_rng_global(void);
void nnc_seed(uint64_t seed);

/* fill tensors in place (any float dtype; contiguous or not); rng NULL = global */
void nnc_fill_uniform(nnc_tensor *t, double lo, double hi, nnc_rng *r);
void nnc_fill_normal(nnc_tensor *t, double mean, double std, nnc_rng *r);
void nnc_fill_bernoulli(nnc_tensor *t, double p, nnc_rng *r);
/* new tensors in the current arena */
nnc_tensor *nnc_randn(nnc_dtype dt, int ndim, const int64_t *shape, nnc_rng *r);
nnc_tensor *nnc_rand(nnc_dtype dt, int ndim, const int64_t *shape, nnc_rng *r);

#endif
