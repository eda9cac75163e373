import Foundation
import ROMAChip

/// Wraps a backend and accumulates wall time per operation (`roma bench --profile`).
public final class ProfilingBackend: Backend, @unchecked Sendable {
    public let inner: Backend
    public private(set) var seconds: [String: Double] = [:]
    public private(set) var calls: [String: Int] = [:]

    public init(_ inner: Backend) { self.inner = inner }
    public var config: ModelConfig { inner.config }
    public var name: String { inner.name }

    @inline(__always) private func time<T>(_ op: String, _ f: () -> T) -> T {
        let t0 = DispatchTime.now().uptimeNanoseconds
        let r = f()
        seconds[op, default: 0] += Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
        calls[op, default: 0] += 1
        return r
    }

    public func reset() { seconds = [:]; calls = [:] }

    public func makeKVCache(capacity: Int) throws -> KVCache { try inner.makeKVCache(capacity: capacity) }
    public func embed(_ tokens: [Int]) -> Matrix { time("embed") { inner.embed(tokens) } }
    public func rmsNorm(_ x: Matrix, _ norm: NormKind) -> Matrix { time("rmsnorm") { inner.rmsNorm(x, norm) } }
    public func linears(_ x: Matrix, _ kinds: [LinearKind], layer: Int, adapters: AdapterSelection) -> [Matrix] {
        time("linear." + kinds.map(\.rawValue).joined(separator: "+")) { inner.linears(x, kinds, layer: layer, adapters: adapters) }
    }
    public func makeResident(_ adapter: LoRAAdapter) throws -> ResidentAdapter { try inner.makeResident(adapter) }
    public var sram: SRAM? { inner.sram }
    public func rope(_ x: Matrix, heads: Int, startPosition: Int) { time("rope") { inner.rope(x, heads: heads, startPosition: startPosition) } }
    public func attention(q: Matrix, k: Matrix, v: Matrix, layer: Int, cache: KVCache) -> Matrix {
        time("attention") { inner.attention(q: q, k: k, v: v, layer: layer, cache: cache) }
    }
    public func swiGLU(gate: Matrix, up: Matrix) -> Matrix { time("swiglu") { inner.swiGLU(gate: gate, up: up) } }
    public func addResidual(_ x: Matrix, _ y: Matrix) { time("residual") { inner.addResidual(x, y) } }
    public func outputLogits(_ x: Matrix) -> Matrix { time("output") { inner.outputLogits(x) } }
    public func commit(tokens: Int, cache: KVCache) { inner.commit(tokens: tokens, cache: cache) }

    /// Lines "op  seconds  share" sorted by time.
    public func report() -> String {
        let total = seconds.values.reduce(0, +)
        return seconds.sorted { $0.value > $1.value }.map {
            "  " + $0.key.padding(toLength: 14, withPad: " ", startingAt: 0)
                + String(format: " %8.3f s  %5.1f%%  (%d calls)", $0.value, 100 * $0.value / max(total, 1e-12), calls[$0.key] ?? 0)
        }.joined(separator: "\n")
    }
}
