#!/usr/bin/python3
"""Makes the PyTorch references of the Fashion-MNIST MLP (nnc's fashion-mlp: fc1 784->256, ReLU,
fc2 256->256, ReLU, fc3 256->10, PyTorch's nn.Linear names and layouts):

  tests/fixtures/mlp_parity.safetensors   read by tests/test_mlp_parity.c
  tests/fixtures/mlp_torch.safetensors    read by tests/test_crossover.sh

Needs PyTorch (Debian's python3-torch; run with /usr/bin/python3) and the Fashion-MNIST IDX files
(/usr/share/datasets/fashion-mnist).  Deterministic: torch.manual_seed(0), one thread.  Running
the tests does not need PyTorch.  There is no safetensors Python package here, so the files are
written by hand (8-byte little-endian header length, JSON header padded with spaces to a
multiple of 8, then the data), as tools/make_io_fixture.py does.

mlp_parity.safetensors (everything float32 as PyTorch computed it, unless said otherwise):
  init/fc1.weight ... init/fc3.bias   the initial weights (nn.Linear's default init, seed 0)
  x [32, 784] F32, y [32] I64          training images 0..31, normalised (x/255 - 0.2860)/0.3530
                                       exactly as nnc does (bit-identical), and their labels
  logits [32, 10]                      model(x)
  loss [1] F64                         F.cross_entropy(logits, y) (mean over the batch)
  grad/fc1.weight ... grad/fc3.bias    the gradients of that loss
  sgd/losses [10] F64                  10 steps on that one batch from the initial weights of
                                       SGD lr 0.05, momentum 0.9, Nesterov, weight decay 5e-4 on
                                       the weights and 0 on the biases (two parameter groups:
                                       what nnc's trainer does with nnc_group_no_decay_1d);
                                       losses[k] is the loss before step k+1
  sgd/final/<name>                     the weights after the 10 steps, see below
  adam/losses [10] F64, adam/final/... the same for Adam lr 1e-3 (betas 0.9, 0.999, eps 1e-8,
                                       no weight decay)
  The final weights are complete except fc1.weight, of which every 16th row (rows 0, 16, ...,
  240: [16, 784]) is stored as <opt>/final/fc1.weight.rows (metadata "fc1_rows_stride": "16"),
  which keeps the file under 3 MB; the final loss sequence depends on all of them anyway.

mlp_torch.safetensors: a FashionMLP (seed 0 init) trained by PyTorch for 1 epoch on the 60000
training images: batch 128 shuffled by a torch.Generator seeded 0, SGD lr 0.05 constant,
momentum 0.9, Nesterov, weight decay 5e-4 on the weights only.  Tensors fc1.weight ... fc3.bias
(F32); metadata "torch_test_acc", "torch_test_loss" (accuracy and mean cross-entropy on the
10000 test images, evaluated in batches of 1000 as nnc eval does), "source", "format": "pt".

Usage:  /usr/bin/python3 tools/make_mlp_fixture.py [parity|crossover]   (default: both)
"""
import json
import os
import struct
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_torch_loads import FashionMLP, evaluate, fashion, read_safetensors  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "tests", "fixtures")
NAMES = ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias", "fc3.weight", "fc3.bias"]
BATCH = 32
STEPS = 10
ROWS_STRIDE = 16
DT = {torch.float64: "F64", torch.float32: "F32", torch.int64: "I64"}


def write_safetensors(path, tensors, metadata):
    header, blobs, off = {}, [], 0
    if metadata:
        header["__metadata__"] = metadata
    for name, t in tensors:
        t = t.detach().contiguous()
        b = t.numpy().astype(t.numpy().dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": DT[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))
    os.replace(tmp, path)
    # read it back: the hand-written file must round-trip exactly
    back, meta = read_safetensors(path)
    assert meta == (metadata or {})
    for name, t in tensors:
        assert torch.equal(back[name], t.detach()), name
    print(f"wrote {os.path.relpath(path)} ({os.path.getsize(path)} bytes, {len(tensors)} tensors)")


def make_model():
    torch.manual_seed(0)
    return FashionMLP()


def sgd_groups(model, lr, momentum, wd):
    """SGD with weight decay on the weights only (nnc_group_no_decay_1d: no decay for <= 1-d)."""
    decay = [p for p in model.parameters() if p.dim() > 1]
    no_decay = [p for p in model.parameters() if p.dim() <= 1]
    return torch.optim.SGD([{"params": decay, "weight_decay": wd}, {"params": no_decay, "weight_decay": 0.0}],
                           lr=lr, momentum=momentum, nesterov=True)


def final_weights(prefix, model):
    out = []
    for name, p in model.named_parameters():
        if name == "fc1.weight":
            out.append((f"{prefix}/final/fc1.weight.rows", p.detach()[::ROWS_STRIDE].clone()))
        else:
            out.append((f"{prefix}/final/{name}", p.detach().clone()))
    return out


def train_steps(model, opt, x, y):
    losses = []
    for _ in range(STEPS):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        losses.append(loss.item())
        loss.backward()
        opt.step()
    return torch.tensor(losses, dtype=torch.float64)


def parity():
    xs, ys = fashion(None, train=True)
    x, y = xs[:BATCH].clone(), ys[:BATCH].clone()
    model = make_model()
    assert [n for n, _ in model.named_parameters()] == NAMES
    tensors = [(f"init/{n}", p.detach().clone()) for n, p in model.named_parameters()]
    tensors += [("x", x), ("y", y)]
    logits = model(x)
    loss = F.cross_entropy(logits, y)
    loss.backward()
    tensors += [("logits", logits.detach()), ("loss", torch.tensor([loss.item()], dtype=torch.float64))]
    tensors += [(f"grad/{n}", p.grad.detach().clone()) for n, p in model.named_parameters()]

    m = make_model()
    losses = train_steps(m, sgd_groups(m, 0.05, 0.9, 5e-4), x, y)
    tensors += [("sgd/losses", losses)] + final_weights("sgd", m)
    print("sgd losses", [round(v, 6) for v in losses.tolist()])

    m = make_model()
    losses = train_steps(m, torch.optim.Adam(m.parameters(), lr=1e-3), x, y)
    tensors += [("adam/losses", losses)] + final_weights("adam", m)
    print("adam losses", [round(v, 6) for v in losses.tolist()])

    meta = {"source": "tools/make_mlp_fixture.py", "torch_version": torch.__version__, "seed": "0",
            "batch": str(BATCH), "steps": str(STEPS), "fc1_rows_stride": str(ROWS_STRIDE),
            "sgd": "lr 0.05, momentum 0.9, nesterov, weight_decay 5e-4 on weights, 0 on biases",
            "adam": "lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight_decay 0"}
    write_safetensors(os.path.join(OUT, "mlp_parity.safetensors"), tensors, meta)


def crossover():
    x, y = fashion(None, train=True)
    xt, yt = fashion(None, train=False)
    model = make_model()
    opt = sgd_groups(model, 0.05, 0.9, 5e-4)
    g = torch.Generator().manual_seed(0)
    order = torch.randperm(x.shape[0], generator=g)
    model.train()
    loss_sum = 0.0
    for s in range(0, x.shape[0], 128):
        idx = order[s:s + 128]
        opt.zero_grad()
        loss = F.cross_entropy(model(x[idx]), y[idx])
        loss.backward()
        opt.step()
        loss_sum += loss.item() * idx.numel()
    acc, test_loss = evaluate(model, xt, yt)
    print(f"torch 1 epoch: train_loss {loss_sum / x.shape[0]:.4f} test_acc {acc:.4f} test_loss {test_loss:.6f}")
    tensors = [(n, p.detach().clone()) for n, p in model.named_parameters()]
    meta = {"format": "pt", "source": "tools/make_mlp_fixture.py", "torch_version": torch.__version__,
            "torch_test_acc": repr(acc), "torch_test_loss": repr(test_loss),
            "training": "1 epoch, batch 128, seed 0, SGD lr 0.05 momentum 0.9 nesterov, wd 5e-4 on weights"}
    write_safetensors(os.path.join(OUT, "mlp_torch.safetensors"), tensors, meta)


def main(argv):
    torch.set_num_threads(1)
    what = argv[1:] or ["parity", "crossover"]
    for w in what:
        if w == "parity":
            parity()
        elif w == "crossover":
            crossover()
        else:
            print(__doc__.split("Usage:")[1].strip(), file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
