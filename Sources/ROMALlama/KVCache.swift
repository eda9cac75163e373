import Foundation
import ROMANumerics

/// One sequence's attention state: K and V of every layer, [capacity, kvDim] each, held as FP32 words
/// (the chip stores values already rounded to its KV-cache format). The cache owns its position: each
/// layer's `append` writes at that layer's next position and advances it, so `count` (the tokens every
/// layer has seen) moves when the last layer has appended. A cache belongs to one sequence.
///
/// `@unchecked Sendable`: its storage is written only by the forward pass that runs its sequence, and a
/// sequence is in at most one pass at a time (the engine's session and the scheduler hand it on, never
/// share it); the lengths are read by that same pass.
public final class KVCache: @unchecked Sendable {
    public let layers: Int
    public let kvDim: Int
    public let capacity: Int
    private var lengths: [Int]
    private let keys: [UnsafeMutablePointer<Float>]
    private let values: [UnsafeMutablePointer<Float>]
    /// What the backend charged for this cache (the chip's SRAM allocation); released with the cache.
    private let reservation: AnyObject?

    public init(layers: Int, kvDim: Int, capacity: Int, reservation: AnyObject? = nil) {
        precondition(layers > 0 && kvDim > 0 && capacity >= 0)
        self.layers = layers; self.kvDim = kvDim; self.capacity = capacity; self.reservation = reservation
        lengths = [Int](repeating: 0, count: layers)
        keys = (0..<layers).map { _ in .allocate(capacity: max(1, capacity * kvDim)) }
        values = (0..<layers).map { _ in .allocate(capacity: max(1, capacity * kvDim)) }
    }
    deinit { keys.forEach { $0.deallocate() }; values.forEach { $0.deallocate() } }

    /// Tokens stored in every layer (the position of the next token).
    public var count: Int { lengths[layers - 1] }
    /// Tokens layer `layer` holds.
    public func count(layer: Int) -> Int { lengths[layer] }
    /// Room for more tokens.
    public var remaining: Int { capacity - count }

    /// Drops every token after the first `n`, in every layer.
    public func truncate(to n: Int) {
        for l in 0..<layers { lengths[l] = min(lengths[l], max(0, n)) }
    }

    /// Stores rows `rows` of k and v ([*, kvDim]) at layer `layer`'s next positions and advances it;
    /// returns the position of the first.
    @discardableResult
    public func append(layer: Int, k: Matrix, v: Matrix, rows: Range<Int>) -> Int {
        let start = lengths[layer]
        precondition(k.cols == kvDim && v.cols == kvDim && start + rows.count <= capacity, "KV cache overflow")
        (keys[layer] + start * kvDim).update(from: k.row(rows.lowerBound), count: rows.count * kvDim)
        (values[layer] + start * kvDim).update(from: v.row(rows.lowerBound), count: rows.count * kvDim)
        lengths[layer] = start + rows.count
        return start
    }

    /// Layer `layer`'s keys and values, position-major (row stride `kvDim`).
    public func keys(layer: Int) -> UnsafePointer<Float> { UnsafePointer(keys[layer]) }
    public func values(layer: Int) -> UnsafePointer<Float> { UnsafePointer(values[layer]) }
}

/// A device memory's budget is exhausted: a request that cannot fit is refused before any work.
public struct MemoryBudgetError: Error, CustomStringConvertible, Equatable {
    public var memory: String
    public var label: String
    public var requested: Int, free: Int, capacity: Int
    /// Why nothing else helps (the adapter registry: nothing more can be evicted).
    public var note: String?
    public init(memory: String, label: String, requested: Int, free: Int, capacity: Int, note: String? = nil) {
        self.memory = memory; self.label = label; self.requested = requested; self.free = free; self.capacity = capacity; self.note = note
    }
    public var description: String {
        "\(memory) over budget: \(label) needs \(ByteCount.format(requested)) but only \(ByteCount.format(free)) of \(ByteCount.format(capacity)) are free"
            + (note.map { " and " + $0 } ?? "")
    }
}

/// Bytes for messages.
public enum ByteCount {
    /// "812 B", "10.5 KiB", "288.00 MiB".
    public static func format(_ bytes: Int) -> String {
        if bytes < 10 * 1024 { return "\(bytes) B" }
        if bytes < 10 * 1_048_576 { return String(format: "%.1f KiB", Double(bytes) / 1024) }
        return String(format: "%.2f MiB", Double(bytes) / 1_048_576)
    }
}

extension MemoryBudgetError: ROMAError {
    public var code: ErrorCode { .overBudget }
}
