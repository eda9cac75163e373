import Foundation
import Metrics
import Prometheus
import ROMAChip
import ROMAServe
import Synchronization

/// The server's metrics (swift-metrics with a Prometheus registry of its own, no global bootstrap):
/// TTFT and inter-token histograms, tokens, requests by outcome, queue depth, batch size, SRAM bytes of
/// KV caches and of adapters, adapter loads and evictions. `/metrics` renders them in the text format.
final class ServerMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    private let factory: PrometheusMetricsFactory
    private let ttft: Metrics.Timer, itl: Metrics.Timer
    private let promptTokens: Metrics.Counter, completionTokens: Metrics.Counter
    private let queued: Metrics.Gauge, running: Metrics.Gauge, batch: Metrics.Gauge, steps: Metrics.Gauge
    private let sramKV: Metrics.Gauge, sramAdapters: Metrics.Gauge, sramCapacity: Metrics.Gauge
    private let loads: Metrics.Gauge, evictions: Metrics.Gauge
    private let outcomes = Mutex<[String: Metrics.Counter]>([:])

    init() {
        var f = PrometheusMetricsFactory(registry: registry)
        let latency: [Duration] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30].map { .milliseconds(Int($0 * 1000)) }
        f.durationHistogramBuckets = ["roma_time_to_first_token_seconds": latency, "roma_inter_token_latency_seconds": latency]
        factory = f
        ttft = Metrics.Timer(label: "roma_time_to_first_token_seconds", factory: f)
        itl = Metrics.Timer(label: "roma_inter_token_latency_seconds", factory: f)
        promptTokens = Metrics.Counter(label: "roma_prompt_tokens_total", factory: f)
        completionTokens = Metrics.Counter(label: "roma_generated_tokens_total", factory: f)
        queued = Metrics.Gauge(label: "roma_queue_depth", factory: f)
        running = Metrics.Gauge(label: "roma_running_requests", factory: f)
        batch = Metrics.Gauge(label: "roma_batch_sequences", factory: f)
        steps = Metrics.Gauge(label: "roma_forward_passes", factory: f)
        sramKV = Metrics.Gauge(label: "roma_sram_bytes", dimensions: [("use", "kv_cache")], factory: f)
        sramAdapters = Metrics.Gauge(label: "roma_sram_bytes", dimensions: [("use", "adapters")], factory: f)
        sramCapacity = Metrics.Gauge(label: "roma_sram_capacity_bytes", factory: f)
        loads = Metrics.Gauge(label: "roma_adapter_loads", factory: f)
        evictions = Metrics.Gauge(label: "roma_adapter_evictions", factory: f)
    }

    func firstToken(_ s: Double) { ttft.recordNanoseconds(Int64(s * 1e9)) }
    func interToken(_ s: Double) { itl.recordNanoseconds(Int64(s * 1e9)) }

    func outcome(_ name: String) {
        let c = outcomes.withLock { d -> Metrics.Counter in
            if let c = d[name] { return c }
            let c = Metrics.Counter(label: "roma_requests_total", dimensions: [("outcome", name)], factory: factory)
            d[name] = c
            return c
        }
        c.increment()
    }

    func finished(_ reason: FinishReason, usage: Usage) {
        outcome(reason.rawValue)
        promptTokens.increment(by: usage.promptTokens)
        completionTokens.increment(by: usage.completionTokens)
    }
    func refused(_ e: ServeError) { outcome(e.kind.rawValue) }
    func disconnected() { outcome("disconnected") }

    /// The text exposition, with the gauges read now.
    func scrape(_ ready: OpenAIServer.Ready?) -> String {
        if let r = ready {
            let s = r.scheduler.stats
            queued.record(s.queued); running.record(s.running); batch.record(s.lastBatchSequences); steps.record(s.steps)
            let adapterBytes = r.engine.adapters.status.reduce(0) { $0 + $1.bytes }
            if let m = r.engine.backend.memory {
                sramCapacity.record(m.capacity)
                sramAdapters.record(adapterBytes)
                sramKV.record(m.used - adapterBytes)
            }
            loads.record(r.engine.adapters.loads)
            evictions.record(r.engine.adapters.evictions.count)
        }
        return registry.emitToString()
    }
}
