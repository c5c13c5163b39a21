/* tests/test_rnn.c: recurrent layers against PyTorch (tests/fixtures/rnn_fixture.h, made by
 * tools/make_rnn_fixture.py) in f64 and f32: a 2-layer GRU with h0, a 2-layer LSTM with h0
 * and c0, a 1-layer tanh RNN from zero state, a 2-layer relu RNN without biases, and one step
 * of GRUCell and LSTMCell -- outputs, final states and the gradients of every input, state
 * and weight, with the weights loaded by their PyTorch names.  Plus names, shapes and init
 * bounds, the functional step against the cell, printing, dropout between layers, and the
 * shape errors.  The TCN (nn/tcn.h): a 2-level network against PyTorch, the causal
 * convolution against its definition, causality and the receptive field through gradients. */
#include <stdlib.h>
#include "test.h"
#include "fixtures/rnn_fixture.h"

enum { B = RNN_FIX_B, T = RNN_FIX_T, I = RNN_FIX_I, H = RNN_FIX_H };

static nnc_tensor *tensor_from(nnc_dtype dt, int ndim, const int64_t *shape, const double *v) {
  nnc_tensor *t = nnc_empty(dt, ndim, shape);
  for (int64_t i = 0, n = nnc_numel(t); i < n; i++) nnc_set(t, i, v[i]);
  return t;
}
static nnc_tensor *leaf_from(nnc_dtype dt, int ndim, const int64_t *shape, const double *v) {
  return v ? nnc_requires_grad(tensor_from(dt, ndim, shape, v)) : NULL;
}

/* max over elements of |t - want| / (1 + |want|) <= tol */
#define CHECK_T(t, want, n, tol) check_tensor(__LINE__, what, #t, t, want, n, tol)
static void check_tensor(int line, const char *what, const char *name, const nnc_tensor *t, const double *want,
                         int64_t n, double tol) {
  double err = t && nnc_numel(t) == n ? 0 : INFINITY;
  for (int64_t i = 0; t && i < n && err < INFINITY; i++) err = fmax(err, fabs(nnc_get(t, i) - want[i]) / (1 + fabs(want[i])));
  CHECKF(err <= tol, "line %d: %s %s (%s): max error %.3g", line, what, name, t ? nnc_dtype_name(t->dtype) : "NULL", err);
}

/* copies the fixture's weights into the block by name */
static void load_params(nnc_params *P, const char *prefix, const rnn_fixture_param *fp, int n) {
  CHECKF(P->count == n, "%d parameters, PyTorch has %d", P->count, n);
  for (int k = 0; k < n; k++) {
    char name[128];
    nnc_module_join(prefix, fp[k].name, name, sizeof name);
    nnc_tensor *t = nnc_params_find(P, name);
    CHECKF(t && nnc_numel(t) == fp[k].n, "parameter %s", name);
    if (t && nnc_numel(t) == fp[k].n)
      for (int64_t i = 0; i < fp[k].n; i++) nnc_set(t, i, fp[k].value[i]);
  }
}

static void check_param_grads(nnc_params *P, const char *what, const char *prefix, const rnn_fixture_param *fp, int n,
                              double tol) {
  for (int k = 0; k < n; k++) {
    char name[128];
    nnc_module_join(prefix, fp[k].name, name, sizeof name);
    nnc_tensor *t = nnc_params_find(P, name);
    if (t) check_tensor(__LINE__, what, name, t->grad, fp[k].grad, fp[k].n, tol);
  }
}

typedef struct {
  const char *what;
  nnc_rnn_kind kind;
  int layers;
  bool bias;
  const double *x, *h0, *c0, *go, *gh, *gc, *out, *hn, *cn, *dx, *dh0, *dc0;
  const rnn_fixture_param *params;
  int nparams;
} layer_case;

static void run_layer(const layer_case *c, nnc_dtype dt, double tol) {
  const char *what = c->what;
  nnc_params P;
  nnc_params_init(&P, dt);
  nnc_rnn_mod *m = nnc_new_rnn(&P, "rnn", c->kind, I, H, c->layers, c->bias, NULL);
  load_params(&P, "rnn", c->params, c->nparams);
  int L = c->layers;
  nnc_tensor *x = leaf_from(dt, NNC_SHAPE(B, T, I), c->x);
  nnc_tensor *h0 = leaf_from(dt, NNC_SHAPE(L, B, H), c->h0), *c0 = leaf_from(dt, NNC_SHAPE(L, B, H), c->c0);
  nnc_tensor *hn = NULL, *cn = NULL;
  nnc_tensor *out = nnc_rnn_forward(m, x, h0, c0, &hn, c->cn ? &cn : NULL);
  CHECK(out->ndim == 3 && out->shape[0] == B && out->shape[1] == T && out->shape[2] == H);
  CHECK(hn && hn->ndim == 3 && hn->shape[0] == L && hn->shape[1] == B && hn->shape[2] == H);
  nnc_tensor *loss = nnc_add(nnc_sum_all(nnc_mul(out, tensor_from(dt, NNC_SHAPE(B, T, H), c->go))),
                             nnc_sum_all(nnc_mul(hn, tensor_from(dt, NNC_SHAPE(L, B, H), c->gh))));
  if (c->cn) loss = nnc_add(loss, nnc_sum_all(nnc_mul(cn, tensor_from(dt, NNC_SHAPE(L, B, H), c->gc))));
  nnc_backward(loss);
  CHECK_T(out, c->out, B * T * H, tol);
  CHECK_T(hn, c->hn, L * B * H, tol);
  if (c->cn) CHECK_T(cn, c->cn, L * B * H, tol);
  CHECK_T(x->grad, c->dx, B * T * I, tol);
  if (c->h0) CHECK_T(h0->grad, c->dh0, L * B * H, tol);
  if (c->c0) CHECK_T(c0->grad, c->dc0, L * B * H, tol);
  check_param_grads(&P, what, "rnn", c->params, c->nparams, tol);
  nnc_module_free(&m->base);
  nnc_params_free(&P);
  nnc_step_end();
}

static void test_layers(nnc_dtype dt, double tol) {
  const layer_case cases[] = {
      {"GRU", NNC_RNN_GRU, 2, true, gru_x, gru_h0, NULL, gru_go, gru_gh, NULL, gru_out, gru_hn, NULL, gru_dx, gru_dh0,
       NULL, gru_params, GRU_NPARAMS},
      {"LSTM", NNC_RNN_LSTM, 2, true, lstm_x, lstm_h0, lstm_c0, lstm_go, lstm_gh, lstm_gc, lstm_out, lstm_hn, lstm_cn,
       lstm_dx, lstm_dh0, lstm_dc0, lstm_params, LSTM_NPARAMS},
      {"RNN tanh", NNC_RNN_TANH, 1, true, rnn_x, NULL, NULL, rnn_go, rnn_gh, NULL, rnn_out, rnn_hn, NULL, rnn_dx, NULL,
       NULL, rnn_params, RNN_NPARAMS},
      {"RNN relu", NNC_RNN_RELU, 2, false, relu_x, relu_h0, NULL, relu_go, relu_gh, NULL, relu_out, relu_hn, NULL,
       relu_dx, relu_dh0, NULL, relu_params, RELU_NPARAMS},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) run_layer(&cases[i], dt, tol);
}

static void run_cell(const char *what, nnc_rnn_kind kind, const double *x0, const double *h0, const double *c0,
                     const double *gh, const double *gc, const double *hn_want, const double *cn_want, const double *dx,
                     const double *dh, const double *dc, const rnn_fixture_param *fp, int np, nnc_dtype dt, double tol) {
  nnc_params P;
  nnc_params_init(&P, dt);
  nnc_rnn_cell_mod *m = nnc_new_rnn_cell(&P, "cell", kind, I, H, true, NULL);
  load_params(&P, "cell", fp, np);
  nnc_tensor *x = leaf_from(dt, NNC_SHAPE(B, I), x0), *h = leaf_from(dt, NNC_SHAPE(B, H), h0);
  nnc_tensor *c = leaf_from(dt, NNC_SHAPE(B, H), c0), *cn = NULL;
  nnc_tensor *hn = nnc_rnn_cell_forward(m, x, h, c, &cn);
  nnc_tensor *loss = nnc_sum_all(nnc_mul(hn, tensor_from(dt, NNC_SHAPE(B, H), gh)));
  if (gc) loss = nnc_add(loss, nnc_sum_all(nnc_mul(cn, tensor_from(dt, NNC_SHAPE(B, H), gc))));
  nnc_backward(loss);
  CHECK_T(hn, hn_want, B * H, tol);
  if (cn_want) CHECK_T(cn, cn_want, B * H, tol);
  CHECK_T(x->grad, dx, B * I, tol);
  CHECK_T(h->grad, dh, B * H, tol);
  if (dc) CHECK_T(c->grad, dc, B * H, tol);
  check_param_grads(&P, what, "cell", fp, np, tol);
  /* the functional step gives the same numbers */
  nnc_tensor *cs = NULL;
  nnc_tensor *hs = nnc_rnn_step(kind, x, h, c, m->weight_ih, m->weight_hh, m->bias_ih, m->bias_hh, &cs);
  CHECK_T(hs, hn_want, B * H, tol);
  if (cn_want) CHECK_T(cs, cn_want, B * H, tol);
  nnc_module_free(&m->base);
  nnc_params_free(&P);
  nnc_step_end();
}

static void test_cells(nnc_dtype dt, double tol) {
  run_cell("GRUCell", NNC_RNN_GRU, grucell_x, grucell_h, NULL, grucell_gh, NULL, grucell_hn, NULL, grucell_dx,
           grucell_dh, NULL, grucell_params, GRUCELL_NPARAMS, dt, tol);
  run_cell("LSTMCell", NNC_RNN_LSTM, lstmcell_x, lstmcell_h, lstmcell_c, lstmcell_gh, lstmcell_gc, lstmcell_hn,
           lstmcell_cn, lstmcell_dx, lstmcell_dh, lstmcell_dc, lstmcell_params, LSTMCELL_NPARAMS, dt, tol);
}

/* names, shapes, init bounds, zero-state forward, printing, dropout, errors */
static void test_module(void) {
  nnc_params P;
  nnc_params_init(&P, NNC_F32);
  nnc_rnn_mod *g = nnc_new_rnn(&P, "enc.gru", NNC_RNN_GRU, 5, 16, 2, true, NULL);
  const char *names[] = {"enc.gru.weight_ih_l0", "enc.gru.weight_hh_l0", "enc.gru.bias_ih_l0", "enc.gru.bias_hh_l0",
                         "enc.gru.weight_ih_l1", "enc.gru.weight_hh_l1", "enc.gru.bias_ih_l1", "enc.gru.bias_hh_l1"};
  const int64_t rows[] = {48, 48, 48, 48, 48, 48, 48, 48}, colsz[] = {5, 16, 0, 0, 16, 16, 0, 0};
  CHECK(P.count == 8);
  for (int k = 0; k < 8 && k < P.count; k++) {
    nnc_tensor *t = nnc_params_find(&P, names[k]);
    CHECKF(t && t->shape[0] == rows[k] && (colsz[k] == 0 ? t->ndim == 1 : t->ndim == 2 && t->shape[1] == colsz[k]),
           "parameter %s", names[k]);
  }
  double mx = 0, sum2 = 0;
  nnc_tensor *v = nnc_params_values(&P);
  for (int64_t i = 0, n = nnc_numel(v); i < n; i++) mx = fmax(mx, fabs(nnc_get(v, i))), sum2 += nnc_get(v, i) * nnc_get(v, i);
  double sd = sqrt(sum2 / (double)nnc_numel(v));
  CHECKF(mx <= 0.25 && mx > 0.24 && fabs(sd - 0.25 / sqrt(3.0)) < 0.01, "init: max %g sd %g", mx, sd);

  /* nnc_forward is the zero-state forward */
  nnc_rng r;
  nnc_rng_seed(&r, 3, 0);
  nnc_tensor *x = nnc_randn(NNC_F32, NNC_SHAPE(3, 7, 5), &r), *hn;
  nnc_tensor *y1 = nnc_forward(&g->base, x), *y2 = nnc_rnn_forward(g, x, NULL, NULL, &hn, NULL);
  double e = 0;
  for (int64_t i = 0; i < nnc_numel(y1); i++) e = fmax(e, fabs(nnc_get(y1, i) - nnc_get(y2, i)));
  CHECK(e == 0 && y1->shape[1] == 7 && y1->shape[2] == 16);
  /* the last output is the top layer's final state */
  e = 0;
  for (int64_t b = 0; b < 3; b++)
    for (int64_t j = 0; j < 16; j++) e = fmax(e, fabs(nnc_get(y1, (b * 7 + 6) * 16 + j) - nnc_get(hn, (3 + b) * 16 + j)));
  CHECK(e == 0);

  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  nnc_module_print(&g->base, f);
  fclose(f);
  CHECKF(strcmp(buf, "GRU(5, 16, num_layers=2, batch_first=True)\n") == 0, "printed '%s'", buf);
  free(buf);

  /* dropout between layers: training changes the output, eval does not drop */
  nnc_rnn_set_dropout(g, 0.5, 1, 2);
  nnc_tensor *y3 = nnc_forward(&g->base, x);
  e = 0;
  for (int64_t i = 0; i < nnc_numel(y1); i++) e = fmax(e, fabs(nnc_get(y1, i) - nnc_get(y3, i)));
  CHECK(e > 1e-3);
  nnc_module_eval(&g->base);
  nnc_tensor *y4 = nnc_forward(&g->base, x);
  e = 0;
  for (int64_t i = 0; i < nnc_numel(y1); i++) e = fmax(e, fabs(nnc_get(y1, i) - nnc_get(y4, i)));
  CHECK(e == 0);

  EXPECT_ABORT(nnc_forward(&g->base, nnc_zeros(NNC_F32, NNC_SHAPE(3, 7, 4))), "input");
  EXPECT_ABORT(nnc_forward(&g->base, nnc_zeros(NNC_F32, NNC_SHAPE(7, 5))), "[B, T, 5]");
  EXPECT_ABORT(nnc_rnn_forward(g, x, nnc_zeros(NNC_F32, NNC_SHAPE(1, 3, 16)), NULL, NULL, NULL), "h0");
  EXPECT_ABORT(nnc_rnn_forward(g, x, NULL, nnc_zeros(NNC_F32, NNC_SHAPE(2, 3, 16)), NULL, NULL), "c0");
  EXPECT_ABORT(nnc_new_rnn(&P, "bad", NNC_RNN_LSTM, 5, 0, 1, true, NULL), "LSTM");
  nnc_rnn_cell_mod *cell = nnc_new_rnn_cell(&P, "cell", NNC_RNN_LSTM, 5, 8, false, NULL);
  CHECK(nnc_params_find(&P, "cell.weight_ih") && nnc_params_find(&P, "cell.weight_hh") && !nnc_params_find(&P, "cell.bias_ih"));
  CHECK(nnc_forward(&cell->base, nnc_zeros(NNC_F32, NNC_SHAPE(2, 5)))->shape[1] == 8);
  EXPECT_ABORT(nnc_rnn_cell_forward(cell, nnc_zeros(NNC_F32, NNC_SHAPE(2, 5)), nnc_zeros(NNC_F32, NNC_SHAPE(2, 7)), NULL,
                                    NULL),
               "hidden state");
  nnc_module_free(&cell->base);
  nnc_module_free(&g->base);
  nnc_params_free(&P);
  nnc_step_end();
}

/* ---- TCN ---- */
static void test_tcn_parity(nnc_dtype dt, double tol) {
  const char *what = "TCN";
  nnc_params P;
  nnc_params_init(&P, dt);
  nnc_sequential_mod *net = nnc_new_tcn(&P, "tcn", 3, 2, (const int64_t[]){5, 5}, 3, 0.0, 1, NULL);
  load_params(&P, "tcn", tcn_params, TCN_NPARAMS);
  nnc_tensor *x = leaf_from(dt, NNC_SHAPE(2, 3, 12), tcn_x);
  nnc_tensor *y = nnc_forward(&net->base, x);
  nnc_backward(nnc_sum_all(nnc_mul(y, tensor_from(dt, NNC_SHAPE(2, 5, 12), tcn_gy))));
  CHECK_T(y, tcn_y, 2 * 5 * 12, tol);
  CHECK_T(x->grad, tcn_dx, 2 * 3 * 12, tol);
  check_param_grads(&P, what, "tcn", tcn_params, TCN_NPARAMS, tol);
  nnc_module_free(&net->base);
  nnc_params_free(&P);
  nnc_step_end();
}

static void test_tcn(void) {
  nnc_rng r;
  nnc_rng_seed(&r, 4, 0);
  /* the causal convolution against its definition */
  nnc_tensor *x = nnc_randn(NNC_F64, NNC_SHAPE(2, 3, 11), &r), *w = nnc_randn(NNC_F64, NNC_SHAPE(4, 3, 3), &r);
  nnc_tensor *b = nnc_randn(NNC_F64, NNC_SHAPE(4), &r), *y = nnc_causal_conv1d(x, w, b, 3);
  CHECK(y->ndim == 3 && y->shape[1] == 4 && y->shape[2] == 11);
  double e = 0;
  for (int n = 0; n < 2; n++)
    for (int o = 0; o < 4; o++)
      for (int t = 0; t < 11; t++) {
        double s = nnc_get(b, o);
        for (int c = 0; c < 3; c++)
          for (int k = 0; k < 3; k++) {
            int ti = t - (3 - 1 - k) * 3;
            if (ti >= 0) s += nnc_get(w, (o * 3 + c) * 3 + k) * nnc_get(x, (n * 3 + c) * 11 + ti);
          }
        e = fmax(e, fabs(s - nnc_get(y, (n * 4 + o) * 11 + t)));
      }
  CHECKF(e < 1e-12, "causal_conv1d error %g", e);

  /* causality and the receptive field: d y[:, :, 30] / dx is zero after t = 30 and before
   * 30 - RF + 1 */
  nnc_params P;
  nnc_params_init(&P, NNC_F64);
  nnc_sequential_mod *net = nnc_new_tcn(&P, "tcn", 2, 3, (const int64_t[]){6, 6, 4}, 2, 0.2, 7, &r);
  int64_t rf = nnc_tcn_receptive_field(3, 2);
  CHECK(rf == 15);
  CHECK(nnc_params_find(&P, "tcn.0.downsample.weight") && !nnc_params_find(&P, "tcn.1.downsample.weight") &&
        nnc_params_find(&P, "tcn.2.downsample.bias") && nnc_params_find(&P, "tcn.2.conv2.weight"));
  CHECK(((nnc_tcn_block_mod *)net->base.children[2])->dilation == 4);
  nnc_module_eval(&net->base);
  nnc_tensor *xs = nnc_requires_grad(nnc_randn(NNC_F64, NNC_SHAPE(1, 2, 40), &r));
  nnc_tensor *ys = nnc_forward(&net->base, xs);
  CHECK(ys->shape[1] == 4 && ys->shape[2] == 40);
  nnc_backward(nnc_sum_all(nnc_narrow(ys, 2, 30, 1)));
  double after = 0, before = 0, edge = 0;
  for (int c = 0; c < 2; c++)
    for (int t = 0; t < 40; t++) {
      double gv = fabs(nnc_get(xs->grad, c * 40 + t));
      if (t > 30) after += gv;
      if (t < 30 - rf + 1) before += gv;
      if (t >= 30 - rf + 1 && t < 30 - rf + 4) edge += gv;
    }
  CHECKF(after == 0 && before == 0 && edge > 0, "after %g before %g edge %g", after, before, edge);
  /* dropout: eval is deterministic, training drops */
  nnc_tensor *y1 = nnc_forward(&net->base, xs);
  nnc_module_train(&net->base, true);
  nnc_tensor *y2 = nnc_forward(&net->base, xs);
  double d = 0;
  for (int64_t i = 0; i < nnc_numel(y1); i++) d = fmax(d, fabs(nnc_get(y1, i) - nnc_get(y2, i)));
  CHECK(d > 1e-3);
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  nnc_module_print(&net->base, f);
  fclose(f);
  CHECKF(strstr(buf, "(1): TemporalBlock(6, 6, kernel_size=2, dilation=2, dropout=0.2)") != NULL, "printed '%s'", buf);
  free(buf);
  EXPECT_ABORT(nnc_forward(&net->base, nnc_zeros(NNC_F64, NNC_SHAPE(1, 3, 40))), "TemporalBlock");
  EXPECT_ABORT(nnc_causal_conv1d(x, nnc_zeros(NNC_F64, NNC_SHAPE(4, 2, 3)), NULL, 1), "causal_conv1d");
  nnc_module_free(&net->base);
  nnc_params_free(&P);
  nnc_step_end();
}

int main(void) {
  nnc_init();
  test_layers(NNC_F64, 1e-10);
  test_layers(NNC_F32, 1e-5);
  test_cells(NNC_F64, 1e-10);
  test_cells(NNC_F32, 1e-5);
  test_module();
  test_tcn_parity(NNC_F64, 1e-10);
  test_tcn_parity(NNC_F32, 1e-5);
  test_tcn();
  return test_summary();
}
