/// A row-major FP32 matrix of activations: `rows` tokens x `cols` features.
/// A class so that the graph passes activations by reference without copy-on-write checks.
///
/// `@unchecked Sendable`: a matrix is one operation's input or output; the parallel kernels write
/// disjoint rows or blocks of it, and no two passes share one.
public final class Matrix: @unchecked Sendable {
    public let rows: Int
    public let cols: Int
    public let data: UnsafeMutablePointer<Float>

    public convenience init(rows: Int, cols: Int) {
        self.init(overwrittenRows: rows, cols: cols)
        data.initialize(repeating: 0, count: max(1, rows * cols))
    }

    /// A matrix whose every element the caller writes before anything reads it (a kernel's output):
    /// no zero fill.
    public init(overwrittenRows rows: Int, cols: Int) {
        self.rows = rows
        self.cols = cols
        data = .allocate(capacity: max(1, rows * cols))
    }

    public convenience init(rows: Int, cols: Int, values: [Float]) {
        precondition(values.count == rows * cols)
        self.init(rows: rows, cols: cols)
        for i in 0..<values.count { data[i] = values[i] }
    }

    deinit { data.deallocate() }

    @inline(__always) public func row(_ r: Int) -> UnsafeMutablePointer<Float> { data + r * cols }
    public func rowArray(_ r: Int) -> [Float] { Array(UnsafeBufferPointer(start: row(r), count: cols)) }
    public var array: [Float] { Array(UnsafeBufferPointer(start: data, count: rows * cols)) }

    /// A new matrix of the given rows, in order.
    public func gather(_ rows: [Int]) -> Matrix {
        let m = Matrix(rows: rows.count, cols: cols)
        for (i, r) in rows.enumerated() { m.row(i).update(from: row(r), count: cols) }
        return m
    }

    /// Consecutive blocks of `counts` rows (this matrix itself when there is one block).
    public func split(_ counts: [Int]) -> [Matrix] {
        precondition(counts.reduce(0, +) == rows)
        if counts.count == 1 { return [self] }
        var start = 0
        return counts.map { n in
            defer { start += n }
            return gather(Array(start..<(start + n)))
        }
    }
}
