/* tests/test_loss_values.c: the losses against values computed with PyTorch 1.13, forward
 * and gradients, fast and reference kernels, f64 (1e-6 relative) and f32 (1e-5); the errors
 * the loss ops must give; and the cross-entropy fast kernel on a batch large enough to run
 * on several threads and to span several chunks of a row.
 *
 * The expected numbers come from this snippet (/usr/bin/python3, torch 1.13):
 *
 *   import torch, torch.nn.functional as F
 *   torch.set_default_dtype(torch.float64)
 *   x = torch.tensor([[1.0, -0.5, 2.0, 0.3], [0.2, 0.1, -1.2, 3.0], [-2.0, 0.5, 0.0, 1.5]], requires_grad=True)
 *   t = torch.tensor([2, 0, 3])
 *   ce = F.cross_entropy(x, t, label_smoothing=0.1); ce.backward()
 *   print("ce mean", repr(ce.item())); print("ce grad", x.grad.flatten().tolist())
 *   print("ce none", F.cross_entropy(x, t, label_smoothing=0.1, reduction='none').tolist())
 *   print("ce sum", F.cross_entropy(x, t, label_smoothing=0.1, reduction='sum').item())
 *   p = torch.tensor([[-3.0, -0.7, 0.0, 0.4], [1.1, 25.0, -40.0, 2.5]], requires_grad=True)
 *   y = torch.tensor([[0.0, 1.0, 0.3, 1.0], [0.5, 0.0, 1.0, 0.2]], requires_grad=True)
 *   b = F.binary_cross_entropy_with_logits(p, y); b.backward()
 *   print("bce mean", b.item()); print("bce gp", p.grad.flatten().tolist()); print("bce gt", y.grad.flatten().tolist())
 *   print("bce none", F.binary_cross_entropy_with_logits(p, y, reduction='none').flatten().tolist())
 *   q = torch.tensor([0.3, -2.0, 1.9, 0.0, 4.0, -0.2], requires_grad=True)
 *   z = torch.tensor([0.0, 0.5, -0.5, 0.1, 1.0, 1.3], requires_grad=True)
 *   h = F.huber_loss(q, z, delta=1.5); h.backward()
 *   print("huber mean", h.item()); print("huber gq", q.grad.tolist()); print("huber gz", z.grad.tolist())
 *   print("huber none", F.huber_loss(q, z, delta=1.5, reduction='none').tolist())
 */
#include "test.h"

static const double ce_x[12] = {1.0, -0.5, 2.0, 0.3, 0.2, 0.1, -1.2, 3.0, -2.0, 0.5, 0.0, 1.5};
static const int64_t ce_t[3] = {2, 0, 3};
static const double ce_mean = 1.381275002127255, ce_sum = 4.143825006381765;
static const double ce_none[3] = {0.6202032144153276, 2.89045086782584, 0.6331709241405978};
static const double ce_grad[12] = {0.06677562040673433,  0.008425739543268973,  -0.10416602922713637,
                                   0.028964669277133086, -0.2904084097653255,   0.007885808226434794,
                                   -0.003913101602577255, 0.28643570314146805,  -0.002124505855510158,
                                   0.06730566991829726,  0.03754404120888419,   -0.10272520527167125};

static const double bce_p[8] = {-3.0, -0.7, 0.0, 0.4, 1.1, 25.0, -40.0, 2.5};
static const double bce_y[8] = {0.0, 1.0, 0.3, 1.0, 0.5, 0.0, 1.0, 0.2};
static const double bce_mean = 8.784270111605121;
static const double bce_none[8] = {0.048587351573741965, 1.103186048885458, 0.6931471805599453, 0.5130152523999525,
                                   0.8373353251154307,   25.000000000013888, 40.0,              2.0788897342925496};
static const double bce_gp[8] = {0.005928234147195848, -0.08352347152102077, 0.025, -0.050164042485943486,
                                 0.03128251319938971,  0.124999999998264,    -0.125, 0.09051772749734457};
static const double bce_gt[8] = {0.375, 0.0875, -0.0, -0.05, -0.1375, -3.125, 5.0, -0.3125};

static const double hu_q[6] = {0.3, -2.0, 1.9, 0.0, 4.0, -0.2};
static const double hu_z[6] = {0.0, 0.5, -0.5, 0.1, 1.0, 1.3};
static const double hu_mean = 1.6083333333333334;
static const double hu_none[6] = {0.045, 2.625, 2.4749999999999996, 0.005000000000000001, 3.375, 1.125};
static const double hu_gq[6] = {0.049999999999999996, -0.25, 0.25, -0.016666666666666666, 0.25, -0.25};

static nnc_tensor *make(nnc_dtype dt, int ndim, const int64_t *shape, const double *v) {
  nnc_tensor *t = nnc_empty(dt, ndim, shape);
  for (int64_t i = 0, n = nnc_numel(t); i < n; i++) nnc_set(t, i, v[i]);
  return nnc_requires_grad(t);
}

static void check_all(const nnc_tensor *t, const double *want, int64_t n, double tol) {
  CHECK(nnc_numel(t) == n);
  for (int64_t i = 0; i < n; i++) CHECK_NEAR(nnc_get(t, i), want[i], tol);
}

static void test_cross_entropy(nnc_dtype dt, double tol) {
  nnc_tensor *x = make(dt, NNC_SHAPE(3, 4), ce_x);
  nnc_tensor *t = nnc_from_data(NNC_I64, NNC_SHAPE(3), ce_t);
  nnc_tensor *loss = nnc_cross_entropy(x, t, 0.1, NNC_REDUCE_MEAN);
  CHECK(loss->ndim == 0 && loss->dtype == dt);
  CHECK_NEAR(nnc_item(loss), ce_mean, tol);
  nnc_backward(loss);
  check_all(x->grad, ce_grad, 12, tol);
  CHECK_NEAR(nnc_item(nnc_cross_entropy(x, t, 0.1, NNC_REDUCE_SUM)), ce_sum, tol);
  nnc_tensor *none = nnc_cross_entropy(x, t, 0.1, NNC_REDUCE_NONE);
  CHECK(none->ndim == 1 && none->shape[0] == 3);
  check_all(none, ce_none, 3, tol);
  /* label smoothing 0 is -logp[target]: the same as nll(log_softmax) done by hand */
  nnc_tensor *plain = nnc_cross_entropy(x, t, 0, NNC_REDUCE_NONE);
  for (int i = 0; i < 3; i++) {
    double m = -INFINITY, s = 0;
    for (int c = 0; c < 4; c++) m = fmax(m, ce_x[4 * i + c]);
    for (int c = 0; c < 4; c++) s += exp(ce_x[4 * i + c] - m);
    CHECK_NEAR(nnc_get(plain, i), m + log(s) - ce_x[4 * i + ce_t[i]], tol);
  }
  nnc_step_end();
}

static void test_bce(nnc_dtype dt, double tol) {
  nnc_tensor *p = make(dt, NNC_SHAPE(2, 4), bce_p), *y = make(dt, NNC_SHAPE(2, 4), bce_y);
  nnc_tensor *loss = nnc_bce_with_logits(p, y, NNC_REDUCE_MEAN);
  CHECK_NEAR(nnc_item(loss), bce_mean, tol);
  nnc_backward(loss);
  check_all(p->grad, bce_gp, 8, tol);
  check_all(y->grad, bce_gt, 8, tol);
  nnc_tensor *none = nnc_bce_with_logits(p, y, NNC_REDUCE_NONE);
  CHECK(none->ndim == 2 && none->shape[0] == 2 && none->shape[1] == 4);
  check_all(none, bce_none, 8, tol);
  CHECK_NEAR(nnc_item(nnc_bce_with_logits(p, y, NNC_REDUCE_SUM)), 8 * bce_mean, tol);
  nnc_step_end();
}

static void test_huber(nnc_dtype dt, double tol) {
  nnc_tensor *q = make(dt, NNC_SHAPE(6), hu_q), *z = make(dt, NNC_SHAPE(6), hu_z);
  nnc_tensor *loss = nnc_huber(q, z, 1.5, NNC_REDUCE_MEAN);
  CHECK_NEAR(nnc_item(loss), hu_mean, tol);
  nnc_backward(loss);
  check_all(q->grad, hu_gq, 6, tol);
  for (int i = 0; i < 6; i++) CHECK_NEAR(nnc_get(z->grad, i), -hu_gq[i], tol);
  check_all(nnc_huber(q, z, 1.5, NNC_REDUCE_NONE), hu_none, 6, tol);
  nnc_step_end();
}

/* the simple losses against their formulas */
static void test_simple(void) {
  double a[4] = {1, -2, 0.5, 3}, b[4] = {0, 1, 0.5, -1};
  nnc_tensor *p = make(NNC_F64, NNC_SHAPE(2, 2), a), *t = make(NNC_F64, NNC_SHAPE(2, 2), b);
  CHECK_NEAR(nnc_item(nnc_mse(p, t, NNC_REDUCE_MEAN)), (1 + 9 + 0 + 16) / 4.0, 1e-12);
  CHECK_NEAR(nnc_item(nnc_l1(p, t, NNC_REDUCE_SUM)), 1 + 3 + 0 + 4, 1e-12);
  nnc_tensor *l = nnc_l1(p, t, NNC_REDUCE_SUM);
  nnc_backward(l);
  double gl1[4] = {1, -1, 0, 1}; /* sign(d), 0 at d = 0 */
  check_all(p->grad, gl1, 4, 1e-12);
  for (int i = 0; i < 4; i++) CHECK_NEAR(nnc_get(t->grad, i), -gl1[i], 1e-12);
  double lp[6] = {-1, -2, -3, -0.5, -0.25, -4};
  int64_t ti[2] = {2, 0};
  nnc_tensor *x = make(NNC_F64, NNC_SHAPE(2, 3), lp), *ti_t = nnc_from_data(NNC_I64, NNC_SHAPE(2), ti);
  nnc_tensor *nl = nnc_nll(x, ti_t, NNC_REDUCE_MEAN);
  CHECK_NEAR(nnc_item(nl), (3 + 0.5) / 2, 1e-12);
  nnc_backward(nl);
  double gn[6] = {0, 0, -0.5, -0.5, 0, 0};
  check_all(x->grad, gn, 6, 1e-12);
  nnc_step_end();
}

static void test_errors(void) {
  nnc_tensor *x = nnc_zeros(NNC_F32, NNC_SHAPE(2, 3));
  int64_t bad[2] = {1, 3}, neg[2] = {-1, 0};
  nnc_tensor *tb = nnc_from_data(NNC_I64, NNC_SHAPE(2), bad), *tn = nnc_from_data(NNC_I64, NNC_SHAPE(2), neg);
  EXPECT_ABORT(nnc_cross_entropy(x, tb, 0, NNC_REDUCE_MEAN), "target[1] = 3 is out of range for 3 classes");
  EXPECT_ABORT(nnc_nll(x, tn, NNC_REDUCE_MEAN), "nll: target[0] = -1 is out of range");
  nnc_tensor *t3 = nnc_zeros(NNC_I64, NNC_SHAPE(3));
  EXPECT_ABORT(nnc_cross_entropy(x, t3, 0, NNC_REDUCE_MEAN), "target shape [3]");
  nnc_tensor *tf = nnc_zeros(NNC_F32, NNC_SHAPE(2));
  EXPECT_ABORT(nnc_cross_entropy(x, tf, 0, NNC_REDUCE_MEAN), "i64");
  nnc_tensor *y = nnc_zeros(NNC_F32, NNC_SHAPE(3, 2));
  EXPECT_ABORT(nnc_mse(x, y, NNC_REDUCE_MEAN), "mse: input shape [2, 3] and target shape [3, 2] differ");
  EXPECT_ABORT(nnc_huber(x, x, 0, NNC_REDUCE_MEAN), "delta");
  nnc_tensor *xd = nnc_zeros(NNC_F64, NNC_SHAPE(2, 3));
  EXPECT_ABORT(nnc_bce_with_logits(x, xd, NNC_REDUCE_MEAN), "dtypes differ");
  nnc_step_end();
}

/* a batch large enough for the threaded path, rows longer than one chunk: fast forward
 * against the reference kernel, backward against softmax - q computed here */
static void test_large_cross_entropy(nnc_dtype dt, double tol) {
  const int64_t N = 96, C = 1100;
  nnc_rng rng;
  nnc_rng_seed(&rng, 5, 1);
  nnc_tensor *x = nnc_requires_grad(nnc_randn(dt, NNC_SHAPE(N, C), &rng));
  nnc_tensor *t = nnc_empty(NNC_I64, 1, &N);
  for (int64_t i = 0; i < N; i++) nnc_i64(t)[i] = nnc_rng_below(&rng, C);
  const double eps = 0.05;
  nnc_tensor *fast = nnc_cross_entropy(x, t, eps, NNC_REDUCE_NONE);
  nnc_set_reference_kernels(true);
  nnc_tensor *ref = nnc_cross_entropy(x, t, eps, NNC_REDUCE_NONE);
  nnc_set_reference_kernels(false);
  double err = 0;
  for (int64_t i = 0; i < N; i++) err = fmax(err, fabs(nnc_get(fast, i) - nnc_get(ref, i)) / (1 + fabs(nnc_get(ref, i))));
  CHECKF(err <= tol, "fast vs reference %g", err);
  nnc_tensor *loss = nnc_cross_entropy(x, t, eps, NNC_REDUCE_SUM);
  nnc_backward(loss);
  err = 0;
  for (int64_t i = 0; i < N; i++) {
    double m = -INFINITY, s = 0;
    for (int64_t c = 0; c < C; c++) m = fmax(m, nnc_get(x, i * C + c));
    for (int64_t c = 0; c < C; c++) s += exp(nnc_get(x, i * C + c) - m);
    for (int64_t c = 0; c < C; c++) {
      double want = exp(nnc_get(x, i * C + c) - m) / s - eps / (double)C - (c == nnc_i64(t)[i] ? 1 - eps : 0);
      err = fmax(err, fabs(nnc_get(x->grad, i * C + c) - want));
    }
  }
  CHECKF(err <= tol, "gradient error %g", err);
  nnc_step_end();
}

int main(void) {
  nnc_init();
  for (int ref = 0; ref < 2; ref++) {
    nnc_set_reference_kernels(ref);
    test_cross_entropy(NNC_F64, 1e-6);
    test_cross_entropy(NNC_F32, 1e-5);
    test_bce(NNC_F64, 1e-6);
    test_bce(NNC_F32, 1e-5);
    test_huber(NNC_F64, 1e-6);
    test_huber(NNC_F32, 1e-5);
  }
  nnc_set_reference_kernels(false);
  test_simple();
  test_errors();
  test_large_cross_entropy(NNC_F64, 1e-12);
  test_large_cross_entropy(NNC_F32, 1e-5);
  return test_summary();
}
