#!/usr/bin/env bash
# Perplexity on the held-out texts (data/eval/README.md) of the float path, of each ROM image given, and of
# llama.cpp's own Q4_0 and Q4_K_M re-quantizations of the same GGUF (llama-perplexity from
# scripts/build-llamacpp.sh), all in this run, ctx 512, 12 chunks. Prints a markdown table.
# IMAGE.rom,ADAPTER scores the image with a LoRA adapter in SRAM (e.g. a recovery adapter); its
# FP8 bytes are counted in the bits/weight column.
#   scripts/image-quality.sh [--no-llamacpp] IMAGE.rom[,ADAPTER]...
set -euo pipefail
cd "$(dirname "$0")/.."
LLAMACPP=1
if [ "${1:-}" = "--no-llamacpp" ]; then LLAMACPP=0; shift; fi
ROMA=${ROMA:-.build/release/roma}
[ -x "$ROMA" ] || { echo "image-quality.sh: build roma first (scripts/run.sh)" >&2; exit 1; }
MODEL=models/SmolLM2-135M-Instruct.Q4_1.gguf
TEXTS=(data/eval/manual-vim-usr41.txt data/eval/code-argparse.py.txt data/eval/prose-austen.txt)
W=out/quality; mkdir -p "$W"
ppl() { "$ROMA" eval ppl "$@" --ctx 512 --chunks 12 --format json 2>/dev/null | python3 -c 'import json,sys; print("%.4f" % json.load(sys.stdin)["ppl"])'; }
row() {  # name bits/weight values...
  local name=$1 bpw=$2; shift 2
  python3 - "$name" "$bpw" "$FLOAT" "$@" <<'PY'
import sys
name, bpw, base, vals = sys.argv[1], sys.argv[2], [float(x) for x in sys.argv[3].split()], [float(x) for x in sys.argv[4:]]
rel = [v / b - 1 for v, b in zip(vals, base)]
cells = ["%.2f (%+.1f%%)" % (v, 100 * r) for v, r in zip(vals, rel)]
print("| %s | %s | %s | %+.1f%% |" % (name, bpw, " | ".join(cells), 100 * sum(rel) / len(rel)))
PY
}
FLOAT=""
for t in "${TEXTS[@]}"; do FLOAT="$FLOAT $(ppl --model "$MODEL" --text-file "$t")"; done
echo "| recipe | bits/weight | vim usr_41 | argparse.py | Austen | mean vs float |"
echo "|---|---|---|---|---|---|"
row "float path (FP32 on the Q4_1 GGUF)" "5.0 (Q4_1)" $FLOAT
for spec in "$@"; do
  img=${spec%%,*}; adapter=""; name=$(basename "$img"); extra=()
  if [ "$img" != "$spec" ]; then adapter=${spec#*,}; name="$name + $(basename "$adapter")"; extra=(--adapter "$adapter"); fi
  bpw=$("$ROMA" inspect "$img" --format json 2>/dev/null | python3 -c 'import json,sys; j=json.load(sys.stdin); print("%.4f ROM / %.4f file" % (j["bits_per_weight"], j["file_bits_per_weight"]))')
  if [ -n "$adapter" ]; then
    "$ROMA" inspect "$img" --format json > "$W/inspect.json" 2>/dev/null
    "$ROMA" sram --image "$img" --adapter "$adapter" --format json > "$W/sram.json" 2>/dev/null
    bpw=$(python3 - "$bpw" "$W/inspect.json" "$W/sram.json" <<'PY'
import json, sys
bpw, img, sram = sys.argv[1], json.load(open(sys.argv[2])), json.load(open(sys.argv[3]))
a = sum(x["bytes"] for x in sram["adapters"])
print("%s + adapter %.2f MiB FP8 (%.4f ROM + SRAM)" % (bpw.split(" /")[0], a / 2**20, img["bits_per_weight"] + 8 * a / img["weights"]))
PY
)
  fi
  vals=""; for t in "${TEXTS[@]}"; do vals="$vals $(ppl --image "$img" "${extra[@]}" --text-file "$t")"; done
  row "$name" "$bpw" $vals
done
if [ "$LLAMACPP" = 1 ]; then
  first=${1:?an image is needed for the weight count}
  WEIGHTS=$("$ROMA" inspect "${first%%,*}" --format json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["weights"])')
  PPL=$(bash scripts/build-llamacpp.sh llama-perplexity); QUANT=$(bash scripts/build-llamacpp.sh llama-quantize)
  for q in Q4_0 Q4_K_M; do
    f="$W/smollm2-$q.gguf"
    [ -f "$f" ] || "$QUANT" --allow-requantize "$MODEL" "$f" "$q" 2 >/dev/null 2>&1
    vals=""
    for t in "${TEXTS[@]}"; do
      vals="$vals $("$PPL" -m "$f" -f "$t" -c 512 --chunks 12 -t 2 2>&1 | sed -n 's/.*Final estimate: PPL = \([0-9.]*\).*/\1/p')"
    done
    bpw=$(python3 -c "import os; print('%.2f (file)' % (os.path.getsize('$f') * 8 / $WEIGHTS))")
    row "llama.cpp $q (llama-quantize --allow-requantize)" "$bpw" $vals
  done
fi
