/* nn/act.c: activations by name, gains and critical constants (see act.h). */
#include <math.h>
#include <string.h>
#include "core/error.h"
#include "nn/act.h"
#include "ops/ops.h"

static const char *const act_names[NNC_ACT_COUNT] = {
    "identity", "relu", "leaky_relu", "elu", "tanh", "sigmoid", "gelu", "gelu_tanh", "silu", "softplus"};

nnc_tensor *nnc_act_apply(nnc_tensor *x, nnc_act act, double param) {
  switch (act) {
  case NNC_ACT_IDENTITY: return x;
  case NNC_ACT_RELU: return nnc_relu(x);
  case NNC_ACT_LEAKY_RELU: return nnc_leaky_relu(x, param);
  case NNC_ACT_ELU: return nnc_elu(x, param);
  case NNC_ACT_TANH: return nnc_tanh(x);
  case NNC_ACT_SIGMOID: return nnc_sigmoid(x);
  case NNC_ACT_GELU: return nnc_gelu(x);
  case NNC_ACT_GELU_TANH: return nnc_gelu_tanh(x);
  case NNC_ACT_SILU: return nnc_silu(x);
  case NNC_ACT_SOFTPLUS: return nnc_softplus(x);
  default: NNC_FAIL("activation", "unknown activation %d", (int)act);
  }
}

const char *nnc_act_name(nnc_act act) {
  NNC_CHECK(act >= 0 && act < NNC_ACT_COUNT, "activation", "unknown activation %d", (int)act);
  return act_names[act];
}

bool nnc_act_from_name(const char *name, nnc_act *out) {
  for (int a = 0; a < NNC_ACT_COUNT; a++)
    if (strcmp(name, act_names[a]) == 0) {
      *out = (nnc_act)a;
      return true;
    }
  if (strcmp(name, "swish") == 0) return *out = NNC_ACT_SILU, true;
  if (strcmp(name, "linear") == 0 || strcmp(name, "none") == 0) return *out = NNC_ACT_IDENTITY, true;
  return false;
}

double nnc_act_gain(nnc_act act, double param) {
  switch (act) {
  case NNC_ACT_RELU: return sqrt(2.0);
  case NNC_ACT_LEAKY_RELU: return sqrt(2.0 / (1.0 + param * param));
  case NNC_ACT_TANH: return 5.0 / 3.0;
  default: return 1.0;
  }
}

bool nnc_act_critical(nnc_act act, double param, double *c_b, double *c_w) {
  double b, w;
  switch (act) {
  case NNC_ACT_IDENTITY: b = 0, w = 1; break;
  case NNC_ACT_RELU: b = 0, w = 2; break;
  case NNC_ACT_LEAKY_RELU: b = 0, w = 2.0 / (1.0 + param * param); break;
  case NNC_ACT_TANH: b = 0, w = 1; break;
  case NNC_ACT_GELU: b = 0.1729, w = 1.9831; break;
  case NNC_ACT_SILU: b = 0.5551, w = 1.9880; break;
  default: return false;
  }
  if (c_b) *c_b = b;
  if (c_w) *c_w = w;
  return true;
}
