#!/usr/bin/env bash
# roma finetune against an independent trainer (PyTorch + PEFT + transformers, CPU) on the same data,
# the same initial adapter, rank, targets, steps, learning rate and step order: both train LoRA on
# SmolLM2-135M's float weights (the GGUF dequantized to FP32), roma with --fp32-lora so the math is
# the same. Prints both trainers' final validation loss and training tokens/s from this run.
#   scripts/finetune-vs-peft.sh [ITERS] [ROMA_BINARY]     (default 40 steps of 4 samples)
set -euo pipefail
cd "$(dirname "$0")/.."
ITERS=${1:-40}
ROMA=${2:-}
if [ -z "$ROMA" ] || [ ! -x "$ROMA" ]; then
  # shellcheck disable=SC2046
  swift build -c release --product roma >&2
  ROMA=.build/release/roma
fi
bash scripts/fetch-model.sh
bash scripts/setup-peft-venv.sh
W=${FT_WORK:-$(mktemp -d)}
python3 examples/iso-codes/make-data.py "$W/data" >&2
MODEL=models/SmolLM2-135M-Instruct.Q4_1.gguf
LR=1e-3; WARMUP=4
echo "roma finetune: $ITERS steps ..." >&2
"$ROMA" finetune --model "$MODEL" --fp32-lora --data "$W/data" --output "$W/roma" --iters "$ITERS" --batch-size 4 \
  --learning-rate $LR --warmup $WARMUP --export-reference "$W/ref" --threads 2 --format json > "$W/roma.json"
echo "PyTorch + PEFT: $ITERS steps ..." >&2
.build-venv/peft/bin/python tests-python/peft_reference.py --gguf "$MODEL" --init-adapter "$W/ref/initial" \
  --batches "$W/ref/batches.jsonl" --valid "$W/ref/valid.jsonl" --lr $LR --warmup $WARMUP --schedule cosine --clip 1.0 \
  --threads 2 --output-json "$W/peft.json" --save "$W/peft-adapter" 2> "$W/peft.log"
python3 - "$W/roma.json" "$W/peft.json" <<'PY'
import json, sys
r, p = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
rl, pl = r["train_losses"], p["train_losses"]
worst = max(abs(a - b) / abs(b) for a, b in zip(rl, pl))
cpu = p.get("cpu", "?")
print(f"CPU: {cpu}, 2 threads; {len(rl)} steps of the same samples")
print(f"final validation loss: roma {r['valid_loss']:.4f}, PEFT {p['valid_loss']:.4f} (difference {100 * (r['valid_loss'] / p['valid_loss'] - 1):+.2f}%)")
print(f"train loss, largest per-step relative difference: {100 * worst:.2f}%; last step roma {rl[-1]:.4f}, PEFT {pl[-1]:.4f}")
print(f"training tokens/s: roma {r['tokens_per_second']:.1f}, PEFT {p['tokens_per_second']:.1f} (ratio {r['tokens_per_second'] / p['tokens_per_second']:.2f}x)")
print(f"peak memory: roma {r['peak_memory_bytes'] / 2**20:.0f} MiB")
PY
echo "work directory: $W" >&2
