#!/usr/bin/env bash
# The whole test suite: unit tests on tiny generated models (debug build), then the real-model
# tests against llama.cpp's golden outputs (release build, host-CPU kernels).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/fetch-model.sh
if [ -f scripts/install-eda.sh ]; then bash scripts/install-eda.sh; fi
CPU_FLAGS=$(bash scripts/cpu-flags.sh)
echo "== debug build and unit tests" >&2
swift build
swift test
echo "== release build: host-CPU kernels against the golden L-Unit, and the real-model tests ($CPU_FLAGS)" >&2
# shellcheck disable=SC2086
ROMA_REAL_MODEL_TESTS=1 swift test -c release $CPU_FLAGS --filter "RealModelTests|ChipBackendTests|LUnitTests|HUnitTests|AdapterRuntimeTests"
