/* data/npy.h: NumPy .npy files (format versions 1.0 and 2.0), read and write.
 *
 * A .npy file is the magic "\x93NUMPY", a version (1.0: u16 header length; 2.0: u32), a
 * Python dict literal header {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
 * padded with spaces and a newline, then the values in C order.
 *
 * dtypes: '<f4' f32, '<f8' f64, '<i4' i32, '<i8' i64, '|u1' u8, '|b1' bool (read as u8 0/1).
 * The reader is strict: exactly the keys descr, fortran_order and shape; fortran_order True,
 * big-endian or other dtypes, a malformed shape, more than 8 dimensions, a header above
 * 1 MiB, bool bytes other than 0/1 and any data size other than exactly numel x itemsize
 * ("truncated", "trailing bytes") each give NNC_ERR_FORMAT naming the file. */
#ifndef NNC_DATA_NPY_H
#define NNC_DATA_NPY_H
#include "core/error.h"
#include "core/tensor.h"

/* Reads path into *out, a heap tensor (data/batch.h; free with nnc_heap_free); NULL on error. */
nnc_status nnc_npy_read(const char *path, nnc_tensor **out);

/* Writes t (any dtype, 0..8 dims, any strides) as a version 1.0 file (its header always fits),
 * atomically.  u8 is written as '|u1'. */
nnc_status nnc_npy_write(const char *path, const nnc_tensor *t);

#endif
