/* optim/muon.h: Muon ("MomentUm Orthogonalized by Newton-Schulz", K. Jordan et al. 2024) as an
 * extension of any nnc_optim: Muon updates the hidden weight matrices, the optimiser's own rule
 * (AdamW in the official MuonWithAuxAdam) updates everything else.
 *
 * The rule, as KellerJordan/Muon muon.py (muon_update, zeropower_via_newtonschulz5,
 * SingleDeviceMuonWithAuxAdam.step), for a parameter W [rows, ...] with gradient g:
 *   m <- lerp(m, g, 1 - beta)                   (m = beta m + (1 - beta) g; beta 0.95)
 *   u <- lerp(g, m, beta) if nesterov, else m   (u = (1 - beta) g + beta m)
 *   U <- u viewed as [rows, numel / rows]       (conv filters [out, in, kh, kw] -> [out, in*kh*kw])
 *   X <- U / (||U||_F + 1e-7), transposed if rows > cols (the smaller Gram matrix)
 *   5 times: A = X X^T;  B = b A + c A A;  X = a X + B X,   (a, b, c) = (3.4445, -4.7750, 2.0315)
 *   O <- X (transposed back) * sqrt(max(1, shape[-2] / shape[-1]))
 *   W <- W (1 - lr wd) - lr O
 * Differences from the official code, all deliberate:
 *   - the iteration runs in the parameters' dtype (f32, or f64 for checks), not bfloat16;
 *   - the gradient is not changed in place (the official Nesterov path overwrites p.grad with
 *     the blended u): anything that reads the gradient after the step sees the gradient;
 *   - frozen parameters are skipped (the official code zero-fills a missing gradient, so an
 *     unused parameter still moves).
 * The scale sqrt(max(1, shape[-2]/shape[-1])) is the official one, taken on the parameter's
 * last two dimensions: rows/cols = fan_out/fan_in for a Linear weight [out, in], and kh/kw
 * (= 1) for a conv filter, exactly as muon.py computes it (grad.size(-2) / grad.size(-1)).
 * Parameters with more than 2 dimensions are flattened to [shape[0], rest] as muon.py does
 * for 4-d filters (muon.py would run a batched iteration on a 3-d tensor; we do not).
 *
 * The state is the optimiser's buf1 at Muon's parameters (momentum buffer; for AdamW that is
 * "exp_avg"), so checkpoints of the optimiser (nnc_optim_state) carry it unchanged.
 *
 *   nnc_optim o;
 *   nnc_adamw_init(&o, &params, 1e-3, 0.9, 0.95, 1e-10, 0.01);   // the official aux Adam
 *   nnc_muon_attach(&o, 0.02, 0.95, 0.01);                       // Muon lr 0.02, wd 0.01
 *   ... nnc_optim_step(&o) as before; o.lr = schedule(t) scales both rules alike ...
 *
 * Learning rate: Muon's lr follows o->lr.  nnc_muon_attach records muon_lr / o->lr; at each
 * step Muon uses o->lr times that ratio (times the parameter's lr_scale), so a schedule that
 * sets o->lr scales Muon's lr by the same factor.  Weight decay is Muon's own (decoupled,
 * times the parameter's decay_scale); o->weight_decay stays the base rule's. */
#ifndef NNC_OPTIM_MUON_H
#define NNC_OPTIM_MUON_H
#include <stdbool.h>
#include <stdint.h>
#include "core/tensor.h"
#include "optim/optim.h"

#define NNC_MUON_A 3.4445
#define NNC_MUON_B (-4.7750)
#define NNC_MUON_C 2.0315
#define NNC_MUON_EPS 1e-7

/* Muon's settings; change them between steps freely (nnc_muon_get(o)) */
typedef struct {
  nnc_optim_ext ext; /* first: the optimiser's handle */
  double lr_ratio;   /* Muon's lr / o->lr */
  double momentum;   /* beta, 0.95 */
  double weight_decay;
  bool nesterov;     /* true */
  int ns_steps;      /* 5 */
  int64_t work_size; /* elements of work (grown as needed) */
  void *work;        /* the momentum blend and the iteration's buffers */
} nnc_muon;

/* Attaches Muon to o (any kind; o->lr > 0) with Muon learning rate muon_lr, momentum beta and
 * decoupled weight decay, and gives it the default parameters (nnc_muon_select_default).
 * Returns the Muon settings (owned by o; freed by nnc_optim_free).  Stops if o already has an
 * extension. */
nnc_muon *nnc_muon_attach(nnc_optim *o, double muon_lr, double momentum, double weight_decay);
/* o's Muon settings, or NULL if Muon is not attached */
nnc_muon *nnc_muon_get(nnc_optim *o);

/* The official recipe's choice: every parameter with at least 2 dimensions, except the first
 * such parameter in the block (the input layer: first Linear or first conv), the last one (the
 * output head) and any whose name contains "embed".  Returns how many Muon now owns. */
int nnc_muon_select_default(nnc_optim *o);
/* gives (on = true) or takes away the parameters whose names start with prefix ("" = all);
 * giving a parameter with fewer than 2 dimensions stops (Muon is for matrices).  Returns how
 * many matched. */
int nnc_muon_use(nnc_optim *o, const char *prefix, bool on);
/* whether Muon owns parameter k */
bool nnc_muon_owns(const nnc_optim *o, int k);

/* ---- the orthogonalisation ---- */
/* Elements of work that nnc_newton_schulz_* needs for a [rows, cols] matrix:
 * rows*cols + 2*min(rows, cols)^2. */
int64_t nnc_newton_schulz_work(int64_t rows, int64_t cols);
/* In place: x [rows, cols] row-major <- NS_steps(x / (||x||_F + 1e-7)) with the quintic
 * coefficients above, the Gram matrix taken on the smaller side (X X^T for a wide matrix,
 * X^T X for a tall one: the official transposition, without moving data).  Each step is three
 * nnc_gemm calls: A = X X^T, B = c A A (+ b A + a I, one pass), X <- B X.  work: at least
 * nnc_newton_schulz_work(rows, cols) elements, or NULL to allocate it for this call. */
void nnc_newton_schulz_f32(float *x, int64_t rows, int64_t cols, int steps, float *work);
void nnc_newton_schulz_f64(double *x, int64_t rows, int64_t cols, int steps, double *work);
/* a new tensor (current arena): the orthogonalised [shape[0], numel/shape[0]] view of g
 * (f32 or f64, any layout), reshaped back to g's shape; no gradient */
nnc_tensor *nnc_muon_orthogonalize(nnc_tensor *g, int steps);

#endif
