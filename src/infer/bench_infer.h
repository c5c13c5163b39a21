/* infer/bench_infer.h: the kernel benchmarks behind `nnc bench binary`, `nnc bench int8` and
 * `nnc bench sparse`.
 *
 * Each times one layer of M x K inputs against K x N weights (default 64 x 1024 x 1024)
 * three ways, `reps` timed repetitions each after `reps / 10 + 3` untimed ones, the fp32 and
 * kernel calls alternating so that both see the same machine load, and prints one JSON line
 * with the medians:
 *   fp32_ms      nnc_gemm_f32 (oneDNN) of the same shape: x[M, K] @ w[N, K]^T
 *   kernel_ms    binary: nnc_bin_linear_bits, packed +-1 activations -> packed output bits
 *                (XOR, popcount, the folded BatchNorm threshold);
 *                int8: nnc_q8_gemm_u8s8 + nnc_q8_requant, uint8 codes -> uint8 codes
 *   speedup      fp32_ms / kernel_ms
 *   portable_ms  the same kernel with the portable C fallback
 * plus gemm_only_ms (int8: without the requantisation) and the instruction set used.
 * threads > 1 splits the M rows over OpenMP threads for the kernels and gives oneDNN the
 * same thread count.  Returns 0, or 2 for bad sizes. */
#ifndef NNC_INFER_BENCH_INFER_H
#define NNC_INFER_BENCH_INFER_H
#include <stdint.h>
#include <stdio.h>

typedef struct {
  int64_t M, N, K; /* 0: 64, 1024, 1024 */
  int threads;     /* 0: 1 */
  int reps;        /* 0: 200 */
  uint64_t seed;
  double sparsity; /* sparse: one sparsity in (0, 1); 0: each of 0.5, 0.75, 0.9 and 0.95 */
} nnc_bench_infer_opts;

int nnc_bench_binary(const nnc_bench_infer_opts *o, FILE *out);
int nnc_bench_int8(const nnc_bench_infer_opts *o, FILE *out);

/* sparse (infer/sparse.h): for each sparsity s, a weight [N, K] of N(0, 1) entries with the
 * fraction s of smallest magnitudes set to 0 (random unstructured, magnitude pruning style)
 * and a bias; one JSON line per sparsity with
 *   dense_ms   nnc_gemm_f32 (oneDNN) of the dense weight, x[M, K] @ w[N, K]^T (no bias)
 *   sparse_ms  nnc_sparse_linear_forward: transposes, bias and the panel-CSR kernel
 *   speedup    dense_ms / sparse_ms,  sparse_gflops  2 nnz M / sparse_ms,
 *   one_panel_ms  the same kernel with a single panel (plain CSR: xT does not stay in L1)
 *   portable_ms  the portable C kernel,  max_abs_diff  |sparse - (dense + bias)| at most
 * (reps default 500; threads > 1: oneDNN and the sparse kernel on that many threads) */
int nnc_bench_sparse(const nnc_bench_infer_opts *o, FILE *out);

#endif
