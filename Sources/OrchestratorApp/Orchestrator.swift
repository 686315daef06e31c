import Authorization
import FoundationEssentials
import HLSModel
import Logging
import MicroHTTPD
import PlaylistRenderer
import SegmentRegistry
import StateLog
import Synchronization

/// The HTTP face of the service: routes every request to its handler over the registry.
///
/// Runs synchronously on libmicrohttpd's worker threads: every path returns a response, every
/// error becomes one through `ErrorMapping`. Usable without a socket through `respond(to:)`.
public final class Orchestrator: HTTPResponder, Sendable {
    /// The registry backend (the in-memory ``SegmentRegistry`` unless the caller chose another).
    let registry: any PlaylistRegistry<PublishedPlaylist>
    /// Blocking playlist reloads held until a publication satisfies them.
    let waiters: ReloadWaiters<PublishedPlaylist>
    let metrics: OrchestratorMetrics
    /// Who may write: checked on every route with a ``Route/requiredScope`` unless it is open.
    let access: AccessControl
    let logger: Logger
    let clock: @Sendable () -> Timestamp
    private let ready = Atomic<Bool>(true)
    private let errorCacheControl: String
    /// What clients make the service hold (`MEMORY_BUDGET_MB`): the registry's records and
    /// buffers, request bodies, held reloads.
    public let budget: MemoryBudget
    /// Segments and parts that left a playlist, reported once they may be deleted.
    let removedSegmentsFeed: RemovedSegmentsFeed
    /// The ordered writer of the durable state log; nil with `STATE_STORE=memory`.
    let committer: StateCommitter?

    /// Creates the router over a new in-memory registry charging `MEMORY_BUDGET_MB`; `access` is
    /// `configuration.access` prepared (``AccessControl/init(_:)``), open by default.
    public convenience init(
        configuration: AppConfiguration, logger: Logger, metrics: OrchestratorMetrics,
        clock: @escaping @Sendable () -> Timestamp, access: AccessControl = .open
    ) {
        let budget = MemoryBudget(limit: configuration.memoryBudgetBytes)
        let feed = Self.removedSegmentsFeed(configuration)
        self.init(
            configuration: configuration, logger: logger, metrics: metrics, clock: clock,
            makeRegistry: SegmentRegistry<PublishedPlaylist>.inMemory(budget: budget, removals: { feed.record($0) }),
            budget: budget, feed: feed, access: access)
    }

    /// Creates the router over a new registry made by `makeRegistry`: the seam where another
    /// backend (journaled, shared) plugs in behind the same ``PlaylistRegistry`` protocol.
    init(
        configuration: AppConfiguration, logger: Logger, metrics: OrchestratorMetrics,
        clock: @escaping @Sendable () -> Timestamp,
        makeRegistry: PlaylistRegistryFactory<PublishedPlaylist>,
        budget: MemoryBudget? = nil,
        feed: RemovedSegmentsFeed? = nil,
        access: AccessControl = .open,
        store: (any StateStore)? = nil,
        fatal: @escaping @Sendable (StoreFailure) -> Void = { _ in }
    ) {
        // Credentials configured but not prepared would leave writes open: a programmer error.
        precondition(
            access.configuration == configuration.access,
            "the AccessControl must be prepared from configuration.access (AccessControl(configuration.access))")
        self.access = access
        self.budget = budget ?? MemoryBudget(limit: configuration.memoryBudgetBytes)
        removedSegmentsFeed = feed ?? Self.removedSegmentsFeed(configuration)
        // Held reloads never take the slots the transcoder's POST (which releases them) and the
        // health checks need, whatever the settings say.
        let heldCeiling = configuration.maxConnections - AppConfiguration.connectionReserve(configuration.maxConnections)
        let waiters = ReloadWaiters<PublishedPlaylist>(
            maximumTotal: min(configuration.maxHeldRequests, heldCeiling),
            maximumPerRendition: min(configuration.maxHeldRequestsPerRendition, heldCeiling))
        self.waiters = waiters
        registry = makeRegistry(
            RegistryConfiguration(
                windowSize: configuration.slidingWindowSize,
                targetDuration: configuration.targetDuration,
                gapTimeoutMilliseconds: Int64(configuration.gapTimeoutSeconds) * 1000,
                maxPendingSegments: configuration.maxPendingSegments,
                maxStreams: configuration.maxStreams,
                maxRenditionsPerStream: configuration.maxRenditionsPerStream,
                endedStreamTTLMilliseconds: Int64(configuration.endedStreamTTLSeconds) * 1000,
                idleStreamTTLMilliseconds: Int64(configuration.idleStreamTTLSeconds) * 1000),
            { snapshot in
                // Every change passes here once: render it, then wake the reloads it satisfies.
                // Only low-latency playlists advertise blocking reloads (the GET handler parks
                // no other), so a regular one skips the waiters' lock and table altogether.
                let published = PublishedPlaylist(snapshot: snapshot)
                if snapshot.isLowLatency {
                    waiters.publish(published, key: .init(stream: snapshot.stream, rendition: snapshot.rendition))
                }
                return published
            },
            { replaced in replaced.retire() },
            { event in
                switch event {
                case .streamStarted(let stream):
                    logger.info("stream started", metadata: ["hls.stream": "\(stream)"])
                case .renditionCreated(let stream, let rendition):
                    logger.info("rendition created", metadata: ["hls.stream": "\(stream)", "hls.rendition": "\(rendition)"])
                }
            })
        self.metrics = metrics
        self.logger = logger
        self.clock = clock
        let (registry, budget, feed) = (self.registry, self.budget, self.removedSegmentsFeed)
        committer = store.map { store in
            StateCommitter(
                store: store, registry: registry, feed: feed, budget: budget, clock: clock, logger: logger, fatal: fatal)
        }
        errorCacheControl = "max-age=\(configuration.targetDuration ?? 2)"
        splitsListeners = configuration.ingestPort != nil
        // Above debug nothing is logged per request, so a playlist answer may be served again
        // from the server's cache (counted through `servedFromCache`).
        cachesPlaylists = logger.logLevel > .debug && configuration.responseCacheEntries > 0
    }

    /// The retention feed of `configuration`: entries kept `REMOVED_SEGMENTS_KEEP` seconds after
    /// they became deletable, and at most an eighth of the memory budget of them (about 256 bytes
    /// each); past either they are dropped and counted.
    static func removedSegmentsFeed(_ configuration: AppConfiguration) -> RemovedSegmentsFeed {
        RemovedSegmentsFeed(
            keepMilliseconds: Int64(configuration.removedSegmentsKeepSeconds) * 1000,
            maxEntries: max(1024, configuration.memoryBudgetBytes / 8 / 256))
    }

    /// Whether playlist answers carry a ``CacheDirective`` for the server's response cache.
    private let cachesPlaylists: Bool
    /// Whether `INGEST_PORT` splits the routes: the main listener serves players, the ingest
    /// listener ingest, `/metrics` and the health checks.
    private let splitsListeners: Bool

    /// The listener tag of the ingest listener (`INGEST_PORT`); the main listener's is 0.
    public static let ingestListener: UInt8 = 1

    /// The server's response cache: what it may answer without asking (`Accept-Encoding` is the
    /// one header a playlist answer depends on; a conditional request is answered here); nil
    /// for no cache.
    public static func responseCache(entriesPerThread: Int) -> ResponseCacheConfiguration? {
        guard entriesPerThread > 0 else { return nil }
        return ResponseCacheConfiguration(
            varyHeader: "Accept-Encoding", bypassHeaders: ["If-None-Match"], maxEntriesPerThread: entriesPerThread)
    }

    /// Counts an answer the server served from its response cache: a playlist GET or HEAD.
    public func servedFromCache(tag: UInt32, status: Int, nanoseconds: Int64) {
        metrics.record(route: Route.Name(ordinal: Int(tag)), status: status, nanoseconds: nanoseconds)
    }

    /// The request header fields the handlers read; the server copies no others.
    /// `Authorization` is read only to check the bearer token: never logged, never echoed.
    public static let requestHeaderNames = ["Accept-Encoding", "If-None-Match", "Content-Type", "Origin", "Authorization"]

    /// Whether `/readyz` reports ready; cleared when a shutdown starts.
    /// Not ready either while the state store refuses writes.
    public internal(set) var isReady: Bool {
        get { ready.load(ordering: .relaxed) && committer?.isHealthy != false }
        set { ready.store(newValue, ordering: .relaxed) }
    }

    public func reply(to request: HTTPRequest, suspender: RequestSuspender) -> HTTPReply {
        respond(to: request, suspender: suspender)
    }

    /// Answers `request` without holding it (no connection to park): used in process, where a
    /// blocking reload that would wait is answered at once with the current playlist.
    public func respond(to request: HTTPRequest) -> HTTPResponse {
        switch respond(to: request, suspender: nil) {
        case .response(let response):
            return response
        case .suspended:
            return ErrorMapping.json(.internalServerError, "a request was parked without a connection")
        }
    }

    /// Routes, handles and counts `request`; a held blocking reload is counted when answered.
    func respond(to request: HTTPRequest, suspender: RequestSuspender?) -> HTTPReply {
        let started = ContinuousClock.now
        var routeName = Route.Name.unmatched
        let response: HTTPResponse
        do {
            let route = try Router.route(method: request.method, path: request.path)
            routeName = route.name
            if splitsListeners { try checkListener(route, request) }
            if let required = route.requiredScope, !access.isOpen { try authorize(required, request) }
            switch try handle(route, request, suspender: suspender, started: started) {
            case .response(let answer):
                response = answer
            case .suspended(let held):
                return .suspended(held)
            }
        } catch {
            if routeName == .unmatched { routeName = Router.name(forPath: request.path) }
            response = errorResponse(for: error, request, route: routeName)
        }
        finished(request, route: routeName, status: response.status.rawValue, started: started)
        return .response(response)
    }

    /// Refuses, with 404, a route that the listener `request` came in on does not serve.
    private func checkListener(_ route: Route, _ request: HTTPRequest) throws(RoutingError) {
        let onIngest = request.listener == Self.ingestListener
        switch route {
        case .health, .readiness:
            return
        case .listStreams, .streamDetail, .deleteStream, .removedSegments:
            if !onIngest {
                throw .servedElsewhere(path: request.path, on: "ingest port (INGEST_PORT); this port serves players")
            }
        case .playlist, .master, .preflight:
            if onIngest { throw .servedElsewhere(path: request.path, on: "main port (PORT), which serves players") }
        case .registerSegment, .registerPart, .declareRendition, .endStream, .metrics:
            if !onIngest {
                throw .servedElsewhere(path: request.path, on: "ingest port (INGEST_PORT); this port serves players")
            }
        }
    }

    /// Refuses, with ``AccessDenied`` (401 or 403), a request whose credential does not reach
    /// `required`; counts the refusal by reason.
    private func authorize(_ required: RequiredScope, _ request: HTTPRequest) throws(AccessDenied) {
        let now = Date(timeIntervalSince1970: Double(clock().millisecondsSinceEpoch) / 1000)
        do {
            try access.authorize(request.headers["Authorization"], for: required, now: now)
        } catch {
            metrics.authFailed(error.failure)
            throw error
        }
    }

    /// Answers a request the server refused before it was complete (a body over
    /// `MAX_REQUEST_BODY_BYTES`): mapped, counted and logged like every other error.
    public func reply(to request: HTTPRequest, rejectedFor reason: RequestRejection) -> HTTPResponse {
        let started = ContinuousClock.now
        let route = Router.name(forPath: request.path)
        let response = errorResponse(for: reason, request, route: route)
        finished(request, route: route, status: response.status.rawValue, started: started)
        return response
    }

    /// The answer to `error` on `route`, through `ErrorMapping`; unexpected errors are logged.
    func errorResponse(for error: any Error, _ request: HTTPRequest, route: Route.Name) -> HTTPResponse {
        var mapped = ErrorMapping.response(for: error)
        if route == .playlist || route == .master {
            // Browser players must be able to read playlist errors too; CDNs may keep a client
            // error about one target duration (rfc8216bis Appendix B). 5xx carry no-store already.
            mapped.headers.add("Access-Control-Allow-Origin", "*")
            if mapped.headers["Cache-Control"] == nil { mapped.headers.add("Cache-Control", errorCacheControl) }
        }
        if ErrorMapping.isUnexpected(error) {
            logger.error(
                "request failed",
                metadata: [
                    "http.method": "\(request.method)", "http.path": "\(request.path)",
                    "error.type": "\(type(of: error))", "error.message": "\(error)",
                ])
        }
        return mapped
    }

    /// Counts an answered request and logs it at debug (the access log).
    func finished(_ request: HTTPRequest, route: Route.Name, status: Int, started: ContinuousClock.Instant) {
        let elapsed = ContinuousClock.now - started
        let (seconds, attoseconds) = elapsed.components
        let nanoseconds = seconds * 1_000_000_000 + attoseconds / 1_000_000_000
        metrics.record(route: route, status: status, nanoseconds: nanoseconds)
        if logger.logLevel <= .debug {
            var metadata: Logger.Metadata = [
                "http.method": "\(request.method)", "http.path": "\(request.path)",
                "http.status": .stringConvertible(status), "http.duration_ms": .stringConvertible(Double(nanoseconds) / 1_000_000),
            ]
            if let client = request.clientAddress { metadata["http.client"] = "\(client)" }
            if !request.query.isEmpty { metadata["http.query"] = "\(Self.loggedQuery(request))" }
            logger.debug("request handled", metadata: metadata)
        }
    }

    /// The query as the access log shows it: an `access_token` argument (RFC 6750 §2.3, which the
    /// service does not accept but a client may still send) has its value replaced, so a token
    /// never reaches a log line that way either.
    static func loggedQuery(_ request: HTTPRequest) -> String {
        guard request.query.contains(where: { $0.name.lowercased() == "access_token" }) else { return request.queryString }
        var redacted = request
        redacted.query = request.query.map { item in
            item.name.lowercased() == "access_token" ? (item.name, item.value.map { _ in "<redacted>" }) : item
        }
        return redacted.queryString
    }

    /// A playlist GET: the prepared bytes, or — for an LL-HLS blocking reload the playlist does
    /// not satisfy yet — the request parked until a publication does (rfc8216bis §6.2.5.2).
    ///
    /// `park` suspends the connection (nil in process). With a durable store, a playlist whose
    /// serving would pin the window is served once the pin is logged (``pinThenServe``).
    func playlist(
        _ stream: StreamID, _ rendition: RenditionName, _ request: HTTPRequest, park: (() -> SuspendedRequest)?,
        started: ContinuousClock.Instant
    ) throws -> HTTPReply {
        let published: PublishedPlaylist
        if let committer {
            guard let (current, needsPin) = registry.unpinnedPlaylist(stream: stream, rendition: rendition) else {
                throw lookupError(stream, rendition)
            }
            if needsPin {
                return pinThenServe(stream, rendition, request, committer: committer, park: park, started: started)
            }
            published = current
        } else {
            guard let current = registry.playlist(stream: stream, rendition: rendition) else {
                throw lookupError(stream, rendition)
            }
            published = current
        }
        let snapshot = published.snapshot
        // Only LL-HLS playlists advertise CAN-BLOCK-RELOAD; elsewhere the directives are ignored,
        // and an ended playlist answers at once.
        guard snapshot.isLowLatency, !snapshot.isEnded, !request.query.isEmpty else {
            var response = published.response(for: request.headers)
            if cachesPlaylists, request.query.isEmpty {
                // A function of the path and Accept-Encoding until the playlist is replaced (the
                // server does not cache requests with query arguments or If-None-Match).
                response.cache = CacheDirective(validity: published, tag: UInt32(Route.Name.playlist.ordinal))
            }
            return .response(response)
        }
        let directives: ReloadDirectives
        do {
            directives = try ReloadDirectives(query: request.query)
        } catch {
            metrics.blockingRejected()
            throw error
        }
        let headers = request.headers
        let delta = directives.skip
        guard let reload = directives.reload else {
            return .response(published.response(for: headers, delta: delta))
        }
        if snapshot.blockingRequestIsTooFar(msn: reload.msn, part: reload.part) {
            metrics.blockingRejected()
            throw ReloadDirectives.Invalid(
                message: "_HLS_msn/_HLS_part ask for more than the playlist can reach soon (rfc8216bis 6.2.5.2)")
        }
        guard let park else {
            return .response(published.response(for: headers, delta: delta, blocking: true))
        }
        // A held reload keeps memory (the request, its waiter, the parked connection's entry).
        let budget = self.budget
        guard budget.reserve(MemoryBudget.Estimate.heldReload, for: .held) else {
            metrics.blockingOverloaded()
            throw RegistryError.memoryBudgetSpent(.held)
        }
        let held = park()
        let metrics = self.metrics
        let waiter = ReloadWaiters<PublishedPlaylist>.Waiter(
            request: held, reload: reload,
            deadline: started.advanced(by: .seconds(3 * snapshot.targetDuration)),
            answer: { $0.response(for: headers, delta: delta, blocking: true) },
            finished: { [weak self] woken, changeStarted in
                budget.release(MemoryBudget.Estimate.heldReload, for: .held)
                metrics.blockingFinished(woken: woken, wakeLatency: ContinuousClock.now - changeStarted)
                self?.finished(request, route: .playlist, status: woken ? 200 : 503, started: started)
            })
        do {
            switch try waiters.park(waiter, key: .init(stream: stream, rendition: rendition), current: published) {
            case .ready(let newest):
                budget.release(MemoryBudget.Estimate.heldReload, for: .held)
                return .response(newest.response(for: headers, delta: delta, blocking: true))
            case .parked:
                return .suspended(held)
            }
        } catch {
            budget.release(MemoryBudget.Estimate.heldReload, for: .held)
            metrics.blockingOverloaded()
            throw error
        }
    }

    private func handle(
        _ route: Route, _ request: HTTPRequest, suspender: RequestSuspender?, started: ContinuousClock.Instant
    ) throws -> HTTPReply {
        if case .playlist(let stream, let rendition) = route {
            return try playlist(stream, rendition, request, park: suspender.map { s in { s.suspend() } }, started: started)
        }
        if let change = try change(for: route, request) {
            // Publications of these wake held reloads; their wake latency counts from `started`.
            return try perform(change, request, route: route.name, suspender: suspender, started: started)
        }
        return .response(try handle(route, request))
    }

    private func handle(_ route: Route, _ request: HTTPRequest) throws -> HTTPResponse {
        switch route {
        case .playlist, .registerSegment, .registerPart, .declareRendition, .endStream, .deleteStream:
            // Served by `handle(_:_:suspender:started:)`.
            throw RoutingError.notFound(path: request.path)
        case .master(let stream):
            return try master(stream, request)
        case .metrics:
            return HTTPResponse(
                status: .ok,
                headers: HTTPHeaders([("Content-Type", "text/plain; version=0.0.4; charset=utf-8")]),
                body: .bytes(
                    metrics.exposition(
                        activeStreams: registry.activeStreamCount, heldRequests: waiters.heldCount, budget: budget,
                        feed: removedSegmentsFeed, store: committer)))
        case .health:
            return Self.jsonResponse(.ok, #"{"status":"ok"}"#)
        case .preflight(let allowed):
            let methods = (allowed + [.options]).map(\.rawValue).joined(separator: ", ")
            return HTTPResponse(
                status: .noContent,
                headers: HTTPHeaders([
                    ("Access-Control-Allow-Origin", "*"),
                    ("Access-Control-Allow-Methods", methods),
                    ("Access-Control-Allow-Headers", "Range, If-None-Match, If-Modified-Since, Accept-Encoding"),
                    ("Access-Control-Max-Age", "86400"),
                    ("Allow", methods),
                ]))
        case .listStreams:
            return try listStreams(request)
        case .streamDetail(let stream):
            return try streamDetail(stream)
        case .removedSegments:
            return try removedSegments(request)
        case .readiness:
            return isReady
                ? Self.jsonResponse(.ok, #"{"status":"ready"}"#)
                : ErrorMapping.json(.serviceUnavailable, "shutting down: not accepting new traffic")
        }
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

    private static let jsonContentType = [(name: "Content-Type", value: "application/json")]

    /// The multivariant playlist of `stream`, rendered now: players fetch it once per session,
    /// so it is not worth keeping prepared.
    private func master(_ stream: StreamID, _ request: HTTPRequest) throws -> HTTPResponse {
        guard let snapshot = registry.multivariant(stream: stream) else {
            throw LookupError(message: "stream \(stream) is not known")
        }
        guard !snapshot.variants.isEmpty else {
            throw LookupError(
                message: "no rendition of stream \(stream) has both a segment and a known bandwidth yet: declare "
                    + "bandwidth with PUT /streams/\(stream)/renditions/{rendition} or send segment sizes in bytes")
        }
        let plain = MultivariantPlaylistRenderer.render(snapshot)
        // gzip when the client accepts it, like the media playlists (Apple's authoring
        // specification asks it of every playlist); the two encodings have distinct ETags.
        let compressed = PublishedPlaylist.acceptsGzip(request.headers["Accept-Encoding"]) ? Gzip.compress(plain) : nil
        let etag = "\"\(PublishedPlaylist.fingerprint(plain))\(compressed == nil ? "" : "-gz")\""
        // Like a media playlist (rfc8216bis Appendix B): about half a target duration while live
        // (a new rendition or a changed declaration shows soon), a day once the stream ended.
        let cacheControl =
            snapshot.isEnded
            ? "public, max-age=86400"
            : "public, max-age=\(max(1, (snapshot.shortestTargetDuration ?? 2) / 2))"
        var headers = HTTPHeaders(PublishedPlaylist.commonHeaders(cacheControl: cacheControl))
        headers.add("ETag", etag)
        if let lastModified = snapshot.lastModified {
            headers.add("Last-Modified", lastModified.httpDate)
        }
        if let tags = request.headers["If-None-Match"], PublishedPlaylist.matches(tags, etag) {
            // With the representation as its body: its length is the 304's Content-Length, the
            // body is never sent (RFC 9110 §8.6; see PublishedPlaylist).
            return HTTPResponse(status: .notModified, headers: headers, body: .bytes(compressed ?? plain))
        }
        if compressed != nil { headers.add("Content-Encoding", "gzip") }
        return HTTPResponse(status: .ok, headers: headers, body: .bytes(compressed ?? plain))
    }

    /// Answers held blocking reloads whose three target durations have passed with 503
    /// (rfc8216bis §6.2.5.2; never the unchanged playlist, which Apple players reject).
    func expireHeldRequests() {
        waiters.expire(now: .now, with: Self.blockingTimeoutResponse)
    }

    /// Answers every held blocking reload (the server is shutting down).
    func wakeHeldRequestsForShutdown() {
        waiters.wakeAll(with: Self.shuttingDownResponse)
    }

    /// The answer to held playlist requests when the service shuts down: a 503 that players'
    /// browsers can read (CORS) and CDNs do not keep.
    static let shuttingDownResponse: HTTPResponse = {
        var response = ErrorMapping.unavailable("server is shutting down")
        response.headers.add("Access-Control-Allow-Origin", "*")
        return response
    }()

    static let blockingTimeoutResponse: HTTPResponse = {
        var response = ErrorMapping.unavailable("the requested segment or part did not appear in time")
        response.headers.add("Access-Control-Allow-Origin", "*")
        return response
    }()

    /// Reports a sweep's work through metrics and logs.
    func noteSweep(_ report: SweepReport) {
        metrics.sweep(skipped: report.skippedSegments, staleRenditions: report.staleRenditionCount)
        for transition in report.staleTransitions {
            let metadata: Logger.Metadata = ["hls.stream": "\(transition.stream)", "hls.rendition": "\(transition.rendition)"]
            if transition.isStale {
                logger.warning("rendition stalled", metadata: metadata)
            } else {
                logger.info("rendition advancing again", metadata: metadata)
            }
        }
        if !report.evictions.isEmpty {
            // Forgotten streams free many small allocations at once: hand the freed pages back to
            // the system, so the resident size follows the live state (glibc keeps them otherwise).
            ProcessMemory.returnFreedPages()
        }
        for eviction in report.evictions {
            waiters.forget(stream: eviction.stream)
            logger.info("stream forgotten", metadata: ["hls.stream": "\(eviction.stream)", "hls.reason": "\(eviction.reason)"])
        }
        if report.skippedHoles > 0 {
            logger.info("holes skipped", metadata: ["hls.segments_skipped": .stringConvertible(report.skippedSegments)])
        }
    }

    /// The 404 for a playlist that cannot be served, saying what is missing.
    private func lookupError(_ stream: StreamID, _ rendition: RenditionName) -> LookupError {
        switch registry.presence(stream: stream, rendition: rendition) {
        case .unknownStream:
            return LookupError(message: "stream \(stream) is not known")
        case .unknownRendition:
            return LookupError(message: "stream \(stream) has no rendition \(rendition)")
        case .noSegmentYet, .available:
            // `.available`: the first segment arrived after this request looked.
            return LookupError(
                message: "rendition \(rendition) of stream \(stream) has no segment yet: "
                    + "its playlist starts with its first whole segment")
        }
    }

    static func jsonResponse(_ status: HTTPStatus, _ body: String) -> HTTPResponse {
        HTTPResponse(status: status, headers: HTTPHeaders([("Content-Type", "application/json")]), body: .bytes(Array(body.utf8)))
    }
}

extension Route {
    /// This route's metrics label.
    var name: Name {
        switch self {
        case .registerSegment: .registerSegment
        case .playlist: .playlist
        case .endStream: .endStream
        case .metrics: .metrics
        case .health: .health
        case .readiness: .readiness
        case .preflight: .playlist
        case .declareRendition: .declareRendition
        case .registerPart: .registerPart
        case .master: .master
        case .listStreams: .listStreams
        case .streamDetail, .deleteStream: .stream
        case .removedSegments: .removedSegments
        }
    }
}

extension HTTPReply {
    /// The response of a reply that was not parked.
    fileprivate var response: HTTPResponse {
        switch self {
        case .response(let response): response
        case .suspended: ErrorMapping.json(.internalServerError, "a request was parked without a connection")
        }
    }
}
