// swift-tools-version:6.0
import PackageDescription
import class Foundation.ProcessInfo

let environment = ProcessInfo.processInfo.environment

// CPU targets (x86-64). Every Swift module is compiled for Haswell, i.e. x86-64-v3 (AVX2, FMA, F16C: the default
// x86-64 target makes the kernels 3-10x slower), unless ROMA_BASELINE=x86-64 asks for the plain
// baseline; the compute-cell modules are compiled for their instruction sets and run only where
// `KernelPath` finds them at run time (CPUID), so one binary serves AVX2 and AVX-512 machines.
#if arch(x86_64)
let baselineV3 = environment["ROMA_BASELINE"] != "x86-64"
let baseline: [SwiftSetting] = baselineV3 ? [.unsafeFlags(["-target-cpu", "haswell"])] : []
let avx2Cells: [SwiftSetting] = [.unsafeFlags(["-target-cpu", "haswell"])]
// The machine combiner would split vpdpwssd into vpmaddwd + vpaddd to shorten each accumulator's
// latency chain; the kernels keep eight chains in flight and are bound by throughput, where the split
// halves it.
let avx512Cells: [SwiftSetting] = [.unsafeFlags(["-target-cpu", "icelake-server", "-Xllvm", "-x86-machine-combiner=false"])]
let cpuProbe: [CSetting] = baselineV3 ? [.define("ROMA_BASELINE_V3")] : []
#else
let baseline: [SwiftSetting] = [], avx2Cells: [SwiftSetting] = [], avx512Cells: [SwiftSetting] = []
let cpuProbe: [CSetting] = []
#endif

// Floors (lower never imports higher):
//   0  CROMACPU (CPUID: which kernel paths this host runs)
//   1  ROMANumerics (FP16/FP8, kernels, kernel paths, worker pool), ROMAFormats (GGUF, safetensors)
//   1½ ROMAKernelsAVX2, ROMAKernelsAVX512 (the compute cells per instruction set, each compiled for it)
//   2  ROMALlama (the software model: model config, tensor names, the one Llama forward pass over a
//      Backend, KV cache, batches, LoRA adapters, the FP32 reference backend), ROMATokenizer
//   3  ROMAChip (the hardware model and its execution: chip config, ROM image and compiler, L/H/vector
//      units, SRAM, the chip backend)
//   4  ROMAModel (engine, sessions, sampling, calibration, training, adapter registry and files),
//      ROMASim (perf/area/power), ROMARTL (B-ROM Verilog)
//   5  ROMAServe (the scheduler: continuous batching across adapters, SRAM admission)
//   6  ROMAServer (the OpenAI-compatible HTTP layer over the scheduler)
//   7  roma (CLI); ROMAFuzz (one fuzz target per reader, beside the CLI)
let package = Package(
    name: "ROMA",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "roma", targets: ["roma"]),
        .library(name: "ROMALlama", targets: ["ROMALlama"]),
        .library(name: "ROMAChip", targets: ["ROMAChip"]),
        .library(name: "ROMAModel", targets: ["ROMAModel"]),
        .library(name: "ROMASim", targets: ["ROMASim"]),
        .library(name: "ROMARTL", targets: ["ROMARTL"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    ],
    targets: [
        .target(name: "CROMACPU", cSettings: cpuProbe),
        .target(name: "ROMANumerics", dependencies: ["CROMACPU"]),
        .target(name: "ROMAKernelsAVX2", dependencies: ["ROMANumerics"], swiftSettings: avx2Cells),
        .target(name: "ROMAKernelsAVX512", dependencies: ["ROMANumerics"], swiftSettings: avx512Cells),
        .target(name: "ROMAFormats", dependencies: ["CROMACPU", "ROMANumerics"]),
        .target(name: "ROMATokenizer", dependencies: ["ROMAFormats"]),
        .target(name: "ROMALlama", dependencies: ["ROMAFormats", "ROMANumerics"]),
        .target(name: "ROMAChip", dependencies: ["ROMALlama", "ROMAFormats", "ROMANumerics", "ROMAKernelsAVX2", "ROMAKernelsAVX512"]),
        .target(name: "ROMAModel", dependencies: ["ROMALlama", "ROMAFormats", "ROMANumerics", "ROMATokenizer", "ROMAChip"]),
        .target(name: "ROMAServe", dependencies: ["ROMALlama", "ROMAModel", "ROMANumerics", "ROMATokenizer"]),
        .target(name: "ROMAServer", dependencies: [
            "ROMAServe", "ROMAModel", "ROMALlama", "ROMANumerics", "ROMATokenizer",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "Prometheus", package: "swift-prometheus"),
        ]),
        .target(name: "ROMASim", dependencies: ["ROMALlama", "ROMAChip"]),
        .target(name: "ROMARTL", dependencies: ["ROMALlama", "ROMAChip", "ROMANumerics"]),
        .executableTarget(name: "roma", dependencies: [
            "ROMALlama", "ROMAChip", "ROMAModel", "ROMASim", "ROMARTL", "ROMAServer",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .target(name: "ROMAFuzz", dependencies: ["ROMAFormats", "ROMALlama", "ROMAChip", "ROMAModel", "ROMATokenizer", "ROMAServer", "ROMATestSupport"]),
        .target(name: "ROMATestSupport", dependencies: ["ROMAFormats", "ROMANumerics", "ROMATokenizer", "ROMAChip"], path: "Tests/ROMATestSupport"),
        .testTarget(name: "ROMAFormatsTests", dependencies: ["ROMAFormats", "ROMATestSupport"]),
        .testTarget(name: "ROMATokenizerTests", dependencies: ["ROMATokenizer", "ROMATestSupport"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "ROMAModelTests", dependencies: ["ROMALlama", "ROMAModel", "ROMATestSupport"]),
        .testTarget(name: "ROMAChipTests", dependencies: ["ROMALlama", "ROMAChip", "ROMAModel", "ROMARTL", "ROMASim", "ROMATestSupport"]),
        .testTarget(name: "ROMAServeTests", dependencies: ["ROMAServe", "ROMAModel", "ROMAChip", "ROMALlama", "ROMAFormats", "ROMATestSupport"]),
        .testTarget(name: "ROMAServerTests", dependencies: [
            "ROMAServer", "ROMAServe", "ROMAModel", "ROMAChip", "ROMALlama", "ROMAFormats", "ROMATokenizer", "ROMATestSupport",
            .product(name: "HummingbirdTesting", package: "hummingbird"),
        ]),
        .testTarget(name: "ROMASimTests", dependencies: ["ROMALlama", "ROMAChip", "ROMASim"]),
        .testTarget(name: "ROMARTLTests", dependencies: ["ROMAChip", "ROMALlama", "ROMAModel", "ROMARTL", "ROMATestSupport"]),
        .testTarget(name: "AdapterTests", dependencies: ["ROMALlama", "ROMAModel", "ROMAChip", "ROMAFormats", "ROMANumerics", "ROMATestSupport"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "FuzzRegressionTests", dependencies: ["ROMAFuzz", "ROMAFormats", "ROMAChip", "ROMAModel", "ROMATestSupport"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "CLITests", dependencies: ["ROMAFormats", "ROMAChip", "ROMAModel", "ROMATestSupport"]),
        .testTarget(name: "RealModelTests", dependencies: ["ROMALlama", "ROMAModel", "ROMAChip", "ROMAFormats", "ROMATestSupport"],
                    resources: [.copy("Fixtures")]),
    ]
)

// The libFuzzer driver exists only in fuzz builds (scripts/fuzz.sh sets ROMA_FUZZ_BUILD=1 and builds with
// -sanitize=fuzzer,address -parse-as-library): libFuzzer supplies its main.
if environment["ROMA_FUZZ_BUILD"] == "1" {
    package.targets.append(.executableTarget(name: "roma-fuzz", dependencies: ["ROMAFuzz"]))
}

for target in package.targets where !["CROMACPU", "ROMAKernelsAVX2", "ROMAKernelsAVX512"].contains(target.name) {
    target.swiftSettings = (target.swiftSettings ?? []) + baseline
}
