import ArgumentParser
import Foundation
import ROMAChip
import ROMALlama
import ROMAModel
import ROMANumerics

/// `roma bench ...`: the model's own speed, or a server's under load.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "bench", abstract: "Measure speed: the model (default), a server under load, or the L-Unit kernels alone.",
                                                    subcommands: [BenchModelCommand.self, BenchServeCommand.self, BenchLUnitCommand.self],
                                                    defaultSubcommand: BenchModelCommand.self)
}

/// `roma bench [model]`: prefill and decode throughput, measured like llama-bench's pp512 / tg128.
struct BenchModelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "model", abstract: "Measure prefill and decode tokens/s.")

    @OptionGroup var modelOptions: ModelOptions
    @Option(help: "Prompt tokens for the prefill test (pp).")
    var promptTokens: Int = 512
    @Option(help: "Tokens for the decode test (tg).")
    var genTokens: Int = 128
    @Option(help: "Repetitions; the median is reported.")
    var repetitions: Int = 3
    @Option(help: "Tokens already in the KV cache before each test (llama-bench's -d): pp and tg at that depth.")
    var depth: Int = 0
    @OptionGroup var printing: OutputOptions
    @Flag(help: "Print the time spent in each operation of the graph.")
    var profile = false
    @Option(help: "Also decode this many sequences together, one forward pass per step (what roma serve batches): aggregate t/s.")
    var batch: Int?
    @Flag(help: "Also measure the read bandwidth (a streaming read of the mapped ROM image on the bench's threads) and print decode as a fraction of it (chip backend).")
    var bandwidth = false

    func validate() throws {
        if promptTokens < 1 || genTokens < 1 { throw ValidationError("--prompt-tokens and --gen-tokens must be >= 1") }
        if promptTokens > 1 << 24 || genTokens > 1 << 24 { throw ValidationError("--prompt-tokens and --gen-tokens must be at most \(1 << 24)") }
        if repetitions < 1 { throw ValidationError("--repetitions must be >= 1") }
        if depth < 0 || depth > 1 << 24 { throw ValidationError("--depth must be in 0...\(1 << 24)") }
        if bandwidth && depth > 0 {
            throw ValidationError("--bandwidth counts the ROM image's bytes per token, not the KV cache's a deep cache adds: use it at --depth 0")
        }
        if bandwidth && modelOptions.image == nil {
            throw ValidationError("--bandwidth compares decode with a read of the ROM image: it needs the chip backend (--image X.rom)")
        }
        if let batch, !(1...256).contains(batch) { throw ValidationError("--batch must be in 1...256") }
    }

    /// Aggregate decode tokens/s of `b` sequences stepping together (each its own cache and adapters,
    /// made by `session`, at the bench's depth).
    func batchedDecode(_ engine: Engine, b: Int, session: () throws -> Session, first: Int) throws -> Double {
        let sessions = try (0..<b).map { _ in try session() }
        var toks = [Int](repeating: first, count: b)
        let t0 = DispatchTime.now().uptimeNanoseconds
        for _ in 0..<genTokens {
            let out = engine.model.forward(Batch(sessions.indices.map {
                BatchSequence(tokens: [toks[$0]], cache: sessions[$0].cache, adapters: sessions[$0].lease.selection)
            }))
            for i in 0..<b { toks[i] = UnsafeBufferPointer(start: out[i].data, count: out[i].cols).withMemoryRebound(to: Float.self, Sampler.argmax) }
        }
        return Double(b * genTokens) / (Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
    }

    func run() throws {
        var engine = try modelOptions.loadEngine()
        var profiler: ProfilingBackend?
        if profile {
            profiler = ProfilingBackend(engine.backend)
            let plain = engine
            engine = try Engine(tokenizer: engine.tokenizer, backend: profiler!)
            for n in plain.adapters.names { try engine.adapters.register(plain.adapters.adapter(named: n)!) }
        }
        let n = depth + max(promptTokens, genTokens)
        guard n <= engine.config.contextLength else {
            throw ValidationError("--depth \(depth) plus the longer test (\(max(promptTokens, genTokens)) tokens) make \(n) tokens: they exceed the context length (\(engine.config.contextLength))")
        }
        // llama-bench feeds random tokens; use a fixed pseudo-random sequence.
        var rng = Xoshiro256(seed: 42)
        let prompt = (0..<promptTokens).map { _ in Int(rng.next() % UInt64(engine.config.vocabSize)) }
        let context = (0..<depth).map { _ in Int(rng.next() % UInt64(engine.config.vocabSize)) }
        let adapters = modelOptions.adapterRequests
        /// A session with `depth` tokens already in its cache (fed untimed), room for `more`.
        func session(more: Int) throws -> Session {
            let s = try engine.session(capacity: depth + more, adapters: adapters)
            s.maxTokensPerPass = max(promptTokens, 512)
            if depth > 0 { _ = try s.feed(context) }
            profiler?.reset()
            return s
        }
        func median(_ a: [Double]) -> Double { let s = a.sorted(); return s[s.count / 2] }
        var pp: [Double] = [], tg: [Double] = [], bt: [Double] = []
        // warm-up (page in weights)
        _ = try engine.session(capacity: 8, adapters: adapters).feed([prompt[0]])
        for _ in 0..<repetitions {
            let s = try session(more: promptTokens)   // its passes hold the whole prompt: one pass, as pp512
            let t0 = DispatchTime.now().uptimeNanoseconds
            _ = try s.feed(prompt)
            if let profiler { writeStderr("prefill profile (pp\(promptTokens)):\n" + profiler.report() + "\n"); profiler.reset() }
            pp.append(Double(promptTokens) / (Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9))
            // tg: one token at a time from an empty cache (or `depth` tokens), as llama-bench's tg128
            let d = try session(more: genTokens)
            var tok = prompt[0]
            let t1 = DispatchTime.now().uptimeNanoseconds
            for _ in 0..<genTokens {
                let logits = try d.feed([tok])
                tok = logits.withUnsafeBufferPointer(Sampler.argmax)
            }
            tg.append(Double(genTokens) / (Double(DispatchTime.now().uptimeNanoseconds - t1) / 1e9))
            if let profiler { writeStderr("decode profile (tg\(genTokens)):\n" + profiler.report() + "\n"); profiler.reset() }
            if let batch {
                bt.append(try batchedDecode(engine, b: batch, session: { try session(more: genTokens) }, first: prompt[0]))
                if let profiler { writeStderr("batched decode profile (\(batch) x tg\(genTokens)):\n" + profiler.report() + "\n"); profiler.reset() }
            }
        }
        let threads = modelOptions.threads ?? ProcessInfo.processInfo.activeProcessorCount
        let memory = try bandwidth ? measureBandwidth(engine, decodeTPS: median(tg)) : nil
        let kernels = chipBackend(engine) != nil ? KernelPath.selected.rawValue : "fp32"
        if printing.json {
            try printJSON(["pp_tps": median(pp), "tg_tps": median(tg), "prompt_tokens": promptTokens, "gen_tokens": genTokens, "depth": depth,
                           "threads": threads, "backend": engine.backend.name, "repetitions": repetitions,
                           "pp_runs": pp, "tg_runs": tg, "batch": batch as Any? ?? NSNull(),
                           "batch_tg_tps": bt.isEmpty ? NSNull() : median(bt) as Any,
                           "kernels": kernels, "cpu_features": KernelPath.CPUFeatures.host.names,
                           "bandwidth_gbps": memory.map { $0.gbps as Any } ?? NSNull(),
                           "decode_bytes_per_token": memory.map { $0.bytesPerToken as Any } ?? NSNull(),
                           "decode_fraction_of_bandwidth": memory.map { $0.fraction as Any } ?? NSNull()])
        } else {
            let name = engine.backend.name.padding(toLength: 10, withPad: " ", startingAt: 0)
            print("kernels \(kernels) (CPU: \(KernelPath.CPUFeatures.host.names.joined(separator: ", ")))")
            print("backend    threads  test     t/s (median of \(repetitions))")
            let at = depth > 0 ? " @ d\(depth)" : ""
            func test(_ t: String) -> String { t.count < 7 ? t.padding(toLength: 7, withPad: " ", startingAt: 0) : t }
            print(name + String(format: " %7d  ", threads) + test("pp\(promptTokens)\(at)") + String(format: "  %8.2f", median(pp)))
            print(name + String(format: " %7d  ", threads) + test("tg\(genTokens)\(at)") + String(format: "  %8.2f", median(tg)))
            if let batch {
                print(name + String(format: " %7d  ", threads) + test("\(batch)xtg\(genTokens)\(at)")
                      + String(format: "  %8.2f  (aggregate; %.2fx one sequence)", median(bt), median(bt) / median(tg)))
            }
            if let memory {
                print(String(format: "read bandwidth %.1f GB/s (streaming read of the ROM image, %d threads); decode reads %.1f MB/token: %.1f GB/s = %.0f%% of it",
                             memory.gbps, threads, Double(memory.bytesPerToken) / 1e6, memory.fraction * memory.gbps, memory.fraction * 100))
            }
        }
    }

    /// The chip backend under any decorators (`--profile`), or nil for the reference engine.
    func chipBackend(_ engine: Engine) -> ChipBackend? {
        var b: Backend = engine.backend
        while let d = b as? BackendDecorator { b = d.inner }
        return b as? ChipBackend
    }

    /// The streaming read rate of the chip's mapped ROM image and decode's share of it.
    func measureBandwidth(_ engine: Engine, decodeTPS: Double) throws -> (gbps: Double, bytesPerToken: Int, fraction: Double) {
        guard let chip = chipBackend(engine) else {
            throw ValidationError("--bandwidth compares decode with a read of the ROM image: it needs the chip backend (--image X.rom)")
        }
        let bps = MemoryBandwidth.streamingRead(chip.image.file.bytes)
        let perToken = chip.image.bytesReadPerToken
        return (bps / 1e9, perToken, decodeTPS * Double(perToken) / bps)
    }
}
