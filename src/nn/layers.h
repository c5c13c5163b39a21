/* nn/layers.h: Linear, Embedding, Dropout, activation and Flatten modules, and an MLP
 * builder.  Each is built only from ops; parameters go into the caller's nnc_params block
 * under "<name>.<leaf>" with PyTorch's layouts and default initialisations. */
#ifndef NNC_NN_LAYERS_H
#define NNC_NN_LAYERS_H
#include "core/rng.h"
#include "nn/act.h"
#include "nn/module.h"

/* y = x @ weight^T + bias.  x [..., in] -> [..., out] (the fused nnc_linear op).
 * weight [out, in], bias [out]; both U(-1/sqrt(in), 1/sqrt(in)), which is PyTorch's default
 * (kaiming_uniform with a = sqrt(5) for the weight).  rng NULL = the global stream. */
typedef struct {
  nnc_module base;
  int64_t in, out;
  nnc_tensor *weight, *bias; /* bias NULL without one */
} nnc_linear_mod;
nnc_linear_mod *nnc_new_linear(nnc_params *p, const char *name, int64_t in, int64_t out, bool bias, nnc_rng *r);

/* rows of weight [num, dim] picked by an i64 index tensor of any shape: idx [...] -> [..., dim].
 * weight ~ N(0, 1) as PyTorch. */
typedef struct {
  nnc_module base;
  int64_t num, dim;
  nnc_tensor *weight;
} nnc_embedding_mod;
nnc_embedding_mod *nnc_new_embedding(nnc_params *p, const char *name, int64_t num, int64_t dim, nnc_rng *r);

/* in training: each element kept with probability 1-p and scaled by 1/(1-p) (inverted
 * dropout), zeroed otherwise; identity in eval.  The masks come from the module's own rng
 * stream (seed, stream), so runs repeat and other consumers' streams are untouched. */
typedef struct {
  nnc_module base;
  double p;
  nnc_rng rng; /* save it in a checkpoint to resume the same masks */
} nnc_dropout_mod;
nnc_dropout_mod *nnc_new_dropout(double p, uint64_t seed, uint64_t stream);

/* an activation as a module (param: leaky_relu slope, elu alpha; see nn/act.h) */
typedef struct {
  nnc_module base;
  nnc_act act;
  double param;
} nnc_act_mod;
nnc_act_mod *nnc_new_act(nnc_act act, double param);

/* flattens axes start..end (inclusive, negative from the end); PyTorch's nn.Flatten is (1, -1) */
typedef struct {
  nnc_module base;
  int start, end;
} nnc_flatten_mod;
nnc_flatten_mod *nnc_new_flatten(int start, int end);

/* Sequential(Linear(sizes[0], sizes[1]), act, Linear(sizes[1], sizes[2]), act, ...,
 * Linear(sizes[n-2], sizes[n-1])): n_sizes - 1 Linear layers with `act` between them, names
 * "<name>.0", "<name>.2", ... as the same nn.Sequential in PyTorch.  Weights get PyTorch's
 * default init. */
nnc_sequential_mod *nnc_new_mlp(nnc_params *p, const char *name, int n_sizes, const int64_t *sizes, nnc_act act,
                                nnc_rng *r);

#endif
