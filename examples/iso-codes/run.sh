#!/usr/bin/env bash
# The worked example of `roma finetune`: teach the frozen ROM base a skill it lacks (the ISO 3166-1
# alpha-3 code of a country, from Debian's iso-codes tables), then measure greedy exact-match accuracy on
# 50 held-out countries on the chip backend before and after, with a negative control trained on
# shuffled answers.
#   examples/iso-codes/run.sh [WORKDIR] [ROMA_BINARY]
set -euo pipefail
cd "$(dirname "$0")/../.."
W=${1:-out/iso-codes}
ROMA=${2:-}
if [ -z "$ROMA" ] || [ ! -x "$ROMA" ]; then
  # shellcheck disable=SC2046
  swift build -c release --product roma >&2
  ROMA=.build/release/roma
fi
[ -f /usr/share/iso-codes/json/iso_3166-1.json ] || { echo "error: install Debian's iso-codes package (apt-get install iso-codes)" >&2; exit 1; }
bash scripts/fetch-model.sh
mkdir -p "$W"
python3 examples/iso-codes/make-data.py "$W/data"
IMAGE=$W/int4.rom
[ -f "$IMAGE" ] || "$ROMA" compile --bits 4 --calibration-text data/calibration/licenses-en.txt --calibration-tokens 1024 --output "$IMAGE" > /dev/null
TRAIN=(--image "$IMAGE" --epochs 3 --batch-size 4 --learning-rate 1e-3 --warmup 10 --eval-every 11 --seed 0)
echo "== base model on the chip" >&2
"$ROMA" eval exact-match --image "$IMAGE" --data "$W/data/test.jsonl" --max-tokens 8 | tee "$W/base.txt"
echo "== training the adapter" >&2
"$ROMA" finetune "${TRAIN[@]}" --data "$W/data" --output "$W/adapter" | tee "$W/train.txt"
"$ROMA" eval exact-match --image "$IMAGE" --adapter "$W/adapter" --data "$W/data/test.jsonl" --max-tokens 8 | tee "$W/trained.txt"
echo "== negative control: the same training on shuffled answers" >&2
"$ROMA" finetune "${TRAIN[@]}" --data "$W/data/shuffled" --output "$W/shuffled-adapter" | tee "$W/shuffled-train.txt"
"$ROMA" eval exact-match --image "$IMAGE" --adapter "$W/shuffled-adapter" --data "$W/data/test.jsonl" --max-tokens 8 | tee "$W/shuffled.txt"
