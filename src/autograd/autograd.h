/* autograd/autograd.h: define-by-run reverse-mode differentiation.
 *
 * Every differentiable op that runs while gradients are enabled and has an input that
 * requires a gradient appends a node to the tape: the op, its inputs, the tensors it saved
 * for backward (with their storage versions), and its attributes.  nnc_backward(loss) walks
 * the tape in reverse from the loss's node; each node's backward adds (+=) its inputs'
 * gradients, summing over broadcast dimensions.  Backward itself runs with recording off.
 * Gradients of intermediate tensors are dropped after a backward, so several losses on one
 * tape can each be backpropagated; leaf gradients accumulate until zeroed.
 * Nodes live in the step arena; nnc_step_end() clears the tape and resets the arena. */
#ifndef NNC_AUTOGRAD_H
#define NNC_AUTOGRAD_H
#include "core/tensor.h"

typedef struct nnc_node nnc_node;
typedef void (*nnc_backward_fn)(nnc_node *n);

/* An op's identity.  Every op defines one with NNC_OP_DEF; the definitions are collected in
 * a linker section, which is how the gradient-check table knows every op that exists. */
typedef struct nnc_op_def {
  const char *name;
  nnc_backward_fn backward; /* NULL for ops without a gradient (argmax, one_hot) */
} nnc_op_def;

#define NNC_OP_DEF(var, opname, bw)                                       \
  static const nnc_op_def var = {opname, bw};                             \
  __attribute__((used, section("nnc_ops"))) static const nnc_op_def *const var##_entry = &var

/* all op definitions linked into the program, in no particular order */
int nnc_op_defs(const nnc_op_def *const **defs);

#define NNC_NODE_MAX_SAVED 6
struct nnc_node {
  const nnc_op_def *op;
  nnc_tensor *out;
  int n_in;
  nnc_tensor **in;                          /* the op's inputs */
  int n_saved;
  nnc_tensor *saved[NNC_NODE_MAX_SAVED];    /* what backward reads (check with nnc_saved) */
  uint64_t saved_version[NNC_NODE_MAX_SAVED];
  double f[4];                              /* float attributes (slope, eps, ...) */
  int64_t i[2 * NNC_MAX_DIMS];              /* integer attributes (axes, sizes, ...) */
  void *ctx;                                /* op-specific data in the arena */
  nnc_node *prev;                           /* the tape, newest first */
};

/* ---- recording (used by ops) ---- */
bool nnc_grad_enabled(void);
/* true if recording is on and some input requires a gradient */
bool nnc_needs_grad(int n_in, nnc_tensor *const *in);
/* appends a node for `out` made from `in`, marks out->requires_grad; NULL if no gradient is
 * needed (then the op saves nothing). */
nnc_node *nnc_record(const nnc_op_def *op, nnc_tensor *out, int n_in, nnc_tensor *const *in);
/* saves t for backward and remembers its version */
void nnc_save(nnc_node *n, nnc_tensor *t);
/* the k-th saved tensor; stops with an error if it was changed in place since it was saved */
nnc_tensor *nnc_saved(nnc_node *n, int k);

/* ---- gradients (used by backward functions) ---- */
/* x->grad += g, summing g over the dimensions where x was broadcast.  Allocates x->grad
 * (zeros, in the current arena) if absent.  Does nothing if x does not require a gradient. */
void nnc_accum_grad(nnc_tensor *x, const nnc_tensor *g);
/* x->grad, allocated as zeros if absent, for kernels that accumulate in place */
nnc_tensor *nnc_grad_of(nnc_tensor *x);

/* ---- user interface ---- */
void nnc_backward(nnc_tensor *loss);                      /* loss must have one element */
void nnc_backward_with(nnc_tensor *out, const nnc_tensor *grad_out);
void nnc_no_grad_begin(void);                             /* nestable */
void nnc_no_grad_end(void);
nnc_tensor *nnc_detach(const nnc_tensor *t);              /* same data, cut from the tape */
/* marks a leaf as wanting a gradient (its grad is made in the current arena at backward) */
nnc_tensor *nnc_requires_grad(nnc_tensor *t);
/* end of a training step: clears the tape and resets the step arena */
void nnc_step_end(void);
/* after an abort hook longjmp'ed out of an op or a backward: closes the no_grad scopes
 * left open and clears the tape (tensors stay valid until nnc_step_end) */
void nnc_recover_after_abort(void);
/* nodes on the tape now (for tests and memory reports) */
int64_t nnc_tape_length(void);

/* ---- custom ops: a user-written forward and backward that join the tape ----
 * forward computes the output from the inputs (it may use any op; recording is off inside)
 * and may save tensors with nnc_save(ctx, t) and set ctx->f / ctx->i attributes.
 * backward receives the output gradient and writes the gradient of each input that
 * needs one into grad_in[k] (leave NULL for none); nnc handles broadcasting and summing. */
typedef struct nnc_custom_op {
  const char *name;
  nnc_tensor *(*forward)(nnc_node *ctx, int n_in, nnc_tensor *const *in, void *user);
  void (*backward)(nnc_node *ctx, const nnc_tensor *grad_out, nnc_tensor **grad_in, void *user);
} nnc_custom_op;
nnc_tensor *nnc_custom(const nnc_custom_op *op, int n_in, nnc_tensor *const *in, void *user);

#endif
