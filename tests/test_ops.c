/* tests/test_ops.c: the op table.  Every op defined with NNC_OP_DEF must have a gradient-check
 * row; every row must pass in float64 on contiguous, permuted and broadcast inputs (backward
 * against central differences) and its fast kernel must match the reference kernel. */
#include "test.h"

int main(void) {
  nnc_init();
  const nnc_op_def *const *defs;
  const nnc_gradcheck_row *const *rows;
  int ndefs = nnc_op_defs(&defs), nrows = nnc_gradcheck_rows(&rows);
  CHECK(ndefs > 40);
  for (int d = 0; d < ndefs; d++) {
    int found = 0;
    for (int r = 0; r < nrows; r++) found += strcmp(rows[r]->op, defs[d]->name) == 0;
    CHECKF(found > 0, "op '%s' has no gradient-check row", defs[d]->name);
  }
  for (int r = 0; r < nrows; r++) {
    int known = 0;
    for (int d = 0; d < ndefs; d++) known += strcmp(rows[r]->op, defs[d]->name) == 0;
    CHECKF(known > 0, "row names unknown op '%s'", rows[r]->op);
    nnc_gradcheck_result res = nnc_gradcheck_run(rows[r]);
    nnc_step_end();
    CHECKF(nnc_gradcheck_ok(rows[r], &res), "%s (%s): grad %.2e ref64 %.2e ref32 %.2e", rows[r]->op, rows[r]->shapes,
           res.grad_err, res.ref_err64, res.ref_err32);
  }
  printf("%d ops, %d rows\n", ndefs, nrows);
  return test_summary();
}
