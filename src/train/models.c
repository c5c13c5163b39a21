/* train/models.c: the Fashion-MNIST models of `nnc train`, with PyTorch's parameter names so
 * weights cross over by name:
 *   fashion-mlp  784-256-256-10 ReLU MLP: fc1, fc2, fc3 (nn.Linear)
 *   fashion-cnn  conv5x5(32, pad 2)-ReLU-maxpool2 -> conv5x5(64, pad 2)-ReLU-maxpool2
 *                -> fc(3136->1024)-ReLU -> fc(1024->10): conv1, conv2 (nn.Conv2d), fc1, fc2 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "nn/act.h"
#include "nn/init.h"
#include "nn/layers.h"
#include "ops/ops.h"
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

/* ---- fashion-cnn ---- */
typedef struct {
  nnc_module base;
  nnc_tensor *conv1_w, *conv1_b, *conv2_w, *conv2_b;
  nnc_linear_mod *fc1, *fc2;
} fashion_cnn;

/* x [B, 784] -> logits [B, 10].  The network is conv-ReLU-maxpool; it runs as conv-maxpool-ReLU,
 * which is the same function with the same gradients (max and ReLU commute; where a window's
 * maximum is <= 0 both orders pass a zero gradient, else both pick the window's first maximum)
 * and applies ReLU and its backward to a quarter of the elements: measured 10% of a 1-thread
 * training step went to ReLU's backward over the full conv outputs. */
static nnc_tensor *cnn_forward(nnc_module *m, nnc_tensor *x) {
  fashion_cnn *c = (fashion_cnn *)m;
  nnc_conv_args pad2 = {.pad = {2, 2}};
  nnc_tensor *h = nnc_reshape(x, NNC_SHAPE(-1, 1, 28, 28));
  h = nnc_relu(nnc_max_pool2d(nnc_conv2d(h, c->conv1_w, c->conv1_b, pad2), 2, 2, 0));  /* [B, 32, 14, 14] */
  h = nnc_relu(nnc_max_pool2d(nnc_conv2d(h, c->conv2_w, c->conv2_b, pad2), 2, 2, 0));  /* [B, 64, 7, 7] */
  h = nnc_relu(nnc_forward(&c->fc1->base, nnc_flatten(h, 1, -1)));                     /* [B, 1024] */
  return nnc_forward(&c->fc2->base, h);
}

/* a conv layer's weight and bias with PyTorch's default init: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) */
static void conv_param(nnc_params *p, const char *name, int64_t out, int64_t in, int64_t k, nnc_tensor **w,
                       nnc_tensor **b, nnc_rng *rng) {
  char buf[64];
  snprintf(buf, sizeof buf, "%s.weight", name);
  *w = nnc_params_add(p, buf, NNC_SHAPE(out, in, k, k));
  snprintf(buf, sizeof buf, "%s.bias", name);
  *b = nnc_params_add(p, buf, NNC_SHAPE(out));
  double bound = 1.0 / sqrt((double)(in * k * k));
  nnc_init_uniform(*w, -bound, bound, rng);
  nnc_init_uniform(*b, -bound, bound, rng);
}

static nnc_module *build_cnn(nnc_params *params, nnc_params *buffers, nnc_rng *rng) {
  (void)buffers;
  fashion_cnn *c = nnc_module_alloc(sizeof *c, "FashionCNN", "", cnn_forward, NULL);
  conv_param(params, "conv1", 32, 1, 5, &c->conv1_w, &c->conv1_b, rng);
  conv_param(params, "conv2", 64, 32, 5, &c->conv2_w, &c->conv2_b, rng);
  c->fc1 = nnc_new_linear(params, "fc1", 3136, 1024, true, rng);
  c->fc2 = nnc_new_linear(params, "fc2", 1024, 10, true, rng);
  nnc_module_add_child(&c->base, &c->fc1->base);
  nnc_module_add_child(&c->base, &c->fc2->base);
  return &c->base;
}

static const nnc_model_spec fashion_cnn_spec = {
    .name = "fashion-cnn",
    .summary = "conv5x5(32)-pool-conv5x5(64)-pool-fc(1024)-fc(10) (conv1, conv2, fc1, fc2)",
    .build = build_cnn,
    .epochs = 10,
    .batch = 128,
    .lr = 0.05,
    .momentum = 0.9,
    .weight_decay = 5e-4,
    .optim = NNC_OPTIM_SGD,
    .filters_param = "conv1.weight",
    .augment = false,
};

static const nnc_model_spec *const all_models[] = {&fashion_mlp, &fashion_cnn_spec};

const nnc_model_spec *nnc_model_find(const char *name) {
  for (size_t i = 0; i < sizeof all_models / sizeof all_models[0]; i++)
    if (strcmp(all_models[i]->name, name) == 0) return all_models[i];
  return NULL;
}

int nnc_models(const nnc_model_spec *const **specs) {
  *specs = all_models;
  return (int)(sizeof all_models / sizeof all_models[0]);
}
