/* core/params.h: the persistent parameter block.
 *
 * All parameters of a model live in one contiguous block of values, their gradients in a
 * second block of the same layout; each parameter is a tensor view (storage + offset) into
 * them.  Adding a parameter may move the blocks, but views stay valid because they hold the
 * shared storage and an offset.  An optimiser is then one loop over the block, clipping is
 * one norm, saving is one write.  Names follow the module path, as PyTorch's state_dict does
 * ("fc1.weight").  Parameters are float32 unless the block is made with another float dtype. */
#ifndef NNC_PARAMS_H
#define NNC_PARAMS_H
#include "core/tensor.h"

typedef struct {
  nnc_dtype dtype;
  int count, capacity;
  nnc_tensor **tensors;   /* views into `values`, each with ->grad a view into `grads` */
  char **names;
  float *lr_scale;        /* per-parameter multipliers, default 1 (parameter groups) */
  float *decay_scale;
  bool *frozen;           /* excluded from updates */
  nnc_tensor **masks;     /* per parameter: NULL, or an F32 0/1 mask of its shape owned by the
                           * block (nn/prune.h edits them; optimisers honour them) */
  nnc_storage values, grads;
  int64_t numel;          /* elements in use */
  int64_t elem_capacity;
} nnc_params;

void nnc_params_init(nnc_params *p, nnc_dtype dt);
void nnc_params_free(nnc_params *p);
/* a new zero-filled parameter; `name` is copied.  Stops if the name is already taken. */
nnc_tensor *nnc_params_add(nnc_params *p, const char *name, int ndim, const int64_t *shape);
nnc_tensor *nnc_params_find(const nnc_params *p, const char *name); /* NULL if absent */
int nnc_params_index(const nnc_params *p, const nnc_tensor *t);     /* -1 if not ours */
void nnc_params_zero_grad(nnc_params *p);
/* the whole blocks as 1-d tensors (views in the current arena) */
nnc_tensor *nnc_params_values(nnc_params *p);
nnc_tensor *nnc_params_grads(nnc_params *p);
double nnc_params_grad_norm(const nnc_params *p); /* global L2 norm of the gradients */
/* the mask of parameter k, made all-ones if it has none (nn/prune.h has the mask API) */
nnc_tensor *nnc_params_mask_add(nnc_params *p, int k);

#endif
