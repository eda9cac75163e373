// swift-tools-version:6.0
import PackageDescription
import class Foundation.ProcessInfo

// Floors (lower never imports higher):
//   1  ROMANumerics (FP16/FP8, kernels, worker pool), ROMAFormats (GGUF, safetensors)
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
        .target(name: "ROMANumerics"),
        .target(name: "ROMAFormats", dependencies: ["ROMANumerics"]),
        .target(name: "ROMATokenizer", dependencies: ["ROMAFormats"]),
        .target(name: "ROMALlama", dependencies: ["ROMAFormats", "ROMANumerics"]),
        .target(name: "ROMAChip", dependencies: ["ROMALlama", "ROMAFormats", "ROMANumerics"]),
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
        .testTarget(name: "ROMARTLTests", dependencies: ["ROMAChip", "ROMARTL"]),
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
if ProcessInfo.processInfo.environment["ROMA_FUZZ_BUILD"] == "1" {
    package.targets.append(.executableTarget(name: "roma-fuzz", dependencies: ["ROMAFuzz"]))
}
