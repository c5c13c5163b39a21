/* cli/cmd_infer.c: `nnc infer FILE [--data DIR] [--batch B]`: runs an exported inference
 * model (`nnc export`) on the Fashion-MNIST test set; prints the accuracy and the throughput. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/args.h"
#include "cli/commands.h"
#include "infer/binary_mlp.h"
#include "infer/imodel.h"
#include "nnc.h"

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

int cmd_infer(int argc, char **argv) {
  const char *data = NULL;
  int batch = 256, threads = 0, reps = 5, limit = 0;
  bool json = false, portable = false;
  const arg_spec specs[] = {
      {"--data", ARG_STRING, &data, "Fashion-MNIST folder (default: the Debian package's)"},
      {"--batch", ARG_INT, &batch, "images per forward call (default 256)"},
      {"--threads", ARG_INT, &threads, "threads (default: NNC_THREADS or all cores)"},
      {"--reps", ARG_INT, &reps, "timed passes over the test set; the median is reported (default 5)"},
      {"--limit", ARG_INT, &limit, "use the first N test images (default all)"},
      {"--portable", ARG_BOOL, &portable, "use the portable C kernels instead of AVX-512"},
      {"--json", ARG_BOOL, &json, "print one JSON line"},
  };
  const char *usage =
      "usage: nnc infer FILE [--data DIR] [--batch B] [--threads T] [--reps R] [--limit N] [--portable] [--json]\n\n"
      "Runs an inference model written by `nnc export` on the Fashion-MNIST test set (raw pixels in,\n"
      "integer kernels all the way) and prints its accuracy and throughput in images per second\n"
      "(the median of R passes over the test set in calls of B images).";
  const char *pos[1];
  int np = 0;
  int rc = args_parse(argc, argv, 1, specs, (int)(sizeof specs / sizeof specs[0]), pos, 1, &np, usage);
  if (rc) return rc == 1 ? 0 : 2;
  if (np != 1) {
    fprintf(stderr, "nnc infer: name an inference model file (from nnc export)\n");
    return 2;
  }
  if (batch < 1 || threads < 0 || reps < 1 || limit < 0) {
    fprintf(stderr, "nnc infer: --batch and --reps must be >= 1, --threads and --limit >= 0\n");
    return 2;
  }
  if (threads) nnc_set_threads(threads);
  nnc_infer_force_portable(portable);
  nnc_imodel m;
  if (nnc_imodel_load(pos[0], &m)) {
    fprintf(stderr, "nnc: %s\n", nnc_last_error());
    return 1;
  }
  nnc_dataset test;
  if (nnc_fashion_load(data, false, &test)) {
    fprintf(stderr, "nnc: %s\n", nnc_last_error());
    nnc_imodel_free(&m);
    return 1;
  }
  int status = 0;
  int64_t n = limit > 0 && limit < test.n ? limit : test.n, D = test.x->shape[1];
  uint8_t *px = NULL;
  int64_t *pred = NULL;
  double *ms = NULL;
  if (D != m.in) {
    fprintf(stderr, "nnc: %s takes %lld inputs, the images have %lld\n", pos[0], (long long)m.in, (long long)D);
    status = 1;
    goto done;
  }
  px = malloc((size_t)(test.n * D));
  pred = malloc((size_t)n * sizeof *pred);
  ms = malloc((size_t)reps * sizeof *ms);
  if (!px || !pred || !ms) {
    fprintf(stderr, "nnc: out of memory\n");
    status = 1;
    goto done;
  }
  if (nnc_fashion_pixels(&test, px)) {
    fprintf(stderr, "nnc: %s\n", nnc_last_error());
    status = 1;
    goto done;
  }
  nnc_imodel_forward(&m, n < batch ? n : batch, px, pred, NULL, NULL); /* warm-up */
  for (int r = 0; r < reps; r++) {
    double t0 = nnc_now();
    for (int64_t i = 0; i < n; i += batch)
      nnc_imodel_forward(&m, n - i < batch ? n - i : batch, px + i * D, pred + i, NULL, NULL);
    ms[r] = (nnc_now() - t0) * 1e3;
  }
  qsort(ms, (size_t)reps, sizeof *ms, cmp_double);
  double med = reps % 2 ? ms[reps / 2] : 0.5 * (ms[reps / 2 - 1] + ms[reps / 2]);
  int64_t correct = 0;
  for (int64_t i = 0; i < n; i++) correct += pred[i] == nnc_i64(test.y)[i];
  double acc = (double)correct / (double)n, ips = (double)n / (med * 1e-3);
  char isa[64];
  if (m.kind == NNC_IMODEL_BINARY) snprintf(isa, sizeof isa, "%s+%s", nnc_infer_bin_isa(), nnc_infer_q8_isa());
  else snprintf(isa, sizeof isa, "%s", nnc_infer_q8_isa());
  if (json)
    printf("{\"file\": \"%s\", \"kind\": \"%s\", \"test_images\": %lld, \"test_acc\": %.4f, \"images_per_s\": %.0f, "
           "\"ms_per_pass\": %.3f, \"batch\": %d, \"threads\": %d, \"isa\": \"%s\"}\n",
           pos[0], nnc_imodel_kind_name(m.kind), (long long)n, acc, ips, med, batch, nnc_get_threads(), isa);
  else {
    printf("%s: %s model, %d layers: %s\n", pos[0], nnc_imodel_kind_name(m.kind), m.n, m.desc);
    printf("test_acc %.2f%% (%lld images)\n", 100 * acc, (long long)n);
    printf("throughput %.0f images/s (%.3f ms per pass, batch %d, %d threads, %s kernels)\n", ips, med, batch,
           nnc_get_threads(), isa);
  }
done:
  free(px);
  free(pred);
  free(ms);
  nnc_dataset_free(&test);
  nnc_imodel_free(&m);
  return status;
}
