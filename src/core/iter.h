/* core/iter.h: walks the rows of up to NNC_ITER_MAX_OPS strided operands of one shape.
 *
 *   nnc_iter it;
 *   for (bool more = nnc_iter_init(&it, ndim, shape, 2, strides); more; more = nnc_iter_next(&it))
 *     for (int64_t j = 0; j < it.n; j++)
 *       y[it.off[0] + j * it.inner[0]] = f(x[it.off[1] + j * it.inner[1]]);
 *
 * Dimensions that are contiguous with their neighbour in every operand are merged first, so
 * contiguous operands become one long row.  Offsets are in elements.  A broadcast operand
 * has stride 0 in its broadcast dimensions. */
#ifndef NNC_ITER_H
#define NNC_ITER_H
#include <stdbool.h>
#include <stdint.h>
#include "core/tensor.h"

#define NNC_ITER_MAX_OPS 4

typedef struct {
  int ndim, nops;
  int64_t shape[NNC_MAX_DIMS];
  int64_t stride[NNC_ITER_MAX_OPS][NNC_MAX_DIMS];
  int64_t idx[NNC_MAX_DIMS];
  int64_t off[NNC_ITER_MAX_OPS];   /* element offsets of the current row's start */
  int64_t n;                       /* row length */
  int64_t inner[NNC_ITER_MAX_OPS]; /* element stride along the row */
} nnc_iter;

/* false if there is nothing to visit (some dimension is 0) */
bool nnc_iter_init(nnc_iter *it, int ndim, const int64_t *shape, int nops,
                   const int64_t *const *strides, const int64_t *offsets);
bool nnc_iter_next(nnc_iter *it);

#endif
