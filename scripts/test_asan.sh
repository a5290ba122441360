#!/usr/bin/env bash
# The whole test suite under AddressSanitizer + UBSan (build-asan/; -O1, line tables). UBSan stops
# at the first finding; leak checking is off because LibTorch's own static allocations are not
# freed at exit. Slow (about 45 min of one core to build, 7 min to test on the dev VM).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -f build-asan/build.ninja ]; then
  cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=None -DCMAKE_CXX_FLAGS="-O1 -g1" -DHYB_SANITIZE=ON "$@"
fi
cmake --build build-asan -j"$(nproc)" --target hybridize hybridize_tests
ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-asan --output-on-failure -j"$(nproc)" --timeout 900
