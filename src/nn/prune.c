/* nn/prune.c: pruning masks, magnitude pruning, snapshots, the AP step and the dead-neuron
 * rate (see prune.h).  Masks are F32 0/1 arrays owned by the parameter block; the parameter
 * block may be f32 or f64, so values are read and written through two small helpers. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "core/error.h"
#include "nn/prune.h"

static double value_at(const nnc_params *p, const nnc_tensor *t, int64_t i) {
  if (p->dtype == NNC_F32) return ((const float *)p->values.data)[t->offset + i];
  return ((const double *)p->values.data)[t->offset + i];
}

static void zero_at(nnc_params *p, const nnc_tensor *t, int64_t i) {
  if (p->dtype == NNC_F32) ((float *)p->values.data)[t->offset + i] = 0.0f;
  else ((double *)p->values.data)[t->offset + i] = 0.0;
}

static int index_of(const nnc_params *p, const nnc_tensor *param, const char *op) {
  int k = nnc_params_index(p, param);
  NNC_CHECK(k >= 0, op, "the tensor is not a parameter of this block");
  return k;
}

/* ---- masks ---- */

nnc_tensor *nnc_mask_add(nnc_params *p, nnc_tensor *param) {
  return nnc_params_mask_add(p, index_of(p, param, "mask_add"));
}

nnc_tensor *nnc_mask_of(const nnc_params *p, const nnc_tensor *param) {
  return p->masks[index_of(p, param, "mask_of")];
}

void nnc_masks_apply(nnc_params *p) {
  for (int k = 0; k < p->count; k++) {
    if (!p->masks[k]) continue;
    const float *m = p->masks[k]->storage->data;
    int64_t n = nnc_numel(p->tensors[k]);
    for (int64_t i = 0; i < n; i++)
      if (m[i] == 0.0f) zero_at(p, p->tensors[k], i);
  }
  p->values.version++;
}

int64_t nnc_mask_alive(const nnc_params *p, const nnc_tensor *param) {
  int k = index_of(p, param, "mask_alive");
  int64_t n = nnc_numel(param), alive = 0;
  if (!p->masks[k]) return n;
  const float *m = p->masks[k]->storage->data;
  for (int64_t i = 0; i < n; i++) alive += m[i] != 0.0f;
  return alive;
}

/* the named parameters' indices into ks[n]; stops on an unknown or repeated name */
static void resolve(const nnc_params *p, const char *const *names, int n, int *ks, const char *op) {
  NNC_CHECK(n >= 0 && (n == 0 || names), op, "%d names", n);
  for (int j = 0; j < n; j++) {
    const nnc_tensor *t = nnc_params_find(p, names[j]);
    NNC_CHECK(t, op, "no parameter named '%s'", names[j]);
    ks[j] = nnc_params_index(p, t);
    for (int i = 0; i < j; i++) NNC_CHECK(ks[i] != ks[j], op, "parameter '%s' named twice", names[j]);
  }
}

double nnc_masks_density(const nnc_params *p, const char *const *names, int n) {
  int *ks = nnc_xmalloc((size_t)(n > 0 ? n : 1) * sizeof *ks);
  resolve(p, names, n, ks, "masks_density");
  int64_t alive = 0, total = 0;
  for (int j = 0; j < n; j++) {
    alive += nnc_mask_alive(p, p->tensors[ks[j]]);
    total += nnc_numel(p->tensors[ks[j]]);
  }
  free(ks);
  return total ? (double)alive / (double)total : 1.0;
}

/* ---- selection: the `count` candidates with the smallest key, ties by (name order, index) ---- */

typedef struct {
  double key;
  int slot;  /* position in names[] */
  int64_t i; /* element index */
} cand;

static int cand_cmp(const void *a_, const void *b_) {
  const cand *a = a_, *b = b_;
  if (a->key != b->key) return a->key < b->key ? -1 : 1;
  if (a->slot != b->slot) return a->slot < b->slot ? -1 : 1;
  return (a->i > b->i) - (a->i < b->i);
}

/* Candidates are the alive entries of the slots [s0, s1) (with negative weights only when
 * `neg_only`); the key is |w| (start == NULL) or |w - w0| (w0 from the snapshot).  Removes the
 * `count` smallest (or all candidates if fewer): mask 0, weight 0.  Returns how many. */
static int64_t prune_smallest(nnc_params *p, const int *ks, int s0, int s1, const nnc_snapshot *start,
                              bool neg_only, int64_t count) {
  int64_t total = 0;
  for (int s = s0; s < s1; s++) total += nnc_numel(p->tensors[ks[s]]);
  cand *c = nnc_xmalloc((size_t)(total ? total : 1) * sizeof *c);
  int64_t nc = 0;
  for (int s = s0; s < s1; s++) {
    const nnc_tensor *t = p->tensors[ks[s]];
    const float *m = nnc_params_mask_add(p, ks[s])->storage->data;
    const float *w0 = start ? nnc_snapshot_of(start, p, t) : NULL;
    NNC_CHECK(!start || w0, "prune", "parameter '%s' is not in the snapshot", p->names[ks[s]]);
    int64_t n = nnc_numel(t);
    for (int64_t i = 0; i < n; i++) {
      if (m[i] == 0.0f) continue;
      double w = value_at(p, t, i);
      if (neg_only && !(w < 0)) continue;
      c[nc++] = (cand){start ? fabs(w - (double)w0[i]) : fabs(w), s, i};
    }
  }
  if (count > nc) count = nc;
  if (count > 0 && count < nc) qsort(c, (size_t)nc, sizeof *c, cand_cmp);
  for (int64_t j = 0; j < count; j++) {
    int k = ks[c[j].slot];
    ((float *)p->masks[k]->storage->data)[c[j].i] = 0.0f;
    zero_at(p, p->tensors[k], c[j].i);
  }
  free(c);
  p->values.version++;
  return count;
}

/* round(fraction * alive) over the slots [s0, s1) */
static int64_t prune_fraction(nnc_params *p, const int *ks, int s0, int s1, double fraction) {
  int64_t alive = 0;
  for (int s = s0; s < s1; s++) alive += nnc_mask_alive(p, p->tensors[ks[s]]);
  return prune_smallest(p, ks, s0, s1, NULL, false, llround(fraction * (double)alive));
}

static int64_t prune_magnitude(nnc_params *p, const char *const *names, int n, double fraction, bool global,
                               const char *op) {
  NNC_CHECK(fraction >= 0 && fraction <= 1, op, "fraction %g is not in [0, 1]", fraction);
  int *ks = nnc_xmalloc((size_t)(n > 0 ? n : 1) * sizeof *ks);
  resolve(p, names, n, ks, op);
  int64_t removed = 0;
  if (global) removed = prune_fraction(p, ks, 0, n, fraction);
  else
    for (int s = 0; s < n; s++) removed += prune_fraction(p, ks, s, s + 1, fraction);
  free(ks);
  return removed;
}

int64_t nnc_prune_magnitude_global(nnc_params *p, const char *const *names, int n, double fraction) {
  return prune_magnitude(p, names, n, fraction, true, "prune_magnitude_global");
}

int64_t nnc_prune_magnitude_layerwise(nnc_params *p, const char *const *names, int n, double fraction) {
  return prune_magnitude(p, names, n, fraction, false, "prune_magnitude_layerwise");
}

/* AP: candidates are alive w < 0, key |w - w0|, the `count` smallest go. */
int64_t nnc_prune_ap(nnc_params *p, const char *const *names, int n, const nnc_snapshot *start, int64_t count) {
  NNC_CHECK(start && count >= 0, "prune_ap", "needs a snapshot and count >= 0 (got %lld)", (long long)count);
  int *ks = nnc_xmalloc((size_t)(n > 0 ? n : 1) * sizeof *ks);
  resolve(p, names, n, ks, "prune_ap");
  int64_t removed = prune_smallest(p, ks, 0, n, start, true, count);
  free(ks);
  return removed;
}

/* ---- snapshots ---- */

void nnc_snapshot_take(nnc_snapshot *s, const nnc_params *p) {
  s->numel = p->numel;
  s->values = nnc_xmalloc((size_t)(p->numel ? p->numel : 1) * sizeof *s->values);
  if (p->dtype == NNC_F32) memcpy(s->values, p->values.data, (size_t)p->numel * sizeof(float));
  else
    for (int64_t i = 0; i < p->numel; i++) s->values[i] = (float)((const double *)p->values.data)[i];
}

void nnc_snapshot_rewind(const nnc_snapshot *s, nnc_params *p) {
  NNC_CHECK(s->values && s->numel <= p->numel, "snapshot_rewind",
            "the snapshot holds %lld values, the block %lld", (long long)s->numel, (long long)p->numel);
  if (p->dtype == NNC_F32) memcpy(p->values.data, s->values, (size_t)s->numel * sizeof(float));
  else
    for (int64_t i = 0; i < s->numel; i++) ((double *)p->values.data)[i] = s->values[i];
  nnc_masks_apply(p); /* bumps the version */
}

void nnc_snapshot_free(nnc_snapshot *s) {
  free(s->values);
  s->values = NULL;
  s->numel = 0;
}

const float *nnc_snapshot_of(const nnc_snapshot *s, const nnc_params *p, const nnc_tensor *param) {
  index_of(p, param, "snapshot_of");
  if (!s->values || param->offset + nnc_numel(param) > s->numel) return NULL;
  return s->values + param->offset;
}

/* ---- dead-neuron rate: DNR = (1/numel) * #{z <= 0} over every entry of z ---- */

double nnc_dead_rate(const nnc_tensor *z) {
  NNC_CHECK(nnc_dtype_is_float(z->dtype), "dead_rate", "needs a float tensor, got %s", nnc_dtype_name(z->dtype));
  int64_t n = nnc_numel(z), dead = 0;
  if (n == 0) return 0.0;
  if (z->dtype == NNC_F32 && nnc_is_contiguous(z)) {
    const float *v = nnc_data(z);
    for (int64_t i = 0; i < n; i++) dead += v[i] <= 0.0f;
  } else {
    for (int64_t i = 0; i < n; i++) dead += nnc_get(z, i) <= 0.0;
  }
  return (double)dead / (double)n;
}
