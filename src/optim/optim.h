/* optim/optim.h: SGD, Adam and AdamW over a parameter block, gradient clipping, and the
 * parameter-group helpers.
 *
 * An optimiser is one loop over the block (p->values / p->grads), parameter by parameter so
 * that each can have its own lr_scale, decay_scale and frozen flag (PyTorch's parameter
 * groups): a parameter's learning rate is lr * lr_scale[i], its weight decay
 * weight_decay * decay_scale[i]; a frozen parameter is skipped (its state is not touched).
 * The rules follow torch.optim (1.13) exactly:
 *   SGD   g += wd*p;  buf = g on a parameter's first step, else momentum*buf + (1-dampening)*g;
 *         g = nesterov ? g + momentum*buf : buf (when momentum != 0);  p -= lr*g
 *   Adam  g += wd*p (L2);  m = b1*m + (1-b1)*g;  v = b2*v + (1-b2)*g^2;
 *         p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps)
 *   AdamW p *= 1 - lr*wd (decoupled), then Adam's update without the L2 term
 * State is one contiguous block per kind (momentum buffer, exp_avg, exp_avg_sq) laid out as
 * the parameter block, plus a per-parameter step count; nnc_optim_state() lists them by name
 * for checkpoints.  Parameters added to the block after the optimiser was made get fresh
 * (zero) state at the next step.  Masked parameters (core/params.h, nn/prune.h): the gradient
 * is multiplied by the mask before the update, and the weight and its per-element state are
 * zeroed where the mask is 0 after it (every rule, extensions included).  Blocks of more than NNC_OPTIM_PARALLEL_MIN elements per
 * parameter are updated with OpenMP. */
#ifndef NNC_OPTIM_H
#define NNC_OPTIM_H
#include "core/params.h"

#define NNC_OPTIM_PARALLEL_MIN (1 << 20)

typedef enum { NNC_OPTIM_SGD, NNC_OPTIM_ADAM, NNC_OPTIM_ADAMW } nnc_optim_kind;

typedef struct nnc_optim nnc_optim;

/* An extension: a second update rule that takes over some parameters of an optimiser (Muon
 * for the hidden matrices, the optimiser's own rule for the rest; see optim/muon.h).
 * nnc_optim_step skips every parameter k with k < n_owned && owned[k] in its own loop, then
 * calls step once, after the state has been sized to the block: the extension may keep
 * per-element state in o->buf1 at its parameters' offsets and count o->param_steps[k], so
 * nnc_optim_state (checkpoints) carries it unchanged.  nnc_optim_free calls destroy (which
 * frees the extension); nnc_optim_reset keeps it. */
typedef struct nnc_optim_ext nnc_optim_ext;
struct nnc_optim_ext {
  const char *name; /* "muon" */
  bool *owned;      /* per parameter; parameters from n_owned on are not owned */
  int n_owned;
  void (*step)(nnc_optim_ext *e, nnc_optim *o);
  void (*destroy)(nnc_optim_ext *e);
};

struct nnc_optim {
  nnc_optim_kind kind;
  nnc_params *params;
  /* hyperparameters: change them between steps freely (lr from a schedule, ...) */
  double lr;
  double weight_decay;
  double momentum, dampening; /* SGD */
  bool nesterov;              /* SGD */
  double beta1, beta2, eps;   /* Adam, AdamW */
  /* state */
  int64_t steps;     /* nnc_optim_step calls so far */
  int64_t numel;     /* elements of state held (the block's numel at the last step) */
  int count;         /* parameters with state */
  void *buf1, *buf2; /* SGD: momentum buffer (buf2 unused); Adam: exp_avg, exp_avg_sq */
  int64_t *param_steps; /* per parameter: updates applied (PyTorch's state['step']) */
  nnc_optim_ext *ext;   /* NULL, or the rule that owns some parameters (nnc_muon_attach) */
};

/* PyTorch's defaults: SGD momentum 0, dampening 0; Adam betas (0.9, 0.999), eps 1e-8,
 * weight decay 0 (Adam) and 0.01 (AdamW).  Each init starts from scratch (call it on a new or
 * freed struct: it does not free earlier state).  The block may still grow afterwards.
 * Dampening (SGD) is a field: set o.dampening after init. */
void nnc_sgd_init(nnc_optim *o, nnc_params *p, double lr, double momentum, double weight_decay, bool nesterov);
void nnc_adam_init(nnc_optim *o, nnc_params *p, double lr, double beta1, double beta2, double eps, double weight_decay);
void nnc_adamw_init(nnc_optim *o, nnc_params *p, double lr, double beta1, double beta2, double eps, double weight_decay);
void nnc_optim_free(nnc_optim *o);
/* one update of every parameter that is not frozen, from the gradients in the block */
void nnc_optim_step(nnc_optim *o);
/* forgets all state (momenta, moments, step counts) */
void nnc_optim_reset(nnc_optim *o);

/* ---- state for checkpoints ---- */
typedef struct {
  const char *name; /* "momentum_buffer", "exp_avg", "exp_avg_sq", "param_steps", "steps" */
  nnc_dtype dtype;  /* the block's dtype for buffers; NNC_I64 for the step counts */
  void *data;
  int64_t count;    /* elements */
} nnc_state_array;
/* fills out[] (room for at least 4) with the state arrays, sized to the current block;
 * returns how many.  Restoring = copying saved arrays back into these pointers. */
int nnc_optim_state(nnc_optim *o, nnc_state_array *out);

/* ---- gradient clipping (over the whole block) ---- */
/* scales every gradient by min(1, max_norm / (norm + 1e-6)) as torch.nn.utils.clip_grad_norm_;
 * returns the norm before clipping */
double nnc_clip_grad_norm(nnc_params *p, double max_norm);
void nnc_clip_grad_value(nnc_params *p, double max_abs); /* clamps each gradient to [-max_abs, max_abs] */

/* ---- parameter groups ---- */
/* decay_scale = 0 for every parameter with at most one dimension (biases, norm weights):
 * the usual "no weight decay on biases and norms" group; returns how many were changed */
int nnc_group_no_decay_1d(nnc_params *p);
/* sets lr_scale / decay_scale / frozen of every parameter whose name starts with prefix
 * ("" = all); returns how many matched */
int nnc_group_lr_scale(nnc_params *p, const char *prefix, float scale);
int nnc_group_decay_scale(nnc_params *p, const char *prefix, float scale);
int nnc_group_freeze(nnc_params *p, const char *prefix, bool frozen);

#endif
