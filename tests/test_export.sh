#!/usr/bin/env bash
# tests/test_export.sh: `nnc export` and `nnc infer` end to end on Fashion-MNIST, with training
# limited to seconds: the exported binary MLP gives exactly the accuracy of its float simulation
# (no prediction and no hidden bit differs) and is at most 1/25 of its fp32 safetensors file;
# the int8 MLP gives exactly the accuracy of its integer reference; `nnc infer` reproduces the
# accuracy with the AVX-512 and the portable kernels; bad input gives a one-line error and
# exit status 1 or 2, never a signal.  NNC_BIN is the nnc binary.
set -u
NNC=${NNC_BIN:-build/nnc}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0; fail=0
ok() { pass=$((pass+1)); }
bad() { fail=$((fail+1)); echo "FAIL: $*"; }
check() { if eval "$1"; then ok; else bad "$1"; fi; }
export NNC_NO_PROGRESS=1
field() { sed -n "s/.*\"$2\": \"\{0,1\}\([^,\"}]*\).*/\1/p" "$1" | head -n 1; } # field FILE KEY

# ---- binary MLP, 1-bit first layer: train a few seconds, export, infer ----
$NNC export --format binary --model binary-mlp-1bit --train --epochs 1 --limit 2560 --threads 1 \
  --weights "$tmp/b.safetensors" --out "$tmp/b.nnci" --json >"$tmp/b.json" 2>"$tmp/b.err"
check '[ $? -eq 0 ]'
cat "$tmp/b.json"
check "[ \"\$(field '$tmp/b.json' pred_diff_sim)\" = 0 ]"
check "[ \"\$(field '$tmp/b.json' value_diff)\" = 0 ]"
check "[ -n \"\$(field '$tmp/b.json' sim_acc)\" ] && [ \"\$(field '$tmp/b.json' sim_acc)\" = \"\$(field '$tmp/b.json' file_acc)\" ]"
fb=$(field "$tmp/b.json" file_bytes); sb=$(field "$tmp/b.json" safetensors_bytes)
check "[ -n '$fb' ] && [ \$(( $fb * 25 )) -le '$sb' ]"                      # at most 1/25 of fp32
check "[ \"$fb\" -eq \$(stat -c %s '$tmp/b.nnci') ] && [ \"$sb\" -eq \$(stat -c %s '$tmp/b.safetensors') ]"
check "awk 'BEGIN { exit !(\"$(field "$tmp/b.json" sim_acc)\" + 0 > 0.6) }'"  # it learned something
$NNC infer "$tmp/b.nnci" --json --threads 1 --reps 1 >"$tmp/bi.json" 2>&1
check '[ $? -eq 0 ]'
cat "$tmp/bi.json"
check "[ \"\$(field '$tmp/bi.json' test_acc)\" = \"\$(field '$tmp/b.json' sim_acc)\" ]"
check "[ \"\$(field '$tmp/bi.json' images_per_s)\" -gt 0 ]"
$NNC infer "$tmp/b.nnci" --json --threads 2 --batch 100 --portable --reps 1 >"$tmp/bp.json" 2>&1
check "[ \"\$(field '$tmp/bp.json' test_acc)\" = \"\$(field '$tmp/b.json' sim_acc)\" ] && grep -q portable '$tmp/bp.json'"
$NNC infer "$tmp/b.nnci" --limit 1000 --batch 7 --threads 2 --reps 1 >"$tmp/bl.txt" 2>&1
check "grep -q 'test_acc [0-9.]*% (1000 images)' '$tmp/bl.txt'"

# ---- binary MLP with the paper's full-precision first layer (exported as int8) ----
$NNC export --format binary --model binary-mlp --train --epochs 1 --limit 1280 --threads 1 \
  --weights "$tmp/bf.safetensors" --out "$tmp/bf.nnci" --json >"$tmp/bf.json" 2>"$tmp/bf.err"
check '[ $? -eq 0 ]'
cat "$tmp/bf.json"
check "[ \"\$(field '$tmp/bf.json' pred_diff_sim)\" = 0 ] && [ \"\$(field '$tmp/bf.json' value_diff)\" = 0 ]"
$NNC infer "$tmp/bf.nnci" --json --threads 1 --reps 1 >"$tmp/bfi.json" 2>&1
check "[ \"\$(field '$tmp/bfi.json' test_acc)\" = \"\$(field '$tmp/bf.json' sim_acc)\" ]"

# ---- int8 MLP: nnc train fashion-mlp, export, infer ----
$NNC train fashion-mlp --epochs 1 --limit 2000 --threads 1 --out "$tmp/m" >"$tmp/m.log" 2>&1
check '[ $? -eq 0 ]'
$NNC export --format int8 --model fashion-mlp --weights "$tmp/m/model.safetensors" --out "$tmp/q.nnci" \
  --calib 1024 --threads 1 --json >"$tmp/q.json" 2>"$tmp/q.err"
check '[ $? -eq 0 ]'
cat "$tmp/q.json"
check "[ \"\$(field '$tmp/q.json' pred_diff_sim)\" = 0 ] && [ \"\$(field '$tmp/q.json' value_diff)\" = 0 ]"
check "[ -n \"\$(field '$tmp/q.json' sim_acc)\" ] && [ \"\$(field '$tmp/q.json' sim_acc)\" = \"\$(field '$tmp/q.json' file_acc)\" ]"
check "[ \"\$(field '$tmp/q.json' sim_acc)\" = \"\$(field '$tmp/q.json' fakequant_acc)\" ]"
$NNC infer "$tmp/q.nnci" --json --threads 1 --reps 1 >"$tmp/qi.json" 2>&1
check "[ \"\$(field '$tmp/qi.json' test_acc)\" = \"\$(field '$tmp/q.json' sim_acc)\" ]"
$NNC infer "$tmp/q.nnci" --json --portable --reps 1 >"$tmp/qp.json" 2>&1
check "[ \"\$(field '$tmp/qp.json' test_acc)\" = \"\$(field '$tmp/q.json' sim_acc)\" ]"

# ---- bad input: exit 1 (runtime) or 2 (usage) with one line, never a signal ----
expect() { # expect CODE PATTERN CMD...
  local code=$1 pat=$2; shift 2
  "$@" >"$tmp/out" 2>"$tmp/err"; local rc=$?
  if [ $rc -eq "$code" ] && grep -q -- "$pat" "$tmp/err" && [ "$(wc -l <"$tmp/err")" -le 2 ]; then ok
  else bad "$* -> exit $rc: $(head -c 300 "$tmp/err")"; fi
}
expect 2 "--format must be binary or int8" $NNC export --format int4 --weights x --out y
expect 2 "--model for --format binary" $NNC export --format binary --model fashion-mlp --weights x --out y
expect 2 "give --weights and --out" $NNC export --format int8
expect 2 "unknown flag" $NNC infer "$tmp/b.nnci" --bogus
expect 2 "name an inference model" $NNC infer
expect 1 "cannot open\|No such file\|missing\|open" $NNC export --format int8 --weights "$tmp/none.safetensors" --out "$tmp/x.nnci"
expect 1 "not a binary-mlp (--model)" $NNC export --format binary --model binary-mlp --weights "$tmp/b.safetensors" --out "$tmp/x.nnci"
expect 1 "missing tensor 'fc0.weight'" $NNC export --format binary --weights "$tmp/m/model.safetensors" --out "$tmp/x.nnci"
check "[ ! -e '$tmp/x.nnci' ]"
expect 1 "fc1.weight\|missing tensor\|shape" $NNC export --format int8 --weights "$tmp/b.safetensors" --out "$tmp/x.nnci"
head -c 1000 /dev/urandom >"$tmp/garbage.nnci"
expect 1 "not an nnc inference model" $NNC infer "$tmp/garbage.nnci"
head -c 5000 "$tmp/b.nnci" >"$tmp/trunc.nnci"
expect 1 "the header says" $NNC infer "$tmp/trunc.nnci"
cp "$tmp/q.nnci" "$tmp/flip.nnci"; printf '\x55' | dd of="$tmp/flip.nnci" bs=1 seek=2000 conv=notrunc 2>/dev/null
expect 1 "checksum" $NNC infer "$tmp/flip.nnci"
expect 1 "truncated\|bad magic" $NNC infer /dev/null
expect 1 "No such file\|cannot\|open" $NNC infer "$tmp/nowhere.nnci"

# ---- `nnc bench binary|int8` (once cmd_bench.c dispatches them) ----
if $NNC bench binary --help >/dev/null 2>&1 && $NNC bench binary --threads 1 --steps 20 >"$tmp/bb.json" 2>"$tmp/bb.err"; then
  for k in fp32_ms kernel_ms speedup; do check "[ -n \"\$(field '$tmp/bb.json' $k)\" ]"; done
  $NNC bench int8 --threads 1 --steps 20 >"$tmp/bq.json" 2>&1
  for k in fp32_ms kernel_ms speedup; do check "[ -n \"\$(field '$tmp/bq.json' $k)\" ]"; done
else
  echo "note: nnc bench binary is not wired into cmd_bench.c yet (src/infer/bench_infer.h); skipped"
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
