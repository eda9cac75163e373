#!/usr/bin/env bash
# Reproduces the cell-count table of docs/rtl.md: for each tile size, random words (fixed seed) are
# written as standard ROM with `roma rtl rom`, and `roma rtl verify` simulates both styles, proves them
# equivalent (up to --equiv-max-bits) and counts yosys cells after generic and structural synthesis.
# Usage: scripts/rtl-cell-table.sh [OUTDIR] [DEPTHS] [WIDTHS]   (needs iverilog + yosys; ~15 min on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-.build/rtl-table}
DEPTHS=${2:-"64 256 1024"}
WIDTHS=${3:-"32 128"}
ROMA=${ROMA:-.build/release/roma}
[ -x "$ROMA" ] || { echo "build first: swift build -c release --product roma" >&2; exit 1; }
./scripts/install-eda.sh
mkdir -p "$OUT"
for d in $DEPTHS; do for w in $WIDTHS; do
    dir="$OUT/d${d}w${w}"
    rm -rf "$dir"; mkdir -p "$dir"
    python3 -c "import random,sys; random.seed($d*1000+$w); d,w=$d,$w; sys.stdout.write(''.join('%0*x\n' % ((w+3)//4, random.getrandbits(w)) for _ in range(d)))" > "$dir/words.hex"
    "$ROMA" rtl rom --data-hex "$dir/words.hex" --depth "$d" --width "$w" --style standard --name "t${d}x${w}" --output "$dir" >/dev/null
    start=$(date +%s)
    "$ROMA" rtl verify "$dir" --equiv-max-bits "${EQUIV_MAX_BITS:-131072}" --format json > "$dir/verify.json"
    echo "d=$d w=$w verified in $(( $(date +%s) - start )) s" >&2
done; done
python3 - "$OUT" $DEPTHS -- $WIDTHS <<'PY'
import json, sys, os
out = sys.argv[1]; args = sys.argv[2:]; i = args.index("--")
depths, widths = [int(x) for x in args[:i]], [int(x) for x in args[i+1:]]
print("| D | W | words OK (sim std/brom) | equivalence | transistors std / brom (ratio) | generic cells std / brom (ratio) | structural cells std / brom | structural array cells std / brom (ratio) |")
print("|---|---|---|---|---|---|---|---|")
for d in depths:
    for w in widths:
        r = json.load(open(os.path.join(out, f"d{d}w{w}", "verify.json")))[0]
        s, b = r["styles"]
        sim = f'{s["simulation"]["words"]-s["simulation"]["wrong"]}/{b["simulation"]["words"]-b["simulation"]["wrong"]}'
        eq = r.get("equivalence")
        eqs = (f'proved ({eq["seconds"]:.1f} s)' if eq["proved"] else "FAILED") if eq else "skipped"
        ts, tb = s["counts"]["transistors"], b["counts"]["transistors"]
        def cells(flow):
            if flow not in s["cells"]: return "-"
            cs, cb = s["cells"][flow]["total"], b["cells"][flow]["total"]
            return f"{cs} / {cb} ({cb/cs:.3f})"
        def array(flow):
            if flow not in s["cells"]: return "-"
            cs = s["cells"][flow]["total"] - s["cells"][flow]["decoder"]
            cb = b["cells"][flow]["total"] - b["cells"][flow]["decoder"]
            return f"{cs} / {cb} ({cb/cs:.3f})"
        st = "-" if "structural" not in s["cells"] else f'{s["cells"]["structural"]["total"]} / {b["cells"]["structural"]["total"]}'

        print(f"| {d} | {w} | {sim} | {eqs} | {ts} / {tb} ({tb/ts:.3f}) | {cells('generic')} | {st} | {array('structural')} |")
PY
