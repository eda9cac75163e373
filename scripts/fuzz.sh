#!/usr/bin/env bash
# Coverage-guided fuzzing (libFuzzer + AddressSanitizer) of ROMA's readers, one target per reader
# (Sources/ROMAFuzz): gguf, safetensors, rom, peft, lora-gguf, tokenizer, training-data, request.
#
#   scripts/fuzz.sh TARGET SECONDS [libFuzzer flags...]   fuzz one target for SECONDS
#   scripts/fuzz.sh all SECONDS                           every target in turn, SECONDS each
#   scripts/fuzz.sh --list                                the target names
#
# The corpus of TARGET grows in out/fuzz/TARGET/corpus; it starts from the generated seeds
# (out/fuzz/TARGET/seeds) and the regression inputs in Tests/FuzzRegressionTests/Fixtures/TARGET.
# A crash is written to out/fuzz/TARGET/crash-* (minimize it with -minimize_crash=1, then add it to
# the Fixtures with the message it must be refused with) and the script exits 1.
# Prints one line per target: executions, rate, coverage (edges), corpus size, crashes.
# ROMA_FUZZ_CONFIG=debug builds the driver in debug (quicker to build, slower to run).
set -euo pipefail
cd "$(dirname "$0")/.."
targets=(gguf safetensors rom peft lora-gguf tokenizer training-data request)
if [[ "${1:-}" == "--list" ]]; then printf '%s\n' "${targets[@]}"; exit 0; fi
if [[ $# -lt 2 ]]; then echo "usage: scripts/fuzz.sh TARGET|all SECONDS [libFuzzer flags...]" >&2; exit 2; fi
target=$1 seconds=$2; shift 2
[[ "$seconds" =~ ^[0-9]+$ ]] || { echo "fuzz.sh: SECONDS must be a whole number, got '$seconds'" >&2; exit 2; }
if [[ "$target" != all && ! " ${targets[*]} " =~ " $target " ]]; then
  echo "fuzz.sh: unknown target '$target' (targets: ${targets[*]})" >&2; exit 2
fi
bash scripts/fetch-model.sh >/dev/null   # the tokenizer, training-data and request targets use SmolLM2's tokenizer

config=${ROMA_FUZZ_CONFIG:-release}   # scripts/test.sh uses debug: a shorter build for its short runs
[[ $config == release || $config == debug ]] || { echo "fuzz.sh: ROMA_FUZZ_CONFIG must be release or debug, got '$config'" >&2; exit 2; }
bin=.build-fuzz/$config/roma-fuzz
echo "fuzz.sh: building roma-fuzz ($config, -sanitize=fuzzer,address) in .build-fuzz" >&2
mkdir -p out/fuzz
set +e
ROMA_FUZZ_BUILD=1 swift build -c "$config" --scratch-path .build-fuzz --product roma-fuzz \
  -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library >out/fuzz/build.log 2>&1
build_rc=$?
set -e
if [[ $build_rc -ne 0 || ! -x "$bin" ]]; then
  grep -E "error:" out/fuzz/build.log | head -5 >&2 || true
  echo "fuzz.sh: the fuzz build failed (out/fuzz/build.log)" >&2; exit 1
fi

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0:allocator_may_return_null=1}"
export SWIFT_BACKTRACE=enable=no   # libFuzzer and ASan report crashes; the Swift backtracer trips ASan
status=0
fuzz_one() {
  local t=$1 dir=out/fuzz/$1; shift
  mkdir -p "$dir/corpus"
  rm -rf "$dir/seeds" "$dir/seeds.dict"
  ROMA_FUZZ_TARGET=$t ROMA_FUZZ_SEEDS="$dir/seeds" "$bin" >/dev/null 2>&1 || { echo "fuzz.sh: $t: cannot write seeds" >&2; return 1; }
  local regressions=()   # a target without regression inputs has no folder (git keeps no empty folders)
  [[ -d Tests/FuzzRegressionTests/Fixtures/$t ]] && regressions=("Tests/FuzzRegressionTests/Fixtures/$t")
  local log=$dir/last.log
  local t0=$SECONDS
  touch "$dir/.started"   # crashes of this run are the artifacts newer than this
  set +e
  ROMA_FUZZ_TARGET=$t "$bin" -max_total_time="$seconds" -dict="$dir/seeds.dict" -artifact_prefix="$dir/" \
    -timeout=20 -rss_limit_mb=6144 -max_len=262144 -print_final_stats=1 "$@" \
    "$dir/corpus" "$dir/seeds" "${regressions[@]}" >"$log" 2>&1
  local rc=$?
  set -e
  local took=$((SECONDS - t0))
  local execs cov corpus rate
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  cov=$(grep -ao 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*$' || echo 0)
  corpus=$(ls "$dir/corpus" | wc -l)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  local crashes
  crashes=$(find "$dir" -maxdepth 1 -newer "$dir/.started" \( -name 'crash-*' -o -name 'timeout-*' -o -name 'oom-*' -o -name 'leak-*' \) | wc -l)
  printf '%-14s %10s execs in %5s s (%5s/s), %5s edges, corpus %5s, crashes %s\n' "$t" "${execs:-0}" "$took" "${rate:-0}" "$cov" "$corpus" "$crashes"
  if [[ $rc -ne 0 || $crashes -gt 0 ]]; then
    echo "fuzz.sh: $t: libFuzzer exited $rc; see $log" >&2
    grep -m3 -E 'ERROR|Fatal error|SUMMARY|deadly signal' "$log" >&2 || true
    return 1
  fi
}
if [[ "$target" == all ]]; then
  for t in "${targets[@]}"; do fuzz_one "$t" "$@" || status=1; done
else
  fuzz_one "$target" "$@" || status=1
fi
exit $status
