/* data/graphs.h: seeded random undirected graphs (Watts–Strogatz small worlds and
 * Barabási–Albert preferential attachment) as dense adjacency matrices, for sparse
 * connectivity masks (e.g. the hidden-to-hidden weights of a Sparse-RNN).
 *
 * Both follow networkx's generators (same construction, not the same random numbers):
 *   watts_strogatz(n, k, p)  a ring of n nodes, each joined to its k/2 nearest neighbours on
 *                            either side (k even, 2 <= k < n); then for j = 1..k/2 and each
 *                            node u in turn, the edge (u, u+j) is, with probability p, replaced
 *                            by (u, w) with w uniform among the nodes not u and not already
 *                            joined to u (skipped if u is joined to every node).  Edges: n k / 2.
 *                            p = 0 is the ring lattice (every degree k); p = 1 is fully random.
 *   connected_watts_strogatz the same, redrawn up to `tries` times until connected.
 *   barabasi_albert(n, m)    nodes 0..m-1 start without edges; node m joins all of them; each
 *                            later node v = m+1..n-1 joins m distinct earlier nodes drawn with
 *                            probability proportional to their degree (1 <= m < n).
 *                            Edges: m (n - m); connected; nodes m..n-1 have degree >= m,
 *                            the first m degree >= 1.
 * No self-loops, no multi-edges; adj is symmetric with a zero diagonal. */
#ifndef NNC_DATA_GRAPHS_H
#define NNC_DATA_GRAPHS_H
#include <stdbool.h>
#include <stdint.h>
#include "core/error.h"
#include "core/rng.h"

typedef struct {
  int64_t n;
  uint8_t *adj; /* [n, n], adj[u*n + v] = 1 if u and v are joined */
} nnc_graph;

/* each returns NNC_ERR_ARG for impossible parameters, NNC_ERR_NOMEM if allocation fails */
nnc_status nnc_graph_watts_strogatz(nnc_graph *g, int64_t n, int64_t k, double p, nnc_rng *r);
/* NNC_ERR_ARG also if no connected graph came in `tries` draws (parameters too sparse) */
nnc_status nnc_graph_connected_watts_strogatz(nnc_graph *g, int64_t n, int64_t k, double p, int tries, nnc_rng *r);
nnc_status nnc_graph_barabasi_albert(nnc_graph *g, int64_t n, int64_t m, nnc_rng *r);
void nnc_graph_free(nnc_graph *g);

int64_t nnc_graph_edges(const nnc_graph *g);             /* undirected edges */
int64_t nnc_graph_degree(const nnc_graph *g, int64_t v); /* neighbours of v */
bool nnc_graph_connected(const nnc_graph *g);
double nnc_graph_density(const nnc_graph *g);            /* edges / (n (n-1) / 2) */

#endif
