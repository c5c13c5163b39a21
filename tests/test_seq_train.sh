#!/usr/bin/env bash
# tests/test_seq_train.sh: the sequence tasks end to end (nnc train parity|count|recall|copy|sort|char-lm) with
# tiny epochs: every output is written and well-formed, metrics carry test_acc / test_bpc, a
# run resumed from a checkpoint gives exactly the same metrics and weights as an uninterrupted
# one (recall with AdamW, char-lm with Muon), and bad input gives a one-line error with exit
# status 1 (runtime) or 2 (usage), never a signal.
set -u
NNC=${NNC_BIN:-build/nnc}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0; fail=0
ok() { pass=$((pass+1)); }
bad() { fail=$((fail+1)); echo "FAIL: $*"; }
check() { if eval "$1"; then ok; else bad "$1"; fi; }
export NNC_NO_PROGRESS=1

# a small text: the repository's docs, repeated (about 60 kB)
for i in 1 2 3 4; do cat README.md docs/ARCHITECTURE.md src/nnc.h; done > "$tmp/text.txt"

# ---- short runs write every output ----
P="--epochs 2 --steps 15 --test-size 200 --threads 1"
$NNC train parity --test-size 500 --threads 1 --out "$tmp/parity" >"$tmp/parity.log" 2>&1   # the defaults
check '[ $? -eq 0 ]'
$NNC train recall $P --width 32 --out "$tmp/recall" >"$tmp/recall.log" 2>&1
check '[ $? -eq 0 ]'
$NNC train char-lm --text "$tmp/text.txt" --epochs 2 --steps 10 --test-size 32 --width 32 --threads 1 \
  --out "$tmp/charlm" >"$tmp/charlm.log" 2>&1
check '[ $? -eq 0 ]'
for d in parity recall charlm; do
  for f in metrics.jsonl model.safetensors checkpoint.safetensors curves.svg; do check "[ -s '$tmp/$d/$f' ]"; done
  check "[ \$(wc -l < '$tmp/$d/metrics.jsonl') -eq \$([ $d = parity ] && echo 4 || echo 2) ]"
  check "grep -q '</svg>' '$tmp/$d/curves.svg'"
done
num='[0-9.e+-]*'
check "grep -q '^{\"epoch\":2,\"step\":30,\"train_loss\":$num,\"test_loss\":$num,\"test_acc\":[01]\\(\\.[0-9]*\\)\\?,\"seconds\":$num,\"lr\":$num}\$' '$tmp/recall/metrics.jsonl'"
check "grep -q '^{\"epoch\":2,\"step\":20,\"train_loss\":$num,\"test_loss\":$num,\"test_bpc\":[0-9]\\.[0-9]*,\"seconds\":$num,\"lr\":$num}\$' '$tmp/charlm/metrics.jsonl'"
check "! grep -q test_acc '$tmp/charlm/metrics.jsonl'"
# the default parity model (a GRU on running-parity targets) is at 100% after its 400 steps
check "grep -q '^{\"epoch\":4,\"step\":400,\"train_loss\":$num,\"test_loss\":$num,\"test_acc\":1,' '$tmp/parity/metrics.jsonl'"
# count, copy and sort train with their defaults' models (short runs; all three are at 100% with
# their full defaults in a few seconds); cfg prints a checkpoint's config without JSON escapes
cfg() { grep -ao '"config":"[^}]*' "$1" | sed 's/\\//g'; }
$NNC train count --epochs 1 --steps 60 --test-size 200 --threads 1 --out "$tmp/count" >/dev/null 2>&1
check '[ $? -eq 0 ]'
check "cfg '$tmp/count/checkpoint.safetensors' | grep -q '\"modulus\": 3$'"
$NNC train count --epochs 1 --steps 5 --test-size 50 --modulus 5 --threads 1 --out "$tmp/count5" >/dev/null 2>&1
check "cfg '$tmp/count5/checkpoint.safetensors' | grep -q '\"modulus\": 5$'"
for t in copy sort; do
  $NNC train $t --epochs 1 --steps 60 --test-size 100 --length 8 --threads 1 --out "$tmp/$t" >/dev/null 2>&1
  check '[ $? -eq 0 ]'
  check "cfg '$tmp/$t/checkpoint.safetensors' | grep -q '\"seq_len\": 16,.*\"length\": 8, \"items\": 10'"
  check "grep -q '\"test_acc\":' '$tmp/$t/metrics.jsonl'"
done

# parameter names and the task in the weights file
check "$NNC inspect '$tmp/recall/model.safetensors' | grep -q 'blocks.1.self_attn.in_proj_weight *F32 *\[96, 32\]'"
check "$NNC inspect '$tmp/recall/model.safetensors' | grep -q 'pos_emb.weight *F32 *\[64, 32\]'"
check "$NNC inspect '$tmp/parity/model.safetensors' | grep -q 'rnn.weight_hh_l0 *F32 *\[96, 32\]'"
check "$NNC inspect '$tmp/charlm/model.safetensors' | grep -q 'vocab_bytes'"
check "grep -q 'parity: test_acc' '$tmp/parity.log' && grep -q 'char-lm: test_bpc' '$tmp/charlm.log'"

# ---- the same seed gives the same run; another seed another ----
strip() { sed 's/,"seconds":[^,]*//' "$1"; }
$NNC train recall $P --width 32 --out "$tmp/recall2" >/dev/null 2>&1
check "cmp -s '$tmp/recall/model.safetensors' '$tmp/recall2/model.safetensors'"
check "[ \"\$(strip '$tmp/recall/metrics.jsonl')\" = \"\$(strip '$tmp/recall2/metrics.jsonl')\" ]"
$NNC train recall $P --width 32 --seed 7 --out "$tmp/recall3" >/dev/null 2>&1
check "! cmp -s '$tmp/recall/model.safetensors' '$tmp/recall3/model.safetensors'"

# ---- resume: stop after epoch 1, resume, compare with the uninterrupted run ----
resume_check() { # NAME ARGS...: a 2-epoch run vs 1 epoch + resume
  local name=$1; shift
  "$NNC" train "$@" --epochs 2 --out "$tmp/$name-a" >"$tmp/$name-a.log" 2>&1
  "$NNC" train "$@" --epochs 2 --out "$tmp/$name-b" --stop-after 1 >"$tmp/$name-b.log" 2>&1
  check "[ \$(wc -l < '$tmp/$name-b/metrics.jsonl') -eq 1 ]"
  check "grep -q 'stopping after epoch 1' '$tmp/$name-b.log'"
  "$NNC" train "$@" --epochs 2 --out "$tmp/$name-b" --resume "$tmp/$name-b/checkpoint.safetensors" >>"$tmp/$name-b.log" 2>&1
  check '[ $? -eq 0 ]'
  check "grep -q 'resuming' '$tmp/$name-b.log'"
  check "[ \"\$(strip '$tmp/$name-a/metrics.jsonl')\" = \"\$(strip '$tmp/$name-b/metrics.jsonl')\" ]"
  check "cmp -s '$tmp/$name-a/model.safetensors' '$tmp/$name-b/model.safetensors'"
}
resume_check recall recall --steps 10 --test-size 100 --width 32 --threads 1
resume_check charlm char-lm --text "$tmp/text.txt" --steps 8 --test-size 16 --width 32 --threads 1

# ---- bad input: exit 1 (runtime) or 2 (usage) with a message, never a signal ----
expect() { # expect CODE PATTERN CMD...: exit status CODE and stderr containing PATTERN
  local code=$1 pat=$2; shift 2
  "$@" >"$tmp/out" 2>"$tmp/err"; local rc=$?
  if [ $rc -eq "$code" ] && grep -q -- "$pat" "$tmp/err"; then ok; else bad "$* -> exit $rc: $(head -c 300 "$tmp/err")"; fi
}
expect 2 "--text FILE is required" $NNC train char-lm --out "$tmp/x"
expect 1 "$tmp/none.txt" $NNC train char-lm --text "$tmp/none.txt" --out "$tmp/x"
: > "$tmp/empty.txt"
expect 1 "empty" $NNC train char-lm --text "$tmp/empty.txt" --out "$tmp/x"
head -c 50 "$tmp/text.txt" > "$tmp/short.txt"
expect 1 "too short" $NNC train char-lm --text "$tmp/short.txt" --out "$tmp/x"
expect 2 "unknown flag '--epoch'" $NNC train recall --epoch 3
expect 2 "unknown flag '--no-augment'" $NNC train parity --no-augment
expect 2 "expects an integer" $NNC train parity --steps many
expect 2 "--optim must be" $NNC train recall --optim rmsprop
expect 2 "--arch must be" $NNC train parity --arch mamba
expect 2 "--pos must be" $NNC train recall --pos alibi
expect 2 "for recall only" $NNC train parity --pairs 3
expect 2 "for count only" $NNC train parity --modulus 3
expect 2 "at least 2" $NNC train count --modulus 1
expect 2 "for copy and sort only" $NNC train recall --length 8
expect 2 "too short for sort" $NNC train sort --length 8 --seq-len 10
expect 2 "for char-lm only" $NNC train recall --text "$tmp/text.txt"
expect 2 "too short for recall" $NNC train recall --pairs 40
expect 2 "multiple of --heads" $NNC train recall --width 30 --heads 4
expect 2 "must be at least --pairs" $NNC train recall --pairs 8 --keys 4
expect 2 "must not be negative" $NNC train recall --epochs -1
expect 1 "checkpoint of 'recall', not 'parity'" $NNC train parity --epochs 2 --steps 15 --out "$tmp/x" \
  --resume "$tmp/recall/checkpoint.safetensors"
expect 1 "other settings" $NNC train recall --epochs 2 --steps 15 --test-size 200 --out "$tmp/x" \
  --resume "$tmp/recall/checkpoint.safetensors"
head -c 500 "$tmp/recall/checkpoint.safetensors" > "$tmp/trunc.safetensors"
expect 1 "resume" $NNC train recall --out "$tmp/x" --resume "$tmp/trunc.safetensors"
expect 1 "resume" $NNC train recall --out "$tmp/x" --resume "$tmp/missing.safetensors"
# the image models still dispatch, and help lists the sequence tasks
check "$NNC train --help | grep -q 'char-lm'"
check "$NNC train recall --help | grep -q 'MQAR'"
check "$NNC train fashion-mlp --help | grep -q 'Fashion-MNIST'"
expect 2 "unknown model" $NNC train no-such-task

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
