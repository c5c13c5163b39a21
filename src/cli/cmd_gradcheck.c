/* cli/cmd_gradcheck.c: `nnc gradcheck [OP]`: runs the op table, one line per op. */
#include <stdio.h>
#include "cli/args.h"
#include "cli/commands.h"
#include "nnc.h"

int cmd_gradcheck(int argc, char **argv) {
  bool verbose = false;
  const arg_spec specs[] = {{"--verbose", ARG_BOOL, &verbose, "print every row of the table"}};
  const char *pos[1] = {NULL};
  int np = 0;
  int rc = args_parse(argc, argv, 1, specs, 1, pos, 1, &np,
                      "usage: nnc gradcheck [OP] [--verbose]\n\n"
                      "Checks every op (or those whose name contains OP) in float64 on contiguous, permuted\n"
                      "and broadcast inputs: backward against central differences, fast kernels against\n"
                      "reference kernels.  Prints `NAME MAXRELERR ok|FAIL` per op and exits 1 if any fails.");
  if (rc) return rc == 1 ? 0 : 2;
  return nnc_gradcheck_all(np ? pos[0] : NULL, verbose) ? 1 : 0;
}
