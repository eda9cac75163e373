#!/usr/bin/env bash
# Writes data/calibration/chat-smollm2.txt: SmolLM2's own chat transcripts (FP32 reference engine,
# sampled at temperature 0.7, seed = prompt number) for the prompts in data/calibration/chat-prompts.txt,
# in the model's chat template. Calibration text in the format the model is used in (docs/rom-image.md).
# Usage: scripts/make-chat-calibration.sh [--max-tokens N]
set -euo pipefail
cd "$(dirname "$0")/.."
MAX=160
if [ "${1:-}" = "--max-tokens" ]; then MAX=$2; fi
bash scripts/fetch-model.sh
# shellcheck disable=SC2046
swift build -c release $(bash scripts/cpu-flags.sh) --product roma >/dev/null
OUT=data/calibration/chat-smollm2.txt
: > "$OUT.tmp"
n=0
SYS="You are a helpful AI assistant named SmolLM, trained by Hugging Face"
while IFS= read -r q; do
  [ -z "$q" ] && continue
  n=$((n + 1))
  p="<|im_start|>system
$SYS<|im_end|>
<|im_start|>user
$q<|im_end|>
<|im_start|>assistant
"
  a=$(.build/release/roma generate --prompt "$p" --temperature 0.7 --seed "$n" --max-tokens "$MAX" 2>/dev/null)
  printf '%s%s<|im_end|>\n' "$p" "$a" >> "$OUT.tmp"
  echo "[$n] $q" >&2
done < data/calibration/chat-prompts.txt
mv "$OUT.tmp" "$OUT"
echo "wrote $OUT ($(wc -c < "$OUT") bytes)" >&2
