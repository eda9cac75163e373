#!/usr/bin/env bash
# Writes text SmolLM2-135M-Instruct writes by itself: N samples from <|endoftext|> alone (no prompt, no
# chat template), on the FP32 reference engine, temperature 1.0 with generate's top-k 40 / top-p 0.95 /
# min-p 0.05, seed = sample number. Calibration text that no file supplied (data-free, as in LLM-QAT):
# whatever the model itself writes, mostly expository web prose (docs/rom-image.md, "Calibration data").
# Defaults: 80 samples of 256 tokens -> data/calibration/self-smollm2.txt (about 7 minutes on 2 cores).
# Usage: scripts/make-self-calibration.sh [--samples N] [--max-tokens N] [--output F]
set -euo pipefail
cd "$(dirname "$0")/.."
N=80; MAX=256; OUT=data/calibration/self-smollm2.txt
while [ $# -gt 0 ]; do
  case "$1" in
    --samples) N=$2; shift 2 ;;
    --max-tokens) MAX=$2; shift 2 ;;
    --output) OUT=$2; shift 2 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
mkdir -p "$(dirname "$OUT")"
bash scripts/fetch-model.sh
swift build -c release --product roma >/dev/null
: > "$OUT.tmp"
for n in $(seq 1 "$N"); do
  .build/release/roma generate --prompt "<|endoftext|>" --temperature 1.0 --seed "$n" --max-tokens "$MAX" 2>/dev/null >> "$OUT.tmp"
  printf '\n\n' >> "$OUT.tmp"
  echo "[$n/$N]" >&2
done
mv "$OUT.tmp" "$OUT"
