#!/usr/bin/env bash
# bench/charlm.sh: the char-lm floor of the sequences issue, measured.  Joins the text files of
# Debian's `fortunes` package (installed if missing) into one text (about 2.6 MB), trains
# `nnc train char-lm` on it with its defaults, and prints the held-out bits per character after
# each epoch, the wall-clock time of the whole run, and whether it is below 2.2 bpc within 5
# minutes.  Extra arguments go to `nnc train char-lm` (e.g. --threads 1).
# Usage: bench/charlm.sh [flags]        BUILD=build/lead bench/charlm.sh
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD:-build}
dir=/usr/share/games/fortunes
if ! dpkg-query -W -f='${Status}' fortunes 2>/dev/null | grep -q 'install ok installed'; then
  echo "installing fortunes for the text"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get install -y -qq --no-install-recommends fortunes >/dev/null
fi
make -s BUILD="$build" all >/dev/null
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
find "$dir" -maxdepth 1 -type f ! -name '*.dat' ! -name '*.u8' | sort | xargs cat > "$tmp/fortunes.txt"
echo "text: $(wc -c < "$tmp/fortunes.txt") bytes from $dir, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
start=$(date +%s.%N)
NNC_NO_PROGRESS=1 "$build/nnc" train char-lm --text "$tmp/fortunes.txt" --out "$tmp/run" "$@" >"$tmp/log" 2>&1 ||
  { cat "$tmp/log"; exit 1; }
end=$(date +%s.%N)
sed 's/.*"epoch":\([0-9]*\).*"test_bpc":\([0-9.]*\).*"seconds":\([0-9.]*\).*/epoch \1  test_bpc \2  (epoch \3 s)/' "$tmp/run/metrics.jsonl"
awk -v s="$start" -v e="$end" -v bpc="$(tail -n1 "$tmp/run/metrics.jsonl" | sed 's/.*"test_bpc":\([0-9.]*\).*/\1/')" \
  'BEGIN { t = e - s; printf "final test_bpc %.4f after %.1f s: %s\n", bpc, t, (bpc < 2.2 && t < 300) ? "below 2.2 in under 5 minutes" : "FLOOR MISSED" }'
