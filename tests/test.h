/* tests/test.h: the smallest test harness.  CHECK counts a pass or prints a FAIL with the
 * place; EXPECT_ABORT runs code that must stop through nnc's abort hook; test_summary()
 * prints "N passed, M failed" and returns the exit status. */
#ifndef NNC_TEST_H
#define NNC_TEST_H
#include <math.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include "nnc.h"

static int test_pass_count, test_fail_count;

#define CHECK(cond) do { if (cond) test_pass_count++; else { test_fail_count++; \
  fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); } } while (0)
#define CHECKF(cond, ...) do { if (cond) test_pass_count++; else { test_fail_count++; \
  fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
  fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); } } while (0)
#define CHECK_NEAR(a, b, tol) CHECKF(fabs((double)(a) - (double)(b)) <= (tol) * (1.0 + fabs((double)(b))), \
  "%.10g vs %.10g", (double)(a), (double)(b))

static jmp_buf test_abort_jmp;
static char test_abort_msg[1024];
static inline void test_abort_hook(const char *msg) {
  snprintf(test_abort_msg, sizeof test_abort_msg, "%s", msg);
  longjmp(test_abort_jmp, 1);
}
/* EXPECT_ABORT(code, "substring"): code must stop through nnc_fail with a message containing
 * the substring.  After an abort the tape is cleared and no_grad scopes are closed. */
#define EXPECT_ABORT(code, substr) do { \
  nnc_abort_hook old_hook_ = nnc_set_abort_hook(test_abort_hook); \
  test_abort_msg[0] = 0; volatile int aborted_ = 0; \
  if (setjmp(test_abort_jmp) == 0) { code; } else { aborted_ = 1; nnc_recover_after_abort(); } \
  nnc_set_abort_hook(old_hook_); \
  CHECKF(aborted_ && strstr(test_abort_msg, substr), "expected abort with '%s', got '%s'", \
         substr, aborted_ ? test_abort_msg : "(no abort)"); } while (0)

static inline int test_summary(void) {
  printf("%d passed, %d failed\n", test_pass_count, test_fail_count);
  return test_fail_count ? 1 : 0;
}
#endif
