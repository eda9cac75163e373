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

    public init(codes: UnsafePointer<UInt8>, scales: UnsafePointer<UInt16>, zeros: UnsafePointer<UInt8>, table: UnsafePointer<Float>,
                rowStart: Int, rowEnd: Int, cols: Int, groupSize: Int, bits: Int,
                out: UnsafeMutablePointer<Float>, outStride: Int, roundToFP16: Bool, x: ActivationLayout) {
        self.codes = codes; self.scales = scales; self.zeros = zeros; self.table = table
        self.rowStart = rowStart; self.rowEnd = rowEnd; self.cols = cols; self.groupSize = groupSize; self.bits = bits
        self.out = out; self.outStride = outStride; self.roundToFP16 = roundToFP16; self.x = x
    }

    public var groupsPerRow: Int { cols / groupSize }
    public var rowBytes: Int { cols * bits / 8 }
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
