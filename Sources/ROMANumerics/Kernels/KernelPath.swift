import CROMACPU
import Foundation

/// Which compute-cell kernels run the chip's products on this host, chosen at run time from what the
/// CPU reports (CPUID), highest first: AVX-512 VNNI (zmm, vpdpwssd / vpdpbusd), AVX2 (ymm,
/// vpmaddwd / vpmaddubsw), portable Swift. Every path gives the same bits (the tests run each one the
/// CPU supports against the golden L-Unit). `ROMA_KERNELS=portable|avx2|avx512vnni` forces a lower path.
public enum KernelPath: String, CaseIterable, Sendable, Comparable, CustomStringConvertible {
    case portable
    case avx2
    case avx512vnni = "avx512vnni"

    /// The environment variable that lowers the path.
    public static let environmentKey = "ROMA_KERNELS"

    public var description: String { rawValue }
    var rank: Int { KernelPath.allCases.firstIndex(of: self)! }
    public static func < (a: KernelPath, b: KernelPath) -> Bool { a.rank < b.rank }

    /// The CPU features the kernels care about, as reported by CPUID and XGETBV.
    public struct CPUFeatures: OptionSet, Sendable {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }
        public static let avx2 = CPUFeatures(rawValue: UInt32(ROMA_CPU_AVX2))
        public static let avx512 = CPUFeatures(rawValue: UInt32(ROMA_CPU_AVX512))
        public static let avx512vnni = CPUFeatures(rawValue: UInt32(ROMA_CPU_AVX512_VNNI))
        public static let avxvnni = CPUFeatures(rawValue: UInt32(ROMA_CPU_AVX_VNNI))
        /// The SHA extensions (the checksums of ROM images and models, `SHA256`).
        public static let sha = CPUFeatures(rawValue: UInt32(ROMA_CPU_SHA))
        public static let host = CPUFeatures(rawValue: roma_cpu_features())

        /// The feature names, lowercase as /proc/cpuinfo spells them.
        public var names: [String] {
            [(CPUFeatures.avx2, "avx2"), (.avx512, "avx512f/bw/dq/vl"), (.avx512vnni, "avx512_vnni"), (.avxvnni, "avx_vnni"), (.sha, "sha_ni")]
                .filter { contains($0.0) }.map(\.1)
        }
    }

    /// Whether this CPU can run the path.
    public func isSupported(by cpu: CPUFeatures = .host) -> Bool {
        switch self {
        case .portable: return true
        case .avx2: return cpu.contains(.avx2)
        case .avx512vnni: return cpu.contains([.avx2, .avx512, .avx512vnni])
        }
    }

    /// Every path this CPU can run, lowest first.
    public static var supported: [KernelPath] { allCases.filter { $0.isSupported() } }

    /// The path the chip uses: the best the CPU supports, or the one `ROMA_KERNELS` names if it is
    /// lower. A name that is unknown, or a path the CPU lacks, is an error (see `fromEnvironment`).
    public static let selected: KernelPath = (try? fromEnvironment()) ?? supported.last!

    /// The path `ROMA_KERNELS` asks for (the best supported when it is unset).
    public static func fromEnvironment(_ env: [String: String] = ProcessInfo.processInfo.environment) throws -> KernelPath {
        let best = supported.last!
        guard let name = env[environmentKey], !name.isEmpty else { return best }
        guard let path = KernelPath(rawValue: name.lowercased()) else {
            throw KernelPathError("\(environmentKey)=\(name) is not a kernel path (one of: \(allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        guard path.isSupported() else {
            throw KernelPathError("\(environmentKey)=\(name): this CPU cannot run it (it runs: \(supported.map(\.rawValue).joined(separator: ", ")))")
        }
        return path
    }
}

/// A kernel path that cannot be used on this host.
public struct KernelPathError: ROMAError {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var code: ErrorCode { .invalidArgument }
    public var description: String { message }
}
