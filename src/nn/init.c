/* nn/init.c: weight initialisers (see init.h). */
#include <math.h>
#include "core/error.h"
#include "nn/init.h"

static int64_t receptive(const nnc_tensor *t) {
  int64_t k = 1;
  for (int d = 2; d < t->ndim; d++) k *= t->shape[d];
  return k;
}

int64_t nnc_fan_in(const nnc_tensor *t) {
  NNC_CHECK(t->ndim >= 1, "init", "fan of a 0-d tensor");
  return t->ndim == 1 ? t->shape[0] : t->shape[1] * receptive(t);
}

int64_t nnc_fan_out(const nnc_tensor *t) {
  NNC_CHECK(t->ndim >= 1, "init", "fan of a 0-d tensor");
  return t->ndim == 1 ? t->shape[0] : t->shape[0] * receptive(t);
}

void nnc_init_constant(nnc_tensor *t, double value) {
  nnc_fill(t, value);
  nnc_bump_version(t);
}

void nnc_init_normal(nnc_tensor *t, double mean, double std, nnc_rng *r) {
  NNC_CHECK(nnc_dtype_is_float(t->dtype), "init", "not a float tensor");
  if (std == 0) nnc_init_constant(t, mean);
  else nnc_fill_normal(t, mean, std, r);
}

void nnc_init_uniform(nnc_tensor *t, double lo, double hi, nnc_rng *r) {
  NNC_CHECK(nnc_dtype_is_float(t->dtype), "init", "not a float tensor");
  NNC_CHECK(lo <= hi, "init", "uniform bounds %g > %g", lo, hi);
  nnc_fill_uniform(t, lo, hi, r);
}

void nnc_init_kaiming_normal(nnc_tensor *t, double gain, nnc_rng *r) {
  nnc_init_normal(t, 0, gain / sqrt((double)nnc_fan_in(t)), r);
}

void nnc_init_kaiming_uniform(nnc_tensor *t, double gain, nnc_rng *r) {
  double b = gain * sqrt(3.0 / (double)nnc_fan_in(t));
  nnc_init_uniform(t, -b, b, r);
}

void nnc_init_xavier_normal(nnc_tensor *t, double gain, nnc_rng *r) {
  nnc_init_normal(t, 0, gain * sqrt(2.0 / (double)(nnc_fan_in(t) + nnc_fan_out(t))), r);
}

void nnc_init_xavier_uniform(nnc_tensor *t, double gain, nnc_rng *r) {
  double b = gain * sqrt(6.0 / (double)(nnc_fan_in(t) + nnc_fan_out(t)));
  nnc_init_uniform(t, -b, b, r);
}

void nnc_init_critical(nnc_tensor *w, int64_t fan_in, nnc_act act, double param, nnc_rng *r) {
  double cb, cw;
  NNC_CHECK(nnc_act_critical(act, param, &cb, &cw), "init_critical", "no known critical constants for %s",
            nnc_act_name(act));
  NNC_CHECK(fan_in > 0, "init_critical", "fan_in %lld", (long long)fan_in);
  nnc_init_normal(w, 0, sqrt(cw / (double)fan_in), r);
}

void nnc_init_critical_bias(nnc_tensor *b, nnc_act act, double param, nnc_rng *r) {
  double cb, cw;
  NNC_CHECK(nnc_act_critical(act, param, &cb, &cw), "init_critical", "no known critical constants for %s",
            nnc_act_name(act));
  nnc_init_normal(b, 0, sqrt(cb), r);
}
