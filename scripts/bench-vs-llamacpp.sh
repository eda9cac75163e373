#!/usr/bin/env bash
# Runs llama.cpp's llama-bench beside `roma bench` on the same model, threads and machine: llama.cpp on
# the shipped Q4_1 file and on its own fastest 4-bit path, Q4_0 (re-quantized from the same GGUF with
# llama-quantize --allow-requantize; its CPU backend repacks Q4_0 for AVX2 / AVX-512 at load), and roma
# with the extra arguments (e.g. --image X.rom for the chip). Three repetitions, interleaved (Q4_1, Q4_0,
# roma, then again), so that a drift of the VM hits every row alike; the ratios are per repetition and
# their mean, never the best run. llama.cpp is the PyPI sdist llama-cpp-python==0.3.36 (scripts/build-llamacpp.sh).
# With --depth N both run pp512 and tg128 after N tokens already in the KV cache (llama-bench -d N).
# Usage: scripts/bench-vs-llamacpp.sh [--threads N] [--reps N] [--depth N] [extra roma bench args, e.g. --image X.rom]
set -euo pipefail
cd "$(dirname "$0")/.."
THREADS=2; REPS=3; DEPTH=0
while [ $# -gt 0 ]; do
  case "$1" in
    --threads) THREADS=$2; shift 2 ;;
    --reps) REPS=$2; shift 2 ;;
    --depth) DEPTH=$2; shift 2 ;;
    *) break ;;
  esac
done
for a in "$@"; do
  case "$a" in --depth|--depth=*) echo "error: give --depth before the roma arguments (both engines take it from there)" >&2; exit 2 ;; esac
done
MODEL=models/SmolLM2-135M-Instruct.Q4_1.gguf
Q40=.build-llamacpp/SmolLM2-135M-Instruct.Q4_0.gguf
bash scripts/fetch-model.sh
BENCH=$(bash scripts/build-llamacpp.sh llama-bench)
QUANT=$(bash scripts/build-llamacpp.sh llama-quantize)
[ -f "$Q40" ] || "$QUANT" --allow-requantize "$MODEL" "$Q40" Q4_0 2 >/dev/null 2>&1
swift build -c release --product roma >/dev/null
ROMA=.build/release/roma
# decode as a fraction of the read bandwidth counts the ROM image's bytes: at depth 0 only
BW=(); for a in "$@"; do [ "$a" = "--image" ] && [ "$DEPTH" = 0 ] && BW=(--bandwidth); done
OUT=$(mktemp -d); trap 'rm -rf "$OUT"' EXIT
grep -m1 'model name' /proc/cpuinfo | sed 's/.*: /CPU: /' >&2
for r in $(seq 1 "$REPS"); do
  echo "repetition $r/$REPS: llama.cpp Q4_1, llama.cpp Q4_0 (repacked), roma $*" >&2
  "$BENCH" -m "$MODEL" -t "$THREADS" -p 512 -n 128 -d "$DEPTH" -r 1 -o json > "$OUT/q41-$r.json"
  "$BENCH" -m "$Q40" -t "$THREADS" -p 512 -n 128 -d "$DEPTH" -r 1 -o json > "$OUT/q40-$r.json"
  "$ROMA" bench --threads "$THREADS" --prompt-tokens 512 --gen-tokens 128 --depth "$DEPTH" --repetitions 1 "${BW[@]}" --format json "$@" > "$OUT/roma-$r.json"
done
python3 - "$OUT" "$REPS" "$DEPTH" <<'PY'
import json, sys
out, reps, depth = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def llama(path):
    l = json.load(open(path))
    return next(x["avg_ts"] for x in l if x["n_prompt"] > 0), next(x["avg_ts"] for x in l if x["n_gen"] > 0)
rows = []
for r in range(1, reps + 1):
    q41, q40, ro = llama(f"{out}/q41-{r}.json"), llama(f"{out}/q40-{r}.json"), json.load(open(f"{out}/roma-{r}.json"))
    rows.append({"q4_1": q41, "q4_0": q40, "roma": (ro["pp_tps"], ro["tg_tps"]), "roma_json": ro})
k = rows[0]["roma_json"].get("kernels", "?")
if depth: print(f"every test after {depth} tokens in the KV cache")
print(f"{'rep':>3} {'test':6} {'llama Q4_1':>11} {'llama Q4_0':>11} {'roma':>8} {'roma/Q4_1':>10} {'roma/Q4_0':>10}")
for i, row in enumerate(rows, 1):
    for j, test in enumerate(["pp512", "tg128"]):
        a, b, c = row["q4_1"][j], row["q4_0"][j], row["roma"][j]
        print(f"{i:>3} {test:6} {a:11.1f} {b:11.1f} {c:8.1f} {c/a:10.2f} {c/b:10.2f}")
mean = lambda xs: sum(xs) / len(xs)
summary = {}
for j, test in enumerate(["pp512", "tg128"]):
    r40 = [row["roma"][j] / row["q4_0"][j] for row in rows]; r41 = [row["roma"][j] / row["q4_1"][j] for row in rows]
    summary[test] = {"roma_over_q4_0": r40, "roma_over_q4_1": r41, "mean_over_q4_0": mean(r40), "mean_over_q4_1": mean(r41)}
    print(f"mean {test}: roma/Q4_0 {mean(r40):.2f} (runs {', '.join(f'{x:.2f}' for x in r40)}), roma/Q4_1 {mean(r41):.2f}")
bw = [row["roma_json"].get("decode_fraction_of_bandwidth") for row in rows]
if all(x is not None for x in bw):
    g = [row["roma_json"]["bandwidth_gbps"] for row in rows]
    print(f"decode / read bandwidth: {', '.join(f'{x*100:.0f}%' for x in bw)} (bandwidth {', '.join(f'{x:.1f}' for x in g)} GB/s)")
print(json.dumps({"kernels": k, "runs": [{"llama_q4_1": {"pp_tps": r["q4_1"][0], "tg_tps": r["q4_1"][1]},
                                           "llama_q4_0": {"pp_tps": r["q4_0"][0], "tg_tps": r["q4_0"][1]},
                                           "roma": r["roma_json"]} for r in rows], "summary": summary, "depth": depth}))
PY
