#!/usr/bin/python3
"""Makes tests/fixtures/io_torch.safetensors, the PyTorch cross-check of nnc's safetensors code.

Needs PyTorch (Debian's python3-torch; run with /usr/bin/python3).  There is no safetensors
Python package here, so the file is written by hand from each tensor's bytes, exactly as the
format says: an 8-byte little-endian header length, a JSON header padded with spaces to a
multiple of 8, then the data buffer in the order the tensors are listed.

What tests/test_io.c checks with it:
  fc.weight, fc.bias, x, y   a torch.nn.Linear(4, 3) state_dict and y = fc(x): loaded into an
                             nnc_params block by name, x W^T + b must give y
  src, src_f16, src_bf16     f32 values (ties, subnormals, overflow, inf, NaN, random) and
  src_f16_f32, src_bf16_f32  torch's own .half() / .bfloat16() of them, and those back as f32:
                             nnc's round-to-nearest-even conversions must match bit for bit,
                             both ways
  f64 i64 i32 i16 i8 u8 bool every other dtype, with known values
  scalar, empty              a 0-d tensor and a [0, 3] one
  __metadata__               {"format": "pt", "source": "tools/make_io_fixture.py"}

Usage:  /usr/bin/python3 tools/make_io_fixture.py [OUT]
        /usr/bin/python3 tools/make_io_fixture.py --check FILE   (prints a file nnc wrote,
                                                                  read back through torch)
"""
import json
import struct
import sys

import torch

DT = {torch.float64: "F64", torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
      torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8",
      torch.uint8: "U8", torch.bool: "BOOL"}
TORCH_OF = {v: k for k, v in DT.items()}


def tensor_bytes(t):
    t = t.detach().contiguous()
    if t.dtype == torch.bfloat16:  # numpy has no bfloat16: take the raw 16-bit patterns
        t = t.view(torch.int16)
    return t.numpy().astype(t.numpy().dtype.newbyteorder("<")).tobytes()


def save(path, tensors, metadata):
    header, blobs, off = {}, [], 0
    if metadata:
        header["__metadata__"] = metadata
    for name, t in tensors:
        b = tensor_bytes(t)
        header[name] = {"dtype": DT[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def load(path):
    data = open(path, "rb").read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    buf = data[8 + n:]
    meta = header.pop("__metadata__", {})
    out = {}
    for name, e in header.items():
        b, en = e["data_offsets"]
        dt = TORCH_OF[e["dtype"]]
        raw = bytearray(buf[b:en])
        if dt == torch.bfloat16:
            t = torch.frombuffer(raw, dtype=torch.int16).view(torch.bfloat16) if raw else torch.zeros(0, dtype=dt)
        else:
            t = torch.frombuffer(raw, dtype=dt) if raw else torch.zeros(0, dtype=dt)
        out[name] = t.reshape(e["shape"])
    return out, meta


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--check":
        tensors, meta = load(sys.argv[2])
        print("metadata", meta)
        for k, t in tensors.items():
            print(k, t.dtype, list(t.shape), t.flatten()[:8].tolist())
        return
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/io_torch.safetensors"
    torch.manual_seed(0)
    fc = torch.nn.Linear(4, 3)
    x = torch.randn(2, 4)
    with torch.no_grad():
        y = fc(x)
    special = [0.0, -0.0, 1.0, -2.5, 1 / 3, 65504.0, 65519.0, 65520.0, 1e5, 6.1e-5, 6.0e-5,
               5.9604645e-8, 2.9802322e-8, 3.0e-8, 8.940697e-8, 1e-10,
               1 + 2 ** -10, 1 + 2 ** -11, 1 + 3 * 2 ** -11, 1 + 2 ** -8, 1 + 3 * 2 ** -8,
               1 + 2 ** -8 + 2 ** -20, 3.389e38, 3.4e38, -3.4e38, 1e-40,
               float("inf"), float("-inf"), float("nan")]
    src = torch.cat([torch.tensor(special, dtype=torch.float32),
                     torch.randn(64) * torch.logspace(-6, 4, 64)])
    tensors = [
        ("fc.weight", fc.weight), ("fc.bias", fc.bias), ("x", x), ("y", y),
        ("src", src), ("src_f16", src.half()), ("src_bf16", src.bfloat16()),
        ("src_f16_f32", src.half().float()), ("src_bf16_f32", src.bfloat16().float()),
        ("f64", torch.linspace(-1, 1, 5, dtype=torch.float64)),
        ("i64", torch.tensor([-3, 0, 2 ** 40, 7], dtype=torch.int64)),
        ("i32", torch.tensor([[-2147483648, 5], [2147483647, -1]], dtype=torch.int32)),
        ("i16", torch.tensor([-32768, 1, 32767], dtype=torch.int16)),
        ("i8", torch.tensor([-128, 0, 127], dtype=torch.int8)),
        ("u8", torch.tensor([0, 255, 7], dtype=torch.uint8)),
        ("bool", torch.tensor([True, False, True])),
        ("scalar", torch.tensor(3.5)),
        ("empty", torch.zeros(0, 3)),
    ]
    save(out, tensors, {"format": "pt", "source": "tools/make_io_fixture.py"})
    back, meta = load(out)  # read it back: the file must say what torch holds
    for name, t in tensors:
        a, b = back[name], t.detach()
        assert a.dtype == b.dtype and a.shape == b.shape, name
        assert torch.equal(a.view(torch.int16) if a.dtype == torch.bfloat16 else a,
                           b.view(torch.int16) if b.dtype == torch.bfloat16 else b) or name.startswith("src"), name
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
