import Foundation

/// The two ROM structures of Fig. 4 (Sec. III-C).
public enum ROMStyle: String, Codable, Sendable, CaseIterable {
    /// Address decoder + storage array: R_j = OR_i (A_i & M_ij), one transistor per stored one.
    case standard
    /// Block ROM: addresses in blocks of four, a CGen per block pre-generating 16 candidates, and one
    /// connection per block and output bit to the candidate that equals the block's four stored bits.
    case brom

    /// The other style (what `roma rtl verify` proves equivalent).
    public var other: ROMStyle { self == .standard ? .brom : .standard }
}

/// How a CGen builds the candidates C_0...C_15 of one block (Sec. III-C).
public enum CGenStructure: String, Codable, Sendable, CaseIterable {
    /// The formula as written: C_k = OR_{i=0..3} (A_{4b+i} & bit_i(k)), one OR per candidate.
    /// NUM_CGEN = 28 (the OR inputs of the 11 candidates with two or more bits set).
    case flat
    /// Two levels: the pair candidates C_3 = A_0|A_1 and C_12 = A_2|A_3 first, then every mixed
    /// candidate C_{l+4h} = C_l | C_{4h} (l, h in 1...3). Same function, NUM_CGEN = 2+2+9*2 = 22.
    case pairwise
}

/// The candidate generator (CGen) of one B-ROM block, Sec. III-C / Fig. 4.
public struct CGen: Equatable, Sendable {
    /// One input of a candidate's OR.
    public enum Input: Equatable, Sendable {
        /// A_{4b+i}, i in 0...3: the block's i-th one-hot address line.
        case address(Int)
        /// Another candidate C_k of the same block (only in the `pairwise` structure).
        case candidate(Int)
    }

    public let structure: CGenStructure
    /// `inputs[k]`: the signals ORed to form C_k. Empty means constant 0 (C_0: no stored one).
    public let inputs: [[Input]]

    public init(_ structure: CGenStructure) {
        self.structure = structure
        var inputs = [[Input]](repeating: [], count: 16)
        for k in 1..<16 {
            let bits = (0..<4).filter { k >> $0 & 1 == 1 }
            switch structure {
            case .flat:
                inputs[k] = bits.map { .address($0) }
            case .pairwise:
                let lo = k & 3, hi = k & 12
                if lo != 0 && hi != 0 {
                    inputs[k] = [.candidate(lo), .candidate(hi)]
                } else {
                    inputs[k] = bits.map { .address($0) } // C_1, C_2, C_3, C_4, C_8, C_12
                }
            }
        }
        self.inputs = inputs
    }

    /// NUM_CGEN of Sec. III-C in the paper's array counting (one transistor per OR input, as the
    /// storage array has one per stored one): the inputs of every candidate that is a real OR (two or
    /// more inputs). Single-input candidates (C_1 = A_0, C_2, C_4, C_8) are wires, C_0 is ground.
    public var transistors: Int { inputs.reduce(0) { $0 + ($1.count >= 2 ? $1.count : 0) } }

    /// Number of two-input OR gates the CGen is made of (a k-input OR counted as k-1 gates).
    public var orGates: Int { inputs.reduce(0) { $0 + max($1.count - 1, 0) } }

    /// C_0...C_15 for the block's four one-hot lines `a` (bit i = A_{4b+i}).
    public func evaluate(_ a: Int) -> [Bool] {
        var c = [Bool](repeating: false, count: 16)
        for k in 0..<16 { // inputs only reference lower-numbered candidates
            c[k] = inputs[k].contains { input in
                switch input {
                case let .address(i): return a >> i & 1 == 1
                case let .candidate(m): return c[m]
                }
            }
        }
        return c
    }
}

/// A generated ROM circuit, independent of how it is written out: the decoder is implicit (one-hot
/// A_0...A_{D-1} from `addr`), the data is entirely in `columns` (the wiring of Fig. 4).
public struct ROMNetlist: Sendable {
    public let style: ROMStyle
    public let geometry: ROMGeometry
    /// The CGen instantiated in every block (B-ROM only).
    public let cgen: CGen?
    /// The connections of output bit j:
    /// - standard: the addresses i with M_ij = 1 (R_j = OR of those A_i);
    /// - brom: for each block b (index b), the candidate k it connects R_j to.
    public let columns: [[Int]]

    /// Builds the circuit for `tile`.
    public init(tile: ROMTile, style: ROMStyle, cgen structure: CGenStructure = .pairwise) throws {
        let g = try ROMGeometry(depth: tile.depth, width: tile.width, style: style)
        self.style = style
        self.geometry = g
        switch style {
        case .standard:
            cgen = nil
            columns = (0..<g.width).map { j in (0..<g.depth).filter { tile.bit($0, j) } }
        case .brom:
            cgen = CGen(structure)
            columns = (0..<g.width).map { j in (0..<g.depth / 4).map { tile.blockCode(block: $0, column: j) } }
        }
    }

    public var blocks: Int { geometry.depth / 4 }

    /// Wires from the array to the output bit lines: one per stored one (standard), one per block and
    /// output bit (B-ROM, including connections to C_0 = ground, as the paper counts W per block).
    public var connections: Int { columns.reduce(0) { $0 + $1.count } }

    /// Transistor and connection counts (Sec. III-C).
    public var counts: ROMCounts {
        switch style {
        case .standard:
            return ROMCounts(style: .standard, geometry: geometry, numCGen: 0, connections: connections,
                             transistorsPresent: connections)
        case .brom:
            let numCGen = cgen!.transistors
            let nonGround = columns.reduce(0) { $0 + $1.filter { $0 != 0 }.count }
            return ROMCounts(style: .brom, geometry: geometry, numCGen: numCGen, connections: connections,
                             transistorsPresent: blocks * numCGen + nonGround)
        }
    }

    /// The word the circuit outputs for `address`, evaluated gate by gate from the structure
    /// (decoder -> [CGen] -> OR of the connected lines), as little-endian 64-bit limbs.
    public func evaluate(address: Int) -> [UInt64] {
        precondition((0..<geometry.depth).contains(address))
        var out = [UInt64](repeating: 0, count: geometry.limbs)
        switch style {
        case .standard:
            for (j, lines) in columns.enumerated() where lines.contains(address) { // A_i one-hot
                out[j >> 6] |= 1 << UInt64(j & 63)
            }
        case .brom:
            let cg = cgen!
            let block = address / 4
            // Only the addressed block has a non-zero one-hot line; all other blocks' candidates are 0.
            let c = cg.evaluate(1 << (address % 4))
            for (j, ks) in columns.enumerated() where c[ks[block]] {
                out[j >> 6] |= 1 << UInt64(j & 63)
            }
        }
        return out
    }
}

/// Transistor and connection counts of one ROM tile (Sec. III-C), as `roma rtl rom --format json`
/// reports them.
public struct ROMCounts: Codable, Equatable, Sendable {
    public let style: ROMStyle
    public let depth: Int
    public let width: Int
    /// The paper's counting: standard D*W array sites (Sec. III-C "the total number of transistors in
    /// the array is D*W"); B-ROM D/4*(W+NUM_CGEN). Address decoders are not counted in either.
    public let transistors: Int
    /// NUM_CGEN of the generated CGen (0 for a standard ROM).
    public let numCGen: Int
    /// Array-to-bit-line connections: stored ones (standard) or D/4*W (B-ROM).
    public let connections: Int
    /// Transistors actually placed for this data: stored ones (standard); D/4*NUM_CGEN plus the
    /// connections to candidates other than C_0 = ground (B-ROM).
    public let transistorsPresent: Int

    public init(style: ROMStyle, geometry: ROMGeometry, numCGen: Int, connections: Int, transistorsPresent: Int) {
        self.style = style
        self.depth = geometry.depth
        self.width = geometry.width
        self.numCGen = numCGen
        self.connections = connections
        self.transistorsPresent = transistorsPresent
        self.transistors = ROMCounts.paperTransistors(style: style, geometry: geometry, numCGen: numCGen)
    }

    /// Sec. III-C: D*W for a standard ROM, D/4*(W+NUM_CGEN) for a B-ROM.
    public static func paperTransistors(style: ROMStyle, geometry: ROMGeometry, numCGen: Int) -> Int {
        switch style {
        case .standard: return geometry.depth * geometry.width
        case .brom: return geometry.depth / 4 * (geometry.width + numCGen)
        }
    }

    enum CodingKeys: String, CodingKey {
        case style, depth, width, transistors
        case numCGen = "num_cgen"
        case connections
        case transistorsPresent = "transistors_present"
    }
}
