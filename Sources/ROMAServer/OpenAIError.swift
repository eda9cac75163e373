import Foundation
import Hummingbird
import ROMAModel
import ROMANumerics
import ROMAServe

/// An error as the OpenAI API returns it: `{"error": {"message", "type", "param", "code"}}` with its
/// HTTP status (and `Retry-After` where waiting helps). Every failure of the server becomes one.
public struct APIError: Error, Sendable, CustomStringConvertible {
    public var status: HTTPResponse.Status
    public var message: String
    public var type: String
    public var param: String?
    public var code: String?
    public var retryAfter: Int?

    public init(_ status: HTTPResponse.Status, _ message: String, type: String? = nil, param: String? = nil, code: String? = nil, retryAfter: Int? = nil) {
        self.status = status; self.message = message; self.param = param; self.code = code; self.retryAfter = retryAfter
        self.type = type ?? APIError.defaultType(status)
    }

    public var description: String { "\(status.code) \(message)" }

    static func defaultType(_ s: HTTPResponse.Status) -> String {
        switch s.code {
        case 401: return "authentication_error"
        case 403: return "permission_error"
        case 404: return "not_found_error"
        case 409: return "conflict_error"
        case 413, 400, 422: return "invalid_request_error"
        case 429: return "rate_limit_error"
        case 503: return "service_unavailable_error"
        default: return s.code >= 500 ? "server_error" : "invalid_request_error"
        }
    }

    /// A bad or missing field.
    static func invalid(_ message: String, param: String?, code: String? = "invalid_value") -> APIError {
        APIError(.badRequest, message, param: param, code: code)
    }

    /// The envelope as JSON bytes.
    var body: [String: Any] {
        ["error": ["message": message, "type": type, "param": param as Any? ?? NSNull(), "code": code as Any? ?? NSNull()]]
    }

    func response() -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        if let retryAfter { headers[.retryAfter] = String(retryAfter) }
        let data = (try? JSONSerialization.data(withJSONObject: body, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// The scheduler's refusals: never fits -> 400 `sram_budget_exceeded`, queue timeout / full -> 429,
    /// shutting down -> 503, unknown adapter -> 404.
    init(_ e: ServeError, param: String? = nil) {
        switch e.kind {
        case .neverFits: self.init(.badRequest, e.message, param: param, code: "sram_budget_exceeded")
        case .queueTimeout: self.init(.tooManyRequests, e.message, code: "queue_timeout", retryAfter: e.retryAfter)
        case .queueFull: self.init(.tooManyRequests, e.message, code: "queue_full", retryAfter: e.retryAfter)
        case .shuttingDown: self.init(.serviceUnavailable, e.message, code: "shutting_down", retryAfter: e.retryAfter)
        case .invalidRequest:
            self.init(.badRequest, e.message, param: param, code: e.isContextOverflow ? "context_length_exceeded" : "invalid_value")
        case .unknownAdapter: self.init(.notFound, e.message, param: "model", code: "model_not_found")
        }
    }

    /// Any error out of a handler, mapped by its kind (library errors by their `ROMAError.code`).
    static func from(_ error: any Error) -> APIError {
        if let e = error as? APIError { return e }
        if let e = error as? ServeError { return APIError(e) }
        if let e = error as? HTTPError {
            let msg = e.body ?? (e.status.code == 413 ? "the request body is larger than the server accepts" : e.status.reasonPhrase)
            return APIError(e.status, msg, code: e.status.code == 413 ? "request_too_large" : e.status.code == 404 ? "not_found" : nil)
        }
        if let e = error as? ROMAError {
            switch e.code {
            case .notFound: return APIError(.notFound, e.description, code: "not_found")
            case .conflict: return APIError(.conflict, e.description, code: "conflict")
            case .overBudget: return APIError(.badRequest, e.description, code: "sram_budget_exceeded")
            case .invalidArgument, .corruptInput, .unsupported, .contextOverflow:
                return APIError(.badRequest, e.description, code: "invalid_value")
            default: return APIError(.internalServerError, e.description, code: "internal_error")
            }
        }
        return APIError(.internalServerError, "internal error: \(error)", code: "internal_error")
    }
}

/// Turns every error from the routes (and the router's own 404/405/413) into the OpenAI envelope.
struct OpenAIErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            return APIError.from(error).response()
        }
    }
}
