/* cli/cmd_bench.c: `nnc bench transformer [--threads T] [--steps N] [--warmup W]`: times one
 * training step of a small causal Transformer (bench/transformer.sh compares it with
 * bench/torch_transformer.py, the same model in PyTorch):
 *   token embedding (vocab 16, width 64) + learned positions (64 x 64),
 *   2 pre-norm encoder layers (LayerNorm, 2-head causal self-attention, LayerNorm,
 *     GELU feed-forward 64 -> 256 -> 64; no dropout),
 *   final LayerNorm, linear head 64 -> 16,
 *   batch 32, sequence 64, cross-entropy against random tokens, Adam (lr 1e-3).
 * A step = zero_grad + forward + backward + Adam step + nnc_step_end.  After W untimed
 * steps, each of N steps is timed alone; prints one JSON line
 * {"bench", "ms_per_step" (median), "ms_min", "threads", "steps", "loss"}. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "cli/args.h"
#include "cli/commands.h"
#include "nnc.h"
#include "infer/bench_infer.h"

enum { VOCAB = 16, WIDTH = 64, HEADS = 2, FF = 256, LAYERS = 2, BATCH = 32, SEQ = 64 };

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e3 + (double)t.tv_nsec * 1e-6;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

typedef struct {
  nnc_embedding_mod *tok;
  nnc_learned_pos_mod *pos;
  nnc_encoder_layer_mod *blocks[LAYERS];
  nnc_layernorm_mod *norm;
  nnc_linear_mod *head;
} model;

static nnc_tensor *model_loss(model *m, nnc_tensor *idx, nnc_tensor *tgt) {
  nnc_tensor *x = nnc_forward(&m->pos->base, nnc_forward(&m->tok->base, idx));
  for (int l = 0; l < LAYERS; l++) x = nnc_encoder_layer_forward(m->blocks[l], x, NULL, true);
  x = nnc_layer_norm(x, m->norm->weight, m->norm->bias, m->norm->eps);
  nnc_tensor *logits = nnc_forward(&m->head->base, x);
  return nnc_cross_entropy(nnc_reshape(logits, NNC_SHAPE(BATCH * SEQ, VOCAB)), tgt, 0.0, NNC_REDUCE_MEAN);
}

static int bench_transformer(int threads, int steps, int warmup) {
  nnc_set_threads(threads);
  nnc_rng rng;
  nnc_rng_seed(&rng, 0, 1);
  nnc_params p;
  nnc_params_init(&p, NNC_F32);
  model m;
  m.tok = nnc_new_embedding(&p, "tok", VOCAB, WIDTH, &rng);
  m.pos = nnc_new_learned_pos(&p, "pos", SEQ, WIDTH, &rng);
  nnc_transformer_opts o = {.d_model = WIDTH, .nhead = HEADS, .dim_ff = FF, .causal = true};
  for (int l = 0; l < LAYERS; l++) {
    char name[32];
    snprintf(name, sizeof name, "blocks.%d", l);
    m.blocks[l] = nnc_new_encoder_layer(&p, name, o, &rng);
  }
  m.norm = nnc_new_layernorm(&p, "norm", WIDTH, 1e-5, true);
  m.head = nnc_new_linear(&p, "head", WIDTH, VOCAB, true, &rng);
  nnc_optim opt;
  nnc_adam_init(&opt, &p, 1e-3, 0.9, 0.999, 1e-8, 0.0);

  nnc_rng data;
  nnc_rng_seed(&data, 1, 2);
  int64_t *idx = malloc(sizeof(int64_t) * BATCH * SEQ), *tgt = malloc(sizeof(int64_t) * BATCH * SEQ);
  double *ms = malloc(sizeof(double) * (size_t)(steps > 0 ? steps : 1));
  double loss = 0;
  for (int s = 0; s < warmup + steps; s++) {
    double t0 = now_ms();
    for (int i = 0; i < BATCH * SEQ; i++) idx[i] = nnc_rng_below(&data, VOCAB), tgt[i] = nnc_rng_below(&data, VOCAB);
    nnc_params_zero_grad(&p);
    nnc_tensor *ti = nnc_wrap(NNC_I64, NNC_SHAPE(BATCH, SEQ), idx), *tt = nnc_wrap(NNC_I64, NNC_SHAPE(BATCH * SEQ), tgt);
    nnc_tensor *l = model_loss(&m, ti, tt);
    nnc_backward(l);
    nnc_optim_step(&opt);
    loss = nnc_item(l);
    nnc_step_end();
    if (s >= warmup) ms[s - warmup] = now_ms() - t0;
  }
  qsort(ms, (size_t)steps, sizeof *ms, cmp_double);
  double median = steps % 2 ? ms[steps / 2] : 0.5 * (ms[steps / 2 - 1] + ms[steps / 2]);
  printf("{\"bench\": \"transformer\", \"ms_per_step\": %.4f, \"ms_min\": %.4f, \"threads\": %d, \"steps\": %d, "
         "\"loss\": %.6f}\n",
         median, ms[0], threads, steps, loss);
  free(idx);
  free(tgt);
  free(ms);
  nnc_optim_free(&opt);
  nnc_module_free(&m.tok->base);
  nnc_module_free(&m.pos->base);
  for (int l = 0; l < LAYERS; l++) nnc_module_free(&m.blocks[l]->base);
  nnc_module_free(&m.norm->base);
  nnc_module_free(&m.head->base);
  nnc_params_free(&p);
  return 0;
}

int cmd_bench(int argc, char **argv) {
  int threads = nnc_get_threads(), steps = 100, warmup = 10;
  double sparsity = 0;
  const arg_spec specs[] = {
      {"--threads", ARG_INT, &threads, "threads (default: NNC_THREADS or all cores)"},
      {"--steps", ARG_INT, &steps, "timed steps (default 100); the median is reported"},
      {"--warmup", ARG_INT, &warmup, "untimed steps first (default 10)"},
      {"--sparsity", ARG_DOUBLE, &sparsity, "sparse: one sparsity in (0, 1) (default: 0.5, 0.75, 0.9, 0.95)"},
  };
  const char *pos[1] = {NULL};
  int np = 0;
  const char *usage =
      "usage: nnc bench transformer|binary|int8|sparse [--threads T] [--steps N] [--warmup W] [--sparsity S]\n\n"
      "binary, int8: a 1024x1024 layer at batch 64, nnc's fp32 matmul against the bit-packed\n"
      "XNOR-popcount kernel or the int8 kernel; one JSON line with fp32_ms, kernel_ms, speedup.\n"
      "sparse: the same layer magnitude-pruned to each sparsity, nnc's fp32 matmul against the sparse\n"
      "kernel (docs/sparse.md); one JSON line per sparsity with dense_ms, sparse_ms, speedup.\n"
      "transformer: times a training step (forward, backward, Adam) of a 2-layer pre-norm causal Transformer\n"
      "(width 64, 2 heads, feed-forward 256, vocab 16, batch 32, sequence 64) and prints one JSON\n"
      "line with the median milliseconds per step.  bench/transformer.sh compares it with PyTorch.";
  int rc = args_parse(argc, argv, 1, specs, 4, pos, 1, &np, usage);
  if (rc) return rc == 1 ? 0 : 2;
  if (sparsity != 0 && (np != 1 || strcmp(pos[0], "sparse") != 0 || !(sparsity > 0 && sparsity < 1))) {
    fprintf(stderr, "nnc bench: --sparsity is for `nnc bench sparse` and must be in (0, 1)\n");
    return 2;
  }
  if (np == 1 && (strcmp(pos[0], "binary") == 0 || strcmp(pos[0], "int8") == 0 || strcmp(pos[0], "sparse") == 0)) {
    /* inference kernels (src/infer): one thread and the kernels' own repetition count unless given */
    bool given_threads = false, given_steps = false;
    for (int i = 1; i < argc; i++) {
      given_threads |= strcmp(argv[i], "--threads") == 0;
      given_steps |= strcmp(argv[i], "--steps") == 0;
    }
    nnc_bench_infer_opts o = {.threads = given_threads ? threads : 1, .reps = given_steps ? steps : 0, .sparsity = sparsity};
    if (strcmp(pos[0], "sparse") == 0) return nnc_bench_sparse(&o, stdout);
    return strcmp(pos[0], "binary") == 0 ? nnc_bench_binary(&o, stdout) : nnc_bench_int8(&o, stdout);
  }
  if (np != 1 || strcmp(pos[0], "transformer") != 0) {
    fprintf(stderr, "nnc bench: expected a benchmark name: transformer, binary, int8 or sparse (see --help)\n");
    return 2;
  }
  if (threads < 1 || steps < 1 || warmup < 0) {
    fprintf(stderr, "nnc bench: --threads and --steps must be >= 1, --warmup >= 0\n");
    return 2;
  }
  return bench_transformer(threads, steps, warmup);
}
