import Foundation

/// The machine's read bandwidth as a decode step sees it: a plain streaming read of a mapped buffer
/// (the ROM image) on the worker pool's threads, each claiming 1 MiB slices and XOR-folding them in
/// 64-byte loads with four independent accumulators. What decode at the memory limit would reach.
public enum MemoryBandwidth {
    /// The read rate in bytes per second: the best of `passes` passes over all of `bytes`.
    public static func streamingRead(_ bytes: UnsafeRawBufferPointer, passes: Int = 5) -> Double {
        let slice = 1 << 20
        let n = bytes.count / 256 * 256
        guard n > 0, let base = bytes.baseAddress else { return 0 }
        let slices = (n + slice - 1) / slice
        let sink = UnsafeMutablePointer<UInt64>.allocate(capacity: slices)
        defer { sink.deallocate() }
        let (b, s) = (Unchecked(base), Unchecked(sink))
        var best = 0.0
        for _ in 0..<max(1, passes) {
            let t0 = DispatchTime.now().uptimeNanoseconds
            Parallel.forEach(slices) { i in
                let start = i * slice, end = min(n, start + slice)
                s.value[i] = fold(b.value + start, count: end - start)
            }
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
            best = max(best, Double(n) / seconds)
        }
        var x: UInt64 = 0
        for i in 0..<slices { x ^= sink[i] }
        if x == 0x5EED_5EED_5EED_5EED { print("", terminator: "") }   // keeps the reads observable
        return best
    }

    /// XOR of `count` bytes (a multiple of 256) in 64-byte loads.
    @inline(never)
    static func fold(_ p: UnsafeRawPointer, count: Int) -> UInt64 {
        typealias V = SIMD8<UInt64>
        var a = V(), b = V(), c = V(), d = V()
        var k = 0
        while k < count {
            a ^= p.loadUnaligned(fromByteOffset: k, as: V.self)
            b ^= p.loadUnaligned(fromByteOffset: k &+ 64, as: V.self)
            c ^= p.loadUnaligned(fromByteOffset: k &+ 128, as: V.self)
            d ^= p.loadUnaligned(fromByteOffset: k &+ 192, as: V.self)
            k &+= 256
        }
        let v = (a ^ b) ^ (c ^ d)
        return v[0] ^ v[1] ^ v[2] ^ v[3] ^ v[4] ^ v[5] ^ v[6] ^ v[7]
    }
}
