/* nn/sparse_conn.c: ensemble-to-ensemble (G2G) and Erdos-Renyi masks, the fan-in rescaling of
 * a masked Linear's initialisation, the Hebbian co-activity score, and one step of dynamic
 * sparse training at a fixed edge count (see sparse_conn.h). */
#include "nn/sparse_conn.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "core/error.h"
#include "core/gemm.h"

/* an F32 contiguous 2-d tensor, or a programming error naming op */
static void check_matrix(const nnc_tensor *t, const char *op, const char *what) {
  NNC_CHECK(t && t->dtype == NNC_F32 && t->ndim == 2 && nnc_is_contiguous(t), op,
            "%s must be a contiguous F32 matrix [out, in]", what);
}

/* ---- ensembles ---- */

void nnc_groups_make(int *group, int64_t n, int G, nnc_grouping kind, nnc_rng *r) {
  NNC_CHECK(G >= 1 && n >= G, "groups_make", "need 1 <= G <= n (G = %d, n = %lld)", G, (long long)n);
  if (kind == NNC_GROUPS_INTERLEAVED) {
    for (int64_t i = 0; i < n; i++) group[i] = (int)(i % G);
    return;
  }
  /* INDEX: floor(i*G/n) = floor(i / (n/G)) when G divides n; RANDOM: the same balanced sizes
   * over a random permutation of the units */
  int64_t *perm = NULL;
  if (kind == NNC_GROUPS_RANDOM) {
    perm = malloc((size_t)n * sizeof *perm);
    NNC_CHECK(perm, "groups_make", "out of memory for %lld units", (long long)n);
    nnc_rng_permutation(r, perm, n);
  }
  for (int64_t i = 0; i < n; i++) group[perm ? perm[i] : i] = (int)(i * G / n);
  free(perm);
}

nnc_grouping nnc_groups_mixer(int layer) { return layer % 2 ? NNC_GROUPS_INTERLEAVED : NNC_GROUPS_INDEX; }

/* ---- masks ---- */

int64_t nnc_g2g_mask(nnc_tensor *mask, const int *g_out, const int *g_in, double p_intra, double p_inter, nnc_rng *r) {
  check_matrix(mask, "g2g_mask", "mask");
  int64_t no = mask->shape[0], ni = mask->shape[1], ones = 0;
  float *m = nnc_f32(mask);
  for (int64_t o = 0; o < no; o++)
    for (int64_t i = 0; i < ni; i++) {
      double p = g_out[o] == g_in[i] ? p_intra : p_inter;
      int on = p >= 1.0 ? 1 : p <= 0.0 ? 0 : nnc_rng_uniform(r) < p;
      m[o * ni + i] = (float)on;
      ones += on;
    }
  mask->storage->version++;
  return ones;
}

double nnc_g2g_expected_density(int64_t n_out, const int *g_out, int64_t n_in, const int *g_in, double p_intra,
                                double p_inter) {
  /* same-group pairs = sum over groups of count_out(g) * count_in(g) */
  int G = 0;
  for (int64_t i = 0; i < n_out; i++) G = g_out[i] + 1 > G ? g_out[i] + 1 : G;
  for (int64_t i = 0; i < n_in; i++) G = g_in[i] + 1 > G ? g_in[i] + 1 : G;
  int64_t *co = calloc((size_t)G, sizeof *co), *ci = calloc((size_t)G, sizeof *ci);
  NNC_CHECK(co && ci, "g2g_expected_density", "out of memory for %d groups", G);
  for (int64_t i = 0; i < n_out; i++) co[g_out[i]]++;
  for (int64_t i = 0; i < n_in; i++) ci[g_in[i]]++;
  double same = 0, total = (double)n_out * (double)n_in;
  for (int g = 0; g < G; g++) same += (double)co[g] * (double)ci[g];
  free(co);
  free(ci);
  return (p_intra * same + p_inter * (total - same)) / total;
}

int64_t nnc_er_mask(nnc_tensor *mask, double density, nnc_rng *r) {
  check_matrix(mask, "er_mask", "mask");
  NNC_CHECK(density >= 0 && density <= 1, "er_mask", "density %g outside [0, 1]", density);
  int64_t n = nnc_numel(mask), want = (int64_t)llround(density * (double)n), left = want;
  float *m = nnc_f32(mask);
  /* selection sampling (Knuth's algorithm S): entry t is taken with probability
   * (still needed) / (still to see), which picks exactly `want` uniformly */
  for (int64_t t = 0; t < n; t++) {
    int on = left > 0 && (double)(n - t) * nnc_rng_uniform(r) < (double)left;
    m[t] = (float)on;
    left -= on;
  }
  mask->storage->version++;
  return want;
}

void nnc_g2g_edge_counts(const nnc_tensor *mask, const int *g_out, const int *g_in, int64_t *intra, int64_t *inter) {
  check_matrix(mask, "g2g_edge_counts", "mask");
  int64_t no = mask->shape[0], ni = mask->shape[1], a = 0, b = 0;
  const float *m = nnc_f32(mask);
  for (int64_t o = 0; o < no; o++)
    for (int64_t i = 0; i < ni; i++)
      if (m[o * ni + i] != 0) {
        if (g_out[o] == g_in[i]) a++;
        else b++;
      }
  *intra = a;
  *inter = b;
}

/* ---- initialisation ---- */

void nnc_sparse_rescale_rows(nnc_tensor *w, const nnc_tensor *mask) {
  check_matrix(w, "sparse_rescale_rows", "w");
  check_matrix(mask, "sparse_rescale_rows", "mask");
  NNC_CHECK(w->shape[0] == mask->shape[0] && w->shape[1] == mask->shape[1], "sparse_rescale_rows",
            "w [%lld, %lld] and mask [%lld, %lld] differ", (long long)w->shape[0], (long long)w->shape[1],
            (long long)mask->shape[0], (long long)mask->shape[1]);
  int64_t no = w->shape[0], ni = w->shape[1];
  float *wv = nnc_f32(w);
  const float *m = nnc_f32(mask);
  for (int64_t o = 0; o < no; o++) {
    int64_t alive = 0;
    for (int64_t i = 0; i < ni; i++) alive += m[o * ni + i] != 0;
    float s = alive > 0 && alive < ni ? (float)sqrt((double)ni / (double)alive) : 1.0f;
    for (int64_t i = 0; i < ni; i++) wv[o * ni + i] = m[o * ni + i] != 0 ? wv[o * ni + i] * s : 0.0f;
  }
  w->storage->version++;
}

double nnc_sparse_bias_bound(const nnc_tensor *mask) {
  check_matrix(mask, "sparse_bias_bound", "mask");
  int64_t no = mask->shape[0], ni = mask->shape[1], alive = 0;
  const float *m = nnc_f32(mask);
  for (int64_t t = 0; t < no * ni; t++) alive += m[t] != 0;
  double mean = (double)alive / (double)no;
  return 1.0 / sqrt(mean > 0 ? mean : (double)ni);
}

/* ---- Hebbian score ---- */

/* dst [batch, n] = src with each column divided by its L2 norm over the batch + eps */
static void normalise_columns(const float *src, float *dst, int64_t batch, int64_t n, double eps) {
  double *norm = calloc((size_t)n, sizeof *norm);
  NNC_CHECK(norm, "hebbian_score", "out of memory for %lld columns", (long long)n);
  for (int64_t b = 0; b < batch; b++)
    for (int64_t j = 0; j < n; j++) norm[j] += (double)src[b * n + j] * src[b * n + j];
  for (int64_t j = 0; j < n; j++) norm[j] = 1.0 / (sqrt(norm[j]) + eps);
  for (int64_t b = 0; b < batch; b++)
    for (int64_t j = 0; j < n; j++) dst[b * n + j] = (float)(src[b * n + j] * norm[j]);
  free(norm);
}

void nnc_hebbian_score(const float *pre, const float *post, int64_t batch, int64_t n_in, int64_t n_out, double eps,
                       float *ch) {
  NNC_CHECK(batch >= 1 && n_in >= 1 && n_out >= 1, "hebbian_score", "empty activities (batch %lld, in %lld, out %lld)",
            (long long)batch, (long long)n_in, (long long)n_out);
  float *a = malloc((size_t)(batch * n_in) * sizeof *a), *p = malloc((size_t)(batch * n_out) * sizeof *p);
  NNC_CHECK(a && p, "hebbian_score", "out of memory");
  normalise_columns(pre, a, batch, n_in, eps);
  normalise_columns(post, p, batch, n_out, eps);
  /* ch [n_out, n_in] = p^T [n_out, batch] @ a [batch, n_in] */
  nnc_gemm_f32(true, false, n_out, n_in, batch, 1.0f, p, n_out, a, n_in, 0.0f, ch, n_in);
  free(a);
  free(p);
}

/* ---- dynamic sparse training ---- */

typedef struct {
  float key;
  int64_t idx;
} ranked;

static int by_key_then_index(const void *pa, const void *pb) {
  const ranked *a = pa, *b = pb;
  if (a->key != b->key) return a->key < b->key ? -1 : 1;
  return (a->idx > b->idx) - (a->idx < b->idx);
}

/* moves the k chosen candidates to the front of c[0..n): the k smallest keys (ties: lower
 * index) or, when random, k picked uniformly (partial Fisher-Yates) */
static void choose(ranked *c, int64_t n, int64_t k, int random, nnc_rng *r) {
  if (random) {
    for (int64_t t = 0; t < k; t++) {
      int64_t j = t + nnc_rng_below(r, n - t);
      ranked tmp = c[t];
      c[t] = c[j];
      c[j] = tmp;
    }
  } else {
    qsort(c, (size_t)n, sizeof *c, by_key_then_index);
  }
}

/* zeroes the optimiser's per-element state of w's entries idx[0..k) when w is its parameter */
static void zero_state(nnc_optim *opt, const nnc_tensor *w, const ranked *c, int64_t k) {
  if (!opt || w->storage != &opt->params->values || opt->params->dtype != NNC_F32) return;
  if (w->offset + nnc_numel(w) > opt->numel) return; /* state not sized yet: it starts at zero */
  float *b1 = opt->buf1 ? (float *)opt->buf1 + w->offset : NULL, *b2 = opt->buf2 ? (float *)opt->buf2 + w->offset : NULL;
  for (int64_t t = 0; t < k; t++) {
    if (b1) b1[c[t].idx] = 0;
    if (b2) b2[c[t].idx] = 0;
  }
}

int64_t nnc_dst_update(nnc_tensor *w, nnc_tensor *mask, const float *ch, const nnc_dst_rule *rule, nnc_rng *r,
                       nnc_optim *opt) {
  check_matrix(w, "dst_update", "w");
  check_matrix(mask, "dst_update", "mask");
  NNC_CHECK(w->shape[0] == mask->shape[0] && w->shape[1] == mask->shape[1], "dst_update", "w and mask shapes differ");
  NNC_CHECK(rule->fraction >= 0 && rule->fraction <= 1, "dst_update", "fraction %g outside [0, 1]", rule->fraction);
  bool hebb = rule->prune == NNC_DST_PRUNE_HEBBIAN || rule->grow == NNC_DST_GROW_HEBBIAN;
  NNC_CHECK(!hebb || ch, "dst_update", "a Hebbian rule needs the score matrix ch");
  int64_t n = nnc_numel(w), alive = 0;
  float *wv = nnc_f32(w), *m = nnc_f32(mask);
  for (int64_t t = 0; t < n; t++) alive += m[t] != 0;
  int64_t k = (int64_t)llround(rule->fraction * (double)alive);
  if (k == 0) return 0;
  ranked *c = malloc((size_t)n * sizeof *c);
  NNC_CHECK(c, "dst_update", "out of memory for %lld entries", (long long)n);

  /* prune: rank the active entries (key ascending = first to go) */
  int64_t na = 0;
  for (int64_t t = 0; t < n; t++)
    if (m[t] != 0) {
      float key = rule->prune == NNC_DST_PRUNE_MAGNITUDE ? fabsf(wv[t]) : rule->prune == NNC_DST_PRUNE_HEBBIAN ? ch[t] : 0;
      c[na++] = (ranked){key, t};
    }
  choose(c, na, k, rule->prune == NNC_DST_PRUNE_RANDOM, r);
  for (int64_t t = 0; t < k; t++) m[c[t].idx] = 0, wv[c[t].idx] = 0;

  /* grow: rank the inactive entries (key = -C_H, so the highest score comes first) */
  int64_t ni = 0;
  for (int64_t t = 0; t < n; t++)
    if (m[t] == 0) c[ni++] = (ranked){rule->grow == NNC_DST_GROW_HEBBIAN ? -ch[t] : 0, t};
  choose(c, ni, k, rule->grow == NNC_DST_GROW_RANDOM, r);
  for (int64_t t = 0; t < k; t++) m[c[t].idx] = 1, wv[c[t].idx] = 0;
  zero_state(opt, w, c, k);
  free(c);
  w->storage->version++;
  mask->storage->version++;
  return k;
}
