/* ops/scan.c: linear recurrences over the time axis.
 *
 *   scan_diag   h_t = a_t * h_{t-1} + bx_t, elementwise, x [B, T, D] (Mamba's selective scan
 *               after discretisation; a may be negative: the negative-eigenvalue extension)
 *   scan_delta  the delta rule (DeltaNet), per leading index (batch, head):
 *                 S_t = S_{t-1} (I - beta_t k_t k_t^T) + beta_t v_t k_t^T,   o_t = S_t q_t
 *
 * Reference kernels: the plain step-by-step loop in double, one thread; their backward is the
 * plain reverse-time loop (the delta rule's keeps every state).  The kernel kind (reference
 * or fast) is chosen at forward time and the backward follows it.
 *
 * Fast diag.  Work units are (batch, block of 64 channels, time chunk); the inner loops run
 * over the channels of a block (contiguous, vectorised).  When batch x channel blocks give
 * fewer than 64 units the time axis is cut into chunks (at least 32 steps): pass 1 gives each
 * chunk's product of a and its partial scan from a zero state (in parallel); pass 2 chains the
 * chunk-entry states (cheap, sequential); pass 3 rescans every chunk from its entry state,
 * writing h (in parallel).  The split depends only on the shapes, so results do not depend on
 * the thread count.  Backward is the same scan in reverse time:
 *   dh_t = g_t + a_{t+1} dh_{t+1},   da_t = dh_t h_{t-1},   dbx_t = dh_t,   dh0 = a_0 dh_0.
 *
 * Fast delta.  The state is kept transposed, P = S^T [Dk, Dv], so that every step is a few
 * axpy-like passes over P's rows, vectorised over Dv with no horizontal sums:
 *   u = P^T k (= S k);  r = v - u;  w = beta r;  P += k w^T;  o = P^T q.
 * Rows of S evolve independently, so the forward splits over (leading index, block of Dv).
 * For backward the forward saves r_t and the state entering every chunk of 32 steps; backward
 * walks the chunks from last to first, recomputes the chunk's states from its checkpoint
 * (bit-identical to the forward: the same expressions on the same r), then steps back:
 *   dS~ = dS + dO_t q_t^T;  dq_t = S_t^T dO_t;  dw = dS~ k_t;  dk_t = dS~^T w + S_{t-1}^T du;
 *   dbeta_t = dw . r_t;  dv_t = beta_t dw;  du = -beta_t dw;  dS <- dS~ + du k_t^T.
 * The chunkwise-parallel WY form (Yang et al. 2024) was not taken: per chunk of C steps it
 * does about C^2 (Dk + Dv) + 5 C Dk Dv multiply-adds against the step loop's 3 C Dk Dv
 * (2.4x as many at C = Dk = Dv = 32), which only GEMM efficiency could pay back, and 32x32
 * products do not get it on a CPU; the step loop runs at about 28 GFLOP/s on one core
 * (tests/test_scan.c prints the timings). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "autograd/autograd.h"
#include "core/error.h"
#include "core/threads.h"
#include "ops/ops.h"

/* contiguous element i of a float tensor's data, as a double (reference kernels) */
static inline double ld(const void *p, nnc_dtype dt, int64_t i) {
  return dt == NNC_F32 ? (double)((const float *)p)[i] : ((const double *)p)[i];
}
static inline void st(void *p, nnc_dtype dt, int64_t i, double v) {
  if (dt == NNC_F32) ((float *)p)[i] = (float)v;
  else ((double *)p)[i] = v;
}
static inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

/* ============================ diagonal scan ============================ */

#define DIAG_DB 64    /* channels per work unit */
#define DIAG_CMIN 32  /* shortest time chunk */
#define DIAG_UNITS 64 /* work units wanted before the time axis is chunked */

typedef struct {
  int64_t B, T, D, ndb, nch, clen; /* sizes, channel blocks, time chunks, chunk length */
} diag_plan;

static diag_plan diag_make_plan(int64_t B, int64_t T, int64_t D) {
  diag_plan p = {B, T, D, (D + DIAG_DB - 1) / DIAG_DB, 1, T};
  int64_t units = B * p.ndb;
  if (units > 0 && units < DIAG_UNITS && T >= 2 * DIAG_CMIN) {
    int64_t want = (DIAG_UNITS + units - 1) / units, most = T / DIAG_CMIN;
    p.nch = min64(want, most);
    p.clen = (T + p.nch - 1) / p.nch;
    p.nch = (T + p.clen - 1) / p.clen;
  }
  return p;
}

/* unit u -> batch b, first channel d0, channels len, chunk c, steps [t0, t1) */
#define DIAG_UNIT(p, u, nchunks, b, d0, len, c, t0, t1)                   \
  int64_t c = (u) % (nchunks), b = (u) / (nchunks) / (p).ndb;            \
  int64_t d0 = (u) / (nchunks) % (p).ndb * DIAG_DB;                      \
  int64_t len = min64(DIAG_DB, (p).D - d0), t0 = c * (p).clen;           \
  int64_t t1 = min64(t0 + (p).clen, (p).T)

#define DIAG_KERNELS(T_, sfx)                                                                          \
  /* h [B, T, D] from a, x [B, T, D] and h0 [B, D] (may be NULL) */                                   \
  static void diag_fwd_##sfx(const T_ *a, const T_ *x, const T_ *h0, T_ *y, diag_plan p) {            \
    const int64_t Tn = p.T, D = p.D, nch = p.nch;                                                     \
    const bool par = p.B * Tn * D >= NNC_PARALLEL_MIN;                                                \
    T_ *carry = NULL; /* [B, nch, D]: the state entering each chunk */                                \
    if (nch > 1) {                                                                                    \
      T_ *prod = nnc_xmalloc(sizeof(T_) * (size_t)(p.B * nch * D));                                   \
      T_ *part = nnc_xmalloc(sizeof(T_) * (size_t)(p.B * nch * D));                                   \
      carry = nnc_xmalloc(sizeof(T_) * (size_t)(p.B * nch * D));                                      \
      _Pragma("omp parallel for if (par) schedule(static)")                                           \
      for (int64_t u = 0; u < p.B * p.ndb * nch; u++) {                                               \
        DIAG_UNIT(p, u, nch, b, d0, len, c, t0, t1);                                                  \
        if (c == nch - 1) continue; /* the last chunk's summary is not needed */                      \
        T_ P[DIAG_DB], S[DIAG_DB];                                                                    \
        for (int64_t i = 0; i < len; i++) P[i] = 1, S[i] = 0;                                         \
        for (int64_t t = t0; t < t1; t++) {                                                           \
          const T_ *ar = a + (b * Tn + t) * D + d0, *xr = x + (b * Tn + t) * D + d0;                  \
          _Pragma("omp simd")                                                                         \
          for (int64_t i = 0; i < len; i++) {                                                         \
            P[i] *= ar[i];                                                                            \
            S[i] = ar[i] * S[i] + xr[i];                                                              \
          }                                                                                           \
        }                                                                                             \
        memcpy(prod + (b * nch + c) * D + d0, P, sizeof(T_) * (size_t)len);                           \
        memcpy(part + (b * nch + c) * D + d0, S, sizeof(T_) * (size_t)len);                           \
      }                                                                                               \
      for (int64_t b = 0; b < p.B; b++) {                                                             \
        T_ *c0 = carry + b * nch * D;                                                                 \
        for (int64_t d = 0; d < D; d++) c0[d] = h0 ? h0[b * D + d] : 0;                               \
        for (int64_t c = 0; c + 1 < nch; c++) {                                                       \
          const T_ *pc = prod + (b * nch + c) * D, *sc = part + (b * nch + c) * D;                    \
          T_ *in = carry + (b * nch + c) * D, *next = in + D;                                         \
          for (int64_t d = 0; d < D; d++) next[d] = pc[d] * in[d] + sc[d];                            \
        }                                                                                             \
      }                                                                                               \
      free(prod);                                                                                     \
      free(part);                                                                                     \
    }                                                                                                 \
    _Pragma("omp parallel for if (par) schedule(static)")                                             \
    for (int64_t u = 0; u < p.B * p.ndb * nch; u++) {                                                 \
      DIAG_UNIT(p, u, nch, b, d0, len, c, t0, t1);                                                    \
      T_ h[DIAG_DB];                                                                                  \
      for (int64_t i = 0; i < len; i++)                                                               \
        h[i] = carry ? carry[(b * nch + c) * D + d0 + i] : h0 ? h0[b * D + d0 + i] : 0;               \
      for (int64_t t = t0; t < t1; t++) {                                                             \
        const int64_t row = (b * Tn + t) * D + d0;                                                    \
        const T_ *ar = a + row, *xr = x + row;                                                        \
        T_ *yr = y + row;                                                                             \
        _Pragma("omp simd")                                                                           \
        for (int64_t i = 0; i < len; i++) {                                                           \
          h[i] = ar[i] * h[i] + xr[i];                                                                \
          yr[i] = h[i];                                                                               \
        }                                                                                             \
      }                                                                                               \
    }                                                                                                 \
    free(carry);                                                                                      \
  }                                                                                                   \
                                                                                                      \
  /* reverse scan: dh (= dbx) [B, T, D], da [B, T, D] (may be NULL), dh0 [B, D] (may be NULL) from   \
   * g [B, T, D], a, the forward's h and h0 (may be NULL) */                                          \
  static void diag_bwd_##sfx(const T_ *a, const T_ *y, const T_ *h0, const T_ *g, T_ *dh, T_ *da,     \
                             T_ *dh0, diag_plan p) {                                                  \
    const int64_t Tn = p.T, D = p.D, nch = p.nch;                                                     \
    const bool par = p.B * Tn * D >= NNC_PARALLEL_MIN;                                                \
    T_ *carry = NULL; /* [B, nch, D]: dh_{t1} entering each chunk from the later ones */              \
    if (nch > 1) {                                                                                    \
      T_ *prod = nnc_xmalloc(sizeof(T_) * (size_t)(p.B * nch * D));                                   \
      T_ *part = nnc_xmalloc(sizeof(T_) * (size_t)(p.B * nch * D));                                   \
      carry = nnc_xmalloc(sizeof(T_) * (size_t)(p.B * nch * D));                                      \
      _Pragma("omp parallel for if (par) schedule(static)")                                           \
      for (int64_t u = 0; u < p.B * p.ndb * nch; u++) {                                               \
        DIAG_UNIT(p, u, nch, b, d0, len, c, t0, t1);                                                  \
        if (c == 0) continue; /* the first chunk's summary is not needed */                           \
        T_ P[DIAG_DB], S[DIAG_DB];                                                                    \
        int64_t t = t1 - 1;                                                                           \
        for (int64_t i = 0; i < len; i++) P[i] = 1, S[i] = 0;                                         \
        if (t1 == Tn) { /* the last step has no successor: dh_{T-1} = g_{T-1} */                      \
          for (int64_t i = 0; i < len; i++) P[i] = 0, S[i] = g[(b * Tn + t) * D + d0 + i];            \
          t--;                                                                                        \
        }                                                                                             \
        for (; t >= t0; t--) {                                                                        \
          const T_ *an = a + (b * Tn + t + 1) * D + d0, *gr = g + (b * Tn + t) * D + d0;              \
          _Pragma("omp simd")                                                                         \
          for (int64_t i = 0; i < len; i++) {                                                         \
            P[i] *= an[i];                                                                            \
            S[i] = an[i] * S[i] + gr[i];                                                              \
          }                                                                                           \
        }                                                                                             \
        memcpy(prod + (b * nch + c) * D + d0, P, sizeof(T_) * (size_t)len);                           \
        memcpy(part + (b * nch + c) * D + d0, S, sizeof(T_) * (size_t)len);                           \
      }                                                                                               \
      for (int64_t b = 0; b < p.B; b++) {                                                             \
        T_ *last = carry + (b * nch + nch - 1) * D;                                                   \
        for (int64_t d = 0; d < D; d++) last[d] = 0;                                                  \
        for (int64_t c = nch - 1; c > 0; c--) {                                                       \
          const T_ *pc = prod + (b * nch + c) * D, *sc = part + (b * nch + c) * D;                    \
          T_ *in = carry + (b * nch + c) * D, *prev = in - D;                                         \
          for (int64_t d = 0; d < D; d++) prev[d] = pc[d] * in[d] + sc[d];                            \
        }                                                                                             \
      }                                                                                               \
      free(prod);                                                                                     \
      free(part);                                                                                     \
    }                                                                                                 \
    _Pragma("omp parallel for if (par) schedule(static)")                                             \
    for (int64_t u = 0; u < p.B * p.ndb * nch; u++) {                                                 \
      DIAG_UNIT(p, u, nch, b, d0, len, c, t0, t1);                                                    \
      T_ s[DIAG_DB], zero[DIAG_DB];                                                                   \
      for (int64_t i = 0; i < len; i++)                                                               \
        s[i] = carry ? carry[(b * nch + c) * D + d0 + i] : 0, zero[i] = 0;                            \
      for (int64_t t = t1 - 1; t >= t0; t--) {                                                        \
        const int64_t row = (b * Tn + t) * D + d0;                                                    \
        const T_ *gr = g + row;                                                                       \
        if (t + 1 < Tn) {                                                                             \
          const T_ *an = a + row + D;                                                                 \
          _Pragma("omp simd")                                                                         \
          for (int64_t i = 0; i < len; i++) s[i] = an[i] * s[i] + gr[i];                             \
        } else {                                                                                      \
          for (int64_t i = 0; i < len; i++) s[i] = gr[i];                                             \
        }                                                                                             \
        memcpy(dh + row, s, sizeof(T_) * (size_t)len);                                                \
        if (da) {                                                                                     \
          const T_ *hp = t > 0 ? y + row - D : h0 ? h0 + b * D + d0 : zero;                           \
          T_ *dar = da + row;                                                                         \
          _Pragma("omp simd")                                                                         \
          for (int64_t i = 0; i < len; i++) dar[i] = s[i] * hp[i];                                    \
        }                                                                                             \
        if (t == 0 && dh0)                                                                            \
          for (int64_t i = 0; i < len; i++) dh0[b * D + d0 + i] = a[row + i] * s[i];                  \
      }                                                                                               \
    }                                                                                                 \
    free(carry);                                                                                      \
  }
DIAG_KERNELS(float, f32)
DIAG_KERNELS(double, f64)

/* the plain loop, in double */
static void diag_fwd_ref(nnc_dtype dt, const void *a, const void *x, const void *h0, void *y, int64_t B, int64_t T,
                         int64_t D) {
  double *h = nnc_xmalloc(sizeof(double) * (size_t)(D > 0 ? D : 1));
  for (int64_t b = 0; b < B; b++) {
    for (int64_t d = 0; d < D; d++) h[d] = h0 ? ld(h0, dt, b * D + d) : 0.0;
    for (int64_t t = 0; t < T; t++)
      for (int64_t d = 0; d < D; d++) {
        int64_t i = (b * T + t) * D + d;
        h[d] = ld(a, dt, i) * h[d] + ld(x, dt, i);
        st(y, dt, i, h[d]);
      }
  }
  free(h);
}

static void diag_bwd_ref(nnc_dtype dt, const void *a, const void *y, const void *h0, const void *g, void *dh, void *da,
                         void *dh0, int64_t B, int64_t T, int64_t D) {
  double *s = nnc_xmalloc(sizeof(double) * (size_t)(D > 0 ? D : 1));
  for (int64_t b = 0; b < B; b++) {
    for (int64_t d = 0; d < D; d++) s[d] = 0.0;
    for (int64_t t = T - 1; t >= 0; t--)
      for (int64_t d = 0; d < D; d++) {
        int64_t i = (b * T + t) * D + d;
        s[d] = ld(g, dt, i) + (t + 1 < T ? ld(a, dt, i + D) * s[d] : 0.0);
        st(dh, dt, i, s[d]);
        double hp = t > 0 ? ld(y, dt, i - D) : h0 ? ld(h0, dt, b * D + d) : 0.0;
        if (da) st(da, dt, i, s[d] * hp);
        if (t == 0 && dh0) st(dh0, dt, b * D + d, ld(a, dt, i) * s[d]);
      }
  }
  free(s);
}

static void scan_diag_backward(nnc_node *n) {
  nnc_tensor *a = nnc_saved(n, 0), *y = nnc_saved(n, 1), *h0 = n->n_saved > 2 ? nnc_saved(n, 2) : NULL;
  nnc_tensor *g = n->out->grad;
  int64_t B = a->shape[0], T = a->shape[1], D = a->shape[2];
  nnc_tensor *dh = nnc_empty_like(a);
  nnc_tensor *da = n->in[0]->requires_grad ? nnc_empty_like(a) : NULL;
  nnc_tensor *dh0 = h0 && n->in[2]->requires_grad ? nnc_empty_like(h0) : NULL;
  const void *h0p = h0 ? nnc_data(h0) : NULL;
  void *dap = da ? nnc_data(da) : NULL, *dh0p = dh0 ? nnc_data(dh0) : NULL;
  if (n->i[0])
    diag_bwd_ref(a->dtype, nnc_data(a), nnc_data(y), h0p, nnc_data(g), nnc_data(dh), dap, dh0p, B, T, D);
  else if (a->dtype == NNC_F32)
    diag_bwd_f32(nnc_data(a), nnc_data(y), h0p, nnc_data(g), nnc_data(dh), dap, dh0p, diag_make_plan(B, T, D));
  else
    diag_bwd_f64(nnc_data(a), nnc_data(y), h0p, nnc_data(g), nnc_data(dh), dap, dh0p, diag_make_plan(B, T, D));
  if (da) nnc_accum_grad(n->in[0], da);
  nnc_accum_grad(n->in[1], dh);
  if (dh0) nnc_accum_grad(n->in[2], dh0);
}
NNC_OP_DEF(op_scan_diag, "scan_diag", scan_diag_backward);

nnc_tensor *nnc_scan_diag(nnc_tensor *a, nnc_tensor *bx, nnc_tensor *h0) {
  char s1[96], s2[96], s3[96];
  nnc_check_float_pair(a, bx, "scan_diag");
  NNC_CHECK(a->ndim == 3 && nnc_same_shape(a, bx), "scan_diag", "a %s and bx %s must both be [B, T, D]",
            nnc_shape_str(a, s1, 96), nnc_shape_str(bx, s2, 96));
  int64_t B = a->shape[0], T = a->shape[1], D = a->shape[2];
  if (h0) {
    nnc_check_float_pair(a, h0, "scan_diag");
    NNC_CHECK(h0->ndim == 2 && h0->shape[0] == B && h0->shape[1] == D, "scan_diag", "h0 %s for a %s (expects [%lld, %lld])",
              nnc_shape_str(h0, s3, 96), nnc_shape_str(a, s1, 96), (long long)B, (long long)D);
    h0 = nnc_contiguous(h0);
  }
  a = nnc_contiguous(a);
  bx = nnc_contiguous(bx);
  nnc_tensor *y = nnc_empty(a->dtype, 3, a->shape);
  const void *h0p = h0 ? nnc_data(h0) : NULL;
  bool ref = nnc_reference_kernels();
  if (ref) diag_fwd_ref(a->dtype, nnc_data(a), nnc_data(bx), h0p, nnc_data(y), B, T, D);
  else if (a->dtype == NNC_F32) diag_fwd_f32(nnc_data(a), nnc_data(bx), h0p, nnc_data(y), diag_make_plan(B, T, D));
  else diag_fwd_f64(nnc_data(a), nnc_data(bx), h0p, nnc_data(y), diag_make_plan(B, T, D));
  nnc_tensor *in[3] = {a, bx, h0};
  nnc_node *n = nnc_record(&op_scan_diag, y, h0 ? 3 : 2, in);
  if (n) {
    nnc_save(n, a);
    nnc_save(n, y);
    if (h0) nnc_save(n, h0);
    n->i[0] = ref;
  }
  return y;
}

/* ============================ delta rule ============================ */

#define DELTA_CK 32 /* steps per backward checkpoint */
#define DELTA_VB 64 /* most Dv rows per forward work unit */

typedef struct {
  int64_t BH, T, Dk, Dv, nck; /* leading size, steps, key and value dims, checkpoints */
} delta_dims;

#define DELTA_KERNELS(T_, sfx)                                                                         \
  /* o [BH, T, Dv]; P [BH, Dk, Dv] gets the final state (transposed); ckpt [BH, nck, Dk, Dv] and r  \
   * [BH, T, Dv] (both NULL without backward) get the state entering each chunk and v_t - S k_t.   \
   * S0 [BH, Dv, Dk] may be NULL. */                                                                  \
  static void delta_fwd_##sfx(const T_ *q, const T_ *k, const T_ *v, const T_ *beta, const T_ *S0, T_ *o,   \
                              T_ *P, T_ *ckpt, T_ *r, delta_dims z, int64_t vb) {                       \
    const int64_t Tn = z.T, Dk = z.Dk, Dv = z.Dv, nvb = (Dv + vb - 1) / vb;                            \
    _Pragma("omp parallel for if (z.BH * Tn * Dk * Dv >= NNC_PARALLEL_MIN) schedule(static)")         \
    for (int64_t un = 0; un < z.BH * nvb; un++) {                                                     \
      const int64_t bh = un / nvb, i0 = un % nvb * vb, L = min64(vb, Dv - i0);                        \
      T_ *Pb = P + bh * Dk * Dv + i0;                                                                 \
      for (int64_t j = 0; j < Dk; j++)                                                                \
        for (int64_t i = 0; i < L; i++) Pb[j * Dv + i] = S0 ? S0[(bh * Dv + i0 + i) * Dk + j] : 0;    \
      T_ u[DELTA_VB], w[DELTA_VB], ov[DELTA_VB];                                                      \
      for (int64_t t = 0; t < Tn; t++) {                                                              \
        if (ckpt && t % DELTA_CK == 0) {                                                              \
          T_ *cp = ckpt + (bh * z.nck + t / DELTA_CK) * Dk * Dv + i0;                                 \
          for (int64_t j = 0; j < Dk; j++) memcpy(cp + j * Dv, Pb + j * Dv, sizeof(T_) * (size_t)L);  \
        }                                                                                             \
        const int64_t tk = (bh * Tn + t) * Dk, tv = (bh * Tn + t) * Dv + i0;                          \
        const T_ *kt = k + tk, *qt = q + tk, bt = beta[bh * Tn + t];                                  \
        for (int64_t i = 0; i < L; i++) u[i] = 0, ov[i] = 0;                                          \
        for (int64_t j = 0; j < Dk; j++) {                                                            \
          const T_ kj = kt[j], *Pj = Pb + j * Dv;                                                     \
          _Pragma("omp simd")                                                                         \
          for (int64_t i = 0; i < L; i++) u[i] += kj * Pj[i];                                         \
        }                                                                                             \
        for (int64_t i = 0; i < L; i++) {                                                             \
          T_ ri = v[tv + i] - u[i];                                                                   \
          if (r) r[tv + i] = ri;                                                                      \
          w[i] = bt * ri;                                                                             \
        }                                                                                             \
        for (int64_t j = 0; j < Dk; j++) {                                                            \
          const T_ kj = kt[j], qj = qt[j];                                                            \
          T_ *Pj = Pb + j * Dv;                                                                       \
          _Pragma("omp simd")                                                                         \
          for (int64_t i = 0; i < L; i++) {                                                           \
            T_ s = Pj[i] + kj * w[i];                                                                 \
            Pj[i] = s;                                                                                \
            ov[i] += qj * s;                                                                          \
          }                                                                                           \
        }                                                                                             \
        memcpy(o + tv, ov, sizeof(T_) * (size_t)L);                                                   \
      }                                                                                               \
    }                                                                                                 \
  }                                                                                                   \
                                                                                                      \
  /* gradients dq, dk [BH, T, Dk], dv [BH, T, Dv], dbeta [BH, T], dS0 [BH, Dv, Dk] (all written)   \
   * from g = dL/do [BH, T, Dv] and the forward's checkpoints and r */                                \
  static void delta_bwd_##sfx(const T_ *q, const T_ *k, const T_ *beta, const T_ *ckpt, const T_ *r,      \
                              const T_ *g, T_ *dq, T_ *dk, T_ *dv, T_ *dbeta, T_ *dS0, delta_dims z) {     \
    const int64_t Tn = z.T, Dk = z.Dk, Dv = z.Dv, SS = Dk * Dv;                                       \
    _Pragma("omp parallel for if (z.BH * Tn * SS >= NNC_PARALLEL_MIN) schedule(dynamic, 1)")      \
    for (int64_t bh = 0; bh < z.BH; bh++) {                                                           \
      /* buf[s]: the state entering step t0 + s of the chunk; dP: dL/dS^T; w, dw, du: [Dv] */          \
      T_ *buf = nnc_xmalloc(sizeof(T_) * (size_t)((DELTA_CK + 1) * SS + 3 * Dv + 1));             \
      T_ *dP = buf + DELTA_CK * SS, *w = dP + SS, *dw = w + Dv, *du = dw + Dv;                        \
      for (int64_t e = 0; e < SS; e++) dP[e] = 0;                                                     \
      for (int64_t c = z.nck - 1; c >= 0; c--) {                                                      \
        const int64_t t0 = c * DELTA_CK, t1 = min64(t0 + DELTA_CK, Tn);                               \
        memcpy(buf, ckpt + (bh * z.nck + c) * SS, sizeof(T_) * (size_t)SS);                           \
        for (int64_t t = t0; t + 1 < t1; t++) { /* P_t = P_{t-1} + k_t w_t^T */                      \
          const T_ *Pm = buf + (t - t0) * SS, *kt = k + (bh * Tn + t) * Dk, *rt = r + (bh * Tn + t) * Dv; \
          T_ *Pn = buf + (t + 1 - t0) * SS, bt = beta[bh * Tn + t];                                   \
          for (int64_t i = 0; i < Dv; i++) w[i] = bt * rt[i];                                         \
          for (int64_t j = 0; j < Dk; j++) {                                                          \
            const T_ kj = kt[j];                                                                      \
            _Pragma("omp simd")                                                                       \
            for (int64_t i = 0; i < Dv; i++) Pn[j * Dv + i] = Pm[j * Dv + i] + kj * w[i];             \
          }                                                                                           \
        }                                                                                             \
        for (int64_t t = t1 - 1; t >= t0; t--) {                                                      \
          const T_ *Pm = buf + (t - t0) * SS;                                                         \
          const int64_t tk = (bh * Tn + t) * Dk, tv = (bh * Tn + t) * Dv;                             \
          const T_ *kt = k + tk, *qt = q + tk, *rt = r + tv, *gt = g + tv, bt = beta[bh * Tn + t];    \
          for (int64_t i = 0; i < Dv; i++) w[i] = bt * rt[i], dw[i] = 0;                              \
          for (int64_t j = 0; j < Dk; j++) {                                                          \
            const T_ kj = kt[j], qj = qt[j], *Pmj = Pm + j * Dv;                                      \
            T_ *dPj = dP + j * Dv, dqj = 0, dkj = 0;                                                  \
            _Pragma("omp simd reduction(+ : dqj, dkj)")                                               \
            for (int64_t i = 0; i < Dv; i++) {                                                        \
              T_ pt = Pmj[i] + kj * w[i];  /* S_t^T, as the forward made it */                        \
              T_ d = dPj[i] + qj * gt[i];  /* dS~^T */                                                \
              dPj[i] = d;                                                                             \
              dw[i] += kj * d;                                                                        \
              dkj += d * w[i];                                                                        \
              dqj += pt * gt[i];                                                                      \
            }                                                                                         \
            dq[tk + j] = dqj;                                                                         \
            dk[tk + j] = dkj;                                                                         \
          }                                                                                           \
          T_ db = 0;                                                                                  \
          for (int64_t i = 0; i < Dv; i++) {                                                          \
            db += dw[i] * rt[i];                                                                      \
            dv[tv + i] = bt * dw[i];                                                                  \
            du[i] = -bt * dw[i];                                                                      \
          }                                                                                           \
          dbeta[bh * Tn + t] = db;                                                                    \
          for (int64_t j = 0; j < Dk; j++) {                                                          \
            const T_ kj = kt[j], *Pmj = Pm + j * Dv;                                                  \
            T_ *dPj = dP + j * Dv, dkj = 0;                                                           \
            _Pragma("omp simd reduction(+ : dkj)")                                                    \
            for (int64_t i = 0; i < Dv; i++) {                                                        \
              dPj[i] += kj * du[i];                                                                   \
              dkj += Pmj[i] * du[i];                                                                  \
            }                                                                                         \
            dk[tk + j] += dkj;                                                                        \
          }                                                                                           \
        }                                                                                             \
      }                                                                                               \
      for (int64_t i = 0; i < Dv; i++)                                                                \
        for (int64_t j = 0; j < Dk; j++) dS0[(bh * Dv + i) * Dk + j] = dP[j * Dv + i];                \
      free(buf);                                                                                      \
    }                                                                                                 \
  }
DELTA_KERNELS(float, f32)
DELTA_KERNELS(double, f64)

/* the plain loop in double, S [Dv, Dk] as written; Sfin [BH, Dv, Dk] gets the final state */
static void delta_fwd_ref(nnc_dtype dt, const void *q, const void *k, const void *v, const void *beta, const void *S0,
                          void *o, void *Sfin, delta_dims z) {
  const int64_t Tn = z.T, Dk = z.Dk, Dv = z.Dv;
  double *S = nnc_xmalloc(sizeof(double) * (size_t)(Dk * Dv + Dv + 1)), *u = S + Dk * Dv;
  for (int64_t bh = 0; bh < z.BH; bh++) {
    for (int64_t e = 0; e < Dv * Dk; e++) S[e] = S0 ? ld(S0, dt, bh * Dv * Dk + e) : 0.0;
    for (int64_t t = 0; t < Tn; t++) {
      int64_t tk = (bh * Tn + t) * Dk, tv = (bh * Tn + t) * Dv;
      double b = ld(beta, dt, bh * Tn + t);
      for (int64_t i = 0; i < Dv; i++) { /* u = S k */
        u[i] = 0;
        for (int64_t j = 0; j < Dk; j++) u[i] += S[i * Dk + j] * ld(k, dt, tk + j);
      }
      for (int64_t i = 0; i < Dv; i++) { /* S += beta (v - u) k^T; o = S q */
        double wi = b * (ld(v, dt, tv + i) - u[i]), oi = 0;
        for (int64_t j = 0; j < Dk; j++) {
          S[i * Dk + j] += wi * ld(k, dt, tk + j);
          oi += S[i * Dk + j] * ld(q, dt, tk + j);
        }
        st(o, dt, tv + i, oi);
      }
    }
    for (int64_t e = 0; e < Dv * Dk; e++) st(Sfin, dt, bh * Dv * Dk + e, S[e]);
  }
  free(S);
}

/* the plain reverse loop in double, keeping every state */
static void delta_bwd_ref(nnc_dtype dt, const void *q, const void *k, const void *v, const void *beta, const void *S0,
                          const void *g, void *dq, void *dk, void *dv, void *dbeta, void *dS0, delta_dims z) {
  const int64_t Tn = z.T, Dk = z.Dk, Dv = z.Dv, SS = Dk * Dv;
  double *S = nnc_xmalloc(sizeof(double) * (size_t)((Tn + 1) * SS + SS + 3 * Dv + Dk + 1));
  double *dS = S + (Tn + 1) * SS, *rr = dS + SS, *dw = rr + Dv, *du = dw + Dv, *dkk = du + Dv;
  for (int64_t bh = 0; bh < z.BH; bh++) {
    /* S + t*SS is the state entering step t */
    for (int64_t e = 0; e < SS; e++) S[e] = S0 ? ld(S0, dt, bh * SS + e) : 0.0;
    for (int64_t t = 0; t < Tn; t++) {
      int64_t tk = (bh * Tn + t) * Dk, tv = (bh * Tn + t) * Dv;
      double b = ld(beta, dt, bh * Tn + t), *Sp = S + t * SS, *Sn = Sp + SS;
      for (int64_t i = 0; i < Dv; i++) {
        double ui = 0;
        for (int64_t j = 0; j < Dk; j++) ui += Sp[i * Dk + j] * ld(k, dt, tk + j);
        double wi = b * (ld(v, dt, tv + i) - ui);
        for (int64_t j = 0; j < Dk; j++) Sn[i * Dk + j] = Sp[i * Dk + j] + wi * ld(k, dt, tk + j);
      }
    }
    for (int64_t e = 0; e < SS; e++) dS[e] = 0;
    for (int64_t t = Tn - 1; t >= 0; t--) {
      int64_t tk = (bh * Tn + t) * Dk, tv = (bh * Tn + t) * Dv;
      double b = ld(beta, dt, bh * Tn + t), *Sp = S + t * SS, *Sn = Sp + SS;
      for (int64_t i = 0; i < Dv; i++) { /* r = v - S_{t-1} k */
        double ui = 0;
        for (int64_t j = 0; j < Dk; j++) ui += Sp[i * Dk + j] * ld(k, dt, tk + j);
        rr[i] = ld(v, dt, tv + i) - ui;
      }
      for (int64_t i = 0; i < Dv; i++) /* dS~ = dS + dO q^T */
        for (int64_t j = 0; j < Dk; j++) dS[i * Dk + j] += ld(g, dt, tv + i) * ld(q, dt, tk + j);
      for (int64_t j = 0; j < Dk; j++) { /* dq = S_t^T dO */
        double s = 0;
        for (int64_t i = 0; i < Dv; i++) s += Sn[i * Dk + j] * ld(g, dt, tv + i);
        st(dq, dt, tk + j, s);
      }
      double db = 0;
      for (int64_t i = 0; i < Dv; i++) { /* dw = dS~ k */
        dw[i] = 0;
        for (int64_t j = 0; j < Dk; j++) dw[i] += dS[i * Dk + j] * ld(k, dt, tk + j);
        db += dw[i] * rr[i];
        st(dv, dt, tv + i, b * dw[i]);
        du[i] = -b * dw[i];
      }
      st(dbeta, dt, bh * Tn + t, db);
      for (int64_t j = 0; j < Dk; j++) { /* dk = dS~^T w + S_{t-1}^T du */
        dkk[j] = 0;
        for (int64_t i = 0; i < Dv; i++) dkk[j] += dS[i * Dk + j] * b * rr[i] + Sp[i * Dk + j] * du[i];
        st(dk, dt, tk + j, dkk[j]);
      }
      for (int64_t i = 0; i < Dv; i++) /* dS_{t-1} = dS~ + du k^T */
        for (int64_t j = 0; j < Dk; j++) dS[i * Dk + j] += du[i] * ld(k, dt, tk + j);
    }
    for (int64_t e = 0; e < SS; e++) st(dS0, dt, bh * SS + e, dS[e]);
  }
  free(S);
}

/* saved: q, k, v, beta, then S0 (reference) or the checkpoints and r (fast) */
static void scan_delta_backward(nnc_node *n) {
  nnc_tensor *q = nnc_saved(n, 0), *k = nnc_saved(n, 1), *v = nnc_saved(n, 2), *beta = nnc_saved(n, 3);
  nnc_tensor *g = n->out->grad;
  delta_dims z = {n->i[1], n->i[2], n->i[3], n->i[4], n->i[5]};
  nnc_tensor *dq = nnc_empty_like(q), *dk = nnc_empty_like(k), *dv = nnc_empty_like(v), *db = nnc_empty_like(beta);
  nnc_tensor *dS0 = nnc_empty(q->dtype, NNC_SHAPE(z.BH, z.Dv, z.Dk));
  if (n->i[0]) {
    nnc_tensor *S0 = n->n_saved > 4 ? nnc_saved(n, 4) : NULL;
    delta_bwd_ref(q->dtype, nnc_data(q), nnc_data(k), nnc_data(v), nnc_data(beta), S0 ? nnc_data(S0) : NULL,
                  nnc_data(g), nnc_data(dq), nnc_data(dk), nnc_data(dv), nnc_data(db), nnc_data(dS0), z);
  } else {
    nnc_tensor *ck = nnc_saved(n, 4), *r = nnc_saved(n, 5);
    if (q->dtype == NNC_F32)
      delta_bwd_f32(nnc_data(q), nnc_data(k), nnc_data(beta), nnc_data(ck), nnc_data(r), nnc_data(g), nnc_data(dq),
                    nnc_data(dk), nnc_data(dv), nnc_data(db), nnc_data(dS0), z);
    else
      delta_bwd_f64(nnc_data(q), nnc_data(k), nnc_data(beta), nnc_data(ck), nnc_data(r), nnc_data(g), nnc_data(dq),
                    nnc_data(dk), nnc_data(dv), nnc_data(db), nnc_data(dS0), z);
  }
  nnc_accum_grad(n->in[0], dq);
  nnc_accum_grad(n->in[1], dk);
  nnc_accum_grad(n->in[2], dv);
  nnc_accum_grad(n->in[3], db);
  if (n->n_in > 4 && n->in[4]->requires_grad) nnc_accum_grad(n->in[4], nnc_reshape(dS0, n->in[4]->ndim, n->in[4]->shape));
}
NNC_OP_DEF(op_scan_delta, "scan_delta", scan_delta_backward);

nnc_tensor *nnc_scan_delta_ex(nnc_tensor *q, nnc_tensor *k, nnc_tensor *v, nnc_tensor *beta, nnc_tensor *S0,
                              nnc_tensor **S_final) {
  char s1[96], s2[96], s3[96], s4[96];
  nnc_check_float_pair(q, k, "scan_delta");
  nnc_check_float_pair(q, v, "scan_delta");
  nnc_check_float_pair(q, beta, "scan_delta");
  int nd = q->ndim;
  bool ok = nd >= 2 && k->ndim == nd && v->ndim == nd && beta->ndim == nd - 1;
  for (int d = 0; ok && d < nd - 1; d++)
    ok = k->shape[d] == q->shape[d] && v->shape[d] == q->shape[d] && beta->shape[d] == q->shape[d];
  ok = ok && k->shape[nd - 1] == q->shape[nd - 1];
  NNC_CHECK(ok, "scan_delta", "q %s, k %s, v %s, beta %s do not fit q, k [..., T, Dk], v [..., T, Dv], beta [..., T]",
            nnc_shape_str(q, s1, 96), nnc_shape_str(k, s2, 96), nnc_shape_str(v, s3, 96), nnc_shape_str(beta, s4, 96));
  delta_dims z = {1, q->shape[nd - 2], q->shape[nd - 1], v->shape[nd - 1], 0};
  for (int d = 0; d < nd - 2; d++) z.BH *= q->shape[d];
  z.nck = (z.T + DELTA_CK - 1) / DELTA_CK;
  int64_t sshape[NNC_MAX_DIMS]; /* [..., Dv, Dk] */
  memcpy(sshape, q->shape, sizeof sshape);
  sshape[nd - 2] = z.Dv;
  sshape[nd - 1] = z.Dk;
  if (S0) {
    nnc_check_float_pair(q, S0, "scan_delta");
    bool fit = S0->ndim == nd;
    for (int d = 0; fit && d < nd; d++) fit = S0->shape[d] == sshape[d];
    nnc_tensor tmp = *q;
    memcpy(tmp.shape, sshape, sizeof sshape);
    NNC_CHECK(fit, "scan_delta", "S0 %s does not fit q %s and v %s (expects %s)", nnc_shape_str(S0, s1, 96),
              nnc_shape_str(q, s2, 96), nnc_shape_str(v, s3, 96), nnc_shape_str(&tmp, s4, 96));
    S0 = nnc_contiguous(S0);
  }
  q = nnc_contiguous(q);
  k = nnc_contiguous(k);
  v = nnc_contiguous(v);
  beta = nnc_contiguous(beta);
  nnc_tensor *in[5] = {q, k, v, beta, S0};
  int n_in = S0 ? 5 : 4;
  bool grad = nnc_needs_grad(n_in, in), ref = nnc_reference_kernels();
  nnc_dtype dt = q->dtype;
  int64_t oshape[NNC_MAX_DIMS];
  memcpy(oshape, v->shape, sizeof oshape);
  nnc_tensor *o = nnc_empty(dt, nd, oshape);
  nnc_tensor *Sf = nnc_empty(dt, nd, sshape), *ck = NULL, *r = NULL;
  const void *S0p = S0 ? nnc_data(S0) : NULL;
  if (ref) {
    delta_fwd_ref(dt, nnc_data(q), nnc_data(k), nnc_data(v), nnc_data(beta), S0p, nnc_data(o), nnc_data(Sf), z);
  } else {
    nnc_tensor *P = nnc_empty(dt, NNC_SHAPE(z.BH, z.Dk, z.Dv)); /* the state, transposed */
    if (grad) {
      ck = nnc_empty(dt, NNC_SHAPE(z.BH, z.nck, z.Dk, z.Dv));
      r = nnc_empty(dt, NNC_SHAPE(z.BH, z.T, z.Dv));
    }
    /* Dv blocks: smaller when there are few (batch, head) pairs to share out; every row's
     * arithmetic is the same whatever the blocking */
    int64_t vb = DELTA_VB;
    while (vb > 8 && z.BH * ((z.Dv + vb - 1) / vb) < nnc_get_threads()) vb /= 2;
    void *ckp = ck ? nnc_data(ck) : NULL, *rp = r ? nnc_data(r) : NULL;
    if (dt == NNC_F32)
      delta_fwd_f32(nnc_data(q), nnc_data(k), nnc_data(v), nnc_data(beta), S0p, nnc_data(o), nnc_data(P), ckp, rp, z, vb);
    else
      delta_fwd_f64(nnc_data(q), nnc_data(k), nnc_data(v), nnc_data(beta), S0p, nnc_data(o), nnc_data(P), ckp, rp, z, vb);
    if (S_final) { /* P [BH, Dk, Dv] -> S [..., Dv, Dk] */
      const void *pp = nnc_data(P);
      void *sp = nnc_data(Sf);
      for (int64_t bh = 0; bh < z.BH; bh++)
        for (int64_t i = 0; i < z.Dv; i++)
          for (int64_t j = 0; j < z.Dk; j++)
            st(sp, dt, (bh * z.Dv + i) * z.Dk + j, ld(pp, dt, (bh * z.Dk + j) * z.Dv + i));
    }
  }
  if (S_final) *S_final = Sf;
  nnc_node *n = nnc_record(&op_scan_delta, o, n_in, in);
  if (n) {
    for (int j = 0; j < 4; j++) nnc_save(n, in[j]);
    if (ref) {
      if (S0) nnc_save(n, S0);
    } else {
      nnc_save(n, ck);
      nnc_save(n, r);
    }
    n->i[0] = ref;
    n->i[1] = z.BH;
    n->i[2] = z.T;
    n->i[3] = z.Dk;
    n->i[4] = z.Dv;
    n->i[5] = z.nck;
  }
  return o;
}

nnc_tensor *nnc_scan_delta(nnc_tensor *q, nnc_tensor *k, nnc_tensor *v, nnc_tensor *beta, nnc_tensor *S0) {
  return nnc_scan_delta_ex(q, k, v, beta, S0, NULL);
}
