/* infer/sparse_mlp.h: a pruned MLP (Linear layers with ReLU between them, as fashion-mlp's
 * fc1-ReLU-fc2-ReLU-fc3) run for inference with the sparse layer of infer/sparse.h.
 *
 * The zeros of each weight are its pruned connections: a mask from nn/prune.h keeps pruned
 * weights at exactly 0, so nothing but the weights is read.  Each layer whose density
 * (nonzeros / entries) is at most max_density becomes an nnc_sparse_linear; a denser one keeps
 * its dense weight and runs nnc_gemm_f32 (docs/sparse.md measures where sparse starts to pay).
 *
 *   const char *layers[] = {"fc1", "fc2", "fc3"};      // reads fcN.weight [out, in], fcN.bias [out]
 *   nnc_sparse_mlp m;
 *   if (nnc_sparse_mlp_from_params(&params, layers, 3, 0.5, &m) != NNC_OK) puts(nnc_last_error());
 *   nnc_sparse_mlp_forward(&m, B, x, logits);          // x [B, in] -> logits [B, classes]
 *   nnc_sparse_mlp_free(&m);
 *
 * The outputs equal the dense model's up to float rounding (the sums run in another order). */
#ifndef NNC_INFER_SPARSE_MLP_H
#define NNC_INFER_SPARSE_MLP_H
#include "core/error.h"
#include "core/params.h"
#include "infer/sparse.h"

typedef struct {
  int64_t in, out;
  bool sparse;            /* sp is used; otherwise w and b */
  nnc_sparse_linear sp;
  float *w, *b;           /* dense layers: w [out, in], b [out] */
} nnc_sparse_mlp_layer;

typedef struct {
  int n_layers;
  nnc_sparse_mlp_layer *layers;
  int64_t in, out, width; /* inputs, outputs, the widest layer output */
} nnc_sparse_mlp;

/* layers[i] names a Linear: "<name>.weight" [out, in] must exist, "<name>.bias" [out] may;
 * each layer's in must equal the previous out.  Parameters of any float dtype (converted to
 * float32).  Errors (NNC_ERR_ARG, message naming the parameter): unknown names, wrong ranks,
 * shapes that do not chain, n < 1; *out is zeroed then. */
nnc_status nnc_sparse_mlp_from_params(const nnc_params *p, const char *const *layers, int n, double max_density,
                                      nnc_sparse_mlp *out);
/* y [B, out] = the MLP of x [B, in] (ReLU after every layer but the last) */
void nnc_sparse_mlp_forward(const nnc_sparse_mlp *m, int64_t B, const float *x, float *y);
void nnc_sparse_mlp_free(nnc_sparse_mlp *m);

#endif
