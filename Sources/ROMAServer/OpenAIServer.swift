import Foundation
import Hummingbird
import Logging
import ROMAModel
import ROMAServe
import ServiceLifecycle
import Synchronization

/// How `roma serve` listens and what it accepts.
public struct ServerOptions: Sendable {
    public var host = "127.0.0.1"
    public var port = 8080
    /// Requests must send `Authorization: Bearer <apiKey>` (nil: no key). /health and /metrics are open.
    public var apiKey: String?
    /// The base model's id in /v1/models (adapters are listed by their names).
    public var modelID = "roma"
    /// The only directory `POST /v1/adapters` loads from (nil: runtime loading is off).
    public var adapterDirectory: String?
    /// Largest request body (413 beyond).
    public var maxBodyBytes = 4 << 20
    /// Seconds in-flight streams get to finish at SIGTERM.
    public var drainSeconds = 10.0
    public init() {}
}

/// The OpenAI-compatible HTTP layer over a `Scheduler` (ROMAServe): routes, the error envelope, SSE,
/// adapters as models, metrics. It holds no model logic: every request becomes scheduler requests.
public final class OpenAIServer: Sendable {
    public let options: ServerOptions
    let created = Int(Date().timeIntervalSince1970)
    private let state = Mutex<Ready?>(nil)
    let metrics: ServerMetrics
    let logger: Logger

    /// The loaded model: an engine and the scheduler over it.
    struct Ready: Sendable {
        let engine: Engine
        let scheduler: Scheduler
    }

    public init(options: ServerOptions, logger: Logger = Logger(label: "roma.serve")) {
        self.options = options; self.logger = logger
        metrics = ServerMetrics()
    }

    /// Serving starts (until then every route but /metrics answers 503 "loading").
    public func ready(engine: Engine, scheduler: Scheduler) {
        state.withLock { $0 = Ready(engine: engine, scheduler: scheduler) }
    }

    var loaded: Ready? { state.withLock { $0 } }

    func require() throws -> Ready {
        guard let r = loaded else { throw APIError(.serviceUnavailable, "the model is still loading", code: "loading", retryAfter: 1) }
        return r
    }

    /// Every route, behind the error envelope and the API key check.
    public func router() -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        router.add(middleware: OpenAIErrorMiddleware())
        router.add(middleware: APIKeyMiddleware(key: options.apiKey))
        router.get("/health") { _, _ -> Response in
            guard self.loaded != nil else { return Self.json(["status": "loading"], status: .serviceUnavailable) }
            return Self.json(["status": "ok"])
        }
        router.get("/metrics") { _, _ -> Response in
            var h = HTTPFields(); h[.contentType] = "text/plain; version=0.0.4"
            return Response(status: .ok, headers: h, body: ResponseBody(byteBuffer: ByteBuffer(string: self.metrics.scrape(self.loaded))))
        }
        router.post("/v1/chat/completions") { request, context in try await self.chatCompletions(request, context) }
        router.post("/v1/completions") { request, context in try await self.completions(request, context) }
        addModelRoutes(router)
        return router
    }

    /// The application on `options.host`:`options.port`.
    public func application(onReady: @escaping @Sendable (String) async -> Void = { _ in }) -> some ApplicationProtocol {
        let host = options.host
        return Application(router: router(), configuration: .init(address: .hostname(host, port: options.port), serverName: "roma"),
                           onServerRunning: { channel in
                               let port = channel.localAddress?.port ?? 0
                               await onReady("http://\(host):\(port)")
                           }, logger: logger)
    }

    // MARK: helpers

    static func json(_ obj: Any, status: HTTPResponse.Status = .ok) -> Response {
        var h = HTTPFields(); h[.contentType] = "application/json"
        let data = (try? JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
        return Response(status: status, headers: h, body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }

    func body(_ request: Request) async throws -> Data {
        let buffer: ByteBuffer
        do { buffer = try await request.body.collect(upTo: options.maxBodyBytes) } catch {
            if String(describing: type(of: error)).contains("TooManyBytes") {
                throw APIError(.contentTooLarge, "the request body is larger than \(options.maxBodyBytes) bytes", code: "request_too_large")
            }
            throw error
        }
        return Data(buffer: buffer)
    }
}

/// `Authorization: Bearer KEY` on every route but /health and /metrics (401 with the envelope).
struct APIKeyMiddleware<Context: RequestContext>: RouterMiddleware {
    let key: String?
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let key, !["/health", "/metrics"].contains(request.uri.path) else { return try await next(request, context) }
        guard let auth = request.headers[.authorization], auth == "Bearer \(key)" else {
            throw APIError(.unauthorized, request.headers[.authorization] == nil ? "missing API key (send Authorization: Bearer <key>)" : "invalid API key",
                           code: "invalid_api_key")
        }
        return try await next(request, context)
    }
}

extension Data {
    init(buffer: ByteBuffer) { self = Data(buffer.readableBytesView) }
}

// MARK: running

extension OpenAIServer {
    /// Serves until SIGTERM / SIGINT: listens first (/health says 503 "loading"), then loads the model with
    /// `load`, then answers. At shutdown the scheduler drains (in-flight streams end with their final
    /// chunk and [DONE] within `drainSeconds`) before the HTTP server stops.
    public func serve(config: SchedulerConfig, load: @escaping @Sendable () throws -> Engine,
                      onReady: @escaping @Sendable (String) -> Void) async throws {
        let app = application { url in onReady(url) }
        let drain = SchedulerDrain(server: self)
        let group = ServiceGroup(configuration: .init(services: [.init(service: app), .init(service: drain)],
                                                      gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            tasks.addTask {
                let engine = try load()
                self.ready(engine: engine, scheduler: Scheduler(engine: engine, config: config))
            }
            try await tasks.waitForAll()
        }
    }
}

/// Waits for the graceful shutdown, then drains the scheduler (it is shut down before the HTTP server,
/// so that streams can still send their last chunks).
struct SchedulerDrain: Service {
    let server: OpenAIServer
    func run() async throws {
        try? await gracefulShutdown()
        if let r = server.loaded {
            let seconds = server.options.drainSeconds
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                Thread { r.scheduler.shutdown(drainSeconds: seconds); c.resume() }.start()
            }
        }
    }
}
