import Foundation
import Synchronization

/// Data-parallel loops over the machine's cores, on one `WorkerPool`: persistent worker threads that
/// spin briefly between jobs (decode issues a parallel matrix product every few microseconds, far too
/// often for Dispatch's wake-up latency) and sleep on a condition variable when idle.
/// The thread count is the pool's; a process picks it once at start-up (`use(threads:)`, the CLI's
/// `--threads`), or it is every core.
public enum Parallel {
    private static let current = Mutex<WorkerPool?>(nil)

    /// The pool's threads (the calling thread is one of them).
    public static var threads: Int { pool().threads }

    /// Replaces the pool by one of `threads` threads (between jobs; a running job keeps its pool).
    public static func use(threads: Int) {
        precondition(threads >= 1, "a worker pool needs at least one thread")
        let old = current.withLock { p -> WorkerPool? in
            defer { p = WorkerPool(helpers: threads - 1) }
            return p
        }
        old?.shutdown()
    }

    static func pool() -> WorkerPool {
        current.withLock { p in
            if let p { return p }
            let made = WorkerPool(helpers: max(1, ProcessInfo.processInfo.activeProcessorCount) - 1)
            p = made
            return made
        }
    }

    /// Runs `body(i)` for i in 0..<count on the pool's threads, which claim indices in chunks.
    public static func forEach(_ count: Int, minChunk: Int = 1, _ body: (Int) -> Void) {
        let p = pool()
        let workers = min(p.threads, (count + minChunk - 1) / max(minChunk, 1))
        if workers <= 1 {
            for i in 0..<count { body(i) }
            return
        }
        p.run(count: count, chunk: max(1, minChunk), body)
    }
}

/// Wraps a value that is shared across threads under the caller's own discipline (disjoint writes).
public struct Unchecked<T>: @unchecked Sendable {
    public let value: T
    public init(_ value: T) { self.value = value }
}

/// Persistent helper threads; the caller of `run` works too. Jobs run one at a time (a lock
/// serializes callers). Each thread starts on its own contiguous share of the indices (its `Cursor`,
/// on its own cache lines), claiming shrinking runs of at least `chunk` (`work`), then helps the
/// others finish theirs: a thread streams one contiguous run of a product's rows, and the claims
/// rarely touch a line another core uses. A helper that joins a job after its last index was claimed
/// sits it out (`join`).
///
/// `@unchecked Sendable`: the job fields (`job`, `chunk`, the cursors' `end`) are written by the one
/// caller that holds `runLock`, before `entry` and `generation` are stored (sequentially consistent),
/// and read by a helper only after `join` has counted it into that job; the caller changes them again
/// only after every helper counted in has left. Everything else is atomic.
final class WorkerPool: @unchecked Sendable {
    /// Keeps the atomics below off the cache line of the object's header: every `Parallel.forEach`
    /// retains the pool, and a reference count sharing a line with `generation`, which an idle helper
    /// polls, moved that line between the cores on every call (in a decode profile, a tenth of the
    /// calling thread's samples outside the jobs were that retain).
    private let headerLine: (Int64, Int64, Int64, Int64, Int64, Int64, Int64, Int64) = (0, 0, 0, 0, 0, 0, 0, 0)
    let helpers: Int
    var threads: Int { helpers + 1 }
    private let generation = Atomic<Int>(0)
    private let cursors: [Cursor]
    /// Who is in the current job: its generation (above `entryTagShift`), whether it is closed to
    /// helpers that have not joined yet (`entryClosed`), and how many helpers are in it (below).
    private let entry = Atomic<Int>(0)
    private static let entryClosed = 1 << 20, entryTagShift = 21
    /// The generation bits the tag keeps (it wraps there instead of reaching the sign bit).
    private static let entryTagMask = (1 << (Int.bitWidth - 1 - entryTagShift)) - 1
    private let sleepers = Atomic<Int>(0)
    private let cond = NSCondition()
    private let runLock = NSLock()
    nonisolated(unsafe) private var job: ((Int) -> Void)?
    private let stopped = Atomic<Bool>(false)
    nonisolated(unsafe) private var chunk = 1
    /// How long an idle helper spins before it sleeps.
    private let spinNanoseconds: UInt64 = 200_000

    init(helpers: Int) {
        self.helpers = helpers
        cursors = (0...helpers).map { _ in Cursor() }
        for h in 0..<helpers {
            let t = Thread { [unowned self] in self.helperLoop(index: h + 1) }
            t.stackSize = 1 << 20
            t.start()
        }
    }

    func run(count: Int, chunk: Int, _ body: (Int) -> Void) {
        // A nested call (from inside a job) or a second caller runs serially instead of waiting.
        guard runLock.try() else {
            for i in 0..<count { body(i) }
            return
        }
        defer { runLock.unlock() }
        withoutActuallyEscaping(body) { body in
            job = body
            self.chunk = chunk
            for (t, c) in cursors.enumerated() {
                c.next.store(t * count / threads, ordering: .sequentiallyConsistent)
                c.end = (t + 1) * count / threads
            }
            let next = generation.load(ordering: .sequentiallyConsistent) + 1
            entry.store((next & Self.entryTagMask) << Self.entryTagShift, ordering: .sequentiallyConsistent)   // open, nobody in it
            generation.store(next, ordering: .sequentiallyConsistent)
            if sleepers.load(ordering: .sequentiallyConsistent) > 0 {
                cond.lock(); cond.broadcast(); cond.unlock()
            }
            work(index: 0)
            // every index is claimed: close the job to helpers that have not joined (one still waking up
            // has nothing left to do, and waiting for it cost a small job its wake-up latency), then wait
            // for those in it to finish their claims; yield the core if they are slow (an
            // oversubscribed machine)
            entry.bitwiseOr(Self.entryClosed, ordering: .sequentiallyConsistent)
            var spins = 0
            while entry.load(ordering: .sequentiallyConsistent) & (Self.entryClosed - 1) != 0 {
                spins += 1
                if spins > 2_000 { sched_yield() }
            }
            job = nil
        }
    }

    /// Enters job `generation` unless the caller has closed it (or started a newer one): then the
    /// caller waits for this helper's claims.
    private func join(generation g: Int) -> Bool {
        var e = entry.load(ordering: .sequentiallyConsistent)
        while (e >> Self.entryTagShift) == (g & Self.entryTagMask) && (e & Self.entryClosed) == 0 {
            let (done, now) = entry.compareExchange(expected: e, desired: e + 1, ordering: .sequentiallyConsistent)
            if done { return true }
            e = now
        }
        return false
    }

    /// Lets the helper threads exit (when the thread count changes).
    func shutdown() {
        runLock.lock(); defer { runLock.unlock() }
        stopped.store(true, ordering: .sequentiallyConsistent)
        generation.add(1, ordering: .sequentiallyConsistent)
        cond.lock(); cond.broadcast(); cond.unlock()
    }

    /// Thread `index`'s share first, then the others' in turn. Claims shrink as a share runs out (a
    /// fraction of what is left, at least `chunk`): few claims while there is much to do, single
    /// indices at the end, so that a thread stealing the last of a share seldom waits for a big claim
    /// still running on the other core.
    private func work(index: Int) {
        guard let job else { return }
        let least = chunk, fraction = 8 * threads
        for k in 0..<cursors.count {
            let cursor = cursors[(index + k) % cursors.count]
            let end = cursor.end
            while true {
                let left = end - cursor.next.load(ordering: .relaxed)
                if left <= 0 { break }
                let c = max(least, left / fraction)
                let start = cursor.next.add(c, ordering: .relaxed).oldValue
                if start >= end { break }
                for i in start..<min(start + c, end) { job(i) }
            }
        }
    }

    private func helperLoop(index: Int) {
        var seen = 0
        while true {
            var spins = 0
            var spinStart: UInt64 = 0
            while generation.load(ordering: .sequentiallyConsistent) == seen {
                spins += 1
                if spins & 255 == 0 {
                    sched_yield()
                    let now = DispatchTime.now().uptimeNanoseconds
                    if spinStart == 0 { spinStart = now } else if now - spinStart > spinNanoseconds {
                        cond.lock()
                        sleepers.add(1, ordering: .sequentiallyConsistent)
                        while generation.load(ordering: .sequentiallyConsistent) == seen { cond.wait() }
                        sleepers.subtract(1, ordering: .sequentiallyConsistent)
                        cond.unlock()
                    }
                }
            }
            seen = generation.load(ordering: .sequentiallyConsistent)
            if stopped.load(ordering: .sequentiallyConsistent) { return }
            guard join(generation: seen) else { continue }
            work(index: index)
            entry.subtract(1, ordering: .sequentiallyConsistent)
        }
    }
}

/// One thread's share of a job's indices: the next unclaimed one and the end, padded to cache lines of
/// their own so that claims on two cores do not contend.
final class Cursor: @unchecked Sendable {
    private let before: (Int64, Int64, Int64, Int64, Int64, Int64, Int64, Int64) = (0, 0, 0, 0, 0, 0, 0, 0)
    let next = Atomic<Int>(0)
    nonisolated(unsafe) var end = 0
    private let after: (Int64, Int64, Int64, Int64, Int64, Int64, Int64, Int64) = (0, 0, 0, 0, 0, 0, 0, 0)
}
