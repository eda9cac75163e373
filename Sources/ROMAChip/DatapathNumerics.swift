/// The numeric choices of the chip datapath that the paper leaves open (docs/numerics.md).
/// Part of the chip configuration; the defaults are what the functional model runs.
public struct DatapathNumerics: Codable, Sendable, Equatable {
    /// How the alignment unit's right shift rounds (Sec. III-B step 2). The paper writes a plain shift
    /// of the magnitude: truncation toward zero.
    public enum ShiftRounding: String, Codable, Sendable, CaseIterable {
        /// sign * (|vconv| >> shift): truncation of the magnitude (default, the formula as written).
        case truncate
        /// two's-complement arithmetic shift: rounds toward -inf.
        case floor
        /// round |vconv| / 2^shift to nearest, ties to even.
        case nearestEven
    }

    /// Format of the residual stream between blocks.
    public enum ResidualFormat: String, Codable, Sendable, CaseIterable { case fp16, fp32 }

    public var shiftRounding: ShiftRounding
    /// Eq. 1's Bias: value_k = a_k * 2^(Bias - max_exp). 25 = FP16 exponent bias (15) + mantissa bits (10),
    /// which makes res the exact group dot product up to the alignment truncation.
    public var bias: Int
    /// Residual stream format (activations are FP16 on the chip; fp32 is an experiment switch).
    public var residual: ResidualFormat

    public init(shiftRounding: ShiftRounding = .truncate, bias: Int = 25, residual: ResidualFormat = .fp16) {
        self.shiftRounding = shiftRounding; self.bias = bias; self.residual = residual
    }

    public static let paper = DatapathNumerics()
}
