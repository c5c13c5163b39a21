/* bench/bench_conv.c: times the convolution kernels on the Fashion-MNIST CNN's two layers,
 * and checks every kernel against the reference on larger random shapes.
 *
 *   make bench && build/bench/bench_conv            (timings at 1 and 2 threads)
 *   build/bench/bench_conv check                    (fast kernels vs reference, f32 and f64)
 *   build/bench/bench_conv quick                    (fewer repetitions)
 *   build/bench/bench_conv --threads 2 --skip-direct (one thread count; without the slow one)
 *   build/bench/bench_conv --reps 60                (more repetitions: on a busy machine the
 *                                                     least of more runs is nearer an idle one)
 *   build/bench/bench_conv shapes                   (other shapes: RGB input, 1x1, strided,
 *                                                     depthwise, grouped, 1-d, dilated)
 *
 * Layers (batch 128, f32): conv1 5x5, 1 -> 32 channels, 28x28, pad 2;
 *                          conv2 5x5, 32 -> 64 channels, 14x14, pad 2.
 * Each pass (fwd with bias, bwd_data, bwd_weights with the bias gradient) of each kernel is
 * repeated after a warm-up; a cell gives the least wall time in ms, in brackets (one thread
 * only) the least CPU time, steadier when other programs share the cores, and GFLOP/s at the
 * least wall time (2 * N*O*OH*OW * C/G*KH*KW flops per pass).  "step" is what one training
 * step costs: fwd + bwd_weights for conv1 (its input needs no gradient), all three for
 * conv2; "reorders" the part of it spent converting to and from oneDNN's layouts.  The machine is shared, so the minimum is the number to read. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nnc.h"
#include "ops/conv_onednn.h"

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}
/* CPU time of the calling thread: unlike the wall clock it stops while another program has
 * the core, so on a shared machine it is the steadier estimate of an idle single-threaded
 * run.  (Not for several threads: Linux's process CPU clock leaves out the slice another
 * thread is running now, and OpenMP threads spin while they wait for a preempted one.) */
static double cpu_now(void) {
  struct timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}
static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static nnc_conv_geom layer(int64_t N, int64_t C, int64_t HW, int64_t O, int64_t k, int64_t pad) {
  return (nnc_conv_geom){N, C, HW, HW, O, HW + 2 * pad - k + 1, HW + 2 * pad - k + 1, k, k, 1, 1, pad, pad, 1, 1, 1};
}

static double flops(const nnc_conv_geom *g) {
  return 2.0 * (double)(g->N * g->O * g->OH * g->OW) * (double)(g->C / g->G * g->KH * g->KW);
}

static void fill(float *p, int64_t n, unsigned seed) {
  for (int64_t i = 0; i < n; i++) {
    seed = seed * 1664525u + 1013904223u;
    p[i] = (float)((seed >> 8) * (1.0 / 16777216.0) * 2.0 - 1.0);
  }
}

typedef struct {
  float *x, *w, *b, *y, *dx, *dw, *db;
} bufs;

static bufs alloc_bufs(const nnc_conv_geom *g) {
  int64_t nx = g->N * g->C * g->H * g->W, ny = g->N * g->O * g->OH * g->OW, nw = g->O * g->C / g->G * g->KH * g->KW;
  bufs b = {nnc_xmalloc(nx * 4), nnc_xmalloc(nw * 4), nnc_xmalloc(g->O * 4), nnc_xmalloc(ny * 4),
            nnc_xmalloc(nx * 4), nnc_xmalloc(nw * 4), nnc_xmalloc(g->O * 4)};
  fill(b.x, nx, 1);
  fill(b.w, nw, 2);
  fill(b.b, g->O, 3);
  fill(b.y, ny, 4); /* doubles as dy */
  return b;
}
static void free_bufs(bufs *b) {
  free(b->x), free(b->w), free(b->b), free(b->y), free(b->dx), free(b->dw), free(b->db);
}

enum { FWD, BWD_DATA, BWD_WEIGHTS, NPASS };
static const char *pass_name[NPASS] = {"fwd", "bwd_data", "bwd_weights"};

static void run_pass(int pass, nnc_conv_impl impl, const nnc_conv_geom *g, bufs *b) {
  if (pass == FWD) nnc_conv_fwd(impl, NNC_F32, g, b->x, b->w, b->b, b->y);
  else if (pass == BWD_DATA) nnc_conv_bwd_data(impl, NNC_F32, g, b->y, b->w, b->dx);
  else nnc_conv_bwd_weights(impl, NNC_F32, g, b->x, b->y, b->dw, b->db);
  nnc_arena_reset(nnc_arena_current());
}

/* the least wall seconds of reps runs after a warm-up, the least CPU seconds (NAN when more
 * than one thread runs), and the least time spent in reorders */
static void time_pass(int pass, nnc_conv_impl impl, const nnc_conv_geom *g, bufs *b, int reps, double *tmin,
                      double *tcpu, double *treorder) {
  double t[64], ro[64], c[64];
  int nt = omp_get_max_threads();
  if (reps > 64) reps = 64;
  if (reps < 1) reps = 1;
  run_pass(pass, impl, g, b);
  run_pass(pass, impl, g, b);
  for (int r = 0; r < reps; r++) {
    double r0 = nnc_conv_onednn_reorder_seconds(), c0 = cpu_now(), t0 = now();
    run_pass(pass, impl, g, b);
    t[r] = now() - t0;
    c[r] = nt == 1 ? cpu_now() - c0 : NAN;
    ro[r] = nnc_conv_onednn_reorder_seconds() - r0;
  }
  qsort(t, (size_t)reps, sizeof *t, cmp_double);
  qsort(ro, (size_t)reps, sizeof *ro, cmp_double);
  if (nt == 1) qsort(c, (size_t)reps, sizeof *c, cmp_double);
  *tmin = t[0];
  *tcpu = c[0];
  *treorder = ro[0];
}

static int reps_override;

static void bench(bool quick, int only_threads, bool skip_direct) {
  nnc_conv_geom layers[2] = {layer(128, 1, 28, 32, 5, 2), layer(128, 32, 14, 64, 5, 2)};
  const char *lname[2] = {"conv1 1->32 28x28", "conv2 32->64 14x14"};
  nnc_conv_impl impls[] = {NNC_CONV_DIRECT, NNC_CONV_IM2COL, NNC_CONV_ONEDNN, NNC_CONV_ONEDNN_BLOCKED,
                           NNC_CONV_ONEDNN_NHWC};
  int nimpl = (int)(sizeof impls / sizeof *impls);
  printf("oneDNN implementations (plain / blocked / nhwc):\n");
  for (int l = 0; l < 2; l++)
    for (int p = 0; p < NPASS; p++) {
      printf("  %-20s %-12s", lname[l], pass_name[p]);
      for (int m = 0; m < 3; m++) printf(" %-24s", nnc_conv_onednn_impl(&layers[l], (nnc_conv_layout)m, p, true));
      printf("\n");
    }
  for (int threads = 1; threads <= 2; threads++) {
    if (only_threads && threads != only_threads) continue;
    omp_set_num_threads(threads);
    printf("\nthreads %d, batch 128, f32: wall ms (cpu ms, 1 thread only) GFLOP/s at the wall time, each the least of "
           "the runs\n", threads);
    printf("%-16s %-20s %24s %24s %24s %16s %10s\n", "kernel", "layer", "fwd", "bwd_data", "bwd_weights", "step ms",
           "reorders");
    double total[8] = {0}, total_cpu[8] = {0};
    for (int l = 0; l < 2; l++) {
      bufs b = alloc_bufs(&layers[l]);
      double f = flops(&layers[l]);
      for (int k = 0; k < nimpl; k++) {
        if (skip_direct && impls[k] == NNC_CONV_DIRECT) continue;
        printf("%-16s %-20s", nnc_conv_impl_name[impls[k]], lname[l]);
        double step = 0, step_cpu = 0, reorders = 0;
        for (int p = 0; p < NPASS; p++) {
          double tmin, tcpu, tro;
          int reps = reps_override ? reps_override : quick ? 5 : (impls[k] == NNC_CONV_DIRECT ? 7 : 25);
          time_pass(p, impls[k], &layers[l], &b, reps, &tmin, &tcpu, &tro);
          char cell[64];
          if (isnan(tcpu)) snprintf(cell, sizeof cell, "%.2f %5.0f", 1e3 * tmin, f / tmin * 1e-9);
          else snprintf(cell, sizeof cell, "%.2f (%.2f) %5.0f", 1e3 * tmin, 1e3 * tcpu, f / tmin * 1e-9);
          printf(" %24s", cell);
          if (!(l == 0 && p == BWD_DATA)) step += tmin, step_cpu += tcpu, reorders += tro;
        }
        total[k] += step;
        total_cpu[k] += step_cpu;
        char cell[64];
        if (isnan(step_cpu)) snprintf(cell, sizeof cell, "%.2f", 1e3 * step);
        else snprintf(cell, sizeof cell, "%.2f (%.2f)", 1e3 * step, 1e3 * step_cpu);
        printf(" %16s %10.2f\n", cell, 1e3 * reorders);
        fflush(stdout);
      }
      free_bufs(&b);
    }
    printf("both layers, one step, ms wall%s:", threads == 1 ? " (cpu)" : "");
    for (int k = 0; k < nimpl; k++)
      if (!(skip_direct && impls[k] == NNC_CONV_DIRECT))
        printf(isnan(total_cpu[k]) ? "  %s %.2f" : "  %s %.2f (%.2f)", nnc_conv_impl_name[impls[k]], 1e3 * total[k],
               1e3 * total_cpu[k]);
    printf("\n");
  }
}

/* other shapes, to see whether the choice holds beyond the CNN: least ms per pass (CPU time at
 * one thread, wall time at two) */
static void bench_shapes(bool quick, int only_threads) {
  struct {
    const char *name;
    nnc_conv_geom g;
  } shapes[] = {
      {"rgb 3->32 32x32 k3 p1 N64", {64, 3, 32, 32, 32, 32, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1}},
      {"3x3 64->64 28x28 p1 N32", {32, 64, 28, 28, 64, 28, 28, 3, 3, 1, 1, 1, 1, 1, 1, 1}},
      {"3x3 s2 64->128 28x28 N32", {32, 64, 28, 28, 128, 14, 14, 3, 3, 2, 2, 1, 1, 1, 1, 1}},
      {"1x1 128->256 14x14 N32", {32, 128, 14, 14, 256, 14, 14, 1, 1, 1, 1, 0, 0, 1, 1, 1}},
      {"dw 3x3 128 28x28 p1 N32", {32, 128, 28, 28, 128, 28, 28, 3, 3, 1, 1, 1, 1, 1, 1, 128}},
      {"grp8 3x3 64->64 28x28 N32", {32, 64, 28, 28, 64, 28, 28, 3, 3, 1, 1, 1, 1, 1, 1, 8}},
      {"1d k5 64->64 L256 p2 N32", {32, 64, 1, 256, 64, 1, 256, 1, 5, 1, 1, 0, 2, 1, 1, 1}},
      {"dil2 3x3 32->32 28x28 N32", {32, 32, 28, 28, 32, 28, 28, 3, 3, 1, 1, 2, 2, 2, 2, 1}},
  };
  nnc_conv_impl impls[] = {NNC_CONV_IM2COL, NNC_CONV_ONEDNN, NNC_CONV_ONEDNN_BLOCKED, NNC_CONV_ONEDNN_NHWC};
  int nimpl = (int)(sizeof impls / sizeof *impls), nshape = (int)(sizeof shapes / sizeof *shapes);
  for (int threads = 1; threads <= 2; threads++) {
    if (only_threads && threads != only_threads) continue;
    omp_set_num_threads(threads);
    printf("\nother shapes, threads %d, f32: %s ms (least of the runs), fwd / bwd_data / bwd_weights\n%-28s", threads,
           threads == 1 ? "cpu" : "wall", "shape");
    for (int k = 0; k < nimpl; k++) printf(" %26s", nnc_conv_impl_name[impls[k]]);
    printf("\n");
    for (int i = 0; i < nshape; i++) {
      bufs b = alloc_bufs(&shapes[i].g);
      printf("%-28s", shapes[i].name);
      for (int k = 0; k < nimpl; k++) {
        double t[NPASS], tcpu[NPASS], tro;
        for (int p = 0; p < NPASS; p++) time_pass(p, impls[k], &shapes[i].g, &b, quick ? 3 : 9, &t[p], &tcpu[p], &tro);
        char cell[64];
        for (int p = 0; p < NPASS; p++)
          if (threads == 1) t[p] = tcpu[p];
        snprintf(cell, sizeof cell, "%.2f / %.2f / %.2f", 1e3 * t[0], 1e3 * t[1], 1e3 * t[2]);
        printf(" %26s", cell);
      }
      printf("\n");
      fflush(stdout);
      free_bufs(&b);
    }
  }
}

/* ---------------------------------------------------------------- check */

static double max_rel(const void *a, const void *b, int64_t n, bool f32) {
  double e = 0;
  for (int64_t i = 0; i < n; i++) {
    double x = f32 ? ((const float *)a)[i] : ((const double *)a)[i];
    double y = f32 ? ((const float *)b)[i] : ((const double *)b)[i];
    double d = fabs(x - y) / fmax(1.0, fmax(fabs(x), fabs(y)));
    if (!(d <= e)) e = isnan(d) ? INFINITY : d;
  }
  return e;
}

static void fill_any(void *p, int64_t n, unsigned seed, bool f32) {
  float *t = nnc_xmalloc((size_t)n * 4 + 4);
  fill(t, n, seed);
  for (int64_t i = 0; i < n; i++) {
    if (f32) ((float *)p)[i] = t[i];
    else ((double *)p)[i] = t[i];
  }
  free(t);
}

/* every pass of every kernel against the reference; returns the number of failures */
static int check_geom(const nnc_conv_geom *g, nnc_rng *rng) {
  (void)rng;
  int fails = 0;
  int64_t nx = g->N * g->C * g->H * g->W, ny = g->N * g->O * g->OH * g->OW, nw = g->O * g->C / g->G * g->KH * g->KW;
  for (int dt = 0; dt < 2; dt++) {
    bool f32 = dt == 0;
    size_t es = f32 ? 4 : 8;
    nnc_dtype t = f32 ? NNC_F32 : NNC_F64;
    void *x = nnc_xmalloc(nx * es), *w = nnc_xmalloc(nw * es), *b = nnc_xmalloc(g->O * es), *dy = nnc_xmalloc(ny * es);
    fill_any(x, nx, 11, f32), fill_any(w, nw, 12, f32), fill_any(b, g->O, 13, f32), fill_any(dy, ny, 14, f32);
    void *r[4] = {nnc_xmalloc(ny * es), nnc_xmalloc(nx * es), nnc_xmalloc(nw * es), nnc_xmalloc(g->O * es)};
    void *o[4] = {nnc_xmalloc(ny * es), nnc_xmalloc(nx * es), nnc_xmalloc(nw * es), nnc_xmalloc(g->O * es)};
    nnc_conv_fwd(NNC_CONV_REF, t, g, x, w, b, r[0]);
    nnc_conv_bwd_data(NNC_CONV_REF, t, g, dy, w, r[1]);
    nnc_conv_bwd_weights(NNC_CONV_REF, t, g, x, dy, r[2], r[3]);
    nnc_conv_impl impls[] = {NNC_CONV_AUTO,   NNC_CONV_DIRECT,         NNC_CONV_IM2COL,
                             NNC_CONV_ONEDNN, NNC_CONV_ONEDNN_BLOCKED, NNC_CONV_ONEDNN_NHWC};
    for (int k = 0; k < 6; k++) {
      if (!f32 && k != 0 && impls[k] != NNC_CONV_IM2COL) continue; /* the others run im2col for f64 */
      for (int i = 0; i < 4; i++) memset(o[i], 0xff, (size_t)(i == 0 ? ny : i == 1 ? nx : i == 2 ? nw : g->O) * es);
      nnc_conv_fwd(impls[k], t, g, x, w, b, o[0]);
      nnc_conv_bwd_data(impls[k], t, g, dy, w, o[1]);
      nnc_conv_bwd_weights(impls[k], t, g, x, dy, o[2], o[3]);
      nnc_arena_reset(nnc_arena_current());
      /* sums of up to C/G*KH*KW (or N*OH*OW) terms of size ~1: scale the tolerance */
      double tol = f32 ? 1e-5 * sqrt((double)(g->N * g->OH * g->OW + g->C * g->KH * g->KW)) : 1e-12;
      double e[4] = {max_rel(o[0], r[0], ny, f32), max_rel(o[1], r[1], nx, f32), max_rel(o[2], r[2], nw, f32),
                     max_rel(o[3], r[3], g->O, f32)};
      bool ok = e[0] <= tol && e[1] <= tol && e[2] <= tol && e[3] <= tol;
      fails += !ok;
      printf("  %s %-15s fwd %.1e  bwd_data %.1e  bwd_weights %.1e  bias %.1e  %s\n", f32 ? "f32" : "f64",
             nnc_conv_impl_name[impls[k]], e[0], e[1], e[2], e[3], ok ? "ok" : "FAIL");
    }
    free(x), free(w), free(b), free(dy);
    for (int i = 0; i < 4; i++) free(r[i]), free(o[i]);
  }
  return fails;
}

static int check(void) {
  nnc_rng rng;
  nnc_rng_seed(&rng, 42, 1);
  int fails = 0;
  /* the bench layers at a smaller batch, then random shapes */
  nnc_conv_geom fixed[2] = {layer(4, 1, 28, 32, 5, 2), layer(3, 32, 14, 64, 5, 2)};
  for (int i = 0; i < 2; i++) {
    printf("geometry N%lld C%lld %lldx%lld O%lld k%lldx%lld pad %lld\n", (long long)fixed[i].N, (long long)fixed[i].C,
           (long long)fixed[i].H, (long long)fixed[i].W, (long long)fixed[i].O, (long long)fixed[i].KH,
           (long long)fixed[i].KW, (long long)fixed[i].ph);
    fails += check_geom(&fixed[i], &rng);
  }
  for (int t = 0; t < 24; t++) {
    nnc_conv_geom g;
    for (;;) {
      int64_t G = 1 + (int64_t)nnc_rng_below(&rng, 3);
      if (nnc_rng_below(&rng, 5) == 0) G = 4 + (int64_t)nnc_rng_below(&rng, 5); /* depthwise-like */
      g.G = G;
      g.N = 1 + (int64_t)nnc_rng_below(&rng, 4);
      g.C = G * (1 + (int64_t)nnc_rng_below(&rng, G > 3 ? 2 : 6));
      g.O = G * (1 + (int64_t)nnc_rng_below(&rng, G > 3 ? 3 : 9));
      bool oned = nnc_rng_below(&rng, 4) == 0;
      g.H = oned ? 1 : 1 + (int64_t)nnc_rng_below(&rng, 20);
      g.W = 1 + (int64_t)nnc_rng_below(&rng, 24);
      g.KH = oned ? 1 : 1 + (int64_t)nnc_rng_below(&rng, 5);
      g.KW = 1 + (int64_t)nnc_rng_below(&rng, 5);
      g.sh = oned ? 1 : 1 + (int64_t)nnc_rng_below(&rng, 3);
      g.sw = 1 + (int64_t)nnc_rng_below(&rng, 3);
      g.dh = oned ? 1 : 1 + (int64_t)nnc_rng_below(&rng, 2);
      g.dw = 1 + (int64_t)nnc_rng_below(&rng, 3);
      g.ph = oned ? 0 : (int64_t)nnc_rng_below(&rng, 3);
      g.pw = (int64_t)nnc_rng_below(&rng, 3);
      int64_t eh = g.H + 2 * g.ph - g.dh * (g.KH - 1) - 1, ew = g.W + 2 * g.pw - g.dw * (g.KW - 1) - 1;
      if (eh < 0 || ew < 0) continue;
      g.OH = eh / g.sh + 1;
      g.OW = ew / g.sw + 1;
      /* sometimes a transposed convolution's geometry: output rows beyond the formula's */
      if (nnc_rng_below(&rng, 4) == 0 && g.sw > 1) g.W += 1;
      break;
    }
    printf("geometry N%lld C%lld %lldx%lld O%lld k%lldx%lld s%lldx%lld p%lldx%lld d%lldx%lld g%lld -> %lldx%lld\n",
           (long long)g.N, (long long)g.C, (long long)g.H, (long long)g.W, (long long)g.O, (long long)g.KH,
           (long long)g.KW, (long long)g.sh, (long long)g.sw, (long long)g.ph, (long long)g.pw, (long long)g.dh,
           (long long)g.dw, (long long)g.G, (long long)g.OH, (long long)g.OW);
    fails += check_geom(&g, &rng);
  }
  printf("check: %d failures\n", fails);
  return fails;
}

int main(int argc, char **argv) {
  nnc_init();
  bool quick = false, skip_direct = false, shapes = false;
  int threads = 0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "check") == 0) return check() ? 1 : 0;
    else if (strcmp(argv[i], "quick") == 0) quick = true;
    else if (strcmp(argv[i], "shapes") == 0) shapes = true;
    else if (strcmp(argv[i], "--skip-direct") == 0) skip_direct = true;
    else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) threads = atoi(argv[++i]);
    else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc) reps_override = atoi(argv[++i]);
    else {
      fprintf(stderr, "usage: bench_conv [check | quick | shapes] [--threads N] [--reps N] [--skip-direct]\n");
      return 2;
    }
  }
  if (shapes) bench_shapes(quick, threads);
  else bench(quick, threads, skip_direct);
  return 0;
}
