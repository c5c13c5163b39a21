#!/usr/bin/env bash
# bench/fashion.sh mlp|cnn: one training epoch of the Fashion-MNIST MLP or CNN in nnc and in
# PyTorch (same network, batch 128, SGD momentum 0.9 Nesterov, weight decay 5e-4 on weights),
# at 1 and 2 threads, in one run.  Each side trains two epochs; the second is timed (the
# first builds kernels and warms caches).  Prints a table and the ratio nnc/PyTorch.
set -euo pipefail
cd "$(dirname "$0")/.."
model=${1:-mlp}
dpkg-query -W -f='${Status}' python3-torch 2>/dev/null | grep -q 'install ok installed' || {
  echo "installing python3-torch for the baseline"; apt-get install -y -qq python3-torch >/dev/null; }
make -s all >/dev/null
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "fashion-$model, one epoch (seconds), $(nproc) cores, $(date -u +%Y-%m-%d)"
printf "%-8s %10s %10s %8s\n" threads nnc torch ratio
for t in 1 2; do
  NNC_NO_PROGRESS=1 build/nnc train "fashion-$model" --epochs 2 --threads "$t" --out "$tmp/nnc$t" >/dev/null 2>&1
  nnc_s=$(tail -n 1 "$tmp/nnc$t/metrics.jsonl" | sed 's/.*"seconds":\([0-9.e-]*\).*/\1/')
  torch_s=$(OMP_NUM_THREADS=$t /usr/bin/python3 bench/torch_fashion.py "$model" "$t" | sed 's/.*"seconds": \([0-9.e-]*\).*/\1/')
  printf "%-8s %10.3f %10.3f %8.2f\n" "$t" "$nnc_s" "$torch_s" "$(awk -v a="$nnc_s" -v b="$torch_s" 'BEGIN{print a/b}')"
done
