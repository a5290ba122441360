#!/usr/bin/env bash
# One command on a fresh Debian 12 machine: install the packages, build everything, run the
# main job on an embedded default. Usage: scripts/setup.sh   (sudo is used when not root)
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
PACKAGES="build-essential cmake ninja-build pkg-config libtorch-dev libopenblas0-openmp \
  nlohmann-json3-dev libpcre2-dev libcli11-dev libfmt-dev libgtest-dev libbz2-dev libutf8proc-dev"
missing=$(for p in $PACKAGES; do dpkg -s "$p" >/dev/null 2>&1 || echo "$p"; done)
if [ -n "$missing" ]; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing
fi
scripts/build.sh
# The main job on an embedded default (no download needed). Until `hybridize demo` lands, a
# model the build makes itself: random weights in the stories260K shape (configs/tiny-llama.json).
build/hybridize random-model --config configs/tiny-llama.json --out out/tiny-random --dtype float32
build/hybridize info --model out/tiny-random
build/hybridize generate --model out/tiny-random --prompt-ids 1,42,7 --print-ids --max-new-tokens 16
