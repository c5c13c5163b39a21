/* ops/attention.c: fused scaled dot-product attention (see ops.h, "attention").
 *
 * One op per call: for every batch index i (the flattened leading dims, e.g. (b, h))
 *   S = scale * Q_i K_i^T            [Tq, Tk]
 *   S[r, c] = -inf where masked      (mask == 0, or causal and c > r)
 *   P = softmax(S) along c           a row whose keys are all masked gives P = 0
 *   O_i = P V_i                      [Tq, Dv]
 * P is saved for backward (Tq*Tk per batch index: what these sequence lengths afford; a
 * long-sequence kernel would save the row logsumexp and recompute S).  Backward:
 *   dV = P^T dO,  dP = dO V^T,  dS = P * (dP - rowsum(dO * O)),
 *   dQ = scale * dS K,  dK = scale * dS^T Q,
 * with rowsum(dO * O) computed as rowsum(P * dP) (the same number, O = P V), so O need not
 * be kept.  Masked entries have P = 0, hence dS = 0: backward needs neither mask nor causal
 * (causal only to skip work).
 *
 * Operands are read in place through strides: the last dim must be unit-stride (else a
 * recorded contiguous copy is made), rows any stride.  So the heads of a packed projection
 * [B, T, 3*H*D] are read where they lie: nnc_attention_packed reads q, k and v of every
 * (b, h) straight from it, writes O as [B, T, H*D] and its backward writes dq, dk and dv into
 * one [B, T, 3*H*D] gradient: no permutes, no copies.
 *
 * Kernels.  Fast: per batch index, the six products run on a small register-tiled kernel
 * (mm_f32 / mm_f64 below; K and V are transposed into a per-thread scratch where a product
 * needs them as rows), causal products skip the tiles the mask zeroes, the row softmax uses
 * a vectorised exp (f32; libm's exp in f64), and OpenMP runs batch indices in parallel (each
 * writes only its own slices, so results do not depend on the thread count).  Reference:
 * plain loops in double, one element at a time, forward and backward. */
#include <math.h>
#include <omp.h>
#include <string.h>
#include "autograd/autograd.h"
#include "core/arena.h"
#include "core/error.h"
#include "core/threads.h"
#include "ops/ops.h"
#include "ops/vmath.h"

/* ---------------------------------------------------------------- the problem */

/* Everything a kernel needs, in element offsets from each operand's storage base (bases are
 * re-read from the saved tensors in backward: a parameter block's storage may move). */
typedef struct {
  nnc_dtype dt;
  int64_t nb, Tq, Tk, D, Dv;
  double scale;
  bool causal;
  int64_t *qo, *ko, *vo, *oo, *mo;    /* per batch index: offset of row 0 (mo NULL: no mask) */
  int64_t ldq, ldk, ldv, ldo;         /* row strides */
  int64_t msq, msk;                   /* mask strides along Tq and Tk */
} attn_plan;

/* base pointers for one call */
typedef struct {
  const void *q, *k, *v;
  const uint8_t *m;
  void *o;         /* forward: the output; backward: the output gradient (read) */
  void *P;         /* [nb, Tq, Tk] contiguous */
  void *dq, *dk, *dv; /* backward, laid out as q, k, v with offsets dqo/dko/dvo, ld ldd* */
  int64_t *dqo, *dko, *dvo;
  int64_t lddq, lddk, lddv;
} attn_ptrs;

static inline bool keep(const attn_plan *p, const uint8_t *m, int64_t i, int64_t r, int64_t c) {
  if (p->causal && c > r) return false;
  return !m || m[p->mo[i] + r * p->msq + c * p->msk] != 0;
}

/* ---------------------------------------------------------------- fast kernels */

/* The products of one batch index are small (T x T x D: 64 x 64 x 32 in the benchmark) and
 * their operands fit in L1, so they run on a register-tiled kernel of their own rather than
 * core/gemm.h: no per-call set-up, the same code on any thread count (results do not depend
 * on it), and causal products skip the blocks that the mask zeroes. */

typedef float v16f __attribute__((vector_size(64)));
typedef double v8d __attribute__((vector_size(64)));
/* unaligned vector load / store (macros: a function taking a 64-byte vector changes ABI
 * with AVX-512, -Wpsabi) */
#define LOADV(v, p) memcpy(&(v), (p), sizeof(v))
#define STOREV(p, v) memcpy((p), &(v), sizeof(v))
/* GCC in ISO C mode does not fuse a*b+c (-ffp-contract=off); ask for it in the kernels */
#if defined(__GNUC__) && !defined(__clang__)
#define FUSE_MUL_ADD __attribute__((optimize("fp-contract=fast")))
#else
#define FUSE_MUL_ADD
#endif

#define MM_MR 8 /* rows of a register tile; columns: two vectors */

/* which entries of a product are structurally zero or unneeded (causal attention) */
enum {
  TRI_NONE,
  TRI_K_TO_ROW,   /* A(i, k) = 0 for k > i: the sum stops at the tile's last row */
  TRI_K_FROM_ROW, /* A(i, k) = 0 for k < i: the sum starts at the tile's first row */
  TRI_LOWER_C,    /* only C(i, j) with j <= i is needed: tiles wholly above are skipped */
};

/* C[M, N] = alpha * A B with A(i, k) = A[i*ra + k*ca], B(k, j) = B[k*ldb + j] (unit column
 * stride) and C(i, j) = C[i*ldc + j]; C is overwritten (entries skipped by TRI_LOWER_C are
 * left alone).  Tiles are MM_MR rows by two vectors, then one vector, then single columns.
 * The tile loop reads A(i + r, k) at fixed offsets from one pointer: straight from A when its
 * columns are contiguous (ra == 1, a full row block), else from a copy of the row block
 * packed as [MM_MR][MM_KC] (a row copy when A is row-major), MM_KC sums at a time. */
#define MM_KC 128
/* the tile loops for A(r, k) = AP[r * AR + k * AK] (AR, AK: the layout of the A being read) */
#define MM_TILES(T, V, W, AP, AR, AK)                                                                  \
  do {                                                                                                 \
    int64_t j = 0;                                                                                     \
    for (; j + 2 * W <= N && j < jend; j += 2 * W) {                                                   \
      V acc[MM_MR][2];                                                                                 \
      _Pragma("GCC unroll 8") for (int r = 0; r < MM_MR; r++) acc[r][0] = acc[r][1] = (V){0};          \
      for (int64_t k = 0; k < kc; k++) {                                                               \
        V b0, b1;                                                                                      \
        LOADV(b0, Bk + k * ldb + j);                                                                   \
        LOADV(b1, Bk + k * ldb + j + W);                                                               \
        const T *a = (AP) + k * (AK);                                                                  \
        _Pragma("GCC unroll 8") for (int r = 0; r < MM_MR; r++) {                                      \
          acc[r][0] += a[r * (AR)] * b0;                                                               \
          acc[r][1] += a[r * (AR)] * b1;                                                               \
        }                                                                                              \
      }                                                                                                \
      for (int r = 0; r < mr; r++) {                                                                   \
        T *c = C + (i + r) * ldc + j;                                                                  \
        V c0 = acc[r][0] * alpha, c1 = acc[r][1] * alpha, o0, o1;                                      \
        if (!first) {                                                                                  \
          LOADV(o0, c);                                                                                \
          LOADV(o1, c + W);                                                                            \
          c0 += o0, c1 += o1;                                                                          \
        }                                                                                              \
        STOREV(c, c0);                                                                                 \
        STOREV(c + W, c1);                                                                             \
      }                                                                                                \
    }                                                                                                  \
    for (; j + W <= N && j < jend; j += W) {                                                           \
      V acc[MM_MR];                                                                                    \
      _Pragma("GCC unroll 8") for (int r = 0; r < MM_MR; r++) acc[r] = (V){0};                         \
      for (int64_t k = 0; k < kc; k++) {                                                               \
        V b0;                                                                                          \
        LOADV(b0, Bk + k * ldb + j);                                                                   \
        const T *a = (AP) + k * (AK);                                                                  \
        _Pragma("GCC unroll 8") for (int r = 0; r < MM_MR; r++) acc[r] += a[r * (AR)] * b0;            \
      }                                                                                                \
      for (int r = 0; r < mr; r++) {                                                                   \
        T *c = C + (i + r) * ldc + j;                                                                  \
        V c0 = acc[r] * alpha, o0;                                                                     \
        if (!first) {                                                                                  \
          LOADV(o0, c);                                                                                \
          c0 += o0;                                                                                    \
        }                                                                                              \
        STOREV(c, c0);                                                                                 \
      }                                                                                                \
    }                                                                                                  \
    for (; j < jend; j++)                                                                              \
      for (int r = 0; r < mr; r++) {                                                                   \
        T acc = 0;                                                                                     \
        for (int64_t k = 0; k < kc; k++) acc += (AP)[r * (AR) + k * (AK)] * Bk[k * ldb + j];           \
        C[(i + r) * ldc + j] = alpha * acc + (first ? 0 : C[(i + r) * ldc + j]);                       \
      }                                                                                                \
  } while (0)

#define DEFINE_MM(SFX, T, V, W)                                                                        \
  FUSE_MUL_ADD static void mm_##SFX(int64_t M, int64_t N, int64_t K, T alpha, const T *A, int64_t ra,  \
                                    int64_t ca, const T *B, int64_t ldb, T *C, int64_t ldc, int tri) { \
    T ap[MM_MR * MM_KC];                                                                               \
    for (int64_t i = 0; i < M; i += MM_MR) {                                                           \
      int64_t mr = M - i < MM_MR ? M - i : MM_MR, k0 = 0, k1 = K;                                      \
      if (tri == TRI_K_TO_ROW && i + mr < K) k1 = i + mr;                                              \
      if (tri == TRI_K_FROM_ROW) k0 = i < K ? i : K;                                                   \
      int64_t jend = tri == TRI_LOWER_C && i + mr < N ? i + mr : N; /* columns needed */               \
      bool direct = ra == 1 && mr == MM_MR;                                                            \
      for (int64_t kb = k0;; kb += MM_KC) {                                                            \
        int64_t kc = k1 - kb < MM_KC ? k1 - kb : MM_KC;                                                \
        if (kc < 0) kc = 0;                                                                            \
        bool first = kb == k0;                                                                         \
        const T *Bk = B + kb * ldb;                                                                    \
        if (direct) {                                                                                  \
          MM_TILES(T, V, W, A + i + kb * ca, 1, ca);                                                   \
        } else {                                                                                       \
          for (int r = 0; r < MM_MR; r++) {                                                            \
            const T *ar = A + (i + r) * ra + kb * ca;                                                  \
            if (r >= mr) memset(ap + r * MM_KC, 0, sizeof(T) * (size_t)kc);                            \
            else if (ca == 1) memcpy(ap + r * MM_KC, ar, sizeof(T) * (size_t)kc);                      \
            else for (int64_t k = 0; k < kc; k++) ap[r * MM_KC + k] = ar[k * ca];                      \
          }                                                                                            \
          MM_TILES(T, V, W, ap, MM_KC, 1);                                                             \
        }                                                                                              \
        if (kb + MM_KC >= k1) break;                                                                   \
      }                                                                                                \
    }                                                                                                  \
  }
DEFINE_MM(f32, float, v16f, 16)
DEFINE_MM(f64, double, v8d, 8)

/* dst[d*rows + r] = src[r*ld + d]: a [rows, cols] matrix transposed into contiguous [cols, rows] */
#define DEFINE_TRANSPOSE(SFX, T)                                                               \
  static void transpose_##SFX(const T *src, int64_t ld, int64_t rows, int64_t cols, T *dst) {  \
    for (int64_t r = 0; r < rows; r++)                                                         \
      for (int64_t d = 0; d < cols; d++) dst[d * rows + r] = src[r * ld + d];                  \
  }
DEFINE_TRANSPOSE(f32, float)
DEFINE_TRANSPOSE(f64, double)

static inline double exp_f64(double x) { return exp(x); }

/* worth forking threads for? (work in multiply-adds) */
static bool parallel_worth(const attn_plan *p) {
  return p->nb > 1 && nnc_get_threads() > 1 && p->nb * p->Tq * p->Tk * (p->D + p->Dv) >= (1 << 16);
}

/* keys row r may see before the mask: all, or c <= r when causal */
static inline int64_t row_keys(const attn_plan *p, int64_t r) {
  return p->causal && p->Tk > r + 1 ? r + 1 : p->Tk;
}

/* S (a row of Tk scores, already scaled; entries past row_keys unset) -> P in place: masked
 * entries 0, the rest a softmax; a row with no key left is all zeros.  The maximum and the
 * sum run in L = one vector's worth of partial lanes, combined by halving at the end (an
 * `omp simd` reduction ends in a serial loop over the lanes, which costs more than the row). */
#define DEFINE_SOFTMAX_ROW(NAME, T, EXP)                                                      \
  static void NAME(const attn_plan *p, const uint8_t *m, int64_t i, int64_t r, T *s) {       \
    enum { L = 64 / sizeof(T) };                                                              \
    int64_t Tk = p->Tk, n = row_keys(p, r), c;                                                \
    if (m) {                                                                                  \
      const uint8_t *mr = m + p->mo[i] + r * p->msq;                                          \
      for (c = 0; c < n; c++)                                                                 \
        if (!mr[c * p->msk]) s[c] = -(T)INFINITY;                                             \
    }                                                                                         \
    /* pad to whole vectors with -inf (e^-inf = 0), so that causal rows need no scalar tail */ \
    int64_t nv = (n + L - 1) / L * L < Tk ? (n + L - 1) / L * L : Tk;                         \
    for (c = n; c < nv; c++) s[c] = -(T)INFINITY;                                             \
    n = nv;                                                                                   \
    T part[L];                                                                                \
    for (int j = 0; j < L; j++) part[j] = -(T)INFINITY;                                       \
    for (c = 0; c + L <= n; c += L)                                                           \
      for (int j = 0; j < L; j++) part[j] = s[c + j] > part[j] ? s[c + j] : part[j];          \
    for (; c < n; c++) part[0] = s[c] > part[0] ? s[c] : part[0];                             \
    NNC_HALVE(part, L, NNC_MAX2);                                                                     \
    T mx = part[0];                                                                           \
    if (mx == -(T)INFINITY) n = 0; /* nothing to attend to */                                 \
    for (int j = 0; j < L; j++) part[j] = 0;                                                  \
    for (c = 0; c + L <= n; c += L)                                                           \
      for (int j = 0; j < L; j++) {                                                           \
        T e = EXP(s[c + j] - mx);                                                             \
        s[c + j] = e;                                                                         \
        part[j] += e;                                                                         \
      }                                                                                       \
    for (; c < n; c++) {                                                                      \
      s[c] = EXP(s[c] - mx);                                                                  \
      part[0] += s[c];                                                                        \
    }                                                                                         \
    NNC_HALVE(part, L, NNC_ADD2);                                                                     \
    T inv = n ? (T)1 / part[0] : (T)0;                                                        \
    _Pragma("omp simd")                                                                       \
    for (c = 0; c < n; c++) s[c] *= inv;                                                      \
    for (c = n; c < Tk; c++) s[c] = 0;                                                        \
  }
DEFINE_SOFTMAX_ROW(softmax_row_f32, float, nnc_vexpf)
DEFINE_SOFTMAX_ROW(softmax_row_f64, double, exp_f64)

/* Asks for the rows of batch index i's operands ahead of use (into L2): the heads of a
 * packed projection lie in rows far apart, and the first touch of each row otherwise stalls
 * the transposes.  Every cache line of `rows` rows of `cols` elements, row stride ld. */
static inline void prefetch_rows(const void *base, size_t es, int64_t rows, int64_t cols, int64_t ld) {
  const char *b = base;
  for (int64_t r = 0; r < rows; r++)
    for (int64_t c = 0; c < cols * (int64_t)es; c += 64) __builtin_prefetch(b + (r * ld) * (int64_t)es + c, 0, 2);
}

/* Per batch index, with Kt / Vt a per-thread [D, Tk] scratch and dS [Tq, Tk]:
 *   forward:  Kt = K^T; S = scale Q Kt (into P); softmax rows; O = P V
 *   backward: dV = P^T dO; Vt = V^T; dP = dO Vt; dS = P (dP - rowsum(P dP)); dQ = scale dS K;
 *             dK = scale dS^T Q */
#define DEFINE_FAST(SFX, T)                                                                             \
  static void forward_##SFX(const attn_plan *p, const attn_ptrs *a, T *scratch) {                      \
    const T *q = a->q, *k = a->k, *v = a->v;                                                            \
    T *o = a->o, *P = a->P;                                                                             \
    int64_t Tq = p->Tq, Tk = p->Tk, D = p->D, Dv = p->Dv;                                               \
    int causal = p->causal;                                                                             \
    _Pragma("omp parallel for schedule(static) if (parallel_worth(p))")                                 \
    for (int64_t i = 0; i < p->nb; i++) {                                                               \
      T *Kt = scratch + (int64_t)omp_get_thread_num() * D * Tk, *S = P + i * Tq * Tk;                   \
      if (i + 1 < p->nb) {                                                                              \
        prefetch_rows(q + p->qo[i + 1], sizeof(T), Tq, D, p->ldq);                                       \
        prefetch_rows(k + p->ko[i + 1], sizeof(T), Tk, D, p->ldk);                                       \
        prefetch_rows(v + p->vo[i + 1], sizeof(T), Tk, Dv, p->ldv);                                      \
      }                                                                                                 \
      transpose_##SFX(k + p->ko[i], p->ldk, Tk, D, Kt);                                                 \
      mm_##SFX(Tq, Tk, D, (T)p->scale, q + p->qo[i], p->ldq, 1, Kt, Tk, S, Tk, causal ? TRI_LOWER_C : TRI_NONE); \
      for (int64_t r = 0; r < Tq; r++) softmax_row_##SFX(p, a->m, i, r, S + r * Tk);                   \
      mm_##SFX(Tq, Dv, Tk, 1, S, Tk, 1, v + p->vo[i], p->ldv, o + p->oo[i], p->ldo,                     \
               causal ? TRI_K_TO_ROW : TRI_NONE);                                                       \
    }                                                                                                   \
  }                                                                                                     \
  static void backward_##SFX(const attn_plan *p, const attn_ptrs *a, T *scratch) {                     \
    const T *q = a->q, *k = a->k, *v = a->v, *g = a->o, *P = a->P;                                      \
    T *dq = a->dq, *dk = a->dk, *dv = a->dv;                                                            \
    int64_t Tq = p->Tq, Tk = p->Tk, D = p->D, Dv = p->Dv;                                               \
    int causal = p->causal;                                                                             \
    _Pragma("omp parallel for schedule(static) if (parallel_worth(p))")                                 \
    for (int64_t i = 0; i < p->nb; i++) {                                                               \
      const T *Pi = P + i * Tq * Tk, *gi = g + p->oo[i];                                                \
      if (i + 1 < p->nb) {                                                                              \
        prefetch_rows(g + p->oo[i + 1], sizeof(T), Tq, Dv, p->ldo);                                      \
        prefetch_rows(q + p->qo[i + 1], sizeof(T), Tq, D, p->ldq);                                       \
        prefetch_rows(k + p->ko[i + 1], sizeof(T), Tk, D, p->ldk);                                       \
        prefetch_rows(v + p->vo[i + 1], sizeof(T), Tk, Dv, p->ldv);                                      \
      }                                                                                                 \
      if (dv) mm_##SFX(Tk, Dv, Tq, 1, Pi, 1, Tk, gi, p->ldo, dv + a->dvo[i], a->lddv,                   \
                       causal ? TRI_K_FROM_ROW : TRI_NONE);                                             \
      if (!dq && !dk) continue;                                                                         \
      T *Vt = scratch + (int64_t)omp_get_thread_num() * (Dv * Tk + Tq * Tk), *dS = Vt + Dv * Tk;        \
      transpose_##SFX(v + p->vo[i], p->ldv, Tk, Dv, Vt);                                                \
      mm_##SFX(Tq, Tk, Dv, 1, gi, p->ldo, 1, Vt, Tk, dS, Tk, causal ? TRI_LOWER_C : TRI_NONE);          \
      for (int64_t r = 0; r < Tq; r++) {                                                                \
        const T *pr = Pi + r * Tk;                                                                      \
        T *dr = dS + r * Tk, dot = 0;                                                                   \
        int64_t n = row_keys(p, r);                                                                     \
        _Pragma("omp simd reduction(+ : dot)")                                                          \
        for (int64_t c = 0; c < n; c++) dot += pr[c] * dr[c];                                           \
        _Pragma("omp simd")                                                                             \
        for (int64_t c = 0; c < n; c++) dr[c] = pr[c] * (dr[c] - dot);                                  \
        for (int64_t c = n; c < Tk; c++) dr[c] = 0;                                                     \
      }                                                                                                 \
      if (dq) mm_##SFX(Tq, D, Tk, (T)p->scale, dS, Tk, 1, k + p->ko[i], p->ldk, dq + a->dqo[i], a->lddq, \
                       causal ? TRI_K_TO_ROW : TRI_NONE);                                               \
      if (dk) mm_##SFX(Tk, D, Tq, (T)p->scale, dS, 1, Tk, q + p->qo[i], p->ldq, dk + a->dko[i], a->lddk, \
                       causal ? TRI_K_FROM_ROW : TRI_NONE);                                             \
    }                                                                                                   \
  }
DEFINE_FAST(f32, float)
DEFINE_FAST(f64, double)

/* ---------------------------------------------------------------- reference kernels */

/* element e of an operand of dtype dt, as a double */
static inline double rd(nnc_dtype dt, const void *base, int64_t e) {
  return dt == NNC_F32 ? (double)((const float *)base)[e] : ((const double *)base)[e];
}
static inline void wr(nnc_dtype dt, void *base, int64_t e, double x) {
  if (dt == NNC_F32) ((float *)base)[e] = (float)x;
  else ((double *)base)[e] = x;
}

static void forward_ref(const attn_plan *p, const attn_ptrs *a) {
  int64_t Tq = p->Tq, Tk = p->Tk;
  double *s = nnc_arena_alloc(nnc_arena_current(), (size_t)(Tk > 0 ? Tk : 1) * sizeof(double));
  for (int64_t i = 0; i < p->nb; i++)
    for (int64_t r = 0; r < Tq; r++) {
      double mx = -INFINITY;
      for (int64_t c = 0; c < Tk; c++) {
        double acc = 0;
        for (int64_t d = 0; d < p->D; d++)
          acc += rd(p->dt, a->q, p->qo[i] + r * p->ldq + d) * rd(p->dt, a->k, p->ko[i] + c * p->ldk + d);
        s[c] = keep(p, a->m, i, r, c) ? p->scale * acc : -INFINITY;
        if (s[c] > mx) mx = s[c];
      }
      double sum = 0;
      for (int64_t c = 0; c < Tk; c++) {
        s[c] = mx == -INFINITY || s[c] == -INFINITY ? 0.0 : exp(s[c] - mx);
        sum += s[c];
      }
      for (int64_t c = 0; c < Tk; c++) {
        if (sum > 0) s[c] /= sum;
        wr(p->dt, a->P, (i * Tq + r) * Tk + c, s[c]);
      }
      for (int64_t e = 0; e < p->Dv; e++) {
        double acc = 0;
        for (int64_t c = 0; c < Tk; c++) acc += s[c] * rd(p->dt, a->v, p->vo[i] + c * p->ldv + e);
        wr(p->dt, a->o, p->oo[i] + r * p->ldo + e, acc);
      }
    }
}

static void backward_ref(const attn_plan *p, const attn_ptrs *a) {
  int64_t Tq = p->Tq, Tk = p->Tk;
  nnc_dtype dt = p->dt;
  double *ds = nnc_arena_alloc(nnc_arena_current(), (size_t)(Tq * Tk > 0 ? Tq * Tk : 1) * sizeof(double));
#define PP(i, r, c) rd(dt, a->P, ((i) * Tq + (r)) * Tk + (c))
#define GO(i, r, e) rd(dt, a->o, p->oo[i] + (r) * p->ldo + (e))
  for (int64_t i = 0; i < p->nb; i++) {
    if (a->dv)
      for (int64_t c = 0; c < Tk; c++)
        for (int64_t e = 0; e < p->Dv; e++) {
          double acc = 0;
          for (int64_t r = 0; r < Tq; r++) acc += PP(i, r, c) * GO(i, r, e);
          wr(dt, a->dv, a->dvo[i] + c * a->lddv + e, acc);
        }
    for (int64_t r = 0; r < Tq; r++) {
      double dot = 0;
      for (int64_t c = 0; c < Tk; c++) {
        double dp = 0;
        for (int64_t e = 0; e < p->Dv; e++) dp += GO(i, r, e) * rd(dt, a->v, p->vo[i] + c * p->ldv + e);
        ds[r * Tk + c] = dp;
        dot += PP(i, r, c) * dp;
      }
      for (int64_t c = 0; c < Tk; c++) ds[r * Tk + c] = PP(i, r, c) * (ds[r * Tk + c] - dot);
    }
    if (a->dq)
      for (int64_t r = 0; r < Tq; r++)
        for (int64_t d = 0; d < p->D; d++) {
          double acc = 0;
          for (int64_t c = 0; c < Tk; c++) acc += ds[r * Tk + c] * rd(dt, a->k, p->ko[i] + c * p->ldk + d);
          wr(dt, a->dq, a->dqo[i] + r * a->lddq + d, p->scale * acc);
        }
    if (a->dk)
      for (int64_t c = 0; c < Tk; c++)
        for (int64_t d = 0; d < p->D; d++) {
          double acc = 0;
          for (int64_t r = 0; r < Tq; r++) acc += ds[r * Tk + c] * rd(dt, a->q, p->qo[i] + r * p->ldq + d);
          wr(dt, a->dk, a->dko[i] + c * a->lddk + d, p->scale * acc);
        }
  }
#undef PP
#undef GO
}

/* per-thread scratch: forward K^T [D, Tk]; backward V^T [Dv, Tk] and dS [Tq, Tk] */
static void *scratch_for(const attn_plan *p, bool backward) {
  int64_t nt = parallel_worth(p) ? nnc_get_threads() : 1;
  int64_t per = backward ? (p->Dv + p->Tq) * p->Tk : p->D * p->Tk;
  return nnc_arena_alloc(nnc_arena_current(), (size_t)(nt * per + 1) * nnc_dtype_size(p->dt));
}

static void run_forward(const attn_plan *p, const attn_ptrs *a) {
  if (nnc_reference_kernels()) forward_ref(p, a);
  else if (p->dt == NNC_F32) forward_f32(p, a, scratch_for(p, false));
  else forward_f64(p, a, scratch_for(p, false));
}

static void run_backward(const attn_plan *p, const attn_ptrs *a) {
  if (nnc_reference_kernels()) backward_ref(p, a);
  else if (p->dt == NNC_F32) backward_f32(p, a, scratch_for(p, true));
  else backward_f64(p, a, scratch_for(p, true));
}

/* ---------------------------------------------------------------- shared helpers */

static int64_t *arena_i64(int64_t n) {
  return nnc_arena_alloc(nnc_arena_current(), (size_t)(n > 0 ? n : 1) * sizeof(int64_t));
}

/* offsets[i] (from storage base) of row 0 of batch index i, for t read as `full` (nbd batch
 * dims then two matrix dims; t's dims right-aligned, broadcast dims stride 0) */
static int64_t *batch_offsets(const nnc_tensor *t, int nbd, const int64_t *full, int64_t nb, int64_t *stride) {
  nnc_broadcast_strides(t, nbd + 2, full, stride);
  int64_t *off = arena_i64(nb), idx[NNC_MAX_DIMS] = {0};
  for (int64_t i = 0; i < nb; i++) {
    int64_t o = t->offset;
    for (int d = 0; d < nbd; d++) o += idx[d] * stride[d];
    off[i] = o;
    for (int d = nbd - 1; d >= 0; d--) {
      if (++idx[d] < full[d]) break;
      idx[d] = 0;
    }
  }
  return off;
}

/* can the last two dims be read as a row-major matrix with unit column stride? (ld out) */
static bool unit_rows(const nnc_tensor *t, int64_t *ld) {
  int64_t rows = t->shape[t->ndim - 2], cols = t->shape[t->ndim - 1];
  int64_t rs = t->stride[t->ndim - 2], cs = t->stride[t->ndim - 1];
  int64_t minld = cols > 0 ? cols : 1;
  if (cs != 1 && cols > 1) return false;
  *ld = rows <= 1 ? minld : rs;
  return *ld >= minld;
}

static nnc_tensor *as_unit_rows(nnc_tensor *t, int64_t *ld) {
  if (!unit_rows(t, ld)) {
    t = nnc_contiguous(t);
    unit_rows(t, ld);
  }
  return t;
}

/* the mask's strides read as [batch..., Tq, Tk]; NULL offsets without a mask */
static void plan_mask(attn_plan *p, const nnc_tensor *mask, int nbd, const int64_t *bshape, const char *op) {
  p->mo = NULL;
  if (!mask) return;
  char s[96], f[96];
  NNC_CHECK(mask->dtype == NNC_U8, op, "mask must be u8 (1 = keep), not %s", nnc_dtype_name(mask->dtype));
  int64_t full[NNC_MAX_DIMS];
  memcpy(full, bshape, sizeof(int64_t) * nbd);
  full[nbd] = p->Tq;
  full[nbd + 1] = p->Tk;
  nnc_tensor fake = {.ndim = nbd + 2};
  memcpy(fake.shape, full, sizeof full);
  bool fits = mask->ndim <= nbd + 2;
  for (int d = 0; fits && d < mask->ndim; d++) {
    int64_t m = mask->shape[mask->ndim - 1 - d], w = full[nbd + 1 - d];
    fits = m == w || m == 1;
  }
  NNC_CHECK(fits, op, "mask %s does not broadcast to %s", nnc_shape_str(mask, s, 96), nnc_shape_str(&fake, f, 96));
  int64_t st[NNC_MAX_DIMS];
  p->mo = batch_offsets(mask, nbd, full, p->nb, st);
  p->msq = st[nbd];
  p->msk = st[nbd + 1];
}

/* x->grad = g when x has none yet and g is a private contiguous tensor of x's shape (saves
 * the zero fill and the add of nnc_accum_grad); otherwise accumulate */
static void give_grad(nnc_tensor *x, nnc_tensor *g) {
  if (x->requires_grad && !x->grad && x->dtype == g->dtype && nnc_same_shape(x, g)) x->grad = g;
  else nnc_accum_grad(x, g);
}

/* ---------------------------------------------------------------- nnc_attention */

static void attention_backward(nnc_node *n) {
  attn_plan *p = n->ctx;
  nnc_tensor *q = nnc_saved(n, 0), *k = nnc_saved(n, 1), *v = nnc_saved(n, 2), *P = nnc_saved(n, 3);
  nnc_tensor *g = n->out->grad; /* contiguous, out's shape */
  attn_plan pb = *p;
  int64_t *go = arena_i64(p->nb);
  for (int64_t i = 0; i < p->nb; i++) go[i] = g->offset + i * p->Tq * p->Dv;
  pb.oo = go;
  pb.ldo = p->Dv;
  attn_ptrs a = {.q = q->storage->data, .k = k->storage->data, .v = v->storage->data, .o = g->storage->data,
                 .P = nnc_data(P)};
  /* gradients over the full (broadcast) batch; accum sums them back to each input's shape */
  int nbd = n->out->ndim - 2;
  int64_t shp[NNC_MAX_DIMS];
  memcpy(shp, n->out->shape, sizeof shp);
  nnc_tensor *dq = NULL, *dk = NULL, *dv = NULL;
  int64_t *oq = arena_i64(p->nb), *ok = arena_i64(p->nb), *ov = arena_i64(p->nb);
  for (int64_t i = 0; i < p->nb; i++) oq[i] = i * p->Tq * p->D, ok[i] = i * p->Tk * p->D, ov[i] = i * p->Tk * p->Dv;
  if (n->in[0]->requires_grad) {
    shp[nbd] = p->Tq, shp[nbd + 1] = p->D;
    dq = nnc_empty(p->dt, nbd + 2, shp);
    a.dq = nnc_data(dq), a.dqo = oq, a.lddq = p->D;
  }
  if (n->in[1]->requires_grad) {
    shp[nbd] = p->Tk, shp[nbd + 1] = p->D;
    dk = nnc_empty(p->dt, nbd + 2, shp);
    a.dk = nnc_data(dk), a.dko = ok, a.lddk = p->D;
  }
  if (n->in[2]->requires_grad) {
    shp[nbd] = p->Tk, shp[nbd + 1] = p->Dv;
    dv = nnc_empty(p->dt, nbd + 2, shp);
    a.dv = nnc_data(dv), a.dvo = ov, a.lddv = p->Dv;
  }
  if (nnc_numel(n->out) > 0 || p->Tk > 0) run_backward(&pb, &a);
  if (dq) give_grad(n->in[0], dq);
  if (dk) give_grad(n->in[1], dk);
  if (dv) give_grad(n->in[2], dv);
}
NNC_OP_DEF(op_attention, "attention", attention_backward);

nnc_tensor *nnc_attention(nnc_tensor *q, nnc_tensor *k, nnc_tensor *v, const nnc_tensor *mask, bool causal,
                          double scale) {
  char sq[96], sk[96], sv[96];
  nnc_check_float_pair(q, k, "attention");
  nnc_check_float_pair(q, v, "attention");
  NNC_CHECK(q->ndim >= 2 && k->ndim >= 2 && v->ndim >= 2, "attention", "q %s, k %s, v %s: each needs [..., T, D]",
            nnc_shape_str(q, sq, 96), nnc_shape_str(k, sk, 96), nnc_shape_str(v, sv, 96));
  int64_t Tq = q->shape[q->ndim - 2], D = q->shape[q->ndim - 1];
  int64_t Tk = k->shape[k->ndim - 2], Dv = v->shape[v->ndim - 1];
  NNC_CHECK(k->shape[k->ndim - 1] == D && v->shape[v->ndim - 2] == Tk, "attention",
            "q %s, k %s, v %s: expected q [..., Tq, D], k [..., Tk, D], v [..., Tk, Dv]", nnc_shape_str(q, sq, 96),
            nnc_shape_str(k, sk, 96), nnc_shape_str(v, sv, 96));
  NNC_CHECK(scale >= 0 && isfinite(scale), "attention", "scale %g (0 = 1/sqrt(D))", scale);
  /* the batch dims of the three broadcast together */
  nnc_tensor bq = *q, bk = *k, bv = *v;
  bq.ndim -= 2, bk.ndim -= 2, bv.ndim -= 2;
  int nbd, nbd2;
  int64_t bshape[NNC_MAX_DIMS], bshape2[NNC_MAX_DIMS];
  nnc_broadcast_shape(&bq, &bk, "attention", &nbd, bshape);
  nnc_tensor bqk = {.ndim = nbd};
  memcpy(bqk.shape, bshape, sizeof bshape);
  nnc_broadcast_shape(&bqk, &bv, "attention", &nbd2, bshape2);
  nbd = nbd2;
  memcpy(bshape, bshape2, sizeof bshape);
  int64_t nb = 1;
  for (int d = 0; d < nbd; d++) nb *= bshape[d];

  attn_plan *p = nnc_arena_calloc(nnc_arena_current(), sizeof *p);
  p->dt = q->dtype;
  p->nb = nb, p->Tq = Tq, p->Tk = Tk, p->D = D, p->Dv = Dv;
  p->scale = scale > 0 ? scale : 1.0 / sqrt((double)(D > 0 ? D : 1));
  p->causal = causal;
  q = as_unit_rows(q, &p->ldq);
  k = as_unit_rows(k, &p->ldk);
  v = as_unit_rows(v, &p->ldv);
  int64_t full[NNC_MAX_DIMS], st[NNC_MAX_DIMS];
  memcpy(full, bshape, sizeof(int64_t) * nbd);
  full[nbd] = Tq, full[nbd + 1] = D;
  p->qo = batch_offsets(q, nbd, full, nb, st);
  full[nbd] = Tk;
  p->ko = batch_offsets(k, nbd, full, nb, st);
  full[nbd + 1] = Dv;
  p->vo = batch_offsets(v, nbd, full, nb, st);
  plan_mask(p, mask, nbd, bshape, "attention");

  full[nbd] = Tq;
  nnc_tensor *out = nnc_empty(p->dt, nbd + 2, full);
  full[nbd + 1] = Tk;
  nnc_tensor *P = nnc_empty(p->dt, nbd + 2, full);
  p->oo = arena_i64(nb);
  for (int64_t i = 0; i < nb; i++) p->oo[i] = out->offset + i * Tq * Dv;
  p->ldo = Dv;
  attn_ptrs a = {.q = q->storage->data, .k = k->storage->data, .v = v->storage->data,
                 .m = mask ? mask->storage->data : NULL, .o = out->storage->data, .P = nnc_data(P)};
  if (nb > 0 && Tq > 0) run_forward(p, &a);

  nnc_tensor *in[3] = {q, k, v};
  nnc_node *n = nnc_record(&op_attention, out, 3, in);
  if (n) {
    nnc_save(n, q);
    nnc_save(n, k);
    nnc_save(n, v);
    nnc_save(n, P);
    n->f[0] = p->scale;
    n->i[0] = causal;
    n->ctx = p;
  }
  return out;
}

/* ---------------------------------------------------------------- packed heads */

/* the plan of qkv [B, T, 3E] with `heads` heads: batch index i = b*H + h */
static attn_plan *packed_plan(const nnc_tensor *qkv, int64_t H, bool causal, double scale) {
  int64_t B = qkv->shape[0], T = qkv->shape[1], E = qkv->shape[2] / 3, D = E / H;
  attn_plan *p = nnc_arena_calloc(nnc_arena_current(), sizeof *p);
  p->dt = qkv->dtype;
  p->nb = B * H, p->Tq = T, p->Tk = T, p->D = D, p->Dv = D;
  p->scale = scale > 0 ? scale : 1.0 / sqrt((double)(D > 0 ? D : 1));
  p->causal = causal;
  p->ldq = p->ldk = p->ldv = 3 * E;
  p->ldo = E;
  p->qo = arena_i64(p->nb), p->ko = arena_i64(p->nb), p->vo = arena_i64(p->nb), p->oo = arena_i64(p->nb);
  for (int64_t b = 0; b < B; b++)
    for (int64_t h = 0; h < H; h++) {
      int64_t i = b * H + h, base = b * T * 3 * E + h * D;
      p->qo[i] = base, p->ko[i] = base + E, p->vo[i] = base + 2 * E;
      p->oo[i] = b * T * E + h * D;
    }
  return p;
}

static void attention_packed_backward(nnc_node *n) {
  attn_plan *p = n->ctx;
  nnc_tensor *qkv = nnc_saved(n, 0), *P = nnc_saved(n, 1), *g = n->out->grad;
  /* offsets relative to the tensors' data (qkv's plan offsets are from its data too) */
  const char *base = nnc_data(qkv);
  nnc_tensor *dqkv = nnc_empty(p->dt, 3, qkv->shape);
  attn_ptrs a = {.q = base, .k = base, .v = base, .o = nnc_data(g), .P = nnc_data(P)};
  a.dq = a.dk = a.dv = nnc_data(dqkv);
  a.dqo = p->qo, a.dko = p->ko, a.dvo = p->vo;
  a.lddq = a.lddk = a.lddv = p->ldq;
  run_backward(p, &a);
  give_grad(n->in[0], dqkv);
}
NNC_OP_DEF(op_attention_packed, "attention_packed", attention_packed_backward);

nnc_tensor *nnc_attention_packed(nnc_tensor *qkv, int64_t heads, const nnc_tensor *mask, bool causal, double scale) {
  char s[96];
  nnc_check_float(qkv, "attention_packed");
  NNC_CHECK(qkv->ndim == 3 && heads > 0 && qkv->shape[2] % (3 * heads) == 0, "attention_packed",
            "qkv %s with %lld heads: expected [B, T, 3*heads*D]", nnc_shape_str(qkv, s, 96), (long long)heads);
  NNC_CHECK(scale >= 0 && isfinite(scale), "attention_packed", "scale %g (0 = 1/sqrt(D))", scale);
  qkv = nnc_contiguous(qkv);
  int64_t B = qkv->shape[0], T = qkv->shape[1], E = qkv->shape[2] / 3;
  attn_plan *p = packed_plan(qkv, heads, causal, scale);
  int64_t bshape[2] = {B, heads};
  plan_mask(p, mask, 2, bshape, "attention_packed");
  nnc_tensor *out = nnc_empty(qkv->dtype, NNC_SHAPE(B, T, E));
  nnc_tensor *P = nnc_empty(qkv->dtype, NNC_SHAPE(B, heads, T, T));
  attn_ptrs a = {.q = nnc_data(qkv), .k = nnc_data(qkv), .v = nnc_data(qkv), .m = mask ? mask->storage->data : NULL,
                 .o = nnc_data(out), .P = nnc_data(P)};
  if (B > 0 && T > 0) run_forward(p, &a);
  nnc_node *n = nnc_record(&op_attention_packed, out, 1, &qkv);
  if (n) {
    nnc_save(n, qkv);
    nnc_save(n, P);
    n->ctx = p;
  }
  return out;
}

/* ---------------------------------------------------------------- chunked */

nnc_tensor *nnc_chunked_attention(nnc_tensor *q, nnc_tensor *k, nnc_tensor *v, int64_t chunk, bool causal) {
  char sq[96], sk[96], sv[96];
  NNC_CHECK(q->ndim >= 2 && k->ndim >= 2 && v->ndim >= 2 && chunk > 0, "chunked_attention",
            "q %s, k %s, v %s, chunk %lld: expected [..., T, D] operands and chunk > 0", nnc_shape_str(q, sq, 96),
            nnc_shape_str(k, sk, 96), nnc_shape_str(v, sv, 96), (long long)chunk);
  int64_t T = q->shape[q->ndim - 2];
  NNC_CHECK(k->shape[k->ndim - 2] == T, "chunked_attention", "q %s and k %s: block-local attention needs Tq == Tk",
            nnc_shape_str(q, sq, 96), nnc_shape_str(k, sk, 96));
  if (T % chunk == 0 && q->ndim < NNC_MAX_DIMS && k->ndim < NNC_MAX_DIMS && v->ndim < NNC_MAX_DIMS) {
    /* [..., T, D] -> [..., T/chunk, chunk, D]: each chunk is its own batch index */
    nnc_tensor *x[3] = {q, k, v};
    int64_t shp[NNC_MAX_DIMS];
    for (int j = 0; j < 3; j++) {
      int nd = x[j]->ndim;
      memcpy(shp, x[j]->shape, sizeof(int64_t) * (nd - 2));
      shp[nd - 2] = T / chunk, shp[nd - 1] = chunk, shp[nd] = x[j]->shape[nd - 1];
      x[j] = nnc_reshape(x[j], nd + 1, shp);
    }
    nnc_tensor *o = nnc_attention(x[0], x[1], x[2], NULL, causal, 0);
    memcpy(shp, o->shape, sizeof(int64_t) * (o->ndim - 3));
    shp[o->ndim - 3] = T, shp[o->ndim - 2] = o->shape[o->ndim - 1];
    return nnc_reshape(o, o->ndim - 1, shp);
  }
  /* otherwise a [T, T] mask: keep (r, c) when they share a chunk */
  nnc_tensor *mask = nnc_empty(NNC_U8, NNC_SHAPE(T, T));
  uint8_t *m = nnc_u8(mask);
  for (int64_t r = 0; r < T; r++)
    for (int64_t c = 0; c < T; c++) m[r * T + c] = r / chunk == c / chunk;
  return nnc_attention(q, k, v, mask, causal, 0);
}
