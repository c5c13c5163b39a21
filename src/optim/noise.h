/* optim/noise.h: annealed Gaussian gradient noise ("Adding Gradient Noise Improves Learning for
 * Very Deep Networks", Neelakantan et al. 2015).  Between backward and the optimiser's step:
 *   g <- g + e_t,   e_t ~ N(0, sigma_t^2 I),   sigma_t^2 = eta / (1 + t)^gamma
 * with a fresh draw for every gradient element at every step; the paper uses gamma = 0.55 and
 * eta in {0.01, 0.3, 1.0}.  sigma_t^2 is the *variance* (the std is its square root).
 *
 * t is the optimiser step (0 for the first step): pass o.steps (or the training loop's step
 * count), so a run resumed from a checkpoint continues the schedule instead of restarting the
 * noise at its maximum.  The noise of step t is a function of (seed, t) alone: the block is cut
 * into chunks of NNC_GRAD_NOISE_CHUNK elements, chunk j draws from its own rng stream of
 * (seed, t, j), so nothing but the seed needs saving, and any thread count gives the same bits.
 * Frozen parameters keep their gradients.  Works with any optimiser; order with clipping is
 * the caller's choice (the paper's recipe, and papers/gradnoise: clip, then add noise). */
#ifndef NNC_OPTIM_NOISE_H
#define NNC_OPTIM_NOISE_H
#include <stdint.h>
#include "core/params.h"

#define NNC_GRAD_NOISE_GAMMA 0.55
#define NNC_GRAD_NOISE_CHUNK 4096

typedef struct {
  double eta;    /* variance at t = 0 */
  double gamma;  /* decay exponent, 0.55 */
  uint64_t seed; /* the noise's own rng seed */
} nnc_grad_noise;

/* {eta, gamma, seed}; eta >= 0, gamma >= 0 */
nnc_grad_noise nnc_grad_noise_make(double eta, double gamma, uint64_t seed);
/* sigma_t = sqrt(eta / (1 + t)^gamma) */
double nnc_grad_noise_std(const nnc_grad_noise *n, int64_t t);
/* adds the noise of step t to every gradient of p (not to frozen parameters); returns sigma_t.
 * eta = 0 changes nothing. */
double nnc_grad_noise_apply(const nnc_grad_noise *n, nnc_params *p, int64_t t);
/* fills out[0..count) with the standard normals that element `first`.. of the block would get
 * at step t, before scaling by sigma_t (for tests and reports); first must be a multiple of
 * NNC_GRAD_NOISE_CHUNK */
void nnc_grad_noise_draw(const nnc_grad_noise *n, int64_t t, int64_t first, double *out, int64_t count);

#endif
