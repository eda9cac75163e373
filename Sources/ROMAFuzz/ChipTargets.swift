import Foundation
import ROMAChip
import ROMAModel
import ROMATokenizer

/// ROM image: header, JSON, partition map and section bounds, with the checksum check off so the
/// fuzzer gets past it; then every tensor's first and last row dequantized, every unit's contents,
/// and the tokenizer the image carries.
public enum ROMImageTarget: FuzzTarget {
    public static let name = "rom"
    public static let dictionary = ["ROMAROM\0", "\u{1}\0\0\0", "\"tensors\"", "\"quantization\"", "\"model\"", "\"units\"",
        "\"codesOffset\"", "\"codesBytes\"", "\"scalesOffset\"", "\"zerosOffset\"", "\"unitRowStart\"", "\"groupSize\"",
        "\"bits\"", "\"rows\"", "\"cols\"", "\"kind\"", "\"linear\"", "\"norm\"", "\"embedding\"", "\"tokenizer\""]

    public static func seeds() throws -> [[UInt8]] {
        try [4, 2].map { try FuzzSeeds.shared.romImage(bits: $0) }
    }

    public static func read(_ bytes: [UInt8], scratch: FuzzScratch) throws {
        let image = try ROMImage(path: scratch.write(bytes, as: "input.rom"), verifyChecksum: false)
        for t in image.header.tensors {
            if t.kind == .norm { _ = image.normValues(t); continue }
            _ = image.dequantizeRow(t, 0)
            _ = image.dequantizeRow(t, t.rows - 1)
            _ = image.romBytes(t)
        }
        for u in 0..<image.header.units.count { _ = try image.unitContents(unit: u) }
        if let tok = try? BPETokenizer(romImage: image) { _ = tok.decode(tok.encode("Hello, world!")) }
    }
}
