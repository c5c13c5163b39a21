/* data/graphs.c: Watts–Strogatz and Barabási–Albert random graphs (see graphs.h). */
#include <stdlib.h>
#include <string.h>
#include "data/graphs.h"

static nnc_status graph_alloc(nnc_graph *g, int64_t n) {
  g->n = n;
  g->adj = calloc((size_t)(n * n), 1);
  if (!g->adj) return nnc_error(NNC_ERR_NOMEM, "graph: no memory for %lld nodes", (long long)n);
  return NNC_OK;
}

static void join(nnc_graph *g, int64_t u, int64_t v, uint8_t on) { g->adj[u * g->n + v] = g->adj[v * g->n + u] = on; }

void nnc_graph_free(nnc_graph *g) {
  free(g->adj);
  g->adj = NULL;
  g->n = 0;
}

int64_t nnc_graph_degree(const nnc_graph *g, int64_t v) {
  int64_t d = 0;
  for (int64_t u = 0; u < g->n; u++) d += g->adj[v * g->n + u];
  return d;
}

int64_t nnc_graph_edges(const nnc_graph *g) {
  int64_t e = 0;
  for (int64_t v = 0; v < g->n; v++) e += nnc_graph_degree(g, v);
  return e / 2;
}

double nnc_graph_density(const nnc_graph *g) {
  return g->n < 2 ? 0.0 : (double)nnc_graph_edges(g) / ((double)g->n * (double)(g->n - 1) / 2.0);
}

bool nnc_graph_connected(const nnc_graph *g) {
  if (g->n <= 1) return true;
  int64_t *stack = malloc(sizeof(int64_t) * (size_t)g->n);
  uint8_t *seen = calloc((size_t)g->n, 1);
  int64_t top = 0, reached = 1;
  bool ok = stack && seen;
  if (ok) {
    stack[top++] = 0;
    seen[0] = 1;
    while (top) { /* depth-first search from node 0 */
      int64_t v = stack[--top];
      for (int64_t u = 0; u < g->n; u++)
        if (g->adj[v * g->n + u] && !seen[u]) seen[u] = 1, reached++, stack[top++] = u;
    }
  }
  free(stack);
  free(seen);
  return ok && reached == g->n;
}

nnc_status nnc_graph_watts_strogatz(nnc_graph *g, int64_t n, int64_t k, double p, nnc_rng *r) {
  memset(g, 0, sizeof *g);
  if (n < 3 || n > 1000000 || k < 2 || k >= n || !(p >= 0 && p <= 1))
    return nnc_error(NNC_ERR_ARG, "watts_strogatz: n=%lld k=%lld p=%g (need n >= 3, 2 <= k < n, 0 <= p <= 1)",
                     (long long)n, (long long)k, p);
  nnc_status st = graph_alloc(g, n);
  if (st) return st;
  int64_t half = k / 2;
  for (int64_t j = 1; j <= half; j++) /* the ring lattice */
    for (int64_t u = 0; u < n; u++) join(g, u, (u + j) % n, 1);
  for (int64_t j = 1; j <= half; j++) /* rewiring, edge (u, u+j) by edge */
    for (int64_t u = 0; u < n; u++) {
      if (nnc_rng_uniform(r) >= p) continue;
      if (nnc_graph_degree(g, u) >= n - 1) continue; /* joined to everyone: nowhere to go */
      int64_t w;
      do w = nnc_rng_below(r, n);
      while (w == u || g->adj[u * n + w]);
      join(g, u, (u + j) % n, 0);
      join(g, u, w, 1);
    }
  return NNC_OK;
}

nnc_status nnc_graph_connected_watts_strogatz(nnc_graph *g, int64_t n, int64_t k, double p, int tries, nnc_rng *r) {
  for (int t = 0; t < tries; t++) {
    nnc_status st = nnc_graph_watts_strogatz(g, n, k, p, r);
    if (st || nnc_graph_connected(g)) return st;
    nnc_graph_free(g);
  }
  return nnc_error(NNC_ERR_ARG, "connected_watts_strogatz: no connected graph in %d tries (n=%lld k=%lld p=%g)",
                   tries, (long long)n, (long long)k, p);
}

nnc_status nnc_graph_barabasi_albert(nnc_graph *g, int64_t n, int64_t m, nnc_rng *r) {
  memset(g, 0, sizeof *g);
  if (n < 2 || n > 1000000 || m < 1 || m >= n)
    return nnc_error(NNC_ERR_ARG, "barabasi_albert: n=%lld m=%lld (need 1 <= m < n)", (long long)n, (long long)m);
  nnc_status st = graph_alloc(g, n);
  if (st) return st;
  /* repeated: every edge's two ends, so a uniform draw from it is a degree-weighted node */
  int64_t *repeated = malloc(sizeof(int64_t) * (size_t)(2 * m * (n - m)));
  int64_t *targets = malloc(sizeof(int64_t) * (size_t)m), nrep = 0;
  uint8_t *chosen = calloc((size_t)n, 1);
  if (!repeated || !targets || !chosen) {
    free(repeated), free(targets), free(chosen), nnc_graph_free(g);
    return nnc_error(NNC_ERR_NOMEM, "barabasi_albert: no memory for n=%lld m=%lld", (long long)n, (long long)m);
  }
  for (int64_t i = 0; i < m; i++) targets[i] = i;
  for (int64_t v = m; v < n; v++) {
    for (int64_t i = 0; i < m; i++) {
      join(g, v, targets[i], 1);
      repeated[nrep++] = targets[i];
      repeated[nrep++] = v;
    }
    if (v + 1 == n) break;
    memset(chosen, 0, (size_t)n); /* m distinct nodes, each drawn with probability ~ degree */
    for (int64_t i = 0; i < m;) {
      int64_t x = repeated[nnc_rng_below(r, nrep)];
      if (!chosen[x]) chosen[x] = 1, targets[i++] = x;
    }
  }
  free(repeated);
  free(targets);
  free(chosen);
  return NNC_OK;
}
