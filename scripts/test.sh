#!/usr/bin/env bash
# Build and run every test (GoogleTest via CTest). Tests that need ../shared skip outside CI
# and fail under CI=true when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh
ctest --test-dir build --output-on-failure -j"$(nproc)" "$@"
