import XCTest
import Foundation
import ROMAFormats
import ROMAChip
import ROMAModel
import ROMANumerics
import ROMATestSupport

/// Runs the built `roma` executable.
enum RomaCLI {
    struct Result { let code: Int32; let out: String; let err: String }

    static var romaPath: String {
        let dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        var candidates = [dir.appendingPathComponent("roma").path]
        if let b = Bundle.allBundles.first(where: { $0.bundlePath.hasSuffix(".xctest") }) {
            candidates.append(URL(fileURLWithPath: b.bundlePath).deletingLastPathComponent().appendingPathComponent("roma").path)
        }
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) } ?? candidates[0]
    }

    static func run(_ args: [String], stdin: String? = nil, environment: [String: String] = [:]) throws -> Result {
        let path = romaPath
        guard FileManager.default.isExecutableFile(atPath: path) else {
            XCTFail("roma executable not found at \(path): run `swift build` before `swift test`")
            return Result(code: -1, out: "", err: "")
        }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = args
        if !environment.isEmpty { p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
        let o = Pipe(), e = Pipe(), i = Pipe()
        p.standardOutput = o; p.standardError = e; p.standardInput = i
        try p.run()
        if let stdin { i.fileHandleForWriting.write(Data(stdin.utf8)) }
        try i.fileHandleForWriting.close()
        let od = o.fileHandleForReading.readDataToEndOfFile(), ed = e.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return Result(code: p.terminationStatus, out: String(decoding: od, as: UTF8.self), err: String(decoding: ed, as: UTF8.self))
    }
}

/// Exit codes, messages and JSON shapes of the model commands.
final class CLITests: XCTestCase {
    func roma(_ args: [String], stdin: String? = nil) throws -> RomaCLI.Result { try RomaCLI.run(args, stdin: stdin) }

    lazy var tinyPath: String = try! TinyModel(seed: 21).write()

    func testGenerateJSON() throws {
        let r = try roma(["generate", "--model", tinyPath, "--prompt", "the cat", "--max-tokens", "5", "--format", "json"])
        XCTAssertEqual(r.code, 0, r.err)
        let obj = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any])
        XCTAssertNotNil(obj["text"] as? String)
        XCTAssertLessThanOrEqual((obj["ids"] as? [Int])?.count ?? 99, 5)
        XCTAssertEqual(obj["prompt_ids"] as? [Int], try tokenizeIDs("the cat"))
        XCTAssertNotNil(obj["timings"] as? [String: Any])
    }

    /// Help, usage errors, library errors (one line) and the chip config options behave the same in
    /// every command.
    func testHelpUsageAndErrorLines() throws {
        let help = try roma(["--help"])
        XCTAssertEqual(help.code, 0)
        XCTAssertTrue(help.out.contains("OVERVIEW: ROMA"), help.out + help.err)
        let tuneHelp = try roma(["tune", "--help"])
        XCTAssertEqual(tuneHelp.code, 0)
        XCTAssertTrue(tuneHelp.out.contains("Passes over the calibration chunks. (default: 3)"), tuneHelp.out)
        let bogus = try roma(["generate", "--bogus"])
        XCTAssertNotEqual(bogus.code, 0)
        XCTAssertTrue(bogus.err.contains("Usage: roma generate"), bogus.err)
        let missing = try roma(["chat", "--image", "/nonexistent/x.rom", "hi"])
        XCTAssertEqual(missing.code, 1)
        XCTAssertEqual(missing.err, "error: ROM image '/nonexistent/x.rom' not found\n")
        // one chip config, one message, whichever command reads it
        var json = try JSONSerialization.jsonObject(with: Data(try roma(["chip", "show", "--format", "json"]).out.utf8)) as! [String: Any]
        var numerics = json["numerics"] as! [String: Any]
        numerics["kvCacheFormat"] = "int8"
        json["numerics"] = numerics
        let cfg = TempFiles.path("int8-kv-\(UUID().uuidString).json")
        try JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: cfg))
        let message = "error: chip config: numerics.kvCacheFormat int8 is not implemented by the functional model (supported: fp16, bf16, fp8e4m3, fp32)\n"
        for args in [["sram", "--config", cfg], ["sim", "run", "--config", cfg], ["chip", "show", "--config", cfg]] {
            let r = try roma(args)
            XCTAssertEqual(r.code, 1, args.joined(separator: " "))
            XCTAssertEqual(r.err, message, args.joined(separator: " "))
        }
    }

    func tokenizeIDs(_ text: String) throws -> [Int] {
        let r = try roma(["tokenize", "--model", tinyPath, "--text", text, "--format", "json"])
        XCTAssertEqual(r.code, 0, r.err)
        let obj = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any])
        return obj["ids"] as? [Int] ?? []
    }

    func testTokenizeParsesSpecialTokens() throws {
        // "<|im_start|>" is id 1; " the" merges to one token via Ġt + he -> Ġthe
        let ids = try tokenizeIDs("<|im_start|> the")
        XCTAssertEqual(ids.first, 1)
        XCTAssertEqual(ids.count, 2)
        let text = try roma(["tokenize", "--model", tinyPath, "--text", "ab"])
        XCTAssertEqual(text.out, "100 101\n")  // vocabulary: 3 specials, then the 256 byte symbols in byte order
    }

    func testChatSingleTurnAndInteractive() throws {
        let r = try roma(["chat", "--model", tinyPath, "--max-tokens", "3", "--format", "json", "hi"])
        XCTAssertEqual(r.code, 0, r.err)
        XCTAssertNotNil(try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any])
        let i = try roma(["chat", "--model", tinyPath, "--max-tokens", "2", "--format", "json"], stdin: "hello\nagain\n")
        XCTAssertEqual(i.code, 0, i.err)
        XCTAssertEqual(i.out.split(separator: "\n").count, 2, "one JSON answer per input line")
        // chat samples by default (the model card's temperature and top-p, a fresh seed each run); --temperature 0 is greedy
        let sampled = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any])["sampler"] as? [String: Any]
        XCTAssertEqual(sampled?["temperature"] as? Double ?? 0, 0.2, accuracy: 1e-6)
        XCTAssertEqual(sampled?["top_p"] as? Double ?? 0, 0.9, accuracy: 1e-6)
        let seeds = try (0..<3).map { _ in
            try XCTUnwrap(JSONSerialization.jsonObject(with: Data(try roma(["chat", "--model", tinyPath, "--max-tokens", "1", "--format", "json", "hi"]).out.utf8)) as? [String: Any])["sampler"] as? [String: Any]
        }.compactMap { $0?["seed"] as? UInt64 }
        XCTAssertEqual(seeds.count, 3)
        XCTAssertGreaterThan(Set(seeds).count, 1, "a fresh seed per chat")
        let greedy = try roma(["chat", "--model", tinyPath, "--max-tokens", "6", "--temperature", "0", "--format", "json", "hi"])
        let greedyAgain = try roma(["chat", "--model", tinyPath, "--max-tokens", "6", "--temperature", "0", "--seed", "99", "--format", "json", "hi"])
        let ids = { (s: String) in (try JSONSerialization.jsonObject(with: Data(s.utf8)) as? [String: Any])?["ids"] as? [Int] }
        XCTAssertEqual(try ids(greedy.out), try ids(greedyAgain.out), "greedy ignores the seed")
        let gen = try roma(["generate", "--model", tinyPath, "--prompt", "hi", "--max-tokens", "6", "--format", "json"])
        XCTAssertEqual(try ids(gen.out)?.count, 6)
    }

    func testEvalPerplexityJSON() throws {
        let text = TempFiles.path("ppl.txt")
        try String(repeating: "the quick brown fox jumps over the lazy dog. ", count: 20).write(toFile: text, atomically: true, encoding: .utf8)
        let r = try roma(["eval", "ppl", "--model", tinyPath, "--text-file", text, "--ctx", "32", "--format", "json"])
        XCTAssertEqual(r.code, 0, r.err)
        let obj = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any])
        XCTAssertGreaterThan(obj["ppl"] as? Double ?? 0, 1)
        XCTAssertEqual(obj["tokens_scored"] as? Int, (obj["chunks"] as? Int ?? 0) * 15)
        XCTAssertTrue(r.err.contains("perplexity ["), "progress bar on stderr")
    }

    /// --parse-special scores chat transcripts with their template tokens as single tokens.
    func testEvalPerplexityParseSpecial() throws {
        let text = TempFiles.path("chat.txt")
        try String(repeating: "<|im_start|>user\nthe dog<|im_end|>\n<|im_start|>assistant\nthe fox<|im_end|>\n", count: 12)
            .write(toFile: text, atomically: true, encoding: .utf8)
        func chunks(_ extra: [String]) throws -> Int {
            let r = try roma(["eval", "ppl", "--model", tinyPath, "--text-file", text, "--ctx", "32", "--format", "json"] + extra)
            XCTAssertEqual(r.code, 0, r.err)
            let obj = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any])
            return obj["chunks"] as? Int ?? -1
        }
        // the 48 template markers are 48 tokens instead of 10-12 byte tokens each (about 32 vs 72 tokens per turn pair)
        let special = try chunks(["--parse-special"]), plain = try chunks([])
        XCTAssertGreaterThan(special, 0)
        XCTAssertLessThan(special * 3, plain * 2)
    }

    func testBenchJSON() throws {
        let r = try roma(["bench", "--model", tinyPath, "--prompt-tokens", "16", "--gen-tokens", "4", "--repetitions", "1", "--format", "json"])
        XCTAssertEqual(r.code, 0, r.err)
        let obj = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any])
        XCTAssertGreaterThan(obj["pp_tps"] as? Double ?? 0, 0)
        XCTAssertGreaterThan(obj["tg_tps"] as? Double ?? 0, 0)
        XCTAssertEqual(obj["depth"] as? Int, 0)
        // at a depth: the tests run after that many tokens in the cache
        let d = try roma(["bench", "--model", tinyPath, "--prompt-tokens", "16", "--gen-tokens", "4", "--repetitions", "1", "--depth", "24"])
        XCTAssertEqual(d.code, 0, d.err)
        XCTAssertTrue(d.out.contains("pp16 @ d24") && d.out.contains("tg4 @ d24"), d.out)
        let negative = try roma(["bench", "--model", tinyPath, "--depth=-1"])
        XCTAssertEqual(negative.code, 64)
        XCTAssertTrue(negative.err.contains("--depth must be in 0..."), negative.err)
        let deep = try roma(["bench", "--model", tinyPath, "--prompt-tokens", "16", "--gen-tokens", "4", "--depth", "100000"])
        XCTAssertNotEqual(deep.code, 0)
        XCTAssertTrue(deep.err.contains("--depth 100000 plus the longer test (16 tokens)") && deep.err.contains("exceed the context length"), deep.err)
        let batched = try roma(["bench", "--model", tinyPath, "--prompt-tokens", "4", "--gen-tokens", "4", "--repetitions", "1", "--depth", "8", "--batch", "2"])
        XCTAssertEqual(batched.code, 0, batched.err)
        XCTAssertTrue(batched.out.contains("2xtg4 @ d8"), batched.out)
        let bandwidth = try roma(["bench", "--model", tinyPath, "--depth", "8", "--bandwidth"])
        XCTAssertEqual(bandwidth.code, 64)
        XCTAssertTrue(bandwidth.err.contains("use it at --depth 0"), bandwidth.err)
    }

    func testInspectPrintsTensorTable() throws {
        let r = try roma(["inspect", tinyPath])
        XCTAssertEqual(r.code, 0, r.err)
        XCTAssertTrue(r.out.contains("blk.1.ffn_down.weight"))
        XCTAssertTrue(r.out.contains("llama.block_count [u32] = 2"))
    }

    // MARK: compile with calibration (GPTQ)

    func testCompileWithCalibrationText() throws {
        let text = TempFiles.path("calib-\(UUID().uuidString).txt")
        try String(repeating: "the weather in the north is warm and the rain is on the sea. ", count: 20)
            .write(toFile: text, atomically: true, encoding: .utf8)
        let out = TempFiles.path("cal-\(UUID().uuidString).rom")
        let r = try roma(["compile", "--model", tinyPath, "--bits", "4", "--output", out, "--calibration-text", text,
                          "--calibration-tokens", "200", "--format", "json"])
        XCTAssertEqual(r.code, 0, r.err)
        let j = try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as! [String: Any]
        XCTAssertEqual(j["method"] as? String, "gptq-act-order")
        XCTAssertTrue(r.err.contains("calibrate ["), r.err)
        let natural = try roma(["compile", "--model", tinyPath, "--bits", "4", "--output", out + "n", "--calibration-text", text,
                                "--calibration-tokens", "200", "--no-act-order", "--format", "json"])
        XCTAssertEqual(natural.code, 0, natural.err)
        let jn = try JSONSerialization.jsonObject(with: Data(natural.out.utf8)) as! [String: Any]
        XCTAssertEqual(jn["method"] as? String, "gptq-clip-search")

        let missing = try roma(["compile", "--model", tinyPath, "--bits", "4", "--output", out + "2", "--calibration-text", "/nonexistent.txt"])
        XCTAssertEqual(missing.code, 1)
        XCTAssertEqual(missing.err, "error: cannot read calibration text file '/nonexistent.txt'\n")
        let few = try roma(["compile", "--model", tinyPath, "--bits", "4", "--output", out + "3", "--calibration-text", text,
                            "--calibration-tokens", "100000"])
        XCTAssertEqual(few.code, 1)
        XCTAssertTrue(few.err.hasPrefix("error: calibration text '\(text)' has "), few.err)
        XCTAssertTrue(few.err.hasSuffix(" tokens; --calibration-tokens 100000 needs at least that many\n"), few.err)
        let tiny = try roma(["compile", "--model", tinyPath, "--bits", "4", "--output", out + "4", "--calibration-text", text,
                             "--calibration-tokens", "8"])
        XCTAssertNotEqual(tiny.code, 0)
        XCTAssertTrue(tiny.err.contains("--calibration-tokens must be at least 16, got 8"), tiny.err)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out + "2") || FileManager.default.fileExists(atPath: out + "3"))
    }

    func testTuneWritesANewImageAndRefusesBadInput() throws {
        let text = TempFiles.path("tune-\(UUID().uuidString).txt")
        try String(repeating: "the weather in the north is warm and the rain is on the sea. ", count: 20)
            .write(toFile: text, atomically: true, encoding: .utf8)
        let parent = TempFiles.path("tune-\(UUID().uuidString).rom")
        XCTAssertEqual(try roma(["compile", "--model", tinyPath, "--bits", "4", "--group", "16", "--output", parent, "--fast"]).code, 0)
        let before = try Data(contentsOf: URL(fileURLWithPath: parent))
        let out = parent + ".tuned"
        let args = ["tune", "--model", tinyPath, "--image", parent, "--calibration-text", text, "--calibration-tokens", "64", "--ctx", "32"]
        let r = try roma(args + ["--epochs", "3", "--learning-rate", "0.01", "--output", out, "--format", "json"])
        XCTAssertEqual(r.code, 0, r.err)
        let j = try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as! [String: Any]
        XCTAssertEqual(j["steps"] as? Int, 6)
        let kl = j["kl_per_epoch"] as! [Double]
        XCTAssertEqual(kl.count, 3)
        XCTAssertLessThan(kl[2], kl[0])
        XCTAssertTrue(r.err.contains("tune ["), r.err)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: parent)), before, "the parent image is only read")
        let inspect = try roma(["inspect", out])
        XCTAssertEqual(inspect.code, 0, inspect.err)
        XCTAssertTrue(inspect.out.contains("tuned kl-distillation-scales-norms from \((j["parent_sha256"] as! String).prefix(16))"), inspect.out)
        let gen = try roma(["generate", "--image", out, "--prompt", "the", "--max-tokens", "4"])
        XCTAssertEqual(gen.code, 0, gen.err)

        let same = try roma(args + ["--output", parent])
        XCTAssertEqual(same.code, 1)
        XCTAssertTrue(same.err.contains("must be a new file"), same.err)
        let model = try roma(args + ["--output", tinyPath])
        XCTAssertEqual(model.code, 1)
        XCTAssertEqual(model.err, "error: --output '\(tinyPath)' is the model; the tuned image must be a new file\n")
        let other = try TinyModel(seed: 22).write()
        let wrong = try roma(["tune", "--model", other, "--image", parent, "--calibration-text", text, "--calibration-tokens", "64", "--ctx", "32", "--output", out + "2"])
        XCTAssertEqual(wrong.code, 1)
        XCTAssertTrue(wrong.err.contains("tune against the image's own source model"), wrong.err)
        let lr = try roma(args + ["--learning-rate", "2", "--output", out + "3"])
        XCTAssertEqual(lr.code, 64)
        XCTAssertTrue(lr.err.contains("--learning-rate must be in (0, 1), got 2.0"), lr.err)
        let few = try roma(args + ["--calibration-tokens", "16", "--output", out + "4"])
        XCTAssertEqual(few.code, 64)
        XCTAssertTrue(few.err.contains("--calibration-tokens (16) must be at least --ctx (32)"), few.err)
        let corrupt = TempFiles.path("corrupt-\(UUID().uuidString).rom")
        var bytes = before
        bytes[bytes.count - 1] ^= 0xFF
        try bytes.write(to: URL(fileURLWithPath: corrupt))
        let bad = try roma(["tune", "--model", tinyPath, "--image", corrupt, "--calibration-text", text, "--calibration-tokens", "64", "--ctx", "32", "--output", out + "5"])
        XCTAssertEqual(bad.code, 1)
        XCTAssertTrue(bad.err.contains("checksum mismatch"), bad.err)
        for suffix in ["2", "3", "4", "5"] { XCTAssertFalse(FileManager.default.fileExists(atPath: out + suffix)) }
    }

    // MARK: errors

    func testMissingModel() throws {
        let r = try roma(["generate", "--model", "/nonexistent.gguf", "--prompt", "x"])
        XCTAssertEqual(r.code, 1)
        XCTAssertEqual(r.err, "error: model file '/nonexistent.gguf' not found (run scripts/fetch-model.sh, or pass --model)\n")
    }

    func testMalformedModelFiles() throws {
        let bad = TempFiles.path("bad.gguf")
        try Data("NOPE-not-a-model-at-all".utf8).write(to: URL(fileURLWithPath: bad))
        let r = try roma(["generate", "--model", bad, "--prompt", "x"])
        XCTAssertEqual(r.code, 1)
        XCTAssertEqual(r.err, "error: not a GGUF file: bad magic 'NOPE' (expected 'GGUF')\n")

        let tiny = TinyModel(seed: 2)
        let noLayerCount = try tiny.write(omit: ["llama.block_count"])
        XCTAssertEqual(try roma(["generate", "--model", noLayerCount, "--prompt", "x"]).err,
                       "error: missing required metadata key 'llama.block_count'\n")
        let missingTensor = try tiny.write(omit: ["blk.1.ffn_up.weight"])
        XCTAssertEqual(try roma(["generate", "--model", missingTensor, "--prompt", "x"]).err,
                       "error: missing required tensor 'blk.1.ffn_up.weight'\n")
        let wrongShape = try tiny.write(metadataOverrides: ["llama.feed_forward_length": .uint32(128)])
        XCTAssertEqual(try roma(["generate", "--model", wrongShape, "--prompt", "x"]).err,
                       "error: tensor 'blk.0.ffn_gate.weight' has shape [64, 96], expected [64, 128]\n")
        let otherArch = try tiny.write(metadataOverrides: ["general.architecture": .string("mamba")])
        XCTAssertEqual(try roma(["generate", "--model", otherArch, "--prompt", "x"]).err,
                       "error: unsupported architecture 'mamba' (supported: llama)\n")
        let otherTok = try tiny.write(metadataOverrides: ["tokenizer.ggml.model": .string("llama")])
        XCTAssertEqual(try roma(["tokenize", "--model", otherTok, "--text", "x"]).err,
                       "error: tokenizer: tokenizer.ggml.model 'llama' is not supported (only byte-level BPE 'gpt2')\n")
        let truncated = TempFiles.path("trunc.gguf")
        let full = try Data(contentsOf: URL(fileURLWithPath: tinyPath))
        try full.prefix(full.count - 100).write(to: URL(fileURLWithPath: truncated))
        let t = try roma(["inspect", truncated])
        XCTAssertEqual(t.code, 1)
        XCTAssertTrue(t.err.hasPrefix("error: file is truncated: data of tensor"), t.err)
    }

    func testBadFlags() throws {
        let missing = try roma(["generate", "--model", tinyPath])
        XCTAssertEqual(missing.code, 64)
        XCTAssertTrue(missing.err.contains("Missing expected argument '--prompt <prompt>'"), missing.err)
        let temp = try roma(["generate", "--model", tinyPath, "--prompt", "x", "--temperature=-1"])
        XCTAssertEqual(temp.code, 64)
        XCTAssertTrue(temp.err.contains("temperature must be >= 0"), temp.err)
        let notNumber = try roma(["generate", "--prompt", "x", "--max-tokens", "many"])
        XCTAssertEqual(notNumber.code, 64)
        XCTAssertTrue(notNumber.err.contains("The value 'many' is invalid for '--max-tokens <max-tokens>'"), notNumber.err)
        let threads = try roma(["bench", "--threads", "0"])
        XCTAssertEqual(threads.code, 64)
        XCTAssertTrue(threads.err.contains("--threads must be between 1 and 256"), threads.err)
        let both = try roma(["tokenize", "--text", "a", "--text-file", "b"])
        XCTAssertTrue(both.err.contains("give exactly one of --text or --text-file"), both.err)
        let ctx = try roma(["eval", "ppl", "--text-file", "x", "--ctx", "4"])
        XCTAssertTrue(ctx.err.contains("--ctx must be at least 16"), ctx.err)
        let backend = try roma(["generate", "--prompt", "x", "--backend", "gpu"])
        XCTAssertEqual(backend.code, 64)
        XCTAssertTrue(backend.err.contains("The value 'gpu' is invalid for '--backend <backend>'"), backend.err)
        let unknown = try roma(["frobnicate"])
        XCTAssertEqual(unknown.code, 64)
    }

    /// `roma compile` without a calibration flag calibrates on the shipped text (GPTQ act-order); --fast is
    /// the clip search; --tune tunes the codes, scales and gains in the same command and leaves no
    /// intermediate file; contradictory flags are refused.
    func testCompileDefaultsToTheShippedCalibrationAndTunesOnRequest() throws {
        let out = TempFiles.path("default-\(UUID().uuidString).rom")
        let d = try roma(["compile", "--model", tinyPath, "--calibration-tokens", "1024", "--output", out, "--format", "json"])
        XCTAssertEqual(d.code, 0, d.err)
        let j = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(d.out.utf8)) as? [String: Any])
        XCTAssertEqual(j["method"] as? String, "gptq-act-order")
        XCTAssertEqual(j["bits"] as? Int, 4)
        XCTAssertEqual((j["calibration"] as? [String])?.map { ($0 as NSString).lastPathComponent }, CalibrationLocator.defaultFiles)
        let fast = try roma(["compile", "--model", tinyPath, "--fast", "--output", out + "f", "--format", "json"])
        XCTAssertEqual(fast.code, 0, fast.err)
        XCTAssertEqual((try JSONSerialization.jsonObject(with: Data(fast.out.utf8)) as? [String: Any])?["method"] as? String, "clip-search-mse")
        let tuned = try roma(["compile", "--model", tinyPath, "--calibration-tokens", "1024", "--tune", "--output", out + "t", "--format", "json"])
        XCTAssertEqual(tuned.code, 0, tuned.err)
        let tj = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(tuned.out.utf8)) as? [String: Any])
        let image = try ROMImage(path: out + "t")
        XCTAssertEqual(image.header.tuning?.method, "kl-distillation-scales-norms")
        XCTAssertEqual(tj["sha256"] as? String, image.checksumHex)
        XCTAssertEqual(image.header.tuning?.parentSHA256, j["sha256"] as? String, "tuned from the same default compile")
        XCTAssertEqual((tj["tuning"] as? [String: Any])?["changed_codes"] as? Int, 0)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out + "t.untuned"), "the untuned intermediate is removed")
        for (args, message) in [(["--fast", "--tune"], "--fast and --tune do not go together"),
                                (["--fast", "--calibration-text", "x.txt"], "--fast compiles without calibration")] {
            let r = try roma(["compile", "--model", tinyPath, "--output", out + "x"] + args)
            XCTAssertEqual(r.code, 64, args.joined(separator: " "))
            XCTAssertTrue(r.err.contains(message), r.err)
        }
    }

    func testContextOverflowIsRefused() throws {
        let r = try roma(["generate", "--model", tinyPath, "--prompt", "x", "--max-tokens", "500"])
        XCTAssertEqual(r.code, 1)
        XCTAssertEqual(r.err, "roma: reference backend (FP32, the float path) on model \(tinyPath)\n"
                       + "error: prompt plus generated tokens (501) exceed the context length (128)\n", "the first line names the backend and model")
    }
}

/// The chip commands: compile, run on the image, inspect it, golden L-Unit.
final class ChipCLITests: XCTestCase {
    lazy var tinyPath: String = try! TinyModel(seed: 23).write()

    /// Which kernel path ran is in the bench output; ROMA_KERNELS lowers it or is refused in one line;
    /// `bench lunit` measures every path the CPU runs; `--bandwidth` relates decode to the image's reads.
    func testKernelPathsBandwidthAndLUnitBench() throws {
        let rom = TempFiles.path("cli-kernels-\(UUID().uuidString).rom")
        XCTAssertEqual(try RomaCLI.run(["compile", "--model", tinyPath, "--bits", "4", "--output", rom, "--fast"]).code, 0)
        let small = ["--prompt-tokens", "16", "--gen-tokens", "4", "--repetitions", "1", "--format", "json"]
        let b = try RomaCLI.run(["bench", "--image", rom, "--bandwidth"] + small)
        XCTAssertEqual(b.code, 0, b.err)
        let obj = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(b.out.utf8)) as? [String: Any])
        XCTAssertEqual(obj["kernels"] as? String, KernelPath.selected.rawValue)
        XCTAssertEqual(obj["decode_bytes_per_token"] as? Int, try ROMImage(path: rom).bytesReadPerToken)
        XCTAssertGreaterThan(obj["bandwidth_gbps"] as? Double ?? 0, 0)
        let fraction = try XCTUnwrap(obj["decode_fraction_of_bandwidth"] as? Double)
        XCTAssertEqual(fraction, (obj["tg_tps"] as! Double) * Double(obj["decode_bytes_per_token"] as! Int) / ((obj["bandwidth_gbps"] as! Double) * 1e9),
                       accuracy: 1e-9)
        XCTAssertTrue(b.err.contains("\(KernelPath.selected) kernels"), b.err)
        let forced = try RomaCLI.run(["bench", "--image", rom] + small, environment: ["ROMA_KERNELS": "portable"])
        XCTAssertEqual((try JSONSerialization.jsonObject(with: Data(forced.out.utf8)) as? [String: Any])?["kernels"] as? String, "portable")
        let bad = try RomaCLI.run(["chip", "show"], environment: ["ROMA_KERNELS": "sse2"])
        XCTAssertEqual(bad.code, 1)
        XCTAssertEqual(bad.err, "error: ROMA_KERNELS=sse2 is not a kernel path (one of: portable, avx2, avx512vnni)\n")
        let noImage = try RomaCLI.run(["bench", "--model", tinyPath, "--bandwidth"] + small)
        XCTAssertNotEqual(noImage.code, 0)
        XCTAssertTrue(noImage.err.contains("--bandwidth compares decode with a read of the ROM image"), noImage.err)
        let l = try RomaCLI.run(["bench", "lunit", "--image", rom, "--tensor", "blk.0.ffn_down.weight", "--tokens", "16", "--repetitions", "1",
                                 "--peak-iterations", "1000", "--format", "json"])
        XCTAssertEqual(l.code, 0, l.err)
        let lunit = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(l.out.utf8)) as? [String: Any])
        let paths = try XCTUnwrap(lunit["paths"] as? [[String: Any]])
        XCTAssertEqual(paths.map { $0["path"] as? String }, KernelPath.supported.map(\.rawValue))
        XCTAssertEqual(lunit["tokens"] as? Int, 16)
        for p in paths where p["path"] as? String != "portable" { XCTAssertGreaterThan(p["peak_gmacs_per_core"] as? Double ?? 0, 0) }
        let norm = try RomaCLI.run(["bench", "lunit", "--image", rom, "--tensor", "output_norm.weight"])
        XCTAssertEqual(norm.err, "error: 'output_norm.weight' is a norm, not a matrix the L-Units multiply with\n")
        let typo = try RomaCLI.run(["bench", "lunit", "--image", rom, "--tensor", "blk.0.attn_o.weight"])
        XCTAssertNotEqual(typo.code, 0)
        XCTAssertTrue(typo.err.hasPrefix("error: --tensor: the image has no quantized tensor 'blk.0.attn_o.weight' (its matrices: token_embd.weight, blk.0.attn_q.weight"), typo.err)
        XCTAssertEqual(typo.err.filter { $0 == "\n" }.count, 1, "one line: \(typo.err)")
    }

    func testCompileInspectAndGenerateOnTheChip() throws {
        let rom = TempFiles.path("cli-\(UUID().uuidString).rom")
        let c = try RomaCLI.run(["compile", "--model", tinyPath, "--bits", "4", "--output", rom, "--format", "json", "--fast"])
        XCTAssertEqual(c.code, 0, c.err)
        let obj = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(c.out.utf8)) as? [String: Any])
        XCTAssertEqual(obj["group"] as? Int, 32)
        XCTAssertEqual((obj["sha256"] as? String)?.count, 64)
        XCTAssertTrue(c.err.contains("compile ["), "progress bar on stderr")
        let i = try RomaCLI.run(["inspect", rom])
        XCTAssertEqual(i.code, 0, i.err)
        XCTAssertTrue(i.out.contains("sha256 \(obj["sha256"] as! String) (verified)"), i.out)
        XCTAssertTrue(i.out.contains("blk.1.ffn_down.weight"))
        let g = try RomaCLI.run(["generate", "--image", rom, "--prompt", "the cat", "--max-tokens", "4", "--format", "json"])
        XCTAssertEqual(g.code, 0, g.err)
        let gen = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(g.out.utf8)) as? [String: Any])
        XCTAssertEqual(gen["backend"] as? String, "chip")
        let b = try RomaCLI.run(["bench", "--image", rom, "--backend", "chip", "--prompt-tokens", "8", "--gen-tokens", "2", "--repetitions", "1", "--format", "json"])
        XCTAssertEqual(b.code, 0, b.err)
        XCTAssertEqual(try RomaCLI.run(["generate", "--prompt", "x", "--backend", "chip"]).code, 64)
        let wrong = try RomaCLI.run(["compile", "--model", tinyPath, "--bits", "3", "--output", rom])
        XCTAssertTrue(wrong.err.contains("--bits must be 2 or 4, got 3"), wrong.err)
        let group = try RomaCLI.run(["compile", "--model", tinyPath, "--bits", "4", "--group", "64", "--output", rom + "x", "--fast"])
        XCTAssertEqual(group.err, "error: group size 64 does not divide the row length 96 of 'blk.0.ffn_down.weight'\n")
        let fit = try RomaCLI.run(["inspect", "--model-config", "llama3.2-3b", "--bits", "4", "--format", "json"])
        XCTAssertEqual((try JSONSerialization.jsonObject(with: Data(fit.out.utf8)) as? [String: Any])?["fits"] as? Bool, true)
    }

    func testGoldenLUnit() throws {
        let stim = TempFiles.path("stim.jsonl")
        // 2.0, -0.75, 2^-7, denormal, 0 with codes [3,1,2,5,7], z 2, s 0.5 (hand-worked in LUnitTests)
        let line = #"{"a": [16384, 47616, 8192, 3, 0], "w": [3, 1, 2, 5, 7], "z": 2, "s": 14336, "bits": 4}"#
        try (line + "\n" + line + "\n").write(toFile: stim, atomically: true, encoding: .utf8)
        let r = try RomaCLI.run(["golden", "lunit", "--input", stim])
        XCTAssertEqual(r.code, 0, r.err)
        XCTAssertEqual(r.out, String(repeating: #"{"max_exp":16,"vsum":644,"dot":2696,"res":1.375}"# + "\n", count: 2))
        let bad = TempFiles.path("bad.jsonl")
        try #"{"a": [1, 2], "w": [16, 0], "z": 0, "s": 15360, "bits": 4}"#.write(toFile: bad, atomically: true, encoding: .utf8)
        let e = try RomaCLI.run(["golden", "lunit", "--input", bad])
        XCTAssertEqual(e.code, 1)
        XCTAssertEqual(e.err, "error: golden: line 1: 'w' codes must be in 0..<16 for 4-bit weights\n")
        try "not json\n".write(toFile: bad, atomically: true, encoding: .utf8)
        XCTAssertEqual(try RomaCLI.run(["golden", "lunit", "--input", bad]).err, "error: golden: line 1: not a JSON object\n")
    }
}

/// The area model consumes the RTL generator's measured B-ROM/ROM ratio.
final class SimRTLCLITests: XCTestCase {
    func testSimAreaTakesTheRTLReport() throws {
        guard ["/usr/bin/yosys", "/usr/local/bin/yosys"].contains(where: FileManager.default.isExecutableFile) else {
            throw XCTSkip("yosys not installed (scripts/install-eda.sh)")
        }
        let rep = try RomaCLI.run(["rtl", "report", "--synthesize", "--flow", "structural", "--depth", "64", "--width", "32",
                                   "--work", TempFiles.path("rtlrep"), "--format", "json"])
        XCTAssertEqual(rep.code, 0, rep.err)
        let obj = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(rep.out.utf8)) as? [String: Any])
        let ratio = try XCTUnwrap(obj["arrayCellRatio"] as? Double)
        let path = TempFiles.path("rtl-report.json")
        try rep.out.write(toFile: path, atomically: true, encoding: .utf8)
        let area = try RomaCLI.run(["sim", "area", "--rtl-report", path])
        XCTAssertEqual(area.code, 0, area.err)
        XCTAssertTrue(area.out.hasPrefix(String(format: "B-ROM / standard ROM area ratio %.3f and NUM_CGEN 22", ratio)), area.out)
        let bad = try RomaCLI.run(["sim", "area", "--rtl-report", "/nonexistent.json"])
        XCTAssertNotEqual(bad.code, 0)
        XCTAssertTrue(bad.err.contains("cannot read RTL report '/nonexistent.json'"), bad.err)
    }
}

/// The adapter commands: --adapter on the model commands, roma adapter inspect/convert/recover, roma sram.
final class AdapterCLITests: XCTestCase {
    /// The PEFT fixture written by scripts/make-adapter-fixtures.py for TinyModel's default shapes.
    var fixture: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("AdapterTests/Fixtures/tiny-peft").path
    }
    lazy var tinyPath: String = try! TinyModel(seed: 25).write()

    func json(_ r: RomaCLI.Result) throws -> [String: Any] {
        XCTAssertEqual(r.code, 0, r.err)
        return try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any], r.out)
    }

    func testSRAMReproducesFig10AndCountsAdapters() throws {
        let f = try json(RomaCLI.run(["sram", "--fig10", "--format", "json"]))
        let points = try XCTUnwrap(f["points"] as? [[String: Any]])
        XCTAssertEqual(points.map { $0["paper_accounting"] as? Int }, [736, 3808, 0])
        XCTAssertEqual(points.map { $0["paper"] as? Int }, [736, 3808, 0])
        XCTAssertEqual(points.map { $0["chip_accounting"] as? Int }, [505, 2260, 265])
        let text = try RomaCLI.run(["sram", "--fig10"])
        XCTAssertTrue(text.out.contains("      64    16     736                736               505"), text.out)
        // 64 MiB, rank 16 on q,k,v,o of Llama3.2-3B, the chip's own formats
        let p = try json(RomaCLI.run(["sram", "--model-config", "llama3.2-3b", "--sram-mb", "64", "--rank", "16", "--format", "json"]))
        XCTAssertEqual(p["max_tokens"] as? Int, 505)
        XCTAssertEqual(p["kv_bytes_per_token"] as? Int, 2 * 28 * 1024 * 2)
        XCTAssertEqual(p["adapter_bytes"] as? Int, 16 * 28 * (6144 + 4096 + 4096 + 6144) + 8 * 4 * 28)
        // a real adapter on the tiny model: 14 layers, parameters + two FP32 scales each
        let a = try json(RomaCLI.run(["sram", "--model-config", tinyPath, "--adapter", fixture, "--sram-mb", "1", "--format", "json"]))
        let line = try XCTUnwrap((a["adapters"] as? [[String: Any]])?.first)
        let params = try XCTUnwrap(line["parameters"] as? Int)
        XCTAssertEqual(line["bytes"] as? Int, params + 14 * 8)
        XCTAssertEqual(a["max_tokens"] as? Int, (1_048_576 - params - 14 * 8) / 256)
        let over = try RomaCLI.run(["sram", "--model-config", "llama3.2-3b", "--sram-mb", "8", "--rank", "64"])
        XCTAssertTrue(over.out.contains("more than the 8.00 MiB budget: 0 tokens fit"), over.out)
        XCTAssertEqual(try RomaCLI.run(["sram", "--rank", "0"]).code, 64)
        XCTAssertTrue(try RomaCLI.run(["sram", "--lora-targets", "q,x"]).err.contains("unknown LoRA target 'x'"))
    }

    func testInspectConvertAndRunWithAdapters() throws {
        let i = try json(RomaCLI.run(["adapter", "inspect", fixture, "--model", tinyPath, "--format", "json"]))
        XCTAssertEqual(i["ranks"] as? [Int], [2, 4])
        XCTAssertEqual(i["layers"] as? Int, 14)
        XCTAssertEqual(i["targets"] as? [String], ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"])
        XCTAssertEqual(i["sram_bytes"] as? Int, (i["parameters"] as! Int) + 14 * 8)
        let text = try RomaCLI.run(["adapter", "inspect", fixture, "--model", tinyPath])
        XCTAssertTrue(text.out.contains("rank        2, 4"), text.out)
        // PEFT -> GGUF -> PEFT
        let g = TempFiles.path("cli-\(UUID().uuidString).gguf"), back = TempFiles.path("cli-peft-\(UUID().uuidString)")
        let c1 = try RomaCLI.run(["adapter", "convert", fixture, "--output", g, "--model", tinyPath])
        XCTAssertEqual(c1.code, 0, c1.err)
        XCTAssertTrue(c1.out.hasPrefix("wrote \(g) (gguf, f32): 14 layers"), c1.out)
        XCTAssertEqual(try RomaCLI.run(["adapter", "convert", g, "--output", back, "--model", tinyPath]).code, 0)
        XCTAssertEqual(try json(RomaCLI.run(["adapter", "inspect", back, "--model", tinyPath, "--format", "json"]))["parameters"] as? Int, i["parameters"] as? Int)
        // generation with the adapter in either form gives the same tokens; without it, other tokens
        func gen(_ extra: [String]) throws -> [Int] {
            try json(RomaCLI.run(["generate", "--model", tinyPath, "--prompt", "the cat", "--max-tokens", "6", "--format", "json"] + extra))["ids"] as? [Int] ?? []
        }
        let peft = try gen(["--adapter", fixture]), gguf = try gen(["--adapter", "mine=\(g):1"])
        XCTAssertEqual(peft, gguf)
        XCTAssertEqual(try gen(["--adapter", "\(fixture):0"]), try gen([]), "scale 0 is the base model")
        // bad adapter flags
        let dup = try RomaCLI.run(["generate", "--model", tinyPath, "--prompt", "x", "--adapter", "a=\(fixture)", "--adapter", "a=\(g)"])
        XCTAssertEqual(dup.code, 64)
        XCTAssertTrue(dup.err.contains("--adapter: two adapters are named 'a' (name them with NAME=PATH)"), dup.err)
        let missing = try RomaCLI.run(["generate", "--model", tinyPath, "--prompt", "x", "--adapter", "/nonexistent/adapter"])
        XCTAssertEqual(missing.code, 1)
        XCTAssertEqual(missing.err, "error: adapter '/nonexistent/adapter' not found\n")
        let other = try RomaCLI.run(["adapter", "inspect", fixture, "--model-config", "smollm2-135m"])
        XCTAssertEqual(other.code, 1)
        XCTAssertTrue(other.err.contains("lora_A is [4, 64] but rank 4 on this model needs [4, 576]"), other.err)
    }

    func testRecoverWritesAPEFTAdapterThatHelpsTheChip() throws {
        let rom = TempFiles.path("cli-rec-\(UUID().uuidString).rom")
        XCTAssertEqual(try RomaCLI.run(["compile", "--model", tinyPath, "--bits", "2", "--output", rom, "--fast"]).code, 0)
        let dir = TempFiles.path("cli-rec-\(UUID().uuidString)")
        let r = try json(RomaCLI.run(["adapter", "recover", "--image", rom, "--model", tinyPath, "--rank", "8", "--output", dir, "--format", "json"]))
        XCTAssertEqual(r["layers"] as? Int, 14)
        XCTAssertLessThan(try XCTUnwrap(r["mean_relative_error_after"] as? Double), try XCTUnwrap(r["mean_relative_error_before"] as? Double))
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/adapter_model.safetensors"))
        let text = TempFiles.path("cli-rec.txt")
        try String(repeating: "the cat sat on the mat and the dog ran in the sun. ", count: 40).write(toFile: text, atomically: true, encoding: .utf8)
        func ppl(_ extra: [String]) throws -> Double {
            try json(RomaCLI.run(["eval", "ppl", "--text-file", text, "--ctx", "64", "--format", "json"] + extra))["ppl"] as? Double ?? .nan
        }
        let float = try ppl(["--model", tinyPath]), int2 = try ppl(["--image", rom]), recovered = try ppl(["--image", rom, "--adapter", dir])
        XCTAssertLessThan(abs(log(recovered / float)), abs(log(int2 / float)), "float \(float), INT2 \(int2), INT2 + recovery \(recovered)")
        let bad = try RomaCLI.run(["adapter", "recover", "--image", rom, "--model", tinyPath, "--rank", "0", "--output", dir])
        XCTAssertEqual(bad.code, 64)
    }

    /// `roma finetune --distill --init-adapter` on a tiny INT2 image: the SVD recovery adapter,
    /// then trained toward the float model's distributions: KL falls, and the chip's perplexity with
    /// the adapter is nearer the float model's than without; bad teacher flags are refused by name.
    func testFinetuneDistillsARecoveryAdapterFromTheFloatModel() throws {
        let rom = TempFiles.path("cli-distill-\(UUID().uuidString).rom")
        XCTAssertEqual(try RomaCLI.run(["compile", "--model", tinyPath, "--bits", "2", "--output", rom, "--fast"]).code, 0)
        let text = TempFiles.path("cli-distill-\(UUID().uuidString).txt")
        try (0..<40).map { "the \(["cat", "dog", "sun", "sea", "mat", "wind"][$0 % 6]) is on the \(["hill", "road", "sea"][$0 % 3])." }
            .joined(separator: " ").write(toFile: text, atomically: true, encoding: .utf8)
        let svd = TempFiles.path("cli-distill-svd-\(UUID().uuidString)")
        XCTAssertEqual(try RomaCLI.run(["adapter", "recover", "--image", rom, "--model", tinyPath, "--rank", "4", "--output", svd]).code, 0)
        let dir = TempFiles.path("cli-distill-\(UUID().uuidString)")
        let r = try json(RomaCLI.run(["finetune", "--image", rom, "--data", text, "--valid", text, "--output", dir, "--distill", "--teacher", tinyPath,
                                      "--init-adapter", svd, "--iters", "10", "--batch-size", "2", "--learning-rate", "1e-2",
                                      "--max-seq-len", "32", "--format", "json"]))
        XCTAssertEqual((r["train_losses"] as? [Double])?.count, 10)
        XCTAssertLessThan(try XCTUnwrap(r["valid_loss"] as? Double), try XCTUnwrap(r["valid_loss_before"] as? Double), "KL to the float model falls")
        XCTAssertEqual(r["image_unchanged"] as? Bool, true)
        func ppl(_ extra: [String]) throws -> Double {
            try XCTUnwrap(json(RomaCLI.run(["eval", "ppl", "--text-file", text, "--ctx", "32", "--format", "json"] + extra))["ppl"] as? Double)
        }
        let float = try ppl(["--model", tinyPath]), int2 = try ppl(["--image", rom]), distilled = try ppl(["--image", rom, "--adapter", dir])
        XCTAssertLessThan(abs(log(distilled / float)), abs(log(int2 / float)), "perplexity float \(float), INT2 \(int2), + distilled adapter \(distilled)")
        let cfg = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/adapter_config.json"))) as? [String: Any])
        XCTAssertEqual(cfg["r"] as? Int, 4, "the rank of --init-adapter")
        // bad flags
        let noDistill = try RomaCLI.run(["finetune", "--image", rom, "--data", text, "--output", dir, "--teacher", tinyPath])
        XCTAssertEqual(noDistill.code, 64)
        XCTAssertTrue(noDistill.err.contains("--teacher is the model --distill learns from"), noDistill.err)
        let other = try TinyModel(seed: 77).write()
        let wrong = try RomaCLI.run(["finetune", "--image", rom, "--data", text, "--output", dir, "--distill", "--teacher", other, "--max-seq-len", "32"])
        XCTAssertEqual(wrong.code, 1)
        XCTAssertTrue(wrong.err.contains("distill from the image's own source model"), wrong.err)
        let missing = try RomaCLI.run(["finetune", "--image", rom, "--data", text, "--output", dir, "--init-adapter", dir + "-none", "--max-seq-len", "32"])
        XCTAssertEqual(missing.code, 1)
        XCTAssertTrue(missing.err.contains("not found"), missing.err)
    }

    /// `roma finetune` on a tiny ROM image: a PEFT adapter the chip serves (and that converts to a
    /// llama.cpp GGUF), the image unchanged, exact match before and after; bad flags and bad data.
    func testFinetuneTrainsAnAdapterTheChipServes() throws {
        let rom = TempFiles.path("cli-ft-\(UUID().uuidString).rom")
        XCTAssertEqual(try RomaCLI.run(["compile", "--model", tinyPath, "--bits", "4", "--output", rom, "--fast"]).code, 0)
        let data = TempFiles.path("cli-ft-\(UUID().uuidString).jsonl")
        let words = ["the cat", "the dog", "a sun", "in the sea", "on the mat", "the wind"]
        try words.map { "{\"prompt\": \"\($0)\", \"completion\": \"the\"}" }.joined(separator: "\n").write(toFile: data, atomically: true, encoding: .utf8)
        let dir = TempFiles.path("cli-ft-\(UUID().uuidString)")
        let r = try json(RomaCLI.run(["finetune", "--image", rom, "--data", data, "--valid", data, "--output", dir, "--iters", "12",
                                      "--batch-size", "3", "--learning-rate", "3e-2", "--rank", "4", "--max-seq-len", "64", "--format", "json"]))
        XCTAssertEqual((r["train_losses"] as? [Double])?.count, 12)
        XCTAssertEqual(r["image_unchanged"] as? Bool, true)
        XCTAssertLessThan(try XCTUnwrap(r["valid_loss"] as? Double), try XCTUnwrap(r["valid_loss_before"] as? Double))
        XCTAssertLessThan(try XCTUnwrap(r["chip_valid_loss_adapter"] as? Double), try XCTUnwrap(r["chip_valid_loss_base"] as? Double))
        XCTAssertNotNil(r["valid_loss_fp32_masters"] as? Double)
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/checkpoint/state.json"))
        XCTAssertEqual(try String(contentsOfFile: dir + "/train_log.jsonl", encoding: .utf8).split(separator: "\n").count, 12)
        // the chip answers the training questions with the adapter, not without it
        func exact(_ extra: [String]) throws -> Double {
            try json(RomaCLI.run(["eval", "exact-match", "--image", rom, "--data", data, "--max-tokens", "4", "--format", "json"] + extra))["accuracy"] as? Double ?? -1
        }
        XCTAssertEqual(try exact(["--adapter", dir]), 1)
        XCTAssertLessThan(try exact([]), 1)
        let gguf = TempFiles.path("cli-ft-\(UUID().uuidString).gguf")
        XCTAssertEqual(try RomaCLI.run(["adapter", "convert", dir, "--output", gguf, "--model", tinyPath]).code, 0)
        // bad flags and bad data
        let noBase = try RomaCLI.run(["finetune", "--data", data, "--output", dir])
        XCTAssertEqual(noBase.code, 64)
        XCTAssertTrue(noBase.err.contains("give the base: --image X.rom"), noBase.err)
        let rank = try RomaCLI.run(["finetune", "--image", rom, "--data", data, "--output", dir, "--rank", "0"])
        XCTAssertTrue(rank.err.contains("rank must be in 1...1024, got 0"), rank.err)
        let targets = try RomaCLI.run(["finetune", "--image", rom, "--data", data, "--output", dir, "--targets", "q,qkv"])
        XCTAssertTrue(targets.err.contains("--targets: unknown linear 'qkv'"), targets.err)
        let bad = TempFiles.path("cli-ft-bad-\(UUID().uuidString).jsonl")
        try "{\"prompt\": \"a\", \"completion\": \"b\"}\n{\"prompt\": 3}\n".write(toFile: bad, atomically: true, encoding: .utf8)
        let badData = try RomaCLI.run(["finetune", "--image", rom, "--data", bad, "--output", dir])
        XCTAssertEqual(badData.code, 1)
        XCTAssertEqual(badData.err, "error: \((bad as NSString).lastPathComponent):2: \"prompt\" must be a string, found a number\n")
        var chip = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(RomaCLI.run(["chip", "show", "--format", "json"]).out.utf8)) as? [String: Any])
        var memory = try XCTUnwrap(chip["memory"] as? [String: Any])
        memory["loraKVSRAMBytes"] = 20_000
        chip["memory"] = memory
        let small = TempFiles.path("cli-ft-chip-\(UUID().uuidString).json")
        try JSONSerialization.data(withJSONObject: chip).write(to: URL(fileURLWithPath: small))
        let over = try RomaCLI.run(["finetune", "--image", rom, "--data", data, "--output", dir, "--config", small, "--max-seq-len", "64"])
        XCTAssertEqual(over.code, 1)
        XCTAssertTrue(over.err.contains("of SRAM; the chip has"), over.err)
        XCTAssertTrue(over.err.contains("--rank"), over.err)
        // what the same training would take on the chip
        let sim = try json(RomaCLI.run(["sim", "train", "--model-config", "smollm2-135m", "--rank", "8", "--lora-targets", "all", "--tokens", "64", "--format", "json"]))
        XCTAssertEqual(sim["parameters"] as? Double, 2_442_240, "rank 8 on all seven linears of SmolLM2-135M, as roma finetune counts them")
        XCTAssertGreaterThan(try XCTUnwrap(sim["rom_bits_backward"] as? Double), 0)
        XCTAssertEqual(sim["sram_fits"] as? Bool, true)
        XCTAssertEqual((sim["parts"] as? [[String: Any]])?.map { $0["name"] as? String ?? "" }, ["forward", "recompute", "backward dX", "LoRA gradients", "AdamW"])
    }
}
