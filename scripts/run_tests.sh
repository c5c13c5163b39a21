#!/usr/bin/env bash
# Runs every test binary in BUILD/tests, then every shell test in tests/*.sh, sums their
# "N passed, M failed" lines and prints the total as the last line.  Exits non-zero on any failure.
set -u
build=${1:-build}
export NNC_BIN="$build/nnc"
pass=0; fail=0
run() {  # run NAME CMD...: one test program; its last line must be "N passed, M failed"
  local name=$1; shift
  local log; log=$(mktemp)
  "$@" >"$log" 2>&1; local rc=$?
  local last; last=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
  if [ -z "$last" ]; then
    echo "FAIL $name: exit $rc without a summary line"; tail -n 20 "$log"; fail=$((fail+1))
  else
    local p f; p=$(echo "$last" | cut -d' ' -f1); f=$(echo "$last" | cut -d' ' -f3)
    pass=$((pass+p)); fail=$((fail+f))
    if [ "$f" -ne 0 ] || [ $rc -ne 0 ]; then
      echo "FAIL $name ($last, exit $rc)"; grep -E 'FAIL|error' "$log" | head -n 30
      [ "$f" -eq 0 ] && fail=$((fail+1))
    else
      echo "ok   $name ($last)"
    fi
  fi
  rm -f "$log"
}
for t in "$build"/tests/test_*; do
  [ -x "$t" ] && run "$(basename "$t")" "$t"
done
for t in tests/*.sh; do
  [ -f "$t" ] && run "$(basename "$t")" bash "$t"
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
