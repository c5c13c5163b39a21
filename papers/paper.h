/* papers/paper.h: the shape every paper reproduction follows.
 *
 * A paper lives in papers/<slug>/: its experiment code (public API only) and a README with
 * the claim, our setup, our numbers beside the paper's, and the command that reproduces them.
 * It registers itself with NNC_PAPER; `nnc run <slug> [--quick] [--seed S] [--out DIR]` then
 * calls its run function with an nnc_paper_run, where it records metrics and criteria, writes
 * pictures under r->out_dir, and returns NNC_OK (or a runtime error).  The runner writes
 * DIR/result.json:
 *   {"paper", "title", "claim", "quick", "seed", "metrics": {name: number},
 *    "criteria": [{"name", "value", "op", "threshold", "pass"}], "pass", "seconds"}
 * --quick runs in seconds (what `make test` does) and checks unit-level criteria; the full run
 * (`make papers`) measures the claim. */
#ifndef NNC_PAPER_H
#define NNC_PAPER_H
#include <stdbool.h>
#include <stdint.h>
#include "core/error.h"
#include "util/jsonl.h"

typedef struct nnc_paper_run {
  bool quick;
  uint64_t seed;
  const char *out_dir;  /* exists when run is called */
  const char *data_dir; /* Fashion-MNIST folder, NULL: the Debian package's */
  /* filled by the paper through the functions below */
  nnc_json_writer metrics, criteria;
  int n_criteria, n_failed;
} nnc_paper_run;

typedef struct nnc_paper {
  const char *slug;  /* "reste": the folder and the `nnc run` name */
  const char *title; /* the paper's title, authors, venue */
  const char *claim; /* one line: what we measure */
  nnc_status (*run)(nnc_paper_run *r);
} nnc_paper;

#define NNC_PAPER(var, ...)                         \
  static const nnc_paper var = {__VA_ARGS__};      \
  __attribute__((used, section("nnc_papers"))) static const nnc_paper *const var##_entry = &var

/* every linked paper, sorted by slug */
int nnc_papers(const nnc_paper *const **out);
const nnc_paper *nnc_paper_find(const char *slug);

/* a named number for result.json */
void nnc_paper_metric(nnc_paper_run *r, const char *name, double value);
/* a pass criterion "value op threshold" (op: ">=", "<=", ">", "<"); records it (and the
 * value as a metric) and returns whether it holds; a NaN value fails */
bool nnc_paper_criterion(nnc_paper_run *r, const char *name, double value, const char *op, double threshold);
/* "<out_dir>/<file>" in a buffer owned by r (valid until the next call) */
const char *nnc_paper_path(nnc_paper_run *r, const char *file);
/* a progress line on stderr, prefixed with the slug */
void nnc_paper_log(nnc_paper_run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* runs a paper and writes result.json; returns 0 if every criterion passed, 3 if the run
 * finished but some criterion failed, 1 on a runtime error */
int nnc_paper_execute(const nnc_paper *p, bool quick, uint64_t seed, const char *out_dir, const char *data_dir);

#endif
