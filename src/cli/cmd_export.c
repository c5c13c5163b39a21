/* cli/cmd_export.c: `nnc export --format binary|int8 --weights W --model M --out FILE`: a
 * trained model to a compact inference file (infer/imodel.h, docs/inference.md), checked on
 * the Fashion-MNIST test set against its float simulation / integer reference. */
#include <stdio.h>
#include <string.h>
#include "cli/args.h"
#include "cli/commands.h"
#include "infer/binary_mlp.h"
#include "infer/int8_mlp.h"
#include "nnc.h"

int cmd_export(int argc, char **argv) {
  const char *format = NULL, *weights = NULL, *model = NULL, *out = NULL, *data = NULL, *calib_method = "minmax";
  int calib = 2048, epochs = 2, limit = 0, seed = 0, threads = 0;
  bool train = false, json = false, quiet = false;
  const arg_spec specs[] = {
      {"--format", ARG_STRING, &format, "binary or int8"},
      {"--weights", ARG_STRING, &weights, "the trained weights (safetensors); written first with --train"},
      {"--model", ARG_STRING, &model,
       "binary: binary-mlp-1bit (default) or binary-mlp; int8: fashion-mlp (default)"},
      {"--out", ARG_STRING, &out, "the inference file to write"},
      {"--data", ARG_STRING, &data, "Fashion-MNIST folder (default: the Debian package's)"},
      {"--calib", ARG_INT, &calib, "int8: training examples observed for the activation ranges (default 2048)"},
      {"--calib-method", ARG_STRING, &calib_method, "int8: minmax (default), percentile (99.99) or mse"},
      {"--train", ARG_BOOL, &train, "binary: first train the model with the STE and write --weights"},
      {"--epochs", ARG_INT, &epochs, "with --train: epochs (default 2)"},
      {"--limit", ARG_INT, &limit, "with --train: train on the first N examples (default all)"},
      {"--seed", ARG_INT, &seed, "with --train: the seed (default 0)"},
      {"--threads", ARG_INT, &threads, "threads (default: NNC_THREADS or all cores)"},
      {"--json", ARG_BOOL, &json, "print the report as one JSON line"},
      {"--quiet", ARG_BOOL, &quiet, "no progress bar while training"},
  };
  const char *usage =
      "usage: nnc export --format binary|int8 --weights W [--model M] --out FILE [--data DIR]\n"
      "                  [--calib N] [--calib-method minmax|percentile|mse]\n"
      "                  [--train [--epochs N] [--limit N] [--seed S]] [--threads T] [--json]\n\n"
      "Writes a compact inference model (docs/inference.md has the format):\n"
      "  binary  the binary MLP of papers/reste (fc0, bn0, fc1..fc2 binary, bn1..bn2, fc3): packed\n"
      "          +-1 weights, BatchNorm + sign folded into integer thresholds; binary-mlp-1bit has\n"
      "          1-bit first-layer weights too, binary-mlp an int8 first layer; last layer int8\n"
      "  int8    `nnc train fashion-mlp` weights quantised after training: int8 per-channel\n"
      "          weights, uint8 activations calibrated on training examples, int32 accumulation,\n"
      "          fixed-point requantisation (src/quant's integer reference)\n"
      "then reads the file back, runs it on the test set and compares its predictions with the\n"
      "float simulation (binary) or the integer reference (int8): they must be identical.";
  const char *pos[1];
  int np = 0;
  int rc = args_parse(argc, argv, 1, specs, (int)(sizeof specs / sizeof specs[0]), pos, 1, &np, usage);
  if (rc) return rc == 1 ? 0 : 2;
  if (np) {
    fprintf(stderr, "nnc export: unexpected argument '%s' (see --help)\n", pos[0]);
    return 2;
  }
  if (!format || (strcmp(format, "binary") != 0 && strcmp(format, "int8") != 0)) {
    fprintf(stderr, "nnc export: --format must be binary or int8\n");
    return 2;
  }
  bool binary = strcmp(format, "binary") == 0;
  if (!model) model = binary ? "binary-mlp-1bit" : "fashion-mlp";
  nnc_bmlp_arch arch;
  if (binary ? !nnc_bmlp_arch_of(model, &arch) : strcmp(model, "fashion-mlp") != 0) {
    fprintf(stderr, "nnc export: --model for --format %s must be %s, not '%s'\n", format,
            binary ? "binary-mlp-1bit or binary-mlp" : "fashion-mlp", model);
    return 2;
  }
  if (!weights || !out) {
    fprintf(stderr, "nnc export: give --weights and --out\n");
    return 2;
  }
  if (train && !binary) {
    fprintf(stderr, "nnc export: --train is for --format binary (train fashion-mlp with `nnc train fashion-mlp`)\n");
    return 2;
  }
  nnc_calib_method method;
  if (strcmp(calib_method, "minmax") == 0) method = NNC_CALIB_MINMAX;
  else if (strcmp(calib_method, "percentile") == 0) method = NNC_CALIB_PERCENTILE;
  else if (strcmp(calib_method, "mse") == 0) method = NNC_CALIB_MSE;
  else {
    fprintf(stderr, "nnc export: --calib-method must be minmax, percentile or mse\n");
    return 2;
  }
  if (calib < 1 || epochs < 1 || limit < 0 || seed < 0 || threads < 0) {
    fprintf(stderr, "nnc export: --calib and --epochs must be >= 1, --limit, --seed and --threads >= 0\n");
    return 2;
  }
  if (threads) nnc_set_threads(threads);
  nnc_status st;
  if (train) {
    nnc_bmlp_train_opts to = {.arch = arch, .epochs = epochs, .limit = limit, .seed = (uint64_t)seed, .data_dir = data,
                              .quiet = quiet || json};
    double acc;
    double t0 = nnc_now();
    if ((st = nnc_bmlp_train(&to, weights, &acc))) {
      fprintf(stderr, "nnc: %s\n", nnc_last_error());
      return 1;
    }
    if (!json) printf("trained %s (STE, %d epochs) in %.1f s: float test accuracy %.2f%% -> %s\n", model, epochs,
                      nnc_now() - t0, 100 * acc, weights);
  }
  nnc_export_report r;
  double t0 = nnc_now();
  if (binary) st = nnc_bmlp_export(weights, model, out, data, &r);
  else {
    nnc_q8mlp_opts qo = {.calib = calib, .method = method};
    st = nnc_q8mlp_export(weights, out, data, &qo, &r);
  }
  if (st) {
    fprintf(stderr, "nnc: %s\n", nnc_last_error());
    return 1;
  }
  double ratio = r.file_bytes > 0 ? (double)r.st_bytes / (double)r.file_bytes : 0;
  if (json) {
    printf("{\"format\": \"%s\", \"model\": \"%s\", \"out\": \"%s\", \"file_bytes\": %lld, \"safetensors_bytes\": %lld, "
           "\"size_ratio\": %.2f, \"test_images\": %lld, \"float_acc\": %.4f, \"sim_acc\": %.4f, ",
           format, model, out, (long long)r.file_bytes, (long long)r.st_bytes, ratio, (long long)r.n_test, r.float_acc,
           r.sim_acc);
    if (!binary) printf("\"fakequant_acc\": %.4f, ", r.fq_acc);
    printf("\"file_acc\": %.4f, \"pred_diff_sim\": %lld, \"pred_diff_float\": %lld, \"value_diff\": %lld, "
           "\"isa\": \"%s\", \"seconds\": %.2f}\n",
           r.file_acc, (long long)r.pred_diff_sim, (long long)r.pred_diff_float, (long long)r.value_diff, r.isa,
           nnc_now() - t0);
  } else {
    printf("%s: %s %s model, %lld bytes (%s: %lld bytes, %.1fx smaller)\n", out, format, model, (long long)r.file_bytes,
           weights, (long long)r.st_bytes, ratio);
    printf("test set (%lld images):\n", (long long)r.n_test);
    char file_label[96];
    snprintf(file_label, sizeof file_label, "exported file (%s kernels)", r.isa);
    printf("  %-48s %.2f%%\n", "float model (f32, the trained graph)", 100 * r.float_acc);
    if (binary) printf("  %-48s %.2f%%\n", "float simulation (f64 nnc ops)", 100 * r.sim_acc);
    else {
      printf("  %-48s %.2f%%\n", "fake-quant simulation (f64 nnc ops)", 100 * r.fq_acc);
      printf("  %-48s %.2f%%\n", "integer reference (quant/qint.h)", 100 * r.sim_acc);
    }
    printf("  %-48s %.2f%%\n", file_label, 100 * r.file_acc);
    printf("  predictions that differ from the %s: %lld; %s that differ: %lld; from the float model: %lld\n",
           binary ? "simulation" : "reference", (long long)r.pred_diff_sim, binary ? "hidden bits" : "output codes",
           (long long)r.value_diff, (long long)r.pred_diff_float);
  }
  if (r.pred_diff_sim || r.value_diff) {
    fprintf(stderr, "nnc export: the exported model does not reproduce its %s\n", binary ? "simulation" : "reference");
    return 1;
  }
  return 0;
}
