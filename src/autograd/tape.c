/* autograd/tape.c: recording nodes, saved-tensor versions, backward, no_grad, detach,
 * custom ops (see autograd.h). */
#include <string.h>
#include "autograd/autograd.h"
#include "core/arena.h"
#include "core/error.h"
#include "ops/ops.h"

static nnc_node *tape_head;   /* newest node */
static int64_t tape_count;
static int no_grad_depth;

extern __attribute__((weak)) const nnc_op_def *const __start_nnc_ops[];
extern __attribute__((weak)) const nnc_op_def *const __stop_nnc_ops[];

int nnc_op_defs(const nnc_op_def *const **defs) {
  *defs = __start_nnc_ops;
  return (int)(__stop_nnc_ops - __start_nnc_ops);
}

bool nnc_grad_enabled(void) { return no_grad_depth == 0; }
void nnc_no_grad_begin(void) { no_grad_depth++; }
void nnc_no_grad_end(void) {
  NNC_CHECK(no_grad_depth > 0, "no_grad_end", "no matching nnc_no_grad_begin");
  no_grad_depth--;
}

bool nnc_needs_grad(int n_in, nnc_tensor *const *in) {
  if (no_grad_depth) return false;
  for (int k = 0; k < n_in; k++)
    if (in[k] && in[k]->requires_grad) return true;
  return false;
}

nnc_node *nnc_record(const nnc_op_def *op, nnc_tensor *out, int n_in, nnc_tensor *const *in) {
  if (!nnc_needs_grad(n_in, in)) return NULL;
  NNC_CHECK(op->backward, op->name, "op has no gradient but an input requires one");
  nnc_arena *a = nnc_arena_step();
  nnc_node *n = nnc_arena_calloc(a, sizeof *n);
  n->op = op;
  n->out = out;
  n->n_in = n_in;
  n->in = nnc_arena_alloc(a, (size_t)n_in * sizeof *n->in);
  memcpy(n->in, in, (size_t)n_in * sizeof *n->in);
  n->prev = tape_head;
  tape_head = n;
  tape_count++;
  out->node = n;
  out->requires_grad = true;
  return n;
}

void nnc_save(nnc_node *n, nnc_tensor *t) {
  if (!n) return;
  NNC_CHECK(n->n_saved < NNC_NODE_MAX_SAVED, n->op ? n->op->name : "save", "too many saved tensors");
  n->saved[n->n_saved] = t;
  n->saved_version[n->n_saved] = t->storage->version;
  n->n_saved++;
}

nnc_tensor *nnc_saved(nnc_node *n, int k) {
  nnc_tensor *t = n->saved[k];
  NNC_CHECK(t->storage->version == n->saved_version[k], n->op->name,
            "a tensor this op saved for backward was modified in place after it was saved "
            "(version %llu, now %llu); clone it before changing it",
            (unsigned long long)n->saved_version[k], (unsigned long long)t->storage->version);
  return t;
}

nnc_tensor *nnc_grad_of(nnc_tensor *x) {
  if (!x->grad) x->grad = nnc_zeros_like(x);
  return x->grad;
}

void nnc_accum_grad(nnc_tensor *x, const nnc_tensor *g) {
  if (!x || !x->requires_grad || !g) return;
  NNC_CHECK(x->dtype == g->dtype, "backward", "gradient dtype %s for a %s tensor",
            nnc_dtype_name(g->dtype), nnc_dtype_name(x->dtype));
  if (!nnc_same_shape(x, g)) g = nnc_sum_to(g, x->ndim, x->shape);
  if (!x->grad) { /* the first gradient: a copy, not zeros plus an add */
    x->grad = nnc_empty_like(x);
    nnc_copy_into(x->grad, g);
    return;
  }
  nnc_add_into(x->grad, g);
}

static void run_backward(nnc_tensor *out) {
  nnc_no_grad_begin();
  for (nnc_node *n = out->node; n; n = n->prev)
    if (n->out->grad) n->op->backward(n);
  /* drop intermediate gradients so another loss on this tape starts clean */
  for (nnc_node *n = out->node; n; n = n->prev) n->out->grad = NULL;
  nnc_no_grad_end();
}

void nnc_backward_with(nnc_tensor *out, const nnc_tensor *grad_out) {
  char a[64], b[64];
  NNC_CHECK(out->requires_grad, "backward", "the tensor does not require a gradient (nothing on the tape leads to it)");
  NNC_CHECK(nnc_same_shape(out, grad_out), "backward", "gradient shape %s for output shape %s",
            nnc_shape_str(grad_out, a, 64), nnc_shape_str(out, b, 64));
  if (!out->node) { /* a leaf: its gradient is grad_out */
    nnc_accum_grad(out, grad_out);
    return;
  }
  out->grad = nnc_empty_like(out);
  nnc_copy_into(out->grad, grad_out);
  run_backward(out);
}

void nnc_backward(nnc_tensor *loss) {
  char a[64];
  NNC_CHECK(nnc_numel(loss) == 1, "backward", "loss has shape %s; backward needs one element "
            "(or use nnc_backward_with)", nnc_shape_str(loss, a, 64));
  nnc_backward_with(loss, nnc_full(loss->dtype, 1.0, loss->ndim, loss->shape));
}

nnc_tensor *nnc_detach(const nnc_tensor *t) { return nnc_view_raw(t); }

nnc_tensor *nnc_requires_grad(nnc_tensor *t) {
  NNC_CHECK(nnc_dtype_is_float(t->dtype), "requires_grad", "only float tensors can require a gradient");
  t->requires_grad = true;
  return t;
}

void nnc_step_end(void) {
  tape_head = NULL;
  tape_count = 0;
  nnc_arena_reset(nnc_arena_step());
}

void nnc_recover_after_abort(void) {
  no_grad_depth = 0;
  tape_head = NULL; /* the nodes stay in the arena until the step ends */
  tape_count = 0;
}

int64_t nnc_tape_length(void) { return tape_count; }

/* ---- custom ops ---- */
typedef struct {
  const nnc_custom_op *op;
  void *user;
} custom_ctx;

static void custom_backward(nnc_node *n) {
  custom_ctx *c = n->ctx;
  nnc_tensor *grad_in[64] = {0};
  NNC_CHECK(n->n_in <= 64, c->op->name, "too many inputs");
  c->op->backward(n, n->out->grad, grad_in, c->user);
  for (int k = 0; k < n->n_in; k++)
    if (grad_in[k]) nnc_accum_grad(n->in[k], grad_in[k]);
}
NNC_OP_DEF(op_custom, "custom", custom_backward);

nnc_tensor *nnc_custom(const nnc_custom_op *op, int n_in, nnc_tensor *const *in, void *user) {
  nnc_arena *a = nnc_arena_step();
  nnc_node *ctx = nnc_arena_calloc(a, sizeof *ctx);
  ctx->op = &op_custom;
  bool grad = nnc_needs_grad(n_in, in);
  nnc_no_grad_begin();
  nnc_tensor *out = op->forward(ctx, n_in, in, user);
  nnc_no_grad_end();
  if (!grad) return out;
  if (out->node || out->requires_grad) out = nnc_view_raw(out); /* forward returned an input or tape tensor */
  /* the node carries the user's op name, for messages; its backward is custom_backward */
  nnc_op_def *def = nnc_arena_alloc(a, sizeof *def);
  def->name = op->name;
  def->backward = custom_backward;
  nnc_node *n = nnc_record(def, out, n_in, in);
  n->n_saved = ctx->n_saved;
  memcpy(n->saved, ctx->saved, sizeof n->saved);
  memcpy(n->saved_version, ctx->saved_version, sizeof n->saved_version);
  memcpy(n->f, ctx->f, sizeof n->f);
  memcpy(n->i, ctx->i, sizeof n->i);
  custom_ctx *c = nnc_arena_alloc(a, sizeof *c);
  c->op = op;
  c->user = user;
  n->ctx = c;
  return out;
}
