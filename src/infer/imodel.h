/* infer/imodel.h: exported inference models (binary and int8 MLPs): the file format, its
 * validating reader, the writer, and the integer forward pass.
 *
 * A model takes raw uint8 pixels x [batch, in] and gives class scores.  The input goes through
 * a 256-entry lookup table (lut[pixel] = the code layer 0 reads: the pixel itself for the
 * binary MLP, the uint8 activation code of the normalised pixel for the int8 MLP), then
 * through the layers in order.  Every value between layers is one of three kinds:
 *   NNC_IV_U8     uint8 codes, one byte per value
 *   NNC_IV_BITS   +-1 values packed 64 per uint64 (infer/kernels.h), bit 1 = +1
 *   NNC_IV_F64    float64 scores (the last layer of the binary MLP)
 * Layers (each with in and out sizes; a layer's input kind is the previous one's output kind):
 *   NNC_IL_U8_SIGN    u8 -> bits: acc = sum_k w[n,k] x[k] (int8 weights; stored as int8, or
 *                     as packed bits for +-1 weights), bit n = acc >= tau[n] (dir +1) or
 *                     acc <= tau[n] (dir -1)
 *   NNC_IL_BIN_SIGN   bits -> bits: acc = sum_k w[n,k] x[k] with +-1 weights (packed), then
 *                     the same threshold (the XOR-popcount kernel)
 *   NNC_IL_BIN_SCORE  bits -> f64: acc = sum_k w[n,k] x[k] (int8 weights), score =
 *                     (double)acc * scale[n] + bias[n] (scale and bias stored as float32,
 *                     computed in double: first the product, then the sum)
 *   NNC_IL_QLINEAR    u8 -> u8: quant/qint.h's nnc_qlinear (int8 weights per output
 *                     channel, int32 bias, fixed-point multipliers), the integer reference
 * The prediction is the index of the first largest output (codes or scores).
 *
 * File layout (all integers little-endian, no alignment padding; docs/inference.md):
 *   header   "NNCI" | u32 version (1) | u32 kind (1 binary, 2 int8) | u32 n_layers
 *            | u32 in | u32 classes | u32 desc_len | u64 file_size     (36 bytes)
 *   desc     desc_len bytes of printable ASCII (what was exported, from where)
 *   lut      256 bytes
 *   layers   n_layers records: u32 type | u32 in | u32 out | u32 flags | u64 payload_bytes
 *            | payload (its size follows from type, in, out and flags, and must equal
 *            payload_bytes)
 *   crc      u32 CRC-32 (zlib) of every byte before it
 * The reader trusts nothing: magic, version, kind, sizes (1 <= in, out <= 2^20, at most 64
 * layers, every count and product checked for overflow against the bytes present), the file
 * size in the header against the real one, the CRC, chaining (each layer's in equals the
 * previous out, kinds match, the first layer reads u8 and has `in` inputs, the last one has
 * `classes` outputs and gives codes or scores), padding bits of packed weights (must be 0),
 * thresholds' directions (+-1), fixed-point multipliers (0 <= mult < 2^31, -31 <= shift <= 30),
 * zero points and clamps (0..255), the int32 accumulator bound (as quant/qint.h), finite
 * scales.  Any violation is NNC_ERR_FORMAT with a message naming the file and the field. */
#ifndef NNC_INFER_IMODEL_H
#define NNC_INFER_IMODEL_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "core/error.h"
#include "infer/kernels.h"
#include "quant/qint.h"

#define NNC_IMODEL_MAGIC "NNCI"
#define NNC_IMODEL_VERSION 1
#define NNC_IMODEL_MAX_LAYERS 64
#define NNC_IMODEL_MAX_DIM (1 << 20)
#define NNC_IMODEL_MAX_DESC 4096

typedef enum { NNC_IMODEL_BINARY = 1, NNC_IMODEL_INT8 = 2 } nnc_imodel_kind;
typedef enum { NNC_IV_U8 = 1, NNC_IV_BITS = 2, NNC_IV_F64 = 3 } nnc_ivalue;
typedef enum { NNC_IL_U8_SIGN = 1, NNC_IL_BIN_SIGN = 2, NNC_IL_BIN_SCORE = 3, NNC_IL_QLINEAR = 4 } nnc_ilayer_type;
#define NNC_IL_FLAG_PACKED 1u /* NNC_IL_U8_SIGN: +-1 weights stored as packed bits */

typedef struct {
  nnc_ilayer_type type;
  int64_t in, out;
  uint32_t flags;
  /* the stored parameters (what the file holds) */
  int8_t *w8;         /* [out, in]: U8_SIGN (unpacked when the file has bits), BIN_SCORE, QLINEAR */
  uint64_t *wbits;    /* [out, words(in)]: BIN_SIGN, U8_SIGN with NNC_IL_FLAG_PACKED */
  int32_t *tau;       /* [out]: U8_SIGN, BIN_SIGN */
  int8_t *dir;        /* [out]: +1 or -1 */
  float *scale, *bias; /* [out]: BIN_SCORE */
  nnc_qlinear q;      /* QLINEAR (its w is w8) */
  /* the kernels' forms, made at load */
  nnc_q8_weights qw;  /* U8_SIGN, BIN_SCORE, QLINEAR */
  nnc_bin_linear bl;  /* BIN_SIGN */
  int32_t *qadd;      /* QLINEAR: bias - in_zero * wsum */
} nnc_ilayer;

typedef struct {
  nnc_imodel_kind kind;
  int64_t in, classes;
  char desc[NNC_IMODEL_MAX_DESC + 1];
  uint8_t lut[256];
  int n;
  nnc_ilayer *layers;
} nnc_imodel;

const char *nnc_imodel_kind_name(nnc_imodel_kind k); /* "binary", "int8" */
const char *nnc_ilayer_type_name(nnc_ilayer_type t);

/* ---- building (exporters) ----
 * nnc_imodel_init then nnc_imodel_add_* in order; the arrays are copied.  Then
 * nnc_imodel_prepare (checks the chain as the reader does: NNC_ERR_ARG on a mistake) makes the
 * kernels' forms.  nnc_imodel_free frees everything. */
void nnc_imodel_init(nnc_imodel *m, nnc_imodel_kind kind, int64_t in, int64_t classes, const uint8_t lut[256],
                     const char *desc);
/* w8 [out, in] int8, or (packed) wbits [out, words(in)] with +-1 weights */
void nnc_imodel_add_u8_sign(nnc_imodel *m, int64_t in, int64_t out, const int8_t *w8, const uint64_t *wbits,
                            const int32_t *tau, const int8_t *dir);
void nnc_imodel_add_bin_sign(nnc_imodel *m, int64_t in, int64_t out, const uint64_t *wbits, const int32_t *tau,
                             const int8_t *dir);
void nnc_imodel_add_bin_score(nnc_imodel *m, int64_t in, int64_t out, const int8_t *w8, const float *scale,
                              const float *bias);
void nnc_imodel_add_qlinear(nnc_imodel *m, const nnc_qlinear *q);
nnc_status nnc_imodel_prepare(nnc_imodel *m);
void nnc_imodel_free(nnc_imodel *m);

/* ---- files ---- */
/* the bytes of the file (malloc'ed into *bytes, *n) */
nnc_status nnc_imodel_serialize(const nnc_imodel *m, uint8_t **bytes, size_t *n);
nnc_status nnc_imodel_save(const nnc_imodel *m, const char *path); /* atomic */
/* parses and validates bytes (name: for messages) into *m, prepared; on error *m is zeroed */
nnc_status nnc_imodel_parse(const uint8_t *bytes, size_t n, const char *name, nnc_imodel *m);
nnc_status nnc_imodel_load(const char *path, nnc_imodel *m);

/* ---- running ----
 * x: uint8 pixels [batch, in].  pred[batch] (may be NULL) gets the predicted classes;
 * scores (may be NULL) [batch, classes] the last layer's outputs as double (codes or scores).
 * hidden (may be NULL): an array of n pointers; hidden[l], if not NULL, receives layer l's
 * output (bits [batch, words(out)], codes [batch, out] or scores [batch, out]).
 * Rows are split into chunks of 64 run in parallel on nnc_get_threads() OpenMP threads. */
void nnc_imodel_forward(const nnc_imodel *m, int64_t batch, const uint8_t *x, int64_t *pred, double *scores,
                        void **hidden);
/* bytes of the parameters a run keeps (for reports) */
size_t nnc_imodel_param_bytes(const nnc_imodel *m);

#endif
