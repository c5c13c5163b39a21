/* infer/imodel.c: exported inference models: building, file format, forward (see imodel.h). */
#include <math.h>
#include <omp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include "core/threads.h"
#include "infer/imodel.h"
#include "util/fsutil.h"

const char *nnc_imodel_kind_name(nnc_imodel_kind k) {
  switch (k) {
  case NNC_IMODEL_BINARY: return "binary";
  case NNC_IMODEL_INT8: return "int8";
  }
  return "?";
}

const char *nnc_ilayer_type_name(nnc_ilayer_type t) {
  switch (t) {
  case NNC_IL_U8_SIGN: return "u8_sign";
  case NNC_IL_BIN_SIGN: return "bin_sign";
  case NNC_IL_BIN_SCORE: return "bin_score";
  case NNC_IL_QLINEAR: return "qlinear";
  }
  return "?";
}

static nnc_ivalue in_kind(nnc_ilayer_type t) { return t == NNC_IL_U8_SIGN || t == NNC_IL_QLINEAR ? NNC_IV_U8 : NNC_IV_BITS; }
static nnc_ivalue out_kind(nnc_ilayer_type t) {
  switch (t) {
  case NNC_IL_U8_SIGN:
  case NNC_IL_BIN_SIGN: return NNC_IV_BITS;
  case NNC_IL_BIN_SCORE: return NNC_IV_F64;
  case NNC_IL_QLINEAR: return NNC_IV_U8;
  }
  return NNC_IV_U8;
}

/* ---- building ---- */
static void *dup_bytes(const void *p, size_t n) {
  if (!p) return NULL;
  void *q = nnc_xmalloc(n ? n : 1);
  memcpy(q, p, n);
  return q;
}

void nnc_imodel_init(nnc_imodel *m, nnc_imodel_kind kind, int64_t in, int64_t classes, const uint8_t lut[256],
                     const char *desc) {
  memset(m, 0, sizeof *m);
  m->kind = kind;
  m->in = in;
  m->classes = classes;
  if (lut) memcpy(m->lut, lut, 256);
  else
    for (int i = 0; i < 256; i++) m->lut[i] = (uint8_t)i;
  snprintf(m->desc, sizeof m->desc, "%s", desc ? desc : "");
}

static nnc_ilayer *add_layer(nnc_imodel *m, nnc_ilayer_type t, int64_t in, int64_t out, uint32_t flags) {
  NNC_CHECK(m->n < NNC_IMODEL_MAX_LAYERS, "imodel", "too many layers");
  NNC_CHECK(in >= 1 && out >= 1 && in <= NNC_IMODEL_MAX_DIM && out <= NNC_IMODEL_MAX_DIM, "imodel",
            "layer sizes in=%lld out=%lld", (long long)in, (long long)out);
  nnc_ilayer *l = realloc(m->layers, (size_t)(m->n + 1) * sizeof *l);
  NNC_CHECK(l, "imodel", "out of memory");
  m->layers = l;
  l = &m->layers[m->n++];
  memset(l, 0, sizeof *l);
  l->type = t;
  l->in = in;
  l->out = out;
  l->flags = flags;
  return l;
}

/* int8 +-1 weights from packed bits */
static int8_t *bits_to_pm1(int64_t out, int64_t in, const uint64_t *w) {
  int8_t *r = nnc_xmalloc((size_t)(out * in));
  int64_t kw = nnc_bits_words(in);
  for (int64_t n = 0; n < out; n++)
    for (int64_t k = 0; k < in; k++) r[n * in + k] = (w[n * kw + k / 64] >> (k % 64)) & 1 ? 1 : -1;
  return r;
}

void nnc_imodel_add_u8_sign(nnc_imodel *m, int64_t in, int64_t out, const int8_t *w8, const uint64_t *wbits,
                            const int32_t *tau, const int8_t *dir) {
  NNC_CHECK((w8 == NULL) != (wbits == NULL), "imodel", "u8_sign: give int8 or packed weights");
  nnc_ilayer *l = add_layer(m, NNC_IL_U8_SIGN, in, out, wbits ? NNC_IL_FLAG_PACKED : 0);
  if (wbits) {
    l->wbits = dup_bytes(wbits, (size_t)(out * nnc_bits_words(in)) * 8);
    l->w8 = bits_to_pm1(out, in, wbits);
  } else l->w8 = dup_bytes(w8, (size_t)(out * in));
  l->tau = dup_bytes(tau, (size_t)out * 4);
  l->dir = dup_bytes(dir, (size_t)out);
}

void nnc_imodel_add_bin_sign(nnc_imodel *m, int64_t in, int64_t out, const uint64_t *wbits, const int32_t *tau,
                             const int8_t *dir) {
  nnc_ilayer *l = add_layer(m, NNC_IL_BIN_SIGN, in, out, 0);
  l->wbits = dup_bytes(wbits, (size_t)(out * nnc_bits_words(in)) * 8);
  l->tau = dup_bytes(tau, (size_t)out * 4);
  l->dir = dup_bytes(dir, (size_t)out);
}

void nnc_imodel_add_bin_score(nnc_imodel *m, int64_t in, int64_t out, const int8_t *w8, const float *scale,
                              const float *bias) {
  nnc_ilayer *l = add_layer(m, NNC_IL_BIN_SCORE, in, out, 0);
  l->w8 = dup_bytes(w8, (size_t)(out * in));
  l->scale = dup_bytes(scale, (size_t)out * 4);
  l->bias = dup_bytes(bias, (size_t)out * 4);
}

void nnc_imodel_add_qlinear(nnc_imodel *m, const nnc_qlinear *q) {
  nnc_ilayer *l = add_layer(m, NNC_IL_QLINEAR, q->in, q->out, 0);
  l->q = *q;
  int64_t o = q->out;
  l->q.w = dup_bytes(q->w, (size_t)(o * q->in));
  l->q.bias = dup_bytes(q->bias, (size_t)o * 4);
  l->q.mult = dup_bytes(q->mult, (size_t)o * 4);
  l->q.shift = dup_bytes(q->shift, (size_t)o * 4);
  l->q.w_scale = dup_bytes(q->w_scale, (size_t)o * 4);
  l->q.wsum = nnc_xcalloc((size_t)o, 4);
  nnc_qrow_sums_s8(o, q->in, l->q.w, l->q.wsum);
  l->w8 = l->q.w;
}

void nnc_imodel_free(nnc_imodel *m) {
  for (int i = 0; i < m->n; i++) {
    nnc_ilayer *l = &m->layers[i];
    if (l->type == NNC_IL_QLINEAR) nnc_qlinear_free(&l->q); /* owns w8 */
    else free(l->w8);
    free(l->wbits);
    free(l->tau);
    free(l->dir);
    free(l->scale);
    free(l->bias);
    free(l->qadd);
    if (l->qw.w) nnc_q8_weights_free(&l->qw);
    if (l->bl.w) nnc_bin_linear_free(&l->bl);
  }
  free(m->layers);
  memset(m, 0, sizeof *m);
}

/* ---- validation (shared by prepare and the reader) ---- */
__attribute__((format(printf, 4, 5))) static nnc_status bad(const char *name, int i, const char *type, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return nnc_error(NNC_ERR_FORMAT, "%s: layer %d (%s): %s", name, i, type, msg);
}

static nnc_status check_layer(const nnc_imodel *m, int i, const char *name) {
  const nnc_ilayer *l = &m->layers[i];
  const int64_t in = l->in, out = l->out;
  if (i == 0 && in_kind(l->type) != NNC_IV_U8) return bad(name, i, nnc_ilayer_type_name(l->type), "the first layer must read uint8 codes");
  if (i == 0 && in != m->in) return bad(name, i, nnc_ilayer_type_name(l->type), "has %lld inputs, the model %lld", (long long)in, (long long)m->in);
  if (i > 0) {
    const nnc_ilayer *p = &m->layers[i - 1];
    if (out_kind(p->type) != in_kind(l->type))
      return bad(name, i, nnc_ilayer_type_name(l->type), "cannot read the output of a %s layer", nnc_ilayer_type_name(p->type));
    if (p->out != in) return bad(name, i, nnc_ilayer_type_name(l->type), "has %lld inputs, the previous layer %lld outputs", (long long)in, (long long)p->out);
  }
  if (i == m->n - 1) {
    if (out_kind(l->type) == NNC_IV_BITS) return bad(name, i, nnc_ilayer_type_name(l->type), "the last layer must give codes or scores");
    if (out != m->classes) return bad(name, i, nnc_ilayer_type_name(l->type), "has %lld outputs, the model %lld classes", (long long)out, (long long)m->classes);
  }
  switch (l->type) {
  case NNC_IL_U8_SIGN:
  case NNC_IL_BIN_SIGN:
    if (l->type == NNC_IL_U8_SIGN && in * 255 * 128 >= INT32_MAX)
      return bad(name, i, nnc_ilayer_type_name(l->type), "%lld inputs overflow the int32 accumulator", (long long)in);
    for (int64_t n = 0; n < out; n++)
      if (l->dir[n] != 1 && l->dir[n] != -1) return bad(name, i, nnc_ilayer_type_name(l->type), "direction %d of output %lld is not +-1", l->dir[n], (long long)n);
    if (l->wbits && !nnc_bits_padding_clear(out, in, l->wbits))
      return bad(name, i, nnc_ilayer_type_name(l->type), "padding bits of the packed weights are not 0");
    break;
  case NNC_IL_BIN_SCORE:
    for (int64_t n = 0; n < out; n++)
      if (!isfinite(l->scale[n]) || !isfinite(l->bias[n])) return bad(name, i, "bin_score", "scale or bias of output %lld is not finite", (long long)n);
    break;
  case NNC_IL_QLINEAR: {
    const nnc_qlinear *q = &l->q;
    if (!(isfinite(q->in_scale) && q->in_scale > 0 && isfinite(q->out_scale) && q->out_scale > 0))
      return bad(name, i, "qlinear", "scales in %g out %g must be finite and positive", (double)q->in_scale, (double)q->out_scale);
    if (q->in_zero < 0 || q->in_zero > 255 || q->out_zero < 0 || q->out_zero > 255 || q->out_min < 0 ||
        q->out_min > q->out_max || q->out_max > 255 || q->in_max < 1 || q->in_max > 255)
      return bad(name, i, "qlinear", "zero points %d/%d, clamp [%d, %d], input max %d outside 0..255", (int)q->in_zero,
                 (int)q->out_zero, (int)q->out_min, (int)q->out_max, (int)q->in_max);
    int64_t bound = in * 255 * 128 + (int64_t)q->in_zero * in * 128;
    for (int64_t n = 0; n < out; n++) {
      if (q->mult[n] < 0 || q->shift[n] < -31 || q->shift[n] > 30)
        return bad(name, i, "qlinear", "multiplier %d shift %d of output %lld out of range", (int)q->mult[n], (int)q->shift[n], (long long)n);
      if (!isfinite(q->w_scale[n])) return bad(name, i, "qlinear", "weight scale of output %lld is not finite", (long long)n);
      if (bound + llabs((long long)q->bias[n]) >= INT32_MAX)
        return bad(name, i, "qlinear", "the int32 accumulator of output %lld may overflow", (long long)n);
    }
    if (i > 0 && m->layers[i - 1].type == NNC_IL_QLINEAR) {
      const nnc_qlinear *p = &m->layers[i - 1].q;
      if (p->out_zero != q->in_zero || p->out_scale != q->in_scale || p->out_max > q->in_max)
        return bad(name, i, "qlinear", "its input (scale %g, zero %d) is not the previous output (scale %g, zero %d)",
                   (double)q->in_scale, (int)q->in_zero, (double)p->out_scale, (int)p->out_zero);
    }
    if (i == 0)
      for (int v = 0; v < 256; v++)
        if (m->lut[v] > q->in_max) return bad(name, i, "qlinear", "input table code %d above the input max %d", m->lut[v], (int)q->in_max);
    break;
  }
  default: return nnc_error(NNC_ERR_FORMAT, "%s: layer %d has unknown type %d", name, i, (int)l->type);
  }
  return NNC_OK;
}

static nnc_status check_model(const nnc_imodel *m, const char *name) {
  if (m->kind != NNC_IMODEL_BINARY && m->kind != NNC_IMODEL_INT8) return nnc_error(NNC_ERR_FORMAT, "%s: unknown model kind %d", name, (int)m->kind);
  if (m->in < 1 || m->in > NNC_IMODEL_MAX_DIM || m->classes < 1 || m->classes > NNC_IMODEL_MAX_DIM)
    return nnc_error(NNC_ERR_FORMAT, "%s: %lld inputs, %lld classes", name, (long long)m->in, (long long)m->classes);
  if (m->n < 1 || m->n > NNC_IMODEL_MAX_LAYERS) return nnc_error(NNC_ERR_FORMAT, "%s: %d layers (1..%d)", name, m->n, NNC_IMODEL_MAX_LAYERS);
  for (int i = 0; i < m->n; i++) {
    nnc_status st = check_layer(m, i, name);
    if (st) return st;
  }
  return NNC_OK;
}

nnc_status nnc_imodel_prepare(nnc_imodel *m) {
  nnc_status st = check_model(m, "model");
  if (st) return nnc_error(NNC_ERR_ARG, "%s", nnc_last_error());
  for (int i = 0; i < m->n; i++) {
    nnc_ilayer *l = &m->layers[i];
    switch (l->type) {
    case NNC_IL_BIN_SIGN:
      nnc_bin_linear_init(&l->bl, l->in, l->out, l->wbits);
      nnc_bin_linear_set_thresholds(&l->bl, l->tau, l->dir);
      break;
    case NNC_IL_QLINEAR:
      nnc_q8_weights_init(&l->qw, l->in, l->out, l->w8);
      l->qadd = nnc_xmalloc((size_t)l->out * sizeof *l->qadd);
      for (int64_t n = 0; n < l->out; n++) l->qadd[n] = l->q.bias[n] - l->q.in_zero * l->q.wsum[n];
      break;
    default: nnc_q8_weights_init(&l->qw, l->in, l->out, l->w8); break;
    }
  }
  return NNC_OK;
}

size_t nnc_imodel_param_bytes(const nnc_imodel *m) {
  size_t b = 256;
  for (int i = 0; i < m->n; i++) {
    const nnc_ilayer *l = &m->layers[i];
    size_t o = (size_t)l->out, in = (size_t)l->in;
    switch (l->type) {
    case NNC_IL_U8_SIGN: b += (l->flags & NNC_IL_FLAG_PACKED ? o * (size_t)nnc_bits_words(l->in) * 8 : o * in) + o * 5; break;
    case NNC_IL_BIN_SIGN: b += o * (size_t)nnc_bits_words(l->in) * 8 + o * 5; break;
    case NNC_IL_BIN_SCORE: b += o * in + o * 8; break;
    case NNC_IL_QLINEAR: b += o * in + o * 16; break;
    }
  }
  return b;
}

/* ---- the file ---- */
typedef struct {
  uint8_t *p;
  size_t n, cap;
} wbuf;

static void put(wbuf *b, const void *src, size_t n) {
  if (b->n + n > b->cap) {
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->n + n) cap *= 2;
    b->p = realloc(b->p, cap);
    NNC_CHECK(b->p, "imodel", "out of memory");
    b->cap = cap;
  }
  memcpy(b->p + b->n, src, n);
  b->n += n;
}
static void put_u32(wbuf *b, uint32_t v) {
  uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
  put(b, x, 4);
}
static void put_u64(wbuf *b, uint64_t v) {
  put_u32(b, (uint32_t)v);
  put_u32(b, (uint32_t)(v >> 32));
}
static void put_i32s(wbuf *b, const int32_t *v, int64_t n) {
  for (int64_t i = 0; i < n; i++) put_u32(b, (uint32_t)v[i]);
}
static void put_f32s(wbuf *b, const float *v, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    uint32_t u;
    memcpy(&u, &v[i], 4);
    put_u32(b, u);
  }
}
static void put_u64s(wbuf *b, const uint64_t *v, int64_t n) {
  for (int64_t i = 0; i < n; i++) put_u64(b, v[i]);
}

/* payload bytes of a layer, or 0 on overflow (sizes are <= 2^20 each, so no overflow) */
static uint64_t payload_bytes(nnc_ilayer_type t, uint64_t in, uint64_t out, uint32_t flags) {
  uint64_t words = (in + 63) / 64;
  switch (t) {
  case NNC_IL_U8_SIGN: return (flags & NNC_IL_FLAG_PACKED ? out * words * 8 : out * in) + out * 4 + out;
  case NNC_IL_BIN_SIGN: return out * words * 8 + out * 4 + out;
  case NNC_IL_BIN_SCORE: return out * in + out * 8;
  case NNC_IL_QLINEAR: return out * in + out * 16 + 28;
  }
  return 0;
}

nnc_status nnc_imodel_serialize(const nnc_imodel *m, uint8_t **bytes, size_t *n) {
  nnc_status st = check_model(m, "model");
  if (st) return nnc_error(NNC_ERR_ARG, "%s", nnc_last_error());
  wbuf b = {0};
  size_t dl = strlen(m->desc);
  put(&b, NNC_IMODEL_MAGIC, 4);
  put_u32(&b, NNC_IMODEL_VERSION);
  put_u32(&b, (uint32_t)m->kind);
  put_u32(&b, (uint32_t)m->n);
  put_u32(&b, (uint32_t)m->in);
  put_u32(&b, (uint32_t)m->classes);
  put_u32(&b, (uint32_t)dl);
  put_u64(&b, 0); /* file size, patched below */
  put(&b, m->desc, dl);
  put(&b, m->lut, 256);
  for (int i = 0; i < m->n; i++) {
    const nnc_ilayer *l = &m->layers[i];
    int64_t in = l->in, out = l->out, kw = nnc_bits_words(in);
    put_u32(&b, (uint32_t)l->type);
    put_u32(&b, (uint32_t)in);
    put_u32(&b, (uint32_t)out);
    put_u32(&b, l->flags);
    put_u64(&b, payload_bytes(l->type, (uint64_t)in, (uint64_t)out, l->flags));
    size_t start = b.n;
    switch (l->type) {
    case NNC_IL_U8_SIGN:
    case NNC_IL_BIN_SIGN:
      if (l->wbits) put_u64s(&b, l->wbits, out * kw);
      else put(&b, l->w8, (size_t)(out * in));
      put_i32s(&b, l->tau, out);
      put(&b, l->dir, (size_t)out);
      break;
    case NNC_IL_BIN_SCORE:
      put(&b, l->w8, (size_t)(out * in));
      put_f32s(&b, l->scale, out);
      put_f32s(&b, l->bias, out);
      break;
    case NNC_IL_QLINEAR: {
      const nnc_qlinear *q = &l->q;
      put(&b, q->w, (size_t)(out * in));
      put_i32s(&b, q->bias, out);
      put_i32s(&b, q->mult, out);
      put_i32s(&b, q->shift, out);
      put_f32s(&b, q->w_scale, out);
      put_f32s(&b, &q->in_scale, 1);
      put_f32s(&b, &q->out_scale, 1);
      int32_t s[5] = {q->in_zero, q->out_zero, q->out_min, q->out_max, q->in_max};
      put_i32s(&b, s, 5);
      break;
    }
    }
    NNC_CHECK(b.n - start == payload_bytes(l->type, (uint64_t)in, (uint64_t)out, l->flags), "imodel", "payload size");
  }
  uint64_t total = b.n + 4;
  for (int k = 0; k < 8; k++) b.p[28 + k] = (uint8_t)(total >> (8 * k));
  put_u32(&b, (uint32_t)crc32(0L, b.p, (uInt)b.n));
  *bytes = b.p;
  *n = b.n;
  return NNC_OK;
}

nnc_status nnc_imodel_save(const nnc_imodel *m, const char *path) {
  uint8_t *bytes;
  size_t n;
  nnc_status st = nnc_imodel_serialize(m, &bytes, &n);
  if (st) return st;
  st = nnc_write_file_atomic(path, bytes, n);
  free(bytes);
  return st;
}

/* ---- reader ---- */
typedef struct {
  const uint8_t *p;
  size_t n, pos;
  const char *name;
} rbuf;

static bool take(rbuf *r, size_t n, const char *what) {
  if (n > r->n - r->pos) {
    nnc_error(NNC_ERR_FORMAT, "%s: truncated: %s needs %zu bytes at offset %zu, %zu left", r->name, what, n, r->pos,
              r->n - r->pos);
    return false;
  }
  return true;
}
static uint32_t get_u32(rbuf *r) {
  const uint8_t *p = r->p + r->pos;
  r->pos += 4;
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t get_u64(rbuf *r) {
  uint64_t lo = get_u32(r);
  return lo | (uint64_t)get_u32(r) << 32;
}

nnc_status nnc_imodel_parse(const uint8_t *bytes, size_t n, const char *name, nnc_imodel *m) {
  memset(m, 0, sizeof *m);
  rbuf r = {bytes, n, 0, name};
  if (n < 36 + 256 + 4 || memcmp(bytes, NNC_IMODEL_MAGIC, 4) != 0) {
    if (n >= 4 && memcmp(bytes, NNC_IMODEL_MAGIC, 4) == 0)
      return nnc_error(NNC_ERR_FORMAT, "%s: truncated: %zu bytes", name, n);
    return nnc_error(NNC_ERR_FORMAT, "%s: not an nnc inference model (bad magic)", name);
  }
  r.pos = 4;
  uint32_t version = get_u32(&r), kind = get_u32(&r), nl = get_u32(&r), in = get_u32(&r), classes = get_u32(&r);
  uint32_t dl = get_u32(&r);
  uint64_t size = get_u64(&r);
  if (version != NNC_IMODEL_VERSION) return nnc_error(NNC_ERR_FORMAT, "%s: version %u (this reader knows %d)", name, version, NNC_IMODEL_VERSION);
  if (size != n) return nnc_error(NNC_ERR_FORMAT, "%s: the header says %llu bytes, the file has %zu", name, (unsigned long long)size, n);
  uint32_t crc_file = (uint32_t)bytes[n - 4] | (uint32_t)bytes[n - 3] << 8 | (uint32_t)bytes[n - 2] << 16 | (uint32_t)bytes[n - 1] << 24;
  uint32_t crc = (uint32_t)crc32(0L, bytes, (uInt)(n - 4));
  if (crc != crc_file) return nnc_error(NNC_ERR_FORMAT, "%s: checksum mismatch (file %08x, content %08x)", name, crc_file, crc);
  r.n = n - 4; /* the layers end where the CRC begins */
  if (kind != NNC_IMODEL_BINARY && kind != NNC_IMODEL_INT8) return nnc_error(NNC_ERR_FORMAT, "%s: unknown model kind %u", name, kind);
  if (nl < 1 || nl > NNC_IMODEL_MAX_LAYERS) return nnc_error(NNC_ERR_FORMAT, "%s: %u layers (1..%d)", name, nl, NNC_IMODEL_MAX_LAYERS);
  if (in < 1 || in > NNC_IMODEL_MAX_DIM || classes < 1 || classes > NNC_IMODEL_MAX_DIM)
    return nnc_error(NNC_ERR_FORMAT, "%s: %u inputs, %u classes (1..%d)", name, in, classes, NNC_IMODEL_MAX_DIM);
  if (dl > NNC_IMODEL_MAX_DESC) return nnc_error(NNC_ERR_FORMAT, "%s: description of %u bytes (at most %d)", name, dl, NNC_IMODEL_MAX_DESC);
  if (!take(&r, dl, "the description")) return NNC_ERR_FORMAT;
  for (uint32_t i = 0; i < dl; i++)
    if (bytes[r.pos + i] < 32 || bytes[r.pos + i] > 126) return nnc_error(NNC_ERR_FORMAT, "%s: the description is not printable ASCII", name);
  char desc[NNC_IMODEL_MAX_DESC + 1];
  memcpy(desc, bytes + r.pos, dl);
  desc[dl] = 0;
  r.pos += dl;
  if (!take(&r, 256, "the input table")) return NNC_ERR_FORMAT;
  nnc_imodel_init(m, (nnc_imodel_kind)kind, in, classes, bytes + r.pos, desc);
  r.pos += 256;
  nnc_status st = NNC_OK;
  for (uint32_t i = 0; i < nl && !st; i++) {
    if (!take(&r, 24, "a layer header")) {
      st = NNC_ERR_FORMAT;
      break;
    }
    uint32_t type = get_u32(&r), lin = get_u32(&r), lout = get_u32(&r), flags = get_u32(&r);
    uint64_t pb = get_u64(&r);
    if (type < NNC_IL_U8_SIGN || type > NNC_IL_QLINEAR) {
      st = nnc_error(NNC_ERR_FORMAT, "%s: layer %u has unknown type %u", name, i, type);
      break;
    }
    if (lin < 1 || lin > NNC_IMODEL_MAX_DIM || lout < 1 || lout > NNC_IMODEL_MAX_DIM) {
      st = nnc_error(NNC_ERR_FORMAT, "%s: layer %u: sizes in %u out %u (1..%d)", name, i, lin, lout, NNC_IMODEL_MAX_DIM);
      break;
    }
    if (flags & ~(type == NNC_IL_U8_SIGN ? NNC_IL_FLAG_PACKED : 0u)) {
      st = nnc_error(NNC_ERR_FORMAT, "%s: layer %u: unknown flags %#x", name, i, flags);
      break;
    }
    uint64_t want = payload_bytes((nnc_ilayer_type)type, lin, lout, flags);
    if (pb != want) {
      st = nnc_error(NNC_ERR_FORMAT, "%s: layer %u (%s, %u -> %u) says %llu payload bytes, its sizes need %llu", name, i,
                     nnc_ilayer_type_name((nnc_ilayer_type)type), lin, lout, (unsigned long long)pb, (unsigned long long)want);
      break;
    }
    if (!take(&r, (size_t)pb, "a layer's parameters")) {
      st = NNC_ERR_FORMAT;
      break;
    }
    /* the sizes are checked against the bytes present: now allocate and read */
    const uint8_t *p = bytes + r.pos;
    int64_t o = lout, K = lin, kw = nnc_bits_words(K);
#define RD_U32(i) ((uint32_t)p[4 * (i)] | (uint32_t)p[4 * (i) + 1] << 8 | (uint32_t)p[4 * (i) + 2] << 16 | (uint32_t)p[4 * (i) + 3] << 24)
    if (type == NNC_IL_U8_SIGN || type == NNC_IL_BIN_SIGN) {
      bool packed = type == NNC_IL_BIN_SIGN || (flags & NNC_IL_FLAG_PACKED);
      uint64_t *wb = NULL;
      if (packed) {
        wb = nnc_xmalloc((size_t)(o * kw) * 8);
        for (int64_t j = 0; j < o * kw; j++) wb[j] = (uint64_t)RD_U32(2 * j) | (uint64_t)RD_U32(2 * j + 1) << 32;
        p += o * kw * 8;
      }
      int32_t *tau = nnc_xmalloc((size_t)o * 4);
      const uint8_t *pt = p + (packed ? 0 : o * K);
      for (int64_t j = 0; j < o; j++) {
        const uint8_t *q = pt + 4 * j;
        tau[j] = (int32_t)((uint32_t)q[0] | (uint32_t)q[1] << 8 | (uint32_t)q[2] << 16 | (uint32_t)q[3] << 24);
      }
      const int8_t *dir = (const int8_t *)(pt + 4 * o);
      if (packed && !nnc_bits_padding_clear(o, K, wb))
        st = nnc_error(NNC_ERR_FORMAT, "%s: layer %u: padding bits of the packed weights are not 0", name, i);
      else if (type == NNC_IL_BIN_SIGN) nnc_imodel_add_bin_sign(m, K, o, wb, tau, dir);
      else nnc_imodel_add_u8_sign(m, K, o, packed ? NULL : (const int8_t *)p, wb, tau, dir);
      free(wb);
      free(tau);
    } else if (type == NNC_IL_BIN_SCORE) {
      float *sc = nnc_xmalloc((size_t)o * 4), *bi = nnc_xmalloc((size_t)o * 4);
      const uint8_t *w8 = p;
      p += o * K;
      for (int64_t j = 0; j < o; j++) {
        uint32_t a = RD_U32(j), b = RD_U32(o + j);
        memcpy(&sc[j], &a, 4);
        memcpy(&bi[j], &b, 4);
      }
      nnc_imodel_add_bin_score(m, K, o, (const int8_t *)w8, sc, bi);
      free(sc);
      free(bi);
    } else {
      nnc_qlinear q;
      nnc_qlinear_alloc(&q, K, o);
      memcpy(q.w, p, (size_t)(o * K));
      p += o * K;
      for (int64_t j = 0; j < o; j++) {
        q.bias[j] = (int32_t)RD_U32(j);
        q.mult[j] = (int32_t)RD_U32(o + j);
        q.shift[j] = (int32_t)RD_U32(2 * o + j);
        uint32_t u = RD_U32(3 * o + j);
        memcpy(&q.w_scale[j], &u, 4);
      }
      p += 16 * o;
      uint32_t u0 = RD_U32(0), u1 = RD_U32(1);
      memcpy(&q.in_scale, &u0, 4);
      memcpy(&q.out_scale, &u1, 4);
      q.in_zero = (int32_t)RD_U32(2);
      q.out_zero = (int32_t)RD_U32(3);
      q.out_min = (int32_t)RD_U32(4);
      q.out_max = (int32_t)RD_U32(5);
      q.in_max = (int32_t)RD_U32(6);
      nnc_imodel_add_qlinear(m, &q);
      nnc_qlinear_free(&q);
    }
#undef RD_U32
    r.pos += (size_t)pb;
  }
  if (!st && r.pos != r.n) st = nnc_error(NNC_ERR_FORMAT, "%s: %zu bytes after the last layer", name, r.n - r.pos);
  if (!st && m->n != (int)nl) st = nnc_error(NNC_ERR_FORMAT, "%s: %d of %u layers read", name, m->n, nl);
  if (!st) st = check_model(m, name);
  if (!st) {
    st = nnc_imodel_prepare(m);
    if (st) st = NNC_ERR_FORMAT;
  }
  if (st) nnc_imodel_free(m);
  return st;
}

nnc_status nnc_imodel_load(const char *path, nnc_imodel *m) {
  memset(m, 0, sizeof *m);
  uint8_t *bytes;
  size_t n;
  nnc_status st = nnc_read_file(path, &bytes, &n);
  if (st) return st;
  st = nnc_imodel_parse(bytes, n, path, m);
  free(bytes);
  return st;
}

/* ---- forward ---- */
#define CHUNK 64

typedef struct {
  uint8_t *b[2];   /* ping-pong value buffers */
  int32_t *acc;
  uint8_t *unpack;
} scratch;

static size_t value_bytes(nnc_ivalue k, int64_t n) {
  return k == NNC_IV_U8 ? (size_t)n : k == NNC_IV_BITS ? (size_t)nnc_bits_words(n) * 8 : (size_t)n * 8;
}

static void forward_chunk(const nnc_imodel *m, int64_t row0, int64_t mb, const uint8_t *x, int64_t *pred,
                          double *scores, void **hidden, scratch *s) {
  uint8_t *cur = s->b[0];
  for (int64_t i = 0; i < mb * m->in; i++) cur[i] = m->lut[x[i]];
  for (int li = 0; li < m->n; li++) {
    const nnc_ilayer *l = &m->layers[li];
    const int64_t in = l->in, out = l->out;
    uint8_t *dst = s->b[(li + 1) & 1];
    switch (l->type) {
    case NNC_IL_U8_SIGN: {
      nnc_q8_gemm_u8s8(&l->qw, mb, cur, in, s->acc, out);
      int64_t ow = nnc_bits_words(out);
      uint64_t *o = (uint64_t *)dst;
      for (int64_t r = 0; r < mb; r++) {
        const int32_t *a = s->acc + r * out;
        for (int64_t w = 0; w < ow; w++) {
          uint64_t v = 0;
          int64_t n0 = w * 64, n1 = n0 + 64 < out ? n0 + 64 : out;
          for (int64_t n = n0; n < n1; n++) {
            bool bit = l->dir[n] > 0 ? a[n] >= l->tau[n] : a[n] <= l->tau[n];
            v |= (uint64_t)bit << (n - n0);
          }
          o[r * ow + w] = v;
        }
      }
      break;
    }
    case NNC_IL_BIN_SIGN: nnc_bin_linear_bits(&l->bl, mb, (const uint64_t *)cur, (uint64_t *)dst); break;
    case NNC_IL_BIN_SCORE: {
      nnc_unpack_bits_u8(mb, in, (const uint64_t *)cur, s->unpack);
      nnc_q8_gemm_u8s8(&l->qw, mb, s->unpack, in, s->acc, out);
      double *o = (double *)dst;
      for (int64_t r = 0; r < mb; r++)
        for (int64_t n = 0; n < out; n++) {
          int32_t acc = 2 * s->acc[r * out + n] - l->qw.wsum[n]; /* sum w x with x = 2 bit - 1 */
          double t = (double)acc * (double)l->scale[n];
          o[r * out + n] = t + (double)l->bias[n];
        }
      break;
    }
    case NNC_IL_QLINEAR:
      nnc_q8_gemm_u8s8(&l->qw, mb, cur, in, s->acc, out);
      nnc_q8_requant(mb, out, s->acc, l->qadd, l->q.mult, l->q.shift, l->q.out_zero, l->q.out_min, l->q.out_max, dst);
      break;
    }
    if (hidden && hidden[li]) {
      size_t rb = value_bytes(out_kind(l->type), out);
      memcpy((uint8_t *)hidden[li] + (size_t)row0 * rb, dst, (size_t)mb * rb);
    }
    cur = dst;
  }
  const nnc_ilayer *last = &m->layers[m->n - 1];
  const int64_t C = m->classes;
  for (int64_t r = 0; r < mb; r++) {
    int64_t best = 0;
    double bv = 0;
    for (int64_t c = 0; c < C; c++) {
      double v = out_kind(last->type) == NNC_IV_U8 ? (double)cur[r * C + c] : ((double *)cur)[r * C + c];
      if (c == 0 || v > bv) best = c, bv = v;
      if (scores) scores[(row0 + r) * C + c] = v;
    }
    if (pred) pred[row0 + r] = best;
  }
}

void nnc_imodel_forward(const nnc_imodel *m, int64_t batch, const uint8_t *x, int64_t *pred, double *scores,
                        void **hidden) {
  NNC_CHECK(m->n > 0 && (m->layers[0].qw.w || m->layers[0].bl.w), "imodel", "model not prepared");
  size_t vb = (size_t)m->in, ab = 0, ub = 0;
  for (int i = 0; i < m->n; i++) {
    const nnc_ilayer *l = &m->layers[i];
    size_t o = value_bytes(out_kind(l->type), l->out);
    if (o > vb) vb = o;
    if ((size_t)l->out > ab) ab = (size_t)l->out;
    if (l->type == NNC_IL_BIN_SCORE && (size_t)l->in > ub) ub = (size_t)l->in;
  }
  int64_t nchunks = (batch + CHUNK - 1) / CHUNK;
  int nt = nnc_get_threads();
  if (nt > nchunks) nt = (int)(nchunks > 0 ? nchunks : 1);
#pragma omp parallel num_threads(nt) if (nt > 1)
  {
    scratch s;
    for (int k = 0; k < 2; k++) s.b[k] = aligned_alloc(64, (vb * CHUNK + 63) / 64 * 64);
    s.acc = nnc_xmalloc(ab * CHUNK * sizeof *s.acc);
    s.unpack = nnc_xmalloc(ub * CHUNK + 1);
    NNC_CHECK(s.b[0] && s.b[1], "imodel", "out of memory");
#pragma omp for schedule(dynamic, 1)
    for (int64_t c = 0; c < nchunks; c++) {
      int64_t r0 = c * CHUNK, mb = batch - r0 < CHUNK ? batch - r0 : CHUNK;
      forward_chunk(m, r0, mb, x + r0 * m->in, pred, scores, hidden, &s);
    }
    free(s.b[0]);
    free(s.b[1]);
    free(s.acc);
    free(s.unpack);
  }
}
