/* nnc.h: the whole public API of nnc, layer by layer (see docs/ARCHITECTURE.md). */
#ifndef NNC_H
#define NNC_H
#include "core/error.h"
#include "core/arena.h"
#include "core/tensor.h"
#include "core/params.h"
#include "core/rng.h"
#include "core/threads.h"
#include "core/gemm.h"
#include "autograd/autograd.h"
#include "autograd/gradcheck.h"
#include "ops/ops.h"
#include "nn/act.h"
#include "nn/init.h"
#include "nn/module.h"
#include "nn/layers.h"
#include "nn/norm.h"
#include "nn/norm2d.h"
#include "optim/optim.h"
#include "optim/schedule.h"
#include "util/fsutil.h"
#include "util/jsonl.h"
#include "util/png.h"
#include "util/progress.h"
#include "util/svg.h"
#include "data/batch.h"
#include "data/idx.h"
#include "data/fashion.h"
#include "data/npy.h"
#include "data/csv.h"
#include "io/safetensors.h"
#include "io/params_io.h"

/* reads NNC_THREADS and sets up the library; call once at start */
void nnc_init(void);
#endif
