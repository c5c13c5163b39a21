/* data/tasks.h: seeded synthetic sequence tasks for sequence models.
 *
 * Each generator fills caller tensors, both contiguous i64 [B, T]:
 *   tokens   the input tokens, in [0, nnc_task_vocab(task))
 *   targets  the class to predict at each position, in [0, nnc_task_classes(task)), or -1
 *            where nothing is predicted (the loss and the accuracy skip those positions)
 * from an nnc_rng, so a seed and a stream fix the data: the same rng state gives the same
 * batch on every machine.  A target at position t may depend on tokens[0..t] only, so a
 * causal model (Transformer with a causal mask, RNN) can predict it.
 *
 *   parity  tokens: T random bits.  dense = false: the target at the last position is the
 *           XOR of all T bits, -1 elsewhere; dense = true: the target at every position t is
 *           the XOR of bits 0..t (the running parity).  vocab 2, classes 2.
 *   count   the same with the number of ones modulo `modulus` (parity is modulus 2).
 *   mqar    multi-query associative recall (Arora et al. 2023, "Zoology"): `pairs` key-value
 *           pairs k1 v1 k2 v2 ... (keys distinct), then the rest of the sequence is the filler
 *           token 0 except at `queries` random positions, each holding a key from the pairs
 *           (distinct keys while queries <= pairs); the target at a query is the value paired
 *           with that key, -1 everywhere else.  Token 0 = filler, keys 1..key_vocab, values
 *           key_vocab+1..key_vocab+value_vocab; vocab = classes = 1 + key_vocab + value_vocab.
 *           Needs T >= 2*pairs + queries and key_vocab >= pairs.
 *   copy    `length` random items x (from [0, items)), the delimiter token SEP = items, then
 *           the items again, teacher forced: tokens = x0 .. x(n-1) SEP x0 .. x(n-2), targets
 *           at SEP and after = x0 .. x(n-1) (the next item to write), -1 on the input half.
 *           Positions past 2n hold PAD = items + 1 with target -1.  vocab = classes = items + 2.
 *           length 0 = T / 2.  Needs T >= 2*length.
 *   sort    the same layout, the second half the items in ascending order.
 *
 * Text (character-level language modelling) is in data/text.h. */
#ifndef NNC_DATA_TASKS_H
#define NNC_DATA_TASKS_H
#include <stdbool.h>
#include <stdint.h>
#include "core/rng.h"
#include "core/tensor.h"

typedef enum { NNC_TASK_PARITY, NNC_TASK_COUNT, NNC_TASK_MQAR, NNC_TASK_COPY, NNC_TASK_SORT } nnc_task_kind;

typedef struct {
  nnc_task_kind kind;
  bool dense;                  /* parity, count: a target at every position (the prefix's) */
  int64_t modulus;             /* count: m >= 2 (parity ignores it) */
  int64_t pairs, queries;      /* mqar: key-value pairs; queries (0 = pairs) */
  int64_t key_vocab, value_vocab; /* mqar: distinct keys and values (0 = 64 each) */
  int64_t length, items;       /* copy, sort: items to copy (0 = T / 2) and their vocabulary (0 = 10) */
} nnc_task;

const char *nnc_task_name(nnc_task_kind kind); /* "parity", "count", "mqar", "copy", "sort" */
int64_t nnc_task_vocab(const nnc_task *t);     /* input tokens are in [0, vocab) */
int64_t nnc_task_classes(const nnc_task *t);   /* targets are in [0, classes) or -1 */
int64_t nnc_task_min_len(const nnc_task *t);   /* the shortest T the task fits in */

/* Fills tokens and targets (contiguous i64 [B, T], T >= nnc_task_min_len) with B fresh
 * examples drawn from r, and bumps their versions.  Wrong shapes, dtypes or settings are
 * programming errors (nnc_fail naming the task). */
void nnc_task_fill(const nnc_task *t, nnc_tensor *tokens, nnc_tensor *targets, nnc_rng *r);

/* the generators one by one (the same as nnc_task_fill with that kind) */
void nnc_task_parity(nnc_tensor *tokens, nnc_tensor *targets, bool dense, nnc_rng *r);
void nnc_task_count(nnc_tensor *tokens, nnc_tensor *targets, int64_t modulus, bool dense, nnc_rng *r);
void nnc_task_mqar(nnc_tensor *tokens, nnc_tensor *targets, int64_t pairs, int64_t queries, int64_t key_vocab,
                   int64_t value_vocab, nnc_rng *r);
void nnc_task_copy(nnc_tensor *tokens, nnc_tensor *targets, int64_t length, int64_t items, nnc_rng *r);
void nnc_task_sort(nnc_tensor *tokens, nnc_tensor *targets, int64_t length, int64_t items, nnc_rng *r);

#endif
