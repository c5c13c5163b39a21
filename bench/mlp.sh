#!/usr/bin/env bash
# bench/mlp.sh: one epoch of the Fashion-MNIST MLP (784-256-256-10, batch 128, SGD momentum
# 0.9 Nesterov) in nnc and in PyTorch, at 1 and 2 threads, in one run.  Each side trains two
# epochs and the second is timed (the first builds kernels and warms caches).
# Usage: bench/mlp.sh            (needs python3-torch: installs it if missing)
set -euo pipefail
cd "$(dirname "$0")/.."
dpkg-query -W -f='${Status}' python3-torch 2>/dev/null | grep -q 'install ok installed' || {
  echo "installing python3-torch for the baseline"; apt-get install -y -qq python3-torch >/dev/null; }
make -s all >/dev/null
tmp=$(mktemp -d)
printf "%-8s %12s %12s %8s\n" threads nnc_s torch_s ratio
for t in 1 2; do
  NNC_NO_PROGRESS=1 build/nnc train fashion-mlp --epochs 2 --threads "$t" --out "$tmp/nnc$t" >/dev/null 2>&1
  nnc_s=$(tail -n 1 "$tmp/nnc$t/metrics.jsonl" | sed 's/.*"seconds":\([0-9.e-]*\).*/\1/')
  torch_s=$(OMP_NUM_THREADS=$t /usr/bin/python3 bench/torch_mlp.py "$t" | sed 's/.*"seconds": \([0-9.e-]*\).*/\1/')
  printf "%-8s %12.3f %12.3f %8.2f\n" "$t" "$nnc_s" "$torch_s" "$(awk -v a="$nnc_s" -v b="$torch_s" 'BEGIN{print a/b}')"
done
rm -rf "$tmp"
