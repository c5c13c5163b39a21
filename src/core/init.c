/* core/init.c: library start-up. */
#include "nnc.h"

void nnc_init(void) { nnc_threads_init(); }
