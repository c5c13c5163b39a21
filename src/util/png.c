/* util/png.c: PNG writes through libpng and the image grid (see png.h). */
#include <math.h>
#include <png.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include "util/fsutil.h"
#include "util/png.h"

#define PNG_MAX_SIDE 1000000           /* libpng's default limit on width and height */
#define PNG_MAX_BYTES ((int64_t)1 << 30)

static const uint8_t BORDER_RGB[3] = {30, 120, 230}; /* blue: apart from every gray level */
static const uint8_t BAD_RGB[3] = {255, 0, 0};      /* NaN / inf pixels */

typedef struct {
  char message[256];
} png_err_ctx;

static void on_png_error(png_structp png, png_const_charp msg) {
  png_err_ctx *ctx = png_get_error_ptr(png);
  snprintf(ctx->message, sizeof ctx->message, "%s", msg);
  png_longjmp(png, 1);
}

static void on_png_warning(png_structp png, png_const_charp msg) {
  (void)png;
  (void)msg;
}

static nnc_status check_size(const char *path, int width, int height, int channels) {
  if (!path || !*path) return nnc_error(NNC_ERR_ARG, "png: empty path");
  if (width <= 0 || height <= 0 || width > PNG_MAX_SIDE || height > PNG_MAX_SIDE ||
      (int64_t)width * height * channels > PNG_MAX_BYTES)
    return nnc_error(NNC_ERR_ARG, "png %s: bad size %d x %d", path, width, height);
  return NNC_OK;
}

/* Writes 8-bit pixels, `channels` = 1 (gray) or 3 (RGB), rows top to bottom. */
static nnc_status write_png(const char *path, const uint8_t *pixels, int width, int height, int channels) {
  nnc_status st = check_size(path, width, height, channels);
  if (st != NNC_OK) return st;
  if (!pixels) return nnc_error(NNC_ERR_ARG, "png %s: no pixels", path);
  nnc_atomic_file af;
  st = nnc_atomic_open(&af, path);
  if (st != NNC_OK) return st;
  png_err_ctx ctx = {{0}};
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &ctx, on_png_error, on_png_warning);
  png_infop info = png ? png_create_info_struct(png) : NULL;
  if (!png || !info) {
    png_destroy_write_struct(&png, &info);
    nnc_atomic_abort(&af);
    return nnc_error(NNC_ERR_NOMEM, "png %s: cannot create libpng writer", path);
  }
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    nnc_atomic_abort(&af);
    return nnc_error(NNC_ERR_IO, "cannot write png %s: %s", path, ctx.message);
  }
  png_init_io(png, af.f);
  png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, 8,
               channels == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  size_t stride = (size_t)width * (size_t)channels;
  for (int y = 0; y < height; y++) png_write_row(png, (png_const_bytep)(pixels + (size_t)y * stride));
  png_write_end(png, NULL);
  png_destroy_write_struct(&png, &info);
  return nnc_atomic_commit(&af);
}

nnc_status nnc_png_write_gray(const char *path, const uint8_t *pixels, int width, int height) {
  return write_png(path, pixels, width, height, 1);
}

nnc_status nnc_png_write_rgb(const char *path, const uint8_t *pixels, int width, int height) {
  return write_png(path, pixels, width, height, 3);
}

/* lo < hi: fixed range; otherwise each tile's own finite min..max. */
static nnc_status image_grid(const char *path, const float *images, int n, int h, int w, int cols,
                             int scale, float lo, float hi) {
  if (!path || !*path) return nnc_error(NNC_ERR_ARG, "png grid: empty path");
  if (n <= 0 || h <= 0 || w <= 0 || !images)
    return nnc_error(NNC_ERR_ARG, "png grid %s: no images (n=%d, h=%d, w=%d)", path, n, h, w);
  if (scale <= 0) scale = 1;
  if (cols <= 0) cols = (int)ceil(sqrt((double)n));
  if (cols > n) cols = n;
  int rows = (n + cols - 1) / cols;
  int64_t tw = (int64_t)w * scale + 1, th = (int64_t)h * scale + 1;
  int64_t W = cols * tw + 1, H = rows * th + 1;
  if (W > PNG_MAX_SIDE || H > PNG_MAX_SIDE || W * H * 3 > PNG_MAX_BYTES)
    return nnc_error(NNC_ERR_ARG, "png grid %s: %lld x %lld pixels is too large", path,
                     (long long)W, (long long)H);
  uint8_t *rgb = malloc((size_t)(W * H * 3));
  if (!rgb) return nnc_error(NNC_ERR_NOMEM, "png grid %s: out of memory", path);
  for (int64_t i = 0; i < W * H; i++) memcpy(rgb + 3 * i, BORDER_RGB, 3);
  bool fixed = lo < hi;
  for (int t = 0; t < n; t++) {
    const float *img = images + (size_t)t * h * w;
    float mn = lo, mx = hi;
    if (!fixed) {
      mn = INFINITY;
      mx = -INFINITY;
      for (int i = 0; i < h * w; i++) {
        if (!isfinite(img[i])) continue;
        if (img[i] < mn) mn = img[i];
        if (img[i] > mx) mx = img[i];
      }
    }
    double range = (double)mx - (double)mn;
    int64_t x0 = 1 + (t % cols) * tw, y0 = 1 + (t / cols) * th;
    for (int y = 0; y < h; y++) {
      for (int x = 0; x < w; x++) {
        float v = img[(size_t)y * w + x];
        uint8_t px[3];
        if (!isfinite(v)) {
          memcpy(px, BAD_RGB, 3);
        } else {
          double g = range > 0 ? ((double)v - mn) / range : 0.5;
          g = g < 0 ? 0 : g > 1 ? 1 : g;
          px[0] = px[1] = px[2] = (uint8_t)lround(g * 255.0);
        }
        for (int dy = 0; dy < scale; dy++) {
          uint8_t *row = rgb + ((y0 + (int64_t)y * scale + dy) * W + x0 + (int64_t)x * scale) * 3;
          for (int dx = 0; dx < scale; dx++) memcpy(row + 3 * dx, px, 3);
        }
      }
    }
  }
  nnc_status st = write_png(path, rgb, (int)W, (int)H, 3);
  free(rgb);
  return st;
}

nnc_status nnc_png_image_grid(const char *path, const float *images, int n, int h, int w, int cols,
                              int scale) {
  return image_grid(path, images, n, h, w, cols, scale, 0, 0);
}

nnc_status nnc_png_image_grid_range(const char *path, const float *images, int n, int h, int w,
                                    int cols, int scale, float lo, float hi) {
  if (!(lo < hi)) return nnc_error(NNC_ERR_ARG, "png grid %s: empty range %g..%g", path, lo, hi);
  return image_grid(path, images, n, h, w, cols, scale, lo, hi);
}
