import Foundation
import ROMALlama

/// Wraps a backend and accumulates wall time per operation (`roma bench --profile`).
///
/// `@unchecked Sendable`: the tallies are behind `lock`.
public final class ProfilingBackend: BackendDecorator, @unchecked Sendable {
    public let inner: Backend
    private let lock = NSLock()
    private var tally: [String: (seconds: Double, calls: Int)] = [:]

    public init(_ inner: Backend) { self.inner = inner }

    @inline(__always) private func time<T>(_ op: String, _ f: () -> T) -> T {
        let t0 = DispatchTime.now().uptimeNanoseconds
        let r = f()
        let dt = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
        lock.lock()
        tally[op, default: (0, 0)].seconds += dt
        tally[op, default: (0, 0)].calls += 1
        lock.unlock()
        return r
    }

    public var seconds: [String: Double] { lock.lock(); defer { lock.unlock() }; return tally.mapValues(\.seconds) }
    public var calls: [String: Int] { lock.lock(); defer { lock.unlock() }; return tally.mapValues(\.calls) }
    public func reset() { lock.lock(); tally = [:]; lock.unlock() }

    public func embed(_ tokens: [Int]) -> Matrix { time("embed") { inner.embed(tokens) } }
    public func rmsNorm(_ x: Matrix, _ norm: NormKind) -> Matrix { time("rmsnorm") { inner.rmsNorm(x, norm) } }
    public func linears(_ x: Matrix, _ kinds: [LinearKind], layer: Int, adapters: [AdapterSpan]) -> [Matrix] {
        time("linear." + kinds.map(\.rawValue).joined(separator: "+")) { inner.linears(x, kinds, layer: layer, adapters: adapters) }
    }
    public func rope(_ x: Matrix, heads: Int, positions: [Int]) { time("rope") { inner.rope(x, heads: heads, positions: positions) } }
    public func attention(q: Matrix, k: Matrix, v: Matrix, layer: Int, batch: Batch) -> Matrix {
        time("attention") { inner.attention(q: q, k: k, v: v, layer: layer, batch: batch) }
    }
    public func swiGLU(gate: Matrix, up: Matrix) -> Matrix { time("swiglu") { inner.swiGLU(gate: gate, up: up) } }
    public func addResidual(_ x: Matrix, _ y: Matrix) { time("residual") { inner.addResidual(x, y) } }
    public func outputLogits(_ x: Matrix) -> Matrix { time("output") { inner.outputLogits(x) } }

    /// Lines "op  seconds  share" sorted by time.
    public func report() -> String {
        let t = seconds, c = calls
        let total = t.values.reduce(0, +)
        return t.sorted { $0.value > $1.value }.map {
            "  " + $0.key.padding(toLength: 14, withPad: " ", startingAt: 0)
                + String(format: " %8.3f s  %5.1f%%  (%d calls)", $0.value, 100 * $0.value / max(total, 1e-12), c[$0.key] ?? 0)
        }.joined(separator: "\n")
    }
}
