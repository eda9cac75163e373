import Foundation
import ROMANumerics

/// One layer's LoRA in a backend's storage: adds scale·B(A x) to every row of y.
public protocol LoRAProduct: AnyObject, Sendable {
    var rank: Int { get }
    /// y[t] += userScale · layerScale · B(A x[t]) for every row t in `rows`.
    func accumulate(_ x: Matrix, rows: Range<Int>, userScale: Float, into y: Matrix)
}

/// An adapter made resident on one backend (the chip: FP8 codes in H-Unit SRAM). Its storage is
/// released when the last reference goes (the registry evicts it, and no request still runs with it).
/// Immutable after init (its products are read-only), hence Sendable.
public final class ResidentAdapter: Sendable {
    public let name: String
    /// Bytes it holds in the backend's SRAM (0 on the reference backend).
    public let bytes: Int
    let owner: ObjectIdentifier
    /// [layer][kind]
    let products: [[LinearKind: LoRAProduct]]
    private let onRelease: (@Sendable () -> Void)?

    /// `onRelease` runs when the last reference goes (the chip frees the adapter's SRAM there).
    public init(name: String, bytes: Int, owner: Backend, numLayers: Int, products: [LoRATarget: LoRAProduct],
         onRelease: (@Sendable () -> Void)? = nil) {
        self.name = name; self.bytes = bytes; self.owner = ObjectIdentifier(owner); self.onRelease = onRelease
        var p = [[LinearKind: LoRAProduct]](repeating: [:], count: numLayers)
        for (t, v) in products { p[t.layer][t.kind] = v }
        self.products = p
    }
    deinit { onRelease?() }
}

/// The adapters one request runs with, each with the user's scale (empty: the base model alone).
public struct AdapterSelection: Sendable {
    public var entries: [(adapter: ResidentAdapter, scale: Float)]
    public init(_ entries: [(adapter: ResidentAdapter, scale: Float)] = []) { self.entries = entries }
    public static let none = AdapterSelection()
    public var isEmpty: Bool { entries.isEmpty }

    /// The products that target (layer, kind), with their user scales.
    public func products(layer: Int, kind: LinearKind) -> [(LoRAProduct, Float)] {
        entries.compactMap { e in e.adapter.products[layer][kind].map { ($0, e.scale) } }
    }
    /// Checks that every adapter was made resident by `backend`.
    public func check(_ backend: Backend) {
        for e in entries {
            precondition(e.adapter.owner == ObjectIdentifier(backend), "adapter '\(e.adapter.name)' is resident on another backend")
        }
    }
}

/// The reference engine's LoRA: FP32 A and B, FP32 products.
final class FP32LoRAProduct: LoRAProduct {
    let layer: LoRALayer
    let bT: [Float]
    var rank: Int { layer.rank }
    init(_ l: LoRALayer) { layer = l; bT = F32Kernels.transpose(l.b, rows: l.outDim, cols: l.rank) }

    func accumulate(_ x: Matrix, rows: Range<Int>, userScale: Float, into y: Matrix) {
        let l = layer
        let h = Matrix(rows: rows.count, cols: l.rank)
        l.a.withUnsafeBufferPointer { a in
            F32Kernels.matmul(x: x.row(rows.lowerBound), tokens: rows.count, w: a.baseAddress!, n: l.inDim, outputs: l.rank, out: h.data)
        }
        bT.withUnsafeBufferPointer { b in
            F32Kernels.expand(h: h.data, tokens: rows.count, rank: l.rank, bT: b.baseAddress!, outDim: l.outDim,
                              scale: l.scale * userScale, y: y.row(rows.lowerBound))
        }
    }
}
