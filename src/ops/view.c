/* ops/view.c: views that share storage (reshape where the layout allows, flatten, permute,
 * transpose, narrow, slice, expand, squeeze, unsqueeze) and the copies contiguous and clone.
 * A view's backward maps the output gradient back to the input's shape: reshape it back,
 * permute it back, scatter it into zeros, or sum it over the expanded dimensions. */
#include <string.h>
#include "autograd/autograd.h"
#include "core/error.h"
#include "ops/ops.h"

/* a view of x with the given shape/strides/offset; recorded with op `def` */
static nnc_tensor *make_view(nnc_tensor *x, int ndim, const int64_t *shape, const int64_t *stride, int64_t offset) {
  nnc_tensor *v = nnc_view_raw(x);
  v->ndim = ndim;
  for (int d = 0; d < ndim; d++) {
    v->shape[d] = shape[d];
    v->stride[d] = stride[d];
  }
  v->offset = offset;
  return v;
}

/* ---- contiguous / clone ---- */
static void copy_backward(nnc_node *n) { nnc_accum_grad(n->in[0], n->out->grad); }
NNC_OP_DEF(op_contiguous, "contiguous", copy_backward);
NNC_OP_DEF(op_clone, "clone", copy_backward);

static nnc_tensor *copy_op(nnc_tensor *x, const nnc_op_def *def) {
  nnc_tensor *y = nnc_empty(x->dtype, x->ndim, x->shape);
  if (nnc_reference_kernels())
    for (int64_t i = 0, n = nnc_numel(x); i < n; i++) nnc_set(y, i, nnc_get(x, i));
  else
    nnc_copy_into(y, x);
  nnc_record(def, y, 1, &x);
  return y;
}

nnc_tensor *nnc_contiguous(nnc_tensor *x) { return nnc_is_contiguous(x) ? x : copy_op(x, &op_contiguous); }
nnc_tensor *nnc_clone(nnc_tensor *x) { return copy_op(x, &op_clone); }

/* ---- reshape ---- */
static void reshape_backward(nnc_node *n) {
  nnc_tensor *x = n->in[0];
  nnc_accum_grad(x, nnc_reshape(n->out->grad, x->ndim, x->shape));
}
NNC_OP_DEF(op_reshape, "reshape", reshape_backward);

/* strides that view x's storage with `shape`, if possible without a copy (PyTorch's rule:
 * each run of input dims that is contiguous in memory may be regrouped freely) */
static bool view_strides(const nnc_tensor *x, int ndim, const int64_t *shape, int64_t *stride) {
  if (nnc_is_contiguous(x) || nnc_numel(x) == 0) {
    nnc_contiguous_strides(ndim, shape, stride);
    return true;
  }
  int view_d = ndim - 1;
  int64_t chunk_base = x->stride[x->ndim - 1], tensor_numel = 1, view_numel = 1;
  for (int d = x->ndim - 1; d >= 0; d--) {
    tensor_numel *= x->shape[d];
    if (d == 0 || (x->shape[d - 1] != 1 && x->stride[d - 1] != tensor_numel * chunk_base)) {
      while (view_d >= 0 && (view_numel < tensor_numel || shape[view_d] == 1)) {
        stride[view_d] = view_numel * chunk_base;
        view_numel *= shape[view_d];
        view_d--;
      }
      if (view_numel != tensor_numel) return false;
      if (d > 0) {
        chunk_base = x->stride[d - 1];
        tensor_numel = 1;
        view_numel = 1;
      }
    }
  }
  return view_d == -1;
}

nnc_tensor *nnc_reshape(nnc_tensor *x, int ndim, const int64_t *shape_in) {
  char a[96];
  NNC_CHECK(ndim >= 0 && ndim <= NNC_MAX_DIMS, "reshape", "ndim %d out of range", ndim);
  int64_t shape[NNC_MAX_DIMS], known = 1, numel = nnc_numel(x);
  int infer = -1;
  for (int d = 0; d < ndim; d++) {
    shape[d] = shape_in[d];
    if (shape[d] == -1) {
      NNC_CHECK(infer < 0, "reshape", "more than one -1 in the new shape");
      infer = d;
    } else {
      NNC_CHECK(shape[d] >= 0, "reshape", "negative size %lld", (long long)shape[d]);
      known *= shape[d];
    }
  }
  if (infer >= 0) {
    NNC_CHECK(known > 0 && numel % known == 0, "reshape", "cannot infer -1 reshaping %s (%lld elements)",
              nnc_shape_str(x, a, 96), (long long)numel);
    shape[infer] = numel / known;
    known *= shape[infer];
  }
  NNC_CHECK(known == numel, "reshape", "cannot reshape %s (%lld elements) to %lld elements", nnc_shape_str(x, a, 96),
            (long long)numel, (long long)known);
  int64_t stride[NNC_MAX_DIMS];
  nnc_tensor *src = x;
  if (!view_strides(x, ndim, shape, stride)) {
    src = nnc_contiguous(x); /* recorded copy */
    nnc_contiguous_strides(ndim, shape, stride);
  }
  nnc_tensor *y = make_view(src, ndim, shape, stride, src->offset);
  nnc_record(&op_reshape, y, 1, &src);
  return y;
}

nnc_tensor *nnc_flatten(nnc_tensor *x, int start, int end) {
  if (x->ndim == 0) return nnc_reshape(x, 1, (int64_t[]){1});
  start = nnc_axis(x, start, "flatten");
  end = nnc_axis(x, end, "flatten");
  NNC_CHECK(start <= end, "flatten", "start axis %d after end axis %d", start, end);
  int64_t shape[NNC_MAX_DIMS];
  int nd = 0;
  for (int d = 0; d < start; d++) shape[nd++] = x->shape[d];
  int64_t m = 1;
  for (int d = start; d <= end; d++) m *= x->shape[d];
  shape[nd++] = m;
  for (int d = end + 1; d < x->ndim; d++) shape[nd++] = x->shape[d];
  return nnc_reshape(x, nd, shape);
}

/* ---- permute / transpose ---- */
static void permute_backward(nnc_node *n) {
  int inv[NNC_MAX_DIMS];
  for (int d = 0; d < n->out->ndim; d++) inv[n->i[d]] = d;
  nnc_accum_grad(n->in[0], nnc_contiguous(nnc_permute(n->out->grad, inv)));
}
NNC_OP_DEF(op_permute, "permute", permute_backward);

nnc_tensor *nnc_permute(nnc_tensor *x, const int *perm) {
  int64_t shape[NNC_MAX_DIMS], stride[NNC_MAX_DIMS];
  bool used[NNC_MAX_DIMS] = {false};
  for (int d = 0; d < x->ndim; d++) {
    int p = nnc_axis(x, perm[d], "permute");
    NNC_CHECK(!used[p], "permute", "axis %d appears twice", p);
    used[p] = true;
    shape[d] = x->shape[p];
    stride[d] = x->stride[p];
  }
  nnc_tensor *y = make_view(x, x->ndim, shape, stride, x->offset);
  nnc_node *n = nnc_record(&op_permute, y, 1, &x);
  if (n)
    for (int d = 0; d < x->ndim; d++) n->i[d] = nnc_axis(x, perm[d], "permute");
  return y;
}

nnc_tensor *nnc_transpose(nnc_tensor *x, int axis0, int axis1) {
  int a = nnc_axis(x, axis0, "transpose"), b = nnc_axis(x, axis1, "transpose");
  int perm[NNC_MAX_DIMS];
  for (int d = 0; d < x->ndim; d++) perm[d] = d;
  perm[a] = b;
  perm[b] = a;
  return nnc_permute(x, perm);
}

/* ---- narrow / slice: backward adds g into the slice's part of the input's gradient ---- */
static void slice_backward(nnc_node *n) {
  nnc_tensor *x = n->in[0];
  if (!x->requires_grad) return;
  nnc_tensor *gx = nnc_grad_of(x); /* zeros once; later slices of x add into the same tensor */
  int axis = (int)n->i[0];
  int64_t start = n->i[1], step = n->i[2];
  nnc_tensor *part = nnc_view_raw(gx);
  part->shape[axis] = n->out->shape[axis];
  part->offset = gx->offset + start * gx->stride[axis];
  part->stride[axis] = gx->stride[axis] * step;
  nnc_add_into(part, n->out->grad);
}
NNC_OP_DEF(op_slice, "slice", slice_backward);

nnc_tensor *nnc_slice(nnc_tensor *x, int axis_in, int64_t start, int64_t end, int64_t step) {
  int axis = nnc_axis(x, axis_in, "slice");
  int64_t size = x->shape[axis];
  NNC_CHECK(step > 0, "slice", "step %lld must be positive", (long long)step);
  if (start < 0) start += size;
  if (end < 0) end += size;
  if (start < 0) start = 0;
  if (end > size) end = size;
  if (start > size) start = size;
  int64_t len = end > start ? (end - start + step - 1) / step : 0;
  nnc_tensor *y = nnc_view_raw(x);
  y->shape[axis] = len;
  y->offset = x->offset + start * x->stride[axis];
  y->stride[axis] = x->stride[axis] * step;
  nnc_node *n = nnc_record(&op_slice, y, 1, &x);
  if (n) {
    n->i[0] = axis;
    n->i[1] = start;
    n->i[2] = step;
  }
  return y;
}

nnc_tensor *nnc_narrow(nnc_tensor *x, int axis_in, int64_t start, int64_t length) {
  int axis = nnc_axis(x, axis_in, "narrow");
  char a[96];
  NNC_CHECK(start >= 0 && length >= 0 && start + length <= x->shape[axis], "narrow",
            "range [%lld, %lld) outside axis %d of %s", (long long)start, (long long)(start + length), axis,
            nnc_shape_str(x, a, 96));
  return nnc_slice(x, axis, start, start + length, 1);
}

/* ---- expand ---- */
static void expand_backward(nnc_node *n) {
  nnc_tensor *x = n->in[0];
  nnc_accum_grad(x, nnc_sum_to(n->out->grad, x->ndim, x->shape));
}
NNC_OP_DEF(op_expand, "expand", expand_backward);

nnc_tensor *nnc_expand(nnc_tensor *x, int ndim, const int64_t *shape_in) {
  char a[96];
  NNC_CHECK(ndim >= x->ndim && ndim <= NNC_MAX_DIMS, "expand", "cannot expand %s to %d dims",
            nnc_shape_str(x, a, 96), ndim);
  int64_t shape[NNC_MAX_DIMS], stride[NNC_MAX_DIMS];
  for (int d = 0; d < ndim; d++) {
    int dx = d - (ndim - x->ndim);
    shape[d] = shape_in[d];
    if (dx >= 0 && shape[d] == -1) shape[d] = x->shape[dx];
    NNC_CHECK(shape[d] >= 0, "expand", "bad size %lld in dim %d", (long long)shape_in[d], d);
    if (dx < 0) {
      stride[d] = 0;
    } else if (x->shape[dx] == shape[d]) {
      stride[d] = x->stride[dx];
    } else {
      NNC_CHECK(x->shape[dx] == 1, "expand", "cannot expand %s: dim %d has size %lld, not 1",
                nnc_shape_str(x, a, 96), dx, (long long)x->shape[dx]);
      stride[d] = 0;
    }
  }
  nnc_tensor *y = make_view(x, ndim, shape, stride, x->offset);
  nnc_record(&op_expand, y, 1, &x);
  return y;
}

/* ---- squeeze / unsqueeze: reshapes of one size-1 dim ---- */
nnc_tensor *nnc_squeeze(nnc_tensor *x, int axis_in) {
  int axis = nnc_axis(x, axis_in, "squeeze");
  char a[96];
  NNC_CHECK(x->shape[axis] == 1, "squeeze", "axis %d of %s has size %lld, not 1", axis, nnc_shape_str(x, a, 96),
            (long long)x->shape[axis]);
  int64_t shape[NNC_MAX_DIMS], stride[NNC_MAX_DIMS];
  int nd = 0;
  for (int d = 0; d < x->ndim; d++)
    if (d != axis) {
      shape[nd] = x->shape[d];
      stride[nd++] = x->stride[d];
    }
  nnc_tensor *y = make_view(x, nd, shape, stride, x->offset);
  nnc_record(&op_reshape, y, 1, &x);
  return y;
}

nnc_tensor *nnc_unsqueeze(nnc_tensor *x, int axis_in) {
  int axis = axis_in < 0 ? axis_in + x->ndim + 1 : axis_in;
  NNC_CHECK(axis >= 0 && axis <= x->ndim && x->ndim < NNC_MAX_DIMS, "unsqueeze", "axis %d out of range for %d dims",
            axis_in, x->ndim);
  int64_t shape[NNC_MAX_DIMS], stride[NNC_MAX_DIMS];
  int nd = 0;
  for (int d = 0; d <= x->ndim; d++) {
    if (d == axis) {
      shape[nd] = 1;
      stride[nd++] = d < x->ndim ? x->stride[d] * x->shape[d] : 1;
    }
    if (d < x->ndim) {
      shape[nd] = x->shape[d];
      stride[nd++] = x->stride[d];
    }
  }
  nnc_tensor *y = make_view(x, nd, shape, stride, x->offset);
  nnc_record(&op_reshape, y, 1, &x);
  return y;
}
