#!/usr/bin/env bash
# Builds llama.cpp's llama-bench (vendored in the PyPI sdist llama-cpp-python==0.3.36, built with
# cmake from PyPI) and runs it beside `roma bench` on the same model, threads and machine.
# Usage: scripts/bench-vs-llamacpp.sh [--threads N] [extra roma bench args, e.g. --backend chip --image X.rom]
set -euo pipefail
cd "$(dirname "$0")/.."
THREADS=2
if [ "${1:-}" = "--threads" ]; then THREADS=$2; shift 2; fi
WORK=.build-llamacpp
MODEL=models/SmolLM2-135M-Instruct.Q4_1.gguf
bash scripts/fetch-model.sh
mkdir -p "$WORK"
BENCH="$WORK/build/bin/llama-bench"
if [ ! -x "$BENCH" ]; then
  if ! command -v cmake >/dev/null; then
    # cmake: PyPI's binary wheel, else Debian's package
    python3 -m pip install --quiet --only-binary :all: cmake 2>/dev/null || (apt-get update -qq && apt-get install -y -qq cmake)
  fi
  if [ ! -d "$WORK/src" ]; then
    # The sdist's metadata step needs its build backend; give it one instead of a build-isolated env.
    python3 -m venv "$WORK/venv"
    "$WORK/venv/bin/pip" install --quiet --only-binary :all: scikit-build-core
    "$WORK/venv/bin/pip" download --quiet --no-deps --no-binary :all: --no-build-isolation "llama-cpp-python==0.3.36" -d "$WORK/sdist" \
      || "$WORK/venv/bin/pip" download --quiet --no-deps --no-binary :all: --no-build-isolation "llama-cpp-python==0.3.36" -d "$WORK/sdist"
    mkdir -p "$WORK/src"
    tar -xzf "$WORK"/sdist/llama_cpp_python-0.3.36.tar.gz -C "$WORK/src" --strip-components=1
  fi
  cmake -S "$WORK/src/vendor/llama.cpp" -B "$WORK/build" -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON \
        -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=ON -DLLAMA_BUILD_SERVER=OFF >/dev/null
  nice -n 10 cmake --build "$WORK/build" --target llama-bench -j 2 >/dev/null
fi
CPU_FLAGS=$(bash scripts/cpu-flags.sh)
# shellcheck disable=SC2086
swift build -c release $CPU_FLAGS --product roma >/dev/null
echo "llama.cpp llama-bench (pp512, tg128, $THREADS threads):" >&2
LJSON=$("$BENCH" -m "$MODEL" -t "$THREADS" -p 512 -n 128 -r 3 -o json)
echo "roma bench (pp512, tg128, $THREADS threads) $*:" >&2
RJSON=$(.build/release/roma bench --threads "$THREADS" --prompt-tokens 512 --gen-tokens 128 --repetitions 3 --format json "$@")
python3 - "$LJSON" "$RJSON" <<'PY'
import json, sys
l = json.loads(sys.argv[1]); r = json.loads(sys.argv[2])
pp = next(x["avg_ts"] for x in l if x["n_prompt"] > 0)
tg = next(x["avg_ts"] for x in l if x["n_gen"] > 0)
print(f"{'test':6} {'llama.cpp t/s':>14} {'roma t/s':>10} {'roma/llama.cpp':>15}")
print(f"{'pp512':6} {pp:14.1f} {r['pp_tps']:10.1f} {r['pp_tps']/pp:15.2f}")
print(f"{'tg128':6} {tg:14.1f} {r['tg_tps']:10.1f} {r['tg_tps']/tg:15.2f}")
print(json.dumps({"llama_cpp": {"pp_tps": pp, "tg_tps": tg}, "roma": r, "backend": r.get("backend")}))
PY
