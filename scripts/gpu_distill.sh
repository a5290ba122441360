#!/usr/bin/env bash
# One device call for distill: build against the GPU machine's LibTorch (2.x), run the distill
# tests there (CPU, LibTorch 2.x), then distil on CUDA in bf16: stories260K (a real model) and a
# shape-true random Qwen2.5-1.5B at the default --seq-len 1024 --batch 8 (tokens/s, GPU memory).
# Carry: .deps (scripts/gpu_deps.sh) and .device/shared (copies of the ../shared files used).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-out/gpu}; mkdir -p "$OUT"
export LD_LIBRARY_PATH="$PWD/.deps/usr/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}"
export HYB_SHARED="$PWD/.device/shared" NCCL_NVLS_ENABLE=0
S=$HYB_SHARED/data
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader | tee "$OUT/gpu.txt"
start=$(date +%s)
scripts/gpu_build.sh > "$OUT/build.log" 2>&1 || { tail -40 "$OUT/build.log"; exit 1; }
echo "build: $(( $(date +%s) - start )) s"
build-gpu/hybridize_tests --gtest_filter="${TEST_FILTER:-Distill*:Plot*:CliDistill*}" 2>&1 | tee "$OUT/tests.log" \
  | grep -E "^\[  (FAILED|PASSED|     OK) |tests ran|Failure|Expected|actual|layer" | head -40
nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 250 > "$OUT/mem.csv" 2>/dev/null &
MEM_PID=$!
H=build-gpu/hybridize
$H distill --model $S/models/stories260K/hf --mixer gla --data $S/corpora/tinyshakespeare/input.txt \
  --eval-data $S/corpora/tinystories/tinystories_val.txt --tokens 1000000 --seq-len 256 --batch 16 --lr 3e-3 \
  --device cuda --out /tmp/s260k-gla --no-progress 2>&1 | tail -9
if [ -z "${SKIP_BIG:-}" ]; then
  $H random-model --config $S/configs/qwen2.5-1.5b.json --out /tmp/q15 --dtype bfloat16 | tail -1
  for mixer in ${MIXERS:-gla gdn}; do
    $H distill --model /tmp/q15 --tokenizer $S/tokenizers/qwen2 --mixer $mixer --data $S/corpora/wikitext2_raw/wiki.test.raw \
      --tokens $((8 * 1024 * ${STEPS:-12})) --eval-sequences 2 --eval-every 0 --device cuda --out /tmp/q15-$mixer \
      --no-progress 2>&1 | grep -E "distill:|distilled|error"
    python3 -c "import json;d=json.load(open('/tmp/q15-$mixer/distill.json'));print('$mixer', 'tokens/s', round(d['tokens_per_second']), 's', round(d['seconds'],1))"
  done
  sort -n "$OUT/mem.csv" | tail -1 | sed 's/^/peak GPU memory used (MiB): /'
fi
kill "$MEM_PID" 2>/dev/null || true
