// swift-tools-version:6.0
import PackageDescription

// Layers (lower never imports higher):
//   1  ROMAFormats (GGUF, safetensors), ROMANumerics (FP16/FP8, quant kernels)
//   2  ROMATokenizer, ROMAChip (chip config, ROM image, SRAM, L/H/vector units)
//   3  ROMAModel (Llama graph over a backend), ROMASim (perf/area/power), ROMARTL (B-ROM Verilog)
//   4  roma (CLI)
let package = Package(
    name: "ROMA",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "roma", targets: ["roma"]),
        .library(name: "ROMAModel", targets: ["ROMAModel"]),
        .library(name: "ROMASim", targets: ["ROMASim"]),
        .library(name: "ROMARTL", targets: ["ROMARTL"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .target(name: "ROMANumerics"),
        .target(name: "ROMAFormats", dependencies: ["ROMANumerics"]),
        .target(name: "ROMATokenizer", dependencies: ["ROMAFormats"]),
        .target(name: "ROMAChip", dependencies: ["ROMAFormats", "ROMANumerics"]),
        .target(name: "ROMAModel", dependencies: ["ROMAFormats", "ROMANumerics", "ROMATokenizer", "ROMAChip"]),
        .target(name: "ROMASim", dependencies: ["ROMAChip"]),
        .target(name: "ROMARTL", dependencies: ["ROMAChip"]),
        .executableTarget(name: "roma", dependencies: [
            "ROMAModel", "ROMASim", "ROMARTL",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .target(name: "ROMATestSupport", dependencies: ["ROMAFormats", "ROMANumerics", "ROMATokenizer"], path: "Tests/ROMATestSupport"),
        .testTarget(name: "ROMAFormatsTests", dependencies: ["ROMAFormats", "ROMATestSupport"]),
        .testTarget(name: "ROMATokenizerTests", dependencies: ["ROMATokenizer", "ROMATestSupport"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "ROMAModelTests", dependencies: ["ROMAModel", "ROMATestSupport"]),
        .testTarget(name: "ROMAChipTests", dependencies: ["ROMAChip", "ROMAModel", "ROMARTL", "ROMATestSupport"]),
        .testTarget(name: "ROMASimTests", dependencies: ["ROMASim"]),
        .testTarget(name: "ROMARTLTests", dependencies: ["ROMARTL"]),
        .testTarget(name: "AdapterTests", dependencies: ["ROMAModel", "ROMAChip", "ROMAFormats", "ROMANumerics", "ROMATestSupport"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "CLITests", dependencies: ["ROMAFormats", "ROMATestSupport"]),
        .testTarget(name: "RealModelTests", dependencies: ["ROMAModel", "ROMAChip", "ROMAFormats", "ROMATestSupport"],
                    resources: [.copy("Fixtures")]),
    ]
)
