#!/usr/bin/python3
"""Loads a fashion-mlp or fashion-cnn model.safetensors (written by `nnc train MODEL`, or any file
with the same tensors) into a PyTorch nn.Module with load_state_dict(strict=True) and evaluates
it on the Fashion-MNIST test set, the way `nnc eval MODEL --weights FILE` does: accuracy and
mean cross-entropy over the 10000 test images.  With --torch-train, it instead trains the model
in PyTorch (torch.manual_seed(0), one pass of SGD momentum 0.9, lr 0.05, batch 128 over the first
2000 training images), writes it to FILE and evaluates that, for the other direction (PyTorch's
weights evaluated by nnc).

Needs PyTorch (Debian's python3-torch; run with /usr/bin/python3).  There is no safetensors
Python package here, so the file is parsed by hand: an 8-byte little-endian header length, a
JSON header {name: {dtype, shape, data_offsets}, "__metadata__": {str: str}}, then the data.

Usage:  /usr/bin/python3 tools/check_torch_loads.py FILE [--model fashion-mlp|fashion-cnn]
                                                       [--torch-train] [--data DIR] [--json]
Prints "test_acc X test_loss Y", or with --json {"test_acc": X, "test_loss": Y}.
Exit status 0, or 1 when the file does not load (a missing or unexpected tensor, a wrong shape).

The helpers here (the module, the safetensors reader, the IDX reader, the normalisation and the
evaluation) are shared with tools/make_mlp_fixture.py.
"""
import gzip
import json
import os
import struct
import sys

import torch

FASHION_DIR = "/usr/share/datasets/fashion-mnist"  # the Debian package dataset-fashion-mnist
EVAL_BATCH = 1000

ST_DTYPES = {"F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
             "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8,
             "U8": torch.uint8, "BOOL": torch.bool}


class FashionMLP(torch.nn.Module):
    """nnc's fashion-mlp (src/train/models.c) with the same parameter names: 784-256-256-10, ReLU."""

    def __init__(self):
        super().__init__()
        self.fc1 = torch.nn.Linear(784, 256)
        self.fc2 = torch.nn.Linear(256, 256)
        self.fc3 = torch.nn.Linear(256, 10)

    def forward(self, x):
        return self.fc3(torch.relu(self.fc2(torch.relu(self.fc1(x)))))


class FashionCNN(torch.nn.Module):
    """nnc's fashion-cnn (src/train/models.c) with the same parameter names:
    conv5x5(1->32, pad 2)-ReLU-maxpool2 -> conv5x5(32->64, pad 2)-ReLU-maxpool2 -> fc 3136->1024-ReLU -> fc 1024->10,
    on x [N, 784]."""

    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(1, 32, 5, padding=2)
        self.conv2 = torch.nn.Conv2d(32, 64, 5, padding=2)
        self.fc1 = torch.nn.Linear(3136, 1024)
        self.fc2 = torch.nn.Linear(1024, 10)

    def forward(self, x):
        h = x.reshape(-1, 1, 28, 28)
        h = torch.nn.functional.max_pool2d(torch.relu(self.conv1(h)), 2)
        h = torch.nn.functional.max_pool2d(torch.relu(self.conv2(h)), 2)
        return self.fc2(torch.relu(self.fc1(h.flatten(1))))


MODELS = {"fashion-mlp": FashionMLP, "fashion-cnn": FashionCNN}


def read_safetensors(path):
    """(tensors: {name: tensor}, metadata: {str: str}) from a safetensors file, parsed by hand."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        raise ValueError(f"{path}: too short for a safetensors file")
    (n,) = struct.unpack("<Q", data[:8])
    if n > len(data) - 8:
        raise ValueError(f"{path}: header length {n} exceeds the file")
    header = json.loads(data[8:8 + n].decode("utf-8"))
    buf = data[8 + n:]
    meta = header.pop("__metadata__", {}) or {}
    tensors = {}
    for name, e in header.items():
        dt = ST_DTYPES[e["dtype"]]
        begin, end = e["data_offsets"]
        shape = list(e["shape"])
        raw = bytearray(buf[begin:end])  # a writable copy for frombuffer
        t = torch.frombuffer(raw, dtype=dt) if raw else torch.empty(0, dtype=dt)
        numel = 1
        for s in shape:
            numel *= s
        if t.numel() != numel:
            raise ValueError(f"{path}: tensor '{name}' has {t.numel()} elements, shape {shape} needs {numel}")
        tensors[name] = t.reshape(shape).clone()
    return tensors, meta


def read_idx(path):
    """The uint8 tensor of an IDX file (gzip or plain)."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    zero, dtype, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    shape = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return torch.frombuffer(bytearray(data[4 + 4 * ndim:]), dtype=torch.uint8).reshape(shape)


def fashion(data_dir, train):
    """(x f32 [N, 784] normalised exactly as nnc does, y i64 [N]).

    nnc computes ((float)v / 255.0f - 0.2860f) / 0.3530f in float32 for each byte value; the
    same is done here with float32 tensors (not Python scalars, which torch would keep in
    double), so the images are bit-identical."""
    data_dir = data_dir or FASHION_DIR
    stem = "train" if train else "t10k"

    def find(name):
        p = os.path.join(data_dir, name)
        return p if os.path.exists(p) else p + ".gz"

    img = read_idx(find(f"{stem}-images-idx3-ubyte"))
    lab = read_idx(find(f"{stem}-labels-idx1-ubyte"))
    v = torch.arange(256, dtype=torch.float32)
    lut = (v / torch.tensor(255.0, dtype=torch.float32) - torch.tensor(0.2860, dtype=torch.float32)) \
        / torch.tensor(0.3530, dtype=torch.float32)
    x = lut[img.reshape(img.shape[0], -1).long()]
    return x, lab.long()


@torch.no_grad()
def evaluate(model, x, y):
    """(accuracy, mean cross-entropy) in batches of 1000 as nnc_evaluate does."""
    model.eval()
    loss_sum, correct = 0.0, 0
    for s in range(0, x.shape[0], EVAL_BATCH):
        logits = model(x[s:s + EVAL_BATCH])
        loss_sum += torch.nn.functional.cross_entropy(logits, y[s:s + EVAL_BATCH], reduction="sum").item()
        correct += (logits.argmax(1) == y[s:s + EVAL_BATCH]).sum().item()
    return correct / x.shape[0], loss_sum / x.shape[0]


def main(argv):
    args = list(argv[1:])
    as_json = "--json" in args
    if as_json:
        args.remove("--json")
    data_dir, name = None, "fashion-mlp"
    for flag in ("--data", "--model"):
        if flag in args:
            i = args.index(flag)
            if flag == "--data":
                data_dir = args[i + 1]
            else:
                name = args[i + 1]
            del args[i:i + 2]
    torch_train = "--torch-train" in args
    if torch_train:
        args.remove("--torch-train")
    if len(args) != 1 or name not in MODELS:
        print(__doc__.split("\n\n")[3], file=sys.stderr)
        return 2
    if torch_train:
        from make_mlp_fixture import write_safetensors  # noqa: E402 (it imports this module)
        torch.manual_seed(0)
        model = MODELS[name]()
        xt, yt = fashion(data_dir, train=True)
        opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        for s in range(0, 2000, 128):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(xt[s:s + 128]), yt[s:s + 128]).backward()
            opt.step()
        write_safetensors(args[0], list(model.state_dict().items()), {"made_by": "tools/check_torch_loads.py --torch-train"})
    else:
        tensors, _ = read_safetensors(args[0])
        model = MODELS[name]()
        try:
            model.load_state_dict({k: v.float() for k, v in tensors.items()}, strict=True)
        except RuntimeError as e:
            print(f"check_torch_loads: {args[0]} does not load into the PyTorch module: {e}", file=sys.stderr)
            return 1
    x, y = fashion(data_dir, train=False)
    acc, loss = evaluate(model, x, y)
    if as_json:
        print(json.dumps({"test_acc": acc, "test_loss": loss}))
    else:
        print(f"test_acc {acc:.6f} test_loss {loss:.6f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
