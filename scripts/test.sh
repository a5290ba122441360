#!/usr/bin/env bash
# Build and run every test (GoogleTest via CTest, then pytest for the Python side). Tests that need
# ../shared skip outside CI and fail under CI=true when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
# The test-only packages (GoogleTest), and any build package a machine set up before it joined the
# list lacks (libgloo-dev: without it the build still works and the --gpus tests skip, saying why).
. scripts/packages.sh
install_missing_packages $PACKAGES $TEST_PACKAGES || echo "warning: could not install the missing packages; continuing"
scripts/build.sh  # everything: the tests and benchmarks too (setup.sh built only the CLI)
ctest --test-dir build --output-on-failure -j"$(nproc)" "$@"
# A short run of every libFuzzer target (seconds each, clang + ASan + UBSan, build-fuzz/): a parser
# that crashes, hangs, leaks or throws a library's exception on a mutated file fails the suite.
# HYB_FUZZ_SECONDS=0 leaves it out (a quick local rerun).
if [ "${HYB_FUZZ_SECONDS:-5}" != 0 ]; then scripts/fuzz.sh short; fi
# The Python side (python/tests: exported hybrids in transformers), in a cached virtual environment
# built from python/requirements.txt (scripts/python_env.sh).
python="$(scripts/python_env.sh)"
"$python" -m pytest python/tests -q -p no:cacheprovider
