import Foundation
import ROMAChip
import ROMANumerics

/// How one L-Unit slice stores its groups (`roma rtl lunit --style`): the two ROMs of Sec. III-C, and an
/// SRAM stand-in (a register file with the same combinational read port plus a write port) for the
/// "SRAM + compute" bar of Fig. 12.
public enum LUnitStorageStyle: String, Codable, Sendable, CaseIterable {
    case brom, standard, sram

    /// The ROM style of the storage (nil for SRAM).
    public var rom: ROMStyle? {
        switch self {
        case .brom: return .brom
        case .standard: return .standard
        case .sram: return nil
        }
    }
}

/// The shape of one generated L-Unit slice (Sec. III-B, Fig. 3 right): `depth` stored groups of
/// `groupSize` codes of `bits` bits, each with its FP16 scale and zero point, and the datapath numerics
/// it computes with (docs/numerics.md).
public struct LUnitSliceSpec: Codable, Equatable, Sendable {
    public var name: String
    public var groupSize: Int
    public var bits: Int
    /// Stored groups (a power of two >= 4; unused addresses hold zero words).
    public var depth: Int
    public var style: LUnitStorageStyle
    public var numerics: DatapathNumerics

    /// Eq. 1's Bias values for which every result of step 6 is a normal FP32 (no underflow, no overflow),
    /// so that the RTL's single rounding equals the golden model's FP32 arithmetic (docs/rtl.md).
    public static let biasRange = 0...100
    public static let groupSizes = [16, 32, 64, 128, 256]

    public init(name: String, groupSize: Int, bits: Int, depth: Int, style: LUnitStorageStyle,
                numerics: DatapathNumerics = .paper) throws {
        try RTLManifest.validate(name: name)
        guard Self.groupSizes.contains(groupSize) else {
            throw RTLError.badFlags("L-Unit group size \(groupSize) is not supported (use one of \(Self.groupSizes.map(String.init).joined(separator: ", ")))")
        }
        guard bits == 2 || bits == 4 else { throw RTLError.badFlags("L-Unit codes must be 2 or 4 bits, got \(bits)") }
        guard Self.biasRange.contains(numerics.bias) else {
            throw RTLError.badFlags("Eq. 1 Bias \(numerics.bias) is outside \(Self.biasRange.lowerBound)...\(Self.biasRange.upperBound), where every group result is a normal FP32")
        }
        self.name = name; self.groupSize = groupSize; self.bits = bits; self.style = style; self.numerics = numerics
        self.depth = depth
        _ = try storageGeometry
    }

    /// Bits of one stored word: {zero point, FP16 scale, codes}, code k at bits [k*bits, (k+1)*bits).
    public var wordBits: Int { groupSize * bits + 16 + bits }
    public var addressBits: Int { depth.trailingZeroBitCount }
    /// The storage as a ROM tile shape (checked: power-of-two depth, multiple of 4, width <= 1024).
    public var storageGeometry: ROMGeometry {
        get throws {
            guard depth >= 4 else { throw RTLError.invalidDepth(depth, reason: "an L-Unit slice stores at least 4 groups") }
            return try ROMGeometry(depth: depth, width: wordBits, style: .brom)
        }
    }
    /// Smallest power of two >= max(4, groups).
    public static func depth(forGroups n: Int) -> Int {
        var d = 4
        while d < n { d <<= 1 }
        return d
    }
}

/// One stored group: its codes (column order), zero point and FP16 scale bit pattern.
public struct LUnitWord: Equatable, Sendable {
    public var codes: [UInt8]
    public var zero: Int
    public var scale: UInt16
    public init(codes: [UInt8], zero: Int, scale: UInt16) { self.codes = codes; self.zero = zero; self.scale = scale }
}

/// One input of the slice: an address of the storage and a group of FP16 activations (bit patterns).
public struct LUnitVector: Equatable, Sendable {
    public var address: Int
    public var activations: [UInt16]
    /// Where the vector comes from ("chip", "edge:denormals", "stimulus"), for reports.
    public var origin: String
    public init(address: Int, activations: [UInt16], origin: String) {
        self.address = address; self.activations = activations; self.origin = origin
    }
}

/// A whole slice: the stored words, the vectors applied to it, and what the golden model
/// (`ROMAChip.LUnit.group`, the `roma golden lunit` evaluation) says each vector must produce.
public struct LUnitSlice: Sendable {
    public let spec: LUnitSliceSpec
    public let words: [LUnitWord]
    public let vectors: [LUnitVector]
    public let source: String

    public init(spec: LUnitSliceSpec, words: [LUnitWord], vectors: [LUnitVector], source: String) throws {
        guard words.count <= spec.depth else {
            throw RTLError.badFlags("\(words.count) groups do not fit a slice of depth \(spec.depth)")
        }
        for (i, w) in words.enumerated() {
            guard w.codes.count == spec.groupSize else {
                throw RTLError.badFlags("group \(i) has \(w.codes.count) codes; the slice's group size is \(spec.groupSize)")
            }
            guard w.codes.allSatisfy({ Int($0) < 1 << spec.bits }), (0..<(1 << spec.bits)).contains(w.zero) else {
                throw RTLError.badFlags("group \(i) has a code or zero point outside \(spec.bits) bits")
            }
            guard (w.scale >> 10) & 0x1F != 0x1F else {
                throw RTLError.badFlags("group \(i) has a non-finite FP16 scale 0x\(String(w.scale, radix: 16)); ROM scales are finite")
            }
        }
        guard !vectors.isEmpty else { throw RTLError.badFlags("an L-Unit slice needs at least one input vector") }
        for (i, v) in vectors.enumerated() {
            guard (0..<spec.depth).contains(v.address), v.activations.count == spec.groupSize else {
                throw RTLError.badFlags("vector \(i): address \(v.address) / \(v.activations.count) activations do not fit depth \(spec.depth), group size \(spec.groupSize)")
            }
        }
        self.spec = spec
        self.words = words + Array(repeating: LUnitWord(codes: Array(repeating: 0, count: spec.groupSize), zero: 0, scale: 0),
                                   count: spec.depth - words.count)
        self.vectors = vectors
        self.source = source
    }

    /// The golden result of every vector (docs/numerics.md, L-Unit steps 1-6).
    public var expected: [LUnit.GroupResult] {
        vectors.map { v in
            let w = words[v.address]
            return LUnit.group(a: v.activations, w: w.codes, z: w.zero, scaleBits: w.scale, numerics: spec.numerics)
        }
    }

    /// The storage contents as a ROM tile: word i = {z, s, codes} of group i (LSB = code 0, bit 0).
    public func tile() throws -> ROMTile {
        let g = try spec.storageGeometry
        let words64: [[UInt64]] = words.map { w in
            var limbs = [UInt64](repeating: 0, count: g.limbs)
            func put(_ value: UInt64, at bit: Int, width: Int) {
                for b in 0..<width where (value >> UInt64(b)) & 1 == 1 {
                    limbs[(bit + b) >> 6] |= UInt64(1) << UInt64((bit + b) & 63)
                }
            }
            for (k, c) in w.codes.enumerated() { put(UInt64(c), at: k * spec.bits, width: spec.bits) }
            put(UInt64(w.scale), at: spec.groupSize * spec.bits, width: 16)
            put(UInt64(w.zero), at: spec.groupSize * spec.bits + 16, width: spec.bits)
            return limbs
        }
        return try ROMTile(geometry: g, words: words64)
    }
}

/// A golden group result in the `roma golden lunit` output format, and its FP32 bits.
public struct LUnitOutput: Codable, Equatable, Sendable {
    public var maxExp: Int
    public var vsum: Int32
    public var dot: Int32
    /// FP32 bit pattern of res.
    public var resBits: UInt32

    public init(maxExp: Int, vsum: Int32, dot: Int32, resBits: UInt32) {
        self.maxExp = maxExp; self.vsum = vsum; self.dot = dot; self.resBits = resBits
    }
    public init(_ r: LUnit.GroupResult) { self.init(maxExp: r.maxExp, vsum: r.vsum, dot: r.dot, resBits: r.res.bitPattern) }

    public var res: Float { Float(bitPattern: resBits) }

    /// Same max_exp, vsum, dot and res bits; any NaN equals any NaN (the golden model's NaN is
    /// Float.nan, the RTL's the canonical 0x7fc00000).
    public func matches(_ o: LUnitOutput) -> Bool {
        maxExp == o.maxExp && vsum == o.vsum && dot == o.dot && (resBits == o.resBits || (res.isNaN && o.res.isNaN))
    }

    /// One line as `roma golden lunit` prints it.
    public var goldenLine: String {
        "{\"max_exp\":\(maxExp),\"vsum\":\(vsum),\"dot\":\(dot),\"res\":\(res.isNaN ? "null" : "\(Double(res))")}"
    }

    /// The 104-bit expected word of the testbench: {3'b0, max_exp[4:0], vsum, dot, res}, 26 hex digits.
    public var hex: String {
        String(format: "%02x%08x%08x%08x", maxExp, UInt32(bitPattern: vsum), UInt32(bitPattern: dot), resBits)
    }
}
