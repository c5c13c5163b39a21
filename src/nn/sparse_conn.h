/* nn/sparse_conn.h: sparse connectivity patterns for weight matrices, and dynamic sparse
 * training (DST) at a fixed number of edges.
 *
 * A weight W [out, in] gets an F32 0/1 mask M of its shape (with nn/prune.h, the mask lives in
 * the parameter block and the optimisers honour it; the functions here only read and write
 * the mask and weight tensors, so they work on any F32 tensor pair).
 *
 *   groups     neurons of a layer split into G ensembles: INDEX  g(i) = floor(i*G/n)
 *              (contiguous blocks), INTERLEAVED g(i) = i mod G, RANDOM a random balanced
 *              assignment; "Mixer" alternates INDEX and INTERLEAVED from layer to layer
 *   G2G mask   M[i,j] ~ Bernoulli(p_intra) if g_out(i) == g_in(j), else Bernoulli(p_inter)
 *              (ensemble-to-ensemble connectivity of G2GNet); with equal groups the expected
 *              density is 1/G + (1 - 1/G) * p_inter when p_intra = 1
 *   ER mask    exactly round(density * numel) ones at uniformly random places (G(n, m))
 *   init       each row's surviving weights scaled by sqrt(in / alive_in_row), so a sparse
 *              row keeps the pre-activation variance of a dense one; bias bound
 *              1/sqrt(mean alive fan-in)
 *   Hebbian    C_H = A_post_hat^T A_pre_hat [out, in]: the cosine of the activity columns of
 *              one batch (each unit's column divided by its norm + eps)
 *   DST step   prune k = round(fraction * alive) active edges (smallest |w|, random, or lowest
 *              C_H), then grow k edges among the inactive positions (highest C_H, or random):
 *              the number of edges never changes; grown weights start at 0 with zero
 *              optimiser state.
 * Ties in every ranking are broken by the lower flat index, so results do not depend on the
 * sort. */
#ifndef NNC_NN_SPARSE_CONN_H
#define NNC_NN_SPARSE_CONN_H
#include <stdint.h>
#include "core/rng.h"
#include "core/tensor.h"
#include "optim/optim.h"

/* ---- ensembles ---- */
typedef enum { NNC_GROUPS_INDEX, NNC_GROUPS_INTERLEAVED, NNC_GROUPS_RANDOM } nnc_grouping;

/* group[i] in 0..G-1 for n units; every group gets floor(n/G) or ceil(n/G) units.  RANDOM
 * draws from r (the others ignore it).  Needs 1 <= G <= n. */
void nnc_groups_make(int *group, int64_t n, int G, nnc_grouping kind, nnc_rng *r);
/* the Mixer rule: INDEX for even layers (0, 2, ...), INTERLEAVED for odd ones */
nnc_grouping nnc_groups_mixer(int layer);

/* ---- masks (F32 contiguous [out, in], written in place; return the number of ones) ---- */
int64_t nnc_g2g_mask(nnc_tensor *mask, const int *g_out, const int *g_in, double p_intra, double p_inter, nnc_rng *r);
/* the expected density of nnc_g2g_mask for these groups:
 * (p_intra * #same-group pairs + p_inter * #other pairs) / (out * in) */
double nnc_g2g_expected_density(int64_t n_out, const int *g_out, int64_t n_in, const int *g_in, double p_intra,
                                double p_inter);
int64_t nnc_er_mask(nnc_tensor *mask, double density, nnc_rng *r);
/* active edges inside an ensemble (g_out(i) == g_in(j)) and between ensembles */
void nnc_g2g_edge_counts(const nnc_tensor *mask, const int *g_out, const int *g_in, int64_t *intra, int64_t *inter);

/* ---- initialisation for a masked Linear ---- */
/* w [out, in] (already initialised densely, e.g. PyTorch's default): row i times
 * sqrt(in / alive_i) where it has 0 < alive_i < in live entries, then w *= mask.  Call once, at
 * initialisation (rescaling after DST steps would change the function abruptly). */
void nnc_sparse_rescale_rows(nnc_tensor *w, const nnc_tensor *mask);
/* 1 / sqrt(mean over rows of alive_i) (1/sqrt(in) for an empty mask): the bias bound */
double nnc_sparse_bias_bound(const nnc_tensor *mask);

/* ---- Hebbian score ---- */
/* pre [batch, n_in], post [batch, n_out] row-major; ch [n_out, n_in]:
 * ch[o][i] = sum_b post[b][o] pre[b][i] / ((||post[:,o]|| + eps) (||pre[:,i]|| + eps)) */
void nnc_hebbian_score(const float *pre, const float *post, int64_t batch, int64_t n_in, int64_t n_out, double eps,
                       float *ch);

/* ---- dynamic sparse training ---- */
typedef enum { NNC_DST_PRUNE_MAGNITUDE, NNC_DST_PRUNE_RANDOM, NNC_DST_PRUNE_HEBBIAN } nnc_dst_prune;
typedef enum { NNC_DST_GROW_HEBBIAN, NNC_DST_GROW_RANDOM } nnc_dst_grow;

typedef struct {
  double fraction;     /* of the active edges replaced per update (0.1) */
  nnc_dst_prune prune; /* SET: NNC_DST_PRUNE_MAGNITUDE */
  nnc_dst_grow grow;
} nnc_dst_rule;

/* One update of one masked weight w, mask [out, in] (F32, contiguous): k = round(fraction *
 * alive) active entries are pruned (mask 0, weight 0), then k entries among those inactive
 * after the prune (a just-pruned one may come back) are grown (mask 1, weight 0).  ch
 * [out, in] is read when a rule is Hebbian (else may be NULL); r is used by the random rules.
 * When opt is non-NULL and w is one of its parameters, the optimiser's per-element state of
 * every grown entry is zeroed too (an entry that was inactive before already has zero state
 * under the mask API; a just-pruned one that comes back would otherwise keep its old
 * momenta).  Returns k (the number pruned = the number grown). */
int64_t nnc_dst_update(nnc_tensor *w, nnc_tensor *mask, const float *ch, const nnc_dst_rule *rule, nnc_rng *r,
                       nnc_optim *opt);

#endif
