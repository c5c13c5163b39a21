/* data/csv.h: a numeric matrix from a CSV file, and back.
 *
 * Comma-separated numbers, one row per line (LF or CRLF), every row the same width; spaces
 * and tabs around a field are ignored, blank lines are skipped.  An optional first line of
 * column names is skipped: NNC_CSV_HEADER says there is one, NNC_CSV_NO_HEADER that there
 * is none, NNC_CSV_AUTO treats the first line as a header when none of its fields is a
 * number (so a malformed first data row is reported, not skipped).  Errors (NNC_ERR_FORMAT) give the line and column: "data.csv:7: 3 fields, expected
 * 4 (as on line 2)", "data.csv:9: column 2: 'abc' is not a number", "...: empty field". */
#ifndef NNC_DATA_CSV_H
#define NNC_DATA_CSV_H
#include "core/error.h"
#include "core/tensor.h"

enum { NNC_CSV_AUTO = -1, NNC_CSV_NO_HEADER = 0, NNC_CSV_HEADER = 1 };

/* Reads path into *out, a heap tensor [rows, cols] (data/batch.h; nnc_heap_free) of dtype dt
 * (f32, f64, or an integer dtype whose values must then be whole numbers in its range).
 * A file without data rows is an error.  *out = NULL on error. */
nnc_status nnc_csv_read(const char *path, nnc_dtype dt, int header, nnc_tensor **out);

/* Writes t ([rows, cols], or [n] as one column; any dtype and strides) atomically, with the
 * line `header` first if it is not NULL.  Floats are written with enough digits to read back
 * exactly (%.9g for f32, %.17g for f64). */
nnc_status nnc_csv_write(const char *path, const nnc_tensor *t, const char *header);

#endif
