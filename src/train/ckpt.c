/* train/ckpt.c: shared checkpoint pieces (see ckpt.h). */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>
#include "train/ckpt.h"
#include "util/jsonl.h"

nnc_status nnc_ckpt_add_optim(nnc_st_writer *w, nnc_optim *opt) {
  nnc_state_array arrays[8];
  int n = nnc_optim_state(opt, arrays);
  nnc_status st = NNC_OK;
  for (int i = 0; i < n && !st; i++) {
    char name[128];
    snprintf(name, sizeof name, "optim/%s", arrays[i].name);
    st = nnc_st_writer_add_raw(w, name, nnc_st_dtype_of(arrays[i].dtype), 1, &arrays[i].count, arrays[i].data);
  }
  return st;
}

nnc_status nnc_ckpt_load_optim(const nnc_st_file *f, nnc_optim *opt) {
  nnc_state_array arrays[8];
  int n = nnc_optim_state(opt, arrays);
  for (int i = 0; i < n; i++) {
    char name[128];
    snprintf(name, sizeof name, "optim/%s", arrays[i].name);
    const nnc_st_entry *e = nnc_st_find(f, name);
    if (!e || e->dtype != nnc_st_dtype_of(arrays[i].dtype) || e->numel != arrays[i].count)
      return nnc_error(NNC_ERR_FORMAT, "%s: optimiser state '%s' missing or of the wrong size", nnc_st_path(f), name);
    memcpy(arrays[i].data, e->data, e->nbytes);
  }
  return NNC_OK;
}

nnc_status nnc_ckpt_add_rng(nnc_st_writer *w, const char *name, const nnc_rng *r) {
  char key[128];
  snprintf(key, sizeof key, "rng/%s", name);
  return nnc_st_writer_add_raw(w, key, NNC_ST_I64, 1, (const int64_t[]){4}, r->s);
}

nnc_status nnc_ckpt_load_rng(const nnc_st_file *f, const char *name, nnc_rng *r) {
  char key[128];
  snprintf(key, sizeof key, "rng/%s", name);
  const nnc_st_entry *e = nnc_st_find(f, key);
  if (!e || e->nbytes != sizeof r->s)
    return nnc_error(NNC_ERR_FORMAT, "%s: checkpoint has no rng state '%s'", nnc_st_path(f), key);
  memcpy(r->s, e->data, sizeof r->s);
  return NNC_OK;
}

nnc_status nnc_ckpt_meta_int(nnc_st_writer *w, const char *key, int64_t v) {
  char buf[32];
  snprintf(buf, sizeof buf, "%" PRId64, v);
  return nnc_st_writer_meta(w, key, buf);
}

nnc_status nnc_ckpt_read_int(const nnc_st_file *f, const char *key, int64_t *out) {
  const char *v = nnc_st_metadata(f, key);
  char *end;
  if (!v) return nnc_error(NNC_ERR_FORMAT, "%s: checkpoint has no '%s'", nnc_st_path(f), key);
  long long x = strtoll(v, &end, 10);
  if (*v == 0 || *end || x < 0) return nnc_error(NNC_ERR_FORMAT, "%s: bad '%s' value '%s'", nnc_st_path(f), key, v);
  *out = x;
  return NNC_OK;
}

char *nnc_ckpt_history_json(int ncols, const char *const *names, double *const *cols, int n) {
  nnc_json_writer w;
  nnc_json_init(&w);
  nnc_json_begin_object(&w);
  for (int k = 0; k < ncols; k++) nnc_json_kv_numbers(&w, names[k], cols[k], n);
  nnc_json_end_object(&w);
  char *out = strdup(nnc_json_str(&w));
  nnc_json_free(&w);
  return out;
}

nnc_status nnc_ckpt_read_history(const nnc_st_file *f, int ncols, const char *const *names, double *const *cols, int n) {
  const char *h = nnc_st_metadata(f, "history");
  cJSON *root = h ? cJSON_Parse(h) : NULL;
  if (!root) return nnc_error(NNC_ERR_FORMAT, "%s: checkpoint history missing or not JSON", nnc_st_path(f));
  nnc_status st = NNC_OK;
  for (int k = 0; k < ncols && !st; k++) {
    cJSON *a = cJSON_GetObjectItemCaseSensitive(root, names[k]);
    if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) != n) {
      st = nnc_error(NNC_ERR_FORMAT, "%s: history '%s' does not hold %d epochs", nnc_st_path(f), names[k], n);
      break;
    }
    for (int i = 0; i < n; i++) {
      cJSON *v = cJSON_GetArrayItem(a, i);
      cols[k][i] = cJSON_IsNumber(v) ? v->valuedouble : NAN;
    }
  }
  cJSON_Delete(root);
  return st;
}
