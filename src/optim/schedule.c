/* optim/schedule.c: learning-rate schedules (see schedule.h). */
#include <math.h>
#include "core/error.h"
#include "optim/schedule.h"

nnc_schedule nnc_sched_constant(double lr) { return (nnc_schedule){.kind = NNC_SCHED_CONSTANT, .base_lr = lr}; }

nnc_schedule nnc_sched_step(double lr, int64_t step_size, double gamma) {
  NNC_CHECK(step_size > 0, "schedule", "step size %lld", (long long)step_size);
  return (nnc_schedule){.kind = NNC_SCHED_STEP, .base_lr = lr, .step_size = step_size, .gamma = gamma};
}

nnc_schedule nnc_sched_cosine(double lr, int64_t t_max, double min_lr) {
  NNC_CHECK(t_max > 0, "schedule", "cosine length %lld", (long long)t_max);
  return (nnc_schedule){.kind = NNC_SCHED_COSINE, .base_lr = lr, .t_max = t_max, .end_lr = min_lr};
}

nnc_schedule nnc_sched_linear(double lr, int64_t t_max, double end_lr) {
  NNC_CHECK(t_max > 0, "schedule", "linear length %lld", (long long)t_max);
  return (nnc_schedule){.kind = NNC_SCHED_LINEAR, .base_lr = lr, .t_max = t_max, .end_lr = end_lr};
}

nnc_schedule nnc_sched_warmup(nnc_schedule s, int64_t steps, double start_factor) {
  NNC_CHECK(steps >= 0 && start_factor >= 0, "schedule", "warm-up %lld steps from factor %g", (long long)steps,
            start_factor);
  s.warmup = steps;
  s.warmup_start = start_factor;
  return s;
}

double nnc_schedule_lr(const nnc_schedule *s, int64_t t) {
  double base = s->base_lr;
  if (t < 0) t = 0;
  if (t < s->warmup) return base * (s->warmup_start + (1.0 - s->warmup_start) * (double)t / (double)s->warmup);
  t -= s->warmup;
  switch (s->kind) {
  case NNC_SCHED_CONSTANT: return base;
  case NNC_SCHED_STEP: return base * pow(s->gamma, (double)(t / s->step_size));
  case NNC_SCHED_COSINE:
    if (t >= s->t_max) return s->end_lr;
    return s->end_lr + (base - s->end_lr) * (1.0 + cos(M_PI * (double)t / (double)s->t_max)) / 2.0;
  case NNC_SCHED_LINEAR:
    if (t >= s->t_max) return s->end_lr;
    return base + (s->end_lr - base) * (double)t / (double)s->t_max;
  }
  NNC_FAIL("schedule", "unknown kind %d", (int)s->kind);
}
