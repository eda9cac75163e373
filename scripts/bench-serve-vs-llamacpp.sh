#!/usr/bin/env bash
# Serving speed, same machine, same run: `roma serve` on the chip (INT4 GPTQ image of SmolLM2, 8 recovery
# adapters of different ranks) against llama.cpp's llama-server (-np 8, the Q4_1 GGUF, the same adapters
# converted with `roma adapter convert`, each request naming its adapter in `lora`), both driven by
# `roma bench serve` with the same workload: 128-token prompts, 128 tokens out, a random adapter per request.
#   scripts/bench-serve-vs-llamacpp.sh [--threads 2] [--requests 32]
# llama-server is built from the llama.cpp vendored in the PyPI sdist llama-cpp-python==0.3.36 (as
# scripts/bench-vs-llamacpp.sh builds llama-bench). Loopback only; every server is stopped at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
THREADS=2; REQUESTS=32
while [ $# -gt 0 ]; do case $1 in --threads) THREADS=$2; shift 2;; --requests) REQUESTS=$2; shift 2;; *) echo "unknown $1" >&2; exit 2;; esac; done
MODEL=models/SmolLM2-135M-Instruct.Q4_1.gguf
bash scripts/fetch-model.sh
SERVER=$(bash scripts/build-llamacpp.sh llama-server)
# shellcheck disable=SC2046
swift build -c release --product roma >/dev/null
ROMA=.build/release/roma
W=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$W"; }
trap cleanup EXIT
"$ROMA" compile --bits 4 --calibration-text data/calibration/licenses-en.txt --calibration-tokens 1024 --output "$W/int4.rom" >/dev/null 2>&1
RANKS="4 6 8 10 12 14 16 20"; NAMES=""; RARGS=(); LARGS=()
for r in $RANKS; do
  "$ROMA" adapter recover --image "$W/int4.rom" --rank "$r" --output "$W/rec$r" >/dev/null 2>&1
  "$ROMA" adapter convert "$W/rec$r" --output "$W/rec$r.gguf" >/dev/null
  NAMES="$NAMES${NAMES:+,}rec$r"; RARGS+=(--adapter "rec$r=$W/rec$r"); LARGS+=(--lora "$W/rec$r.gguf")
done
wait_up() { for _ in $(seq 1 600); do curl -sf "http://127.0.0.1:$1/health" >/dev/null && return 0; sleep 0.2; done; echo "server on $1 did not start" >&2; exit 1; }
bench() { "$ROMA" bench serve --url "http://127.0.0.1:$1" --model smol --adapters "$NAMES" --prompt-tokens 128 --max-tokens 128 --format json "${@:2}"; }

"$ROMA" serve --image "$W/int4.rom" "${RARGS[@]}" --port 18431 --model-id smol --threads "$THREADS" --max-batch 8 2>"$W/roma.log" &
PIDS+=($!); wait_up 18431
bench 18431 --concurrency 1 --requests 8 >/dev/null                       # warm-up: every adapter resident
R1=$(bench 18431 --concurrency 1 --requests 8)
R8=$(bench 18431 --concurrency 8 --requests "$REQUESTS")
kill "${PIDS[0]}"; wait "${PIDS[0]}" 2>/dev/null || true; PIDS=()

"$SERVER" -m "$MODEL" "${LARGS[@]}" -np 8 -c 4096 -t "$THREADS" --host 127.0.0.1 --port 18432 >"$W/llama.log" 2>&1 &
PIDS+=($!); wait_up 18432
bench 18432 --adapter-field lora --concurrency 1 --requests 8 >/dev/null
L1=$(bench 18432 --adapter-field lora --concurrency 1 --requests 8)
L8=$(bench 18432 --adapter-field lora --concurrency 8 --requests "$REQUESTS")

python3 - "$R1" "$R8" "$L1" "$L8" <<'PY'
import json, sys
r1, r8, l1, l8 = (json.loads(a) for a in sys.argv[1:5])
def row(name, x):
    return (f"{name:28} {x['outputTokensPerSecond']:8.1f} {x['ttftMs']['p50']:9.0f} {x['ttftMs']['p99']:9.0f} "
            f"{x['tpotMs']['p50']:8.1f} {x['tpotMs']['p99']:8.1f} {sum(x['failures'].values()):5d}")
print(f"{'run':28} {'out t/s':>8} {'TTFT p50':>9} {'TTFT p99':>9} {'TPOT p50':>8} {'TPOT p99':>8} {'fail':>5}")
print(row("roma serve, 1 client", r1)); print(row("roma serve, 8 clients", r8))
print(row("llama-server, 1 client", l1)); print(row("llama-server -np 8, 8 clients", l8))
print(f"roma 8 clients / 1 client: {r8['outputTokensPerSecond'] / r1['outputTokensPerSecond']:.2f}x; "
      f"roma / llama-server at 8 clients: {r8['outputTokensPerSecond'] / l8['outputTokensPerSecond']:.2f}x")
PY
