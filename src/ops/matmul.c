/* ops/matmul.c: matrix products on tensors: matmul (NumPy semantics, batch dims broadcast,
 * optional transposed operands without copies) and the fused linear layer
 * y = x @ w^T + b whose backward writes the weight gradient straight into its block.
 * The products run on core/gemm.h (oneDNN for f32); the reference kernel is its triple loop. */
#include <string.h>
#include "autograd/autograd.h"
#include "core/error.h"
#include "core/gemm.h"
#include "core/iter.h"
#include "ops/ops.h"

/* C = alpha * op(A) @ op(B) + beta * C on raw pointers, fast or reference by the global flag */
static void gemm(nnc_dtype dt, bool ta, bool tb, int64_t M, int64_t N, int64_t K, double alpha, const void *A,
                 int64_t lda, const void *B, int64_t ldb, double beta, void *C, int64_t ldc) {
  bool ref = nnc_reference_kernels();
  if (dt == NNC_F32)
    (ref ? nnc_gemm_ref_f32 : nnc_gemm_f32)(ta, tb, M, N, K, (float)alpha, A, lda, B, ldb, (float)beta, C, ldc);
  else
    (ref ? nnc_gemm_ref_f64 : nnc_gemm_f64)(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

/* A matrix operand: the last two dims of t read as a row-major matrix with leading dim ld,
 * possibly transposed (flip) when its columns, not rows, are unit-stride.  Returns false if
 * neither of the last two dims has unit stride. */
static bool as_matrix(const nnc_tensor *t, bool *trans, int64_t *ld) {
  int64_t rs = t->stride[t->ndim - 2], cs = t->stride[t->ndim - 1];
  int64_t rows = t->shape[t->ndim - 2], cols = t->shape[t->ndim - 1];
  if (cs == 1 || cols == 1) {
    *ld = rows == 1 ? (cols > 0 ? cols : 1) : rs;
    if (*ld >= (cols > 0 ? cols : 1)) return true;
  }
  if (rs == 1 || rows == 1) {
    *trans = !*trans;
    *ld = cols == 1 ? (rows > 0 ? rows : 1) : cs;
    return *ld >= (rows > 0 ? rows : 1);
  }
  return false;
}

static void matmul_backward(nnc_node *n) {
  nnc_tensor *a = nnc_saved(n, 0), *b = nnc_saved(n, 1), *g = n->out->grad;
  bool ta = n->i[0], tb = n->i[1];
  if (n->in[0]->requires_grad)
    nnc_accum_grad(n->in[0], ta ? nnc_matmul_t(b, g, tb, true) : nnc_matmul_t(g, b, false, !tb));
  if (n->in[1]->requires_grad)
    nnc_accum_grad(n->in[1], tb ? nnc_matmul_t(g, a, true, ta) : nnc_matmul_t(a, g, !ta, false));
}
NNC_OP_DEF(op_matmul, "matmul", matmul_backward);

/* a [..., M, K] (or [..., K, M] if ta) @ b [..., K, N] (or [..., N, K] if tb) -> [..., M, N] */
static nnc_tensor *matmul_nd(nnc_tensor *a, nnc_tensor *b, bool ta, bool tb) {
  char sa[96], sb[96];
  int64_t M = a->shape[a->ndim - (ta ? 1 : 2)], K = a->shape[a->ndim - (ta ? 2 : 1)];
  int64_t Kb = b->shape[b->ndim - (tb ? 1 : 2)], N = b->shape[b->ndim - (tb ? 2 : 1)];
  NNC_CHECK(K == Kb, "matmul", "inner sizes differ: %s%s @ %s%s", nnc_shape_str(a, sa, 96), ta ? "^T" : "",
            nnc_shape_str(b, sb, 96), tb ? "^T" : "");
  /* broadcast the batch dims */
  nnc_tensor ab = *a, bb = *b;
  ab.ndim -= 2;
  bb.ndim -= 2;
  int nb;
  int64_t batch[NNC_MAX_DIMS], out_shape[NNC_MAX_DIMS];
  nnc_broadcast_shape(&ab, &bb, "matmul", &nb, batch);
  memcpy(out_shape, batch, sizeof(int64_t) * nb);
  out_shape[nb] = M;
  out_shape[nb + 1] = N;
  nnc_tensor *y = nnc_empty(a->dtype, nb + 2, out_shape);

  bool ta_eff = ta, tb_eff = tb;
  int64_t lda = 0, ldb = 0;
  nnc_tensor *ac = a, *bc = b;
  if (!as_matrix(ac, &ta_eff, &lda)) {
    ac = nnc_contiguous(nnc_detach(a));
    ta_eff = ta;
    as_matrix(ac, &ta_eff, &lda);
  }
  if (!as_matrix(bc, &tb_eff, &ldb)) {
    bc = nnc_contiguous(nnc_detach(b));
    tb_eff = tb;
    as_matrix(bc, &tb_eff, &ldb);
  }
  int64_t strA[NNC_MAX_DIMS], strB[NNC_MAX_DIMS], strC[NNC_MAX_DIMS];
  ab = *ac;
  bb = *bc;
  ab.ndim -= 2;
  bb.ndim -= 2;
  nnc_broadcast_strides(&ab, nb, batch, strA);
  nnc_broadcast_strides(&bb, nb, batch, strB);
  nnc_contiguous_strides(nb, batch, strC);
  for (int d = 0; d < nb; d++) strC[d] *= M * N;
  const int64_t *st[3] = {strC, strA, strB}, off[3] = {0, ac->offset, bc->offset};
  size_t es = nnc_dtype_size(a->dtype);
  char *A = ac->storage->data, *B = bc->storage->data, *C = nnc_data(y);
  bool ref = nnc_reference_kernels();
  nnc_iter it;
  for (bool more = nnc_iter_init(&it, nb, batch, 3, st, off); more; more = nnc_iter_next(&it)) {
    if (ref) {
      for (int64_t j = 0; j < it.n; j++)
        gemm(a->dtype, ta_eff, tb_eff, M, N, K, 1.0, A + (it.off[1] + j * it.inner[1]) * es, lda,
             B + (it.off[2] + j * it.inner[2]) * es, ldb, 0.0, C + (it.off[0] + j * it.inner[0]) * es, N);
    } else if (a->dtype == NNC_F32) {
      nnc_gemm_batched_f32(ta_eff, tb_eff, it.n, M, N, K, 1.0f, (float *)A + it.off[1], lda, it.inner[1],
                           (float *)B + it.off[2], ldb, it.inner[2], 0.0f, (float *)C + it.off[0], N, it.inner[0]);
    } else {
      nnc_gemm_batched_f64(ta_eff, tb_eff, it.n, M, N, K, 1.0, (double *)A + it.off[1], lda, it.inner[1],
                           (double *)B + it.off[2], ldb, it.inner[2], 0.0, (double *)C + it.off[0], N, it.inner[0]);
    }
  }
  nnc_tensor *in[2] = {a, b};
  nnc_node *n = nnc_record(&op_matmul, y, 2, in);
  if (n) {
    nnc_save(n, a);
    nnc_save(n, b);
    n->i[0] = ta;
    n->i[1] = tb;
  }
  return y;
}

nnc_tensor *nnc_matmul_t(nnc_tensor *a, nnc_tensor *b, bool ta, bool tb) {
  nnc_check_float_pair(a, b, "matmul");
  NNC_CHECK(a->ndim >= 1 && b->ndim >= 1, "matmul", "operands must have at least 1 dim (got %d and %d)", a->ndim, b->ndim);
  bool vec_a = a->ndim == 1, vec_b = b->ndim == 1;
  if (vec_a) a = nnc_unsqueeze(a, 0), ta = false;  /* [K] -> [1, K] */
  if (vec_b) b = nnc_unsqueeze(b, -1), tb = false; /* [K] -> [K, 1] */
  nnc_tensor *y = matmul_nd(a, b, ta, tb);
  if (vec_b) y = nnc_squeeze(y, -1);
  if (vec_a) y = nnc_squeeze(y, -2);
  return y;
}

nnc_tensor *nnc_matmul(nnc_tensor *a, nnc_tensor *b) { return nnc_matmul_t(a, b, false, false); }

/* ---- linear: y[R, out] = x[R, in] @ w[out, in]^T + bias[out], R = product of leading dims ---- */
static void linear_backward(nnc_node *n) {
  nnc_tensor *x = nnc_saved(n, 0), *w = nnc_saved(n, 1), *g = n->out->grad;
  nnc_tensor *bias = n->n_in > 2 ? n->in[2] : NULL;
  int64_t in = w->shape[1], out = w->shape[0], R = nnc_numel(x) / (in ? in : 1);
  nnc_dtype dt = x->dtype;
  if (n->in[0]->requires_grad) { /* dx[R, in] = g[R, out] @ w[out, in] */
    nnc_tensor *gx = nnc_empty(dt, x->ndim, x->shape);
    gemm(dt, false, false, R, in, out, 1.0, nnc_data(g), out, nnc_data(w), in, 0.0, nnc_data(gx), in);
    nnc_accum_grad(n->in[0], gx);
  }
  if (n->in[1]->requires_grad) { /* dw[out, in] += g^T[out, R] @ x[R, in], straight into w's grad */
    nnc_tensor *gw = nnc_grad_of(n->in[1]);
    gemm(dt, true, false, out, in, R, 1.0, nnc_data(g), out, nnc_data(x), in, 1.0, nnc_data(gw), in);
    nnc_bump_version(gw);
  }
  if (bias && bias->requires_grad) { /* db[out] += sum over rows of g */
    nnc_tensor *gb = nnc_grad_of(bias);
    if (dt == NNC_F32) {
      float *db = nnc_data(gb);
      const float *gp = nnc_data(g);
      for (int64_t r = 0; r < R; r++)
        for (int64_t o = 0; o < out; o++) db[o] += gp[r * out + o];
    } else {
      double *db = nnc_data(gb);
      const double *gp = nnc_data(g);
      for (int64_t r = 0; r < R; r++)
        for (int64_t o = 0; o < out; o++) db[o] += gp[r * out + o];
    }
    nnc_bump_version(gb);
  }
}
NNC_OP_DEF(op_linear, "linear", linear_backward);

nnc_tensor *nnc_linear(nnc_tensor *x, nnc_tensor *w, nnc_tensor *bias) {
  char sx[96], sw[96];
  nnc_check_float_pair(x, w, "linear");
  NNC_CHECK(w->ndim == 2 && x->ndim >= 1 && x->shape[x->ndim - 1] == w->shape[1], "linear",
            "input %s does not fit weight %s (expects [..., %lld])", nnc_shape_str(x, sx, 96), nnc_shape_str(w, sw, 96),
            (long long)(w->ndim == 2 ? w->shape[1] : -1));
  int64_t in = w->shape[1], out = w->shape[0];
  if (bias) {
    nnc_check_float_pair(x, bias, "linear");
    NNC_CHECK(bias->ndim == 1 && bias->shape[0] == out, "linear", "bias %s for %lld outputs", nnc_shape_str(bias, sx, 96),
              (long long)out);
  }
  /* the kernels want contiguous x, w, bias; copies are recorded, so gradients flow through */
  x = nnc_contiguous(x);
  w = nnc_contiguous(w);
  if (bias) bias = nnc_contiguous(bias);
  int64_t shape[NNC_MAX_DIMS];
  memcpy(shape, x->shape, sizeof shape);
  shape[x->ndim - 1] = out;
  nnc_tensor *y = nnc_empty(x->dtype, x->ndim, shape);
  int64_t R = nnc_numel(x) / (in ? in : 1);
  double beta = 0.0;
  if (bias) { /* rows of y start as the bias, then y += x @ w^T */
    size_t row = (size_t)out * nnc_dtype_size(x->dtype);
    for (int64_t r = 0; r < R; r++) memcpy((char *)nnc_data(y) + r * row, nnc_data(bias), row);
    beta = 1.0;
  }
  gemm(x->dtype, false, true, R, out, in, 1.0, nnc_data(x), in, nnc_data(w), in, beta, nnc_data(y), out);
  nnc_tensor *inputs[3] = {x, w, bias};
  nnc_node *n = nnc_record(&op_linear, y, bias ? 3 : 2, inputs);
  if (n) {
    nnc_save(n, x);
    nnc_save(n, w);
  }
  return y;
}
