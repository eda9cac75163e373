import Foundation
import ROMANumerics
import ROMAChip
import ROMALlama

/// The shape of one ROM tile, the unit the generator turns into Verilog: `depth` words of `width` bits
/// (Sec. III-C: "depth D and width W").
public struct ROMGeometry: Codable, Equatable, Hashable, Sendable, CustomStringConvertible {
    public let depth: Int
    public let width: Int

    /// Largest depth of one generated tile (16 address bits).
    public static let maxDepth = 1 << 16
    /// Largest width of one generated tile.
    public static let maxWidth = 1024
    /// Largest tile (bits) one Verilog file is generated for: 4 Mbit keeps a standard-style file under
    /// ~25 MB. Bigger memories are built from several tiles (see `roma rtl report`).
    public static let maxBits = 1 << 22

    /// Checks the shape for the given style: depth a power of two >= 2 (so that `addr` has
    /// log2(D) >= 1 bits), a multiple of 4 for the B-ROM (blocks of four addresses, Sec. III-C),
    /// and width in 1...1024.
    public init(depth: Int, width: Int, style: ROMStyle = .standard) throws {
        guard depth >= 2, depth & (depth - 1) == 0 else {
            throw RTLError.invalidDepth(depth, reason: "must be a power of two >= 2")
        }
        guard depth <= ROMGeometry.maxDepth else {
            throw RTLError.invalidDepth(depth, reason: "at most \(ROMGeometry.maxDepth) words per tile")
        }
        if style == .brom, depth % 4 != 0 {
            throw RTLError.invalidDepth(depth, reason: "a B-ROM groups addresses in blocks of four, so the depth must be a multiple of 4")
        }
        guard (1...ROMGeometry.maxWidth).contains(width) else {
            throw RTLError.invalidWidth(width, reason: "must be in 1...\(ROMGeometry.maxWidth)")
        }
        guard depth * width <= ROMGeometry.maxBits else {
            throw RTLError.tileTooLarge(depth: depth, width: width, maxBits: ROMGeometry.maxBits)
        }
        self.depth = depth
        self.width = width
    }

    /// log2(D): width of the `addr` port.
    public var addressBits: Int { depth.trailingZeroBitCount }
    /// Hex digits per word in a `.hex` file: ceil(W/4).
    public var hexDigits: Int { (width + 3) / 4 }
    /// 64-bit limbs per word.
    public var limbs: Int { (width + 63) / 64 }
    public var bits: Int { depth * width }
    public var description: String { "\(depth)x\(width)" }
}

/// Raw ROM contents: `depth` words of `width` bits, M[i][j] = bit j of word i (Sec. III-C). This is the
/// only input of the generator; anything that can produce words (a hex file today, a tile of a
/// compiled ROM image later) is a `ROMTileSource`.
public struct ROMTile: Equatable, Sendable {
    public let geometry: ROMGeometry
    /// Word i occupies limbs[i*L ..< (i+1)*L], least significant limb first (L = geometry.limbs).
    public private(set) var limbs: [UInt64]

    /// A tile from words given as little-endian 64-bit limbs (`words[i][0]` holds bits 0...63).
    /// Bits at or above `width` must be zero.
    public init(geometry: ROMGeometry, words: [[UInt64]]) throws {
        guard words.count == geometry.depth else {
            throw RTLError.io("expected \(geometry.depth) words, got \(words.count)")
        }
        var flat = [UInt64](repeating: 0, count: geometry.depth * geometry.limbs)
        for (i, w) in words.enumerated() {
            guard w.count <= geometry.limbs else { throw RTLError.io("word \(i) is wider than \(geometry.width) bits") }
            for (l, v) in w.enumerated() { flat[i * geometry.limbs + l] = v }
        }
        self.geometry = geometry
        self.limbs = flat
        for i in 0..<geometry.depth where !fitsWidth(i) {
            throw RTLError.io("word \(i) has bits set at or above bit \(geometry.width)")
        }
    }

    /// A tile of words that fit in 64 bits (width <= 64).
    public init(geometry: ROMGeometry, words: [UInt64]) throws {
        try self.init(geometry: geometry, words: words.map { [$0] })
    }

    /// A tile of uniformly random words (for tests, `roma rtl report` and sweeps); deterministic in `seed`.
    public static func random(geometry: ROMGeometry, seed: UInt64) -> ROMTile {
        var rng = SplitMix64(seed: seed)
        var flat = [UInt64](repeating: 0, count: geometry.depth * geometry.limbs)
        let topBits = geometry.width - 64 * (geometry.limbs - 1)
        let topMask: UInt64 = topBits == 64 ? ~0 : (UInt64(1) << UInt64(topBits)) - 1
        for i in 0..<geometry.depth {
            for l in 0..<geometry.limbs {
                flat[i * geometry.limbs + l] = rng.next() & (l == geometry.limbs - 1 ? topMask : ~0)
            }
        }
        return ROMTile(geometry: geometry, uncheckedLimbs: flat)
    }

    init(geometry: ROMGeometry, uncheckedLimbs: [UInt64]) {
        self.geometry = geometry
        self.limbs = uncheckedLimbs
    }

    private func fitsWidth(_ i: Int) -> Bool {
        let g = geometry
        let top = limbs[i * g.limbs + g.limbs - 1]
        let topBits = g.width - 64 * (g.limbs - 1)
        return topBits == 64 || top >> UInt64(topBits) == 0
    }

    public var depth: Int { geometry.depth }
    public var width: Int { geometry.width }

    /// M_{i,j}: bit `column` of word `address`.
    @inline(__always)
    public func bit(_ address: Int, _ column: Int) -> Bool {
        (limbs[address * geometry.limbs + (column >> 6)] >> UInt64(column & 63)) & 1 == 1
    }

    /// Word `address` as little-endian limbs.
    public func word(_ address: Int) -> [UInt64] {
        Array(limbs[address * geometry.limbs ..< (address + 1) * geometry.limbs])
    }

    /// The B-ROM candidate index of block `block` and output bit `column`: the four stored bits
    /// M_{4b+i, j} read as k with bit_i(k) = M_{4b+i, j} (Sec. III-C, C_k = OR_i A_{4b+i} & bit_i(k)).
    public func blockCode(block: Int, column: Int) -> Int {
        var k = 0
        for i in 0..<4 where bit(4 * block + i, column) { k |= 1 << i }
        return k
    }

    /// Number of stored ones = transistors present in a standard ROM array.
    public var ones: Int { limbs.reduce(0) { $0 + $1.nonzeroBitCount } }

    /// Word `address` as exactly ceil(W/4) lowercase hex digits (the `.hex` / `$readmemh` form).
    public func hex(_ address: Int) -> String {
        let digits = Array("0123456789abcdef")
        var out = [Character](repeating: "0", count: geometry.hexDigits)
        for d in 0..<geometry.hexDigits {
            let bitIndex = 4 * d
            let v = (limbs[address * geometry.limbs + (bitIndex >> 6)] >> UInt64(bitIndex & 63)) & 0xF
            out[geometry.hexDigits - 1 - d] = digits[Int(v)]
        }
        return String(out)
    }

    /// The whole tile as a `.hex` file: one word per line, address 0 first.
    public var hexFile: String {
        var s = ""
        s.reserveCapacity(geometry.depth * (geometry.hexDigits + 1))
        for i in 0..<geometry.depth { s += hex(i); s += "\n" }
        return s
    }

    /// Parses a `.hex` file: one word per line, address 0 first, exactly ceil(W/4) hex digits per
    /// word (upper or lower case). Blank lines and `//` comments are ignored. Exactly `depth` words.
    /// - Parameter name: the file name used in error messages.
    public init(hex text: String, geometry: ROMGeometry, name: String = "<hex>") throws {
        var flat = [UInt64](repeating: 0, count: geometry.depth * geometry.limbs)
        let topBits = geometry.width - 4 * (geometry.hexDigits - 1) // bits in the leading digit, 1...4
        var count = 0
        var lineNumber = 0
        // Character.isNewline also matches "\r\n", which Swift treats as one Character.
        for rawLine in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline) {
            lineNumber += 1
            var line = Substring(rawLine)
            if let c = line.range(of: "//") { line = line[..<c.lowerBound] }
            let digits = line.trimmingCharacters(in: .whitespaces)
            if digits.isEmpty { continue }
            guard digits.count == geometry.hexDigits else {
                throw RTLError.hexLine(file: name, line: lineNumber, reason:
                    "expected \(geometry.hexDigits) hex digits for a \(geometry.width)-bit word, found \(digits.count) characters ('\(digits.prefix(40))')")
            }
            guard count < geometry.depth else {
                throw RTLError.hexLine(file: name, line: lineNumber, reason: "more than the tile depth of \(geometry.depth) words")
            }
            for (d, ch) in digits.reversed().enumerated() {
                guard let v = ch.hexDigitValue else {
                    throw RTLError.hexLine(file: name, line: lineNumber, reason: "'\(ch)' is not a hex digit")
                }
                if d == geometry.hexDigits - 1, topBits < 4, v >> topBits != 0 {
                    throw RTLError.hexLine(file: name, line: lineNumber, reason:
                        "word \(digits) does not fit in \(geometry.width) bits")
                }
                let bitIndex = 4 * d
                flat[count * geometry.limbs + (bitIndex >> 6)] |= UInt64(v) << UInt64(bitIndex & 63)
            }
            count += 1
        }
        guard count == geometry.depth else {
            throw RTLError.hexLineCount(file: name, expected: geometry.depth, found: count)
        }
        self.init(geometry: geometry, uncheckedLimbs: flat)
    }
}

/// Anything that yields the raw words of one ROM tile. The generator only sees `ROMTile`, so a new
/// source (e.g. a tile of a compiled ROM image) is a thin adapter.
public protocol ROMTileSource: Sendable {
    func tile(geometry: ROMGeometry) throws -> ROMTile
    /// A short human-readable origin for generated-file headers.
    var origin: String { get }
}

/// Words from a `.hex` file (`--data-hex`).
public struct HexFileTileSource: ROMTileSource {
    public let url: URL
    public init(url: URL) { self.url = url }
    public var origin: String { url.path }
    public func tile(geometry: ROMGeometry) throws -> ROMTile {
        let text: String
        do { text = try String(contentsOf: url, encoding: .utf8) } catch {
            throw RTLError.io("cannot read hex file \(url.path): \(error.localizedDescription)")
        }
        return try ROMTile(hex: text, geometry: geometry, name: url.lastPathComponent)
    }
}

/// A tile cut from a compiled ROM image: `depth` words starting at word `offset` of the L-Unit at
/// `unit` (`--image X.rom --unit ROW,COL --offset N`). The ROM image format is defined by another
/// piece of work; until it lands, `tile` checks the unit and offset and then reports that images are
/// not supported. Implementing it means mapping the image and copying the unit's words into a ROMTile.
public struct ROMImageTileSource: ROMTileSource {
    public let url: URL
    public let unit: ArrayUnit
    public let offset: Int
    public let array: RTLArrayConfig
    public init(url: URL, unit: ArrayUnit, offset: Int, array: RTLArrayConfig = .paper) {
        self.url = url; self.unit = unit; self.offset = offset; self.array = array
    }
    public var origin: String { "\(url.path) unit \(unit) offset \(offset)" }
    /// Words `offset ..< offset + depth` of the unit's ROM contents (ROMImage.unitContents), each
    /// `width` bits taken little-endian from the unit's byte stream.
    public func tile(geometry: ROMGeometry) throws -> ROMTile {
        try array.validate(unit)
        guard offset >= 0 else { throw RTLError.invalidOffset(offset) }
        let image: ROMImage
        do { image = try ROMImage(path: url.path) } catch { throw RTLError.io("\(error)") }
        let index = array.lUnitIndex(unit)
        guard index < image.header.units.count else {
            throw RTLError.io("unit \(unit) is L-Unit \(index), but the image spreads its rows over \(image.header.units.count) units")
        }
        let bytes: [UInt8]
        do { bytes = try image.unitContents(unit: index) } catch { throw RTLError.io("\(error)") }
        let totalWords = bytes.count * 8 / geometry.width
        guard offset <= totalWords - geometry.depth else {
            throw RTLError.io("unit \(unit) holds \(totalWords) words of \(geometry.width) bits; \(geometry.depth) words from word \(offset) are past its end")
        }
        var words: [[UInt64]] = []
        words.reserveCapacity(geometry.depth)
        for i in 0..<geometry.depth {
            var limbs = [UInt64](repeating: 0, count: geometry.limbs)
            let first = (offset + i) * geometry.width
            for b in 0..<geometry.width {
                let bit = first + b
                if (bytes[bit >> 3] >> UInt8(bit & 7)) & 1 == 1 { limbs[b >> 6] |= UInt64(1) << UInt64(b & 63) }
            }
            words.append(limbs)
        }
        return try ROMTile(geometry: geometry, words: words)
    }
}

/// Picks the tile source from the `roma rtl rom` flags: exactly one of `--data-hex` and `--image`;
/// `--unit ROW,COL` (required) and `--offset N` only with `--image`.
public func makeTileSource(dataHex: String?, image: String?, unit: String?, offset: Int?,
                           array: RTLArrayConfig = .paper) throws -> any ROMTileSource {
    switch (dataHex, image) {
    case let (hex?, nil):
        guard unit == nil, offset == nil else { throw RTLError.badFlags("a unit and an offset go with an image") }
        return HexFileTileSource(url: URL(fileURLWithPath: hex))
    case let (nil, img?):
        guard let unit else { throw RTLError.badFlags("a tile from an image needs its unit ROW,COL") }
        return ROMImageTileSource(url: URL(fileURLWithPath: img), unit: try ArrayUnit(parsing: unit),
                                  offset: offset ?? 0, array: array)
    default:
        throw RTLError.badFlags("give exactly one tile source: a hex file or a ROM image")
    }
}

