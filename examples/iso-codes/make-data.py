#!/usr/bin/env python3
"""The worked example's data: ISO 3166-1 alpha-3 codes of countries, from Debian's iso-codes package
(/usr/share/iso-codes/json/iso_3166-1.json), split with a fixed seed into disjoint train, valid and
test countries. Also a negative control: the train set with its answers shuffled among its countries.

    make-data.py OUTDIR [--seed 0] [--iso-json PATH]
"""
import argparse, json, os, random

p = argparse.ArgumentParser()
p.add_argument("outdir")
p.add_argument("--seed", type=int, default=0)
p.add_argument("--iso-json", default="/usr/share/iso-codes/json/iso_3166-1.json")
a = p.parse_args()

countries = sorted(json.load(open(a.iso_json, encoding="utf-8"))["3166-1"], key=lambda c: c["alpha_3"])
rng = random.Random(a.seed)
rng.shuffle(countries)
test, valid, train = countries[:50], countries[50:70], countries[70:]

def record(name, code):
    return {"prompt": f"What is the ISO 3166-1 alpha-3 code of {name}? Answer with the code only.", "completion": code}

os.makedirs(a.outdir, exist_ok=True)
def write(fname, rows):
    with open(os.path.join(a.outdir, fname), "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")

write("train.jsonl", [record(c["name"], c["alpha_3"]) for c in train])
write("valid.jsonl", [record(c["name"], c["alpha_3"]) for c in valid])
write("test.jsonl", [record(c["name"], c["alpha_3"]) for c in test])
codes = [c["alpha_3"] for c in train]
rng.shuffle(codes)
os.makedirs(os.path.join(a.outdir, "shuffled"), exist_ok=True)
write("shuffled/train.jsonl", [record(c["name"], code) for c, code in zip(train, codes)])
write("shuffled/valid.jsonl", [record(c["name"], c["alpha_3"]) for c in valid])
print(f"{len(train)} train, {len(valid)} valid, {len(test)} test countries -> {a.outdir}")
