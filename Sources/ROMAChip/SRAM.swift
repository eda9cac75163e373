import Foundation

/// The H-Units' SRAM: one budget shared by resident LoRA adapters and KV caches (Sec. III-A:
/// 288 MB on the paper's chip). Allocations are checked before any work; over-budget requests get a
/// clear error instead of an out-of-memory crash.
public final class SRAM: @unchecked Sendable {
    public let capacity: Int
    private let lock = NSLock()
    private var allocations: [Int: (label: String, bytes: Int)] = [:]
    private var nextID = 0

    public init(capacity: Int) { self.capacity = capacity }

    public var used: Int { lock.lock(); defer { lock.unlock() }; return allocations.values.reduce(0) { $0 + $1.bytes } }
    public var free: Int { capacity - used }

    public struct Allocation: Sendable { public let id: Int; public let bytes: Int }

    public func allocate(_ bytes: Int, label: String) throws -> Allocation {
        lock.lock(); defer { lock.unlock() }
        let used = allocations.values.reduce(0) { $0 + $1.bytes }
        guard bytes <= capacity - used else {
            throw SRAMError.overBudget(label: label, requested: bytes, free: capacity - used, capacity: capacity)
        }
        let id = nextID; nextID += 1
        allocations[id] = (label, bytes)
        return Allocation(id: id, bytes: bytes)
    }

    public func release(_ a: Allocation) {
        lock.lock(); allocations[a.id] = nil; lock.unlock()
    }

    /// Bytes for messages: "812 B", "10.5 KiB", "288.00 MiB".
    public static func format(_ bytes: Int) -> String {
        if bytes < 10 * 1024 { return "\(bytes) B" }
        if bytes < 10 * 1_048_576 { return String(format: "%.1f KiB", Double(bytes) / 1024) }
        return String(format: "%.2f MiB", Double(bytes) / 1_048_576)
    }

    /// (label, bytes) of every live allocation.
    public var contents: [(String, Int)] {
        lock.lock(); defer { lock.unlock() }
        return allocations.sorted { $0.key < $1.key }.map { ($0.value.label, $0.value.bytes) }
    }
}

public enum SRAMError: Error, CustomStringConvertible, Equatable {
    case overBudget(label: String, requested: Int, free: Int, capacity: Int)
    public var description: String {
        switch self {
        case .overBudget(let l, let r, let f, let c):
            return "SRAM over budget: \(l) needs \(SRAM.format(r)) but only \(SRAM.format(f)) of \(SRAM.format(c)) are free"
        }
    }
}
