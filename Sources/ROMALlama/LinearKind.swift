/// The linear (matrix-vector) layers of a Llama block. On the chip these are the base-model products
/// that L-Units compute from ROM (plus LoRA products on H-Units when an adapter targets them); the
/// model graph, the adapters and the simulator's workload all name layers with this one type.
public enum LinearKind: String, CaseIterable, Codable, Sendable, Comparable {
    case q, k, v, o, gate, up, down

    /// Block order: q, k, v, o, gate, up, down.
    public static func < (a: LinearKind, b: LinearKind) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }

    /// The GGUF tensor name of this layer's weight in block `layer` (`TensorName.linear`).
    public func ggufName(layer: Int) -> String { TensorName.linear(self, layer: layer) }

    /// The middle of its GGUF name ("attn_q", ..., "ffn_down").
    var ggufStem: String {
        switch self {
        case .q: return "attn_q"
        case .k: return "attn_k"
        case .v: return "attn_v"
        case .o: return "attn_output"
        case .gate: return "ffn_gate"
        case .up: return "ffn_up"
        case .down: return "ffn_down"
        }
    }

    /// (outputs, inputs) of this layer's weight in a model.
    public func shape(in m: ModelConfig) -> (out: Int, in: Int) {
        switch self {
        case .q: return (m.qDim, m.hiddenSize)
        case .k, .v: return (m.kvDim, m.hiddenSize)
        case .o: return (m.hiddenSize, m.qDim)
        case .gate, .up: return (m.intermediateSize, m.hiddenSize)
        case .down: return (m.hiddenSize, m.intermediateSize)
        }
    }

    /// The Hugging Face module name of this layer ("q_proj", ..., "down_proj").
    public var hfModule: String { rawValue + "_proj" }

    /// The full Hugging Face module path in block `layer` ("model.layers.3.self_attn.q_proj").
    public func hfPath(layer: Int) -> String {
        let parent = [.gate, .up, .down].contains(self) ? "mlp" : "self_attn"
        return "model.layers.\(layer).\(parent).\(hfModule)"
    }

    public init?(hfModule: String) {
        guard let k = LinearKind.allCases.first(where: { $0.hfModule == hfModule }) else { return nil }
        self = k
    }
}
