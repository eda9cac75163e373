import Foundation

extension LUnit {
    /// One line of `roma golden lunit`'s input format, {"a","w","z","s","bits"}: a group of FP16
    /// activation bit patterns, its weight codes, zero point, FP16 scale bit pattern and code width.
    /// Read by `roma golden lunit` and by `roma rtl lunit --stimulus`.
    public struct StimulusLine: Equatable, Sendable {
        public var a: [UInt16]
        public var w: [UInt8]
        public var z: Int
        public var s: UInt16
        public var bits: Int

        /// Parses one line; the error message says which field is wrong (without the line number).
        public init(json line: String) throws(StimulusError) {
            guard let obj = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { throw StimulusError("not a JSON object") }
            func ints(_ k: String) throws(StimulusError) -> [Int] {
                guard let a = obj[k] as? [NSNumber], a.allSatisfy({ $0.doubleValue == Double($0.intValue) }) else {
                    throw StimulusError("'\(k)' must be an array of integers")
                }
                return a.map(\.intValue)
            }
            func int(_ k: String) throws(StimulusError) -> Int {
                guard let v = obj[k] as? NSNumber, v.doubleValue == Double(v.intValue) else { throw StimulusError("'\(k)' must be an integer") }
                return v.intValue
            }
            let b = try int("bits")
            guard b == 2 || b == 4 else { throw StimulusError("bits must be 2 or 4, got \(b)") }
            let a = try ints("a"), w = try ints("w"), z = try int("z"), s = try int("s")
            guard !a.isEmpty, a.count == w.count else {
                throw StimulusError("'a' and 'w' must have the same, non-zero length (got \(a.count) and \(w.count))")
            }
            guard a.allSatisfy({ (0...0xFFFF).contains($0) }) else { throw StimulusError("'a' entries must be FP16 bit patterns 0...65535") }
            guard w.allSatisfy({ (0..<(1 << b)).contains($0) }) else { throw StimulusError("'w' codes must be in 0..<\(1 << b) for \(b)-bit weights") }
            guard (0..<(1 << b)).contains(z) else { throw StimulusError("zero point \(z) out of range for \(b) bits") }
            guard (0...0xFFFF).contains(s) else { throw StimulusError("'s' must be an FP16 bit pattern 0...65535") }
            self.a = a.map { UInt16($0) }; self.w = w.map { UInt8($0) }; self.z = z; self.s = UInt16(s); self.bits = b
        }
    }

    public struct StimulusError: Error, CustomStringConvertible {
        public let description: String
        public init(_ d: String) { description = d }
    }
}
