#!/usr/bin/env bash
# Fingerprints everything a refactor must keep identical, with one `roma` binary:
#   scripts/output-fingerprint.sh BIN OUTDIR [--quick]
# then `diff -r OUT_BEFORE OUT_AFTER` (timings are stripped; every other byte must match).
# Images (clip search, GPTQ, a short tune), a recovery adapter, greedy tokens of the README prompts on
# both backends (with and without the adapter), perplexity on GPL-3 on both backends, roma sim paper,
# B-ROM Verilog, roma sram / inspect. --quick: 2 perplexity chunks instead of 14.
set -euo pipefail
BIN=$(realpath "$1"); OUT=$2; QUICK=${3:-}
cd "$(dirname "$0")/.."
mkdir -p "$OUT"; OUT=$(realpath "$OUT")
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
CAL=data/calibration/licenses-en.txt
GPL=/usr/share/common-licenses/GPL-3
CHUNKS=14; [ "$QUICK" = "--quick" ] && CHUNKS=2
strip() { python3 -c '
import json, sys
def clean(o):
    if isinstance(o, dict): return {k: clean(v) for k, v in o.items() if k not in ("timings", "seconds", "elapsed_seconds")}
    if isinstance(o, list): return [clean(v) for v in o]
    return o
text = sys.stdin.read()
dec, i = json.JSONDecoder(), 0
while True:
    j = text.find("{", i)
    if j < 0: break
    o, i = dec.raw_decode(text, j)
    print(json.dumps(clean(o), sort_keys=True))
' | sed "s#$W#W#g"; }

"$BIN" compile --bits 4 --fast --output "$W/clip.rom" --format json | strip > "$OUT/compile-clip.json"
"$BIN" compile --bits 4 --calibration-text $CAL --calibration-tokens 1024 --output "$W/gptq.rom" --format json | strip > "$OUT/compile-gptq.json"
"$BIN" tune --image "$W/gptq.rom" --calibration-text $CAL --calibration-tokens 1024 --epochs 1 --output "$W/tuned.rom" --format json | strip > "$OUT/tune.json"
sha256sum "$W"/*.rom | sed "s#$W/##" > "$OUT/images.sha256"
"$BIN" adapter recover --image "$W/gptq.rom" --rank 8 --output "$W/rec8" --format json | strip > "$OUT/recover.json"
(cd "$W/rec8" && sha256sum *) > "$OUT/adapter.sha256"

for be in "" "--image $W/gptq.rom" "--image $W/tuned.rom --adapter $W/rec8"; do
  tag=$(echo "ref $be" | tr -c 'a-z0-9\n' '_' | sed "s#$(echo "$W" | tr -c 'a-z0-9\n' '_')##g")
  # shellcheck disable=SC2086
  {
    "$BIN" chat $be "What is the capital of France?" --format json | strip
    "$BIN" generate $be --prompt "The quick brown fox" --max-tokens 24 --format json | strip
    "$BIN" generate $be --prompt "The quick brown fox" --max-tokens 16 --temperature 0.8 --seed 7 --format json | strip
    "$BIN" eval ppl $be --text-file $GPL --ctx 512 --chunks $CHUNKS --format json | strip
  } > "$OUT/run-$tag.json"
done
"$BIN" sram --image "$W/gptq.rom" --adapter "$W/rec8" --format json | strip > "$OUT/sram.json"
"$BIN" inspect "$W/gptq.rom" | sed "s#$W/##g" > "$OUT/inspect.txt"
"$BIN" sim paper --format json | strip > "$OUT/sim-paper.json"
"$BIN" rtl rom --image "$W/clip.rom" --unit 3,3 --depth 256 --width 64 --style brom --name smol_u3_3 --output "$W/rtl" --format json | strip > "$OUT/rtl.json"
for f in "$W"/rtl/*; do echo "$(sed "s#$W#W#g" "$f" | sha256sum | cut -c1-64)  $(basename "$f")"; done > "$OUT/rtl.sha256"
echo "fingerprint written to $OUT"
