/* tests/test_nn.c: modules against PyTorch (tests/fixtures/nn_fixture.h, made by
 * tools/make_optim_fixture.py) in f64 and f32: Linear, LayerNorm, RMSNorm, BatchNorm (train
 * for 3 steps with running statistics, eval, [N, C, L]), Embedding; plus names and shapes,
 * train/eval propagation, Dropout, printing, and the statistics of every initialiser. */
#include <stdlib.h>
#include "test.h"
#include "fixtures/nn_fixture.h"

static nnc_tensor *tensor_from(nnc_dtype dt, int ndim, const int64_t *shape, const double *v) {
  nnc_tensor *t = nnc_empty(dt, ndim, shape);
  for (int64_t i = 0, n = nnc_numel(t); i < n; i++) nnc_set(t, i, v[i]);
  return t;
}

static void set_from(nnc_tensor *t, const double *v) {
  for (int64_t i = 0, n = nnc_numel(t); i < n; i++) nnc_set(t, i, v[i]);
}

/* max over elements of |t - want| / (1 + |want|) <= tol */
#define CHECK_T(t, want, n, tol) check_tensor(__LINE__, #t, t, want, n, tol)
static void check_tensor(int line, const char *what, const nnc_tensor *t, const double *want, int64_t n, double tol) {
  double err = t && nnc_numel(t) == n ? 0 : INFINITY;
  for (int64_t i = 0; t && i < n && err < INFINITY; i++) err = fmax(err, fabs(nnc_get(t, i) - want[i]) / (1 + fabs(want[i])));
  CHECKF(err <= tol, "line %d: %s (%s): max error %.3g", line, what, t ? nnc_dtype_name(t->dtype) : "NULL", err);
}
#define N(a) ((int64_t)(sizeof(a) / sizeof(*(a))))

static void test_linear(nnc_dtype dt, double tol) {
  nnc_params P;
  nnc_params_init(&P, dt);
  nnc_linear_mod *l = nnc_new_linear(&P, "fc", 3, 4, true, NULL);
  set_from(l->weight, lin_w);
  set_from(l->bias, lin_b);
  nnc_tensor *x = nnc_requires_grad(tensor_from(dt, NNC_SHAPE(2, 3), lin_x));
  nnc_tensor *y = nnc_forward(&l->base, x);
  CHECK(y->ndim == 2 && y->shape[0] == 2 && y->shape[1] == 4);
  nnc_backward_with(y, tensor_from(dt, NNC_SHAPE(2, 4), lin_g));
  CHECK_T(y, lin_y, N(lin_y), tol);
  CHECK_T(x->grad, lin_dx, N(lin_dx), tol);
  CHECK_T(l->weight->grad, lin_dw, N(lin_dw), tol);
  CHECK_T(l->bias->grad, lin_db, N(lin_db), tol);
  nnc_module_free(&l->base);
  nnc_params_free(&P);
  nnc_step_end();
}

static void test_layernorm(nnc_dtype dt, double tol) {
  nnc_params P;
  nnc_params_init(&P, dt);
  nnc_layernorm_mod *l = nnc_new_layernorm(&P, "ln", 5, 1e-5, true);
  CHECK(nnc_get(l->weight, 0) == 1 && nnc_get(l->bias, 4) == 0);
  set_from(l->weight, ln_w);
  set_from(l->bias, ln_b);
  nnc_tensor *x = nnc_requires_grad(tensor_from(dt, NNC_SHAPE(2, 3, 5), ln_x));
  nnc_tensor *y = nnc_forward(&l->base, x);
  nnc_backward_with(y, tensor_from(dt, NNC_SHAPE(2, 3, 5), ln_g));
  CHECK_T(y, ln_y, N(ln_y), tol);
  CHECK_T(x->grad, ln_dx, N(ln_dx), tol);
  CHECK_T(l->weight->grad, ln_dw, N(ln_dw), tol);
  CHECK_T(l->bias->grad, ln_db, N(ln_db), tol);
  EXPECT_ABORT(nnc_forward(&l->base, nnc_zeros(dt, NNC_SHAPE(2, 4))), "does not end in 5");
  nnc_module_free(&l->base);
  nnc_params_free(&P);
  nnc_step_end();
}

static void test_rmsnorm(nnc_dtype dt, double tol) {
  nnc_params P;
  nnc_params_init(&P, dt);
  nnc_rmsnorm_mod *r = nnc_new_rmsnorm(&P, "norm", 5, 1e-6);
  set_from(r->weight, rms_w);
  nnc_tensor *x = nnc_requires_grad(tensor_from(dt, NNC_SHAPE(2, 3, 5), rms_x));
  nnc_tensor *y = nnc_forward(&r->base, x);
  nnc_backward_with(y, tensor_from(dt, NNC_SHAPE(2, 3, 5), rms_g));
  CHECK_T(y, rms_y, N(rms_y), tol);
  CHECK_T(x->grad, rms_dx, N(rms_dx), tol);
  CHECK_T(r->weight->grad, rms_dw, N(rms_dw), tol);
  nnc_module_free(&r->base);
  nnc_params_free(&P);
  nnc_step_end();
}

static void test_batchnorm(nnc_dtype dt, double tol) {
  nnc_params P, B;
  nnc_params_init(&P, dt);
  nnc_params_init(&B, dt);
  nnc_batchnorm_mod *b = nnc_new_batchnorm(&P, &B, "bn", 4, 1e-5, 0.1, true);
  /* names as a PyTorch state_dict; buffers frozen and without gradients */
  CHECK(P.count == 2 && nnc_params_find(&P, "bn.weight") && nnc_params_find(&P, "bn.bias"));
  CHECK(B.count == 3 && nnc_params_find(&B, "bn.running_mean") == b->running_mean &&
        nnc_params_find(&B, "bn.running_var") == b->running_var &&
        nnc_params_find(&B, "bn.num_batches_tracked") == b->num_batches_tracked);
  CHECK(B.frozen[0] && B.frozen[2] && !b->running_var->requires_grad && b->num_batches_tracked->ndim == 0);
  CHECK(nnc_get(b->running_var, 3) == 1 && nnc_get(b->running_mean, 0) == 0);
  set_from(b->weight, bn_w);
  set_from(b->bias, bn_b);
  nnc_tensor *x = NULL, *y = NULL;
  for (int s = 0; s < 3; s++) {
    nnc_params_zero_grad(&P);
    x = nnc_requires_grad(tensor_from(dt, NNC_SHAPE(6, 4), bn_x + 24 * s));
    y = nnc_forward(&b->base, x);
    nnc_backward_with(y, tensor_from(dt, NNC_SHAPE(6, 4), bn_g));
  }
  CHECK_T(y, bn_y, N(bn_y), tol);
  CHECK_T(x->grad, bn_dx, N(bn_dx), tol);
  CHECK_T(b->weight->grad, bn_dw, N(bn_dw), tol);
  CHECK_T(b->bias->grad, bn_db, N(bn_db), tol);
  CHECK_T(b->running_mean, bn_rm, N(bn_rm), tol);
  CHECK_T(b->running_var, bn_rv, N(bn_rv), tol);
  CHECK(nnc_item(b->num_batches_tracked) == bn_nbt[0]);
  nnc_step_end();
  /* eval: running statistics, which stay put */
  nnc_module_eval(&b->base);
  nnc_params_zero_grad(&P);
  x = nnc_requires_grad(tensor_from(dt, NNC_SHAPE(3, 4), bn_xe));
  y = nnc_forward(&b->base, x);
  nnc_backward(nnc_sum_all(y));
  CHECK_T(y, bn_ye, N(bn_ye), tol);
  CHECK_T(x->grad, bn_dxe, N(bn_dxe), tol);
  CHECK_T(b->weight->grad, bn_dwe, N(bn_dwe), tol);
  CHECK_T(b->running_mean, bn_rm, N(bn_rm), tol);
  CHECK(nnc_item(b->num_batches_tracked) == 3);
  nnc_step_end();
  /* training needs more than one value per channel, as PyTorch */
  nnc_module_train(&b->base, true);
  EXPECT_ABORT(nnc_forward(&b->base, nnc_zeros(dt, NNC_SHAPE(1, 4))), "more than one value");
  EXPECT_ABORT(nnc_forward(&b->base, nnc_zeros(dt, NNC_SHAPE(2, 3))), "expected [N, 4, ...]");
  nnc_module_free(&b->base);
  nnc_params_free(&P);
  nnc_params_free(&B);
  nnc_step_end();

  /* [N, C, L]: statistics over batch and length */
  nnc_params_init(&P, dt);
  nnc_params_init(&B, dt);
  b = nnc_new_batchnorm(&P, &B, "", 3, 1e-5, 0.1, true);
  CHECK(nnc_params_find(&B, "running_mean") != NULL);
  set_from(b->weight, bn3_w);
  set_from(b->bias, bn3_b);
  x = nnc_requires_grad(tensor_from(dt, NNC_SHAPE(2, 3, 5), bn3_x));
  y = nnc_forward(&b->base, x);
  nnc_backward_with(y, tensor_from(dt, NNC_SHAPE(2, 3, 5), bn3_g));
  CHECK_T(y, bn3_y, N(bn3_y), tol);
  CHECK_T(x->grad, bn3_dx, N(bn3_dx), tol);
  CHECK_T(b->weight->grad, bn3_dw, N(bn3_dw), tol);
  CHECK_T(b->running_mean, bn3_rm, N(bn3_rm), tol);
  CHECK_T(b->running_var, bn3_rv, N(bn3_rv), tol);
  nnc_step_end();
  nnc_module_eval(&b->base); /* eval on [N, C, L] broadcasts the [C] statistics as [C, 1] */
  y = nnc_forward(&b->base, tensor_from(dt, NNC_SHAPE(2, 3, 5), bn3_x));
  double want = (bn3_x[7] - bn3_rm[1]) / sqrt(bn3_rv[1] + 1e-5) * bn3_w[1] + bn3_b[1];
  CHECK_NEAR(nnc_get(y, 7), want, tol);
  nnc_module_free(&b->base);
  nnc_params_free(&P);
  nnc_params_free(&B);
  nnc_step_end();
}

static void test_embedding(nnc_dtype dt, double tol) {
  nnc_params P;
  nnc_params_init(&P, dt);
  nnc_embedding_mod *e = nnc_new_embedding(&P, "emb", 10, 3, NULL);
  set_from(e->weight, emb_w);
  int64_t idx[6];
  for (int i = 0; i < 6; i++) idx[i] = emb_idx[i];
  nnc_tensor *y = nnc_forward(&e->base, nnc_from_data(NNC_I64, NNC_SHAPE(2, 3), idx));
  CHECK(y->ndim == 3 && y->shape[0] == 2 && y->shape[1] == 3 && y->shape[2] == 3);
  nnc_backward_with(y, tensor_from(dt, NNC_SHAPE(2, 3, 3), emb_g));
  CHECK_T(y, emb_y, N(emb_y), tol);
  CHECK_T(e->weight->grad, emb_dw, N(emb_dw), tol); /* index 3 twice: its gradients add */
  EXPECT_ABORT(nnc_forward(&e->base, nnc_zeros(dt, NNC_SHAPE(2))), "i64");
  nnc_module_free(&e->base);
  nnc_params_free(&P);
  nnc_step_end();
}

static void test_names_and_modes(void) {
  nnc_params P, B;
  nnc_params_init(&P, NNC_F32);
  nnc_params_init(&B, NNC_F32);
  nnc_rng r;
  nnc_rng_seed(&r, 7, 0);
  /* net = Sequential(Linear(8, 16), ReLU, Dropout, Sequential(Linear(16, 4), BatchNorm(4))) */
  nnc_sequential_mod *net = nnc_new_sequential("net");
  nnc_sequential_add(net, &nnc_new_linear(&P, nnc_sequential_next_name(net), 8, 16, true, &r)->base);
  nnc_sequential_add(net, &nnc_new_act(NNC_ACT_RELU, 0)->base);
  nnc_dropout_mod *drop = nnc_new_dropout(0.5, 1, 2);
  nnc_sequential_add(net, &drop->base);
  nnc_sequential_mod *head = nnc_new_sequential(nnc_sequential_next_name(net));
  nnc_sequential_add(net, &head->base);
  nnc_sequential_add(head, &nnc_new_linear(&P, nnc_sequential_next_name(head), 16, 4, false, &r)->base);
  nnc_batchnorm_mod *bn = nnc_new_batchnorm(&P, &B, nnc_sequential_next_name(head), 4, 1e-5, 0.1, true);
  nnc_sequential_add(head, &bn->base);
  const char *want[] = {"net.0.weight", "net.0.bias", "net.3.0.weight", "net.3.1.weight", "net.3.1.bias"};
  CHECK(P.count == 5);
  for (int i = 0; i < 5 && i < P.count; i++) CHECKF(strcmp(P.names[i], want[i]) == 0, "%s vs %s", P.names[i], want[i]);
  CHECK(nnc_params_find(&B, "net.3.1.running_var") == bn->running_var);
  CHECK(P.tensors[0]->shape[0] == 16 && P.tensors[0]->shape[1] == 8 && P.tensors[2]->shape[0] == 4);
  CHECK(P.numel == 16 * 8 + 16 + 4 * 16 + 4 + 4);
  /* forward shape, and train/eval reaching every level */
  nnc_tensor *y = nnc_forward(&net->base, nnc_randn(NNC_F32, NNC_SHAPE(5, 8), &r));
  CHECK(y->ndim == 2 && y->shape[0] == 5 && y->shape[1] == 4);
  CHECK(net->base.training && drop->base.training && bn->base.training);
  nnc_module_eval(&net->base);
  CHECK(!net->base.training && !drop->base.training && !head->base.training && !bn->base.training);
  nnc_module_train(&net->base, true);
  CHECK(drop->base.training && bn->base.training);
  /* the printed tree */
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  nnc_module_print(&net->base, f);
  fclose(f);
  CHECK(strstr(buf, "Sequential(\n  (0): Linear(in_features=8, out_features=16, bias=True)\n  (1): Activation(relu)\n"
                    "  (2): Dropout(p=0.5)\n  (3): Sequential(\n    (0): Linear(in_features=16, out_features=4, bias=False)\n"
                    "    (1): BatchNorm(4, eps=1e-05, momentum=0.1, affine=True)\n  )\n)\n") != NULL);
  if (test_fail_count) fputs(buf, stderr);
  free(buf);
  nnc_module_free(&net->base);
  nnc_params_free(&P);
  nnc_params_free(&B);
  nnc_step_end();

  /* the MLP builder: PyTorch's nn.Sequential names; unnamed top level */
  nnc_params_init(&P, NNC_F32);
  nnc_sequential_mod *mlp = nnc_new_mlp(&P, "", 4, (int64_t[]){784, 256, 128, 10}, NNC_ACT_RELU, &r);
  CHECK(mlp->base.n_children == 5 && P.count == 6);
  CHECK(strcmp(P.names[0], "0.weight") == 0 && strcmp(P.names[3], "2.bias") == 0 && strcmp(P.names[5], "4.bias") == 0);
  CHECK(P.numel == 784 * 256 + 256 + 256 * 128 + 128 + 128 * 10 + 10);
  /* Linear's default init: U(-1/sqrt(in), 1/sqrt(in)), variance 1/(3 in) */
  nnc_tensor *w = nnc_params_find(&P, "0.weight");
  double bound = 1 / sqrt(784.0), s2 = 0, mx = 0;
  for (int64_t i = 0; i < nnc_numel(w); i++) s2 += nnc_get(w, i) * nnc_get(w, i), mx = fmax(mx, fabs(nnc_get(w, i)));
  CHECK(mx <= bound && mx > 0.99 * bound);
  CHECK_NEAR(s2 / (double)nnc_numel(w), bound * bound / 3, 0.02 * bound * bound / 3);
  nnc_module_free(&mlp->base);
  nnc_params_free(&P);
  EXPECT_ABORT(nnc_new_linear(&P, "x", 0, 3, true, NULL), "sizes");
  nnc_step_end();
}

static void test_dropout(void) {
  nnc_rng r;
  nnc_rng_seed(&r, 3, 0);
  nnc_tensor *x = nnc_requires_grad(nnc_randn(NNC_F32, NNC_SHAPE(100, 1000), &r));
  nnc_dropout_mod *d = nnc_new_dropout(0.3, 42, 1);
  nnc_tensor *y = nnc_forward(&d->base, x);
  nnc_backward(nnc_sum_all(y));
  int64_t zeros = 0, n = nnc_numel(x), bad = 0;
  for (int64_t i = 0; i < n; i++) {
    double xi = nnc_get(x, i), yi = nnc_get(y, i), gi = nnc_get(x->grad, i);
    if (yi == 0) {
      zeros++;
      if (gi != 0) bad++;
    } else if (fabs(yi - xi / 0.7) > 1e-5 * (1 + fabs(xi)) || fabs(gi - 1 / 0.7) > 1e-6) bad++;
  }
  CHECK(bad == 0);
  CHECK(fabs((double)zeros / (double)n - 0.3) < 0.005);
  /* the same seed and stream give the same mask; the next call a different one */
  nnc_dropout_mod *d2 = nnc_new_dropout(0.3, 42, 1);
  nnc_tensor *y2 = nnc_forward(&d2->base, x), *y3 = nnc_forward(&d2->base, x);
  int same = 1, diff = 0;
  for (int64_t i = 0; i < n; i++) same &= nnc_get(y, i) == nnc_get(y2, i), diff |= nnc_get(y2, i) != nnc_get(y3, i);
  CHECK(same && diff);
  /* eval and p = 0: identity; p = 1: zeros */
  nnc_module_eval(&d->base);
  CHECK(nnc_forward(&d->base, x) == x);
  nnc_dropout_mod *d0 = nnc_new_dropout(0, 1, 1), *d1 = nnc_new_dropout(1, 1, 1);
  CHECK(nnc_forward(&d0->base, x) == x);
  nnc_tensor *z = nnc_forward(&d1->base, x);
  double s = 0;
  for (int64_t i = 0; i < n; i++) s += fabs(nnc_get(z, i));
  CHECK(s == 0);
  EXPECT_ABORT(nnc_new_dropout(1.5, 1, 1), "not in [0, 1]");
  nnc_module_free(&d->base);
  nnc_module_free(&d0->base);
  nnc_module_free(&d1->base);
  nnc_module_free(&d2->base);
  nnc_step_end();
}

static void test_activations(void) {
  nnc_tensor *x = nnc_from_data(NNC_F64, NNC_SHAPE(4), (double[]){-2, -0.5, 0.5, 3});
  for (int a = 0; a < NNC_ACT_COUNT; a++) {
    nnc_act act;
    CHECK(nnc_act_from_name(nnc_act_name((nnc_act)a), &act) && act == (nnc_act)a);
    nnc_act_mod *m = nnc_new_act((nnc_act)a, 0.1);
    nnc_tensor *y = nnc_forward(&m->base, x), *want = nnc_act_apply(x, (nnc_act)a, 0.1);
    int ok = 1;
    for (int i = 0; i < 4; i++) ok &= nnc_get(y, i) == nnc_get(want, i);
    CHECKF(ok, "%s", nnc_act_name((nnc_act)a));
    nnc_module_free(&m->base);
  }
  nnc_act act;
  CHECK(nnc_act_from_name("swish", &act) && act == NNC_ACT_SILU && !nnc_act_from_name("nope", &act));
  CHECK(nnc_get(nnc_act_apply(x, NNC_ACT_LEAKY_RELU, 0.1), 0) == -0.2);
  CHECK(nnc_get(nnc_act_apply(x, NNC_ACT_RELU, 0), 1) == 0 && nnc_act_apply(x, NNC_ACT_IDENTITY, 0) == x);
  /* gains as torch.nn.init.calculate_gain */
  CHECK_NEAR(nnc_act_gain(NNC_ACT_RELU, 0), sqrt(2.0), 1e-15);
  CHECK_NEAR(nnc_act_gain(NNC_ACT_TANH, 0), 5.0 / 3, 1e-15);
  CHECK_NEAR(nnc_act_gain(NNC_ACT_LEAKY_RELU, 0.01), sqrt(2 / 1.0001), 1e-15);
  CHECK(nnc_act_gain(NNC_ACT_SIGMOID, 0) == 1);
  /* Flatten */
  nnc_flatten_mod *fl = nnc_new_flatten(1, -1);
  nnc_tensor *f = nnc_forward(&fl->base, nnc_zeros(NNC_F32, NNC_SHAPE(2, 3, 4, 5)));
  CHECK(f->ndim == 2 && f->shape[0] == 2 && f->shape[1] == 60);
  nnc_module_free(&fl->base);
  nnc_step_end();
}

/* sample variance and mean of a tensor */
static void moments(const nnc_tensor *t, double *mean, double *var, double *maxabs) {
  double s = 0, s2 = 0, m = 0;
  int64_t n = nnc_numel(t);
  for (int64_t i = 0; i < n; i++) {
    double v = nnc_get(t, i);
    s += v, s2 += v * v, m = fmax(m, fabs(v));
  }
  *mean = s / (double)n;
  *var = s2 / (double)n - *mean * *mean;
  if (maxabs) *maxabs = m;
}

static void test_init(void) {
  nnc_rng r;
  nnc_rng_seed(&r, 11, 0);
  nnc_tensor *w = nnc_empty(NNC_F32, NNC_SHAPE(512, 512));
  double mean, var, mx, fan = 512;
  nnc_init_kaiming_normal(w, nnc_act_gain(NNC_ACT_RELU, 0), &r);
  moments(w, &mean, &var, NULL);
  CHECKF(fabs(sqrt(var) / sqrt(2 / fan) - 1) < 0.02, "kaiming normal std %g vs %g", sqrt(var), sqrt(2 / fan));
  CHECK(fabs(mean) < 0.01 * sqrt(2 / fan));
  nnc_init_kaiming_uniform(w, nnc_act_gain(NNC_ACT_RELU, 0), &r);
  moments(w, &mean, &var, &mx);
  CHECK(mx <= sqrt(6 / fan) && mx > 0.99 * sqrt(6 / fan));
  CHECKF(fabs(var / (2 / fan) - 1) < 0.02, "kaiming uniform var %g", var);
  nnc_tensor *w2 = nnc_empty(NNC_F64, NNC_SHAPE(256, 768)); /* fan_in 768, fan_out 256 */
  nnc_init_xavier_normal(w2, 1.0, &r);
  moments(w2, &mean, &var, NULL);
  CHECKF(fabs(var / (2.0 / 1024) - 1) < 0.02, "xavier normal var %g", var);
  nnc_init_xavier_uniform(w2, nnc_act_gain(NNC_ACT_TANH, 0), &r);
  moments(w2, &mean, &var, &mx);
  double b = 5.0 / 3 * sqrt(6.0 / 1024);
  CHECK(mx <= b && mx > 0.99 * b);
  CHECKF(fabs(var / (b * b / 3) - 1) < 0.02, "xavier uniform var %g", var);
  nnc_init_normal(w, 0.5, 0.1, &r);
  moments(w, &mean, &var, NULL);
  CHECK(fabs(mean - 0.5) < 0.001 && fabs(sqrt(var) - 0.1) < 0.002);
  nnc_init_uniform(w, -3, 1, &r);
  moments(w, &mean, &var, &mx);
  CHECK(fabs(mean + 1) < 0.01 && fabs(var - 16.0 / 12) < 0.02 && mx <= 3);
  nnc_init_constant(w, 0.25);
  CHECK(nnc_get(w, 1000) == 0.25f);
  /* critical init: W ~ N(0, C_W / fan_in) */
  nnc_init_critical(w, 512, NNC_ACT_RELU, 0, &r);
  moments(w, &mean, &var, NULL);
  CHECKF(fabs(var / (2 / fan) - 1) < 0.02, "critical relu var %g", var);
  nnc_init_critical(w, 256, NNC_ACT_TANH, 0, &r); /* fan_in given explicitly */
  moments(w, &mean, &var, NULL);
  CHECKF(fabs(var / (1.0 / 256) - 1) < 0.02, "critical tanh var %g", var);
  nnc_tensor *bias = nnc_empty(NNC_F32, NNC_SHAPE(100000));
  nnc_init_critical_bias(bias, NNC_ACT_RELU, 0, &r);
  moments(bias, &mean, &var, &mx);
  CHECK(mx == 0);
  nnc_init_critical_bias(bias, NNC_ACT_GELU, 0, &r);
  moments(bias, &mean, &var, NULL);
  CHECKF(fabs(var / 0.1729 - 1) < 0.02, "critical gelu bias var %g", var);
  double cb, cw;
  CHECK(nnc_act_critical(NNC_ACT_RELU, 0, &cb, &cw) && cb == 0 && cw == 2);
  CHECK(nnc_act_critical(NNC_ACT_TANH, 0, &cb, &cw) && cb == 0 && cw == 1);
  CHECK(nnc_act_critical(NNC_ACT_LEAKY_RELU, 0.5, &cb, &cw) && cw == 2 / 1.25);
  CHECK(nnc_act_critical(NNC_ACT_SILU, 0, &cb, &cw) && cb == 0.5551 && cw == 1.9880);
  CHECK(!nnc_act_critical(NNC_ACT_SIGMOID, 0, &cb, &cw));
  EXPECT_ABORT(nnc_init_critical(w, 512, NNC_ACT_SIGMOID, 0, &r), "no known critical constants for sigmoid");
  /* fans of a conv weight [out, in, kh, kw], and determinism */
  nnc_tensor *conv = nnc_empty(NNC_F32, NNC_SHAPE(8, 4, 3, 3));
  CHECK(nnc_fan_in(conv) == 36 && nnc_fan_out(conv) == 72);
  nnc_rng r1, r2;
  nnc_rng_seed(&r1, 5, 9);
  nnc_rng_seed(&r2, 5, 9);
  nnc_tensor *a = nnc_empty(NNC_F32, NNC_SHAPE(64)), *c = nnc_empty(NNC_F32, NNC_SHAPE(64));
  nnc_init_kaiming_normal(a, 1, &r1);
  nnc_init_kaiming_normal(c, 1, &r2);
  CHECK(memcmp(nnc_data(a), nnc_data(c), 64 * sizeof(float)) == 0);
  nnc_step_end();
}

int main(void) {
  nnc_init();
  test_linear(NNC_F64, 1e-12);
  test_linear(NNC_F32, 1e-5);
  test_layernorm(NNC_F64, 1e-12);
  test_layernorm(NNC_F32, 1e-5);
  test_rmsnorm(NNC_F64, 1e-12);
  test_rmsnorm(NNC_F32, 1e-5);
  test_batchnorm(NNC_F64, 1e-12);
  test_batchnorm(NNC_F32, 1e-5);
  test_embedding(NNC_F64, 1e-12);
  test_embedding(NNC_F32, 1e-5);
  test_names_and_modes();
  test_dropout();
  test_activations();
  test_init();
  return test_summary();
}
