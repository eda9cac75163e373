import Foundation
import ROMANumerics
import ROMAKernelsAVX2
import ROMAKernelsAVX512

/// Throughput of the L-Unit array's compute cells on one ROM tensor, per kernel path, against the
/// peak of the instruction each path multiplies with (`roma bench lunit`). A product here is what the
/// chip backend runs: the alignment unit over the activations, then every row's groups and Eq. 1.
public enum LUnitBench {
    public struct Result: Sendable, Codable {
        public var path: String, tokens: Int, threads: Int
        /// Median seconds per product, and the multiply-accumulates it does (tokens x rows x cols).
        public var seconds: Double, macs: Int
        public var gmacsPerSecond: Double { Double(macs) / seconds / 1e9 }
    }

    /// `repetitions` products of `tokens` random FP16 activations through `tensor` on `path`.
    public static func run(image: ROMImage, tensor t: ROMImage.Tensor, tokens: Int, path: KernelPath, repetitions: Int,
                           numerics: DatapathNumerics = .paper) -> Result {
        var state: UInt64 = 7
        let x = (0..<(tokens * t.cols)).map { _ -> Float in   // values in [-2.5, 2.5], a fixed sequence
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return FP16.round(Float(Int(state >> 33) % 2001 - 1000) / 400)
        }
        let out = UnsafeMutablePointer<Float>.allocate(capacity: tokens * t.rows)
        defer { out.deallocate() }
        var times: [Double] = []
        x.withUnsafeBufferPointer { xp in
            for i in 0...repetitions {   // the first one warms the caches up and is not counted
                let t0 = DispatchTime.now().uptimeNanoseconds
                let act = LUnitArray.AlignedActivations(x: xp.baseAddress!, tokens: tokens, cols: t.cols, groupSize: t.groupSize,
                                                        numerics: numerics, path: path)
                LUnitArray.matmul(image: image, tensor: t, x: act, out: out, outStride: t.rows, roundToFP16: true)
                if i > 0 { times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9) }
            }
        }
        return Result(path: path.rawValue, tokens: tokens, threads: Parallel.threads, seconds: times.sorted()[times.count / 2],
                      macs: tokens * t.rows * t.cols)
    }

    /// One core's multiply-accumulates per second on the instruction `path` multiplies with, measured
    /// on registers (AVX-512 VNNI: vpdpwssd zmm; AVX2: vpmaddwd + vpaddd ymm); nil for portable code.
    public static func instructionPeak(_ path: KernelPath, iterations n: Int = 20_000_000) -> (instruction: String, macsPerSecond: Double)? {
        let run: () -> (macs: Int, sink: Int32)
        let name: String
        switch path {
        case .portable: return nil
        case .avx2: (run, name) = ({ LUnitAVX2Cells.peakMACs(iterations: n) }, "vpmaddwd+vpaddd ymm")
        case .avx512vnni: (run, name) = ({ LUnitAVX512Cells.peakMACs(iterations: n) }, "vpdpwssd zmm")
        }
        var best = 0.0
        for _ in 0..<3 {
            let t0 = DispatchTime.now().uptimeNanoseconds
            let r = run()
            let s = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
            if r.sink == 0x7FFF_FFFF { print("", terminator: "") }   // keeps the work observable
            best = max(best, Double(r.macs) / s)
        }
        return (name, best)
    }
}
