#!/usr/bin/env bash
# The main job on a fresh machine: fetch the model, build roma in release mode (one binary; the kernels are chosen at run time), compile the
# default ROM image once (INT4, GPTQ act-order on the shipped calibration text; cached under models/,
# keyed by the model's checksum and the compiler settings) and chat with it on the chip backend.
# Extra arguments go to `roma chat` (e.g. `--temperature 0 "a question"`; flags alone start an interactive chat).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/fetch-model.sh
swift build -c release --product roma >&2
ROMA=.build/release/roma
IMAGE=$(bash scripts/default-image.sh)
if [ $# -eq 0 ]; then set -- "What is the capital of France?"; fi
exec $ROMA chat --image "$IMAGE" "$@"
