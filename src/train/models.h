/* train/models.h: the named models of `nnc train` / `nnc eval`. */
#ifndef NNC_TRAIN_MODELS_H
#define NNC_TRAIN_MODELS_H
#include "train/classifier.h"

/* the spec named `name`, or NULL */
const nnc_model_spec *nnc_model_find(const char *name);
/* all specs, for help texts */
int nnc_models(const nnc_model_spec *const **specs);
#endif
