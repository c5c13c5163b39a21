/* nn/policy.c: categorical sampling, log-probabilities, the REINFORCE loss and the
 * moving-average baseline (see policy.h). */
#include "nn/policy.h"
#include <math.h>
#include "autograd/autograd.h"
#include "core/error.h"
#include "ops/ops.h"

static void check_logits(const nnc_tensor *logits, const char *op) {
  NNC_CHECK(logits && logits->ndim == 2 && logits->shape[1] >= 1, op, "logits must be [N, C] with C >= 1");
  nnc_check_float(logits, op);
}

/* for each row: m = max_c l_c, p_c = e^(l_c - m) / sum_c' e^(l_c' - m); the first c with
 * u * sum < cumulative sum, u ~ U[0, 1) */
nnc_tensor *nnc_categorical_sample(const nnc_tensor *logits, nnc_rng *r) {
  check_logits(logits, "categorical_sample");
  if (!r) r = nnc_rng_global();
  int64_t N = logits->shape[0], C = logits->shape[1];
  nnc_tensor *out = nnc_empty(NNC_I64, 1, &N);
  int64_t *a = nnc_i64(out);
  for (int64_t i = 0; i < N; i++) {
    double m = -INFINITY, total = 0;
    for (int64_t c = 0; c < C; c++) m = fmax(m, nnc_get(logits, i * C + c));
    NNC_CHECK(isfinite(m), "categorical_sample", "row %lld of the logits has no finite maximum", (long long)i);
    for (int64_t c = 0; c < C; c++) total += exp(nnc_get(logits, i * C + c) - m);
    double u = nnc_rng_uniform(r) * total, cum = 0;
    a[i] = C - 1; /* if rounding leaves u at the very top */
    for (int64_t c = 0; c < C; c++) {
      double p = exp(nnc_get(logits, i * C + c) - m);
      cum += p;
      if (p > 0 && u < cum) {
        a[i] = c;
        break;
      }
    }
  }
  return out;
}

nnc_tensor *nnc_categorical_log_prob(nnc_tensor *logits, nnc_tensor *actions) {
  check_logits(logits, "categorical_log_prob");
  return nnc_neg(nnc_cross_entropy(logits, actions, 0.0, NNC_REDUCE_NONE));
}

/* -sum_i adv_i log pi_i(a_i) = sum_i adv_i * CE_i */
nnc_tensor *nnc_reinforce_loss(nnc_tensor *logits, nnc_tensor *actions, nnc_tensor *adv) {
  check_logits(logits, "reinforce_loss");
  NNC_CHECK(adv && adv->ndim == 1 && adv->shape[0] == logits->shape[0] && adv->dtype == logits->dtype,
            "reinforce_loss", "adv must be [%lld] with the logits' dtype", (long long)logits->shape[0]);
  nnc_tensor *ce = nnc_cross_entropy(logits, actions, 0.0, NNC_REDUCE_NONE);
  return nnc_sum_all(nnc_mul(ce, nnc_detach(adv)));
}

/* H_i = -sum_c softmax(l_i)_c * log_softmax(l_i)_c */
nnc_tensor *nnc_categorical_entropy(nnc_tensor *logits) {
  check_logits(logits, "categorical_entropy");
  nnc_tensor *logp = nnc_log_softmax(logits, 1);
  int axis = 1;
  return nnc_neg(nnc_sum(nnc_mul(nnc_exp(logp), logp), 1, &axis, false));
}

nnc_ema_baseline nnc_ema_baseline_make(double decay) {
  NNC_CHECK(decay >= 0 && decay < 1, "ema_baseline", "decay %g is outside [0, 1)", decay);
  return (nnc_ema_baseline){.value = 0, .decay = decay, .started = false};
}

void nnc_ema_baseline_update(nnc_ema_baseline *b, double reward) {
  b->value = b->started ? b->decay * b->value + (1 - b->decay) * reward : reward;
  b->started = true;
}
