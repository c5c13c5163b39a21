/* io/safetensors.c: strict safetensors reader and atomic writer (see safetensors.h). */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "io/safetensors.h"
#include "util/fsutil.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#error "safetensors.c assumes a little-endian host"
#endif

/* ---- dtypes ---- */
static const char *const st_names[NNC_ST_NDTYPES] = {"F64", "F32", "F16", "BF16", "I64",
                                                     "I32", "I16", "I8",  "U8",   "BOOL"};
static const size_t st_sizes[NNC_ST_NDTYPES] = {8, 4, 2, 2, 8, 4, 2, 1, 1, 1};

const char *nnc_st_dtype_name(nnc_st_dtype dt) { return (unsigned)dt < NNC_ST_NDTYPES ? st_names[dt] : "?"; }
size_t nnc_st_dtype_size(nnc_st_dtype dt) { return (unsigned)dt < NNC_ST_NDTYPES ? st_sizes[dt] : 0; }
bool nnc_st_dtype_is_float(nnc_st_dtype dt) {
  return dt == NNC_ST_F64 || dt == NNC_ST_F32 || dt == NNC_ST_F16 || dt == NNC_ST_BF16;
}
nnc_st_dtype nnc_st_dtype_of(nnc_dtype dt) {
  switch (dt) {
  case NNC_F32: return NNC_ST_F32;
  case NNC_F64: return NNC_ST_F64;
  case NNC_I32: return NNC_ST_I32;
  case NNC_I64: return NNC_ST_I64;
  case NNC_U8: return NNC_ST_U8;
  default: return NNC_ST_NDTYPES;
  }
}

/* ---- half precision ---- */
uint16_t nnc_f32_to_f16(float f) {
  uint32_t x;
  memcpy(&x, &f, 4);
  uint32_t sign = (x >> 16) & 0x8000u, ax = x & 0x7fffffffu;
  if (ax >= 0x7f800000u) /* inf, or NaN kept quiet with its top payload bits */
    return (uint16_t)(sign | 0x7c00u | (ax > 0x7f800000u ? 0x200u | ((ax >> 13) & 0x3ffu) : 0));
  if (ax >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u); /* >= 65520 rounds to infinity */
  if (ax < 0x38800000u) { /* below 2^-14: a subnormal half (or zero) */
    int shift = 126 - (int)(ax >> 23);
    if (shift > 24) return (uint16_t)sign;
    uint32_t m = (ax & 0x7fffffu) | 0x800000u, r = m >> shift, rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
    if (rem > half || (rem == half && (r & 1))) r++;
    return (uint16_t)(sign | r);
  }
  uint32_t r = ax - 0x38000000u, h = r >> 13, rem = r & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (h & 1))) h++;
  return (uint16_t)(sign | h);
}

float nnc_f16_to_f32(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu, x;
  if (e == 0) {
    float v = (float)m * 0x1p-24f;
    return sign ? -v : v;
  }
  if (e == 31) x = sign | 0x7f800000u | (m << 13);
  else x = sign | ((e + 112) << 23) | (m << 13);
  float f;
  memcpy(&f, &x, 4);
  return f;
}

uint16_t nnc_f32_to_bf16(float f) {
  uint32_t x;
  memcpy(&x, &f, 4);
  if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((x >> 16) | 0x40u); /* quiet NaN */
  x += 0x7fffu + ((x >> 16) & 1u);
  return (uint16_t)(x >> 16);
}

float nnc_bf16_to_f32(uint16_t h) {
  uint32_t x = (uint32_t)h << 16;
  float f;
  memcpy(&f, &x, 4);
  return f;
}

/* ---- element access of raw little-endian bytes ---- */
static double load_f(const unsigned char *p, nnc_st_dtype dt) {
  switch (dt) {
  case NNC_ST_F64: { double v; memcpy(&v, p, 8); return v; }
  case NNC_ST_F32: { float v; memcpy(&v, p, 4); return v; }
  case NNC_ST_F16: { uint16_t v; memcpy(&v, p, 2); return nnc_f16_to_f32(v); }
  case NNC_ST_BF16: { uint16_t v; memcpy(&v, p, 2); return nnc_bf16_to_f32(v); }
  case NNC_ST_I64: { int64_t v; memcpy(&v, p, 8); return (double)v; }
  case NNC_ST_I32: { int32_t v; memcpy(&v, p, 4); return v; }
  case NNC_ST_I16: { int16_t v; memcpy(&v, p, 2); return v; }
  case NNC_ST_I8: return (int8_t)*p;
  default: return *p;
  }
}

static int64_t load_i(const unsigned char *p, nnc_st_dtype dt) {
  switch (dt) {
  case NNC_ST_I64: { int64_t v; memcpy(&v, p, 8); return v; }
  case NNC_ST_I32: { int32_t v; memcpy(&v, p, 4); return v; }
  case NNC_ST_I16: { int16_t v; memcpy(&v, p, 2); return v; }
  case NNC_ST_I8: return (int8_t)*p;
  default: return *p;
  }
}

/* ---- reader ---- */
typedef struct {
  char *key, *value;
} st_meta;

struct nnc_st_file {
  char *path;
  unsigned char *data; /* the data buffer */
  size_t data_len;
  int count;
  nnc_st_entry *entries; /* in data order */
  char **names;          /* entry names (owned) */
  int *by_name;          /* indices sorted by name */
  int nmeta;
  st_meta *meta;
};

void nnc_st_free(nnc_st_file *f) {
  if (!f) return;
  for (int i = 0; i < f->count; i++) free(f->names[i]);
  for (int i = 0; i < f->nmeta; i++) { free(f->meta[i].key); free(f->meta[i].value); }
  free(f->names);
  free(f->entries);
  free(f->by_name);
  free(f->meta);
  free(f->data);
  free(f->path);
  free(f);
}

static char *dup_str(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d) memcpy(d, s, n);
  return d;
}

/* a JSON number that is an exact non-negative integer up to 2^53 */
static int json_uint(const cJSON *v, int64_t *out) {
  if (!cJSON_IsNumber(v)) return 0;
  double d = v->valuedouble;
  if (!(d >= 0 && d <= 9007199254740992.0) || d != floor(d)) return 0;
  *out = (int64_t)d;
  return 1;
}

static int cmp_offset(const void *a, const void *b) {
  const nnc_st_entry *x = a, *y = b;
  if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
  if (x->nbytes != y->nbytes) return x->nbytes < y->nbytes ? -1 : 1;
  return 0;
}
static int cmp_name_idx(const void *a, const void *b, void *entries) {
  const nnc_st_entry *e = entries;
  return strcmp(e[*(const int *)a].name, e[*(const int *)b].name);
}
static int cmp_meta(const void *a, const void *b) {
  return strcmp((*(const st_meta *const *)a)->key, (*(const st_meta *const *)b)->key);
}

static nnc_status parse_entry(nnc_st_file *f, const cJSON *item, nnc_st_entry *e) {
  const char *P = f->path, *name = item->string;
  if (!cJSON_IsObject(item)) return nnc_error(NNC_ERR_FORMAT, "%s: tensor '%s': entry is not a JSON object", P, name);
  const cJSON *dt = cJSON_GetObjectItemCaseSensitive(item, "dtype");
  const cJSON *shape = cJSON_GetObjectItemCaseSensitive(item, "shape");
  const cJSON *offs = cJSON_GetObjectItemCaseSensitive(item, "data_offsets");
  if (!cJSON_IsString(dt)) return nnc_error(NNC_ERR_FORMAT, "%s: tensor '%s': missing or non-string dtype", P, name);
  e->dtype = NNC_ST_NDTYPES;
  for (int k = 0; k < NNC_ST_NDTYPES; k++)
    if (strcmp(dt->valuestring, st_names[k]) == 0) e->dtype = (nnc_st_dtype)k;
  if (e->dtype == NNC_ST_NDTYPES)
    return nnc_error(NNC_ERR_FORMAT, "%s: tensor '%s': unknown dtype '%.32s'", P, name, dt->valuestring);
  if (!cJSON_IsArray(shape)) return nnc_error(NNC_ERR_FORMAT, "%s: tensor '%s': missing shape list", P, name);
  int nd = cJSON_GetArraySize(shape);
  if (nd > NNC_MAX_DIMS)
    return nnc_error(NNC_ERR_FORMAT, "%s: tensor '%s': %d dimensions (nnc supports at most %d)", P, name, nd, NNC_MAX_DIMS);
  e->ndim = nd;
  int64_t numel = 1;
  int d = 0;
  const cJSON *v;
  cJSON_ArrayForEach(v, shape) {
    int64_t s;
    if (!json_uint(v, &s)) {
      if (cJSON_IsNumber(v) && v->valuedouble < 0)
        return nnc_error(NNC_ERR_FORMAT, "%s: tensor '%s': negative shape entry %g", P, name, v->valuedouble);
      return nnc_error(NNC_ERR_FORMAT, "%s: tensor '%s': shape entry %d is not a non-negative integer (at most 2^53)", P, name, d);
    }
    if (s && numel > INT64_MAX / s)
      return nnc_error(NNC_ERR_FORMAT, "%s: tensor '%s': shape element count overflows int64", P, name);
    e->shape[d++] = s;
    numel *= s;
  }
  e->numel = numel;
  size_t es = st_sizes[e->dtype];
  if (numel > INT64_MAX / (int64_t)es)
    return nnc_error(NNC_ERR_FORMAT, "%s: tensor '%s': byte size overflows int64", P, name);
  int64_t need = numel * (int64_t)es, b, en;
  if (!cJSON_IsArray(offs) || cJSON_GetArraySize(offs) != 2 || !json_uint(offs->child, &b) ||
      !json_uint(offs->child->next, &en))
    return nnc_error(NNC_ERR_FORMAT, "%s: tensor '%s': data_offsets must be two non-negative integers", P, name);
  if (b > en)
    return nnc_error(NNC_ERR_FORMAT, "%s: tensor '%s': data_offsets [%lld, %lld] begin after end", P, name, (long long)b, (long long)en);
  if ((uint64_t)en > f->data_len)
    return nnc_error(NNC_ERR_FORMAT, "%s: tensor '%s': data_offsets [%lld, %lld] run past the end of the %zu-byte data buffer", P,
                     name, (long long)b, (long long)en, f->data_len);
  if (en - b != need)
    return nnc_error(NNC_ERR_FORMAT, "%s: tensor '%s': data_offsets span %lld bytes but %s x %lld elements need %lld", P, name,
                     (long long)(en - b), st_names[e->dtype], (long long)numel, (long long)need);
  e->begin = (size_t)b;
  e->nbytes = (size_t)need;
  e->data = f->data + b;
  e->file = f->path;
  return NNC_OK;
}

/* validates the header text and fills f (whose path, data and data_len are set) */
static nnc_status parse_header(nnc_st_file *f, char *hdr, size_t hlen) {
  const char *P = f->path;
  if (hlen == 0) return nnc_error(NNC_ERR_FORMAT, "%s: header length is 0 (an empty header is not JSON)", P);
  hdr[hlen] = 0;
  for (size_t i = 0; i < hlen;) {
    if ((unsigned char)hdr[i] < 0x80) { i++; continue; }
    int l = nnc_utf8_seq_len(hdr + i);
    if (l == 0 || i + (size_t)l > hlen) return nnc_error(NNC_ERR_FORMAT, "%s: header is not valid UTF-8 (byte %zu)", P, i);
    i += (size_t)l;
  }
  const char *end = NULL;
  cJSON *root = cJSON_ParseWithOpts(hdr, &end, 0);
  if (!root) {
    const char *at = cJSON_GetErrorPtr();
    long pos = at && at >= hdr && at <= hdr + hlen ? (long)(at - hdr) : -1;
    return nnc_error(NNC_ERR_FORMAT, "%s: header is not valid JSON (near byte %ld)", P, pos);
  }
  nnc_status st = NNC_OK;
  for (const char *q = end; q < hdr + hlen; q++)
    if (*q != ' ' && *q != '\t' && *q != '\n' && *q != '\r') {
      st = nnc_error(NNC_ERR_FORMAT, "%s: unexpected text after the JSON header (byte %ld)", P, (long)(q - hdr));
      goto done;
    }
  if (!cJSON_IsObject(root)) { st = nnc_error(NNC_ERR_FORMAT, "%s: header is not a JSON object", P); goto done; }
  int n = cJSON_GetArraySize(root), ntensor = 0, nmeta_obj = 0;
  const cJSON *item, *meta = NULL;
  cJSON_ArrayForEach(item, root) {
    if (strcmp(item->string, "__metadata__") == 0) { meta = item; nmeta_obj++; }
    else ntensor++;
  }
  if (nmeta_obj > 1) { st = nnc_error(NNC_ERR_FORMAT, "%s: duplicate key '__metadata__'", P); goto done; }
  (void)n;
  f->entries = calloc((size_t)ntensor + 1, sizeof *f->entries);
  f->names = calloc((size_t)ntensor + 1, sizeof *f->names);
  f->by_name = calloc((size_t)ntensor + 1, sizeof *f->by_name);
  if (!f->entries || !f->names || !f->by_name) { st = nnc_error(NNC_ERR_NOMEM, "%s: out of memory", P); goto done; }
  cJSON_ArrayForEach(item, root) {
    if (item == meta) continue;
    nnc_st_entry *e = &f->entries[f->count];
    if ((st = parse_entry(f, item, e))) goto done;
    f->names[f->count] = dup_str(item->string);
    if (!f->names[f->count]) { st = nnc_error(NNC_ERR_NOMEM, "%s: out of memory", P); goto done; }
    f->count++;
  }
  /* names: entries keep pointers into f->names, which follow them through the sort below */
  for (int i = 0; i < f->count; i++) f->entries[i].name = f->names[i];
  qsort(f->entries, (size_t)f->count, sizeof *f->entries, cmp_offset);
  size_t pos = 0;
  for (int i = 0; i < f->count; i++) {
    const nnc_st_entry *e = &f->entries[i];
    if (e->begin < pos) {
      const nnc_st_entry *p = &f->entries[i - 1];
      st = nnc_error(NNC_ERR_FORMAT, "%s: tensors '%s' [%zu, %zu) and '%s' [%zu, %zu) overlap", P, p->name, p->begin,
                     p->begin + p->nbytes, e->name, e->begin, e->begin + e->nbytes);
      goto done;
    }
    if (e->begin > pos) {
      st = nnc_error(NNC_ERR_FORMAT, "%s: bytes [%zu, %zu) of the data buffer belong to no tensor (a hole before '%s')", P,
                     pos, e->begin, e->name);
      goto done;
    }
    pos = e->begin + e->nbytes;
  }
  if (pos != f->data_len) {
    st = nnc_error(NNC_ERR_FORMAT, "%s: bytes [%zu, %zu) at the end of the data buffer belong to no tensor (a hole)", P, pos,
                   f->data_len);
    goto done;
  }
  for (int i = 0; i < f->count; i++) f->by_name[i] = i;
  qsort_r(f->by_name, (size_t)f->count, sizeof *f->by_name, cmp_name_idx, f->entries);
  for (int i = 1; i < f->count; i++)
    if (strcmp(f->entries[f->by_name[i]].name, f->entries[f->by_name[i - 1]].name) == 0) {
      st = nnc_error(NNC_ERR_FORMAT, "%s: duplicate tensor name '%s'", P, f->entries[f->by_name[i]].name);
      goto done;
    }
  if (meta) {
    if (!cJSON_IsObject(meta)) { st = nnc_error(NNC_ERR_FORMAT, "%s: __metadata__ is not a JSON object", P); goto done; }
    int nm = cJSON_GetArraySize(meta);
    f->meta = calloc((size_t)nm + 1, sizeof *f->meta);
    st_meta **sorted = calloc((size_t)nm + 1, sizeof *sorted);
    if (!f->meta || !sorted) { free(sorted); st = nnc_error(NNC_ERR_NOMEM, "%s: out of memory", P); goto done; }
    cJSON_ArrayForEach(item, meta) {
      if (!cJSON_IsString(item)) {
        st = nnc_error(NNC_ERR_FORMAT, "%s: __metadata__ value of '%s' is not a string", P, item->string);
        break;
      }
      st_meta *m = &f->meta[f->nmeta];
      m->key = dup_str(item->string);
      m->value = dup_str(item->valuestring);
      if (!m->key || !m->value) { free(m->key); free(m->value); st = nnc_error(NNC_ERR_NOMEM, "%s: out of memory", P); break; }
      sorted[f->nmeta] = m;
      f->nmeta++;
    }
    if (st == NNC_OK) {
      qsort(sorted, (size_t)f->nmeta, sizeof *sorted, cmp_meta);
      for (int i = 1; i < f->nmeta; i++)
        if (strcmp(sorted[i]->key, sorted[i - 1]->key) == 0) {
          st = nnc_error(NNC_ERR_FORMAT, "%s: duplicate __metadata__ key '%s'", P, sorted[i]->key);
          break;
        }
    }
    free(sorted);
  }
done:
  cJSON_Delete(root);
  return st;
}

static nnc_st_file *new_file(const char *path) {
  nnc_st_file *f = calloc(1, sizeof *f);
  if (!f) return NULL;
  f->path = dup_str(path ? path : "(memory)");
  if (!f->path) { free(f); return NULL; }
  return f;
}

static uint64_t le64(const unsigned char *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
  return v;
}

/* checks the 8-byte length against the total size */
static nnc_status check_length(const char *P, uint64_t hlen, uint64_t total) {
  if (hlen > NNC_ST_MAX_HEADER)
    return nnc_error(NNC_ERR_FORMAT, "%s: header length %llu is above the %d-byte limit", P, (unsigned long long)hlen,
                     NNC_ST_MAX_HEADER);
  if (hlen > total - 8)
    return nnc_error(NNC_ERR_FORMAT, "%s: header length %llu is larger than the file (%llu bytes after the length)", P,
                     (unsigned long long)hlen, (unsigned long long)(total - 8));
  return NNC_OK;
}

nnc_status nnc_st_read_mem(const void *bytes, size_t n, const char *name, nnc_st_file **out) {
  *out = NULL;
  nnc_st_file *f = new_file(name);
  if (!f) return nnc_error(NNC_ERR_NOMEM, "out of memory");
  nnc_status st;
  char *hdr = NULL;
  const unsigned char *b = bytes;
  if (n < 8) { st = nnc_error(NNC_ERR_FORMAT, "%s: truncated: %zu bytes, too short for the 8-byte header length", f->path, n); goto done; }
  uint64_t hlen = le64(b);
  if ((st = check_length(f->path, hlen, n))) goto done;
  hdr = malloc(hlen + 1);
  f->data_len = n - 8 - hlen;
  f->data = malloc(f->data_len ? f->data_len : 1);
  if (!hdr || !f->data) { st = nnc_error(NNC_ERR_NOMEM, "%s: out of memory", f->path); goto done; }
  memcpy(hdr, b + 8, hlen);
  if (f->data_len) memcpy(f->data, b + 8 + hlen, f->data_len);
  st = parse_header(f, hdr, hlen);
done:
  free(hdr);
  if (st) { nnc_st_free(f); return st; }
  *out = f;
  return NNC_OK;
}

nnc_status nnc_st_read(const char *path, nnc_st_file **out) {
  *out = NULL;
  FILE *fp = fopen(path, "rb");
  if (!fp) return nnc_error(NNC_ERR_IO, "cannot open %s: %s", path, strerror(errno));
  nnc_st_file *f = new_file(path);
  char *hdr = NULL;
  nnc_status st = NNC_OK;
  if (!f) { st = nnc_error(NNC_ERR_NOMEM, "out of memory"); goto done; }
  struct stat sb;
  if (fstat(fileno(fp), &sb) != 0 || !S_ISREG(sb.st_mode)) { st = nnc_error(NNC_ERR_IO, "cannot read %s: not a regular file", path); goto done; }
  uint64_t total = (uint64_t)sb.st_size;
  unsigned char lenb[8];
  if (total < 8 || fread(lenb, 1, 8, fp) != 8) {
    st = nnc_error(NNC_ERR_FORMAT, "%s: truncated: %llu bytes, too short for the 8-byte header length", path, (unsigned long long)total);
    goto done;
  }
  uint64_t hlen = le64(lenb);
  if ((st = check_length(path, hlen, total))) goto done;
  hdr = malloc(hlen + 1);
  f->data_len = (size_t)(total - 8 - hlen);
  f->data = malloc(f->data_len ? f->data_len : 1);
  if (!hdr || !f->data) { st = nnc_error(NNC_ERR_NOMEM, "%s: cannot allocate %llu bytes", path, (unsigned long long)total); goto done; }
  if (fread(hdr, 1, hlen, fp) != hlen || (f->data_len && fread(f->data, 1, f->data_len, fp) != f->data_len)) {
    st = nnc_error(NNC_ERR_IO, "%s: read error (file changed while reading?)", path);
    goto done;
  }
  st = parse_header(f, hdr, hlen);
done:
  fclose(fp);
  free(hdr);
  if (st) { nnc_st_free(f); return st; }
  *out = f;
  return NNC_OK;
}

const char *nnc_st_path(const nnc_st_file *f) { return f->path; }
int nnc_st_count(const nnc_st_file *f) { return f->count; }
const nnc_st_entry *nnc_st_entry_at(const nnc_st_file *f, int i) {
  return i >= 0 && i < f->count ? &f->entries[i] : NULL;
}
const nnc_st_entry *nnc_st_find(const nnc_st_file *f, const char *name) {
  int lo = 0, hi = f->count - 1;
  while (lo <= hi) {
    int mid = (lo + hi) / 2, c = strcmp(name, f->entries[f->by_name[mid]].name);
    if (c == 0) return &f->entries[f->by_name[mid]];
    if (c < 0) hi = mid - 1;
    else lo = mid + 1;
  }
  return NULL;
}
const char *nnc_st_metadata(const nnc_st_file *f, const char *key) {
  for (int i = 0; i < f->nmeta; i++)
    if (strcmp(f->meta[i].key, key) == 0) return f->meta[i].value;
  return NULL;
}
int nnc_st_metadata_count(const nnc_st_file *f) { return f->nmeta; }
void nnc_st_metadata_at(const nnc_st_file *f, int i, const char **key, const char **value) {
  if (i < 0 || i >= f->nmeta) { *key = *value = NULL; return; }
  *key = f->meta[i].key;
  *value = f->meta[i].value;
}

/* ---- conversion into tensors ---- */
static void shape_text(int ndim, const int64_t *shape, char *buf, size_t size) {
  size_t k = (size_t)snprintf(buf, size, "[");
  for (int d = 0; d < ndim && k < size; d++)
    k += (size_t)snprintf(buf + k, size - k, "%s%lld", d ? ", " : "", (long long)shape[d]);
  if (k < size) snprintf(buf + k, size - k, "]");
}

static int int_fits(int64_t v, nnc_dtype dt) {
  switch (dt) {
  case NNC_I32: return v >= INT32_MIN && v <= INT32_MAX;
  case NNC_U8: return v >= 0 && v <= 255;
  default: return 1;
  }
}

nnc_status nnc_st_to_tensor(const nnc_st_entry *e, nnc_tensor *dst) {
  bool same = e->ndim == dst->ndim;
  for (int d = 0; same && d < e->ndim; d++) same = e->shape[d] == dst->shape[d];
  if (!same) {
    char a[160], b[160];
    shape_text(e->ndim, e->shape, a, sizeof a);
    shape_text(dst->ndim, dst->shape, b, sizeof b);
    return nnc_error(NNC_ERR_FORMAT, "%s: tensor '%s' has shape %s in the file, want %s", e->file, e->name, a, b);
  }
  bool dst_float = nnc_dtype_is_float(dst->dtype), src_float = nnc_st_dtype_is_float(e->dtype);
  if (src_float && !dst_float)
    return nnc_error(NNC_ERR_FORMAT, "%s: tensor '%s' is %s in the file, cannot convert it to %s", e->file, e->name,
                     st_names[e->dtype], nnc_dtype_name(dst->dtype));
  const unsigned char *src = e->data;
  size_t es = st_sizes[e->dtype];
  int64_t n = e->numel;
  if (nnc_st_dtype_of(dst->dtype) == e->dtype && nnc_is_contiguous(dst)) {
    if (n) memcpy(nnc_data(dst), src, (size_t)n * es);
  } else if (dst->dtype == NNC_F32 && nnc_is_contiguous(dst) && e->dtype == NNC_ST_F16) {
    float *o = nnc_data(dst);
    for (int64_t i = 0; i < n; i++) { uint16_t h; memcpy(&h, src + 2 * i, 2); o[i] = nnc_f16_to_f32(h); }
  } else {
    char *base = dst->storage->data;
    for (int64_t i = 0; i < n; i++) {
      const unsigned char *p = src + (size_t)i * es;
      int64_t off = nnc_elem_offset(dst, i);
      if (dst_float) {
        double v = load_f(p, e->dtype);
        if (dst->dtype == NNC_F32) ((float *)base)[off] = (float)v;
        else ((double *)base)[off] = v;
      } else {
        int64_t v = load_i(p, e->dtype);
        if (!int_fits(v, dst->dtype))
          return nnc_error(NNC_ERR_FORMAT, "%s: tensor '%s': value %lld (element %lld) does not fit %s", e->file, e->name,
                           (long long)v, (long long)i, nnc_dtype_name(dst->dtype));
        switch (dst->dtype) {
        case NNC_I64: ((int64_t *)base)[off] = v; break;
        case NNC_I32: ((int32_t *)base)[off] = (int32_t)v; break;
        default: ((uint8_t *)base)[off] = (uint8_t)v; break;
        }
      }
    }
  }
  nnc_bump_version(dst);
  return NNC_OK;
}

nnc_status nnc_st_load(const nnc_st_entry *e, nnc_dtype want, nnc_tensor **out) {
  *out = NULL;
  if (nnc_st_dtype_is_float(e->dtype) && !nnc_dtype_is_float(want))
    return nnc_error(NNC_ERR_FORMAT, "%s: tensor '%s' is %s in the file, cannot convert it to %s", e->file, e->name,
                     st_names[e->dtype], nnc_dtype_name(want));
  nnc_tensor *t = nnc_empty(want, e->ndim, e->shape);
  nnc_status st = nnc_st_to_tensor(e, t);
  if (st == NNC_OK) *out = t;
  return st;
}

/* ---- writer ---- */
typedef struct {
  char *name;
  nnc_st_dtype as;
  int ndim;
  int64_t shape[NNC_MAX_DIMS];
  int64_t numel;
  bool raw;          /* raw bytes in `as` at `data` */
  const void *data;
  nnc_tensor t;      /* copied header, when !raw */
} st_item;

struct nnc_st_writer {
  int count, cap;
  st_item *items;
  int nmeta, meta_cap;
  st_meta *meta;
};

nnc_st_writer *nnc_st_writer_new(void) { return nnc_xcalloc(1, sizeof(nnc_st_writer)); }

void nnc_st_writer_free(nnc_st_writer *w) {
  if (!w) return;
  for (int i = 0; i < w->count; i++) free(w->items[i].name);
  for (int i = 0; i < w->nmeta; i++) { free(w->meta[i].key); free(w->meta[i].value); }
  free(w->items);
  free(w->meta);
  free(w);
}

static bool valid_utf8(const char *s) {
  while (*s) {
    int l = nnc_utf8_seq_len(s);
    if (!l) return false;
    s += l;
  }
  return true;
}

static nnc_status check_name(nnc_st_writer *w, const char *name) {
  if (!name) return nnc_error(NNC_ERR_ARG, "safetensors writer: NULL tensor name");
  if (strcmp(name, "__metadata__") == 0) return nnc_error(NNC_ERR_ARG, "safetensors writer: '__metadata__' is reserved");
  if (!valid_utf8(name)) return nnc_error(NNC_ERR_ARG, "safetensors writer: tensor name is not valid UTF-8");
  for (int i = 0; i < w->count; i++)
    if (strcmp(w->items[i].name, name) == 0)
      return nnc_error(NNC_ERR_ARG, "safetensors writer: duplicate tensor name '%s'", name);
  return NNC_OK;
}

static st_item *push_item(nnc_st_writer *w, const char *name) {
  if (w->count == w->cap) {
    int cap = w->cap ? 2 * w->cap : 16;
    st_item *ni = realloc(w->items, (size_t)cap * sizeof *ni);
    if (!ni) return NULL;
    w->items = ni;
    w->cap = cap;
  }
  st_item *it = &w->items[w->count];
  memset(it, 0, sizeof *it);
  it->name = dup_str(name);
  if (!it->name) return NULL;
  w->count++;
  return it;
}

nnc_status nnc_st_writer_add(nnc_st_writer *w, const char *name, const nnc_tensor *t, nnc_st_dtype as) {
  nnc_status st = check_name(w, name);
  if (st) return st;
  if ((unsigned)as >= NNC_ST_NDTYPES) return nnc_error(NNC_ERR_ARG, "safetensors writer: '%s': unknown dtype %d", name, (int)as);
  if (nnc_dtype_is_float(t->dtype) && !nnc_st_dtype_is_float(as))
    return nnc_error(NNC_ERR_ARG, "safetensors writer: '%s': a %s tensor cannot be stored as %s", name,
                     nnc_dtype_name(t->dtype), st_names[as]);
  st_item *it = push_item(w, name);
  if (!it) return nnc_error(NNC_ERR_NOMEM, "safetensors writer: out of memory");
  it->as = as;
  it->ndim = t->ndim;
  memcpy(it->shape, t->shape, sizeof it->shape);
  it->numel = nnc_numel(t);
  it->t = *t;
  it->t.grad = NULL;
  it->t.node = NULL;
  return NNC_OK;
}

nnc_status nnc_st_writer_add_raw(nnc_st_writer *w, const char *name, nnc_st_dtype dt, int ndim,
                                 const int64_t *shape, const void *data) {
  nnc_status st = check_name(w, name);
  if (st) return st;
  if ((unsigned)dt >= NNC_ST_NDTYPES) return nnc_error(NNC_ERR_ARG, "safetensors writer: '%s': unknown dtype %d", name, (int)dt);
  if (ndim < 0 || ndim > NNC_MAX_DIMS) return nnc_error(NNC_ERR_ARG, "safetensors writer: '%s': %d dimensions", name, ndim);
  int64_t n = 1;
  for (int d = 0; d < ndim; d++) {
    if (shape[d] < 0 || (shape[d] && n > (INT64_MAX / 8) / shape[d]))
      return nnc_error(NNC_ERR_ARG, "safetensors writer: '%s': bad shape", name);
    n *= shape[d];
  }
  st_item *it = push_item(w, name);
  if (!it) return nnc_error(NNC_ERR_NOMEM, "safetensors writer: out of memory");
  it->as = dt;
  it->ndim = ndim;
  for (int d = 0; d < ndim; d++) it->shape[d] = shape[d];
  it->numel = n;
  it->raw = true;
  it->data = data;
  return NNC_OK;
}

nnc_status nnc_st_writer_meta(nnc_st_writer *w, const char *key, const char *value) {
  if (!key || !value) return nnc_error(NNC_ERR_ARG, "safetensors writer: NULL metadata key or value");
  if (!valid_utf8(key) || !valid_utf8(value)) return nnc_error(NNC_ERR_ARG, "safetensors writer: metadata '%s' is not valid UTF-8", key);
  for (int i = 0; i < w->nmeta; i++)
    if (strcmp(w->meta[i].key, key) == 0) return nnc_error(NNC_ERR_ARG, "safetensors writer: duplicate metadata key '%s'", key);
  if (w->nmeta == w->meta_cap) {
    int cap = w->meta_cap ? 2 * w->meta_cap : 8;
    st_meta *nm = realloc(w->meta, (size_t)cap * sizeof *nm);
    if (!nm) return nnc_error(NNC_ERR_NOMEM, "safetensors writer: out of memory");
    w->meta = nm;
    w->meta_cap = cap;
  }
  st_meta *m = &w->meta[w->nmeta];
  m->key = dup_str(key);
  m->value = dup_str(value);
  if (!m->key || !m->value) { free(m->key); free(m->value); return nnc_error(NNC_ERR_NOMEM, "safetensors writer: out of memory"); }
  w->nmeta++;
  return NNC_OK;
}

static void json_str(nnc_strbuf *sb, const char *s) {
  nnc_sb_puts(sb, "\"");
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"') nnc_sb_puts(sb, "\\\"");
    else if (c == '\\') nnc_sb_puts(sb, "\\\\");
    else if (c < 0x20) nnc_sb_printf(sb, "\\u%04x", c);
    else nnc_sb_append(sb, s, 1);
  }
  nnc_sb_puts(sb, "\"");
}

/* converts elements [i0, i0 + m) of item `it` into `out` in its file dtype */
static nnc_status convert_chunk(const st_item *it, int64_t i0, int64_t m, unsigned char *out) {
  const nnc_tensor *t = &it->t;
  const char *base = t->storage->data;
  bool tf = nnc_dtype_is_float(t->dtype);
  size_t es = st_sizes[it->as];
  for (int64_t k = 0; k < m; k++) {
    int64_t off = nnc_elem_offset(t, i0 + k);
    unsigned char *o = out + (size_t)k * es;
    if (tf || nnc_st_dtype_is_float(it->as)) {
      double v;
      switch (t->dtype) {
      case NNC_F32: v = ((const float *)base)[off]; break;
      case NNC_F64: v = ((const double *)base)[off]; break;
      case NNC_I32: v = ((const int32_t *)base)[off]; break;
      case NNC_I64: v = (double)((const int64_t *)base)[off]; break;
      default: v = ((const uint8_t *)base)[off]; break;
      }
      switch (it->as) {
      case NNC_ST_F64: memcpy(o, &v, 8); break;
      case NNC_ST_F32: { float f = (float)v; memcpy(o, &f, 4); break; }
      case NNC_ST_F16: { uint16_t h = nnc_f32_to_f16((float)v); memcpy(o, &h, 2); break; }
      default: { uint16_t h = nnc_f32_to_bf16((float)v); memcpy(o, &h, 2); break; }
      }
    } else {
      int64_t v;
      switch (t->dtype) {
      case NNC_I32: v = ((const int32_t *)base)[off]; break;
      case NNC_I64: v = ((const int64_t *)base)[off]; break;
      default: v = ((const uint8_t *)base)[off]; break;
      }
      int64_t lo = INT64_MIN, hi = INT64_MAX;
      switch (it->as) {
      case NNC_ST_I32: lo = INT32_MIN; hi = INT32_MAX; break;
      case NNC_ST_I16: lo = INT16_MIN; hi = INT16_MAX; break;
      case NNC_ST_I8: lo = INT8_MIN; hi = INT8_MAX; break;
      case NNC_ST_U8: lo = 0; hi = 255; break;
      case NNC_ST_BOOL: lo = 0; hi = 1; break;
      default: break;
      }
      if (v < lo || v > hi)
        return nnc_error(NNC_ERR_ARG, "safetensors writer: '%s': value %lld (element %lld) does not fit %s", it->name,
                         (long long)v, (long long)(i0 + k), st_names[it->as]);
      switch (it->as) {
      case NNC_ST_I64: memcpy(o, &v, 8); break;
      case NNC_ST_I32: { int32_t x = (int32_t)v; memcpy(o, &x, 4); break; }
      case NNC_ST_I16: { int16_t x = (int16_t)v; memcpy(o, &x, 2); break; }
      case NNC_ST_I8: { int8_t x = (int8_t)v; memcpy(o, &x, 1); break; }
      default: { uint8_t x = (uint8_t)v; memcpy(o, &x, 1); break; }
      }
    }
  }
  return NNC_OK;
}

nnc_status nnc_st_writer_write(nnc_st_writer *w, const char *path) {
  nnc_strbuf sb = {0};
  nnc_sb_puts(&sb, "{");
  bool first = true;
  if (w->nmeta) {
    nnc_sb_puts(&sb, "\"__metadata__\":{");
    for (int i = 0; i < w->nmeta; i++) {
      if (i) nnc_sb_puts(&sb, ",");
      json_str(&sb, w->meta[i].key);
      nnc_sb_puts(&sb, ":");
      json_str(&sb, w->meta[i].value);
    }
    nnc_sb_puts(&sb, "}");
    first = false;
  }
  uint64_t off = 0;
  for (int i = 0; i < w->count; i++) {
    const st_item *it = &w->items[i];
    if (!first) nnc_sb_puts(&sb, ",");
    first = false;
    json_str(&sb, it->name);
    nnc_sb_printf(&sb, ":{\"dtype\":\"%s\",\"shape\":[", st_names[it->as]);
    for (int d = 0; d < it->ndim; d++) nnc_sb_printf(&sb, "%s%lld", d ? "," : "", (long long)it->shape[d]);
    uint64_t bytes = (uint64_t)it->numel * st_sizes[it->as];
    nnc_sb_printf(&sb, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)off, (unsigned long long)(off + bytes));
    off += bytes;
  }
  nnc_sb_puts(&sb, "}");
  while (sb.len % 8) nnc_sb_puts(&sb, " ");
  unsigned char lenb[8];
  for (int k = 0; k < 8; k++) lenb[k] = (unsigned char)((uint64_t)sb.len >> (8 * k));

  nnc_atomic_file af;
  nnc_status st = nnc_atomic_open(&af, path);
  if (st) { nnc_sb_free(&sb); return st; }
  fwrite(lenb, 1, 8, af.f);
  fwrite(nnc_sb_str(&sb), 1, sb.len, af.f);
  nnc_sb_free(&sb);
  enum { CHUNK = 16384 };
  unsigned char *buf = NULL;
  for (int i = 0; i < w->count && st == NNC_OK; i++) {
    const st_item *it = &w->items[i];
    size_t es = st_sizes[it->as];
    if (it->raw) {
      if (it->numel) fwrite(it->data, es, (size_t)it->numel, af.f);
      continue;
    }
    if (nnc_st_dtype_of(it->t.dtype) == it->as && nnc_is_contiguous(&it->t)) {
      if (it->numel) fwrite(nnc_data(&it->t), es, (size_t)it->numel, af.f);
      continue;
    }
    if (!buf && !(buf = malloc(CHUNK * 8))) { st = nnc_error(NNC_ERR_NOMEM, "safetensors writer: out of memory"); break; }
    for (int64_t i0 = 0; i0 < it->numel && st == NNC_OK; i0 += CHUNK) {
      int64_t m = it->numel - i0 < CHUNK ? it->numel - i0 : CHUNK;
      st = convert_chunk(it, i0, m, buf);
      if (st == NNC_OK) fwrite(buf, es, (size_t)m, af.f);
    }
  }
  free(buf);
  if (st) { nnc_atomic_abort(&af); return st; }
  return nnc_atomic_commit(&af);
}

nnc_status nnc_st_save(const char *path, int n, const char *const *names, const nnc_tensor *const *tensors,
                       const char *const *meta) {
  nnc_st_writer *w = nnc_st_writer_new();
  nnc_status st = NNC_OK;
  for (int i = 0; i < n && st == NNC_OK; i++)
    st = nnc_st_writer_add(w, names[i], tensors[i], nnc_st_dtype_of(tensors[i]->dtype));
  for (int i = 0; meta && meta[i] && st == NNC_OK; i += 2) {
    if (!meta[i + 1]) { st = nnc_error(NNC_ERR_ARG, "safetensors save: metadata key '%s' has no value", meta[i]); break; }
    st = nnc_st_writer_meta(w, meta[i], meta[i + 1]);
  }
  if (st == NNC_OK) st = nnc_st_writer_write(w, path);
  nnc_st_writer_free(w);
  return st;
}
