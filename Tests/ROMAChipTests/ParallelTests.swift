import XCTest
import Foundation
import ROMANumerics
import Synchronization

/// The worker pool the L-Units' products run on: every index of a job runs exactly once, whatever the
/// thread count, the chunk and how unevenly the work is spread (threads that finish their own share
/// take over the rest of the others').
final class ParallelTests: XCTestCase {
    func testEveryIndexRunsExactlyOnceOnEveryThreadCount() {
        defer { Parallel.use(threads: ProcessInfo.processInfo.activeProcessorCount) }
        for threads in [1, 2, 3, 5] {
            Parallel.use(threads: threads)
            XCTAssertEqual(Parallel.threads, threads)
            for count in [0, 1, 2, 7, 64, 1000] {
                for minChunk in [1, 3] {
                    let hits = UnsafeMutablePointer<Int>.allocate(capacity: max(1, count))
                    hits.initialize(repeating: 0, count: max(1, count))
                    defer { hits.deallocate() }
                    let h = Unchecked(hits)
                    Parallel.forEach(count, minChunk: minChunk) { i in
                        // the later indices cost more: the first thread's share ends early and it helps
                        var x = 0.0
                        for k in 0..<(i * 20) { x += Double(k) }
                        h.value[i] += x >= 0 ? 1 : 2
                    }
                    let wrong = (0..<count).filter { hits[$0] != 1 }
                    XCTAssertEqual(wrong, [], "\(threads) threads, \(count) indices, chunk \(minChunk): indices not run exactly once")
                }
            }
        }
    }

    /// Back-to-back jobs of a few indices, the decode step's pattern: a helper still waking up for one
    /// job finds it closed (the caller claimed everything) and must neither run any of its indices
    /// late nor mistake the next job for it; when `forEach` returns, each index has run once.
    func testBackToBackSmallJobsRunEachIndexOnceBeforeReturning() {
        defer { Parallel.use(threads: ProcessInfo.processInfo.activeProcessorCount) }
        for threads in [2, 3] {
            Parallel.use(threads: threads)
            let hits = UnsafeMutablePointer<Int>.allocate(capacity: 4)
            defer { hits.deallocate() }
            let h = Unchecked(hits)
            var wrong = 0
            let caller = pthread_self(), elsewhere = Tally()   // indices a helper ran: the joining side is exercised
            for job in 0..<20_000 {
                let count = job % 4 + 1
                hits.initialize(repeating: 0, count: 4)
                Parallel.forEach(count) { i in
                    var x = 0.0   // some last indices run longer
                    if i == count - 1 { for k in 0..<(job % 5 * 1_000) { x += Double(k) } }   // up to a few µs: helpers join too
                    h.value[i] += x >= 0 ? job + 1 : 0
                    if pthread_equal(pthread_self(), caller) == 0 { elsewhere.count.add(1, ordering: .relaxed) }
                }
                if (0..<count).contains(where: { hits[$0] != job + 1 }) { wrong += 1 }
            }
            XCTAssertEqual(wrong, 0, "\(threads) threads: jobs whose indices did not each run once before forEach returned")
            XCTAssertGreaterThan(elsewhere.count.load(ordering: .relaxed), 0, "\(threads) threads: no helper ever joined a job")
        }
    }
}

private final class Tally: Sendable { let count = Atomic<Int>(0) }
