/* train/ckpt.h: pieces of a training checkpoint that every trainer writes the same way.
 *
 * A checkpoint is one safetensors file written atomically (nnc_st_writer_write): the
 * parameters under "param/<name>", the optimiser's state under "optim/<name>" (exp_avg,
 * exp_avg_sq or momentum_buffer, param_steps, steps), rng streams under "rng/<name>" (four
 * u64 words stored as I64), and plain numbers and JSON in the metadata.  These helpers write
 * and read the optimiser, rng, integer and history parts; a trainer adds its own. */
#ifndef NNC_TRAIN_CKPT_H
#define NNC_TRAIN_CKPT_H
#include <stdint.h>
#include "core/error.h"
#include "core/rng.h"
#include "io/safetensors.h"
#include "optim/optim.h"

/* adds every optimiser state array as "optim/<name>" (the arrays must stay alive until the
 * write: they are the optimiser's own buffers) */
nnc_status nnc_ckpt_add_optim(nnc_st_writer *w, nnc_optim *opt);
/* copies the saved arrays back; NNC_ERR_FORMAT naming the array if one is missing or of
 * another size (a checkpoint of another model or optimiser) */
nnc_status nnc_ckpt_load_optim(const nnc_st_file *f, nnc_optim *opt);

/* "rng/<name>": r must stay alive until the write */
nnc_status nnc_ckpt_add_rng(nnc_st_writer *w, const char *name, const nnc_rng *r);
nnc_status nnc_ckpt_load_rng(const nnc_st_file *f, const char *name, nnc_rng *r);

/* metadata "key" = decimal integer */
nnc_status nnc_ckpt_meta_int(nnc_st_writer *w, const char *key, int64_t v);
/* reads a non-negative decimal integer; NNC_ERR_FORMAT if missing or malformed */
nnc_status nnc_ckpt_read_int(const nnc_st_file *f, const char *key, int64_t *out);

/* the per-epoch history as one JSON object {"<names[k]>": [cols[k][0..n)], ...} (malloc'ed) */
char *nnc_ckpt_history_json(int ncols, const char *const *names, double *const *cols, int n);
/* reads metadata "history" back into cols[k][0..n) (room for n each); NNC_ERR_FORMAT if a
 * column is missing or does not hold exactly n numbers (null reads as NaN) */
nnc_status nnc_ckpt_read_history(const nnc_st_file *f, int ncols, const char *const *names, double *const *cols, int n);

#endif
