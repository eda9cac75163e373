import Foundation
import ROMAChip

/// Bit widths of the L-Unit datapath for one slice shape (docs/rtl.md, "The L-Unit slice").
public struct LUnitWidths: Codable, Equatable, Sendable {
    /// Aligned activation value_k: 12 bits signed (|value| <= 2047, docs/numerics.md step 3).
    public var value: Int { Self.valueBits }
    public static let valueBits = 12
    /// vsum and each code bit-plane sum: value + log2(G).
    public let vsum: Int
    /// dot = Σ_j plane_j · 2^j: vsum + bits.
    public let dot: Int
    /// x = dot - vsum·z: one more than the wider of dot and vsum·z (vsum + bits + 1).
    public let x: Int
    /// |x| · significand(s): x + 11.
    public let product: Int

    public init(groupSize: Int, bits: Int) {
        vsum = Self.valueBits + groupSize.trailingZeroBitCount
        dot = vsum + bits
        x = max(dot, vsum + bits + 1) + 1
        product = x + 11
    }
}

/// Writes one L-Unit slice (Sec. III-B, Fig. 3 right) as synthesizable Verilog-2005:
/// - `NAME_storage`: the group words (brom / standard: the generators of Sec. III-C; sram: a register
///   file with the same combinational read port and a write port);
/// - `NAME_align`: the alignment unit (steps 1-3 of docs/numerics.md: vconv, max_exp, the shifts);
/// - `NAME_cells`: the compute cells, vsum and dot = Σ_j 2^j · Σ_k bit_j(w_k) · value_k (one adder tree
///   per code bit-plane: a low-bit code needs no multiplier);
/// - `NAME_eq1_int` / `NAME_eq1_fp`: Eq. 1's epilogue, x = dot - vsum·z, then x · s · 2^(max_exp - Bias)
///   in FP32 with one round-to-nearest-even, exactly as the golden model evaluates it;
/// - `NAME`: the four-stage pipeline with a valid/ready handshake.
/// The output is deterministic so generated files can be diffed.
public enum LUnitVerilogWriter {
    /// Cycles from an accepted input to its valid output (registers after the alignment unit, the
    /// cells, the integer epilogue and the FP32 epilogue).
    public static let latency = 4

    // MARK: storage

    public static func storage(_ slice: LUnitSlice) throws -> String {
        let spec = slice.spec
        let header = "// \(spec.name)_storage: \(spec.depth) groups x \(spec.wordBits) bits = {z[\(spec.bits - 1):0], s[15:0], codes}, code k at bits [\(spec.bits)k +: \(spec.bits)]\n"
        guard let rom = spec.style.rom else {
            return header + """
            // SRAM stand-in (style sram): a register file with the ROMs' combinational read port plus one write port.
            module \(spec.name)_storage (input clk, input we, input [\(spec.addressBits - 1):0] waddr, input [\(spec.wordBits - 1):0] wdata,
                                          input [\(spec.addressBits - 1):0] addr, output [\(spec.wordBits - 1):0] data);
              reg [\(spec.wordBits - 1):0] mem [0:\(spec.depth - 1)];
              always @(posedge clk) if (we) mem[waddr] <= wdata;
              assign data = mem[addr];
            endmodule

            """
        }
        let netlist = try ROMNetlist(tile: try slice.tile(), style: rom, cgen: .pairwise)
        return header + VerilogWriter.module(netlist, name: "\(spec.name)_storage", source: slice.source)
    }

    // MARK: datapath (shared by every storage style)

    public static func datapath(_ spec: LUnitSliceSpec) -> String {
        align(spec) + cells(spec) + eq1Int(spec) + eq1FP(spec)
    }

    /// Steps 1-3: exponent fields, vconv = ±{1, m} (normal) / ±{m, 0} (denormal, zero), max_exp, and
    /// value_k = vconv_k >> (max_exp - e_k) rounded as `numerics.shiftRounding` says.
    static func align(_ spec: LUnitSliceSpec) -> String {
        let g = spec.groupSize
        var v = """

        // Alignment unit (Sec. III-B steps 1-2; docs/numerics.md L-Unit steps 1-3), shift rounding: \(spec.numerics.shiftRounding.rawValue).
        module \(spec.name)_align (input [\(16 * g - 1):0] act, output [4:0] max_exp, output nonfinite, output [\(12 * g - 1):0] values);

        """
        for k in 0..<g { v += "  wire [4:0] e\(k) = act[\(16 * k + 14):\(16 * k + 10)];\n" }
        v += "  // max_exp: a tree of comparators over the exponent fields\n"
        var level = (0..<g).map { "e\($0)" }
        var depth = 0
        while level.count > 1 {
            depth += 1
            var next: [String] = []
            for i in stride(from: 0, to: level.count, by: 2) {
                if i + 1 == level.count { next.append(level[i]); continue }
                let n = "mx\(depth)_\(i / 2)"
                v += "  wire [4:0] \(n) = (\(level[i]) > \(level[i + 1])) ? \(level[i]) : \(level[i + 1]);\n"
                next.append(n)
            }
            level = next
        }
        v += "  assign max_exp = \(level[0]);\n"
        v += "  assign nonfinite = (max_exp == 5'd31); // inf/NaN input: the group's res is NaN (step 8)\n"
        v += "  // per lane: vconv magnitude, shift by max_exp - e, sign\n"
        for k in 0..<g {
            let a = "act[\(16 * k + 15)]", m = "act[\(16 * k + 9):\(16 * k)]", out = "values[\(12 * k + 11):\(12 * k)]"
            v += "  wire [10:0] m\(k) = (e\(k) == 5'd0) ? {\(m), 1'b0} : {1'b1, \(m)};\n"
            v += "  wire [4:0] sh\(k) = max_exp - e\(k);\n"
            switch spec.numerics.shiftRounding {
            case .truncate:
                v += "  wire [10:0] q\(k) = m\(k) >> sh\(k);\n"
                v += "  assign \(out) = \(a) ? -{1'b0, q\(k)} : {1'b0, q\(k)};\n"
            case .floor:
                v += "  wire signed [11:0] s\(k) = \(a) ? -{1'b0, m\(k)} : {1'b0, m\(k)};\n"
                v += "  assign \(out) = s\(k) >>> sh\(k);\n"
            case .nearestEven:
                v += "  wire [10:0] q\(k) = m\(k) >> sh\(k);\n"
                v += "  wire [31:0] r\(k) = {21'd0, m\(k)} & ((32'd1 << sh\(k)) - 32'd1);\n"
                v += "  wire [31:0] h\(k) = (sh\(k) == 5'd0) ? 32'd0 : (32'd1 << (sh\(k) - 5'd1));\n"
                v += "  wire u\(k) = (sh\(k) != 5'd0) && ((r\(k) > h\(k)) || ((r\(k) == h\(k)) && q\(k)[0]));\n"
                v += "  wire [11:0] n\(k) = {1'b0, q\(k)} + {11'd0, u\(k)};\n"
                v += "  assign \(out) = \(a) ? -n\(k) : n\(k);\n"
            }
        }
        return v + "endmodule\n"
    }

    /// A binary tree of signed adders over `terms` (all `width` bits); returns the text, the root wire
    /// and its width.
    static func adderTree(_ prefix: String, _ terms: [String], width: Int) -> (String, String, Int) {
        var v = "", level = terms, w = width, depth = 0
        while level.count > 1 {
            depth += 1
            w += 1
            var next: [String] = []
            for i in stride(from: 0, to: level.count, by: 2) {
                let n = "\(prefix)\(depth)_\(i / 2)"
                let rhs = i + 1 < level.count ? "\(level[i]) + \(level[i + 1])" : level[i]
                v += "  wire signed [\(w - 1):0] \(n) = \(rhs);\n"
                next.append(n)
            }
            level = next
        }
        return (v, level[0], w)
    }

    /// Steps 4-5: vsum = Σ value_k and dot = Σ_j 2^j · (Σ_k bit_j(w_k) · value_k).
    static func cells(_ spec: LUnitSliceSpec) -> String {
        let g = spec.groupSize, b = spec.bits, w = LUnitWidths(groupSize: g, bits: b)
        var v = """

        // Compute cells (Sec. III-B; docs/numerics.md steps 4-5): vsum and the integer dot product of the aligned
        // activations with the \(b)-bit codes, one adder tree per code bit-plane (bit j of w_k selects value_k).
        module \(spec.name)_cells (input [\(12 * g - 1):0] values, input [\(b * g - 1):0] codes,
                                  output signed [\(w.vsum - 1):0] vsum, output signed [\(w.dot - 1):0] dot);

        """
        for k in 0..<g { v += "  wire signed [11:0] v\(k) = values[\(12 * k + 11):\(12 * k)];\n" }
        let (vs, vroot, _) = adderTree("vs", (0..<g).map { "v\($0)" }, width: 12)
        v += "  // vsum tree\n" + vs + "  assign vsum = \(vroot);\n"
        var planes: [String] = []
        for j in 0..<b {
            v += "  // bit-plane \(j)\n"
            for k in 0..<g { v += "  wire signed [11:0] t\(j)_\(k) = codes[\(k * b + j)] ? v\(k) : 12'sd0;\n" }
            let (pt, root, _) = adderTree("p\(j)_", (0..<g).map { "t\(j)_\($0)" }, width: 12)
            v += pt
            v += "  wire signed [\(w.dot - 1):0] plane\(j) = \(root);\n"
            planes.append(j == 0 ? "plane0" : "{plane\(j)[\(w.dot - 1 - j):0], \(j)'b0}")
        }
        v += "  assign dot = \(planes.joined(separator: " + "));\n"
        return v + "endmodule\n"
    }

    /// Step 6, integer part: x = dot - vsum·z (exact), and |x| times the scale's 11-bit significand;
    /// s = sig · 2^(es1 - 25) with es1 = max(e_s, 1).
    static func eq1Int(_ spec: LUnitSliceSpec) -> String {
        let b = spec.bits, w = LUnitWidths(groupSize: spec.groupSize, bits: b)
        return """

        // Eq. 1 epilogue, integer part: x = dot - vsum*z, p = |x| * significand(s).
        module \(spec.name)_eq1_int (input signed [\(w.dot - 1):0] dot, input signed [\(w.vsum - 1):0] vsum, input [\(b - 1):0] z,
                                    input [15:0] s, output sign, output [\(w.product - 1):0] p, output [4:0] es1);
          wire signed [\(w.vsum + b):0] vz = vsum * $signed({1'b0, z});
          wire signed [\(w.x - 1):0] x = dot - vz;
          wire [\(w.x - 1):0] mag = x[\(w.x - 1)] ? -x : x;
          wire [10:0] sig = (s[14:10] == 5'd0) ? {1'b0, s[9:0]} : {1'b1, s[9:0]};
          assign es1 = (s[14:10] == 5'd0) ? 5'd1 : s[14:10];
          assign p = mag * sig;
          assign sign = x[\(w.x - 1)] ^ s[15];
        endmodule

        """
    }

    /// Step 6, FP32: res = p · 2^(es1 - 25 + max_exp - Bias) rounded once to nearest even (the golden
    /// model's Float(x) · s, times an exact power of two); ±0 for p = 0; NaN for an inf/NaN input.
    static func eq1FP(_ spec: LUnitSliceSpec) -> String {
        let pw = LUnitWidths(groupSize: spec.groupSize, bits: spec.bits).product
        let c = 127 - 25 - spec.numerics.bias
        return """

        // Eq. 1 epilogue, FP32: normalize p, round to nearest even once, exponent L + es1 + max_exp + \(c)
        // (= 127 - 25 - Bias, Bias = \(spec.numerics.bias)); every result is a normal FP32 (docs/rtl.md).
        module \(spec.name)_eq1_fp (input sign, input [\(pw - 1):0] p, input [4:0] es1, input [4:0] max_exp, input nonfinite,
                                   output [31:0] res);
          reg [5:0] lead;
          integer i;
          always @* begin
            lead = 6'd0;
            for (i = 0; i < \(pw); i = i + 1) if (p[i]) lead = i;
          end
          wire [\(pw - 1):0] pn = p << (6'd\(pw - 1) - lead);
          wire [23:0] m = pn[\(pw - 1):\(pw - 24)];
          wire guard = pn[\(pw - 25)];
          wire sticky = |pn[\(pw - 26):0];
          wire up = guard & (sticky | m[0]);
          wire [24:0] mr = {1'b0, m} + {24'd0, up};
          wire [9:0] e = {4'd0, lead} + {5'd0, es1} + {5'd0, max_exp} + {9'd0, mr[24]} + 10'd\(c);
          assign res = nonfinite ? 32'h7fc00000 : (p == \(pw)'d0) ? {sign, 31'd0} : {sign, e[7:0], mr[24] ? 23'd0 : mr[22:0]};
        endmodule

        """
    }

    // MARK: top

    public static func top(_ spec: LUnitSliceSpec) -> String {
        let g = spec.groupSize, b = spec.bits, ab = spec.addressBits, wb = spec.wordBits
        let w = LUnitWidths(groupSize: g, bits: b), n = spec.name
        let sram = spec.style == .sram
        let writePorts = sram ? "\n  input wr_en, input [\(ab - 1):0] wr_addr, input [\(wb - 1):0] wr_data," : ""
        let storagePorts = sram ? ".clk(clk), .we(wr_en), .waddr(wr_addr), .wdata(wr_data), " : ""
        return """
        // \(n): one L-Unit slice of ROMA (arXiv 2503.12988, Sec. III-B, Fig. 3 right), generated by `roma rtl lunit`.
        // \(spec.depth) groups of \(g) x \(b)-bit codes in \(spec.style.rawValue) storage; Eq. 1 with Bias \(spec.numerics.bias).
        // Pipeline: [storage read + alignment] -> [compute cells] -> [x = dot - vsum*z, |x|*sig(s)] -> [FP32 round] -> out.
        // Latency \(latency) cycles, one group per cycle; in_ready = !out_valid || out_ready (every stage moves together).
        module \(n) (input clk, input rst,
          input in_valid, output in_ready, input [\(ab - 1):0] in_addr, input [\(16 * g - 1):0] in_act,\(writePorts)
          output out_valid, input out_ready,
          output [4:0] out_max_exp, output [31:0] out_vsum, output [31:0] out_dot, output [31:0] out_res);
          wire adv = !out_valid || out_ready;
          assign in_ready = adv;

          // stage 1: storage read and alignment unit
          wire [\(wb - 1):0] word;
          \(n)_storage storage (\(storagePorts).addr(in_addr), .data(word));
          wire [4:0] a_max_exp; wire a_nf; wire [\(12 * g - 1):0] a_values;
          \(n)_align align (.act(in_act), .max_exp(a_max_exp), .nonfinite(a_nf), .values(a_values));
          reg v1, nf1; reg [\(12 * g - 1):0] values1; reg [\(b * g - 1):0] codes1; reg [15:0] s1; reg [\(b - 1):0] z1; reg [4:0] me1;
          always @(posedge clk)
            if (rst) v1 <= 1'b0;
            else if (adv) begin
              v1 <= in_valid; values1 <= a_values; codes1 <= word[\(b * g - 1):0];
              s1 <= word[\(b * g + 15):\(b * g)]; z1 <= word[\(wb - 1):\(b * g + 16)]; me1 <= a_max_exp; nf1 <= a_nf;
            end

          // stage 2: compute cells
          wire signed [\(w.vsum - 1):0] c_vsum; wire signed [\(w.dot - 1):0] c_dot;
          \(n)_cells cells (.values(values1), .codes(codes1), .vsum(c_vsum), .dot(c_dot));
          reg v2, nf2; reg signed [\(w.vsum - 1):0] vsum2; reg signed [\(w.dot - 1):0] dot2; reg [15:0] s2; reg [\(b - 1):0] z2; reg [4:0] me2;
          always @(posedge clk)
            if (rst) v2 <= 1'b0;
            else if (adv) begin
              v2 <= v1; vsum2 <= c_vsum; dot2 <= c_dot; s2 <= s1; z2 <= z1; me2 <= me1; nf2 <= nf1;
            end

          // stage 3: Eq. 1 integer part
          wire i_sign; wire [\(w.product - 1):0] i_p; wire [4:0] i_es1;
          \(n)_eq1_int eq1_int (.dot(dot2), .vsum(vsum2), .z(z2), .s(s2), .sign(i_sign), .p(i_p), .es1(i_es1));
          reg v3, nf3, sign3; reg [\(w.product - 1):0] p3; reg [4:0] es3, me3;
          reg signed [\(w.vsum - 1):0] vsum3; reg signed [\(w.dot - 1):0] dot3;
          always @(posedge clk)
            if (rst) v3 <= 1'b0;
            else if (adv) begin
              v3 <= v2; sign3 <= i_sign; p3 <= i_p; es3 <= i_es1; me3 <= me2; nf3 <= nf2; vsum3 <= vsum2; dot3 <= dot2;
            end

          // stage 4: Eq. 1 in FP32
          wire [31:0] f_res;
          \(n)_eq1_fp eq1_fp (.sign(sign3), .p(p3), .es1(es3), .max_exp(me3), .nonfinite(nf3), .res(f_res));
          reg v4; reg [4:0] me4; reg [31:0] vsum4, dot4, res4;
          always @(posedge clk)
            if (rst) v4 <= 1'b0;
            else if (adv) begin
              v4 <= v3; me4 <= me3; res4 <= f_res;
              vsum4 <= {{\(32 - w.vsum){vsum3[\(w.vsum - 1)]}}, vsum3}; dot4 <= {{\(32 - w.dot){dot3[\(w.dot - 1)]}}, dot3};
            end
          assign out_valid = v4;
          assign out_max_exp = me4; assign out_vsum = vsum4; assign out_dot = dot4; assign out_res = res4;
        endmodule

        """
    }
}
