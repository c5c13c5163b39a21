/* data/augment.h: seeded image augmentation any image model can use. */
#ifndef NNC_DATA_AUGMENT_H
#define NNC_DATA_AUGMENT_H
#include "core/rng.h"
#include "core/tensor.h"

/* In place on a contiguous f32 batch [m, C, H, W] (or [m, C*H*W]): each image is shifted by a
 * random offset in [-pad, pad] in both directions (random crop of the image padded by `pad`
 * with `fill`) and flipped left-right with probability flip_p.  Draws from rng. */
void nnc_augment_crop_flip(nnc_tensor *x, int channels, int height, int width, int pad, double flip_p, float fill,
                           nnc_rng *rng);
#endif
