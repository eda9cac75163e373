// The libFuzzer entry points for every ROMA reader (Sources/ROMAFuzz): ROMA_FUZZ_TARGET picks the
// target; ROMA_FUZZ_SEEDS=DIR writes its seed corpus and dictionary (DIR.dict) and exits.
import Foundation
import ROMAFuzz

nonisolated(unsafe) private var target: (any FuzzTarget.Type)?
nonisolated(unsafe) private var scratch: FuzzScratch?

@_cdecl("LLVMFuzzerInitialize")
public func initialize(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>) -> CInt {
    let env = ProcessInfo.processInfo.environment
    let names = FuzzTargets.all.map { $0.name }.joined(separator: ", ")
    guard let name = env["ROMA_FUZZ_TARGET"], let t = FuzzTargets.named(name) else {
        FileHandle.standardError.write(Data("roma-fuzz: set ROMA_FUZZ_TARGET to one of: \(names)\n".utf8))
        exit(2)
    }
    target = t
    scratch = FuzzScratch()
    if let dir = env["ROMA_FUZZ_SEEDS"] {
        do {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            for (i, seed) in try t.seeds().enumerated() {
                try Data(seed).write(to: URL(fileURLWithPath: dir + "/seed-\(i)"))
            }
            try FuzzTargets.dictionaryFile(t).write(toFile: dir + ".dict", atomically: true, encoding: .utf8)
        } catch {
            FileHandle.standardError.write(Data("roma-fuzz: cannot write the \(name) seeds: \(error)\n".utf8))
            exit(1)
        }
        exit(0)
    }
    if [TokenizerTarget.name, TrainingDataTarget.name, RequestTarget.name].contains(name) {
        FileHandle.standardError.write(Data("roma-fuzz: \(name): tokenizer from \(FuzzContext.shared.tokenizerSource)\n".utf8))
    }
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = size == 0 ? [] : Array(UnsafeBufferPointer(start: data, count: size))
    _ = FuzzTargets.run(target!, bytes, scratch: scratch!)
    return 0
}

// SwiftPM links an executable's `main` to `<module>_main` (here roma_fuzz_main); it hands over to
// libFuzzer's driver, which calls LLVMFuzzerInitialize and then LLVMFuzzerTestOneInput.
@_silgen_name("LLVMFuzzerRunDriver")
func runDriver(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
               _ test: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt

@_cdecl("roma_fuzz_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var c = argc, v = argv
    return runDriver(&c, &v) { data, size in testOneInput(data, size) }
}
