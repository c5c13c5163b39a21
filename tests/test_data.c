/* tests/test_data.c: IDX (plain and gzip), the real Fashion-MNIST, NPY and CSV round trips,
 * lying files of each format, heap tensors, datasets and the seeded batcher. */
#include <stdlib.h>
#include <unistd.h>
#include <zlib.h>
#include "test.h"

static char tmpdir[256];

static const char *tmp_path(const char *name) {
  static char buf[8][512];
  static int k;
  char *p = buf[k++ % 8];
  snprintf(p, 512, "%s/%s", tmpdir, name);
  return p;
}

static void write_bytes(const char *path, const void *data, size_t n) {
  FILE *f = fopen(path, "wb");
  if (!f) { perror(path); exit(1); }
  if (n) fwrite(data, 1, n, f);
  fclose(f);
}

static void write_gz(const char *path, const void *data, size_t n) {
  gzFile f = gzopen(path, "wb");
  if (!f) { perror(path); exit(1); }
  if (n) gzwrite(f, data, (unsigned)n);
  gzclose(f);
}

/* an IDX header: type, ndim, dims (big-endian) into buf; returns its length */
static size_t idx_header(unsigned char *buf, int type, int ndim, const uint32_t *dims) {
  buf[0] = buf[1] = 0;
  buf[2] = (unsigned char)type;
  buf[3] = (unsigned char)ndim;
  for (int d = 0; d < ndim; d++) {
    buf[4 + 4 * d] = (unsigned char)(dims[d] >> 24);
    buf[5 + 4 * d] = (unsigned char)(dims[d] >> 16);
    buf[6 + 4 * d] = (unsigned char)(dims[d] >> 8);
    buf[7 + 4 * d] = (unsigned char)dims[d];
  }
  return 4 + 4 * (size_t)ndim;
}

static int msg_has(const char *word) {
  if (strstr(nnc_last_error(), word)) return 1;
  fprintf(stderr, "  message '%s' lacks '%s'\n", nnc_last_error(), word);
  return 0;
}

/* ---- IDX ---- */
static void test_idx(void) {
  /* u8 [3, 4, 5] written by hand, plain and through zlib's gzopen */
  unsigned char buf[4096];
  size_t h = idx_header(buf, 0x08, 3, (const uint32_t[]){3, 4, 5});
  for (int i = 0; i < 60; i++) buf[h + i] = (unsigned char)(i * 7 + 3);
  write_bytes(tmp_path("u8.idx"), buf, h + 60);
  write_gz(tmp_path("u8.idx.gz"), buf, h + 60);
  const char *names[2] = {"u8.idx", "u8.idx.gz"};
  for (int k = 0; k < 2; k++) {
    nnc_tensor *t = NULL;
    CHECKF(nnc_idx_read(tmp_path(names[k]), &t) == NNC_OK, "%s", nnc_last_error());
    if (!t) continue;
    CHECK(t->dtype == NNC_U8 && t->ndim == 3 && t->shape[0] == 3 && t->shape[1] == 4 && t->shape[2] == 5);
    CHECK(memcmp(nnc_data(t), buf + h, 60) == 0);
    nnc_heap_free(t);
  }
  /* i32 / f32 / f64 through the writer, plain and gzip: values and byte order survive */
  nnc_rng r;
  nnc_rng_seed(&r, 5, 0);
  nnc_tensor *f32 = nnc_randn(NNC_F32, NNC_SHAPE(7, 3), &r), *f64 = nnc_randn(NNC_F64, NNC_SHAPE(2, 2, 2, 2), &r);
  nnc_tensor *i32 = nnc_from_data(NNC_I32, NNC_SHAPE(4), (int32_t[]){-1, 0, 0x01020304, INT32_MIN});
  nnc_tensor *srcs[3] = {f32, f64, i32};
  for (int k = 0; k < 3; k++)
    for (int gz = 0; gz < 2; gz++) {
      const char *p = tmp_path(gz ? "w.idx.gz" : "w.idx");
      CHECK(nnc_idx_write(p, srcs[k], gz) == NNC_OK);
      nnc_tensor *t = NULL;
      CHECKF(nnc_idx_read(p, &t) == NNC_OK, "%s", nnc_last_error());
      if (!t) continue;
      CHECK(t->dtype == srcs[k]->dtype && nnc_same_shape(t, srcs[k]));
      CHECK(memcmp(nnc_data(t), nnc_data(srcs[k]), srcs[k]->storage->nbytes) == 0);
      nnc_heap_free(t);
    }
  /* big-endian on disk */
  uint8_t *raw = NULL;
  size_t nraw = 0;
  CHECK(nnc_idx_write(tmp_path("be.idx"), i32, false) == NNC_OK);
  CHECK(nnc_read_file(tmp_path("be.idx"), &raw, &nraw) == NNC_OK && nraw == 8 + 16 && raw[2] == 0x0C && raw[7] == 4 &&
        raw[16] == 1 && raw[17] == 2 && raw[19] == 4);
  free(raw);
  CHECK(nnc_idx_write(tmp_path("x.idx"), nnc_from_data(NNC_I64, NNC_SHAPE(1), (int64_t[]){1}), false) == NNC_ERR_ARG);

  /* lying files */
  struct {
    const char *name;
    int gz;
    size_t cut;   /* bytes to drop from the end (0: none) */
    size_t extra; /* bytes to add */
    int type, ndim;
    uint32_t dims[5];
    const char *word;
  } lies[] = {
      {"trunc.idx", 0, 1, 0, 0x08, 2, {3, 4}, "truncated"},
      {"trunc.idx.gz", 1, 7, 0, 0x08, 2, {3, 4}, "truncated"},
      {"trail.idx", 0, 0, 1, 0x08, 2, {3, 4}, "trailing"},
      {"trail.idx.gz", 1, 0, 5, 0x08, 2, {3, 4}, "trailing"},
      {"type09.idx", 0, 0, 0, 0x09, 1, {4}, "unsupported IDX type"},
      {"type42.idx", 0, 0, 0, 0x42, 1, {4}, "unsupported IDX type"},
      {"ndim0.idx", 0, 0, 0, 0x08, 0, {0}, "dimension count"},
      {"ndim5.idx", 0, 0, 0, 0x08, 5, {1, 1, 1, 1, 1}, "dimension count"},
      {"huge.idx", 0, 0, 0, 0x08, 3, {0xffffffffu, 0xffffffffu, 0xffffffffu}, "too large"},
      {"huge_f64.idx", 0, 0, 0, 0x0E, 2, {65536, 4096}, "too large"},
      {"claims_900MB.idx", 0, 0, 0, 0x08, 3, {900, 1000, 1000}, "truncated"},
      {"claims_900MB.idx.gz", 1, 0, 0, 0x08, 3, {900, 1000, 1000}, "truncated"},
  };
  for (size_t c = 0; c < sizeof lies / sizeof lies[0]; c++) {
    size_t hl = idx_header(buf, lies[c].type, lies[c].ndim, lies[c].dims);
    size_t data = lies[c].ndim == 2 ? 12 * (lies[c].type == 0x08 ? 1 : 4) : lies[c].ndim == 1 ? 4 : 0;
    memset(buf + hl, 1, data + lies[c].extra);
    size_t total = hl + data + lies[c].extra - lies[c].cut;
    if (lies[c].gz) write_gz(tmp_path(lies[c].name), buf, total);
    else write_bytes(tmp_path(lies[c].name), buf, total);
    nnc_tensor *t = (nnc_tensor *)1;
    nnc_status st = nnc_idx_read(tmp_path(lies[c].name), &t);
    CHECKF(st == NNC_ERR_FORMAT && t == NULL && msg_has(lies[c].word) && msg_has(lies[c].name), "%s: %s", lies[c].name,
           nnc_status_name(st));
  }
  /* bad magic, short headers, corrupt gzip, missing file */
  write_bytes(tmp_path("magic.idx"), "\x01\x00\x08\x01\x00\x00\x00\x01\x05", 9);
  nnc_tensor *t;
  CHECK(nnc_idx_read(tmp_path("magic.idx"), &t) == NNC_ERR_FORMAT && msg_has("bad magic"));
  for (size_t n = 0; n < 8; n++) {
    write_bytes(tmp_path("short.idx"), "\x00\x00\x08\x01\x00\x00\x00\x01", n);
    CHECK(nnc_idx_read(tmp_path("short.idx"), &t) == NNC_ERR_FORMAT && msg_has("truncated"));
  }
  uint8_t *gzb = NULL;
  size_t gzn = 0;
  CHECK(nnc_read_file(tmp_path("u8.idx.gz"), &gzb, &gzn) == NNC_OK);
  for (size_t k = 12; k < gzn - 8; k++) gzb[k] ^= 0x5a; /* keep the gzip header, wreck the stream */
  write_bytes(tmp_path("corrupt.idx.gz"), gzb, gzn);
  CHECK(nnc_idx_read(tmp_path("corrupt.idx.gz"), &t) == NNC_ERR_FORMAT);
  for (size_t cut = 1; cut < gzn; cut += 3) { /* every cut of a gzip file fails cleanly */
    write_bytes(tmp_path("cut.idx.gz"), gzb, gzn - cut);
    CHECK(nnc_idx_read(tmp_path("cut.idx.gz"), &t) != NNC_OK);
  }
  free(gzb);
  CHECK(nnc_idx_read(tmp_path("nope.idx"), &t) == NNC_ERR_IO && msg_has("cannot open"));
  CHECK(nnc_idx_read(tmpdir, &t) == NNC_ERR_IO);
}

/* ---- Fashion-MNIST ---- */
static void test_fashion_real(void) {
  nnc_dataset tr, te;
  double t0 = nnc_now();
  nnc_status st = nnc_fashion_load(NULL, true, &tr);
  double dt = nnc_now() - t0;
  if (st == NNC_OK && dt > 1.0) { /* once more: the first read may have met a cold cache or a busy machine */
    nnc_dataset_free(&tr);
    t0 = nnc_now();
    st = nnc_fashion_load(NULL, true, &tr);
    dt = nnc_now() - t0;
  }
  if (st != NNC_OK) {
    CHECKF(0, "Fashion-MNIST not available: %s", nnc_last_error());
    return;
  }
  printf("fashion train: %lld examples loaded in %.3f s\n", (long long)tr.n, dt);
  if (!getenv("NNC_SANITIZE")) CHECKF(dt < 1.0, "loading took %.3f s", dt);
  CHECK(tr.n == 60000 && tr.num_classes == 10);
  CHECK(tr.x->dtype == NNC_F32 && tr.x->ndim == 2 && tr.x->shape[0] == 60000 && tr.x->shape[1] == 784);
  CHECK(tr.y->dtype == NNC_I64 && tr.y->ndim == 1 && tr.y->shape[0] == 60000);
  CHECK(nnc_i64(tr.y)[0] == 9 && strcmp(nnc_fashion_class_name((int)nnc_i64(tr.y)[0]), "Ankle boot") == 0);
  double s = 0, ss = 0;
  const float *x = nnc_f32(tr.x);
  for (int64_t i = 0; i < 60000 * 784; i++) { s += x[i]; ss += (double)x[i] * x[i]; }
  double mean = s / (60000.0 * 784), sd = sqrt(ss / (60000.0 * 784) - mean * mean);
  printf("fashion train: normalised mean %.4f std %.4f\n", mean, sd);
  CHECKF(fabs(mean) < 0.01, "mean %g", mean);
  CHECKF(fabs(sd - 1) < 0.02, "std %g", sd);
  int64_t counts[10] = {0};
  for (int64_t i = 0; i < tr.n; i++) counts[nnc_i64(tr.y)[i]]++;
  CHECK(counts[0] == 6000 && counts[9] == 6000);
  CHECK(nnc_fashion_load(NULL, false, &te) == NNC_OK && te.n == 10000 && nnc_i64(te.y)[0] == 9);
  nnc_dataset_free(&te);
  nnc_dataset_free(&tr);
  CHECK(tr.x == NULL && tr.n == 0);
}

static void write_fashion(const char *dir, const char *split, int n_img, int n_lab, int bad_label, int gz) {
  unsigned char buf[64 + 5 * 784];
  char p[600];
  size_t h = idx_header(buf, 0x08, 3, (const uint32_t[]){(uint32_t)n_img, 28, 28});
  for (int i = 0; i < n_img * 784; i++) buf[h + i] = (unsigned char)(i % 256);
  snprintf(p, sizeof p, "%s/%s-images-idx3-ubyte%s", dir, split, gz ? ".gz" : "");
  if (gz) write_gz(p, buf, h + (size_t)n_img * 784);
  else write_bytes(p, buf, h + (size_t)n_img * 784);
  h = idx_header(buf, 0x08, 1, (const uint32_t[]){(uint32_t)n_lab});
  for (int i = 0; i < n_lab; i++) buf[h + i] = (unsigned char)(i == 2 && bad_label ? 10 : i);
  snprintf(p, sizeof p, "%s/%s-labels-idx1-ubyte%s", dir, split, gz ? ".gz" : "");
  if (gz) write_gz(p, buf, h + (size_t)n_lab);
  else write_bytes(p, buf, h + (size_t)n_lab);
}

static void test_fashion_fake(void) {
  nnc_dataset ds;
  /* missing: the message says how to install it */
  CHECK(nnc_fashion_load(tmpdir, true, &ds) == NNC_ERR_IO && msg_has("apt-get install dataset-fashion-mnist") &&
        msg_has("--data DIR"));
  CHECK(ds.x == NULL && ds.n == 0);
  /* uncompressed files in a folder */
  write_fashion(tmpdir, "t10k", 5, 5, 0, 0);
  CHECKF(nnc_fashion_load(tmpdir, false, &ds) == NNC_OK, "%s", nnc_last_error());
  CHECK(ds.n == 5 && nnc_i64(ds.y)[4] == 4);
  CHECK_NEAR(nnc_f32(ds.x)[1], ((1 / 255.0) - 0.2860) / 0.3530, 1e-6);
  CHECK_NEAR(nnc_f32(ds.x)[255], ((255 / 255.0) - 0.2860) / 0.3530, 1e-6);
  nnc_dataset_free(&ds);
  /* gzip ones; a label outside 0..9; counts that disagree */
  write_fashion(tmpdir, "train", 5, 5, 1, 1);
  CHECK(nnc_fashion_load(tmpdir, true, &ds) == NNC_ERR_FORMAT && msg_has("outside 0..9"));
  write_fashion(tmpdir, "train", 5, 4, 0, 1);
  CHECK(nnc_fashion_load(tmpdir, true, &ds) == NNC_ERR_FORMAT && msg_has("5 images but 4 labels"));
  CHECK(ds.x == NULL && ds.y == NULL);
  write_fashion(tmpdir, "train", 3, 3, 0, 1);
  CHECK(nnc_fashion_load(tmpdir, true, &ds) == NNC_OK && ds.n == 3);
  nnc_dataset_free(&ds);
}

/* ---- NPY ---- */
static void test_npy(void) {
  nnc_rng r;
  nnc_rng_seed(&r, 9, 0);
  nnc_tensor *ts[] = {
      nnc_randn(NNC_F32, NNC_SHAPE(3, 4), &r),
      nnc_randn(NNC_F64, NNC_SHAPE(2, 1, 3), &r),
      nnc_from_data(NNC_I32, NNC_SHAPE(3), (int32_t[]){-1, 7, INT32_MAX}),
      nnc_from_data(NNC_I64, NNC_SHAPE(2), (int64_t[]){INT64_MIN, 5}),
      nnc_from_data(NNC_U8, NNC_SHAPE(2, 2), (uint8_t[]){0, 255, 1, 2}),
      nnc_scalar(NNC_F64, -0.5),
      nnc_empty(NNC_F32, NNC_SHAPE(0, 3)),
  };
  for (size_t k = 0; k < sizeof ts / sizeof ts[0]; k++) {
    const char *p = tmp_path("rt.npy");
    CHECKF(nnc_npy_write(p, ts[k]) == NNC_OK, "%s", nnc_last_error());
    nnc_tensor *t = NULL;
    CHECKF(nnc_npy_read(p, &t) == NNC_OK, "%zu: %s", k, nnc_last_error());
    if (!t) continue;
    CHECK(t->dtype == ts[k]->dtype && nnc_same_shape(t, ts[k]) &&
          (ts[k]->storage->nbytes == 0 || memcmp(nnc_data(t), nnc_data(ts[k]), ts[k]->storage->nbytes) == 0));
    nnc_heap_free(t);
  }
  /* the header numpy writes (format 1.0, padded to 64 bytes) */
  uint8_t *raw = NULL;
  size_t n = 0;
  CHECK(nnc_npy_write(tmp_path("h.npy"), ts[0]) == NNC_OK && nnc_read_file(tmp_path("h.npy"), &raw, &n) == NNC_OK);
  CHECK(n == 128 + 48 && memcmp(raw, "\x93NUMPY\x01\x00\x76\x00{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }", 69) == 0 &&
        raw[127] == '\n');
  free(raw);
  /* a transposed view is written in its logical order */
  nnc_tensor *v = nnc_view_raw(ts[0]);
  v->shape[0] = 4; v->shape[1] = 3; v->stride[0] = 1; v->stride[1] = 4;
  nnc_tensor *t = NULL;
  CHECK(nnc_npy_write(tmp_path("v.npy"), v) == NNC_OK && nnc_npy_read(tmp_path("v.npy"), &t) == NNC_OK);
  CHECK(t && t->shape[0] == 4 && nnc_f32(t)[1] == nnc_f32(ts[0])[4]);
  nnc_heap_free(t);

  /* hand-made files: version 2.0 and bool are read; lies are refused */
  struct {
    const char *name, *ver, *dict;
    size_t data;
    unsigned char fill;
    nnc_status want;
    const char *word;
  } cases[] = {
      {"v2.npy", "\x02\x00", "{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }", 16, 1, NNC_OK, NULL},
      {"bool.npy", "\x01\x00", "{\"descr\": \"|b1\", \"shape\": (3,), \"fortran_order\": False}", 3, 1, NNC_OK, NULL},
      {"bool2.npy", "\x01\x00", "{'descr': '|b1', 'fortran_order': False, 'shape': (3,), }", 3, 2, NNC_ERR_FORMAT, "bool"},
      {"fortran.npy", "\x01\x00", "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", 16, 0, NNC_ERR_FORMAT, "fortran_order True"},
      {"bigendian.npy", "\x01\x00", "{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", 8, 0, NNC_ERR_FORMAT, "big-endian"},
      {"complex.npy", "\x01\x00", "{'descr': '<c8', 'fortran_order': False, 'shape': (2,), }", 16, 0, NNC_ERR_FORMAT, "unsupported dtype"},
      {"negshape.npy", "\x01\x00", "{'descr': '<f4', 'fortran_order': False, 'shape': (2, -3), }", 0, 0, NNC_ERR_FORMAT, "shape"},
      {"noparen.npy", "\x01\x00", "{'descr': '<f4', 'fortran_order': False, 'shape': 3, }", 12, 0, NNC_ERR_FORMAT, "tuple"},
      {"onetuple.npy", "\x01\x00", "{'descr': '<f4', 'fortran_order': False, 'shape': (3), }", 12, 0, NNC_ERR_FORMAT, "trailing comma"},
      {"nocomma.npy", "\x01\x00", "{'descr': '<f4', 'fortran_order': False, 'shape': (3 4), }", 48, 0, NNC_ERR_FORMAT, "expected"},
      {"bigshape.npy", "\x01\x00", "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }", 0, 0, NNC_ERR_FORMAT, "too large"},
      {"overflow.npy", "\x01\x00", "{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296), }", 0, 0, NNC_ERR_FORMAT, "overflows"},
      {"ninedims.npy", "\x01\x00", "{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,1), }", 4, 0, NNC_ERR_FORMAT, "8 dimensions"},
      {"nokey.npy", "\x01\x00", "{'descr': '<f4', 'shape': (2,), }", 8, 0, NNC_ERR_FORMAT, "missing key 'fortran_order'"},
      {"extrakey.npy", "\x01\x00", "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}", 8, 0, NNC_ERR_FORMAT, "unknown key"},
      {"dupkey.npy", "\x01\x00", "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,)}", 8, 0, NNC_ERR_FORMAT, "duplicate"},
      {"fortran_maybe.npy", "\x01\x00", "{'descr': '<f4', 'fortran_order': Maybe, 'shape': (2,)}", 8, 0, NNC_ERR_FORMAT, "True or False"},
      {"after.npy", "\x01\x00", "{'descr': '<f4', 'fortran_order': False, 'shape': (2,)} x", 8, 0, NNC_ERR_FORMAT, "after the dict"},
      {"truncated.npy", "\x01\x00", "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 20, 0, NNC_ERR_FORMAT, "truncated"},
      {"trailing.npy", "\x01\x00", "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 28, 0, NNC_ERR_FORMAT, "trailing"},
      {"version3.npy", "\x03\x00", "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", 8, 0, NNC_ERR_FORMAT, "version 3.0"},
  };
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    unsigned char buf[512];
    size_t dl = strlen(cases[c].dict), pre = cases[c].ver[0] == 2 ? 12 : 10;
    memcpy(buf, "\x93NUMPY", 6);
    memcpy(buf + 6, cases[c].ver, 2);
    size_t hl = dl + 1;
    buf[8] = (unsigned char)hl;
    buf[9] = (unsigned char)(hl >> 8);
    if (pre == 12) buf[10] = buf[11] = 0;
    memcpy(buf + pre, cases[c].dict, dl);
    buf[pre + dl] = '\n';
    memset(buf + pre + hl, cases[c].fill, cases[c].data);
    write_bytes(tmp_path(cases[c].name), buf, pre + hl + cases[c].data);
    nnc_tensor *u = NULL;
    nnc_status st = nnc_npy_read(tmp_path(cases[c].name), &u);
    CHECKF(st == cases[c].want, "%s: %s (%s)", cases[c].name, nnc_status_name(st), nnc_last_error());
    if (cases[c].word) CHECKF(msg_has(cases[c].word) && msg_has(cases[c].name), "%s", cases[c].name);
    if (st == NNC_OK && strcmp(cases[c].name, "bool.npy") == 0) CHECK(u->dtype == NNC_U8 && nnc_u8(u)[2] == 1);
    if (st == NNC_OK && strcmp(cases[c].name, "v2.npy") == 0) CHECK(u->dtype == NNC_I64 && nnc_i64(u)[1] == 0x0101010101010101LL);
    nnc_heap_free(u);
  }
  write_bytes(tmp_path("magic.npy"), "\x93NUMPX\x01\x00\x00\x00", 10);
  CHECK(nnc_npy_read(tmp_path("magic.npy"), &t) == NNC_ERR_FORMAT && msg_has("bad magic"));
  write_bytes(tmp_path("hlen.npy"), "\x93NUMPY\x01\x00\xff\x00{}", 12);
  CHECK(nnc_npy_read(tmp_path("hlen.npy"), &t) == NNC_ERR_FORMAT && msg_has("past the end"));
  write_bytes(tmp_path("short.npy"), "\x93NUM", 4);
  CHECK(nnc_npy_read(tmp_path("short.npy"), &t) == NNC_ERR_FORMAT && msg_has("truncated"));
  CHECK(nnc_npy_read(tmp_path("none.npy"), &t) == NNC_ERR_IO && t == NULL);
}

/* ---- CSV ---- */
static void test_csv(void) {
  nnc_tensor *m = nnc_from_data(NNC_F64, NNC_SHAPE(3, 2), (double[]){1.5, -2, 0.1, 1e-300, 3.14159265358979, 42});
  CHECK(nnc_csv_write(tmp_path("m.csv"), m, "a,b") == NNC_OK);
  nnc_tensor *t = NULL;
  CHECKF(nnc_csv_read(tmp_path("m.csv"), NNC_F64, NNC_CSV_AUTO, &t) == NNC_OK, "%s", nnc_last_error());
  CHECK(t && t->shape[0] == 3 && t->shape[1] == 2 && memcmp(nnc_data(t), nnc_data(m), 48) == 0);
  nnc_heap_free(t);
  CHECK(nnc_csv_read(tmp_path("m.csv"), NNC_F64, NNC_CSV_NO_HEADER, &t) == NNC_ERR_FORMAT && msg_has(":1: column 1: 'a'"));
  nnc_tensor *f = nnc_from_data(NNC_F32, NNC_SHAPE(2, 2), (float[]){0.1f, 1e30f, -7, 1.0f / 3});
  CHECK(nnc_csv_write(tmp_path("f.csv"), f, NULL) == NNC_OK);
  CHECK(nnc_csv_read(tmp_path("f.csv"), NNC_F32, NNC_CSV_AUTO, &t) == NNC_OK && memcmp(nnc_data(t), nnc_data(f), 16) == 0);
  nnc_heap_free(t);
  /* CRLF, blank lines, spaces, explicit header that looks numeric */
  const char *ok = "1,2,3\r\n\r\n 4 , 5 ,6\r\n\n7,8,9e0\n";
  write_bytes(tmp_path("crlf.csv"), ok, strlen(ok));
  CHECK(nnc_csv_read(tmp_path("crlf.csv"), NNC_I64, NNC_CSV_AUTO, &t) == NNC_OK && t->shape[0] == 3 && nnc_i64(t)[4] == 5 &&
        nnc_i64(t)[8] == 9);
  nnc_heap_free(t);
  CHECK(nnc_csv_read(tmp_path("crlf.csv"), NNC_F32, NNC_CSV_HEADER, &t) == NNC_OK && t->shape[0] == 2 && nnc_f32(t)[0] == 4);
  nnc_heap_free(t);
  struct { const char *name, *text; nnc_dtype dt; const char *word; } bad[] = {
      {"ragged.csv", "x,y\n1,2\n3\n", NNC_F32, ":3: 1 fields, expected 2 (as on line 2)"},
      {"ragged2.csv", "1,2\n3,4,5\n", NNC_F32, ":2: 3 fields, expected 2"},
      {"word.csv", "1,2\n3,abc\n", NNC_F32, ":2: column 2: 'abc' is not a number"},
      {"empty_field.csv", "1,,2\n", NNC_F32, ":1: column 2: empty field"},
      {"trailing_comma.csv", "h\n1,2,\n", NNC_F32, ":2: column 3: empty field"},
      {"half_number.csv", "1,2x\n", NNC_F32, "'2x' is not a number"},
      {"not_int.csv", "1,2.5\n", NNC_I32, "not a i32 value"},
      {"not_u8.csv", "1,256\n", NNC_U8, "not a u8 value"},
      {"nothing.csv", "\n\n", NNC_F32, "no data rows"},
      {"header_only.csv", "a,b\n", NNC_F32, "no data rows"},
      {"nul.csv", "1,2\n3,\0\n", NNC_F32, "not a number"},
  };
  for (size_t c = 0; c < sizeof bad / sizeof bad[0]; c++) {
    size_t len = strcmp(bad[c].name, "nul.csv") == 0 ? 7 : strlen(bad[c].text);
    write_bytes(tmp_path(bad[c].name), bad[c].text, len);
    t = (nnc_tensor *)1;
    nnc_status st = nnc_csv_read(tmp_path(bad[c].name), bad[c].dt, NNC_CSV_AUTO, &t);
    CHECKF(st == NNC_ERR_FORMAT && t == NULL && msg_has(bad[c].word) && msg_has(bad[c].name), "%s", bad[c].name);
  }
  CHECK(nnc_csv_read(tmp_path("absent.csv"), NNC_F32, NNC_CSV_AUTO, &t) == NNC_ERR_IO);
}

/* ---- heap tensors, datasets, batcher ---- */
static void test_batcher(void) {
  nnc_tensor *h = nnc_heap_tensor(NNC_F32, NNC_SHAPE(3, 2));
  CHECK(h && nnc_is_contiguous(h) && nnc_f32(h)[5] == 0 && ((uintptr_t)nnc_data(h) % 64) == 0);
  nnc_heap_free(h);
  CHECK(nnc_heap_tensor(NNC_F32, NNC_SHAPE(-1)) == NULL && msg_has("negative"));
  CHECK(nnc_heap_tensor(NNC_F64, NNC_SHAPE((int64_t)1 << 40, (int64_t)1 << 30)) == NULL);

  const int64_t N = 103, B = 10;
  nnc_batcher a, b;
  CHECK(nnc_batcher_init(&a, N, B, 42, true, false) == NNC_OK);
  CHECK(nnc_batcher_init(&b, N, B, 42, true, false) == NNC_OK);
  CHECK(nnc_batcher_batches_per_epoch(&a) == 11);
  int64_t first_epoch[103], second_epoch[103];
  const int64_t *ia, *ib;
  int same = 1, batches = 0, sizes_ok = 1;
  int64_t m, got = 0;
  while ((m = nnc_batcher_next(&a, &ia)) > 0) {
    int64_t mb = nnc_batcher_next(&b, &ib);
    same &= mb == m && memcmp(ia, ib, (size_t)m * 8) == 0;
    sizes_ok &= m == (batches < 10 ? B : 3);
    memcpy(first_epoch + got, ia, (size_t)m * 8);
    got += m;
    batches++;
  }
  CHECK(nnc_batcher_next(&b, &ib) == 0 && ib == NULL);
  CHECK(same && batches == 11 && sizes_ok && got == N && a.st.epoch == 1 && a.st.pos == 0);
  int seen[103] = {0}, once = 1;
  for (int64_t i = 0; i < N; i++) seen[first_epoch[i]]++;
  for (int64_t i = 0; i < N; i++) once &= seen[i] == 1;
  CHECK(once);
  int64_t identity = 0;
  for (int64_t i = 0; i < N; i++) identity += first_epoch[i] == i;
  CHECK(identity < N / 4); /* shuffled */
  /* the second epoch: another permutation, still every index once */
  got = 0;
  while ((m = nnc_batcher_next(&a, &ia)) > 0) { memcpy(second_epoch + got, ia, (size_t)m * 8); got += m; }
  memset(seen, 0, sizeof seen);
  for (int64_t i = 0; i < N; i++) seen[second_epoch[i]]++;
  once = 1;
  for (int64_t i = 0; i < N; i++) once &= seen[i] == 1;
  CHECK(got == N && once && memcmp(first_epoch, second_epoch, sizeof first_epoch) != 0);
  /* another seed: another order */
  nnc_batcher c;
  CHECK(nnc_batcher_init(&c, N, B, 43, true, false) == NNC_OK);
  CHECK(nnc_batcher_next(&c, &ia) == B && memcmp(ia, first_epoch, B * 8) != 0);
  /* save in the middle of epoch 2, take 3 batches, restore, the same 3 batches follow */
  nnc_batcher_next(&a, &ia); /* epoch 2, batch 0 */
  nnc_batcher_state saved = nnc_batcher_save(&a);
  CHECK(saved.seed == 42 && saved.epoch == 2 && saved.pos == B);
  int64_t follow[30];
  for (int k = 0; k < 3; k++) { nnc_batcher_next(&a, &ia); memcpy(follow + k * B, ia, B * 8); }
  CHECK(nnc_batcher_restore(&c, saved) == NNC_OK); /* into another batcher (other seed) */
  int again = 1;
  for (int k = 0; k < 3; k++) { CHECK(nnc_batcher_next(&c, &ia) == B); again &= memcmp(follow + k * B, ia, B * 8) == 0; }
  CHECK(again);
  saved.pos = N + 1;
  CHECK(nnc_batcher_restore(&c, saved) == NNC_ERR_FORMAT);
  nnc_batcher_free(&a);
  nnc_batcher_free(&b);
  nnc_batcher_free(&c);
  /* drop_last, no shuffle */
  CHECK(nnc_batcher_init(&a, 10, 4, 1, false, true) == NNC_OK);
  CHECK(nnc_batcher_batches_per_epoch(&a) == 2);
  CHECK(nnc_batcher_next(&a, &ia) == 4 && ia[0] == 0 && ia[3] == 3);
  CHECK(nnc_batcher_next(&a, &ia) == 4 && ia[0] == 4);
  CHECK(nnc_batcher_next(&a, &ia) == 0);
  CHECK(nnc_batcher_next(&a, &ia) == 4 && ia[0] == 0 && a.st.epoch == 1);
  nnc_batcher_free(&a);
  CHECK(nnc_batcher_init(&a, 10, 0, 1, true, false) == NNC_ERR_ARG);
  CHECK(nnc_batcher_init(&a, 0, 4, 1, true, false) == NNC_OK && nnc_batcher_next(&a, &ia) == 0);
  nnc_batcher_free(&a);

  /* gather */
  nnc_dataset ds = {0};
  ds.n = 5;
  ds.x = nnc_heap_tensor(NNC_F32, NNC_SHAPE(5, 3));
  ds.y = nnc_heap_tensor(NNC_I64, NNC_SHAPE(5));
  for (int i = 0; i < 15; i++) nnc_f32(ds.x)[i] = (float)i;
  for (int i = 0; i < 5; i++) nnc_i64(ds.y)[i] = 10 * i;
  nnc_tensor *xb = nnc_empty(NNC_F32, NNC_SHAPE(2, 3)), *yb = nnc_empty(NNC_I64, NNC_SHAPE(2));
  uint64_t v0 = xb->storage->version;
  nnc_dataset_gather(&ds, (const int64_t[]){4, 1}, 2, xb, yb);
  CHECK(nnc_f32(xb)[0] == 12 && nnc_f32(xb)[2] == 14 && nnc_f32(xb)[3] == 3 && nnc_i64(yb)[0] == 40 && nnc_i64(yb)[1] == 10);
  CHECK(xb->storage->version > v0);
  EXPECT_ABORT(nnc_dataset_gather(&ds, (const int64_t[]){5}, 1, nnc_empty(NNC_F32, NNC_SHAPE(1, 3)), NULL), "outside");
  EXPECT_ABORT(nnc_dataset_gather(&ds, (const int64_t[]){0}, 1, nnc_empty(NNC_F32, NNC_SHAPE(1, 4)), NULL), "xb");
  nnc_dataset_free(&ds);
  CHECK(ds.x == NULL);
  nnc_dataset_free(&ds);
}

int main(void) {
  nnc_init();
  snprintf(tmpdir, sizeof tmpdir, "%s/nnc_test_data.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
  if (!mkdtemp(tmpdir)) { perror("mkdtemp"); return 1; }
  test_idx();
  test_fashion_real();
  test_fashion_fake();
  test_npy();
  test_csv();
  test_batcher();
  nnc_arena_reset(nnc_arena_current());
  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
  return test_summary();
}
