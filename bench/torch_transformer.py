#!/usr/bin/env python3
"""bench/torch_transformer.py: PyTorch's side of `nnc bench transformer`.

The same model and training step as nnc's benchmark (src/cli/cmd_bench.c):
  token embedding (vocab 16, width 64) + learned positions (64 x 64),
  2 pre-norm blocks = nn.TransformerEncoderLayer(64, nhead=2, dim_feedforward=256,
      dropout=0, activation='gelu', batch_first=True, norm_first=True) with a causal mask,
  final LayerNorm, linear head 64 -> 16,
  batch 32, sequence 64, cross-entropy against random tokens, Adam (lr 1e-3).
One step = zero_grad + forward + backward + Adam step.  After WARMUP untimed steps, each of
STEPS steps is timed alone (time.perf_counter); prints one JSON line
{"ms_per_step": median, "ms_min": min, "threads": T, "steps": N}.
Usage: /usr/bin/python3 bench/torch_transformer.py [--threads T] [--steps N]
"""
import argparse
import json
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

ap = argparse.ArgumentParser()
ap.add_argument("--threads", type=int, default=1)
ap.add_argument("--steps", type=int, default=100)
ap.add_argument("--warmup", type=int, default=10)
args = ap.parse_args()
torch.set_num_threads(args.threads)
torch.manual_seed(0)

VOCAB, WIDTH, HEADS, FF, LAYERS, BATCH, SEQ = 16, 64, 2, 256, 2, 32, 64


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.tok = nn.Embedding(VOCAB, WIDTH)
        self.pos = nn.Embedding(SEQ, WIDTH)
        self.blocks = nn.ModuleList(
            nn.TransformerEncoderLayer(WIDTH, HEADS, dim_feedforward=FF, dropout=0.0, activation="gelu",
                                       batch_first=True, norm_first=True) for _ in range(LAYERS))
        self.norm = nn.LayerNorm(WIDTH)
        self.head = nn.Linear(WIDTH, VOCAB)

    def forward(self, idx, mask):
        x = self.tok(idx) + self.pos(torch.arange(idx.shape[1]))
        for b in self.blocks:
            x = b(x, src_mask=mask)
        return self.head(self.norm(x))


model = Model()
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
mask = torch.triu(torch.ones(SEQ, SEQ, dtype=torch.bool), diagonal=1)  # True = masked out
gen = torch.Generator().manual_seed(1)


def step():
    idx = torch.randint(0, VOCAB, (BATCH, SEQ), generator=gen)
    tgt = torch.randint(0, VOCAB, (BATCH, SEQ), generator=gen)
    opt.zero_grad(set_to_none=True)
    logits = model(idx, mask)
    loss = F.cross_entropy(logits.reshape(-1, VOCAB), tgt.reshape(-1))
    loss.backward()
    opt.step()
    return loss.item()


for _ in range(args.warmup):
    step()
times = []
for _ in range(args.steps):
    t0 = time.perf_counter()
    step()
    times.append((time.perf_counter() - t0) * 1e3)
print(json.dumps({"ms_per_step": statistics.median(times), "ms_min": min(times), "threads": args.threads,
                  "steps": args.steps}))
