/* data/idx.h: IDX files (the MNIST / Fashion-MNIST format), plain or gzip-compressed.
 *
 * An IDX file is: two zero bytes, a type code, the number of dimensions (1..4), each
 * dimension as a big-endian u32, then the values, big-endian, row-major, and nothing after.
 * Type codes read: 0x08 u8 (-> NNC_U8), 0x0C i32 (-> NNC_I32), 0x0D f32 (-> NNC_F32),
 * 0x0E f64 (-> NNC_F64); 0x09 (i8) and 0x0B (i16) have no nnc dtype and are refused.
 *
 * The reader trusts nothing: a bad magic, an unknown type, a dimension count outside 1..4,
 * sizes that overflow or exceed NNC_IDX_MAX_BYTES, fewer bytes than the header promises
 * ("truncated") or more ("trailing bytes"), and corrupt gzip data each give NNC_ERR_FORMAT
 * with a message naming the file.  Nothing is allocated before the sizes are checked against
 * the file's own size (for gzip, against the largest size the compressed bytes can hold). */
#ifndef NNC_DATA_IDX_H
#define NNC_DATA_IDX_H
#include <stdbool.h>
#include "core/error.h"
#include "core/tensor.h"

#define NNC_IDX_MAX_BYTES ((int64_t)1 << 30) /* largest payload the reader accepts (1 GiB) */

/* Reads path (gzip or plain, told apart by content) into *out, a heap tensor
 * (data/batch.h; free with nnc_heap_free) of the file's shape.  *out = NULL on error. */
nnc_status nnc_idx_read(const char *path, nnc_tensor **out);

/* Writes t (u8, i32, f32 or f64; 1..4 dims; any strides) as an IDX file, gzip-compressed if
 * gzip, atomically (util/fsutil.h).  NNC_ERR_ARG for an unsupported dtype/ndim or a dimension
 * above 2^32-1, NNC_ERR_IO if the file cannot be written. */
nnc_status nnc_idx_write(const char *path, const nnc_tensor *t, bool gzip);

#endif
