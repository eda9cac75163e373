#!/usr/bin/env bash
# Domain adaptation on real text no test has seen: Debian's package changelogs (the
# /usr/share/doc/*/changelog.Debian.gz of this machine). Packages are split by a hash of their name into
# train (4/5) and held-out (1/5) text; a LoRA is trained on the chip's INT4 image with `roma finetune`
# (plain text, 256-token chunks), then perplexity on the held-out text is measured on the chip without and
# with the adapter, and by llama.cpp's llama-perplexity on the float model without and with the same
# adapter converted to a llama.cpp LoRA GGUF (--lora).
#   scripts/finetune-domain.sh [WORKDIR] [ROMA_BINARY]
set -euo pipefail
cd "$(dirname "$0")/.."
W=${1:-out/finetune-domain}
ROMA=${2:-}
if [ -z "$ROMA" ] || [ ! -x "$ROMA" ]; then
  # shellcheck disable=SC2046
  swift build -c release --product roma >&2
  ROMA=.build/release/roma
fi
bash scripts/fetch-model.sh
MODEL=models/SmolLM2-135M-Instruct.Q4_1.gguf
PPL=$(bash scripts/build-llamacpp.sh llama-perplexity)
mkdir -p "$W"
python3 - "$W" <<'PY'
import glob, gzip, hashlib, os, sys
w = sys.argv[1]
train, held = [], []
for path in sorted(glob.glob("/usr/share/doc/*/changelog.Debian.gz")):
    pkg = path.split("/")[-2]
    text = gzip.open(path, "rt", encoding="utf-8", errors="replace").read()[:6000]
    (held if int(hashlib.sha1(pkg.encode()).hexdigest(), 16) % 5 == 0 else train).append(text)
open(os.path.join(w, "train.txt"), "w").write("\n".join(train)[:90000])
open(os.path.join(w, "heldout.txt"), "w").write("\n".join(held)[:40000])
print(f"{len(train)} train and {len(held)} held-out packages' changelogs", file=sys.stderr)
PY
IMAGE=$W/int4.rom
[ -f "$IMAGE" ] || "$ROMA" compile --bits 4 --calibration-text data/calibration/licenses-en.txt --calibration-tokens 1024 --output "$IMAGE" > /dev/null
"$ROMA" finetune --image "$IMAGE" --data "$W/train.txt" --max-seq-len 256 --iters ${ITERS:-30} --batch-size 4 \
  --learning-rate 1e-3 --warmup 5 --output "$W/adapter" --no-chip-eval | tee "$W/train.txt.log"
"$ROMA" adapter convert "$W/adapter" --output "$W/adapter.gguf" --model "$MODEL" > /dev/null
chip() { "$ROMA" eval ppl --image "$IMAGE" --text-file "$W/heldout.txt" --ctx 256 --format json "$@" | python3 -c 'import json,sys; print("%.3f" % json.load(sys.stdin)["ppl"])'; }
llama() { "$PPL" -m "$MODEL" -f "$W/heldout.txt" -c 256 -t 2 "$@" 2>&1 | grep -o 'Final estimate: PPL = [0-9.]*' | grep -o '[0-9.]*$'; }
CB=$(chip); CA=$(chip --adapter "$W/adapter"); LB=$(llama); LA=$(llama --lora "$W/adapter.gguf")
echo "held-out Debian changelogs, perplexity (ctx 256):"
echo "  roma, chip INT4 image:        without adapter $CB, with adapter $CA"
echo "  llama-perplexity, float Q4_1: without adapter $LB, with adapter $LA"
python3 -c "import sys; cb,ca,lb,la=map(float,sys.argv[1:]); print(f'  drop: chip {100*(1-ca/cb):.1f}%, llama.cpp {100*(1-la/lb):.1f}%')" "$CB" "$CA" "$LB" "$LA"
