import Authorization
import HLSModel
import MicroHTTPD
import SegmentRegistry
import StateLog

/// The one place where errors become HTTP responses (STYLE §6).
enum ErrorMapping {
    /// Status and JSON body for any error a handler throws; unknown errors are 500.
    static func response(for error: any Error) -> HTTPResponse {
        switch error {
        case let error as RoutingError:
            switch error {
            case .notFound(let path):
                return json(.notFound, "no endpoint at \(path)")
            case .methodNotAllowed(let allowed):
                var response = json(.methodNotAllowed, "method not allowed; use \(allowed.map(\.rawValue).joined(separator: " or "))")
                response.headers.add("Allow", allowed.map(\.rawValue).joined(separator: ", "))
                return response
            case .invalidParameter(_, let message):
                return json(.badRequest, message)
            case .servedElsewhere(let path, let listener):
                return json(.notFound, "no endpoint at \(path) on this port: it is served on the \(listener)")
            }
        case let error as ValidationError:
            return json(.badRequest, error.message)
        case let error as RegistryError:
            switch error {
            case .streamEnded, .conflictingSegment, .targetDurationConflict, .mixedLowLatency:
                return json(.conflict, error.message)
            case .exceedsTargetDuration, .tooManyRenditions:
                return json(.unprocessableContent, error.message)
            case .tooFarAhead(_, let nextExpected, _):
                // Temporary: the hole may fill. 429 with Retry-After says "retry", and the body
                // names the segment that is missing.
                return retryLater(error.message, missing: "{\"sequence\":\(nextExpected.rawValue)}")
            case .tooManyStreams:
                return json(.tooManyRequests, error.message)
            case .memoryBudgetSpent:
                return unavailable(error.message)
            }
        case let error as LowLatencyError:
            switch error {
            case .exceedsPartTarget:
                return json(.unprocessableContent, error.message)
            case .tooManyWaitingParts:
                return retryLater(error.message, missing: "\"first_segment\"")
            case .notLowLatency, .conflictingPart, .partTargetConflict, .mapURIConflict, .streamTargetDurationConflict,
                .hintMismatch:
                return json(.conflict, error.message)
            }
        case let error as LookupError:
            return json(.notFound, error.message)
        case let error as ReloadDirectives.Invalid:
            return json(.badRequest, error.message)
        case let error as RequestRejection:
            switch error {
            case .bodyTooLarge(let limit):
                return json(.contentTooLarge, "request body exceeds \(limit) bytes (MAX_REQUEST_BODY_BYTES)")
            case .memoryBudgetSpent:
                return unavailable(
                    "the service's memory budget (MEMORY_BUDGET_MB) is spent: no request body can be received now; retry later")
            case .conflictingContentLength, .contentLengthWithTransferEncoding, .unsupportedTransferCoding,
                .invalidHost, .unsupportedVersion, .malformedContentLength, .contentLengthTooLarge:
                return json(error.status, error.message)
            }
        case let denied as AccessDenied:
            // RFC 6750 §3: 401 with a challenge when no usable token came, 403 when it lacks the right.
            var response = json(denied.failure.isUnauthenticated ? .unauthorized : .forbidden, denied.message)
            response.headers.add("WWW-Authenticate", AccessControl.challenge(denied.failure, denied.required))
            return response
        case is HeldRequestLimitReached:
            return unavailable("too many blocking playlist reloads are held; retry shortly")
        case let failure as StoreFailure:
            // Nothing of the request was kept: the store took none of its transaction.
            return unavailable("the state store cannot take the change now, nothing was kept: \(failure); retry later")
        default:
            return json(.internalServerError, "internal error")
        }
    }

    /// Whether `error` is one the service did not expect (logged at error level).
    static func isUnexpected(_ error: any Error) -> Bool {
        !(error is RoutingError || error is ValidationError || error is RegistryError || error is LookupError
            || error is ReloadDirectives.Invalid || error is HeldRequestLimitReached || error is LowLatencyError
            || error is RequestRejection || error is AccessDenied
            // The committer logs a store failure once, when it starts (and when it is over).
            || error is StoreFailure)
    }

    /// The JSON error `{"error": message}` with `status`. A 5xx reports a passing condition of
    /// this server (overload, shutdown, a timeout), so it carries `Cache-Control: no-store`: a
    /// CDN must not keep serving it after the condition is over.
    static func json(_ status: HTTPStatus, _ message: String) -> HTTPResponse {
        var headers = HTTPHeaders([("Content-Type", "application/json")])
        if status.rawValue >= 500 { headers.add("Cache-Control", "no-store") }
        return HTTPResponse(
            status: status, headers: headers, body: .bytes(Array("{\"error\":\(JSONWriter.quoted(message))}".utf8)))
    }

    /// A 429 with `Retry-After` for a condition that passes when something else arrives first:
    /// `{"error": message, "missing": missing}`, where `missing` is JSON naming what must arrive.
    static func retryLater(_ message: String, missing: String) -> HTTPResponse {
        HTTPResponse(
            status: .tooManyRequests,
            headers: HTTPHeaders([("Content-Type", "application/json"), ("Retry-After", "1")]),
            body: .bytes(Array("{\"error\":\(JSONWriter.quoted(message)),\"missing\":\(missing)}".utf8)))
    }

    /// A 503 with `Retry-After` (and, as every 5xx, `no-store`).
    static func unavailable(_ message: String) -> HTTPResponse {
        var response = json(.serviceUnavailable, message)
        response.headers.add("Retry-After", "1")
        return response
    }
}

/// A stream or rendition the registry does not know.
struct LookupError: Error, Equatable {
    let message: String
}
