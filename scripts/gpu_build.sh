#!/usr/bin/env bash
# Build on the GPU machine (LibTorch from its pip torch, CUDA on). Its image has no apt: the
# Debian -dev packages we need are unpacked under .deps/ here (scripts/gpu_deps.sh) and carried.
set -euo pipefail
cd "$(dirname "$0")/.."
TORCH_PREFIX=$(python3 -c 'import torch;print(torch.utils.cmake_prefix_path)')
export LD_LIBRARY_PATH="$PWD/.deps/usr/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}"
if [ ! -f build-gpu/build.ninja ]; then
  cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_PREFIX_PATH="$TORCH_PREFIX;$PWD/.deps/usr" -DCMAKE_CUDA_ARCHITECTURES=90 "$@"
fi
cmake --build build-gpu -j"$(nproc)" ${GPU_TARGETS:+--target $GPU_TARGETS}  # GPU_TARGETS: e.g. "hybridize"
