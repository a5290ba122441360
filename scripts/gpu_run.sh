#!/usr/bin/env bash
# The session's GPU work in stages, so that one device call can run several:
#   scripts/gpu_run.sh build check linear distill eval search    # call A
#   scripts/gpu_run.sh build decode                               # call B
# Carry .deps (scripts/gpu_deps.sh) and .device (copies of the ../shared files used). Logs and
# JSON land in $OUT. Each stage has its own time limit, so one slow stage cannot eat the call.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-out/gpu}; mkdir -p "$OUT"
export LD_LIBRARY_PATH="$PWD/.deps/usr/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}"
export HYB_SHARED="$PWD/.device/shared" NCCL_NVLS_ENABLE=0
S=$HYB_SHARED/data
H=build-gpu/hybridize
q15() {  # shape-true random Qwen2.5-1.5B with the real Qwen2 tokenizer
  [ -f /tmp/q15/config.json ] || { $H random-model --config $S/configs/qwen2.5-1.5b.json --out /tmp/q15 --dtype bfloat16 | tail -1;
    cp $S/tokenizers/qwen2/* /tmp/q15/; }
}
for stage in "$@"; do
  t0=$(date +%s); echo "=== $stage"
  case $stage in
    build) scripts/gpu_build.sh > "$OUT/build.log" 2>&1 || { tail -40 "$OUT/build.log"; exit 1; } ;;
    check) timeout 240 build-gpu/hybridize_tests --gtest_filter="${TEST_FILTER:-Cuda*:CachedDecode*:ModelFixtures*}" 2>&1 \
             | tee "$OUT/tests.log" | grep -E "FAILED|PASSED|info|Failure" | head -30 ;;
    linear) timeout 120 build-gpu/bench_linear --device cuda 2>&1 | tee "$OUT/bench_linear.txt" | tail -25 ;;
    distill) q15
      for mixer in gla gdn jet; do
        timeout 150 $H distill --model /tmp/q15 --mixer $mixer --data $S/corpora/wikitext2_raw/wiki.test.raw \
          --tokens $((8 * 1024 * 12)) --eval-sequences 2 --eval-every 0 --device cuda --out /tmp/q15-$mixer \
          --no-progress > "$OUT/distill_$mixer.log" 2>&1; tail -3 "$OUT/distill_$mixer.log"
        python3 -c "import json;d=json.load(open('/tmp/q15-$mixer/distill.json'));print('$mixer tokens/s', round(d['tokens_per_second']), 'seconds', round(d['seconds'],1))"
        cp /tmp/q15-$mixer/distill.json "$OUT/distill_$mixer.json" 2>/dev/null
      done ;;
    dist) q15  # --gpus N (issue 9): distill tokens/s on 1..N GPUs at 8 sequences per GPU, one greedy round on N
      counts=${GPU_COUNTS:-1 2}
      for n in $counts; do
        rm -rf /tmp/q15-dist$n
        timeout 300 $H distill --model /tmp/q15 --mixer gdn --data $S/corpora/wikitext2_raw/wiki.test.raw \
          --tokens $((n * 8 * 1024 * 12)) --batch $((n * 8)) --eval-sequences 2 --eval-every 0 --device cuda \
          --gpus $n --out /tmp/q15-dist$n --no-progress > "$OUT/dist_distill_$n.log" 2>&1; tail -3 "$OUT/dist_distill_$n.log"
        python3 -c "import json;d=json.load(open('/tmp/q15-dist$n/distill.json'));print('gpus $n tokens/s', round(d['tokens_per_second']), 'seconds', round(d['seconds'],1))"
        cp /tmp/q15-dist$n/distill.json "$OUT/dist_distill_$n.json" 2>/dev/null
        [ -f /tmp/q15-gdn/linear.safetensors ] || cp -r /tmp/q15-dist$n /tmp/q15-gdn
      done
      n=${counts##* }
      timeout 400 $H search --model /tmp/q15 --linear /tmp/q15-gdn/linear.safetensors --task pubmedqa --split test \
        --tasks-dir $S/tasks --max-drop 1 --replace 1 --device cuda --gpus $n --out /tmp/search-dist 2>&1 | tail -8
      cp /tmp/search-dist/summary.json "$OUT/dist_search_summary.json" 2>/dev/null ;;
    eval) q15
      for i in 1 2; do timeout 200 $H eval --model /tmp/q15 --task pubmedqa --tasks-dir $S/tasks --device cuda \
        --out "$OUT/eval_pubmedqa.json" --no-progress 2>&1 | tail -4; done ;;
    search) q15
      timeout 400 $H search --model /tmp/q15 --linear /tmp/q15-gdn/linear.safetensors --task pubmedqa --split test \
        --tasks-dir $S/tasks --max-drop 1 --replace 1 --device cuda --out /tmp/search 2>&1 | tail -8
      cp /tmp/search/trajectory.jsonl /tmp/search/summary.json "$OUT/" 2>/dev/null ;;
    decode) for mixer in ${MIXERS:-jet gdn}; do
        timeout ${DECODE_LIMIT:-280} $H bench --config $S/configs/llama-3.2-3b-instruct.json --mixer $mixer \
          --replace-counts ${COUNTS:-0,8,16,24,28} --context ${CONTEXTS:-512,2048,16384,65536} --device cuda \
          --out "$OUT/bench_$mixer.json" 2>&1 | tee "$OUT/bench_$mixer.txt"
      done ;;
  esac
  echo "--- $stage: $(( $(date +%s) - t0 )) s"
done
