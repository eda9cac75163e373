#!/usr/bin/env bash
# Issue #18's whole flow on the real model (docs/rtl.md, "The L-Unit slice"): the default ROM image,
# 1. a slice of L-Unit 0,0 holding 4 rows of blk.0.ffn_gate.weight (G = 64, the image's group size) with the
#    activations that product received in a chip run of a prompt, plus edge cases, verified in Icarus and
#    Verilator against the golden model, all three storage styles, yosys storage proof;
# 2. a slice at the paper's group size (G = 128): TILE_WORDS/4 (default 64) groups cut from the same unit's
#    ROM bits (scripts/lunit-vectors.py over a `roma rtl rom` tile), verified the same way, then counted block by
#    block in all three styles and scaled to the chip beside Fig. 12 (`roma rtl report --lunit`).
# Outputs under ${OUT:-out/lunit}. Set VERILATOR=0 to run Icarus only. Takes about 15 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-eda.sh >&2
bash scripts/fetch-model.sh
swift build -c release --product roma >&2
ROMA=.build/release/roma
IMAGE=${IMAGE:-$(bash scripts/default-image.sh)}
OUT=${OUT:-out/lunit}
PROMPT=${PROMPT:-"The quick brown fox jumps over the lazy dog. What is the capital of France?"}
VFLAGS=(); [ "${VERILATOR:-1}" = 0 ] && VFLAGS=(--no-verilator)
rm -rf "$OUT"; mkdir -p "$OUT"
start=$(date +%s)

$ROMA rtl lunit --image "$IMAGE" --unit 0,0 --tensor blk.0.ffn_gate.weight --rows 4 --prompt "$PROMPT" \
  --random "${RANDOM_VECTORS:-2000}" --name real64 --output "$OUT/real64" | head -1
$ROMA rtl verify "$OUT/real64" "${VFLAGS[@]}" --timeout 1800 --format json > "$OUT/real64/verify.json"

$ROMA rtl rom --image "$IMAGE" --unit 0,0 --offset 0 --depth "${TILE_WORDS:-256}" --width 128 --style brom --name tile --output "$OUT/tile" > /dev/null
python3 scripts/lunit-vectors.py --hex "$OUT/tile/tile.hex" --width 128 --bits 4 --seed 7 > "$OUT/paper128.jsonl"
$ROMA rtl lunit --stimulus "$OUT/paper128.jsonl" --random "${RANDOM_VECTORS:-2000}" --name paper128 --output "$OUT/paper128" | head -1
$ROMA rtl verify "$OUT/paper128" "${VFLAGS[@]}" --timeout 1800 --format json > "$OUT/paper128/verify.json"
$ROMA rtl report --lunit "$OUT/paper128" | tee "$OUT/paper128/report.txt"
$ROMA rtl report --lunit "$OUT/paper128" --flow structural | tee "$OUT/paper128/report-structural.txt"

python3 - "$OUT" <<'PY'
import json, sys
out = sys.argv[1]
for name in ["real64", "paper128"]:
    v = json.load(open(f"{out}/{name}/verify.json"))
    s = v["slices"][0]
    runs = ", ".join(f'{r["simulator"]} {r["style"]} {r["mismatches"]}' for r in s["runs"])
    print(f'{name}: {s["vectors"]} vectors ({", ".join(f"{k} {n}" for k, n in sorted(s["origins"].items()))}); '
          f'mismatches per run: {runs}; simulators agree: {s.get("simulatorsAgree")}; '
          f'storage proof: {s["equivalence"]["proved"] if s.get("equivalence") else "skipped"}; passed: {v["passed"]}')
PY
echo "whole flow: $(( $(date +%s) - start )) s"
