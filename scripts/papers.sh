#!/usr/bin/env bash
# scripts/papers.sh: `make papers`: runs every paper at full size (or those named as
# arguments) and writes runs/papers/RESULTS.md, a table of slug, claim, criteria and verdict
# made from each result.json.
set -u
NNC=${NNC_BIN:-build/nnc}
out=runs/papers
mkdir -p "$out"
slugs=${*:-$($NNC run --list | awk '{print $1}')}
for slug in $slugs; do
  $NNC run "$slug" --out "$out/$slug"
  echo "exit $? for $slug"
done
python3 - "$out" $slugs <<'PY'
import json, sys, os
out, slugs = sys.argv[1], sys.argv[2:]
rows = ["| paper | claim | criteria (value op threshold) | pass | seconds |", "|---|---|---|---|---|"]
for s in slugs:
    p = os.path.join(out, s, "result.json")
    if not os.path.exists(p):
        rows.append(f"| {s} | (no result) | | no | |"); continue
    r = json.load(open(p))
    crit = "; ".join(f"{c['name']}: {c['value']:.4g} {c['op']} {c['threshold']:g} {'✓' if c['pass'] else '✗'}" for c in r["criteria"])
    rows.append(f"| {s} | {r['claim']} | {crit} | {'yes' if r['pass'] else 'no'} | {r['seconds']:.0f} |")
open(os.path.join(out, "RESULTS.md"), "w").write("\n".join(rows) + "\n")
print("\n".join(rows))
PY
