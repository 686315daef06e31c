import Dispatch
import HLSModel
import Logging
import MicroHTTPD
import SegmentRegistry
import StateLog
import Synchronization

/// The routes that change state — segments, parts, declarations, the end of a stream, an
/// operator's delete — and the pin a first served playlist needs, as ``RegistryCommand``s.
///
/// Each request is validated here (a bad body is answered 400 before anything else), turned into
/// a command, and answered from the ``CommandOutcome`` that applying it decided. With the
/// in-memory store the command is applied at once on the worker thread; with a durable store
/// (a ``CommandLog``) the connection is suspended, the command is appended to the log, applied
/// in log order, and the connection resumed with the answer: never a 2xx before the change is
/// durable, never a worker thread waiting on the disk.
extension Orchestrator {
    /// What a write route asks for and how its outcome is answered.
    struct Change {
        let command: RegistryCommand
        /// The validated JSON body the command came from (what the log keeps).
        let body: [UInt8]
        let answer: @Sendable (CommandOutcome) throws -> HTTPResponse
    }

    /// The change `route` asks for; nil for a route that changes nothing.
    func change(for route: Route, _ request: HTTPRequest) throws -> Change? {
        switch route {
        case .registerSegment(let stream, let rendition):
            let segment = try Segment(json: request.body)
            let metrics = self.metrics
            return Change(command: .register(segment, stream: stream, rendition: rendition), body: request.body) { outcome in
                let registration = try Self.registration(outcome)
                if case .registered = registration { metrics.segmentRegistered() }
                return Self.registrationResponse(registration, stream, rendition, sequence: segment.sequence.rawValue, part: nil)
            }
        case .registerPart(let stream, let rendition):
            let part = try PartialSegment(json: request.body)
            return Change(command: .registerPart(part, stream: stream, rendition: rendition), body: request.body) { outcome in
                Self.registrationResponse(
                    try Self.registration(outcome), stream, rendition, sequence: part.sequence.rawValue, part: part.part)
            }
        case .declareRendition(let stream, let rendition):
            let declaration = try RenditionDeclaration(json: request.body)
            return Change(command: .declare(declaration, stream: stream, rendition: rendition), body: request.body) { outcome in
                guard case .declared(let declared) = outcome else { throw Self.unexpected(outcome) }
                let body =
                    "{\"status\":\"\(declared == .created ? "created" : "updated")\",\"stream\":\(JSONWriter.quoted(stream.rawValue)),"
                    + "\"rendition\":\(JSONWriter.quoted(rendition.rawValue))}"
                return Self.jsonResponse(declared == .created ? .created : .ok, body)
            }
        case .endStream(let stream):
            let (metrics, logger) = (self.metrics, self.logger)
            return Change(command: .end(stream), body: []) { outcome in
                guard case .ended(let ended) = outcome else { throw Self.unexpected(outcome) }
                let quoted = JSONWriter.quoted(stream.rawValue)
                switch ended {
                case .ended:
                    metrics.streamEnded()
                    logger.info("stream ended", metadata: ["hls.stream": "\(stream)"])
                    return Self.jsonResponse(.ok, "{\"status\":\"ended\",\"stream\":\(quoted)}")
                case .alreadyEnded:
                    return Self.jsonResponse(.ok, "{\"status\":\"already_ended\",\"stream\":\(quoted)}")
                }
            }
        case .deleteStream(let stream):
            let (metrics, logger, waiters) = (self.metrics, self.logger, self.waiters)
            return Change(command: .forget(stream), body: []) { outcome in
                guard case .forgotten(let forgotten) = outcome else { throw Self.unexpected(outcome) }
                guard let report = forgotten else { throw LookupError(message: "stream \(stream) is not known") }
                waiters.forget(stream: stream)
                metrics.sweep(skipped: 0, staleRenditions: report.staleRenditionCount)
                logger.info("stream forgotten", metadata: ["hls.stream": "\(stream)", "hls.reason": "deleted"])
                return HTTPResponse(status: .noContent)
            }
        default:
            return nil
        }
    }

    /// Applies `change` and answers it: at once in memory; with a durable store once its entry
    /// is committed and applied (the connection suspended meanwhile).
    func perform(
        _ change: Change, _ request: HTTPRequest, route: Route.Name, suspender: RequestSuspender?,
        started: ContinuousClock.Instant
    ) throws -> HTTPReply {
        guard let committer else {
            let outcome = ChangeTiming.$started.withValue(started) { registry.apply(change.command, at: clock()) }
            if case .refused(let error) = outcome { throw error }
            return .response(try change.answer(outcome))
        }
        let answer: @Sendable (Result<CommandOutcome, StoreFailure>) -> HTTPResponse = { [self] result in
            do {
                switch result {
                case .failure(let failure): throw failure
                case .success(.refused(let error)): throw error
                case .success(let outcome): return try change.answer(outcome)
                }
            } catch {
                return errorResponse(for: error, request, route: route)
            }
        }
        guard let suspender else {
            // In process (no connection to suspend): wait for the committer.
            return .response(Self.waitFor { done in committer.submit(change.command, body: change.body) { done(answer($0)) } })
        }
        let held = suspender.suspend()
        committer.submit(change.command, body: change.body) { [self] result in
            let response = answer(result)
            finished(request, route: route, status: response.status.rawValue, started: started)
            _ = held.resume(with: response)
        }
        return .suspended(held)
    }

    /// Serves a playlist that must be pinned first (durable store): the pin is appended and
    /// applied, then the request is answered as any other playlist GET. Several GETs of the same
    /// rendition wait on one entry.
    func pinThenServe(
        _ stream: StreamID, _ rendition: RenditionName, _ request: HTTPRequest, committer: any CommandLog,
        park: (() -> SuspendedRequest)?, started: ContinuousClock.Instant
    ) -> HTTPReply {
        let serve: @Sendable (Result<CommandOutcome, StoreFailure>, (() -> SuspendedRequest)?) -> HTTPReply = {
            [self] result, park in
            do {
                if case .failure(let failure) = result { throw failure }
                return try playlist(stream, rendition, request, park: park, started: started)
            } catch {
                return .response(errorResponse(for: error, request, route: .playlist))
            }
        }
        guard let park else {
            return .response(
                Self.waitFor { done in
                    committer.submit(.pin(stream: stream, rendition: rendition)) { result in
                        if case .response(let response) = serve(result, nil) { done(response) }
                    }
                })
        }
        let held = park()
        committer.submit(.pin(stream: stream, rendition: rendition)) { [self] result in
            // Held again only as a blocking reload waiting for a later publication.
            if case .response(let response) = serve(result, { held }) {
                finished(request, route: .playlist, status: response.status.rawValue, started: started)
                _ = held.resume(with: response)
            }
        }
        return .suspended(held)
    }

    /// `{"status":"registered","stream":…,"rendition":…,"sequence":n[,"part":p],"listed":…}` (201),
    /// or the same with `duplicate`/`stale` and no `listed` (200), written straight into bytes:
    /// this is the answer to every ingest request.
    static func registrationResponse(
        _ outcome: RegistrationOutcome, _ stream: StreamID, _ rendition: RenditionName, sequence: UInt64, part: Int?
    ) -> HTTPResponse {
        var body: [UInt8] = []
        body.reserveCapacity(96 + stream.rawValue.utf8.count + rendition.rawValue.utf8.count)
        let status: HTTPStatus
        let listed: Bool?
        switch outcome {
        case .registered(let isListed):
            body.append(contentsOf: #"{"status":"registered","stream":"#.utf8)
            (status, listed) = (.created, isListed)
        case .duplicate:
            body.append(contentsOf: #"{"status":"duplicate","stream":"#.utf8)
            (status, listed) = (.ok, nil)
        case .stale:
            body.append(contentsOf: #"{"status":"stale","stream":"#.utf8)
            (status, listed) = (.ok, nil)
        }
        JSONWriter.appendQuoted(stream.rawValue, to: &body)
        body.append(contentsOf: #","rendition":"#.utf8)
        JSONWriter.appendQuoted(rendition.rawValue, to: &body)
        body.append(contentsOf: #","sequence":"#.utf8)
        JSONWriter.appendDecimal(sequence, to: &body)
        if let part {
            body.append(contentsOf: #","part":"#.utf8)
            JSONWriter.appendDecimal(UInt64(part), to: &body)
        }
        if let listed { body.append(contentsOf: (listed ? #","listed":true"# : #","listed":false"#).utf8) }
        body.append(UInt8(ascii: "}"))
        return HTTPResponse(status: status, headers: HTTPHeaders(jsonContentType), body: .bytes(body))
    }

    private static func registration(_ outcome: CommandOutcome) throws -> RegistrationOutcome {
        guard case .registered(let registration) = outcome else { throw unexpected(outcome) }
        return registration
    }

    private static func unexpected(_ outcome: CommandOutcome) -> any Error {
        UnexpectedOutcome(description: "a command was answered with \(outcome)")
    }

    /// Blocks the calling thread until `start`'s completion gives the response (in-process use only).
    private static func waitFor(_ start: (@escaping @Sendable (HTTPResponse) -> Void) -> Void) -> HTTPResponse {
        let done = DispatchSemaphore(value: 0)
        let box = Mutex<HTTPResponse?>(nil)
        start { response in
            box.withLock { $0 = response }
            done.signal()
        }
        done.wait()
        return box.withLock { $0 } ?? ErrorMapping.json(.internalServerError, "internal error")
    }
}

/// A command answered with an outcome of another kind: a defect, answered 500.
struct UnexpectedOutcome: Error, CustomStringConvertible {
    let description: String
}
