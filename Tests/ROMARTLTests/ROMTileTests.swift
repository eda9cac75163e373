import Foundation
import XCTest
import ROMAChip
@testable import ROMARTL

/// Hex parsing, tile geometry and array-unit validation: pure Swift, no tools.
final class ROMTileTests: XCTestCase {
    func testHexRoundTripAndBits() throws {
        let g = try ROMGeometry(depth: 4, width: 12)
        let text = "abc\n0F0\n// a comment\n\n001 // trailing comment\nFFF\r\n"
        let t = try ROMTile(hex: text, geometry: g)
        XCTAssertEqual((0..<4).map { t.word($0) }, [[0xABC], [0x0F0], [0x001], [0xFFF]])
        XCTAssertTrue(t.bit(0, 2) && !t.bit(0, 0) && t.bit(0, 11))   // 0xabc = 1010_1011_1100
        XCTAssertEqual(t.hexFile, "abc\n0f0\n001\nfff\n")
        XCTAssertEqual(t.ones, 7 + 4 + 1 + 12)
        XCTAssertEqual(try ROMTile(hex: t.hexFile, geometry: g), t)
    }

    func testWideWordsUseSeveralLimbs() throws {
        let g = try ROMGeometry(depth: 2, width: 128)
        let w0 = "8" + String(repeating: "0", count: 15) + "0123456789abcdef"
        let t = try ROMTile(hex: w0 + "\n" + String(repeating: "f", count: 32) + "\n", geometry: g)
        XCTAssertEqual(t.word(0), [0x0123_4567_89AB_CDEF, 0x8000_0000_0000_0000])
        XCTAssertEqual(t.word(1), [~0, ~0])
        XCTAssertTrue(t.bit(0, 127) && !t.bit(0, 126) && t.bit(0, 0))
        XCTAssertEqual(t.hex(0), w0)
    }

    func testBlockCodeReadsFourStoredBitsOfAColumn() throws {
        // column 0 of words 0..3 = 1,0,1,1 -> k = 0b1101 = 13 (bit i of k = M_{4b+i, j}, Sec. III-C)
        let t = try ROMTile(geometry: ROMGeometry(depth: 8, width: 2), words: [1, 2, 1, 1, 0, 0, 0, 2])
        XCTAssertEqual(t.blockCode(block: 0, column: 0), 13)
        XCTAssertEqual(t.blockCode(block: 0, column: 1), 2)
        XCTAssertEqual(t.blockCode(block: 1, column: 0), 0)
        XCTAssertEqual(t.blockCode(block: 1, column: 1), 8)
    }

    func testHexErrorsNameTheProblem() throws {
        let g = try ROMGeometry(depth: 4, width: 8)
        XCTAssertThrowsError(try ROMTile(hex: "00\n0\n00\n00\n", geometry: g, name: "x.hex")) { e in
            XCTAssertEqual(e as? RTLError, .hexLine(file: "x.hex", line: 2,
                reason: "expected 2 hex digits for a 8-bit word, found 1 characters ('0')"))
        }
        XCTAssertThrowsError(try ROMTile(hex: "00\n123\n00\n00\n", geometry: g, name: "x.hex")) { e in
            XCTAssertTrue("\(e)".contains("x.hex:2: expected 2 hex digits"), "\(e)")
        }
        XCTAssertThrowsError(try ROMTile(hex: "00\n0g\n00\n00\n", geometry: g, name: "x.hex")) { e in
            XCTAssertEqual("\(e)", "x.hex:2: 'g' is not a hex digit")
        }
        XCTAssertThrowsError(try ROMTile(hex: "00\n01\n02\n", geometry: g, name: "x.hex")) { e in
            XCTAssertEqual(e as? RTLError, .hexLineCount(file: "x.hex", expected: 4, found: 3))
            XCTAssertEqual("\(e)", "x.hex: expected 4 words (one per line, the tile depth), found 3")
        }
        XCTAssertThrowsError(try ROMTile(hex: "00\n01\n02\n03\n04\n", geometry: g, name: "x.hex")) { e in
            XCTAssertEqual("\(e)", "x.hex:5: more than the tile depth of 4 words")
        }
        XCTAssertThrowsError(try ROMTile(hex: "", geometry: g, name: "empty.hex")) { e in
            XCTAssertEqual(e as? RTLError, .hexLineCount(file: "empty.hex", expected: 4, found: 0))
        }
        // 6-bit words: two digits, the leading digit may only use 2 bits.
        let g6 = try ROMGeometry(depth: 2, width: 6)
        XCTAssertEqual(try ROMTile(hex: "3f\n00\n", geometry: g6).word(0), [0x3F])
        XCTAssertThrowsError(try ROMTile(hex: "40\n00\n", geometry: g6, name: "w.hex")) { e in
            XCTAssertEqual("\(e)", "w.hex:1: word 40 does not fit in 6 bits")
        }
    }

    func testHexFileSourceReportsMissingFile() throws {
        let src = HexFileTileSource(url: URL(fileURLWithPath: "/nonexistent/roma/x.hex"))
        XCTAssertThrowsError(try src.tile(geometry: ROMGeometry(depth: 4, width: 4))) { e in
            XCTAssertTrue("\(e)".hasPrefix("cannot read hex file /nonexistent/roma/x.hex"), "\(e)")
        }
    }

    func testGeometryErrors() throws {
        XCTAssertThrowsError(try ROMGeometry(depth: 100, width: 8)) { e in
            XCTAssertEqual("\(e)", "invalid depth 100: must be a power of two >= 2")
        }
        XCTAssertThrowsError(try ROMGeometry(depth: 1, width: 8))
        XCTAssertThrowsError(try ROMGeometry(depth: 0, width: 8))
        XCTAssertThrowsError(try ROMGeometry(depth: -4, width: 8))
        XCTAssertNoThrow(try ROMGeometry(depth: 2, width: 8, style: .standard))
        XCTAssertThrowsError(try ROMGeometry(depth: 2, width: 8, style: .brom)) { e in
            XCTAssertEqual("\(e)", "invalid depth 2: a B-ROM groups addresses in blocks of four, so the depth must be a multiple of 4")
        }
        XCTAssertThrowsError(try ROMGeometry(depth: 8, width: 0)) { e in
            XCTAssertEqual("\(e)", "invalid width 0: must be in 1...1024")
        }
        XCTAssertThrowsError(try ROMGeometry(depth: 8, width: 1025))
        XCTAssertThrowsError(try ROMGeometry(depth: 1 << 17, width: 8))
        XCTAssertThrowsError(try ROMGeometry(depth: 1 << 16, width: 128)) { e in
            XCTAssertEqual(e as? RTLError, .tileTooLarge(depth: 1 << 16, width: 128, maxBits: 1 << 22))
        }
        let g = try ROMGeometry(depth: 1024, width: 130)
        XCTAssertEqual([g.addressBits, g.hexDigits, g.limbs, g.bits], [10, 33, 3, 133_120])
    }

    func testModuleNames() {
        for ok in ["rom", "t_64", "_x", "L3_12_w0"] { XCTAssertNoThrow(try RTLManifest.validate(name: ok), ok) }
        for bad in ["", "1rom", "a-b", "a b", "module", "wire", "röm", "a/b"] {
            XCTAssertThrowsError(try RTLManifest.validate(name: bad), bad) { e in
                XCTAssertEqual(e as? RTLError, .invalidName(bad))
            }
        }
    }

    func testArrayConfigAndUnits() throws {
        let c = RTLArrayConfig.paper
        XCTAssertEqual(c.lUnits, 256) // 17x16 array minus the 16 vector units (Sec. III-A)
        XCTAssertEqual(c.romBitsPerLUnit, 58_125_000) // 1.86e9 bytes * 8 / 256
        XCTAssertNoThrow(try c.validate(ArrayUnit(row: 0, column: 0)))
        XCTAssertNoThrow(try c.validate(ArrayUnit(row: 16, column: 15)))
        XCTAssertThrowsError(try c.validate(ArrayUnit(row: 17, column: 3))) { e in
            XCTAssertEqual("\(e)", "unit 17,3 is outside the 17x16 array (rows 0...16, columns 0...15)")
        }
        XCTAssertThrowsError(try c.validate(ArrayUnit(row: 2, column: 16)))
        XCTAssertThrowsError(try c.validate(ArrayUnit(row: -1, column: 0)))
        XCTAssertThrowsError(try c.validate(ArrayUnit(row: 8, column: 5))) { e in
            XCTAssertEqual(e as? RTLError, .unitIsVectorUnit(row: 8, column: 5))
        }
        XCTAssertEqual(try ArrayUnit(parsing: " 3, 12"), ArrayUnit(row: 3, column: 12))
        for bad in ["3", "3,", "a,b", "1,2,3", ""] {
            XCTAssertThrowsError(try ArrayUnit(parsing: bad)) { e in XCTAssertEqual(e as? RTLError, .invalidUnitSyntax(bad)) }
        }
        // the array comes from the one chip description
        XCTAssertEqual(c, RTLArrayConfig(rows: 17, columns: 16, vectorUnitRow: 8, romBytes: 1.86e9))
        var small = ChipConfig.paper
        small.array.matrixRowsPerArray = 4
        small.memory.romBytes = 1e9
        let derived = RTLArrayConfig(chip: small)
        XCTAssertEqual(derived, RTLArrayConfig(rows: 9, columns: 16, vectorUnitRow: 4, romBytes: 1e9))
        XCTAssertEqual(derived.lUnits, small.array.matrixUnits)
    }

    func testImageSourceValidatesUnitAndFile() throws {
        let g = try ROMGeometry(depth: 64, width: 32)
        let url = URL(fileURLWithPath: "/nonexistent/x.rom")
        XCTAssertThrowsError(try ROMImageTileSource(url: url, unit: ArrayUnit(row: 3, column: 4), offset: 0).tile(geometry: g)) { e in
            XCTAssertEqual(e as? RTLError, .io("ROM image '/nonexistent/x.rom' not found"))
        }
        XCTAssertThrowsError(try ROMImageTileSource(url: url, unit: ArrayUnit(row: 30, column: 4), offset: 0).tile(geometry: g)) { e in
            XCTAssertEqual(e as? RTLError, .unitOutsideArray(row: 30, column: 4, rows: 17, columns: 16))
        }
        XCTAssertThrowsError(try ROMImageTileSource(url: url, unit: ArrayUnit(row: 3, column: 4), offset: -1).tile(geometry: g)) { e in
            XCTAssertEqual(e as? RTLError, .invalidOffset(-1))
        }
    }

    func testSourceFlags() throws {
        XCTAssertTrue(try makeTileSource(dataHex: "a.hex", image: nil, unit: nil, offset: nil) is HexFileTileSource)
        let img = try makeTileSource(dataHex: nil, image: "x.rom", unit: "3,4", offset: 16) as? ROMImageTileSource
        XCTAssertEqual(img?.unit, ArrayUnit(row: 3, column: 4))
        XCTAssertEqual(img?.offset, 16)
        let cases: [(String?, String?, String?, Int?, String)] = [
            (nil, nil, nil, nil, "give exactly one tile source: a hex file or a ROM image"),
            ("a.hex", "x.rom", "1,1", nil, "give exactly one tile source: a hex file or a ROM image"),
            ("a.hex", nil, "1,1", nil, "a unit and an offset go with an image"),
            ("a.hex", nil, nil, 4, "a unit and an offset go with an image"),
            (nil, "x.rom", nil, nil, "a tile from an image needs its unit ROW,COL"),
            (nil, "x.rom", "1;1", nil, "invalid unit '1;1': expected ROW,COL (two integers, e.g. 3,12)"),
        ]
        for (hex, image, unit, offset, message) in cases {
            XCTAssertThrowsError(try makeTileSource(dataHex: hex, image: image, unit: unit, offset: offset)) { e in
                XCTAssertEqual("\(e)", message)
            }
        }
    }

    func testRandomTilesAreDeterministicAndMasked() throws {
        let g = try ROMGeometry(depth: 16, width: 70)
        let a = ROMTile.random(geometry: g, seed: 42), b = ROMTile.random(geometry: g, seed: 42)
        XCTAssertEqual(a, b)
        XCTAssertNotEqual(a, ROMTile.random(geometry: g, seed: 43))
        for i in 0..<16 { XCTAssertEqual(a.word(i)[1] >> 6, 0) } // bits 70...127 clear
        XCTAssertEqual(try ROMTile(hex: a.hexFile, geometry: g), a)
    }
}
