import Foundation
import ROMANumerics
import ROMAServe
import Synchronization

/// `roma bench serve`: drives an OpenAI-compatible server (ours, or llama.cpp's llama-server with its
/// `lora` field) with streaming completions of fixed length (`ignore_eos`), a random adapter per
/// request, at a fixed concurrency or as open-loop Poisson arrivals, and reports TTFT, TPOT, ITL and
/// end-to-end latency percentiles, request and token throughput, and failures by reason (vLLM's
/// benchmark_serving definitions: TPOT = (latency − TTFT) / (tokens − 1); failures excluded from the
/// latency statistics). Loopback HTTP/1.1 only (the server is on this machine).
public struct LoadGenerator: Sendable {
    public enum AdapterField: String, Sendable { case model, lora }
    public var host = "127.0.0.1"
    public var port = 8080
    public var requests = 64
    /// Clients at once (closed loop); nil with `rate`: open loop.
    public var concurrency: Int? = 8
    /// Requests per second, Poisson arrivals (open loop).
    public var rate: Double?
    public var promptTokens = 128
    public var maxTokens = 128
    /// The base model id and the adapters (by name; `lora` mode sends their positions as ids).
    public var model = "roma"
    public var adapters: [String] = []
    public var adapterField = AdapterField.model
    public var apiKey: String?
    public var seed: UInt64 = 1
    /// Token ids the prompts are drawn from (a range every vocabulary has).
    public var tokenRange = 1000..<20000
    public init() {}

    /// One request's outcome.
    public struct Sample: Sendable {
        public var ttft: Double?
        public var latency: Double
        public var tokens: Int
        public var gaps: [Double]
        public var failure: String?
    }

    public struct Report: Sendable, Codable {
        public struct Percentiles: Sendable, Codable { public var mean, p50, p90, p99: Double }
        public var requests: Int, completed: Int
        public var failures: [String: Int]
        public var seconds: Double
        public var outputTokens: Int
        public var requestsPerSecond: Double, outputTokensPerSecond: Double
        public var ttftMs: Percentiles, tpotMs: Percentiles, itlMs: Percentiles, e2eMs: Percentiles
        public var concurrency: Int?, rate: Double?, promptTokens: Int, maxTokens: Int, adapters: [String]
    }

    /// Runs the workload (blocking; one thread per client) and summarizes it.
    public func run() -> Report {
        let samples = Mutex<[Sample]>([])
        let t0 = Self.now()
        let group = DispatchGroup()
        if let c = concurrency, rate == nil {
            let next = Mutex(0)
            for _ in 0..<c {
                group.enter()
                Thread {
                    while true {
                        let i = next.withLock { n -> Int in defer { n += 1 }; return n }
                        if i >= requests { break }
                        let s = one(i)
                        samples.withLock { $0.append(s) }
                    }
                    group.leave()
                }.start()
            }
        } else {
            var rng = SplitMix64(seed: seed ^ 0x5eed)
            var at = 0.0
            for i in 0..<requests {
                at += -log(1 - rng.unit()) / (rate ?? 1)
                let start = at
                group.enter()
                Thread {
                    let wait = start - (Self.now() - t0)
                    if wait > 0 { Thread.sleep(forTimeInterval: wait) }
                    let s = one(i)
                    samples.withLock { $0.append(s) }
                    group.leave()
                }.start()
            }
        }
        group.wait()
        return summarize(samples.withLock { $0 }, seconds: Self.now() - t0)
    }

    static func now() -> Double { Scheduler.now() }

    /// The JSON body of request `i`: a prompt of `promptTokens` ids, streaming, fixed length, greedy.
    func body(_ i: Int) -> String {
        var rng = SplitMix64(seed: seed &+ UInt64(i) &* 0x9E37_79B9)
        let ids = (0..<promptTokens).map { _ in tokenRange.lowerBound + Int(rng.next() % UInt64(tokenRange.count)) }
        var o: [String: Any] = ["prompt": ids, "max_tokens": maxTokens, "stream": true, "ignore_eos": true, "temperature": 0,
                                "stream_options": ["include_usage": true], "model": model]
        if !adapters.isEmpty {
            let k = Int(rng.next() % UInt64(adapters.count))
            switch adapterField {
            case .model: o["model"] = adapters[k]
            case .lora: o["lora"] = [["id": k, "scale": 1.0]]
            }
        }
        let data = (try? JSONSerialization.data(withJSONObject: o)) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }

    /// Sends request `i` and times its events.
    func one(_ i: Int) -> Sample {
        let t0 = Self.now()
        var ttft: Double?, last: Double?, gaps: [Double] = [], tokens = 0
        do {
            let conn = try LoopbackHTTP(host: host, port: port)
            defer { conn.close() }
            let b = body(i)
            var head = "POST /v1/completions HTTP/1.1\r\nHost: \(host)\r\nContent-Type: application/json\r\nAccept: text/event-stream\r\n"
            if let apiKey { head += "Authorization: Bearer \(apiKey)\r\n" }
            try conn.send(head + "Content-Length: \(b.utf8.count)\r\nConnection: close\r\n\r\n" + b)
            let status = try conn.readHead()
            guard status == 200 else {
                return Sample(ttft: nil, latency: Self.now() - t0, tokens: 0, gaps: [], failure: "http \(status)")
            }
            var usageTokens: Int?
            try conn.readEvents { data in
                guard data != "[DONE]", let o = try? JSONSerialization.jsonObject(with: Data(data.utf8)) as? [String: Any] else { return }
                if let u = o["usage"] as? [String: Any], let c = u["completion_tokens"] as? Int { usageTokens = c }
                // one chunk per generated token; the finish chunk (finish_reason set) is not a token
                guard let ch = (o["choices"] as? [[String: Any]])?.first, ch["finish_reason"] == nil || ch["finish_reason"] is NSNull,
                      (ch["text"] as? String ?? (ch["delta"] as? [String: Any])?["content"] as? String) != nil else { return }
                let now = Self.now()
                if ttft == nil { ttft = now - t0 } else if let l = last { gaps.append(now - l) }
                last = now
                tokens += 1
            }
            let n = usageTokens ?? tokens
            return Sample(ttft: ttft, latency: Self.now() - t0, tokens: n, gaps: gaps, failure: n == 0 ? "no tokens" : nil)
        } catch {
            return Sample(ttft: ttft, latency: Self.now() - t0, tokens: tokens, gaps: gaps, failure: "\(error)")
        }
    }

    func summarize(_ samples: [Sample], seconds: Double) -> Report {
        let ok = samples.filter { $0.failure == nil }
        var failures: [String: Int] = [:]
        for s in samples { if let f = s.failure { failures[f, default: 0] += 1 } }
        func pct(_ xs: [Double]) -> Report.Percentiles {
            let v = xs.sorted().map { $0 * 1000 }
            guard !v.isEmpty else { return .init(mean: 0, p50: 0, p90: 0, p99: 0) }
            func at(_ q: Double) -> Double { v[min(v.count - 1, Int((q * Double(v.count - 1)).rounded()))] }
            return .init(mean: v.reduce(0, +) / Double(v.count), p50: at(0.5), p90: at(0.9), p99: at(0.99))
        }
        let out = ok.reduce(0) { $0 + $1.tokens }
        return Report(requests: samples.count, completed: ok.count, failures: failures, seconds: seconds, outputTokens: out,
                      requestsPerSecond: Double(ok.count) / seconds, outputTokensPerSecond: Double(out) / seconds,
                      ttftMs: pct(ok.compactMap(\.ttft)),
                      tpotMs: pct(ok.filter { $0.tokens > 1 }.map { ($0.latency - ($0.ttft ?? 0)) / Double($0.tokens - 1) }),
                      itlMs: pct(ok.flatMap(\.gaps)), e2eMs: pct(ok.map(\.latency)),
                      concurrency: rate == nil ? concurrency : nil, rate: rate, promptTokens: promptTokens, maxTokens: maxTokens, adapters: adapters)
    }
}

extension LoadGenerator.Report {
    /// The report for people.
    public var text: String {
        func row(_ n: String, _ p: Percentiles) -> String {
            n.padding(toLength: 10, withPad: " ", startingAt: 0) + String(format: "mean %8.1f  p50 %8.1f  p90 %8.1f  p99 %8.1f ms", p.mean, p.p50, p.p90, p.p99)
        }
        var s = String(format: "%d requests (%d completed) in %.2f s: %.2f req/s, %.1f output tokens/s (%d tokens)\n",
                       requests, completed, seconds, requestsPerSecond, outputTokensPerSecond, outputTokens)
        s += [row("TTFT", ttftMs), row("TPOT", tpotMs), row("ITL", itlMs), row("E2E", e2eMs)].joined(separator: "\n") + "\n"
        s += failures.isEmpty ? "failures: none\n" : "failures: " + failures.sorted { $0.key < $1.key }.map { "\($0.key) x\($0.value)" }.joined(separator: ", ") + "\n"
        return s
    }
}

/// A blocking HTTP/1.1 client for loopback: one request per connection, chunked or plain bodies,
/// server-sent events handed over as their `data:` payloads.
final class LoopbackHTTP {
    struct Failure: Error, CustomStringConvertible { let description: String }
    private let fd: Int32
    private var buffer: [UInt8] = []
    private var chunked = false

    init(host: String, port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket failed") }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr(host == "localhost" ? "127.0.0.1" : host)
        let r = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard r == 0 else { Glibc.close(fd); throw Failure(description: "connection refused") }
        var tv = timeval(tv_sec: 600, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    func close() { Glibc.close(fd) }

    func send(_ s: String) throws {
        var bytes = Array(s.utf8)[...]
        while !bytes.isEmpty {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }   // no SIGPIPE
            guard n > 0 else { throw Failure(description: "write failed") }
            bytes = bytes.dropFirst(n)
        }
    }

    private func fill() throws -> Bool {
        var chunk = [UInt8](repeating: 0, count: 16384)
        let n = recv(fd, &chunk, chunk.count, 0)
        if n < 0 { throw Failure(description: "read failed (errno \(errno))") }
        if n == 0 { return false }
        buffer += chunk[0..<n]
        return true
    }

    private func line() throws -> String? {
        while true {
            if let i = buffer.firstIndex(of: 10) {
                let l = String(decoding: buffer[..<i], as: UTF8.self)
                buffer.removeFirst(i + 1)
                return l.hasSuffix("\r") ? String(l.dropLast()) : l
            }
            guard try fill() else { return nil }
        }
    }

    /// The status code; reads the headers.
    func readHead() throws -> Int {
        guard let status = try line(), let code = Int(status.split(separator: " ").dropFirst().first ?? "") else {
            throw Failure(description: "no HTTP status line")
        }
        while let h = try line(), !h.isEmpty {
            if h.lowercased().hasPrefix("transfer-encoding:") && h.lowercased().contains("chunked") { chunked = true }
        }
        return code
    }

    /// The body's bytes as they arrive (de-chunked).
    private func bodyBytes(_ sink: ([UInt8]) -> Void) throws {
        if !chunked {
            if !buffer.isEmpty { sink(buffer); buffer.removeAll() }
            while try fill() { sink(buffer); buffer.removeAll() }
            return
        }
        while let sizeLine = try line() {
            let hex = sizeLine.split(separator: ";").first.map(String.init) ?? ""
            guard !hex.isEmpty, hex.allSatisfy(\.isHexDigit), hex.count <= 8, let size = Int(hex, radix: 16) else {
                throw Failure(description: "bad chunk size '\(sizeLine)'")
            }
            if size == 0 { return }
            while buffer.count < size + 2 { guard try fill() else { throw Failure(description: "connection closed mid-chunk") } }
            guard buffer[size] == 13, buffer[size + 1] == 10 else { throw Failure(description: "chunk not followed by CRLF") }
            sink(Array(buffer[0..<size]))
            buffer.removeFirst(size + 2)
        }
    }

    /// Calls `onData` with each SSE event's data, in order (events split on blank lines, bytes kept
    /// until an event is whole, so a character split across chunks is decoded whole).
    func readEvents(_ onData: (String) -> Void) throws {
        var pending: [UInt8] = []
        func emit(_ event: ArraySlice<UInt8>) {
            for l in String(decoding: event, as: UTF8.self).split(whereSeparator: \.isNewline) where l.hasPrefix("data: ") {
                onData(String(l.dropFirst(6)))
            }
        }
        try bodyBytes { bytes in
            pending += bytes
            var start = 0
            var i = 0
            while i + 1 < pending.count {
                if pending[i] == 10 && pending[i + 1] == 10 { emit(pending[start..<i]); start = i + 2; i += 2 } else { i += 1 }
            }
            pending.removeFirst(start)
        }
        if !pending.isEmpty { emit(pending[...]) }   // a last event without its blank line
    }
}
