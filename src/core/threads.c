/* core/threads.c: thread count from NNC_THREADS (see threads.h). */
#include <omp.h>
#include <stdlib.h>
#include "core/threads.h"

void nnc_threads_init(void) {
  const char *s = getenv("NNC_THREADS");
  int n = s ? atoi(s) : 0;
  nnc_set_threads(n > 0 ? n : omp_get_num_procs());
}

void nnc_set_threads(int n) { omp_set_num_threads(n > 0 ? n : 1); }
int nnc_get_threads(void) { return omp_get_max_threads(); }
