import Foundation
import ROMAChip
import ROMANumerics

/// Learned rounding of one tensor's codes (`roma tune --learn-rounding`): every weight gets a latent value u,
/// starting at its code c₀; the student uses the code c = clamp(round(u), 0, 2ᵇ − 1), and the loss's
/// gradient reaches u straight through the rounding, dL/du = s · dL/dW (W = (c − z)·s). u moves by Adam
/// and is held within `radius` of c₀, so a code changes by at most ±radius: the compiler's choice is
/// the start, the network's loss picks which way each weight rounds (AdaRound-style, end to end).
/// `@unchecked Sendable`: owned by one tuning run; its buffers are touched only between passes (the
/// parallel loops write disjoint ranges).
final class TunedCodes: @unchecked Sendable {
    let count: Int
    let maxCode: Float
    let radius: Float
    /// The parent's codes (unpacked) and zero point of every weight's group.
    let c0: UnsafeMutablePointer<UInt8>
    let zeros: [UInt8]
    /// Latent values, their Adam moments and the gradient summed since the last step.
    let u: UnsafeMutablePointer<Float>, m: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>
    let acc: UnsafeMutablePointer<Float>

    /// `q` holds c₀ − z per weight (the scale tuner's form); `zeros` one zero point per group.
    init(q: UnsafePointer<Int8>, count: Int, groupSize: Int, zeros: [UInt8], bits: Int, radius: Float) {
        self.count = count; self.zeros = zeros; self.radius = radius
        maxCode = Float((1 << bits) - 1)
        c0 = .allocate(capacity: count)
        u = .allocate(capacity: count); m = .allocate(capacity: count); v = .allocate(capacity: count); acc = .allocate(capacity: count)
        let (cp, up, G) = (Unchecked(c0), Unchecked(u), groupSize)
        Parallel.forEach(zeros.count, minChunk: 1024) { g in
            let z = Int(zeros[g])
            for k in (g * G)..<((g + 1) * G) {
                cp.value[k] = UInt8(Int(q[k]) + z)
                up.value[k] = Float(cp.value[k])
            }
        }
        m.initialize(repeating: 0, count: count); v.initialize(repeating: 0, count: count); acc.initialize(repeating: 0, count: count)
    }
    deinit { c0.deallocate(); u.deallocate(); m.deallocate(); v.deallocate(); acc.deallocate() }

    /// The code weight `i` uses now.
    @inline(__always) func code(_ i: Int) -> UInt8 { UInt8(min(maxCode, max(0, u[i].rounded()))) }

    /// Adds dL/du = s · dL/dW for the weights of group `g` (scale `s`).
    @inline(__always) func accumulate(group g: Int, groupSize G: Int, scale s: Float, gradient: UnsafePointer<Float>) {
        for k in (g * G)..<((g + 1) * G) { acc[k] += gradient[k] * s }
    }

    /// One Adam step on u (held within `radius` of c₀) from the accumulated gradient, which it clears;
    /// writes the new c − z into `q`. Returns how many codes differ from the parent's.
    func update(_ adam: AdamState, lr: Float, groupSize G: Int, q: UnsafeMutablePointer<Int8>) -> Int {
        let c = adam.corrections
        let (up, mp, vp, ap, cp, qp) = (Unchecked(u), Unchecked(m), Unchecked(v), Unchecked(acc), Unchecked(c0), Unchecked(q))
        let zeros = self.zeros, radius = self.radius
        let changed = UnsafeMutablePointer<Int>.allocate(capacity: zeros.count)
        defer { changed.deallocate() }
        let ch = Unchecked(changed)
        Parallel.forEach(zeros.count, minChunk: 1024) { g in
            let z = Int(zeros[g])
            var n = 0
            for k in (g * G)..<((g + 1) * G) {
                adam.update(&up.value[k], ap.value[k], &mp.value[k], &vp.value[k], lr: lr, corrections: c)
                ap.value[k] = 0
                let c0 = Float(cp.value[k])
                up.value[k] = min(c0 + radius, max(c0 - radius, up.value[k]))
                let code = self.code(k)
                qp.value[k] = Int8(Int(code) - z)
                if code != cp.value[k] { n += 1 }
            }
            ch.value[g] = n
        }
        return (0..<zeros.count).reduce(0) { $0 + changed[$1] }
    }

    /// The current codes of one row, packed into the image's layout at `out` (row `r` of a tensor
    /// with `groupsPerRow` groups).
    func pack(row r: Int, groupsPerRow: Int, quantizer: GroupQuantizer, into out: UnsafeMutablePointer<UInt8>) {
        let G = quantizer.groupSize
        let codes = UnsafeMutablePointer<UInt8>.allocate(capacity: G)
        defer { codes.deallocate() }
        for g in 0..<groupsPerRow {
            let base = (r * groupsPerRow + g) * G
            for k in 0..<G { codes[k] = code(base + k) }
            quantizer.pack(codes, into: out + g * quantizer.packedGroupBytes)
        }
    }
}
