/* tests/test_io.c: safetensors read/write round trips, half-precision conversions, a PyTorch
 * fixture (tools/make_io_fixture.py), hostile files written into a temp dir, and parameter
 * blocks saved and loaded by name. */
#include <stdlib.h>
#include <unistd.h>
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

/* writes 8-byte length (hlen, which may lie) + header text + n data bytes */
static void write_st(const char *path, uint64_t hlen, const char *header, const void *data, size_t n) {
  size_t h = strlen(header);
  unsigned char *buf = calloc(1, 8 + h + n + 1);
  for (int k = 0; k < 8; k++) buf[k] = (unsigned char)(hlen >> (8 * k));
  memcpy(buf + 8, header, h);
  if (n) memcpy(buf + 8 + h, data, n);
  write_bytes(path, buf, 8 + h + n);
  free(buf);
}

/* ---- conversions ---- */
static void test_half_conversions(void) {
  /* every f16 / bf16 pattern converts to f32 and back to itself (NaNs stay NaN) */
  int bad16 = 0, badbf = 0;
  for (uint32_t h = 0; h < 65536; h++) {
    float f = nnc_f16_to_f32((uint16_t)h);
    uint16_t back = nnc_f32_to_f16(f);
    if (isnan(f) ? !isnan(nnc_f16_to_f32(back)) : back != h) bad16++;
    float g = nnc_bf16_to_f32((uint16_t)h);
    uint16_t backg = nnc_f32_to_bf16(g);
    if (isnan(g) ? !isnan(nnc_bf16_to_f32(backg)) : backg != h) badbf++;
  }
  CHECKF(bad16 == 0, "%d f16 patterns did not round-trip", bad16);
  CHECKF(badbf == 0, "%d bf16 patterns did not round-trip", badbf);
  CHECK(nnc_f32_to_f16(1.0f) == 0x3c00);
  CHECK(nnc_f32_to_f16(65504.0f) == 0x7bff);
  CHECK(nnc_f32_to_f16(65520.0f) == 0x7c00);          /* tie above the largest half: infinity */
  CHECK(nnc_f32_to_f16(1.0f + 0x1p-11f) == 0x3c00);   /* tie: to even */
  CHECK(nnc_f32_to_f16(1.0f + 3 * 0x1p-11f) == 0x3c02);
  CHECK(nnc_f32_to_f16(0x1p-24f) == 0x0001);          /* smallest subnormal */
  CHECK(nnc_f32_to_f16(0x1p-25f) == 0x0000);          /* tie with zero: to even */
  CHECK(nnc_f32_to_f16(-0.0f) == 0x8000);
  CHECK(nnc_f32_to_bf16(1.0f + 0x1p-8f) == 0x3f80);
  CHECK(nnc_f32_to_bf16(1.0f + 3 * 0x1p-8f) == 0x3f82);
  CHECK(nnc_f16_to_f32(0x3555) == 0x1.554p-2f);
}

/* ---- round trip ---- */
static void test_round_trip(void) {
  nnc_rng r;
  nnc_rng_seed(&r, 7, 1);
  nnc_tensor *a = nnc_randn(NNC_F32, NNC_SHAPE(2, 3), &r);
  nnc_tensor *b = nnc_randn(NNC_F64, NNC_SHAPE(4), &r);
  nnc_tensor *ci = nnc_from_data(NNC_I32, NNC_SHAPE(3), (int32_t[]){-5, 0, 2147483647});
  nnc_tensor *cl = nnc_from_data(NNC_I64, NNC_SHAPE(2, 2), (int64_t[]){-1, (int64_t)1 << 50, 3, 100});
  nnc_tensor *cu = nnc_from_data(NNC_U8, NNC_SHAPE(3), (uint8_t[]){0, 1, 255});
  nnc_tensor *s0 = nnc_scalar(NNC_F32, 2.25);
  nnc_tensor *e0 = nnc_empty(NNC_F32, NNC_SHAPE(0, 5));
  nnc_tensor *small = nnc_from_data(NNC_I64, NNC_SHAPE(4), (int64_t[]){-128, 0, 1, 127});
  nnc_tensor *flags = nnc_from_data(NNC_U8, NNC_SHAPE(3), (uint8_t[]){1, 0, 1});
  /* a transposed (non-contiguous) view of a */
  nnc_tensor *at = nnc_view_raw(a);
  at->shape[0] = 3; at->shape[1] = 2; at->stride[0] = 1; at->stride[1] = 3;
  const int16_t raw16[3] = {-7, 300, 12};

  nnc_st_writer *w = nnc_st_writer_new();
  CHECK(nnc_st_writer_add(w, "a", a, NNC_ST_F32) == NNC_OK);
  CHECK(nnc_st_writer_add(w, "b", b, NNC_ST_F64) == NNC_OK);
  CHECK(nnc_st_writer_add(w, "ci", ci, NNC_ST_I32) == NNC_OK);
  CHECK(nnc_st_writer_add(w, "cl", cl, NNC_ST_I64) == NNC_OK);
  CHECK(nnc_st_writer_add(w, "cu", cu, NNC_ST_U8) == NNC_OK);
  CHECK(nnc_st_writer_add(w, "a_f16", a, NNC_ST_F16) == NNC_OK);
  CHECK(nnc_st_writer_add(w, "a_bf16", a, NNC_ST_BF16) == NNC_OK);
  CHECK(nnc_st_writer_add(w, "a_as_f64", a, NNC_ST_F64) == NNC_OK);
  CHECK(nnc_st_writer_add(w, "b_as_f32", b, NNC_ST_F32) == NNC_OK);
  CHECK(nnc_st_writer_add(w, "small_i8", small, NNC_ST_I8) == NNC_OK);
  CHECK(nnc_st_writer_add(w, "small_i16", small, NNC_ST_I16) == NNC_OK);
  CHECK(nnc_st_writer_add(w, "flags", flags, NNC_ST_BOOL) == NNC_OK);
  CHECK(nnc_st_writer_add(w, "scalar", s0, NNC_ST_F32) == NNC_OK);
  CHECK(nnc_st_writer_add(w, "empty", e0, NNC_ST_F32) == NNC_OK);
  CHECK(nnc_st_writer_add(w, "at", at, NNC_ST_F32) == NNC_OK);
  CHECK(nnc_st_writer_add_raw(w, "raw16", NNC_ST_I16, NNC_SHAPE(3), raw16) == NNC_OK);
  CHECK(nnc_st_writer_add(w, "weird \"name\"\\\n é", s0, NNC_ST_F64) == NNC_OK);
  CHECK(nnc_st_writer_meta(w, "format", "pt") == NNC_OK);
  CHECK(nnc_st_writer_meta(w, "note", "quote \" backslash \\ newline \n unicode \xc3\xa9") == NNC_OK);
  /* writer refusals */
  CHECK(nnc_st_writer_add(w, "a", a, NNC_ST_F32) == NNC_ERR_ARG && strstr(nnc_last_error(), "duplicate"));
  CHECK(nnc_st_writer_add(w, "__metadata__", a, NNC_ST_F32) == NNC_ERR_ARG && strstr(nnc_last_error(), "reserved"));
  CHECK(nnc_st_writer_add(w, "x", a, NNC_ST_I32) == NNC_ERR_ARG && strstr(nnc_last_error(), "cannot be stored"));
  CHECK(nnc_st_writer_add(w, "bad\xff", a, NNC_ST_F32) == NNC_ERR_ARG && strstr(nnc_last_error(), "UTF-8"));
  CHECK(nnc_st_writer_meta(w, "format", "again") == NNC_ERR_ARG && strstr(nnc_last_error(), "duplicate"));
  const char *path = tmp_path("round.safetensors");
  CHECKF(nnc_st_writer_write(w, path) == NNC_OK, "%s", nnc_last_error());
  nnc_st_writer_free(w);

  /* the file layout: header a multiple of 8, tensors in the order added */
  uint8_t *bytes = NULL;
  size_t nbytes = 0;
  CHECK(nnc_read_file(path, &bytes, &nbytes) == NNC_OK);
  uint64_t hlen = 0;
  for (int k = 7; k >= 0; k--) hlen = (hlen << 8) | bytes[k];
  CHECK(hlen % 8 == 0 && bytes[8] == '{');
  CHECK(strncmp((char *)bytes + 8, "{\"__metadata__\":{\"format\":\"pt\"", 30) == 0);
  free(bytes);

  nnc_st_file *f = NULL;
  CHECKF(nnc_st_read(path, &f) == NNC_OK, "%s", nnc_last_error());
  if (!f) return;
  CHECK(nnc_st_count(f) == 17);
  CHECK(strcmp(nnc_st_entry_at(f, 0)->name, "a") == 0 && nnc_st_entry_at(f, 0)->begin == 0);
  CHECK(strcmp(nnc_st_entry_at(f, 16)->name, "weird \"name\"\\\n é") == 0);
  CHECK(nnc_st_entry_at(f, 17) == NULL && nnc_st_find(f, "nope") == NULL);
  CHECK(strcmp(nnc_st_metadata(f, "format"), "pt") == 0);
  CHECK(strcmp(nnc_st_metadata(f, "note"), "quote \" backslash \\ newline \n unicode \xc3\xa9") == 0);
  CHECK(nnc_st_metadata(f, "missing") == NULL && nnc_st_metadata_count(f) == 2);
  const char *k0, *v0;
  nnc_st_metadata_at(f, 1, &k0, &v0);
  CHECK(strcmp(k0, "note") == 0);

  nnc_tensor *t;
  const nnc_st_entry *e = nnc_st_find(f, "a");
  CHECK(e && e->dtype == NNC_ST_F32 && e->ndim == 2 && e->shape[0] == 2 && e->shape[1] == 3 && e->nbytes == 24);
  CHECK(nnc_st_load(e, NNC_F32, &t) == NNC_OK && memcmp(nnc_data(t), nnc_data(a), 24) == 0);
  CHECK(nnc_st_load(nnc_st_find(f, "b"), NNC_F64, &t) == NNC_OK && memcmp(nnc_data(t), nnc_data(b), 32) == 0);
  CHECK(nnc_st_load(nnc_st_find(f, "ci"), NNC_I32, &t) == NNC_OK && memcmp(nnc_data(t), nnc_data(ci), 12) == 0);
  CHECK(nnc_st_load(nnc_st_find(f, "cl"), NNC_I64, &t) == NNC_OK && memcmp(nnc_data(t), nnc_data(cl), 32) == 0);
  CHECK(nnc_st_load(nnc_st_find(f, "cu"), NNC_U8, &t) == NNC_OK && memcmp(nnc_data(t), nnc_data(cu), 3) == 0);
  int ok16 = 1, okbf = 1, ok64 = 1, okt = 1;
  nnc_tensor *h16, *hbf, *h64, *tt;
  CHECK(nnc_st_load(nnc_st_find(f, "a_f16"), NNC_F32, &h16) == NNC_OK);
  CHECK(nnc_st_load(nnc_st_find(f, "a_bf16"), NNC_F32, &hbf) == NNC_OK);
  CHECK(nnc_st_load(nnc_st_find(f, "a_as_f64"), NNC_F64, &h64) == NNC_OK);
  CHECK(nnc_st_load(nnc_st_find(f, "at"), NNC_F32, &tt) == NNC_OK);
  for (int i = 0; i < 6; i++) {
    float x = nnc_f32(a)[i];
    ok16 &= nnc_f32(h16)[i] == nnc_f16_to_f32(nnc_f32_to_f16(x));
    okbf &= nnc_f32(hbf)[i] == nnc_bf16_to_f32(nnc_f32_to_bf16(x));
    ok64 &= nnc_f64(h64)[i] == (double)x;
    okt &= nnc_f32(tt)[i] == nnc_f32(a)[(i % 2) * 3 + i / 2];
  }
  CHECK(ok16 && okbf && ok64 && okt);
  CHECK(nnc_st_find(f, "a_f16")->dtype == NNC_ST_F16 && nnc_st_find(f, "a_f16")->nbytes == 12);
  CHECK(nnc_st_load(nnc_st_find(f, "b_as_f32"), NNC_F64, &t) == NNC_OK && nnc_f64(t)[3] == (double)(float)nnc_f64(b)[3]);
  CHECK(nnc_st_load(nnc_st_find(f, "small_i8"), NNC_I64, &t) == NNC_OK && nnc_i64(t)[0] == -128 && nnc_i64(t)[3] == 127);
  CHECK(nnc_st_find(f, "small_i8")->nbytes == 4 && nnc_st_find(f, "small_i16")->nbytes == 8);
  CHECK(nnc_st_load(nnc_st_find(f, "small_i16"), NNC_F32, &t) == NNC_OK && nnc_f32(t)[0] == -128.0f);
  CHECK(nnc_st_load(nnc_st_find(f, "flags"), NNC_U8, &t) == NNC_OK && nnc_u8(t)[0] == 1 && nnc_u8(t)[1] == 0);
  CHECK(nnc_st_load(nnc_st_find(f, "raw16"), NNC_I32, &t) == NNC_OK && nnc_i32(t)[0] == -7 && nnc_i32(t)[1] == 300);
  e = nnc_st_find(f, "scalar");
  CHECK(e && e->ndim == 0 && e->numel == 1 && nnc_st_load(e, NNC_F64, &t) == NNC_OK && t->ndim == 0 && nnc_item(t) == 2.25);
  e = nnc_st_find(f, "empty");
  CHECK(e && e->ndim == 2 && e->shape[0] == 0 && e->shape[1] == 5 && e->nbytes == 0 && nnc_st_load(e, NNC_F32, &t) == NNC_OK);
  CHECK(nnc_st_find(f, "weird \"name\"\\\n é") != NULL);

  /* conversion refusals */
  nnc_tensor *wrong = nnc_empty(NNC_F32, NNC_SHAPE(3, 2));
  CHECK(nnc_st_to_tensor(nnc_st_find(f, "a"), wrong) == NNC_ERR_FORMAT);
  CHECKF(strstr(nnc_last_error(), "[2, 3]") && strstr(nnc_last_error(), "[3, 2]") && strstr(nnc_last_error(), "'a'"),
         "%s", nnc_last_error());
  CHECK(nnc_st_load(nnc_st_find(f, "a"), NNC_I64, &t) == NNC_ERR_FORMAT && strstr(nnc_last_error(), "cannot convert"));
  CHECK(nnc_st_load(nnc_st_find(f, "cl"), NNC_U8, &t) == NNC_ERR_FORMAT && strstr(nnc_last_error(), "does not fit"));
  /* into a strided destination */
  nnc_tensor *dstt = nnc_zeros(NNC_F64, NNC_SHAPE(2, 3)), *dv = nnc_view_raw(dstt);
  dv->shape[0] = 3; dv->shape[1] = 2; dv->stride[0] = 1; dv->stride[1] = 3;
  CHECK(nnc_st_to_tensor(nnc_st_find(f, "at"), dv) == NNC_OK);
  CHECK(nnc_f64(dstt)[4] == (double)nnc_f32(a)[4]);
  nnc_st_free(f);

  /* a value that does not fit its file dtype: error, nothing written */
  w = nnc_st_writer_new();
  nnc_tensor *big = nnc_from_data(NNC_I64, NNC_SHAPE(2), (int64_t[]){1, 300});
  CHECK(nnc_st_writer_add(w, "big", big, NNC_ST_U8) == NNC_OK);
  CHECK(nnc_st_writer_write(w, tmp_path("nofit.safetensors")) == NNC_ERR_ARG && strstr(nnc_last_error(), "does not fit"));
  CHECK(access(tmp_path("nofit.safetensors"), F_OK) != 0);
  CHECK(nnc_st_writer_write(w, "/nonexistent-dir/x.safetensors") != NNC_OK);
  nnc_st_writer_free(w);

  /* a file with no tensors and no metadata */
  w = nnc_st_writer_new();
  CHECK(nnc_st_writer_write(w, tmp_path("none.safetensors")) == NNC_OK);
  nnc_st_writer_free(w);
  CHECK(nnc_st_read(tmp_path("none.safetensors"), &f) == NNC_OK && nnc_st_count(f) == 0);
  nnc_st_free(f);

  /* nnc_st_save convenience */
  const char *names[2] = {"p", "q"};
  const nnc_tensor *ts[2] = {a, cl};
  CHECK(nnc_st_save(tmp_path("save.safetensors"), 2, names, ts, (const char *[]){"k", "v", NULL}) == NNC_OK);
  CHECK(nnc_st_read(tmp_path("save.safetensors"), &f) == NNC_OK && nnc_st_count(f) == 2 &&
        nnc_st_find(f, "q")->dtype == NNC_ST_I64 && strcmp(nnc_st_metadata(f, "k"), "v") == 0);
  nnc_st_free(f);
}

/* ---- the PyTorch fixture ---- */
static void test_torch_fixture(void) {
  nnc_st_file *f = NULL;
  const char *path = "tests/fixtures/io_torch.safetensors";
  CHECKF(nnc_st_read(path, &f) == NNC_OK, "%s", nnc_last_error());
  if (!f) return;
  CHECK(strcmp(nnc_st_metadata(f, "format"), "pt") == 0);
  CHECK(strcmp(nnc_st_metadata(f, "source"), "tools/make_io_fixture.py") == 0);
  const nnc_st_entry *src = nnc_st_find(f, "src"), *s16 = nnc_st_find(f, "src_f16"), *sbf = nnc_st_find(f, "src_bf16");
  const nnc_st_entry *b16 = nnc_st_find(f, "src_f16_f32"), *bbf = nnc_st_find(f, "src_bf16_f32");
  CHECK(src && s16 && sbf && b16 && bbf && s16->dtype == NNC_ST_F16 && sbf->dtype == NNC_ST_BF16 &&
        src->numel == s16->numel && b16->numel == src->numel);
  if (src && s16 && sbf && b16 && bbf) {
    int bad_to16 = 0, bad_tobf = 0, bad_from16 = 0, bad_frombf = 0;
    for (int64_t i = 0; i < src->numel; i++) {
      float x, y16, ybf;
      uint16_t h, b;
      memcpy(&x, (const char *)src->data + 4 * i, 4);
      memcpy(&h, (const char *)s16->data + 2 * i, 2);
      memcpy(&b, (const char *)sbf->data + 2 * i, 2);
      memcpy(&y16, (const char *)b16->data + 4 * i, 4);
      memcpy(&ybf, (const char *)bbf->data + 4 * i, 4);
      float fh = nnc_f16_to_f32(h), fb = nnc_bf16_to_f32(b);
      if (isnan(x)) {
        bad_to16 += !isnan(nnc_f16_to_f32(nnc_f32_to_f16(x)));
        bad_tobf += !isnan(nnc_bf16_to_f32(nnc_f32_to_bf16(x)));
        bad_from16 += !isnan(fh) || !isnan(y16);
        bad_frombf += !isnan(fb) || !isnan(ybf);
        continue;
      }
      if (nnc_f32_to_f16(x) != h) { bad_to16++; fprintf(stderr, "f16(%.9g): nnc %04x torch %04x\n", x, nnc_f32_to_f16(x), h); }
      if (nnc_f32_to_bf16(x) != b) { bad_tobf++; fprintf(stderr, "bf16(%.9g): nnc %04x torch %04x\n", x, nnc_f32_to_bf16(x), b); }
      bad_from16 += memcmp(&fh, &y16, 4) != 0;
      bad_frombf += memcmp(&fb, &ybf, 4) != 0;
    }
    CHECKF(bad_to16 == 0 && bad_tobf == 0 && bad_from16 == 0 && bad_frombf == 0, "%d %d %d %d", bad_to16, bad_tobf,
           bad_from16, bad_frombf);
    /* loading F16/BF16 as f32 gives the same numbers */
    nnc_tensor *t16, *tbf;
    CHECK(nnc_st_load(s16, NNC_F32, &t16) == NNC_OK && nnc_st_load(sbf, NNC_F64, &tbf) == NNC_OK);
    CHECK(nnc_f32(t16)[2] == 1.0f && nnc_f32(t16)[5] == 65504.0f && isinf(nnc_f32(t16)[7]));
    CHECK(nnc_f64(tbf)[3] == -2.5);
  }
  nnc_tensor *t;
  CHECK(nnc_st_load(nnc_st_find(f, "f64"), NNC_F64, &t) == NNC_OK && nnc_f64(t)[0] == -1.0 && nnc_f64(t)[2] == 0.0 &&
        nnc_f64(t)[3] == 0.5);
  CHECK(nnc_st_load(nnc_st_find(f, "i64"), NNC_I64, &t) == NNC_OK && nnc_i64(t)[0] == -3 && nnc_i64(t)[2] == (int64_t)1 << 40);
  CHECK(nnc_st_load(nnc_st_find(f, "i32"), NNC_I64, &t) == NNC_OK && nnc_i64(t)[0] == INT32_MIN && nnc_i64(t)[2] == INT32_MAX &&
        t->ndim == 2);
  CHECK(nnc_st_load(nnc_st_find(f, "i16"), NNC_I32, &t) == NNC_OK && nnc_i32(t)[0] == -32768 && nnc_i32(t)[2] == 32767);
  CHECK(nnc_st_load(nnc_st_find(f, "i8"), NNC_F64, &t) == NNC_OK && nnc_f64(t)[0] == -128 && nnc_f64(t)[2] == 127);
  CHECK(nnc_st_load(nnc_st_find(f, "u8"), NNC_U8, &t) == NNC_OK && nnc_u8(t)[1] == 255 && nnc_u8(t)[2] == 7);
  CHECK(nnc_st_load(nnc_st_find(f, "bool"), NNC_U8, &t) == NNC_OK && nnc_u8(t)[0] == 1 && nnc_u8(t)[1] == 0);
  CHECK(nnc_st_find(f, "bool")->dtype == NNC_ST_BOOL);
  CHECK(nnc_st_load(nnc_st_find(f, "scalar"), NNC_F32, &t) == NNC_OK && t->ndim == 0 && nnc_item(t) == 3.5);
  CHECK(nnc_st_find(f, "empty")->numel == 0 && nnc_st_find(f, "empty")->shape[1] == 3);

  /* a torch.nn.Linear state_dict loads into a parameter block by name and computes torch's y */
  nnc_params p;
  nnc_params_init(&p, NNC_F32);
  nnc_tensor *W = nnc_params_add(&p, "fc.weight", NNC_SHAPE(3, 4));
  nnc_tensor *B = nnc_params_add(&p, "fc.bias", NNC_SHAPE(3));
  CHECK(nnc_params_load_from(&p, f, NULL, true) == NNC_ERR_FORMAT && strstr(nnc_last_error(), "unexpected tensor"));
  CHECK(nnc_f32(W)[0] == 0.0f); /* all-or-nothing: nothing written */
  CHECKF(nnc_params_load(&p, path, false) == NNC_OK, "%s", nnc_last_error());
  nnc_tensor *x, *y;
  CHECK(nnc_st_load(nnc_st_find(f, "x"), NNC_F32, &x) == NNC_OK && nnc_st_load(nnc_st_find(f, "y"), NNC_F32, &y) == NNC_OK);
  double maxerr = 0;
  for (int i = 0; i < 2; i++)
    for (int o = 0; o < 3; o++) {
      double s = nnc_f32(B)[o];
      for (int k = 0; k < 4; k++) s += (double)nnc_f32(x)[i * 4 + k] * nnc_f32(W)[o * 4 + k];
      double d = fabs(s - nnc_f32(y)[i * 3 + o]);
      if (d > maxerr) maxerr = d;
    }
  CHECKF(maxerr < 1e-5, "max |x W^T + b - y| = %g", maxerr);
  nnc_params_free(&p);
  nnc_st_free(f);
}

/* ---- parameter blocks ---- */
static void test_params_io(void) {
  nnc_params p, q, bad;
  nnc_params_init(&p, NNC_F32);
  nnc_rng r;
  nnc_rng_seed(&r, 3, 0);
  nnc_fill_normal(nnc_params_add(&p, "layer.0.weight", NNC_SHAPE(5, 4)), 0, 1, &r);
  nnc_fill_normal(nnc_params_add(&p, "layer.0.bias", NNC_SHAPE(5)), 0, 1, &r);
  nnc_fill_normal(nnc_params_add(&p, "scale", 0, NULL), 0, 1, &r);
  const char *path = tmp_path("params.safetensors");
  CHECKF(nnc_params_save(&p, path, (const char *[]){"epoch", "3", "model", "mlp", NULL}) == NNC_OK, "%s", nnc_last_error());
  nnc_params_init(&q, NNC_F32);
  nnc_params_add(&q, "scale", 0, NULL);
  nnc_params_add(&q, "layer.0.bias", NNC_SHAPE(5));
  nnc_params_add(&q, "layer.0.weight", NNC_SHAPE(5, 4));
  CHECKF(nnc_params_load(&q, path, true) == NNC_OK, "%s", nnc_last_error());
  CHECK(memcmp(nnc_data(nnc_params_find(&q, "layer.0.weight")), nnc_data(nnc_params_find(&p, "layer.0.weight")), 80) == 0);
  CHECK(nnc_item(nnc_params_find(&q, "scale")) == nnc_item(nnc_params_find(&p, "scale")));
  nnc_st_file *f;
  CHECK(nnc_st_read(path, &f) == NNC_OK && strcmp(nnc_st_metadata(f, "epoch"), "3") == 0 &&
        strcmp(nnc_st_entry_at(f, 0)->name, "layer.0.weight") == 0);
  nnc_st_free(f);

  /* missing tensor, wrong shape: errors naming them, block untouched */
  nnc_params_init(&bad, NNC_F32);
  nnc_tensor *bw = nnc_params_add(&bad, "layer.0.weight", NNC_SHAPE(5, 4));
  nnc_params_add(&bad, "layer.1.weight", NNC_SHAPE(2));
  CHECK(nnc_params_load(&bad, path, false) == NNC_ERR_FORMAT && strstr(nnc_last_error(), "missing tensor 'layer.1.weight'"));
  CHECK(nnc_f32(bw)[0] == 0.0f);
  nnc_params_free(&bad);
  nnc_params_init(&bad, NNC_F32);
  nnc_params_add(&bad, "layer.0.weight", NNC_SHAPE(4, 5));
  CHECK(nnc_params_load(&bad, path, false) == NNC_ERR_FORMAT && strstr(nnc_last_error(), "[5, 4]") &&
        strstr(nnc_last_error(), "[4, 5]"));
  CHECK(nnc_params_load(&bad, tmp_path("absent.safetensors"), false) == NNC_ERR_IO);
  nnc_params_free(&bad);

  /* an f64 block converts from the F32 file, and saved as F64 round-trips exactly */
  nnc_params d;
  nnc_params_init(&d, NNC_F64);
  nnc_params_add(&d, "layer.0.weight", NNC_SHAPE(5, 4));
  nnc_params_add(&d, "layer.0.bias", NNC_SHAPE(5));
  nnc_params_add(&d, "scale", 0, NULL);
  CHECK(nnc_params_load(&d, path, true) == NNC_OK);
  CHECK(nnc_f64(nnc_params_find(&d, "layer.0.bias"))[2] == (double)nnc_f32(nnc_params_find(&p, "layer.0.bias"))[2]);
  nnc_f64(nnc_params_find(&d, "scale"))[0] = 1.0 / 3.0;
  CHECK(nnc_params_save_as(&d, tmp_path("p64.safetensors"), NULL, NNC_ST_F64) == NNC_OK);
  nnc_f64(nnc_params_find(&d, "scale"))[0] = 0;
  CHECK(nnc_params_load(&d, tmp_path("p64.safetensors"), true) == NNC_OK && nnc_item(nnc_params_find(&d, "scale")) == 1.0 / 3.0);
  /* with a prefix, next to other tensors (a checkpoint's layout) */
  nnc_st_writer *w = nnc_st_writer_new();
  CHECK(nnc_params_add_to_writer(&p, w, "model.", NNC_ST_F32) == NNC_OK);
  nnc_tensor *step = nnc_scalar(NNC_I64, 42);
  CHECK(nnc_st_writer_add(w, "optim.step", step, NNC_ST_I64) == NNC_OK);
  CHECK(nnc_st_writer_write(w, tmp_path("ckpt.safetensors")) == NNC_OK);
  nnc_st_writer_free(w);
  CHECK(nnc_st_read(tmp_path("ckpt.safetensors"), &f) == NNC_OK);
  CHECKF(nnc_params_load_from(&q, f, "model.", true) == NNC_OK, "%s", nnc_last_error());
  nnc_st_free(f);
  nnc_params_free(&d);
  nnc_params_free(&p);
  nnc_params_free(&q);
}

/* ---- hostile files ---- */
typedef struct {
  const char *name;
  uint64_t hlen;      /* 0: the header's own length */
  int hlen_given;     /* use hlen as is (it lies) */
  const char *header;
  size_t ndata;
  const char *word;   /* a distinctive word of the expected message */
} hostile_case;

static void test_hostile(void) {
  static const unsigned char zeros[64];
  const hostile_case cases[] = {
      {"header_too_long", 1000, 1, "{}", 0, "larger than the file"},
      {"header_over_limit", 200000000ULL, 1, "{}", 0, "limit"},
      {"header_length_huge", 0xffffffffffffffffULL, 1, "{}", 0, "limit"},
      {"header_len0", 0, 1, "", 8, "length is 0"},
      {"not_json", 0, 0, "{\"a\": {\"dtype\": \"F32\", ", 0, "not valid JSON"},
      {"garbage", 0, 0, "hello world", 0, "not valid JSON"},
      {"json_array", 0, 0, "[1, 2, 3]", 0, "not a JSON object"},
      {"json_string", 0, 0, "\"x\"", 0, "not a JSON object"},
      {"text_after", 0, 0, "{} {}", 0, "after the JSON"},
      {"bad_utf8", 0, 0, "{\"\xc3\x28\":{}}", 0, "UTF-8"},
      {"nul_in_header", 0, 1, "{}", 0, "after the JSON"}, /* patched below: hlen 3 takes a NUL */
      {"entry_not_object", 0, 0, "{\"a\": 5}", 0, "not a JSON object"},
      {"unknown_dtype", 0, 0, "{\"a\":{\"dtype\":\"F8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1, "unknown dtype"},
      {"missing_dtype", 0, 0, "{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "dtype"},
      {"negative_shape", 0, 0, "{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4, "negative"},
      {"fraction_shape", 0, 0, "{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", 4, "non-negative integer"},
      {"string_shape", 0, 0, "{\"a\":{\"dtype\":\"F32\",\"shape\":[\"1\"],\"data_offsets\":[0,4]}}", 4, "non-negative integer"},
      {"no_shape", 0, 0, "{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4, "shape"},
      {"overflow_shape", 0, 0,
       "{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],\"data_offsets\":[0,4]}}", 4, "overflows"},
      {"overflow_bytes", 0, 0,
       "{\"a\":{\"dtype\":\"F64\",\"shape\":[4611686018427387904],\"data_offsets\":[0,8]}}", 8, "non-negative integer"},
      {"overflow_bytes2", 0, 0,
       "{\"a\":{\"dtype\":\"F64\",\"shape\":[2147483648,2147483648],\"data_offsets\":[0,8]}}", 8, "overflows"},
      {"too_many_dims", 0, 0, "{\"a\":{\"dtype\":\"U8\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,1]}}", 1, "dimensions"},
      {"offsets_past_end", 0, 0, "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 8, "past the end"},
      {"offsets_begin_after_end", 0, 0, "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,4]}}", 8, "begin after end"},
      {"offsets_one", 0, 0, "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4]}}", 4, "data_offsets"},
      {"offsets_negative", 0, 0, "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}", 4, "data_offsets"},
      {"wrong_byte_count", 0, 0, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4, "span"},
      {"overlap", 0, 0,
       "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
       12, "overlap"},
      {"same_place", 0, 0,
       "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
       8, "overlap"},
      {"hole", 0, 0,
       "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}",
       12, "hole"},
      {"hole_at_end", 0, 0, "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 12, "hole"},
      {"data_without_tensors", 0, 0, "{}", 4, "hole"},
      {"duplicate_key", 0, 0,
       "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
       8, "duplicate"},
      {"metadata_non_string", 0, 0, "{\"__metadata__\":{\"epoch\":3}}", 0, "not a string"},
      {"metadata_not_object", 0, 0, "{\"__metadata__\":[\"a\"]}", 0, "__metadata__ is not"},
      {"metadata_twice", 0, 0, "{\"__metadata__\":{},\"__metadata__\":{}}", 0, "duplicate"},
      {"metadata_dup_key", 0, 0, "{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}", 0, "duplicate"},
      {"deep_nesting", 0, 0, NULL, 0, "JSON"},
  };
  char deep[4096];
  int nd = 0;
  for (int i = 0; i < 1500; i++) deep[nd++] = '[';
  deep[nd] = 0;
  int ncases = (int)(sizeof cases / sizeof cases[0]);
  for (int c = 0; c < ncases; c++) {
    const hostile_case *hc = &cases[c];
    const char *path = tmp_path(hc->name);
    const char *header = hc->header ? hc->header : deep;
    if (strcmp(hc->name, "nul_in_header") == 0) {
      unsigned char b[8 + 3] = {3, 0, 0, 0, 0, 0, 0, 0, '{', '}', 0};
      write_bytes(path, b, sizeof b);
    } else {
      write_st(path, hc->hlen_given ? hc->hlen : strlen(header), header, zeros, hc->ndata);
    }
    nnc_st_file *f = (nnc_st_file *)1;
    nnc_status st = nnc_st_read(path, &f);
    CHECKF(st == NNC_ERR_FORMAT && f == NULL, "%s: status %s", hc->name, nnc_status_name(st));
    CHECKF(strstr(nnc_last_error(), hc->word) && strstr(nnc_last_error(), hc->name), "%s: message '%s' lacks '%s'",
           hc->name, nnc_last_error(), hc->word);
    CHECKF(!strchr(nnc_last_error(), '\n'), "%s: message is not one line", hc->name);
  }
  /* short files */
  for (size_t n = 0; n < 8; n++) {
    const char *path = tmp_path("truncated");
    write_bytes(path, "\x02\0\0\0\0\0\0\0", n);
    nnc_st_file *f;
    CHECK(nnc_st_read(path, &f) == NNC_ERR_FORMAT && strstr(nnc_last_error(), "truncated"));
  }
  /* missing file, a folder */
  nnc_st_file *f;
  CHECK(nnc_st_read(tmp_path("does-not-exist.safetensors"), &f) == NNC_ERR_IO && strstr(nnc_last_error(), "cannot open"));
  CHECK(nnc_st_read(tmpdir, &f) == NNC_ERR_IO);

  /* every truncation of a valid file fails cleanly; random byte flips never crash */
  uint8_t *good = NULL;
  size_t n = 0;
  CHECK(nnc_read_file("tests/fixtures/io_torch.safetensors", &good, &n) == NNC_OK && n > 100);
  int trunc_ok = 0;
  for (size_t k = 0; k < n; k++) {
    nnc_status st = nnc_st_read_mem(good, k, "cut", &f);
    trunc_ok += st == NNC_ERR_FORMAT;
    if (st == NNC_OK) nnc_st_free(f);
  }
  CHECKF(trunc_ok == (int)n, "%d of %zu truncations refused", trunc_ok, n);
  CHECK(nnc_st_read_mem(good, n, "whole", &f) == NNC_OK);
  nnc_st_free(f);
  nnc_rng r;
  nnc_rng_seed(&r, 11, 0);
  uint8_t *mut = malloc(n);
  int accepted = 0;
  unsigned touched = 0;
  for (int it = 0; it < 3000; it++) {
    memcpy(mut, good, n);
    int flips = 1 + (int)nnc_rng_below(&r, 4);
    for (int k = 0; k < flips; k++) {
      size_t pos = (size_t)nnc_rng_below(&r, it % 2 ? 8 + 1000 : (int64_t)n); /* mostly the header */
      mut[pos] = (uint8_t)nnc_rng_u64(&r);
    }
    nnc_st_file *g = NULL;
    nnc_status st = nnc_st_read_mem(mut, n, "mutant", &g);
    if (st == NNC_OK) {
      accepted++;
      for (int i = 0; i < nnc_st_count(g); i++) { /* touch every accepted tensor's bytes */
        const nnc_st_entry *e = nnc_st_entry_at(g, i);
        for (size_t b = 0; b < e->nbytes; b++) touched += ((const unsigned char *)e->data)[b];
      }
      nnc_st_free(g);
    } else {
      CHECK(g == NULL && nnc_last_error()[0]);
    }
  }
  printf("fuzz: %d of 3000 mutants were still valid files (checksum %u)\n", accepted, touched);
  free(mut);
  free(good);
}

int main(void) {
  nnc_init();
  snprintf(tmpdir, sizeof tmpdir, "%s/nnc_test_io.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
  if (!mkdtemp(tmpdir)) { perror("mkdtemp"); return 1; }
  test_half_conversions();
  test_round_trip();
  test_torch_fixture();
  test_params_io();
  test_hostile();
  nnc_arena_reset(nnc_arena_current());
  char cmd[600];
  if (getenv("NNC_KEEP_TMP")) { printf("kept %s\n", tmpdir); return test_summary(); }
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
  return test_summary();
}
