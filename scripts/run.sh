#!/usr/bin/env bash
# The main job on a fresh machine: fetch the model, build in release mode for this CPU, and run a
# chat completion on the default model. Extra arguments go to `roma chat`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/fetch-model.sh
CPU_FLAGS=$(bash scripts/cpu-flags.sh)
# shellcheck disable=SC2086
swift build -c release $CPU_FLAGS --product roma >&2
if [ $# -eq 0 ]; then set -- "What is the capital of France?"; fi
exec .build/release/roma chat "$@"
