import ROMANumerics

/// The 256 L-Units computing one base-model matrix product straight from ROM (Sec. III-A/B).
/// Each L-Unit holds a contiguous slice of the tensor's output rows (`unitRowStart`); the activations
/// are broadcast, aligned once per 128-group (the alignment unit's output is shared by every compute
/// cell), and every row's group results are summed in FP32 in group order.
public enum LUnitArray {
    /// Aligned activations of T tokens: Int16 values [T, cols], and per (token, group) vsum and the
    /// Eq. 1 power of two 2^(max_exp - Bias) (NaN when the group held inf/NaN).
    /// `@unchecked Sendable`: filled once by the alignment unit, then only read by the L-Unit workers.
    public final class AlignedActivations: @unchecked Sendable {
        public let tokens: Int, cols: Int, groupSize: Int
        public let values: UnsafeMutablePointer<Int16>
        public let vsum: UnsafeMutablePointer<Int32>
        public let pow2: UnsafeMutablePointer<Float>
        public let maxExp: UnsafeMutablePointer<Int32>
        public var groups: Int { cols / groupSize }
        #if ROMA_AVX2
        /// The byte split of `values` for `LUnitAVX2.row64` (`LUnitAVX2.split`), [T, cols] each; made for
        /// the tokens after the whole blocks of eight (all of them in decode).
        let hi8: UnsafeMutablePointer<Int8>, lo8: UnsafeMutablePointer<Int8>
        /// Whole blocks of eight tokens for `LUnitAVX2.row8Tokens`: the values as [block, group, 8 tokens, G],
        /// vsum and pow2 as [block, group, 8 tokens], so that one group of the eight tokens is adjacent.
        let blocked: UnsafeMutablePointer<Int16>, vsumB: UnsafeMutablePointer<Int32>, pow2B: UnsafeMutablePointer<Float>
        var blocks: Int { tokens / 8 }
        #endif

        public init(x: UnsafePointer<Float>, tokens: Int, cols: Int, groupSize: Int, numerics: DatapathNumerics) {
            self.tokens = tokens; self.cols = cols; self.groupSize = groupSize
            values = .allocate(capacity: tokens * cols)
            let ng = cols / groupSize
            vsum = .allocate(capacity: tokens * ng); pow2 = .allocate(capacity: tokens * ng); maxExp = .allocate(capacity: tokens * ng)
            let (v, vs, p2, me) = (Unchecked(values), Unchecked(vsum), Unchecked(pow2), Unchecked(maxExp))
            #if ROMA_AVX2
            hi8 = .allocate(capacity: tokens * cols); lo8 = .allocate(capacity: tokens * cols)
            let (hp, lp) = (Unchecked(hi8), Unchecked(lo8))
            #endif
            #if ROMA_AVX2
            let nb = tokens / 8
            blocked = .allocate(capacity: nb * 8 * cols); vsumB = .allocate(capacity: nb * 8 * ng); pow2B = .allocate(capacity: nb * 8 * ng)
            let (bp, vb, pb) = (Unchecked(blocked), Unchecked(vsumB), Unchecked(pow2B))
            let vectorAlign = numerics.shiftRounding == .truncate && groupSize % 16 == 0
            #endif
            let xs = Unchecked(x)
            Parallel.forEach(tokens, minChunk: 8) { t in
                let bits = UnsafeMutablePointer<UInt16>.allocate(capacity: groupSize)
                defer { bits.deallocate() }
                for g in 0..<ng {
                    let base = t * cols + g * groupSize
                    for k in 0..<groupSize { bits[k] = FP16.fromFloat(xs.value[base + k]) }
                    let maxE: Int, sum: Int32
                    #if ROMA_AVX2
                    if vectorAlign {
                        (maxE, sum) = LUnitAVX2.alignTruncate(bits, count: groupSize, values: v.value + base)
                    } else {
                        let a = LUnit.align(bits, count: groupSize, values: v.value + base, rounding: numerics.shiftRounding)
                        (maxE, sum) = (a.maxExp, a.vsum)
                    }
                    #else
                    let a = LUnit.align(bits, count: groupSize, values: v.value + base, rounding: numerics.shiftRounding)
                    (maxE, sum) = (a.maxExp, a.vsum)
                    #endif
                    vs.value[t * ng + g] = sum
                    me.value[t * ng + g] = Int32(maxE)
                    p2.value[t * ng + g] = maxE == 31 ? .nan : LUnit.pow2(maxE - numerics.bias)   // inf/NaN in the group: NaN
                }
                #if ROMA_AVX2
                AlignedActivations.layOutAVX2(token: t, blocks: nb, cols: cols, groupSize: groupSize,
                                              values: v.value, vsum: vs.value, pow2: p2.value, hi: hp.value, lo: lp.value,
                                              blocked: bp.value, vsumB: vb.value, pow2B: pb.value)
                #endif
            }
        }

        #if ROMA_AVX2
        /// AVX2 layout step: token `t`'s byte split (after the whole blocks of eight) or its blocked copy.
        @inline(__always)
        static func layOutAVX2(token t: Int, blocks nb: Int, cols: Int, groupSize: Int, values v: UnsafeMutablePointer<Int16>,
                               vsum vs: UnsafeMutablePointer<Int32>, pow2 p2: UnsafeMutablePointer<Float>,
                               hi hp: UnsafeMutablePointer<Int8>, lo lp: UnsafeMutablePointer<Int8>, blocked bp: UnsafeMutablePointer<Int16>,
                               vsumB vb: UnsafeMutablePointer<Int32>, pow2B pb: UnsafeMutablePointer<Float>) {
            let ng = cols / groupSize
            if t >= nb * 8 {
                LUnitAVX2.split(v + t * cols, count: cols, hi: hp + t * cols, lo: lp + t * cols)
            } else {
                let b = t / 8, i = t % 8
                for g in 0..<ng {
                    let dst = (b * ng + g) * 8 + i
                    (bp + dst * groupSize).update(from: v + t * cols + g * groupSize, count: groupSize)
                    vb[dst] = vs[t * ng + g]; pb[dst] = p2[t * ng + g]
                }
            }
        }
        #endif

        deinit {
            values.deallocate(); vsum.deallocate(); pow2.deallocate(); maxExp.deallocate()
            #if ROMA_AVX2
            hi8.deallocate(); lo8.deallocate(); blocked.deallocate(); vsumB.deallocate(); pow2B.deallocate()
            #endif
        }
    }

    /// One matrix product for the array: a ROM tensor and where its [T, rows] result goes.
    /// `@unchecked Sendable`: carries a raw output pointer; each worker writes only its own rows of it.
    public struct Product: @unchecked Sendable {
        public let tensor: ROMImage.Tensor
        public let out: UnsafeMutablePointer<Float>
        public let outStride: Int
        public let roundToFP16: Bool
        public init(tensor: ROMImage.Tensor, out: UnsafeMutablePointer<Float>, outStride: Int, roundToFP16: Bool) {
            self.tensor = tensor; self.out = out; self.outStride = outStride; self.roundToFP16 = roundToFP16
        }
    }

    /// Rows per unit of parallel work (a slice of the rows some L-Units hold).
    static let blockRows = 16

    /// out[t * outStride + r] = Σ_g Eq1(group g of row r, token t), optionally rounded to FP16.
    public static func matmul(image: ROMImage, tensor t: ROMImage.Tensor, x: AlignedActivations,
                              out: UnsafeMutablePointer<Float>, outStride: Int, roundToFP16: Bool) {
        matmul(image: image, products: [Product(tensor: t, out: out, outStride: outStride, roundToFP16: roundToFP16)], x: x)
    }

    /// Several products of the same broadcast activations (Q, K, V; gate, up) in one pass over the
    /// array: every unit works on its rows of every tensor, and the alignment is done once.
    public static func matmul(image: ROMImage, products: [Product], x: AlignedActivations) {
        var cells: [Cells] = [], work: [(product: Int, block: Int)] = []
        let table = FP16.table.withUnsafeBufferPointer { $0.baseAddress! }
        for (i, p) in products.enumerated() {
            let t = p.tensor
            precondition(x.cols == t.cols && x.groupSize == t.groupSize, "activation shape does not match tensor '\(t.name)'")
            cells.append(Cells(codes: image.codes(t), scales: image.scales(t), zeros: image.zeros(t), table: table,
                               rows: t.rows, cols: t.cols, groupSize: t.groupSize, bits: t.bits,
                               out: p.out, outStride: p.outStride, roundToFP16: p.roundToFP16))
            for b in 0..<((t.rows + blockRows - 1) / blockRows) { work.append((i, b)) }
        }
        cells.withUnsafeBufferPointer { cp in
            work.withUnsafeBufferPointer { wp in
                let (c, items) = (Unchecked(cp), Unchecked(wp))
                Parallel.forEach(items.value.count) { i in
                    let (pi, b) = items.value[i]
                    let r0 = b * blockRows
                    computeRows(c.value[pi], rows: r0..<min(c.value[pi].rows, r0 + blockRows), x: x)
                }
            }
        }
    }

    /// One product as the compute cells see it: pointers into the mapped image and sizes, so a work
    /// item touches no reference-counted object.
    struct Cells {
        let codes: UnsafePointer<UInt8>, scales: UnsafePointer<UInt16>, zeros: UnsafePointer<UInt8>
        let table: UnsafePointer<Float>   // FP16 bit pattern -> FP32
        let rows: Int, cols: Int, groupSize: Int, bits: Int
        let out: UnsafeMutablePointer<Float>, outStride: Int, roundToFP16: Bool
    }

    /// Rows `rows` of one product, every token. Each row's codes are unpacked once and reused for
    /// every token (eight tokens at a time on AVX2, four for group 64 otherwise); a single token
    /// streams the packed codes.
    static func computeRows(_ p: Cells, rows: Range<Int>, x: AlignedActivations) {
        let T = x.tokens, G = p.groupSize, cols = p.cols, gpr = cols / G, bits = p.bits
        #if ROMA_AVX2
        switch (bits, G) {
        case (4, 64): return computeRowsAVX2(p, rows: rows, x: x, Int4G64.self)
        case (2, 64): return computeRowsAVX2(p, rows: rows, x: x, Int2G64.self)
        case (4, 128): return computeRowsAVX2(p, rows: rows, x: x, Int4G128.self)
        case (2, 128): return computeRowsAVX2(p, rows: rows, x: x, Int2G128.self)
        case (4, 256): return computeRowsAVX2(p, rows: rows, x: x, Int4G256.self)
        case (2, 256): return computeRowsAVX2(p, rows: rows, x: x, Int2G256.self)
        default: break
        }
        #endif
        if T == 1 && bits == 4 && (G == 64 || G == 128) {
            return computeRowsPacked4(p, rows: rows, x: x)
        }
        let nr = rows.count
        let w16 = UnsafeMutablePointer<Int16>.allocate(capacity: nr * cols)
        let sF = UnsafeMutablePointer<Float>.allocate(capacity: nr * gpr)
        let zI = UnsafeMutablePointer<Int32>.allocate(capacity: nr * gpr)
        defer { w16.deallocate(); sF.deallocate(); zI.deallocate() }
        unpackRows(p, rows: rows, w16: w16, sF: sF, zI: zI)
        var tok = 0
        if G == 64 {
            tok = computeRows4Tokens64(p, rows: rows, x: x, w16: w16, sF: sF, zI: zI)
        }
        computeRows1Token(p, rows: rows, x: x, from: tok, w16: w16, sF: sF, zI: zI)
    }

    /// Decode step (one token, 4-bit, group 64/128): streams each row's packed codes, unpacking in L1.
    @inline(__always)
    static func computeRowsPacked4(_ p: Cells, rows: Range<Int>, x: AlignedActivations) {
        let G = p.groupSize, cols = p.cols, gpr = cols / G, bits = p.bits
        let codes = p.codes, scales = p.scales, zeros = p.zeros, table = p.table
        let o = p.out, roundToFP16 = p.roundToFP16
        let rowBytes = cols * bits / 8
        let scratch = UnsafeMutablePointer<Int16>.allocate(capacity: 128)
        defer { scratch.deallocate() }
        let v = x.values, vs = x.vsum, p2 = x.pow2
        for r in rows {
            let rc = codes + r * rowBytes, sc = scales + r * gpr, zp = zeros + r * gpr
            var acc: Float = 0
            for g in 0..<gpr {
                let dot = G == 64 ? LUnitKernels.dotPacked4x64(v + g &* 64, rc + g &* 32, scratch)
                                  : LUnitKernels.dotPacked4x128(v + g &* 128, rc + g &* 64, scratch)
                let s = table[Int(UInt16(littleEndian: sc[g]))]
                acc += Float(dot &- vs[g] &* Int32(zp[g])) * s * p2[g]
            }
            o[r] = roundToFP16 ? FP16.round(acc) : acc
        }
    }

    /// Unpack step: the rows' codes as Int16 into `w16`, their scales as FP32 into `sF`, zeros as Int32 into `zI`.
    @inline(__always)
    static func unpackRows(_ p: Cells, rows: Range<Int>, w16: UnsafeMutablePointer<Int16>,
                           sF: UnsafeMutablePointer<Float>, zI: UnsafeMutablePointer<Int32>) {
        let G = p.groupSize, cols = p.cols, gpr = cols / G, bits = p.bits
        let codes = p.codes, scales = p.scales, zeros = p.zeros, table = p.table
        let rowBytes = cols * bits / 8
        let r0 = rows.lowerBound, nr = rows.count
        for i in 0..<nr {
            let r = r0 + i
            LUnitKernels.unpackRow(codes + r * rowBytes, bits: bits, group: G, cols: cols, into: w16 + i * cols)
            for g in 0..<gpr {
                sF[i * gpr + g] = table[Int(UInt16(littleEndian: scales[r * gpr + g]))]
                zI[i * gpr + g] = Int32(zeros[r * gpr + g])
            }
        }
    }

    /// Group-64 step: four tokens at a time share each unpacked weight group; returns the next token.
    @inline(__always)
    static func computeRows4Tokens64(_ p: Cells, rows: Range<Int>, x: AlignedActivations, w16: UnsafeMutablePointer<Int16>,
                                     sF: UnsafeMutablePointer<Float>, zI: UnsafeMutablePointer<Int32>) -> Int {
        let T = x.tokens, G = p.groupSize, cols = p.cols, gpr = cols / G
        let o = p.out, outStride = p.outStride, roundToFP16 = p.roundToFP16
        let r0 = rows.lowerBound, nr = rows.count
        var tok = 0
        let xvs = x.vsum, xp2 = x.pow2
        while tok + 4 <= T {
            let v0 = x.values + tok * cols, v1 = v0 + cols, v2 = v1 + cols, v3 = v2 + cols
            let vs0 = xvs + tok * gpr, vs1 = vs0 + gpr, vs2 = vs1 + gpr, vs3 = vs2 + gpr
            let p0 = xp2 + tok * gpr, p1 = p0 + gpr, p2 = p1 + gpr, p3 = p2 + gpr
            for i in 0..<nr {
                let w = w16 + i * cols, s = sF + i * gpr, z = zI + i * gpr
                var acc0: Float = 0, acc1: Float = 0, acc2: Float = 0, acc3: Float = 0
                for g in 0..<gpr {
                    let off = g &* 64
                    let (d0, d1, d2, d3) = LUnitKernels.dot64x4(v0 + off, v1 + off, v2 + off, v3 + off, w + off)
                    let sg = s[g], zg = z[g]
                    acc0 += Float(d0 &- vs0[g] &* zg) * sg * p0[g]
                    acc1 += Float(d1 &- vs1[g] &* zg) * sg * p1[g]
                    acc2 += Float(d2 &- vs2[g] &* zg) * sg * p2[g]
                    acc3 += Float(d3 &- vs3[g] &* zg) * sg * p3[g]
                }
                let r = r0 + i
                o[tok * outStride + r] = roundToFP16 ? FP16.round(acc0) : acc0
                o[(tok + 1) * outStride + r] = roundToFP16 ? FP16.round(acc1) : acc1
                o[(tok + 2) * outStride + r] = roundToFP16 ? FP16.round(acc2) : acc2
                o[(tok + 3) * outStride + r] = roundToFP16 ? FP16.round(acc3) : acc3
            }
            tok += 4
        }
        return tok
    }

    /// Token-at-a-time step: tokens `start..<T`, each row's unpacked codes reused for every token.
    @inline(__always)
    static func computeRows1Token(_ p: Cells, rows: Range<Int>, x: AlignedActivations, from start: Int, w16: UnsafeMutablePointer<Int16>,
                                  sF: UnsafeMutablePointer<Float>, zI: UnsafeMutablePointer<Int32>) {
        let T = x.tokens, G = p.groupSize, cols = p.cols, gpr = cols / G
        let o = p.out, outStride = p.outStride, roundToFP16 = p.roundToFP16
        let r0 = rows.lowerBound, nr = rows.count
        var tok = start
        while tok < T {
            let v = x.values + tok * cols
            let vs = x.vsum + tok * gpr, p2 = x.pow2 + tok * gpr
            for i in 0..<nr {
                let w = w16 + i * cols, s = sF + i * gpr, z = zI + i * gpr
                let acc: Float
                switch G {
                case 64: acc = rowResult64(v, w, vs, p2, s, z, gpr)
                case 128: acc = rowResult128(v, w, vs, p2, s, z, gpr)
                default: acc = rowResult(v, w, vs, p2, s, z, gpr, G)
                }
                o[tok * outStride + r0 + i] = roundToFP16 ? FP16.round(acc) : acc
            }
            tok += 1
        }
    }

    #if ROMA_AVX2
    /// The AVX2 compute cells for one code shape: blocks of eight tokens one per lane (their activations
    /// stay in L1 across the rows), then the remaining tokens (all of them in decode) one at a time, row by
    /// row (4-bit group 64 on the 8-bit multipliers, `LUnitAVX2.row64`; the others on vpmaddwd).
    static func computeRowsAVX2<S: CodeShape>(_ p: Cells, rows: Range<Int>, x: AlignedActivations, _ shape: S.Type) {
        let T = x.tokens, cols = p.cols, gpr = cols / S.group, rowBytes = cols * S.bits / 8
        let codes = p.codes, scales = p.scales, zeros = p.zeros, table = p.table
        let o = p.out, outStride = p.outStride, roundToFP16 = p.roundToFP16
        for b in 0..<x.blocks {
            let blk = x.blocked + b * 8 * cols, vs = x.vsumB + b * 8 * gpr, p2 = x.pow2B + b * 8 * gpr
            for r in rows {
                let a = LUnitAVX2.row8Tokens(S.self, codes: codes + r * rowBytes, gpr: gpr, blk: blk, vsum: vs, pow2: p2,
                                             scales: scales + r * gpr, zeros: zeros + r * gpr, table: table)
                for i in 0..<8 { o[(b * 8 + i) * outStride + r] = roundToFP16 ? FP16.round(a[i]) : a[i] }
            }
        }
        for tok in (x.blocks * 8)..<T {
            let vs = x.vsum + tok * gpr, p2 = x.pow2 + tok * gpr
            for r in rows {
                let a: Float
                if S.bits == 4 && S.group == 64 {
                    a = LUnitAVX2.row64(codes: codes + r * rowBytes, hi: x.hi8 + tok * cols, lo: x.lo8 + tok * cols, gpr: gpr, vsum: vs, pow2: p2,
                                        scales: scales + r * gpr, zeros: zeros + r * gpr, table: table)
                } else {
                    a = LUnitAVX2.row1Token(S.self, codes: codes + r * rowBytes, gpr: gpr, v: x.values + tok * cols, vsum: vs, pow2: p2,
                                            scales: scales + r * gpr, zeros: zeros + r * gpr, table: table)
                }
                o[tok * outStride + r] = roundToFP16 ? FP16.round(a) : a
            }
        }
    }
    #endif

    // Eq. 1 per group, (dot - vsum*z) * s * 2^(max_exp - Bias), summed over the row's groups in FP32
    // in group order. One copy per group size so the dot product loop has a constant trip count.
    @inline(__always)
    static func rowResult64(_ v: UnsafePointer<Int16>, _ w: UnsafePointer<Int16>, _ vs: UnsafePointer<Int32>, _ p2: UnsafePointer<Float>,
                            _ s: UnsafePointer<Float>, _ z: UnsafePointer<Int32>, _ gpr: Int) -> Float {
        var acc: Float = 0
        for g in 0..<gpr {
            let dot = LUnitKernels.dot64(v + g &* 64, w + g &* 64)
            acc += Float(dot &- vs[g] &* z[g]) * s[g] * p2[g]
        }
        return acc
    }

    @inline(__always)
    static func rowResult128(_ v: UnsafePointer<Int16>, _ w: UnsafePointer<Int16>, _ vs: UnsafePointer<Int32>, _ p2: UnsafePointer<Float>,
                             _ s: UnsafePointer<Float>, _ z: UnsafePointer<Int32>, _ gpr: Int) -> Float {
        var acc: Float = 0
        for g in 0..<gpr {
            let dot = LUnitKernels.dot128(v + g &* 128, w + g &* 128)
            acc += Float(dot &- vs[g] &* z[g]) * s[g] * p2[g]
        }
        return acc
    }

    @inline(__always)
    static func rowResult(_ v: UnsafePointer<Int16>, _ w: UnsafePointer<Int16>, _ vs: UnsafePointer<Int32>, _ p2: UnsafePointer<Float>,
                          _ s: UnsafePointer<Float>, _ z: UnsafePointer<Int32>, _ gpr: Int, _ G: Int) -> Float {
        var acc: Float = 0
        for g in 0..<gpr {
            let dot = LUnitKernels.dot(v + g &* G, w + g &* G, G)
            acc += Float(dot &- vs[g] &* z[g]) * s[g] * p2[g]
        }
        return acc
    }
}
