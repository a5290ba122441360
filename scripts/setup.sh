#!/usr/bin/env bash
# One command on a fresh Debian 12 machine: install the packages, build everything, run the
# main job on an embedded default. Usage: scripts/setup.sh   (sudo is used when not root)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/packages.sh
install_missing_packages
scripts/build.sh
# The main job on an embedded default (nothing downloaded): the whole method on a synthetic world.
build/hybridize demo --out out/demo
