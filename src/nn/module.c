/* nn/module.c: the module interface and Sequential (see module.h). */
#include <stdlib.h>
#include <string.h>
#include "core/error.h"
#include "nn/module.h"

void *nnc_module_alloc(size_t size, const char *kind, const char *name, nnc_forward_fn forward,
                       nnc_describe_fn describe) {
  NNC_CHECK(size >= sizeof(nnc_module), "module", "struct of %zu bytes is smaller than nnc_module", size);
  nnc_module *m = nnc_xcalloc(1, size);
  m->kind = kind;
  m->name = strdup(name ? name : "");
  NNC_CHECK(m->name, "module", "out of memory");
  m->training = true;
  m->forward = forward;
  m->describe = describe;
  return m;
}

const char *nnc_module_join(const char *prefix, const char *leaf, char *buf, size_t size) {
  int n = prefix && prefix[0] ? snprintf(buf, size, "%s.%s", prefix, leaf) : snprintf(buf, size, "%s", leaf);
  NNC_CHECK(n >= 0 && (size_t)n < size, "module", "name '%s.%s' is too long", prefix ? prefix : "", leaf);
  return buf;
}

nnc_tensor *nnc_module_param(nnc_params *p, const nnc_module *m, const char *leaf, int ndim, const int64_t *shape) {
  char buf[512];
  return nnc_params_add(p, nnc_module_join(m->name, leaf, buf, sizeof buf), ndim, shape);
}

void nnc_module_add_child(nnc_module *m, nnc_module *child) {
  NNC_CHECK(child && child != m, "module", "bad child for %s '%s'", m->kind, m->name);
  if (m->n_children == m->cap_children) {
    m->cap_children = m->cap_children ? 2 * m->cap_children : 8;
    m->children = realloc(m->children, (size_t)m->cap_children * sizeof *m->children);
    NNC_CHECK(m->children, "module", "out of memory");
  }
  m->children[m->n_children++] = child;
}

void nnc_module_free(nnc_module *m) {
  if (!m) return;
  for (int i = 0; i < m->n_children; i++) nnc_module_free(m->children[i]);
  free(m->children);
  free(m->name);
  free(m);
}

nnc_tensor *nnc_forward(nnc_module *m, nnc_tensor *x) {
  NNC_CHECK(m->forward, "forward", "%s '%s' has no forward function", m->kind, m->name);
  return m->forward(m, x);
}

void nnc_module_train(nnc_module *m, bool training) {
  m->training = training;
  for (int i = 0; i < m->n_children; i++) nnc_module_train(m->children[i], training);
}

static void print_tree(const nnc_module *m, const char *label, int depth, FILE *f) {
  char desc[256] = "";
  if (m->describe) m->describe(m, desc, sizeof desc);
  fprintf(f, "%*s", 2 * depth, "");
  if (label) fprintf(f, "(%s): ", label);
  if (!m->n_children) {
    fprintf(f, "%s(%s)\n", m->kind, desc);
    return;
  }
  fprintf(f, "%s(%s\n", m->kind, desc);
  for (int i = 0; i < m->n_children; i++) {
    const nnc_module *c = m->children[i];
    char idx[32];
    const char *dot = strrchr(c->name, '.');
    const char *lab = c->name[0] ? (dot ? dot + 1 : c->name) : (snprintf(idx, sizeof idx, "%d", i), idx);
    print_tree(c, lab, depth + 1, f);
  }
  fprintf(f, "%*s)\n", 2 * depth, "");
}

void nnc_module_print(const nnc_module *m, FILE *f) { print_tree(m, NULL, 0, f); }

/* ---- Sequential ---- */
static nnc_tensor *sequential_forward(nnc_module *m, nnc_tensor *x) {
  for (int i = 0; i < m->n_children; i++) x = nnc_forward(m->children[i], x);
  return x;
}

nnc_sequential_mod *nnc_new_sequential(const char *name) {
  return nnc_module_alloc(sizeof(nnc_sequential_mod), "Sequential", name, sequential_forward, NULL);
}

const char *nnc_sequential_next_name(nnc_sequential_mod *s) {
  char idx[32];
  snprintf(idx, sizeof idx, "%d", s->base.n_children);
  return nnc_module_join(s->base.name, idx, s->next_name, sizeof s->next_name);
}

nnc_module *nnc_sequential_add(nnc_sequential_mod *s, nnc_module *m) {
  nnc_module_add_child(&s->base, m);
  return m;
}
