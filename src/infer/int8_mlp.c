/* infer/int8_mlp.c: post-training int8 quantisation of fashion-mlp and its export (int8_mlp.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "autograd/autograd.h"
#include "core/arena.h"
#include "data/fashion.h"
#include "infer/int8_mlp.h"
#include "io/params_io.h"
#include "ops/ops.h"
#include "train/models.h"

static int64_t file_size(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return -1;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fclose(f);
  return n;
}

/* the fashion-mlp network with the weights of `weights` (PyTorch names fc1..fc3) */
static nnc_status load_mlp(const char *weights, nnc_params *P, nnc_params *B, nnc_module **net) {
  const nnc_model_spec *spec = nnc_model_find("fashion-mlp");
  if (!spec) return nnc_error(NNC_ERR_ARG, "int8 export: the fashion-mlp model is not built in");
  nnc_params_init(P, NNC_F32);
  nnc_params_init(B, NNC_F32);
  nnc_rng rng;
  nnc_rng_seed(&rng, 0, 1);
  *net = spec->build(P, B, &rng);
  nnc_status st = nnc_params_load(P, weights, false);
  if (st) {
    nnc_module_free(*net);
    nnc_params_free(P);
    nnc_params_free(B);
    *net = NULL;
  }
  return st;
}

nnc_status nnc_q8mlp_quantize(const char *weights, const char *data_dir, const nnc_q8mlp_opts *o, nnc_qmlp *out,
                              uint8_t lut[256]) {
  memset(out, 0, sizeof *out);
  int64_t calib = o && o->calib > 0 ? o->calib : 2048;
  nnc_calib_method method = o ? o->method : NNC_CALIB_MINMAX;
  nnc_params P, B;
  nnc_module *net;
  nnc_status st = load_mlp(weights, &P, &B, &net);
  if (st) return st;
  nnc_dataset train;
  if ((st = nnc_fashion_load(data_dir, true, &train))) goto done_net;
  if (calib > train.n) calib = train.n;
  nnc_qmodel *q;
  nnc_qconfig cfg = {.w_bits = 8, .w_per_channel = true, .w_calib = {.method = NNC_CALIB_MINMAX}, .a_bits = 8,
                     .a_calib = {.method = method}};
  if ((st = nnc_new_qmodel((nnc_sequential_mod *)net, cfg, &q))) goto done_data;
  nnc_qmodel_observe(q, &train, calib);
  st = nnc_qmodel_to_qmlp(q, out);
  nnc_qmodel_free(q);
  if (!st) {
    const nnc_qlinear *L0 = &out->layers[0];
    for (int p = 0; p < 256; p++)
      lut[p] = (uint8_t)nnc_quantize_f32(nnc_fashion_norm(p), L0->in_scale, L0->in_zero, 0, L0->in_max);
  }
done_data:
  nnc_dataset_free(&train);
done_net:
  nnc_module_free(net);
  nnc_params_free(&P);
  nnc_params_free(&B);
  return st;
}

nnc_status nnc_q8mlp_to_imodel(const nnc_qmlp *q, const uint8_t lut[256], const char *desc, nnc_imodel *out) {
  if (q->n < 1) return nnc_error(NNC_ERR_ARG, "int8 export: no layers");
  nnc_imodel_init(out, NNC_IMODEL_INT8, q->layers[0].in, q->layers[q->n - 1].out, lut, desc);
  for (int l = 0; l < q->n; l++) nnc_imodel_add_qlinear(out, &q->layers[l]);
  nnc_status st = nnc_imodel_prepare(out);
  if (st) nnc_imodel_free(out);
  return st;
}

static int64_t argmax_u8(const uint8_t *v, int64_t n) {
  int64_t b = 0;
  for (int64_t i = 1; i < n; i++)
    if (v[i] > v[b]) b = i;
  return b;
}

nnc_status nnc_q8mlp_export(const char *weights, const char *out, const char *data_dir, const nnc_q8mlp_opts *o,
                            nnc_export_report *rep) {
  memset(rep, 0, sizeof *rep);
  nnc_qmlp q;
  uint8_t lut[256];
  nnc_status st = nnc_q8mlp_quantize(weights, data_dir, o, &q, lut);
  if (st) return st;
  char desc[512];
  snprintf(desc, sizeof desc, "fashion-mlp: int8 per-channel weights, uint8 %s-calibrated activations, from %s",
           nnc_calib_name(o ? o->method : NNC_CALIB_MINMAX), weights);
  for (char *c = desc; *c; c++)
    if (*c < 32 || *c > 126) *c = '?';
  nnc_imodel m, back;
  if ((st = nnc_q8mlp_to_imodel(&q, lut, desc, &m))) goto done_q;
  st = nnc_imodel_save(&m, out);
  nnc_imodel_free(&m);
  if (st) goto done_q;
  if ((st = nnc_imodel_load(out, &back))) goto done_q;
  rep->file_bytes = file_size(out);
  rep->st_bytes = file_size(weights);

  nnc_dataset test;
  if ((st = nnc_fashion_load(data_dir, false, &test))) goto done_model;
  const int64_t n = test.n, I = q.layers[0].in, C = q.layers[q.n - 1].out;
  rep->n_test = n;
  uint8_t *px = nnc_xmalloc((size_t)(n * I)), *xq = nnc_xmalloc((size_t)(n * I));
  uint8_t *ref = nnc_xmalloc((size_t)(n * C));
  double *sc = nnc_xmalloc((size_t)(n * C) * sizeof *sc);
  int64_t *pm = nnc_xmalloc((size_t)n * sizeof *pm), *pf = nnc_xmalloc((size_t)n * sizeof *pf);
  if (!(st = nnc_fashion_pixels(&test, px))) {
    /* the integer reference on the loader's floats */
    nnc_qmlp_quantize_input(&q, n, nnc_f32(test.x), xq);
    for (int64_t i = 0; i < n * I; i++)
      if (xq[i] != lut[px[i]]) {
        st = nnc_error(NNC_ERR_NUMERIC, "int8 export: the pixel table disagrees with nnc_qmlp_quantize_input");
        break;
      }
  }
  if (!st) {
    nnc_qmlp_forward_ref(&q, n, xq, ref, NULL);
    nnc_imodel_forward(&back, n, px, pm, sc, NULL);
    /* the float64 simulation and the float model, in a private arena */
    nnc_arena ar;
    nnc_arena_init(&ar);
    nnc_arena *prev = nnc_arena_set_current(&ar);
    nnc_no_grad_begin();
    nnc_params P, B;
    nnc_module *net;
    int64_t cfq = 0;
    if (!(st = load_mlp(weights, &P, &B, &net))) {
      nnc_module_eval(net);
      for (int64_t r0 = 0; r0 < n; r0 += 1000) {
        int64_t mb = n - r0 < 1000 ? n - r0 : 1000;
        nnc_tensor *x = nnc_wrap(NNC_F32, NNC_SHAPE(mb, I), nnc_f32(test.x) + r0 * I);
        nnc_tensor *am = nnc_argmax(nnc_forward(net, x), 1, false);
        for (int64_t i = 0; i < mb; i++) pf[r0 + i] = nnc_i64(am)[i];
        nnc_tensor *sim = nnc_qmlp_simulate_f64(&q, x, NULL);
        const int64_t *y = nnc_i64(test.y);
        for (int64_t i = 0; i < mb; i++) {
          int64_t b = 0;
          for (int64_t c = 1; c < C; c++)
            if (nnc_f64(sim)[i * C + c] > nnc_f64(sim)[i * C + b]) b = c;
          cfq += b == y[r0 + i];
        }
        nnc_arena_reset(&ar);
      }
      nnc_module_free(net);
      nnc_params_free(&P);
      nnc_params_free(&B);
    }
    nnc_no_grad_end();
    nnc_arena_set_current(prev);
    nnc_arena_free(&ar);
    const int64_t *y = nnc_i64(test.y);
    int64_t cf = 0, cr = 0, cm = 0;
    for (int64_t i = 0; i < n; i++) {
      int64_t pr = argmax_u8(ref + i * C, C);
      cf += pf[i] == y[i];
      cr += pr == y[i];
      cm += pm[i] == y[i];
      rep->pred_diff_sim += pm[i] != pr;
      rep->pred_diff_float += pm[i] != pf[i];
      for (int64_t c = 0; c < C; c++) rep->value_diff += sc[i * C + c] != (double)ref[i * C + c];
    }
    rep->float_acc = (double)cf / (double)n;
    rep->sim_acc = (double)cr / (double)n;
    rep->fq_acc = (double)cfq / (double)n;
    rep->file_acc = (double)cm / (double)n;
    snprintf(rep->isa, sizeof rep->isa, "%s", nnc_infer_q8_isa());
  }
  free(px), free(xq), free(ref), free(sc), free(pm), free(pf);
  nnc_dataset_free(&test);
done_model:
  nnc_imodel_free(&back);
done_q:
  nnc_qmlp_free(&q);
  return st;
}
