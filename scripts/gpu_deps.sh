#!/usr/bin/env bash
# Unpacks the Debian -dev packages the build needs into .deps/ (git-ignored), to carry to the
# GPU machine, whose image has CUDA and PyTorch but no apt and no network.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
(cd "$tmp" && apt-get download nlohmann-json3-dev libpcre2-dev libpcre2-8-0 libcli11-dev libfmt-dev libfmt9 \
  libgtest-dev libbz2-dev libutf8proc-dev libutf8proc2)
rm -rf .deps && mkdir .deps
for f in "$tmp"/*.deb; do dpkg -x "$f" .deps; done
rm -rf "$tmp"
# flash-linear-attention (pure Python; Triton and torch come with the GPU machine), the peer that
# `gpu_run.sh kernels` times the fused kernels against: its wheels into .whl/ (git-ignored), carried.
rm -rf .whl && mkdir .whl
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 -d .whl flash-linear-attention==0.6.0 fla-core==0.6.0
