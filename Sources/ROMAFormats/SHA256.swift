import CROMACPU
import ROMANumerics

/// SHA-256 (FIPS 180-4), used for ROM image and source-model checksums. Whole blocks run on the CPU's
/// SHA extensions where it has them (`Engine.shaExtensions`), else on the portable Swift rounds; both
/// give the same digest (tested against each other and FIPS 180-4's examples).
public struct SHA256 {
    /// Which compression function hashes the blocks.
    public enum Engine: String, Sendable, CaseIterable {
        case portable
        /// sha256rnds2 / sha256msg1 / sha256msg2 (`roma_sha256_blocks_sha_ni`).
        case shaExtensions = "sha_ni"

        public var isSupported: Bool { self == .portable || KernelPath.CPUFeatures.host.contains(.sha) }

        /// The SHA extensions where the CPU has them, unless `ROMA_KERNELS=portable` turns every SIMD path off.
        public static let selected: Engine = KernelPath.selected != .portable && Engine.shaExtensions.isSupported ? .shaExtensions : .portable
    }

    private let engine: Engine
    private var h: (UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32) =
        (0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19)
    private var buffer = [UInt8](repeating: 0, count: 64)
    private var buffered = 0
    private var length: UInt64 = 0

    public init(engine: Engine = .selected) {
        precondition(engine.isSupported, "this CPU has no SHA extensions")
        self.engine = engine
    }

    public mutating func update(_ data: UnsafeRawBufferPointer) {
        guard var p = data.baseAddress, data.count > 0 else { return }
        var n = data.count
        length &+= UInt64(n)
        if buffered > 0 {
            let take = min(64 - buffered, n)
            for i in 0..<take { buffer[buffered + i] = p.load(fromByteOffset: i, as: UInt8.self) }
            buffered += take; p += take; n -= take
            guard buffered == 64 else { return }   // all of `data` went into the partial block
            buffer.withUnsafeBytes { compress($0.baseAddress!, blocks: 1) }
            buffered = 0
        }
        if n >= 64 { compress(p, blocks: n / 64); p += n / 64 * 64; n %= 64 }
        for i in 0..<n { buffer[i] = p.load(fromByteOffset: i, as: UInt8.self) }
        buffered = n
    }

    public mutating func update(_ bytes: [UInt8]) { bytes.withUnsafeBytes { update($0) } }

    public mutating func finalize() -> [UInt8] {
        let bitLength = length &* 8
        var pad: [UInt8] = [0x80]
        let rem = (buffered + 1) % 64
        pad += [UInt8](repeating: 0, count: rem <= 56 ? 56 - rem : 120 - rem)
        for i in (0..<8).reversed() { pad.append(UInt8(truncatingIfNeeded: bitLength >> (8 * UInt64(i)))) }
        let saved = length
        update(pad)
        length = saved
        var out: [UInt8] = []
        for v in [h.0, h.1, h.2, h.3, h.4, h.5, h.6, h.7] {
            out += [UInt8(v >> 24), UInt8(truncatingIfNeeded: v >> 16), UInt8(truncatingIfNeeded: v >> 8), UInt8(truncatingIfNeeded: v)]
        }
        return out
    }

    public static func hash(_ data: UnsafeRawBufferPointer, engine: Engine = .selected) -> [UInt8] {
        var s = SHA256(engine: engine); s.update(data); return s.finalize()
    }

    /// The hex digest of a whole file, read through a read-only mapping held for the whole hash.
    public static func hex(ofFile path: String) throws -> String {
        let f = try MappedFile(path: path)
        return withExtendedLifetime(f) { hex(hash(f.bytes)) }
    }

    public static func hex(_ digest: [UInt8]) -> String {
        digest.map { String(format0x: $0) }.joined()
    }

    @inline(__always) private func rotr(_ x: UInt32, _ n: UInt32) -> UInt32 { (x >> n) | (x << (32 - n)) }

    /// FIPS 180-4's compression of `blocks` 64-byte blocks at `p` into the state.
    private mutating func compress(_ p: UnsafeRawPointer, blocks: Int) {
        switch engine {
        case .shaExtensions:
            withUnsafeMutableBytes(of: &h) { s in
                roma_sha256_blocks_sha_ni(s.baseAddress!.assumingMemoryBound(to: UInt32.self), p.assumingMemoryBound(to: UInt8.self), blocks)
            }
        case .portable:
            withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 64) { w in
                for b in 0..<blocks { compressPortable(p + 64 * b, schedule: w.baseAddress!) }
            }
        }
    }

    /// One block in Swift (6.2.2): the message schedule into `w` [64], then the 64 rounds.
    private mutating func compressPortable(_ p: UnsafeRawPointer, schedule w: UnsafeMutablePointer<UInt32>) {
        for i in 0..<16 { w[i] = UInt32(bigEndian: p.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)) }
        for i in 16..<64 {
            let s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3)
            let s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10)
            w[i] = w[i - 16] &+ s0 &+ w[i - 7] &+ s1
        }
        var (a, b, c, d, e, f, g, hh) = h
        let k = roma_sha256_constants()!   // FIPS 180-4's round constants, the table the SHA-extensions engine uses
        for i in 0..<64 {
            let s1 = rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)
            let ch = (e & f) ^ (~e & g)
            let t1 = hh &+ s1 &+ ch &+ k[i] &+ w[i]
            let s0 = rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)
            let maj = (a & b) ^ (a & c) ^ (b & c)
            let t2 = s0 &+ maj
            hh = g; g = f; f = e; e = d &+ t1; d = c; c = b; b = a; a = t1 &+ t2
        }
        h = (h.0 &+ a, h.1 &+ b, h.2 &+ c, h.3 &+ d, h.4 &+ e, h.5 &+ f, h.6 &+ g, h.7 &+ hh)
    }
}

extension String {
    init(format0x b: UInt8) {
        let d = Array("0123456789abcdef")
        self = String([d[Int(b >> 4)], d[Int(b & 15)]])
    }
}
