/* papers/paper.c: the paper registry and runner (see paper.h). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "nnc.h"
#include "papers/paper.h"

extern __attribute__((weak)) const nnc_paper *const __start_nnc_papers[];
extern __attribute__((weak)) const nnc_paper *const __stop_nnc_papers[];

static const nnc_paper **sorted;
static int n_sorted = -1;

static int by_slug(const void *a, const void *b) {
  return strcmp((*(const nnc_paper *const *)a)->slug, (*(const nnc_paper *const *)b)->slug);
}

int nnc_papers(const nnc_paper *const **out) {
  if (n_sorted < 0) {
    n_sorted = (int)(__stop_nnc_papers - __start_nnc_papers);
    sorted = nnc_xmalloc((size_t)(n_sorted ? n_sorted : 1) * sizeof *sorted);
    for (int i = 0; i < n_sorted; i++) sorted[i] = __start_nnc_papers[i];
    qsort(sorted, (size_t)n_sorted, sizeof *sorted, by_slug);
  }
  *out = (const nnc_paper *const *)sorted;
  return n_sorted;
}

const nnc_paper *nnc_paper_find(const char *slug) {
  const nnc_paper *const *all;
  int n = nnc_papers(&all);
  for (int i = 0; i < n; i++)
    if (strcmp(all[i]->slug, slug) == 0) return all[i];
  return NULL;
}

void nnc_paper_metric(nnc_paper_run *r, const char *name, double value) { nnc_json_kv_number(&r->metrics, name, value); }

bool nnc_paper_criterion(nnc_paper_run *r, const char *name, double value, const char *op, double threshold) {
  bool pass;
  if (!strcmp(op, ">=")) pass = value >= threshold;
  else if (!strcmp(op, "<=")) pass = value <= threshold;
  else if (!strcmp(op, ">")) pass = value > threshold;
  else if (!strcmp(op, "<")) pass = value < threshold;
  else NNC_FAIL("paper_criterion", "unknown comparison '%s' (use >=, <=, >, <)", op);
  if (isnan(value)) pass = false;
  nnc_json_begin_object(&r->criteria);
  nnc_json_kv_string(&r->criteria, "name", name);
  nnc_json_kv_number(&r->criteria, "value", value);
  nnc_json_kv_string(&r->criteria, "op", op);
  nnc_json_kv_number(&r->criteria, "threshold", threshold);
  nnc_json_kv_bool(&r->criteria, "pass", pass);
  nnc_json_end_object(&r->criteria);
  r->n_criteria++;
  r->n_failed += !pass;
  fprintf(stderr, "  criterion %-40s %12.6g %s %-10g %s\n", name, value, op, threshold, pass ? "pass" : "FAIL");
  return pass;
}

static char path_buf[1024];
const char *nnc_paper_path(nnc_paper_run *r, const char *file) {
  snprintf(path_buf, sizeof path_buf, "%s/%s", r->out_dir, file);
  return path_buf;
}

void nnc_paper_log(nnc_paper_run *r, const char *fmt, ...) {
  (void)r;
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "  ");
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
}

int nnc_paper_execute(const nnc_paper *p, bool quick, uint64_t seed, const char *out_dir, const char *data_dir) {
  if (nnc_mkdirs(out_dir)) {
    fprintf(stderr, "nnc: %s\n", nnc_last_error());
    return 1;
  }
  nnc_paper_run r = {.quick = quick, .seed = seed, .out_dir = out_dir, .data_dir = data_dir};
  nnc_json_init(&r.metrics);
  nnc_json_init(&r.criteria);
  nnc_json_begin_object(&r.metrics);
  nnc_json_begin_array(&r.criteria);
  fprintf(stderr, "%s%s: %s\n", p->slug, quick ? " (quick)" : "", p->claim);
  nnc_seed(seed);
  double t0 = nnc_now();
  nnc_status st = p->run(&r);
  double seconds = nnc_now() - t0;
  nnc_step_end();
  nnc_json_end_object(&r.metrics);
  nnc_json_end_array(&r.criteria);
  int rc;
  if (st) {
    fprintf(stderr, "nnc: %s: %s\n", p->slug, nnc_last_error());
    rc = 1;
  } else {
    bool pass = r.n_failed == 0 && r.n_criteria > 0;
    nnc_json_writer w;
    nnc_json_init(&w);
    nnc_json_begin_object(&w);
    nnc_json_kv_string(&w, "paper", p->slug);
    nnc_json_kv_string(&w, "title", p->title);
    nnc_json_kv_string(&w, "claim", p->claim);
    nnc_json_kv_bool(&w, "quick", quick);
    nnc_json_kv_int(&w, "seed", (int64_t)seed);
    nnc_json_key(&w, "metrics");
    nnc_json_raw(&w, nnc_json_str(&r.metrics));
    nnc_json_key(&w, "criteria");
    nnc_json_raw(&w, nnc_json_str(&r.criteria));
    nnc_json_kv_bool(&w, "pass", pass);
    nnc_json_kv_number(&w, "seconds", seconds);
    nnc_json_end_object(&w);
    const char *json = nnc_json_str(&w);
    char path[1024];
    snprintf(path, sizeof path, "%s/result.json", out_dir);
    if (nnc_write_file_atomic(path, json, strlen(json))) {
      fprintf(stderr, "nnc: %s\n", nnc_last_error());
      rc = 1;
    } else {
      fprintf(stderr, "%s: %s (%d/%d criteria) in %.1f s; %s\n", p->slug, pass ? "PASS" : "FAIL", r.n_criteria - r.n_failed,
              r.n_criteria, seconds, path);
      rc = pass ? 0 : 3;
    }
    nnc_json_free(&w);
  }
  nnc_json_free(&r.metrics);
  nnc_json_free(&r.criteria);
  return rc;
}
