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
MODEL=models/SmolLM2-135M-Instruct.Q4_1.gguf
# The compiler settings of the default image; the cache key covers them, the model's checksum, the
# calibration text and the compiler's sources (git tree hashes), so any change compiles a new image.
SETTINGS=(--bits 4 --group 64)
KEY=$( { sha256sum "$MODEL" | cut -d' ' -f1; echo "${SETTINGS[*]}"; cat data/calibration/chat-smollm2.txt data/calibration/licenses-en.txt | sha256sum
         git rev-parse HEAD:Sources/ROMAChip HEAD:Sources/ROMANumerics 2>/dev/null || true; } | sha256sum | cut -c1-16)
IMAGE=models/smollm2-int4-$KEY.rom
if [ ! -f "$IMAGE" ] || ! $ROMA inspect "$IMAGE" >/dev/null 2>&1; then
  echo "run.sh: compiling the default ROM image $IMAGE (once; about 2 minutes)" >&2
  rm -f "$IMAGE"
  $ROMA compile --model "$MODEL" "${SETTINGS[@]}" --output "$IMAGE" >&2
fi
if [ $# -eq 0 ]; then set -- "What is the capital of France?"; fi
exec $ROMA chat --image "$IMAGE" "$@"
