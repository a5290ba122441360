#!/usr/bin/env bash
# One device call: build against the GPU machine's LibTorch, run the whole test suite there
# (CUDA tests included) against the carried data, then the GPU benchmarks. Output under $OUT.
# Carry: .deps (scripts/gpu_deps.sh) and .device (copies of ../shared files the run needs).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-out/gpu}; mkdir -p "$OUT"
export LD_LIBRARY_PATH="$PWD/.deps/usr/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}"
export HYB_SHARED="$PWD/.device/shared" NCCL_NVLS_ENABLE=0
nvidia-smi --query-gpu=name,memory.total,clocks.sm --format=csv | tee "$OUT/gpu.txt"
start=$(date +%s)
scripts/gpu_build.sh > "$OUT/build.log" 2>&1 || { tail -50 "$OUT/build.log"; exit 1; }
echo "build: $(( $(date +%s) - start )) s"
build-gpu/hybridize_tests ${TEST_FILTER:+--gtest_filter=$TEST_FILTER} 2>&1 | tee "$OUT/tests.log" | grep -E "FAIL|info|PASSED|tests ran" | head -60
