#!/usr/bin/env bash
# The libFuzzer targets of fuzz/ (one per parser of untrusted files), built with clang into
# build-fuzz/ (-DHYB_FUZZ=ON: coverage, AddressSanitizer, UBSan) and run one after the other.
#   scripts/fuzz.sh short        ${HYB_FUZZ_SECONDS:-5} seconds per target (scripts/test.sh, so CI)
#   scripts/fuzz.sh long N       N executions per target (>= 1000000 for the recorded run)
#   scripts/fuzz.sh run TARGET N [libFuzzer flags...]   one target
# Seeds: fuzz/corpus/<target>/ (small hand-written files) and, when ../shared/data (or $HYB_SHARED)
# is there, seeds made from its real files into build-fuzz/seeds/<target>/ (under CI=true a missing
# ../shared fails, as the tests do). What a run discovers is
# kept in build-fuzz/corpus/<target>/ (the next run starts from it); a crashing input is written to
# build-fuzz/artifacts/ and the script exits non-zero. A summary line per target goes to
# build-fuzz/fuzz-summary.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-short}"
B=build-fuzz
shared="${HYB_SHARED:-../shared}/data"

build() {
  if ! command -v clang++ >/dev/null; then
    # The short run is a step of scripts/test.sh: a machine without clang skips it, saying so; CI may not.
    if [ "$mode" = short ] && [ "${CI:-}" != true ]; then
      echo "fuzz: no clang++ here (apt-get install clang libclang-rt-dev): the short fuzzing run is skipped"; exit 0
    fi
    echo "fuzz: clang++ not found (apt-get install clang libclang-rt-dev)" >&2; exit 1
  fi
  if [ ! -f $B/build.ninja ]; then
    CC=clang CXX=clang++ cmake -S . -B $B -G Ninja -DCMAKE_BUILD_TYPE=None -DCMAKE_CXX_FLAGS="-O1" \
      -DHYB_FUZZ=ON -DHYB_BUILD_TESTS=OFF ${CMAKE_CXX_COMPILER_LAUNCHER:+-DCMAKE_CXX_COMPILER_LAUNCHER=$CMAKE_CXX_COMPILER_LAUNCHER}
  fi
  cmake --build $B -j"$(nproc)" --target fuzz_all
}

# Seeds from ../shared/data: small files as they are, big ones cut down to a valid small file.
make_seeds() {
  if [ ! -d "$shared" ]; then
    [ "${CI:-}" = true ] && { echo "fuzz: no $shared (CI=true: the seeds from the real files are required)" >&2; return 1; }
    echo "fuzz: no $shared: hand-written seeds only"; return 0
  fi
  python3 scripts/fuzz_seeds.py "$shared" $B/seeds
}

targets() { for f in fuzz/fuzz_*.cpp; do basename "$f" .cpp; done; }

run_one() {  # run_one TARGET RUNS [flags...]   (RUNS -1: until -max_total_time)
  local t=$1 runs=$2; shift 2
  mkdir -p $B/corpus/$t $B/artifacts
  local seeds=()
  for d in fuzz/corpus/$t $B/seeds/$t; do [ -d "$d" ] && seeds+=("$d"); done
  local log=$B/logs/$t.log start end
  mkdir -p $B/logs
  start=$(date +%s)
  # -rss_limit_mb: a parser that lets a file ask for gigabytes is a finding, not a slow run.
  # -timeout: a hang (one input taking over 10 s) is a finding.
  if ! "$B/fuzz/$t" -runs="$runs" -max_len=65536 -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
      -artifact_prefix="$B/artifacts/$t-" "$@" "$B/corpus/$t" "${seeds[@]}" >"$log" 2>&1; then
    tail -n 60 "$log"
    echo "fuzz: $t FAILED (log: $log; input: $B/artifacts/$t-*)"
    return 1
  fi
  end=$(date +%s)
  local execs rate cov
  execs=$(grep -ao 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')
  rate=$(grep -ao 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')
  cov=$(grep -ao 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*$' || echo '?')
  printf '%-28s %10s execs %6s s %7s exec/s  cov %5s  corpus %5s files  no finding\n' "$t" "$execs" \
    "$((end - start))" "$rate" "$cov" "$(ls $B/corpus/$t | wc -l)" | tee -a $B/fuzz-summary.txt
}

case "$mode" in
  short|long)
    if [ "$mode" = long ]; then runs="${2:?scripts/fuzz.sh long N}"; limit=(); what="$runs runs"
    else runs=-1; limit=(-max_total_time="${HYB_FUZZ_SECONDS:-5}"); what="${HYB_FUZZ_SECONDS:-5} s"; fi
    build
    make_seeds
    echo "# $(date -u '+%F %T') UTC, $mode, $what per target, $(nproc) cores" >>$B/fuzz-summary.txt
    failed=0
    for t in $(targets); do run_one "$t" "$runs" "${limit[@]}" || failed=1; done
    exit $failed ;;
  run)
    build
    make_seeds
    run_one "${2:?target}" "${3:?runs}" "${@:4}" ;;
  *)
    echo "usage: scripts/fuzz.sh short | long N | run TARGET N [flags]" >&2; exit 2 ;;
esac
