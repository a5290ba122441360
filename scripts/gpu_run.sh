#!/usr/bin/env bash
# scripts/gpu_run.sh STAGE... : build, check and measure on a GPU machine, several stages per call.
# Stages (each with its own time limit, so that one slow stage cannot eat the call):
#   kernels  the fused CUDA kernels alone (bench/fused_kernels.py: nvcc, no LibTorch build), checked
#            against fp64 recurrences and timed against flash-linear-attention (KERNELS_ARGS,
#            default "--check --time"; OPS=gla,gated_delta)
#   build    the CUDA build into build-gpu/ (scripts/gpu_build.sh)
#   fused    the fused kernels' GoogleTest suite through LibTorch;  check: every CUDA test suite
#   linear   bench_linear --profile (where the linear modules' GPU time goes)
#   distill  distillation tokens/s, MFU and held-out MSE at the Qwen2.5-1.5B shape
#            (DISTILL_MIXERS="gla gdn jet", KERNELS=fused|reference)
#   graphs / mfu   distillation with and without CUDA graphs / with FLOPs and peak memory
#   eval / search  PubMedQA-500 evaluation, one greedy round (after distill: uses its GDN modules)
#   decode / hf    hybrid decoding (Fig. 2 shapes) / transformers' generate on the same shapes
#   stories  real distillation of stories260K, each mixer, with perplexity sweeps
#   scaling  distillation tokens/s against the number of students, fused and reference (SCALING_RUNS)
#   profile  one distillation step profiled (distill --profile-step 4; PROFILE_MIXERS)
#   dist     --gpus N scaling (GPU_COUNTS="1 2", on a multi-GPU kind)
#   fla      `export --to fla` run by fla's own model classes and kernels against hybridize's logits
#            (python/tests/test_fla_export.py), and the remote code's CUDA path (fla's kernels) against the
#            same (test_remote_code.py); fla from .whl
# Example: scripts/gpu_run.sh kernels build fused check distill eval search
# Carry .deps (scripts/gpu_deps.sh), .device (copies of the ../shared files the stages read: configs,
# fixtures, models, tasks/pubmedqa, corpora/wikitext2_raw, tokenizers/qwen2) and .whl (fla's wheels,
# for `kernels`). Logs and JSON land in $R, packed into $OUT/results.tgz when the script ends (also
# when a stage hit its limit): the device returns at most 8 files.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-out/gpu}; mkdir -p "$OUT"
R=/tmp/results; mkdir -p $R
trap 'tar czf "$OUT/results.tgz" -C $R . 2>/dev/null' EXIT
export LD_LIBRARY_PATH="$PWD/.deps/usr/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}"
export HYB_SHARED="$PWD/.device/shared" NCCL_NVLS_ENABLE=0
S=$HYB_SHARED/data
H=build-gpu/hybridize
fla() {  # flash-linear-attention (pure Python, .whl/ carried) for the peer timings
  [ -d /tmp/site/fla ] || python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl
  export PYTHONPATH=/tmp/site
}
q15() {  # shape-true random Qwen2.5-1.5B with the real Qwen2 tokenizer
  [ -f /tmp/q15/config.json ] || { $H random-model --config $S/configs/qwen2.5-1.5b.json --out /tmp/q15 --dtype bfloat16 | tail -1;
    cp $S/tokenizers/qwen2/* /tmp/q15/; }
}
for stage in "$@"; do
  t0=$(date +%s); echo "=== $stage"
  case $stage in
    fla) fla; python3 -c "import torch, transformers; print('torch', torch.__version__, 'transformers', transformers.__version__)"
      HYB_BIN=$H CI=true PYTHONUNBUFFERED=1 timeout ${FLA_LIMIT:-420} python3 -m pytest -q -s -p no:cacheprovider \
        python/tests/test_fla_export.py python/tests/test_remote_code.py::test_logits_on_cuda_match_hybridize 2>&1 | tee "$R/fla_export.txt" | grep -v Warning | tail -40 ;;
    build) scripts/gpu_build.sh > "$R/build.log" 2>&1 || { tail -40 "$R/build.log"; exit 1; } ;;
    kernels) fla  # the fused kernels alone (nvcc, no LibTorch build): fp64 checks, then timings against fla
      PYTHONUNBUFFERED=1 timeout ${KERNELS_LIMIT:-400} python3 bench/fused_kernels.py ${KERNELS_ARGS:---check --time} \
        --ops ${OPS:-gla,gated_delta} --build-dir $R/kernels --json $R/fused_kernels.json 2>&1 | tee $R/fused_kernels.txt | tail -80 ;;
    fused) timeout ${FUSED_LIMIT:-300} build-gpu/hybridize_tests --gtest_filter='CudaFused*' 2>&1 | tee "$R/fused_tests.log" \
             | grep -E "FAILED|PASSED|info|Failure|Expected|Which is" | head -80 ;;
    check) timeout 240 build-gpu/hybridize_tests --gtest_filter="${TEST_FILTER:-Cuda*:CachedDecode*:ModelFixtures*:Linear*:Distill.CudaGraphs*}" 2>&1 \
             | tee "$R/tests.log" | grep -E "FAILED|PASSED|info|Failure" | head -30 ;;
    linear) for kern in fused reference; do  # the modules with the fused kernels and with the LibTorch form
        timeout 300 build-gpu/bench_linear --device cuda --profile --kernels $kern 2>&1 | tee "$R/bench_linear_$kern.txt" | tail -60
      done ;;
    distill) q15  # KERNELS=reference runs the LibTorch chunked form (outputs in /tmp/q15-MIXER-reference)
      kern=${KERNELS:-fused}; sfx=; [ $kern = fused ] || sfx=-$kern
      for mixer in ${DISTILL_MIXERS:-gla gdn jet}; do
        d=/tmp/q15-$mixer$sfx; rm -rf $d
        timeout ${DISTILL_LIMIT:-150} $H distill --model /tmp/q15 --mixer $mixer --data $S/corpora/wikitext2_raw/wiki.test.raw \
          --tokens $((8 * 1024 * 12)) --eval-sequences 2 --eval-every 0 --device cuda --out $d \
          --kernels $kern --no-progress > "$R/distill_$mixer$sfx.log" 2>&1; tail -3 "$R/distill_$mixer$sfx.log"
        python3 -c "import json;d=json.load(open('$d/distill.json'));m=d['metrics'];e=[m[k]['end']['rel_mse'] for k in m]
print('$mixer $kern', d.get('linear_kernels'), 'tokens/s', round(d['tokens_per_second']), 'seconds', round(d['seconds'],1), 'mfu', d.get('mfu'),
      'held-out rel mse mean', round(sum(e)/len(e),5), 'layers 0-3', [round(x,5) for x in e[:4]])"
        cp $d/distill.json "$R/distill_$mixer$sfx.json" 2>/dev/null
      done ;;
    scaling) q15  # where a distillation step's time goes: tokens/s against the number of students
      for run in ${SCALING_RUNS:-"0 fused" "0 reference" "0-6 fused" "0-27 fused" "0-27 reference"}; do
        set -- $run; d=/tmp/q15s; rm -rf $d
        timeout 120 $H distill --model /tmp/q15 --mixer ${SCALING_MIXER:-gdn} --layers $1 --kernels $2 \
          --data $S/corpora/wikitext2_raw/wiki.test.raw --tokens $((8 * 1024 * ${SCALING_STEPS:-24})) --eval-sequences 2 \
          --eval-every 0 --device cuda --out $d --no-progress > "$R/scaling_$1_$2.log" 2>&1
        python3 -c "import json;d=json.load(open('$d/distill.json'));print('layers $1 $2 tokens/s', round(d['tokens_per_second']),
          'seconds', round(d['seconds'],1), 'mfu', round(d['mfu'],4), 'peak GiB', round(d['peak_memory_bytes']/2**30,1))"
      done ;;
    profile) q15  # one distillation step profiled (distill --profile-step): teacher / students, kernels by kind
      for mixer in ${PROFILE_MIXERS:-gdn gla}; do
        rm -rf /tmp/q15p; timeout 120 $H distill --model /tmp/q15 --mixer $mixer --data $S/corpora/wikitext2_raw/wiki.test.raw \
          --tokens $((8 * 1024 * 5)) --eval-sequences 2 --eval-every 0 --device cuda --out /tmp/q15p --profile-step 4 \
          --no-progress 2>&1 | tee "$R/profile_$mixer.log" | grep -v "^ *[0-9]* *[0-9.]* -> "
      done ;;
    dist) q15  # --gpus N (issue 9): distill tokens/s on 1..N GPUs at 8 sequences per GPU, one greedy round on N
      counts=${GPU_COUNTS:-1 2}
      for n in $counts; do
        rm -rf /tmp/q15-dist$n
        timeout 300 $H distill --model /tmp/q15 --mixer gdn --data $S/corpora/wikitext2_raw/wiki.test.raw \
          --tokens $((n * 8 * 1024 * 12)) --batch-size $((n * 8)) --eval-sequences 2 --eval-every 0 --device cuda \
          --gpus $n --out /tmp/q15-dist$n --no-progress > "$R/dist_distill_$n.log" 2>&1; tail -3 "$R/dist_distill_$n.log"
        python3 -c "import json;d=json.load(open('/tmp/q15-dist$n/distill.json'));print('gpus $n tokens/s', round(d['tokens_per_second']), 'seconds', round(d['seconds'],1))"
        cp /tmp/q15-dist$n/distill.json "$R/dist_distill_$n.json" 2>/dev/null
        [ -f /tmp/q15-gdn/linear.safetensors ] || cp -r /tmp/q15-dist$n /tmp/q15-gdn
      done
      for n in ${SEARCH_COUNTS:-${counts##* }}; do  # one greedy round on n GPUs (SEARCH_COUNTS="1 2": both, same machine)
        rm -rf /tmp/search-dist$n
        timeout 400 $H search --model /tmp/q15 --linear /tmp/q15-gdn/linear.safetensors --task pubmedqa --split test \
          --tasks-dir $S/tasks --max-drop 1 --replace 1 --device cuda --gpus $n --out /tmp/search-dist$n 2>&1 | tail -8
        cp /tmp/search-dist$n/summary.json "$R/dist_search_summary_$n.json" 2>/dev/null
      done ;;
    eval) q15
      for i in 1 2; do timeout 200 $H eval --model /tmp/q15 --task pubmedqa --tasks-dir $S/tasks --device cuda \
        --out "$R/eval_pubmedqa.json" --overwrite --no-progress 2>&1 | tail -4; done ;;
    search) q15
      timeout 400 $H search --model /tmp/q15 --linear /tmp/q15-gdn/linear.safetensors --task pubmedqa --split test \
        --tasks-dir $S/tasks --max-drop 1 --replace 1 --device cuda --out /tmp/search 2>&1 | tail -8
      cp /tmp/search/trajectory.jsonl /tmp/search/summary.json "$R/" 2>/dev/null ;;
    decode) for mixer in ${MIXERS:-jet gdn}; do
        timeout ${DECODE_LIMIT:-280} $H bench --config $S/configs/llama-3.2-3b-instruct.json --mixer $mixer \
          --replace-counts ${COUNTS:-0,8,16,24,28} --context ${CONTEXTS:-512,2048,16384,65536} --device cuda \
          --out "$R/bench_$mixer.json" 2>&1 | tee "$R/bench_$mixer.txt"
      done ;;
    stories)  # stories260K, each mixer, a few million tokens of general text; held out: tinystories
      C=$S/corpora
      for mixer in gla gdn jet; do
        timeout 200 $H distill --model $S/models/stories260K/hf --mixer $mixer --device cuda --dtype float32 \
          --data "$C/gutenberg_nltk/*.txt" $C/tinyshakespeare/input.txt $C/wikitext2_raw/wiki.test.raw \
          --eval-data $C/tinystories/tinystories_val.txt --eval-sequences 8 --tokens ${STORIES_TOKENS:-4194304} \
          --seq-len 256 --batch-size 16 --lr 3e-3 --eval-every 128 --checkpoint-every 256 --no-progress \
          --out $R/stories-$mixer > $R/stories_$mixer.log 2>&1; tail -8 $R/stories_$mixer.log
        rm -f $R/stories-$mixer/checkpoint.safetensors
        timeout 100 $H perplexity --model $S/models/stories260K/hf --data $C/tinystories/tinystories_val.txt \
          --seq-len 256 --sequences 64 --linear $R/stories-$mixer/linear.safetensors --sweep --device cuda \
          --dtype float32 --out $R/stories-$mixer/perplexity.json 2>&1 | tail -9
      done ;;
    graphs) q15  # distillation with the students' updates as CUDA graphs (default) and op by op (--no-graph)
      for mixer in ${GRAPH_MIXERS:-gdn}; do
        for mode in graph no-graph; do
          flag=; [ $mode = no-graph ] && flag=--no-graph
          timeout 150 $H distill --model /tmp/q15 --mixer $mixer --data $S/corpora/wikitext2_raw/wiki.test.raw \
            --tokens $((8 * 1024 * 16)) --eval-sequences 2 --eval-every 0 --device cuda --out /tmp/q15g-$mixer-$mode \
            $flag --no-progress > "$R/graphs_${mixer}_$mode.log" 2>&1; tail -2 "$R/graphs_${mixer}_$mode.log"
          cp /tmp/q15g-$mixer-$mode/distill.json "$R/graphs_${mixer}_$mode.json"
          python3 -c "import json;d=json.load(open('$R/graphs_${mixer}_$mode.json'));print('$mixer $mode graphs', d['cuda_graphs'],
            round(d['tokens_per_second']), 'tok/s', round(d['model_tflops_per_second']/790*100,2), '% of 790; peak GiB',
            round(d['peak_memory_bytes']/2**30,1), 'end rel mse of layers 0-3', [round(d['metrics'][k]['end']['rel_mse'],4) for k in '0123'])"
        done
      done ;;
    mfu) q15  # distill throughput with model FLOPs and peak memory (distill.json)
      for mixer in ${MFU_MIXERS:-gdn}; do
        timeout 150 $H distill --model /tmp/q15 --mixer $mixer --data $S/corpora/wikitext2_raw/wiki.test.raw \
          --tokens $((8 * 1024 * 16)) --eval-sequences 2 --eval-every 0 --device cuda --out /tmp/q15m-$mixer \
          --no-progress > "$R/mfu_$mixer.log" 2>&1; tail -2 "$R/mfu_$mixer.log"
        cp /tmp/q15m-$mixer/distill.json "$R/mfu_$mixer.json"
        python3 -c "import json;d=json.load(open('$R/mfu_$mixer.json'));print('$mixer', round(d['tokens_per_second']), 'tok/s',
          round(d['model_tflops_per_second'],1), 'TFLOP/s', round(d['model_tflops_per_second']/790*100,2), '% of 790; peak GiB',
          round(d['peak_memory_bytes']/2**30,1))"
      done ;;
    hf)  # the full-attention model: transformers' generate and ours on the same (context, batch) shapes
      cfg=$S/configs/llama-3.2-3b-instruct.json
      PYTHONUNBUFFERED=1 timeout ${HF_LIMIT:-500} python3 tools/hf_generate_bench.py --config $cfg --modes ${HF_MODES:-eager,static-compile} --out $R/hf_generate.json
      for shape in 512x64 2048x32 16384x8 65536x2; do
        timeout 100 $H bench --config $cfg --context ${shape%x*} --batch-size ${shape#*x} --device cuda \
          --out $R/ours_$shape.json 2>&1 | tail -1
      done ;;
  esac
  echo "--- $stage: $(( $(date +%s) - t0 )) s"
done
