#!/usr/bin/env bash
# Writes SmolLM2's own chat transcripts (FP32 reference engine, sampled at temperature 0.7, seed =
# seed base + prompt number) for a list of prompts, in the model's chat template: calibration text in
# the format the model is used in (docs/rom-image.md). Defaults: data/calibration/chat-prompts.txt ->
# data/calibration/chat-smollm2.txt. The held-out chat text of docs/rom-image.md is
#   scripts/make-chat-calibration.sh --prompts data/eval/chat-prompts.txt --output out/chat-heldout.txt --seed-base 100
# Usage: scripts/make-chat-calibration.sh [--prompts F] [--output F] [--seed-base N] [--max-tokens N]
set -euo pipefail
cd "$(dirname "$0")/.."
MAX=160; PROMPTS=data/calibration/chat-prompts.txt; OUT=data/calibration/chat-smollm2.txt; SEED=0
while [ $# -gt 0 ]; do
  case "$1" in
    --prompts) PROMPTS=$2; shift 2 ;;
    --output) OUT=$2; shift 2 ;;
    --seed-base) SEED=$2; shift 2 ;;
    --max-tokens) MAX=$2; shift 2 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
mkdir -p "$(dirname "$OUT")"
bash scripts/fetch-model.sh
# shellcheck disable=SC2046
swift build -c release --product roma >/dev/null
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
  a=$(.build/release/roma generate --prompt "$p" --temperature 0.7 --seed "$((SEED + n))" --max-tokens "$MAX" 2>/dev/null)
  printf '%s%s<|im_end|>\n' "$p" "$a" >> "$OUT.tmp"
  echo "[$n] $q" >&2
done < "$PROMPTS"
mv "$OUT.tmp" "$OUT"
echo "wrote $OUT ($(wc -c < "$OUT") bytes)" >&2
