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

mlp_parity.safetensors: the reference is PyTorch in float64, run from the float32 initial weights
and images (exactly representable), and stored as F32 (losses as F64).  Why float64: Adam divides
each gradient by its own running RMS, so an element whose gradient is at the level of float32
rounding (a near-cancelling sum over the batch) moves by up to lr per step whatever the rounding
did; PyTorch's own float32 run ends up to 1.1e-3 (relative to the tensor's scale) off the
float64 one in 20 elements of fc2.weight, so a float32 reference cannot check anything to 1e-5
there.  Everything else of PyTorch's float32 run is within 1e-6 of the float64 one (the script
prints the list); the float32 spreads of Adam's final weights go into the metadata
("torch_f32_spread/adam/final/<name>") for the test's f32 bound.
  init/fc1.weight ... init/fc3.bias   the initial weights (nn.Linear's default init, seed 0), F32
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
  which keeps the file under 3 MB; the loss sequence depends on all of them anyway.

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
            out.append((f"{prefix}/final/fc1.weight.rows", p.detach()[::ROWS_STRIDE].float()))
        else:
            out.append((f"{prefix}/final/{name}", p.detach().float()))
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


def spread(a, b):
    """max |a - b| / max |b|: the test's criterion"""
    return ((a.double() - b.double()).abs().max() / b.double().abs().max().clamp_min(1e-12)).item()


def parity():
    xs, ys = fashion(None, train=True)
    x, y = xs[:BATCH].clone(), ys[:BATCH].clone()
    model = make_model()
    assert [n for n, _ in model.named_parameters()] == NAMES
    tensors = [(f"init/{n}", p.detach().clone()) for n, p in model.named_parameters()]
    tensors += [("x", x), ("y", y)]
    meta = {"source": "tools/make_mlp_fixture.py", "torch_version": torch.__version__, "seed": "0",
            "precision": "computed in float64 from the float32 init/ weights and x; stored as F32 (losses F64)",
            "batch": str(BATCH), "steps": str(STEPS), "fc1_rows_stride": str(ROWS_STRIDE),
            "sgd": "lr 0.05, momentum 0.9, nesterov, weight_decay 5e-4 on weights, 0 on biases",
            "adam": "lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight_decay 0"}

    # the reference: float64 from the float32 values (see the docstring for why)
    runs = {}
    for dt in (torch.float64, torch.float32):
        m = make_model().to(dt)
        logits = m(x.to(dt))
        loss = F.cross_entropy(logits, y)
        loss.backward()
        r = {"logits": logits.detach(), "loss": loss.item()}
        r.update({f"grad/{n}": p.grad.detach().clone() for n, p in m.named_parameters()})
        for opt in ("sgd", "adam"):
            m = make_model().to(dt)
            o = sgd_groups(m, 0.05, 0.9, 5e-4) if opt == "sgd" else torch.optim.Adam(m.parameters(), lr=1e-3)
            r[f"{opt}/losses"] = train_steps(m, o, x.to(dt), y)
            r.update(final_weights(opt, m))
        runs[dt] = r
    ref, f32 = runs[torch.float64], runs[torch.float32]
    tensors += [("logits", ref["logits"].float()), ("loss", torch.tensor([ref["loss"]], dtype=torch.float64))]
    tensors += [(f"grad/{n}", ref[f"grad/{n}"].float()) for n in NAMES]
    for opt in ("sgd", "adam"):
        tensors.append((f"{opt}/losses", ref[f"{opt}/losses"]))
        tensors += [(k, v) for k, v in ref.items() if k.startswith(f"{opt}/final/")]
        print(opt, "losses", [round(v, 6) for v in ref[f"{opt}/losses"].tolist()])
    # how far PyTorch's own float32 run is from the float64 reference, by the test's criterion
    print("PyTorch float32 vs float64:")
    for k in ref:
        if k == "loss":
            s = abs(f32[k] - ref[k]) / abs(ref[k])
        elif k.endswith("/losses"):  # each step's loss on its own, as the test checks them
            s = ((f32[k] - ref[k]).abs() / ref[k].abs()).max().item()
        else:
            s = spread(f32[k], ref[k])
        print(f"  {k:28s} {s:.3g}")
        if k.startswith("adam/final/"):
            meta[f"torch_f32_spread/{k}"] = f"{s:.3g}"
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
