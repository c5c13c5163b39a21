/* papers/quant/quant.c: "A Survey of Quantization Methods for Efficient Neural Network
 * Inference" (Gholami et al., 2021) in miniature: a 784-256-256-10 ReLU MLP on Fashion-MNIST,
 * post-training quantisation at 8/6/4/3/2 bits (min-max, percentile and MSE calibration, per
 * tensor and per channel), QAT with the STE and LSQ at 4 and 2 bits, batch-norm folding, and
 * an integer-only W8A8 forward checked code for code against a float simulation of it.
 * See papers/quant/README.md for the claims, the numbers and what differs. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "nnc.h"
#include "papers/paper.h"
#include "quant/qint.h"
#include "quant/qmodel.h"
#include "quant/quant.h"
#include "train/classifier.h"

#define CALIB_N 2048 /* training images the activation ranges are calibrated on */
static const int BITS[] = {2, 3, 4, 6, 8};
#define NBITS 5
static const char *const CAL_SHORT[3] = {"minmax", "pct", "mse"};

/* weight percentile 99.9 (per channel that is the 1st of 784 |w|), activations 99.99 */
static nnc_calib calib_w(int m) { return (nnc_calib){(nnc_calib_method)m, 99.9, 100}; }
static nnc_calib calib_a(int m) { return (nnc_calib){(nnc_calib_method)m, 99.99, 100}; }

/* ---- the model ---- */
/* a Linear with He initialisation: W ~ N(0, 2 / fan_in), b = 0 (the survey reproduction's protocol) */
static nnc_linear_mod *he_linear(nnc_params *P, const char *name, int64_t in, int64_t out, nnc_rng *rng) {
  nnc_linear_mod *l = nnc_new_linear(P, name, in, out, true, rng);
  nnc_init_kaiming_normal(l->weight, sqrt(2.0), rng);
  nnc_init_constant(l->bias, 0);
  return l;
}

static nnc_sequential_mod *build_mlp(nnc_params *P, nnc_params *Buf, bool bn, nnc_rng *rng) {
  nnc_sequential_mod *net = nnc_new_sequential("");
  nnc_sequential_add(net, &he_linear(P, "fc1", 784, 256, rng)->base);
  if (bn) nnc_sequential_add(net, &nnc_new_batchnorm(P, Buf, "bn1", 256, 1e-5, 0.1, true)->base);
  nnc_sequential_add(net, &nnc_new_act(NNC_ACT_RELU, 0)->base);
  nnc_sequential_add(net, &he_linear(P, "fc2", 256, 256, rng)->base);
  if (bn) nnc_sequential_add(net, &nnc_new_batchnorm(P, Buf, "bn2", 256, 1e-5, 0.1, true)->base);
  nnc_sequential_add(net, &nnc_new_act(NNC_ACT_RELU, 0)->base);
  nnc_sequential_add(net, &he_linear(P, "fc3", 256, 10, rng)->base);
  return net;
}

/* trains `model` (its parameters in P) for `epochs` epochs on the first n examples with
 * Adam and a cosine schedule from lr; returns the last epoch's mean loss (NaN if it diverged) */
static double train(nnc_module *model, nnc_params *P, const nnc_dataset *data, int64_t n, int epochs, double lr,
                    uint64_t seed, const char *label, bool sgd) {
  nnc_optim opt;
  if (sgd) nnc_sgd_init(&opt, P, lr, 0.9, 0, false);
  else nnc_adam_init(&opt, P, lr, 0.9, 0.999, 1e-8, 0);
  nnc_batcher b;
  if (nnc_batcher_init(&b, n, 128, seed, true, false)) return NAN;
  nnc_schedule sched = nnc_sched_cosine(lr, nnc_batcher_batches_per_epoch(&b) * epochs, 0);
  nnc_fit fit = {.model = model, .params = P, .opt = &opt, .sched = &sched, .quiet = getenv("NNC_NO_PROGRESS") != NULL,
                 .label = label};
  int64_t step = 0;
  double loss = NAN;
  for (int e = 0; e < epochs; e++) {
    loss = nnc_fit_epoch(&fit, data, &b, &step);
    if (!isfinite(loss)) break;
  }
  nnc_batcher_free(&b);
  nnc_optim_free(&opt);
  return loss;
}

/* process CPU seconds (all threads), for the progress lines */
static double cpu_s(void) { return (double)clock() / CLOCKS_PER_SEC; }

/* ---- integer model vs the float simulations ---- */
typedef struct {
  double int_acc, naive_acc, sim_acc;
  int64_t codes, sim_diff, naive_diff, naive_off2; /* codes compared (all layers), differing, |d| >= 2 */
  int64_t top1_sim_same, top1_naive_same, n;
  int64_t per_layer_naive_diff[3];
  int64_t max_abs_acc;
} int_report;

static int argmax_u8(const uint8_t *v, int n) {
  int k = 0;
  for (int i = 1; i < n; i++)
    if (v[i] > v[k]) k = i;
  return k;
}

static void compare_integer(nnc_qmodel *q, const nnc_qmlp *m, const nnc_dataset *test, int_report *rep) {
  memset(rep, 0, sizeof *rep);
  const int64_t B = 1000;
  int L = m->n, K = (int)m->layers[L - 1].out;
  uint8_t *xq = nnc_xmalloc((size_t)(B * m->layers[0].in));
  uint8_t *codes[3];
  int32_t *acc = nnc_xmalloc((size_t)(B * 256) * sizeof *acc);
  for (int l = 0; l < L; l++) codes[l] = nnc_xmalloc((size_t)(B * m->layers[l].out));
  int64_t *idx = nnc_xmalloc((size_t)B * sizeof *idx);
  int64_t ok_int = 0, ok_naive = 0, ok_sim = 0;
  nnc_module_eval(&q->base);
  for (int64_t start = 0; start < test->n; start += B) {
    int64_t nb = test->n - start < B ? test->n - start : B;
    for (int64_t i = 0; i < nb; i++) idx[i] = start + i;
    nnc_tensor *x = nnc_empty(NNC_F32, NNC_SHAPE(nb, 784));
    nnc_dataset_gather(test, idx, nb, x, NULL);
    const int64_t *y = nnc_i64(test->y) + start;
    /* integer-only */
    nnc_qmlp_quantize_input(m, nb, nnc_f32(x), xq);
    /* layer by layer (as nnc_qmlp_forward_ref), keeping the accumulators to report the largest */
    const uint8_t *in = xq;
    for (int l = 0; l < L; l++) {
      nnc_qlinear_forward_ref(&m->layers[l], nb, in, codes[l], acc);
      for (int64_t i = 0; i < nb * m->layers[l].out; i++) {
        int64_t a = acc[i] < 0 ? -(int64_t)acc[i] : acc[i];
        if (a > rep->max_abs_acc) rep->max_abs_acc = a;
      }
      in = codes[l];
    }
    /* the float64 simulation that mirrors it */
    nnc_tensor *sim[3];
    nnc_qmlp_simulate_f64(m, x, sim);
    /* the fake-quantised float32 model (what PTQ evaluation and QAT compute) */
    nnc_tensor *cap[4];
    q->capture = cap;
    nnc_no_grad_begin();
    nnc_forward(&q->base, x);
    nnc_no_grad_end();
    q->capture = NULL;
    for (int l = 0; l < L; l++) {
      const nnc_qlinear *Q = &m->layers[l];
      const double *ps = nnc_f64(sim[l]);
      for (int64_t i = 0; i < nb * Q->out; i++) {
        int32_t naive = nnc_quantize_f32((float)nnc_get(cap[l + 1], i), Q->out_scale, Q->out_zero, 0, Q->out_max);
        int32_t c = codes[l][i];
        rep->codes++;
        rep->sim_diff += ps[i] != c;
        rep->naive_diff += naive != c;
        rep->per_layer_naive_diff[l] += naive != c;
        rep->naive_off2 += abs(naive - c) >= 2;
      }
    }
    for (int64_t i = 0; i < nb; i++) {
      const uint8_t *ci = codes[L - 1] + i * K;
      int pi = argmax_u8(ci, K);
      /* the simulated and fake-quantised logits, argmax with the same tie rule */
      int ps = 0, pn = 0;
      double bs = -1, bn = -INFINITY;
      for (int k = 0; k < K; k++) {
        double vs = nnc_f64(sim[L - 1])[i * K + k], vn = nnc_get(cap[L], i * K + k);
        if (vs > bs) bs = vs, ps = k;
        if (vn > bn) bn = vn, pn = k;
      }
      ok_int += pi == y[i];
      ok_sim += ps == y[i];
      ok_naive += pn == y[i];
      rep->top1_sim_same += ps == pi;
      rep->top1_naive_same += pn == pi;
    }
    nnc_step_end();
  }
  rep->n = test->n;
  rep->int_acc = (double)ok_int / (double)test->n;
  rep->sim_acc = (double)ok_sim / (double)test->n;
  rep->naive_acc = (double)ok_naive / (double)test->n;
  for (int l = 0; l < L; l++) free(codes[l]);
  free(xq);
  free(acc);
  free(idx);
}

/* ---- the weight histogram with quantisation levels ---- */
static nnc_status weight_histogram(const char *path, const nnc_tensor *w, int bits) {
  int64_t n = nnc_numel(w);
  const float *v = nnc_f32(w);
  double lo[2], hi[2];
  nnc_qscheme s = nnc_qscheme_weight(bits);
  nnc_calib_range(v, n, s, calib_w(NNC_CALIB_MINMAX), &lo[0], &hi[0]);
  nnc_calib_range(v, n, s, calib_w(NNC_CALIB_MSE), &lo[1], &hi[1]);
  double vmax = hi[0];
  enum { BINS = 120 };
  int64_t cnt[BINS] = {0}, cmax = 1;
  for (int64_t i = 0; i < n; i++) {
    int b = (int)floor((v[i] + vmax) / (2 * vmax) * BINS);
    b = b < 0 ? 0 : b >= BINS ? BINS - 1 : b;
    if (++cnt[b] > cmax) cmax = cnt[b];
  }
  const double W = 760, H = 420, x0 = 60, x1 = W - 20, y0 = 70, y1 = H - 50;
  nnc_strbuf sb = {0};
  nnc_sb_printf(&sb, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%g\" height=\"%g\" font-family=\"sans-serif\">\n", W, H);
  nnc_sb_printf(&sb, "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
  nnc_sb_printf(&sb, "<text x=\"%g\" y=\"24\" font-size=\"16\" text-anchor=\"middle\">fc2.weight (%lld values) and its %d-bit "
                     "per-tensor levels</text>\n", W / 2, (long long)n, bits);
  nnc_sb_printf(&sb, "<text x=\"%g\" y=\"44\" font-size=\"12\" text-anchor=\"middle\" fill=\"#555\">min-max range "
                     "&#177;%.3g (red) vs MSE-optimal range &#177;%.3g (blue dashed); grey: histogram</text>\n",
                W / 2, hi[0], hi[1]);
  for (int b = 0; b < BINS; b++) {
    double h = (double)cnt[b] / (double)cmax * (y1 - y0), bw = (x1 - x0) / BINS;
    nnc_sb_printf(&sb, "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"#bbb\"/>\n", x0 + b * bw,
                  y1 - h, bw, h);
  }
  int32_t qmax = (1 << (bits - 1)) - 1;
  for (int k = 0; k < 2; k++) {
    double S = hi[k] / qmax;
    for (int c = -qmax; c <= qmax; c++) {
      double px = x0 + (c * S + vmax) / (2 * vmax) * (x1 - x0);
      nnc_sb_printf(&sb, "<line x1=\"%.2f\" x2=\"%.2f\" y1=\"%g\" y2=\"%g\" stroke=\"%s\" stroke-width=\"1.5\"%s/>\n", px,
                    px, y0, y1, k ? "#1f77b4" : "#d62728", k ? " stroke-dasharray=\"6,4\"" : "");
    }
  }
  nnc_sb_printf(&sb, "<line x1=\"%g\" x2=\"%g\" y1=\"%g\" y2=\"%g\" stroke=\"black\"/>\n", x0, x1, y1, y1);
  for (int t = -2; t <= 2; t++) {
    double val = vmax * t / 2, px = x0 + (val + vmax) / (2 * vmax) * (x1 - x0);
    nnc_sb_printf(&sb, "<text x=\"%.1f\" y=\"%g\" font-size=\"12\" text-anchor=\"middle\">%.3g</text>\n", px, y1 + 16, val);
  }
  nnc_sb_printf(&sb, "<text x=\"%g\" y=\"%g\" font-size=\"13\" text-anchor=\"middle\">weight value</text>\n", (x0 + x1) / 2,
                H - 12);
  nnc_sb_printf(&sb, "<text x=\"16\" y=\"%g\" font-size=\"13\" text-anchor=\"middle\" transform=\"rotate(-90 16 %g)\">count "
                     "(max %lld per bin)</text>\n", (y0 + y1) / 2, (y0 + y1) / 2, (long long)cmax);
  nnc_sb_puts(&sb, "</svg>\n");
  nnc_status st = nnc_write_file_atomic(path, sb.buf, sb.len);
  nnc_sb_free(&sb);
  return st;
}

/* ---- the experiment ---- */
static nnc_status run_quant(nnc_paper_run *r) {
  const bool quick = r->quick;
  double t0 = nnc_now();
  nnc_dataset train_full, test_full;
  nnc_status st = nnc_fashion_load(r->data_dir, true, &train_full);
  if (st) return st;
  st = nnc_fashion_load(r->data_dir, false, &test_full);
  if (st) {
    nnc_dataset_free(&train_full);
    return st;
  }
  const int64_t n_train = quick ? 8000 : 60000, n_test = quick ? 2000 : 10000;
  const int epochs = quick ? 1 : 3, qat_epochs = 1;
  const int64_t n_qat = quick ? 4000 : 60000;
  nnc_tensor hdr[4]; /* the subsets are views of the full sets */
  nnc_dataset trn = nnc_dataset_head(&train_full, n_train, hdr), tst = nnc_dataset_head(&test_full, n_test, hdr + 2);
  nnc_paper_metric(r, "train_examples", (double)n_train);
  nnc_paper_metric(r, "test_examples", (double)n_test);

  /* 1. the float model */
  nnc_rng rng;
  nnc_rng_seed(&rng, r->seed, 1);
  nnc_params P, Buf;
  nnc_params_init(&P, NNC_F32);
  nnc_params_init(&Buf, NNC_F32);
  nnc_sequential_mod *net = build_mlp(&P, &Buf, false, &rng);
  double loss = train(&net->base, &P, &trn, n_train, epochs, 1e-3, r->seed, "fp32", false);
  if (!isfinite(loss)) return nnc_error(NNC_ERR_NUMERIC, "quant: the float model diverged");
  double fp32 = nnc_evaluate(&net->base, &tst, NULL).acc;
  nnc_paper_metric(r, "fp32_acc", fp32);
  nnc_paper_log(r, "fp32 MLP: test acc %.2f%% (%.1f s, cpu %.1f s)", 100 * fp32, nnc_now() - t0, cpu_s());

  /* 2. PTQ: weights only, then activations only (weights W8 per channel) */
  nnc_qmodel *q;
  if ((st = nnc_new_qmodel(net, (nnc_qconfig){0}, &q))) return st;
  nnc_qmodel_observe(q, &trn, CALIB_N);
  double wacc[2][3][NBITS], aacc[3][NBITS];
  char name[128];
  for (int pc = 0; pc < 2; pc++)
    for (int m = 0; m < 3; m++)
      for (int b = 0; b < NBITS; b++) {
        nnc_qmodel_set_config(q, (nnc_qconfig){.w_bits = BITS[b], .w_per_channel = pc, .w_calib = calib_w(m)});
        wacc[pc][m][b] = nnc_evaluate(&q->base, &tst, NULL).acc;
        snprintf(name, sizeof name, "ptq_w%d_%s_%s_acc", BITS[b], pc ? "pc" : "pt", CAL_SHORT[m]);
        nnc_paper_metric(r, name, wacc[pc][m][b]);
      }
  for (int m = 0; m < 3; m++)
    for (int b = 0; b < NBITS; b++) {
      nnc_qmodel_set_config(q, (nnc_qconfig){.w_bits = 8, .w_per_channel = true, .a_bits = BITS[b], .a_calib = calib_a(m)});
      aacc[m][b] = nnc_evaluate(&q->base, &tst, NULL).acc;
      snprintf(name, sizeof name, "ptq_w8pc_a%d_%s_acc", BITS[b], CAL_SHORT[m]);
      nnc_paper_metric(r, name, aacc[m][b]);
    }
  nnc_paper_log(r, "PTQ grid: W8 %.2f/%.2f, W4 %.2f/%.2f, W3 %.2f/%.2f, W2 %.2f/%.2f %% (per-tensor/per-channel, min-max); "
                   "A3 min-max/pct/MSE %.2f/%.2f/%.2f %% (%.1f s, cpu %.1f s)",
                100 * wacc[0][0][4], 100 * wacc[1][0][4], 100 * wacc[0][0][2], 100 * wacc[1][0][2], 100 * wacc[0][0][1],
                100 * wacc[1][0][1], 100 * wacc[0][0][0], 100 * wacc[1][0][0], 100 * aacc[0][1], 100 * aacc[1][1],
                100 * aacc[2][1], nnc_now() - t0, cpu_s());

  /* 3. W8A8 integer-only inference vs the float simulations */
  nnc_qmodel_set_config(q, (nnc_qconfig){.w_bits = 8, .w_per_channel = true, .a_bits = 8, .a_calib = calib_a(NNC_CALIB_MINMAX)});
  double w8a8_fake = nnc_evaluate(&q->base, &tst, NULL).acc;
  nnc_qmlp qm;
  if ((st = nnc_qmodel_to_qmlp(q, &qm))) return st;
  int_report ir;
  compare_integer(q, &qm, &tst, &ir);
  nnc_qmlp_free(&qm);
  nnc_paper_metric(r, "w8a8_fakequant_acc", w8a8_fake);
  nnc_paper_metric(r, "w8a8_int_acc", ir.int_acc);
  nnc_paper_metric(r, "w8a8_sim_acc", ir.sim_acc);
  nnc_paper_metric(r, "int8_codes_compared", (double)ir.codes);
  nnc_paper_metric(r, "int8_vs_sim_codes_differing", (double)ir.sim_diff);
  nnc_paper_metric(r, "int8_vs_fakequant_codes_differing", (double)ir.naive_diff);
  nnc_paper_metric(r, "int8_vs_fakequant_codes_off_by_2_or_more", (double)ir.naive_off2);
  nnc_paper_metric(r, "int8_vs_fakequant_identical_frac", 1 - (double)ir.naive_diff / (double)ir.codes);
  for (int l = 0; l < 3; l++) {
    snprintf(name, sizeof name, "int8_vs_fakequant_layer%d_differing", l + 1);
    nnc_paper_metric(r, name, (double)ir.per_layer_naive_diff[l]);
  }
  nnc_paper_metric(r, "int8_vs_sim_top1_same_frac", (double)ir.top1_sim_same / (double)ir.n);
  nnc_paper_metric(r, "int8_vs_fakequant_top1_same_frac", (double)ir.top1_naive_same / (double)ir.n);
  nnc_paper_metric(r, "int8_max_abs_accumulator", (double)ir.max_abs_acc);
  nnc_paper_log(r, "W8A8 integer: acc %.2f%% (fake-quant %.2f%%); codes differing from the mirrored simulation %lld of %lld, "
                   "from the fake-quant model %lld (%lld by >= 2); top-1 same %.4f / %.4f (%.1f s, cpu %.1f s)",
                100 * ir.int_acc, 100 * ir.naive_acc, (long long)ir.sim_diff, (long long)ir.codes, (long long)ir.naive_diff,
                (long long)ir.naive_off2, (double)ir.top1_sim_same / ir.n, (double)ir.top1_naive_same / ir.n,
                nnc_now() - t0, cpu_s());

  /* 4. training with the quantiser, one epoch from the float weights (weights per channel):
   * weights only at 4 and 2 bits, and W4A4; the straight-through estimator (weight ranges
   * min-max from the current weights, activation ranges MSE-calibrated and fixed, clipped
   * STE) against LSQ (steps learned; initialised as Esser et al. or from the calibration) */
  enum { STE, LSQ, LSQ_CAL, LSQ_NOG, NMETH };
  static const char *const meth_name[NMETH] = {"ste", "lsq", "lsq_calinit", "lsq_nogradscale"};
  const int qcfg[3][2] = {{4, 0}, {2, 0}, {4, 4}}; /* (w_bits, a_bits) */
  double qat[3][NMETH];
  for (int ci = 0; ci < 3; ci++)
    for (int me = 0; me < NMETH; me++) {
      if (quick && (me == LSQ_CAL || me == LSQ_NOG)) {
        qat[ci][me] = NAN;
        continue;
      }
      nnc_params P2, B2;
      nnc_params_init(&P2, NNC_F32);
      nnc_params_init(&B2, NNC_F32);
      nnc_rng r2;
      nnc_rng_seed(&r2, r->seed, 2);
      nnc_sequential_mod *n2 = build_mlp(&P2, &B2, false, &r2);
      memcpy(P2.values.data, P.values.data, (size_t)P.numel * sizeof(float));
      P2.values.version++;
      nnc_qmodel *q2;
      nnc_qconfig c = {.w_bits = qcfg[ci][0], .w_per_channel = true, .w_calib = calib_w(NNC_CALIB_MINMAX),
                       .a_bits = qcfg[ci][1], .a_calib = calib_a(NNC_CALIB_MSE), .ste = NNC_STE_CLIPPED};
      if ((st = nnc_new_qmodel(n2, c, &q2))) return st;
      nnc_qmodel_observe(q2, &trn, CALIB_N);
      if (me != STE) nnc_qmodel_init_lsq(q2, &P2, me == LSQ_CAL);
      q2->cfg.lsq_unscaled = me == LSQ_NOG;
      snprintf(name, sizeof name, "qat w%da%d %s", qcfg[ci][0], qcfg[ci][1], meth_name[me]);
      double l2 = train(&q2->base, &P2, &trn, n_qat, qat_epochs, 0.01, r->seed + 7, name, true);
      qat[ci][me] = isfinite(l2) ? nnc_evaluate(&q2->base, &tst, NULL).acc : NAN;
      if (qcfg[ci][1]) snprintf(name, sizeof name, "qat_w%da%d_%s_acc", qcfg[ci][0], qcfg[ci][1], meth_name[me]);
      else snprintf(name, sizeof name, "qat_w%d_%s_acc", qcfg[ci][0], meth_name[me]);
      nnc_paper_metric(r, name, qat[ci][me]);
      nnc_qmodel_free(q2);
      nnc_module_free(&n2->base);
      nnc_params_free(&P2);
      nnc_params_free(&B2);
    }
  /* the PTQ reference of W4A4 */
  nnc_qmodel_set_config(q, (nnc_qconfig){.w_bits = 4, .w_per_channel = true, .w_calib = calib_w(NNC_CALIB_MINMAX),
                                         .a_bits = 4, .a_calib = calib_a(NNC_CALIB_MSE)});
  double ptq_w4a4 = nnc_evaluate(&q->base, &tst, NULL).acc;
  nnc_paper_metric(r, "ptq_w4pc_a4mse_acc", ptq_w4a4);
  nnc_qmodel_set_config(q, (nnc_qconfig){.w_bits = 4, .w_per_channel = true, .w_calib = calib_w(NNC_CALIB_MINMAX),
                                         .a_bits = 4, .a_calib = calib_a(NNC_CALIB_MINMAX)});
  double ptq_w4a4_mm = nnc_evaluate(&q->base, &tst, NULL).acc;
  nnc_paper_metric(r, "ptq_w4pc_a4minmax_acc", ptq_w4a4_mm);
  nnc_paper_log(r, "QAT (STE / LSQ / LSQ from calibration / LSQ without g): W4 %.2f/%.2f/%.2f/%.2f, W2 %.2f/%.2f/%.2f/%.2f, "
                   "W4A4 %.2f/%.2f/%.2f/%.2f %%; PTQ W4 %.2f, W2 %.2f, W4A4 %.2f (A min-max %.2f) %% (%.1f s, cpu %.1f s)",
                100 * qat[0][0], 100 * qat[0][1], 100 * qat[0][2], 100 * qat[0][3], 100 * qat[1][0], 100 * qat[1][1],
                100 * qat[1][2], 100 * qat[1][3], 100 * qat[2][0], 100 * qat[2][1], 100 * qat[2][2], 100 * qat[2][3],
                100 * wacc[1][0][2], 100 * wacc[1][0][0], 100 * ptq_w4a4, 100 * ptq_w4a4_mm, nnc_now() - t0, cpu_s());

  /* 5. batch-norm folding: a BN MLP, folded, compared logit by logit; then W8A8 of the folded model */
  nnc_params Pb, Bb, Pf;
  nnc_params_init(&Pb, NNC_F32);
  nnc_params_init(&Bb, NNC_F32);
  nnc_params_init(&Pf, NNC_F32);
  nnc_rng r3;
  nnc_rng_seed(&r3, r->seed, 3);
  nnc_sequential_mod *bnet = build_mlp(&Pb, &Bb, true, &r3);
  loss = train(&bnet->base, &Pb, &trn, quick ? 4000 : 60000, 1, 1e-3, r->seed + 3, "bn mlp", false);
  if (!isfinite(loss)) return nnc_error(NNC_ERR_NUMERIC, "quant: the BN model diverged");
  nnc_module_eval(&bnet->base);
  nnc_sequential_mod *fnet;
  if ((st = nnc_fold_bn_sequential(bnet, &Pf, &fnet))) return st;
  double bn_acc = nnc_evaluate(&bnet->base, &tst, NULL).acc, fold_acc = nnc_evaluate(&fnet->base, &tst, NULL).acc;
  double max_diff = 0, max_logit = 0;
  int64_t same_pred = 0;
  {
    nnc_no_grad_begin();
    int64_t idx[1000];
    for (int64_t s0 = 0; s0 < tst.n; s0 += 1000) {
      int64_t nb = tst.n - s0 < 1000 ? tst.n - s0 : 1000;
      for (int64_t i = 0; i < nb; i++) idx[i] = s0 + i;
      nnc_tensor *x = nnc_empty(NNC_F32, NNC_SHAPE(nb, 784));
      nnc_dataset_gather(&tst, idx, nb, x, NULL);
      nnc_tensor *a = nnc_forward(&bnet->base, x), *b = nnc_forward(&fnet->base, x);
      nnc_tensor *pa = nnc_argmax(a, 1, false), *pb = nnc_argmax(b, 1, false);
      for (int64_t i = 0; i < nb * 10; i++) {
        max_diff = fmax(max_diff, fabs(nnc_get(a, i) - nnc_get(b, i)));
        max_logit = fmax(max_logit, fabs(nnc_get(a, i)));
      }
      for (int64_t i = 0; i < nb; i++) same_pred += nnc_i64(pa)[i] == nnc_i64(pb)[i];
      nnc_step_end();
    }
    nnc_no_grad_end();
  }
  nnc_qmodel *qf;
  if ((st = nnc_new_qmodel(fnet, (nnc_qconfig){.w_bits = 8, .w_per_channel = true, .a_bits = 8}, &qf))) return st;
  nnc_qmodel_observe(qf, &trn, CALIB_N);
  double fold_w8a8 = nnc_evaluate(&qf->base, &tst, NULL).acc;
  nnc_qmodel_set_config(qf, (nnc_qconfig){.w_bits = 4, .w_per_channel = false});
  double fold_w4pt = nnc_evaluate(&qf->base, &tst, NULL).acc;
  nnc_qmodel_set_config(qf, (nnc_qconfig){.w_bits = 4, .w_per_channel = true});
  double fold_w4pc = nnc_evaluate(&qf->base, &tst, NULL).acc;
  nnc_qmodel_free(qf);
  nnc_paper_metric(r, "bn_acc", bn_acc);
  nnc_paper_metric(r, "bn_folded_acc", fold_acc);
  nnc_paper_metric(r, "bn_fold_max_abs_logit_diff", max_diff);
  nnc_paper_metric(r, "bn_fold_max_abs_logit", max_logit);
  nnc_paper_metric(r, "bn_fold_same_prediction_frac", (double)same_pred / (double)tst.n);
  nnc_paper_metric(r, "bn_folded_w8a8_acc", fold_w8a8);
  nnc_paper_metric(r, "bn_folded_w4_pt_acc", fold_w4pt);
  nnc_paper_metric(r, "bn_folded_w4_pc_acc", fold_w4pc);
  nnc_paper_log(r, "BN folding: acc %.2f%% -> %.2f%%, max |logit diff| %.3g (max |logit| %.3g), same prediction %.4f; "
                   "folded W8A8 %.2f%%, W4 per-tensor/per-channel %.2f/%.2f%% (%.1f s, cpu %.1f s)",
                100 * bn_acc, 100 * fold_acc, max_diff, max_logit, (double)same_pred / tst.n, 100 * fold_w8a8,
                100 * fold_w4pt, 100 * fold_w4pc, nnc_now() - t0, cpu_s());

  /* 6. pictures */
  double xb[NBITS], ys[12][NBITS], fl[NBITS];
  for (int b = 0; b < NBITS; b++) {
    xb[b] = BITS[b];
    fl[b] = 100 * fp32;
  }
  static const char *const wnames[6] = {"per-tensor min-max", "per-tensor percentile", "per-tensor MSE",
                                        "per-channel min-max", "per-channel percentile", "per-channel MSE"};
  nnc_series ws[7], as[4], qs[5];
  for (int k = 0; k < 6; k++) {
    for (int b = 0; b < NBITS; b++) ys[k][b] = 100 * wacc[k / 3][k % 3][b];
    ws[k] = (nnc_series){wnames[k], xb, ys[k], NBITS};
  }
  ws[6] = (nnc_series){"fp32", xb, fl, NBITS};
  static const char *const anames[3] = {"min-max", "percentile 99.99", "MSE"};
  for (int m = 0; m < 3; m++) {
    for (int b = 0; b < NBITS; b++) ys[6 + m][b] = 100 * aacc[m][b];
    as[m] = (nnc_series){anames[m], xb, ys[6 + m], NBITS};
  }
  as[3] = (nnc_series){"fp32", xb, fl, NBITS};
  double qx[2] = {2, 4}, qy[4][2], bestp[2], fq[2] = {100 * fp32, 100 * fp32};
  for (int bi = 0; bi < 2; bi++) {
    int b = bi ? 2 : 0; /* BITS index of 4 and 2 bits */
    qy[0][bi] = 100 * wacc[1][0][b];
    bestp[bi] = 100 * fmax(wacc[1][0][b], fmax(wacc[1][1][b], wacc[1][2][b]));
    qy[1][bi] = 100 * qat[1 - bi][0];
    qy[2][bi] = 100 * qat[1 - bi][1];
  }
  qs[0] = (nnc_series){"PTQ per-channel min-max", qx, qy[0], 2};
  qs[1] = (nnc_series){"PTQ per-channel, best calibration", qx, bestp, 2};
  qs[2] = (nnc_series){"QAT (STE), 1 epoch", qx, qy[1], 2};
  qs[3] = (nnc_series){"LSQ, 1 epoch", qx, qy[2], 2};
  qs[4] = (nnc_series){"fp32", qx, fq, 2};
  nnc_svg_panel panels[3] = {
      {"weights only (activations fp32)", "weight bits", "test accuracy (%)", ws, 7, false, false, 0, 0},
      {"activations only (weights 8-bit per-channel)", "activation bits", "test accuracy (%)", as, 4, false, false, 0, 0},
      {"training with the quantiser (weights per-channel)", "weight bits", "test accuracy (%)", qs, 5, false, false, 0, 0},
  };
  if ((st = nnc_svg_panels(nnc_paper_path(r, "accuracy_vs_bits.svg"), "Fashion-MNIST MLP 784-256-256-10: accuracy vs bits",
                           panels, 3)))
    return st;
  if ((st = weight_histogram(nnc_paper_path(r, "weight_histogram.svg"), q->layers[1].lin->weight, 3))) return st;

  /* 7. criteria (thresholds calibrated on seeds 0-4; margins and reasons in README.md) */
  const double naive_same = 1 - (double)ir.naive_diff / (double)ir.codes;
  nnc_paper_criterion(r, "int8_vs_sim_codes_differing", (double)ir.sim_diff, "<=", 0);
  nnc_paper_criterion(r, "int8_vs_sim_top1_same_frac", (double)ir.top1_sim_same / (double)ir.n, ">=", 1);
  nnc_paper_criterion(r, "bn_fold_max_abs_logit_diff", max_diff, "<=", 1e-4);
  nnc_paper_criterion(r, "bn_fold_same_prediction_frac", (double)same_pred / (double)tst.n, ">=", 0.999);
  nnc_paper_criterion(r, "int8_vs_fakequant_codes_off_by_2_or_more", (double)ir.naive_off2, "<=", 0);
  if (quick) {
    nnc_paper_criterion(r, "fp32_acc", fp32, ">=", 0.70);
    nnc_paper_criterion(r, "w8_pc_minus_fp32_pp", 100 * (wacc[1][0][4] - fp32), ">=", -1.0);
    nnc_paper_criterion(r, "w8a8_int_minus_fp32_pp", 100 * (ir.int_acc - fp32), ">=", -2.0);
    nnc_paper_criterion(r, "int8_vs_fakequant_identical_frac", naive_same, ">=", 0.99);
    nnc_paper_criterion(r, "qat_w2_lsq_acc", qat[1][LSQ], ">=", 0.5);
  } else {
    const double rec_w4a4 = (qat[2][LSQ_CAL] - ptq_w4a4_mm) / (fp32 - ptq_w4a4_mm);
    nnc_paper_metric(r, "w4a4_lsq_calinit_recovered_frac_of_minmax_ptq_loss", rec_w4a4);
    nnc_paper_criterion(r, "fp32_acc", fp32, ">=", 0.86);
    /* 8 bits is near lossless */
    nnc_paper_criterion(r, "w8_pc_minus_fp32_pp", 100 * (wacc[1][0][4] - fp32), ">=", -0.3);
    nnc_paper_criterion(r, "w8_pt_minus_fp32_pp", 100 * (wacc[0][0][4] - fp32), ">=", -0.3);
    nnc_paper_criterion(r, "w8a8_int_minus_fp32_pp", 100 * (ir.int_acc - fp32), ">=", -0.5);
    /* the integer kernel against the fake-quantised float model (not mirrored) */
    nnc_paper_criterion(r, "int8_vs_fakequant_identical_frac", naive_same, ">=", 0.998);
    nnc_paper_criterion(r, "int8_vs_fakequant_top1_same_frac", (double)ir.top1_naive_same / (double)ir.n, ">=", 0.999);
    /* per-channel scales at low bits */
    nnc_paper_criterion(r, "w4_pc_minmax_minus_fp32_pp", 100 * (wacc[1][0][2] - fp32), ">=", -1.0);
    nnc_paper_criterion(r, "w3_pc_minus_pt_minmax_pp", 100 * (wacc[1][0][1] - wacc[0][0][1]), ">=", 1.0);
    nnc_paper_criterion(r, "w2_pc_minus_pt_minmax_pp", 100 * (wacc[1][0][0] - wacc[0][0][0]), ">=", 20);
    /* clipping (MSE, percentile) beats min-max at <= 4 bits */
    nnc_paper_criterion(r, "w3_pt_mse_minus_minmax_pp", 100 * (wacc[0][2][1] - wacc[0][0][1]), ">=", 1.5);
    nnc_paper_criterion(r, "w2_pc_mse_minus_minmax_pp", 100 * (wacc[1][2][0] - wacc[1][0][0]), ">=", 10);
    nnc_paper_criterion(r, "a3_mse_minus_minmax_pp", 100 * (aacc[2][1] - aacc[0][1]), ">=", 2.0);
    nnc_paper_criterion(r, "a4_mse_minus_minmax_pp", 100 * (aacc[2][2] - aacc[0][2]), ">=", 0.5);
    /* training with the quantiser recovers the low-bit loss */
    nnc_paper_criterion(r, "qat_w2_ste_acc", qat[1][STE], ">=", 0.84);
    nnc_paper_criterion(r, "qat_w2_ste_minus_ptq_minmax_pp", 100 * (qat[1][STE] - wacc[1][0][0]), ">=", 20);
    nnc_paper_criterion(r, "qat_w2_lsq_minus_fp32_pp", 100 * (qat[1][LSQ] - fp32), ">=", -1.0);
    nnc_paper_criterion(r, "qat_w2_lsq_minus_ste_pp", 100 * (qat[1][LSQ] - qat[1][STE]), ">=", 0.5);
    nnc_paper_criterion(r, "qat_w4_ste_minus_fp32_pp", 100 * (qat[0][STE] - fp32), ">=", -0.5);
    nnc_paper_criterion(r, "w4a4_lsq_calinit_recovered_frac", rec_w4a4, ">=", 0.5);
  }

  nnc_qmodel_free(q);
  nnc_module_free(&net->base);
  nnc_module_free(&bnet->base);
  nnc_module_free(&fnet->base);
  nnc_params_free(&P);
  nnc_params_free(&Buf);
  nnc_params_free(&Pb);
  nnc_params_free(&Bb);
  nnc_params_free(&Pf);
  nnc_dataset_free(&train_full);
  nnc_dataset_free(&test_full);
  return NNC_OK;
}

NNC_PAPER(quant_paper, .slug = "quant",
          .title = "A Survey of Quantization Methods for Efficient Neural Network Inference (Gholami, Kim, Dong, Yao, "
                   "Mahoney, Keutzer; 2021)",
          .claim = "8-bit PTQ is near lossless; low bits need per-channel scales, clipping (MSE/percentile) or QAT/LSQ; "
                   "the int8 kernel equals its float simulation",
          .run = run_quant);
