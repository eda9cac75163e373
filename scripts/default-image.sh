#!/usr/bin/env bash
# Prints the path of the default ROM image (INT4, GPTQ act-order on the shipped calibration text),
# compiling it once: cached under models/, keyed by the model's checksum, the compiler settings, the
# calibration text and the compiler's sources (git tree hashes), so any change compiles a new image.
# Expects models/ to hold the model (scripts/fetch-model.sh) and .build/release/roma to be built.
set -euo pipefail
cd "$(dirname "$0")/.."
ROMA=.build/release/roma
MODEL=models/SmolLM2-135M-Instruct.Q4_1.gguf
SETTINGS=(--bits 4 --group 64)
KEY=$( { bash scripts/sha256.sh "$MODEL"; echo "${SETTINGS[*]}"; cat data/calibration/chat-smollm2.txt data/calibration/licenses-en.txt | sha256sum
         git rev-parse HEAD:Sources/ROMAChip HEAD:Sources/ROMANumerics 2>/dev/null || true; } | sha256sum | cut -c1-16)
IMAGE=models/smollm2-int4-$KEY.rom
if [ ! -f "$IMAGE" ] || ! $ROMA inspect "$IMAGE" >/dev/null 2>&1; then
  echo "compiling the default ROM image $IMAGE (once; about 2 minutes)" >&2
  rm -f "$IMAGE"
  $ROMA compile --model "$MODEL" "${SETTINGS[@]}" --output "$IMAGE" >&2
fi
echo "$IMAGE"
