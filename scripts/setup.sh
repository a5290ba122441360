#!/usr/bin/env bash
# One command on a fresh Debian 12 machine: install the packages, build everything, run the
# main job on an embedded default. Usage: scripts/setup.sh   (sudo is used when not root)
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
PACKAGES="build-essential cmake ninja-build pkg-config libtorch-dev libopenblas0-openmp \
  nlohmann-json3-dev libpcre2-dev libcli11-dev libfmt-dev libgtest-dev libbz2-dev libutf8proc-dev libgloo-dev"
missing=$(for p in $PACKAGES; do dpkg -s "$p" >/dev/null 2>&1 || echo "$p"; done)
if [ -n "$missing" ]; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing
fi
scripts/build.sh
# The main job on an embedded default (nothing downloaded): the whole method on a synthetic world.
build/hybridize demo --out out/demo
