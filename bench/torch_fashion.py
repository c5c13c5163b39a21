#!/usr/bin/env python3
"""bench/torch_fashion.py: PyTorch's side of the Fashion-MNIST benchmarks.

Trains the same network as `nnc train fashion-mlp` or `nnc train fashion-cnn` (SGD, momentum
0.9, Nesterov, weight decay 5e-4, batch 128, cross-entropy) for two epochs on the real
training set held in memory as one float tensor; the second epoch is timed.  Prints one
JSON line: {"model", "threads", "seconds", "train_loss"}.
Usage: /usr/bin/python3 bench/torch_fashion.py mlp|cnn THREADS [DATA_DIR]
"""
import gzip, json, sys, time
import numpy as np
import torch

model_name = sys.argv[1] if len(sys.argv) > 1 else "mlp"
threads = int(sys.argv[2]) if len(sys.argv) > 2 else 1
data = sys.argv[3] if len(sys.argv) > 3 else "/usr/share/datasets/fashion-mnist"
torch.set_num_threads(threads)
torch.manual_seed(0)

def idx(path, offset):
    with gzip.open(path, "rb") as f:
        return np.frombuffer(f.read(), dtype=np.uint8, offset=offset)

x = idx(f"{data}/train-images-idx3-ubyte.gz", 16).reshape(-1, 784).astype(np.float32)
x = torch.from_numpy((x / 255.0 - 0.2860) / 0.3530)
y = torch.from_numpy(idx(f"{data}/train-labels-idx1-ubyte.gz", 8).astype(np.int64))

nn = torch.nn
if model_name == "mlp":
    model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10))
else:
    x = x.reshape(-1, 1, 28, 28)
    model = nn.Sequential(nn.Conv2d(1, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(32, 64, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                          nn.Linear(3136, 1024), nn.ReLU(), nn.Linear(1024, 10))
decay = [p for p in model.parameters() if p.ndim > 1]
no_decay = [p for p in model.parameters() if p.ndim <= 1]
opt = torch.optim.SGD([{"params": decay, "weight_decay": 5e-4}, {"params": no_decay, "weight_decay": 0}],
                      lr=0.05, momentum=0.9, nesterov=True)
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
print(json.dumps({"model": model_name, "threads": threads, "seconds": time.perf_counter() - t0, "train_loss": loss}))
