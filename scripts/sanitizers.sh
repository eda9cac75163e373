#!/usr/bin/env bash
# The unit tests of the readers and the unsafe kernels under AddressSanitizer, and the tests that
# share engines, adapters and the SRAM across threads under ThreadSanitizer (scripts/tsan.sh's set
# plus the kernels' worker pool). Each sanitizer has its own build folder (.build-asan, .build-tsan);
# a first build takes about 12 minutes per sanitizer on 2 cores.
#
#   scripts/sanitizers.sh [address|thread|all]    (default: all)
set -euo pipefail
cd "$(dirname "$0")/.."
which=${1:-all}
case "$which" in address|thread|all) ;; *) echo "sanitizers.sh: expected address, thread or all, got '$which'" >&2; exit 2 ;; esac
bash scripts/fetch-model.sh >/dev/null
readers="GGUFTests|SafetensorsTests|ROMImageTests|ROMImageValidationTests|AdapterFormatTests|GoldenTokenizerTests|TrainingDataTests|FuzzRegressionTests"
kernels="LUnitTests|HUnitTests|VectorUnitExpTests|GPTQTests|PropertyTests|ChipBackendTests|ArchitectureTests"
threads="AdapterRuntimeTests|ReferenceEngineTests|ArchitectureTests|ChipBackendTests|SchedulerTests|ROMImageTests/testNestedAndConcurrentParallelLoopsFinish"
status=0
run() {   # NAME SCRATCH FILTER
  local t0=$SECONDS
  echo "== $1: swift test --sanitize=$1 --filter '$3'" >&2
  if ASAN_OPTIONS=detect_leaks=0 swift test --sanitize="$1" --scratch-path "$2" --filter "$3"; then
    echo "== $1: clean in $((SECONDS - t0)) s" >&2
  else
    echo "== $1: FAILED after $((SECONDS - t0)) s" >&2; status=1
  fi
}
if [[ $which == address || $which == all ]]; then run address .build-asan "$readers|$kernels"; fi
if [[ $which == thread || $which == all ]]; then run thread .build-tsan "$threads"; fi
exit $status
