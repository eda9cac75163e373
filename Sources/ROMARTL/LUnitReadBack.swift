import Foundation

/// Reads a slice back from the files `roma rtl lunit` wrote (`roma rtl verify`): the manifest, the
/// storage words of `NAME_words.hex`, the vectors of `NAME_stim.hex` and their origins
/// (`NAME_origins.txt`). The golden results are recomputed from these, not taken from
/// `NAME_expected.hex`, so an edited expected file cannot hide a wrong datapath.
extension LUnitSlice {
    public static func read(directory: URL, manifest m: LUnitManifest) throws -> LUnitSlice {
        let spec = m.spec, n = spec.name
        func text(_ suffix: String) throws -> String {
            let url = directory.appendingPathComponent("\(n)\(suffix)")
            do { return try String(contentsOf: url, encoding: .utf8) } catch {
                throw RTLError.io("cannot read \(url.path): \(error.localizedDescription)")
            }
        }
        let tile = try ROMTile(hex: try text("_words.hex"), geometry: try spec.storageGeometry, name: "\(n)_words.hex")
        let words = (0..<spec.depth).map { word(tile, $0, spec: spec) }
        let stim = try text("_stim.hex").split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        let origins = (try? text("_origins.txt"))?.split(separator: "\n").map(String.init) ?? []
        let addrDigits = (spec.addressBits + 3) / 4, digits = addrDigits + 4 * spec.groupSize
        let vectors = try stim.enumerated().map { i, line -> LUnitVector in
            guard line.count == digits, line.allSatisfy(\.isHexDigit) else {
                throw RTLError.hexLine(file: "\(n)_stim.hex", line: i + 1, reason: "expected \(digits) hex digits ({addr, \(spec.groupSize) FP16 activations})")
            }
            let chars = Array(line)
            let address = Int(String(chars[0..<addrDigits]), radix: 16)!
            // act[G-1] first: lane k is the k-th 4-digit field from the right
            let acts = (0..<spec.groupSize).map { k -> UInt16 in
                let end = chars.count - 4 * k
                return UInt16(String(chars[(end - 4)..<end]), radix: 16)!
            }
            return LUnitVector(address: address, activations: acts, origin: i < origins.count ? origins[i] : "unknown")
        }
        guard vectors.count == m.vectors else {
            throw RTLError.manifest(path: "\(n).lunit.json", reason: "says \(m.vectors) vectors, \(n)_stim.hex holds \(vectors.count)")
        }
        return try LUnitSlice(spec: spec, words: words, vectors: vectors, source: m.source)
    }

    /// Word `address` of a storage tile as {codes, s, z} (the layout `tile()` writes).
    static func word(_ tile: ROMTile, _ address: Int, spec: LUnitSliceSpec) -> LUnitWord {
        func field(_ first: Int, _ width: Int) -> Int {
            (0..<width).reduce(0) { $0 | (tile.bit(address, first + $1) ? 1 << $1 : 0) }
        }
        let b = spec.bits, g = spec.groupSize
        return LUnitWord(codes: (0..<g).map { UInt8(field($0 * b, b)) }, zero: field(g * b + 16, b), scale: UInt16(field(g * b, 16)))
    }
}
