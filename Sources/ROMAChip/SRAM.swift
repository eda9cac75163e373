import Foundation
import ROMALlama

/// The H-Units' SRAM: one budget shared by resident LoRA adapters and KV caches (Sec. III-A:
/// 288 MB on the paper's chip). Allocations are checked before any work; over-budget requests get a
/// clear error (`MemoryBudgetError`) instead of an out-of-memory crash.
public final class SRAM: DeviceMemory, @unchecked Sendable {  // @unchecked: every field behind `lock`
    public let capacity: Int
    public var name: String { "SRAM" }
    private let lock = NSLock()
    private var allocations: [Int: (label: String, bytes: Int)] = [:]
    private var nextID = 0

    public init(capacity: Int) { self.capacity = capacity }

    public var used: Int { lock.lock(); defer { lock.unlock() }; return allocations.values.reduce(0) { $0 + $1.bytes } }

    public struct Allocation: Sendable { public let id: Int; public let bytes: Int }

    public func allocate(_ bytes: Int, label: String) throws -> Allocation {
        lock.lock(); defer { lock.unlock() }
        let used = allocations.values.reduce(0) { $0 + $1.bytes }
        guard bytes <= capacity - used else {
            throw MemoryBudgetError(memory: name, label: label, requested: bytes, free: capacity - used, capacity: capacity)
        }
        let id = nextID; nextID += 1
        allocations[id] = (label, bytes)
        return Allocation(id: id, bytes: bytes)
    }

    public func release(_ a: Allocation) {
        lock.lock(); allocations[a.id] = nil; lock.unlock()
    }

    /// An allocation released when the returned object goes (a KV cache holds one).
    public func reserve(_ bytes: Int, label: String) throws -> Reservation {
        Reservation(sram: self, allocation: try allocate(bytes, label: label))
    }

    public final class Reservation: Sendable {
        let sram: SRAM
        public let allocation: Allocation
        init(sram: SRAM, allocation: Allocation) { self.sram = sram; self.allocation = allocation }
        deinit { sram.release(allocation) }
    }

    /// Bytes for messages: "812 B", "10.5 KiB", "288.00 MiB".
    public static func format(_ bytes: Int) -> String { ByteCount.format(bytes) }

    /// (label, bytes) of every live allocation.
    public var contents: [(String, Int)] {
        lock.lock(); defer { lock.unlock() }
        return allocations.sorted { $0.key < $1.key }.map { ($0.value.label, $0.value.bytes) }
    }
}

/// The H-Unit SRAM over-budget error (the model-level `MemoryBudgetError`).
public typealias SRAMError = MemoryBudgetError

/// How many bytes of H-Unit SRAM things take on a chip, counted exactly as the chip backend allocates
/// them; `roma sram`, the adapter registry and the simulator's "chip accounting" all use these.
public enum SRAMAccounting {
    /// Bytes of one FP8 tensor's per-tensor scale (FP32).
    public static let fp8TensorScaleBytes = NumberFormat.fp32.bits / 8

    /// One LoRA layer (A [rank, in] and B [out, rank]) stored in `format`; FP8 adds A's and B's scales.
    public static func loraLayerBytes(rank: Int, inDim: Int, outDim: Int, format: NumberFormat) -> Int {
        let n = rank * (inDim + outDim)
        return format == .fp8e4m3 ? n + 2 * fp8TensorScaleBytes : (n * format.bits + 7) / 8
    }

    /// One token's K and V in every layer, in the chip's KV-cache format.
    public static func kvBytesPerToken(_ m: ModelConfig, chip: ChipConfig) -> Int {
        2 * m.numLayers * m.kvDim * chip.numerics.kvCacheFormat.bits / 8
    }
}
