/* nn/posenc.c: sinusoidal, learned and rotary positional encodings (see posenc.h). */
#include <math.h>
#include <string.h>
#include "core/error.h"
#include "nn/init.h"
#include "nn/posenc.h"
#include "ops/ops.h"

static void fill_sinusoidal(double *pe, int64_t T, int64_t d, double base) {
  for (int64_t t = 0; t < T; t++)
    for (int64_t j = 0; j < d; j++) {
      double angle = (double)t / pow(base, (double)(j - j % 2) / (double)d);
      pe[t * d + j] = j % 2 ? cos(angle) : sin(angle);
    }
}

nnc_tensor *nnc_sinusoidal_table(nnc_dtype dt, int64_t T, int64_t d, double base) {
  NNC_CHECK(nnc_dtype_is_float(dt) && T >= 0 && d > 0, "sinusoidal", "dtype %s, T %lld, d %lld", nnc_dtype_name(dt),
            (long long)T, (long long)d);
  nnc_tensor *pe = nnc_empty(NNC_F64, NNC_SHAPE(T, d));
  fill_sinusoidal(nnc_f64(pe), T, d, base > 0 ? base : 10000.0);
  if (dt == NNC_F64) return pe;
  nnc_tensor *out = nnc_empty(dt, NNC_SHAPE(T, d));
  nnc_copy_into(out, pe);
  return out;
}

/* the first T positions of a [rows, d] table as a tensor that broadcasts against x */
static int64_t seq_len(const nnc_tensor *x, int64_t dim, int64_t max_len, const char *op) {
  char s[96];
  NNC_CHECK(x->ndim >= 2 && x->shape[x->ndim - 1] == dim && x->shape[x->ndim - 2] <= max_len, op,
            "input %s: expected [..., T, %lld] with T <= %lld", nnc_shape_str(x, s, 96), (long long)dim,
            (long long)max_len);
  return x->shape[x->ndim - 2];
}

/* ---- sinusoidal ---- */
static nnc_tensor *sinusoidal_forward(nnc_module *m, nnc_tensor *x) {
  nnc_sinusoidal_mod *s = (nnc_sinusoidal_mod *)m;
  nnc_check_float(x, "Sinusoidal");
  int64_t T = seq_len(x, s->dim, s->max_len, "Sinusoidal");
  nnc_tensor *pe = nnc_wrap(NNC_F64, NNC_SHAPE(T, s->dim), s->table);
  if (x->dtype != NNC_F64) {
    nnc_tensor *c = nnc_empty(x->dtype, NNC_SHAPE(T, s->dim));
    nnc_copy_into(c, pe);
    pe = c;
  }
  return nnc_add(x, pe);
}

static void sinusoidal_describe(const nnc_module *m, char *buf, size_t size) {
  const nnc_sinusoidal_mod *s = (const nnc_sinusoidal_mod *)m;
  snprintf(buf, size, "max_len=%lld, dim=%lld, base=%g", (long long)s->max_len, (long long)s->dim, s->freq_base);
}

nnc_sinusoidal_mod *nnc_new_sinusoidal(int64_t max_len, int64_t dim, double base) {
  NNC_CHECK(max_len > 0 && dim > 0 && base >= 0, "Sinusoidal", "max_len %lld dim %lld base %g", (long long)max_len,
            (long long)dim, base);
  size_t head = (sizeof(nnc_sinusoidal_mod) + 63) / 64 * 64;
  nnc_sinusoidal_mod *s = nnc_module_alloc(head + (size_t)(max_len * dim) * sizeof(double), "SinusoidalPositionalEncoding",
                                           NULL, sinusoidal_forward, sinusoidal_describe);
  s->max_len = max_len;
  s->dim = dim;
  s->freq_base = base > 0 ? base : 10000.0;
  s->table = (double *)((char *)s + head);
  fill_sinusoidal(s->table, max_len, dim, s->freq_base);
  return s;
}

/* ---- learned ---- */
static nnc_tensor *learned_forward(nnc_module *m, nnc_tensor *x) {
  nnc_learned_pos_mod *l = (nnc_learned_pos_mod *)m;
  int64_t T = seq_len(x, l->dim, l->max_len, "LearnedPositionalEmbedding");
  return nnc_add(x, T == l->max_len ? l->weight : nnc_narrow(l->weight, 0, 0, T));
}

static void learned_describe(const nnc_module *m, char *buf, size_t size) {
  const nnc_learned_pos_mod *l = (const nnc_learned_pos_mod *)m;
  snprintf(buf, size, "%lld, %lld", (long long)l->max_len, (long long)l->dim);
}

nnc_learned_pos_mod *nnc_new_learned_pos(nnc_params *p, const char *name, int64_t max_len, int64_t dim, nnc_rng *r) {
  NNC_CHECK(max_len > 0 && dim > 0, "LearnedPositionalEmbedding", "max_len %lld dim %lld", (long long)max_len,
            (long long)dim);
  nnc_learned_pos_mod *l =
      nnc_module_alloc(sizeof *l, "LearnedPositionalEmbedding", name, learned_forward, learned_describe);
  l->max_len = max_len;
  l->dim = dim;
  l->weight = nnc_module_param(p, &l->base, "weight", NNC_SHAPE(max_len, dim));
  nnc_init_normal(l->weight, 0, 1, r);
  return l;
}

/* ---- rotary ---- */
void nnc_rope_tables(nnc_dtype dt, int64_t T, int64_t D, int64_t offset, double base, nnc_tensor **cos_t,
                     nnc_tensor **sin_t) {
  NNC_CHECK(nnc_dtype_is_float(dt) && T >= 0 && D > 0 && D % 2 == 0 && offset >= 0, "rope",
            "dtype %s, T %lld, D %lld (must be even), offset %lld", nnc_dtype_name(dt), (long long)T, (long long)D,
            (long long)offset);
  if (base <= 0) base = 10000.0;
  nnc_tensor *c = nnc_empty(dt, NNC_SHAPE(T, D)), *s = nnc_empty(dt, NNC_SHAPE(T, D));
  int64_t half = D / 2;
  for (int64_t t = 0; t < T; t++)
    for (int64_t i = 0; i < half; i++) {
      double angle = (double)(t + offset) * pow(base, -2.0 * (double)i / (double)D);
      double cv = cos(angle), sv = sin(angle);
      nnc_set(c, t * D + i, cv);
      nnc_set(c, t * D + i + half, cv);
      nnc_set(s, t * D + i, sv);
      nnc_set(s, t * D + i + half, sv);
    }
  *cos_t = c;
  *sin_t = s;
}

nnc_tensor *nnc_rope(nnc_tensor *x, int64_t offset, double base) {
  char s[96];
  nnc_check_float(x, "rope");
  NNC_CHECK(x->ndim >= 2 && x->shape[x->ndim - 1] % 2 == 0, "rope", "input %s: expected [..., T, D] with D even",
            nnc_shape_str(x, s, 96));
  int64_t T = x->shape[x->ndim - 2], D = x->shape[x->ndim - 1];
  nnc_tensor *ct, *st;
  nnc_rope_tables(x->dtype, T, D, offset, base, &ct, &st);
  nnc_tensor *halves[2] = {nnc_neg(nnc_narrow(x, -1, D / 2, D / 2)), nnc_narrow(x, -1, 0, D / 2)};
  nnc_tensor *rot = nnc_concat(2, halves, -1);
  return nnc_add(nnc_mul(x, ct), nnc_mul(rot, st));
}
