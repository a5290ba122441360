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
