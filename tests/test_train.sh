#!/usr/bin/env bash
# tests/test_train.sh: the training command end to end on a slice of Fashion-MNIST:
# outputs exist and are well-formed, a run resumed from a checkpoint gives exactly the same
# losses as an uninterrupted one, and bad input (flags, data, weights) gives a one-line
# error and exit status 1 or 2, never a signal.
set -u
NNC=${NNC_BIN:-build/nnc}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0; fail=0
ok() { pass=$((pass+1)); }
bad() { fail=$((fail+1)); echo "FAIL: $*"; }
check() { if eval "$1"; then ok; else bad "$1"; fi; }
export NNC_NO_PROGRESS=1

# ---- a short run writes every output ----
$NNC train fashion-mlp --epochs 2 --limit 2000 --threads 1 --out "$tmp/a" >"$tmp/a.log" 2>&1
check '[ $? -eq 0 ]'
for f in metrics.jsonl model.safetensors checkpoint.safetensors curves.svg confusion.svg filters.png; do
  check "[ -s '$tmp/a/$f' ]"
done
check "[ \$(wc -l < '$tmp/a/metrics.jsonl') -eq 2 ]"
check "grep -q '\"epoch\":2,\"train_loss\":[0-9.e-]*,\"test_loss\":[0-9.e-]*,\"test_acc\":0\.[0-9]*,\"seconds\":' '$tmp/a/metrics.jsonl'"
check "grep -q '</svg>' '$tmp/a/curves.svg'"
check "$NNC inspect '$tmp/a/model.safetensors' | grep -q 'fc1.weight *F32 *\[256, 784\]'"
check "$NNC eval fashion-mlp --weights '$tmp/a/model.safetensors' --json | grep -q '\"test_acc\": 0\.[6-9]'"

# ---- resume: stop after epoch 1, resume, compare with the uninterrupted run ----
$NNC train fashion-mlp --epochs 2 --limit 2000 --threads 1 --out "$tmp/b" --stop-after 1 >"$tmp/b.log" 2>&1
check "[ \$(wc -l < '$tmp/b/metrics.jsonl') -eq 1 ]"
$NNC train fashion-mlp --epochs 2 --limit 2000 --threads 1 --out "$tmp/b" --resume "$tmp/b/checkpoint.safetensors" >>"$tmp/b.log" 2>&1
check '[ $? -eq 0 ]'
strip() { sed 's/,"seconds":[^,]*//' "$1"; }
check "[ \"\$(strip '$tmp/a/metrics.jsonl')\" = \"\$(strip '$tmp/b/metrics.jsonl')\" ]"
check "cmp -s '$tmp/a/model.safetensors' '$tmp/b/model.safetensors'"

# ---- augmentation: --augment changes the run, the same seed repeats it, resume keeps its rng ----
$NNC train fashion-mlp --epochs 2 --limit 2000 --threads 1 --augment --out "$tmp/g" >/dev/null 2>&1
check '[ $? -eq 0 ]'
check "! cmp -s '$tmp/a/model.safetensors' '$tmp/g/model.safetensors'"
$NNC train fashion-mlp --epochs 2 --limit 2000 --threads 1 --augment --out "$tmp/h" --stop-after 1 >/dev/null 2>&1
$NNC train fashion-mlp --epochs 2 --limit 2000 --threads 1 --augment --out "$tmp/h" --resume "$tmp/h/checkpoint.safetensors" >/dev/null 2>&1
check "cmp -s '$tmp/g/model.safetensors' '$tmp/h/model.safetensors'"

# ---- bad input: exit 1 (runtime) or 2 (usage) with one line, never a signal ----
expect() { # expect CODE PATTERN CMD...: exit status CODE and stderr containing PATTERN
  local code=$1 pat=$2; shift 2
  "$@" >"$tmp/out" 2>"$tmp/err"; local rc=$?
  if [ $rc -eq "$code" ] && grep -q -- "$pat" "$tmp/err"; then ok; else bad "$* -> exit $rc: $(head -c 300 "$tmp/err")"; fi
}
expect 2 "unknown flag '--epoch'" $NNC train fashion-mlp --epoch 3
expect 2 "expects an integer" $NNC train fashion-mlp --epochs three
expect 2 "unknown model" $NNC train no-such-model
expect 2 "contradict" $NNC train fashion-mlp --augment --no-augment
expect 2 "unknown command" $NNC frobnicate
expect 1 "apt-get install dataset-fashion-mnist" $NNC train fashion-mlp --data "$tmp/nowhere" --out "$tmp/c"
mkdir -p "$tmp/lying"
for f in train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do cp /usr/share/datasets/fashion-mnist/$f.gz "$tmp/lying/"; done
# an image file that claims 60000 images but holds 10
python3 -c "import struct,sys; sys.stdout.buffer.write(struct.pack('>IIII', 0x803, 60000, 28, 28) + bytes(784*10))" > "$tmp/lying/train-images-idx3-ubyte"
expect 1 "train-images" $NNC train fashion-mlp --data "$tmp/lying" --out "$tmp/c"
expect 1 "No such file\|cannot open\|missing" $NNC eval fashion-mlp --weights "$tmp/none.safetensors"
head -c 1000 "$tmp/a/model.safetensors" > "$tmp/trunc.safetensors"
expect 1 "" $NNC eval fashion-mlp --weights "$tmp/trunc.safetensors"
expect 1 "" $NNC inspect "$tmp/trunc.safetensors"
python3 - "$tmp" <<'PY'
import json, struct, sys
d = sys.argv[1]
def st(name, header, body=b""):
    h = header if isinstance(header, bytes) else json.dumps(header).encode()
    open(f"{d}/{name}", "wb").write(struct.pack("<Q", len(h)) + h + body)
st("overlap.safetensors", {"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                           "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}, bytes(12))
st("pastend.safetensors", {"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}, bytes(8))
st("overflow.safetensors", {"a": {"dtype": "F32", "shape": [2**40, 2**40], "data_offsets": [0, 8]}}, bytes(8))
st("notjson.safetensors", b"{this is not json}      ", bytes(8))
open(f"{d}/hugeheader.safetensors", "wb").write(struct.pack("<Q", 2**62) + b"{}")
PY
for f in overlap pastend overflow notjson hugeheader; do
  expect 1 "" $NNC inspect "$tmp/$f.safetensors"
  expect 1 "" $NNC eval fashion-mlp --weights "$tmp/$f.safetensors"
done
# weights of the wrong shapes
python3 - "$tmp" <<'PY'
import json, struct, sys
h = json.dumps({"fc1.weight": {"dtype": "F32", "shape": [3, 3], "data_offsets": [0, 36]}}).encode()
open(f"{sys.argv[1]}/shape.safetensors", "wb").write(struct.pack("<Q", len(h)) + h + bytes(36))
PY
expect 1 "fc1.weight" $NNC eval fashion-mlp --weights "$tmp/shape.safetensors"
check "[ \$(wc -l < '$tmp/err') -le 2 ]"

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
