import Foundation
import ROMAChip

/// Geometry of the ROMA chip as far as the ROM is concerned (Sec. III-A, Table I), read from the one
/// chip description (`ChipConfig`): the array's rows with the vector-unit row between the matrix arrays,
/// its columns and the ROM size.
public struct RTLArrayConfig: Codable, Equatable, Sendable {
    /// Rows of the 2-D unit array: 17 = 8 matrix rows + 1 vector-unit row + 8 matrix rows (Sec. III-A).
    public var rows: Int
    /// Columns of the array: 16 (Sec. III-A).
    public var columns: Int
    /// The row (0-based, counted from the top) that holds the vector units rather than matrix units
    /// (Sec. III-A: "the central part ... is a 1x16 array of vector units"). Its units have no L-Unit.
    public var vectorUnitRow: Int
    /// Total B-ROM capacity of the chip in bytes: 1.86 GB (Table I), read as 1.86e9 bytes.
    public var romBytes: Double

    public init(rows: Int, columns: Int, vectorUnitRow: Int, romBytes: Double) {
        self.rows = rows
        self.columns = columns
        self.vectorUnitRow = vectorUnitRow
        self.romBytes = romBytes
    }

    /// The array of a chip: its matrix arrays stacked with the vector-unit row after the first half of
    /// them (the paper: 8 matrix rows, the vector row, 8 matrix rows).
    public init(chip: ChipConfig) {
        let a = chip.array
        self.init(rows: a.rows, columns: a.columns, vectorUnitRow: a.matrixRowsPerArray * (a.matrixArrays / 2),
                  romBytes: chip.memory.romBytes)
    }

    /// The paper's chip (Sec. III-A, Table I).
    public static let paper = RTLArrayConfig(chip: .paper)

    /// Number of L-Units = matrix units = (rows - 1) * columns = 256 for the paper's chip.
    public var lUnits: Int { (rows - ((0..<rows).contains(vectorUnitRow) ? 1 : 0)) * columns }

    /// ROM bits held by one L-Unit when the chip's ROM is spread evenly over its L-Units.
    public var romBitsPerLUnit: Double { romBytes * 8 / Double(lUnits) }

    /// The L-Unit index of a matrix unit: matrix rows counted top to bottom skipping the vector row,
    /// times the columns, plus the column (the order a ROM image's partition map uses).
    public func lUnitIndex(_ unit: ArrayUnit) -> Int {
        let matrixRow = unit.row < vectorUnitRow ? unit.row : unit.row - 1
        return matrixRow * columns + unit.column
    }

    /// Checks that `unit` names a matrix unit (one with an L-Unit) of this array.
    public func validate(_ unit: ArrayUnit) throws {
        guard (0..<rows).contains(unit.row), (0..<columns).contains(unit.column) else {
            throw RTLError.unitOutsideArray(row: unit.row, column: unit.column, rows: rows, columns: columns)
        }
        if unit.row == vectorUnitRow { throw RTLError.unitIsVectorUnit(row: unit.row, column: unit.column) }
    }
}

/// A unit of the 2-D array, addressed as ROW,COL (0-based, row 0 at the top).
public struct ArrayUnit: Equatable, Sendable, CustomStringConvertible {
    public var row: Int
    public var column: Int
    public init(row: Int, column: Int) { self.row = row; self.column = column }

    /// Parses the CLI form "ROW,COL".
    public init(parsing text: String) throws {
        let parts = text.split(separator: ",", omittingEmptySubsequences: false)
            .map { $0.trimmingCharacters(in: .whitespaces) }
        guard parts.count == 2, let r = Int(parts[0]), let c = Int(parts[1]) else {
            throw RTLError.invalidUnitSyntax(text)
        }
        self.init(row: r, column: c)
    }

    public var description: String { "\(row),\(column)" }
}
