/* tests/test_sparse_conn.c: ensemble groupings, G2G and Erdos-Renyi masks (realised density,
 * dense intra-group blocks, exact counts, seeds), the fan-in rescaling, the Hebbian score on a
 * hand-made example, and DST steps (constant edge count, which entries are pruned and grown,
 * grown weights and optimiser state at zero, seeds). */
#include "test.h"
#include <stdlib.h>
#include "nn/sparse_conn.h"

static nnc_tensor *matrix(int64_t r, int64_t c) { return nnc_heap_tensor(NNC_F32, NNC_SHAPE(r, c)); }

static int64_t ones(const nnc_tensor *m) {
  int64_t s = 0;
  for (int64_t t = 0; t < nnc_numel(m); t++) s += nnc_f32(m)[t] != 0;
  return s;
}

static void test_groups(void) {
  int g[784], h[512], counts[8] = {0};
  nnc_groups_make(g, 512, 8, NNC_GROUPS_INDEX, NULL);
  CHECK(g[0] == 0 && g[63] == 0 && g[64] == 1 && g[511] == 7);
  nnc_groups_make(g, 784, 8, NNC_GROUPS_INDEX, NULL); /* 784 = 8 * 98 */
  CHECK(g[97] == 0 && g[98] == 1 && g[783] == 7);
  nnc_groups_make(g, 512, 8, NNC_GROUPS_INTERLEAVED, NULL);
  CHECK(g[0] == 0 && g[7] == 7 && g[8] == 0 && g[509] == 5);
  CHECK(nnc_groups_mixer(0) == NNC_GROUPS_INDEX && nnc_groups_mixer(1) == NNC_GROUPS_INTERLEAVED &&
        nnc_groups_mixer(2) == NNC_GROUPS_INDEX);
  nnc_rng r;
  nnc_rng_seed(&r, 5, 1);
  nnc_groups_make(g, 512, 8, NNC_GROUPS_RANDOM, &r);
  int not_index = 0;
  for (int i = 0; i < 512; i++) counts[g[i]]++, not_index += g[i] != i / 64;
  bool balanced = true;
  for (int k = 0; k < 8; k++) balanced &= counts[k] == 64;
  CHECK(balanced);
  CHECK(not_index > 300); /* a random assignment, not the contiguous one */
  nnc_rng_seed(&r, 5, 1);
  nnc_groups_make(h, 512, 8, NNC_GROUPS_RANDOM, &r);
  CHECK(!memcmp(g, h, sizeof h));
  /* sizes that G does not divide: groups differ by at most one */
  nnc_groups_make(g, 10, 3, NNC_GROUPS_INDEX, NULL);
  int c3[3] = {0};
  for (int i = 0; i < 10; i++) c3[g[i]]++;
  CHECK(c3[0] >= 3 && c3[0] <= 4 && c3[1] >= 3 && c3[1] <= 4 && c3[2] >= 3 && c3[2] <= 4);
  EXPECT_ABORT(nnc_groups_make(g, 4, 8, NNC_GROUPS_INDEX, NULL), "G <= n");
}

/* realised density of a G2G mask within 1 % (relative) of 1/G + (1 - 1/G) p_inter; every
 * same-group entry is 1 when p_intra = 1 */
static void test_g2g_mask(int64_t no, int64_t ni, nnc_grouping kind) {
  const int G = 8;
  const double p_inter = 0.15, want = 1.0 / G + (1.0 - 1.0 / G) * p_inter;
  int *go = malloc((size_t)no * sizeof *go), *gi = malloc((size_t)ni * sizeof *gi);
  nnc_rng r;
  nnc_rng_seed(&r, 1, 2);
  nnc_groups_make(go, no, G, kind, &r);
  nnc_groups_make(gi, ni, G, kind, &r);
  nnc_tensor *m = matrix(no, ni);
  int64_t n1 = nnc_g2g_mask(m, go, gi, 1.0, p_inter, &r);
  CHECK(n1 == ones(m));
  double dens = (double)n1 / (double)(no * ni);
  CHECKF(fabs(dens / want - 1) <= 0.01, "%lldx%lld density %.5f vs %.5f", (long long)no, (long long)ni, dens, want);
  CHECK_NEAR(nnc_g2g_expected_density(no, go, ni, gi, 1.0, p_inter), want, 1e-12);
  int64_t intra_zero = 0, intra = 0, inter = 0;
  for (int64_t o = 0; o < no; o++)
    for (int64_t i = 0; i < ni; i++)
      if (go[o] == gi[i]) intra_zero += nnc_f32(m)[o * ni + i] == 0;
  CHECK(intra_zero == 0);
  nnc_g2g_edge_counts(m, go, gi, &intra, &inter);
  CHECK(intra == no * ni / G && intra + inter == n1);
  CHECKF(fabs((double)inter / (double)(no * ni - intra) - p_inter) < 0.005, "inter rate %.4f",
         (double)inter / (double)(no * ni - intra));
  /* p_inter = 0: block-diagonal exactly; p_intra = 0, p_inter = 1: its complement */
  CHECK(nnc_g2g_mask(m, go, gi, 1.0, 0.0, &r) == no * ni / G);
  CHECK(nnc_g2g_mask(m, go, gi, 0.0, 1.0, &r) == no * ni - no * ni / G);
  /* the same seed gives the same mask, another seed another one */
  nnc_tensor *a = matrix(no, ni), *b = matrix(no, ni);
  nnc_rng_seed(&r, 3, 9);
  nnc_g2g_mask(a, go, gi, 1.0, p_inter, &r);
  nnc_rng_seed(&r, 3, 9);
  nnc_g2g_mask(b, go, gi, 1.0, p_inter, &r);
  CHECK(!memcmp(nnc_f32(a), nnc_f32(b), (size_t)(no * ni) * sizeof(float)));
  nnc_rng_seed(&r, 4, 9);
  nnc_g2g_mask(b, go, gi, 1.0, p_inter, &r);
  CHECK(memcmp(nnc_f32(a), nnc_f32(b), (size_t)(no * ni) * sizeof(float)) != 0);
  nnc_heap_free(a);
  nnc_heap_free(b);
  nnc_heap_free(m);
  free(go);
  free(gi);
}

static void test_er_mask(void) {
  nnc_tensor *a = matrix(512, 784), *b = matrix(512, 784);
  nnc_rng r;
  nnc_rng_seed(&r, 1, 1);
  int64_t n = nnc_er_mask(a, 0.2563, &r);
  CHECK(n == llround(0.2563 * 512 * 784) && ones(a) == n);
  /* uniform: every row block of 64 rows holds about an eighth of the edges */
  int64_t blk[8] = {0};
  for (int64_t t = 0; t < 512 * 784; t++) blk[t / (64 * 784)] += nnc_f32(a)[t] != 0;
  bool even = true;
  for (int k = 0; k < 8; k++) even &= fabs((double)blk[k] / ((double)n / 8) - 1) < 0.03;
  CHECK(even);
  nnc_rng_seed(&r, 1, 1);
  nnc_er_mask(b, 0.2563, &r);
  CHECK(!memcmp(nnc_f32(a), nnc_f32(b), sizeof(float) * 512 * 784));
  CHECK(nnc_er_mask(a, 0.0, &r) == 0 && ones(a) == 0);
  CHECK(nnc_er_mask(a, 1.0, &r) == 512 * 784 && ones(a) == 512 * 784);
  EXPECT_ABORT(nnc_er_mask(a, 1.5, &r), "outside [0, 1]");
  nnc_heap_free(a);
  nnc_heap_free(b);
}

static void test_rescale(void) {
  nnc_tensor *w = matrix(3, 4), *m = matrix(3, 4);
  const float mv[12] = {1, 0, 1, 0, 1, 1, 1, 1, 0, 0, 0, 1};
  for (int t = 0; t < 12; t++) nnc_f32(w)[t] = (float)(t + 1), nnc_f32(m)[t] = mv[t];
  nnc_sparse_rescale_rows(w, m);
  const float *v = nnc_f32(w);
  /* row 0: 2 of 4 alive -> x sqrt(2); row 1 dense -> unchanged; row 2: 1 of 4 -> x 2 */
  CHECK_NEAR(v[0], 1 * sqrt(2.0), 1e-6);
  CHECK(v[1] == 0 && v[3] == 0);
  CHECK_NEAR(v[2], 3 * sqrt(2.0), 1e-6);
  CHECK(v[4] == 5 && v[7] == 8);
  CHECK(v[8] == 0 && v[10] == 0);
  CHECK_NEAR(v[11], 24, 1e-6);
  CHECK_NEAR(nnc_sparse_bias_bound(m), 1 / sqrt(7.0 / 3.0), 1e-12);
  nnc_heap_free(w);
  nnc_heap_free(m);
}

/* pre [4, 3], post [4, 2] with known cosines */
static const float PRE[12] = {1, 0, 1, 0, 1, 1, 1, 0, 1, 0, 1, 1};
static const float POST[8] = {1, 1, 0, 1, 1, 0, 0, 0};
static const float CH_WANT[6] = {1, 0, 0.70710678f, 0.5f, 0.5f, 0.70710678f};

static void test_hebbian(void) {
  float ch[6];
  nnc_hebbian_score(PRE, POST, 4, 3, 2, 1e-8, ch);
  for (int t = 0; t < 6; t++) CHECK_NEAR(ch[t], CH_WANT[t], 1e-6);
  /* a dead column (all zero) scores 0, not NaN */
  const float post_dead[8] = {0, 1, 0, 1, 0, 0, 0, 0};
  nnc_hebbian_score(PRE, post_dead, 4, 3, 2, 1e-8, ch);
  CHECK(ch[0] == 0 && ch[1] == 0 && ch[2] == 0 && isfinite(ch[3]));
  /* against a direct loop on random activities (the gemm path) */
  nnc_rng r;
  nnc_rng_seed(&r, 2, 2);
  enum { B = 16, NI = 37, NO = 23 };
  float pre[B * NI], post[B * NO], got[NO * NI];
  for (int t = 0; t < B * NI; t++) pre[t] = (float)nnc_rng_normal(&r);
  for (int t = 0; t < B * NO; t++) post[t] = fmaxf(0, (float)nnc_rng_normal(&r));
  nnc_hebbian_score(pre, post, B, NI, NO, 1e-8, got);
  double worst = 0;
  for (int o = 0; o < NO; o++)
    for (int i = 0; i < NI; i++) {
      double s = 0, na = 0, nb = 0;
      for (int b = 0; b < B; b++)
        s += (double)post[b * NO + o] * pre[b * NI + i], na += (double)post[b * NO + o] * post[b * NO + o],
            nb += (double)pre[b * NI + i] * pre[b * NI + i];
      double want = s / ((sqrt(na) + 1e-8) * (sqrt(nb) + 1e-8));
      worst = fmax(worst, fabs(want - got[o * NI + i]));
    }
  CHECKF(worst < 1e-5, "max |err| %.3g", worst);
}

/* hand-made DST: SET prune, Hebbian grow on the C_H of test_hebbian */
static void test_dst_hand(void) {
  float ch[6];
  nnc_hebbian_score(PRE, POST, 4, 3, 2, 1e-8, ch);
  nnc_params P;
  nnc_params_init(&P, NNC_F32);
  nnc_tensor *w = nnc_params_add(&P, "w", NNC_SHAPE(2, 3));
  nnc_tensor *m = matrix(2, 3);
  /* active: (0,1) w 0.05, (0,2) w 0.9, (1,2) w -0.5 */
  const float wv[6] = {0, 0.05f, 0.9f, 0, 0, -0.5f}, mv[6] = {0, 1, 1, 0, 0, 1};
  memcpy(nnc_f32(w), wv, sizeof wv);
  memcpy(nnc_f32(m), mv, sizeof mv);
  /* give the optimiser non-zero state everywhere */
  nnc_optim opt;
  nnc_adam_init(&opt, &P, 0.01, 0.9, 0.999, 1e-8, 0);
  for (int t = 0; t < 6; t++) nnc_f32(w->grad)[t] = 1.0f + (float)t;
  nnc_optim_step(&opt);
  for (int t = 0; t < 6; t++) nnc_f32(w)[t] = wv[t];
  nnc_dst_rule rule = {1.0 / 3.0, NNC_DST_PRUNE_MAGNITUDE, NNC_DST_GROW_HEBBIAN};
  /* k = 1: prune (0,1) (smallest |w|), grow (0,0) (C_H = 1, the highest inactive) */
  CHECK(nnc_dst_update(w, m, ch, &rule, NULL, &opt) == 1);
  const float want1[6] = {1, 0, 1, 0, 0, 1};
  CHECK(!memcmp(nnc_f32(m), want1, sizeof want1));
  CHECK(nnc_f32(w)[0] == 0 && nnc_f32(w)[1] == 0 && nnc_f32(w)[2] == 0.9f && nnc_f32(w)[5] == -0.5f);
  CHECK(((float *)opt.buf1)[0] == 0 && ((float *)opt.buf2)[0] == 0);      /* grown: fresh state */
  CHECK(((float *)opt.buf1)[2] != 0 && ((float *)opt.buf2)[2] != 0);      /* kept: state untouched */
  /* k = 2 of 3: prune (0,0) (w 0) and (1,2) (|w| 0.5 < 0.9); the inactive entries by C_H are
   * (0,0) 1, (1,2) 0.707, (1,0) 0.5, (1,1) 0.5, (0,1) 0: both just-pruned ones come back at 0 */
  rule.fraction = 2.0 / 3.0;
  nnc_f32(w)[0] = 0.01f;
  ((float *)opt.buf1)[5] = 0.3f;
  CHECK(nnc_dst_update(w, m, ch, &rule, NULL, &opt) == 2);
  CHECK(!memcmp(nnc_f32(m), want1, sizeof want1));
  CHECK(nnc_f32(w)[0] == 0 && nnc_f32(w)[5] == 0 && nnc_f32(w)[2] == 0.9f);
  CHECK(((float *)opt.buf1)[5] == 0 && ((float *)opt.buf2)[5] == 0);
  /* Hebbian prune on a given score: active (0,0) 0.9, (0,2) 0.3, (1,2) 0.5 -> (0,2) goes;
   * inactive then (0,1) 0.1, (0,2) 0.3, (1,0) 0.6, (1,1) 0.2 -> (1,0) grows */
  const float chh[6] = {0.9f, 0.1f, 0.3f, 0.6f, 0.2f, 0.5f};
  nnc_dst_rule hp = {1.0 / 3.0, NNC_DST_PRUNE_HEBBIAN, NNC_DST_GROW_HEBBIAN};
  nnc_f32(w)[0] = 0.4f, nnc_f32(w)[2] = 0.9f, nnc_f32(w)[5] = 0.7f;
  CHECK(nnc_dst_update(w, m, chh, &hp, NULL, NULL) == 1);
  const float want3[6] = {1, 0, 0, 1, 0, 1};
  CHECK(!memcmp(nnc_f32(m), want3, sizeof want3));
  CHECK(nnc_f32(w)[2] == 0 && nnc_f32(w)[3] == 0 && nnc_f32(w)[0] == 0.4f && nnc_f32(w)[5] == 0.7f);
  /* ties go to the lower index: equal |w| -> (0,0) is pruned; equal C_H -> (0,0) regrows first */
  const float flat[6] = {0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f};
  nnc_f32(w)[0] = nnc_f32(w)[3] = nnc_f32(w)[5] = 0.25f;
  CHECK(nnc_dst_update(w, m, flat, &rule, NULL, NULL) == 2);
  const float want4[6] = {1, 1, 0, 0, 0, 1}; /* pruned (0,0), (1,0); grown (0,0), (0,1) */
  CHECK(!memcmp(nnc_f32(m), want4, sizeof want4));
  CHECK(nnc_f32(w)[0] == 0 && nnc_f32(w)[1] == 0 && nnc_f32(w)[3] == 0 && nnc_f32(w)[5] == 0.25f);
  nnc_dst_rule bad = {0.5, NNC_DST_PRUNE_MAGNITUDE, NNC_DST_GROW_HEBBIAN};
  EXPECT_ABORT(nnc_dst_update(w, m, NULL, &bad, NULL, NULL), "needs the score matrix");
  nnc_optim_free(&opt);
  nnc_params_free(&P);
  nnc_heap_free(m);
}

/* many updates on a 64x96 G2G layer with every rule: the edge count never moves, masked
 * entries stay 0, grown ones are 0; SET removes exactly the smallest |w|; seeds repeat */
static void test_dst_invariant(void) {
  enum { NO = 64, NI = 96, B = 32 };
  int go[NO], gi[NI];
  nnc_groups_make(go, NO, 8, NNC_GROUPS_INDEX, NULL);
  nnc_groups_make(gi, NI, 8, NNC_GROUPS_INDEX, NULL);
  static float ch[NO * NI], pre[B * NI], post[B * NO];
  const nnc_dst_prune prunes[3] = {NNC_DST_PRUNE_MAGNITUDE, NNC_DST_PRUNE_RANDOM, NNC_DST_PRUNE_HEBBIAN};
  const nnc_dst_grow grows[2] = {NNC_DST_GROW_HEBBIAN, NNC_DST_GROW_RANDOM};
  for (int pi = 0; pi < 3; pi++)
    for (int gi_ = 0; gi_ < 2; gi_++) {
      nnc_tensor *w = matrix(NO, NI), *m = matrix(NO, NI);
      nnc_rng r;
      nnc_rng_seed(&r, 7, 3);
      int64_t alive0 = nnc_g2g_mask(m, go, gi, 1.0, 0.15, &r);
      for (int t = 0; t < NO * NI; t++) nnc_f32(w)[t] = nnc_f32(m)[t] * (float)nnc_rng_normal(&r);
      nnc_dst_rule rule = {0.1, prunes[pi], grows[gi_]};
      bool constant = true, zero_outside = true, set_ok = true;
      for (int step = 0; step < 20; step++) {
        for (int t = 0; t < B * NI; t++) pre[t] = fmaxf(0, (float)nnc_rng_normal(&r));
        for (int t = 0; t < B * NO; t++) post[t] = fmaxf(0, (float)nnc_rng_normal(&r));
        nnc_hebbian_score(pre, post, B, NI, NO, 1e-8, ch);
        /* the weights move as training would move them */
        for (int t = 0; t < NO * NI; t++) nnc_f32(w)[t] += nnc_f32(m)[t] * 0.1f * (float)nnc_rng_normal(&r);
        float thr = INFINITY; /* the largest |w| that SET must remove: the k-th smallest */
        if (prunes[pi] == NNC_DST_PRUNE_MAGNITUDE) {
          float *mag = malloc(sizeof(float) * NO * NI);
          int na = 0;
          for (int t = 0; t < NO * NI; t++)
            if (nnc_f32(m)[t] != 0) mag[na++] = fabsf(nnc_f32(w)[t]);
          int k = (int)llround(0.1 * na);
          for (int a = 0; a < k; a++) /* selection of the k smallest */
            for (int b = a + 1; b < na; b++)
              if (mag[b] < mag[a]) { float x = mag[a]; mag[a] = mag[b]; mag[b] = x; }
          thr = mag[k - 1];
          free(mag);
        }
        float before[NO * NI], mbefore[NO * NI];
        memcpy(before, nnc_f32(w), sizeof before);
        memcpy(mbefore, nnc_f32(m), sizeof mbefore);
        int64_t k = nnc_dst_update(w, m, ch, &rule, &r, NULL);
        constant &= ones(m) == alive0 && k == llround(0.1 * alive0);
        for (int t = 0; t < NO * NI; t++) {
          zero_outside &= nnc_f32(m)[t] != 0 || nnc_f32(w)[t] == 0;
          if (mbefore[t] == 0 && nnc_f32(m)[t] != 0) zero_outside &= nnc_f32(w)[t] == 0; /* grown at 0 */
          /* SET: every entry that was removed had |w| <= the k-th smallest */
          if (prunes[pi] == NNC_DST_PRUNE_MAGNITUDE && mbefore[t] != 0 && nnc_f32(w)[t] != before[t])
            set_ok &= fabsf(before[t]) <= thr;
        }
      }
      CHECKF(constant, "prune %d grow %d: edge count moved", pi, gi_);
      CHECKF(zero_outside, "prune %d grow %d: a masked or grown weight is not 0", pi, gi_);
      CHECKF(set_ok, "SET removed an entry above the k-th smallest |w|");
      /* the same seed repeats the whole run */
      nnc_tensor *w2 = matrix(NO, NI), *m2 = matrix(NO, NI);
      nnc_rng r2;
      nnc_rng_seed(&r2, 7, 3);
      nnc_g2g_mask(m2, go, gi, 1.0, 0.15, &r2);
      for (int t = 0; t < NO * NI; t++) nnc_f32(w2)[t] = nnc_f32(m2)[t] * (float)nnc_rng_normal(&r2);
      for (int step = 0; step < 20; step++) {
        for (int t = 0; t < B * NI; t++) pre[t] = fmaxf(0, (float)nnc_rng_normal(&r2));
        for (int t = 0; t < B * NO; t++) post[t] = fmaxf(0, (float)nnc_rng_normal(&r2));
        nnc_hebbian_score(pre, post, B, NI, NO, 1e-8, ch);
        for (int t = 0; t < NO * NI; t++) nnc_f32(w2)[t] += nnc_f32(m2)[t] * 0.1f * (float)nnc_rng_normal(&r2);
        nnc_dst_update(w2, m2, ch, &rule, &r2, NULL);
      }
      CHECK(!memcmp(nnc_f32(m), nnc_f32(m2), sizeof(float) * NO * NI));
      CHECK(!memcmp(nnc_f32(w), nnc_f32(w2), sizeof(float) * NO * NI));
      nnc_heap_free(w);
      nnc_heap_free(m);
      nnc_heap_free(w2);
      nnc_heap_free(m2);
    }
}

int main(void) {
  nnc_init();
  test_groups();
  test_g2g_mask(512, 784, NNC_GROUPS_INDEX);
  test_g2g_mask(512, 512, NNC_GROUPS_INDEX);
  test_g2g_mask(512, 512, NNC_GROUPS_RANDOM);
  test_g2g_mask(512, 512, NNC_GROUPS_INTERLEAVED);
  test_er_mask();
  test_rescale();
  test_hebbian();
  test_dst_hand();
  test_dst_invariant();
  return test_summary();
}
