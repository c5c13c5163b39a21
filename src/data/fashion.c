/* data/fashion.c: Fashion-MNIST loader (see fashion.h). */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include "data/fashion.h"
#include "data/idx.h"

static const char *const class_names[10] = {
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"};

const char *nnc_fashion_class_name(int label) {
  return label >= 0 && label < 10 ? class_names[label] : "?";
}

/* finds dir/base.gz or dir/base; returns 0 if neither exists */
static int find_file(const char *dir, const char *base, char *path, size_t size) {
  struct stat sb;
  int n = snprintf(path, size, "%s/%s.gz", dir, base);
  if (n < 3 || (size_t)n >= size) return 0;
  if (stat(path, &sb) == 0) return 1;
  path[n - 3] = 0; /* without ".gz" */
  return stat(path, &sb) == 0;
}

nnc_status nnc_fashion_load(const char *dir, bool train, nnc_dataset *out) {
  memset(out, 0, sizeof *out);
  if (!dir) dir = NNC_FASHION_DIR;
  const char *split = train ? "train" : "t10k";
  char ibase[64], lbase[64], ipath[4096], lpath[4096];
  snprintf(ibase, sizeof ibase, "%s-images-idx3-ubyte", split);
  snprintf(lbase, sizeof lbase, "%s-labels-idx1-ubyte", split);
  int have_i = find_file(dir, ibase, ipath, sizeof ipath), have_l = find_file(dir, lbase, lpath, sizeof lpath);
  if (!have_i || !have_l)
    return nnc_error(NNC_ERR_IO, "Fashion-MNIST not found: no %s[.gz] in %s; install it with: "
                     "apt-get install dataset-fashion-mnist (or pass --data DIR)",
                     !have_i ? ibase : lbase, dir);
  nnc_tensor *img = NULL, *lab = NULL;
  nnc_status st = nnc_idx_read(ipath, &img);
  if (st != NNC_OK) return st;
  st = nnc_idx_read(lpath, &lab);
  if (st != NNC_OK) { nnc_heap_free(img); return st; }
  if (img->dtype != NNC_U8 || img->ndim != 3 || img->shape[1] != 28 || img->shape[2] != 28) {
    char b[128];
    st = nnc_error(NNC_ERR_FORMAT, "%s: want u8 images of shape [N, 28, 28], got %s %s", ipath,
                   nnc_dtype_name(img->dtype), nnc_shape_str(img, b, sizeof b));
    goto fail;
  }
  if (lab->dtype != NNC_U8 || lab->ndim != 1) {
    char b[128];
    st = nnc_error(NNC_ERR_FORMAT, "%s: want u8 labels of shape [N], got %s %s", lpath,
                   nnc_dtype_name(lab->dtype), nnc_shape_str(lab, b, sizeof b));
    goto fail;
  }
  int64_t n = img->shape[0];
  if (lab->shape[0] != n) {
    st = nnc_error(NNC_ERR_FORMAT, "Fashion-MNIST %s: %lld images but %lld labels (%s, %s)", split,
                   (long long)n, (long long)lab->shape[0], ipath, lpath);
    goto fail;
  }
  const uint8_t *lv = nnc_data(lab);
  for (int64_t i = 0; i < n; i++)
    if (lv[i] > 9) {
      st = nnc_error(NNC_ERR_FORMAT, "%s: label %d of example %lld is outside 0..9", lpath, lv[i], (long long)i);
      goto fail;
    }
  out->x = nnc_heap_tensor_uninit(NNC_F32, 2, (const int64_t[]){n, 784});
  out->y = nnc_heap_tensor_uninit(NNC_I64, 1, &n);
  if (!out->x || !out->y) { st = NNC_ERR_NOMEM; goto fail; }
  float lut[256];
  for (int v = 0; v < 256; v++) lut[v] = ((float)v / 255.0f - NNC_FASHION_MEAN) / NNC_FASHION_STD;
  const uint8_t *pv = nnc_data(img);
  float *x = nnc_data(out->x);
  int64_t total = n * 784;
#pragma omp parallel for schedule(static) if (total > (1 << 20))
  for (int64_t i = 0; i < total; i++) x[i] = lut[pv[i]];
  int64_t *y = nnc_data(out->y);
  for (int64_t i = 0; i < n; i++) y[i] = lv[i];
  out->n = n;
  out->num_classes = 10;
  nnc_heap_free(img);
  nnc_heap_free(lab);
  return NNC_OK;
fail:
  nnc_heap_free(img);
  nnc_heap_free(lab);
  nnc_dataset_free(out);
  return st;
}
