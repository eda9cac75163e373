import Synchronization
import ROMANumerics

/// The AVX2 decode cells' copies of an image's 4-bit group-64 tensors in panels of sixteen rows
/// (`RowPanels`): made the first time a product of that tensor runs single tokens on the AVX2 path,
/// kept for the image's life. The same bytes as the mapped ROM, moved so that the cells read sixteen
/// rows' codes per load (the software counterpart of llama.cpp's CPU repacking); the ROM mapping is
/// read as before by everything else and never written. Memory: the tensor's codes, scales and
/// zero points again (SmolLM2-135M's INT4 image: +71 MB resident, docs/numerics.md).
final class RowPanelStore: Sendable {
    /// One tensor's panels; frees them with the store.
    private final class Copy: @unchecked Sendable {
        let codes: UnsafeMutablePointer<UInt16>, scales: UnsafeMutablePointer<UInt16>, zeros: UnsafeMutablePointer<UInt8>
        let count: Int
        init(count: Int, gpr: Int) {
            self.count = count
            codes = .allocate(capacity: max(1, count * gpr * 256))
            scales = .allocate(capacity: max(1, count * gpr * 16))
            zeros = .allocate(capacity: max(1, count * gpr * 16))
        }
        var panels: RowPanels { RowPanels(codes: codes, scales: scales, zeros: zeros, count: count) }
        deinit { codes.deallocate(); scales.deallocate(); zeros.deallocate() }
    }

    /// Made copies by the tensor's codes offset (unique in an image).
    private let copies = Mutex<[Int: Copy]>([:])

    /// Whether `t` has panels: 4-bit group 64 and at least one whole panel of rows.
    static func fits(_ t: ROMImage.Tensor) -> Bool { t.bits == 4 && t.groupSize == 64 && t.rows >= RowPanels.rows }

    /// `t`'s panels, made on the first call (callers of other tensors wait while one is made, once).
    func panels(_ t: ROMImage.Tensor, of image: ROMImage) -> RowPanels {
        copies.withLock { made in
            if let c = made[t.codesOffset] { return c.panels }
            let c = Self.make(t, of: image)
            made[t.codesOffset] = c
            return c.panels
        }
    }

    /// The regrouping `RowPanels` describes: panel p, group g, word j, row i <- row 16p + i's word j
    /// of group g; each group's scales and zero points of the panel's rows together.
    private static func make(_ t: ROMImage.Tensor, of image: ROMImage) -> Copy {
        let n = RowPanels.rows, gpr = t.groupsPerRow, wordsPerGroup = t.groupSize / 4   // 32 bytes: 16 words
        let c = Copy(count: t.rows / n, gpr: gpr)
        let src = Unchecked(UnsafeRawPointer(image.codes(t))), rowBytes = t.rowCodeBytes
        let (scales, zeros) = (Unchecked(image.scales(t)), Unchecked(image.zeros(t)))
        let (dc, ds, dz) = (Unchecked(c.codes), Unchecked(c.scales), Unchecked(c.zeros))
        Parallel.forEach(c.count) { p in
            for g in 0..<gpr {
                let block = (p * gpr + g) * n
                for i in 0..<n {
                    let r = p * n + i
                    let row = src.value + r * rowBytes + g * 2 * wordsPerGroup
                    for j in 0..<wordsPerGroup {
                        dc.value[(block + j) * n + i] = UInt16(littleEndian: row.loadUnaligned(fromByteOffset: 2 * j, as: UInt16.self))
                    }
                    ds.value[block + i] = scales.value[r * gpr + g]
                    dz.value[block + i] = zeros.value[r * gpr + g]
                }
            }
        }
        return c
    }
}
