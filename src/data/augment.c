/* data/augment.c: random crop with padding and horizontal flip (see augment.h). */
#include <stdlib.h>
#include <string.h>
#include "core/error.h"
#include "data/augment.h"

void nnc_augment_crop_flip(nnc_tensor *x, int C, int H, int W, int pad, double flip_p, float fill, nnc_rng *rng) {
  NNC_CHECK(x->dtype == NNC_F32 && nnc_is_contiguous(x), "augment", "needs a contiguous f32 batch");
  int64_t per = (int64_t)C * H * W, m = nnc_numel(x) / (per ? per : 1);
  NNC_CHECK(m * per == nnc_numel(x), "augment", "batch size is not a multiple of %dx%dx%d", C, H, W);
  float *tmp = nnc_xmalloc((size_t)per * sizeof(float));
  float *data = nnc_f32(x);
  for (int64_t i = 0; i < m; i++) {
    /* out[c][y][x] = in[c][y + dy][x' + dx], x' = flipped x; outside the image: fill */
    int dy = (int)nnc_rng_below(rng, 2 * pad + 1) - pad, dx = (int)nnc_rng_below(rng, 2 * pad + 1) - pad;
    int flip = nnc_rng_bernoulli(rng, flip_p);
    float *img = data + i * per;
    memcpy(tmp, img, (size_t)per * sizeof(float));
    for (int c = 0; c < C; c++)
      for (int y = 0; y < H; y++)
        for (int xx = 0; xx < W; xx++) {
          int sy = y + dy, sx = (flip ? W - 1 - xx : xx) + dx;
          img[((int64_t)c * H + y) * W + xx] = (sy >= 0 && sy < H && sx >= 0 && sx < W) ? tmp[((int64_t)c * H + sy) * W + sx] : fill;
        }
  }
  free(tmp);
  nnc_bump_version(x);
}
