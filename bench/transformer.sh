#!/usr/bin/env bash
# bench/transformer.sh: one training step (forward, backward, Adam) of a 2-layer pre-norm
# causal Transformer (width 64, 2 heads, feed-forward 256, vocab 16, batch 32, sequence 64)
# in nnc (`nnc bench transformer`) and in PyTorch (bench/torch_transformer.py, the same model
# and step), at 1 and 2 threads, in one run.  Each side times STEPS steps (default 100) after
# 10 warm-up steps and reports the median; with REPEAT=n (default 1) each measurement is
# repeated n times, alternating nnc and PyTorch, and the smallest median is kept (the machine
# may be shared).  Prints one line per thread count: the two medians in ms and nnc / torch.
# On a shared machine the 2-thread numbers of both sides blow up when a thread spinning at
# an OpenMP barrier loses its core; OMP_WAIT_POLICY=passive (passed to both) tames that.
# Usage: bench/transformer.sh            (needs python3-torch: installs it if missing)
#        STEPS=200 REPEAT=3 BUILD=build bench/transformer.sh
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD:-build}
steps=${STEPS:-100}
repeat=${REPEAT:-1}
/usr/bin/python3 -c 'import torch' 2>/dev/null || {
  echo "installing python3-torch for the baseline"; apt-get install -y -qq python3-torch >/dev/null; }
make -s BUILD="$build" all >/dev/null
field() { sed 's/.*"ms_per_step": \([0-9.e-]*\).*/\1/'; }
min() { awk -v a="$1" -v b="$2" 'BEGIN{print (a == "" || b < a) ? b : a}'; }
printf "%-8s %12s %12s %8s\n" threads nnc_ms torch_ms ratio
for t in 1 2; do
  nnc_ms="" torch_ms=""
  for _ in $(seq "$repeat"); do
    n=$("$build/nnc" bench transformer --threads "$t" --steps "$steps" | field)
    p=$(OMP_NUM_THREADS=$t /usr/bin/python3 bench/torch_transformer.py --threads "$t" --steps "$steps" | field)
    nnc_ms=$(min "$nnc_ms" "$n")
    torch_ms=$(min "$torch_ms" "$p")
  done
  printf "%-8s %12.2f %12.2f %8.2f\n" "$t" "$nnc_ms" "$torch_ms" "$(awk -v a="$nnc_ms" -v b="$torch_ms" 'BEGIN{print a/b}')"
done
