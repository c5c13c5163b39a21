/* tests/test_infer.c: the inference kernels and models of src/infer.
 *   kernels: binary XOR-popcount layer (AVX-512 VPOPCNTDQ vs portable vs one-bit-at-a-time
 *            reference vs float matmul of +-1), thresholds, binary conv (vs nnc_conv2d of +-1),
 *            int8 GEMM u8s8/s8s8 (VNNI vs portable vs quant/qint.h's reference),
 *            requantisation (vectorised vs nnc_requantize_ref), on odd shapes
 *   models:  the binary MLP export bit for bit against its float simulation (every hidden bit,
 *            every score) on real test images, for both first-layer variants and odd sizes;
 *            the int8 MLP export against the integer reference (every output code)
 *   files:   round trip; every truncation, random corruption, lying fields with a valid CRC,
 *            garbage: each a clean NNC_ERR_FORMAT */
#include <stdlib.h>
#include <unistd.h>
#include <zlib.h>
#include "data/fashion.h"
#include "infer/bench_infer.h"
#include "infer/binary_mlp.h"
#include "infer/imodel.h"
#include "infer/int8_mlp.h"
#include "infer/kernels.h"
#include "quant/qint.h"
#include "test.h"
#include "train/models.h"

static nnc_rng R;

static uint64_t rnd_bits(void) { return nnc_rng_u64(&R); }

/* random +-1 rows [M, K] as packed bits (padding clear) and as floats */
static void rand_pm1(int64_t M, int64_t K, uint64_t *bits, float *f) {
  int64_t kw = nnc_bits_words(K);
  for (int64_t m = 0; m < M; m++)
    for (int64_t w = 0; w < kw; w++) {
      uint64_t v = rnd_bits();
      if (w == kw - 1 && K % 64) v &= ((uint64_t)1 << (K % 64)) - 1;
      bits[m * kw + w] = v;
      for (int64_t k = w * 64; k < K && k < w * 64 + 64; k++)
        if (f) f[m * K + k] = (v >> (k - w * 64)) & 1 ? 1.0f : -1.0f;
    }
}

/* ---------------------------------------------------------------- kernels */
static void test_binary_linear(void) {
  static const int64_t Ms[] = {1, 3, 4, 5, 9, 17}, Ns[] = {1, 7, 32, 33, 65, 100}, Ks[] = {1, 63, 64, 65, 127, 200, 513};
  bool have = nnc_infer_have_vpopcntdq();
  printf("binary kernels: %s (VPOPCNTDQ %s)\n", nnc_infer_bin_isa(), have ? "present" : "absent: portable only");
  int bad_acc = 0, bad_bits = 0, bad_float = 0, cases = 0;
  for (size_t a = 0; a < 6; a++)
    for (size_t b = 0; b < 6; b++)
      for (size_t c = 0; c < 7; c++) {
        int64_t M = Ms[a], N = Ns[b], K = Ks[c], kw = nnc_bits_words(K), ow = nnc_bits_words(N);
        uint64_t *x = malloc((size_t)(M * kw) * 8), *w = malloc((size_t)(N * kw) * 8);
        float *xf = malloc((size_t)(M * K) * 4), *wf = malloc((size_t)(N * K) * 4), *yf = malloc((size_t)(M * N) * 4);
        int32_t *ref = malloc((size_t)(M * N) * 4), *y1 = malloc((size_t)(M * N) * 4), *y2 = malloc((size_t)(M * N) * 4);
        uint64_t *b1 = malloc((size_t)(M * ow) * 8), *b2 = malloc((size_t)(M * ow) * 8);
        int32_t *tau = malloc((size_t)N * 4);
        int8_t *dir = malloc((size_t)N);
        rand_pm1(M, K, x, xf);
        rand_pm1(N, K, w, wf);
        for (int64_t n = 0; n < N; n++) {
          /* thresholds inside, at and beyond the range, both directions */
          tau[n] = (int32_t)(nnc_rng_below(&R, 2 * K + 5) - K - 2);
          dir[n] = nnc_rng_below(&R, 2) ? 1 : -1;
        }
        nnc_bin_gemm_ref(M, N, K, x, w, ref);
        nnc_gemm_ref_f32(false, true, M, N, K, 1.0f, xf, K, wf, K, 0.0f, yf, N);
        nnc_bin_linear L;
        nnc_bin_linear_init(&L, K, N, w);
        nnc_bin_linear_set_thresholds(&L, tau, dir);
        nnc_infer_force_portable(false);
        nnc_bin_linear_acc(&L, M, x, y1);
        nnc_bin_linear_bits(&L, M, x, b1);
        nnc_infer_force_portable(true);
        nnc_bin_linear_acc(&L, M, x, y2);
        nnc_bin_linear_bits(&L, M, x, b2);
        nnc_infer_force_portable(false);
        for (int64_t i = 0; i < M * N; i++) {
          bad_acc += y1[i] != ref[i] || y2[i] != ref[i];
          bad_float += (float)ref[i] != yf[i];
        }
        for (int64_t m = 0; m < M; m++)
          for (int64_t n = 0; n < ow * 64; n++) {
            int v1 = (int)((b1[m * ow + n / 64] >> (n % 64)) & 1), v2 = (int)((b2[m * ow + n / 64] >> (n % 64)) & 1);
            int want = n < N ? (dir[n] > 0 ? ref[m * N + n] >= tau[n] : ref[m * N + n] <= tau[n]) : 0; /* padding 0 */
            bad_bits += v1 != want || v2 != want;
          }
        cases++;
        nnc_bin_linear_free(&L);
        free(x), free(w), free(xf), free(wf), free(yf), free(ref), free(y1), free(y2), free(b1), free(b2), free(tau), free(dir);
      }
  CHECKF(bad_acc == 0, "%d binary accumulators differ from the reference (%d shapes)", bad_acc, cases);
  CHECKF(bad_float == 0, "%d reference values differ from the float matmul of +-1", bad_float);
  CHECKF(bad_bits == 0, "%d thresholded bits differ", bad_bits);
}

static void test_pack(void) {
  float x[130];
  for (int i = 0; i < 130; i++) x[i] = (float)(i % 3) - 1.0f; /* -1, 0, 1, ...: sign(0) = +1 */
  uint64_t b[3];
  nnc_pack_signs_f32(1, 130, x, 130, b);
  uint8_t u[130];
  nnc_unpack_bits_u8(1, 130, b, u);
  int bad = 0;
  for (int i = 0; i < 130; i++) bad += u[i] != (x[i] >= 0);
  CHECK(bad == 0);
  CHECK(nnc_bits_padding_clear(1, 130, b));
  b[2] |= (uint64_t)1 << 5;
  CHECK(!nnc_bits_padding_clear(1, 130, b));
  uint64_t wbad[2] = {0, ~(uint64_t)0};
  nnc_bin_linear L;
  EXPECT_ABORT(nnc_bin_linear_init(&L, 70, 1, wbad), "padding bits");
}

/* +-1 float [N, C, H, W] -> packed NHWC bits; weights [O, C, KH, KW] -> [O, KH, KW] bits */
static void pack_nhwc(const float *x, int64_t N, int64_t C, int64_t H, int64_t W, uint64_t *out) {
  int64_t cw = nnc_bits_words(C);
  memset(out, 0, (size_t)(N * H * W * cw) * 8);
  for (int64_t n = 0; n < N; n++)
    for (int64_t c = 0; c < C; c++)
      for (int64_t h = 0; h < H; h++)
        for (int64_t w = 0; w < W; w++)
          if (x[((n * C + c) * H + h) * W + w] >= 0) out[((n * H + h) * W + w) * cw + c / 64] |= (uint64_t)1 << (c % 64);
}

static void test_binary_conv(void) {
  struct { int64_t N, C, H, W, O, K; int stride, pad; } cs[] = {
      {2, 3, 7, 6, 5, 3, 1, 1}, {1, 64, 5, 5, 4, 3, 1, 1}, {2, 70, 6, 7, 9, 3, 2, 1}, {1, 16, 8, 8, 33, 1, 1, 0},
      {3, 5, 9, 4, 3, 5, 1, 2}, {1, 130, 4, 4, 2, 3, 1, 0}};
  int bad_ref = 0, bad_float = 0, total = 0;
  for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++) {
    int64_t N = cs[i].N, C = cs[i].C, H = cs[i].H, W = cs[i].W, O = cs[i].O, K = cs[i].K, cw = nnc_bits_words(C);
    nnc_tensor *x = nnc_empty(NNC_F32, NNC_SHAPE(N, C, H, W)), *w = nnc_empty(NNC_F32, NNC_SHAPE(O, C, K, K));
    for (int64_t j = 0; j < nnc_numel(x); j++) nnc_f32(x)[j] = nnc_rng_below(&R, 2) ? 1.0f : -1.0f;
    for (int64_t j = 0; j < nnc_numel(w); j++) nnc_f32(w)[j] = nnc_rng_below(&R, 2) ? 1.0f : -1.0f;
    nnc_tensor *yf = nnc_conv2d(x, w, NULL, (nnc_conv_args){.stride = {cs[i].stride, cs[i].stride}, .pad = {cs[i].pad, cs[i].pad}});
    int64_t OH = yf->shape[2], OW = yf->shape[3];
    uint64_t *xb = malloc((size_t)(N * H * W * cw) * 8), *wb = malloc((size_t)(O * K * K * cw) * 8);
    pack_nhwc(nnc_f32(x), N, C, H, W, xb);
    /* weights [O, C, K, K] read as "N=O images of C channels, KxK" -> [O, K, K] packed */
    pack_nhwc(nnc_f32(w), O, C, K, K, wb);
    nnc_bin_conv2d L;
    nnc_bin_conv2d_init(&L, C, O, K, K, cs[i].stride, cs[i].pad, wb);
    int64_t oh, ow;
    nnc_bin_conv2d_out_size(&L, H, W, &oh, &ow);
    CHECK(oh == OH && ow == OW);
    int32_t *y = malloc((size_t)(N * OH * OW * O) * 4), *yp = malloc((size_t)(N * OH * OW * O) * 4);
    int32_t *yr = malloc((size_t)(N * OH * OW * O) * 4);
    nnc_bin_conv2d_forward(&L, N, H, W, xb, y);
    nnc_infer_force_portable(true);
    nnc_bin_conv2d_forward(&L, N, H, W, xb, yp);
    nnc_infer_force_portable(false);
    nnc_bin_conv2d_ref(N, C, H, W, O, K, K, cs[i].stride, cs[i].pad, xb, wb, yr);
    yf = nnc_contiguous(yf);
    for (int64_t n = 0; n < N; n++)
      for (int64_t o = 0; o < O; o++)
        for (int64_t h = 0; h < OH; h++)
          for (int64_t v = 0; v < OW; v++) {
            int64_t j = ((n * OH + h) * OW + v) * O + o;
            bad_ref += y[j] != yr[j] || yp[j] != yr[j];
            bad_float += (float)yr[j] != nnc_f32(yf)[((n * O + o) * OH + h) * OW + v];
            total++;
          }
    nnc_bin_conv2d_free(&L);
    free(xb), free(wb), free(y), free(yp), free(yr);
    nnc_step_end();
  }
  CHECKF(bad_ref == 0, "%d of %d binary conv outputs differ from the reference", bad_ref, total);
  CHECKF(bad_float == 0, "%d of %d reference conv outputs differ from nnc_conv2d of +-1", bad_float, total);
}

static void test_q8_gemm(void) {
  static const int64_t Ms[] = {1, 5, 6, 7, 13}, Ns[] = {1, 15, 16, 63, 65, 130}, Ks[] = {1, 3, 4, 5, 64, 67, 785};
  printf("int8 kernels: %s\n", nnc_infer_q8_isa());
  int bad = 0, bad_s8 = 0, cases = 0;
  for (size_t a = 0; a < 5; a++)
    for (size_t b = 0; b < 6; b++)
      for (size_t c = 0; c < 7; c++) {
        int64_t M = Ms[a], N = Ns[b], K = Ks[c];
        uint8_t *A = malloc((size_t)(M * K));
        int8_t *As = malloc((size_t)(M * K)), *B = malloc((size_t)(N * K));
        int32_t *ref = malloc((size_t)(M * N) * 4), *c1 = malloc((size_t)(M * N) * 4), *c2 = malloc((size_t)(M * N) * 4);
        bool extreme = (a + b + c) % 3 == 0;
        for (int64_t i = 0; i < M * K; i++) {
          A[i] = extreme ? 255 : (uint8_t)nnc_rng_below(&R, 256);
          As[i] = extreme ? -128 : (int8_t)(nnc_rng_below(&R, 256) - 128);
        }
        for (int64_t i = 0; i < N * K; i++) B[i] = extreme ? (i % 2 ? -128 : 127) : (int8_t)(nnc_rng_below(&R, 256) - 128);
        nnc_q8_weights W;
        nnc_q8_weights_init(&W, K, N, B);
        nnc_qgemm_ref_u8s8(M, N, K, A, B, ref);
        nnc_q8_gemm_u8s8(&W, M, A, K, c1, N);
        nnc_infer_force_portable(true);
        nnc_q8_gemm_u8s8(&W, M, A, K, c2, N);
        nnc_infer_force_portable(false);
        for (int64_t i = 0; i < M * N; i++) bad += c1[i] != ref[i] || c2[i] != ref[i];
        nnc_qgemm_ref_s8(M, N, K, As, B, ref);
        nnc_q8_gemm_s8s8(&W, M, As, K, c1, N);
        nnc_infer_force_portable(true);
        nnc_q8_gemm_s8s8(&W, M, As, K, c2, N);
        nnc_infer_force_portable(false);
        for (int64_t i = 0; i < M * N; i++) bad_s8 += c1[i] != ref[i] || c2[i] != ref[i];
        cases++;
        nnc_q8_weights_free(&W);
        free(A), free(As), free(B), free(ref), free(c1), free(c2);
      }
  CHECKF(bad == 0, "%d u8s8 products differ from nnc_qgemm_ref_u8s8 (%d shapes)", bad, cases);
  CHECKF(bad_s8 == 0, "%d s8s8 products differ from nnc_qgemm_ref_s8", bad_s8);
  /* a strided A (lda > K) */
  {
    int64_t M = 7, N = 20, K = 37, lda = 50;
    uint8_t *A = calloc((size_t)(M * lda), 1), *Ad = malloc((size_t)(M * K));
    int8_t *B = malloc((size_t)(N * K));
    for (int64_t i = 0; i < M * lda; i++) A[i] = (uint8_t)nnc_rng_below(&R, 256);
    for (int64_t m = 0; m < M; m++) memcpy(Ad + m * K, A + m * lda, (size_t)K);
    for (int64_t i = 0; i < N * K; i++) B[i] = (int8_t)(nnc_rng_below(&R, 256) - 128);
    int32_t ref[7 * 20], c1[7 * 30];
    nnc_q8_weights W;
    nnc_q8_weights_init(&W, K, N, B);
    nnc_qgemm_ref_u8s8(M, N, K, Ad, B, ref);
    nnc_q8_gemm_u8s8(&W, M, A, lda, c1, 30);
    int badst = 0;
    for (int64_t m = 0; m < M; m++)
      for (int64_t n = 0; n < N; n++) badst += c1[m * 30 + n] != ref[m * N + n];
    CHECK(badst == 0);
    nnc_q8_weights_free(&W);
    free(A), free(Ad), free(B);
  }
}

static void test_requant(void) {
  /* the scalar primitive against quant/qint.h */
  int bad = 0;
  for (int i = 0; i < 200000; i++) {
    int32_t x = (int32_t)(uint32_t)nnc_rng_u64(&R), mult = (int32_t)(nnc_rng_u64(&R) >> 33);
    int shift = (int)nnc_rng_below(&R, 62) - 31;
    if (i % 7 == 0) x = (int32_t)nnc_rng_below(&R, 2001) - 1000;
    if (i % 11 == 0) mult = i % 2 ? INT32_MAX : 0;
    if (i % 13 == 0) x = i % 2 ? INT32_MIN : INT32_MAX;
    if (shift > 30) shift = 30;
    bad += nnc_q8_mbqm(x, mult, shift) != nnc_multiply_by_quantized_multiplier(x, mult, shift);
  }
  CHECKF(bad == 0, "%d MBQM values differ", bad);
  /* the layer function, vectorised and portable, per-channel parameters */
  for (int trial = 0; trial < 6; trial++) {
    int64_t M = 1 + (int64_t)nnc_rng_below(&R, 9), N = 1 + (int64_t)nnc_rng_below(&R, 70);
    int32_t *acc = malloc((size_t)(M * N) * 4), *sum = malloc((size_t)(M * N) * 4), *add = malloc((size_t)N * 4);
    int32_t *mult = malloc((size_t)N * 4), *shift = malloc((size_t)N * 4);
    uint8_t *o1 = malloc((size_t)(M * N)), *o2 = malloc((size_t)(M * N)), *oref = malloc((size_t)(M * N));
    for (int64_t j = 0; j < N; j++) {
      add[j] = (int32_t)nnc_rng_below(&R, 200001) - 100000;
      mult[j] = j % 9 == 0 ? 0 : (int32_t)((1u << 30) + (uint32_t)nnc_rng_below(&R, 1u << 30));
      shift[j] = trial == 5 && j % 4 == 0 ? 2 : -(int32_t)nnc_rng_below(&R, 32); /* trial 5: some left shifts */
    }
    for (int64_t i = 0; i < M * N; i++) {
      acc[i] = (int32_t)nnc_rng_below(&R, 1u << 24) - (1 << 23);
      if (i % 17 == 0) acc[i] = i % 2 ? INT32_MAX - 200000 : INT32_MIN + 200000;
      sum[i] = acc[i] + add[i % N];
    }
    int32_t zero = (int32_t)nnc_rng_below(&R, 256), lo = trial % 2 ? zero : 0, hi = 255;
    nnc_requantize_ref(M, N, sum, mult, shift, true, zero, lo, hi, oref);
    nnc_q8_requant(M, N, acc, add, mult, shift, zero, lo, hi, o1);
    nnc_infer_force_portable(true);
    nnc_q8_requant(M, N, acc, add, mult, shift, zero, lo, hi, o2);
    nnc_infer_force_portable(false);
    int b2 = 0;
    for (int64_t i = 0; i < M * N; i++) b2 += o1[i] != oref[i] || o2[i] != oref[i];
    CHECKF(b2 == 0, "trial %d: %d requantised codes differ from nnc_requantize_ref", trial, b2);
    free(acc), free(sum), free(add), free(mult), free(shift), free(o1), free(o2), free(oref);
  }
}

/* ---------------------------------------------------------------- models */
static char tmpdir[] = "/tmp/nnc_test_infer_XXXXXX";
static nnc_dataset test_ds;
static uint8_t *pixels;
static bool have_data;

/* a binary MLP with random weights and BatchNorm statistics from a few training-mode passes
 * over test images, written to path */
static void make_bmlp(const nnc_bmlp_arch *a, const char *path, uint64_t seed) {
  nnc_params P, B;
  nnc_params_init(&P, NNC_F32);
  nnc_params_init(&B, NNC_F32);
  nnc_binary_cfg cfg = nnc_binary_cfg_default(NNC_BIN_STE);
  nnc_rng r;
  nnc_rng_seed(&r, seed, 1);
  nnc_sequential_mod *net = nnc_bmlp_build(&P, &B, a, &cfg, &r);
  /* random BN affine parameters, some negative (thresholds in both directions) */
  for (int i = 0; i < P.count; i++)
    if (strncmp(P.names[i], "bn", 2) == 0) nnc_fill_uniform(P.tensors[i], -1.5, 1.5, &r);
  nnc_module_train(&net->base, true);
  nnc_no_grad_begin();
  for (int k = 0; k < 4; k++) {
    nnc_tensor *x = nnc_wrap(NNC_F32, NNC_SHAPE(256, 784), nnc_f32(test_ds.x) + (int64_t)k * 256 * 784);
    nnc_forward(&net->base, x);
    nnc_step_end();
  }
  nnc_no_grad_end();
  nnc_st_writer *w = nnc_st_writer_new();
  CHECK(nnc_params_add_to_writer(&P, w, NULL, NNC_ST_F32) == NNC_OK);
  CHECK(nnc_params_add_to_writer(&B, w, NULL, NNC_ST_F32) == NNC_OK);
  CHECK(nnc_st_writer_write(w, path) == NNC_OK);
  nnc_st_writer_free(w);
  nnc_module_free(&net->base);
  nnc_params_free(&P);
  nnc_params_free(&B);
}

static void test_binary_model(const char *label, nnc_bmlp_arch a, int64_t n, uint8_t **bytes_out, size_t *nbytes_out) {
  char path[256];
  snprintf(path, sizeof path, "%s/%s.safetensors", tmpdir, label);
  make_bmlp(&a, path, 7 + (uint64_t)a.hidden);
  nnc_st_file *f;
  if (nnc_st_read(path, &f) != NNC_OK) {
    CHECKF(0, "%s", nnc_last_error());
    return;
  }
  nnc_bmlp_plan plan;
  nnc_status st = nnc_bmlp_plan_from(f, &a, &plan);
  CHECKF(st == NNC_OK, "%s: %s", label, nnc_last_error());
  nnc_st_free(f);
  if (st) return;
  nnc_imodel m;
  st = nnc_bmlp_to_imodel(&plan, label, &m);
  CHECKF(st == NNC_OK, "%s: %s", label, nnc_last_error());
  if (st) {
    nnc_bmlp_plan_free(&plan);
    return;
  }
  const int64_t H = a.hidden, C = a.classes, hw = nnc_bits_words(H);
  const int L = a.n_binary + 1;
  int64_t *ps = malloc((size_t)n * 8), *pm = malloc((size_t)n * 8), *pp = malloc((size_t)n * 8);
  double *ss = malloc((size_t)(n * C) * 8), *sm = malloc((size_t)(n * C) * 8), *sp = malloc((size_t)(n * C) * 8);
  uint64_t *hs[NNC_IMODEL_MAX_LAYERS];
  void *hm[NNC_IMODEL_MAX_LAYERS];
  for (int l = 0; l < L; l++) hs[l] = malloc((size_t)(n * hw) * 8), hm[l] = malloc((size_t)(n * hw) * 8);
  hm[L] = NULL;
  nnc_bmlp_simulate(&plan, n, pixels, ps, ss, hs);
  nnc_imodel_forward(&m, n, pixels, pm, sm, hm);
  nnc_infer_force_portable(true);
  nnc_imodel_forward(&m, n, pixels, pp, sp, NULL);
  nnc_infer_force_portable(false);
  int64_t dpred = 0, dscore = 0, dport = 0, dbits = 0, ones = 0, correct = 0;
  for (int64_t i = 0; i < n; i++) {
    dpred += ps[i] != pm[i];
    dport += pp[i] != pm[i];
    correct += pm[i] == nnc_i64(test_ds.y)[i];
  }
  for (int64_t i = 0; i < n * C; i++) dscore += ss[i] != sm[i], dport += sp[i] != sm[i];
  for (int l = 0; l < L; l++)
    for (int64_t i = 0; i < n * hw; i++) {
      dbits += __builtin_popcountll(hs[l][i] ^ ((uint64_t *)hm[l])[i]);
      ones += __builtin_popcountll(hs[l][i]);
    }
  printf("binary model %s: %lld images, %lld hidden bits compared (%.1f%% ones), accuracy %.1f%% (random weights)\n",
         label, (long long)n, (long long)(n * H * L), 100.0 * (double)ones / (double)(n * H * L),
         100.0 * (double)correct / (double)n);
  CHECKF(dpred == 0, "%s: %lld predictions differ from the float simulation", label, (long long)dpred);
  CHECKF(dscore == 0, "%s: %lld scores differ from the float simulation", label, (long long)dscore);
  CHECKF(dbits == 0, "%s: %lld hidden bits differ from the float simulation", label, (long long)dbits);
  CHECKF(dport == 0, "%s: %lld outputs of the portable kernels differ", label, (long long)dport);
  CHECKF(ones > n * H * L / 10 && ones < n * H * L * 9 / 10, "%s: hidden layers nearly constant", label);
  /* the file round trip gives the same model */
  uint8_t *bytes;
  size_t nb;
  CHECK(nnc_imodel_serialize(&m, &bytes, &nb) == NNC_OK);
  nnc_imodel back;
  st = nnc_imodel_parse(bytes, nb, label, &back);
  CHECKF(st == NNC_OK, "%s", nnc_last_error());
  if (!st) {
    nnc_imodel_forward(&back, n, pixels, pp, sp, NULL);
    int64_t d = 0;
    for (int64_t i = 0; i < n * C; i++) d += sp[i] != sm[i];
    CHECK(d == 0);
    nnc_imodel_free(&back);
  }
  if (bytes_out) *bytes_out = bytes, *nbytes_out = nb;
  else free(bytes);
  for (int l = 0; l < L; l++) free(hs[l]), free(hm[l]);
  free(ps), free(pm), free(pp), free(ss), free(sm), free(sp);
  nnc_imodel_free(&m);
  nnc_bmlp_plan_free(&plan);
}

static void test_int8_model(int64_t n, uint8_t **bytes_out, size_t *nbytes_out) {
  char path[256];
  snprintf(path, sizeof path, "%s/mlp.safetensors", tmpdir);
  {
    nnc_params P, B;
    nnc_params_init(&P, NNC_F32);
    nnc_params_init(&B, NNC_F32);
    nnc_rng r;
    nnc_rng_seed(&r, 3, 1);
    nnc_module *net = nnc_model_find("fashion-mlp")->build(&P, &B, &r);
    CHECK(nnc_params_save(&P, path, NULL) == NNC_OK);
    nnc_module_free(net);
    nnc_params_free(&P);
    nnc_params_free(&B);
  }
  nnc_qmlp q;
  uint8_t lut[256];
  nnc_q8mlp_opts o = {.calib = 512, .method = NNC_CALIB_MINMAX};
  nnc_status st = nnc_q8mlp_quantize(path, NULL, &o, &q, lut);
  CHECKF(st == NNC_OK, "%s", nnc_last_error());
  if (st) return;
  nnc_imodel m;
  st = nnc_q8mlp_to_imodel(&q, lut, "int8 test", &m);
  CHECKF(st == NNC_OK, "%s", nnc_last_error());
  if (st) {
    nnc_qmlp_free(&q);
    return;
  }
  const int64_t C = 10;
  uint8_t *xq = malloc((size_t)(n * 784)), *ref = malloc((size_t)(n * C));
  uint8_t *h0r = malloc((size_t)(n * 256)), *h0m = malloc((size_t)(n * 256));
  double *sm = malloc((size_t)(n * C) * 8), *sp = malloc((size_t)(n * C) * 8);
  nnc_qmlp_quantize_input(&q, n, nnc_f32(test_ds.x), xq);
  int64_t dlut = 0;
  for (int64_t i = 0; i < n * 784; i++) dlut += xq[i] != lut[pixels[i]];
  CHECKF(dlut == 0, "%lld input codes differ between the pixel table and nnc_qmlp_quantize_input", (long long)dlut);
  uint8_t *codes[3] = {h0r, NULL, NULL};
  nnc_qmlp_forward_ref(&q, n, xq, ref, codes);
  void *hid[3] = {h0m, NULL, NULL};
  nnc_imodel_forward(&m, n, pixels, NULL, sm, hid);
  nnc_infer_force_portable(true);
  nnc_imodel_forward(&m, n, pixels, NULL, sp, NULL);
  nnc_infer_force_portable(false);
  int64_t d = 0, dp = 0, dh = 0, distinct = 0;
  for (int64_t i = 0; i < n * C; i++) d += sm[i] != (double)ref[i], dp += sp[i] != sm[i];
  for (int64_t i = 0; i < n * 256; i++) dh += h0r[i] != h0m[i], distinct += h0r[i] != h0r[0];
  printf("int8 model: %lld images, %lld output codes and %lld hidden codes compared with the integer reference\n",
         (long long)n, (long long)(n * C), (long long)(n * 256));
  CHECKF(d == 0, "%lld output codes differ from nnc_qmlp_forward_ref", (long long)d);
  CHECKF(dh == 0, "%lld hidden codes differ from nnc_qmlp_forward_ref", (long long)dh);
  CHECKF(dp == 0, "%lld outputs of the portable kernels differ", (long long)dp);
  CHECK(distinct > 0);
  CHECK(nnc_imodel_serialize(&m, bytes_out, nbytes_out) == NNC_OK);
  free(xq), free(ref), free(h0r), free(h0m), free(sm), free(sp);
  nnc_imodel_free(&m);
  nnc_qmlp_free(&q);
}

/* ---------------------------------------------------------------- hostile files */
static void put32(uint8_t *p, uint32_t v) { p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8), p[2] = (uint8_t)(v >> 16), p[3] = (uint8_t)(v >> 24); }
static uint32_t get32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static void fix_crc(uint8_t *b, size_t n) { put32(b + n - 4, (uint32_t)crc32(0L, b, (uInt)(n - 4))); }

/* parse must fail with NNC_ERR_FORMAT (and a message containing want, if not NULL) */
static int expect_format(const uint8_t *b, size_t n, const char *want, const char *what) {
  nnc_imodel m;
  nnc_status st = nnc_imodel_parse(b, n, "hostile", &m);
  bool ok = st == NNC_ERR_FORMAT && (!want || strstr(nnc_last_error(), want));
  if (!ok) fprintf(stderr, "  %s: status %d, '%s'\n", what, (int)st, st ? nnc_last_error() : "(accepted)");
  if (!st) nnc_imodel_free(&m);
  return ok ? 0 : 1;
}

/* a lying u32 at offset off (CRC made valid again) */
static int lie32(const uint8_t *good, size_t n, size_t off, uint32_t v, const char *want, const char *what) {
  uint8_t *b = malloc(n);
  memcpy(b, good, n);
  put32(b + off, v);
  fix_crc(b, n);
  int r = expect_format(b, n, want, what);
  free(b);
  return r;
}

static void test_hostile(const char *label, const uint8_t *good, size_t n) {
  nnc_imodel m;
  CHECKF(nnc_imodel_parse(good, n, label, &m) == NNC_OK, "%s", nnc_last_error());
  nnc_imodel_free(&m);
  int bad = 0;
  /* every truncation */
  for (size_t k = 0; k < n; k += (n > 20000 && k > 400 && k < n - 400 ? 97 : 1)) {
    uint8_t *b = malloc(k ? k : 1);
    memcpy(b, good, k);
    bad += expect_format(b, k, NULL, "truncated");
    if (k >= 40) { /* the same with the header's size and CRC made to agree */
      put32(b + 28, (uint32_t)k);
      put32(b + 32, 0);
      fix_crc(b, k);
      bad += expect_format(b, k, NULL, "truncated, consistent size");
    }
    free(b);
  }
  CHECKF(bad == 0, "%s: %d truncated files accepted or misreported", label, bad);
  /* trailing bytes */
  {
    uint8_t *b = malloc(n + 16);
    memcpy(b, good, n);
    memset(b + n, 0, 16);
    bad = expect_format(b, n + 16, "the header says", "trailing");
    put32(b + 28, (uint32_t)(n + 16));
    fix_crc(b, n + 16);
    bad += expect_format(b, n + 16, "after the last layer", "trailing, consistent");
    CHECK(bad == 0);
    free(b);
  }
  /* random corruption: the CRC catches it */
  bad = 0;
  for (int t = 0; t < 300; t++) {
    uint8_t *b = malloc(n);
    memcpy(b, good, n);
    size_t at = (size_t)nnc_rng_below(&R, (int64_t)n);
    b[at] ^= (uint8_t)(1 + nnc_rng_below(&R, 255));
    bad += expect_format(b, n, NULL, "corrupt byte");
    free(b);
  }
  CHECKF(bad == 0, "%s: %d corrupted files accepted", label, bad);
  /* lying fields with a valid CRC */
  uint32_t dl = get32(good + 24);
  size_t l0 = 36 + dl + 256; /* the first layer header */
  bad = 0;
  bad += lie32(good, n, 4, 2, "version", "version");
  bad += lie32(good, n, 8, 7, "kind", "kind");
  bad += lie32(good, n, 12, 0, "layers", "0 layers");
  bad += lie32(good, n, 12, 65, "layers", "65 layers");
  bad += lie32(good, n, 12, 0xFFFFFFFFu, "layers", "2^32-1 layers");
  bad += lie32(good, n, 12, get32(good + 12) + 1, NULL, "one layer more");
  bad += lie32(good, n, 12, get32(good + 12) - 1, NULL, "one layer less");
  bad += lie32(good, n, 16, 0, "inputs", "0 inputs");
  bad += lie32(good, n, 16, 0xFFFFFFFFu, "inputs", "huge inputs");
  bad += lie32(good, n, 16, 783, NULL, "783 inputs");
  bad += lie32(good, n, 20, 11, NULL, "11 classes");
  bad += lie32(good, n, 24, 0xFFFFFFFFu, "description", "huge description");
  bad += lie32(good, n, 24, dl + 1, NULL, "description one longer");
  bad += lie32(good, n, 28, (uint32_t)n + 1, "the header says", "file size");
  bad += lie32(good, n, 32, 1, "the header says", "file size high word");
  bad += lie32(good, n, l0, 9, "unknown type", "layer type");
  bad += lie32(good, n, l0, 0, "unknown type", "layer type 0");
  bad += lie32(good, n, l0 + 4, 0, "sizes", "layer in 0");
  bad += lie32(good, n, l0 + 4, 0x7FFFFFFF, "sizes", "layer in huge");
  bad += lie32(good, n, l0 + 4, get32(good + l0 + 4) + 1, NULL, "layer in + 1");
  bad += lie32(good, n, l0 + 8, get32(good + l0 + 8) + 64, "payload", "layer out + 64");
  bad += lie32(good, n, l0 + 12, 0x80, "flags", "layer flags");
  bad += lie32(good, n, l0 + 16, get32(good + l0 + 16) + 1, "payload", "payload bytes + 1");
  bad += lie32(good, n, l0 + 20, 1, "payload", "payload bytes high word");
  {
    uint8_t *b = malloc(n);
    memcpy(b, good, n);
    memcpy(b, "NNCX", 4);
    bad += expect_format(b, n, "magic", "magic");
    memcpy(b, good, n);
    b[36] = 7; /* a control character in the description */
    fix_crc(b, n);
    bad += expect_format(b, n, dl ? "printable" : NULL, "description");
    free(b);
  }
  CHECKF(bad == 0, "%s: %d lying headers accepted or misreported", label, bad);
  /* garbage, with and without a valid magic and size */
  bad = 0;
  for (int t = 0; t < 200; t++) {
    size_t k = (size_t)nnc_rng_below(&R, 4096);
    uint8_t *b = malloc(k + 1);
    for (size_t i = 0; i < k; i++) b[i] = (uint8_t)nnc_rng_below(&R, 256);
    if (t % 2 && k >= 40) {
      memcpy(b, "NNCI", 4);
      put32(b + 4, 1);
      put32(b + 28, (uint32_t)k);
      put32(b + 32, 0);
      fix_crc(b, k);
    }
    bad += expect_format(b, k, NULL, "garbage");
    free(b);
  }
  CHECKF(bad == 0, "%s: %d garbage files accepted", label, bad);
}

/* payload-level lies in a binary model's layers (CRC valid) */
static void test_hostile_binary_payload(const uint8_t *good, size_t n) {
  uint32_t dl = get32(good + 24);
  size_t l0 = 36 + dl + 256;
  uint32_t in0 = get32(good + l0 + 4), out0 = get32(good + l0 + 8), flags0 = get32(good + l0 + 12);
  size_t w0 = flags0 & 1 ? (size_t)out0 * ((in0 + 63) / 64) * 8 : (size_t)out0 * in0;
  size_t p0 = l0 + 24, dir0 = p0 + w0 + 4 * (size_t)out0;
  int bad = 0;
  uint8_t *b = malloc(n);
  memcpy(b, good, n);
  b[dir0 + 3] = 0; /* a direction that is not +-1 */
  fix_crc(b, n);
  bad += expect_format(b, n, "direction", "direction 0");
  if (flags0 & 1) { /* a padding bit set in a packed first-layer weight row (784 % 64 = 16) */
    memcpy(b, good, n);
    size_t kw = (in0 + 63) / 64;
    b[p0 + (kw - 1) * 8 + 7] |= 0x80;
    fix_crc(b, n);
    bad += expect_format(b, n, "padding", "padding bit");
  }
  /* the second layer's input no longer matches the first's output */
  size_t l1 = p0 + get32(good + l0 + 16);
  memcpy(b, good, n);
  put32(b + l1 + 4, in0);
  fix_crc(b, n);
  bad += expect_format(b, n, NULL, "chain");
  CHECKF(bad == 0, "binary payload lies: %d accepted or misreported", bad);
  free(b);
}

static void test_hostile_int8_payload(const uint8_t *good, size_t n) {
  uint32_t dl = get32(good + 24);
  size_t l0 = 36 + dl + 256;
  uint32_t in0 = get32(good + l0 + 4), out0 = get32(good + l0 + 8);
  size_t p0 = l0 + 24, mult = p0 + (size_t)in0 * out0 + 4 * (size_t)out0, shift = mult + 4 * (size_t)out0;
  size_t scal = p0 + (size_t)in0 * out0 + 16 * (size_t)out0; /* in_scale, out_scale, in_zero, out_zero, min, max, in_max */
  int bad = 0;
  uint8_t *b = malloc(n);
#define LIE(off, v, want, what) (memcpy(b, good, n), put32(b + (off), (uint32_t)(v)), fix_crc(b, n), bad += expect_format(b, n, want, what))
  LIE(mult, 0x80000000u, "multiplier", "negative multiplier");
  LIE(shift, 31, "multiplier", "shift 31");
  LIE(shift, (uint32_t)-40, "multiplier", "shift -40");
  LIE(scal, 0x7FC00000u, "scales", "NaN input scale");
  LIE(scal + 4, 0xBF800000u, "scales", "negative output scale");
  LIE(scal + 8, 300, "zero points", "input zero 300");
  LIE(scal + 12, (uint32_t)-1, "zero points", "output zero -1");
  LIE(scal + 16, 256, "clamp", "clamp min 256");
  LIE(scal + 20, (uint32_t)-5, "clamp", "clamp max -5");
  LIE(scal + 24, 0, "zero points", "input max 0");
  LIE(p0 + (size_t)in0 * out0, 0x7FFFFFF0u, "overflow", "huge bias");
  LIE(scal + 12, 17, "previous output", "chain zero point");
#undef LIE
  CHECKF(bad == 0, "int8 payload lies: %d accepted or misreported", bad);
  free(b);
  nnc_imodel m;
  CHECK(nnc_imodel_load("/nonexistent/model.nnci", &m) == NNC_ERR_IO);
}

static void test_bench_smoke(void) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  nnc_bench_infer_opts o = {.M = 8, .N = 96, .K = 200, .reps = 5};
  CHECK(nnc_bench_binary(&o, f) == 0);
  CHECK(nnc_bench_int8(&o, f) == 0);
  fclose(f);
  CHECK(buf && strstr(buf, "\"bench\": \"binary\"") && strstr(buf, "\"bench\": \"int8\"") && strstr(buf, "\"speedup\""));
  free(buf);
}

int main(void) {
  nnc_init();
  nnc_rng_seed(&R, 42, 99);
  test_pack();
  test_binary_linear();
  test_binary_conv();
  test_q8_gemm();
  test_requant();
  test_bench_smoke();
  if (!mkdtemp(tmpdir)) {
    CHECKF(0, "mkdtemp failed");
    return test_summary();
  }
  have_data = nnc_fashion_load(NULL, false, &test_ds) == NNC_OK;
  CHECKF(have_data, "Fashion-MNIST test set: %s", nnc_last_error());
  if (have_data) {
    pixels = malloc((size_t)(test_ds.n * 784));
    CHECK(nnc_fashion_pixels(&test_ds, pixels) == NNC_OK);
    bool san = getenv("NNC_SANITIZE") != NULL;
    uint8_t *bb, *qb;
    size_t bn, qn;
    test_binary_model("1bit", (nnc_bmlp_arch){784, 512, 10, 2, true}, san ? 100 : 300, &bb, &bn);
    test_binary_model("int8-first", (nnc_bmlp_arch){784, 512, 10, 2, false}, san ? 100 : 300, NULL, NULL);
    test_binary_model("odd", (nnc_bmlp_arch){784, 100, 7, 1, true}, san ? 100 : 500, NULL, NULL);
    test_binary_model("odd-int8-first", (nnc_bmlp_arch){784, 70, 10, 3, false}, san ? 100 : 500, NULL, NULL);
    test_binary_model("no-binary-layer", (nnc_bmlp_arch){784, 65, 10, 0, true}, 200, NULL, NULL);
    test_int8_model(san ? 100 : 1000, &qb, &qn);
    /* a small model for the exhaustive truncation test */
    uint8_t *sb;
    size_t sn;
    test_binary_model("small", (nnc_bmlp_arch){784, 40, 10, 1, true}, 50, &sb, &sn);
    test_hostile("binary model", sb, sn);
    test_hostile_binary_payload(sb, sn);
    test_hostile_binary_payload(bb, bn);
    test_hostile("int8 model", qb, qn);
    test_hostile_int8_payload(qb, qn);
    free(bb), free(qb), free(sb);
    free(pixels);
    nnc_dataset_free(&test_ds);
  }
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
  if (system(cmd)) fprintf(stderr, "could not remove %s\n", tmpdir);
  return test_summary();
}
