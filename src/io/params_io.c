/* io/params_io.c: parameter blocks to and from safetensors (see params_io.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "io/params_io.h"

static char *joined(const char *prefix, const char *name) {
  size_t a = prefix ? strlen(prefix) : 0, b = strlen(name);
  char *s = nnc_xmalloc(a + b + 1);
  if (a) memcpy(s, prefix, a);
  memcpy(s + a, name, b + 1);
  return s;
}

nnc_status nnc_params_add_to_writer(const nnc_params *p, nnc_st_writer *w, const char *prefix, nnc_st_dtype as) {
  for (int i = 0; i < p->count; i++) {
    char *name = joined(prefix, p->names[i]);
    nnc_status st = nnc_st_writer_add(w, name, p->tensors[i], as);
    free(name);
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
  }
  if (st == NNC_OK && strict) {
    for (int k = 0; k < nnc_st_count(f); k++) {
      const nnc_st_entry *e = nnc_st_entry_at(f, k);
      if (plen && strncmp(e->name, prefix, plen) != 0) continue;
      if (!nnc_params_find(p, e->name + plen)) {
        st = nnc_error(NNC_ERR_FORMAT, "%s: unexpected tensor '%s' (strict load: the file holds tensors the model lacks)",
                       path, e->name);
        break;
      }
    }
  }
  for (int i = 0; i < p->count && st == NNC_OK; i++) st = nnc_st_to_tensor(found[i], p->tensors[i]);
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
