/// What every error of the ROMA libraries tells a caller beyond its message: a stable `code` to act on
/// (the CLI picks a hint by it, a server an HTTP status and an OpenAI error code) and, where another
/// error caused it, that `cause`. Each module has its error type conforming to this; messages name the
/// problem and never a command-line flag (the CLI adds its own hints).
public protocol ROMAError: Error, CustomStringConvertible {
    var code: ErrorCode { get }
    /// The underlying error, when this one wraps another (a file that could not be read, ...).
    var cause: Error? { get }
}

extension ROMAError {
    public var cause: Error? { nil }
}

/// The kinds of failure, shared by every module.
public enum ErrorCode: String, Sendable, Codable, CaseIterable {
    /// A value outside what the operation accepts (a parameter, a flag's value, a request field).
    case invalidArgument
    /// A named thing does not exist (file, tensor, metadata key, adapter, preset).
    case notFound
    /// Input data is malformed or inconsistent (truncated file, bad magic, wrong shape, bad checksum).
    case corruptInput
    /// Well-formed, but describes something this build does not implement (version, format, type).
    case unsupported
    /// A memory budget cannot hold the request (the chip's SRAM, the host's RAM).
    case overBudget
    /// More tokens than a context or cache holds.
    case contextOverflow
    /// The operation is refused in the current state (in use, pinned, already registered).
    case conflict
    /// An optimisation or solver did not converge (non-finite loss, a matrix not positive definite).
    case diverged
    /// An external tool or the file system failed.
    case ioFailure
    /// A verification found a mismatch.
    case verificationFailed
}
