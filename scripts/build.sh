#!/usr/bin/env bash
# Configure (once) and build into build/. Usage: scripts/build.sh [TARGET...] (default: everything:
# library, CLI, tests, benchmarks). HYB_CMAKE_ARGS go to cmake's configure step; a build configured
# without the tests (scripts/setup.sh) is reconfigured with them when the whole build is asked for.
set -euo pipefail
cd "$(dirname "$0")/.."
tests=ON
[ $# -gt 0 ] && tests=OFF  # a target list (setup.sh: the CLI) needs no GoogleTest
if [ ! -f build/build.ninja ]; then
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DHYB_BUILD_TESTS=$tests ${HYB_CMAKE_ARGS:-}
elif [ $tests = ON ] && grep -q '^HYB_BUILD_TESTS:BOOL=OFF' build/CMakeCache.txt; then
  cmake -S . -B build -DHYB_BUILD_TESTS=ON
fi
if [ $# -gt 0 ]; then
  targets=()
  for t in "$@"; do targets+=(--target "$t"); done
  cmake --build build -j"$(nproc)" "${targets[@]}"
else
  cmake --build build -j"$(nproc)"
fi
