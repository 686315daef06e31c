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
    let committer: (any CommandLog)?
    /// Off while the state log is replayed: publications are not rendered until the end.
    let rendering: RenderingSwitch

    /// Creates the router over a new in-memory registry charging `MEMORY_BUDGET_MB`; `access` is
    /// `configuration.access` prepared (``AccessControl/init(_:)``), open by default; `store`, when
    /// given, is the durable state log the registry is fed from (`fatal` is called when it loses
    /// durability).
    public convenience init(
        configuration: AppConfiguration, logger: Logger, metrics: OrchestratorMetrics,
        clock: @escaping @Sendable () -> Timestamp, access: AccessControl = .open,
        store: StateBackend? = nil, fatal: @escaping @Sendable (StoreFailure) -> Void = { _ in }
    ) {
        let budget = MemoryBudget(limit: configuration.memoryBudgetBytes)
        let feed = Self.removedSegmentsFeed(configuration)
        self.init(
            configuration: configuration, logger: logger, metrics: metrics, clock: clock,
            makeRegistry: SegmentRegistry<PublishedPlaylist>.inMemory(budget: budget, removals: { feed.record($0) }),
            budget: budget, feed: feed, access: access, store: store, fatal: fatal)
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
        store: StateBackend? = nil,
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
        let rendering = RenderingSwitch()
        self.rendering = rendering
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
                guard rendering.isOn else { return PublishedPlaylist(unrendered: snapshot) }
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
        committer = store.map { backend -> any CommandLog in
            switch backend {
            case .sqlite(let store):
                StateCommitter(
                    store: store, registry: registry, feed: feed, budget: budget, rendering: rendering, clock: clock, logger: logger,
                    fatal: fatal)
            case .redis(let log):
                SharedLogCommitter(
                    log: log, registry: registry, feed: feed, budget: budget, rendering: rendering, logger: logger,
                    settings: configuration.decidingSettings, fatal: fatal)
            }
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
    let cachesPlaylists: Bool
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

    static let jsonContentType = [(name: "Content-Type", value: "application/json")]

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

/// Whether publications are rendered (off during a replay of the state log).
final class RenderingSwitch: Sendable {
    private let on = Atomic<Bool>(true)
    var isOn: Bool { on.load(ordering: .acquiring) }
    func set(_ value: Bool) { on.store(value, ordering: .releasing) }
}
