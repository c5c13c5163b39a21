/* infer/sparse.h: the sparse linear layer of pruned networks at inference,
 *
 *   y [B, out] = x [B, in] @ W^T + b       (W [out, in], PyTorch's Linear layout)
 *
 * computed from the nonzero entries of W only (a pruned weight: its zeros are the pruned
 * connections, masked or not).
 *
 * Format ("panel CSR").  The inputs are cut into panels of `panel` consecutive indices k
 * (default 128); inside a panel the nonzeros are stored row by row (CSR), so entry p holds
 * val[p] = W[n, col[p]], and row n of panel q owns the entries ptr[q*(out+1) + n] to
 * ptr[q*(out+1) + n + 1] - 1, in increasing col.  Nothing else: the bias is kept beside.
 *
 * Kernel.  The batch is processed in tiles of up to 64 examples.  A tile of x is transposed to
 * xT [in, 64] (256 bytes per input), so a nonzero W[n, k] is one 64-wide AXPY
 *   yT[n, 0:64] += W[n, k] * xT[k, 0:64]
 * = 4 AVX-512 FMAs (memory operands) into accumulator registers held for the whole row, two
 * sets of 4 taking alternate entries.  Sweeping all output rows panel by panel keeps the
 * panel's rows of xT (128 x 256 B = 32 KiB) in the 48 KiB L1 cache while the nonzeros stream
 * through once; between panels a row's 64 sums go through yT [out, 64] (L2).  At the end yT
 * is transposed back to y (16 x 16 blocks), with ReLU if asked.  docs/sparse.md has the
 * measurements behind these choices (no panels, one accumulator set, 4x1 blocks, other panel
 * sizes: all slower on unstructured sparsity).
 *
 * Threads: omp_get_max_threads() at the call (nnc_set_threads / NNC_THREADS), one thread
 * inside an OpenMP parallel region or for small products; the output rows are split over the
 * threads in blocks of 16 rows with equal numbers of nonzeros.  The result does not depend on
 * the thread count (each output is summed by one thread in the same order).
 * The AVX-512F kernel is chosen at run time; a portable version (GCC/Clang vector extensions,
 * the same order of operations up to FMA contraction, about 3x slower here) serves other CPUs
 * and nnc_infer_force_portable(true) (infer/kernels.h).
 * Unlike the dense product, a pruned weight never meets its input: 0 * inf or 0 * NaN in x
 * gives NaN in the dense product and nothing here. */
#ifndef NNC_INFER_SPARSE_H
#define NNC_INFER_SPARSE_H
#include <stdbool.h>
#include <stdint.h>

#define NNC_SPARSE_TILE 64    /* examples per batch tile (the xT row length) */
#define NNC_SPARSE_PANEL 128  /* default inputs per panel */

typedef struct {
  int64_t in, out;    /* K and N */
  int64_t nnz;        /* stored entries */
  int64_t panel;      /* inputs per panel */
  int64_t npanels;    /* ceil(in / panel) */
  int64_t *ptr;       /* [npanels * (out + 1)] entry offsets, see above */
  int32_t *col;       /* [nnz] input index of each entry */
  float *val;         /* [nnz] its weight */
  float *bias;        /* [out] (zeros when the layer has none) */
  int64_t *rowcum;    /* [out + 1]: entries in rows < n over all panels (splits rows over threads) */
} nnc_sparse_linear;

/* From a dense weight w [out, in] (row stride in): every entry != 0 is kept (NaN too, so
 * non-finite weights propagate as in the dense product).  bias [out] or NULL; panel 0 means
 * NNC_SPARSE_PANEL.  Stops (nnc_fail) on sizes < 1, in >= 2^31 or panel < 0. */
void nnc_sparse_linear_init(nnc_sparse_linear *L, int64_t out, int64_t in, const float *w, const float *bias,
                            int64_t panel);
void nnc_sparse_linear_free(nnc_sparse_linear *L);
/* nnz / (out * in) */
double nnc_sparse_density(const nnc_sparse_linear *L);

/* floats of scratch memory the forward pass needs (xT and yT of one tile) */
int64_t nnc_sparse_work_floats(const nnc_sparse_linear *L);
/* y [B, out] = x [B, in] @ W^T + b, then max(0, .) if relu (NaN -> 0); x and y contiguous,
 * not overlapping, B >= 0.
 * work: NULL (allocated for the call) or nnc_sparse_work_floats(L) floats, 64-byte aligned. */
void nnc_sparse_linear_forward(const nnc_sparse_linear *L, int64_t B, const float *x, float *y, bool relu,
                               float *work);
/* the oracle: the same from the stored entries, one at a time, accumulated in double */
void nnc_sparse_linear_ref(const nnc_sparse_linear *L, int64_t B, const float *x, float *y, bool relu);

/* "avx512f" or "portable": the kernel the forward pass uses now */
const char *nnc_sparse_isa(void);

#endif
