import Foundation

/// A small evaluator for the structural Verilog subset `VerilogWriter` emits, so that generated text
/// (not just the in-memory netlist) can be checked word by word without Icarus Verilog.
///
/// Supported: `module M (input [h:0] p, output [h:0] q);`, `wire [h:l] w;`, `assign v = {(p == N'dV), ...};`
/// (whole vector, most significant bit first), `assign x[i] = expr;` with
/// expr one of `1'b0`, `1'b1`, `(p == N'dV)` (p an input port), `|{y[i], z[j], ...}` or `y[i] | z[j]`; instances
/// `M inst (.p(w[h:l]), .q(w));`; `//` comments; `endmodule`. Anything else is rejected with an error,
/// as are undriven and multiply driven nets. It is a checker for our own output, not a Verilog tool.
public struct VerilogEvaluator {
    private enum Def { case const(Bool), eq([Int], Int), or([Int]) }

    private struct Port { let name: String; let isInput: Bool; let width: Int }
    private struct Module {
        let name: String
        var ports: [Port] = []
        var statements: [String] = []
    }

    private var defs: [Def?] = []
    private var names: [String] = []
    private var ids: [String: Int] = [:]
    private var widths: [String: Int] = [:] // "scope/name" -> declared width
    /// Net ids of the top module's input `addr` (bit 0 first) and output `data`.
    public private(set) var addressBits = 0
    public private(set) var dataBits = 0
    private var addrIDs: [Int] = []
    private var dataIDs: [Int] = []

    /// Parses `text` and elaborates module `top`, whose ports must be `addr` (input) and `data` (output).
    public init(verilog text: String, top: String) throws {
        let modules = try Self.parseModules(text)
        guard let topModule = modules[top] else { throw Self.error("no module named \(top)") }
        guard let a = topModule.ports.first(where: { $0.name == "addr" && $0.isInput }),
              let d = topModule.ports.first(where: { $0.name == "data" && !$0.isInput }) else {
            throw Self.error("module \(top) must have ports input addr and output data")
        }
        addressBits = a.width
        dataBits = d.width
        try elaborate(topModule, scope: top, bindings: [:], modules: modules, depth: 0)
        addrIDs = (0..<a.width).map { ids["\(top)/addr/\($0)"]! }
        dataIDs = (0..<d.width).map { ids["\(top)/data/\($0)"]! }
        for (i, def) in defs.enumerated() where def == nil && !addrIDs.contains(i) {
            throw Self.error("net \(names[i]) is never driven")
        }
    }

    /// The value of `data` for `address`, as little-endian 64-bit limbs.
    public func evaluate(address: Int) -> [UInt64] {
        var value = [Int8](repeating: -1, count: defs.count)
        for (b, id) in addrIDs.enumerated() { value[id] = Int8(address >> b & 1) }
        func eval(_ id: Int) -> Bool {
            if value[id] >= 0 { return value[id] == 1 }
            let r: Bool
            switch defs[id]! {
            case let .const(c): r = c
            case let .eq(bits, v): r = bits.enumerated().allSatisfy { eval($0.element) == (v >> $0.offset & 1 == 1) }
            case let .or(terms): r = terms.contains { eval($0) }
            }
            value[id] = r ? 1 : 0
            return r
        }
        var out = [UInt64](repeating: 0, count: (dataBits + 63) / 64)
        for (j, id) in dataIDs.enumerated() where eval(id) { out[j >> 6] |= 1 << UInt64(j & 63) }
        return out
    }

    // MARK: - parsing

    /// Parsing step: strips comments and splits `text` into modules of statements (ending in ';', except `endmodule`).
    private static func parseModules(_ text: String) throws -> [String: Module] {
        var modules: [String: Module] = [:]
        var current: Module?
        let stripped = text.split(separator: "\n", omittingEmptySubsequences: false).map { line -> Substring in
            if let r = line.range(of: "//") { return line[..<r.lowerBound] }
            if line.hasPrefix("`timescale") { return "" }
            return line
        }.joined(separator: " ")
        // Statements end in ';' except `endmodule`.
        var pending = ""
        func flush(_ s: String) throws {
            let st = s.trimmingCharacters(in: .whitespaces)
            if st.isEmpty { return }
            if st.hasPrefix("module ") {
                guard current == nil else { throw Self.error("nested module at '\(st.prefix(60))'") }
                current = try Self.parseHeader(st)
            } else {
                guard current != nil else { throw Self.error("statement outside a module: '\(st.prefix(60))'") }
                current!.statements.append(st)
            }
        }
        for token in stripped.components(separatedBy: ";") {
            pending = " " + token
            // `endmodule` (a whole word) may be glued to the next statement (no ';' after it).
            while let r = Self.endmodule(in: pending) {
                try flush(String(pending[..<r.lowerBound]))
                guard let m = current else { throw Self.error("endmodule without module") }
                modules[m.name] = m
                current = nil
                pending = String(pending[r.upperBound...])
            }
            try flush(pending)
        }
        if let m = current { throw Self.error("module \(m.name) has no endmodule") }
        return modules
    }

    private static func endmodule(in s: String) -> Range<String.Index>? {
        var from = s.startIndex
        while let r = s.range(of: " endmodule", range: from..<s.endIndex) {
            if r.upperBound == s.endIndex || s[r.upperBound] == " " { return r }
            from = r.upperBound
        }
        return nil
    }

    private static func error(_ s: String) -> RTLError { .verificationFailed("Verilog evaluator: \(s)") }

    private static func parseHeader(_ st: String) throws -> Module {
        // module NAME (input [h:0] p, output [h:0] q)
        guard let open = st.firstIndex(of: "("), let close = st.lastIndex(of: ")") else {
            throw error("bad module header '\(st.prefix(80))'")
        }
        let name = st[st.index(st.startIndex, offsetBy: 7)..<open].trimmingCharacters(in: .whitespaces)
        var m = Module(name: name)
        for decl in st[st.index(after: open)..<close].split(separator: ",") {
            let parts = decl.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
            guard parts.count == 3, parts[0] == "input" || parts[0] == "output", let (h, l) = range(parts[1]), l == 0 else {
                throw error("unsupported port declaration '\(decl)' in module \(name)")
            }
            m.ports.append(Port(name: parts[2], isInput: parts[0] == "input", width: h + 1))
        }
        return m
    }

    /// "[h:l]" -> (h, l)
    private static func range(_ s: String) -> (Int, Int)? {
        guard s.hasPrefix("["), s.hasSuffix("]") else { return nil }
        let inner = s.dropFirst().dropLast().split(separator: ":")
        guard inner.count == 2, let h = Int(inner[0]), let l = Int(inner[1]), h >= l, l >= 0 else { return nil }
        return (h, l)
    }

    /// "name[i]" -> (name, i)
    private static func bitRef(_ s: Substring) -> (String, Int)? {
        let t = s.trimmingCharacters(in: .whitespaces)
        guard let open = t.firstIndex(of: "["), t.hasSuffix("]"),
              let i = Int(t[t.index(after: open)..<t.index(before: t.endIndex)]) else { return nil }
        return (String(t[..<open]), i)
    }

    /// `(p == N'dV)` with p an N-bit net of `scope`.
    private mutating func comparison(_ text: String, scope: String) throws -> Def {
        guard text.hasPrefix("("), text.hasSuffix(")") else { throw Self.error("unsupported expression '\(text)'") }
        let cmp = text.dropFirst().dropLast().components(separatedBy: "==").map { $0.trimmingCharacters(in: .whitespaces) }
        let lit = cmp.count == 2 ? cmp[1].components(separatedBy: "'d") : []
        guard lit.count == 2, let n = Int(lit[0]), let v = Int(lit[1]), let w = widths["\(scope)/\(cmp[0])"], w == n else {
            throw Self.error("unsupported comparison '\(text)'")
        }
        return .eq(try (0..<w).map { try existing(scope, cmp[0], $0) }, v)
    }

    private mutating func net(_ scope: String, _ name: String, _ bit: Int) -> Int {
        let key = "\(scope)/\(name)/\(bit)"
        if let id = ids[key] { return id }
        defs.append(nil)
        names.append("\(scope).\(name)[\(bit)]")
        ids[key] = defs.count - 1
        return defs.count - 1
    }

    private mutating func existing(_ scope: String, _ name: String, _ bit: Int) throws -> Int {
        guard let w = widths["\(scope)/\(name)"] else { throw Self.error("undeclared net \(name) in \(scope)") }
        guard (0..<w).contains(bit) else { throw Self.error("\(name)[\(bit)] out of range [\(w - 1):0] in \(scope)") }
        return net(scope, name, bit)
    }

    /// Elaboration: binds `m`'s ports in `scope`, then declares, drives and instantiates its statements in order.
    private mutating func elaborate(_ m: Module, scope: String, bindings: [String: [Int]],
                                    modules: [String: Module], depth: Int) throws {
        guard depth < 8 else { throw Self.error("module nesting too deep") }
        try bindPorts(m.ports, scope: scope, bindings: bindings, depth: depth)
        for st in m.statements {
            let words = st.split(separator: " ", maxSplits: 1).map(String.init)
            if words[0] == "wire" {
                try declareWire(st, scope: scope)
            } else if words[0] == "assign" {
                try assign(words[1], statement: st, scope: scope)
            } else if let sub = modules[words[0]] {
                try instantiate(sub, words: words, statement: st, scope: scope, modules: modules, depth: depth)
            } else {
                throw Self.error("unsupported statement '\(st.prefix(80))'")
            }
        }
        if depth == 0 {
            for p in m.ports { for b in 0..<p.width { _ = net(scope, p.name, b) } }
        }
    }

    /// Port step: declares each port's width and, below the top, connects it to the parent's nets.
    private mutating func bindPorts(_ ports: [Port], scope: String, bindings: [String: [Int]], depth: Int) throws {
        for p in ports {
            widths["\(scope)/\(p.name)"] = p.width
            if let bound = bindings[p.name] {
                guard bound.count == p.width else {
                    throw Self.error("port \(p.name) of \(scope) is \(p.width) bits, connected to \(bound.count)")
                }
                for (b, id) in bound.enumerated() { ids["\(scope)/\(p.name)/\(b)"] = id }
            } else if depth > 0 {
                throw Self.error("port \(p.name) of \(scope) is not connected")
            }
        }
    }

    /// A `wire [h:0] w` declaration.
    private mutating func declareWire(_ st: String, scope: String) throws {
        let parts = st.split(separator: " ").map(String.init)
        guard parts.count == 3, let (h, l) = Self.range(parts[1]), l == 0 else {
            throw Self.error("unsupported wire declaration '\(st)'")
        }
        widths["\(scope)/\(parts[2])"] = h + 1
    }

    /// An `assign` statement (`body` is the text after `assign`): a whole vector or one bit.
    private mutating func assign(_ body: String, statement st: String, scope: String) throws {
        if let eqSign = body.range(of: " = "), body[..<eqSign.lowerBound].allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) {
            let lhsName = String(body[..<eqSign.lowerBound])
            let rhs = body[eqSign.upperBound...].trimmingCharacters(in: .whitespaces)
            try assignVector(lhsName, rhs: rhs, statement: st, scope: scope)
            return
        }
        guard let eqSign = body.range(of: " = "), let (lhsName, lhsBit) = Self.bitRef(body[..<eqSign.lowerBound]) else {
            throw Self.error("unsupported assign '\(st.prefix(80))'")
        }
        let lhs = try existing(scope, lhsName, lhsBit)
        guard defs[lhs] == nil else { throw Self.error("net \(names[lhs]) is driven twice") }
        let rhs = body[eqSign.upperBound...].trimmingCharacters(in: .whitespaces)
        if rhs == "1'b0" || rhs == "1'b1" {
            defs[lhs] = .const(rhs == "1'b1")
        } else if rhs.hasPrefix("("), rhs.hasSuffix(")"), rhs.contains("==") {
            defs[lhs] = try comparison(rhs, scope: scope)
        } else {
            let terms = try orTerms(rhs, statement: st, scope: scope)
            defs[lhs] = .or(terms)
        }
    }

    /// Whole-vector assign: `v = {e_{w-1}, ..., e_0}` with each element a comparison.
    private mutating func assignVector(_ lhsName: String, rhs: String, statement st: String, scope: String) throws {
        guard rhs.hasPrefix("{"), rhs.hasSuffix("}"), let w = widths["\(scope)/\(lhsName)"] else {
            throw Self.error("unsupported assign '\(st.prefix(80))'")
        }
        let elements = rhs.dropFirst().dropLast().split(separator: ",")
        guard elements.count == w else {
            throw Self.error("\(lhsName) is \(w) bits, assigned \(elements.count) in \(scope)")
        }
        for (n, e) in elements.enumerated() {
            let bit = try existing(scope, lhsName, w - 1 - n)
            guard defs[bit] == nil else { throw Self.error("net \(names[bit]) is driven twice") }
            defs[bit] = try comparison(e.trimmingCharacters(in: .whitespaces), scope: scope)
        }
    }

    /// The terms of `|{x[i], y[j], ...}` (reduction OR of a concatenation) or `x[i] | y[j] | ...`.
    private mutating func orTerms(_ rhs: String, statement st: String, scope: String) throws -> [Int] {
        let isReduction = rhs.hasPrefix("|{") && rhs.hasSuffix("}")
        let list = isReduction ? rhs.dropFirst(2).dropLast() : Substring(rhs)
        var terms: [Int] = []
        for t in list.split(separator: isReduction ? "," : "|") {
            guard let (n, b) = Self.bitRef(t) else { throw Self.error("unsupported term '\(t)' in '\(st.prefix(80))'") }
            terms.append(try existing(scope, n, b))
        }
        return terms
    }

    /// An instance `M inst (.p(x), .q(y[h:l]))`: connects its ports to nets of `scope` and elaborates `sub`.
    private mutating func instantiate(_ sub: Module, words: [String], statement st: String, scope: String,
                                      modules: [String: Module], depth: Int) throws {
        let rest = words.count > 1 ? words[1] : ""
        guard let open = rest.firstIndex(of: "("), rest.hasSuffix(")") else {
            throw Self.error("unsupported instance '\(st.prefix(80))'")
        }
        let inst = rest[..<open].trimmingCharacters(in: .whitespaces)
        var childBindings: [String: [Int]] = [:]
        for conn in rest[rest.index(after: open)..<rest.index(before: rest.endIndex)].split(separator: ",") {
            let c = conn.trimmingCharacters(in: .whitespaces)
            guard c.hasPrefix("."), let po = c.firstIndex(of: "("), c.hasSuffix(")") else {
                throw Self.error("unsupported port connection '\(c)'")
            }
            let port = String(c[c.index(after: c.startIndex)..<po])
            let expr = String(c[c.index(after: po)..<c.index(before: c.endIndex)])
            childBindings[port] = try connection(expr, scope: scope)
        }
        try elaborate(sub, scope: "\(scope).\(inst)", bindings: childBindings, modules: modules, depth: depth + 1)
    }

    /// The nets of `scope` a port connection names: `w[h:l]`, `w[i]` or a whole `w`.
    private mutating func connection(_ expr: String, scope: String) throws -> [Int] {
        if let br = expr.firstIndex(of: "["), let (h, l) = Self.range(String(expr[br...])) {
            let n = String(expr[..<br])
            return try (l...h).map { try existing(scope, n, $0) }
        } else if let (n, b) = Self.bitRef(Substring(expr)) {
            return [try existing(scope, n, b)]
        } else {
            guard let w = widths["\(scope)/\(expr)"] else { throw Self.error("undeclared net \(expr) in \(scope)") }
            return (0..<w).map { net(scope, expr, $0) }
        }
    }
}
