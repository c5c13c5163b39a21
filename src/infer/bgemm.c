/* infer/bgemm.c: the binary linear layer (XOR + popcount), AVX-512 VPOPCNTDQ and portable. */
#include <immintrin.h>
#include <stdlib.h>
#include <string.h>
#include "core/error.h"
#include "infer/kernels.h"

/* ---- instruction sets ---- */
static bool force_portable;

void nnc_infer_force_portable(bool on) { force_portable = on; }
bool nnc_infer_portable_forced(void) { return force_portable; }

bool nnc_infer_have_vpopcntdq(void) {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vpopcntdq");
}

bool nnc_infer_have_vnni(void) {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512vnni");
}

static bool use_vpopcnt(void) {
  static int have = -1;
  if (have < 0) have = nnc_infer_have_vpopcntdq();
  return have && !force_portable;
}

const char *nnc_infer_bin_isa(void) { return use_vpopcnt() ? "avx512-vpopcntdq" : "portable"; }

/* ---- packing ---- */
void nnc_pack_signs_f32(int64_t M, int64_t K, const float *x, int64_t ldx, uint64_t *out) {
  int64_t kw = nnc_bits_words(K);
  for (int64_t m = 0; m < M; m++) {
    const float *r = x + m * ldx;
    uint64_t *o = out + m * kw;
    for (int64_t w = 0; w < kw; w++) {
      uint64_t v = 0;
      int64_t k0 = w * 64, k1 = k0 + 64 < K ? k0 + 64 : K;
      for (int64_t k = k0; k < k1; k++) v |= (uint64_t)(r[k] >= 0) << (k - k0);
      o[w] = v;
    }
  }
}

void nnc_pack_signs_f64(int64_t M, int64_t K, const double *x, int64_t ldx, uint64_t *out) {
  int64_t kw = nnc_bits_words(K);
  for (int64_t m = 0; m < M; m++) {
    const double *r = x + m * ldx;
    uint64_t *o = out + m * kw;
    for (int64_t w = 0; w < kw; w++) {
      uint64_t v = 0;
      int64_t k0 = w * 64, k1 = k0 + 64 < K ? k0 + 64 : K;
      for (int64_t k = k0; k < k1; k++) v |= (uint64_t)(r[k] >= 0) << (k - k0);
      o[w] = v;
    }
  }
}

void nnc_unpack_bits_u8(int64_t M, int64_t K, const uint64_t *a, uint8_t *out) {
  int64_t kw = nnc_bits_words(K);
  for (int64_t m = 0; m < M; m++)
    for (int64_t k = 0; k < K; k++) out[m * K + k] = (uint8_t)((a[m * kw + k / 64] >> (k % 64)) & 1);
}

bool nnc_bits_padding_clear(int64_t M, int64_t K, const uint64_t *a) {
  int64_t kw = nnc_bits_words(K);
  if (K % 64 == 0) return true;
  uint64_t pad = ~(uint64_t)0 << (K % 64);
  for (int64_t m = 0; m < M; m++)
    if (a[m * kw + kw - 1] & pad) return false;
  return true;
}

/* ---- the layer ---- */
void nnc_bin_linear_init(nnc_bin_linear *L, int64_t in, int64_t out, const uint64_t *w) {
  NNC_CHECK(in > 0 && out > 0, "bin_linear", "sizes in=%lld out=%lld", (long long)in, (long long)out);
  NNC_CHECK(nnc_bits_padding_clear(out, in, w), "bin_linear", "padding bits of the weights must be 0");
  memset(L, 0, sizeof *L);
  L->in = in;
  L->out = out;
  L->kw = nnc_bits_words(in);
  L->npad = (out + 31) / 32 * 32;
  L->w = nnc_xmalloc((size_t)(out * L->kw) * sizeof *L->w);
  memcpy(L->w, w, (size_t)(out * L->kw) * sizeof *L->w);
  L->wp = aligned_alloc(64, (size_t)(L->npad * L->kw) * sizeof *L->wp);
  NNC_CHECK(L->wp, "bin_linear", "out of memory");
  for (int64_t nb = 0; nb < L->npad / 32; nb++)
    for (int64_t k = 0; k < L->kw; k++)
      for (int64_t j = 0; j < 32; j++) {
        int64_t n = nb * 32 + j;
        L->wp[(nb * L->kw + k) * 32 + j] = n < out ? w[n * L->kw + k] : 0;
      }
  L->pthr = nnc_xcalloc((size_t)L->npad, sizeof *L->pthr);
  L->flip = nnc_xcalloc((size_t)(L->npad / 8), 1);
}

void nnc_bin_linear_free(nnc_bin_linear *L) {
  free(L->w);
  free(L->wp);
  free(L->pthr);
  free(L->flip);
  memset(L, 0, sizeof *L);
}

/* floor(a / 2) for any sign */
static int64_t floor_half(int64_t a) { return a >= 0 ? a / 2 : -((-a + 1) / 2); }

void nnc_bin_linear_set_thresholds(nnc_bin_linear *L, const int32_t *tau, const int8_t *dir) {
  const int64_t K = L->in;
  memset(L->flip, 0, (size_t)(L->npad / 8));
  for (int64_t n = 0; n < L->npad; n++) {
    int64_t p;
    if (n >= L->out) p = -1;
    else if (dir[n] > 0) p = floor_half(K - (int64_t)tau[n]); /* y >= tau  <=>  pop <= (K - tau) / 2 */
    else {                                                     /* y <= tau  <=>  !(pop <= ceil((K - tau) / 2) - 1) */
      p = -floor_half(-(K - (int64_t)tau[n])) - 1;
      L->flip[n / 8] |= (uint8_t)(1u << (n % 8));
    }
    if (p < -1) p = -1;
    if (p > K) p = K;
    L->pthr[n] = p;
  }
  L->have_thr = true;
}

void nnc_bin_gemm_ref(int64_t M, int64_t N, int64_t K, const uint64_t *a, const uint64_t *w, int32_t *y) {
  int64_t kw = nnc_bits_words(K);
  for (int64_t m = 0; m < M; m++)
    for (int64_t n = 0; n < N; n++) {
      int32_t s = 0;
      for (int64_t k = 0; k < K; k++) {
        int av = (int)((a[m * kw + k / 64] >> (k % 64)) & 1) ? 1 : -1;
        int wv = (int)((w[n * kw + k / 64] >> (k % 64)) & 1) ? 1 : -1;
        s += av * wv;
      }
      y[m * N + n] = s;
    }
}

/* ---- portable kernels ---- */
static void acc_portable(const nnc_bin_linear *L, int64_t M, const uint64_t *a, int32_t *y) {
  const int64_t kw = L->kw, K = L->in;
  for (int64_t m = 0; m < M; m++) {
    const uint64_t *ar = a + m * kw;
    for (int64_t n = 0; n < L->out; n++) {
      const uint64_t *wr = L->w + n * kw;
      int64_t pop = 0;
      for (int64_t k = 0; k < kw; k++) pop += __builtin_popcountll(ar[k] ^ wr[k]);
      y[m * L->out + n] = (int32_t)(K - 2 * pop);
    }
  }
}

static void bits_portable(const nnc_bin_linear *L, int64_t M, const uint64_t *a, uint64_t *out) {
  const int64_t kw = L->kw, ow = nnc_bits_words(L->out);
  for (int64_t m = 0; m < M; m++) {
    const uint64_t *ar = a + m * kw;
    uint64_t *o = out + m * ow;
    memset(o, 0, (size_t)ow * sizeof *o);
    for (int64_t n = 0; n < L->out; n++) {
      const uint64_t *wr = L->w + n * kw;
      int64_t pop = 0;
      for (int64_t k = 0; k < kw; k++) pop += __builtin_popcountll(ar[k] ^ wr[k]);
      uint64_t bit = (uint64_t)(pop <= L->pthr[n]) ^ ((L->flip[n / 8] >> (n % 8)) & 1);
      o[n / 64] |= bit << (n % 64);
    }
  }
}

/* ---- AVX-512 VPOPCNTDQ kernels ----
 * A tile is MR rows of a times 32 outputs (4 vectors of 8 64-bit lanes): for each word k,
 * the 32 weight words of the block are one contiguous 256-byte line of wp, a[m][k] is
 * broadcast, and acc[r][j] += popcount(a XOR w).  No horizontal sums: each lane is one
 * output. */
#define BIN_MR 4
#define TGT_POP __attribute__((target("avx512f,avx512vpopcntdq")))

static inline __attribute__((always_inline)) TGT_POP void tile_pop(int mr, int64_t kw, const uint64_t *a,
                                                                   const uint64_t *wb, __m512i acc[BIN_MR][4]) {
#pragma GCC unroll 4
  for (int r = 0; r < BIN_MR; r++)
#pragma GCC unroll 4
    for (int j = 0; j < 4; j++) acc[r][j] = _mm512_setzero_si512();
  for (int64_t k = 0; k < kw; k++) {
    const uint64_t *wk = wb + k * 32;
    __m512i w0 = _mm512_load_si512((const void *)wk), w1 = _mm512_load_si512((const void *)(wk + 8));
    __m512i w2 = _mm512_load_si512((const void *)(wk + 16)), w3 = _mm512_load_si512((const void *)(wk + 24));
#pragma GCC unroll 4
    for (int r = 0; r < BIN_MR; r++) {
      if (r >= mr) break;
      __m512i av = _mm512_set1_epi64((long long)a[r * kw + k]);
      acc[r][0] = _mm512_add_epi64(acc[r][0], _mm512_popcnt_epi64(_mm512_xor_si512(av, w0)));
      acc[r][1] = _mm512_add_epi64(acc[r][1], _mm512_popcnt_epi64(_mm512_xor_si512(av, w1)));
      acc[r][2] = _mm512_add_epi64(acc[r][2], _mm512_popcnt_epi64(_mm512_xor_si512(av, w2)));
      acc[r][3] = _mm512_add_epi64(acc[r][3], _mm512_popcnt_epi64(_mm512_xor_si512(av, w3)));
    }
  }
}

static inline __attribute__((always_inline)) TGT_POP void block_acc(int mr, const nnc_bin_linear *L, const uint64_t *a,
                                                                    int32_t *y) {
  const int64_t kw = L->kw, N = L->out;
  const __m512i kk = _mm512_set1_epi64(L->in);
  for (int64_t nb = 0; nb < L->npad / 32; nb++) {
    __m512i acc[BIN_MR][4];
    tile_pop(mr, kw, a, L->wp + nb * kw * 32, acc);
    int64_t n0 = nb * 32;
#pragma GCC unroll 4
    for (int r = 0; r < BIN_MR; r++) {
      if (r >= mr) break;
#pragma GCC unroll 4
      for (int j = 0; j < 4; j++) {
        int64_t n = n0 + 8 * j;
        if (n >= N) break;
        __m512i v = _mm512_sub_epi64(kk, _mm512_slli_epi64(acc[r][j], 1)); /* K - 2 pop */
        __mmask8 keep = N - n >= 8 ? 0xFF : (__mmask8)((1u << (N - n)) - 1);
        _mm512_mask_cvtepi64_storeu_epi32(y + r * N + n, keep, v);
      }
    }
  }
}

static inline __attribute__((always_inline)) TGT_POP void block_bits(int mr, const nnc_bin_linear *L, const uint64_t *a,
                                                                     uint64_t *out) {
  const int64_t kw = L->kw, N = L->out, ow = nnc_bits_words(N);
  for (int r = 0; r < mr; r++) memset(out + r * ow, 0, (size_t)ow * sizeof *out);
  for (int64_t nb = 0; nb < L->npad / 32; nb++) {
    __m512i acc[BIN_MR][4];
    tile_pop(mr, kw, a, L->wp + nb * kw * 32, acc);
    int64_t n0 = nb * 32;
    __m512i t0 = _mm512_loadu_si512((const void *)(L->pthr + n0)), t1 = _mm512_loadu_si512((const void *)(L->pthr + n0 + 8));
    __m512i t2 = _mm512_loadu_si512((const void *)(L->pthr + n0 + 16)), t3 = _mm512_loadu_si512((const void *)(L->pthr + n0 + 24));
    uint32_t flip;
    memcpy(&flip, L->flip + n0 / 8, 4);
    uint32_t keep = N - n0 >= 32 ? 0xFFFFFFFFu : (uint32_t)((1u << (N - n0)) - 1);
#pragma GCC unroll 4
    for (int r = 0; r < BIN_MR; r++) {
      if (r >= mr) break;
      uint32_t b = (uint32_t)_mm512_cmple_epi64_mask(acc[r][0], t0) |
                   (uint32_t)_mm512_cmple_epi64_mask(acc[r][1], t1) << 8 |
                   (uint32_t)_mm512_cmple_epi64_mask(acc[r][2], t2) << 16 |
                   (uint32_t)_mm512_cmple_epi64_mask(acc[r][3], t3) << 24;
      out[r * ow + n0 / 64] |= (uint64_t)((b ^ flip) & keep) << (n0 % 64);
    }
  }
}

TGT_POP static void acc_avx512(const nnc_bin_linear *L, int64_t M, const uint64_t *a, int32_t *y) {
  int64_t m = 0;
  for (; m + BIN_MR <= M; m += BIN_MR) block_acc(BIN_MR, L, a + m * L->kw, y + m * L->out);
  switch (M - m) {
  case 3: block_acc(3, L, a + m * L->kw, y + m * L->out); break;
  case 2: block_acc(2, L, a + m * L->kw, y + m * L->out); break;
  case 1: block_acc(1, L, a + m * L->kw, y + m * L->out); break;
  default: break;
  }
}

TGT_POP static void bits_avx512(const nnc_bin_linear *L, int64_t M, const uint64_t *a, uint64_t *out) {
  int64_t m = 0, ow = nnc_bits_words(L->out);
  for (; m + BIN_MR <= M; m += BIN_MR) block_bits(BIN_MR, L, a + m * L->kw, out + m * ow);
  switch (M - m) {
  case 3: block_bits(3, L, a + m * L->kw, out + m * ow); break;
  case 2: block_bits(2, L, a + m * L->kw, out + m * ow); break;
  case 1: block_bits(1, L, a + m * L->kw, out + m * ow); break;
  default: break;
  }
}

void nnc_bin_linear_acc(const nnc_bin_linear *L, int64_t M, const uint64_t *a, int32_t *y) {
  if (M <= 0) return;
  if (use_vpopcnt()) acc_avx512(L, M, a, y);
  else acc_portable(L, M, a, y);
}

void nnc_bin_linear_bits(const nnc_bin_linear *L, int64_t M, const uint64_t *a, uint64_t *out) {
  NNC_CHECK(L->have_thr, "bin_linear", "thresholds not set");
  if (M <= 0) return;
  if (use_vpopcnt()) bits_avx512(L, M, a, out);
  else bits_portable(L, M, a, out);
}
