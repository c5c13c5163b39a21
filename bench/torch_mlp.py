#!/usr/bin/env python3
"""bench/torch_mlp.py: PyTorch's side of the Fashion-MNIST MLP benchmark.

Trains the same 784-256-256-10 ReLU MLP as `nnc train fashion-mlp` (SGD, momentum 0.9,
Nesterov, batch 128, cross-entropy) for two epochs on the real training set (the second is timed), held in memory
as one float tensor, and prints one JSON line: {"threads", "seconds", "train_loss"}.
Usage: /usr/bin/python3 bench/torch_mlp.py THREADS [DATA_DIR]
"""
import gzip, json, sys, time
import numpy as np
import torch

threads = int(sys.argv[1]) if len(sys.argv) > 1 else 1
data = sys.argv[2] if len(sys.argv) > 2 else "/usr/share/datasets/fashion-mnist"
torch.set_num_threads(threads)
torch.manual_seed(0)

def idx(path, offset):
    with gzip.open(path, "rb") as f:
        return np.frombuffer(f.read(), dtype=np.uint8, offset=offset)

x = idx(f"{data}/train-images-idx3-ubyte.gz", 16).reshape(-1, 784).astype(np.float32)
x = torch.from_numpy((x / 255.0 - 0.2860) / 0.3530)
y = torch.from_numpy(idx(f"{data}/train-labels-idx1-ubyte.gz", 8).astype(np.int64))

model = torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(),
                            torch.nn.Linear(256, 256), torch.nn.ReLU(), torch.nn.Linear(256, 10))
opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True)
loss_fn = torch.nn.CrossEntropyLoss()
batch = 128

def epoch():
    perm = torch.randperm(x.shape[0])
    total, count = 0.0, 0
    for i in range(0, x.shape[0], batch):
        ids = perm[i:i + batch]
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x[ids]), y[ids])
        loss.backward()
        opt.step()
        total += loss.item() * len(ids)
        count += len(ids)
    return total / count

epoch()  # warm-up epoch, as nnc's first epoch also builds its kernels
t0 = time.perf_counter()
loss = epoch()
print(json.dumps({"threads": threads, "seconds": time.perf_counter() - t0, "train_loss": loss}))
