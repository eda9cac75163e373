import ROMANumerics
import ROMAKernelsAVX2
import ROMAKernelsAVX512

/// The 256 L-Units computing one base-model matrix product straight from ROM (Sec. III-A/B).
/// Each L-Unit holds a contiguous slice of the tensor's output rows (`unitRowStart`); the activations
/// are broadcast, aligned once per 128-group (the alignment unit's output is shared by every compute
/// cell), and every row's group results are summed in FP32 in group order.
public enum LUnitArray {
    /// Aligned activations of T tokens: Int16 values [T, cols], and per (token, group) vsum and the
    /// Eq. 1 power of two 2^(max_exp - Bias) (NaN when the group held inf/NaN), plus the copies the
    /// SIMD paths read (`ActivationLayout`), made for `path` (the kernels that will consume them).
    /// `@unchecked Sendable`: filled once by the alignment unit, then only read by the L-Unit workers.
    public final class AlignedActivations: @unchecked Sendable {
        public let tokens: Int, cols: Int, groupSize: Int
        public let path: KernelPath
        public let values: UnsafeMutablePointer<Int16>
        public let vsum: UnsafeMutablePointer<Int32>
        public let pow2: UnsafeMutablePointer<Float>
        public let maxExp: UnsafeMutablePointer<Int32>
        /// The prefill kernels' blocks of `blockTokens` tokens (`ActivationLayout.blocked`), SIMD paths only.
        let blocked: UnsafeMutablePointer<Int16>, pow2B: UnsafeMutablePointer<Float>
        /// The byte split of the tokens after the blocks (`ActivationLayout.hi8`/`lo8`), SIMD paths only.
        let hi8: UnsafeMutablePointer<Int8>, lo8: UnsafeMutablePointer<Int8>
        let blocks: Int, blockTokens: Int, blockedTokens: Int
        public var groups: Int { cols / groupSize }

        public init(x: UnsafePointer<Float>, tokens: Int, cols: Int, groupSize: Int, numerics: DatapathNumerics,
                    path: KernelPath = .selected) {
            precondition(groupSize > 0 && cols % groupSize == 0, "activations of \(cols) columns do not split into groups of \(groupSize)")
            self.tokens = tokens; self.cols = cols; self.groupSize = groupSize; self.path = path
            let ng = cols / groupSize
            (blocks, blockTokens, blockedTokens) = Self.blocking(tokens: tokens, path: path)
            let padded = blocks * blockTokens
            let split = path != .portable ? tokens - blockedTokens : 0
            // one allocation for every array (a decode step lays out a few hundred of these), each array at
            // a cache line: none of the SIMD kernels' vector loads splits one
            let tg = tokens * ng, pg = padded * ng
            func line(_ n: Int) -> Int { (n + 63) / 64 * 64 }
            let vb = line(tokens * cols * 2), gb = line(tg * 4), bb = line(padded * cols * 2), pb = line(pg * 4), sb = line(split * cols)
            let base = UnsafeMutableRawPointer.allocate(byteCount: max(64, vb + 3 * gb + bb + pb + 2 * sb), alignment: 64)
            storage = base
            var next = base   // each array takes its (cache-line rounded) bytes in turn
            func take<T>(_: T.Type, _ count: Int, bytes: Int) -> UnsafeMutablePointer<T> {
                defer { next += bytes }
                return next.bindMemory(to: T.self, capacity: count)
            }
            values = take(Int16.self, tokens * cols, bytes: vb)
            vsum = take(Int32.self, tg, bytes: gb); pow2 = take(Float.self, tg, bytes: gb); maxExp = take(Int32.self, tg, bytes: gb)
            blocked = take(Int16.self, padded * cols, bytes: bb); pow2B = take(Float.self, pg, bytes: pb)
            hi8 = take(Int8.self, split * cols, bytes: sb); lo8 = take(Int8.self, split * cols, bytes: sb)
            if padded > tokens {   // the last block's padding tokens: zero activations
                blocked.initialize(repeating: 0, count: padded * cols)
                pow2B.initialize(repeating: 0, count: padded * ng)
            }
            let vectorAlign = path != .portable && numerics.shiftRounding == .truncate && groupSize % 16 == 0
            let (v, vs, p2, me) = (Unchecked(values), Unchecked(vsum), Unchecked(pow2), Unchecked(maxExp))
            let xs = Unchecked(x)
            // whole blocks by the SIMD alignment unit and transposes (AVX-512: sixteen column pairs at a
            // time, AVX2: eight); the tokens after the blocks (AVX2) and every other case token by token
            let byBlocks = vectorAlign && blocks > 0 && (path != .avx512vnni || groupSize % 32 == 0)   // AVX2: G % 16, as vectorAlign
            if byBlocks { Parallel.forEach(blocks) { b in self.alignBlock(b, x: xs.value, bias: numerics.bias) } }
            let first = byBlocks ? blockedTokens : 0
            Parallel.forEach(tokens - first, minChunk: 8) { i in withUnsafeTemporaryAllocation(of: UInt16.self, capacity: groupSize) { bitsBuffer in
                let bits = bitsBuffer.baseAddress!, t = first + i
                if vectorAlign {   // the SIMD alignment unit, a token at a time (each decode step's path)
                    self.alignToken(t, x: xs.value, bits: bits, bias: numerics.bias, avx512: false)
                    self.layOut(token: t)
                    return
                }
                for g in 0..<ng {
                    let base = t * cols + g * groupSize
                    for k in 0..<groupSize { bits[k] = FP16.fromFloat(xs.value[base + k]) }
                    let a = LUnit.align(bits, count: groupSize, values: v.value + base, rounding: numerics.shiftRounding)
                    vs.value[t * ng + g] = a.vsum
                    me.value[t * ng + g] = Int32(a.maxExp)
                    p2.value[t * ng + g] = Self.pow2(maxExp: a.maxExp, bias: numerics.bias)
                }
                self.layOut(token: t)
            } }
        }

        /// Block `b` of the SIMD prefill layout from `x`: each token through the path's alignment unit
        /// (`alignToken`, truncating shifts), then the block's interleaved copy (`layOutBlock`).
        private func alignBlock(_ b: Int, x: UnsafePointer<Float>, bias: Int) {
            let n = blockTokens, t0 = b * n, live = min(n, tokens - t0)
            withUnsafeTemporaryAllocation(of: UInt16.self, capacity: groupSize) { scratch in
                let bits = scratch.baseAddress!
                for t in t0..<(t0 + live) {
                    alignToken(t, x: x, bits: bits, bias: bias, avx512: path == .avx512vnni)
                    layOutPow2(token: t)
                }
            }
            if path == .avx512vnni {
                LUnitAVX512Cells.layOutBlock(values + t0 * cols, cols: cols, groupSize: groupSize, live: live, blocked: blocked + b * n * cols)
            } else {
                LUnitAVX2Cells.layOutBlock(values + t0 * cols, cols: cols, groupSize: groupSize, blocked: blocked + b * n * cols)
            }
        }

        /// Token `t` of `x` through a SIMD alignment unit (AVX-512's or AVX2's `alignToken`, truncating
        /// shifts): its values, vsum and max_exp, and each group's 2^(max_exp − Bias). `bits` is scratch
        /// for `groupSize` UInt16.
        private func alignToken(_ t: Int, x: UnsafePointer<Float>, bits: UnsafeMutablePointer<UInt16>, bias: Int, avx512: Bool) {
            let ng = groups
            let (xt, vt, st, et) = (x + t * cols, values + t * cols, vsum + t * ng, maxExp + t * ng)
            if avx512 {
                LUnitAVX512Cells.alignToken(xt, cols: cols, groupSize: groupSize, bits: bits, values: vt, vsum: st, maxExp: et)
            } else {
                LUnitAVX2Cells.alignToken(xt, cols: cols, groupSize: groupSize, bits: bits, values: vt, vsum: st, maxExp: et)
            }
            for g in 0..<ng { pow2[t * ng + g] = Self.pow2(maxExp: Int(maxExp[t * ng + g]), bias: bias) }
        }

        /// The arrays' one allocation (`deinit` frees it).
        private let storage: UnsafeMutableRawPointer

        /// A group's 2^(max_exp − Bias), NaN when the group holds an inf or NaN (max_exp 31).
        static func pow2(maxExp e: Int, bias: Int) -> Float { e == 31 ? .nan : LUnit.pow2(e - bias) }

        /// Token t's 2^(max_exp − Bias) per group into the blocked copy (`pow2B`; the prefill kernels need
        /// no vsum: they multiply the codes minus the zero point).
        private func layOutPow2(token t: Int) {
            let ng = groups, n = blockTokens, b = t / n, i = t % n
            for g in 0..<ng { pow2B[(b * ng + g) * n + i] = pow2[t * ng + g] }
        }

        /// How `path`'s prefill kernels block T tokens: (blocks, tokens per block, real tokens in them).
        static func blocking(tokens: Int, path: KernelPath) -> (Int, Int, Int) {
            switch path {
            case .portable: return (0, 1, 0)
            case .avx2:
                let n = LUnitAVX2Cells.blockTokens
                return (tokens / n, n, tokens / n * n)
            case .avx512vnni:
                let n = LUnitAVX512Cells.blockTokens
                guard tokens >= LUnitAVX512Cells.minBlockedTokens else { return (0, n, 0) }
                return ((tokens + n - 1) / n, n, tokens)
            }
        }

        /// The SIMD layout step for token `t`: its copy in the blocked layout of `path`, or its byte split.
        private func layOut(token t: Int) {
            let ng = groups, G = groupSize, n = blockTokens
            if t >= blockedTokens {
                guard path != .portable else { return }
                let i = t - blockedTokens
                LUnitAVX2Cells.split(values + t * cols, count: cols, hi: hi8 + i * cols, lo: lo8 + i * cols)
                return
            }
            layOutPow2(token: t)
            let b = t / n, i = t % n
            for g in 0..<ng {
                // column pair k of token i at [(b, g), k, i]: one UInt32 per pair
                let s32 = UnsafeRawPointer(values + t * cols + g * G), d32 = UnsafeMutableRawPointer(blocked + (b * ng + g) * n * G)
                for k in 0..<(G / 2) {
                    d32.storeBytes(of: s32.load(fromByteOffset: k * 4, as: UInt32.self), toByteOffset: (k * n + i) * 4, as: UInt32.self)
                }
            }
        }

        /// What the SIMD kernels read.
        var layout: ActivationLayout {
            ActivationLayout(tokens: tokens, blocks: blocks, blockTokens: blockTokens, blockedTokens: blockedTokens,
                             values: values, vsum: vsum, pow2: pow2,
                             blocked: blocked, pow2B: pow2B, hi8: hi8, lo8: lo8)
        }

        deinit { storage.deallocate() }
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
        withUnsafeTemporaryAllocation(of: Product.self, capacity: 1) { p in
            p.initializeElement(at: 0, to: Product(tensor: t, out: out, outStride: outStride, roundToFP16: roundToFP16))
            matmul(image: image, products: UnsafeBufferPointer(p), x: x)
            _ = p.deinitialize()
        }
    }

    /// Several products of the same broadcast activations (Q, K, V; gate, up) in one pass over the
    /// array: every unit works on its rows of every tensor, and the alignment is done once. The
    /// products come in a buffer (a caller's stack: no array per call).
    public static func matmul(image: ROMImage, products: UnsafeBufferPointer<Product>, x: AlignedActivations) {
        let table = FP16.table.withUnsafeBufferPointer { $0.baseAddress! }
        // the products' cells and where each one's blocks of rows start in the work items, on the stack:
        // a decode step makes a few hundred of these calls, and none allocates
        withUnsafeTemporaryAllocation(of: Cells.self, capacity: products.count) { cells in
            withUnsafeTemporaryAllocation(of: Int.self, capacity: products.count + 1) { firstBlock in
                var items = 0
                for (i, p) in products.enumerated() {
                    let t = p.tensor
                    precondition(x.cols == t.cols && x.groupSize == t.groupSize, "activation shape does not match tensor '\(t.name)'")
                    // single tokens on the AVX2 path read 4-bit group-64 codes from the tensor's panels
                    let panels = x.path == .avx2 && x.tokens > x.blockedTokens && RowPanelStore.fits(t) ? image.rowPanels.panels(t, of: image) : nil
                    cells.initializeElement(at: i, to: Cells(codes: image.codes(t), scales: image.scales(t), zeros: image.zeros(t), table: table,
                                                             rows: t.rows, cols: t.cols, groupSize: t.groupSize, bits: t.bits,
                                                             out: p.out, outStride: p.outStride, roundToFP16: p.roundToFP16, panels: panels))
                    firstBlock[i] = items
                    items += (t.rows + blockRows - 1) / blockRows
                }
                firstBlock[products.count] = items
                let (c, first) = (Unchecked(cells.baseAddress!), Unchecked(firstBlock.baseAddress!))
                Parallel.forEach(items) { i in
                    var pi = 0
                    while i >= first.value[pi + 1] { pi += 1 }   // the product whose blocks hold item i
                    let r0 = (i - first.value[pi]) * blockRows, cell = c.value[pi]
                    computeRows(cell, rows: r0..<min(cell.rows, r0 + blockRows), x: x)
                }
                _ = cells.deinitialize()
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
        let panels: RowPanels?

        /// Rows `rows` of this product against `x`, for the SIMD kernels.
        func cells(rows: Range<Int>, x: AlignedActivations) -> LUnitCells {
            LUnitCells(codes: codes, scales: scales, zeros: zeros, table: table, rowStart: rows.lowerBound, rowEnd: rows.upperBound,
                       cols: cols, groupSize: groupSize, bits: bits, out: out, outStride: outStride, roundToFP16: roundToFP16, x: x.layout,
                       panels: panels)
        }
    }

    /// Rows `rows` of one product, every token, on the activations' kernel path: the SIMD cells
    /// (`ROMAKernelsAVX512`, `ROMAKernelsAVX2`) where they handle the code shape, else the portable
    /// ones: each row's codes unpacked once and reused for every token (four at a time for group 64);
    /// a single 4-bit token streams the packed codes.
    static func computeRows(_ p: Cells, rows: Range<Int>, x: AlignedActivations) {
        let T = x.tokens, G = p.groupSize, cols = p.cols, gpr = cols / G, bits = p.bits
        switch x.path {
        case .avx512vnni where LUnitAVX512Cells.handles(bits: bits, group: G):
            return LUnitAVX512Cells.computeRows(p.cells(rows: rows, x: x))
        case .avx2 where LUnitAVX2Cells.handles(bits: bits, group: G):
            return LUnitAVX2Cells.computeRows(p.cells(rows: rows, x: x))
        default: break
        }
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
