import Foundation
import ROMANumerics
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A whole file mapped read-only into memory (`PROT_READ`, `MAP_PRIVATE`). Nothing can write through it.
/// `@unchecked Sendable`: a read-only mapping (PROT_READ), never written; unmapped only in deinit.
public final class MappedFile: @unchecked Sendable {
    public let path: String
    public let bytes: UnsafeRawBufferPointer
    private let base: UnsafeMutableRawPointer?

    public init(path: String) throws {
        self.path = path
        // O_NONBLOCK: opening a FIFO must not block; anything but a regular file is refused below
        let fd = open(path, O_RDONLY | O_NONBLOCK)
        guard fd >= 0 else { throw FormatError.io(path: path, message: String(cString: strerror(errno))) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw FormatError.io(path: path, message: String(cString: strerror(errno))) }
        if (st.st_mode & S_IFMT) == S_IFDIR { throw FormatError.io(path: path, message: "is a directory") }
        if (st.st_mode & S_IFMT) != S_IFREG { throw FormatError.io(path: path, message: "is not a regular file") }
        let size = Int(st.st_size)
        if size == 0 {
            base = nil
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            return
        }
        let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0)
        guard let p, p != MAP_FAILED else { throw FormatError.io(path: path, message: "mmap failed: \(String(cString: strerror(errno)))") }
        #if os(Linux)
        // Large read-only images (ROM images, GGUF weights) are streamed once per token: ask for huge
        // pages where the kernel and file system can give them (fewer TLB misses); advice only.
        if size >= 4 << 20 { _ = madvise(p, size, MADV_HUGEPAGE) }
        #endif
        base = p
        bytes = UnsafeRawBufferPointer(start: p, count: size)
    }

    public var count: Int { bytes.count }

    deinit {
        if let base { munmap(base, bytes.count) }
    }
}

/// Errors raised by the file-format readers. Each names the file problem precisely.
public enum FormatError: Error, CustomStringConvertible, Equatable {
    case io(path: String, message: String)
    case badMagic(found: String)
    case unsupportedVersion(UInt32)
    case truncated(what: String, offset: Int, needed: Int, fileSize: Int)
    case invalid(String)
    case unknownTensorType(tensor: String, type: UInt32)
    case unknownValueType(key: String, type: UInt32)
    case missingKey(String)
    case wrongKeyType(key: String, expected: String, found: String)
    case missingTensor(String)
    case shapeMismatch(tensor: String, expected: [Int], found: [Int])

    public var description: String {
        switch self {
        case .io(let path, let m): return "cannot read '\(path)': \(m)"
        case .badMagic(let f): return "not a GGUF file: bad magic \(f) (expected 'GGUF')"
        case .unsupportedVersion(let v): return "unsupported GGUF version \(v) (supported: 2, 3)"
        case .truncated(let what, let off, let n, let size):
            return "file is truncated: \(what) needs \(n) bytes at offset \(off), but the file has \(size) bytes"
        case .invalid(let m): return m
        case .unknownTensorType(let t, let ty): return "tensor '\(t)' has unknown ggml type \(ty)"
        case .unknownValueType(let k, let ty): return "metadata key '\(k)' has unknown value type \(ty)"
        case .missingKey(let k): return "missing required metadata key '\(k)'"
        case .wrongKeyType(let k, let e, let f): return "metadata key '\(k)' should be \(e), found \(f)"
        case .missingTensor(let t): return "missing required tensor '\(t)'"
        case .shapeMismatch(let t, let e, let f): return "tensor '\(t)' has shape \(f), expected \(e)"
        }
    }
}

extension FormatError: ROMAError {
    public var code: ErrorCode {
        switch self {
        case .io: return .ioFailure
        case .badMagic, .truncated, .invalid, .unknownValueType, .wrongKeyType, .shapeMismatch: return .corruptInput
        case .unsupportedVersion, .unknownTensorType: return .unsupported
        case .missingKey, .missingTensor: return .notFound
        }
    }
}
