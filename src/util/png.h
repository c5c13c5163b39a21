/* util/png.h: PNG images through libpng: plain gray/RGB writes, and a grid of float images
 * (first-layer filters, samples, reconstructions) with each tile scaled to [0,255].
 * Every file is written atomically (see fsutil.h).  Bad arguments give NNC_ERR_ARG. */
#ifndef NNC_UTIL_PNG_H
#define NNC_UTIL_PNG_H
#include <stdint.h>
#include "core/error.h"

/* pixels: [height][width] bytes, 0 = black. */
nnc_status nnc_png_write_gray(const char *path, const uint8_t *pixels, int width, int height);
/* pixels: [height][width][3] bytes, R G B. */
nnc_status nnc_png_write_rgb(const char *path, const uint8_t *pixels, int width, int height);

/* Tiles n images (images: [n][h][w] floats) in rows of `cols`, each pixel drawn as a
 * scale x scale block, with a 1-pixel blue border around and between the tiles.
 * Each tile is stretched on its own from its min (black) to its max (white); a constant
 * tile is mid gray; NaN/inf pixels are red (and ignored for the min/max).
 * cols <= 0 picks about sqrt(n); scale <= 0 means 1.  The image is RGB. */
nnc_status nnc_png_image_grid(const char *path, const float *images, int n, int h, int w,
                              int cols, int scale);
/* The same, but every tile uses the fixed range lo..hi (values outside are clamped); use
 * it for samples and reconstructions whose brightness should be comparable across tiles. */
nnc_status nnc_png_image_grid_range(const char *path, const float *images, int n, int h, int w,
                                    int cols, int scale, float lo, float hi);

#endif
