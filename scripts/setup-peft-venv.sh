#!/usr/bin/env bash
# The venv .build-venv/peft for tests-python/peft_reference.py (the transformers + PEFT reference trainer
# that `roma finetune` is compared against): CPU PyTorch and the exact versions below.
# Idempotent: does nothing when every pinned version is already installed.
#   scripts/setup-peft-venv.sh
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.build-venv/peft
TORCH_VERSION=2.13.0+cpu
PINS=(transformers==5.24.0 peft==0.21.2 gguf==0.19.0 safetensors==0.8.0 numpy==2.4.6 sentencepiece==0.2.3
      tokenizers==0.23.3 huggingface_hub==2.4.0 accelerate==1.15.0)

check() {
  "$VENV/bin/python" - "$TORCH_VERSION" "${PINS[@]}" <<'PY' 2>/dev/null
import sys
from importlib.metadata import version
want = {"torch": sys.argv[1]}
want.update(p.split("==", 1) for p in sys.argv[2:])
sys.exit(0 if all(version(n) == v for n, v in want.items()) else 1)
PY
}
if check; then exit 0; fi

if [ ! -x "$VENV/bin/python" ]; then
  echo "creating venv $VENV ..." >&2
  python3 -m venv "$VENV"
fi
echo "installing torch==$TORCH_VERSION ..." >&2
# The CPU wheel comes through pip's configured sources (PyPI and its find-links); the PyTorch CPU index
# is only a fallback.
if ! "$VENV/bin/pip" install --quiet "torch==$TORCH_VERSION"; then
  echo "torch==$TORCH_VERSION not found through pip's sources; trying the PyTorch CPU index ..." >&2
  "$VENV/bin/pip" install --quiet --index-url https://download.pytorch.org/whl/cpu "torch==$TORCH_VERSION"
fi
echo "installing ${PINS[*]} ..." >&2
"$VENV/bin/pip" install --quiet "torch==$TORCH_VERSION" "${PINS[@]}"
check || { echo "error: $VENV does not have the pinned versions after installing" >&2; exit 1; }
echo "venv ready: $VENV" >&2
