#!/usr/bin/env python3
"""End-to-end check of tests-python/peft_reference.py on the real SmolLM2 Q4_1 GGUF, without roma.

Makes a fresh PEFT adapter (A random, B = 0) and a small synthetic data set, runs the reference trainer
as a subprocess, and checks: the GGUF loads with q/k rows in Hugging Face order; random tokens have a
high loss while a repeated random sequence is copied (low loss; with q/k left in llama.cpp's row order
it is not, ~12 nats); natural English has a low perplexity; step 0's loss with B = 0 equals the base
model's loss; the training and validation losses fall.

  .build-venv/peft/bin/python tests-python/peft_selfcheck.py [--gguf PATH] [--keep DIR] [--threads N]
Prints one ok/FAIL line per check and 'N passed, N failed'.
"""
import argparse
import json
import math
import os
import random
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import peft_reference as ref  # noqa: E402

results = []


def check(name, ok, detail):
    results.append(ok)
    print(f"{'ok  ' if ok else 'FAIL'} {name}: {detail}", flush=True)


def write_jsonl(path, groups):
    with open(path, "w") as f:
        for s, samples in enumerate(groups):
            f.write(json.dumps({"step": s, "samples": [{"tokens": t, "mask": m} for t, m in samples]}) + "\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--gguf", default=os.path.join(ROOT, "models/SmolLM2-135M-Instruct.Q4_1.gguf"))
    ap.add_argument("--keep", help="write the fixtures and outputs here (default: a temporary directory)")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as peft_reference.py does; see there
    import numpy as np
    import torch
    torch.set_num_threads(args.threads)
    work = args.keep or tempfile.mkdtemp(prefix="peft-selfcheck-")
    os.makedirs(work, exist_ok=True)

    # --- the base model as transformers reads it ---
    t0 = time.perf_counter()
    model = ref.load_base(args.gguf, torch)
    model.eval()
    print(f"base model loaded in {time.perf_counter() - t0:.1f} s", flush=True)
    cfg = model.config
    vocab = cfg.vocab_size

    # q/k: transformers un-permutes llama.cpp's rows; compare with the raw dequantized GGUF tensor.
    import gguf
    reader = gguf.GGUFReader(args.gguf)
    raw = {t.name: t for t in reader.tensors}
    for hf, gg, heads in [("q_proj", "attn_q", cfg.num_attention_heads), ("k_proj", "attn_k", cfg.num_key_value_heads)]:
        t = raw[f"blk.0.{gg}.weight"]
        w = gguf.quants.dequantize(t.data, t.tensor_type).astype(np.float32)
        d = w.shape[0] // heads // 2
        hf_order = w.reshape(heads, d, 2, w.shape[1]).swapaxes(1, 2).reshape(w.shape)
        got = getattr(model.model.layers[0].self_attn, hf).weight.detach().numpy()
        err_hf, err_raw = float(np.abs(got - hf_order).max()), float(np.abs(got - w).max())
        check(f"{hf} rows in HF order ({t.tensor_type.name})", err_hf < 1e-6 and err_raw > 1e-3,
              f"max |diff| vs un-permuted GGUF {err_hf:.2e}, vs raw GGUF order {err_raw:.2e}")

    rng = random.Random(1234)

    def loss_of(tokens, mask):
        with torch.no_grad():
            ce, n = ref.sample_ce(model, torch, tokens, mask)
        return float(ce) / n

    rand = [rng.randrange(vocab) for _ in range(60)]
    l_rand = loss_of(rand, [0] + [1] * 59)
    check("random tokens are unpredictable", l_rand > 8.0,
          f"loss {l_rand:.3f} nats (ppl {math.exp(l_rand):.0f}; uniform would be {math.log(vocab):.3f})")
    seq = [rng.randrange(vocab) for _ in range(20)]
    rep = seq * 3
    l_rep2 = loss_of(rep, [0] * 20 + [1] * 20 + [0] * 20)
    l_rep3 = loss_of(rep, [0] * 40 + [1] * 20)
    check("a repeated random sequence is copied", l_rep2 < 5.0 and l_rep3 < 2.0,
          f"loss on repeat 2 {l_rep2:.3f} nats (ppl {math.exp(l_rep2):.2f}), "
          f"repeat 3 {l_rep3:.3f} nats (ppl {math.exp(l_rep3):.2f})")
    try:
        from transformers import AutoTokenizer
        d, name = os.path.split(os.path.abspath(args.gguf))
        tok = AutoTokenizer.from_pretrained(d, gguf_file=name)
        text = ("The quick brown fox jumps over the lazy dog. Paris is the capital of France, and Berlin is "
                "the capital of Germany. Water boils at one hundred degrees Celsius at sea level.")
        ids = tok(text)["input_ids"]
        l_en = loss_of(ids, [0] + [1] * (len(ids) - 1))
        check("natural English has a low perplexity", l_en < 4.0,
              f"{len(ids)} tokens, loss {l_en:.3f} nats (ppl {math.exp(l_en):.1f})")
    except Exception as e:  # the tokenizer is only for this check
        print(f"skip natural English check (no tokenizer from the GGUF: {e})", flush=True)

    # --- fixtures: 5 steps x 4 samples of 40 tokens: 30 random prompt tokens, then a fixed 10-token answer
    # (the last 10 tokens are supervised), so there is something to learn; validation uses new prompts.
    answer = [rng.randrange(vocab) for _ in range(10)]

    def sample():
        return [rng.randrange(vocab) for _ in range(30)] + answer, [0] * 30 + [1] * 10

    train = [[sample() for _ in range(4)] for _ in range(5)]
    valid = [[sample() for _ in range(4)] for _ in range(2)]
    batches, valid_path = os.path.join(work, "train.jsonl"), os.path.join(work, "valid.jsonl")
    write_jsonl(batches, train)
    write_jsonl(valid_path, valid)
    with torch.no_grad():
        base_step0 = sum(float(ref.sample_ce(model, torch, t, m)[0]) for t, m in train[0]) / 40
    base_valid = ref.evaluate(model, torch, [(i, g) for i, g in enumerate(valid)])
    del model

    init, out_json, trained = (os.path.join(work, n) for n in ("init-adapter", "out.json", "trained-adapter"))
    py = sys.executable
    script = os.path.join(HERE, "peft_reference.py")
    subprocess.run([py, script, "--gguf", args.gguf, "--make-init-adapter", init, "--rank", "8", "--alpha", "16",
                    "--targets", "q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj", "--seed", "7"], check=True)
    cmd = [py, script, "--gguf", args.gguf, "--init-adapter", init, "--batches", batches, "--valid", valid_path,
           "--eval-every", "2", "--lr", "2e-3", "--warmup", "1", "--schedule", "cosine", "--clip", "1.0",
           "--threads", str(args.threads), "--output-json", out_json, "--save", trained]
    print("running: " + " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)
    with open(out_json) as f:
        out = json.load(f)

    tl = out["train_losses"]
    check("step 0 with B = 0 equals the base model's loss", abs(tl[0] - base_step0) < 1e-4 * max(1.0, base_step0),
          f"{tl[0]:.6f} vs base {base_step0:.6f}")
    check("training loss falls", tl[-1] < tl[0] - 0.5, " -> ".join(f"{x:.3f}" for x in tl))
    check("validation loss falls", out["valid_loss"] < base_valid - 0.5,
          f"base {base_valid:.3f}, at {out['valid_losses_at']}")
    n = 5
    want_lr = [ref.lr_at(s, 2e-3, 1, n, "cosine") for s in range(n)]
    check("learning-rate schedule", all(abs(a - b) < 1e-12 for a, b in zip(out["learning_rates"], want_lr)),
          ", ".join(f"{x:.2e}" for x in out["learning_rates"]))
    from safetensors.numpy import load_file
    w0 = load_file(os.path.join(init, "adapter_model.safetensors"))
    w1 = load_file(os.path.join(trained, "adapter_model.safetensors"))
    b0 = max(float(np.abs(v).max()) for k, v in w0.items() if "lora_B" in k)
    b1 = min(float(np.abs(v).max()) for k, v in w1.items() if "lora_B" in k)
    check("initial B is zero and every trained B moved", b0 == 0.0 and b1 > 0.0 and set(w0) == set(w1),
          f"{len(w1)} tensors, max|B| before {b0}, smallest max|B| after {b1:.2e}")
    print(f"speed: {out['tokens_per_second']:.1f} tokens/s, {out['supervised_tokens_per_second']:.1f} supervised "
          f"tokens/s ({out['threads']} threads, {out['cpu']}; torch {out['torch']}, transformers "
          f"{out['transformers']}, peft {out['peft']}); outputs in {work}", flush=True)
    passed = sum(results)
    print(f"{passed} passed, {len(results) - passed} failed")
    sys.exit(0 if passed == len(results) else 1)


if __name__ == "__main__":
    main()
