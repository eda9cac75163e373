import Foundation
import ROMALlama

/// A request's use of a registered adapter, at a scale (1 = as trained; 0 = off).
public struct AdapterRequest: Sendable, Equatable {
    public var name: String
    public var scale: Float
    public init(_ name: String, scale: Float = 1) { self.name = name; self.scale = scale }
}

/// `[NAME=]PATH[:SCALE]`, as the CLI's `--adapter` takes it.
public struct AdapterSpec: Sendable, Equatable {
    public var name: String
    public var path: String
    public var scale: Float

    public init(name: String, path: String, scale: Float = 1) { self.name = name; self.path = path; self.scale = scale }

    public init(parsing s: String) throws {
        var rest = Substring(s)
        var name: String?
        if let eq = rest.firstIndex(of: "="), !rest[..<eq].contains("/"), !rest[..<eq].isEmpty {
            name = String(rest[..<eq])
            rest = rest[rest.index(after: eq)...]
        }
        var scale: Float = 1
        if let colon = rest.lastIndex(of: ":"), let v = Float(rest[rest.index(after: colon)...]) {
            guard v.isFinite else { throw AdapterError.invalid("adapter scale in '\(s)' is not finite") }
            scale = v
            rest = rest[..<colon]
        }
        guard !rest.isEmpty else { throw AdapterError.invalid("'\(s)' names no adapter path (expected [NAME=]PATH[:SCALE])") }
        self.init(name: name ?? PEFTAdapter.defaultName(String(rest)), path: String(rest), scale: scale)
    }
}

/// The adapters a running request holds: their resident forms and scales. While a lease lives its
/// adapters cannot be evicted; it ends when the lease is released (a `Session` ends).
///
/// `@unchecked Sendable`: immutable but for the weak registry reference, which is only read in deinit.
public final class AdapterLease: @unchecked Sendable {
    public let selection: AdapterSelection
    let names: [String]
    weak var registry: AdapterRegistry?
    init(selection: AdapterSelection, names: [String], registry: AdapterRegistry?) {
        self.selection = selection; self.names = names; self.registry = registry
    }
    deinit { registry?.release(names) }
    public static let none = AdapterLease(selection: .none, names: [], registry: nil)
}

/// Many adapters registered in host memory ("flash"); those requests use are made resident on the
/// backend (the chip: FP8 in H-Unit SRAM, sharing the budget with KV caches). When SRAM runs short the
/// least recently used adapter that is neither pinned nor in use by a live request is evicted.
/// Swapping adapters never touches the base weights (the ROM image is mapped read-only).
///
/// `@unchecked Sendable`: every mutable field is behind `lock` (recursive: `pin` and `acquire` make room
/// through `makeRoom`).
public final class AdapterRegistry: @unchecked Sendable {
    public let backend: Backend
    private let lock = NSRecursiveLock()
    private var registered: [String: LoRAAdapter] = [:]
    private var registrationOrder: [String] = []
    private struct Entry { var resident: ResidentAdapter; var pinned: Bool; var lastUse: UInt64; var inUse: Int }
    private var resident: [String: Entry] = [:]
    private var clock: UInt64 = 0
    private var evicted: [String] = []
    private var loadCount = 0
    /// Names of adapters evicted so far, oldest first (reports, tests).
    public var evictions: [String] { lock.lock(); defer { lock.unlock() }; return evicted }
    /// Times an adapter was made resident (loaded into the backend's memory) so far.
    public var loads: Int { lock.lock(); defer { lock.unlock() }; return loadCount }

    public init(backend: Backend) { self.backend = backend }

    // MARK: registration

    /// Registers an adapter under its name (checked against the model's shapes).
    public func register(_ adapter: LoRAAdapter) throws {
        try adapter.validate(for: backend.config)
        lock.lock(); defer { lock.unlock() }
        guard registered[adapter.name] == nil else { throw AdapterError.conflict("an adapter named '\(adapter.name)' is already registered") }
        registered[adapter.name] = adapter
        registrationOrder.append(adapter.name)
    }

    /// Loads (PEFT directory or llama.cpp GGUF) and registers an adapter.
    @discardableResult
    public func register(path: String, name: String? = nil) throws -> LoRAAdapter {
        let a = try AdapterLoader.load(path: path, model: backend.config, name: name)
        try register(a)
        return a
    }

    /// Forgets an adapter (refused while a request uses it).
    public func unregister(_ name: String) throws {
        lock.lock(); defer { lock.unlock() }
        guard registered[name] != nil else { throw AdapterError.unknownAdapter(name, known: registrationOrder) }
        if let e = resident[name], e.inUse > 0 { throw AdapterError.conflict("adapter '\(name)' is in use by \(e.inUse) request(s)") }
        resident[name] = nil
        registered[name] = nil
        registrationOrder.removeAll { $0 == name }
    }

    public var names: [String] { lock.lock(); defer { lock.unlock() }; return registrationOrder }
    public func adapter(named n: String) -> LoRAAdapter? { lock.lock(); defer { lock.unlock() }; return registered[n] }

    // MARK: residency

    public struct Status: Sendable, Equatable {
        public var name: String, resident: Bool, pinned: Bool, inUse: Int
        /// SRAM bytes it holds when resident (0 when not).
        public var bytes: Int
        /// SRAM bytes it takes once resident (its real size: every layer at its own rank).
        public var residentBytes: Int
        public var ranks: [Int]
        public var source: String
    }

    /// Every registered adapter, in registration order.
    public var status: [Status] {
        lock.lock(); defer { lock.unlock() }
        return registrationOrder.map { n in
            let e = resident[n], a = registered[n]!
            return Status(name: n, resident: e != nil, pinned: e?.pinned ?? false, inUse: e?.inUse ?? 0,
                          bytes: e?.resident.bytes ?? 0, residentBytes: backend.residentBytes(a), ranks: a.ranks, source: a.source)
        }
    }

    /// What a request needs of the backend's memory beyond what it already holds: its adapters' bytes
    /// (resident ones count too: they stay held for it) and the bytes that no eviction can free for it
    /// (pinned adapters outside the request). Unknown adapters throw.
    public func footprint(_ requests: [AdapterRequest]) throws -> (adapterBytes: Int, unavailable: Int) {
        lock.lock(); defer { lock.unlock() }
        var bytes = 0
        for r in requests {
            guard let a = registered[r.name] else { throw AdapterError.unknownAdapter(r.name, known: registrationOrder) }
            bytes += resident[r.name]?.resident.bytes ?? backend.residentBytes(a)
        }
        let wanted = Set(requests.map(\.name))
        let pinned = resident.filter { $0.value.pinned && !wanted.contains($0.key) }.reduce(0) { $0 + $1.value.resident.bytes }
        return (bytes, pinned)
    }

    /// Makes an adapter resident and keeps it there until `unpin`.
    public func pin(_ name: String) throws {
        lock.lock(); defer { lock.unlock() }
        _ = try makeResident(name, protecting: [name])
        resident[name]!.pinned = true
    }

    public func unpin(_ name: String) {
        lock.lock(); defer { lock.unlock() }
        resident[name]?.pinned = false
    }

    /// Drops an adapter from SRAM now (refused while pinned or in use).
    public func evict(_ name: String) throws {
        lock.lock(); defer { lock.unlock() }
        guard let e = resident[name] else { return }
        guard !e.pinned else { throw AdapterError.conflict("adapter '\(name)' is pinned") }
        guard e.inUse == 0 else { throw AdapterError.conflict("adapter '\(name)' is in use by \(e.inUse) request(s)") }
        resident[name] = nil
        evicted.append(name)
    }

    /// Evicts idle, unpinned adapters (least recently used first, never those in `protecting`) until
    /// `bytes` of SRAM are free. Returns whether they are.
    @discardableResult
    public func makeRoom(_ bytes: Int, protecting: Set<String> = []) -> Bool {
        lock.lock(); defer { lock.unlock() }
        guard let sram = backend.memory else { return true }
        while sram.free < bytes {
            guard let victim = resident.filter({ !$0.value.pinned && $0.value.inUse == 0 && !protecting.contains($0.key) })
                .min(by: { $0.value.lastUse < $1.value.lastUse })?.key else { return false }
            resident[victim] = nil
            evicted.append(victim)
        }
        return true
    }

    private func makeResident(_ name: String, protecting: Set<String>) throws -> ResidentAdapter {
        guard let a = registered[name] else { throw AdapterError.unknownAdapter(name, known: registrationOrder) }
        clock += 1
        if let e = resident[name] { resident[name]!.lastUse = clock; return e.resident }
        do {
            let r = try backend.makeResident(a)
            resident[name] = Entry(resident: r, pinned: false, lastUse: clock, inUse: 0)
            loadCount += 1
            return r
        } catch let e as MemoryBudgetError {
            guard makeRoom(e.requested, protecting: protecting) else {
                let held = resident.sorted { $0.key < $1.key }.map { "\($0.key)\($0.value.pinned ? " (pinned)" : $0.value.inUse > 0 ? " (in use)" : "")" }
                let m = backend.memory!
                throw MemoryBudgetError(memory: m.name, label: "adapter '\(name)'", requested: e.requested, free: m.free, capacity: m.capacity,
                                        note: "nothing more can be evicted (resident: \(held.isEmpty ? "none" : held.joined(separator: ", ")))")
            }
            let r = try backend.makeResident(a)
            resident[name] = Entry(resident: r, pinned: false, lastUse: clock, inUse: 0)
            loadCount += 1
            return r
        }
    }

    /// Makes the requested adapters resident (evicting others as needed) and holds them for one request.
    public func acquire(_ requests: [AdapterRequest]) throws -> AdapterLease {
        if requests.isEmpty { return .none }
        lock.lock(); defer { lock.unlock() }
        var seen = Set<String>()
        for r in requests {
            guard registered[r.name] != nil else { throw AdapterError.unknownAdapter(r.name, known: registrationOrder) }
            guard r.scale.isFinite else { throw AdapterError.invalid("adapter '\(r.name)': scale \(r.scale) is not finite") }
            guard seen.insert(r.name).inserted else { throw AdapterError.invalid("adapter '\(r.name)' is requested twice") }
        }
        var entries: [(adapter: ResidentAdapter, scale: Float)] = []
        for r in requests { entries.append((try makeResident(r.name, protecting: seen), r.scale)) }
        for r in requests { resident[r.name]!.inUse += 1 }
        return AdapterLease(selection: AdapterSelection(entries), names: requests.map(\.name), registry: self)
    }

    func release(_ names: [String]) {
        lock.lock(); defer { lock.unlock() }
        for n in names where resident[n] != nil { resident[n]!.inUse -= 1 }
    }
}
