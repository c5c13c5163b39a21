/* core/iter.c: row iteration over strided operands (see iter.h). */
#include <string.h>
#include "core/iter.h"

bool nnc_iter_init(nnc_iter *it, int ndim, const int64_t *shape, int nops,
                   const int64_t *const *strides, const int64_t *offsets) {
  memset(it, 0, sizeof *it);
  it->nops = nops;
  for (int d = 0; d < ndim; d++)
    if (shape[d] == 0) return false;
  /* drop size-1 dims, then merge dim d into d+1 where every operand is contiguous across them */
  int m = 0;
  for (int d = 0; d < ndim; d++) {
    if (shape[d] == 1) continue;
    if (m > 0) {
      bool mergeable = true;
      for (int k = 0; k < nops; k++)
        if (it->stride[k][m - 1] != strides[k][d] * shape[d]) mergeable = false;
      if (mergeable) {
        it->shape[m - 1] *= shape[d];
        for (int k = 0; k < nops; k++) it->stride[k][m - 1] = strides[k][d];
        continue;
      }
    }
    it->shape[m] = shape[d];
    for (int k = 0; k < nops; k++) it->stride[k][m] = strides[k][d];
    m++;
  }
  if (m == 0) { /* a single element */
    it->shape[0] = 1;
    m = 1;
  }
  it->ndim = m;
  it->n = it->shape[m - 1];
  for (int k = 0; k < nops; k++) {
    it->inner[k] = it->stride[k][m - 1];
    it->off[k] = offsets ? offsets[k] : 0;
  }
  return true;
}

bool nnc_iter_next(nnc_iter *it) {
  for (int d = it->ndim - 2; d >= 0; d--) {
    it->idx[d]++;
    for (int k = 0; k < it->nops; k++) it->off[k] += it->stride[k][d];
    if (it->idx[d] < it->shape[d]) return true;
    for (int k = 0; k < it->nops; k++) it->off[k] -= it->stride[k][d] * it->shape[d];
    it->idx[d] = 0;
  }
  return false;
}
