#!/usr/bin/env bash
# Installs the Debian packages nnc needs to build, test and run its demo, if any is missing.
# Called by `make test`, `make demo` and `make sanitize`; safe to run again (it does nothing then).
set -euo pipefail
need=(gcc make clang libdnnl-dev libcjson-dev libpng-dev zlib1g-dev dataset-fashion-mnist)
missing=()
for p in "${need[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "setup: installing ${missing[*]}"
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
