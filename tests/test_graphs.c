/* tests/test_graphs.c: the random graph generators (data/graphs.h).  Edge counts (n k/2 for
 * Watts–Strogatz, m (n-m) for Barabási–Albert), degrees (the ring lattice at p = 0 is
 * k-regular; every WS node keeps at least k/2 edges; every BA degree >= m
 * from node m on, and BA's degrees are
 * heavy-tailed next to WS's), symmetry and no self-loops, connectivity, rewiring at p = 1,
 * seeds reproduce, bad parameters give NNC_ERR_ARG. */
#include <stdlib.h>
#include "test.h"
#include "data/graphs.h"

static bool well_formed(const nnc_graph *g) {
  for (int64_t u = 0; u < g->n; u++) {
    if (g->adj[u * g->n + u]) return false;
    for (int64_t v = 0; v < g->n; v++)
      if (g->adj[u * g->n + v] != g->adj[v * g->n + u] || g->adj[u * g->n + v] > 1) return false;
  }
  return true;
}

static int64_t min_degree_from(const nnc_graph *g, int64_t first) {
  int64_t m = g->n;
  for (int64_t v = first; v < g->n; v++) m = nnc_graph_degree(g, v) < m ? nnc_graph_degree(g, v) : m;
  return m;
}

static int64_t min_degree(const nnc_graph *g) { return min_degree_from(g, 0); }

static int64_t max_degree(const nnc_graph *g) {
  int64_t m = 0;
  for (int64_t v = 0; v < g->n; v++) m = nnc_graph_degree(g, v) > m ? nnc_graph_degree(g, v) : m;
  return m;
}

/* edges of the ring lattice (|u - v| mod n <= k/2) still present */
static int64_t lattice_edges(const nnc_graph *g, int64_t k) {
  int64_t e = 0;
  for (int64_t u = 0; u < g->n; u++)
    for (int64_t j = 1; j <= k / 2; j++) e += g->adj[u * g->n + (u + j) % g->n];
  return e;
}

static void test_ws(void) {
  nnc_rng r;
  nnc_rng_seed(&r, 1, 0);
  nnc_graph g;
  /* p = 0: the ring lattice, k-regular */
  CHECK(nnc_graph_watts_strogatz(&g, 20, 4, 0.0, &r) == NNC_OK);
  CHECK(well_formed(&g) && nnc_graph_edges(&g) == 40 && min_degree(&g) == 4 && max_degree(&g) == 4);
  CHECK(g.adj[0 * 20 + 1] && g.adj[0 * 20 + 2] && g.adj[0 * 20 + 19] && g.adj[0 * 20 + 18] && !g.adj[0 * 20 + 3]);
  CHECK(nnc_graph_connected(&g) && fabs(nnc_graph_density(&g) - 40.0 / 190.0) < 1e-12);
  nnc_graph_free(&g);
  /* odd k uses k/2 neighbours a side (networkx) */
  CHECK(nnc_graph_watts_strogatz(&g, 11, 3, 0.0, &r) == NNC_OK);
  CHECK(nnc_graph_edges(&g) == 11 && min_degree(&g) == 2);
  nnc_graph_free(&g);
  /* rewiring keeps the count and every node's k/2 own edges */
  int64_t ks[] = {2, 4, 6, 10, 20};
  double ps[] = {0.1, 0.5, 1.0};
  bool counts = true, formed = true, mins = true;
  for (int a = 0; a < 5; a++)
    for (int b = 0; b < 3; b++)
      for (int rep = 0; rep < 5; rep++) {
        CHECK(nnc_graph_watts_strogatz(&g, 50, ks[a], ps[b], &r) == NNC_OK);
        counts = counts && nnc_graph_edges(&g) == 50 * (ks[a] / 2);
        formed = formed && well_formed(&g);
        mins = mins && min_degree(&g) >= ks[a] / 2;
        nnc_graph_free(&g);
      }
  CHECK(counts && formed && mins);
  /* how much is rewired: about p of the lattice edges (binomial, n k/2 = 200 trials) */
  double kept[3] = {0};
  for (int b = 0; b < 3; b++)
    for (int rep = 0; rep < 20; rep++) {
      nnc_graph_watts_strogatz(&g, 100, 4, ps[b], &r);
      kept[b] += (double)lattice_edges(&g, 4) / 200.0 / 20.0;
      nnc_graph_free(&g);
    }
  /* a rewired edge may land on a lattice pair again (~4/99), hence the slack */
  CHECKF(fabs(kept[0] - 0.9) < 0.03 && fabs(kept[1] - 0.5) < 0.05 && kept[2] < 0.1, "lattice kept %.3f %.3f %.3f",
         kept[0], kept[1], kept[2]);
  /* connected variant; a dense enough graph is connected at once */
  CHECK(nnc_graph_connected_watts_strogatz(&g, 50, 10, 1.0, 10, &r) == NNC_OK && nnc_graph_connected(&g));
  nnc_graph_free(&g);
  /* k = 2, p = 1 on 2000 nodes (one random edge per node) is connected with probability
   * ~ sqrt(pi / 2n) ~ 3 %: two tries fail (seeded, so this does not flake) */
  CHECK(nnc_graph_connected_watts_strogatz(&g, 2000, 2, 1.0, 2, &r) == NNC_ERR_ARG && g.adj == NULL);
  /* reproducible */
  nnc_graph h;
  nnc_rng r1, r2;
  nnc_rng_seed(&r1, 9, 2);
  nnc_rng_seed(&r2, 9, 2);
  nnc_graph_watts_strogatz(&g, 50, 6, 0.5, &r1);
  nnc_graph_watts_strogatz(&h, 50, 6, 0.5, &r2);
  CHECK(!memcmp(g.adj, h.adj, 2500));
  nnc_graph_free(&h);
  nnc_graph_watts_strogatz(&h, 50, 6, 0.5, &r2);
  CHECK(memcmp(g.adj, h.adj, 2500) != 0);
  nnc_graph_free(&g);
  nnc_graph_free(&h);
  /* bad parameters */
  CHECK(nnc_graph_watts_strogatz(&g, 10, 10, 0.5, &r) == NNC_ERR_ARG && g.adj == NULL);
  CHECK(nnc_graph_watts_strogatz(&g, 10, 1, 0.5, &r) == NNC_ERR_ARG);
  CHECK(nnc_graph_watts_strogatz(&g, 10, 4, 1.5, &r) == NNC_ERR_ARG);
  CHECK(nnc_graph_watts_strogatz(&g, 10, 4, NAN, &r) == NNC_ERR_ARG);
  CHECK(nnc_graph_watts_strogatz(&g, 2, 2, 0.5, &r) == NNC_ERR_ARG);
}

static void test_ba(void) {
  nnc_rng r;
  nnc_rng_seed(&r, 2, 0);
  nnc_graph g;
  bool counts = true, formed = true, mins = true, conn = true;
  int64_t ms[] = {1, 2, 5, 10, 25};
  for (int a = 0; a < 5; a++)
    for (int rep = 0; rep < 5; rep++) {
      CHECK(nnc_graph_barabasi_albert(&g, 50, ms[a], &r) == NNC_OK);
      counts = counts && nnc_graph_edges(&g) == ms[a] * (50 - ms[a]);
      formed = formed && well_formed(&g);
      mins = mins && min_degree_from(&g, ms[a]) >= ms[a] && min_degree(&g) >= 1;
      conn = conn && nnc_graph_connected(&g);
      nnc_graph_free(&g);
    }
  CHECK(counts && formed && mins && conn);
  /* m = 1 is a tree */
  CHECK(nnc_graph_barabasi_albert(&g, 30, 1, &r) == NNC_OK && nnc_graph_edges(&g) == 29 && nnc_graph_connected(&g));
  nnc_graph_free(&g);
  /* hubs: with the same edge count (m = 2 vs k = 4 on 500 nodes), BA's largest degree is far
   * above WS's (expected ~ 2 sqrt(500) ~ 45 against ~ 10) */
  double ba_max = 0, ws_max = 0;
  for (int rep = 0; rep < 5; rep++) {
    nnc_graph_barabasi_albert(&g, 500, 2, &r);
    ba_max += (double)max_degree(&g) / 5;
    nnc_graph_free(&g);
    nnc_graph_watts_strogatz(&g, 500, 4, 1.0, &r);
    ws_max += (double)max_degree(&g) / 5;
    nnc_graph_free(&g);
  }
  CHECKF(ba_max > 25 && ws_max < 15, "max degree BA %.1f, WS %.1f", ba_max, ws_max);
  /* early nodes are the hubs: mean degree of nodes 0..9 well above the last 100's */
  double early = 0, late = 0;
  nnc_graph_barabasi_albert(&g, 500, 2, &r);
  for (int v = 0; v < 10; v++) early += (double)nnc_graph_degree(&g, v) / 10;
  for (int v = 400; v < 500; v++) late += (double)nnc_graph_degree(&g, v) / 100;
  CHECKF(early > 3 * late, "early %.1f late %.1f", early, late);
  nnc_graph_free(&g);
  /* reproducible */
  nnc_graph h;
  nnc_rng r1, r2;
  nnc_rng_seed(&r1, 3, 1);
  nnc_rng_seed(&r2, 3, 1);
  nnc_graph_barabasi_albert(&g, 60, 3, &r1);
  nnc_graph_barabasi_albert(&h, 60, 3, &r2);
  CHECK(!memcmp(g.adj, h.adj, 3600));
  nnc_graph_free(&g);
  nnc_graph_free(&h);
  CHECK(nnc_graph_barabasi_albert(&g, 10, 10, &r) == NNC_ERR_ARG && g.adj == NULL);
  CHECK(nnc_graph_barabasi_albert(&g, 10, 0, &r) == NNC_ERR_ARG);
}

int main(void) {
  nnc_init();
  test_ws();
  test_ba();
  return test_summary();
}
