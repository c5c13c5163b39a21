/* data/fashion.h: the Fashion-MNIST data set (Zalando; 28x28 grey images, 10 classes).
 *
 * The IDX files come from the Debian package dataset-fashion-mnist, installed under
 * /usr/share/datasets/fashion-mnist (NNC_FASHION_DIR); nothing is downloaded.  Either the
 * .gz files or uncompressed ones (same names without .gz) are read.
 *
 *   nnc_dataset train;
 *   if (nnc_fashion_load(NULL, true, &train) != NNC_OK) { puts(nnc_last_error()); ... }
 *   // train.x: f32 [60000, 784], (pixel/255 - NNC_FASHION_MEAN) / NNC_FASHION_STD
 *   // train.y: i64 [60000], 0..9
 *   nnc_dataset_free(&train);
 *
 * Class names: nnc_fashion_class_name(9) == "Ankle boot". */
#ifndef NNC_DATA_FASHION_H
#define NNC_DATA_FASHION_H
#include <stdbool.h>
#include "core/error.h"
#include "data/batch.h"

#define NNC_FASHION_DIR "/usr/share/datasets/fashion-mnist"
#define NNC_FASHION_MEAN 0.2860f /* of the training pixels scaled to [0, 1] */
#define NNC_FASHION_STD 0.3530f

/* Loads the training (60000) or test (10000) split from dir (NULL: NNC_FASHION_DIR) into
 * *out: x f32 [N, 784] normalised, y i64 [N], num_classes 10.  Missing files: NNC_ERR_IO
 * with a message saying how to install them; malformed ones (wrong shapes, labels outside
 * 0..9, image and label counts that disagree, anything idx.h refuses): NNC_ERR_FORMAT.
 * On error *out is zeroed. */
nnc_status nnc_fashion_load(const char *dir, bool train, nnc_dataset *out);

/* "T-shirt/top", "Trouser", ..., "Ankle boot"; "?" outside 0..9 */
const char *nnc_fashion_class_name(int label);

#endif
