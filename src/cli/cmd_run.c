/* cli/cmd_run.c: `nnc run SLUG [--quick] [--seed S] [--out DIR]` and `nnc run --list`. */
#include <stdio.h>
#include "cli/args.h"
#include "cli/commands.h"
#include "nnc.h"
#include "papers/paper.h"

int cmd_run(int argc, char **argv) {
  bool quick = false, list = false;
  int seed = 0, threads = 0;
  const char *out = NULL, *data = NULL;
  const arg_spec specs[] = {
      {"--list", ARG_BOOL, &list, "print one line per paper: its slug, then its claim"},
      {"--quick", ARG_BOOL, &quick, "a run of seconds that checks the unit-level criteria"},
      {"--seed", ARG_INT, &seed, "seed (default 0)"},
      {"--out", ARG_STRING, &out, "output folder (default runs/papers/SLUG)"},
      {"--data", ARG_STRING, &data, "folder of the Fashion-MNIST IDX files"},
      {"--threads", ARG_INT, &threads, "threads (default: NNC_THREADS, or all cores)"},
  };
  const char *pos[1];
  int np = 0;
  int rc = args_parse(argc, argv, 1, specs, sizeof specs / sizeof specs[0], pos, 1, &np,
                      "usage: nnc run SLUG [--quick] [--seed S] [--out DIR]\n       nnc run --list\n\n"
                      "Runs a paper's experiment and writes DIR/result.json (metrics, criteria, pass) and its\n"
                      "pictures.  Exit status: 0 all criteria pass, 3 some criterion fails, 1 error.");
  if (rc) return rc == 1 ? 0 : 2;
  const nnc_paper *const *all;
  int n = nnc_papers(&all);
  if (list) {
    for (int i = 0; i < n; i++) printf("%-14s %s\n", all[i]->slug, all[i]->claim);
    return 0;
  }
  if (np < 1) {
    fprintf(stderr, "nnc run: name a paper (nnc run --list shows them)\n");
    return 2;
  }
  const nnc_paper *p = nnc_paper_find(pos[0]);
  if (!p) {
    fprintf(stderr, "nnc run: unknown paper '%s' (nnc run --list shows them)\n", pos[0]);
    return 2;
  }
  if (seed < 0) {
    fprintf(stderr, "nnc run: --seed must not be negative\n");
    return 2;
  }
  if (threads > 0) nnc_set_threads(threads);
  char dir[512];
  if (!out) {
    snprintf(dir, sizeof dir, "runs/papers/%s%s", p->slug, quick ? "-quick" : "");
    out = dir;
  }
  return nnc_paper_execute(p, quick, (uint64_t)seed, out, data);
}
