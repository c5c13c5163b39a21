/* io/safetensors.h: the safetensors file format (huggingface/safetensors), read and write.
 *
 * A file is: an 8-byte little-endian header length N, N bytes of JSON header
 *   {"__metadata__": {"key": "value", ...},                      (optional, strings only)
 *    "name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, ...}
 * (padded with spaces), then the data buffer; offsets are relative to the buffer, values are
 * little-endian, row-major.  PyTorch's state_dict names ("fc1.weight") cross over as they are.
 *
 * The reader validates strictly and never trusts a size: header length <= file size - 8 and
 * <= 100 MB; header valid UTF-8 and a JSON object; each tensor with a known dtype, a shape of
 * at most 8 non-negative integers whose product does not overflow, data_offsets [begin, end]
 * with begin <= end <= buffer size and end - begin == numel x dtype size; no two tensors
 * overlapping, no byte of the buffer left unindexed (a "hole"), no duplicate names; metadata
 * values strings.  Any violation is NNC_ERR_FORMAT with a one-line message naming the file
 * and the problem; a missing file is NNC_ERR_IO.  Unknown fields inside a tensor entry are
 * ignored, as the reference implementation does.
 *
 *   nnc_st_file *f;
 *   if (nnc_st_read("model.safetensors", &f) != NNC_OK) { puts(nnc_last_error()); ... }
 *   const nnc_st_entry *e = nnc_st_find(f, "fc1.weight");
 *   nnc_st_to_tensor(e, w);      // w: an existing tensor of the same shape (any dtype/strides)
 *   nnc_st_free(f);
 *
 *   nnc_st_writer *w = nnc_st_writer_new();
 *   nnc_st_writer_add(w, "fc1.weight", t, NNC_ST_F32);   // t must stay alive until the write
 *   nnc_st_writer_meta(w, "step", "1000");
 *   nnc_st_writer_write(w, "out.safetensors");            // atomic: tmp, fsync, rename
 *   nnc_st_writer_free(w);
 *
 * The writer lays tensors out in the order they were added, writes "__metadata__" first (only
 * when there is some), and pads the header with spaces to a multiple of 8 bytes, as the
 * reference implementation does.  F16 and BF16 are written from f32 with round-to-nearest-even
 * (f64 values go through f32 first). */
#ifndef NNC_IO_SAFETENSORS_H
#define NNC_IO_SAFETENSORS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "core/error.h"
#include "core/tensor.h"

#define NNC_ST_MAX_HEADER 100000000 /* bytes; the reference implementation's limit */

typedef enum {
  NNC_ST_F64, NNC_ST_F32, NNC_ST_F16, NNC_ST_BF16,
  NNC_ST_I64, NNC_ST_I32, NNC_ST_I16, NNC_ST_I8, NNC_ST_U8, NNC_ST_BOOL,
  NNC_ST_NDTYPES
} nnc_st_dtype;

const char *nnc_st_dtype_name(nnc_st_dtype dt); /* "F32", ...; "?" if unknown */
size_t nnc_st_dtype_size(nnc_st_dtype dt);      /* bytes per element; 0 if unknown */
bool nnc_st_dtype_is_float(nnc_st_dtype dt);    /* F64 F32 F16 BF16 */
nnc_st_dtype nnc_st_dtype_of(nnc_dtype dt);     /* the file dtype holding an nnc dtype exactly */

/* Round-to-nearest-even conversions (NaN stays NaN, overflow gives infinity). */
uint16_t nnc_f32_to_f16(float x);
float nnc_f16_to_f32(uint16_t h);
uint16_t nnc_f32_to_bf16(float x);
float nnc_bf16_to_f32(uint16_t h);

typedef struct {
  const char *name;
  const char *file;   /* the path the file was read from (for messages) */
  nnc_st_dtype dtype;
  int ndim;
  int64_t shape[NNC_MAX_DIMS];
  int64_t numel;
  const void *data;   /* the raw little-endian bytes inside the file's buffer; may be unaligned */
  size_t nbytes;
  size_t begin;       /* data_offsets[0] (relative to the data buffer) */
} nnc_st_entry;

typedef struct nnc_st_file nnc_st_file;

/* Reads and validates path; on success *out holds the whole file (free with nnc_st_free). */
nnc_status nnc_st_read(const char *path, nnc_st_file **out);
/* The same from bytes in memory (copied); `name` is used in messages. */
nnc_status nnc_st_read_mem(const void *bytes, size_t n, const char *name, nnc_st_file **out);
void nnc_st_free(nnc_st_file *f); /* NULL is fine */
const char *nnc_st_path(const nnc_st_file *f); /* the path (or name) it was read from */

/* Tensors in the order of their data in the file (which is the order a writer added them). */
int nnc_st_count(const nnc_st_file *f);
const nnc_st_entry *nnc_st_entry_at(const nnc_st_file *f, int i);
const nnc_st_entry *nnc_st_find(const nnc_st_file *f, const char *name); /* NULL if absent */

/* Metadata ("__metadata__"): the value of key or NULL; or by index (in file order). */
const char *nnc_st_metadata(const nnc_st_file *f, const char *key);
int nnc_st_metadata_count(const nnc_st_file *f);
void nnc_st_metadata_at(const nnc_st_file *f, int i, const char **key, const char **value);

/* Copies e's values into dst (an existing tensor of the same shape; any strides), converting
 * to dst's dtype: F16/BF16/F32/F64 -> f32 or f64; integers and BOOL -> any dtype, values that
 * do not fit an integer dtype are an error.  Float -> integer is refused.  Errors
 * (NNC_ERR_FORMAT) name the file, the tensor and both shapes/dtypes.  Bumps dst's version. */
nnc_status nnc_st_to_tensor(const nnc_st_entry *e, nnc_tensor *dst);
/* A new contiguous tensor of dtype `want` in the current arena holding e's values. */
nnc_status nnc_st_load(const nnc_st_entry *e, nnc_dtype want, nnc_tensor **out);

/* ---- writer ---- */
typedef struct nnc_st_writer nnc_st_writer;

nnc_st_writer *nnc_st_writer_new(void);
void nnc_st_writer_free(nnc_st_writer *w); /* NULL is fine */
/* Adds tensor t (any dtype and strides) under name, stored as `as`: a float tensor as
 * F64/F32/F16/BF16; an integer tensor as any dtype (values must fit; BOOL takes 0/1).
 * The tensor's header is copied but not its data: keep the data alive until the write.
 * NNC_ERR_ARG for a duplicate or reserved name ("__metadata__"), a name that is not UTF-8,
 * or a float tensor stored as an integer dtype. */
nnc_status nnc_st_writer_add(nnc_st_writer *w, const char *name, const nnc_tensor *t, nnc_st_dtype as);
/* Adds raw little-endian bytes already in dtype dt (numel x size bytes at data; not copied). */
nnc_status nnc_st_writer_add_raw(nnc_st_writer *w, const char *name, nnc_st_dtype dt, int ndim,
                                 const int64_t *shape, const void *data);
/* A metadata pair (both copied); NNC_ERR_ARG for a duplicate key or non-UTF-8 text. */
nnc_status nnc_st_writer_meta(nnc_st_writer *w, const char *key, const char *value);
/* Writes everything to path atomically.  NNC_ERR_IO if the file cannot be written,
 * NNC_ERR_ARG if a value does not fit its integer dtype (then nothing is written). */
nnc_status nnc_st_writer_write(nnc_st_writer *w, const char *path);

/* Convenience: writes one tensor per name (each stored as its own dtype) and metadata pairs
 * given as a NULL-terminated array {key, value, key, value, ..., NULL} (or NULL). */
nnc_status nnc_st_save(const char *path, int n, const char *const *names, const nnc_tensor *const *tensors,
                       const char *const *meta);

#endif
