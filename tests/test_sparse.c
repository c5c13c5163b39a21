/* tests/test_sparse.c: the sparse linear layer of src/infer/sparse.h and the sparse MLP of
 * src/infer/sparse_mlp.h.
 *   kernel: AVX-512 and portable forward passes against the oracle (nnc_sparse_linear_ref) and
 *           against the dense product (nnc_gemm_ref_f32 of the original weight plus bias), on
 *           odd shapes (out, in, batch not multiples of 16, batches over several tiles), empty
 *           rows, all-zero and fully dense weights, panels of 1, 7 and the default, ReLU, 1 and 2
 *           threads (bit-identical), caller-provided scratch; the format itself (entries, order)
 *   errors: bad sizes and arguments stop with a message
 *   bench:  nnc_bench_sparse on a small layer (lines, sparsities, differences, bad options)
 *   model:  a trained fashion-mlp pruned to 90% / 90% / 50% by magnitude, run as a sparse MLP on
 *           the 10 000 test images: predictions equal the dense model's (nnc ops), logits within
 *           float tolerance; bad parameter names and shapes give clear errors */
#include <stdlib.h>
#include <time.h>
#include "core/gemm.h"
#include "data/fashion.h"
#include "infer/bench_infer.h"
#include "infer/kernels.h"
#include "infer/sparse.h"
#include "infer/sparse_mlp.h"
#include "nn/prune.h"
#include "test.h"
#include "train/models.h"

static nnc_rng R;

/* w [out, in] uniform in (-1, 1), each entry zero with probability `sparsity`; rows listed
 * in `empty_every` (every k-th row, 0: none) all zero */
static void rand_weight(float *w, int64_t out, int64_t in, double sparsity, int64_t empty_every) {
  for (int64_t n = 0; n < out; n++)
    for (int64_t k = 0; k < in; k++) {
      float v = (float)(2.0 * nnc_rng_uniform(&R) - 1.0);
      if (nnc_rng_uniform(&R) < sparsity || (empty_every && n % empty_every == 0)) v = 0.0f;
      w[n * in + k] = v;
    }
}

/* y = x w^T + b by the dense reference kernel, then ReLU */
static void dense_ref(int64_t B, int64_t out, int64_t in, const float *x, const float *w, const float *b, bool relu,
                      float *y) {
  for (int64_t i = 0; i < B; i++)
    for (int64_t n = 0; n < out; n++) y[i * out + n] = b ? b[n] : 0.0f;
  nnc_gemm_ref_f32(false, true, B, out, in, 1.0f, x, in, w, in, 1.0f, y, out);
  if (relu)
    for (int64_t i = 0; i < B * out; i++) y[i] = y[i] > 0.0f ? y[i] : 0.0f;
}

/* max |a - b| / (1 + sum_k |w||x|) over the outputs: rounding of a float sum of in terms */
static double rel_err(int64_t B, int64_t out, int64_t in, const float *x, const float *w, const float *a,
                      const float *b) {
  double worst = 0;
  for (int64_t i = 0; i < B; i++)
    for (int64_t n = 0; n < out; n++) {
      double mag = 1.0;
      for (int64_t k = 0; k < in; k++) mag += fabs((double)w[n * in + k] * x[i * in + k]);
      double e = fabs((double)a[i * out + n] - b[i * out + n]) / mag;
      if (e > worst || e != e) worst = e != e ? INFINITY : e;
    }
  return worst;
}

static bool format_ok(const nnc_sparse_linear *L, const float *w) {
  int64_t count = 0;
  for (int64_t i = 0; i < L->out * L->in; i++) count += w[i] != 0.0f;
  if (count != L->nnz || L->rowcum[L->out] != L->nnz) return false;
  for (int64_t q = 0; q < L->npanels; q++) {
    const int64_t *ptr = L->ptr + q * (L->out + 1);
    for (int64_t n = 0; n < L->out; n++)
      for (int64_t p = ptr[n]; p < ptr[n + 1]; p++) {
        int64_t k = L->col[p];
        if (k < q * L->panel || k >= (q + 1) * L->panel || k >= L->in) return false;
        if (p > ptr[n] && L->col[p - 1] >= k) return false;
        if (L->val[p] != w[n * L->in + k]) return false;
      }
  }
  return true;
}

static void test_kernel(void) {
  static const int64_t outs[] = {1, 5, 16, 17, 33, 100}, ins[] = {1, 3, 16, 17, 129, 300};
  static const int64_t Bs[] = {1, 2, 15, 16, 17, 63, 64, 65, 130};
  static const double sps[] = {0.0, 0.5, 0.9, 1.0};
  printf("sparse kernel: %s\n", nnc_sparse_isa());
  int cases = 0, bad_fmt = 0, bad_ref = 0, bad_dense = 0, bad_port = 0, bad_threads = 0;
  double worst = 0;
  for (size_t a = 0; a < 6; a++)
    for (size_t c = 0; c < 6; c++)
      for (size_t s = 0; s < 4; s++) {
        int64_t out = outs[a], in = ins[c], B = Bs[(a + c + s) % 9];
        int64_t panel = (a + s) % 3 == 0 ? 0 : (a + s) % 3 == 1 ? 1 : 7;
        bool relu = (a + c) % 2, with_bias = s != 1;
        float *w = malloc((size_t)(out * in) * 4), *bias = malloc((size_t)out * 4), *x = malloc((size_t)(B * in) * 4);
        float *y = malloc((size_t)(B * out) * 4), *yr = malloc((size_t)(B * out) * 4), *yd = malloc((size_t)(B * out) * 4);
        float *yp = malloc((size_t)(B * out) * 4), *y2 = malloc((size_t)(B * out) * 4);
        rand_weight(w, out, in, sps[s], c == 3 ? 3 : 0);
        for (int64_t n = 0; n < out; n++) bias[n] = (float)nnc_rng_normal(&R);
        for (int64_t i = 0; i < B * in; i++) x[i] = (float)nnc_rng_normal(&R);
        nnc_sparse_linear L;
        nnc_sparse_linear_init(&L, out, in, w, with_bias ? bias : NULL, panel);
        bad_fmt += !format_ok(&L, w);
        nnc_set_threads(1);
        nnc_sparse_linear_forward(&L, B, x, y, relu, NULL);
        nnc_sparse_linear_ref(&L, B, x, yr, relu);
        dense_ref(B, out, in, x, w, with_bias ? bias : NULL, relu, yd);
        nnc_infer_force_portable(true);
        nnc_sparse_linear_forward(&L, B, x, yp, relu, NULL);
        nnc_infer_force_portable(false);
        nnc_set_threads(2);
        nnc_sparse_linear_forward(&L, B, x, y2, relu, NULL);
        nnc_set_threads(1);
        double e1 = rel_err(B, out, in, x, w, y, yr), e2 = rel_err(B, out, in, x, w, yr, yd);
        double e3 = rel_err(B, out, in, x, w, yp, yr);
        bad_ref += !(e1 <= 1e-6), bad_dense += !(e2 <= 1e-6), bad_port += !(e3 <= 1e-6);
        bad_threads += memcmp(y, y2, (size_t)(B * out) * 4) != 0;
        worst = fmax(worst, fmax(e1, fmax(e2, e3)));
        cases++;
        nnc_sparse_linear_free(&L);
        free(w), free(bias), free(x), free(y), free(yr), free(yd), free(yp), free(y2);
      }
  printf("  %d cases, worst relative error %.2e\n", cases, worst);
  CHECKF(bad_fmt == 0, "%d bad formats", bad_fmt);
  CHECKF(bad_ref == 0, "%d kernel vs oracle mismatches", bad_ref);
  CHECKF(bad_dense == 0, "%d oracle vs dense mismatches", bad_dense);
  CHECKF(bad_port == 0, "%d portable vs oracle mismatches", bad_port);
  CHECKF(bad_threads == 0, "%d cases differ between 1 and 2 threads", bad_threads);
}

/* larger layers: several panels and tiles, work large enough for two threads, caller scratch */
static void test_large(void) {
  const int64_t out = 300, in = 1000, B = 200;
  float *w = malloc((size_t)(out * in) * 4), *bias = malloc((size_t)out * 4), *x = malloc((size_t)(B * in) * 4);
  float *y1 = malloc((size_t)(B * out) * 4), *y2 = malloc((size_t)(B * out) * 4), *yd = malloc((size_t)(B * out) * 4);
  rand_weight(w, out, in, 0.8, 7);
  for (int64_t n = 0; n < out; n++) bias[n] = (float)nnc_rng_normal(&R);
  for (int64_t i = 0; i < B * in; i++) x[i] = (float)nnc_rng_normal(&R);
  nnc_sparse_linear L;
  nnc_sparse_linear_init(&L, out, in, w, bias, 0);
  CHECK(L.panel == NNC_SPARSE_PANEL && L.npanels == 8);
  int64_t count = 0;
  for (int64_t i = 0; i < out * in; i++) count += w[i] != 0.0f;
  CHECK(L.nnz == count && nnc_sparse_density(&L) == (double)count / (double)(out * in));
  CHECK(L.rowcum[1] == 0 && L.rowcum[8] == L.rowcum[7]); /* rows 0 and 7 are empty */
  float *work = aligned_alloc(64, (size_t)nnc_sparse_work_floats(&L) * 4);
  nnc_set_threads(1);
  nnc_sparse_linear_forward(&L, B, x, y1, true, work);
  nnc_set_threads(2);
  nnc_sparse_linear_forward(&L, B, x, y2, true, work);
  nnc_set_threads(1);
  dense_ref(B, out, in, x, w, bias, true, yd);
  CHECK(memcmp(y1, y2, (size_t)(B * out) * 4) == 0);
  double e = rel_err(B, out, in, x, w, y1, yd);
  CHECKF(e <= 1e-6, "error %.3g", e);
  /* B = 0 writes nothing */
  y1[0] = 42.0f;
  nnc_sparse_linear_forward(&L, 0, x, y1, false, work);
  CHECK(y1[0] == 42.0f);
  free(work);
  nnc_sparse_linear_free(&L);
  free(w), free(bias), free(x), free(y1), free(y2), free(yd);
}

static void test_errors(void) {
  float w[6] = {1, 0, 2, 0, 0, 3}, x[3] = {1, 2, 3}, y[2];
  nnc_sparse_linear L;
  EXPECT_ABORT(nnc_sparse_linear_init(&L, 0, 3, w, NULL, 0), "sizes out=0 in=3");
  EXPECT_ABORT(nnc_sparse_linear_init(&L, 2, -1, w, NULL, 0), "sizes");
  EXPECT_ABORT(nnc_sparse_linear_init(&L, 2, 3, NULL, NULL, 0), "NULL");
  EXPECT_ABORT(nnc_sparse_linear_init(&L, 2, 3, w, NULL, -5), "panel -5");
  EXPECT_ABORT(nnc_sparse_linear_init(&L, 2, (int64_t)1 << 31, w, NULL, 0), "2^31");
  nnc_sparse_linear_init(&L, 2, 3, w, NULL, 0);
  CHECK(L.nnz == 3 && L.npanels == 1 && L.panel == 3);
  nnc_sparse_linear_forward(&L, 1, x, y, false, NULL);
  CHECK(y[0] == 7.0f && y[1] == 9.0f);
  EXPECT_ABORT(nnc_sparse_linear_forward(&L, -1, x, y, false, NULL), "batch -1");
  EXPECT_ABORT(nnc_sparse_linear_forward(&L, 1, NULL, y, false, NULL), "NULL input");
  EXPECT_ABORT(nnc_sparse_linear_forward(&L, 1, x, y, false, (float *)((char *)y + 4)), "64-byte aligned");
  nnc_sparse_linear_free(&L);
  nnc_sparse_linear_free(&L); /* twice is harmless */
  EXPECT_ABORT(nnc_sparse_linear_forward(&L, 1, x, y, false, NULL), "not initialised");
}


/* `nnc bench sparse` on a small layer: four lines, the exact sparsities, a small difference */
static void test_bench_smoke(void) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  nnc_bench_infer_opts o = {.M = 9, .N = 70, .K = 200, .reps = 5};
  CHECK(nnc_bench_sparse(&o, f) == 0);
  o.sparsity = 0.3;
  CHECK(nnc_bench_sparse(&o, f) == 0);
  fclose(f);
  int lines = 0;
  for (char *c = buf; c && *c; c++) lines += *c == '\n';
  CHECK(lines == 5);
  CHECK(buf && strstr(buf, "\"sparsity\": 0.9000, \"nnz\": 1400,") && strstr(buf, "\"sparsity\": 0.3000,") &&
        strstr(buf, "\"speedup\""));
  for (char *d = buf ? strstr(buf, "\"max_abs_diff\": ") : NULL; d; d = strstr(d + 1, "\"max_abs_diff\": "))
    CHECKF(atof(d + 16) < 1e-3, "%.40s", d);
  free(buf);
  FILE *null = fopen("/dev/null", "w");
  o.sparsity = 1.0;
  CHECK(nnc_bench_sparse(&o, null) == 2);
  o.sparsity = -0.1;
  CHECK(nnc_bench_sparse(&o, null) == 2);
  o.sparsity = 0.5, o.M = -1;
  CHECK(nnc_bench_sparse(&o, null) == 2);
  fclose(null);
}

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int64_t argmax(const float *v, int64_t n) {
  int64_t best = 0;
  for (int64_t i = 1; i < n; i++)
    if (v[i] > v[best]) best = i;
  return best;
}

/* fashion-mlp trained one epoch, pruned by magnitude layer by layer (masks), fine-tuned one
 * epoch with the masks, then run dense (nnc ops) and as a sparse MLP on the test set */
static void test_model(void) {
  nnc_dataset train, test;
  nnc_status st = nnc_fashion_load(NULL, true, &train);
  if (st == NNC_OK) st = nnc_fashion_load(NULL, false, &test);
  CHECKF(st == NNC_OK, "Fashion-MNIST: %s", nnc_last_error());
  if (st != NNC_OK) return;
  nnc_set_threads(1);
  const nnc_model_spec *spec = nnc_model_find("fashion-mlp");
  nnc_params p, buffers;
  nnc_params_init(&p, NNC_F32);
  nnc_params_init(&buffers, NNC_F32);
  nnc_rng rng;
  nnc_rng_seed(&rng, 0, 3);
  nnc_module *net = spec->build(&p, &buffers, &rng);
  nnc_optim opt;
  nnc_sgd_init(&opt, &p, 0.05, 0.9, 5e-4, true);
  nnc_batcher bat;
  CHECK(nnc_batcher_init(&bat, train.n, 128, 1, true, false) == NNC_OK);
  nnc_fit fit = {.model = net, .params = &p, .opt = &opt, .quiet = true};
  int64_t step = 0;
  nnc_module_train(net, true);
  double loss0 = nnc_fit_epoch(&fit, &train, &bat, &step);
  const char *w1[] = {"fc1.weight"}, *w2[] = {"fc2.weight"}, *w3[] = {"fc3.weight"};
  nnc_prune_magnitude_layerwise(&p, w1, 1, 0.9);
  nnc_prune_magnitude_layerwise(&p, w2, 1, 0.9);
  nnc_prune_magnitude_layerwise(&p, w3, 1, 0.5);
  double loss1 = nnc_fit_epoch(&fit, &train, &bat, &step);
  CHECKF(isfinite(loss0) && isfinite(loss1), "losses %g %g", loss0, loss1);
  nnc_module_eval(net);

  /* dense: the module through nnc ops, batches of 1000 */
  const int64_t n = test.n, C = 10;
  float *dense = malloc((size_t)(n * C) * 4), *sp = malloc((size_t)(n * C) * 4), *sp2 = malloc((size_t)(n * C) * 4);
  const float *xs = nnc_f32(test.x);
  nnc_no_grad_begin();
  double t0 = now_s();
  for (int64_t b0 = 0; b0 < n; b0 += 1000) {
    int64_t m = n - b0 < 1000 ? n - b0 : 1000;
    nnc_tensor *xb = nnc_wrap(NNC_F32, NNC_SHAPE(m, 784), (void *)(xs + b0 * 784));
    nnc_tensor *lg = nnc_contiguous(nnc_forward(net, xb));
    memcpy(dense + b0 * C, nnc_f32(lg), (size_t)(m * C) * 4);
    nnc_step_end();
  }
  double t_ops = now_s() - t0;
  nnc_no_grad_end();

  /* sparse: fc1, fc2 (10% dense) and fc3 (50%) sparse; then fc3 dense (max density 0.3) */
  const char *layers[] = {"fc1", "fc2", "fc3"};
  nnc_sparse_mlp m, m2, md;
  CHECK(nnc_sparse_mlp_from_params(&p, layers, 3, 0.5, &m) == NNC_OK);
  CHECK(nnc_sparse_mlp_from_params(&p, layers, 3, 0.3, &m2) == NNC_OK);
  CHECK(nnc_sparse_mlp_from_params(&p, layers, 3, -1.0, &md) == NNC_OK); /* every layer dense */
  CHECK(m.n_layers == 3 && m.in == 784 && m.out == 10 && m.width == 256);
  CHECK(m.layers[0].sparse && m.layers[1].sparse && m.layers[2].sparse);
  CHECK(m2.layers[0].sparse && m2.layers[1].sparse && !m2.layers[2].sparse && !md.layers[0].sparse);
  CHECK(m.layers[0].sp.nnz == nnc_mask_alive(&p, nnc_params_find(&p, "fc1.weight")));
  CHECK(m.layers[2].sp.nnz == 5 * 256);
  nnc_sparse_mlp_forward(&m, n, xs, sp);
  nnc_sparse_mlp_forward(&m2, n, xs, sp2);
  double t1 = now_s();
  nnc_sparse_mlp_forward(&m, n, xs, sp);
  double t_sparse = now_s() - t1;
  float *dd = malloc((size_t)(n * C) * 4);
  nnc_sparse_mlp_forward(&md, n, xs, dd);
  t1 = now_s();
  nnc_sparse_mlp_forward(&md, n, xs, dd);
  double t_dense = now_s() - t1;

  int64_t diff_pred = 0, diff_pred2 = 0, close_calls = 0, correct_dense = 0, correct_sparse = 0;
  double worst = 0;
  const int64_t *ys = nnc_i64(test.y);
  for (int64_t i = 0; i < n; i++) {
    const float *a = dense + i * C, *b = sp + i * C, *c = sp2 + i * C;
    for (int64_t k = 0; k < C; k++) {
      worst = fmax(worst, fabs((double)a[k] - b[k]) / (1.0 + fabs((double)a[k])));
      worst = fmax(worst, fabs((double)a[k] - c[k]) / (1.0 + fabs((double)a[k])));
      worst = fmax(worst, fabs((double)a[k] - dd[i * C + k]) / (1.0 + fabs((double)a[k])));
    }
    int64_t pa = argmax(a, C), pb = argmax(b, C), pc = argmax(c, C);
    /* a prediction may flip only where the dense model's top two are within rounding */
    float second = -INFINITY;
    for (int64_t k = 0; k < C; k++)
      if (k != pa && a[k] > second) second = a[k];
    bool close = a[pa] - second <= 1e-4f * (1.0f + fabsf(a[pa]));
    close_calls += close;
    diff_pred += pa != pb && !close, diff_pred2 += pa != pc && !close;
    correct_dense += pa == ys[i], correct_sparse += pb == ys[i];
  }
  printf("pruned fashion-mlp (fc1, fc2 90%%, fc3 50%% pruned): test acc dense %.2f%% sparse %.2f%%, "
         "worst logit difference %.2e, %lld near-ties\n",
         100.0 * correct_dense / n, 100.0 * correct_sparse / n, worst, (long long)close_calls);
  printf("  10000 test images, 1 thread: nnc ops %.1f ms, dense layers (gemm) %.1f ms, sparse layers %.1f ms\n",
         1e3 * t_ops, 1e3 * t_dense, 1e3 * t_sparse);
  CHECKF(diff_pred == 0 && diff_pred2 == 0, "%lld / %lld predictions differ", (long long)diff_pred,
         (long long)diff_pred2);
  CHECKF(worst <= 1e-5, "worst logit difference %.3g", worst);
  CHECK(correct_dense > n * 7 / 10); /* it learned something */

  /* errors */
  nnc_sparse_mlp bad;
  const char *unknown[] = {"fc1", "fc9"}, *unchained[] = {"fc2", "fc1"};
  CHECK(nnc_sparse_mlp_from_params(&p, unknown, 2, 0.5, &bad) == NNC_ERR_ARG &&
        strstr(nnc_last_error(), "no parameter 'fc9.weight'") && bad.layers == NULL);
  CHECK(nnc_sparse_mlp_from_params(&p, unchained, 2, 0.5, &bad) == NNC_ERR_ARG &&
        strstr(nnc_last_error(), "'fc1.weight' has 784 inputs, the previous layer gives 256"));
  CHECK(nnc_sparse_mlp_from_params(&p, layers, 0, 0.5, &bad) == NNC_ERR_ARG);
  nnc_tensor *odd = nnc_params_add(&p, "odd.weight", NNC_SHAPE(4, 4, 4));
  (void)odd;
  const char *odd_l[] = {"odd"};
  CHECK(nnc_sparse_mlp_from_params(&p, odd_l, 1, 0.5, &bad) == NNC_ERR_ARG && strstr(nnc_last_error(), "3 dimensions"));
  nnc_params_add(&p, "nb.weight", NNC_SHAPE(3, 256));
  nnc_params_add(&p, "nb.bias", NNC_SHAPE(4));
  const char *badbias[] = {"fc2", "nb"};
  CHECK(nnc_sparse_mlp_from_params(&p, badbias, 2, 0.5, &bad) == NNC_ERR_ARG && strstr(nnc_last_error(), "'nb.bias'"));
  /* a layer without bias: bias 0 */
  float *wn = nnc_f32(nnc_params_add(&p, "nob.weight", NNC_SHAPE(3, 256)));
  wn[5] = 2.0f, wn[256 + 7] = -1.0f;
  const char *nobias[] = {"fc2", "nob"};
  CHECK(nnc_sparse_mlp_from_params(&p, nobias, 2, 0.5, &bad) == NNC_OK && bad.in == 256 && bad.out == 3);
  CHECK(bad.layers[1].sparse && bad.layers[1].sp.nnz == 2);
  float h[256], o[3];
  for (int i = 0; i < 256; i++) h[i] = (float)i;
  nnc_sparse_mlp_forward(&bad, 1, h, o);
  float r2[256];
  nnc_sparse_linear_ref(&bad.layers[0].sp, 1, h, r2, true);
  CHECK(fabsf(o[0] - 2.0f * r2[5]) <= 1e-5f * (1 + fabsf(o[0])) && fabsf(o[1] + r2[7]) <= 1e-5f * (1 + fabsf(o[1])) &&
        o[2] == 0.0f);
  nnc_sparse_mlp_free(&bad);

  nnc_sparse_mlp_free(&m);
  nnc_sparse_mlp_free(&m2);
  nnc_sparse_mlp_free(&md);
  free(dense), free(sp), free(sp2), free(dd);
  nnc_batcher_free(&bat);
  nnc_optim_free(&opt);
  nnc_module_free(net);
  nnc_params_free(&p);
  nnc_params_free(&buffers);
  nnc_dataset_free(&train);
  nnc_dataset_free(&test);
}

int main(void) {
  nnc_init();
  nnc_rng_seed(&R, 42, 1);
  test_kernel();
  test_large();
  test_errors();
  test_bench_smoke();
  test_model();
  return test_summary();
}
