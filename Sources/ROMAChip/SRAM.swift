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
            return String(format: "SRAM over budget: %@ needs %.2f MiB but only %.2f MiB of %.2f MiB are free",
                          l, Double(r) / 1048576, Double(f) / 1048576, Double(c) / 1048576)
        }
    }
}
