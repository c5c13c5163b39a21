/* io/params_io.c: parameter blocks to and from safetensors (see params_io.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "io/params_io.h"
#include "nn/prune.h"

static char *joined(const char *prefix, const char *name) {
  size_t a = prefix ? strlen(prefix) : 0, b = strlen(name);
  char *s = nnc_xmalloc(a + b + 1);
  if (a) memcpy(s, prefix, a);
  memcpy(s + a, name, b + 1);
  return s;
}

static char *mask_name(const char *prefix, const char *name) {
  char *base = joined(prefix, name), *s = joined(base, ".mask");
  free(base);
  return s;
}

/* the mask stored for a parameter, read into a new float array and checked (entries 0 or 1);
 * *out stays NULL when the file has none */
static nnc_status read_mask(const nnc_st_file *f, const char *prefix, const char *pname, const nnc_tensor *t,
                            float **out) {
  *out = NULL;
  char *name = mask_name(prefix, pname);
  const nnc_st_entry *e = nnc_st_find(f, name);
  nnc_status st = NNC_OK;
  if (e) {
    int64_t n = nnc_numel(t);
    float *m = nnc_xmalloc((size_t)(n ? n : 1) * sizeof *m);
    nnc_storage s = {.data = m, .nbytes = (size_t)n * sizeof *m};
    nnc_tensor mt = {.dtype = NNC_F32, .ndim = t->ndim, .storage = &s};
    for (int d = 0; d < t->ndim; d++) mt.shape[d] = t->shape[d];
    nnc_contiguous_strides(t->ndim, t->shape, mt.stride);
    st = nnc_st_to_tensor(e, &mt);
    for (int64_t i = 0; st == NNC_OK && i < n; i++)
      if (m[i] != 0.0f && m[i] != 1.0f)
        st = nnc_error(NNC_ERR_FORMAT, "%s: mask '%s' holds %g at element %lld (want 0 or 1)", nnc_st_path(f), name,
                       (double)m[i], (long long)i);
    if (st) free(m);
    else *out = m;
  }
  free(name);
  return st;
}

/* true for "<param>.mask" where <param> is a parameter of p */
static bool is_mask_of_param(const nnc_params *p, const char *name) {
  size_t n = strlen(name), k = strlen(".mask");
  if (n <= k || strcmp(name + n - k, ".mask") != 0) return false;
  char *base = nnc_xmalloc(n - k + 1);
  memcpy(base, name, n - k);
  base[n - k] = 0;
  bool yes = nnc_params_find(p, base) != NULL;
  free(base);
  return yes;
}

nnc_status nnc_params_add_to_writer(const nnc_params *p, nnc_st_writer *w, const char *prefix, nnc_st_dtype as) {
  for (int i = 0; i < p->count; i++) {
    char *name = joined(prefix, p->names[i]);
    nnc_status st = nnc_st_writer_add(w, name, p->tensors[i], as);
    free(name);
    if (!st && p->masks[i]) {
      name = mask_name(prefix, p->names[i]);
      st = nnc_st_writer_add(w, name, p->masks[i], as); /* 0 and 1 are exact in every float format */
      free(name);
    }
    if (st) return st;
  }
  return NNC_OK;
}

nnc_status nnc_params_save_as(const nnc_params *p, const char *path, const char *const *meta, nnc_st_dtype as) {
  nnc_st_writer *w = nnc_st_writer_new();
  nnc_status st = nnc_params_add_to_writer(p, w, NULL, as);
  for (int i = 0; meta && meta[i] && st == NNC_OK; i += 2) {
    if (!meta[i + 1]) { st = nnc_error(NNC_ERR_ARG, "params save %s: metadata key '%s' has no value", path, meta[i]); break; }
    st = nnc_st_writer_meta(w, meta[i], meta[i + 1]);
  }
  if (st == NNC_OK) st = nnc_st_writer_write(w, path);
  nnc_st_writer_free(w);
  return st;
}

nnc_status nnc_params_save(const nnc_params *p, const char *path, const char *const *meta) {
  return nnc_params_save_as(p, path, meta, NNC_ST_F32);
}

nnc_status nnc_params_load_from(nnc_params *p, const nnc_st_file *f, const char *prefix, bool strict) {
  size_t plen = prefix ? strlen(prefix) : 0;
  const nnc_st_entry **found = nnc_xcalloc((size_t)p->count + 1, sizeof *found);
  float **masks = nnc_xcalloc((size_t)p->count + 1, sizeof *masks);
  nnc_status st = NNC_OK;
  const char *path = nnc_st_path(f);
  /* check everything before writing anything */
  for (int i = 0; i < p->count && st == NNC_OK; i++) {
    char *name = joined(prefix, p->names[i]);
    const nnc_st_entry *e = nnc_st_find(f, name);
    const nnc_tensor *t = p->tensors[i];
    if (!e) {
      st = nnc_error(NNC_ERR_FORMAT, "%s: missing tensor '%s'", path, name);
    } else {
      bool same = e->ndim == t->ndim;
      for (int d = 0; same && d < t->ndim; d++) same = e->shape[d] == t->shape[d];
      if (!same) {
        char a[160], b[160];
        size_t k = (size_t)snprintf(a, sizeof a, "[");
        for (int d = 0; d < e->ndim && k < sizeof a; d++) k += (size_t)snprintf(a + k, sizeof a - k, "%s%lld", d ? ", " : "", (long long)e->shape[d]);
        if (k < sizeof a) snprintf(a + k, sizeof a - k, "]");
        st = nnc_error(NNC_ERR_FORMAT, "%s: tensor '%s' has shape %s in the file, want %s", path, name, a,
                       nnc_shape_str(t, b, sizeof b));
      }
    }
    found[i] = e;
    free(name);
    if (st == NNC_OK) st = read_mask(f, prefix, p->names[i], t, &masks[i]);
  }
  if (st == NNC_OK && strict) {
    for (int k = 0; k < nnc_st_count(f); k++) {
      const nnc_st_entry *e = nnc_st_entry_at(f, k);
      if (plen && strncmp(e->name, prefix, plen) != 0) continue;
      if (!nnc_params_find(p, e->name + plen) && !is_mask_of_param(p, e->name + plen)) {
        st = nnc_error(NNC_ERR_FORMAT, "%s: unexpected tensor '%s' (strict load: the file holds tensors the model lacks)",
                       path, e->name);
        break;
      }
    }
  }
  for (int i = 0; i < p->count && st == NNC_OK; i++) st = nnc_st_to_tensor(found[i], p->tensors[i]);
  for (int i = 0; i < p->count; i++) {
    if (st == NNC_OK && masks[i])
      memcpy(nnc_params_mask_add(p, i)->storage->data, masks[i], (size_t)nnc_numel(p->tensors[i]) * sizeof(float));
    free(masks[i]);
  }
  if (st == NNC_OK) nnc_masks_apply(p); /* keeps W == 0 where M == 0, for masks from the file or the model */
  free(masks);
  free(found);
  return st;
}

nnc_status nnc_params_load(nnc_params *p, const char *path, bool strict) {
  nnc_st_file *f;
  nnc_status st = nnc_st_read(path, &f);
  if (st) return st;
  st = nnc_params_load_from(p, f, NULL, strict);
  nnc_st_free(f);
  return st;
}
