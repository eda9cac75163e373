import XCTest
import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
@testable import ROMASim

final class PlotTests: XCTestCase {
    final class Counter: NSObject, XMLParserDelegate {
        var elements: [String: Int] = [:]
        func parser(_ p: XMLParser, didStartElement e: String, namespaceURI: String?, qualifiedName: String?, attributes: [String: String] = [:]) {
            elements[e, default: 0] += 1
        }
    }

    func parse(_ svg: String) -> [String: Int]? {
        let p = XMLParser(data: Data(svg.utf8)), c = Counter()
        p.delegate = c
        return p.parse() ? c.elements : nil
    }

    /// Every paper plot is well-formed SVG; line plots carry one polyline per series and one diamond per paper point.
    func testPaperPlotsAreWellFormed() throws {
        let plots = try PaperReproduction().plots()
        XCTAssertEqual(plots.map(\.0), ["fig6-prefill.svg", "fig7-decode.svg", "fig8-rank-prefill.svg", "fig8-rank-decode.svg",
                                        "fig9-e2e.svg", "fig10-max-tokens.svg", "fig11-breakdown.svg", "fig12-lunit.svg"])
        for (name, svg) in plots {
            let el = try XCTUnwrap(parse(svg), name)
            XCTAssertEqual(el["svg"], 1, name)
        }
        let f7 = try XCTUnwrap(parse(plots[1].1))
        XCTAssertEqual(f7["polyline"], 2)
        XCTAssertEqual(f7["path"], 1 + 3)  // legend diamond + R6, R7, R8
        let f10 = try XCTUnwrap(parse(plots[5].1))
        XCTAssertEqual(f10["polyline"], 5)
        XCTAssertEqual(f10["path"], 1 + 3)  // R16, R17, R18
    }

    func testTicksAndEscaping() {
        XCTAssertEqual(SVGPlot.ticks(0, 100, count: 5), [0, 20, 40, 60, 80, 100])
        XCTAssertEqual(SVGPlot.ticks(0, 7, count: 6), [0, 2, 4, 6])   // raw step 1.17 -> 2
        XCTAssertEqual(SVGPlot.fmt(24_100), "24.1k")
        XCTAssertEqual(SVGPlot.esc("a < b & c"), "a &lt; b &amp; c")
    }
}
