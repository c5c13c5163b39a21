/* train/models.c: the Fashion-MNIST models of `nnc train`, with PyTorch's parameter names so
 * weights cross over by name:
 *   fashion-mlp  784-256-256-10 ReLU MLP: fc1, fc2, fc3 (nn.Linear) */
#include <string.h>
#include "nn/act.h"
#include "nn/layers.h"
#include "train/models.h"

static nnc_module *build_mlp(nnc_params *params, nnc_params *buffers, nnc_rng *rng) {
  (void)buffers;
  nnc_sequential_mod *net = nnc_new_sequential("");
  nnc_sequential_add(net, &nnc_new_linear(params, "fc1", 784, 256, true, rng)->base);
  nnc_sequential_add(net, &nnc_new_act(NNC_ACT_RELU, 0)->base);
  nnc_sequential_add(net, &nnc_new_linear(params, "fc2", 256, 256, true, rng)->base);
  nnc_sequential_add(net, &nnc_new_act(NNC_ACT_RELU, 0)->base);
  nnc_sequential_add(net, &nnc_new_linear(params, "fc3", 256, 10, true, rng)->base);
  return &net->base;
}

static const nnc_model_spec fashion_mlp = {
    .name = "fashion-mlp",
    .summary = "784-256-256-10 ReLU MLP (fc1, fc2, fc3)",
    .build = build_mlp,
    .epochs = 10,
    .batch = 128,
    .lr = 0.05,
    .momentum = 0.9,
    .weight_decay = 5e-4,
    .optim = NNC_OPTIM_SGD,
    .filters_param = "fc1.weight",
};

static const nnc_model_spec *const all_models[] = {&fashion_mlp};

const nnc_model_spec *nnc_model_find(const char *name) {
  for (size_t i = 0; i < sizeof all_models / sizeof all_models[0]; i++)
    if (strcmp(all_models[i]->name, name) == 0) return all_models[i];
  return NULL;
}

int nnc_models(const nnc_model_spec *const **specs) {
  *specs = all_models;
  return (int)(sizeof all_models / sizeof all_models[0]);
}
