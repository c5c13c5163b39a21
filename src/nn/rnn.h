/* nn/rnn.h: recurrent layers (Elman RNN with tanh or relu, GRU, LSTM), their cells, and the
 * single step as a function.  Built only from ops; PyTorch's semantics, gate order, weight
 * layouts, parameter names and initialisation, so weights cross over by name:
 *
 *   RNN   h' = act(W_ih x + b_ih + W_hh h + b_hh)                            G = 1
 *   GRU   r = sigmoid(W_ir x + b_ir + W_hr h + b_hr)                         G = 3 (r, z, n)
 *         z = sigmoid(W_iz x + b_iz + W_hz h + b_hz)
 *         n = tanh(W_in x + b_in + r * (W_hn h + b_hn))
 *         h' = (1 - z) * n + z * h
 *   LSTM  i, f, g, o = sigmoid, sigmoid, tanh, sigmoid of                    G = 4 (i, f, g, o)
 *           W_i* x + b_i* + W_h* h + b_h*
 *         c' = f * c + i * g,   h' = o * tanh(c')
 *
 * Weights: weight_ih [G*H, I] (layer 0; [G*H, H] above), weight_hh [G*H, H], bias_ih and
 * bias_hh [G*H], the gates stacked in the order above.  Layers name them "weight_ih_l0",
 * "weight_hh_l0", "bias_ih_l0", "bias_hh_l0", "..._l1", ... (nn.RNN/GRU/LSTM), cells
 * "weight_ih", "weight_hh", "bias_ih", "bias_hh" (nn.RNNCell/GRUCell/LSTMCell), each under
 * the module's name.  Every weight and bias starts U(-1/sqrt(H), 1/sqrt(H)) as in PyTorch.
 *
 * A layer's forward projects the inputs of all timesteps at once (one nnc_linear: one GEMM of
 * [B*T, I] x [I, G*H]), then runs one hidden GEMM and the gate elementwise ops per step. */
#ifndef NNC_NN_RNN_H
#define NNC_NN_RNN_H
#include "core/rng.h"
#include "nn/module.h"

typedef enum { NNC_RNN_TANH, NNC_RNN_RELU, NNC_RNN_GRU, NNC_RNN_LSTM } nnc_rnn_kind;

/* gates stacked in the weights: 1 (tanh, relu), 3 (GRU), 4 (LSTM) */
int nnc_rnn_gates(nnc_rnn_kind kind);
const char *nnc_rnn_kind_name(nnc_rnn_kind kind); /* "RNN_TANH", "RNN_RELU", "GRU", "LSTM" */

/* One step as a function: x [B, I], h [B, H] (c [B, H] for LSTM; NULL h or c means zeros)
 * -> h' [B, H]; for LSTM *c_out gets c' (c_out may be NULL otherwise).  Biases may be NULL. */
nnc_tensor *nnc_rnn_step(nnc_rnn_kind kind, nnc_tensor *x, nnc_tensor *h, nnc_tensor *c, nnc_tensor *w_ih,
                         nnc_tensor *w_hh, nnc_tensor *b_ih, nnc_tensor *b_hh, nnc_tensor **c_out);

/* ---- cells: one step with their own weights (nn.RNNCell / GRUCell / LSTMCell) ---- */
typedef struct {
  nnc_module base;
  nnc_rnn_kind kind;
  int64_t input_size, hidden_size;
  nnc_tensor *weight_ih, *weight_hh, *bias_ih, *bias_hh; /* biases NULL without bias */
} nnc_rnn_cell_mod;
/* rng NULL = the global stream */
nnc_rnn_cell_mod *nnc_new_rnn_cell(nnc_params *p, const char *name, nnc_rnn_kind kind, int64_t input_size,
                                   int64_t hidden_size, bool bias, nnc_rng *r);
/* x [B, I], h and c [B, H] or NULL (zeros) -> h' [B, H]; *c_out gets c' for LSTM.
 * nnc_forward(&cell->base, x) is the step from zero state, returning h'. */
nnc_tensor *nnc_rnn_cell_forward(nnc_rnn_cell_mod *m, nnc_tensor *x, nnc_tensor *h, nnc_tensor *c, nnc_tensor **c_out);

/* ---- layers: a stack of recurrences over a sequence (nn.RNN / GRU / LSTM, batch_first) ---- */
#define NNC_RNN_MAX_LAYERS 16
typedef struct {
  nnc_module base;
  nnc_rnn_kind kind;
  int64_t input_size, hidden_size;
  int num_layers;
  double dropout; /* on the outputs of every layer but the last, in training (PyTorch's) */
  nnc_rng rng;    /* the dropout masks' stream */
  nnc_tensor *weight_ih[NNC_RNN_MAX_LAYERS], *weight_hh[NNC_RNN_MAX_LAYERS];
  nnc_tensor *bias_ih[NNC_RNN_MAX_LAYERS], *bias_hh[NNC_RNN_MAX_LAYERS]; /* NULL without bias */
} nnc_rnn_mod;
nnc_rnn_mod *nnc_new_rnn(nnc_params *p, const char *name, nnc_rnn_kind kind, int64_t input_size, int64_t hidden_size,
                         int num_layers, bool bias, nnc_rng *r);
/* dropout p between layers, masks from stream (seed, stream) */
void nnc_rnn_set_dropout(nnc_rnn_mod *m, double p, uint64_t seed, uint64_t stream);
/* x [B, T, I] -> the last layer's h_t for every t, [B, T, H].
 * h0 [L, B, H] or NULL (zeros); c0 [L, B, H] or NULL (LSTM only); *h_n and *c_n (when not
 * NULL) get the final states [L, B, H] (c_n: LSTM only).  Gradients flow into x, h0, c0 and
 * every weight.  nnc_forward(&m->base, x) is this with zero states. */
nnc_tensor *nnc_rnn_forward(nnc_rnn_mod *m, nnc_tensor *x, nnc_tensor *h0, nnc_tensor *c0, nnc_tensor **h_n,
                            nnc_tensor **c_n);

#endif
