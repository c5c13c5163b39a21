/* infer/sparse.c: the panel-CSR sparse linear layer (see sparse.h): building the format from a
 * dense weight, the AVX-512F and portable kernels, the threaded forward pass and the oracle. */
#include <immintrin.h>
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "core/error.h"
#include "infer/kernels.h"
#include "infer/sparse.h"

#define TILE NNC_SPARSE_TILE
#define TGT __attribute__((target("avx512f")))
#define INLINE static inline __attribute__((always_inline))

/* below this many multiply-adds per call (about 10 us of work) one thread is faster */
#define SPARSE_PARALLEL_MIN (1 << 20)

static bool have_avx512(void) {
  static int have = -1;
  if (have < 0) {
    __builtin_cpu_init();
    have = __builtin_cpu_supports("avx512f");
  }
  return have;
}

static bool use_avx512(void) { return have_avx512() && !nnc_infer_portable_forced(); }

const char *nnc_sparse_isa(void) { return use_avx512() ? "avx512f" : "portable"; }

/* ---------------------------------------------------------------- the format */
void nnc_sparse_linear_init(nnc_sparse_linear *L, int64_t out, int64_t in, const float *w, const float *bias,
                            int64_t panel) {
  NNC_CHECK(L && w, "sparse_linear", "NULL layer or weight");
  NNC_CHECK(out >= 1 && in >= 1 && in < INT32_MAX && out < INT32_MAX, "sparse_linear",
            "sizes out=%lld in=%lld (need 1 <= out, in < 2^31)", (long long)out, (long long)in);
  NNC_CHECK(panel >= 0, "sparse_linear", "panel %lld < 0", (long long)panel);
  memset(L, 0, sizeof *L);
  L->in = in;
  L->out = out;
  L->panel = panel ? (panel < in ? panel : in) : (NNC_SPARSE_PANEL < in ? NNC_SPARSE_PANEL : in);
  L->npanels = (in + L->panel - 1) / L->panel;
  int64_t nnz = 0;
  for (int64_t i = 0; i < out * in; i++) nnz += w[i] != 0.0f; /* NaN != 0 */
  L->nnz = nnz;
  L->ptr = nnc_xmalloc((size_t)(L->npanels * (out + 1)) * sizeof *L->ptr);
  L->col = nnc_xmalloc((size_t)(nnz > 0 ? nnz : 1) * sizeof *L->col);
  L->val = nnc_xmalloc((size_t)(nnz > 0 ? nnz : 1) * sizeof *L->val);
  L->bias = nnc_xcalloc((size_t)out, sizeof *L->bias);
  L->rowcum = nnc_xcalloc((size_t)(out + 1), sizeof *L->rowcum);
  if (bias) memcpy(L->bias, bias, (size_t)out * sizeof *bias);
  int64_t p = 0;
  for (int64_t q = 0; q < L->npanels; q++) {
    int64_t k0 = q * L->panel, k1 = k0 + L->panel < in ? k0 + L->panel : in;
    int64_t *ptr = L->ptr + q * (out + 1);
    for (int64_t n = 0; n < out; n++) {
      ptr[n] = p;
      for (int64_t k = k0; k < k1; k++) {
        float v = w[n * in + k];
        if (v != 0.0f) L->col[p] = (int32_t)k, L->val[p] = v, p++;
      }
      L->rowcum[n + 1] += p - ptr[n];
    }
    ptr[out] = p;
  }
  for (int64_t n = 0; n < out; n++) L->rowcum[n + 1] += L->rowcum[n];
}

void nnc_sparse_linear_free(nnc_sparse_linear *L) {
  if (!L) return;
  free(L->ptr);
  free(L->col);
  free(L->val);
  free(L->bias);
  free(L->rowcum);
  memset(L, 0, sizeof *L);
}

double nnc_sparse_density(const nnc_sparse_linear *L) { return (double)L->nnz / ((double)L->out * (double)L->in); }

static int64_t round16(int64_t n) { return (n + 15) / 16 * 16; }

int64_t nnc_sparse_work_floats(const nnc_sparse_linear *L) { return (L->in + round16(L->out)) * TILE; }

/* ---------------------------------------------------------------- the oracle */
void nnc_sparse_linear_ref(const nnc_sparse_linear *L, int64_t B, const float *x, float *y, bool relu) {
  NNC_CHECK(L && L->ptr && B >= 0 && (B == 0 || (x && y)), "sparse_linear_ref", "bad arguments (B=%lld)",
            (long long)B);
  for (int64_t b = 0; b < B; b++)
    for (int64_t n = 0; n < L->out; n++) {
      double s = L->bias[n];
      for (int64_t q = 0; q < L->npanels; q++) {
        const int64_t *ptr = L->ptr + q * (L->out + 1);
        for (int64_t p = ptr[n]; p < ptr[n + 1]; p++) s += (double)L->val[p] * (double)x[b * L->in + L->col[p]];
      }
      float v = (float)s;
      y[b * L->out + n] = relu ? (v > 0.0f ? v : 0.0f) : v;
    }
}

/* ---------------------------------------------------------------- transposes
 * dst[c * ld + r] = src[r * ls + c] for r < rows, c < cols; with `pad` > rows, rows..pad-1 of
 * each destination row are set to 0 (the unused examples of a partial tile) */
static void transpose_plain(const float *src, int64_t ls, int64_t rows, int64_t cols, float *dst, int64_t ld,
                            int64_t pad, bool relu) {
  for (int64_t c = 0; c < cols; c++) {
    for (int64_t r = 0; r < rows; r++) {
      float v = src[r * ls + c];
      dst[c * ld + r] = relu ? (v > 0.0f ? v : 0.0f) : v;
    }
    for (int64_t r = rows; r < pad; r++) dst[c * ld + r] = 0.0f;
  }
}

/* one full 16 x 16 block: unpack pairs, then 64-bit pairs, then 128-bit lanes twice */
INLINE TGT void transpose16_avx512(const float *src, int64_t ls, float *dst, int64_t ld, bool relu) {
  __m512 r[16], t[16];
  for (int i = 0; i < 16; i++) r[i] = _mm512_loadu_ps(src + i * ls);
  for (int i = 0; i < 8; i++) {
    t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  for (int i = 0; i < 4; i++) {
    __m512d a = _mm512_castps_pd(t[4 * i]), b = _mm512_castps_pd(t[4 * i + 1]);
    __m512d c = _mm512_castps_pd(t[4 * i + 2]), d = _mm512_castps_pd(t[4 * i + 3]);
    r[4 * i + 0] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
    r[4 * i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
    r[4 * i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
    r[4 * i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
  }
  for (int i = 0; i < 2; i++)
    for (int j = 0; j < 4; j++) {
      t[8 * i + j] = _mm512_shuffle_f32x4(r[8 * i + j], r[8 * i + 4 + j], 0x88);
      t[8 * i + 4 + j] = _mm512_shuffle_f32x4(r[8 * i + j], r[8 * i + 4 + j], 0xdd);
    }
  for (int j = 0; j < 8; j++) {
    r[j] = _mm512_shuffle_f32x4(t[j], t[8 + j], 0x88);
    r[8 + j] = _mm512_shuffle_f32x4(t[j], t[8 + j], 0xdd);
  }
  const __m512 zero = _mm512_setzero_ps();
  for (int i = 0; i < 16; i++) _mm512_storeu_ps(dst + i * ld, relu ? _mm512_max_ps(r[i], zero) : r[i]);
}

/* the same as transpose_plain, full 16 x 16 blocks with AVX-512 (pad is rows rounded up to
 * 16 or rows itself, so only a partial last block has zeros to write).  The order of the
 * blocks follows the big matrix (x or y, rows 4 KiB apart at in = 1024): along its rows, so
 * that each of its 16 rows is read (src_rows) or written (otherwise) in order; block by block
 * across its rows, the misses cost 2 to 3 times more (measured). */
static TGT void transpose_avx512(const float *src, int64_t ls, int64_t rows, int64_t cols, float *dst, int64_t ld,
                                 int64_t pad, bool relu, bool src_rows) {
  const int64_t nrb = (rows + 15) / 16, ncb = (cols + 15) / 16;
  for (int64_t i = 0; i < nrb * ncb; i++) {
    const int64_t r0 = 16 * (src_rows ? i / ncb : i % nrb), c0 = 16 * (src_rows ? i % ncb : i / nrb);
    const int64_t nr = rows - r0 < 16 ? rows - r0 : 16, nc = cols - c0 < 16 ? cols - c0 : 16;
    if (nr == 16 && nc == 16) transpose16_avx512(src + r0 * ls + c0, ls, dst + c0 * ld + r0, ld, relu);
    else transpose_plain(src + r0 * ls + c0, ls, nr, nc, dst + c0 * ld + r0, ld, r0 + nr == rows ? pad - r0 : nr, relu);
  }
}

/* ---------------------------------------------------------------- kernels
 * rows [r0, r1) of panel q for a tile of nv vectors (16 examples each):
 *   yT[n, :] = (q == 0 ? b[n] : yT[n, :]) + sum over the row's entries of val * xT[col, :]
 * with the entries of a row summed in SETS interleaved accumulator sets (entry p goes to set
 * p % SETS, counted from the row's first entry in the panel), added at the end of the panel:
 * one FMA chain per register would wait on the FMA latency (measured 8% slower). */
#ifndef NNC_SPARSE_SETS
#define NNC_SPARSE_SETS 2
#endif
#define SETS NNC_SPARSE_SETS
INLINE TGT void panel_rows_avx512(int nv, const nnc_sparse_linear *L, int64_t q, int64_t r0, int64_t r1,
                                  const float *xT, float *yT) {
  const int64_t *ptr = L->ptr + q * (L->out + 1);
  const int32_t *col = L->col;
  const float *val = L->val;
  for (int64_t n = r0; n < r1; n++) {
    float *yr = yT + n * TILE;
    __m512 a[SETS][4];
#pragma GCC unroll 4
    for (int j = 0; j < 4; j++)
      if (j < nv) {
        a[0][j] = q == 0 ? _mm512_set1_ps(L->bias[n]) : _mm512_load_ps(yr + 16 * j);
#pragma GCC unroll 4
        for (int s = 1; s < SETS; s++) a[s][j] = _mm512_setzero_ps();
      }
    int64_t p = ptr[n];
    const int64_t e = ptr[n + 1];
    for (; p + SETS <= e; p += SETS)
#pragma GCC unroll 4
      for (int s = 0; s < SETS; s++) {
        const __m512 w = _mm512_set1_ps(val[p + s]);
        const float *xr = xT + (int64_t)col[p + s] * TILE;
#pragma GCC unroll 4
        for (int j = 0; j < 4; j++)
          if (j < nv) a[s][j] = _mm512_fmadd_ps(w, _mm512_load_ps(xr + 16 * j), a[s][j]);
      }
#pragma GCC unroll 4
    for (int s = 0; s < SETS; s++)
      if (p + s < e) {
        const __m512 w = _mm512_set1_ps(val[p + s]);
        const float *xr = xT + (int64_t)col[p + s] * TILE;
#pragma GCC unroll 4
        for (int j = 0; j < 4; j++)
          if (j < nv) a[s][j] = _mm512_fmadd_ps(w, _mm512_load_ps(xr + 16 * j), a[s][j]);
      }
#pragma GCC unroll 4
    for (int j = 0; j < 4; j++)
      if (j < nv) {
#pragma GCC unroll 4
        for (int s = 1; s < SETS; s++) a[0][j] = _mm512_add_ps(a[0][j], a[s][j]);
        _mm512_store_ps(yr + 16 * j, a[0][j]);
      }
  }
}

static TGT void rows_avx512(int nv, const nnc_sparse_linear *L, int64_t r0, int64_t r1, const float *xT, float *yT) {
  for (int64_t q = 0; q < L->npanels; q++) switch (nv) {
      case 1: panel_rows_avx512(1, L, q, r0, r1, xT, yT); break;
      case 2: panel_rows_avx512(2, L, q, r0, r1, xT, yT); break;
      case 3: panel_rows_avx512(3, L, q, r0, r1, xT, yT); break;
      default: panel_rows_avx512(4, L, q, r0, r1, xT, yT); break;
    }
}

/* the same in C with GCC/Clang vector extensions (any instruction set), the same order of
 * operations up to FMA contraction: for each group of 16 examples, SETS vectors of 16 sums */
typedef float v16f __attribute__((vector_size(64)));
/* a += v * x[0:16] (memcpy: no alignment assumed; a function returning v16f would change
 * the ABI without AVX-512) */
#define AXPY16(a, v, x)              \
  do {                               \
    v16f x_;                         \
    memcpy(&x_, (x), sizeof x_);     \
    (a) += (v) * x_;                 \
  } while (0)

static void rows_portable(int nv, const nnc_sparse_linear *L, int64_t r0, int64_t r1, const float *xT, float *yT) {
  for (int64_t q = 0; q < L->npanels; q++) {
    const int64_t *ptr = L->ptr + q * (L->out + 1);
    for (int64_t n = r0; n < r1; n++)
      for (int64_t j0 = 0; j0 < 16 * nv; j0 += 16) {
        float *yr = yT + n * TILE + j0;
        v16f a[SETS] = {0};
        if (q == 0) a[0] += L->bias[n];
        else memcpy(&a[0], yr, sizeof a[0]);
        int64_t p = ptr[n];
        const int64_t e = ptr[n + 1];
        for (; p + SETS <= e; p += SETS)
          for (int s = 0; s < SETS; s++) AXPY16(a[s], L->val[p + s], xT + (int64_t)L->col[p + s] * TILE + j0);
        for (int s = 0; p + s < e; s++) AXPY16(a[s], L->val[p + s], xT + (int64_t)L->col[p + s] * TILE + j0);
        for (int s = 1; s < SETS; s++) a[0] += a[s];
        memcpy(yr, &a[0], sizeof a[0]);
      }
  }
}

/* ---------------------------------------------------------------- the forward pass */
/* first row of thread t of T: rows in blocks of 16 with equal cost, a row costing its
 * nonzeros plus one per panel (the load and store of its sums) */
static int64_t split_row(const nnc_sparse_linear *L, int t, int T) {
  if (t == 0) return 0;
  if (t == T) return L->out;
  const int64_t total = L->rowcum[L->out] + L->out * L->npanels;
  const int64_t target = (int64_t)((double)total * t / T);
  int64_t lo = 0, hi = L->out; /* smallest n with cost(n) >= target */
  while (lo < hi) {
    int64_t mid = (lo + hi) / 2;
    if (L->rowcum[mid] + mid * L->npanels < target) lo = mid + 1;
    else hi = mid;
  }
  int64_t n = (lo + 8) / 16 * 16;
  return n < L->out ? n : L->out;
}

void nnc_sparse_linear_forward(const nnc_sparse_linear *L, int64_t B, const float *x, float *y, bool relu,
                               float *work) {
  NNC_CHECK(L && L->ptr, "sparse_linear_forward", "layer not initialised");
  NNC_CHECK(B >= 0, "sparse_linear_forward", "batch %lld < 0", (long long)B);
  if (B == 0) return;
  NNC_CHECK(x && y, "sparse_linear_forward", "NULL input or output");
  NNC_CHECK(((uintptr_t)work & 63) == 0, "sparse_linear_forward", "work must be 64-byte aligned");
  float *buf = work;
  if (!buf) {
    buf = aligned_alloc(64, (size_t)nnc_sparse_work_floats(L) * sizeof *buf);
    NNC_CHECK(buf, "sparse_linear_forward", "out of memory");
  }
  float *xT = buf, *yT = buf + L->in * TILE;
  const int64_t K = L->in, N = L->out;
  const bool avx = use_avx512();
  int nt = omp_in_parallel() ? 1 : omp_get_max_threads();
  if ((double)L->nnz * (double)(B < TILE ? B : TILE) < SPARSE_PARALLEL_MIN) nt = 1;
  if (nt > round16(N) / 16) nt = (int)(round16(N) / 16);
#pragma omp parallel num_threads(nt) if (nt > 1)
  {
    const int t = omp_get_thread_num(), T = omp_get_num_threads();
    const int64_t r0 = split_row(L, t, T), r1 = split_row(L, t + 1, T);
    const int64_t kb = (K + 15) / 16, k0 = kb * t / T * 16, k1 = kb * (t + 1) / T * 16 < K ? kb * (t + 1) / T * 16 : K;
    for (int64_t b0 = 0; b0 < B; b0 += TILE) {
      const int64_t bt = B - b0 < TILE ? B - b0 : TILE;
      const int nv = (int)((bt + 15) / 16);
      /* xT[k, 0:16 nv] <- x[b0 + j, k] (zeros beyond bt), this thread's share of the inputs */
      if (k1 > k0) {
        if (avx) transpose_avx512(x + b0 * K + k0, K, bt, k1 - k0, xT + k0 * TILE, TILE, 16 * nv, false, true);
        else transpose_plain(x + b0 * K + k0, K, bt, k1 - k0, xT + k0 * TILE, TILE, 16 * nv, false);
      }
#pragma omp barrier
      if (r1 > r0) {
        if (avx) rows_avx512(nv, L, r0, r1, xT, yT);
        else rows_portable(nv, L, r0, r1, xT, yT);
        /* y[b0 + j, n] <- yT[n, j] for this thread's rows */
        if (avx) transpose_avx512(yT + r0 * TILE, TILE, r1 - r0, bt, y + b0 * N + r0, N, r1 - r0, relu, false);
        else transpose_plain(yT + r0 * TILE, TILE, r1 - r0, bt, y + b0 * N + r0, N, r1 - r0, relu);
      }
#pragma omp barrier
    }
  }
  if (!work) free(buf);
}
