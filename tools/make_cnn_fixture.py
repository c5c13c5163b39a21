#!/usr/bin/python3
"""Makes tests/fixtures/cnn_parity.safetensors, the PyTorch reference of the Fashion-MNIST CNN
(nnc's fashion-cnn, src/train/models.c: conv1 5x5 1->32 pad 2, ReLU, maxpool 2; conv2 5x5 32->64
pad 2, ReLU, maxpool 2; fc1 3136->1024, ReLU; fc2 1024->10; PyTorch's nn.Conv2d / nn.Linear names
and layouts), read by tests/test_cnn_parity.c.

Needs PyTorch and NumPy (run with /usr/bin/python3) and the Fashion-MNIST IDX files
(/usr/share/datasets/fashion-mnist).  Running the test does not need PyTorch.

The initial weights are not stored (fc1.weight alone is 3.2M floats): both sides make them with
the formula below, in integer arithmetic and one float32 rounding, so they are bit-identical:
    h    = lowbias32((i + 0x9E3779B9 * (k + 1)) mod 2^32)  for element i (flat, row-major) of
           parameter k in the order conv1.weight, conv1.bias, conv2.weight, conv2.bias,
           fc1.weight, fc1.bias, fc2.weight, fc2.bias
    w[i] = float32( ((h >> 8) - 2^23) / 2^23 * b )       in [-b, b), b = float32(1 / sqrt(fan_in))
lowbias32 (C. Wellons): x ^= x >> 16; x *= 0x7feb352d; x ^= x >> 15; x *= 0x846ca68b; x ^= x >> 16
(uint32).  (h >> 8) - 2^23 has 24 bits and b 24, so the product is exact in float64 and rounded
once to float32.  b is PyTorch's default bound (kaiming_uniform_(a=sqrt(5)) for the weights, and
the same 1/sqrt(fan_in) for the biases): fan_in 25, 800, 3136, 1024.

The reference is PyTorch in float64 from those float32 weights and the float32 images, stored as
F32 (losses and moments as F64).  Tensors:
  x [16, 784] F32, y [16] I64   training images 0..15 normalised exactly as nnc does (bit-identical
                                to its loader) and their labels
  init/<p>.sample               the generated initial weights, flat[::s] (s in the metadata
                                "stride/init/<p>.sample"), which the test compares bit for bit
  init/<p>.moments [3] F64      sum w, sum |w|, sum w^2 over the whole tensor
  logits [16, 10], loss [1] F64 model(x), F.cross_entropy(logits, y) (mean over the batch)
  grad/<p>                      the gradients, complete for every parameter but fc1.weight, of
                                which grad/fc1.weight.sample = flat[::97] (33106 of its 3211264
                                elements, metadata "stride/grad/fc1.weight.sample") and
                                grad/fc1.weight.moments [3] F64 (sum, sum |.|, sum of squares)
  sgd/losses [4] F64            3 steps on that batch from the initial weights of SGD lr 0.05,
                                momentum 0.9, Nesterov, weight decay 5e-4 on the weights (conv and
                                fc) and 0 on the biases (nnc's trainer: nnc_group_no_decay_1d);
                                losses[k] is the loss before step k+1, losses[3] the one after
  sgd/final/<p>                 the weights after the 3 steps, fc1.weight as sample + moments
The file is under 1 MB.  The script also prints how far PyTorch's own float32 run is from the
float64 reference by the test's criterion.

Rounding-dependent branches.  A float32 run takes the same ReLU and max-pool branches as the
float64 reference only where the margin (a ReLU input's |value|, the gap between a pool window's
two largest values) exceeds the float32 error of the values compared.  That error is measured in
units of u * S, u = 2^-24 and S the sum of the absolute terms of the dot product (|w| . |x| + |b|):
PyTorch's float32 run is off the float64 one by 0.33..0.49 u * S (standard deviation over a conv
layer's values, steps 0..3), at most 5.2 u * S, so a pool gap's margin (gap / u (S_A + S_B)) has
an error of about 0.3: a decision of margin below ~1 can go either way, one below ~3 in the
tails.  With ~300k decisions per forward some margins are always that small, and some of those
branches matter: routing one window's gradient to the other element can change a conv weight
gradient by 1e-3 of its scale, and then a float32 run that flips it fails the 1e-5 criterion
through no fault of its own.  The script prints
the smallest margin per forward; with --risk it also replays the float64 trajectory with each
decision of margin < 8 flipped and prints the effect on what the test checks.  For images 0..15
the decisions below 3 are all at steps 2 and 3, with effects of at most 7.2e-6, except one conv2
pool window at step 2 (margin 2.38, 1.6e-5 on the final conv2.weight); the riskiest at step 0 is a
conv1 pool window of margin 3.84 (1.4e-3 on its gradient), which 20000 random summation orders of
its 26 float32 products never flipped.  Images 16..31 and 32..47 were worse (a decision of margin
1.5 with an effect of 4.7e-4; one of 0.18 with 1.9e-2), so run --risk before changing BATCH, STEPS
or the images.

Usage:  /usr/bin/python3 tools/make_cnn_fixture.py [--risk]
"""
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_torch_loads import fashion  # noqa: E402
from make_mlp_fixture import spread, write_safetensors  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "tests", "fixtures", "cnn_parity.safetensors")
NAMES = ["conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias", "fc1.weight", "fc1.bias", "fc2.weight",
         "fc2.bias"]
FAN_IN = {"conv1": 25, "conv2": 800, "fc1": 3136, "fc2": 1024}
BATCH = 16
STEPS = 3
SAMPLE_STRIDE = 97  # fc1.weight's gradient and final weights: flat[::97]
LR, MOMENTUM, WD = 0.05, 0.9, 5e-4
U = 2.0**-24  # float32 unit roundoff
RISK_MARGIN = 8  # --risk replays the decisions with margins below this many u * S


class FashionCNN(torch.nn.Module):
    """nnc's fashion-cnn with the same parameter names; x [B, 784] -> logits [B, 10].
    hook(k, y, h, layer), if given, sees (and may replace) layer k's output y before its ReLU,
    h being the layer's input (k = 0, 1: conv1, conv2; k = 2: fc1)."""

    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(1, 32, 5, padding=2)
        self.conv2 = torch.nn.Conv2d(32, 64, 5, padding=2)
        self.fc1 = torch.nn.Linear(3136, 1024)
        self.fc2 = torch.nn.Linear(1024, 10)

    def forward(self, x, hook=None):
        h = x.reshape(-1, 1, 28, 28)
        for k, conv in enumerate((self.conv1, self.conv2)):
            y = conv(h)
            h = F.max_pool2d(torch.relu(hook(k, y, h, conv) if hook else y), 2)
        h = h.flatten(1)
        y = self.fc1(h)
        return self.fc2(torch.relu(hook(2, y, h, self.fc1) if hook else y))


def lowbias32(x):
    """uint32 array -> uint32 array (numpy wraps uint32 products mod 2^32)"""
    x = x ^ (x >> np.uint32(16))
    x = x * np.uint32(0x7FEB352D)
    x = x ^ (x >> np.uint32(15))
    x = x * np.uint32(0x846CA68B)
    return x ^ (x >> np.uint32(16))


def init_values(k, shape, fan_in):
    """parameter k's initial values (float32), by the formula in the docstring"""
    n = math.prod(shape)
    seed = (0x9E3779B9 * (k + 1)) % 2**32
    i = (np.arange(n, dtype=np.uint64) + np.uint64(seed)) % np.uint64(2**32)
    h = lowbias32(i.astype(np.uint32))
    m = (h >> np.uint32(8)).astype(np.int64) - 2**23
    b = np.float64(np.float32(1.0 / math.sqrt(fan_in)))
    w = (m.astype(np.float64) / 2.0**23 * b).astype(np.float32)
    return torch.from_numpy(w).reshape(shape)


def make_model(dt):
    m = FashionCNN()
    assert [n for n, _ in m.named_parameters()] == NAMES
    with torch.no_grad():
        for k, (name, p) in enumerate(m.named_parameters()):
            p.copy_(init_values(k, p.shape, FAN_IN[name.split(".")[0]]))
    return m.to(dt)


def trajectory(dt, x, y, hook=None):
    """STEPS SGD steps from the initial weights as nnc's trainer runs them: the first forward's
    logits, loss and gradients, the loss before each step and after the last, the final weights.
    hook(step, k, y, h, layer) is passed on to each forward."""
    m = make_model(dt)
    decay = [p for p in m.parameters() if p.dim() > 1]
    no_decay = [p for p in m.parameters() if p.dim() <= 1]
    opt = torch.optim.SGD([{"params": decay, "weight_decay": WD}, {"params": no_decay, "weight_decay": 0.0}],
                          lr=LR, momentum=MOMENTUM, nesterov=True)
    r, losses = {}, []
    for s in range(STEPS + 1):
        opt.zero_grad()
        logits = m(x.to(dt), (lambda *a, s=s: hook(s, *a)) if hook else None)
        loss = F.cross_entropy(logits, y)
        losses.append(loss.item())
        if s == STEPS:
            break
        loss.backward()
        if s == 0:
            r.update({"logits": logits.detach(), "loss": loss.item()})
            r.update({f"grad/{n}": p.grad.detach().clone() for n, p in m.named_parameters()})
        opt.step()
    r["sgd/losses"] = torch.tensor(losses, dtype=torch.float64)
    r.update({f"sgd/final/{n}": p.detach().clone() for n, p in m.named_parameters()})
    return r


def decisions(k, y, h, layer):
    """layer k's branch decisions as (margin in units of u * S, index into y.flatten(), change to
    y there that flips the decision, kind), for those with margin < RISK_MARGIN, and the smallest
    margin of each kind.  Conv layers: per 2x2 pool window whose largest value A is positive, the
    gap to the runner-up B (flipped by lifting B above A), and per window |A| (the ReLU; flipped by
    negating A); fc1: each |value|."""
    with torch.no_grad():
        y = y.detach()
        if k == 2:
            s = (h.abs() @ layer.weight.abs().t() + layer.bias.abs()).flatten()
            mg = y.flatten().abs() / (U * s)
            pick = (mg < RISK_MARGIN).nonzero().flatten().tolist()
            out = [(mg[i].item(), i, -2 * y.flatten()[i].item(), "fc1 relu") for i in pick]
            return out, {"fc1 relu": mg.min().item()}
        s = F.conv2d(h.abs(), layer.weight.abs(), layer.bias.abs(), padding=2)

        def windows(t):
            return t.unfold(2, 2, 2).unfold(3, 2, 2).reshape(*t.shape[:2], t.shape[2] // 2, t.shape[3] // 2, 4)

        top, idx = windows(y).topk(2, dim=-1)
        flat = windows(torch.arange(y.numel()).reshape(y.shape))
        ia, ib = flat.gather(-1, idx[..., :1])[..., 0], flat.gather(-1, idx[..., 1:])[..., 0]
        sa, sb = s.flatten()[ia], s.flatten()[ib]
        a, gap = top[..., 0], top[..., 0] - top[..., 1]
        # exact ties (gap 0) are constant patches of the background, equal in any precision
        gap_ok = (a > 0) & (gap > 0)
        mg_gap = torch.where(gap_ok, gap / (U * (sa + sb)), torch.full_like(gap, math.inf))
        mg_relu = a.abs() / (U * sa)
        out = [(v, i, 1.5 * g, f"conv{k + 1} pool") for v, i, g in
               zip(mg_gap[mg_gap < RISK_MARGIN].tolist(), ib[mg_gap < RISK_MARGIN].tolist(),
                   gap[mg_gap < RISK_MARGIN].tolist())]
        out += [(v, i, -2 * t, f"conv{k + 1} relu") for v, i, t in
                zip(mg_relu[mg_relu < RISK_MARGIN].tolist(), ia[mg_relu < RISK_MARGIN].tolist(),
                    a[mg_relu < RISK_MARGIN].tolist())]
        return out, {f"conv{k + 1} pool": mg_gap.min().item(), f"conv{k + 1} relu": mg_relu.min().item()}


def criterion(k, a, b):
    """the test's error of a against b: per element for the losses, else max |a - b| / max |b|"""
    if k == "loss":
        return abs(a - b) / abs(b)
    if k.endswith("/losses"):
        return ((a - b).abs() / b.abs()).max().item()
    return spread(a, b)


def risk(x, y, ref):
    """the smallest margins per forward; with --risk, the effect of flipping each risky decision"""
    found, smallest = [], [{} for _ in range(STEPS + 1)]

    def hook(s, k, yk, h, layer):
        d, least = decisions(k, yk, h, layer)
        found.extend((s,) + t for t in d)
        smallest[s].update(least)
        return yk

    trajectory(torch.float64, x, y, hook)
    for s, least in enumerate(smallest):
        print(f"  forward {s}: smallest margin (u * S) " + ", ".join(f"{n} {v:.3g}" for n, v in least.items()))
    if "--risk" not in sys.argv:
        return
    print(f"effect of flipping each decision of margin < {RISK_MARGIN} u * S (replayed in float64):")
    for s, v, i, delta, kind in sorted(found):
        def flip(s2, k, yk, h, layer, s=s, i=i, delta=delta, kind=kind):
            if s2 != s or not kind.startswith(("conv1", "conv2", "fc1")[k]):
                return yk
            d = torch.zeros(yk.numel(), dtype=yk.dtype)
            d[i] = delta
            return yk + d.reshape(yk.shape)
        r = trajectory(torch.float64, x, y, flip)
        e = {k: criterion(k, r[k], ref[k]) for k in ref}
        worst = max(e, key=e.get)
        print(f"  step {s} {kind:10s} margin {v:5.2f}: {e[worst]:.2g} on {worst}")


def moments(t):
    t = t.detach().double().flatten()
    return torch.tensor([t.sum().item(), t.abs().sum().item(), (t * t).sum().item()], dtype=torch.float64)


def stored(prefix, name, t, tensors, meta):
    """t (complete), or for fc1.weight its strided sample and moments"""
    if name == "fc1.weight":
        key = f"{prefix}/{name}.sample"
        tensors.append((key, t.detach().flatten()[::SAMPLE_STRIDE].float()))
        tensors.append((f"{prefix}/{name}.moments", moments(t)))
        meta[f"stride/{key}"] = str(SAMPLE_STRIDE)
    else:
        tensors.append((f"{prefix}/{name}", t.detach().float()))


def main():
    torch.set_num_threads(1)
    xs, ys = fashion(None, train=True)
    x, y = xs[:BATCH].clone(), ys[:BATCH].clone()
    meta = {"source": "tools/make_cnn_fixture.py", "torch_version": torch.__version__,
            "precision": "computed in float64 from the float32 initial weights and x; stored as F32 (losses, "
                         "moments F64)",
            "init": "lowbias32 hash of the index, see tools/make_cnn_fixture.py", "batch": str(BATCH),
            "steps": str(STEPS), "sgd": "lr 0.05, momentum 0.9, nesterov, weight_decay 5e-4 on weights, 0 on biases"}
    tensors = [("x", x), ("y", y)]
    m = make_model(torch.float32)
    for name, p in m.named_parameters():
        key = f"init/{name}.sample"
        s = 1 if p.numel() <= 1024 else SAMPLE_STRIDE
        tensors.append((key, p.detach().flatten()[::s].clone()))
        tensors.append((f"init/{name}.moments", moments(p)))
        meta[f"stride/{key}"] = str(s)

    ref, f32 = trajectory(torch.float64, x, y), trajectory(torch.float32, x, y)
    tensors += [("logits", ref["logits"].float()), ("loss", torch.tensor([ref["loss"]], dtype=torch.float64))]
    for n in NAMES:
        stored("grad", n, ref[f"grad/{n}"], tensors, meta)
    tensors.append(("sgd/losses", ref["sgd/losses"]))
    for n in NAMES:
        stored("sgd/final", n, ref[f"sgd/final/{n}"], tensors, meta)
    print("sgd losses", [round(v, 6) for v in ref["sgd/losses"].tolist()])
    print("PyTorch float32 vs float64, by the test's criterion:")
    for k in ref:
        print(f"  {k:28s} {criterion(k, f32[k], ref[k]):.3g}")
    print("rounding-dependent branches of the float64 run:")
    risk(x, y, ref)
    write_safetensors(OUT, tensors, meta)
    return 0


if __name__ == "__main__":
    sys.exit(main())
