/* train/classifier.c: the training loop, evaluation, checkpoints and reports of
 * `nnc train <model>` and `nnc eval <model>` (see classifier.h). */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>
#include "nnc.h"
#include "data/augment.h"
#include "data/fashion.h"
#include "io/params_io.h"
#include "io/safetensors.h"
#include "optim/muon.h"
#include "optim/noise.h"
#include "optim/schedule.h"
#include "train/classifier.h"

#define EVAL_BATCH 1000
#define AUGMENT_STREAM 0x617567ULL /* rng stream of the augmentation ("aug") */

/* the state of a run that a checkpoint must carry besides tensors */
typedef struct {
  int epochs_done;
  int64_t step;
  nnc_batcher_state batcher;
  nnc_rng augment_rng;
  /* per-epoch history, to rewrite metrics.jsonl and redraw the curves after a resume */
  double *train_loss, *test_loss, *test_acc, *seconds, *lr;
} run_state;

static const char *path_in(const char *dir, const char *file, char *buf, size_t size) {
  snprintf(buf, size, "%s/%s", dir, file);
  return buf;
}

/* a batch tensor [m, row shape of ds->x] */
static nnc_tensor *batch_input(const nnc_dataset *ds, int64_t m) {
  int64_t shape[NNC_MAX_DIMS];
  memcpy(shape, ds->x->shape, sizeof shape);
  shape[0] = m;
  return nnc_empty(ds->x->dtype, ds->x->ndim, shape);
}

nnc_eval_result nnc_evaluate(nnc_module *model, const nnc_dataset *test, int64_t *counts) {
  bool was_training = model->training;
  nnc_module_eval(model);
  nnc_no_grad_begin();
  double loss_sum = 0;
  int64_t correct = 0, k = test->num_classes;
  if (counts) memset(counts, 0, (size_t)(k * k) * sizeof *counts);
  int64_t *idx = nnc_xmalloc(EVAL_BATCH * sizeof *idx);
  for (int64_t start = 0; start < test->n; start += EVAL_BATCH) {
    int64_t m = test->n - start < EVAL_BATCH ? test->n - start : EVAL_BATCH;
    for (int64_t i = 0; i < m; i++) idx[i] = start + i;
    nnc_tensor *x = batch_input(test, m), *y = nnc_empty(NNC_I64, NNC_SHAPE(m));
    nnc_dataset_gather(test, idx, m, x, y);
    nnc_tensor *logits = nnc_forward(model, x);
    loss_sum += nnc_item(nnc_cross_entropy(logits, y, 0.0, NNC_REDUCE_SUM));
    nnc_tensor *pred = nnc_argmax(logits, 1, false);
    for (int64_t i = 0; i < m; i++) {
      int64_t p = nnc_i64(pred)[i], t = nnc_i64(y)[i];
      correct += p == t;
      if (counts) counts[t * k + p]++;
    }
    nnc_step_end();
  }
  free(idx);
  nnc_no_grad_end();
  nnc_module_train(model, was_training);
  return (nnc_eval_result){loss_sum / (double)test->n, (double)correct / (double)test->n};
}

/* ---- checkpoints ---- */
static char *history_json(const run_state *s) {
  nnc_json_writer w;
  nnc_json_init(&w);
  nnc_json_begin_object(&w);
  nnc_json_kv_numbers(&w, "train_loss", s->train_loss, s->epochs_done);
  nnc_json_kv_numbers(&w, "test_loss", s->test_loss, s->epochs_done);
  nnc_json_kv_numbers(&w, "test_acc", s->test_acc, s->epochs_done);
  nnc_json_kv_numbers(&w, "seconds", s->seconds, s->epochs_done);
  nnc_json_kv_numbers(&w, "lr", s->lr, s->epochs_done);
  nnc_json_end_object(&w);
  char *out = strdup(nnc_json_str(&w));
  nnc_json_free(&w);
  return out;
}

static nnc_status save_checkpoint(const char *path, const nnc_model_spec *spec, nnc_params *params, nnc_params *buffers,
                                  nnc_optim *opt, const run_state *s, const char *config) {
  nnc_st_writer *w = nnc_st_writer_new();
  nnc_status st = nnc_params_add_to_writer(params, w, "param/", NNC_ST_F32);
  if (!st) st = nnc_params_add_to_writer(buffers, w, "buffer/", NNC_ST_F32);
  nnc_state_array arrays[8];
  int n = nnc_optim_state(opt, arrays);
  char name[128], num[64];
  for (int i = 0; i < n && !st; i++) {
    snprintf(name, sizeof name, "optim/%s", arrays[i].name);
    st = nnc_st_writer_add_raw(w, name, nnc_st_dtype_of(arrays[i].dtype), 1, &arrays[i].count, arrays[i].data);
  }
  uint64_t rng_words[4];
  memcpy(rng_words, s->augment_rng.s, sizeof rng_words);
  if (!st) st = nnc_st_writer_add_raw(w, "rng/augment", NNC_ST_I64, 1, (int64_t[]){4}, rng_words);
  char *hist = history_json(s);
  struct { const char *k; char v[64]; } meta[] = {{"epochs_done", ""}, {"step", ""}, {"batcher_seed", ""},
                                                   {"batcher_epoch", ""}, {"batcher_pos", ""}};
  snprintf(meta[0].v, 64, "%d", s->epochs_done);
  snprintf(meta[1].v, 64, "%" PRId64, s->step);
  snprintf(meta[2].v, 64, "%" PRIu64, s->batcher.seed);
  snprintf(meta[3].v, 64, "%" PRId64, s->batcher.epoch);
  snprintf(meta[4].v, 64, "%" PRId64, s->batcher.pos);
  if (!st) st = nnc_st_writer_meta(w, "format", "nnc-checkpoint-1");
  if (!st) st = nnc_st_writer_meta(w, "model", spec->name);
  for (size_t i = 0; i < sizeof meta / sizeof meta[0] && !st; i++) st = nnc_st_writer_meta(w, meta[i].k, meta[i].v);
  if (!st) st = nnc_st_writer_meta(w, "config", config);
  if (!st) st = nnc_st_writer_meta(w, "history", hist);
  if (!st) st = nnc_st_writer_write(w, path);
  (void)num;
  free(hist);
  nnc_st_writer_free(w);
  return st;
}

static nnc_status meta_int(const nnc_st_file *f, const char *key, int64_t *out) {
  const char *v = nnc_st_metadata(f, key);
  char *end;
  if (!v) return nnc_error(NNC_ERR_FORMAT, "%s: checkpoint has no '%s'", nnc_st_path(f), key);
  long long x = strtoll(v, &end, 10);
  if (*v == 0 || *end || x < 0) return nnc_error(NNC_ERR_FORMAT, "%s: bad '%s' value '%s'", nnc_st_path(f), key, v);
  *out = x;
  return NNC_OK;
}

static nnc_status load_history(const nnc_st_file *f, run_state *s, int capacity) {
  const char *h = nnc_st_metadata(f, "history");
  cJSON *root = h ? cJSON_Parse(h) : NULL;
  if (!root) return nnc_error(NNC_ERR_FORMAT, "%s: checkpoint history missing or not JSON", nnc_st_path(f));
  const char *keys[5] = {"train_loss", "test_loss", "test_acc", "seconds", "lr"};
  double *dst[5] = {s->train_loss, s->test_loss, s->test_acc, s->seconds, s->lr};
  nnc_status st = NNC_OK;
  for (int k = 0; k < 5 && !st; k++) {
    cJSON *a = cJSON_GetObjectItemCaseSensitive(root, keys[k]);
    if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) != s->epochs_done || s->epochs_done > capacity) {
      st = nnc_error(NNC_ERR_FORMAT, "%s: history '%s' does not match %d epochs done", nnc_st_path(f), keys[k], s->epochs_done);
      break;
    }
    for (int i = 0; i < s->epochs_done; i++) {
      cJSON *v = cJSON_GetArrayItem(a, i);
      dst[k][i] = cJSON_IsNumber(v) ? v->valuedouble : NAN;
    }
  }
  cJSON_Delete(root);
  return st;
}

static nnc_status load_checkpoint(const char *path, const nnc_model_spec *spec, nnc_params *params, nnc_params *buffers,
                                  nnc_optim *opt, run_state *s, int capacity) {
  nnc_st_file *f;
  nnc_status st = nnc_st_read(path, &f);
  if (st) return st;
  const char *model = nnc_st_metadata(f, "model");
  if (!nnc_st_metadata(f, "format") || !model)
    st = nnc_error(NNC_ERR_FORMAT, "%s: not an nnc checkpoint (no format/model metadata)", path);
  else if (strcmp(model, spec->name) != 0)
    st = nnc_error(NNC_ERR_FORMAT, "%s: checkpoint of model '%s', not '%s'", path, model, spec->name);
  if (!st) st = nnc_params_load_from(params, f, "param/", false);
  if (!st) st = nnc_params_load_from(buffers, f, "buffer/", false);
  int64_t v[5] = {0};
  const char *keys[5] = {"epochs_done", "step", "batcher_seed", "batcher_epoch", "batcher_pos"};
  for (int k = 0; k < 5 && !st; k++) st = meta_int(f, keys[k], &v[k]);
  if (!st) {
    s->epochs_done = (int)v[0];
    s->step = v[1];
    s->batcher = (nnc_batcher_state){(uint64_t)v[2], v[3], v[4]};
    if (s->epochs_done > capacity)
      st = nnc_error(NNC_ERR_ARG, "%s: checkpoint has %d epochs done, more than --epochs %d", path, s->epochs_done, capacity);
  }
  if (!st) st = load_history(f, s, capacity);
  /* optimiser state: the arrays are sized to the current block; copy the saved ones in */
  nnc_state_array arrays[8];
  int n = st ? 0 : nnc_optim_state(opt, arrays);
  for (int i = 0; i < n && !st; i++) {
    char name[128];
    snprintf(name, sizeof name, "optim/%s", arrays[i].name);
    const nnc_st_entry *e = nnc_st_find(f, name);
    if (!e || e->dtype != nnc_st_dtype_of(arrays[i].dtype) || e->numel != arrays[i].count)
      st = nnc_error(NNC_ERR_FORMAT, "%s: optimiser state '%s' missing or of the wrong size", path, name);
    else
      memcpy(arrays[i].data, e->data, e->nbytes);
  }
  const nnc_st_entry *r = st ? NULL : nnc_st_find(f, "rng/augment");
  if (!st && (!r || r->nbytes != sizeof s->augment_rng.s))
    st = nnc_error(NNC_ERR_FORMAT, "%s: checkpoint has no augmentation rng state", path);
  if (!st) memcpy(s->augment_rng.s, r->data, sizeof s->augment_rng.s);
  nnc_st_free(f);
  return st;
}

static nnc_status save_model(const char *path, const nnc_model_spec *spec, nnc_params *params, nnc_params *buffers) {
  nnc_st_writer *w = nnc_st_writer_new();
  nnc_status st = nnc_params_add_to_writer(params, w, "", NNC_ST_F32);
  if (!st) st = nnc_params_add_to_writer(buffers, w, "", NNC_ST_F32);
  if (!st) st = nnc_st_writer_meta(w, "model", spec->name);
  if (!st) st = nnc_st_writer_write(w, path);
  nnc_st_writer_free(w);
  return st;
}

static nnc_status write_reports(const char *dir, const nnc_model_spec *spec, const run_state *s, const int64_t *counts,
                                nnc_params *params) {
  char path[1024], title[128];
  double *epochs = nnc_xmalloc((size_t)(s->epochs_done + 1) * sizeof(double));
  for (int i = 0; i < s->epochs_done; i++) epochs[i] = i + 1;
  snprintf(title, sizeof title, "%s on Fashion-MNIST", spec->name);
  nnc_status st = nnc_svg_training_curves(path_in(dir, "curves.svg", path, sizeof path), title, epochs, s->train_loss,
                                          s->test_loss, s->test_acc, s->epochs_done);
  free(epochs);
  const char *names[10];
  for (int c = 0; c < 10; c++) names[c] = nnc_fashion_class_name(c);
  snprintf(title, sizeof title, "%s: test-set confusion matrix after epoch %d", spec->name, s->epochs_done);
  if (!st) st = nnc_svg_confusion_matrix(path_in(dir, "confusion.svg", path, sizeof path), title, counts, 10, names);
  nnc_tensor *w = spec->filters_param ? nnc_params_find(params, spec->filters_param) : NULL;
  if (!st && w && w->ndim == 4) /* conv weight [out, in, kh, kw]: the first input channel of each filter */
  {
    int64_t out = w->shape[0], kh = w->shape[2], kw = w->shape[3], per = nnc_numel(w) / out;
    float *tiles = nnc_xmalloc((size_t)(out * kh * kw) * sizeof(float));
    for (int64_t o = 0; o < out; o++) memcpy(tiles + o * kh * kw, nnc_f32(w) + o * per, (size_t)(kh * kw) * sizeof(float));
    st = nnc_png_image_grid(path_in(dir, "filters.png", path, sizeof path), tiles, (int)out, (int)kh, (int)kw, 0, 12);
    free(tiles);
  } else if (!st && w && w->ndim == 2 && w->shape[1] == 784) { /* linear on images: each unit's 28x28 weights */
    int64_t out = w->shape[0] < 64 ? w->shape[0] : 64;
    st = nnc_png_image_grid(path_in(dir, "filters.png", path, sizeof path), nnc_f32(w), (int)out, 28, 28, 0, 2);
  }
  return st;
}

static nnc_status append_metrics(const char *dir, const run_state *s, int e) {
  char path[1024];
  nnc_json_writer w;
  nnc_json_init(&w);
  nnc_json_begin_object(&w);
  nnc_json_kv_int(&w, "epoch", e + 1);
  nnc_json_kv_number(&w, "train_loss", s->train_loss[e]);
  nnc_json_kv_number(&w, "test_loss", s->test_loss[e]);
  nnc_json_kv_number(&w, "test_acc", s->test_acc[e]);
  nnc_json_kv_number(&w, "seconds", s->seconds[e]);
  nnc_json_kv_number(&w, "lr", s->lr[e]);
  nnc_json_end_object(&w);
  nnc_status st = nnc_json_append_line(path_in(dir, "metrics.jsonl", path, sizeof path), nnc_json_str(&w));
  nnc_json_free(&w);
  return st;
}

/* "muon": AdamW for the base rule with Muon attached (*muon set) */
static bool parse_optim(const char *name, nnc_optim_kind *kind, bool *muon) {
  *muon = !strcmp(name, "muon");
  if (*muon) *kind = NNC_OPTIM_ADAMW;
  else if (!strcmp(name, "sgd")) *kind = NNC_OPTIM_SGD;
  else if (!strcmp(name, "adam")) *kind = NNC_OPTIM_ADAM;
  else if (!strcmp(name, "adamw")) *kind = NNC_OPTIM_ADAMW;
  else return false;
  return true;
}

#define MUON_LR 0.02          /* Muon's default learning rate (muon.py) */
#define MUON_AUX_RATIO 0.05   /* the AdamW part's lr / Muon's: 1e-3 at the default */

/* --grad-noise: noise of step t (the optimiser's step count, restored by --resume) */
typedef struct {
  const nnc_grad_noise *noise;
  nnc_params *params;
} grad_noise_ctx;
static void add_grad_noise(void *ctx, int64_t step) {
  grad_noise_ctx *c = ctx;
  nnc_grad_noise_apply(c->noise, c->params, step);
}

static int fail(const char *what) {
  fprintf(stderr, "nnc: %s: %s\n", what, nnc_last_error());
  return 1;
}

double nnc_fit_epoch(nnc_fit *f, const nnc_dataset *train, nnc_batcher *batches, int64_t *step) {
  nnc_progress bar;
  bool bar_on = !f->quiet;
  if (bar_on) nnc_progress_begin(&bar, f->label ? f->label : "training", nnc_batcher_batches_per_epoch(batches));
  double loss_sum = 0;
  int64_t seen = 0, m, done = 0;
  const int64_t *idx;
  nnc_module_train(f->model, true);
  while ((m = nnc_batcher_next(batches, &idx)) > 0) {
    nnc_tensor *x = batch_input(train, m), *y = nnc_empty(NNC_I64, NNC_SHAPE(m));
    nnc_dataset_gather(train, idx, m, x, y);
    if (f->augment_rng)
      nnc_augment_crop_flip(x, 1, 28, 28, 2, 0.5, (0.0f - NNC_FASHION_MEAN) / NNC_FASHION_STD, f->augment_rng);
    nnc_tensor *loss = nnc_cross_entropy(nnc_forward(f->model, x), y, 0.0, NNC_REDUCE_MEAN);
    double l = nnc_item(loss);
    if (!isfinite(l)) {
      nnc_step_end();
      if (bar_on) nnc_progress_end(&bar, "stopped: loss %g", l);
      return NAN;
    }
    nnc_params_zero_grad(f->params);
    nnc_backward(loss);
    if (f->before_step) f->before_step(f->before_ctx, *step);
    if (f->sched) f->opt->lr = nnc_schedule_lr(f->sched, *step);
    nnc_optim_step(f->opt);
    if (f->after_step) f->after_step(f->ctx);
    nnc_step_end();
    (*step)++;
    loss_sum += l * (double)m;
    seen += m;
    done++;
    if (bar_on) nnc_progress_update(&bar, done, "loss %.4f", loss_sum / (double)seen);
  }
  if (bar_on) nnc_progress_end(&bar, "loss %.4f", loss_sum / (double)seen);
  return loss_sum / (double)(seen ? seen : 1);
}

int nnc_train_classifier(const nnc_model_spec *spec, const nnc_train_options *o) {
  int epochs = o->epochs > 0 ? o->epochs : spec->epochs, batch = o->batch > 0 ? o->batch : spec->batch;
  double lr = o->lr > 0 ? o->lr : spec->lr;
  nnc_optim_kind kind = spec->optim;
  bool muon = false;
  if (o->optim && !parse_optim(o->optim, &kind, &muon)) {
    fprintf(stderr, "nnc: --optim must be sgd, adam, adamw or muon, not '%s'\n", o->optim);
    return 2;
  }
  if (muon && !(o->lr > 0)) lr = MUON_LR; /* --lr is Muon's; the AdamW part runs at lr * MUON_AUX_RATIO */
  if (o->threads > 0) nnc_set_threads(o->threads);
  const char *dir = o->out_dir ? o->out_dir : "runs/out";
  if (nnc_mkdirs(dir)) return fail("output folder");

  nnc_dataset train, test;
  if (nnc_fashion_load(o->data_dir, true, &train)) return fail("training data");
  if (nnc_fashion_load(o->data_dir, false, &test)) {
    nnc_dataset_free(&train);
    return fail("test data");
  }
  int64_t n_train = o->limit > 0 && o->limit < train.n ? o->limit : train.n;

  nnc_params params, buffers;
  nnc_params_init(&params, NNC_F32);
  nnc_params_init(&buffers, NNC_F32);
  nnc_rng init_rng;
  nnc_rng_seed(&init_rng, o->seed, 1);
  nnc_module *model = spec->build(&params, &buffers, &init_rng);
  nnc_group_no_decay_1d(&params);

  nnc_optim opt;
  if (kind == NNC_OPTIM_SGD) nnc_sgd_init(&opt, &params, lr, spec->momentum, spec->weight_decay, true);
  else if (kind == NNC_OPTIM_ADAM) nnc_adam_init(&opt, &params, lr, 0.9, 0.999, 1e-8, spec->weight_decay);
  else if (!muon) nnc_adamw_init(&opt, &params, lr, 0.9, 0.999, 1e-8, spec->weight_decay > 0 ? spec->weight_decay : 0.01);
  else { /* the official MuonWithAuxAdam: aux Adam betas (0.9, 0.95), eps 1e-10; Muon on the hidden matrices */
    double wd = spec->weight_decay > 0 ? spec->weight_decay : 0.01;
    nnc_adamw_init(&opt, &params, lr * MUON_AUX_RATIO, 0.9, 0.95, 1e-10, wd);
    nnc_muon_attach(&opt, lr, 0.95, wd);
    lr *= MUON_AUX_RATIO; /* the schedule drives opt.lr, the AdamW lr; Muon's follows it */
  }
  nnc_grad_noise noise = nnc_grad_noise_make(o->grad_noise > 0 ? o->grad_noise : 0, NNC_GRAD_NOISE_GAMMA, o->seed);

  nnc_batcher batcher;
  nnc_batcher_init(&batcher, n_train, batch, o->seed, true, false);
  int64_t steps_per_epoch = nnc_batcher_batches_per_epoch(&batcher);
  nnc_schedule sched = nnc_sched_cosine(lr, steps_per_epoch * epochs, 0.0);

  run_state s = {0};
  s.train_loss = nnc_xcalloc((size_t)epochs, sizeof(double));
  s.test_loss = nnc_xcalloc((size_t)epochs, sizeof(double));
  s.test_acc = nnc_xcalloc((size_t)epochs, sizeof(double));
  s.seconds = nnc_xcalloc((size_t)epochs, sizeof(double));
  s.lr = nnc_xcalloc((size_t)epochs, sizeof(double));
  nnc_rng_seed(&s.augment_rng, o->seed, AUGMENT_STREAM);
  int64_t *counts = nnc_xcalloc(100, sizeof(int64_t));

  bool augment = (spec->augment || o->augment) && !o->no_augment;
  char config[512], path[1024];
  snprintf(config, sizeof config,
           "{\"model\": \"%s\", \"epochs\": %d, \"batch\": %d, \"lr\": %.17g, \"optim\": \"%s\", \"momentum\": %g, "
           "\"weight_decay\": %g, \"seed\": %" PRIu64 ", \"limit\": %" PRId64 ", \"schedule\": \"cosine\", "
           "\"grad_noise\": %g, \"augment\": %s}",
           spec->name, epochs, batch, lr,
           muon ? "muon" : kind == NNC_OPTIM_SGD ? "sgd" : kind == NNC_OPTIM_ADAM ? "adam" : "adamw",
           spec->momentum, spec->weight_decay, o->seed, n_train, noise.eta, augment ? "true" : "false");

  int rc = 0;
  path_in(dir, "metrics.jsonl", path, sizeof path);
  remove(path);
  if (o->resume) {
    if (load_checkpoint(o->resume, spec, &params, &buffers, &opt, &s, epochs)) {
      rc = fail("resume");
      goto done;
    }
    nnc_batcher_restore(&batcher, s.batcher);
    for (int e = 0; e < s.epochs_done; e++) append_metrics(dir, &s, e);
    fprintf(stderr, "resuming %s from %s after epoch %d (step %" PRId64 ")\n", spec->name, o->resume, s.epochs_done, s.step);
  }

  nnc_fit fit = {.model = model, .params = &params, .opt = &opt, .sched = &sched,
                 .augment_rng = augment ? &s.augment_rng : NULL};
  grad_noise_ctx noise_ctx = {&noise, &params};
  if (noise.eta > 0) fit.before_step = add_grad_noise, fit.before_ctx = &noise_ctx;
  for (int e = s.epochs_done; e < epochs; e++) {
    char label[64];
    snprintf(label, sizeof label, "epoch %d/%d", e + 1, epochs);
    fit.label = label;
    double t0 = nnc_now();
    double train_loss = nnc_fit_epoch(&fit, &train, &batcher, &s.step);
    if (!isfinite(train_loss)) {
      fprintf(stderr, "nnc: training diverged: the loss is not finite in epoch %d (try a smaller --lr)\n", e + 1);
      rc = 1;
      goto done;
    }
    s.seconds[e] = nnc_now() - t0;
    s.train_loss[e] = train_loss;
    s.lr[e] = opt.lr;
    nnc_eval_result r = nnc_evaluate(model, &test, counts);
    s.test_loss[e] = r.loss;
    s.test_acc[e] = r.acc;
    s.epochs_done = e + 1;
    s.batcher = nnc_batcher_save(&batcher);
    fprintf(stderr, "epoch %d/%d: train_loss %.4f test_loss %.4f test_acc %.2f%% (%.2f s)\n", e + 1, epochs, s.train_loss[e],
            r.loss, 100 * r.acc, s.seconds[e]);
    if (append_metrics(dir, &s, e) || save_model(path_in(dir, "model.safetensors", path, sizeof path), spec, &params, &buffers) ||
        save_checkpoint(path_in(dir, "checkpoint.safetensors", path, sizeof path), spec, &params, &buffers, &opt, &s, config) ||
        write_reports(dir, spec, &s, counts, &params)) {
      rc = fail("writing results");
      goto done;
    }
    if (o->stop_after > 0 && s.epochs_done >= o->stop_after && s.epochs_done < epochs) {
      fprintf(stderr, "stopping after epoch %d as asked; continue with --resume %s/checkpoint.safetensors\n", s.epochs_done, dir);
      break;
    }
  }
  if (s.epochs_done > 0)
    printf("%s: test_acc %.4f test_loss %.4f after %d epochs; results in %s/\n", spec->name, s.test_acc[s.epochs_done - 1],
           s.test_loss[s.epochs_done - 1], s.epochs_done, dir);
done:
  free(counts);
  free(s.train_loss);
  free(s.test_loss);
  free(s.test_acc);
  free(s.seconds);
  free(s.lr);
  nnc_batcher_free(&batcher);
  nnc_optim_free(&opt);
  nnc_module_free(model);
  nnc_params_free(&params);
  nnc_params_free(&buffers);
  nnc_dataset_free(&train);
  nnc_dataset_free(&test);
  nnc_step_end();
  return rc;
}

int nnc_eval_classifier(const nnc_model_spec *spec, const char *weights, const char *data_dir, bool json) {
  nnc_params params, buffers;
  nnc_params_init(&params, NNC_F32);
  nnc_params_init(&buffers, NNC_F32);
  nnc_rng rng;
  nnc_rng_seed(&rng, 0, 1);
  nnc_module *model = spec->build(&params, &buffers, &rng);
  nnc_dataset test = {0};
  int rc = 0;
  /* one file holds both blocks (as PyTorch's state_dict does): each must be complete */
  nnc_st_file *f = NULL;
  if (nnc_st_read(weights, &f) || nnc_params_load_from(&params, f, "", false) || nnc_params_load_from(&buffers, f, "", false)) {
    rc = fail("weights");
  } else if (nnc_fashion_load(data_dir, false, &test)) {
    rc = fail("test data");
  } else {
    nnc_eval_result r = nnc_evaluate(model, &test, NULL);
    if (json) printf("{\"test_acc\": %.6f, \"test_loss\": %.6f}\n", r.acc, r.loss);
    else printf("test_acc %.4f test_loss %.4f (%" PRId64 " test images)\n", r.acc, r.loss, test.n);
  }
  nnc_st_free(f);
  nnc_dataset_free(&test);
  nnc_module_free(model);
  nnc_params_free(&params);
  nnc_params_free(&buffers);
  return rc;
}
