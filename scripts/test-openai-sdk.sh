#!/usr/bin/env bash
# The official openai Python SDK (pinned, in a venv this script makes) against `roma serve` on the chip:
# an INT4 GPTQ image of SmolLM2 (1,024 calibration tokens) with a rank-8 recovery adapter, on 127.0.0.1
# and a free port.
#   scripts/test-openai-sdk.sh [ROMA_BINARY]    (default: .build/release/roma, built here)
set -euo pipefail
cd "$(dirname "$0")/.."
ROMA=${1:-}
VENV=.build-venv/openai
OPENAI_VERSION=3.51.0
if ! "$VENV/bin/python" -c "import openai, sys; sys.exit(openai.__version__ != '$OPENAI_VERSION')" 2>/dev/null; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet "openai==$OPENAI_VERSION"
fi
if [ -z "$ROMA" ]; then
  # shellcheck disable=SC2046
  swift build -c release $(bash scripts/cpu-flags.sh) --product roma >&2
  ROMA=.build/release/roma
fi
bash scripts/fetch-model.sh
W=$(mktemp -d)
cleanup() { [ -n "${PID:-}" ] && kill "$PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$W"; }
trap cleanup EXIT
"$ROMA" compile --bits 4 --calibration-text data/calibration/licenses-en.txt --calibration-tokens 1024 --output "$W/int4.rom" > /dev/null 2>&1
"$ROMA" adapter recover --image "$W/int4.rom" --rank 8 --output "$W/rec8" > /dev/null 2>&1
"$ROMA" serve --image "$W/int4.rom" --adapter "rec8=$W/rec8" --port 0 --model-id smollm2-int4 --api-key sk-roma-test 2> "$W/serve.log" &
PID=$!
URL=""
for _ in $(seq 1 600); do
  URL=$(grep -o 'http://127.0.0.1:[0-9]*' "$W/serve.log" | head -1 || true)
  if [ -n "$URL" ] && curl -sf "$URL/health" > /dev/null; then break; fi
  kill -0 "$PID" 2>/dev/null || { cat "$W/serve.log" >&2; echo "0 passed, 1 failed"; exit 1; }
  sleep 0.1
done
ROMA_URL=$URL ROMA_MODEL=smollm2-int4 ROMA_ADAPTER=rec8 ROMA_KEY=sk-roma-test "$VENV/bin/python" tests-python/openai_sdk_test.py
