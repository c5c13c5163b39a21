/* tests/test_optim.c: SGD (momentum, Nesterov, weight decay), Adam, AdamW, parameter groups,
 * clipping and learning-rate schedules against PyTorch (tests/fixtures/optim_fixture.h, made by
 * tools/make_optim_fixture.py), in f64 (tight) and f32 (to rounding); plus frozen parameters,
 * a block that grows, state save/restore and the OpenMP path. */
#include "test.h"
#include <stdlib.h>
#include <time.h>
#include "fixtures/optim_fixture.h"

#define NSTEPS 10

typedef struct {
  const char *name;
  nnc_optim_kind kind;
  double lr, momentum, wd, beta1, beta2;
  bool nesterov, groups, sched;
  double clip;
  const double *loss, *w;
} opt_case;

static const opt_case cases[] = {
    {"sgd", NNC_OPTIM_SGD, 0.1, 0, 0, 0, 0, false, false, false, 0, opt_sgd_loss, opt_sgd_w},
    {"sgd_mom", NNC_OPTIM_SGD, 0.1, 0.9, 0, 0, 0, false, false, false, 0, opt_sgd_mom_loss, opt_sgd_mom_w},
    {"sgd_nesterov", NNC_OPTIM_SGD, 0.1, 0.9, 0, 0, 0, true, false, false, 0, opt_sgd_nesterov_loss, opt_sgd_nesterov_w},
    {"sgd_wd", NNC_OPTIM_SGD, 0.1, 0.9, 0.05, 0, 0, false, false, false, 0, opt_sgd_wd_loss, opt_sgd_wd_w},
    {"adam", NNC_OPTIM_ADAM, 0.05, 0, 0, 0.9, 0.999, false, false, false, 0, opt_adam_loss, opt_adam_w},
    {"adam_wd", NNC_OPTIM_ADAM, 0.05, 0, 0.1, 0.8, 0.99, false, false, false, 0, opt_adam_wd_loss, opt_adam_wd_w},
    {"adamw", NNC_OPTIM_ADAMW, 0.05, 0, 0.1, 0.9, 0.999, false, false, false, 0, opt_adamw_loss, opt_adamw_w},
    {"adamw_groups", NNC_OPTIM_ADAMW, 0.05, 0, 0.1, 0.9, 0.999, false, true, false, 0, opt_adamw_groups_loss, opt_adamw_groups_w},
    {"sgd_clip", NNC_OPTIM_SGD, 0.1, 0.9, 0, 0, 0, false, false, false, 0.3, opt_sgd_clip_loss, opt_sgd_clip_w},
    {"adamw_sched", NNC_OPTIM_ADAMW, 0.05, 0, 0.1, 0.9, 0.999, false, false, true, 0, opt_adamw_sched_loss, opt_adamw_sched_w},
};

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static nnc_tensor *tensor_from(nnc_dtype dt, int ndim, const int64_t *shape, const double *v) {
  nnc_tensor *t = nnc_empty(dt, ndim, shape);
  for (int64_t i = 0, n = nnc_numel(t); i < n; i++) nnc_set(t, i, v[i]);
  return t;
}

/* the 3 -> 4 -> 2 tanh MLP with the fixture's weights */
static nnc_sequential_mod *make_net(nnc_params *P, nnc_dtype dt) {
  nnc_params_init(P, dt);
  nnc_rng r;
  nnc_rng_seed(&r, 1, 0);
  nnc_sequential_mod *net = nnc_new_mlp(P, "", 3, (int64_t[]){3, 4, 2}, NNC_ACT_TANH, &r);
  for (int64_t i = 0; i < P->numel; i++) nnc_set(nnc_params_values(P), i, opt_w0[i]);
  nnc_step_end();
  return net;
}

static double train_step(nnc_module *net, nnc_params *P, nnc_optim *o, double clip, const nnc_schedule *s) {
  nnc_params_zero_grad(P);
  nnc_dtype dt = P->dtype;
  nnc_tensor *x = tensor_from(dt, NNC_SHAPE(5, 3), opt_x), *y = tensor_from(dt, NNC_SHAPE(5, 2), opt_y);
  nnc_tensor *loss = nnc_mse(nnc_forward(net, x), y, NNC_REDUCE_MEAN);
  double l = nnc_item(loss);
  nnc_backward(loss);
  if (clip > 0) nnc_clip_grad_norm(P, clip);
  if (s) o->lr = nnc_schedule_lr(s, o->steps);
  nnc_optim_step(o);
  nnc_step_end();
  return l;
}

static void setup_optim(nnc_optim *o, const opt_case *c, nnc_params *P) {
  if (c->kind == NNC_OPTIM_SGD) nnc_sgd_init(o, P, c->lr, c->momentum, c->wd, c->nesterov);
  else if (c->kind == NNC_OPTIM_ADAM) nnc_adam_init(o, P, c->lr, c->beta1, c->beta2, 1e-8, c->wd);
  else nnc_adamw_init(o, P, c->lr, c->beta1, c->beta2, 1e-8, c->wd);
  if (c->groups) {
    CHECK(nnc_group_no_decay_1d(P) == 2);
    CHECK(nnc_group_lr_scale(P, "2.", 0.5f) == 2);
  }
}

static void test_parity(nnc_dtype dt, double tol) {
  for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
    const opt_case *c = &cases[k];
    nnc_params P;
    nnc_sequential_mod *net = make_net(&P, dt);
    nnc_optim o;
    setup_optim(&o, c, &P);
    nnc_schedule s = nnc_sched_warmup(nnc_sched_cosine(c->lr, 7, 0.001), 3, 0.1);
    double maxerr = 0;
    for (int t = 0; t < NSTEPS; t++) {
      double l = train_step(&net->base, &P, &o, c->clip, c->sched ? &s : NULL);
      maxerr = fmax(maxerr, fabs(l - c->loss[t]) / (1 + fabs(c->loss[t])));
    }
    for (int64_t i = 0; i < P.numel; i++) {
      double w = nnc_get(nnc_params_values(&P), i);
      maxerr = fmax(maxerr, fabs(w - c->w[i]) / (1 + fabs(c->w[i])));
    }
    CHECKF(maxerr <= tol, "%s %s: max relative error %.3g", c->name, nnc_dtype_name(dt), maxerr);
    CHECK(o.steps == NSTEPS && o.param_steps[0] == NSTEPS);
    nnc_optim_free(&o);
    nnc_module_free(&net->base);
    nnc_params_free(&P);
    nnc_step_end();
  }
}

static void check_sched(const char *name, nnc_schedule s, const double *want, int n) {
  double maxerr = 0;
  for (int t = 0; t < n; t++) maxerr = fmax(maxerr, fabs(nnc_schedule_lr(&s, t) - want[t]));
  CHECKF(maxerr < 1e-12, "%s: max error %.3g", name, maxerr);
}

static void test_schedules(void) {
  check_sched("step", nnc_sched_step(0.1, 3, 0.5), sched_step, 12);
  check_sched("cosine", nnc_sched_cosine(0.1, 10, 0.01), sched_cosine, 11); /* torch restarts after T */
  check_sched("warmup", nnc_sched_warmup(nnc_sched_constant(0.1), 4, 0.1), sched_warmup, 12);
  check_sched("linear", nnc_sched_linear(0.1, 8, 0.01), sched_linear, 12);
  check_sched("warmup+cosine", nnc_sched_warmup(nnc_sched_cosine(0.1, 7, 0.001), 3, 0.1), sched_warm_cos, 11);
  check_sched("warmup+step", nnc_sched_warmup(nnc_sched_step(0.1, 3, 0.5), 2, 0.25), sched_warm_step, 12);
  nnc_schedule c = nnc_sched_cosine(0.1, 10, 0.01);
  CHECK(nnc_schedule_lr(&c, 50) == 0.01); /* nnc stays at the minimum after T */
  nnc_schedule k = nnc_sched_constant(0.3);
  CHECK(nnc_schedule_lr(&k, 0) == 0.3 && nnc_schedule_lr(&k, 1000000) == 0.3);
  EXPECT_ABORT(nnc_sched_step(0.1, 0, 0.5), "step size");
}

static void test_clip(nnc_dtype dt, double tol) {
  const char *tags[2] = {"small", "large"};
  const double maxn[2] = {0.5, 100.0}, *wantn[2] = {clip_small_norm, clip_large_norm}, *wantg[2] = {clip_small_g, clip_large_g};
  for (int c = 0; c < 2; c++) {
    nnc_params P;
    nnc_params_init(&P, dt);
    nnc_params_add(&P, "a", NNC_SHAPE(3, 4));
    nnc_params_add(&P, "b", NNC_SHAPE(4));
    for (int i = 0; i < 16; i++) nnc_set(nnc_params_grads(&P), i, clip_g[i]);
    double n = nnc_clip_grad_norm(&P, maxn[c]);
    CHECK_NEAR(n, wantn[c][0], tol);
    double maxerr = 0;
    for (int i = 0; i < 16; i++) maxerr = fmax(maxerr, fabs(nnc_get(nnc_params_grads(&P), i) - wantg[c][i]));
    CHECKF(maxerr <= tol, "clip %s %s: %.3g", tags[c], nnc_dtype_name(dt), maxerr);
    if (c == 0) CHECK_NEAR(nnc_params_grad_norm(&P), 0.5, 1e-5);
    nnc_clip_grad_value(&P, 0.01);
    for (int i = 0; i < 16; i++) CHECK(fabs(nnc_get(nnc_params_grads(&P), i)) <= 0.01 + 1e-9);
    nnc_params_free(&P);
    nnc_step_end();
  }
}

/* frozen parameters stay put and keep no state; unfreezing starts them fresh (as PyTorch does
 * for a parameter whose first gradient arrives late) */
static void test_frozen_and_growth(void) {
  nnc_params P;
  nnc_params_init(&P, NNC_F32);
  nnc_tensor *a = nnc_params_add(&P, "a", NNC_SHAPE(4));
  nnc_tensor *b = nnc_params_add(&P, "b", NNC_SHAPE(3));
  nnc_fill(a, 1.0);
  nnc_fill(b, 1.0);
  CHECK(nnc_group_freeze(&P, "b", true) == 1);
  nnc_optim o;
  nnc_sgd_init(&o, &P, 0.5, 0.9, 0, false);
  nnc_fill(nnc_params_grads(&P), 1.0);
  nnc_optim_step(&o);
  CHECK(nnc_get(a, 0) == 0.5 && nnc_get(b, 2) == 1.0);
  CHECK(o.param_steps[0] == 1 && o.param_steps[1] == 0);
  /* a parameter added after the optimiser was made: state appears at the next step */
  nnc_tensor *c = nnc_params_add(&P, "c", NNC_SHAPE(2, 2));
  a = nnc_params_find(&P, "a"); /* views stay valid; find works too */
  nnc_fill(c, 2.0);
  nnc_fill(nnc_params_grads(&P), 1.0);
  nnc_optim_step(&o);
  /* a: buf = 0.9*1 + 1 = 1.9, a = 0.5 - 0.95; c: first step, buf = g */
  CHECK_NEAR(nnc_get(a, 1), 0.5 - 0.95, 1e-6);
  CHECK_NEAR(nnc_get(c, 3), 1.5, 1e-6);
  CHECK(o.numel == 11 && o.count == 3);
  nnc_state_array st[8];
  int n = nnc_optim_state(&o, st);
  CHECK(n == 3 && strcmp(st[0].name, "momentum_buffer") == 0 && st[0].count == 11 && st[0].dtype == NNC_F32);
  CHECK(strcmp(st[1].name, "param_steps") == 0 && st[1].count == 3 && ((int64_t *)st[1].data)[2] == 1);
  CHECK(strcmp(st[2].name, "steps") == 0 && *(int64_t *)st[2].data == 2);
  nnc_optim_free(&o);
  nnc_params_free(&P);
  nnc_step_end();
}

/* save the state after 5 steps, run 5 more, restore weights and state, run again: bitwise equal */
static void test_state_roundtrip(void) {
  nnc_params P;
  nnc_sequential_mod *net = make_net(&P, NNC_F32);
  nnc_optim o;
  nnc_adamw_init(&o, &P, 0.05, 0.9, 0.999, 1e-8, 0.1);
  for (int t = 0; t < 5; t++) train_step(&net->base, &P, &o, 0, NULL);
  nnc_state_array st[8];
  int n = nnc_optim_state(&o, st);
  CHECK(n == 4 && strcmp(st[0].name, "exp_avg") == 0 && strcmp(st[1].name, "exp_avg_sq") == 0);
  void *saved[8];
  size_t bytes[8];
  for (int i = 0; i < n; i++) {
    bytes[i] = (size_t)st[i].count * nnc_dtype_size(st[i].dtype);
    saved[i] = malloc(bytes[i]);
    memcpy(saved[i], st[i].data, bytes[i]);
  }
  float w5[26], w10[26];
  memcpy(w5, P.values.data, sizeof w5);
  for (int t = 0; t < 5; t++) train_step(&net->base, &P, &o, 0, NULL);
  memcpy(w10, P.values.data, sizeof w10);
  /* a fresh optimiser, restored */
  nnc_optim q;
  nnc_adamw_init(&q, &P, 0.05, 0.9, 0.999, 1e-8, 0.1);
  nnc_state_array qs[8];
  CHECK(nnc_optim_state(&q, qs) == n);
  for (int i = 0; i < n; i++) {
    CHECK(qs[i].count * (int64_t)nnc_dtype_size(qs[i].dtype) == (int64_t)bytes[i]);
    memcpy(qs[i].data, saved[i], bytes[i]);
    free(saved[i]);
  }
  CHECK(q.steps == 5);
  memcpy(P.values.data, w5, sizeof w5);
  for (int t = 0; t < 5; t++) train_step(&net->base, &P, &q, 0, NULL);
  CHECK(memcmp(P.values.data, w10, sizeof w10) == 0);
  nnc_optim_reset(&q);
  CHECK(q.steps == 0 && q.buf1 == NULL);
  nnc_optim_free(&q);
  nnc_optim_free(&o);
  nnc_module_free(&net->base);
  nnc_params_free(&P);
}

/* a parameter above the OpenMP threshold gives the same numbers as the formula */
static void test_large(void) {
  nnc_params P;
  nnc_params_init(&P, NNC_F32);
  int64_t n = (int64_t)3 << 20;
  nnc_tensor *a = nnc_params_add(&P, "big", NNC_SHAPE(n));
  float *v = P.values.data, *g = P.grads.data;
  for (int64_t i = 0; i < n; i++) v[i] = (float)(i % 97) * 0.01f, g[i] = (float)(i % 13) * 0.1f - 0.6f;
  nnc_optim o;
  nnc_adam_init(&o, &P, 0.01, 0.9, 0.999, 1e-8, 0);
  nnc_optim_step(&o);
  /* first Adam step: p -= lr * g / (|g| + eps) */
  int bad = 0;
  for (int64_t i = 0; i < n; i++) {
    double gi = (float)(i % 13) * 0.1f - 0.6f, want = (float)(i % 97) * 0.01f - 0.01 * gi / (fabs(gi) + 1e-8);
    if (fabs(v[i] - want) > 1e-6) bad++;
  }
  CHECK(bad == 0);
  (void)a;
  /* speed: AdamW over the block, once to print */
  double t0 = now_s();
  for (int r = 0; r < 10; r++) nnc_optim_step(&o);
  printf("adam step over %lld params: %.2f ms\n", (long long)n, (now_s() - t0) * 100);
  nnc_optim_free(&o);
  nnc_params_free(&P);
}

static void test_errors(void) {
  nnc_params P;
  nnc_params_init(&P, NNC_F32);
  nnc_optim o;
  EXPECT_ABORT(nnc_sgd_init(&o, &P, 0.1, 0, 0, true), "Nesterov");
  EXPECT_ABORT(nnc_adam_init(&o, &P, 0.1, 1.0, 0.9, 1e-8, 0), "betas");
  EXPECT_ABORT(nnc_sgd_init(&o, &P, -1, 0, 0, false), "lr");
  EXPECT_ABORT(nnc_clip_grad_norm(&P, 0), "max_norm");
  nnc_params_add(&P, "w", NNC_SHAPE(2, 2));
  nnc_params_add(&P, "b", NNC_SHAPE(2));
  CHECK(nnc_group_no_decay_1d(&P) == 1 && P.decay_scale[0] == 1.0f && P.decay_scale[1] == 0.0f);
  CHECK(nnc_group_decay_scale(&P, "", 0.5f) == 2 && P.decay_scale[1] == 0.5f);
  nnc_params_free(&P);
}

int main(void) {
  nnc_init();
  test_parity(NNC_F64, 1e-10);
  test_parity(NNC_F32, 1e-5);
  test_schedules();
  test_clip(NNC_F64, 1e-12);
  test_clip(NNC_F32, 1e-6);
  test_frozen_and_growth();
  test_state_roundtrip();
  test_large();
  test_errors();
  return test_summary();
}
