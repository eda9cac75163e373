import Foundation
import ROMANumerics

/// Every way the RTL generator, its inputs or the external EDA tools can fail, each with a message
/// that names the problem (DEVELOPERS.md: "bad input gets a clear error naming the problem").
public enum RTLError: Error, Equatable, Sendable, CustomStringConvertible, LocalizedError {
    case invalidDepth(Int, reason: String)
    case invalidWidth(Int, reason: String)
    case tileTooLarge(depth: Int, width: Int, maxBits: Int)
    case invalidName(String)
    case hexLine(file: String, line: Int, reason: String)
    case hexLineCount(file: String, expected: Int, found: Int)
    case unitOutsideArray(row: Int, column: Int, rows: Int, columns: Int)
    case unitIsVectorUnit(row: Int, column: Int)
    case invalidUnitSyntax(String)
    case invalidOffset(Int)
    case badFlags(String)
    case io(String)
    case manifest(path: String, reason: String)
    case toolMissing(String)
    case toolFailed(tool: String, status: Int32, output: String)
    case toolTimedOut(tool: String, seconds: Double)
    case verificationFailed(String)

    public var description: String {
        switch self {
        case let .invalidDepth(d, reason): return "invalid depth \(d): \(reason)"
        case let .invalidWidth(w, reason): return "invalid width \(w): \(reason)"
        case let .tileTooLarge(d, w, maxBits):
            return "tile \(d)x\(w) = \(d * w) bits is larger than the \(maxBits)-bit limit of one generated tile; split it into smaller tiles"
        case let .invalidName(n):
            return "invalid module name '\(n)': use a Verilog identifier ([A-Za-z_][A-Za-z0-9_]*, not a keyword)"
        case let .hexLine(file, line, reason): return "\(file):\(line): \(reason)"
        case let .hexLineCount(file, expected, found):
            return "\(file): expected \(expected) words (one per line, the tile depth), found \(found)"
        case let .unitOutsideArray(r, c, rows, cols):
            return "unit \(r),\(c) is outside the \(rows)x\(cols) array (rows 0...\(rows - 1), columns 0...\(cols - 1))"
        case let .unitIsVectorUnit(r, c):
            return "unit \(r),\(c) is in the vector-unit row; it has no L-Unit (no ROM)"
        case let .invalidUnitSyntax(s): return "invalid unit '\(s)': expected ROW,COL (two integers, e.g. 3,12)"
        case let .invalidOffset(n): return "invalid offset \(n): must be >= 0"
        case let .badFlags(msg): return msg
        case let .io(msg): return msg
        case let .manifest(path, reason): return "\(path): \(reason)"
        case let .toolMissing(tool):
            return "\(tool) not found on PATH; run scripts/install-eda.sh (installs iverilog and yosys)"
        case let .toolFailed(tool, status, output):
            return "\(tool) failed (exit status \(status)):\n\(output)"
        case let .toolTimedOut(tool, seconds): return "\(tool) did not finish within \(Int(seconds)) s"
        case let .verificationFailed(msg): return "verification failed: \(msg)"
        }
    }

    public var errorDescription: String? { description }
}

extension RTLError: ROMAError {
    public var code: ErrorCode {
        switch self {
        case .invalidDepth, .invalidWidth, .tileTooLarge, .invalidName, .unitOutsideArray, .unitIsVectorUnit,
             .invalidUnitSyntax, .invalidOffset, .badFlags: return .invalidArgument
        case .hexLine, .hexLineCount, .manifest: return .corruptInput
        case .io, .toolFailed, .toolTimedOut: return .ioFailure
        case .toolMissing: return .notFound
        case .verificationFailed: return .verificationFailed
        }
    }
}
