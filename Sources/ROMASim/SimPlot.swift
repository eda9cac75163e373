import Foundation

/// A small hand-written SVG line/bar plot writer (no dependencies): axes with "nice" ticks, series,
/// marked reference points (the paper's stated values) and horizontal bound lines.
public struct SVGPlot: Sendable {
    public struct Series: Sendable {
        public var name: String
        public var points: [(x: Double, y: Double)]
        public var dashed: Bool
        public init(name: String, points: [(x: Double, y: Double)], dashed: Bool = false) {
            self.name = name; self.points = points; self.dashed = dashed
        }
    }
    public struct Marker: Sendable {
        public var x: Double, y: Double, label: String
        public init(x: Double, y: Double, label: String) { self.x = x; self.y = y; self.label = label }
    }
    public struct Bound: Sendable {
        public var y: Double, label: String
        public init(y: Double, label: String) { self.y = y; self.label = label }
    }

    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var series: [Series] = []
    public var markers: [Marker] = []
    public var bounds: [Bound] = []
    public var logX = false

    public init(title: String, xLabel: String, yLabel: String, logX: Bool = false) {
        self.title = title; self.xLabel = xLabel; self.yLabel = yLabel; self.logX = logX
    }

    static let colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"]
    static let (W, H, L, R, T, B) = (720.0, 440.0, 80.0, 190.0, 40.0, 60.0)

    /// "Nice" tick values covering lo...hi.
    static func ticks(_ lo: Double, _ hi: Double, count: Int = 6) -> [Double] {
        guard hi > lo else { return [lo] }
        let raw = (hi - lo) / Double(count)
        let mag = pow(10, floor(log10(raw)))
        let step = [1.0, 2, 2.5, 5, 10].map { $0 * mag }.first { $0 >= raw } ?? 10 * mag
        var v = (lo / step).rounded(.down) * step
        var out: [Double] = []
        while v <= hi + step * 1e-9 { if v >= lo - step * 1e-9 { out.append(v) }; v += step }
        return out
    }

    /// Compact number for axis labels and sweep summaries.
    public static func fmt(_ v: Double) -> String {
        if v == 0 { return "0" }
        let a = abs(v)
        if a >= 1e6 { return String(format: "%gM", v / 1e6) }
        if a >= 1e4 { return String(format: "%gk", v / 1e3) }
        if a == a.rounded() { return String(format: "%.0f", v) }
        return String(format: "%g", (v * 1000).rounded() / 1000)
    }

    static func esc(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;")
    }

    /// The SVG document.
    public func render() -> String {
        let (W, H, L, R, T, B) = Self.W_H()
        let xs = series.flatMap { $0.points.map(\.x) } + markers.map(\.x)
        let ys = series.flatMap { $0.points.map(\.y) } + markers.map(\.y) + bounds.map(\.y)
        let fx: (Double) -> Double = logX ? { log2(max($0, 1e-12)) } : { $0 }
        var x0 = (xs.map(fx).min() ?? 0), x1 = (xs.map(fx).max() ?? 1)
        if x1 <= x0 { x1 = x0 + 1 }
        var y1 = (ys.max() ?? 1) * 1.08
        let y0 = min(0, ys.min() ?? 0)
        if y1 <= y0 { y1 = y0 + 1 }
        let pad = (x1 - x0) * 0.03; x0 -= pad; x1 += pad
        let pw = W - L - R, ph = H - T - B
        func px(_ x: Double) -> Double { ((L + (fx(x) - x0) / (x1 - x0) * pw) * 10).rounded() / 10 }
        func py(_ y: Double) -> Double { ((T + ph - (y - y0) / (y1 - y0) * ph) * 10).rounded() / 10 }
        var s = """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(W))" height="\(Int(H))" viewBox="0 0 \(Int(W)) \(Int(H))" font-family="sans-serif" font-size="12">
        <rect width="100%" height="100%" fill="white"/>
        <text x="\(W / 2)" y="22" text-anchor="middle" font-size="15">\(Self.esc(title))</text>

        """
        // grid and ticks
        for yt in Self.ticks(y0, y1) {
            let y = py(yt)
            s += "<line x1=\"\(L)\" y1=\"\(y)\" x2=\"\(L + pw)\" y2=\"\(y)\" stroke=\"#e0e0e0\"/>"
            s += "<text x=\"\(L - 6)\" y=\"\(y + 4)\" text-anchor=\"end\">\(Self.fmt(yt))</text>\n"
        }
        let xticks: [Double] = logX ? Array(Set(xs)).sorted() : Self.ticks(x0 + pad, x1 - pad)
        for xt in xticks {
            let x = px(xt)
            s += "<line x1=\"\(x)\" y1=\"\(T)\" x2=\"\(x)\" y2=\"\(T + ph)\" stroke=\"#f0f0f0\"/>"
            s += "<text x=\"\(x)\" y=\"\(T + ph + 16)\" text-anchor=\"middle\">\(Self.fmt(xt))</text>\n"
        }
        s += "<rect x=\"\(L)\" y=\"\(T)\" width=\"\(pw)\" height=\"\(ph)\" fill=\"none\" stroke=\"black\"/>\n"
        s += "<text x=\"\(L + pw / 2)\" y=\"\(H - 18)\" text-anchor=\"middle\">\(Self.esc(xLabel))</text>\n"
        s += "<text transform=\"translate(18,\(T + ph / 2)) rotate(-90)\" text-anchor=\"middle\">\(Self.esc(yLabel))</text>\n"
        for b in bounds {
            let y = py(b.y)
            s += "<line x1=\"\(L)\" y1=\"\(y)\" x2=\"\(L + pw)\" y2=\"\(y)\" stroke=\"#888\" stroke-dasharray=\"2,4\"/>"
            s += "<text x=\"\(L + pw - 4)\" y=\"\(y - 4)\" text-anchor=\"end\" fill=\"#555\">\(Self.esc(b.label))</text>\n"
        }
        var ly = T + 10
        for (i, ser) in series.enumerated() {
            let c = Self.colors[i % Self.colors.count]
            let pts = ser.points.map { "\(px($0.x)),\(py($0.y))" }.joined(separator: " ")
            s += "<polyline fill=\"none\" stroke=\"\(c)\" stroke-width=\"2\"\(ser.dashed ? " stroke-dasharray=\"6,4\"" : "") points=\"\(pts)\"/>\n"
            for p in ser.points { s += "<circle cx=\"\(px(p.x))\" cy=\"\(py(p.y))\" r=\"2.5\" fill=\"\(c)\"/>" }
            s += "\n<line x1=\"\(L + pw + 12)\" y1=\"\(ly)\" x2=\"\(L + pw + 36)\" y2=\"\(ly)\" stroke=\"\(c)\" stroke-width=\"2\"\(ser.dashed ? " stroke-dasharray=\"6,4\"" : "")/>"
            s += "<text x=\"\(L + pw + 40)\" y=\"\(ly + 4)\">\(Self.esc(ser.name))</text>\n"
            ly += 18
        }
        if !markers.isEmpty {
            s += "<path d=\"M\(L + pw + 24),\(ly - 5) l5,5 l-5,5 l-5,-5 z\" fill=\"none\" stroke=\"black\" stroke-width=\"1.5\"/>"
            s += "<text x=\"\(L + pw + 40)\" y=\"\(ly + 4)\">paper value</text>\n"
        }
        for m in markers {
            let x = px(m.x), y = py(m.y)
            s += "<path d=\"M\(x),\(y - 6) l6,6 l-6,6 l-6,-6 z\" fill=\"none\" stroke=\"black\" stroke-width=\"1.5\"/>"
            s += "<text x=\"\(x + 8)\" y=\"\(y - 8)\" font-size=\"11\">\(Self.esc(m.label))</text>\n"
        }
        s += "</svg>\n"
        return s
    }

    static func W_H() -> (Double, Double, Double, Double, Double, Double) { (W, H, L, R, T, B) }
}

/// A grouped horizontal bar chart (Fig. 11 / Fig. 12 style): groups of named values.
public struct SVGBars: Sendable {
    public var title: String
    public var unit: String
    public var groups: [(name: String, bars: [(label: String, value: Double)])]
    public init(title: String, unit: String, groups: [(name: String, bars: [(label: String, value: Double)])]) {
        self.title = title; self.unit = unit; self.groups = groups
    }
    public func render() -> String {
        let rowH = 20.0, L = 170.0, W = 720.0, pw = W - L - 120
        let rows = groups.reduce(0) { $0 + $1.bars.count + 1 }
        let H = 50 + Double(rows) * rowH + 20
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(W))\" height=\"\(Int(H))\" font-family=\"sans-serif\" font-size=\"12\">\n"
        s += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        s += "<text x=\"\(W / 2)\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">\(SVGPlot.esc(title))</text>\n"
        var y = 40.0
        for g in groups {
            let mx = max(g.bars.map(\.value).max() ?? 1, 1e-12)
            s += "<text x=\"8\" y=\"\(y + 14)\" font-weight=\"bold\">\(SVGPlot.esc(g.name))</text>\n"
            y += rowH
            for (i, b) in g.bars.enumerated() {
                let w = (b.value / mx * pw * 10).rounded() / 10
                s += "<text x=\"\(L - 6)\" y=\"\(y + 14)\" text-anchor=\"end\">\(SVGPlot.esc(b.label))</text>"
                s += "<rect x=\"\(L)\" y=\"\(y + 3)\" width=\"\(w)\" height=\"\(rowH - 6)\" fill=\"\(SVGPlot.colors[i % SVGPlot.colors.count])\"/>"
                s += "<text x=\"\(L + w + 6)\" y=\"\(y + 14)\">\(String(format: "%.1f", b.value)) \(SVGPlot.esc(unit))</text>\n"
                y += rowH
            }
        }
        s += "</svg>\n"
        return s
    }
}
