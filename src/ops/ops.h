/* ops/ops.h: every tensor operation.
 *
 * Each op checks its shapes (a mismatch stops with a message naming the op and the shapes),
 * runs a forward kernel into a new tensor in the current arena, and, when an input requires
 * a gradient, records a tape node whose backward adds the vector-Jacobian product into the
 * inputs' gradients.  Every op has a plain reference kernel that stays as the test oracle;
 * ops with a faster kernel use it unless nnc_set_reference_kernels(true).  Floating ops
 * accept f32 and f64 (both inputs the same dtype); binary elementwise ops broadcast as
 * NumPy/PyTorch do.  Axes may be negative.  One file per family:
 *   elementwise.c  unary maths and activations, binary arithmetic, where, clamp
 *   reduce.c       sum/mean/max/min/var/std/logsumexp, softmax, log_softmax, argmax, cumsum
 *   matmul.c       matmul, batched matmul, linear
 *   view.c         reshape, permute, transpose, narrow, expand, squeeze, unsqueeze, contiguous
 *   shape.c        concat, stack, split, pad, gather, index_select, scatter_add, one_hot, cast
 *   loss.c         cross_entropy, nll, mse, l1, huber, bce_with_logits
 *   conv.c         conv1d/2d, transposed conv1d/2d (oneDNN fast path in conv_onednn.c)
 *   pool.c         max/avg/adaptive pooling, nearest/bilinear upsampling
 *   norm.c         fused batch norm and group norm
 *   layernorm.c    fused layer norm over the last dim
 *   attention.c    fused scaled dot-product attention (packed and chunked variants)
 *   bias_gelu.c    fused bias + GELU
 *   scan.c         linear recurrences: diagonal (Mamba) and delta rule (DeltaNet)
 * Each family's gradient-check rows are in table_<family>.c. */
#ifndef NNC_OPS_H
#define NNC_OPS_H
#include "core/tensor.h"

/* use the reference kernels everywhere (tests compare the two) */
void nnc_set_reference_kernels(bool on);
bool nnc_reference_kernels(void);

/* ---- elementwise: binary, broadcasting ---- */
nnc_tensor *nnc_add(nnc_tensor *a, nnc_tensor *b);
nnc_tensor *nnc_sub(nnc_tensor *a, nnc_tensor *b);
nnc_tensor *nnc_mul(nnc_tensor *a, nnc_tensor *b);
nnc_tensor *nnc_div(nnc_tensor *a, nnc_tensor *b);
nnc_tensor *nnc_pow(nnc_tensor *a, nnc_tensor *b);     /* a^b, a > 0 where b is not an integer */
nnc_tensor *nnc_maximum(nnc_tensor *a, nnc_tensor *b); /* ties send the gradient half to each */
nnc_tensor *nnc_minimum(nnc_tensor *a, nnc_tensor *b);
/* cond ? a : b, cond is u8 (nonzero = true); all three broadcast */
nnc_tensor *nnc_where(nnc_tensor *cond, nnc_tensor *a, nnc_tensor *b);

/* ---- elementwise: with constants ---- */
nnc_tensor *nnc_affine(nnc_tensor *x, double scale, double shift); /* scale*x + shift */
nnc_tensor *nnc_scale(nnc_tensor *x, double c);                    /* c*x */
nnc_tensor *nnc_shift(nnc_tensor *x, double c);                    /* x + c */
nnc_tensor *nnc_pows(nnc_tensor *x, double p);                     /* x^p */
nnc_tensor *nnc_clamp(nnc_tensor *x, double lo, double hi);        /* grad 1 inside [lo, hi] */
nnc_tensor *nnc_leaky_relu(nnc_tensor *x, double slope);
nnc_tensor *nnc_elu(nnc_tensor *x, double alpha);

/* ---- elementwise: unary ---- */
nnc_tensor *nnc_neg(nnc_tensor *x);
nnc_tensor *nnc_exp(nnc_tensor *x);
nnc_tensor *nnc_log(nnc_tensor *x);
nnc_tensor *nnc_sqrt(nnc_tensor *x);
nnc_tensor *nnc_rsqrt(nnc_tensor *x);
nnc_tensor *nnc_abs(nnc_tensor *x);     /* grad sign(x), 0 at 0 */
nnc_tensor *nnc_sign(nnc_tensor *x);    /* grad 0 */
nnc_tensor *nnc_sin(nnc_tensor *x);
nnc_tensor *nnc_cos(nnc_tensor *x);
nnc_tensor *nnc_tanh(nnc_tensor *x);
nnc_tensor *nnc_sigmoid(nnc_tensor *x);
nnc_tensor *nnc_relu(nnc_tensor *x);
nnc_tensor *nnc_gelu(nnc_tensor *x);      /* x * Phi(x), the erf form */
nnc_tensor *nnc_gelu_tanh(nnc_tensor *x); /* the tanh approximation */
nnc_tensor *nnc_silu(nnc_tensor *x);      /* x * sigmoid(x) */
nnc_tensor *nnc_softplus(nnc_tensor *x);  /* log(1 + e^x), = x above 20 as PyTorch */
nnc_tensor *nnc_square(nnc_tensor *x);

/* ---- reductions (axes: list of naxes axes; naxes = 0 means all) ---- */
nnc_tensor *nnc_sum(nnc_tensor *x, int naxes, const int *axes, bool keepdim);
nnc_tensor *nnc_mean(nnc_tensor *x, int naxes, const int *axes, bool keepdim);
nnc_tensor *nnc_max(nnc_tensor *x, int naxes, const int *axes, bool keepdim); /* ties share the gradient */
nnc_tensor *nnc_min(nnc_tensor *x, int naxes, const int *axes, bool keepdim);
/* variance with `correction` (1 = unbiased, as torch.var's default; 0 = population) */
nnc_tensor *nnc_var(nnc_tensor *x, int naxes, const int *axes, int correction, bool keepdim);
nnc_tensor *nnc_std(nnc_tensor *x, int naxes, const int *axes, int correction, bool keepdim);
nnc_tensor *nnc_logsumexp(nnc_tensor *x, int naxes, const int *axes, bool keepdim);
nnc_tensor *nnc_sum_all(nnc_tensor *x);  /* 0-d */
nnc_tensor *nnc_mean_all(nnc_tensor *x); /* 0-d */
nnc_tensor *nnc_softmax(nnc_tensor *x, int axis);
nnc_tensor *nnc_log_softmax(nnc_tensor *x, int axis);
nnc_tensor *nnc_cumsum(nnc_tensor *x, int axis);
nnc_tensor *nnc_argmax(nnc_tensor *x, int axis, bool keepdim); /* i64, no gradient */
/* g summed down to `shape` (the gradient of a broadcast); g's shape must broadcast to shape */
nnc_tensor *nnc_sum_to(const nnc_tensor *g, int ndim, const int64_t *shape);

/* ---- matrix products ---- */
/* NumPy matmul: 1-d operands are promoted and the added dim removed; batch dims broadcast.
 * a: [..., M, K], b: [..., K, N] -> [..., M, N] */
nnc_tensor *nnc_matmul(nnc_tensor *a, nnc_tensor *b);
/* the same with op(a) = a^T (last two dims) if ta, op(b) = b^T if tb, without copies */
nnc_tensor *nnc_matmul_t(nnc_tensor *a, nnc_tensor *b, bool ta, bool tb);
/* y[N, out] = x[N, in] @ w[out, in]^T + bias[out]; bias may be NULL.  x may have leading
 * batch dims ([..., in]).  One fused op: the fast path for Linear layers. */
nnc_tensor *nnc_linear(nnc_tensor *x, nnc_tensor *w, nnc_tensor *bias);

/* ---- views: no copy when the layout allows ---- */
nnc_tensor *nnc_reshape(nnc_tensor *x, int ndim, const int64_t *shape); /* one -1 allowed */
nnc_tensor *nnc_flatten(nnc_tensor *x, int start_axis, int end_axis);
nnc_tensor *nnc_permute(nnc_tensor *x, const int *perm);
nnc_tensor *nnc_transpose(nnc_tensor *x, int axis0, int axis1);
nnc_tensor *nnc_narrow(nnc_tensor *x, int axis, int64_t start, int64_t length);
/* elements start, start+step, ... < end along axis (step > 0); negative start/end count from the end */
nnc_tensor *nnc_slice(nnc_tensor *x, int axis, int64_t start, int64_t end, int64_t step);
nnc_tensor *nnc_expand(nnc_tensor *x, int ndim, const int64_t *shape); /* -1 keeps a size */
nnc_tensor *nnc_squeeze(nnc_tensor *x, int axis);
nnc_tensor *nnc_unsqueeze(nnc_tensor *x, int axis);
nnc_tensor *nnc_contiguous(nnc_tensor *x); /* x itself if already contiguous */
nnc_tensor *nnc_clone(nnc_tensor *x);      /* always a fresh contiguous copy */

/* ---- shape and indexing ---- */
nnc_tensor *nnc_concat(int n, nnc_tensor *const *xs, int axis);
nnc_tensor *nnc_stack(int n, nnc_tensor *const *xs, int axis);
/* splits x along axis into n pieces of sizes[k] (summing to the axis size) written to out[] */
void nnc_split(nnc_tensor *x, int axis, int n, const int64_t *sizes, nnc_tensor **out);
typedef enum { NNC_PAD_ZERO, NNC_PAD_REFLECT, NNC_PAD_REPLICATE, NNC_PAD_CIRCULAR } nnc_pad_mode;
/* pads as torch.nn.functional.pad: pads = {last_lo, last_hi, prev_lo, prev_hi, ...} for the
 * last npad/2 dims; constant `value` for NNC_PAD_ZERO; negative pads crop */
nnc_tensor *nnc_pad(nnc_tensor *x, int npad, const int64_t *pads, nnc_pad_mode mode, double value);
/* out[i][j] = x[index[i][j]][j] (axis 0) etc., as torch.gather; index is i64 */
nnc_tensor *nnc_gather(nnc_tensor *x, int axis, nnc_tensor *index);
nnc_tensor *nnc_index_select(nnc_tensor *x, int axis, nnc_tensor *index); /* index: 1-d i64 */
/* a copy of x with src added at index along axis, as torch.scatter_add */
nnc_tensor *nnc_scatter_add(nnc_tensor *x, int axis, nnc_tensor *index, nnc_tensor *src);
nnc_tensor *nnc_one_hot(nnc_tensor *index, int64_t num_classes, nnc_dtype dt); /* no gradient */
nnc_tensor *nnc_cast(nnc_tensor *x, nnc_dtype dt); /* float<->float keeps the gradient */

/* ---- losses; targets are class indices (i64) or same-shape tensors ---- */
typedef enum { NNC_REDUCE_MEAN, NNC_REDUCE_SUM, NNC_REDUCE_NONE } nnc_reduction;
/* logits [N, C], target [N] i64 -> mean over N of -log softmax(logits)[target], with
 * label smoothing eps: target distribution (1-eps)*onehot + eps/C */
nnc_tensor *nnc_cross_entropy(nnc_tensor *logits, nnc_tensor *target, double label_smoothing, nnc_reduction r);
nnc_tensor *nnc_nll(nnc_tensor *logp, nnc_tensor *target, nnc_reduction r); /* logp [N, C] */
nnc_tensor *nnc_mse(nnc_tensor *pred, nnc_tensor *target, nnc_reduction r);
nnc_tensor *nnc_l1(nnc_tensor *pred, nnc_tensor *target, nnc_reduction r);
nnc_tensor *nnc_huber(nnc_tensor *pred, nnc_tensor *target, double delta, nnc_reduction r);
nnc_tensor *nnc_bce_with_logits(nnc_tensor *logits, nnc_tensor *target, nnc_reduction r);

/* ---- in place, no autograd (optimisers, backward kernels); they bump the version ---- */
void nnc_add_into(nnc_tensor *dst, const nnc_tensor *src);            /* dst += src (src broadcasts) */
void nnc_axpy_into(nnc_tensor *dst, double alpha, const nnc_tensor *src); /* dst += alpha*src */

/* ---- helpers for op writers ---- */
/* the broadcast shape of a and b into (ndim, shape); stops naming `op` if they don't fit */
void nnc_broadcast_shape(const nnc_tensor *a, const nnc_tensor *b, const char *op, int *ndim, int64_t *shape);
/* strides that read t as if it had `shape` (t's dims right-aligned, broadcast dims stride 0) */
void nnc_broadcast_strides(const nnc_tensor *t, int ndim, const int64_t *shape, int64_t *stride);
/* stops unless a and b have the same float dtype */
void nnc_check_float_pair(const nnc_tensor *a, const nnc_tensor *b, const char *op);
void nnc_check_float(const nnc_tensor *a, const char *op);

/* ---- pooling and upsampling ----
 * 2-d ops take x [..., H, W] (PyTorch's [N, C, H, W] or [C, H, W]: every leading dim is a
 * batch of planes); 1-d ops take x [..., L] (at least 2-d) and are the 2-d ops on
 * [..., 1, L].  Output size per spatial dim, as PyTorch:
 *   out = floor((in + 2*pad - dilation*(k-1) - 1) / stride) + 1,
 * with ceil instead of floor under ceil_mode, dropping a last window that would start in the
 * right padding.  pad <= k/2 as PyTorch requires.  Max pooling pads with -inf (a NaN in a
 * window wins, as PyTorch); average pooling pads with 0. */
typedef struct {
  int64_t kernel[2];   /* (kH, kW) */
  int64_t stride[2];   /* 0 = the kernel size (PyTorch's stride=None) */
  int64_t padding[2];
  int64_t dilation[2]; /* max pooling only; 0 = 1 */
  bool ceil_mode;
  bool exclude_pad;    /* average pooling: PyTorch's count_include_pad=False (default: include) */
  int64_t divisor;     /* average pooling: PyTorch's divisor_override; 0 = none */
} nnc_pool2d_opts;
typedef struct {
  int64_t kernel, stride, padding, dilation; /* stride 0 = kernel, dilation 0 = 1 */
  bool ceil_mode, exclude_pad;
} nnc_pool1d_opts;
/* square kernel, stride (0 = kernel) and padding; no dilation, floor mode */
nnc_tensor *nnc_max_pool2d(nnc_tensor *x, int64_t kernel, int64_t stride, int64_t padding);
/* the max of each window; *indices (if indices is not NULL) gets an i64 tensor of the
 * output's shape: the flat index (ih * W + iw) of the chosen element in its H*W plane, the
 * first maximum on ties, as torch's return_indices.  Backward routes each gradient there. */
nnc_tensor *nnc_max_pool2d_with_indices(nnc_tensor *x, const nnc_pool2d_opts *o, nnc_tensor **indices);
nnc_tensor *nnc_max_pool1d(nnc_tensor *x, int64_t kernel, int64_t stride, int64_t padding);
nnc_tensor *nnc_max_pool1d_with_indices(nnc_tensor *x, const nnc_pool1d_opts *o, nnc_tensor **indices);
/* the mean of each window; the divisor counts padding unless exclude_pad (never the part of
 * a ceil_mode window beyond the right padding), as PyTorch */
nnc_tensor *nnc_avg_pool2d(nnc_tensor *x, int64_t kernel, int64_t stride, int64_t padding);
nnc_tensor *nnc_avg_pool2d_opts(nnc_tensor *x, const nnc_pool2d_opts *o);
nnc_tensor *nnc_avg_pool1d(nnc_tensor *x, int64_t kernel, int64_t stride, int64_t padding);
nnc_tensor *nnc_avg_pool1d_opts(nnc_tensor *x, const nnc_pool1d_opts *o);
/* output (i, j) is the mean of rows floor(i*H/oh) .. ceil((i+1)*H/oh)-1 and the same for
 * columns, as torch's adaptive_avg_pool2d; (1, 1) is global average pooling */
nnc_tensor *nnc_adaptive_avg_pool2d(nnc_tensor *x, int64_t out_h, int64_t out_w);
nnc_tensor *nnc_adaptive_avg_pool1d(nnc_tensor *x, int64_t out_l);
/* F.interpolate(x, size or scale_factor, mode='nearest'): give a size (scales 0) or scale
 * factors (sizes 0; size = floor(in * scale)).  Source index min(floor(dst * s), in - 1) with
 * s = 1/scale or in/out computed in float, as PyTorch does (which is floor(dst*in/out) up to
 * float rounding of s). */
nnc_tensor *nnc_upsample_nearest2d(nnc_tensor *x, int64_t out_h, int64_t out_w, double scale_h, double scale_w);
/* F.interpolate(..., mode='bilinear', align_corners): source coordinate dst*(in-1)/(out-1)
 * with align_corners, else max(0, (dst + 0.5) * s - 0.5) with s as above; sizes/scales as
 * for nearest */
nnc_tensor *nnc_upsample_bilinear2d(nnc_tensor *x, int64_t out_h, int64_t out_w, bool align_corners, double scale_h,
                                    double scale_w);

/* ---- normalisation ----
 * x is [N, C, ...] (channels on axis 1); weight and bias are [C] or NULL (no affine). */
/* batch normalisation, one fused op (BatchNorm1d/2d/3d):
 *   training: per channel, mean and biased variance over every axis but 1; y = (x - mean) /
 *             sqrt(var + eps) * weight + bias; if running_mean/running_var are given they
 *             become (1 - momentum) * running + momentum * batch (unbiased variance), in
 *             place, outside the tape (they may have any float dtype);
 *   eval:     the same with running_mean and running_var (required) instead of batch stats.
 * Gradients for x, weight and bias (the fused formula; through the batch statistics in
 * training). */
nnc_tensor *nnc_batch_norm(nnc_tensor *x, nnc_tensor *weight, nnc_tensor *bias, nnc_tensor *running_mean,
                           nnc_tensor *running_var, bool training, double momentum, double eps);
/* group normalisation: channels split into `groups` groups of C/groups; each (sample,
 * group) normalised with its own mean and biased variance; then per-channel affine */
nnc_tensor *nnc_group_norm(nnc_tensor *x, int64_t groups, nnc_tensor *weight, nnc_tensor *bias, double eps);
/* layer normalisation over the channels at each position of x [N, C, ...] (ConvNeXt's
 * "LayerNorm channels_first"); composed: permute, the fused nnc_layer_norm (which copies x
 * contiguous), permute back (the result is a strided view) */
nnc_tensor *nnc_layer_norm_channels(nnc_tensor *x, nnc_tensor *weight, nnc_tensor *bias, double eps);


/* ---- convolutions ---- (conv.c; kernels and measurements: docs/conv.md)
 * PyTorch semantics and weight layouts.  Options are a struct so call sites name what they
 * set; a field left 0 takes the default (stride 1, padding 0, dilation 1, groups 1):
 *   nnc_conv2d(x, w, b, (nnc_conv_args){.pad = {2, 2}})
 *   nnc_conv1d(x, w, NULL, (nnc_conv_args){.stride = {2}, .dilation = {3}, .groups = 4})
 * Index [0] is the height, [1] the width; a 1-d op uses [0] (its length) only.  x may also
 * be unbatched ([C, H, W] / [C, L]); then so is the result.  groups == C is depthwise. */
typedef struct nnc_conv_args {
  int stride[2];
  int pad[2];        /* zeros added on both sides */
  int dilation[2];
  int output_pad[2]; /* transposed only: extra rows/columns at the bottom/right of the
                      * output; must be smaller than the stride or the dilation */
  int groups;
} nnc_conv_args;
/* x [N, C, H, W], w [O, C/groups, KH, KW], bias [O] or NULL -> [N, O, OH, OW] with
 * OH = (H + 2*pad - dilation*(KH-1) - 1) / stride + 1 (floor) and likewise OW */
nnc_tensor *nnc_conv2d(nnc_tensor *x, nnc_tensor *w, nnc_tensor *bias, nnc_conv_args a);
/* x [N, C, L], w [O, C/groups, K], bias [O] or NULL -> [N, O, OL] */
nnc_tensor *nnc_conv1d(nnc_tensor *x, nnc_tensor *w, nnc_tensor *bias, nnc_conv_args a);
/* the gradient of conv2d with respect to its input, as an op: x [N, C_in, H, W],
 * w [C_in, C_out/groups, KH, KW], bias [C_out] or NULL -> [N, C_out, OH, OW] with
 * OH = (H-1)*stride - 2*pad + dilation*(KH-1) + output_pad + 1 and likewise OW */
nnc_tensor *nnc_conv_transpose2d(nnc_tensor *x, nnc_tensor *w, nnc_tensor *bias, nnc_conv_args a);
/* x [N, C_in, L], w [C_in, C_out/groups, K], bias [C_out] or NULL -> [N, C_out, OL] */
nnc_tensor *nnc_conv_transpose1d(nnc_tensor *x, nnc_tensor *w, nnc_tensor *bias, nnc_conv_args a);

/* ---- linear recurrences ---- (scan.c; rows in table_scan.c)
 * Recurrences along the time axis with a plain step-by-step reference kernel (double) and
 * a fast kernel; gradients for every float input.
 *
 * Diagonal linear recurrence (Mamba's selective scan after discretisation):
 *   h_t = a_t * h_{t-1} + bx_t  (elementwise; h_{-1} = h0, or 0 when h0 is NULL)
 * a, bx [B, T, D], h0 [B, D] or NULL -> h [B, T, D].  Any a is allowed: a in (-1, 1) is the
 * negative-eigenvalue extension (a = 2 exp(dt A) - 1).  Chunked over T when B*D is small. */
nnc_tensor *nnc_scan_diag(nnc_tensor *a, nnc_tensor *bx, nnc_tensor *h0);
/* The delta rule (DeltaNet), independently for every leading index (batch, head):
 *   S_t = S_{t-1} (I - beta_t k_t k_t^T) + beta_t v_t k_t^T,   o_t = S_t q_t
 * (S [Dv, Dk]; S_{-1} = S0, or 0 when S0 is NULL).  A_t = I - beta_t k k^T has eigenvalues 1
 * and 1 - beta_t |k|^2: with k L2-normalised by the caller, beta in (0, 2) allows negative
 * eigenvalues (beta = 2 sigmoid(.), the state-tracking extension).
 * q, k [..., T, Dk], v [..., T, Dv], beta [..., T], S0 [..., Dv, Dk] or NULL -> o [..., T, Dv]
 * (typically [B, H, T, D]).  nnc_scan_delta_ex also returns the final state S_{T-1}
 * [..., Dv, Dk] in *S_final (if not NULL) without a gradient (for carrying state across
 * calls; detach-style, as in truncated backpropagation). */
nnc_tensor *nnc_scan_delta(nnc_tensor *q, nnc_tensor *k, nnc_tensor *v, nnc_tensor *beta, nnc_tensor *S0);
nnc_tensor *nnc_scan_delta_ex(nnc_tensor *q, nnc_tensor *k, nnc_tensor *v, nnc_tensor *beta, nnc_tensor *S0,
                              nnc_tensor **S_final);

/* ---- attention and Transformer blocks ---- (attention.c, layernorm.c, bias_gelu.c; rows in
 * table_attention.c, table_layernorm.c, table_bias_gelu.c)
 * Scaled dot-product attention, one fused op: for every batch index (the leading dims, which
 * broadcast between q, k and v as in matmul)
 *   S = scale * q k^T,  S = -inf where the mask is 0 or (causal and key c > query r),
 *   out = softmax(S, last dim) v,
 * q [..., Tq, D], k [..., Tk, D], v [..., Tk, Dv] -> [..., Tq, Dv]; scale 0 means 1/sqrt(D).
 * mask: NULL or u8 broadcastable to [..., Tq, Tk], nonzero = keep (PyTorch's boolean
 * attn_mask uses the opposite sense: True = masked out).  causal is top-left aligned, as
 * torch's scaled_dot_product_attention(is_causal=True): query r sees keys c <= r.  A query
 * whose keys are all masked gets a zero output and zero gradients (not NaN).  Saves the
 * probabilities ([..., Tq, Tk]) for backward.  q, k, v are read through their strides when
 * their last dim is unit-stride (heads permuted out of [B, T, H, D] need no copy). */
nnc_tensor *nnc_attention(nnc_tensor *q, nnc_tensor *k, nnc_tensor *v, const nnc_tensor *mask, bool causal,
                          double scale);
/* multi-head self-attention on a packed projection, the fast path of MultiheadAttention:
 * qkv [B, T, 3*E] (q | k | v along the last dim, as nn.MultiheadAttention's in_proj output;
 * head h of each is columns h*D .. h*D+D-1, D = E/heads) -> [B, T, E] (heads concatenated).
 * The same as nnc_attention on the [B, heads, T, D] views, without views or copies; mask
 * broadcasts to [B, heads, T, T]. */
nnc_tensor *nnc_attention_packed(nnc_tensor *qkv, int64_t heads, const nnc_tensor *mask, bool causal, double scale);
/* block-local attention: query r sees key c only when r / chunk == c / chunk (and c <= r if
 * causal); Tq == Tk.  When chunk divides T it runs nnc_attention on [..., T/chunk, chunk, D]
 * views (cost T*chunk per row block, not T^2), else with a [T, T] mask.  Scale 1/sqrt(D). */
nnc_tensor *nnc_chunked_attention(nnc_tensor *q, nnc_tensor *k, nnc_tensor *v, int64_t chunk, bool causal);
/* layer normalisation over the last dim, one fused op: x [..., C], weight and bias [C] or
 * NULL; y = (x - mean) / sqrt(var + eps) * weight + bias, var biased (F.layer_norm over the
 * last dim).  Saves x and the per-row mean and 1/std. */
nnc_tensor *nnc_layer_norm(nnc_tensor *x, nnc_tensor *weight, nnc_tensor *bias, double eps);
/* y = gelu(x + bias) (the erf form), one fused op (bias_gelu.c): x [..., C], bias [C] or
 * NULL.  A feed-forward's first half is nnc_linear(x, w, NULL) then this. */
nnc_tensor *nnc_bias_gelu(nnc_tensor *x, nnc_tensor *bias);

#endif
