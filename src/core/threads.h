/* core/threads.h: the thread count.  NNC_THREADS sets it at start (default: all cores);
 * nnc_set_threads() changes it.  Kernels use OpenMP where measurement says it pays. */
#ifndef NNC_THREADS_H
#define NNC_THREADS_H
void nnc_threads_init(void); /* reads NNC_THREADS; called by nnc_init() */
void nnc_set_threads(int n);
int nnc_get_threads(void);
/* element counts below this run on one thread (OpenMP start-up costs more than it saves) */
#define NNC_PARALLEL_MIN 32768
#endif
