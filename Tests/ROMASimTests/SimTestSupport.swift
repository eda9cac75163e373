import ROMAChip
import ROMALlama
@testable import ROMASim

/// A tiny chip whose every operator cost can be worked out by hand: 2 arrays of 2 x 4 matrix units around
/// one row of 4 vector units (C = 4 columns, M = 4 matrix rows per column, U = 16, Rv = 2, Rh = 2).
func tinyChip() -> ChipConfig {
    var c = ChipConfig.paper
    c.name = "tiny"
    c.array = .init(columns: 4, matrixRowsPerArray: 2, matrixArrays: 2, vectorRows: 1)
    c.lUnit.weightBitsPerCycle = 64          // 16 INT4 or 32 INT2 MACs per cycle
    c.lUnit.pipelineLatencyCycles = 3
    c.hUnit = .init(fp16MACsPerCycle: 8, fp8MACsPerCycle: 16, sramReadBytesPerCycle: 16, pipelineLatencyCycles: 2,
                    prefillQueryTileTokens: 4)
    c.vectorUnit = .init(lanes: 4, opLatencyCycles: 2)
    c.router = .init(linkBytesPerCycle: 8, hopLatencyCycles: 1)
    c.memory = .init(romBytes: 1e6, loraKVSRAMBytes: 1_048_576, intermediateSRAMBytes: 65_536)
    return c
}

/// A tiny Llama: hidden 16, FFN 32, 2 layers, 4 heads / 2 KV heads of 4, vocab 64 (qDim 16, kvDim 8).
let tinyModel = ModelConfig(name: "tiny", hiddenSize: 16, intermediateSize: 32, numLayers: 2, numHeads: 4,
                            numKVHeads: 2, headDim: 4, vocabSize: 64, tiedEmbeddings: true, ropeTheta: 10000)

func tinyWorkload(rank: Int = 2, targets: [LoRAModule] = [.q, .k, .v, .o]) -> SimWorkload {
    SimWorkload(model: tinyModel, weightBits: 4, loraRank: rank, loraTargets: targets)
}
