/* io/params_io.h: a parameter block to and from a safetensors file.
 *
 * Each parameter is stored under its name (the module path, as PyTorch's state_dict names
 * it: "fc1.weight"), so weights trained in PyTorch load into nnc and the other way round:
 *
 *   nnc_params_save(&p, "model.safetensors", (const char *[]){"epoch", "10", NULL});
 *   nnc_params_load(&p, "model.safetensors", true);
 *
 * Loading is all-or-nothing: every parameter must be in the file with the same shape
 * (any float dtype, or an integer one, converted to the block's dtype); with `strict`, the file
 * may hold no other tensors.  Nothing is written into the block unless everything checks out.
 * Errors are NNC_ERR_FORMAT naming the file and the tensor ("missing tensor 'fc2.bias'",
 * "tensor 'fc1.weight' has shape [10, 784] in the file, want [100, 784]", "unexpected tensor
 * 'fc3.weight' (strict)").
 *
 * Pruning masks (core/params.h, nn/prune.h) travel with their parameter as "<name>.mask" (an
 * F32/`as` tensor of 0s and 1s, written right after the parameter), so checkpoints resume a
 * pruned run exactly.  Loading restores every mask the file holds (entries must be 0 or 1;
 * a mask tensor is not an "unexpected tensor" under strict), keeps the model's own mask for a
 * parameter whose mask is not in the file, and then applies all masks (W = 0 where M = 0).
 * Files of pruned models therefore hold extra "*.mask" tensors; PyTorch's
 * load_state_dict(strict=True) would need them dropped. */
#ifndef NNC_IO_PARAMS_IO_H
#define NNC_IO_PARAMS_IO_H
#include <stdbool.h>
#include "core/params.h"
#include "io/safetensors.h"

/* Writes every parameter as F32 (whatever the block's dtype) with metadata pairs given as a
 * NULL-terminated array {key, value, ..., NULL} (meta may be NULL), atomically. */
nnc_status nnc_params_save(const nnc_params *p, const char *path, const char *const *meta);
/* The same with another file dtype (F64 keeps an f64 block exact; F16/BF16 halve the size). */
nnc_status nnc_params_save_as(const nnc_params *p, const char *path, const char *const *meta, nnc_st_dtype as);
/* Adds every parameter to a writer as `prefix` + name (prefix may be NULL), for files that
 * hold more than parameters (checkpoints).  The block must stay alive until the write. */
nnc_status nnc_params_add_to_writer(const nnc_params *p, nnc_st_writer *w, const char *prefix, nnc_st_dtype as);

/* Reads path and loads every parameter from it (see above). */
nnc_status nnc_params_load(nnc_params *p, const char *path, bool strict);
/* The same from a file already read; `prefix` + name is looked up (prefix may be NULL); with
 * strict, every tensor whose name starts with prefix must be a parameter. */
nnc_status nnc_params_load_from(nnc_params *p, const nnc_st_file *f, const char *prefix, bool strict);

#endif
