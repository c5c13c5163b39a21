#!/usr/bin/env bash
# tests/test_crossover.sh: Fashion-MNIST MLP weights cross over between PyTorch and nnc by name.
#
# 1. PyTorch -> nnc: tests/fixtures/mlp_torch.safetensors (a fashion-mlp trained by PyTorch for
#    one epoch, made by tools/make_mlp_fixture.py, with PyTorch's test accuracy and mean
#    cross-entropy in its metadata "torch_test_acc", "torch_test_loss") evaluated by
#    `nnc eval fashion-mlp --weights FILE --json`: the accuracy must equal PyTorch's to 1e-4
#    (at most one of the 10000 test images predicted differently, a near-tie of two logits)
#    and the loss to 1e-4 relative.
# 2. nnc -> PyTorch: `nnc train fashion-mlp --epochs 1 --limit 2000` into a temp folder; its
#    model.safetensors is loaded into a torch nn.Module with strict=True and evaluated on the
#    test set by tools/check_torch_loads.py; accuracy and loss must equal `nnc eval` on the
#    same file (same bounds).  Skipped with a message, not failed, when /usr/bin/python3 cannot
#    import torch (CI machines may lack it); NNC_PYTHON names another interpreter.
# 3. The same for fashion-cnn without a fixture (both directions need torch, so both are skipped
#    without it): nnc's weights after a short run load into PyTorch's CNN, and a CNN trained
#    briefly by PyTorch (tools/check_torch_loads.py --torch-train) evaluated by `nnc eval`.
# Everything is skipped with a message when the Fashion-MNIST files are not installed.
# NNC_BIN: the nnc binary (default build/nnc).  Last line: "N passed, M failed".
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
NNC=${NNC_BIN:-build/nnc}
PY=${NNC_PYTHON:-/usr/bin/python3}  # NNC_PYTHON: another interpreter (tests of the skip)
DATA=/usr/share/datasets/fashion-mnist
FIXTURE=$ROOT/tests/fixtures/mlp_torch.safetensors
pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
finish() {
  echo "$pass passed, $fail failed"
  [ "$fail" -eq 0 ]
  exit
}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# the number after "key": in a one-line JSON object
json_num() { sed -n "s/.*\"$2\": *\([-+0-9.eE]*\).*/\1/p" <<<"$1"; }
# |a - b| <= tol (abs) or <= tol * |b| (rel)
close_abs() { awk -v a="$1" -v b="$2" -v t="$3" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(a != "" && b != "" && d <= t) }'; }
close_rel() { awk -v a="$1" -v b="$2" -v t="$3" 'BEGIN { d = a - b; if (d < 0) d = -d; m = b < 0 ? -b : b; exit !(a != "" && b != "" && d <= t * m) }'; }
# accuracy: 1e-4 is one image in 10000; the slack covers the decimal printing of both numbers
ACC_TOL=1.000001e-4
LOSS_TOL=1e-4

compare() { # compare WHAT ACC_A LOSS_A ACC_B LOSS_B
  if close_abs "$2" "$4" "$ACC_TOL"; then ok "$1: accuracy $2 vs $4"; else bad "$1: accuracy $2 vs $4 (tolerance $ACC_TOL)"; fi
  if close_rel "$3" "$5" "$LOSS_TOL"; then ok "$1: loss $3 vs $5"; else bad "$1: loss $3 vs $5 (relative tolerance $LOSS_TOL)"; fi
}

if [ ! -x "$NNC" ]; then
  bad "no nnc binary at $NNC (build it with make, or set NNC_BIN)"
  finish
fi
if [ ! -e "$DATA/t10k-images-idx3-ubyte.gz" ] && [ ! -e "$DATA/t10k-images-idx3-ubyte" ]; then
  echo "skipping: the Fashion-MNIST files are not in $DATA (apt-get install dataset-fashion-mnist)"
  finish
fi

# ---- 1. PyTorch's weights evaluated by nnc ----
meta=$("$NNC" inspect "$FIXTURE" 2>&1)
torch_acc=$(sed -n 's/^ *torch_test_acc: *//p' <<<"$meta")
torch_loss=$(sed -n 's/^ *torch_test_loss: *//p' <<<"$meta")
if [ -n "$torch_acc" ] && [ -n "$torch_loss" ]; then ok "fixture metadata: torch_test_acc $torch_acc torch_test_loss $torch_loss"
else bad "no torch_test_acc / torch_test_loss in $FIXTURE: $meta"; fi
out=$("$NNC" eval fashion-mlp --weights "$FIXTURE" --json 2>&1)
rc=$?
if [ $rc -eq 0 ]; then ok "nnc eval of PyTorch's weights: $out"; else bad "nnc eval of $FIXTURE exited $rc: $out"; fi
compare "PyTorch weights in nnc" "$(json_num "$out" test_acc)" "$(json_num "$out" test_loss)" "$torch_acc" "$torch_loss"

# ---- 2. nnc's weights loaded by PyTorch ----
log=$("$NNC" train fashion-mlp --epochs 1 --limit 2000 --out "$tmp/run" 2>&1)
rc=$?
model=$tmp/run/model.safetensors
if [ $rc -eq 0 ] && [ -f "$model" ]; then ok "nnc train --epochs 1 --limit 2000"
else bad "nnc train exited $rc: $(tail -n 5 <<<"$log")"; finish; fi
out=$("$NNC" eval fashion-mlp --weights "$model" --json 2>&1)
rc=$?
nnc_acc=$(json_num "$out" test_acc)
nnc_loss=$(json_num "$out" test_loss)
if [ $rc -eq 0 ] && [ -n "$nnc_acc" ]; then ok "nnc eval of nnc's weights: $out"; else bad "nnc eval of $model exited $rc: $out"; fi
# the trainer's own evaluation after the epoch is the same model on the same test set
last=$(tail -n 1 "$tmp/run/metrics.jsonl" 2>/dev/null)
compare "nnc eval vs the trainer's metrics.jsonl" "$nnc_acc" "$nnc_loss" "$(json_num "$last" test_acc)" "$(json_num "$last" test_loss)"

if "$PY" -c "import torch" >/dev/null 2>&1; then
  out=$("$PY" "$ROOT/tools/check_torch_loads.py" "$model" --json 2>&1)
  rc=$?
  if [ $rc -eq 0 ]; then ok "PyTorch loads nnc's model.safetensors with strict=True: $out"
  else bad "tools/check_torch_loads.py exited $rc: $out"; fi
  compare "nnc weights in PyTorch" "$(json_num "$out" test_acc)" "$(json_num "$out" test_loss)" "$nnc_acc" "$nnc_loss"

  # ---- 3. the CNN both ways: nnc's trained weights in PyTorch, PyTorch's trained weights in nnc ----
  log=$("$NNC" train fashion-cnn --epochs 1 --limit 2000 --out "$tmp/cnn" 2>&1)
  rc=$?
  if [ $rc -eq 0 ]; then ok "nnc train fashion-cnn --epochs 1 --limit 2000"; else bad "nnc train fashion-cnn exited $rc: $(tail -n 5 <<<"$log")"; fi
  out=$("$NNC" eval fashion-cnn --weights "$tmp/cnn/model.safetensors" --json 2>&1)
  torch_out=$("$PY" "$ROOT/tools/check_torch_loads.py" "$tmp/cnn/model.safetensors" --model fashion-cnn --json 2>&1)
  compare "nnc CNN weights in PyTorch" "$(json_num "$torch_out" test_acc)" "$(json_num "$torch_out" test_loss)" \
    "$(json_num "$out" test_acc)" "$(json_num "$out" test_loss)"
  torch_out=$("$PY" "$ROOT/tools/check_torch_loads.py" "$tmp/cnn_torch.safetensors" --model fashion-cnn --torch-train --json 2>&1)
  out=$("$NNC" eval fashion-cnn --weights "$tmp/cnn_torch.safetensors" --json 2>&1)
  compare "PyTorch-trained CNN in nnc" "$(json_num "$out" test_acc)" "$(json_num "$out" test_loss)" \
    "$(json_num "$torch_out" test_acc)" "$(json_num "$torch_out" test_loss)"
else
  echo "skipping the PyTorch side: $PY cannot import torch"
fi
finish
