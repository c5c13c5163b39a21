/* tests/test_prune.c: pruning masks and the optimisers (nn/prune.h, optim/optim.h), magnitude
 * pruning, snapshots, the AP step, the dead-neuron rate, masks in safetensors files.
 *
 * Optimisers: SGD (momentum, Nesterov, L2), Adam (L2), AdamW (decoupled) and Muon (with AdamW
 * under it) run 6 steps on a masked [4, 6] parameter with random gradients everywhere: pruned
 * entries stay exactly 0 and so does their per-element state; the alive entries are
 * bit-identical to an unmasked run whose gradients are zero at the pruned
 * places; a regrown entry starts from 0 and zero state (its first SGD step is -lr*(1+mom)*g).
 * Magnitude pruning: exact counts on hand-made tensors, global vs layerwise, ties by lower
 * index (and by name order across tensors), already-pruned entries not counted, fractions 0
 * and 1, bad arguments.  AP on a hand-made 4x4 layer.  f32 and f64 blocks. */
#include "test.h"
#include <stdlib.h>
#include "nn/prune.h"
#include "optim/muon.h"

static void set_values(nnc_tensor *t, const double *v) {
  for (int64_t i = 0; i < nnc_numel(t); i++) nnc_set(t, i, v[i]);
}

static double val(const nnc_tensor *t, int64_t i) { return nnc_get(t, i); }

/* ---- masks: basics ---- */
static void test_mask_basics(void) {
  nnc_params p;
  nnc_params_init(&p, NNC_F32);
  nnc_tensor *a = nnc_params_add(&p, "a", NNC_SHAPE(3, 4));
  nnc_tensor *b = nnc_params_add(&p, "b", NNC_SHAPE(5));
  CHECK(nnc_mask_of(&p, a) == NULL);
  CHECK(nnc_mask_alive(&p, a) == 12);
  nnc_tensor *m = nnc_mask_add(&p, a);
  CHECK(m && m->dtype == NNC_F32 && nnc_same_shape(m, a));
  CHECK(nnc_mask_add(&p, a) == m && nnc_mask_of(&p, a) == m);
  CHECK(nnc_mask_alive(&p, a) == 12);
  /* the block grows (values move): the mask stays */
  for (int i = 0; i < 40; i++) {
    char name[16];
    snprintf(name, sizeof name, "x%d", i);
    nnc_params_add(&p, name, NNC_SHAPE(64));
  }
  CHECK(nnc_mask_of(&p, a) == m);
  nnc_fill(a, 2.0);
  nnc_set(m, 1, 0.0);
  nnc_set(m, 7, 0.0);
  nnc_masks_apply(&p);
  CHECK(val(a, 1) == 0 && val(a, 7) == 0 && val(a, 0) == 2);
  CHECK(nnc_mask_alive(&p, a) == 10);
  const char *names[] = {"a", "b"};
  CHECK_NEAR(nnc_masks_density(&p, names, 2), 15.0 / 17.0, 1e-12);
  CHECK(nnc_masks_density(&p, names, 0) == 1.0);
  EXPECT_ABORT(nnc_masks_density(&p, (const char *[]){"nope"}, 1), "no parameter named 'nope'");
  nnc_tensor *stranger = nnc_zeros(NNC_F32, NNC_SHAPE(2));
  EXPECT_ABORT(nnc_mask_add(&p, stranger), "not a parameter");
  (void)b;
  nnc_params_free(&p);
}

/* ---- optimisers ---- */
typedef enum { RULE_SGD, RULE_ADAM, RULE_ADAMW, RULE_MUON } rule;
static const char *rule_name[] = {"sgd", "adam", "adamw", "muon"};

static void make_optim(nnc_optim *o, nnc_params *p, rule r) {
  switch (r) {
  case RULE_SGD: nnc_sgd_init(o, p, 0.1, 0.9, 0.05, true); break;
  case RULE_ADAM: nnc_adam_init(o, p, 0.01, 0.9, 0.999, 1e-8, 0.1); break;
  case RULE_ADAMW: nnc_adamw_init(o, p, 0.01, 0.9, 0.999, 1e-8, 0.1); break;
  case RULE_MUON:
    nnc_adamw_init(o, p, 0.01, 0.9, 0.95, 1e-10, 0.1);
    nnc_muon_attach(o, 0.02, 0.95, 0.1);
    nnc_muon_use(o, "", false);
    nnc_muon_use(o, "w", true);
    break;
  }
}

/* a block: "w" [4, 6] (masked) and "bias" [6]; the same random start for every run */
static void make_block(nnc_params *p, nnc_dtype dt) {
  nnc_params_init(p, dt);
  nnc_tensor *w = nnc_params_add(p, "w", NNC_SHAPE(4, 6));
  nnc_tensor *bias = nnc_params_add(p, "bias", NNC_SHAPE(6));
  nnc_rng r;
  nnc_rng_seed(&r, 7, 0);
  for (int i = 0; i < 24; i++) nnc_set(w, i, nnc_rng_normal(&r));
  for (int i = 0; i < 6; i++) nnc_set(bias, i, nnc_rng_normal(&r));
}

static const int pruned[] = {0, 5, 6, 13, 17, 23};
#define NPRUNED 6

static bool is_pruned(int i) {
  for (int j = 0; j < NPRUNED; j++)
    if (pruned[j] == i) return true;
  return false;
}

/* random gradients for step s; zero_pruned: zero at the pruned places (the reference run) */
static void fill_grads(nnc_params *p, int s, bool zero_pruned) {
  nnc_rng r;
  nnc_rng_seed(&r, 100 + (uint64_t)s, 0);
  nnc_tensor *w = p->tensors[0], *bias = p->tensors[1];
  for (int i = 0; i < 24; i++) {
    double g = nnc_rng_normal(&r);
    nnc_set(w->grad, i, zero_pruned && is_pruned(i) ? 0.0 : g);
  }
  for (int i = 0; i < 6; i++) nnc_set(bias->grad, i, nnc_rng_normal(&r));
}

static double state_at(const nnc_optim *o, const void *buf, int64_t i) {
  if (!buf) return 0;
  return o->params->dtype == NNC_F32 ? ((const float *)buf)[i] : ((const double *)buf)[i];
}

static void test_optim_rule(rule r, nnc_dtype dt) {
  nnc_params p, ref;
  make_block(&p, dt);
  make_block(&ref, dt);
  nnc_tensor *w = p.tensors[0], *wr = ref.tensors[0];
  nnc_tensor *m = nnc_mask_add(&p, w);
  for (int j = 0; j < NPRUNED; j++) nnc_set(m, pruned[j], 0.0);
  nnc_masks_apply(&p);
  for (int j = 0; j < NPRUNED; j++) nnc_set(wr, pruned[j], 0.0);
  nnc_optim o, oref;
  make_optim(&o, &p, r);
  make_optim(&oref, &ref, r);
  bool ok_zero = true, ok_state = true, ok_same = true, moved = true;
  for (int s = 0; s < 6; s++) {
    fill_grads(&p, s, false);
    fill_grads(&ref, s, true);
    nnc_optim_step(&o);
    nnc_optim_step(&oref);
    for (int i = 0; i < 24; i++) {
      if (is_pruned(i)) {
        ok_zero &= val(w, i) == 0.0;
        ok_state &= state_at(&o, o.buf1, i) == 0.0 && state_at(&o, o.buf2, i) == 0.0;
      } else {
        ok_same &= val(w, i) == val(wr, i);
        moved &= val(w, i) != 0.0;
      }
    }
  }
  CHECKF(ok_zero, "%s %s: a pruned weight moved", rule_name[r], nnc_dtype_name(dt));
  CHECKF(ok_state, "%s %s: state at a pruned entry", rule_name[r], nnc_dtype_name(dt));
  CHECKF(moved, "%s %s: alive weights did not move", rule_name[r], nnc_dtype_name(dt));
  /* alive entries exactly as if the pruned gradients had been 0 (for Muon too: its momentum
   * stays 0 at the pruned places in both runs, so the orthogonalised update is the same) */
  CHECKF(ok_same, "%s %s: alive entries differ from the reference", rule_name[r], nnc_dtype_name(dt));
  /* the unmasked bias is unaffected by the mask */
  bool bias_same = true;
  for (int i = 0; i < 6; i++) bias_same &= val(p.tensors[1], i) == val(ref.tensors[1], i);
  CHECKF(bias_same, "%s %s: unmasked bias differs", rule_name[r], nnc_dtype_name(dt));
  /* regrow entry 5: it starts at 0 with zero state */
  nnc_set(m, 5, 1.0);
  CHECK(val(w, 5) == 0.0 && state_at(&o, o.buf1, 5) == 0.0 && state_at(&o, o.buf2, 5) == 0.0);
  fill_grads(&p, 6, false);
  double g5 = val(w->grad, 5);
  nnc_optim_step(&o);
  if (r == RULE_SGD) /* buf = mom*0 + g, Nesterov u = g + mom*buf; p = 0 - lr*u (wd*0 = 0) */
    CHECK_NEAR(val(w, 5), -0.1 * (g5 + 0.9 * g5), dt == NNC_F32 ? 1e-6 : 1e-14);
  else if (r != RULE_MUON) /* m = (1-b1) g, v = (1-b2) g^2: one bias-corrected Adam step from 0 */
    CHECK_NEAR(state_at(&o, o.buf1, 5), 0.1 * g5, dt == NNC_F32 ? 1e-6 : 1e-14);
  CHECKF(val(w, 5) != 0.0, "%s: the regrown weight did not move", rule_name[r]);
  CHECK(val(w, 0) == 0.0 && val(w, 23) == 0.0);
  nnc_optim_free(&o);
  nnc_optim_free(&oref);
  nnc_params_free(&p);
  nnc_params_free(&ref);
}

static void test_optim_frozen(void) {
  nnc_params p;
  make_block(&p, NNC_F32);
  nnc_tensor *w = p.tensors[0];
  nnc_set(nnc_mask_add(&p, w), 3, 0.0);
  nnc_masks_apply(&p);
  nnc_group_freeze(&p, "w", true);
  float before[24];
  for (int i = 0; i < 24; i++) before[i] = (float)val(w, i);
  nnc_optim o;
  nnc_sgd_init(&o, &p, 0.1, 0.9, 0.0, false);
  fill_grads(&p, 0, false);
  double g3 = val(w->grad, 3);
  nnc_optim_step(&o);
  bool same = true;
  for (int i = 0; i < 24; i++) same &= (float)val(w, i) == before[i];
  CHECK(same);
  CHECK(val(w->grad, 3) == g3); /* a frozen parameter's gradient is not touched either */
  nnc_optim_free(&o);
  nnc_params_free(&p);
}

/* ---- magnitude pruning ---- */
static const double A0[6] = {0.1, -0.5, 0.3, 0.9, -0.2, 0.05};
static const double B0[4] = {1.0, -2.0, 0.01, 0.4};

static void two_tensors(nnc_params *p, nnc_dtype dt) {
  nnc_params_init(p, dt);
  set_values(nnc_params_add(p, "a", NNC_SHAPE(6)), A0);
  set_values(nnc_params_add(p, "b", NNC_SHAPE(2, 2)), B0);
}

static bool alive_is(const nnc_params *p, const char *name, const char *pattern) {
  const nnc_tensor *t = nnc_params_find(p, name), *m = nnc_mask_of(p, t);
  for (int64_t i = 0; i < nnc_numel(t); i++) {
    bool alive = m ? nnc_get(m, i) == 1.0 : true;
    if (alive != (pattern[i] == '1')) return false;
    if (!alive && nnc_get(t, i) != 0.0) return false;
  }
  return true;
}

static void test_magnitude(nnc_dtype dt) {
  const char *names[] = {"a", "b"};
  nnc_params p;
  /* global: 5 of 10; the smallest |w| are 0.01 (b), 0.05, 0.1, 0.2, 0.3 (a) */
  two_tensors(&p, dt);
  CHECK(nnc_prune_magnitude_global(&p, names, 2, 0.5) == 5);
  CHECK(alive_is(&p, "a", "010100") && alive_is(&p, "b", "1101"));
  CHECK_NEAR(nnc_masks_density(&p, names, 2), 0.5, 1e-12);
  /* again: round(0.5 * 5) = 3 of the 5 alive (0.4, 0.5, 0.9) */
  CHECK(nnc_prune_magnitude_global(&p, names, 2, 0.5) == 3);
  CHECK(alive_is(&p, "a", "000000") && alive_is(&p, "b", "1100"));
  nnc_params_free(&p);
  /* layerwise: round(3.0) of a, round(2.0) of b */
  two_tensors(&p, dt);
  CHECK(nnc_prune_magnitude_layerwise(&p, names, 2, 0.5) == 5);
  CHECK(alive_is(&p, "a", "011100") && alive_is(&p, "b", "1100"));
  /* then 0.4: round(1.2) = 1 of a (0.3), round(0.8) = 1 of b (1.0) */
  CHECK(nnc_prune_magnitude_layerwise(&p, names, 2, 0.4) == 2);
  CHECK(alive_is(&p, "a", "010100") && alive_is(&p, "b", "0100"));
  nnc_params_free(&p);
  /* only the named tensors take part */
  two_tensors(&p, dt);
  CHECK(nnc_prune_magnitude_global(&p, (const char *[]){"b"}, 1, 0.25) == 1);
  CHECK(nnc_mask_of(&p, nnc_params_find(&p, "a")) == NULL && alive_is(&p, "b", "1101"));
  nnc_params_free(&p);
  /* fractions 0 and 1 */
  two_tensors(&p, dt);
  CHECK(nnc_prune_magnitude_global(&p, names, 2, 0.0) == 0);
  CHECK(nnc_mask_of(&p, p.tensors[0]) && alive_is(&p, "a", "111111") && alive_is(&p, "b", "1111"));
  CHECK(nnc_prune_magnitude_global(&p, names, 2, 1.0) == 10);
  CHECK(alive_is(&p, "a", "000000") && alive_is(&p, "b", "0000"));
  CHECK(nnc_prune_magnitude_global(&p, names, 2, 1.0) == 0);
  CHECK(nnc_masks_density(&p, names, 2) == 0.0);
  nnc_params_free(&p);
  /* bad arguments */
  two_tensors(&p, dt);
  EXPECT_ABORT(nnc_prune_magnitude_global(&p, names, 2, 1.5), "not in [0, 1]");
  EXPECT_ABORT(nnc_prune_magnitude_layerwise(&p, names, 2, -0.1), "not in [0, 1]");
  EXPECT_ABORT(nnc_prune_magnitude_global(&p, (const char *[]){"a", "zz"}, 2, 0.1), "no parameter named 'zz'");
  EXPECT_ABORT(nnc_prune_magnitude_global(&p, (const char *[]){"a", "a"}, 2, 0.1), "named twice");
  nnc_params_free(&p);
}

static void test_ties(void) {
  nnc_params p;
  nnc_params_init(&p, NNC_F32);
  set_values(nnc_params_add(&p, "a", NNC_SHAPE(4)), (const double[]){0.5, -0.5, 0.5, 0.2});
  set_values(nnc_params_add(&p, "b", NNC_SHAPE(3)), (const double[]){0.7, -0.5, 0.0});
  /* layerwise 0.5 of a: 0.2 then the first 0.5 (index 0) */
  CHECK(nnc_prune_magnitude_layerwise(&p, (const char *[]){"a"}, 1, 0.5) == 2);
  CHECK(alive_is(&p, "a", "0110"));
  /* global over {b, a} (b first): alive are a1 a2 (0.5) and b (0.7, 0.5, 0.0); 3 of 5 go:
   * b's 0.0 (an alive weight that is exactly 0), then the 0.5 ties in name order: b1, a1 */
  CHECK(nnc_prune_magnitude_global(&p, (const char *[]){"b", "a"}, 2, 0.6) == 3);
  CHECK(alive_is(&p, "b", "100") && alive_is(&p, "a", "0010"));
  nnc_params_free(&p);
}

/* ---- snapshots ---- */
static void test_snapshot(void) {
  nnc_params p;
  two_tensors(&p, NNC_F32);
  const char *names[] = {"a", "b"};
  nnc_snapshot s;
  nnc_snapshot_take(&s, &p);
  CHECK(s.numel == 10);
  CHECK(nnc_snapshot_of(&s, &p, p.tensors[1])[1] == (float)-2.0);
  nnc_fill(p.tensors[0], 3.0);
  nnc_fill(p.tensors[1], -3.0);
  CHECK(nnc_prune_magnitude_global(&p, names, 2, 0.0) == 0);
  nnc_set(nnc_mask_of(&p, p.tensors[0]), 3, 0.0);
  nnc_set(nnc_mask_of(&p, p.tensors[1]), 0, 0.0);
  nnc_snapshot_rewind(&s, &p);
  bool ok = true;
  for (int i = 0; i < 6; i++) ok &= val(p.tensors[0], i) == (i == 3 ? 0.0 : (float)A0[i]);
  for (int i = 0; i < 4; i++) ok &= val(p.tensors[1], i) == (i == 0 ? 0.0 : (float)B0[i]);
  CHECK(ok);
  /* a parameter added after the snapshot keeps its values and is not in it */
  nnc_tensor *c = nnc_params_add(&p, "c", NNC_SHAPE(3));
  nnc_fill(c, 4.0);
  nnc_snapshot_rewind(&s, &p);
  CHECK(val(c, 2) == 4.0 && nnc_snapshot_of(&s, &p, c) == NULL);
  nnc_snapshot_free(&s);
  CHECK(s.values == NULL);
  nnc_params_free(&p);
  /* f64 */
  two_tensors(&p, NNC_F64);
  nnc_snapshot_take(&s, &p);
  nnc_fill(p.tensors[0], 3.0);
  nnc_snapshot_rewind(&s, &p);
  CHECK(val(p.tensors[0], 2) == (double)(float)0.3);
  nnc_snapshot_free(&s);
  nnc_params_free(&p);
}

/* ---- AP: a hand-made 4x4 layer ---- */
static void test_ap(void) {
  /* W0 and W_T; deltas |W_T - W0| of the negative W_T (in index order; the tie is exact in
   * binary):
   *   i=1: -0.375 (d 0.125)  i=4: -0.05 (d 0.55)  i=6: -1.00 (d 0.02)  i=9: -0.40 (d 0.40)
   *   i=11: -0.20 (d 0.01, but already pruned)  i=12: -0.625 (d 0.125)  i=15: -0.10 (d 0.90)
   * positives with tiny deltas (i=0: 0.001, i=2: 0) must never go; i=8 is exactly 0. */
  const double w0[16] = {0.5, -0.25, 0.3, 0.1, 0.5, 0.2, -1.02, 0.4, 0.0, 0.0, 0.6, -0.21, -0.5, 0.1, 0.2, 0.8};
  const double wt[16] = {0.501, -0.375, 0.3, 0.9, -0.05, 0.4, -1.0, 0.1, 0.0, -0.4, 0.2, -0.2, -0.625, 0.3, 0.6, -0.1};
  nnc_params p;
  nnc_params_init(&p, NNC_F32);
  nnc_tensor *w = nnc_params_add(&p, "fc.weight", NNC_SHAPE(4, 4));
  set_values(w, w0);
  nnc_snapshot s;
  nnc_snapshot_take(&s, &p);
  set_values(w, wt);
  nnc_set(nnc_mask_add(&p, w), 11, 0.0);
  nnc_masks_apply(&p);
  const char *names[] = {"fc.weight"};
  /* 3 go: i=6 (0.02), then the 0.10 tie i=1 before i=12 */
  CHECK(nnc_prune_ap(&p, names, 1, &s, 3) == 3);
  CHECK(alive_is(&p, "fc.weight", "1011110111100111"));
  CHECK(val(w, 0) == (float)0.501 && val(w, 2) == (float)0.3 && val(w, 4) == (float)-0.05);
  /* count beyond the negatives left (i=4, 9, 15): only those 3 go, never a positive or 0 */
  CHECK(nnc_prune_ap(&p, names, 1, &s, 100) == 3);
  CHECK(alive_is(&p, "fc.weight", "1011010110100110"));
  CHECK(nnc_prune_ap(&p, names, 1, &s, 5) == 0);
  CHECK(nnc_prune_ap(&p, names, 1, &s, 0) == 0);
  EXPECT_ABORT(nnc_prune_ap(&p, names, 1, &s, -1), "count >= 0");
  EXPECT_ABORT(nnc_prune_ap(&p, names, 1, NULL, 1), "snapshot");
  nnc_snapshot_free(&s);
  nnc_params_free(&p);
}

/* ---- dead-neuron rate ---- */
static void test_dead_rate(void) {
  nnc_tensor *z = nnc_from_data(NNC_F32, NNC_SHAPE(2, 3), (const float[]){1, -1, 0, 2, -0.5f, 3});
  CHECK_NEAR(nnc_dead_rate(z), 3.0 / 6.0, 1e-12);
  nnc_tensor *zt = nnc_view_raw(z); /* a transposed (non-contiguous) view of the same entries */
  zt->shape[0] = 3, zt->shape[1] = 2, zt->stride[0] = 1, zt->stride[1] = 3;
  CHECK_NEAR(nnc_dead_rate(zt), 0.5, 1e-12);
  nnc_tensor *z64 = nnc_from_data(NNC_F64, NNC_SHAPE(4), (const double[]){-1, -2, 0, 1e-30});
  CHECK_NEAR(nnc_dead_rate(z64), 0.75, 1e-12);
  EXPECT_ABORT(nnc_dead_rate(nnc_zeros(NNC_I32, NNC_SHAPE(2))), "float");
}

/* ---- masks in files ---- */
static void test_io(void) {
  const char *path = "/tmp/nnc_test_prune.safetensors";
  nnc_params p, q;
  two_tensors(&p, NNC_F32);
  const char *names[] = {"a", "b"};
  nnc_prune_magnitude_global(&p, names, 2, 0.5);
  CHECK(nnc_params_save(&p, path, NULL) == NNC_OK);
  two_tensors(&q, NNC_F32);
  nnc_fill(q.tensors[0], 9.0);
  CHECK(nnc_params_load(&q, path, true) == NNC_OK); /* strict: the masks are not unexpected */
  CHECK(alive_is(&q, "a", "010100") && alive_is(&q, "b", "1101"));
  CHECK(val(q.tensors[0], 1) == (float)-0.5);
  nnc_params_free(&q);
  /* a file without masks into a masked model: the model's masks are applied */
  nnc_params d;
  two_tensors(&d, NNC_F32);
  CHECK(nnc_params_save(&d, path, NULL) == NNC_OK);
  CHECK(nnc_params_load(&p, path, true) == NNC_OK);
  CHECK(alive_is(&p, "a", "010100") && val(p.tensors[0], 3) == (float)0.9);
  /* a mask with a value other than 0 and 1 is refused, and nothing is loaded */
  nnc_set(nnc_mask_add(&d, d.tensors[1]), 2, 0.5);
  CHECK(nnc_params_save(&d, path, NULL) == NNC_OK);
  nnc_fill(p.tensors[0], 0.0);
  CHECK(nnc_params_load(&p, path, false) == NNC_ERR_FORMAT);
  CHECK(strstr(nnc_last_error(), "b.mask") != NULL);
  CHECK(val(p.tensors[0], 1) == 0.0);
  nnc_params_free(&d);
  nnc_params_free(&p);
  remove(path);
}

int main(void) {
  test_mask_basics();
  for (int r = RULE_SGD; r <= RULE_MUON; r++) {
    test_optim_rule((rule)r, NNC_F32);
    test_optim_rule((rule)r, NNC_F64);
  }
  test_optim_frozen();
  test_magnitude(NNC_F32);
  test_magnitude(NNC_F64);
  test_ties();
  test_snapshot();
  test_ap();
  test_dead_rate();
  test_io();
  return test_summary();
}
