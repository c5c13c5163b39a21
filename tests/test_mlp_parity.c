/* tests/test_mlp_parity.c: the Fashion-MNIST MLP (fashion-mlp: fc1 784->256, ReLU, fc2
 * 256->256, ReLU, fc3 256->10) against PyTorch, from tests/fixtures/mlp_parity.safetensors
 * (made by tools/make_mlp_fixture.py; see there for what it holds).
 *
 * The network is the one `nnc train fashion-mlp` builds (its model spec), its parameters
 * loaded by PyTorch name from the fixture's "init/" tensors.  On one batch of 32 real training
 * images it checks the logits, the cross-entropy loss and every parameter's gradient; then
 * 10 steps of SGD (lr 0.05, momentum 0.9, Nesterov, weight decay 5e-4 on weights only, as the
 * trainer sets it up with nnc_group_no_decay_1d) and 10 steps of Adam (lr 1e-3) on that batch
 * from the initial weights: the loss before each step and the final weights.
 *
 * The reference is PyTorch in float64 from the float32 initial weights and images (stored as
 * F32; losses F64).  Criterion, for a tensor a against PyTorch's b:
 *     max_i |a_i - b_i| / max(max_i |b_i|, 1e-12)  <=  tol
 * i.e. the largest error relative to the tensor's own scale (an elementwise relative error
 * would be meaningless for entries that are zero up to rounding); for a scalar (the loss,
 * each step's loss) that is |a - b| / |b| (tests/parity.h).  It runs twice:
 *   f32 parameter block (what training uses): tol 1e-5 (the floor) for everything,
 *     except Adam's final weights, see check_adam_f32 (PyTorch's own f32 run misses them too);
 *   f64 parameter block: tol 1e-6 for tensors (the F32 storage of the reference is 6e-8) and
 *     1e-10 for losses, Adam's final weights included;
 *   f32 again with nnc_set_reference_kernels(true) (the plain per-element kernels).
 * The fixture's images are also checked, bit for bit, against nnc's own Fashion-MNIST loader
 * (skipped with a message when the data set is not installed). */
#include "test.h"
#include "parity.h"
#include "train/models.h"

#define FIXTURE "tests/fixtures/mlp_parity.safetensors"
#define TOL 1e-5 /* the floor */
#define STEPS 10

static const char *const names[6] = {"fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias", "fc3.weight", "fc3.bias"};
/* tolerances of the run in progress: TOL for f32; tighter for f64, whose results differ from
 * the f64 reference only by the fixture's F32 storage (6e-8) and f64 rounding */
static double tol_tensor = TOL, tol_scalar = TOL;

static void check_tensor(const char *what, const nnc_tensor *a, const char *name) {
  check_tensor_tol(what, a, name, tol_tensor);
}

/* Adam's final weights in f32.  Adam divides each gradient by its own running RMS, so an
 * element whose gradient is at the level of f32 rounding (a near-cancelling sum over the
 * batch) moves by up to lr per step whatever the rounding did: no f32 implementation can
 * match the f64 reference there to 1e-5.  PyTorch's own f32 run is off the reference by up to
 * "torch_f32_spread/<name>" (1.1e-3 for fc2.weight, in 20 of its 65536 elements).  So here:
 * every element within max(1e-5, 3 x that spread), and all but 0.1% of them within 1e-5.  The
 * f64 block checks the same weights to 1e-6 everywhere. */
static void check_adam_f32(const char *what, const nnc_tensor *a, const char *name) {
  nnc_tensor *b = fixture(name, NNC_F64);
  char key[256];
  snprintf(key, sizeof key, "torch_f32_spread/%s", name);
  const char *sp = nnc_st_metadata(fx, key);
  CHECKF(sp != NULL, "%s: no metadata %s", FIXTURE, key);
  double bound = fmax(TOL, 3 * (sp ? atof(sp) : 0));
  double r = rel_err(a, b), scale = 0;
  int64_t n = nnc_numel(b), off = 0;
  for (int64_t i = 0; i < n; i++) scale = fmax(scale, fabs(nnc_get(b, i)));
  for (int64_t i = 0; i < n; i++) off += !(fabs(nnc_get(a, i) - nnc_get(b, i)) <= TOL * scale);
  printf("  %-34s rel err %.3g (bound %.3g; %lld of %lld elements beyond 1e-5)\n", what, r, bound, (long long)off,
         (long long)n);
  CHECKF(r <= bound, "%s: relative error %.3g > %.3g", what, r, bound);
  CHECKF(off * 1000 <= n, "%s: %lld of %lld elements beyond 1e-5", what, (long long)off, (long long)n);
}

static void load_init(nnc_params *p) {
  nnc_status st = nnc_params_load_from(p, fx, "init/", true);
  CHECKF(st == NNC_OK, "loading init/ weights: %s", nnc_last_error());
}

/* forward on the fixture's batch; returns the mean cross-entropy (recorded on the tape) */
static nnc_tensor *batch_loss(nnc_module *net, nnc_dtype dt, nnc_tensor **logits) {
  nnc_tensor *x = fixture("x", dt), *y = fixture("y", NNC_I64);
  nnc_tensor *l = nnc_forward(net, x);
  if (logits) *logits = l;
  return nnc_cross_entropy(l, y, 0.0, NNC_REDUCE_MEAN);
}

static void check_final(const char *opt, nnc_params *p) {
  char name[128], what[128];
  const char *stride_s = nnc_st_metadata(fx, "fc1_rows_stride");
  int64_t stride = stride_s ? atoll(stride_s) : 16;
  for (int k = 0; k < 6; k++) {
    nnc_tensor *w = nnc_params_find(p, names[k]);
    snprintf(what, sizeof what, "%s: final %s", opt, names[k]);
    if (k == 0) { /* every stride-th row of fc1.weight */
      nnc_tensor *v = nnc_view_raw(w);
      v->shape[0] = (w->shape[0] + stride - 1) / stride;
      v->stride[0] *= stride;
      snprintf(name, sizeof name, "%s/final/fc1.weight.rows", opt);
      w = v;
    } else {
      snprintf(name, sizeof name, "%s/final/%s", opt, names[k]);
    }
    if (strcmp(opt, "adam") == 0 && p->dtype == NNC_F32) check_adam_f32(what, w, name);
    else check_tensor(what, w, name);
  }
}

static void run_steps(const char *opt, nnc_module *net, nnc_params *p) {
  load_init(p);
  nnc_optim o;
  if (strcmp(opt, "sgd") == 0) {
    nnc_sgd_init(&o, p, 0.05, 0.9, 5e-4, true);
  } else {
    nnc_adam_init(&o, p, 1e-3, 0.9, 0.999, 1e-8, 0.0);
  }
  double losses[STEPS];
  for (int s = 0; s < STEPS; s++) {
    nnc_params_zero_grad(p);
    nnc_tensor *loss = batch_loss(net, p->dtype, NULL);
    losses[s] = nnc_item(loss);
    nnc_backward(loss);
    nnc_optim_step(&o);
    nnc_step_end();
  }
  char name[64], what[64];
  snprintf(name, sizeof name, "%s/losses", opt);
  nnc_tensor *want = fixture(name, NNC_F64);
  double worst = 0;
  for (int s = 0; s < STEPS; s++) {
    double b = nnc_get(want, s), r = fabs(losses[s] - b) / fmax(fabs(b), 1e-12);
    if (!(r <= worst)) worst = r;
    CHECKF(r <= tol_scalar, "%s step %d loss %.9g vs torch %.9g (rel %.3g)", opt, s + 1, losses[s], b, r);
  }
  snprintf(what, sizeof what, "%s: losses of %d steps", opt, STEPS);
  printf("  %-34s rel err %.3g (%.6f -> %.6f)\n", what, worst, losses[0], losses[STEPS - 1]);
  check_final(opt, p);
  nnc_step_end();
  nnc_optim_free(&o);
}

static void run(nnc_dtype dt) {
  tol_tensor = dt == NNC_F64 ? 1e-6 : TOL;
  tol_scalar = dt == NNC_F64 ? 1e-10 : TOL;
  printf("%s parameter block (tolerance %g, losses %g):\n", nnc_dtype_name(dt), tol_tensor, tol_scalar);
  const nnc_model_spec *spec = nnc_model_find("fashion-mlp");
  CHECK(spec != NULL);
  if (!spec) return;
  nnc_params p, buffers;
  nnc_params_init(&p, dt);
  nnc_params_init(&buffers, dt);
  nnc_rng rng;
  nnc_rng_seed(&rng, 0, 1);
  nnc_module *net = spec->build(&p, &buffers, &rng);
  CHECK(p.count == 6 && buffers.count == 0);
  for (int k = 0; k < 6 && k < p.count; k++) CHECKF(strcmp(p.names[k], names[k]) == 0, "param %d is %s", k, p.names[k]);
  nnc_group_no_decay_1d(&p); /* as the trainer: no weight decay on the biases */
  load_init(&p);

  /* forward, loss, backward on the batch */
  nnc_tensor *logits;
  nnc_params_zero_grad(&p);
  nnc_tensor *loss = batch_loss(net, dt, &logits);
  check_tensor("logits", logits, "logits");
  check_tensor_tol("loss", nnc_reshape(loss, NNC_SHAPE(1)), "loss", tol_scalar);
  nnc_backward(loss);
  char name[64], what[64];
  for (int k = 0; k < 6; k++) {
    snprintf(name, sizeof name, "grad/%s", names[k]);
    snprintf(what, sizeof what, "grad %s", names[k]);
    check_tensor(what, nnc_params_find(&p, names[k])->grad, name);
  }
  nnc_step_end();

  run_steps("sgd", net, &p);
  run_steps("adam", net, &p);
  nnc_module_free(net);
  nnc_params_free(&p);
  nnc_params_free(&buffers);
}

int main(void) {
  nnc_init();
  if (!fixture_open(FIXTURE, "tools/make_mlp_fixture.py")) return test_summary();
  check_images();
  run(NNC_F32);
  run(NNC_F64);
  printf("reference kernels, ");
  nnc_set_reference_kernels(true);
  run(NNC_F32);
  nnc_set_reference_kernels(false);
  nnc_st_free(fx);
  return test_summary();
}
