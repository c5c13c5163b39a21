/* tests/test_core.c: tensors, views, the arena, the parameter block, rng determinism, and
 * the autograd contract: accumulation, broadcast gradients, no_grad, detach, several losses
 * on one tape, in-place modification caught in backward, custom ops, error messages. */
#include "test.h"

static void test_arena(void) {
  nnc_arena a;
  nnc_arena_init(&a);
  char *p = nnc_arena_alloc(&a, 100);
  CHECK(((uintptr_t)p & 63) == 0);
  char *big = nnc_arena_alloc(&a, (size_t)10 << 20); /* larger than a chunk: grows */
  big[(10 << 20) - 1] = 1;
  size_t hw = nnc_arena_high_water(&a);
  CHECK(hw >= ((size_t)10 << 20) + 100);
  nnc_arena_reset(&a);
  CHECK(a.used == 0);
  char *q = nnc_arena_alloc(&a, 100);
  CHECK(q == p); /* reset reuses the first chunk */
  CHECK(nnc_arena_high_water(&a) == hw);
  nnc_arena_free(&a);
}

static void test_views(void) {
  nnc_tensor *x = nnc_arange(NNC_F32, 24);
  nnc_tensor *y = nnc_reshape(x, NNC_SHAPE(2, 3, 4));
  CHECK(y->storage == x->storage && nnc_is_contiguous(y));
  nnc_tensor *t = nnc_transpose(y, 0, 2); /* [4, 3, 2] */
  CHECK(t->shape[0] == 4 && t->shape[2] == 2 && !nnc_is_contiguous(t));
  CHECK(nnc_get(t, 1) == 12); /* t[0][0][1] = y[1][0][0] */
  nnc_tensor *s = nnc_slice(y, 2, 1, 4, 2); /* [2, 3, 2]: columns 1 and 3 */
  CHECK(s->storage == x->storage && nnc_get(s, 0) == 1 && nnc_get(s, 1) == 3 && nnc_get(s, 2) == 5);
  nnc_tensor *e = nnc_expand(nnc_reshape(nnc_arange(NNC_F32, 3), NNC_SHAPE(3, 1)), NNC_SHAPE(2, 3, 5));
  CHECK(e->stride[0] == 0 && e->stride[2] == 0 && nnc_get(e, 5 + 2) == 1);
  nnc_tensor *c = nnc_contiguous(t);
  CHECK(nnc_is_contiguous(c) && c->storage != x->storage && nnc_get(c, 1) == 12);
  CHECK(nnc_contiguous(y) == y);
  /* a permuted tensor whose grouping still allows a view: no copy */
  nnc_tensor *p = nnc_permute(nnc_reshape(x, NNC_SHAPE(2, 3, 4)), (int[]){1, 0, 2});
  nnc_tensor *v = nnc_reshape(p, NNC_SHAPE(3, 2, 2, 2));
  CHECK(v->storage == x->storage);
  nnc_tensor *u = nnc_unsqueeze(nnc_squeeze(nnc_reshape(x, NNC_SHAPE(4, 1, 6)), 1), 0);
  CHECK(u->ndim == 3 && u->shape[0] == 1 && u->shape[1] == 4 && u->shape[2] == 6);
  nnc_step_end();
}

static void test_autograd_basics(void) {
  /* y = sum((a * b) + a), da = b + 1, db = a; run twice: leaf gradients accumulate */
  nnc_tensor *a = nnc_requires_grad(nnc_from_data(NNC_F64, NNC_SHAPE(2, 2), (double[]){1, 2, 3, 4}));
  nnc_tensor *b = nnc_requires_grad(nnc_from_data(NNC_F64, NNC_SHAPE(2), (double[]){10, 20}));
  for (int rep = 0; rep < 2; rep++) nnc_backward(nnc_sum_all(nnc_add(nnc_mul(a, b), a)));
  CHECK(nnc_get(a->grad, 0) == 22 && nnc_get(a->grad, 1) == 42 && nnc_get(a->grad, 3) == 42);
  /* b was broadcast over rows: its gradient is summed back to [2] */
  CHECK(b->grad->ndim == 1 && nnc_get(b->grad, 0) == 2 * (1 + 3) && nnc_get(b->grad, 1) == 2 * (2 + 4));

  /* no_grad records nothing; detach cuts the tape */
  int64_t len = nnc_tape_length();
  nnc_no_grad_begin();
  nnc_tensor *z = nnc_mul(a, a);
  nnc_no_grad_end();
  CHECK(!z->requires_grad && nnc_tape_length() == len);
  nnc_tensor *d = nnc_detach(nnc_mul(a, a));
  CHECK(!d->requires_grad && d->node == NULL);

  /* two losses on one tape each backpropagate correctly (intermediate grads are dropped) */
  nnc_tensor *x = nnc_requires_grad(nnc_from_data(NNC_F64, NNC_SHAPE(1), (double[]){3}));
  nnc_tensor *h = nnc_mul(x, x); /* x^2 */
  nnc_tensor *l1 = nnc_sum_all(h), *l2 = nnc_sum_all(nnc_mul(h, x)); /* x^2, x^3 */
  nnc_backward(l1);
  CHECK(nnc_get(x->grad, 0) == 6);
  nnc_backward(l2);
  CHECK(nnc_get(x->grad, 0) == 6 + 27);

  /* backward with a given output gradient */
  nnc_tensor *w = nnc_requires_grad(nnc_from_data(NNC_F64, NNC_SHAPE(3), (double[]){1, 2, 3}));
  nnc_backward_with(nnc_scale(w, 2), nnc_from_data(NNC_F64, NNC_SHAPE(3), (double[]){1, 0, -1}));
  CHECK(nnc_get(w->grad, 0) == 2 && nnc_get(w->grad, 1) == 0 && nnc_get(w->grad, 2) == -2);
  nnc_step_end();
  CHECK(nnc_tape_length() == 0);
}

static void test_inplace_detected(void) {
  nnc_tensor *a = nnc_requires_grad(nnc_from_data(NNC_F64, NNC_SHAPE(2), (double[]){1, 2}));
  nnc_tensor *y = nnc_exp(a); /* exp saves its output */
  nnc_tensor *loss = nnc_sum_all(y);
  nnc_add_into(y, nnc_ones(NNC_F64, NNC_SHAPE(2))); /* changes y after it was saved */
  EXPECT_ABORT(nnc_backward(loss), "modified in place");
  nnc_step_end();
}

static void test_errors(void) {
  nnc_tensor *a = nnc_zeros(NNC_F32, NNC_SHAPE(2, 3)), *b = nnc_zeros(NNC_F32, NNC_SHAPE(4));
  EXPECT_ABORT(nnc_add(a, b), "add: shapes [2, 3] and [4] do not broadcast");
  EXPECT_ABORT(nnc_transpose(a, 0, 5), "axis 5 out of range");
  EXPECT_ABORT(nnc_reshape(a, NNC_SHAPE(4, 2)), "cannot reshape [2, 3]");
  EXPECT_ABORT(nnc_mul(a, nnc_zeros(NNC_F64, NNC_SHAPE(2, 3))), "dtypes differ");
  EXPECT_ABORT(nnc_backward(nnc_sum_all(a)), "does not require a gradient");
  CHECK(nnc_error(NNC_ERR_IO, "cannot open %s", "x.bin") == NNC_ERR_IO);
  CHECK(strcmp(nnc_last_error(), "cannot open x.bin") == 0);
  nnc_step_end();
}

/* a custom op: straight-through sign, forward sign(x), backward g * 1{|x| <= 1} */
static nnc_tensor *ste_forward(nnc_node *ctx, int n_in, nnc_tensor *const *in, void *user) {
  (void)n_in;
  (void)user;
  nnc_save(ctx, in[0]);
  return nnc_sign(in[0]);
}
static void ste_backward(nnc_node *ctx, const nnc_tensor *g, nnc_tensor **gin, void *user) {
  (void)user;
  nnc_tensor *x = nnc_saved(ctx, 0);
  nnc_tensor *gx = nnc_empty_like(x);
  for (int64_t i = 0; i < nnc_numel(x); i++) nnc_set(gx, i, fabs(nnc_get(x, i)) <= 1 ? nnc_get(g, i) : 0);
  gin[0] = gx;
}
static const nnc_custom_op ste = {"ste_sign", ste_forward, ste_backward};

static void test_custom_op(void) {
  nnc_tensor *x = nnc_requires_grad(nnc_from_data(NNC_F32, NNC_SHAPE(4), (float[]){-2, -0.5f, 0.5f, 3}));
  nnc_tensor *y = nnc_custom(&ste, 1, &x, NULL);
  CHECK(nnc_get(y, 0) == -1 && nnc_get(y, 2) == 1);
  nnc_backward(nnc_sum_all(nnc_mul(y, nnc_from_data(NNC_F32, NNC_SHAPE(4), (float[]){1, 2, 3, 4}))));
  CHECK(nnc_get(x->grad, 0) == 0 && nnc_get(x->grad, 1) == 2 && nnc_get(x->grad, 2) == 3 && nnc_get(x->grad, 3) == 0);
  nnc_step_end();
}

static void test_params(void) {
  nnc_params p;
  nnc_params_init(&p, NNC_F32);
  nnc_tensor *w = nnc_params_add(&p, "fc1.weight", NNC_SHAPE(3, 4));
  nnc_tensor *b = nnc_params_add(&p, "fc1.bias", NNC_SHAPE(3));
  nnc_fill(w, 0.5);
  for (int i = 0; i < 2000; i++) { /* grow the block many times: views stay valid */
    char name[32];
    snprintf(name, sizeof name, "extra.%d", i);
    nnc_params_add(&p, name, NNC_SHAPE(7));
  }
  CHECK(p.count == 2002 && p.numel == 12 + 3 + 2000 * 7);
  CHECK(nnc_get(w, 11) == 0.5f && nnc_params_find(&p, "fc1.bias") == b);
  CHECK(b->offset == 12 && (float *)nnc_data(b) == (float *)p.values.data + 12);
  nnc_tensor *x = nnc_ones(NNC_F32, NNC_SHAPE(4));
  nnc_backward(nnc_sum_all(nnc_add(nnc_mul(w, x), nnc_reshape(b, NNC_SHAPE(3, 1)))));
  CHECK(nnc_get(w->grad, 0) == 1 && nnc_get(b->grad, 0) == 4);
  CHECK(fabs(nnc_params_grad_norm(&p) - sqrt(12 + 3 * 16)) < 1e-6);
  nnc_params_zero_grad(&p);
  CHECK(nnc_params_grad_norm(&p) == 0);
  EXPECT_ABORT(nnc_params_add(&p, "fc1.weight", NNC_SHAPE(1)), "already exists");
  nnc_params_free(&p);
  nnc_step_end();
}

static void test_rng(void) {
  nnc_rng a, b, c;
  nnc_rng_seed(&a, 42, 0);
  nnc_rng_seed(&b, 42, 0);
  nnc_rng_seed(&c, 42, 1);
  bool same = true, differ = false;
  for (int i = 0; i < 100; i++) {
    uint64_t x = nnc_rng_u64(&a), y = nnc_rng_u64(&b), z = nnc_rng_u64(&c);
    same &= x == y;
    differ |= x != z;
  }
  CHECK(same && differ);
  /* fixed values: the same seed gives the same numbers on every run and machine */
  nnc_rng_seed(&a, 1, 0);
  uint64_t first = nnc_rng_u64(&a);
  CHECKF(first == 0xffe386a6e6cedb2dULL, "first u64 of seed 1 is %#llx", (unsigned long long)first);
  double mean = 0, var = 0;
  int n = 100000;
  for (int i = 0; i < n; i++) {
    double v = nnc_rng_normal(&a);
    mean += v;
    var += v * v;
  }
  mean /= n;
  var = var / n - mean * mean;
  CHECK(fabs(mean) < 0.02 && fabs(var - 1) < 0.02);
  int64_t perm[50];
  nnc_rng_permutation(&a, perm, 50);
  int seen[50] = {0};
  for (int i = 0; i < 50; i++) seen[perm[i]]++;
  bool ok = true;
  for (int i = 0; i < 50; i++) ok &= seen[i] == 1;
  CHECK(ok);
  int ones = 0;
  for (int i = 0; i < 10000; i++) ones += nnc_rng_bernoulli(&a, 0.3);
  CHECK(ones > 2800 && ones < 3200);
}

int main(void) {
  nnc_init();
  test_arena();
  test_views();
  test_autograd_basics();
  test_inplace_detected();
  test_errors();
  test_custom_op();
  test_params();
  test_rng();
  return test_summary();
}
