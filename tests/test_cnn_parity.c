/* tests/test_cnn_parity.c: the Fashion-MNIST CNN (fashion-cnn: conv1 5x5 1->32 pad 2, ReLU,
 * maxpool 2; conv2 5x5 32->64 pad 2, ReLU, maxpool 2; fc1 3136->1024, ReLU; fc2 1024->10)
 * against PyTorch, from tests/fixtures/cnn_parity.safetensors (made by
 * tools/make_cnn_fixture.py; see there for what it holds).
 *
 * The network is the one `nnc train fashion-cnn` builds (its model spec).  Its initial weights
 * are not in the fixture: both sides make them from an integer hash of the element's index
 * (init_param below), bit for bit the same, which the test checks against the fixture's
 * samples.  On one batch of 16 real training images it checks the logits, the cross-entropy
 * loss and every parameter's gradient; then 3 steps of SGD (lr 0.05, momentum 0.9, Nesterov,
 * weight decay 5e-4 on the weights only, as the trainer sets it up with nnc_group_no_decay_1d)
 * from the initial weights: the loss before each step and after the last, and the final
 * weights.  fc1.weight (3.2M elements) is checked on the fixture's strided sample (every 97th
 * element) and, whole, by its sum, sum of |.| and sum of squares; the rest completely.
 *
 * The reference is PyTorch in float64 from the float32 weights and images (stored as F32;
 * losses and moments F64), compared by max |a - b| / max |b| (tests/parity.h); the moments by
 * |sum a - sum b| / sum |b|, and relative error for sum |.| and sum of squares.  It runs:
 *   f32 parameter block (what training uses): tol 1e-5 (the floor);
 *   f64 parameter block: tol 1e-6 for tensors (the F32 storage of the reference is 6e-8) and
 *     1e-10 for losses and moments;
 *   f32 again with nnc_set_reference_kernels(true) (the plain per-element kernels), the
 *     logits, loss and gradients only.
 * The fixture's images are also checked, bit for bit, against nnc's own Fashion-MNIST loader
 * (skipped with a message when the data set is not installed). */
#include "test.h"
#include "parity.h"
#include "train/models.h"

#define FIXTURE "tests/fixtures/cnn_parity.safetensors"
#define TOL 1e-5 /* the floor */
#define STEPS 3
#define NPARAM 8
#define FC1_W 4 /* the parameter checked by sample and moments */

static const char *const names[NPARAM] = {"conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias",
                                          "fc1.weight",   "fc1.bias",   "fc2.weight",   "fc2.bias"};
static const int fan_in[NPARAM] = {25, 25, 800, 800, 3136, 3136, 1024, 1024};
/* tolerances of the run in progress: TOL for f32; tighter for f64 */
static double tol_tensor = TOL, tol_scalar = TOL;

/* C. Wellons' lowbias32 integer hash */
static uint32_t lowbias32(uint32_t x) {
  x ^= x >> 16;
  x *= 0x7feb352dU;
  x ^= x >> 15;
  x *= 0x846ca68bU;
  x ^= x >> 16;
  return x;
}

/* parameter k's initial values, as tools/make_cnn_fixture.py makes them: for element i (flat),
 *   h = lowbias32(i + 0x9E3779B9 (k + 1) mod 2^32),
 *   w[i] = float32(((h >> 8) - 2^23) / 2^23 * b),  b = float32(1 / sqrt(fan_in)),
 * uniform in [-b, b) with PyTorch's default bound; the product of two 24-bit numbers is exact in
 * double, so the one rounding to float32 gives the same bits on both sides. */
static void init_param(nnc_tensor *w, int k) {
  double b = (float)(1.0 / sqrt((double)fan_in[k]));
  uint32_t seed = 0x9E3779B9U * (uint32_t)(k + 1);
  for (int64_t i = 0, n = nnc_numel(w); i < n; i++) {
    int32_t m = (int32_t)(lowbias32((uint32_t)i + seed) >> 8) - (1 << 23);
    nnc_set(w, i, (float)((double)m / 8388608.0 * b));
  }
  nnc_bump_version(w);
}

static void init_params(nnc_params *p) {
  for (int k = 0; k < NPARAM; k++) init_param(nnc_params_find(p, names[k]), k);
}

/* the 1-d view t.flatten()[::s] of a contiguous t, s from the metadata "stride/<key>" */
static nnc_tensor *sample_view(const nnc_tensor *t, const char *key) {
  char mk[160];
  snprintf(mk, sizeof mk, "stride/%s", key);
  const char *s = nnc_st_metadata(fx, mk);
  CHECKF(s != NULL, "%s: no metadata %s", fx_path, mk);
  int64_t stride = s ? atoll(s) : 1, n = nnc_numel(t);
  nnc_tensor *v = nnc_view_raw(t);
  v->ndim = 1;
  v->shape[0] = (n + stride - 1) / stride;
  v->stride[0] = stride;
  return v;
}

/* a's sum, sum of |.| and sum of squares against the fixture's "<key>" [3] (F64, whole tensor) */
static double check_moments(const char *what, const nnc_tensor *a, const char *key, double tol) {
  nnc_tensor *b = fixture(key, NNC_F64);
  double s = 0, l1 = 0, l2 = 0;
  for (int64_t i = 0, n = nnc_numel(a); i < n; i++) {
    double v = nnc_get(a, i);
    s += v, l1 += fabs(v), l2 += v * v;
  }
  double bs = nnc_get(b, 0), bl1 = nnc_get(b, 1), bl2 = nnc_get(b, 2);
  double r = fmax(fabs(s - bs) / bl1, fmax(fabs(l1 - bl1) / bl1, fabs(l2 - bl2) / bl2));
  if (r != r) r = INFINITY;
  printf("  %-34s rel err %.3g (sum, sum |.|, sum of squares)\n", what, r);
  CHECKF(r <= tol, "%s: relative error %.3g > %g (sum %.9g vs %.9g, sum|.| %.9g vs %.9g, sum sq %.9g vs %.9g)", what,
         r, tol, s, bs, l1, bl1, l2, bl2);
  return r;
}

/* the generated initial weights are PyTorch's, bit for bit on the fixture's samples */
static void check_init(nnc_params *p) {
  char key[128], what[128];
  for (int k = 0; k < NPARAM; k++) {
    nnc_tensor *w = nnc_params_find(p, names[k]);
    snprintf(key, sizeof key, "init/%s.sample", names[k]);
    nnc_tensor *v = sample_view(w, key), *b = fixture(key, NNC_F64);
    int64_t n = nnc_numel(b), bad = 0;
    CHECKF(nnc_numel(v) == n, "%s: %lld sampled elements, the fixture has %lld", key, (long long)nnc_numel(v),
           (long long)n);
    for (int64_t i = 0; i < n && i < nnc_numel(v); i++) bad += nnc_get(v, i) != nnc_get(b, i);
    CHECKF(bad == 0, "%s: %lld of %lld initial values differ from PyTorch's", names[k], (long long)bad, (long long)n);
    snprintf(key, sizeof key, "init/%s.moments", names[k]);
    snprintf(what, sizeof what, "init %s", names[k]);
    check_moments(what, w, key, 1e-11); /* identical values; only the order of the sums differs */
  }
}

/* parameter k's tensor t (a gradient or a weight) against the fixture's "<prefix>/<name>":
 * complete, or for fc1.weight its sample and moments */
static void check_param(const char *what, const nnc_tensor *t, const char *prefix, int k) {
  char key[128], w2[160];
  if (k == FC1_W) {
    snprintf(key, sizeof key, "%s/%s.sample", prefix, names[k]);
    snprintf(w2, sizeof w2, "%s (sample)", what);
    check_tensor_tol(w2, sample_view(t, key), key, tol_tensor);
    snprintf(key, sizeof key, "%s/%s.moments", prefix, names[k]);
    snprintf(w2, sizeof w2, "%s (moments)", what);
    check_moments(w2, t, key, tol_scalar);
  } else {
    snprintf(key, sizeof key, "%s/%s", prefix, names[k]);
    check_tensor_tol(what, t, key, tol_tensor);
  }
}

/* forward on the fixture's batch; returns the mean cross-entropy (recorded on the tape) */
static nnc_tensor *batch_loss(nnc_module *net, nnc_dtype dt, nnc_tensor **logits) {
  nnc_tensor *x = fixture("x", dt), *y = fixture("y", NNC_I64);
  nnc_tensor *l = nnc_forward(net, x);
  if (logits) *logits = l;
  return nnc_cross_entropy(l, y, 0.0, NNC_REDUCE_MEAN);
}

/* STEPS steps of SGD as the trainer sets it up, from the initial weights */
static void run_sgd(nnc_module *net, nnc_params *p) {
  init_params(p);
  nnc_optim o;
  nnc_sgd_init(&o, p, 0.05, 0.9, 5e-4, true);
  double losses[STEPS + 1];
  for (int s = 0; s <= STEPS; s++) {
    nnc_params_zero_grad(p);
    nnc_tensor *loss = batch_loss(net, p->dtype, NULL);
    losses[s] = nnc_item(loss);
    if (s < STEPS) {
      nnc_backward(loss);
      nnc_optim_step(&o);
    }
    nnc_step_end();
  }
  nnc_tensor *want = fixture("sgd/losses", NNC_F64);
  CHECK(nnc_numel(want) == STEPS + 1);
  double worst = 0;
  for (int s = 0; s <= STEPS && s < nnc_numel(want); s++) {
    double b = nnc_get(want, s), r = fabs(losses[s] - b) / fmax(fabs(b), 1e-12);
    if (!(r <= worst)) worst = r;
    CHECKF(r <= tol_scalar, "sgd loss after %d steps %.9g vs torch %.9g (rel %.3g)", s, losses[s], b, r);
  }
  printf("  %-34s rel err %.3g (%.6f -> %.6f)\n", "sgd: losses of 3 steps + after", worst, losses[0], losses[STEPS]);
  char what[128];
  for (int k = 0; k < NPARAM; k++) {
    snprintf(what, sizeof what, "sgd: final %s", names[k]);
    check_param(what, nnc_params_find(p, names[k]), "sgd/final", k);
  }
  nnc_step_end();
  nnc_optim_free(&o);
}

/* the checks above; with_steps false: the batch's forward and backward only */
static void run(nnc_dtype dt, bool with_steps) {
  tol_tensor = dt == NNC_F64 ? 1e-6 : TOL;
  tol_scalar = dt == NNC_F64 ? 1e-10 : TOL;
  printf("%s parameter block (tolerance %g, losses and moments %g):\n", nnc_dtype_name(dt), tol_tensor, tol_scalar);
  const nnc_model_spec *spec = nnc_model_find("fashion-cnn");
  CHECK(spec != NULL);
  if (!spec) return;
  nnc_params p, buffers;
  nnc_params_init(&p, dt);
  nnc_params_init(&buffers, dt);
  nnc_rng rng;
  nnc_rng_seed(&rng, 0, 1);
  nnc_module *net = spec->build(&p, &buffers, &rng);
  CHECK(p.count == NPARAM && buffers.count == 0);
  bool ok = p.count == NPARAM;
  for (int k = 0; k < NPARAM && k < p.count; k++) {
    CHECKF(strcmp(p.names[k], names[k]) == 0, "param %d is %s", k, p.names[k]);
    ok = ok && strcmp(p.names[k], names[k]) == 0;
  }
  if (ok) {
    nnc_group_no_decay_1d(&p); /* as the trainer: no weight decay on the biases */
    init_params(&p);
    check_init(&p);

    /* forward, loss, backward on the batch */
    nnc_tensor *logits;
    nnc_params_zero_grad(&p);
    nnc_tensor *loss = batch_loss(net, dt, &logits);
    check_tensor_tol("logits", logits, "logits", tol_tensor);
    check_tensor_tol("loss", nnc_reshape(loss, NNC_SHAPE(1)), "loss", tol_scalar);
    nnc_backward(loss);
    char what[64];
    for (int k = 0; k < NPARAM; k++) {
      snprintf(what, sizeof what, "grad %s", names[k]);
      check_param(what, nnc_params_find(&p, names[k])->grad, "grad", k);
    }
    nnc_step_end();
    if (with_steps) run_sgd(net, &p);
  }
  nnc_module_free(net);
  nnc_params_free(&p);
  nnc_params_free(&buffers);
}

int main(void) {
  nnc_init();
  if (!fixture_open(FIXTURE, "tools/make_cnn_fixture.py")) return test_summary();
  check_images();
  run(NNC_F32, true);
  run(NNC_F64, true);
  /* the SGD steps would only run the same slow direct kernels four times more (the optimiser
   * has no reference variant): the whole test takes 1.7 s of CPU instead of 5.5 */
  printf("reference kernels, batch gradients only, ");
  nnc_set_reference_kernels(true);
  run(NNC_F32, false);
  nnc_set_reference_kernels(false);
  nnc_st_free(fx);
  return test_summary();
}
