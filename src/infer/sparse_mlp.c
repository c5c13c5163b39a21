/* infer/sparse_mlp.c: a pruned MLP as sparse layers (see sparse_mlp.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/gemm.h"
#include "infer/sparse_mlp.h"

#define CHUNK 256 /* examples per pass through all layers (activations stay in cache) */

/* a float32 copy of a parameter's values (any float dtype, any strides) */
static float *param_f32(const nnc_tensor *t) {
  int64_t n = nnc_numel(t);
  float *v = nnc_xmalloc((size_t)(n > 0 ? n : 1) * sizeof *v);
  for (int64_t i = 0; i < n; i++) v[i] = (float)nnc_get(t, i);
  return v;
}

nnc_status nnc_sparse_mlp_from_params(const nnc_params *p, const char *const *layers, int n, double max_density,
                                      nnc_sparse_mlp *out) {
  memset(out, 0, sizeof *out);
  if (!p || !layers || n < 1) return nnc_error(NNC_ERR_ARG, "sparse mlp: need at least one layer");
  nnc_sparse_mlp m = {.n_layers = n, .layers = nnc_xcalloc((size_t)n, sizeof(nnc_sparse_mlp_layer))};
  for (int i = 0; i < n; i++) {
    char name[256], bname[256];
    snprintf(name, sizeof name, "%s.weight", layers[i]);
    snprintf(bname, sizeof bname, "%s.bias", layers[i]);
    const nnc_tensor *w = nnc_params_find(p, name), *b = nnc_params_find(p, bname);
    nnc_status st = NNC_OK;
    if (!w) st = nnc_error(NNC_ERR_ARG, "sparse mlp: no parameter '%s'", name);
    else if (w->ndim != 2) st = nnc_error(NNC_ERR_ARG, "sparse mlp: '%s' has %d dimensions, want [out, in]", name, w->ndim);
    else if (i > 0 && w->shape[1] != m.out)
      st = nnc_error(NNC_ERR_ARG, "sparse mlp: '%s' has %lld inputs, the previous layer gives %lld", name,
                     (long long)w->shape[1], (long long)m.out);
    else if (b && (b->ndim != 1 || b->shape[0] != w->shape[0]))
      st = nnc_error(NNC_ERR_ARG, "sparse mlp: '%s' does not have shape [%lld]", bname, (long long)w->shape[0]);
    if (st != NNC_OK) {
      nnc_sparse_mlp_free(&m);
      return st;
    }
    nnc_sparse_mlp_layer *l = &m.layers[i];
    l->out = w->shape[0], l->in = w->shape[1];
    l->w = param_f32(w);
    l->b = b ? param_f32(b) : nnc_xcalloc((size_t)l->out, sizeof *l->b);
    int64_t nz = 0;
    for (int64_t k = 0; k < l->out * l->in; k++) nz += l->w[k] != 0.0f;
    if ((double)nz <= max_density * (double)(l->out * l->in)) {
      l->sparse = true;
      nnc_sparse_linear_init(&l->sp, l->out, l->in, l->w, l->b, 0);
      free(l->w), free(l->b);
      l->w = l->b = NULL;
    }
    if (i == 0) m.in = l->in;
    m.out = l->out;
    if (l->out > m.width) m.width = l->out;
  }
  *out = m;
  return NNC_OK;
}

void nnc_sparse_mlp_free(nnc_sparse_mlp *m) {
  if (!m) return;
  for (int i = 0; i < m->n_layers && m->layers; i++) {
    nnc_sparse_linear_free(&m->layers[i].sp);
    free(m->layers[i].w);
    free(m->layers[i].b);
  }
  free(m->layers);
  memset(m, 0, sizeof *m);
}

/* y [B, out] = x [B, in] W^T + b (then ReLU) with the dense matmul */
static void dense_layer(const nnc_sparse_mlp_layer *l, int64_t B, const float *x, float *y, bool relu) {
  nnc_gemm_f32(false, true, B, l->out, l->in, 1.0f, x, l->in, l->w, l->in, 0.0f, y, l->out);
  for (int64_t i = 0; i < B; i++)
    for (int64_t n = 0; n < l->out; n++) {
      float v = y[i * l->out + n] + l->b[n];
      y[i * l->out + n] = relu && !(v > 0.0f) ? 0.0f : v;
    }
}

void nnc_sparse_mlp_forward(const nnc_sparse_mlp *m, int64_t B, const float *x, float *y) {
  NNC_CHECK(m && m->layers && B >= 0 && (B == 0 || (x && y)), "sparse_mlp_forward", "bad arguments (B=%lld)",
            (long long)B);
  int64_t wf = 64;
  for (int i = 0; i < m->n_layers; i++)
    if (m->layers[i].sparse && nnc_sparse_work_floats(&m->layers[i].sp) > wf) wf = nnc_sparse_work_floats(&m->layers[i].sp);
  float *work = aligned_alloc(64, (size_t)wf * sizeof(float));
  float *h[2] = {aligned_alloc(64, (size_t)(CHUNK * m->width) * sizeof(float)),
                 aligned_alloc(64, (size_t)(CHUNK * m->width) * sizeof(float))};
  NNC_CHECK(work && h[0] && h[1], "sparse_mlp_forward", "out of memory");
  for (int64_t b0 = 0; b0 < B; b0 += CHUNK) {
    const int64_t bc = B - b0 < CHUNK ? B - b0 : CHUNK;
    const float *in = x + b0 * m->in;
    for (int i = 0; i < m->n_layers; i++) {
      const nnc_sparse_mlp_layer *l = &m->layers[i];
      const bool last = i == m->n_layers - 1;
      float *o = last ? y + b0 * m->out : h[i % 2];
      if (l->sparse) nnc_sparse_linear_forward(&l->sp, bc, in, o, !last, work);
      else dense_layer(l, bc, in, o, !last);
      in = o;
    }
  }
  free(work), free(h[0]), free(h[1]);
}
