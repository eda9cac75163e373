/// One slice of rows of one L-Unit product as the compute-cell kernels of every path see it: raw
/// pointers into the mapped ROM image (codes, FP16 scales, zero points), the aligned activations in
/// the layouts `ActivationLayout` describes, and where the [T, rows] results go. Plain pointers and
/// integers only, so that kernels compiled for different instruction sets (the ROMAKernels* modules)
/// share one calling convention with their caller.
public struct LUnitCells: @unchecked Sendable {
    public var codes: UnsafePointer<UInt8>, scales: UnsafePointer<UInt16>, zeros: UnsafePointer<UInt8>
    /// FP16 bit pattern -> FP32 (`FP16.table`).
    public var table: UnsafePointer<Float>
    public var rowStart: Int, rowEnd: Int
    public var cols: Int, groupSize: Int, bits: Int
    public var out: UnsafeMutablePointer<Float>, outStride: Int, roundToFP16: Bool
    public var x: ActivationLayout
    /// The same tensor's codes in panels of sixteen rows (`RowPanels`), when the path's decode cells
    /// read them (AVX2, 4-bit group 64); nil otherwise.
    public var panels: RowPanels?

    public init(codes: UnsafePointer<UInt8>, scales: UnsafePointer<UInt16>, zeros: UnsafePointer<UInt8>, table: UnsafePointer<Float>,
                rowStart: Int, rowEnd: Int, cols: Int, groupSize: Int, bits: Int,
                out: UnsafeMutablePointer<Float>, outStride: Int, roundToFP16: Bool, x: ActivationLayout, panels: RowPanels? = nil) {
        self.codes = codes; self.scales = scales; self.zeros = zeros; self.table = table
        self.rowStart = rowStart; self.rowEnd = rowEnd; self.cols = cols; self.groupSize = groupSize; self.bits = bits
        self.out = out; self.outStride = outStride; self.roundToFP16 = roundToFP16; self.x = x; self.panels = panels
    }

    public var groupsPerRow: Int { cols / groupSize }
    public var rowBytes: Int { cols * bits / 8 }
}

/// A 4-bit group-64 tensor's first `count` · 16 rows regrouped so that one 32-byte load holds sixteen
/// rows' codes of the same four columns (the AVX2 decode cells put the rows in the lanes of vpmaddubsw
/// and need no horizontal sums). The bytes are the ROM's, moved, not re-encoded: panel p, group g,
/// word j (0..<16), row i (0..<16) at `codes[((p · gpr + g) · 16 + j) · 16 + i]` is row 16p + i's
/// 16-bit word j of group g (its bytes 2j and 2j + 1: codes 2j, 2j + 1 in the low nibbles, 2j + 32,
/// 2j + 33 in the high ones); `scales` and `zeros` are [p, g, 16 rows]. A copy in memory next to the
/// mapped image, which stays as it is (docs/numerics.md).
public struct RowPanels: @unchecked Sendable {
    public static let rows = 16
    public var codes: UnsafePointer<UInt16>, scales: UnsafePointer<UInt16>, zeros: UnsafePointer<UInt8>
    public var count: Int
    public init(codes: UnsafePointer<UInt16>, scales: UnsafePointer<UInt16>, zeros: UnsafePointer<UInt8>, count: Int) {
        self.codes = codes; self.scales = scales; self.zeros = zeros; self.count = count
    }
}

/// The aligned activations of T tokens (the alignment unit's output, Sec. III-B) and the copies the
/// SIMD kernels read them from:
/// - `values` [T, cols] Int16, `vsum` and `pow2` [T, groups] (2^(max_exp − Bias), NaN for inf/NaN groups);
/// - `blocked`, `pow2B`: the prefill kernels' copy of the first `blockedTokens` tokens, in
///   `blocks` blocks of `blockTokens`, [block, group, G/2 column pairs, blockTokens, 2] (a column pair
///   of a block's tokens fills a register: eight tokens in a ymm on AVX2, whole blocks only; sixteen
///   in a zmm on AVX-512, the last block padded with zero tokens). `pow2B` is
///   [block, group, blockTokens];
/// - `hi8`/`lo8` [(T − blockedTokens), cols]: the byte split a = 64·hi + lo of the tokens after the
///   blocks (the decode cells: vpmaddubsw on AVX2, vpdpbusd on AVX-512 VNNI).
public struct ActivationLayout: @unchecked Sendable {
    public var tokens: Int, blocks: Int, blockTokens: Int, blockedTokens: Int
    public var values: UnsafePointer<Int16>, vsum: UnsafePointer<Int32>, pow2: UnsafePointer<Float>
    public var blocked: UnsafePointer<Int16>, pow2B: UnsafePointer<Float>
    public var hi8: UnsafePointer<Int8>, lo8: UnsafePointer<Int8>

    public init(tokens: Int, blocks: Int, blockTokens: Int, blockedTokens: Int,
                values: UnsafePointer<Int16>, vsum: UnsafePointer<Int32>, pow2: UnsafePointer<Float>,
                blocked: UnsafePointer<Int16>, pow2B: UnsafePointer<Float>,
                hi8: UnsafePointer<Int8>, lo8: UnsafePointer<Int8>) {
        self.tokens = tokens; self.blocks = blocks; self.blockTokens = blockTokens; self.blockedTokens = blockedTokens
        self.values = values; self.vsum = vsum; self.pow2 = pow2
        self.blocked = blocked; self.pow2B = pow2B; self.hi8 = hi8; self.lo8 = lo8
    }
}
