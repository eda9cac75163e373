#!/usr/bin/env python3
"""Writes the LoRA adapter test fixtures with an independent writer (Python stdlib + numpy; no code
shared with the Swift package): the same random adapter for the tests' tiny model (hidden 64, 4 heads
and 2 KV heads of 16, FFN 96, 2 layers) as

  tiny-peft/            Hugging Face PEFT layout: adapter_config.json + adapter_model.safetensors
                        (r 4, lora_alpha 8, rank_pattern down_proj -> 2, alpha_pattern for one module,
                        tensors in F16, BF16 and F32)
  tiny-rslora/          the same weights with use_rslora (scale alpha / sqrt(r))
  tiny-lora.gguf        llama.cpp LoRA GGUF: lora_a = A, lora_b = B with q/k rows permuted the way
                        convert_hf_to_gguf.py permutes q/k weights, per-module scale differences folded
                        into lora_b (GGUF adapters carry one alpha)

Run from the repository root: python3 scripts/make-adapter-fixtures.py Tests/AdapterTests/Fixtures
"""
import json
import os
import struct
import sys

import numpy as np

HIDDEN, FFN, LAYERS, HEADS, KV_HEADS, HEAD_DIM = 64, 96, 2, 4, 2, 16
R, ALPHA = 4, 8.0
RANK_PATTERN = {"down_proj": 2}
ALPHA_PATTERN = {"model.layers.1.self_attn.q_proj": 16.0}
SHAPES = {  # module -> (out, in)
    "q_proj": (HEADS * HEAD_DIM, HIDDEN), "k_proj": (KV_HEADS * HEAD_DIM, HIDDEN), "v_proj": (KV_HEADS * HEAD_DIM, HIDDEN),
    "o_proj": (HIDDEN, HEADS * HEAD_DIM), "gate_proj": (FFN, HIDDEN), "up_proj": (FFN, HIDDEN), "down_proj": (HIDDEN, FFN),
}
GGUF_NAMES = {"q_proj": "attn_q", "k_proj": "attn_k", "v_proj": "attn_v", "o_proj": "attn_output",
              "gate_proj": "ffn_gate", "up_proj": "ffn_up", "down_proj": "ffn_down"}


def module_path(layer, module):
    parent = "mlp" if module in ("gate_proj", "up_proj", "down_proj") else "self_attn"
    return f"model.layers.{layer}.{parent}.{module}"


def bf16_round(x):
    """Round-to-nearest-even to bfloat16, returned as (uint16 bits, float32 values)."""
    u = x.astype(np.float32).view(np.uint32).astype(np.uint64)
    bits = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)
    return bits, (bits.astype(np.uint32) << 16).view(np.float32)


def write_safetensors(path, tensors):
    """tensors: list of (name, dtype string, shape, raw bytes)."""
    header, offset, blobs = {}, 0, []
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
        blobs.append(raw)
    header["__metadata__"] = {"format": "pt"}
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def gguf_string(s):
    b = s.encode()
    return struct.pack("<Q", len(b)) + b


def write_gguf(path, kv, tensors, alignment=32):
    """kv: list of (key, type code, packed value bytes); tensors: list of (name, ne list, float32 array)."""
    out = bytearray(b"GGUF")
    out += struct.pack("<IQQ", 3, len(tensors), len(kv))
    for key, code, value in kv:
        out += gguf_string(key) + struct.pack("<I", code) + value
    offset, datas = 0, []
    for name, ne, arr in tensors:
        out += gguf_string(name) + struct.pack("<I", len(ne)) + b"".join(struct.pack("<Q", n) for n in ne)
        out += struct.pack("<IQ", 0, offset)  # GGML_TYPE_F32
        raw = arr.astype("<f4").tobytes()
        datas.append(raw)
        offset += len(raw) + (-len(raw) % alignment)
    out += b"\0" * (-len(out) % alignment)
    for raw in datas:
        out += raw + b"\0" * (-len(raw) % alignment)
    with open(path, "wb") as f:
        f.write(out)


def permute(w, n_head):
    """convert_hf_to_gguf.py's q/k row permutation (rows = output features)."""
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def main(outdir):
    rng = np.random.default_rng(2026)
    os.makedirs(outdir, exist_ok=True)
    st, gguf_tensors = [], []
    counter = 0
    for layer in range(LAYERS):
        for module, (out_f, in_f) in SHAPES.items():
            path = module_path(layer, module)
            r = RANK_PATTERN.get(module, R)
            alpha = ALPHA_PATTERN.get(path, ALPHA)
            a = (rng.standard_normal((r, in_f)) * 0.2).astype(np.float32)
            b = (rng.standard_normal((out_f, r)) * 0.2).astype(np.float32)
            # stored dtypes rotate F16, BF16, F32 so every reader path is exercised
            kind = counter % 3
            counter += 1
            if kind == 0:
                a, b = a.astype(np.float16), b.astype(np.float16)
                st += [(path + ".lora_A.weight", "F16", a.shape, a.astype("<f2").tobytes()),
                       (path + ".lora_B.weight", "F16", b.shape, b.astype("<f2").tobytes())]
                a, b = a.astype(np.float32), b.astype(np.float32)
            elif kind == 1:
                abits, a = bf16_round(a)
                bbits, b = bf16_round(b)
                st += [(path + ".lora_A.weight", "BF16", a.shape, abits.astype("<u2").tobytes()),
                       (path + ".lora_B.weight", "BF16", b.shape, bbits.astype("<u2").tobytes())]
            else:
                st += [(path + ".lora_A.weight", "F32", a.shape, a.astype("<f4").tobytes()),
                       (path + ".lora_B.weight", "F32", b.shape, b.astype("<f4").tobytes())]
            # GGUF form: llama.cpp scale = alpha / rank with one alpha; fold the difference into B
            fold = (alpha / r) / (ALPHA / r)
            bg = b * np.float32(fold)
            if module == "q_proj":
                bg = permute(bg, HEADS)
            elif module == "k_proj":
                bg = permute(bg, KV_HEADS)
            name = f"blk.{layer}.{GGUF_NAMES[module]}.weight"
            gguf_tensors += [(name + ".lora_a", [in_f, r], a), (name + ".lora_b", [r, out_f], bg)]
    st = [("base_model.model." + n, d, s, raw) for n, d, s, raw in st]
    config = {
        "peft_type": "LORA", "task_type": "CAUSAL_LM", "r": R, "lora_alpha": ALPHA, "use_rslora": False,
        "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
        "rank_pattern": RANK_PATTERN, "alpha_pattern": ALPHA_PATTERN, "lora_dropout": 0.0, "bias": "none",
        "fan_in_fan_out": False, "base_model_name_or_path": "tiny-test-model",
    }
    for sub, rs in (("tiny-peft", False), ("tiny-rslora", True)):
        d = os.path.join(outdir, sub)
        os.makedirs(d, exist_ok=True)
        write_safetensors(os.path.join(d, "adapter_model.safetensors"), st)
        with open(os.path.join(d, "adapter_config.json"), "w") as f:
            json.dump(dict(config, use_rslora=rs), f, indent=2, sort_keys=True)
    kv = [("general.architecture", 8, gguf_string("llama")), ("general.type", 8, gguf_string("adapter")),
          ("adapter.type", 8, gguf_string("lora")), ("adapter.lora.alpha", 6, struct.pack("<f", ALPHA))]
    write_gguf(os.path.join(outdir, "tiny-lora.gguf"), kv, gguf_tensors)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "Tests/AdapterTests/Fixtures")
