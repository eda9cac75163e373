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
if [ -z "$ROMA" ] || [ ! -x "$ROMA" ]; then
  # shellcheck disable=SC2046
  swift build -c release --product roma >&2
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
set +e
ROMA_URL=$URL ROMA_MODEL=smollm2-int4 ROMA_ADAPTER=rec8 ROMA_KEY=sk-roma-test "$VENV/bin/python" tests-python/openai_sdk_test.py | tee "$W/sdk.out"
set -e
line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$W/sdk.out" | tail -1 || echo "0 passed, 1 failed")
passed=${line%% passed*}; failed=${line##*, }; failed=${failed%% failed}
# SIGTERM drains: a stream in flight ends with its final chunk and [DONE] within --drain (10 s), then the server exits.
curl -sN "$URL/v1/completions" -H "Authorization: Bearer sk-roma-test" -H "Content-Type: application/json" \
  -d '{"model": "smollm2-int4", "prompt": "Once upon a time", "max_tokens": 4000, "stream": true, "ignore_eos": true}' > "$W/drain.out" &
CURL=$!
for _ in $(seq 1 100); do grep -q '^data: ' "$W/drain.out" 2>/dev/null && break; sleep 0.1; done
t0=$(date +%s.%N)
kill -TERM "$PID"
wait "$CURL" || true
wait "$PID"; code=$?
t1=$(date +%s.%N)
PID=""
secs=$(python3 -c "print(round($t1 - $t0, 1))")
if tail -c 200 "$W/drain.out" | grep -q 'data: \[DONE\]' && grep -q '"finish_reason":"length"' "$W/drain.out" && [ "$code" -eq 0 ]; then
  echo "ok   SIGTERM drains: the stream ended with its final chunk and [DONE], the server exited 0 after ${secs} s"
  passed=$((passed + 1))
else
  echo "FAIL SIGTERM drain (exit $code after ${secs} s): $(tail -c 300 "$W/drain.out")"
  failed=$((failed + 1))
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
