#!/usr/bin/env python3
"""Glue for L-Unit verification (docs/rtl.md): turn the words of a ROM tile (.hex, as written by
`roma rtl rom`) into input lines for `roma golden lunit`.

Each group of 128 weight codes is read from consecutive words of the tile: code k of group g is the
`bits`-bit field at bit offset (g*128 + k)*bits of the tile seen as one little-endian bit string
(word 0 bits 0..W-1, then word 1, ...). With W = 128 and 4-bit codes one group is exactly one B-ROM
block of four words. This packing is the walkthrough's assumption; tiles cut from a compiled ROM image
follow that image's layout instead.

Every group gets random FP16 activations (normal numbers, both signs), a random zero point z and a
positive FP16 scale s, all from --seed. Output: one JSON object per line,
{"a": [128 FP16 bit patterns], "w": [128 codes], "z": z, "s": FP16 bit pattern, "bits": bits}.
"""
import argparse, json, random, sys


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--hex", required=True, help="tile words, one per line (roma rtl rom's NAME.hex)")
    p.add_argument("--width", type=int, required=True, help="bits per word (W)")
    p.add_argument("--bits", type=int, default=4, choices=[2, 4], help="bits per weight code")
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()

    words = [ln.split("//")[0].strip() for ln in open(args.hex)]
    words = [w for w in words if w]
    digits = (args.width + 3) // 4
    stream = 0
    for i, w in enumerate(words):
        if len(w) != digits:
            sys.exit(f"{args.hex}:{i + 1}: expected {digits} hex digits for a {args.width}-bit word")
        stream |= int(w, 16) << (i * args.width)
    total_bits = len(words) * args.width
    group_bits = 128 * args.bits
    if total_bits < group_bits:
        sys.exit(f"{args.hex}: {total_bits} bits hold no complete group of 128 {args.bits}-bit codes")

    rng = random.Random(args.seed)
    mask = (1 << args.bits) - 1
    for g in range(total_bits // group_bits):
        codes = [(stream >> ((g * 128 + k) * args.bits)) & mask for k in range(128)]
        # FP16: sign | exponent 5 bits | mantissa 10 bits; exponents 8..22 keep values in a sane range.
        acts = [(rng.getrandbits(1) << 15) | (rng.randint(8, 22) << 10) | rng.getrandbits(10) for _ in range(128)]
        scale = (rng.randint(5, 14) << 10) | rng.getrandbits(10)
        print(json.dumps({"a": acts, "w": codes, "z": rng.randint(0, mask), "s": scale, "bits": args.bits}))


if __name__ == "__main__":
    main()
