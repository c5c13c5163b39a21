/* quant/qint.c: integer-only reference arithmetic (see qint.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "core/error.h"
#include "quant/qint.h"
#include "quant/quant.h"

int32_t nnc_srdhm(int32_t a, int32_t b) {
  if (a == INT32_MIN && b == INT32_MIN) return INT32_MAX; /* the one product that overflows */
  int64_t ab = (int64_t)a * (int64_t)b;
  int64_t nudge = ab >= 0 ? (1 << 30) : (1 - (1 << 30));
  return (int32_t)((ab + nudge) / (INT64_C(1) << 31)); /* C division truncates towards zero */
}

int32_t nnc_rdbpot(int32_t x, int exponent) {
  NNC_CHECK(exponent >= 0 && exponent <= 31, "rdbpot", "exponent %d outside 0..31", exponent);
  const int64_t mask = (INT64_C(1) << exponent) - 1;
  const int64_t rem = (int64_t)x & mask;
  const int64_t threshold = (mask >> 1) + (x < 0);
  /* arithmetic shift: floor(x / 2^e), written so it does not depend on >> of a negative */
  int64_t q = ((int64_t)x - rem) / (INT64_C(1) << exponent);
  return (int32_t)(q + (rem > threshold));
}

void nnc_quantize_multiplier(double m, int32_t *mult, int *shift) {
  NNC_CHECK(isfinite(m) && m >= 0, "quantize_multiplier", "multiplier %g must be finite and >= 0", m);
  if (m == 0) {
    *mult = 0;
    *shift = 0;
    return;
  }
  int e;
  double q = frexp(m, &e); /* m = q * 2^e, q in [0.5, 1) */
  int64_t q_fixed = (int64_t)round(q * (double)(INT64_C(1) << 31));
  if (q_fixed == (INT64_C(1) << 31)) {
    q_fixed /= 2;
    e++;
  }
  NNC_CHECK(e <= 30, "quantize_multiplier", "multiplier %g is too large (2^%d)", m, e);
  if (e < -31) {
    e = 0;
    q_fixed = 0;
  }
  *mult = (int32_t)q_fixed;
  *shift = e;
}

int32_t nnc_multiply_by_quantized_multiplier(int32_t x, int32_t mult, int shift) {
  int left = shift > 0 ? shift : 0, right = shift > 0 ? 0 : -shift;
  int64_t xs = (int64_t)x * (INT64_C(1) << left);
  if (xs > INT32_MAX) xs = INT32_MAX;
  if (xs < INT32_MIN) xs = INT32_MIN;
  return nnc_rdbpot(nnc_srdhm((int32_t)xs, mult), right);
}

void nnc_qgemm_ref_s8(int64_t M, int64_t N, int64_t K, const int8_t *A, const int8_t *B, int32_t *C) {
  for (int64_t i = 0; i < M; i++)
    for (int64_t j = 0; j < N; j++) {
      int32_t s = 0;
      for (int64_t k = 0; k < K; k++) s += (int32_t)A[i * K + k] * (int32_t)B[j * K + k];
      C[i * N + j] = s;
    }
}

void nnc_qgemm_ref_u8s8(int64_t M, int64_t N, int64_t K, const uint8_t *A, const int8_t *B, int32_t *C) {
  for (int64_t i = 0; i < M; i++)
    for (int64_t j = 0; j < N; j++) {
      int32_t s = 0;
      for (int64_t k = 0; k < K; k++) s += (int32_t)A[i * K + k] * (int32_t)B[j * K + k];
      C[i * N + j] = s;
    }
}

void nnc_qrow_sums_s8(int64_t N, int64_t K, const int8_t *B, int32_t *sum) {
  for (int64_t j = 0; j < N; j++) {
    int32_t s = 0;
    for (int64_t k = 0; k < K; k++) s += B[j * K + k];
    sum[j] = s;
  }
}

void nnc_requantize_ref(int64_t M, int64_t N, const int32_t *acc, const int32_t *mult, const int32_t *shift,
                        bool per_channel, int32_t out_zero, int32_t out_min, int32_t out_max, uint8_t *out) {
  NNC_CHECK(0 <= out_min && out_min <= out_max && out_max <= 255, "requantize", "clamp [%d, %d] outside 0..255",
            (int)out_min, (int)out_max);
  for (int64_t i = 0; i < M; i++)
    for (int64_t j = 0; j < N; j++) {
      int64_t c = per_channel ? j : 0;
      int64_t v = (int64_t)out_zero + nnc_multiply_by_quantized_multiplier(acc[i * N + j], mult[c], (int)shift[c]);
      if (v < out_min) v = out_min;
      if (v > out_max) v = out_max;
      out[i * N + j] = (uint8_t)v;
    }
}

void nnc_qlinear_alloc(nnc_qlinear *L, int64_t in, int64_t out) {
  memset(L, 0, sizeof *L);
  L->in = in;
  L->out = out;
  L->w = nnc_xcalloc((size_t)(in * out), 1);
  L->bias = nnc_xcalloc((size_t)out, sizeof(int32_t));
  L->wsum = nnc_xcalloc((size_t)out, sizeof(int32_t));
  L->mult = nnc_xcalloc((size_t)out, sizeof(int32_t));
  L->shift = nnc_xcalloc((size_t)out, sizeof(int32_t));
  L->w_scale = nnc_xcalloc((size_t)out, sizeof(float));
  L->out_min = 0;
  L->out_max = 255;
  L->in_max = 255;
}

void nnc_qlinear_free(nnc_qlinear *L) {
  free(L->w);
  free(L->bias);
  free(L->wsum);
  free(L->mult);
  free(L->shift);
  free(L->w_scale);
  memset(L, 0, sizeof *L);
}

void nnc_qlinear_finish(nnc_qlinear *L) {
  NNC_CHECK(L->in_scale > 0 && L->out_scale > 0, "qlinear", "scales must be positive (in %g, out %g)",
            (double)L->in_scale, (double)L->out_scale);
  nnc_qrow_sums_s8(L->out, L->in, L->w, L->wsum);
  for (int64_t c = 0; c < L->out; c++) {
    int s;
    nnc_quantize_multiplier((double)L->w_scale[c] * (double)L->in_scale / (double)L->out_scale, &L->mult[c], &s);
    L->shift[c] = s;
  }
}

void nnc_qlinear_forward_ref(const nnc_qlinear *L, int64_t batch, const uint8_t *x, uint8_t *y, int32_t *acc) {
  /* exactness of the int32 accumulator: |sum| <= K * 255 * 128, plus the zero-point term and bias */
  int64_t bound = L->in * 255 * 128 + (int64_t)abs(L->in_zero) * L->in * 128;
  for (int64_t c = 0; c < L->out; c++) {
    int64_t b = L->bias[c] < 0 ? -(int64_t)L->bias[c] : L->bias[c];
    NNC_CHECK(bound + b < INT32_MAX, "qlinear", "int32 accumulator may overflow (in %lld, bias %lld)",
              (long long)L->in, (long long)b);
  }
  int32_t *a = acc ? acc : nnc_xmalloc((size_t)(batch * L->out) * sizeof *a);
  nnc_qgemm_ref_u8s8(batch, L->out, L->in, x, L->w, a);
  for (int64_t i = 0; i < batch; i++)
    for (int64_t c = 0; c < L->out; c++) a[i * L->out + c] += L->bias[c] - L->in_zero * L->wsum[c];
  nnc_requantize_ref(batch, L->out, a, L->mult, L->shift, true, L->out_zero, L->out_min, L->out_max, y);
  if (!acc) free(a);
}

void nnc_qmlp_free(nnc_qmlp *m) {
  for (int l = 0; l < m->n; l++) nnc_qlinear_free(&m->layers[l]);
  free(m->layers);
  m->layers = NULL;
  m->n = 0;
}

void nnc_qmlp_quantize_input(const nnc_qmlp *m, int64_t batch, const float *x, uint8_t *xq) {
  NNC_CHECK(m->n > 0, "qmlp", "no layers");
  const nnc_qlinear *L = &m->layers[0];
  for (int64_t i = 0; i < batch * L->in; i++) xq[i] = (uint8_t)nnc_quantize_f32(x[i], L->in_scale, L->in_zero, 0, L->in_max);
}

void nnc_qmlp_forward_ref(const nnc_qmlp *m, int64_t batch, const uint8_t *xq, uint8_t *out, uint8_t **codes) {
  NNC_CHECK(m->n > 0, "qmlp", "no layers");
  const uint8_t *cur = xq;
  uint8_t *bufs[2] = {NULL, NULL};
  for (int l = 0; l < m->n; l++) {
    const nnc_qlinear *L = &m->layers[l];
    if (l > 0) {
      const nnc_qlinear *P = &m->layers[l - 1];
      NNC_CHECK(P->out == L->in && P->out_scale == L->in_scale && P->out_zero == L->in_zero && P->out_max <= L->in_max, "qmlp",
                "layer %d's output (%lld, scale %g, zero %d) is not layer %d's input (%lld, scale %g, zero %d)", l - 1,
                (long long)P->out, (double)P->out_scale, (int)P->out_zero, l, (long long)L->in, (double)L->in_scale,
                (int)L->in_zero);
    }
    uint8_t *dst;
    if (l == m->n - 1) dst = out;
    else if (codes && codes[l]) dst = codes[l];
    else {
      free(bufs[l & 1]);
      dst = bufs[l & 1] = nnc_xmalloc((size_t)(batch * L->out));
    }
    nnc_qlinear_forward_ref(L, batch, cur, dst, NULL);
    if (codes && codes[l] && codes[l] != dst) memcpy(codes[l], dst, (size_t)(batch * L->out));
    cur = dst;
  }
  free(bufs[0]);
  free(bufs[1]);
}
