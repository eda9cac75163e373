import ROMALlama
import Foundation
import ROMAFormats
import ROMANumerics

/// A compiled ROM image: the quantized base model as the chip's ROM holds it, with the model
/// configuration, the tokenizer, the partition map over the L-Units and a SHA-256 checksum.
/// Byte-by-byte specification: docs/rom-image.md. At run time the file is mapped read-only
/// (`PROT_READ`) and its checksum is verified at load; nothing ever writes it.
/// `@unchecked Sendable`: the image is a read-only mapping and its header is immutable after the checksum check.
public final class ROMImage: @unchecked Sendable {
    public static let magic: [UInt8] = Array("ROMAROM\0".utf8)
    public static let version: UInt32 = 1
    public static let headerSize = 64
    public static let dataAlignment = 4096

    public let file: MappedFile
    public let header: Header
    /// SHA-256 stored in the image (over bytes 0..<32 and 64..<end).
    public let checksum: [UInt8]
    public let dataOffset: Int
    private let tensorIndex: [String: Int]
    /// The AVX2 decode cells' copies of its 4-bit group-64 tensors (`RowPanelStore`), made on first use.
    let rowPanels = RowPanelStore()

    public var path: String { file.path }
    public var checksumHex: String { SHA256.hex(checksum) }

    // MARK: JSON header

    public struct Header: Codable, Sendable {
        public var format: String
        public var model: ModelConfig
        public var quantization: Quantization
        public var source: Source
        public var tokenizer: TokenizerData
        public var units: UnitLayout
        public var tensors: [Tensor]
        /// Set by `roma tune`: the image's scales and norm gains were tuned end to end after
        /// quantization (codes and zero points unchanged). Absent in images straight from `roma compile`.
        public var tuning: Tuning? = nil
    }

    /// How a tuned image was made from its parent image (`ScaleTuner`, docs/rom-image.md).
    public struct Tuning: Codable, Sendable, Equatable {
        /// "kl-distillation-scales-norms" (group scales and RMSNorm gains fitted to the float model's output
        /// distribution) or "kl-distillation-scales" (scales only).
        public var method: String
        /// SHA-256 of the image the codes and zero points come from.
        public var parentSHA256: String
        public var calibrationTokens: Int
        public var epochs: Int
        public var steps: Int
        public var chunksPerStep: Int
        public var learningRate: Double
        /// Mean KL(float || image) per calibration token in the first and the last epoch (nats).
        public var klFirstEpoch: Double
        public var klLastEpoch: Double
        public init(method: String, parentSHA256: String, calibrationTokens: Int, epochs: Int, steps: Int, chunksPerStep: Int,
                    learningRate: Double, klFirstEpoch: Double, klLastEpoch: Double) {
            self.method = method; self.parentSHA256 = parentSHA256; self.calibrationTokens = calibrationTokens
            self.epochs = epochs; self.steps = steps; self.chunksPerStep = chunksPerStep; self.learningRate = learningRate
            self.klFirstEpoch = klFirstEpoch; self.klLastEpoch = klLastEpoch
        }
    }

    public struct Quantization: Codable, Sendable, Equatable {
        public var bits: Int
        public var groupSize: Int
        public var method: String
    }

    public struct Source: Codable, Sendable {
        public var file: String
        public var sha256: String
        public var compiler: String
    }

    public struct TokenizerData: Codable, Sendable {
        public var model: String
        public var pre: String
        public var tokens: [String]
        public var tokenTypes: [Int]
        public var merges: [String]
        public var bosTokenID: Int?
        public var eosTokenID: Int?
        public var eotTokenID: Int?
        public var addBOS: Bool
        public var chatTemplate: String?
    }

    public struct UnitLayout: Codable, Sendable, Equatable {
        /// L-Units the rows are spread over (chip: 2 x 8 x 16 = 256).
        public var count: Int
        /// Array geometry for naming units (row, column); row counts matrix rows top to bottom.
        public var rows: Int
        public var columns: Int
        /// ROM bytes per L-Unit in the target chip (total ROM / units).
        public var romBytesPerUnit: Int
    }

    public enum TensorKind: String, Codable, Sendable { case linear, embedding, norm }

    public struct Tensor: Codable, Sendable, Equatable {
        public var name: String
        public var kind: TensorKind
        /// Output rows and input columns (norms: rows = 1).
        public var rows: Int
        public var cols: Int
        /// Quantized tensors: bits and group size; norms: bits = 16 (FP16 values).
        public var bits: Int
        public var groupSize: Int
        /// Byte offsets relative to the data section, and lengths.
        public var codesOffset: Int
        public var codesBytes: Int
        public var scalesOffset: Int
        public var zerosOffset: Int
        /// unitRowStart[u] ..< unitRowStart[u+1] are the rows L-Unit u holds (count + 1 entries).
        public var unitRowStart: [Int]

        public var groupsPerRow: Int { cols / groupSize }
        public var rowCodeBytes: Int { cols * bits / 8 }
    }

    // MARK: loading

    public init(path: String, verifyChecksum: Bool = true) throws {
        guard FileManager.default.fileExists(atPath: path) else { throw ROMImageError.io("ROM image '\(path)' not found") }
        let f = try MappedFile(path: path)
        file = f
        let b = f.bytes
        guard b.count >= ROMImage.headerSize else {
            throw ROMImageError.corrupt("file is truncated: \(b.count) bytes, a ROM image header needs \(ROMImage.headerSize)")
        }
        guard Array(b[0..<8]) == ROMImage.magic else { throw ROMImageError.corrupt("not a ROMA ROM image (bad magic)") }
        let version = b.loadUnaligned(fromByteOffset: 8, as: UInt32.self).littleEndian
        guard version == ROMImage.version else {
            throw ROMImageError.unsupportedVersion(version)
        }
        guard let jsonLength = Int(exactly: b.loadUnaligned(fromByteOffset: 16, as: UInt64.self).littleEndian),
              let dataOff = Int(exactly: b.loadUnaligned(fromByteOffset: 24, as: UInt64.self).littleEndian) else {
            throw ROMImageError.corrupt("header lengths are out of range")
        }
        guard jsonLength > 0, jsonLength <= b.count - ROMImage.headerSize, dataOff >= ROMImage.headerSize + jsonLength,
              dataOff <= b.count, dataOff % ROMImage.dataAlignment == 0 else {
            throw ROMImageError.corrupt("file is truncated or corrupt: header says JSON \(jsonLength) bytes, data at \(dataOff), file has \(b.count) bytes")
        }
        checksum = Array(b[32..<64])
        if verifyChecksum {
            let actual = ROMImage.computeChecksum(b)
            guard actual == checksum else {
                throw ROMImageError.checksumMismatch(stored: SHA256.hex(checksum), actual: SHA256.hex(actual))
            }
        }
        let json = Data(b[ROMImage.headerSize..<(ROMImage.headerSize + jsonLength)])
        do {
            header = try JSONDecoder().decode(Header.self, from: json)
        } catch {
            throw ROMImageError.corrupt("header JSON is invalid: \(error)")
        }
        dataOffset = dataOff
        var idx: [String: Int] = [:]
        for (i, t) in header.tensors.enumerated() { idx[t.name] = i }
        tensorIndex = idx
        try validate(dataBytes: b.count - dataOff)
    }

    /// SHA-256 over bytes 0..<32 (magic, version, lengths) and 64..<end (header JSON and data).
    public static func computeChecksum(_ b: UnsafeRawBufferPointer) -> [UInt8] {
        var h = SHA256()
        h.update(UnsafeRawBufferPointer(rebasing: b[0..<32]))
        h.update(UnsafeRawBufferPointer(rebasing: b[64..<b.count]))
        return h.finalize()
    }

    private func validate(dataBytes: Int) throws {
        let q = header.quantization
        guard q.bits == 2 || q.bits == 4 else { throw ROMImageError.corrupt("quantization bits \(q.bits) is not 2 or 4") }
        guard q.groupSize > 0, q.groupSize % 8 == 0 else { throw ROMImageError.corrupt("quantization group size \(q.groupSize) is not a positive multiple of 8") }
        guard header.units.count > 0, header.units.count <= 1 << 20 else {
            throw ROMImageError.corrupt("the image spreads its rows over \(header.units.count) L-Units (1 to \(1 << 20) allowed)")
        }
        try header.model.validate()
        let limit = 1 << 40   // no dimension or offset can exceed the file
        var names = Set<String>()
        for t in header.tensors where !names.insert(t.name).inserted {
            throw ROMImageError.corrupt("tensor '\(t.name)' appears twice")
        }
        func inData(_ offset: Int, _ length: Int) -> Bool {
            offset >= 0 && length >= 0 && offset <= dataBytes && length <= dataBytes - offset
        }
        for t in header.tensors {
            guard t.rows > 0, t.cols > 0, t.rows < limit, t.cols < limit, t.rows.multipliedReportingOverflow(by: t.cols).partialValue < 1 << 48,
                  !t.rows.multipliedReportingOverflow(by: t.cols).overflow else {
                throw ROMImageError.corrupt("tensor '\(t.name)' has an invalid shape \(t.rows) x \(t.cols)")
            }
            guard t.codesOffset % 64 == 0, t.scalesOffset % 64 == 0, t.zerosOffset % 64 == 0 else {
                throw ROMImageError.corrupt("tensor '\(t.name)': a section is not 64-byte aligned")
            }
            if t.kind == .norm {
                guard t.bits == 16, t.rows == 1, t.codesBytes == t.cols * 2, inData(t.codesOffset, t.codesBytes) else {
                    throw ROMImageError.corrupt("norm tensor '\(t.name)' lies outside the data section")
                }
                continue
            }
            guard t.bits == q.bits || (t.kind == .embedding && (t.bits == 2 || t.bits == 4)), t.groupSize == q.groupSize, t.groupSize % 8 == 0, t.cols % t.groupSize == 0 else {
                throw ROMImageError.corrupt("tensor '\(t.name)': bits \(t.bits) / group \(t.groupSize) do not match the image's INT\(q.bits) / group \(q.groupSize) for \(t.cols) columns")
            }
            let groups = t.rows * t.groupsPerRow
            guard t.codesBytes == t.rows * t.rowCodeBytes, inData(t.codesOffset, t.codesBytes),
                  inData(t.scalesOffset, 2 * groups), inData(t.zerosOffset, groups) else {
                throw ROMImageError.corrupt("tensor '\(t.name)' lies outside the data section (\(dataBytes) bytes)")
            }
            guard t.unitRowStart.count == header.units.count + 1, t.unitRowStart.first == 0, t.unitRowStart.last == t.rows,
                  zip(t.unitRowStart, t.unitRowStart.dropFirst()).allSatisfy({ $0 <= $1 }) else {
                throw ROMImageError.corrupt("tensor '\(t.name)': invalid unit partition map")
            }
            let zp = (file.bytes.baseAddress! + dataOffset + t.zerosOffset).assumingMemoryBound(to: UInt8.self)
            let maxZero = UInt8((1 << t.bits) - 1)
            for i in 0..<groups where zp[i] > maxZero {
                throw ROMImageError.corrupt("tensor '\(t.name)': zero point \(zp[i]) of group \(i) does not fit \(t.bits) bits")
            }
        }
        let m = header.model
        for (name, shape) in m.expectedTensors() {
            guard let t = tensor(name) else { throw ROMImageError.corrupt("tensor '\(name)' is missing") }
            let found = t.kind == .norm ? [t.cols] : [t.cols, t.rows]
            guard found == shape else {
                throw ROMImageError.corrupt("tensor '\(name)' has shape \(found), the model needs \(shape)")
            }
        }
    }

    // MARK: access

    public var model: ModelConfig { header.model }
    public var bits: Int { header.quantization.bits }

    public func tensor(_ name: String) -> Tensor? { tensorIndex[name].map { header.tensors[$0] } }

    /// What an error about a tensor name a user typed says: the name and the image's first quantized
    /// tensors (the name is not in the image, which is not a corrupt image).
    public func unknownTensorDescription(_ name: String) -> String {
        let names = header.tensors.filter { $0.kind != .norm }.map(\.name)
        return "the image has no quantized tensor '\(name)' (its matrices: \(names.prefix(4).joined(separator: ", ")), ... \(names.count) in all; `roma inspect` lists them)"
    }

    public func requireTensor(_ name: String) throws -> Tensor {
        guard let t = tensor(name) else { throw ROMImageError.corrupt("tensor '\(name)' is missing") }
        return t
    }

    public var data: UnsafeRawPointer { file.bytes.baseAddress! + dataOffset }

    /// Packed codes of row r.
    public func codes(_ t: Tensor, row r: Int = 0) -> UnsafePointer<UInt8> {
        (data + t.codesOffset + r * t.rowCodeBytes).assumingMemoryBound(to: UInt8.self)
    }
    /// FP16 scale bit patterns, [rows, groupsPerRow].
    public func scales(_ t: Tensor) -> UnsafePointer<UInt16> { (data + t.scalesOffset).assumingMemoryBound(to: UInt16.self) }
    /// Zero points, [rows, groupsPerRow].
    public func zeros(_ t: Tensor) -> UnsafePointer<UInt8> { (data + t.zerosOffset).assumingMemoryBound(to: UInt8.self) }
    /// FP16 values of a norm tensor.
    public func normValues(_ t: Tensor) -> [Float] {
        let p = (data + t.codesOffset).assumingMemoryBound(to: UInt16.self)
        return (0..<t.cols).map { FP16.toFloat(p[$0]) }
    }

    /// Dequantized FP32 row (w - z) * s, for tools and tests.
    public func dequantizeRow(_ t: Tensor, _ r: Int) -> [Float] {
        let q = GroupQuantizer(bits: t.bits, groupSize: t.groupSize)
        var unpacked = [UInt8](repeating: 0, count: t.groupSize)
        var out = [Float](repeating: 0, count: t.cols)
        let base = codes(t, row: r), sc = scales(t), zp = zeros(t)
        for g in 0..<t.groupsPerRow {
            unpacked.withUnsafeMutableBufferPointer { q.unpack(base + g * q.packedGroupBytes, into: $0.baseAddress!) }
            let s = FP16.toFloat(sc[r * t.groupsPerRow + g]), z = Int(zp[r * t.groupsPerRow + g])
            for k in 0..<t.groupSize { out[g * t.groupSize + k] = Float(Int(unpacked[k]) - z) * s }
        }
        return out
    }

    /// Bytes of ROM the tensor occupies (codes + scales + zero points at the stored widths).
    public func romBytes(_ t: Tensor) -> Int {
        t.kind == .norm ? t.codesBytes : t.codesBytes + t.rows * t.groupsPerRow * 2 + (t.rows * t.groupsPerRow * t.bits + 7) / 8
    }

    /// Bits per base weight the chip's ROM holds for the quantized tensors: codes, FP16 group scales and
    /// b-bit zero points (`romBytes`), over their weights.
    public var bitsPerWeight: Double { quantizedBitsPerWeight(romBytes) }

    /// The same in this file, where each zero point takes a whole byte.
    public var fileBitsPerWeight: Double { quantizedBitsPerWeight { $0.codesBytes + 3 * $0.rows * $0.groupsPerRow } }

    /// 8 · Σ bytes(t) / Σ weights over the quantized (non-norm) tensors.
    private func quantizedBitsPerWeight(_ bytes: (Tensor) -> Int) -> Double {
        let q = header.tensors.filter { $0.kind != .norm }
        return 8 * Double(q.reduce(0) { $0 + bytes($1) }) / Double(max(1, q.reduce(0) { $0 + $1.rows * $1.cols }))
    }
}

public enum ROMImageError: Error, CustomStringConvertible, Equatable {
    case io(String)
    case corrupt(String)
    case unsupportedVersion(UInt32)
    case checksumMismatch(stored: String, actual: String)
    case invalid(String)

    public var description: String {
        switch self {
        case .io(let m): return m
        case .corrupt(let m): return "corrupt ROM image: \(m)"
        case .unsupportedVersion(let v): return "unsupported ROM image version \(v) (this build reads version \(ROMImage.version))"
        case .checksumMismatch(let s, let a): return "ROM image checksum mismatch: stored \(s.prefix(16))..., computed \(a.prefix(16))... (the image is corrupt)"
        case .invalid(let m): return m
        }
    }
}

extension ROMImage {
    /// Writes an image file (docs/rom-image.md): preamble, header JSON (keys sorted), zero padding to
    /// the 4096-aligned data offset, `data`; SHA-256 into bytes 32..<64. Streamed to `path.part`, then
    /// renamed over `path` in one step and made read-only (0444). Refuses a `path` that exists and is not
    /// a regular file. Returns the checksum and the file size.
    public static func write(header: Header, data: UnsafeRawBufferPointer, to path: String) throws -> (checksum: [UInt8], bytes: Int) {
        try checkOutputPath(path)
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        let json = try enc.encode(header)
        let dataOffset = (headerSize + json.count + dataAlignment - 1) / dataAlignment * dataAlignment
        var preamble = [UInt8](repeating: 0, count: headerSize)
        preamble.replaceSubrange(0..<8, with: magic)
        withUnsafeBytes(of: version.littleEndian) { preamble.replaceSubrange(8..<12, with: $0) }
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { preamble.replaceSubrange(16..<24, with: $0) }
        withUnsafeBytes(of: UInt64(dataOffset).littleEndian) { preamble.replaceSubrange(24..<32, with: $0) }
        let padding = [UInt8](repeating: 0, count: dataOffset - headerSize - json.count)
        var h = SHA256()   // over bytes 0..<32 and 64..<end (computeChecksum)
        preamble.withUnsafeBytes { h.update(UnsafeRawBufferPointer(rebasing: $0[0..<32])) }
        json.withUnsafeBytes { h.update($0) }
        h.update(padding)
        h.update(data)
        let sum = h.finalize()
        preamble.replaceSubrange(32..<64, with: sum)

        let tmp = path + ".part"
        try? FileManager.default.removeItem(atPath: tmp)
        guard FileManager.default.createFile(atPath: tmp, contents: nil), let fh = FileHandle(forWritingAtPath: tmp) else {
            throw ROMImageError.io("cannot write '\(tmp)'")
        }
        do {
            try fh.write(contentsOf: preamble)
            try fh.write(contentsOf: json)
            try fh.write(contentsOf: padding)
            if data.count > 0 { try fh.write(contentsOf: Data(bytesNoCopy: UnsafeMutableRawPointer(mutating: data.baseAddress!), count: data.count, deallocator: .none)) }
            try fh.close()
        } catch {
            try? fh.close()
            try? FileManager.default.removeItem(atPath: tmp)
            throw ROMImageError.io("cannot write '\(tmp)': \(error.localizedDescription)")
        }
        // The ROM is read-only: so is its image.
        try FileManager.default.setAttributes([.posixPermissions: 0o444], ofItemAtPath: tmp)
        guard rename(tmp, path) == 0 else {
            let reason = String(cString: strerror(errno))
            try? FileManager.default.removeItem(atPath: tmp)
            throw ROMImageError.io("cannot write '\(path)': \(reason)")
        }
        return (sum, dataOffset + data.count)
    }

    /// Whether two paths name the same file (after `.`/`..` and symbolic links are resolved): an output
    /// that would replace one of a command's inputs.
    public static func isSameFile(_ a: String, _ b: String) -> Bool {
        func resolved(_ p: String) -> String { URL(fileURLWithPath: p).standardizedFileURL.resolvingSymlinksInPath().path }
        return resolved(a) == resolved(b)
    }

    /// An image may be written to `path`: it does not exist or is a regular file, and its directory exists.
    public static func checkOutputPath(_ path: String) throws {
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDir) {
            let type = (try? FileManager.default.attributesOfItem(atPath: path)[.type] as? FileAttributeType) ?? nil
            guard !isDir.boolValue, type == .typeRegular else {
                throw ROMImageError.io("cannot write the image to '\(path)': it exists and is not a regular file")
            }
        }
        let dir = URL(fileURLWithPath: path).deletingLastPathComponent().path
        guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue else {
            throw ROMImageError.io("cannot write the image to '\(path)': directory '\(dir)' does not exist")
        }
        guard FileManager.default.isWritableFile(atPath: dir) else {
            throw ROMImageError.io("cannot write the image to '\(path)': directory '\(dir)' is not writable")
        }
    }

    /// Bytes of every L-Unit's contents together: each quantized tensor's codes, FP16 scales and zero points.
    public var quantizedContentBytes: Int {
        header.tensors.filter { $0.kind != .norm }.reduce(0) { $0 + $1.codesBytes + 3 * $1.rows * $1.groupsPerRow }
    }

    /// The bytes L-Unit `unit` holds, in ROM order: for each quantized tensor (image order), the packed
    /// codes of its rows, then their FP16 scales, then their zero points (docs/rom-image.md).
    public func unitContents(unit u: Int) throws -> [UInt8] {
        guard (0..<header.units.count).contains(u) else {
            throw ROMImageError.invalid("L-Unit \(u) is outside the image's \(header.units.count) units")
        }
        var out: [UInt8] = []
        let base = data.assumingMemoryBound(to: UInt8.self)
        for t in header.tensors where t.kind != .norm {
            let r0 = t.unitRowStart[u], r1 = t.unitRowStart[u + 1]
            guard r1 > r0 else { continue }
            let gpr = t.groupsPerRow
            out.append(contentsOf: UnsafeBufferPointer(start: base + t.codesOffset + r0 * t.rowCodeBytes, count: (r1 - r0) * t.rowCodeBytes))
            out.append(contentsOf: UnsafeBufferPointer(start: base + t.scalesOffset + r0 * gpr * 2, count: (r1 - r0) * gpr * 2))
            out.append(contentsOf: UnsafeBufferPointer(start: base + t.zerosOffset + r0 * gpr, count: (r1 - r0) * gpr))
        }
        return out
    }
}

extension ROMImageError: ROMAError {
    public var code: ErrorCode {
        switch self {
        case .io: return .ioFailure
        case .corrupt, .checksumMismatch: return .corruptInput
        case .unsupportedVersion: return .unsupported
        case .invalid: return .invalidArgument
        }
    }
}

extension ROMImage {
    /// The bytes the L-Units read from ROM for one decoded token: every linear's codes, FP16 scales
    /// and zero points, and the embedding's when it is also the output head (no `output.weight`);
    /// otherwise the embedding lookup reads one row, which is left out.
    public var bytesReadPerToken: Int {
        let tiedHead = !header.tensors.contains { $0.name == "output.weight" }
        return header.tensors.reduce(0) { sum, t in
            guard t.kind == .linear || (t.kind == .embedding && tiedHead) else { return sum }
            return sum + t.codesBytes + t.rows * t.groupsPerRow * 3
        }
    }
}
