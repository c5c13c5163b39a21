/* nn/prune.h: pruning masks, magnitude pruning, snapshots for rewinding, the AP step and the
 * dead-neuron rate.
 *
 * Masks live in the parameter block (core/params.h, p->masks): any parameter may get an F32
 * mask of its own shape with entries 0 or 1.  Invariant: a masked parameter is exactly 0
 * wherever its mask is 0, so the forward pass computes with W ⊙ M without any layer knowing
 * about masks.  nnc_optim_step (SGD, Adam, AdamW and the Muon extension) honours masks:
 * before the update it zeroes the gradient where the mask is 0 (so an inf there cannot become
 * NaN), after it re-zeroes the weight and the optimiser's per-element state (momentum /
 * exp_avg / exp_avg_sq) where the mask is 0.  So a connection that is regrown (mask 0 -> 1)
 * starts from weight 0 and zero optimiser state.
 *
 *   const char *names[] = {"fc1.weight", "fc2.weight"};
 *   nnc_snapshot init; nnc_snapshot_take(&init, &p);
 *   for (round ...) { train(); nnc_prune_magnitude_global(&p, names, 2, 0.2); nnc_snapshot_rewind(&init, &p); }
 *
 * Names are module paths ("fc1.weight", "rnn.weight_hh_l0"); an unknown name stops with an
 * error.  Masks are saved with checkpoints as "<param>.mask" by io/params_io.h. */
#ifndef NNC_NN_PRUNE_H
#define NNC_NN_PRUNE_H
#include <stdint.h>
#include "core/params.h"

/* ---- masks ---- */
nnc_tensor *nnc_mask_add(nnc_params *p, nnc_tensor *param);           /* all-ones mask (idempotent: returns the existing one) */
nnc_tensor *nnc_mask_of(const nnc_params *p, const nnc_tensor *param); /* NULL when unmasked */
void nnc_masks_apply(nnc_params *p);  /* W *= M for every masked parameter (call after editing masks by hand) */
int64_t nnc_mask_alive(const nnc_params *p, const nnc_tensor *param); /* ones in the mask (numel if unmasked) */
double nnc_masks_density(const nnc_params *p, const char *const *names, int n); /* alive / total over the named params */

/* ---- magnitude pruning ----
 * Removes round(fraction * alive) (halves away from 0) of the currently alive weights with the smallest |w| (exact
 * count; ties broken by lower index: global order is the order of `names`, then the element
 * index), sets their mask to 0 and the weight to 0.  names: the parameters that take part
 * (masks are created if missing).  fraction in [0, 1].  Returns the number removed. */
int64_t nnc_prune_magnitude_global(nnc_params *p, const char *const *names, int n, double fraction);    /* one threshold over all */
int64_t nnc_prune_magnitude_layerwise(nnc_params *p, const char *const *names, int n, double fraction); /* each on its own */

/* ---- snapshots for rewinding (lottery tickets): a copy of every parameter value (as float,
 * also for an f64 block; parameters added after the snapshot are left alone by rewind) ---- */
typedef struct {
  int64_t numel;
  float *values;
} nnc_snapshot;
void nnc_snapshot_take(nnc_snapshot *s, const nnc_params *p);
void nnc_snapshot_rewind(const nnc_snapshot *s, nnc_params *p); /* values <- snapshot, then masks applied */
void nnc_snapshot_free(nnc_snapshot *s);
/* the snapshot's values of one parameter (NULL if the parameter is not in the snapshot) */
const float *nnc_snapshot_of(const nnc_snapshot *s, const nnc_params *p, const nnc_tensor *param);

/* ---- AP (Activate-while-Pruning, TMLR 2023): the selection step ----
 * Among the alive weights of the named parameters with w < 0, removes the `count` with the
 * smallest |w - w0| (w0 = the value in `start`, the weights at the start of the round; ties
 * broken by lower index as above).  Positive and zero weights are never touched.  Removes
 * min(count, #alive negative) and returns that number. */
int64_t nnc_prune_ap(nnc_params *p, const char *const *names, int n, const nnc_snapshot *start, int64_t count);

/* ---- dead-neuron rate: fraction of entries of a pre-activation tensor [N, H] (any shape) that are <= 0 ---- */
double nnc_dead_rate(const nnc_tensor *preact);

#endif
