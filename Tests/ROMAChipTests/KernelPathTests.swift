import XCTest
import ROMAChip
import ROMANumerics

/// The run-time choice of compute-cell kernels: what a CPU's features allow, and `ROMA_KERNELS`.
final class KernelPathTests: XCTestCase {
    func testFeaturesDecideWhichPathsRun() {
        XCTAssertTrue(KernelPath.portable.isSupported(by: []))
        XCTAssertFalse(KernelPath.avx2.isSupported(by: []))
        XCTAssertTrue(KernelPath.avx2.isSupported(by: [.avx2]))
        XCTAssertFalse(KernelPath.avx512vnni.isSupported(by: [.avx2, .avx512]), "AVX-512 without VNNI runs the AVX2 cells")
        XCTAssertFalse(KernelPath.avx512vnni.isSupported(by: [.avx2, .avxvnni]), "AVX-VNNI (ymm) is not AVX-512")
        XCTAssertTrue(KernelPath.avx512vnni.isSupported(by: [.avx2, .avx512, .avx512vnni]))
        XCTAssertEqual(KernelPath.CPUFeatures([.avx2, .avx512vnni]).names, ["avx2", "avx512_vnni"])
        // the host: the best path it supports is the default, and portable always runs
        XCTAssertEqual(KernelPath.supported.first, .portable)
        XCTAssertEqual(try KernelPath.fromEnvironment([:]), KernelPath.supported.last)
    }

    func testEnvironmentForcesALowerPathAndRefusesUnknownOrUnsupportedOnes() throws {
        XCTAssertEqual(try KernelPath.fromEnvironment(["ROMA_KERNELS": "portable"]), .portable)
        XCTAssertEqual(try KernelPath.fromEnvironment(["ROMA_KERNELS": "PORTABLE"]), .portable)
        XCTAssertEqual(try KernelPath.fromEnvironment(["ROMA_KERNELS": ""]), KernelPath.supported.last)
        XCTAssertThrowsError(try KernelPath.fromEnvironment(["ROMA_KERNELS": "sse2"])) { e in
            XCTAssertEqual("\(e)", "ROMA_KERNELS=sse2 is not a kernel path (one of: portable, avx2, avx512vnni)")
        }
        for path in KernelPath.allCases where !path.isSupported() {
            XCTAssertThrowsError(try KernelPath.fromEnvironment(["ROMA_KERNELS": path.rawValue])) { e in
                XCTAssertTrue("\(e)".contains("this CPU cannot run it"), "\(e)")
            }
        }
        for path in KernelPath.supported { XCTAssertEqual(try KernelPath.fromEnvironment(["ROMA_KERNELS": path.rawValue]), path) }
    }
}
