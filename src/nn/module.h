/* nn/module.h: the module interface and Sequential.
 *
 * A module is a small struct whose first member is an nnc_module: the kind ("Linear"), the
 * name (its path, the prefix of its parameter names, as in a PyTorch state_dict), the
 * training flag, the forward function and its children.  Each module type adds only its own
 * fields (nnc_linear_mod has weight and bias, ...); `&lin->base` is the generic view.
 *
 * Parameters live in an nnc_params block the caller owns; a module only points into it, so
 * an optimiser, clipping and saving work on the block, not on modules.  Parameter names are
 * "<name>.<leaf>" ("fc1.weight"), or "<leaf>" for an unnamed top-level module; inside a
 * Sequential named "net", children are "net.0", "net.1", ... (nnc_sequential_next_name),
 * so nn.Sequential weights cross over from PyTorch by name.
 *
 * A custom module: a struct with `nnc_module base` first, made with nnc_module_alloc, its
 * parameters added with nnc_module_param.  nnc_module_free frees a tree of modules (not the
 * parameters). */
#ifndef NNC_NN_MODULE_H
#define NNC_NN_MODULE_H
#include <stdbool.h>
#include <stdio.h>
#include "core/params.h"
#include "core/tensor.h"

typedef struct nnc_module nnc_module;
typedef nnc_tensor *(*nnc_forward_fn)(nnc_module *m, nnc_tensor *x);
/* one line of settings for printing, like PyTorch's extra_repr ("in=3, out=4, bias=true") */
typedef void (*nnc_describe_fn)(const nnc_module *m, char *buf, size_t size);

struct nnc_module {
  const char *kind;      /* "Linear", "Sequential", ... (a static string) */
  char *name;            /* the parameter-name prefix, owned; "" when unnamed */
  bool training;         /* true after creation (as PyTorch); nnc_module_train changes it */
  nnc_forward_fn forward;
  nnc_describe_fn describe; /* may be NULL */
  int n_children, cap_children;
  nnc_module **children; /* owned; freed with the module */
};

/* allocates a zeroed module struct of `size` bytes (the type's own struct, base first) */
void *nnc_module_alloc(size_t size, const char *kind, const char *name, nnc_forward_fn forward,
                       nnc_describe_fn describe);
/* adds a parameter named "<m->name>.<leaf>" (or "<leaf>") to p */
nnc_tensor *nnc_module_param(nnc_params *p, const nnc_module *m, const char *leaf, int ndim, const int64_t *shape);
/* "<prefix>.<leaf>" or "<leaf>" into buf; returns buf */
const char *nnc_module_join(const char *prefix, const char *leaf, char *buf, size_t size);
void nnc_module_add_child(nnc_module *m, nnc_module *child); /* m takes ownership */
void nnc_module_free(nnc_module *m);                         /* m and all its children */

nnc_tensor *nnc_forward(nnc_module *m, nnc_tensor *x);
/* sets the training flag of m and every module under it (dropout, batchnorm read it) */
void nnc_module_train(nnc_module *m, bool training);
static inline void nnc_module_eval(nnc_module *m) { nnc_module_train(m, false); }
/* prints the tree as PyTorch's repr does */
void nnc_module_print(const nnc_module *m, FILE *f);

/* ---- Sequential: children applied in order ---- */
typedef struct {
  nnc_module base;
  char next_name[256];
} nnc_sequential_mod;

nnc_sequential_mod *nnc_new_sequential(const char *name);
/* the name the next child should get: "<name>.<index>" or "<index>"; valid until the next call */
const char *nnc_sequential_next_name(nnc_sequential_mod *s);
/* appends m (taking ownership); returns m */
nnc_module *nnc_sequential_add(nnc_sequential_mod *s, nnc_module *m);

#endif
