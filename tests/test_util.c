/* tests/test_util.c: the output utilities (src/util/): atomic writes, mkdir -p, file reads,
 * the JSON writer and .jsonl appends, PNG files (read back with libpng), SVG charts (well
 * formed, no NaN in coordinates, robust to empty and bad input) and the progress line.
 * Files go to a fresh temporary folder, removed at the end unless NNC_TEST_KEEP=1 (then its
 * path is printed, so the charts can be looked at). */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <png.h>
#include <stdlib.h>
#include <unistd.h>
#include "test.h"
#include "util/fsutil.h"
#include "util/jsonl.h"
#include "util/png.h"
#include "util/progress.h"
#include "util/svg.h"

static char dir[256];

static const char *in_dir(const char *name) {
  static char buf[4][512];
  static int k;
  k = (k + 1) % 4;
  snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
  return buf[k];
}

static bool file_exists(const char *path) { return access(path, F_OK) == 0; }

/* in_dir's results stay valid for the next 3 calls */
/* Does any file in folder d have ".tmp" in its name? */
static bool has_tmp_files(const char *d) {
  DIR *dd = opendir(d);
  if (!dd) return false;
  bool found = false;
  struct dirent *e;
  while ((e = readdir(dd)))
    if (strstr(e->d_name, ".tmp")) found = true;
  closedir(dd);
  return found;
}

static void test_fsutil(void) {
  /* mkdirs */
  const char *deep = in_dir("a/b//c/");
  CHECK(nnc_mkdirs(deep) == NNC_OK);
  CHECK(file_exists(in_dir("a/b/c")));
  CHECK(nnc_mkdirs(deep) == NNC_OK); /* again: fine */
  CHECK(nnc_write_file_atomic(in_dir("a/file"), "x", 1) == NNC_OK);
  CHECK(nnc_mkdirs(in_dir("a/file/sub")) == NNC_ERR_IO);
  CHECK(strstr(nnc_last_error(), "a/file") != NULL);
  CHECK(nnc_mkdirs("") == NNC_ERR_ARG);

  /* atomic write and read back */
  const char *text = "hello\nworld\n";
  char p[512];
  snprintf(p, sizeof p, "%s", in_dir("a/hello.txt"));
  CHECK(nnc_write_file_atomic(p, text, strlen(text)) == NNC_OK);
  uint8_t *data = NULL;
  size_t n = 0;
  CHECK(nnc_read_file(p, &data, &n) == NNC_OK);
  CHECK(n == strlen(text) && data && memcmp(data, text, n) == 0 && data[n] == 0);
  free(data);
  CHECK(nnc_write_file_atomic(p, "new", 3) == NNC_OK); /* replace */
  CHECK(nnc_read_file(p, &data, &n) == NNC_OK);
  CHECK(n == 3 && strcmp((char *)data, "new") == 0);
  free(data);
  CHECK(nnc_write_file_atomic(in_dir("a/empty"), NULL, 0) == NNC_OK);
  CHECK(nnc_read_file(in_dir("a/empty"), &data, &n) == NNC_OK && n == 0 && data && data[0] == 0);
  free(data);
  CHECK(!has_tmp_files(in_dir("a")));

  /* a bigger file, exactly its own size and beyond the first read */
  size_t big = 200000;
  char *bigbuf = malloc(big);
  for (size_t i = 0; i < big; i++) bigbuf[i] = (char)(i * 7);
  CHECK(nnc_write_file_atomic(in_dir("a/big"), bigbuf, big) == NNC_OK);
  CHECK(nnc_read_file(in_dir("a/big"), &data, &n) == NNC_OK && n == big && memcmp(data, bigbuf, big) == 0);
  free(data);
  free(bigbuf);

  /* an aborted atomic write leaves the old file and no tmp */
  nnc_atomic_file af;
  CHECK(nnc_atomic_open(&af, p) == NNC_OK);
  fputs("half written", af.f);
  nnc_atomic_abort(&af);
  CHECK(nnc_read_file(p, &data, &n) == NNC_OK && n == 3);
  free(data);
  CHECK(!has_tmp_files(in_dir("a")));

  /* missing file and missing folder */
  CHECK(nnc_read_file(in_dir("no/such/file"), &data, &n) == NNC_ERR_IO);
  CHECK(data == NULL && n == 0);
  CHECK(strstr(nnc_last_error(), "no/such/file") != NULL);
  CHECK(nnc_write_file_atomic(in_dir("no/such/file"), "x", 1) == NNC_ERR_IO);

  /* clock */
  double t0 = nnc_now(), t1 = nnc_now();
  CHECK(t0 > 0 && t1 >= t0);

  /* text buffer */
  nnc_strbuf sb = {0};
  CHECK(strcmp(nnc_sb_str(&sb), "") == 0);
  for (int i = 0; i < 1000; i++) nnc_sb_printf(&sb, "%d,", i);
  nnc_sb_printf(&sb, "%0300d", 7); /* longer than the printf fast path */
  CHECK(sb.len == strlen(sb.buf) && strncmp(sb.buf, "0,1,2,", 6) == 0 && sb.buf[sb.len - 1] == '7');
  nnc_sb_free(&sb);
  CHECK(nnc_utf8_seq_len("a") == 1 && nnc_utf8_seq_len("\xC3\xA9") == 2 && nnc_utf8_seq_len("\xE2\x82\xAC") == 3);
  CHECK(nnc_utf8_seq_len("\xC3") == 0 && nnc_utf8_seq_len("\xC0\x80") == 0 && nnc_utf8_seq_len("\xED\xA0\x80") == 0);
}

static void test_json(void) {
  nnc_json_writer w;
  nnc_json_init(&w);
  nnc_json_begin_object(&w);
  nnc_json_kv_string(&w, "name", "quote \" slash \\ nl \n tab \t ctl \x01 \xC3\xA9 bad \xFF end");
  nnc_json_kv_number(&w, "pi", 3.141592653589793);
  nnc_json_kv_number(&w, "tenth", 0.1);
  nnc_json_kv_number(&w, "nan", NAN);
  nnc_json_kv_number(&w, "inf", -INFINITY);
  nnc_json_kv_int(&w, "big", INT64_C(-9007199254740993));
  nnc_json_kv_bool(&w, "yes", true);
  nnc_json_kv_string(&w, "none", NULL);
  double arr[3] = {1, NAN, 2.5};
  nnc_json_kv_numbers(&w, "arr", arr, 3);
  nnc_json_key(&w, "nested");
  nnc_json_begin_array(&w);
  nnc_json_begin_object(&w);
  nnc_json_end_object(&w);
  nnc_json_begin_array(&w);
  nnc_json_end_array(&w);
  nnc_json_null(&w);
  nnc_json_raw(&w, "{\"r\":1}");
  nnc_json_end_array(&w);
  nnc_json_end_object(&w);
  const char *s = nnc_json_str(&w);
  CHECK(strchr(s, '\n') == NULL);
  cJSON *j = cJSON_Parse(s);
  CHECKF(j != NULL, "cJSON cannot parse %s", s);
  if (j) {
    cJSON *name = cJSON_GetObjectItem(j, "name");
    CHECK(cJSON_IsString(name) &&
          strcmp(name->valuestring, "quote \" slash \\ nl \n tab \t ctl \x01 \xC3\xA9 bad \xEF\xBF\xBD end") == 0);
    CHECK(cJSON_GetObjectItem(j, "pi")->valuedouble == 3.141592653589793);
    CHECK(cJSON_GetObjectItem(j, "tenth")->valuedouble == 0.1);
    CHECK(cJSON_IsNull(cJSON_GetObjectItem(j, "nan")));
    CHECK(cJSON_IsNull(cJSON_GetObjectItem(j, "inf")));
    CHECK(cJSON_IsTrue(cJSON_GetObjectItem(j, "yes")));
    CHECK(cJSON_IsNull(cJSON_GetObjectItem(j, "none")));
    cJSON *a = cJSON_GetObjectItem(j, "arr");
    CHECK(cJSON_GetArraySize(a) == 3 && cJSON_IsNull(cJSON_GetArrayItem(a, 1)) &&
          cJSON_GetArrayItem(a, 2)->valuedouble == 2.5);
    cJSON *nested = cJSON_GetObjectItem(j, "nested");
    CHECK(cJSON_GetArraySize(nested) == 4 && cJSON_IsObject(cJSON_GetArrayItem(nested, 3)));
  }
  cJSON_Delete(j);
  CHECK(strstr(s, "\"tenth\":0.1,") != NULL);              /* shortest form */
  CHECK(strstr(s, "\"big\":-9007199254740993") != NULL);  /* exact integer */

  /* .jsonl appends */
  const char *path = in_dir("results.jsonl");
  CHECK(nnc_json_append_line(path, s) == NNC_OK);
  nnc_json_reset(&w);
  nnc_json_begin_object(&w);
  nnc_json_kv_int(&w, "run", 2);
  nnc_json_end_object(&w);
  CHECK(strcmp(nnc_json_str(&w), "{\"run\":2}") == 0);
  CHECK(nnc_json_append_line(path, nnc_json_str(&w)) == NNC_OK);
  CHECK(nnc_json_append_line(path, "{\n}") == NNC_ERR_ARG);
  CHECK(nnc_json_append_line(in_dir("no/such/x.jsonl"), "{}") == NNC_ERR_IO);
  uint8_t *data;
  size_t n;
  CHECK(nnc_read_file(path, &data, &n) == NNC_OK);
  int lines = 0;
  for (char *line = strtok((char *)data, "\n"); line; line = strtok(NULL, "\n")) {
    cJSON *jl = cJSON_Parse(line);
    CHECK(jl != NULL);
    cJSON_Delete(jl);
    lines++;
  }
  CHECK(lines == 2 && data[n - 1] == 0 && n > 0);
  free(data);

  nnc_json_free(&w);
}

/* Misuse of the writer stops with a message (one small function per case, so that no
 * local is live across the longjmp). */
static nnc_json_writer misuse;
static void misuse_key_in_array(void) {
  nnc_json_reset(&misuse);
  nnc_json_begin_array(&misuse);
  EXPECT_ABORT(nnc_json_key(&misuse, "k"), "outside an object");
}
static void misuse_value_without_key(void) {
  nnc_json_reset(&misuse);
  nnc_json_begin_object(&misuse);
  EXPECT_ABORT(nnc_json_int(&misuse, 1), "needs a key");
}
static void misuse_wrong_end(void) {
  nnc_json_reset(&misuse);
  nnc_json_begin_object(&misuse);
  EXPECT_ABORT(nnc_json_end_array(&misuse), "without a matching begin");
}
static void test_json_misuse(void) {
  nnc_json_init(&misuse);
  misuse_key_in_array();
  misuse_value_without_key();
  misuse_wrong_end();
  nnc_json_free(&misuse);
}

/* Reads a PNG back as 8-bit RGB (or gray) with libpng's simplified API. */
static uint8_t *read_png(const char *path, int *w, int *h, int format, bool *was_color) {
  png_image img;
  memset(&img, 0, sizeof img);
  img.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_file(&img, path)) return NULL;
  *was_color = (img.format & PNG_FORMAT_FLAG_COLOR) != 0;
  img.format = (png_uint_32)format;
  uint8_t *buf = malloc(PNG_IMAGE_SIZE(img));
  if (!png_image_finish_read(&img, NULL, buf, 0, NULL)) { free(buf); png_image_free(&img); return NULL; }
  *w = (int)img.width;
  *h = (int)img.height;
  return buf;
}

static bool png_signature_ok(const char *path) {
  uint8_t *data;
  size_t n;
  if (nnc_read_file(path, &data, &n) != NNC_OK) return false;
  bool ok = n > 8 && png_sig_cmp(data, 0, 8) == 0;
  free(data);
  return ok;
}

static void test_png(void) {
  uint8_t gray[5 * 7];
  for (int i = 0; i < 35; i++) gray[i] = (uint8_t)(i * 7);
  const char *p = in_dir("gray.png");
  CHECK(nnc_png_write_gray(p, gray, 7, 5) == NNC_OK);
  CHECK(png_signature_ok(p));
  int w = 0, h = 0;
  bool color;
  uint8_t *back = read_png(p, &w, &h, PNG_FORMAT_GRAY, &color);
  CHECK(back && w == 7 && h == 5 && !color && memcmp(back, gray, 35) == 0);
  free(back);

  uint8_t rgb[4 * 3 * 3];
  for (int i = 0; i < 36; i++) rgb[i] = (uint8_t)(255 - i * 5);
  p = in_dir("rgb.png");
  CHECK(nnc_png_write_rgb(p, rgb, 4, 3) == NNC_OK);
  back = read_png(p, &w, &h, PNG_FORMAT_RGB, &color);
  CHECK(back && w == 4 && h == 3 && color && memcmp(back, rgb, 36) == 0);
  free(back);

  /* grid: 5 tiles of 3x4 in rows of 3, scale 2 -> 3*(8+1)+1 by 2*(6+1)+1 */
  float tiles[5][3][4];
  for (int t = 0; t < 5; t++)
    for (int i = 0; i < 12; i++) (&tiles[t][0][0])[i] = (float)(t * 100 + i) * (t == 3 ? -1.0f : 1.0f);
  tiles[4][0][0] = NAN;
  for (int i = 1; i < 12; i++) (&tiles[2][0][0])[i] = 5; /* tile 2: constant except its first */
  tiles[2][0][0] = 5;
  p = in_dir("grid.png");
  CHECK(nnc_png_image_grid(p, &tiles[0][0][0], 5, 3, 4, 3, 2) == NNC_OK);
  back = read_png(p, &w, &h, PNG_FORMAT_RGB, &color);
  CHECK(back && w == 28 && h == 15);
  if (back && w == 28 && h == 15) {
#define PX(x, y, c) back[((y) * 28 + (x)) * 3 + (c)]
    CHECK(PX(0, 0, 0) == 30 && PX(0, 0, 1) == 120 && PX(0, 0, 2) == 230); /* border */
    CHECK(PX(9, 3, 0) == 30 && PX(5, 7, 2) == 230);                        /* between tiles */
    CHECK(PX(1, 1, 0) == 0 && PX(2, 2, 1) == 0);                           /* tile 0 min, scaled 2x */
    CHECK(PX(7, 5, 0) == 255 && PX(8, 6, 2) == 255);                       /* tile 0 max */
    CHECK(PX(19, 1, 0) == 128);                                            /* constant tile: mid gray */
    CHECK(PX(1, 8, 0) == 255);                                             /* tile 3 is negated: max first */
    CHECK(PX(10, 8, 0) == 255 && PX(10, 8, 1) == 0);                       /* NaN: red */
    CHECK(PX(20, 10, 0) == 30);                                            /* empty 6th slot: border colour */
#undef PX
  }
  free(back);
  float ramp[4] = {-1, 0, 0.5f, 2};
  p = in_dir("grid_range.png");
  CHECK(nnc_png_image_grid_range(p, ramp, 1, 1, 4, 0, 1, 0, 1) == NNC_OK);
  back = read_png(p, &w, &h, PNG_FORMAT_RGB, &color);
  CHECK(back && w == 6 && h == 3 && back[3 * 7] == 0 && back[3 * 8] == 0 && back[3 * 9] == 128 && back[3 * 10] == 255);
  free(back);

  /* bad arguments and unwritable places */
  CHECK(nnc_png_write_gray(in_dir("x.png"), gray, 0, 5) == NNC_ERR_ARG);
  CHECK(nnc_png_write_gray(in_dir("x.png"), NULL, 7, 5) == NNC_ERR_ARG);
  CHECK(nnc_png_image_grid(in_dir("x.png"), &tiles[0][0][0], 0, 3, 4, 3, 2) == NNC_ERR_ARG);
  CHECK(nnc_png_image_grid(in_dir("x.png"), &tiles[0][0][0], 5, 3, 4, 3, 1000000) == NNC_ERR_ARG);
  CHECK(nnc_png_image_grid_range(in_dir("x.png"), ramp, 1, 1, 4, 0, 1, 1, 1) == NNC_ERR_ARG);
  CHECK(nnc_png_write_gray(in_dir("no/such/x.png"), gray, 7, 5) == NNC_ERR_IO);
  CHECK(!file_exists(in_dir("x.png")));
  CHECK(!has_tmp_files(dir));
}

/* Reads an SVG and checks that it is a whole document with balanced text elements and no
 * NaN or infinite numbers in its coordinates.  Returns the text (caller frees) or NULL. */
static char *check_svg(const char *path) {
  uint8_t *data;
  size_t n;
  if (nnc_read_file(path, &data, &n) != NNC_OK) {
    CHECKF(0, "cannot read %s", path);
    return NULL;
  }
  char *s = (char *)data;
  CHECKF(strncmp(s, "<?xml", 5) == 0 && strstr(s, "<svg ") != NULL, "%s: no <svg", path);
  CHECKF(n > 7 && strcmp(s + n - 7, "</svg>\n") == 0, "%s: no </svg> at the end", path);
  int open = 0, close = 0;
  for (char *q = s; (q = strstr(q, "<text")); q++) open++;
  for (char *q = s; (q = strstr(q, "</text>")); q++) close++;
  CHECKF(open == close, "%s: %d <text> but %d </text>", path, open, close);
  static const char *bad[] = {"\"nan", "\"-nan", " nan", " -nan", "\"inf", "\"-inf", " inf ", " -inf"};
  for (int i = 0; i < 8; i++) CHECKF(strstr(s, bad[i]) == NULL, "%s: contains '%s'", path, bad[i]);
  /* every '<' and '&' in text content is escaped: no "<" inside a text element's body */
  int unescaped = 0;
  for (char *q = s; (q = strstr(q, "<text")); q++) {
    char *body = strchr(q, '>'), *end = strstr(q, "</text>");
    if (!body || !end) break;
    if (memchr(body + 1, '<', (size_t)(end - body - 1))) unescaped++;
  }
  CHECKF(unescaped == 0, "%s: unescaped '<' in %d text elements", path, unescaped);
  return s;
}

static void test_svg(void) {
  enum { N = 12 };
  double ep[N], tr[N], te[N], acc[N];
  for (int i = 0; i < N; i++) {
    ep[i] = i + 1;
    tr[i] = 1.6 * exp(-0.35 * i) + 0.2;
    te[i] = 1.5 * exp(-0.3 * i) + 0.3 + 0.01 * i;
    acc[i] = 0.62 + 0.27 * (1 - exp(-0.4 * i));
  }
  char *s;
  const char *p = in_dir("curves.svg");
  CHECK(nnc_svg_training_curves(p, "Fashion-MNIST MLP <784-256-10> & dropout", ep, tr, te, acc, N) == NNC_OK);
  if ((s = check_svg(p))) {
    CHECK(strstr(s, "&lt;784-256-10&gt; &amp; dropout") != NULL);
    CHECK(strstr(s, "train loss") && strstr(s, "test loss") && strstr(s, "accuracy (%)"));
    CHECK(strstr(s, "best 88.") != NULL); /* the fraction is drawn as a percentage */
    free(s);
  }
  /* NaN in the middle, NULL epochs, a missing curve */
  tr[5] = NAN;
  te[N - 1] = INFINITY;
  p = in_dir("curves_nan.svg");
  CHECK(nnc_svg_training_curves(p, "diverged", NULL, tr, te, NULL, N) == NNC_OK);
  if ((s = check_svg(p))) { CHECK(strstr(s, "(1 NaN/inf)") != NULL); free(s); }
  p = in_dir("curves_empty.svg");
  CHECK(nnc_svg_training_curves(p, NULL, NULL, NULL, NULL, NULL, 0) == NNC_OK);
  free(check_svg(p));

  /* line chart: many series, a long noisy one (thinned), an all-NaN one, a single point */
  enum { LONG = 100000 };
  double *lx = malloc(sizeof(double) * LONG), *ly = malloc(sizeof(double) * LONG);
  for (int i = 0; i < LONG; i++) {
    lx[i] = i * 0.001;
    ly[i] = 2.0 / (1 + 0.05 * i) + 0.1 * sin(i * 0.7) * sin(i * 0.013);
  }
  double nan3[3] = {NAN, NAN, NAN}, one_x = 40, one_y = 1.2;
  nnc_series series[] = {{"SGD, lr 0.1, noisy per-step loss", lx, ly, LONG},
                         {"all NaN", NULL, nan3, 3},
                         {"one point", &one_x, &one_y, 1},
                         {NULL, NULL, NULL, 0},
                         {"Adam", ep, te, N}};
  p = in_dir("line.svg");
  CHECK(nnc_svg_line_chart(p, "several series", "steps (thousands)", "loss", series, 5) == NNC_OK);
  if ((s = check_svg(p))) {
    CHECK(strlen(s) < 200000); /* 100k points thinned to what the pixels show */
    CHECK(strstr(s, "all NaN (3 NaN/inf)") != NULL);
    free(s);
  }
  p = in_dir("line_none.svg");
  CHECK(nnc_svg_line_chart(p, "nothing", "x", "y", NULL, 0) == NNC_OK);
  if ((s = check_svg(p))) { CHECK(strstr(s, "no data") != NULL); free(s); }
  nnc_series flat = {"flat", NULL, nan3, 1};
  double c7[1] = {7};
  flat.y = c7;
  p = in_dir("line_flat.svg");
  CHECK(nnc_svg_line_chart(p, "one constant", "x", "y", &flat, 1) == NNC_OK);
  free(check_svg(p));

  /* panels with log axes and a fixed range (points outside it are clipped) */
  double neg[4] = {-1, 0.01, 0.1, 10}, pos_x[4] = {1, 10, 100, 1000};
  nnc_series sp = {"error", pos_x, neg, 4}, sa = {"accuracy", NULL, acc, N};
  nnc_svg_panel panels[3] = {
      {.title = "log-log", .xlabel = "width", .ylabel = "error", .series = &sp, .nseries = 1, .log_x = true, .log_y = true},
      {.title = "fixed 0.7..1", .xlabel = "epoch", .ylabel = "accuracy", .series = &sa, .nseries = 1, .y_min = 0.7, .y_max = 1},
      {.title = "empty panel"},
  };
  p = in_dir("panels.svg");
  CHECK(nnc_svg_panels(p, "three panels", panels, 3) == NNC_OK);
  if ((s = check_svg(p))) { CHECK(strstr(s, "(1 \xE2\x89\xA4 0 not shown)") != NULL); free(s); }

  /* more series than the legend can hold */
  nnc_series crowd[40];
  char crowd_names[40][32];
  double crowd_y[40][N];
  for (int k = 0; k < 40; k++) {
    snprintf(crowd_names[k], sizeof crowd_names[k], "run %d", k);
    for (int i = 0; i < N; i++) crowd_y[k][i] = k + sin(i * 0.5 + k);
    crowd[k] = (nnc_series){crowd_names[k], ep, crowd_y[k], N};
  }
  p = in_dir("crowd.svg");
  CHECK(nnc_svg_line_chart(p, "40 runs", "epoch", "value", crowd, 40) == NNC_OK);
  if ((s = check_svg(p))) { CHECK(strstr(s, "more</text>") != NULL && strstr(s, ">run 39<") == NULL); free(s); }

  /* confusion matrix */
  const char *names[10] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                           "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"};
  int64_t cm[100];
  for (int i = 0; i < 10; i++)
    for (int j = 0; j < 10; j++) cm[i * 10 + j] = i == j ? 850 + 13 * i : (i * 7 + j * 3) % 11 == 0 ? 60 : (i + j) % 4;
  p = in_dir("confusion.svg");
  CHECK(nnc_svg_confusion_matrix(p, "Fashion-MNIST test set", cm, 10, names) == NNC_OK);
  if ((s = check_svg(p))) { CHECK(strstr(s, "Ankle boot") && strstr(s, "predicted class")); free(s); }
  p = in_dir("confusion_big.svg");
  int64_t *cm100 = calloc(100 * 100, sizeof *cm100);
  for (int i = 0; i < 100; i++) cm100[i * 100 + i] = 5, cm100[i * 100 + (i + 1) % 100] = 1;
  CHECK(nnc_svg_confusion_matrix(p, "100 classes", cm100, 100, NULL) == NNC_OK);
  free(check_svg(p));
  free(cm100);
  p = in_dir("confusion_huge.svg");
  CHECK(nnc_svg_confusion_matrix(p, "too many", cm, 1000, NULL) == NNC_OK); /* counts not read */
  if ((s = check_svg(p))) { CHECK(strstr(s, "too many to draw") != NULL); free(s); }
  p = in_dir("confusion_empty.svg");
  CHECK(nnc_svg_confusion_matrix(p, "none", NULL, 0, NULL) == NNC_OK);
  free(check_svg(p));

  /* bar chart, with a NaN and a negative value, and many bars */
  const char *bn[6] = {"baseline", "dropout 0.5", "batch norm", "weight decay 5e-4", "NaN run", "negative"};
  double bv[6] = {88.1, 89.4, 89.9, 88.7, NAN, -3.5};
  p = in_dir("bars.svg");
  CHECK(nnc_svg_bar_chart(p, "test accuracy by method", "accuracy (%)", bn, bv, 6) == NNC_OK);
  if ((s = check_svg(p))) { CHECK(strstr(s, ">NaN<") != NULL); free(s); }
  double many[300];
  for (int i = 0; i < 300; i++) many[i] = sin(i * 0.1);
  p = in_dir("bars_many.svg");
  CHECK(nnc_svg_bar_chart(p, "300 bars", NULL, NULL, many, 300) == NNC_OK);
  free(check_svg(p));
  p = in_dir("bars_empty.svg");
  CHECK(nnc_svg_bar_chart(p, "none", "y", NULL, NULL, 0) == NNC_OK);
  free(check_svg(p));

  /* histogram of weights-like values */
  double *hv = malloc(sizeof(double) * 5000);
  for (int i = 0; i < 5000; i++) { /* a rough bell: sum of 4 uniforms */
    double u = 0;
    for (int k = 0; k < 4; k++) u += ((i * 2654435761u + k * 40503u) % 10007) / 10007.0;
    hv[i] = (u - 2) * 0.05;
  }
  hv[17] = NAN;
  p = in_dir("hist.svg");
  CHECK(nnc_svg_histogram(p, "first-layer weights", "weight", hv, 5000, 0) == NNC_OK);
  if ((s = check_svg(p))) { CHECK(strstr(s, "(1 NaN/inf skipped)") != NULL); free(s); }
  double same[3] = {2, 2, 2};
  p = in_dir("hist_same.svg");
  CHECK(nnc_svg_histogram(p, "all equal", "v", same, 3, 10) == NNC_OK);
  free(check_svg(p));
  p = in_dir("hist_empty.svg");
  CHECK(nnc_svg_histogram(p, "only NaN", "v", nan3, 3, 10) == NNC_OK);
  free(check_svg(p));
  free(hv);
  CHECK(nnc_svg_line_chart(in_dir("no/such/x.svg"), "t", "x", "y", series, 1) == NNC_ERR_IO);
  free(lx);
  free(ly);
  CHECK(!has_tmp_files(dir));
}

static void test_progress(void) {
  /* stderr is not a terminal here: plain lines, never a redraw */
  nnc_progress p;
  nnc_progress_begin(&p, "test steps", 1000);
  for (int i = 0; i < 1000; i++) nnc_progress_update(&p, i + 1, "loss %.4f", 1.0 / (i + 1));
  nnc_progress_log(&p, "a message in between");
  nnc_progress_end(&p, "final %d", 42);
  CHECK(p.step == 1000 && !p.drawn);
  nnc_progress_begin(&p, "unknown total", 0);
  nnc_progress_update(&p, 5, NULL);
  nnc_progress_end(&p, NULL);
  CHECK(p.step == 5);
}

int main(void) {
  snprintf(dir, sizeof dir, "%s/nnc_test_util_XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
  if (!mkdtemp(dir)) { perror("mkdtemp"); return 1; }
  test_fsutil();
  test_json();
  test_json_misuse();
  test_png();
  test_svg();
  test_progress();
  if (getenv("NNC_TEST_KEEP") && atoi(getenv("NNC_TEST_KEEP"))) {
    printf("files kept in %s\n", dir);
  } else {
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
  }
  return test_summary();
}
