#!/usr/bin/env bash
# One command on a fresh Debian 12 machine: install the packages the CLI needs, build the CLI alone,
# and run the main job on an embedded default. Tests and benchmarks are built by scripts/test.sh.
# Usage: scripts/setup.sh   (sudo is used when not root). Each step prints its wall time.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/packages.sh
step() {  # step NAME COMMAND...: runs it and says how long it took
  local name=$1 t0=$SECONDS
  shift
  echo "== $name"
  "$@"
  echo "== $name: $((SECONDS - t0)) s"
}
step "packages" install_missing_packages $PACKAGES
step "build the CLI (build/hybridize)" scripts/build.sh hybridize
# The main job on an embedded default (nothing downloaded): the whole method on a synthetic world.
# A second run resumes or starts over (hybridize demo's own rules).
step "hybridize demo" build/hybridize demo --out out/demo
