/* nn/policy.h: the pieces of policy-gradient (REINFORCE) training for categorical policies:
 * sampling actions from logits, the differentiable log-probability of the sampled actions,
 * the REINFORCE loss, and a moving-average baseline.
 *
 * A categorical policy is a network that outputs logits [N, C]: row i is a distribution
 * pi_i = softmax(logits_i) over C actions.  With rewards R and a baseline b,
 *   loss = -sum_i (R_i - b) * log pi_i(a_i),      log pi_i(a) = -cross_entropy(logits_i, a),
 *   d loss / d logits_i = -(R_i - b) * (onehot(a_i) - pi_i),
 * whose expectation over sampled actions is minus the gradient of the expected reward.
 *
 *   nnc_tensor *a = nnc_categorical_sample(logits, &rng);           // i64 [N], no gradient
 *   ... rewards R_i of the actions ...
 *   nnc_tensor *loss = nnc_reinforce_loss(logits, a, adv);          // adv [N] = R_i - b
 *   nnc_backward(loss); nnc_optim_step(&opt);
 *
 * Greedy (deterministic) actions are nnc_argmax(logits, 1, false). */
#ifndef NNC_NN_POLICY_H
#define NNC_NN_POLICY_H
#include <stdbool.h>
#include "core/rng.h"
#include "core/tensor.h"

/* logits [N, C] (f32 or f64, any strides) -> i64 [N]: a_i drawn from softmax(logits_i) by
 * inverting its cumulative distribution at one uniform number from r (NULL: the global
 * stream).  Computed in double with the row maximum subtracted; not differentiable. */
nnc_tensor *nnc_categorical_sample(const nnc_tensor *logits, nnc_rng *r);

/* logits [N, C], actions i64 [N] -> [N]: log softmax(logits_i)[a_i], differentiable in logits
 * (it is -cross_entropy with no reduction) */
nnc_tensor *nnc_categorical_log_prob(nnc_tensor *logits, nnc_tensor *actions);

/* logits [N, C], actions i64 [N], adv [N] (the logits' dtype; constants, no gradient) ->
 * 0-d: -sum_i adv_i * log pi_i(a_i).  Rows of one episode share its advantage; divide adv by
 * the number of episodes for a mean over episodes. */
nnc_tensor *nnc_reinforce_loss(nnc_tensor *logits, nnc_tensor *actions, nnc_tensor *adv);

/* entropy of each row of softmax(logits): logits [N, C] -> [N], -sum_c pi_c log pi_c
 * (differentiable; for an entropy bonus or to watch a policy collapse) */
nnc_tensor *nnc_categorical_entropy(nnc_tensor *logits);

/* The baseline b of REINFORCE: an exponential moving average of past mean rewards,
 *   b <- r on the first update, then b <- decay * b + (1 - decay) * r.
 * (The N2N code's sum_{e'<e} avgR_{e'} / (e + 1) is 0 at first and biased low afterwards.) */
typedef struct {
  double value, decay;
  bool started;
} nnc_ema_baseline;
nnc_ema_baseline nnc_ema_baseline_make(double decay); /* decay in [0, 1) */
void nnc_ema_baseline_update(nnc_ema_baseline *b, double reward);

#endif
