/* nn/rnn.c: RNN (tanh, relu), GRU and LSTM: the step, cells and multi-layer layers (see
 * rnn.h).  Only ops from ops/ops.h; no kernels of their own.
 *
 * The step works from the projected input xp = x W_ih^T + b_ih, so a layer computes the
 * projection of every timestep in one nnc_linear and copies it once to time-major order;
 * each step then takes a contiguous [B, G*H] slice, adds one hidden product
 * h W_hh^T + b_hh (nnc_linear) and applies the gates.  Sigmoid gates that sit next to each
 * other in the stacked layout go through one sigmoid (GRU's r and z; LSTM's i and f).
 * A zero state (h or c NULL) skips its products. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "core/arena.h"
#include "core/error.h"
#include "nn/init.h"
#include "nn/rnn.h"
#include "ops/ops.h"

int nnc_rnn_gates(nnc_rnn_kind kind) {
  switch (kind) {
  case NNC_RNN_TANH:
  case NNC_RNN_RELU: return 1;
  case NNC_RNN_GRU: return 3;
  case NNC_RNN_LSTM: return 4;
  }
  NNC_FAIL("rnn", "unknown kind %d", (int)kind);
}

const char *nnc_rnn_kind_name(nnc_rnn_kind kind) {
  static const char *names[] = {"RNN_TANH", "RNN_RELU", "GRU", "LSTM"};
  nnc_rnn_gates(kind); /* checks the value */
  return names[kind];
}

static nnc_tensor *add_opt(nnc_tensor *a, nnc_tensor *b) { return b ? nnc_add(a, b) : a; }
/* columns [start, start + len) of the last axis; NULL stays NULL */
static nnc_tensor *cols(nnc_tensor *t, int64_t start, int64_t len) { return t ? nnc_narrow(t, -1, start, len) : NULL; }

/* h' (and *c_out) from the projected input xp [B, G*H] and the state (h, c NULL = zeros) */
static nnc_tensor *step_proj(nnc_rnn_kind kind, int64_t H, nnc_tensor *xp, nnc_tensor *h, nnc_tensor *c,
                             nnc_tensor *w_hh, nnc_tensor *b_hh, nnc_tensor **c_out) {
  nnc_tensor *hp = h ? nnc_linear(h, w_hh, b_hh) : b_hh; /* [B, G*H], or [G*H] for a zero h */
  switch (kind) {
  case NNC_RNN_TANH: return nnc_tanh(add_opt(xp, hp));
  case NNC_RNN_RELU: return nnc_relu(add_opt(xp, hp));
  case NNC_RNN_GRU: {
    nnc_tensor *rz = nnc_sigmoid(add_opt(cols(xp, 0, 2 * H), cols(hp, 0, 2 * H)));
    nnc_tensor *r = cols(rz, 0, H), *z = cols(rz, H, H), *hn = cols(hp, 2 * H, H);
    nnc_tensor *n = nnc_tanh(add_opt(cols(xp, 2 * H, H), hn ? nnc_mul(r, hn) : NULL));
    /* (1 - z) n + z h = n + z (h - n) */
    return h ? nnc_add(n, nnc_mul(z, nnc_sub(h, n))) : nnc_sub(n, nnc_mul(z, n));
  }
  case NNC_RNN_LSTM: {
    nnc_tensor *gates = add_opt(xp, hp);
    nnc_tensor *ifg = nnc_sigmoid(cols(gates, 0, 2 * H));
    nnc_tensor *i = cols(ifg, 0, H), *f = cols(ifg, H, H);
    nnc_tensor *g = nnc_tanh(cols(gates, 2 * H, H)), *o = nnc_sigmoid(cols(gates, 3 * H, H));
    nnc_tensor *ig = nnc_mul(i, g);
    nnc_tensor *cn = c ? nnc_add(nnc_mul(f, c), ig) : ig;
    if (c_out) *c_out = cn;
    return nnc_mul(o, nnc_tanh(cn));
  }
  }
  NNC_FAIL("rnn", "unknown kind %d", (int)kind);
}

/* stops unless the weights fit (kind, in, H) and x [B, in], h, c [B, H] (h, c may be NULL) */
static void check_step(const char *op, nnc_rnn_kind kind, const nnc_tensor *x, const nnc_tensor *h,
                       const nnc_tensor *c, const nnc_tensor *w_ih, const nnc_tensor *w_hh, const nnc_tensor *b_ih,
                       const nnc_tensor *b_hh) {
  char s1[96], s2[96], s3[96];
  int64_t G = nnc_rnn_gates(kind);
  NNC_CHECK(w_hh->ndim == 2 && w_hh->shape[0] == G * w_hh->shape[1], op, "weight_hh %s is not [%lld*H, H]",
            nnc_shape_str(w_hh, s1, 96), (long long)G);
  int64_t H = w_hh->shape[1];
  NNC_CHECK(w_ih->ndim == 2 && w_ih->shape[0] == G * H, op, "weight_ih %s does not fit weight_hh %s",
            nnc_shape_str(w_ih, s1, 96), nnc_shape_str(w_hh, s2, 96));
  NNC_CHECK(!b_ih || (b_ih->ndim == 1 && b_ih->shape[0] == G * H), op, "bias_ih %s for %lld gate rows",
            nnc_shape_str(b_ih, s1, 96), (long long)(G * H));
  NNC_CHECK(!b_hh || (b_hh->ndim == 1 && b_hh->shape[0] == G * H), op, "bias_hh %s for %lld gate rows",
            nnc_shape_str(b_hh, s1, 96), (long long)(G * H));
  NNC_CHECK(x->ndim == 2 && x->shape[1] == w_ih->shape[1], op, "input %s does not fit weight_ih %s (expects [B, %lld])",
            nnc_shape_str(x, s1, 96), nnc_shape_str(w_ih, s2, 96), (long long)w_ih->shape[1]);
  NNC_CHECK(!h || (h->ndim == 2 && h->shape[0] == x->shape[0] && h->shape[1] == H), op,
            "hidden state %s for input %s and hidden size %lld", nnc_shape_str(h, s3, 96), nnc_shape_str(x, s1, 96),
            (long long)H);
  NNC_CHECK(!c || kind == NNC_RNN_LSTM, op, "a cell state is given to a %s", nnc_rnn_kind_name(kind));
  NNC_CHECK(!c || (c->ndim == 2 && c->shape[0] == x->shape[0] && c->shape[1] == H), op,
            "cell state %s for input %s and hidden size %lld", nnc_shape_str(c, s3, 96), nnc_shape_str(x, s1, 96),
            (long long)H);
}

nnc_tensor *nnc_rnn_step(nnc_rnn_kind kind, nnc_tensor *x, nnc_tensor *h, nnc_tensor *c, nnc_tensor *w_ih,
                         nnc_tensor *w_hh, nnc_tensor *b_ih, nnc_tensor *b_hh, nnc_tensor **c_out) {
  check_step("rnn_step", kind, x, h, c, w_ih, w_hh, b_ih, b_hh);
  return step_proj(kind, w_hh->shape[1], nnc_linear(x, w_ih, b_ih), h, c, w_hh, b_hh, c_out);
}

/* ---- shared: the four weights of one layer or cell, U(-1/sqrt(H), 1/sqrt(H)) ---- */
static void make_weights(nnc_params *p, const nnc_module *m, const char *suffix, int64_t G, int64_t in, int64_t H,
                         bool bias, nnc_rng *r, nnc_tensor **w_ih, nnc_tensor **w_hh, nnc_tensor **b_ih,
                         nnc_tensor **b_hh) {
  char leaf[64];
  double k = 1.0 / sqrt((double)H);
  snprintf(leaf, sizeof leaf, "weight_ih%s", suffix);
  *w_ih = nnc_module_param(p, m, leaf, NNC_SHAPE(G * H, in));
  snprintf(leaf, sizeof leaf, "weight_hh%s", suffix);
  *w_hh = nnc_module_param(p, m, leaf, NNC_SHAPE(G * H, H));
  *b_ih = *b_hh = NULL;
  if (bias) {
    snprintf(leaf, sizeof leaf, "bias_ih%s", suffix);
    *b_ih = nnc_module_param(p, m, leaf, NNC_SHAPE(G * H));
    snprintf(leaf, sizeof leaf, "bias_hh%s", suffix);
    *b_hh = nnc_module_param(p, m, leaf, NNC_SHAPE(G * H));
  }
  /* PyTorch's order: every parameter of the layer in registration order */
  nnc_init_uniform(*w_ih, -k, k, r);
  nnc_init_uniform(*w_hh, -k, k, r);
  if (bias) {
    nnc_init_uniform(*b_ih, -k, k, r);
    nnc_init_uniform(*b_hh, -k, k, r);
  }
}

/* ---- cells ---- */
static nnc_tensor *cell_forward(nnc_module *m, nnc_tensor *x) {
  return nnc_rnn_cell_forward((nnc_rnn_cell_mod *)m, x, NULL, NULL, NULL);
}

static void cell_describe(const nnc_module *m, char *buf, size_t size) {
  const nnc_rnn_cell_mod *c = (const nnc_rnn_cell_mod *)m;
  snprintf(buf, size, "%lld, %lld%s%s", (long long)c->input_size, (long long)c->hidden_size, c->bias_ih ? "" : ", bias=False",
           c->kind == NNC_RNN_RELU ? ", nonlinearity=relu" : "");
}

nnc_rnn_cell_mod *nnc_new_rnn_cell(nnc_params *p, const char *name, nnc_rnn_kind kind, int64_t input_size,
                                   int64_t hidden_size, bool bias, nnc_rng *r) {
  int G = nnc_rnn_gates(kind);
  NNC_CHECK(input_size > 0 && hidden_size > 0, "RNNCell", "sizes input=%lld hidden=%lld", (long long)input_size,
            (long long)hidden_size);
  static const char *kinds[] = {"RNNCell", "RNNCell", "GRUCell", "LSTMCell"};
  nnc_rnn_cell_mod *c = nnc_module_alloc(sizeof *c, kinds[kind], name, cell_forward, cell_describe);
  c->kind = kind;
  c->input_size = input_size;
  c->hidden_size = hidden_size;
  make_weights(p, &c->base, "", G, input_size, hidden_size, bias, r, &c->weight_ih, &c->weight_hh, &c->bias_ih,
               &c->bias_hh);
  return c;
}

nnc_tensor *nnc_rnn_cell_forward(nnc_rnn_cell_mod *m, nnc_tensor *x, nnc_tensor *h, nnc_tensor *c, nnc_tensor **c_out) {
  check_step(m->base.kind, m->kind, x, h, c, m->weight_ih, m->weight_hh, m->bias_ih, m->bias_hh);
  nnc_tensor *cn = NULL;
  nnc_tensor *hn = step_proj(m->kind, m->hidden_size, nnc_linear(x, m->weight_ih, m->bias_ih), h, c, m->weight_hh,
                             m->bias_hh, &cn);
  if (c_out) *c_out = cn;
  return hn;
}

/* ---- layers ---- */
static nnc_tensor *rnn_module_forward(nnc_module *m, nnc_tensor *x) {
  return nnc_rnn_forward((nnc_rnn_mod *)m, x, NULL, NULL, NULL, NULL);
}

static void rnn_describe(const nnc_module *m, char *buf, size_t size) {
  const nnc_rnn_mod *r = (const nnc_rnn_mod *)m;
  int n = snprintf(buf, size, "%lld, %lld", (long long)r->input_size, (long long)r->hidden_size);
  if (n >= 0 && (size_t)n < size && r->num_layers != 1)
    n += snprintf(buf + n, size - (size_t)n, ", num_layers=%d", r->num_layers);
  if (n >= 0 && (size_t)n < size && !r->bias_ih[0]) n += snprintf(buf + n, size - (size_t)n, ", bias=False");
  if (n >= 0 && (size_t)n < size) n += snprintf(buf + n, size - (size_t)n, ", batch_first=True");
  if (n >= 0 && (size_t)n < size && r->dropout > 0) n += snprintf(buf + n, size - (size_t)n, ", dropout=%g", r->dropout);
  if (n >= 0 && (size_t)n < size && r->kind == NNC_RNN_RELU) snprintf(buf + n, size - (size_t)n, ", nonlinearity=relu");
}

nnc_rnn_mod *nnc_new_rnn(nnc_params *p, const char *name, nnc_rnn_kind kind, int64_t input_size, int64_t hidden_size,
                         int num_layers, bool bias, nnc_rng *r) {
  int G = nnc_rnn_gates(kind);
  static const char *kinds[] = {"RNN", "RNN", "GRU", "LSTM"};
  NNC_CHECK(input_size > 0 && hidden_size > 0, kinds[kind], "sizes input=%lld hidden=%lld", (long long)input_size,
            (long long)hidden_size);
  NNC_CHECK(num_layers >= 1 && num_layers <= NNC_RNN_MAX_LAYERS, kinds[kind], "%d layers (1 to %d)", num_layers,
            NNC_RNN_MAX_LAYERS);
  nnc_rnn_mod *m = nnc_module_alloc(sizeof *m, kinds[kind], name, rnn_module_forward, rnn_describe);
  m->kind = kind;
  m->input_size = input_size;
  m->hidden_size = hidden_size;
  m->num_layers = num_layers;
  for (int l = 0; l < num_layers; l++) {
    char suffix[16];
    snprintf(suffix, sizeof suffix, "_l%d", l);
    make_weights(p, &m->base, suffix, G, l ? hidden_size : input_size, hidden_size, bias, r, &m->weight_ih[l],
                 &m->weight_hh[l], &m->bias_ih[l], &m->bias_hh[l]);
  }
  return m;
}

void nnc_rnn_set_dropout(nnc_rnn_mod *m, double p, uint64_t seed, uint64_t stream) {
  NNC_CHECK(p >= 0 && p < 1, m->base.kind, "dropout probability %g is not in [0, 1)", p);
  m->dropout = p;
  nnc_rng_seed(&m->rng, seed, stream);
}

/* layer l's slice [B, H] of a state [L, B, H] */
static nnc_tensor *layer_state(nnc_tensor *s, int l) { return s ? nnc_squeeze(nnc_narrow(s, 0, l, 1), 0) : NULL; }

nnc_tensor *nnc_rnn_forward(nnc_rnn_mod *m, nnc_tensor *x, nnc_tensor *h0, nnc_tensor *c0, nnc_tensor **h_n,
                            nnc_tensor **c_n) {
  char s1[96], s2[96];
  const char *op = m->base.kind;
  int L = m->num_layers, G = nnc_rnn_gates(m->kind);
  int64_t H = m->hidden_size;
  nnc_check_float(x, op);
  NNC_CHECK(x->ndim == 3 && x->shape[2] == m->input_size && x->shape[1] >= 1, op,
            "input %s is not [B, T, %lld] (batch first, T >= 1)", nnc_shape_str(x, s1, 96), (long long)m->input_size);
  int64_t B = x->shape[0], T = x->shape[1];
  NNC_CHECK(!h0 || (h0->ndim == 3 && h0->shape[0] == L && h0->shape[1] == B && h0->shape[2] == H), op,
            "h0 %s for input %s (expects [%d, %lld, %lld])", nnc_shape_str(h0, s1, 96), nnc_shape_str(x, s2, 96), L,
            (long long)B, (long long)H);
  NNC_CHECK(!c0 || m->kind == NNC_RNN_LSTM, op, "c0 is given to a %s", op);
  NNC_CHECK(!c0 || (c0->ndim == 3 && c0->shape[0] == L && c0->shape[1] == B && c0->shape[2] == H), op,
            "c0 %s for input %s (expects [%d, %lld, %lld])", nnc_shape_str(c0, s1, 96), nnc_shape_str(x, s2, 96), L,
            (long long)B, (long long)H);
  nnc_arena *ar = nnc_arena_current();
  nnc_tensor **outs = nnc_arena_alloc(ar, sizeof(nnc_tensor *) * (size_t)T);
  nnc_tensor **steps = nnc_arena_alloc(ar, sizeof(nnc_tensor *) * (size_t)T);
  int64_t *ones = nnc_arena_alloc(ar, sizeof(int64_t) * (size_t)T);
  for (int64_t t = 0; t < T; t++) ones[t] = 1;
  nnc_tensor *hl[NNC_RNN_MAX_LAYERS], *cl[NNC_RNN_MAX_LAYERS], *inp = x;
  for (int l = 0; l < L; l++) {
    /* every timestep's input projection at once, then time-major: [T, B, G*H] */
    nnc_tensor *xp = nnc_contiguous(nnc_transpose(nnc_linear(inp, m->weight_ih[l], m->bias_ih[l]), 0, 1));
    nnc_split(xp, 0, (int)T, ones, steps);
    nnc_tensor *h = layer_state(h0, l), *c = layer_state(c0, l);
    for (int64_t t = 0; t < T; t++) {
      nnc_tensor *xt = nnc_reshape(steps[t], NNC_SHAPE(B, G * H));
      h = step_proj(m->kind, H, xt, h, c, m->weight_hh[l], m->bias_hh[l], &c);
      outs[t] = h;
    }
    hl[l] = h;
    cl[l] = c;
    inp = nnc_stack((int)T, outs, 1); /* [B, T, H] */
    if (l + 1 < L && m->dropout > 0 && m->base.training) {
      nnc_tensor *mask = nnc_empty(inp->dtype, 3, inp->shape);
      double keep = 1.0 - m->dropout;
      for (int64_t i = 0, n = nnc_numel(mask); i < n; i++)
        nnc_set(mask, i, nnc_rng_uniform(&m->rng) < keep ? 1.0 / keep : 0.0);
      inp = nnc_mul(inp, mask);
    }
  }
  if (h_n) *h_n = nnc_stack(L, hl, 0);
  if (c_n) *c_n = m->kind == NNC_RNN_LSTM ? nnc_stack(L, cl, 0) : NULL;
  return inp;
}
