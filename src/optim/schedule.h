/* optim/schedule.h: learning-rate schedules as closed-form functions of the step.
 *
 *   constant  lr(t) = base
 *   step      lr(t) = base * gamma^floor(t / step_size)                 (torch StepLR)
 *   cosine    lr(t) = min + (base - min) * (1 + cos(pi * t / T)) / 2,   t < T; min after
 *             (torch CosineAnnealingLR with eta_min, without its periodic restart)
 *   linear    lr(t) = base + (end - base) * min(t, T) / T               (torch LinearLR decay)
 * Any of them can start with a linear warm-up of W steps from base * start_factor to base
 * (torch LinearLR(start_factor, total_iters=W)); the main schedule then runs on t - W, as
 * torch SequentialLR([warmup, main], milestones=[W]) does.
 *
 * Use: o.lr = nnc_schedule_lr(&s, o.steps) before each nnc_optim_step(&o).  The step is
 * the optimiser's count, so a checkpoint that restores the optimiser restores the schedule. */
#ifndef NNC_SCHEDULE_H
#define NNC_SCHEDULE_H
#include <stdint.h>

typedef enum { NNC_SCHED_CONSTANT, NNC_SCHED_STEP, NNC_SCHED_COSINE, NNC_SCHED_LINEAR } nnc_sched_kind;

typedef struct {
  nnc_sched_kind kind;
  double base_lr;
  int64_t step_size;    /* step */
  double gamma;         /* step */
  int64_t t_max;        /* cosine, linear: length of the decay */
  double end_lr;        /* cosine: eta_min; linear: the final lr */
  int64_t warmup;       /* warm-up steps (0 = none) */
  double warmup_start;  /* warm-up start factor (lr starts at base * warmup_start) */
} nnc_schedule;

nnc_schedule nnc_sched_constant(double lr);
nnc_schedule nnc_sched_step(double lr, int64_t step_size, double gamma);
nnc_schedule nnc_sched_cosine(double lr, int64_t t_max, double min_lr);
nnc_schedule nnc_sched_linear(double lr, int64_t t_max, double end_lr);
/* s with a linear warm-up of `steps` steps from lr * start_factor put in front */
nnc_schedule nnc_sched_warmup(nnc_schedule s, int64_t steps, double start_factor);
/* the learning rate for step t (0 = the first step) */
double nnc_schedule_lr(const nnc_schedule *s, int64_t t);

#endif
