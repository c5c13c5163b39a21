#!/usr/bin/env bash
# tests/test_papers.sh: every paper's quick run (`nnc run SLUG --quick`) finishes, writes a
# well-formed result.json, and passes its unit-level criteria.
set -u
NNC=${NNC_BIN:-build/nnc}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0; fail=0
export NNC_NO_PROGRESS=1
for slug in $($NNC run --list | awk '{print $1}'); do
  t0=$(date +%s)
  $NNC run "$slug" --quick --out "$tmp/$slug" >"$tmp/$slug.log" 2>&1
  rc=$?
  if [ $rc -eq 0 ] && grep -q '"pass":true' "$tmp/$slug/result.json" 2>/dev/null; then
    pass=$((pass+1)); echo "ok   $slug ($(( $(date +%s) - t0 )) s)"
  else
    fail=$((fail+1)); echo "FAIL $slug (exit $rc)"; tail -n 15 "$tmp/$slug.log"
  fi
done
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
