/* tests/test_attention.c: attention, Transformer blocks and positional encodings.
 *
 * 1. Parity with PyTorch (tests/fixtures/attention_fixture.h, made in float64 by
 *    tools/make_attention_fixture.py): nn.MultiheadAttention (causal self-attention, 2 heads;
 *    cross-attention with a key padding mask), nn.TransformerEncoderLayer and
 *    nn.TransformerDecoderLayer (norm_first=True, activation='gelu', batch_first=True): the
 *    output, the input gradients and every parameter's gradient, loaded and compared by
 *    PyTorch's parameter names, in f64 and f32 parameter blocks.  Criterion for a tensor a
 *    against PyTorch's b: max |a - b| / max |b| <= 1e-5 (f32) or 1e-10 (f64).
 * 2. The fused attention op against the same computation built from primitive ops (matmul_t,
 *    where, softmax, matmul), forward and backward, on shapes that cross the kernel's tiles
 *    (causal, padding masks, Tq != Tk both ways, broadcast heads, strided views), and against
 *    its own reference kernel; packed heads against views; chunked attention against an
 *    explicit block mask; fully masked rows; results independent of the thread count.
 * 3. RoPE and sinusoidal values against the fixture; RoPE's relative-position property;
 *    learned positions; layer_norm and bias_gelu (f32 backward) against composed ops;
 *    dropout off in eval; error messages. */
#include <stdlib.h>
#include "test.h"
#include "fixtures/attention_fixture.h"

#define N(a) ((int64_t)(sizeof(a) / sizeof(*(a))))

static nnc_tensor *from(nnc_dtype dt, int ndim, const int64_t *shape, const double *v) {
  nnc_tensor *t = nnc_empty(dt, ndim, shape);
  for (int64_t i = 0, n = nnc_numel(t); i < n; i++) nnc_set(t, i, v[i]);
  return t;
}

/* max |a - b| / max(max |b|, 1e-12); INFINITY on a size mismatch or NaN */
static double rel_err_vals(const nnc_tensor *a, const double *b, int64_t n) {
  if (!a || nnc_numel(a) != n) return INFINITY;
  double num = 0, den = 0;
  for (int64_t i = 0; i < n; i++) {
    double d = fabs(nnc_get(a, i) - b[i]);
    if (!(d <= num)) num = d;
    den = fmax(den, fabs(b[i]));
  }
  return num / fmax(den, 1e-12);
}

static double rel_err(const nnc_tensor *a, const nnc_tensor *b) {
  if (!a || !b || !nnc_same_shape(a, b)) return INFINITY;
  int64_t n = nnc_numel(b);
  double *v = malloc(sizeof(double) * (size_t)(n ? n : 1));
  for (int64_t i = 0; i < n; i++) v[i] = nnc_get(b, i);
  double e = rel_err_vals(a, v, n);
  free(v);
  return e;
}

#define CHECK_VALS(what, a, b, n, tol)                                                              \
  do {                                                                                              \
    double e_ = rel_err_vals(a, b, n);                                                              \
    CHECKF(e_ <= (tol), "%s: relative error %.3g > %g", what, e_, (double)(tol));                   \
  } while (0)
#define CHECK_CLOSE(what, a, b, tol)                                                                \
  do {                                                                                              \
    double e_ = rel_err(a, b);                                                                      \
    CHECKF(e_ <= (tol), "%s: relative error %.3g > %g", what, e_, (double)(tol));                   \
  } while (0)

static const char *dname(nnc_dtype dt) { return dt == NNC_F32 ? "f32" : "f64"; }

/* ======================= parity with PyTorch ======================= */

/* sets every fixture parameter by name; the module must have exactly these parameters */
static void load_params(nnc_params *P, const fx_param *fx, int n, const char *what) {
  CHECKF(P->count == n, "%s: %d parameters, PyTorch has %d", what, P->count, n);
  for (int i = 0; i < n; i++) {
    nnc_tensor *t = nnc_params_find(P, fx[i].name);
    CHECKF(t && nnc_numel(t) == fx[i].n, "%s: parameter %s missing or of the wrong size", what, fx[i].name);
    if (!t || nnc_numel(t) != fx[i].n) continue;
    for (int64_t j = 0; j < fx[i].n; j++) nnc_set(t, j, fx[i].value[j]);
  }
  nnc_params_zero_grad(P);
}

static void check_param_grads(nnc_params *P, const fx_param *fx, int n, double tol, const char *what) {
  for (int i = 0; i < n; i++) {
    nnc_tensor *t = nnc_params_find(P, fx[i].name);
    if (!t) continue;
    double e = rel_err_vals(t->grad, fx[i].grad, fx[i].n);
    CHECKF(e <= tol, "%s: grad of %s: relative error %.3g > %g", what, fx[i].name, e, tol);
  }
}

static nnc_tensor *loss_with(nnc_tensor *out, nnc_tensor *R) { return nnc_sum_all(nnc_mul(out, R)); }

static void parity_mha(nnc_dtype dt, double tol) {
  nnc_params P;
  nnc_params_init(&P, dt);
  nnc_mha_mod *m = nnc_new_mha(&P, "", 8, 2, true, NULL);
  load_params(&P, mha_params, MHA_NPARAMS, "mha");
  nnc_tensor *x = nnc_requires_grad(from(dt, NNC_SHAPE(2, 5, 8), mha_x));
  nnc_tensor *out = nnc_mha_self(m, x, NULL, true);
  nnc_backward(loss_with(out, from(dt, NNC_SHAPE(2, 5, 8), mha_R)));
  char w[64];
  snprintf(w, sizeof w, "mha %s out", dname(dt));
  CHECK_VALS(w, out, mha_out, N(mha_out), tol);
  snprintf(w, sizeof w, "mha %s dx", dname(dt));
  CHECK_VALS(w, x->grad, mha_dx, N(mha_dx), tol);
  snprintf(w, sizeof w, "mha %s", dname(dt));
  check_param_grads(&P, mha_params, MHA_NPARAMS, tol, w);
  /* the same through nnc_forward with the module's causal flag */
  m->causal = true;
  nnc_tensor *out2 = nnc_forward(&m->base, nnc_detach(x));
  CHECK(rel_err(out2, out) == 0);
  nnc_module_free(&m->base);
  nnc_params_free(&P);
  nnc_step_end();
}

static void parity_xattn(nnc_dtype dt, double tol) {
  nnc_params P;
  nnc_params_init(&P, dt);
  nnc_mha_mod *m = nnc_new_mha(&P, "", 8, 2, true, NULL);
  load_params(&P, xattn_params, XATTN_NPARAMS, "xattn");
  nnc_tensor *q = nnc_requires_grad(from(dt, NNC_SHAPE(2, 4, 8), xattn_q));
  nnc_tensor *mem = nnc_requires_grad(from(dt, NNC_SHAPE(2, 6, 8), xattn_mem));
  nnc_tensor *mask = nnc_padding_mask(2, 6, (const int64_t *)xattn_lengths);
  nnc_tensor *out = nnc_mha(m, q, mem, mem, mask, false);
  nnc_backward(loss_with(out, from(dt, NNC_SHAPE(2, 4, 8), xattn_R)));
  char w[64];
  snprintf(w, sizeof w, "xattn %s out", dname(dt));
  CHECK_VALS(w, out, xattn_out, N(xattn_out), tol);
  snprintf(w, sizeof w, "xattn %s dquery", dname(dt));
  CHECK_VALS(w, q->grad, xattn_dq, N(xattn_dq), tol);
  snprintf(w, sizeof w, "xattn %s dmemory", dname(dt));
  CHECK_VALS(w, mem->grad, xattn_dmem, N(xattn_dmem), tol);
  snprintf(w, sizeof w, "xattn %s", dname(dt));
  check_param_grads(&P, xattn_params, XATTN_NPARAMS, tol, w);
  nnc_module_free(&m->base);
  nnc_params_free(&P);
  nnc_step_end();
}

static void parity_encoder(nnc_dtype dt, double tol) {
  nnc_params P;
  nnc_params_init(&P, dt);
  nnc_transformer_opts o = {.d_model = 8, .nhead = 2, .dim_ff = 16, .causal = true};
  nnc_encoder_layer_mod *m = nnc_new_encoder_layer(&P, "", o, NULL);
  load_params(&P, enc_params, ENC_NPARAMS, "encoder");
  nnc_tensor *x = nnc_requires_grad(from(dt, NNC_SHAPE(2, 5, 8), enc_x));
  nnc_tensor *out = nnc_forward(&m->base, x);
  nnc_backward(loss_with(out, from(dt, NNC_SHAPE(2, 5, 8), enc_R)));
  char w[64];
  snprintf(w, sizeof w, "encoder %s out", dname(dt));
  CHECK_VALS(w, out, enc_out, N(enc_out), tol);
  snprintf(w, sizeof w, "encoder %s dx", dname(dt));
  CHECK_VALS(w, x->grad, enc_dx, N(enc_dx), tol);
  snprintf(w, sizeof w, "encoder %s", dname(dt));
  check_param_grads(&P, enc_params, ENC_NPARAMS, tol, w);
  nnc_module_free(&m->base);
  nnc_params_free(&P);
  nnc_step_end();
}

static void parity_decoder(nnc_dtype dt, double tol) {
  nnc_params P;
  nnc_params_init(&P, dt);
  nnc_transformer_opts o = {.d_model = 8, .nhead = 2, .dim_ff = 16, .causal = true};
  nnc_decoder_layer_mod *m = nnc_new_decoder_layer(&P, "", o, NULL);
  load_params(&P, dec_params, DEC_NPARAMS, "decoder");
  nnc_tensor *x = nnc_requires_grad(from(dt, NNC_SHAPE(2, 5, 8), dec_x));
  nnc_tensor *mem = nnc_requires_grad(from(dt, NNC_SHAPE(2, 6, 8), dec_mem));
  m->memory = mem;
  nnc_tensor *out = nnc_forward(&m->base, x);
  nnc_backward(loss_with(out, from(dt, NNC_SHAPE(2, 5, 8), dec_R)));
  char w[64];
  snprintf(w, sizeof w, "decoder %s out", dname(dt));
  CHECK_VALS(w, out, dec_out, N(dec_out), tol);
  snprintf(w, sizeof w, "decoder %s dx", dname(dt));
  CHECK_VALS(w, x->grad, dec_dx, N(dec_dx), tol);
  snprintf(w, sizeof w, "decoder %s dmemory", dname(dt));
  CHECK_VALS(w, mem->grad, dec_dmem, N(dec_dmem), tol);
  snprintf(w, sizeof w, "decoder %s", dname(dt));
  check_param_grads(&P, dec_params, DEC_NPARAMS, tol, w);
  nnc_module_free(&m->base);
  nnc_params_free(&P);
  nnc_step_end();
}

/* ======================= fused vs composed ======================= */

/* u8 keep-mask [Tq, Tk] (or [B, 1, Tq, Tk] with lengths): causal and/or key c < lengths[b] */
static nnc_tensor *full_keep(int64_t B, int64_t Tq, int64_t Tk, const int64_t *lengths, bool causal) {
  nnc_tensor *m = nnc_empty(NNC_U8, NNC_SHAPE(B, 1, Tq, Tk));
  uint8_t *d = nnc_u8(m);
  for (int64_t b = 0; b < B; b++)
    for (int64_t r = 0; r < Tq; r++)
      for (int64_t c = 0; c < Tk; c++) d[(b * Tq + r) * Tk + c] = (!causal || c <= r) && (!lengths || c < lengths[b]);
  return m;
}

/* softmax(scale q k^T masked) v from primitive ops; keep may be NULL */
static nnc_tensor *composed(nnc_tensor *q, nnc_tensor *k, nnc_tensor *v, nnc_tensor *keep, double scale) {
  nnc_tensor *s = nnc_scale(nnc_matmul_t(q, k, false, true), scale);
  if (keep) s = nnc_where(keep, s, nnc_scalar(q->dtype, -INFINITY));
  return nnc_matmul(nnc_softmax(s, -1), v);
}

typedef struct {
  const char *name;
  int64_t B, Hq, Hkv, Tq, Tk, D, Dv;
  bool causal, padding; /* padding: key lengths (Tk, Tk/2 + 1) */
  double scale;         /* 0 = 1/sqrt(D) */
} attn_case;

static const attn_case cases[] = {
    {"padding mask, Tq < Tk", 2, 3, 3, 7, 9, 16, 8, false, true, 0},
    {"causal, T = 70, D = 24", 2, 2, 2, 70, 70, 24, 24, true, false, 0},
    {"causal + padding, Tq < Tk", 2, 2, 2, 5, 40, 16, 32, true, true, 0.3},
    {"causal, Tq > Tk", 1, 2, 2, 40, 5, 32, 16, true, false, 0},
    {"broadcast k/v heads (MQA)", 2, 3, 1, 7, 9, 16, 8, false, false, 0},
    {"T = 64, D = 64, causal", 1, 2, 2, 64, 64, 64, 64, true, false, 0},
    {"odd sizes", 3, 1, 1, 13, 11, 5, 7, false, true, 0},
};

static void fused_vs_composed(nnc_dtype dt, double tol) {
  nnc_rng r;
  nnc_rng_seed(&r, 42, 0);
  for (size_t ci = 0; ci < sizeof cases / sizeof *cases; ci++) {
    const attn_case *c = &cases[ci];
    double scale = c->scale > 0 ? c->scale : 1.0 / sqrt((double)c->D);
    nnc_tensor *q = nnc_requires_grad(nnc_randn(dt, NNC_SHAPE(c->B, c->Hq, c->Tq, c->D), &r));
    nnc_tensor *k = nnc_requires_grad(nnc_randn(dt, NNC_SHAPE(c->B, c->Hkv, c->Tk, c->D), &r));
    nnc_tensor *v = nnc_requires_grad(nnc_randn(dt, NNC_SHAPE(c->B, c->Hkv, c->Tk, c->Dv), &r));
    nnc_tensor *R = nnc_randn(dt, NNC_SHAPE(c->B, c->Hq, c->Tq, c->Dv), &r);
    int64_t lengths[3] = {c->Tk, c->Tk / 2 + 1, c->Tk / 3 + 1};
    nnc_tensor *pad = c->padding ? nnc_padding_mask(c->B, c->Tk, lengths) : NULL;
    nnc_tensor *keep = c->padding || c->causal ? full_keep(c->B, c->Tq, c->Tk, c->padding ? lengths : NULL, c->causal) : NULL;
    /* causal with Tq > Tk leaves no row fully masked (row r sees key 0) */
    nnc_tensor *out = nnc_attention(q, k, v, pad, c->causal, c->scale);
    nnc_backward(loss_with(out, R));
    nnc_tensor *gq = q->grad, *gk = k->grad, *gv = v->grad;
    q->grad = k->grad = v->grad = NULL;
    nnc_tensor *ref = composed(q, k, v, keep, scale);
    nnc_backward(loss_with(ref, R));
    char w[128];
    snprintf(w, sizeof w, "%s (%s): out", c->name, dname(dt));
    CHECK_CLOSE(w, out, ref, tol);
    snprintf(w, sizeof w, "%s (%s): dq", c->name, dname(dt));
    CHECK_CLOSE(w, gq, q->grad, tol);
    snprintf(w, sizeof w, "%s (%s): dk", c->name, dname(dt));
    CHECK_CLOSE(w, gk, k->grad, tol);
    snprintf(w, sizeof w, "%s (%s): dv", c->name, dname(dt));
    CHECK_CLOSE(w, gv, v->grad, tol);
    /* the fast kernel against the reference kernel, forward and backward */
    nnc_tensor *qr = nnc_requires_grad(nnc_detach(q)), *kr = nnc_requires_grad(nnc_detach(k));
    nnc_tensor *vr = nnc_requires_grad(nnc_detach(v));
    nnc_set_reference_kernels(true);
    nnc_tensor *outr = nnc_attention(qr, kr, vr, pad, c->causal, c->scale);
    nnc_backward(loss_with(outr, R));
    nnc_set_reference_kernels(false);
    snprintf(w, sizeof w, "%s (%s): fast vs reference", c->name, dname(dt));
    CHECK_CLOSE(w, out, outr, tol);
    CHECK_CLOSE(w, gq, qr->grad, tol);
    CHECK_CLOSE(w, gk, kr->grad, tol);
    CHECK_CLOSE(w, gv, vr->grad, tol);
    nnc_step_end();
  }
}

/* strided q, k, v: heads permuted out of [B, T, H, D] projections, and a transposed q */
static void strided_inputs(nnc_dtype dt, double tol) {
  nnc_rng r;
  nnc_rng_seed(&r, 7, 0);
  int64_t B = 2, T = 20, H = 2, D = 16;
  nnc_tensor *x = nnc_requires_grad(nnc_randn(dt, NNC_SHAPE(B, T, 3 * H * D), &r));
  nnc_tensor *R = nnc_randn(dt, NNC_SHAPE(B, H, T, D), &r);
  nnc_tensor *parts[3];
  for (int j = 0; j < 3; j++)
    parts[j] = nnc_permute(nnc_reshape(nnc_narrow(x, -1, j * H * D, H * D), NNC_SHAPE(B, T, H, D)), (const int[]){0, 2, 1, 3});
  nnc_tensor *out = nnc_attention(parts[0], parts[1], parts[2], NULL, true, 0);
  nnc_backward(loss_with(out, R));
  nnc_tensor *gx = x->grad;
  x->grad = NULL;
  nnc_tensor *c[3];
  for (int j = 0; j < 3; j++) c[j] = nnc_contiguous(parts[j]);
  nnc_tensor *ref = composed(c[0], c[1], c[2], full_keep(1, T, T, NULL, true), 1.0 / sqrt((double)D));
  nnc_backward(loss_with(ref, R));
  CHECK_CLOSE("strided views: out", out, ref, tol);
  CHECK_CLOSE("strided views: dx", gx, x->grad, tol);
  /* q given transposed ([.., D, T] storage): a recorded contiguous copy */
  nnc_tensor *qt = nnc_requires_grad(nnc_randn(dt, NNC_SHAPE(B, H, D, T), &r));
  nnc_tensor *o2 = nnc_attention(nnc_transpose(qt, -1, -2), c[1], c[2], NULL, false, 0);
  nnc_tensor *r2 = composed(nnc_transpose(qt, -1, -2), c[1], c[2], NULL, 1.0 / sqrt((double)D));
  CHECK_CLOSE("transposed q: out", o2, r2, tol);
  nnc_step_end();
}

/* packed heads: nnc_attention_packed against nnc_attention on views of the same qkv */
static void packed_vs_views(nnc_dtype dt, double tol) {
  nnc_rng r;
  nnc_rng_seed(&r, 9, 0);
  int64_t B = 3, T = 37, H = 2, D = 24, E = H * D;
  nnc_tensor *qkv = nnc_requires_grad(nnc_randn(dt, NNC_SHAPE(B, T, 3 * E), &r));
  nnc_tensor *R = nnc_randn(dt, NNC_SHAPE(B, T, E), &r);
  int64_t lengths[3] = {37, 20, 9};
  nnc_tensor *mask = nnc_padding_mask(B, T, lengths);
  for (int causal = 0; causal < 2; causal++) {
    nnc_tensor *out = nnc_attention_packed(qkv, H, mask, causal, 0);
    nnc_backward(loss_with(out, R));
    nnc_tensor *g = qkv->grad;
    qkv->grad = NULL;
    nnc_tensor *parts[3];
    for (int j = 0; j < 3; j++)
      parts[j] = nnc_permute(nnc_reshape(nnc_narrow(qkv, -1, j * E, E), NNC_SHAPE(B, T, H, D)), (const int[]){0, 2, 1, 3});
    nnc_tensor *o = nnc_attention(parts[0], parts[1], parts[2], mask, causal, 0);
    nnc_tensor *ref = nnc_reshape(nnc_contiguous(nnc_permute(o, (const int[]){0, 2, 1, 3})), NNC_SHAPE(B, T, E));
    nnc_backward(loss_with(ref, R));
    CHECK_CLOSE(causal ? "packed causal: out" : "packed: out", out, ref, tol);
    CHECK_CLOSE(causal ? "packed causal: dqkv" : "packed: dqkv", g, qkv->grad, tol);
    qkv->grad = NULL;
  }
  nnc_step_end();
}

static void chunked(nnc_dtype dt, double tol) {
  nnc_rng r;
  nnc_rng_seed(&r, 11, 0);
  const int64_t Ts[2] = {24, 7}, chunks[2] = {8, 3}; /* the reshape path, then the mask path */
  for (int j = 0; j < 2; j++)
    for (int causal = 0; causal < 2; causal++) {
      int64_t T = Ts[j], ch = chunks[j];
      nnc_tensor *q = nnc_requires_grad(nnc_randn(dt, NNC_SHAPE(2, 2, T, 16), &r));
      nnc_tensor *k = nnc_requires_grad(nnc_randn(dt, NNC_SHAPE(2, 2, T, 16), &r));
      nnc_tensor *v = nnc_requires_grad(nnc_randn(dt, NNC_SHAPE(2, 2, T, 8), &r));
      nnc_tensor *R = nnc_randn(dt, NNC_SHAPE(2, 2, T, 8), &r);
      nnc_tensor *out = nnc_chunked_attention(q, k, v, ch, causal);
      nnc_backward(loss_with(out, R));
      nnc_tensor *gq = q->grad, *gk = k->grad, *gv = v->grad;
      q->grad = k->grad = v->grad = NULL;
      nnc_tensor *mask = nnc_empty(NNC_U8, NNC_SHAPE(T, T));
      for (int64_t a = 0; a < T; a++)
        for (int64_t b = 0; b < T; b++) nnc_u8(mask)[a * T + b] = a / ch == b / ch && (!causal || b <= a);
      nnc_tensor *ref = nnc_attention(q, k, v, mask, false, 0);
      nnc_backward(loss_with(ref, R));
      char w[96];
      snprintf(w, sizeof w, "chunked T=%lld chunk=%lld causal=%d (%s)", (long long)T, (long long)ch, causal, dname(dt));
      CHECK_CLOSE(w, out, ref, tol);
      CHECK_CLOSE(w, gq, q->grad, tol);
      CHECK_CLOSE(w, gk, k->grad, tol);
      CHECK_CLOSE(w, gv, v->grad, tol);
      nnc_step_end();
    }
}

/* a query whose keys are all masked: zero output, zero gradients, no NaN */
static void fully_masked(nnc_dtype dt) {
  nnc_rng r;
  nnc_rng_seed(&r, 5, 0);
  nnc_tensor *q = nnc_requires_grad(nnc_randn(dt, NNC_SHAPE(1, 2, 3, 16), &r));
  nnc_tensor *k = nnc_requires_grad(nnc_randn(dt, NNC_SHAPE(1, 2, 4, 16), &r));
  nnc_tensor *v = nnc_requires_grad(nnc_randn(dt, NNC_SHAPE(1, 2, 4, 16), &r));
  /* row 0: causal leaves key 0, the mask removes it; row 2: the mask removes every key */
  const uint8_t keep[12] = {0, 1, 1, 1, 1, 1, 0, 1, 0, 0, 0, 0};
  nnc_tensor *mask = nnc_from_data(NNC_U8, NNC_SHAPE(3, 4), keep);
  for (int ref = 0; ref < 2; ref++) {
    nnc_set_reference_kernels(ref);
    q->grad = k->grad = v->grad = NULL;
    nnc_tensor *out = nnc_attention(q, k, v, mask, true, 0);
    nnc_backward(nnc_sum_all(nnc_mul(out, nnc_ones(dt, 4, out->shape))));
    bool finite = true, zero_rows = true, zero_grad = true;
    for (int64_t i = 0; i < nnc_numel(out); i++) {
      int64_t row = (i / 16) % 3;
      finite &= isfinite(nnc_get(out, i));
      if (row != 1) zero_rows &= nnc_get(out, i) == 0;
    }
    for (int64_t i = 0; i < nnc_numel(q->grad); i++) {
      finite &= isfinite(nnc_get(q->grad, i));
      if ((i / 16) % 3 != 1) zero_grad &= nnc_get(q->grad, i) == 0;
    }
    for (int64_t i = 0; i < nnc_numel(k->grad); i++) finite &= isfinite(nnc_get(k->grad, i)) && isfinite(nnc_get(v->grad, i));
    CHECKF(finite && zero_rows && zero_grad, "fully masked rows (%s, %s kernel): finite %d, zero rows %d, zero dq %d",
           dname(dt), ref ? "reference" : "fast", finite, zero_rows, zero_grad);
  }
  nnc_set_reference_kernels(false);
  nnc_step_end();
}

/* the fast kernels give the same bits on 1 and 2 threads */
static void thread_independent(void) {
  nnc_rng r;
  nnc_rng_seed(&r, 3, 0);
  nnc_tensor *qkv = nnc_requires_grad(nnc_randn(NNC_F32, NNC_SHAPE(8, 64, 192), &r));
  nnc_tensor *R = nnc_randn(NNC_F32, NNC_SHAPE(8, 64, 64), &r);
  nnc_tensor *x = nnc_requires_grad(nnc_randn(NNC_F32, NNC_SHAPE(8, 64, 256), &r));
  nnc_tensor *b = nnc_requires_grad(nnc_randn(NNC_F32, NNC_SHAPE(256), &r));
  nnc_tensor *w = nnc_requires_grad(nnc_randn(NNC_F32, NNC_SHAPE(256), &r));
  nnc_tensor *R2 = nnc_randn(NNC_F32, NNC_SHAPE(8, 64, 256), &r);
  int old = nnc_get_threads();
  nnc_tensor *res[2][8];
  for (int t = 0; t < 2; t++) {
    nnc_set_threads(t + 1);
    qkv->grad = x->grad = b->grad = w->grad = NULL;
    res[t][0] = nnc_attention_packed(qkv, 2, NULL, true, 0);
    res[t][2] = nnc_layer_norm(x, w, b, 1e-5);
    res[t][5] = nnc_bias_gelu(x, b);
    nnc_backward(nnc_add(nnc_add(loss_with(res[t][0], R), loss_with(res[t][2], R2)), loss_with(res[t][5], R2)));
    res[t][1] = qkv->grad, res[t][3] = x->grad, res[t][4] = w->grad, res[t][6] = b->grad;
  }
  nnc_set_threads(old);
  const char *what[7] = {"attention out", "attention dqkv", "layer_norm out", "dx", "layer_norm dweight",
                         "bias_gelu out", "dbias"};
  for (int j = 0; j < 7; j++) CHECKF(rel_err(res[0][j], res[1][j]) == 0, "%s differs between 1 and 2 threads", what[j]);
  nnc_step_end();
}

/* ======================= positional encodings ======================= */

static void posenc(nnc_dtype dt, double tol) {
  CHECK_VALS("sinusoidal 6x8", nnc_sinusoidal_table(dt, 6, 8, 0), sin_6x8, N(sin_6x8), tol);
  CHECK_VALS("sinusoidal 6x7", nnc_sinusoidal_table(dt, 6, 7, 0), sin_6x7, N(sin_6x7), tol);
  /* the module adds the table */
  nnc_sinusoidal_mod *s = nnc_new_sinusoidal(10, 8, 0);
  nnc_tensor *z = nnc_zeros(dt, NNC_SHAPE(2, 6, 8));
  nnc_tensor *y = nnc_forward(&s->base, z);
  double both[2 * 48];
  for (int i = 0; i < 96; i++) both[i] = sin_6x8[i % 48];
  CHECK_VALS("sinusoidal module", y, both, 96, tol);
  nnc_module_free(&s->base);

  /* rope against Hugging Face's rotate_half at positions 3..7 */
  nnc_tensor *x = nnc_requires_grad(from(dt, NNC_SHAPE(2, 2, 5, 8), rope_x));
  nnc_tensor *out = nnc_rope(x, 3, 0);
  nnc_backward(loss_with(out, from(dt, NNC_SHAPE(2, 2, 5, 8), rope_R)));
  CHECK_VALS("rope out", out, rope_out, N(rope_out), tol);
  CHECK_VALS("rope dx", x->grad, rope_dx, N(rope_dx), tol);

  /* scores of rotated q and k depend only on the distance: shifting every position by 5
   * changes nothing */
  nnc_rng r;
  nnc_rng_seed(&r, 1, 0);
  nnc_tensor *q = nnc_randn(dt, NNC_SHAPE(1, 6, 16), &r), *k = nnc_randn(dt, NNC_SHAPE(1, 6, 16), &r);
  nnc_tensor *s0 = nnc_matmul_t(nnc_rope(q, 0, 0), nnc_rope(k, 0, 0), false, true);
  nnc_tensor *s5 = nnc_matmul_t(nnc_rope(q, 5, 0), nnc_rope(k, 5, 0), false, true);
  CHECK_CLOSE("rope: relative positions", s5, s0, dt == NNC_F32 ? 1e-5 : 1e-12);

  /* learned positions: x + weight[:T]; the weight's gradient sums over the batch */
  nnc_params P;
  nnc_params_init(&P, dt);
  nnc_learned_pos_mod *l = nnc_new_learned_pos(&P, "pos", 8, 4, NULL);
  CHECK(nnc_params_find(&P, "pos.weight") == l->weight && l->weight->shape[0] == 8);
  nnc_tensor *xin = nnc_zeros(dt, NNC_SHAPE(3, 5, 4));
  nnc_tensor *yl = nnc_forward(&l->base, xin);
  nnc_backward(nnc_sum_all(yl));
  bool ok = true;
  for (int64_t i = 0; i < 60; i++) ok &= nnc_get(yl, i) == nnc_get(l->weight, i % 20);
  for (int64_t i = 0; i < 32; i++) ok &= nnc_get(l->weight->grad, i) == (i < 20 ? 3.0 : 0.0);
  CHECKF(ok, "learned positions (%s)", dname(dt));
  nnc_module_free(&l->base);
  nnc_params_free(&P);
  nnc_step_end();
}

/* ======================= fused layer_norm and bias_gelu, f32 backward ======================= */

static void fused_small_ops(nnc_dtype dt, double tol) {
  nnc_rng r;
  nnc_rng_seed(&r, 13, 0);
  /* 70 rows (crosses the 32-row blocks of the weight gradient), 64 wide */
  nnc_tensor *x = nnc_requires_grad(nnc_randn(dt, NNC_SHAPE(2, 35, 64), &r));
  nnc_tensor *w = nnc_requires_grad(nnc_randn(dt, NNC_SHAPE(64), &r));
  nnc_tensor *b = nnc_requires_grad(nnc_randn(dt, NNC_SHAPE(64), &r));
  nnc_tensor *R = nnc_randn(dt, NNC_SHAPE(2, 35, 64), &r);
  nnc_tensor *y = nnc_layer_norm(x, w, b, 1e-5);
  nnc_backward(loss_with(y, R));
  nnc_tensor *gx = x->grad, *gw = w->grad, *gb = b->grad;
  x->grad = w->grad = b->grad = NULL;
  int ax = -1;
  nnc_tensor *mean = nnc_mean(x, 1, &ax, true), *var = nnc_var(x, 1, &ax, 0, true);
  nnc_tensor *ref = nnc_add(nnc_mul(nnc_mul(nnc_sub(x, mean), nnc_rsqrt(nnc_shift(var, 1e-5))), w), b);
  nnc_backward(loss_with(ref, R));
  char s[64];
  snprintf(s, sizeof s, "layer_norm (%s)", dname(dt));
  CHECK_CLOSE(s, y, ref, tol);
  CHECK_CLOSE(s, gx, x->grad, tol);
  CHECK_CLOSE(s, gw, w->grad, tol);
  CHECK_CLOSE(s, gb, b->grad, tol);

  /* bias_gelu against gelu(x + b), inputs over [-6, 6] */
  nnc_tensor *h = nnc_requires_grad(nnc_rand(dt, NNC_SHAPE(3, 70, 40), &r));
  nnc_tensor *hb = nnc_requires_grad(nnc_rand(dt, NNC_SHAPE(40), &r));
  nnc_no_grad_begin();
  nnc_tensor *h2 = nnc_affine(h, 12, -6);
  nnc_no_grad_end();
  h2 = nnc_requires_grad(h2);
  nnc_tensor *R2 = nnc_randn(dt, NNC_SHAPE(3, 70, 40), &r);
  nnc_tensor *g = nnc_bias_gelu(h2, hb);
  nnc_backward(loss_with(g, R2));
  nnc_tensor *gh = h2->grad, *ghb = hb->grad;
  h2->grad = hb->grad = NULL;
  nnc_tensor *gref = nnc_gelu(nnc_add(h2, hb));
  nnc_backward(loss_with(gref, R2));
  snprintf(s, sizeof s, "bias_gelu (%s)", dname(dt));
  CHECK_CLOSE(s, g, gref, tol);
  CHECK_CLOSE(s, gh, h2->grad, tol);
  CHECK_CLOSE(s, ghb, hb->grad, tol);
  nnc_step_end();
}

/* ======================= modules: dropout, rope, printing, errors ======================= */

static void modules_misc(void) {
  nnc_rng r;
  nnc_rng_seed(&r, 2, 0);
  /* dropout: in eval an encoder layer with p = 0.3 equals the same weights without dropout */
  nnc_params P1, P2;
  nnc_params_init(&P1, NNC_F64);
  nnc_params_init(&P2, NNC_F64);
  nnc_rng r1, r2;
  nnc_rng_seed(&r1, 5, 0);
  nnc_rng_seed(&r2, 5, 0);
  nnc_transformer_opts o = {.d_model = 16, .nhead = 4, .dim_ff = 32, .causal = true};
  nnc_encoder_layer_mod *a = nnc_new_encoder_layer(&P1, "enc", o, &r1);
  o.dropout = 0.3;
  nnc_encoder_layer_mod *d = nnc_new_encoder_layer(&P2, "enc", o, &r2);
  CHECK(P1.count == P2.count && a->dropout == NULL && d->dropout && d->dropout1 && d->dropout2);
  nnc_tensor *x = nnc_randn(NNC_F64, NNC_SHAPE(2, 6, 16), &r);
  nnc_tensor *ya = nnc_forward(&a->base, x);
  nnc_tensor *yd = nnc_forward(&d->base, x);
  CHECK(rel_err(yd, ya) > 1e-3); /* training: masks drawn */
  nnc_module_eval(&d->base);
  yd = nnc_forward(&d->base, x);
  CHECK(rel_err(yd, ya) < 1e-14);
  /* names as PyTorch's state_dict */
  CHECK(nnc_params_find(&P1, "enc.self_attn.in_proj_weight") && nnc_params_find(&P1, "enc.self_attn.out_proj.bias") &&
        nnc_params_find(&P1, "enc.linear1.weight") && nnc_params_find(&P1, "enc.norm2.bias"));
  FILE *f = tmpfile();
  nnc_module_print(&a->base, f);
  rewind(f);
  char buf[2048] = "";
  size_t nr = fread(buf, 1, sizeof buf - 1, f);
  buf[nr] = 0;
  fclose(f);
  CHECKF(strstr(buf, "(self_attn): MultiheadAttention(") && strstr(buf, "(out_proj): Linear(") &&
             strstr(buf, "(linear2): Linear(in_features=32, out_features=16") && strstr(buf, "(norm1): LayerNorm("),
         "module print:\n%s", buf);
  nnc_module_free(&a->base);
  nnc_module_free(&d->base);
  nnc_params_free(&P1);
  nnc_params_free(&P2);

  /* MHA with rotary embeddings: q and k rotated, v not; shifting every position of the input
   * sequence by prepending nothing changes nothing, but the output differs from plain MHA */
  nnc_params P;
  nnc_params_init(&P, NNC_F64);
  nnc_mha_mod *m = nnc_new_mha(&P, "attn", 16, 2, true, &r);
  nnc_tensor *xs = nnc_requires_grad(nnc_randn(NNC_F64, NNC_SHAPE(2, 7, 16), &r));
  nnc_tensor *plain = nnc_mha_self(m, xs, NULL, true);
  m->rope = true;
  nnc_tensor *rot = nnc_mha_self(m, xs, NULL, true);
  CHECK(rel_err(rot, plain) > 1e-3);
  /* the first position attends only to itself: rotation changes nothing there */
  bool first_same = true;
  for (int64_t b = 0; b < 2; b++)
    for (int64_t e = 0; e < 16; e++) first_same &= fabs(nnc_get(rot, b * 7 * 16 + e) - nnc_get(plain, b * 7 * 16 + e)) < 1e-12;
  CHECK(first_same);
  nnc_backward(nnc_sum_all(rot));
  CHECK(xs->grad && m->in_proj_weight->grad);
  nnc_module_free(&m->base);
  nnc_params_free(&P);
  nnc_step_end();

  /* errors name the op and the shapes */
  nnc_tensor *q = nnc_randn(NNC_F32, NNC_SHAPE(2, 3, 4), &r), *k = nnc_randn(NNC_F32, NNC_SHAPE(2, 5, 6), &r);
  nnc_tensor *v = nnc_randn(NNC_F32, NNC_SHAPE(2, 5, 4), &r);
  EXPECT_ABORT(nnc_attention(q, k, v, NULL, false, 0), "attention");
  nnc_tensor *k4 = nnc_randn(NNC_F32, NNC_SHAPE(2, 5, 4), &r);
  nnc_tensor *badmask = nnc_ones(NNC_F32, NNC_SHAPE(3, 5));
  EXPECT_ABORT(nnc_attention(q, k4, v, badmask, false, 0), "mask must be u8");
  nnc_tensor *wide = nnc_empty(NNC_U8, NNC_SHAPE(4, 5));
  EXPECT_ABORT(nnc_attention(q, k4, v, wide, false, 0), "does not broadcast");
  EXPECT_ABORT(nnc_attention_packed(nnc_randn(NNC_F32, NNC_SHAPE(2, 3, 10), &r), 2, NULL, false, 0), "3*heads*D");
  EXPECT_ABORT(nnc_layer_norm(q, nnc_ones(NNC_F32, NNC_SHAPE(5)), NULL, 1e-5), "layer_norm");
  EXPECT_ABORT(nnc_bias_gelu(q, nnc_ones(NNC_F32, NNC_SHAPE(3))), "bias_gelu");
  EXPECT_ABORT(nnc_rope(nnc_randn(NNC_F32, NNC_SHAPE(2, 3, 5), &r), 0, 0), "even");
  nnc_params_init(&P, NNC_F32);
  EXPECT_ABORT(nnc_new_mha(&P, "m", 10, 3, true, NULL), "multiple of num_heads");
  nnc_params_free(&P);
  nnc_step_end();
}

int main(void) {
  nnc_init();
  parity_mha(NNC_F64, 1e-10);
  parity_mha(NNC_F32, 1e-5);
  parity_xattn(NNC_F64, 1e-10);
  parity_xattn(NNC_F32, 1e-5);
  parity_encoder(NNC_F64, 1e-10);
  parity_encoder(NNC_F32, 1e-5);
  parity_decoder(NNC_F64, 1e-10);
  parity_decoder(NNC_F32, 1e-5);
  fused_vs_composed(NNC_F64, 1e-12);
  fused_vs_composed(NNC_F32, 1e-5);
  strided_inputs(NNC_F64, 1e-12);
  strided_inputs(NNC_F32, 1e-5);
  packed_vs_views(NNC_F64, 1e-12);
  packed_vs_views(NNC_F32, 1e-5);
  chunked(NNC_F64, 1e-12);
  chunked(NNC_F32, 1e-5);
  fully_masked(NNC_F64);
  fully_masked(NNC_F32);
  thread_independent();
  posenc(NNC_F64, 1e-12);
  posenc(NNC_F32, 1e-6);
  fused_small_ops(NNC_F64, 1e-12);
  fused_small_ops(NNC_F32, 1e-5);
  modules_misc();
  return test_summary();
}
