#!/usr/bin/env bash
# The whole test suite: unit tests on tiny generated models (debug build), a short libFuzzer run of
# every reader (scripts/fuzz.sh, AddressSanitizer), then the real-model
# tests against llama.cpp's golden outputs (release build, every kernel path the CPU runs). The last line is the
# total over all of them (each fuzz target's short run counts as one test): "N passed, N failed, N skipped".
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/fetch-model.sh
if [ -f scripts/install-eda.sh ]; then bash scripts/install-eda.sh; fi
LOGS=$(mktemp -d)
trap 'rm -rf "$LOGS"' EXIT
passed=0; failed=0; skipped=0

# Runs one `swift test` invocation, keeps its output, and adds its XCTest totals to the counts.
run_suite() {
  local log="$LOGS/$1.log"; shift
  set +e
  "$@" 2>&1 | tee "$log"
  local rc=${PIPESTATUS[0]}
  set -e
  # the last "Executed N tests, with [S tests skipped and ]F failures" line is the run's total
  local line; line=$(grep -E "Executed [0-9]+ tests?, with" "$log" | tail -1 || true)
  local n s f
  n=$(sed -E 's/.*Executed ([0-9]+) tests?.*/\1/' <<<"$line"); n=${n:-0}
  s=$(grep -oE '[0-9]+ tests? skipped' <<<"$line" | grep -oE '^[0-9]+' || echo 0)
  f=$(grep -oE '[0-9]+ failures?' <<<"$line" | grep -oE '^[0-9]+' || echo 0)
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi   # a crash or build failure counts as a failure
  passed=$((passed + n - s - f)); failed=$((failed + f)); skipped=$((skipped + s))
  return "$rc"
}

finish() { echo "$passed passed, $failed failed, $skipped skipped"; exit "$1"; }

echo "== debug build and unit tests" >&2
swift build || { failed=1; finish 1; }
run_suite debug swift test || finish 1
echo "== fuzzing: seeds and regression inputs through every reader, then 15 s of libFuzzer per target" >&2
set +e
ROMA_FUZZ_CONFIG=debug bash scripts/fuzz.sh all "${ROMA_CI_FUZZ_SECONDS:-15}" 2>&1 | tee "$LOGS/fuzz.log"
rc=${PIPESTATUS[0]}
set -e
p=$(grep -cE ' crashes 0$' "$LOGS/fuzz.log" || true)
passed=$((passed + p)); failed=$((failed + 8 - p))
[ "$rc" -eq 0 ] && [ "$p" -eq 8 ] || finish 1
echo "== release build: every kernel path this CPU runs against the golden L-Unit, and the real-model tests" >&2
export ROMA_REAL_MODEL_TESTS=1
run_suite release swift test -c release \
  --filter "RealModelTests|ChipBackendTests|ArchitectureTests|LUnitTests|HUnitTests|KernelPathTests|AdapterRuntimeTests" || finish 1
echo "== the AVX-512 / AVX2 kernel modules share no weak code symbols with baseline modules (one test)" >&2
if bash scripts/check-kernel-symbols.sh .build/release; then passed=$((passed + 1)); else failed=$((failed + 1)); finish 1; fi
echo "== the official openai Python SDK against roma serve (chip, INT4 image, an adapter)" >&2
set +e
bash scripts/test-openai-sdk.sh .build/release/roma 2>&1 | tee "$LOGS/sdk.log"   # the binary the release tests built
rc=${PIPESTATUS[0]}
set -e
line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$LOGS/sdk.log" | tail -1 || true)
p=$(sed -E 's/^([0-9]+) passed.*/\1/' <<<"${line:-0 passed}"); f=$(sed -E 's/.* ([0-9]+) failed$/\1/' <<<"${line:-x 1 failed}")
if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
passed=$((passed + p)); failed=$((failed + f))
[ "$rc" -eq 0 ] || finish 1
finish 0
