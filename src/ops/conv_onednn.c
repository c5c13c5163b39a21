/* ops/conv_onednn.c: the f32 convolution passes on oneDNN's convolution primitives.
 *
 * A primitive costs far more to make than to run, so each (pass, geometry, bias, layout,
 * thread count) gets one, kept in a small open-addressing cache as core/gemm.c keeps its
 * matmuls; a call only swaps data pointers and executes.  The thread count is in the key
 * because oneDNN plans its work split for omp_get_max_threads() when a primitive is made.
 *
 * PLAIN describes every tensor as nnc stores it (nchw, oihw / goihw for groups, x for the
 * bias), so nothing is reordered.  BLOCKED lets oneDNN pick its formats (nChw16c,
 * OIhw16i16o, ...) and NHWC asks for nhwc activations; both reorder the operands in and the
 * result out on every call, through buffers from the current arena.  docs/conv.md measures
 * the three.
 *
 * The geometry's OH, OW are given, so the bottom/right padding is whatever makes oneDNN's
 * size formula (H - ((KH-1)*dh + 1) + ph + pr) / sh + 1 == OH hold: less than ph when the
 * formula's floor drops rows, negative for a transposed convolution's output_padding.
 * oneDNN refuses pr <= -sh, and such a problem falls back to the caller's kernel. */
#include <omp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/arena.h"
#include "core/dnnl_cache.h"
#include "core/error.h"
#include "ops/conv_onednn.h"

#define CACHE_SLOTS 128 /* power of two */
#define KEY_LEN 20
#define MAX_ARGS 4

enum { PASS_FWD, PASS_BWD_DATA, PASS_BWD_WEIGHTS };

typedef struct {
  int arg;                   /* DNNL_ARG_... */
  bool out;                  /* written by the primitive */
  dnnl_memory_t user;        /* nnc's plain layout; data handle set per call */
  dnnl_memory_t inner;       /* the primitive's layout, NULL if the same as user */
  dnnl_primitive_t reorder;  /* user -> inner (inputs) or inner -> user (outputs) */
  size_t inner_bytes;
} conv_arg;

typedef struct {
  nnc_dnnl_slot slot;    /* first: the key (core/dnnl_cache.h) */
  dnnl_primitive_t prim; /* NULL: refused (or only a reference implementation) */
  char impl[64];
  int nargs;
  conv_arg args[MAX_ARGS];
} cache_entry;

static cache_entry cache[CACHE_SLOTS];
static atomic_flag cache_busy = ATOMIC_FLAG_INIT;

#define DNNL_OK(call) NNC_DNNL_OK("conv", call)

static void entry_free(cache_entry *e) {
  if (e->prim) dnnl_primitive_destroy(e->prim);
  for (int k = 0; k < e->nargs; k++) {
    conv_arg *a = &e->args[k];
    if (a->user) dnnl_memory_destroy(a->user);
    if (a->inner) dnnl_memory_destroy(a->inner);
    if (a->reorder) dnnl_primitive_destroy(a->reorder);
  }
  memset(e, 0, sizeof *e);
}

/* ---------------------------------------------------------------- descriptors */

typedef struct {
  dnnl_memory_desc_t src, wei, bias, dst;       /* nnc's layouts */
  dnnl_memory_desc_t src_p, wei_p, dst_p;       /* what the primitive is asked for */
  dnnl_dims_t strides, dilates, pad_l, pad_r;
} conv_descs;

static bool make_descs(conv_descs *d, const nnc_conv_geom *g, nnc_conv_layout layout) {
  dnnl_dims_t sd = {g->N, g->C, g->H, g->W}, dd = {g->N, g->O, g->OH, g->OW}, bd = {g->O};
  int wn = g->G > 1 ? 5 : 4;
  dnnl_dims_t wd;
  if (g->G > 1) {
    int64_t v[5] = {g->G, g->O / g->G, g->C / g->G, g->KH, g->KW};
    memcpy(wd, v, sizeof v);
  } else {
    int64_t v[4] = {g->O, g->C, g->KH, g->KW};
    memcpy(wd, v, sizeof v);
  }
  dnnl_format_tag_t wtag = g->G > 1 ? dnnl_goihw : dnnl_oihw;
  dnnl_format_tag_t atag = layout == NNC_CONV_PLAIN ? dnnl_nchw : layout == NNC_CONV_NHWC ? dnnl_nhwc : dnnl_format_tag_any;
  if (dnnl_memory_desc_init_by_tag(&d->src, 4, sd, dnnl_f32, dnnl_nchw) ||
      dnnl_memory_desc_init_by_tag(&d->dst, 4, dd, dnnl_f32, dnnl_nchw) ||
      dnnl_memory_desc_init_by_tag(&d->wei, wn, wd, dnnl_f32, wtag) ||
      dnnl_memory_desc_init_by_tag(&d->bias, 1, bd, dnnl_f32, dnnl_x) ||
      dnnl_memory_desc_init_by_tag(&d->src_p, 4, sd, dnnl_f32, atag) ||
      dnnl_memory_desc_init_by_tag(&d->dst_p, 4, dd, dnnl_f32, atag) ||
      dnnl_memory_desc_init_by_tag(&d->wei_p, wn, wd, dnnl_f32, layout == NNC_CONV_PLAIN ? wtag : dnnl_format_tag_any))
    return false;
  int64_t kh = (g->KH - 1) * g->dh + 1, kw = (g->KW - 1) * g->dw + 1;
  d->strides[0] = g->sh, d->strides[1] = g->sw;
  d->dilates[0] = g->dh - 1, d->dilates[1] = g->dw - 1; /* oneDNN counts dilation from 0 */
  d->pad_l[0] = g->ph, d->pad_l[1] = g->pw;
  d->pad_r[0] = (g->OH - 1) * g->sh + kh - g->H - g->ph;
  d->pad_r[1] = (g->OW - 1) * g->sw + kw - g->W - g->pw;
  return true;
}

/* the forward-training primitive descriptor (also the hint the backward passes need) */
static dnnl_primitive_desc_t fwd_pd(conv_descs *d, bool bias) {
  dnnl_convolution_desc_t cd;
  if (dnnl_dilated_convolution_forward_desc_init(
          &cd, dnnl_forward_training, dnnl_convolution_direct, &d->src_p, &d->wei_p,
          bias ? &d->bias : NULL, &d->dst_p, d->strides, d->dilates, d->pad_l, d->pad_r) != dnnl_success)
    return NULL;
  dnnl_primitive_desc_t pd = NULL;
  if (dnnl_primitive_desc_create(&pd, &cd, NULL, nnc_dnnl_engine(), NULL) != dnnl_success) return NULL;
  return pd;
}

/* adds argument `arg` (plain layout `user_md`) to e, with a reorder if the primitive's layout
 * differs */
static void add_arg(cache_entry *e, dnnl_primitive_desc_t pd, int arg, bool out,
                    const dnnl_memory_desc_t *user_md) {
  conv_arg *a = &e->args[e->nargs++];
  a->arg = arg;
  a->out = out;
  DNNL_OK(dnnl_memory_create(&a->user, user_md, nnc_dnnl_engine(), DNNL_MEMORY_NONE));
  const dnnl_memory_desc_t *md = dnnl_primitive_desc_query_md(pd, dnnl_query_exec_arg_md, arg);
  if (!md || dnnl_memory_desc_equal(md, user_md)) return;
  a->inner_bytes = dnnl_memory_desc_get_size(md);
  DNNL_OK(dnnl_memory_create(&a->inner, md, nnc_dnnl_engine(), DNNL_MEMORY_NONE));
  dnnl_primitive_desc_t rpd;
  if (out) DNNL_OK(dnnl_reorder_primitive_desc_create(&rpd, md, nnc_dnnl_engine(), user_md, nnc_dnnl_engine(), NULL));
  else DNNL_OK(dnnl_reorder_primitive_desc_create(&rpd, user_md, nnc_dnnl_engine(), md, nnc_dnnl_engine(), NULL));
  DNNL_OK(dnnl_primitive_create(&a->reorder, rpd));
  dnnl_primitive_desc_destroy(rpd);
}

/* makes the primitive for (pass, g, bias, layout); on refusal leaves e->prim NULL */
static void entry_make(cache_entry *e, int pass, const nnc_conv_geom *g, bool bias, nnc_conv_layout layout) {
  snprintf(e->impl, sizeof e->impl, "refused");
  conv_descs d;
  if (!make_descs(&d, g, layout)) return;
  dnnl_primitive_desc_t hint = fwd_pd(&d, pass != PASS_BWD_DATA && bias);
  if (!hint) return;
  dnnl_primitive_desc_t pd = NULL;
  if (pass == PASS_FWD) {
    pd = hint;
    hint = NULL;
  } else {
    dnnl_convolution_desc_t cd;
    dnnl_status_t st;
    if (pass == PASS_BWD_DATA)
      st = dnnl_dilated_convolution_backward_data_desc_init(&cd, dnnl_convolution_direct, &d.src_p, &d.wei_p,
                                                            &d.dst_p, d.strides, d.dilates, d.pad_l, d.pad_r);
    else
      st = dnnl_dilated_convolution_backward_weights_desc_init(&cd, dnnl_convolution_direct, &d.src_p, &d.wei_p,
                                                               bias ? &d.bias : NULL, &d.dst_p, d.strides,
                                                               d.dilates, d.pad_l, d.pad_r);
    if (st != dnnl_success || dnnl_primitive_desc_create(&pd, &cd, NULL, nnc_dnnl_engine(), hint) != dnnl_success)
      pd = NULL;
    dnnl_primitive_desc_destroy(hint);
    if (!pd) return;
  }
  const char *impl = NULL;
  if (dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl) == dnnl_success && impl)
    snprintf(e->impl, sizeof e->impl, "%s", impl);
  /* oneDNN's reference implementations are plain loops: ours do better */
  if (strstr(e->impl, "ref")) {
    dnnl_primitive_desc_destroy(pd);
    return;
  }
  if (pass == PASS_FWD) {
    add_arg(e, pd, DNNL_ARG_SRC, false, &d.src);
    add_arg(e, pd, DNNL_ARG_WEIGHTS, false, &d.wei);
    if (bias) add_arg(e, pd, DNNL_ARG_BIAS, false, &d.bias);
    add_arg(e, pd, DNNL_ARG_DST, true, &d.dst);
  } else if (pass == PASS_BWD_DATA) {
    add_arg(e, pd, DNNL_ARG_DIFF_DST, false, &d.dst);
    add_arg(e, pd, DNNL_ARG_WEIGHTS, false, &d.wei);
    add_arg(e, pd, DNNL_ARG_DIFF_SRC, true, &d.src);
  } else {
    add_arg(e, pd, DNNL_ARG_SRC, false, &d.src);
    add_arg(e, pd, DNNL_ARG_DIFF_DST, false, &d.dst);
    add_arg(e, pd, DNNL_ARG_DIFF_WEIGHTS, true, &d.wei);
    if (bias) add_arg(e, pd, DNNL_ARG_DIFF_BIAS, true, &d.bias);
  }
  dnnl_status_t st = dnnl_primitive_create(&e->prim, pd);
  dnnl_primitive_desc_destroy(pd);
  if (st != dnnl_success) e->prim = NULL;
}

/* finds or makes the entry; the caller holds cache_busy */
static cache_entry *lookup(int pass, const nnc_conv_geom *g, bool bias, nnc_conv_layout layout) {
  int64_t key[KEY_LEN] = {pass,  g->N,  g->C,  g->H,  g->W,  g->O,  g->OH,
                          g->OW, g->KH, g->KW, g->sh, g->sw, g->ph, g->pw,
                          g->dh, g->dw, g->G,  bias,  layout, omp_get_max_threads()};
  bool hit;
  cache_entry *e = nnc_dnnl_cache_find(cache, sizeof cache[0], CACHE_SLOTS, key, KEY_LEN, &hit);
  if (hit) return e;
  entry_free(e);
  entry_make(e, pass, g, bias, layout);
  nnc_dnnl_slot_set(&e->slot, key, KEY_LEN);
  return e;
}

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}
static double reorder_seconds; /* for bench/bench_conv.c: what the layouts cost */
double nnc_conv_onednn_reorder_seconds(void) { return reorder_seconds; }

/* converts argument a between nnc's layout and the primitive's */
static void reorder(conv_arg *a, bool to_inner) {
  double t0 = now();
  dnnl_exec_arg_t r[2] = {{DNNL_ARG_FROM, to_inner ? a->user : a->inner}, {DNNL_ARG_TO, to_inner ? a->inner : a->user}};
  DNNL_OK(dnnl_primitive_execute(a->reorder, nnc_dnnl_stream(), 2, r));
  DNNL_OK(dnnl_stream_wait(nnc_dnnl_stream()));
  reorder_seconds += now() - t0;
}

/* runs pass with data pointers ptr[k] for the entry's arguments in order; false if the caller
 * must use another kernel */
static bool run(int pass, const nnc_conv_geom *g, bool bias, nnc_conv_layout layout, void *const *ptr) {
  if (omp_in_parallel()) return false;
  if (atomic_flag_test_and_set_explicit(&cache_busy, memory_order_acquire)) return false;
  cache_entry *e = lookup(pass, g, bias, layout);
  bool done = false;
  if (e->prim) {
    dnnl_exec_arg_t args[MAX_ARGS];
    nnc_arena *arena = nnc_arena_current();
    for (int k = 0; k < e->nargs; k++) {
      conv_arg *a = &e->args[k];
      DNNL_OK(dnnl_memory_set_data_handle(a->user, ptr[k]));
      args[k].arg = a->arg;
      args[k].memory = a->user;
      if (!a->inner) continue;
      DNNL_OK(dnnl_memory_set_data_handle(a->inner, nnc_arena_alloc(arena, a->inner_bytes)));
      args[k].memory = a->inner;
      if (!a->out) reorder(a, true);
    }
    DNNL_OK(dnnl_primitive_execute(e->prim, nnc_dnnl_stream(), e->nargs, args));
    for (int k = 0; k < e->nargs; k++) {
      conv_arg *a = &e->args[k];
      if (a->inner && a->out) {
        DNNL_OK(dnnl_stream_wait(nnc_dnnl_stream()));
        reorder(a, false);
      }
    }
    DNNL_OK(dnnl_stream_wait(nnc_dnnl_stream()));
    done = true;
  }
  atomic_flag_clear_explicit(&cache_busy, memory_order_release);
  return done;
}

bool nnc_conv_onednn_fwd(const nnc_conv_geom *g, nnc_conv_layout layout, const float *x, const float *w,
                         const float *b, float *y) {
  void *p[4] = {(void *)x, (void *)w, (void *)b, y};
  void *q[3] = {(void *)x, (void *)w, y};
  return run(PASS_FWD, g, b != NULL, layout, b ? p : q);
}

bool nnc_conv_onednn_bwd_data(const nnc_conv_geom *g, nnc_conv_layout layout, const float *dy,
                              const float *w, float *dx) {
  void *p[3] = {(void *)dy, (void *)w, dx};
  return run(PASS_BWD_DATA, g, false, layout, p);
}

bool nnc_conv_onednn_bwd_weights(const nnc_conv_geom *g, nnc_conv_layout layout, const float *x,
                                 const float *dy, float *dw, float *db) {
  void *p[4] = {(void *)x, (void *)dy, dw, db};
  return run(PASS_BWD_WEIGHTS, g, db != NULL, layout, p);
}

const char *nnc_conv_onednn_impl(const nnc_conv_geom *g, nnc_conv_layout layout, int pass, bool bias) {
  static char name[96];
  if (atomic_flag_test_and_set_explicit(&cache_busy, memory_order_acquire)) return "busy";
  cache_entry *e = lookup(pass, g, pass != PASS_BWD_DATA && bias, layout);
  snprintf(name, sizeof name, "%s%s", e->impl, e->prim ? "" : " (not used)");
  atomic_flag_clear_explicit(&cache_busy, memory_order_release);
  return name;
}

void nnc_conv_onednn_cache_clear(void) {
  for (int i = 0; i < CACHE_SLOTS; i++) entry_free(&cache[i]);
}
