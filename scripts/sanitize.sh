#!/usr/bin/env bash
# The whole test suite under AddressSanitizer + UndefinedBehaviorSanitizer: configures build-asan/
# (gcc, -DHYB_SANITIZE=ON, -O0 with line tables: the build is what costs) once, builds the CLI and the tests at low priority
# (nice: the machine is shared) and runs every test through ctest. Extra arguments go to ctest
# (e.g. -R Tokenizer). Slow: about 45 min of one core to build from nothing.
#
# Only our code is instrumented; LibTorch, OpenMP and OpenBLAS are not. Settings:
#  - UBSan: halt_on_error=1, so a finding fails its test (and prints its stack).
#  - ASan: leak checking on, with scripts/lsan.supp suppressing leaks allocated inside those
#    uninstrumented libraries (their static pools and thread-local caches, freed by nobody at exit).
#    A leak of our own that allocates through LibTorch (a tensor we never free) is hidden by that too:
#    the suppressions can only name the library the allocation stack passes through.
set -euo pipefail
cd "$(dirname "$0")/.."
B=build-asan
if [ ! -f $B/build.ninja ]; then
  cmake -S . -B $B -G Ninja -DCMAKE_BUILD_TYPE=None -DCMAKE_CXX_FLAGS="-O0 -g1" -DHYB_SANITIZE=ON \
    ${CMAKE_CXX_COMPILER_LAUNCHER:+-DCMAKE_CXX_COMPILER_LAUNCHER=$CMAKE_CXX_COMPILER_LAUNCHER}
fi
nice -n 10 cmake --build $B -j"$(nproc)" --target hybridize hybridize_tests
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:strict_string_checks=1:detect_stack_use_after_return=1"
export LSAN_OPTIONS="suppressions=$PWD/scripts/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
ctest --test-dir $B --output-on-failure -j"$(nproc)" --timeout 1200 "$@"
