/* autograd/gradcheck.h: the op table and the gradient check.
 *
 * Every op has at least one row in the table.  A row names the op, the shapes of its float
 * inputs ("3x4 4": two inputs; "s" is a 0-d scalar), the range inputs are drawn from, and a
 * function that applies the op (it may draw index tensors from the given rng, which is
 * re-seeded identically before every call).  Rows are defined next to nothing else, in
 * src/ops/table_*.c, with NNC_GRADCHECK_ROW; a linker section collects them.
 *
 * nnc_gradcheck_run() checks one row in float64, with its inputs laid out three ways:
 * contiguous, permuted (a transposed view) and broadcast (an expanded view of a smaller
 * leaf).  It compares backward against central differences of sum(out * R) for a fixed
 * random R, and the fast forward kernel against the reference kernel (f64 and f32). */
#ifndef NNC_GRADCHECK_H
#define NNC_GRADCHECK_H
#include "core/rng.h"
#include "core/tensor.h"

enum {
  NNC_GC_NO_GRAD = 1,      /* forward only (argmax, one_hot, sign-like ops) */
  NNC_GC_NO_PERMUTE = 2,   /* skip the permuted layout */
  NNC_GC_NO_BROADCAST = 4, /* skip the broadcast layout (e.g. ops whose ties are not smooth) */
  NNC_GC_NO_F32 = 8,       /* skip the f32 fast-vs-reference comparison */
};

typedef struct nnc_gradcheck_row {
  const char *op;     /* the op's name, as in its NNC_OP_DEF */
  const char *shapes; /* float input shapes, space separated: "3x4 4", "s" for 0-d */
  nnc_tensor *(*fn)(nnc_tensor **in, nnc_rng *rng);
  double lo, hi;      /* inputs uniform in [lo, hi]; both 0 means [-2, 2] */
  int flags;
  double tol;         /* 0 means the default 1e-6 */
} nnc_gradcheck_row;

#define NNC_GRADCHECK_ROW(var, ...)                                      \
  static const nnc_gradcheck_row var = {__VA_ARGS__};                    \
  __attribute__((used, section("nnc_gradcheck"))) static const nnc_gradcheck_row *const var##_entry = &var

int nnc_gradcheck_rows(const nnc_gradcheck_row *const **rows);

typedef struct {
  double grad_err;   /* max relative error, backward vs central differences (f64) */
  double ref_err64;  /* max relative error, fast vs reference forward, f64 */
  double ref_err32;  /* the same in f32 */
  int layouts;       /* layouts checked */
} nnc_gradcheck_result;

/* checks one row; the result's errors are maxima over layouts */
nnc_gradcheck_result nnc_gradcheck_run(const nnc_gradcheck_row *row);
/* does the result pass the row's tolerances? */
bool nnc_gradcheck_ok(const nnc_gradcheck_row *row, const nnc_gradcheck_result *r);

/* runs the whole table: one line per op "NAME MAXRELERR ok|FAIL", then a summary line;
 * returns the number of failing ops.  `filter` (may be NULL) keeps ops whose name contains it. */
int nnc_gradcheck_all(const char *filter, bool verbose);

#endif
