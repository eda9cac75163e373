#!/usr/bin/env python3
"""Independent reference trainer for `roma finetune`: LoRA with transformers + PEFT on the CPU.

It trains from an exact, pre-tokenized data order (one JSONL line per optimizer step) and an initial
PEFT adapter written by roma, so both trainers start from the same weights and see the same tokens.

  .build-venv/peft/bin/python tests-python/peft_reference.py \
      --gguf models/SmolLM2-135M-Instruct.Q4_1.gguf --init-adapter INIT_DIR \
      --batches train.jsonl --valid valid.jsonl --lr 1e-3 --warmup 2 --schedule cosine --clip 1.0 \
      --output-json out.json [--save TRAINED_DIR] [--eval-every K]

Batches format, one line per step: {"step": s, "samples": [{"tokens": [...], "mask": [0/1 ...]}, ...]}.
mask[t] = 1 means token t is a target predicted from position t-1 (mask[0] is ignored).
Step loss = sum of token cross-entropies over all supervised tokens of the step / their count.
Each sample runs on its own (unpadded, from position 0); gradients are summed over samples.

Helper mode (for testing without roma): --make-init-adapter DIR writes a fresh PEFT adapter
(A random as PEFT initializes it, B zero) for --gguf with --rank/--alpha/--targets/--seed, then exits.
"""
import argparse
import json
import math
import os
import sys
import time


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def read_groups(path):
    """Lines of {"samples": [{"tokens", "mask"}]} -> list of lists of (tokens, mask)."""
    groups = []
    with open(path) as f:
        for lineno, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            obj = json.loads(line)
            samples = []
            for i, s in enumerate(obj["samples"]):
                toks, mask = s["tokens"], s["mask"]
                if len(toks) != len(mask):
                    sys.exit(f"{path}:{lineno}: sample {i}: {len(toks)} tokens but {len(mask)} mask entries")
                if len(toks) < 2:
                    sys.exit(f"{path}:{lineno}: sample {i}: fewer than 2 tokens")
                samples.append((toks, mask))
            groups.append((obj.get("step", len(groups)), samples))
    return groups


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform
    return platform.processor() or platform.machine()


def lr_at(s, base, warmup, n, schedule):
    if s < warmup:
        return base * (s + 1) / warmup
    if schedule == "constant":
        return base
    p = (s - warmup) / max(1, n - warmup)
    return base * 0.5 * (1.0 + math.cos(math.pi * p))


def load_base(gguf, torch):
    from transformers import AutoModelForCausalLM
    d, name = os.path.split(os.path.abspath(gguf))
    try:
        return AutoModelForCausalLM.from_pretrained(d, gguf_file=name, dtype=torch.float32)
    except TypeError:  # older transformers
        return AutoModelForCausalLM.from_pretrained(d, gguf_file=name, torch_dtype=torch.float32)


def sample_ce(model, torch, tokens, mask):
    """(sum of CE over supervised tokens, count) for one unpadded sample; keeps the graph."""
    ids = torch.tensor([tokens], dtype=torch.long)
    # Positions t-1 that predict a supervised token t; the LM head runs on those rows only.
    pos = torch.tensor([t - 1 for t in range(1, len(tokens)) if mask[t]], dtype=torch.long)
    if len(pos) == 0:
        return None, 0
    logits = model(input_ids=ids, use_cache=False, logits_to_keep=pos).logits[0].float()
    ce = torch.nn.functional.cross_entropy(logits, ids[0, pos + 1], reduction="sum")
    return ce, len(pos)


def evaluate(model, torch, groups):
    total, count = 0.0, 0
    with torch.no_grad():
        for _, samples in groups:
            for toks, mask in samples:
                ce, n = sample_ce(model, torch, toks, mask)
                if n:
                    total += float(ce.detach())
                    count += n
    return total / count if count else float("nan")


def make_init_adapter(args, torch):
    from peft import LoraConfig, get_peft_model
    torch.manual_seed(args.seed)
    model = load_base(args.gguf, torch)
    cfg = LoraConfig(r=args.rank, lora_alpha=args.alpha, lora_dropout=0.0, bias="none",
                     target_modules=args.targets.split(","), task_type="CAUSAL_LM", init_lora_weights=True)
    pm = get_peft_model(model, cfg)
    pm.save_pretrained(args.make_init_adapter)
    log(f"wrote initial adapter (r={args.rank}, alpha={args.alpha}, targets={args.targets}, seed={args.seed}) "
        f"to {args.make_init_adapter}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gguf", required=True, help="base model GGUF file")
    ap.add_argument("--init-adapter", help="PEFT directory with the initial A and B")
    ap.add_argument("--batches", help="training JSONL, one line per optimizer step")
    ap.add_argument("--valid", help="validation JSONL (same format)")
    ap.add_argument("--eval-every", type=int, default=0, help="also validate after every K steps")
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--warmup", type=int, default=0, help="warmup steps")
    ap.add_argument("--schedule", choices=["cosine", "constant"], default="cosine")
    ap.add_argument("--clip", type=float, default=0.0, help="max global grad L2 norm (0: no clipping)")
    ap.add_argument("--beta1", type=float, default=0.9)
    ap.add_argument("--beta2", type=float, default=0.999)
    ap.add_argument("--eps", type=float, default=1e-8)
    ap.add_argument("--weight-decay", type=float, default=0.0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--output-json", help="write results here")
    ap.add_argument("--save", help="save_pretrained the trained adapter here")
    # helper mode
    ap.add_argument("--make-init-adapter", metavar="DIR", help="write a fresh PEFT adapter (B = 0) and exit")
    ap.add_argument("--rank", type=int, default=8)
    ap.add_argument("--alpha", type=float, default=16)
    ap.add_argument("--targets", default="q_proj,k_proj,v_proj,o_proj")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    # libgomp's default busy-waiting makes every op stall when another process holds a core (e.g. a
    # build on a 2-core machine): 10x slower steps. Passive waiting costs little when the CPU is idle.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import torch
    torch.set_num_threads(args.threads)
    if args.make_init_adapter:
        make_init_adapter(args, torch)
        return
    if not (args.init_adapter and args.batches):
        ap.error("--init-adapter and --batches are required (or --make-init-adapter)")

    import peft
    import transformers
    from peft import PeftModel

    train = read_groups(args.batches)
    valid = read_groups(args.valid) if args.valid else []
    n_steps = len(train)

    t_load = time.perf_counter()
    base = load_base(args.gguf, torch)
    model = PeftModel.from_pretrained(base, args.init_adapter, is_trainable=True)
    # Dropout off everywhere (eval mode) so the run is deterministic; LoRA dropout in the config is ignored.
    model.eval()
    lcfg = model.peft_config["default"]
    if getattr(lcfg, "lora_dropout", 0.0):
        log(f"note: adapter config has lora_dropout={lcfg.lora_dropout}; it is disabled here (eval mode)")
    params = [p for p in model.parameters() if p.requires_grad]
    n_params = sum(p.numel() for p in params)
    if any("lora_" not in n for n, p in model.named_parameters() if p.requires_grad):
        sys.exit("error: trainable parameters other than LoRA ones")
    log(f"loaded base + adapter in {time.perf_counter() - t_load:.1f} s: r={lcfg.r} alpha={lcfg.lora_alpha} "
        f"targets={sorted(lcfg.target_modules)} trainable={n_params} ({len(params)} tensors); "
        f"torch {torch.__version__} peft {peft.__version__} transformers {transformers.__version__} threads {args.threads}")

    opt = torch.optim.AdamW(params, lr=args.lr, betas=(args.beta1, args.beta2), eps=args.eps,
                            weight_decay=args.weight_decay)

    train_losses, lrs, grad_norms, valid_at = [], [], [], {}
    tokens = sup_tokens = 0
    train_seconds = eval_seconds = 0.0
    for s, (step_id, samples) in enumerate(train):
        t0 = time.perf_counter()
        n_sup = sum(sum(m[1:]) for _, m in samples)
        if n_sup == 0:
            sys.exit(f"step {s}: no supervised tokens")
        opt.zero_grad(set_to_none=True)
        total = 0.0
        for toks, mask in samples:
            ce, n = sample_ce(model, torch, toks, mask)
            tokens += len(toks)
            if n == 0:
                continue
            (ce / n_sup).backward()
            total += float(ce.detach())
        sup_tokens += n_sup
        loss = total / n_sup
        gn = float(torch.nn.utils.clip_grad_norm_(params, args.clip if args.clip > 0 else float("inf")))
        lr = lr_at(s, args.lr, args.warmup, n_steps, args.schedule)
        for g in opt.param_groups:
            g["lr"] = lr
        opt.step()
        dt = time.perf_counter() - t0
        train_seconds += dt
        train_losses.append(loss)
        lrs.append(lr)
        grad_norms.append(gn)
        log(f"step {s} (id {step_id}): loss {loss:.6f} lr {lr:.3e} grad_norm {gn:.4f} "
            f"samples {len(samples)} supervised {n_sup} {dt:.2f} s")
        if valid and args.eval_every > 0 and (s + 1) % args.eval_every == 0 and s + 1 < n_steps:
            te = time.perf_counter()
            valid_at[str(s + 1)] = evaluate(model, torch, valid)
            eval_seconds += time.perf_counter() - te
            log(f"valid after {s + 1} steps: {valid_at[str(s + 1)]:.6f}")

    valid_loss = None
    if valid:
        te = time.perf_counter()
        valid_loss = evaluate(model, torch, valid)
        eval_seconds += time.perf_counter() - te
        valid_at[str(n_steps)] = valid_loss
        log(f"valid after {n_steps} steps: {valid_loss:.6f}")

    result = {
        "train_losses": train_losses,
        "valid_loss": valid_loss,
        "valid_losses_at": valid_at,
        "tokens_per_second": tokens / train_seconds if train_seconds else None,
        "supervised_tokens_per_second": sup_tokens / train_seconds if train_seconds else None,
        "steps": n_steps,
        "seconds": train_seconds,
        "eval_seconds": eval_seconds,
        "tokens": tokens,
        "supervised_tokens": sup_tokens,
        "learning_rates": lrs,
        "grad_norms": grad_norms,
        "trainable_parameters": n_params,
        "torch": torch.__version__,
        "peft": peft.__version__,
        "transformers": transformers.__version__,
        "threads": args.threads,
        "attn_implementation": getattr(base.config, "_attn_implementation", None),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
        "cpu": cpu_name(),
    }
    log(f"{n_steps} steps, {tokens} tokens ({sup_tokens} supervised) in {train_seconds:.2f} s: "
        f"{result['tokens_per_second']:.1f} tokens/s, {result['supervised_tokens_per_second']:.1f} supervised tokens/s")
    if args.output_json:
        with open(args.output_json, "w") as f:
            json.dump(result, f, indent=1)
    if args.save:
        model.save_pretrained(args.save)
        log(f"saved trained adapter to {args.save}")


if __name__ == "__main__":
    main()
