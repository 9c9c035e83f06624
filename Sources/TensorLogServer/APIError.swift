import Foundation
import Hummingbird
import TensorLog
import TensorLogAPI
import TensorLogCompute
import TensorLogInterop

/// The one error shape the API returns: a status and a JSON body
/// `{"error": {"status": 404, "code": "not_found", "message": "..."}}` that says what is wrong.
public struct APIError: Error, HTTPResponseError, Sendable, CustomStringConvertible {
    public let status: HTTPResponse.Status
    /// A stable machine-readable name: `not_found`, `invalid_argument`, `bad_body`, ...
    public let code: String
    public let message: String

    public init(_ status: HTTPResponse.Status, _ code: String, _ message: String) {
        self.status = status
        self.code = code
        self.message = message
    }

    public var description: String { "\(status.code) \(code): \(message)" }

    static func invalid(_ message: String) -> APIError { APIError(.badRequest, "invalid_argument", message) }
    static func badBody(_ message: String) -> APIError { APIError(.badRequest, "bad_body", message) }
    static func notFound(_ message: String) -> APIError { APIError(.notFound, "not_found", message) }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        let body = APIErrorBody(error: .init(status: status.code, code: code, message: message))
        let bytes = try JSONEncoder().encode(body)
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        if status == .unauthorized { headers[.wwwAuthenticate] = "Bearer" }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    /// Maps any error a handler throws to the API's error shape.
    static func from(_ error: any Error) -> APIError {
        switch error {
        case let error as APIError:
            return error
        case let error as TensorLogError:
            switch error.code {
            case .notFound: return APIError(.notFound, "not_found", error.message)
            case .invalidArgument: return APIError(.badRequest, "invalid_argument", error.message)
            case .io(let code) where code == ENOSPC:
                return APIError(.init(code: 507, reasonPhrase: "Insufficient Storage"), "disk_full", error.message)
            case .io: return APIError(.internalServerError, "io_error", error.message)
            case .corruption: return APIError(.internalServerError, "corruption", error.message)
            case .closed: return APIError(.serviceUnavailable, "closed", error.message)
            case .locked, .unsupportedFormatVersion: return APIError(.internalServerError, "store_error", error.message)
            }
        case let error as InvalidTrainingRequest:
            return APIError(.badRequest, "invalid_argument", error.message)
        case let error as ComputeError:
            return APIError(.unprocessableContent, "compute_error", error.message)
        case let error as InteropError:
            return APIError(.badRequest, "bad_body", error.message)
        case let error as HTTPError:
            return APIError(error.status, name(of: error.status), error.body ?? error.status.reasonPhrase)
        case is DecodingError:
            return APIError(.badRequest, "bad_json", describe(error as! DecodingError))
        case is CancellationError:
            return APIError(.serviceUnavailable, "cancelled", "the request was cancelled (the server is shutting down or the request took too long)")
        default:
            return APIError(.internalServerError, "internal", String(describing: error))
        }
    }

    private static func name(of status: HTTPResponse.Status) -> String {
        switch status {
        case .notFound: "not_found"
        case .contentTooLarge: "body_too_large"
        case .methodNotAllowed: "method_not_allowed"
        case .unauthorized: "unauthorized"
        default: status.reasonPhrase.lowercased().replacingOccurrences(of: " ", with: "_")
        }
    }

    /// A JSON decoding error as one line naming the field.
    private static func describe(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            let names = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }
            return names.isEmpty ? "the body" : "'" + names.joined(separator: ".") + "'"
        }
        switch error {
        case .keyNotFound(let key, let context):
            return "missing field '\(key.stringValue)'" + (context.codingPath.isEmpty ? "" : " in \(path(context))")
        case .typeMismatch(_, let context), .valueNotFound(_, let context):
            return "\(path(context)): \(context.debugDescription)"
        case .dataCorrupted(let context):
            return "\(path(context)): \(context.debugDescription)"
        @unknown default:
            return "invalid JSON"
        }
    }
}

/// Turns every error into an `APIError` response, so a client always gets the JSON error shape.
struct ErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            let apiError = APIError.from(error)
            if apiError.status.code >= 500 {
                context.logger.error("\(request.method) \(request.uri.path): \(apiError)")
            }
            return try apiError.response(from: request, context: context)
        }
    }
}
