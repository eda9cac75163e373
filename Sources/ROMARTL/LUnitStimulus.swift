import Foundation
import ROMAChip
import ROMANumerics

/// Where an L-Unit slice's stored groups and input vectors come from (`roma rtl lunit`).
public enum LUnitStimulus {
    /// The groups L-Unit `unit` holds of `tensor` (its first `rows` rows; each row's first `groups`
    /// groups, all when nil), in row-major order: address = row · groupsPerRow + group.
    public static func words(image: ROMImage, tensor name: String, unit: Int, rows: Int,
                             groups: Int? = nil) throws -> (words: [LUnitWord], rows: Range<Int>, groupsPerRow: Int) {
        guard let t = image.tensor(name), t.kind != .norm else { throw RTLError.badFlags(image.unknownTensorDescription(name)) }
        guard unit + 1 < t.unitRowStart.count else {
            throw RTLError.badFlags("L-Unit \(unit) is outside the \(t.unitRowStart.count - 1) units '\(name)' is spread over")
        }
        let start = t.unitRowStart[unit], end = t.unitRowStart[unit + 1]
        guard end > start else { throw RTLError.badFlags("L-Unit \(unit) holds no rows of '\(name)'") }
        guard rows >= 1 else { throw RTLError.badFlags("--rows must be at least 1") }
        let gpr = min(groups ?? t.groupsPerRow, t.groupsPerRow)
        guard gpr >= 1 else { throw RTLError.badFlags("--groups must be at least 1") }
        let taken = start..<min(end, start + rows)
        let q = GroupQuantizer(bits: t.bits, groupSize: t.groupSize)
        var codes = [UInt8](repeating: 0, count: t.groupSize)
        let sc = image.scales(t), zp = image.zeros(t)
        var words: [LUnitWord] = []
        for r in taken {
            let base = image.codes(t, row: r)
            for g in 0..<gpr {
                codes.withUnsafeMutableBufferPointer { q.unpack(base + g * q.packedGroupBytes, into: $0.baseAddress!) }
                words.append(LUnitWord(codes: codes, zero: Int(zp[r * t.groupsPerRow + g]), scale: sc[r * t.groupsPerRow + g]))
            }
        }
        return (words, taken, gpr)
    }

    /// The first quantized tensor, in image order, that has rows on L-Unit `unit`.
    public static func defaultTensor(image: ROMImage, unit: Int) -> String? {
        image.header.tensors.first { t in
            t.kind != .norm && unit + 1 < t.unitRowStart.count && t.unitRowStart[unit + 1] > t.unitRowStart[unit]
        }?.name
    }

    /// Every (token, row, group) of the captured activations `x` ([tokens][cols], FP16 bit patterns)
    /// against the stored groups: the products the L-Unit computes for those rows in the chip run.
    public static func vectors(activations x: [[UInt16]], rows: Int, groupsPerRow gpr: Int, groupSize: Int) -> [LUnitVector] {
        var out: [LUnitVector] = []
        for tokenRow in x {
            for r in 0..<rows {
                for g in 0..<gpr {
                    out.append(LUnitVector(address: r * gpr + g, activations: Array(tokenRow[g * groupSize ..< (g + 1) * groupSize]),
                                           origin: "chip"))
                }
            }
        }
        return out
    }

    /// Lines in `roma golden lunit`'s input format ({"a","w","z","s","bits"}); line i's codes, zero
    /// point and scale are stored at address i and its activations applied to that address.
    public static func golden(jsonl text: String, file: String) throws -> (words: [LUnitWord], vectors: [LUnitVector], bits: Int) {
        var words: [LUnitWord] = [], vectors: [LUnitVector] = []
        var bits: Int?
        for (i, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty { continue }
            func fail(_ m: String) -> RTLError { .hexLine(file: file, line: i + 1, reason: m) }
            let l: LUnit.StimulusLine
            do { l = try LUnit.StimulusLine(json: line) } catch { throw fail(error.description) }
            if let bits, bits != l.bits { throw fail("bits \(l.bits) differs from the first line's \(bits); one slice has one code width") }
            bits = l.bits
            if let first = words.first, first.codes.count != l.w.count {
                throw fail("group of \(l.w.count) differs from the first line's \(first.codes.count); one slice has one group size")
            }
            guard (l.s >> 10) & 0x1F != 0x1F else { throw fail("'s' must be a finite FP16 bit pattern (exponent field below 31)") }
            vectors.append(LUnitVector(address: words.count, activations: l.a, origin: "stimulus"))
            words.append(LUnitWord(codes: l.w, zero: l.z, scale: l.s))
        }
        guard let bits, !words.isEmpty else { throw RTLError.badFlags("\(file): no stimulus lines") }
        return (words, vectors, bits)
    }

    /// Edge-case activation groups (docs/rtl.md): zeros and signed zeros, denormal groups, denormals
    /// mixed with normals, spreads over 11 (values shifted out entirely), ±65504, inf and NaN lanes,
    /// shift-rounding ties, and uniformly random finite patterns; applied to addresses
    /// 0..<`addresses`. Deterministic in `seed`.
    public static func edgeCases(count: Int, groupSize g: Int, addresses: Int, seed: UInt64) -> [LUnitVector] {
        var rng = SplitMix64(seed: seed)
        func r(_ n: Int) -> Int { Int(rng.next() % UInt64(n)) }
        func sign() -> UInt16 { rng.next() & 1 == 0 ? 0 : 0x8000 }
        func fp16(e: Int, m: Int? = nil) -> UInt16 { sign() | UInt16(e << 10) | UInt16(m ?? r(1024)) }
        let kinds = ["zeros", "denormals", "mixed-denormal", "spread", "extremes", "nonfinite", "ties", "random"]
        return (0..<count).map { i in
            let kind = kinds[i % kinds.count]
            var a = [UInt16](repeating: 0, count: g)
            switch kind {
            case "zeros":
                for k in 0..<g { a[k] = r(2) == 0 ? 0 : 0x8000 }
            case "denormals":
                for k in 0..<g { a[k] = fp16(e: 0) }
            case "mixed-denormal":
                for k in 0..<g { a[k] = r(2) == 0 ? fp16(e: 0) : fp16(e: 1 + r(3)) }
            case "spread":
                let top = 12 + r(18)
                for k in 0..<g {
                    switch r(4) {
                    case 0: a[k] = fp16(e: top)
                    case 1: a[k] = fp16(e: top - 11)
                    case 2: a[k] = fp16(e: max(0, top - 12 - r(6)))
                    default: a[k] = fp16(e: r(top + 1))
                    }
                }
            case "extremes":
                let picks: [UInt16] = [0x7BFF, 0xFBFF, 0x0400, 0x8400, 0x03FF, 0x83FF, 0x0001, 0x8001, 0x3C00, 0xBC00]
                for k in 0..<g { a[k] = picks[r(picks.count)] }
            case "nonfinite":
                for k in 0..<g { a[k] = fp16(e: r(31)) }
                let specials: [UInt16] = [0x7C00, 0xFC00, 0x7E00, 0x7C01, 0xFFFF]
                for _ in 0..<(1 + r(3)) { a[r(g)] = specials[r(specials.count)] }
            case "ties":
                // mantissas with a single low bit pattern so that shifted-out bits are exactly one half
                let top = 5 + r(20)
                for k in 0..<g { let sh = r(6); a[k] = fp16(e: top - sh, m: (r(64) << 4) | (sh > 0 ? 1 << (sh - 1) : 0)) }
            default:
                for k in 0..<g { a[k] = fp16(e: r(31)) }
            }
            return LUnitVector(address: r(max(1, addresses)), activations: a, origin: "edge:\(kind)")
        }
    }
}
