/* tests/parity.h: what the PyTorch parity tests (test_mlp_parity.c, test_cnn_parity.c) share:
 * their fixture file, its tensors, the comparison criterion and the check of the fixture's
 * images against nnc's Fashion-MNIST loader.  Include after test.h; one fixture per test.
 *
 * Criterion, for a tensor a against PyTorch's b:
 *     max_i |a_i - b_i| / max(max_i |b_i|, 1e-12)  <=  tol
 * i.e. the largest error relative to the tensor's own scale (an elementwise relative error
 * would be meaningless for entries that are zero up to rounding); for a scalar that is
 * |a - b| / |b|. */
#ifndef NNC_TEST_PARITY_H
#define NNC_TEST_PARITY_H
#include <stdlib.h>
#include "test.h"

static nnc_st_file *fx;      /* the open fixture */
static const char *fx_path;  /* its path, for messages */

/* opens the fixture and checks its "source" metadata; false (with a message) if it cannot */
static bool fixture_open(const char *path, const char *source) {
  fx_path = path;
  if (nnc_st_read(path, &fx) != NNC_OK) {
    fprintf(stderr, "%s (run from the repository root; remake it with %s)\n", nnc_last_error(), source);
    CHECK(0);
    return false;
  }
  const char *s = nnc_st_metadata(fx, "source");
  CHECKF(s && strcmp(s, source) == 0, "%s: source %s, expected %s", path, s ? s : "(none)", source);
  return true;
}

/* max |a - b| / max(max |b|, 1e-12) over two tensors of the same shape */
static double rel_err(const nnc_tensor *a, const nnc_tensor *b) {
  double num = 0, den = 0;
  for (int64_t i = 0, n = nnc_numel(b); i < n; i++) {
    double x = nnc_get(a, i), y = nnc_get(b, i);
    double d = fabs(x - y);
    if (!(d <= num)) num = d; /* NaN propagates */
    if (fabs(y) > den) den = fabs(y);
  }
  return num / (den > 1e-12 ? den : 1e-12);
}

/* the fixture's tensor `name` as dtype dt; stops the test if it is missing */
static nnc_tensor *fixture(const char *name, nnc_dtype dt) {
  const nnc_st_entry *e = nnc_st_find(fx, name);
  if (!e) {
    fprintf(stderr, "%s: no tensor '%s'\n", fx_path, name);
    exit(1);
  }
  nnc_tensor *t;
  if (nnc_st_load(e, dt, &t) != NNC_OK) {
    fprintf(stderr, "%s\n", nnc_last_error());
    exit(1);
  }
  return t;
}

/* compares a with the fixture tensor `name` by the criterion above, prints and returns the error */
static double check_tensor_tol(const char *what, const nnc_tensor *a, const char *name, double tol) {
  nnc_tensor *b = fixture(name, NNC_F64);
  char sa[64], sb[64];
  CHECKF(nnc_same_shape(a, b), "%s: shape %s vs %s", what, nnc_shape_str(a, sa, sizeof sa), nnc_shape_str(b, sb, sizeof sb));
  if (!nnc_same_shape(a, b)) return INFINITY;
  double r = rel_err(a, b);
  printf("  %-34s rel err %.3g\n", what, r);
  CHECKF(r <= tol, "%s: relative error %.3g > %g", what, r, tol);
  return r;
}

/* the fixture's images x [n, 784] and labels y [n] are nnc's own loader's first n, bit for bit
 * (skipped with a message when the data set is not installed) */
static void check_images(void) {
  nnc_dataset train;
  if (nnc_fashion_load(NULL, true, &train) != NNC_OK) {
    printf("skipping the image check: %s\n", nnc_last_error());
    return;
  }
  nnc_tensor *x = fixture("x", NNC_F32), *y = fixture("y", NNC_I64);
  int64_t n = x->shape[0], row = x->shape[1];
  CHECK(row == 784 && n <= train.n);
  if (row == 784 && n <= train.n) {
    CHECK(memcmp(nnc_f32(x), nnc_f32(train.x), (size_t)(n * row) * sizeof(float)) == 0);
    CHECK(memcmp(nnc_i64(y), nnc_i64(train.y), (size_t)n * sizeof(int64_t)) == 0);
  }
  nnc_dataset_free(&train);
  nnc_step_end();
}

#endif
