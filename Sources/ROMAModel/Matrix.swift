/// A row-major FP32 matrix of activations: `rows` tokens x `cols` features.
/// A class so that the graph passes activations by reference without copy-on-write checks.
public final class Matrix: @unchecked Sendable {
    public let rows: Int
    public let cols: Int
    public let data: UnsafeMutablePointer<Float>

    public init(rows: Int, cols: Int) {
        self.rows = rows
        self.cols = cols
        data = .allocate(capacity: max(1, rows * cols))
        data.initialize(repeating: 0, count: max(1, rows * cols))
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
}
