#!/usr/bin/env bash
# ThreadSanitizer run of the tests that share an engine, its adapter registry and the SRAM across
# threads (and the engine and chip tests around them). Separate build folder; a few minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/fetch-model.sh >/dev/null
exec swift test --sanitize=thread --scratch-path .build-tsan \
  --filter "AdapterRuntimeTests|ReferenceEngineTests|ArchitectureTests|ChipBackendTests|ROMImageTests/testNestedAndConcurrentParallelLoopsFinish" "$@"
