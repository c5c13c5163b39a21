/* infer/qgemm.c: int8 GEMM (u8 x s8 -> s32) with AVX-512 VNNI and a portable fallback, and
 * the TFLite requantisation, vectorised with AVX-512F. */
#include <immintrin.h>
#include <stdlib.h>
#include <string.h>
#include "core/error.h"
#include "infer/kernels.h"

static bool use_vnni(void) {
  static int have = -1;
  if (have < 0) have = nnc_infer_have_vnni();
  return have && !nnc_infer_portable_forced();
}

const char *nnc_infer_q8_isa(void) { return use_vnni() ? "avx512-vnni" : "portable"; }

void nnc_q8_weights_init(nnc_q8_weights *W, int64_t in, int64_t out, const int8_t *w) {
  NNC_CHECK(in > 0 && out > 0, "q8_weights", "sizes in=%lld out=%lld", (long long)in, (long long)out);
  memset(W, 0, sizeof *W);
  W->in = in;
  W->out = out;
  W->k4 = (in + 3) / 4;
  W->npad = (out + 63) / 64 * 64;
  W->w = nnc_xmalloc((size_t)(in * out));
  memcpy(W->w, w, (size_t)(in * out));
  size_t bytes = (size_t)(W->npad * W->k4 * 4);
  W->wp = aligned_alloc(64, bytes);
  NNC_CHECK(W->wp, "q8_weights", "out of memory");
  memset(W->wp, 0, bytes);
  for (int64_t n = 0; n < out; n++)
    for (int64_t k = 0; k < in; k++) {
      int64_t nb = n / 64, j = n % 64, q = k / 4, b = k % 4;
      W->wp[((nb * W->k4 + q) * 64 + j) * 4 + b] = w[n * in + k];
    }
  W->wsum = nnc_xmalloc((size_t)out * sizeof *W->wsum);
  for (int64_t n = 0; n < out; n++) {
    int32_t s = 0;
    for (int64_t k = 0; k < in; k++) s += w[n * in + k];
    W->wsum[n] = s;
  }
}

void nnc_q8_weights_free(nnc_q8_weights *W) {
  free(W->w);
  free(W->wp);
  free(W->wsum);
  memset(W, 0, sizeof *W);
}

/* ---- portable ---- */
static void gemm_portable(const nnc_q8_weights *W, int64_t M, const uint8_t *A, int64_t lda, int32_t *C, int64_t ldc) {
  const int64_t K = W->in;
  for (int64_t m = 0; m < M; m++) {
    const uint8_t *a = A + m * lda;
    for (int64_t n = 0; n < W->out; n++) {
      const int8_t *b = W->w + n * K;
      int32_t s = 0;
#pragma omp simd reduction(+ : s)
      for (int64_t k = 0; k < K; k++) s += (int32_t)a[k] * (int32_t)b[k];
      C[m * ldc + n] = s;
    }
  }
}

/* ---- AVX-512 VNNI ----
 * A tile is MR rows times 64 outputs (4 vectors of 16 int32 lanes).  For each group of 4
 * inputs, the 64 x 4 weight bytes are one contiguous 256-byte line of wp; the 4 bytes of
 * a row are broadcast to every lane and vpdpbusd adds the 4 products into each lane. */
#define Q8_MR 6
#define TGT_VNNI __attribute__((target("avx512f,avx512bw,avx512vnni")))

static inline __attribute__((always_inline)) int32_t load4(const uint8_t *p) {
  int32_t v;
  memcpy(&v, p, 4);
  return v;
}

static inline __attribute__((always_inline)) TGT_VNNI void q8_tile(int mr, const nnc_q8_weights *W, const uint8_t *A,
                                                                   int64_t lda, const int8_t *wb, int32_t *C, int64_t ldc,
                                                                   int64_t n0) {
  const int64_t K = W->in, kfull = K / 4;
  __m512i acc[Q8_MR][4];
#pragma GCC unroll 6
  for (int r = 0; r < Q8_MR; r++)
#pragma GCC unroll 4
    for (int j = 0; j < 4; j++) acc[r][j] = _mm512_setzero_si512();
  for (int64_t q = 0; q < kfull; q++) {
    const int8_t *wq = wb + q * 256;
    __m512i w0 = _mm512_load_si512((const void *)wq), w1 = _mm512_load_si512((const void *)(wq + 64));
    __m512i w2 = _mm512_load_si512((const void *)(wq + 128)), w3 = _mm512_load_si512((const void *)(wq + 192));
#pragma GCC unroll 6
    for (int r = 0; r < Q8_MR; r++) {
      if (r >= mr) break;
      __m512i av = _mm512_set1_epi32(load4(A + r * lda + 4 * q));
      acc[r][0] = _mm512_dpbusd_epi32(acc[r][0], av, w0);
      acc[r][1] = _mm512_dpbusd_epi32(acc[r][1], av, w1);
      acc[r][2] = _mm512_dpbusd_epi32(acc[r][2], av, w2);
      acc[r][3] = _mm512_dpbusd_epi32(acc[r][3], av, w3);
    }
  }
  if (K % 4) { /* the last 1..3 inputs: bytes beyond K are read as 0 (the weights there are 0 too) */
    const int8_t *wq = wb + kfull * 256;
    __m512i w0 = _mm512_load_si512((const void *)wq), w1 = _mm512_load_si512((const void *)(wq + 64));
    __m512i w2 = _mm512_load_si512((const void *)(wq + 128)), w3 = _mm512_load_si512((const void *)(wq + 192));
#pragma GCC unroll 6
    for (int r = 0; r < Q8_MR; r++) {
      if (r >= mr) break;
      uint8_t t[4] = {0, 0, 0, 0};
      memcpy(t, A + r * lda + 4 * kfull, (size_t)(K % 4));
      __m512i av = _mm512_set1_epi32(load4(t));
      acc[r][0] = _mm512_dpbusd_epi32(acc[r][0], av, w0);
      acc[r][1] = _mm512_dpbusd_epi32(acc[r][1], av, w1);
      acc[r][2] = _mm512_dpbusd_epi32(acc[r][2], av, w2);
      acc[r][3] = _mm512_dpbusd_epi32(acc[r][3], av, w3);
    }
  }
  const int64_t N = W->out;
#pragma GCC unroll 6
  for (int r = 0; r < Q8_MR; r++) {
    if (r >= mr) break;
#pragma GCC unroll 4
    for (int j = 0; j < 4; j++) {
      int64_t n = n0 + 16 * j;
      if (n >= N) break;
      __mmask16 keep = N - n >= 16 ? 0xFFFF : (__mmask16)((1u << (N - n)) - 1);
      _mm512_mask_storeu_epi32(C + r * ldc + n, keep, acc[r][j]);
    }
  }
}

static inline __attribute__((always_inline)) TGT_VNNI void q8_rows(int mr, const nnc_q8_weights *W, const uint8_t *A,
                                                                   int64_t lda, int32_t *C, int64_t ldc) {
  for (int64_t nb = 0; nb < W->npad / 64; nb++) q8_tile(mr, W, A, lda, W->wp + nb * W->k4 * 256, C, ldc, nb * 64);
}

TGT_VNNI static void gemm_vnni(const nnc_q8_weights *W, int64_t M, const uint8_t *A, int64_t lda, int32_t *C, int64_t ldc) {
  int64_t m = 0;
  for (; m + Q8_MR <= M; m += Q8_MR) q8_rows(Q8_MR, W, A + m * lda, lda, C + m * ldc, ldc);
  switch (M - m) {
  case 5: q8_rows(5, W, A + m * lda, lda, C + m * ldc, ldc); break;
  case 4: q8_rows(4, W, A + m * lda, lda, C + m * ldc, ldc); break;
  case 3: q8_rows(3, W, A + m * lda, lda, C + m * ldc, ldc); break;
  case 2: q8_rows(2, W, A + m * lda, lda, C + m * ldc, ldc); break;
  case 1: q8_rows(1, W, A + m * lda, lda, C + m * ldc, ldc); break;
  default: break;
  }
}

void nnc_q8_gemm_u8s8(const nnc_q8_weights *W, int64_t M, const uint8_t *A, int64_t lda, int32_t *C, int64_t ldc) {
  if (M <= 0) return;
  if (use_vnni()) gemm_vnni(W, M, A, lda, C, ldc);
  else gemm_portable(W, M, A, lda, C, ldc);
}

void nnc_q8_gemm_s8s8(const nnc_q8_weights *W, int64_t M, const int8_t *A, int64_t lda, int32_t *C, int64_t ldc) {
  if (M <= 0) return;
  const int64_t K = W->in, rows = 64;
  uint8_t *u = nnc_xmalloc((size_t)(rows * K));
  for (int64_t m0 = 0; m0 < M; m0 += rows) {
    int64_t mb = M - m0 < rows ? M - m0 : rows;
    for (int64_t i = 0; i < mb; i++)
      for (int64_t k = 0; k < K; k++) u[i * K + k] = (uint8_t)((int32_t)A[(m0 + i) * lda + k] + 128);
    nnc_q8_gemm_u8s8(W, mb, u, K, C + m0 * ldc, ldc);
    for (int64_t i = 0; i < mb; i++)
      for (int64_t n = 0; n < W->out; n++) C[(m0 + i) * ldc + n] -= 128 * W->wsum[n];
  }
  free(u);
}

/* ---- requantisation ---- */
static void requant_portable(int64_t M, int64_t N, const int32_t *acc, const int32_t *add, const int32_t *mult,
                             const int32_t *shift, int32_t out_zero, int32_t out_min, int32_t out_max, uint8_t *out) {
  for (int64_t i = 0; i < M; i++)
    for (int64_t j = 0; j < N; j++) {
      int32_t x = (int32_t)((uint32_t)acc[i * N + j] + (uint32_t)add[j]); /* int32 wrap-around, as the reference */
      int64_t v = (int64_t)out_zero + nnc_q8_mbqm(x, mult[j], (int)shift[j]);
      if (v < out_min) v = out_min;
      if (v > out_max) v = out_max;
      out[i * N + j] = (uint8_t)v;
    }
}

#define TGT_F __attribute__((target("avx512f")))

/* 16 lanes of rdbpot(srdhm(x, mult), right) for mult >= 0 (so never INT32_MIN) */
static inline __attribute__((always_inline)) TGT_F __m512i mbqm16(__m512i x, __m512i mult, __m512i right) {
  const __m512i nudge_p = _mm512_set1_epi64(1 << 30), nudge_n = _mm512_set1_epi64(1 - (1 << 30));
  const __m512i round_n = _mm512_set1_epi64((INT64_C(1) << 31) - 1), zero = _mm512_setzero_si512();
  /* even lanes: the low 32 bits of each 64-bit lane (sign-extended by mul_epi32) */
  __m512i pe = _mm512_mul_epi32(x, mult);
  __m512i po = _mm512_mul_epi32(_mm512_srli_epi64(x, 32), _mm512_srli_epi64(mult, 32));
  __m512i se = _mm512_add_epi64(pe, _mm512_mask_blend_epi64(_mm512_cmplt_epi64_mask(pe, zero), nudge_p, nudge_n));
  __m512i so = _mm512_add_epi64(po, _mm512_mask_blend_epi64(_mm512_cmplt_epi64_mask(po, zero), nudge_p, nudge_n));
  /* division by 2^31 truncating towards zero */
  se = _mm512_srai_epi64(_mm512_mask_add_epi64(se, _mm512_cmplt_epi64_mask(se, zero), se, round_n), 31);
  so = _mm512_srai_epi64(_mm512_mask_add_epi64(so, _mm512_cmplt_epi64_mask(so, zero), so, round_n), 31);
  __m512i r = _mm512_mask_blend_epi32(0xAAAA, se, _mm512_slli_epi64(so, 32));
  /* rounding divide by 2^right, ties away from zero */
  __m512i mask = _mm512_srlv_epi32(_mm512_set1_epi32(-1), _mm512_sub_epi32(_mm512_set1_epi32(32), right));
  __m512i rem = _mm512_and_si512(r, mask);
  __m512i thr = _mm512_sub_epi32(_mm512_srli_epi32(mask, 1), _mm512_srai_epi32(r, 31));
  __m512i q = _mm512_srav_epi32(r, right);
  return _mm512_mask_add_epi32(q, _mm512_cmpgt_epi32_mask(rem, thr), q, _mm512_set1_epi32(1));
}

TGT_F static void requant_avx512(int64_t M, int64_t N, const int32_t *acc, const int32_t *add, const int32_t *mult,
                                 const int32_t *shift, int32_t out_zero, int32_t out_min, int32_t out_max, uint8_t *out) {
  const __m512i lo = _mm512_set1_epi32(out_min - out_zero), hi = _mm512_set1_epi32(out_max - out_zero);
  const __m512i zp = _mm512_set1_epi32(out_zero);
  for (int64_t i = 0; i < M; i++)
    for (int64_t j = 0; j < N; j += 16) {
      __mmask16 keep = N - j >= 16 ? 0xFFFF : (__mmask16)((1u << (N - j)) - 1);
      __m512i x = _mm512_add_epi32(_mm512_maskz_loadu_epi32(keep, acc + i * N + j), _mm512_maskz_loadu_epi32(keep, add + j));
      __m512i mu = _mm512_maskz_loadu_epi32(keep, mult + j);
      __m512i right = _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_maskz_loadu_epi32(keep, shift + j));
      __m512i v = mbqm16(x, mu, right);
      v = _mm512_add_epi32(_mm512_min_epi32(_mm512_max_epi32(v, lo), hi), zp); /* clamp before adding: no overflow */
      _mm512_mask_cvtepi32_storeu_epi8(out + i * N + j, keep, v);
    }
}

void nnc_q8_requant(int64_t M, int64_t N, const int32_t *acc, const int32_t *add, const int32_t *mult,
                    const int32_t *shift, int32_t out_zero, int32_t out_min, int32_t out_max, uint8_t *out) {
  NNC_CHECK(0 <= out_min && out_min <= out_max && out_max <= 255, "q8_requant", "clamp [%d, %d] outside 0..255",
            (int)out_min, (int)out_max);
  bool vec = use_vnni(); /* AVX-512F is part of it */
  for (int64_t j = 0; j < N && vec; j++)
    if (shift[j] > 0 || shift[j] < -31 || mult[j] < 0) vec = false;
  if (vec) requant_avx512(M, N, acc, add, mult, shift, out_zero, out_min, out_max, out);
  else requant_portable(M, N, acc, add, mult, shift, out_zero, out_min, out_max, out);
}
