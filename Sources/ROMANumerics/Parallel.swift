import Foundation
import Dispatch

/// Data-parallel loops over the machine's cores (Dispatch). `threads` is set once by the CLI (`--threads`).
public enum Parallel {
    nonisolated(unsafe) public static var threads: Int = max(1, ProcessInfo.processInfo.activeProcessorCount)

    /// Runs `body(i)` for i in 0..<count, spread over `threads` workers that take indices in chunks.
    public static func forEach(_ count: Int, minChunk: Int = 1, _ body: (Int) -> Void) {
        let workers = min(threads, (count + minChunk - 1) / max(minChunk, 1))
        if workers <= 1 {
            for i in 0..<count { body(i) }
            return
        }
        // Dynamic scheduling: each worker repeatedly claims the next chunk.
        let chunk = max(minChunk, count / (workers * 8))
        let next = UnsafeMutablePointer<Int>.allocate(capacity: 1)
        next.initialize(to: 0)
        defer { next.deallocate() }
        let lock = NSLock()
        withoutActuallyEscaping(body) { body in
            let shared = Unchecked((body, next))
            DispatchQueue.concurrentPerform(iterations: workers) { _ in
                let (body, next) = shared.value
                while true {
                    lock.lock()
                    let start = next.pointee
                    next.pointee = start + chunk
                    lock.unlock()
                    if start >= count { break }
                    for i in start..<min(start + chunk, count) { body(i) }
                }
            }
        }
    }
}

/// Wraps a value that is shared across threads under the caller's own discipline (disjoint writes).
public struct Unchecked<T>: @unchecked Sendable {
    public let value: T
    public init(_ value: T) { self.value = value }
}
