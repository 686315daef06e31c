import Authorization
import FoundationEssentials
import HLSModel
import Logging
import MicroHTTPD
import Prometheus
import ServiceLifecycle
import Synchronization
import SegmentRegistry
import StateLog

/// The running service: the libmicrohttpd server in front of the `Orchestrator`.
///
/// As a swift-service-lifecycle `Service`, `run()` serves until graceful shutdown is requested;
/// then `/readyz` turns 503, the service keeps serving for `SHUTDOWN_DELAY`, stops accepting,
/// drains in-flight requests (bounded by `SHUTDOWN_TIMEOUT`) and stops.
public final class Application: Service, Sendable {
    public let configuration: AppConfiguration
    public let orchestrator: Orchestrator
    private let server: MicroHTTPServer
    /// The ingest listener (`INGEST_PORT`), when configured.
    private let ingestServer: MicroHTTPServer?
    private let logger: Logger
    private let notifier: SystemdNotifier
    private let maintenance = Mutex<Task<Void, Never>?>(nil)

    init(configuration: AppConfiguration, orchestrator: Orchestrator, logger: Logger, notifier: SystemdNotifier) {
        self.configuration = configuration
        self.orchestrator = orchestrator
        self.logger = logger
        self.notifier = notifier
        let main = ServerConfiguration(
            port: configuration.port,
            bindAddress: configuration.bindAddress,
            threads: configuration.httpThreads,
            connectionLimit: configuration.maxConnections,
            perIPConnectionLimit: configuration.maxConnectionsPerIP,
            connectionTimeoutSeconds: configuration.connectionTimeoutSeconds,
            requestTimeoutSeconds: configuration.requestTimeoutSeconds,
            maxBodyBytes: configuration.maxRequestBodyBytes,
            requestHeaderNames: Orchestrator.requestHeaderNames,
            responseCache: Orchestrator.responseCache(entriesPerThread: configuration.responseCacheEntries),
            // The access log (debug) is the one reader of the client address.
            copiesClientAddress: logger.logLevel <= .debug,
            bodyBudget: BodyBudget(budget: orchestrator.budget))
        server = MicroHTTPServer(configuration: main, responder: orchestrator)
        ingestServer = configuration.ingestPort.map { port in
            // The same limits, its own connection slots; no playlists, so no response cache.
            var ingest = main
            ingest.port = port
            ingest.bindAddress = configuration.ingestBindAddress ?? configuration.bindAddress
            ingest.threads = max(1, configuration.httpThreads / 2)
            ingest.responseCache = nil
            ingest.listener = Orchestrator.ingestListener
            return MicroHTTPServer(configuration: ingest, responder: orchestrator)
        }
    }

    /// Both listeners: the main one, then the ingest one when configured.
    private var servers: [MicroHTTPServer] { [server] + (ingestServer.map { [$0] } ?? []) }

    /// Restores the durable state (replays the log; nothing is served before it is back), then
    /// starts listening (without waiting for anything else).
    /// - Throws: ``StoreFailure`` when the log cannot be read; ``ServerError`` when a port cannot
    ///   be listened on.
    public func start() throws {
        if let committer = orchestrator.committer {
            let started = ContinuousClock.now
            let restored = try committer.start()
            let steps = restored.durations
            func milliseconds(_ duration: Duration) -> Int { Int(duration / .milliseconds(1)) }
            logger.info(
                "state restored",
                metadata: [
                    "store.location": "\(committer.location)", "store.entries": .stringConvertible(restored.entries),
                    "store.snapshot_streams": .stringConvertible(restored.snapshot?.streams ?? 0),
                    "store.snapshot_renditions": .stringConvertible(restored.snapshot?.renditions ?? 0),
                    "store.replay_ms": .stringConvertible((ContinuousClock.now - started) / .milliseconds(1)),
                    "store.steps_ms": "load \(milliseconds(steps.load)), decode \(milliseconds(steps.decode)), restore \(milliseconds(steps.restore)), replay \(milliseconds(steps.replay)), publish \(milliseconds(steps.publish))",
                ])
        }
        try server.start()
        do {
            try ingestServer?.start()
        } catch {
            server.stop()
            throw error
        }
        let access = configuration.access
        if access.isOpen {
            logger.warning(
                "no credential configured: anyone who reaches the port may write",
                metadata: [
                    "auth.note": "set INGEST_TOKENS, ADMIN_TOKENS, JWT_SECRET or JWT_PUBLIC_KEY_FILE (or a _FILE form) to require bearer tokens"
                ])
        } else {
            // Counts and algorithms only: never a token.
            logger.info(
                "access control enabled",
                metadata: [
                    "auth.ingest_tokens": .stringConvertible(access.ingestTokens.count),
                    "auth.admin_tokens": .stringConvertible(access.adminTokens.count),
                    "auth.jwt_algorithms": "\(access.jwtAlgorithms.joined(separator: " "))",
                ])
        }
        if configuration.slidingWindowSize < 3 {
            logger.warning(
                "window shorter than three target durations",
                metadata: [
                    "hls.window_size": .stringConvertible(configuration.slidingWindowSize),
                    "hls.note": "live playlists keep as many segments as three target durations need (RFC 8216 6.2.2)",
                ])
        }
        let orchestrator = self.orchestrator
        let servers = self.servers
        maintenance.withLock { task in
            task = Task.detached {
                await Self.maintain(orchestrator: orchestrator, servers: servers)
            }
        }
        var metadata: Logger.Metadata = [
            "http.address": "\(configuration.bindAddress)", "http.port": .stringConvertible(server.port),
            "http.threads": .stringConvertible(configuration.httpThreads),
            "hls.window_size": .stringConvertible(configuration.slidingWindowSize),
            "service.version": "\(BuildInfo.version)", "service.revision": "\(BuildInfo.revision)",
        ]
        if let ingestServer {
            metadata["http.ingest_address"] = "\(ingestServer.configuration.bindAddress ?? "0.0.0.0")"
            metadata["http.ingest_port"] = .stringConvertible(ingestServer.port)
        }
        logger.info("server started", metadata: metadata)
    }

    /// The port the server listens on (after `start()`).
    public var port: UInt16 { server.port }

    /// Connections open now, on every listener.
    public var openConnections: Int { servers.reduce(0) { $0 + $1.openConnections } }

    /// The port of the ingest listener (after `start()`), when `INGEST_PORT` is set.
    public var ingestPort: UInt16? { ingestServer?.port }

    /// Serves until graceful shutdown (SIGTERM/SIGINT through the ServiceGroup) or cancellation.
    ///
    /// Under systemd (`Type=notify`) it sends `READY=1` once the listener accepts connections,
    /// and `WATCHDOG=1` at half of `WatchdogSec=` until the shutdown begins.
    public func run() async throws {
        try start()
        notify([.ready, .status("Serving on \(configuration.bindAddress):\(port)")])
        let pinger = notifier.watchdogPingInterval.map { interval in
            Task { await self.pingWatchdog(every: interval) }
        }
        try? await gracefulShutdown()
        // systemd supervises the watchdog only while the service runs; once STOPPING=1 is sent,
        // TimeoutStopSec= bounds the stop instead. The pinger is stopped (and awaited) first, so
        // no ping follows STOPPING=1.
        pinger?.cancel()
        await pinger?.value
        await shutdown()
    }

    /// Sends `WATCHDOG=1` every `interval` until cancelled.
    private func pingWatchdog(every interval: Duration) async {
        while (try? await Task.sleep(for: interval)) != nil {
            notify([.watchdog])
        }
    }

    /// Tells the service manager `notifications`; a failure is logged, never fatal.
    private func notify(_ notifications: [SystemdNotification]) {
        do {
            try notifier.notify(notifications)
        } catch {
            logger.warning(
                "service manager notification failed",
                metadata: ["error.type": "\(type(of: error))", "error.message": "\(error)"])
        }
    }

    /// Periodic work while the server runs: expire held reloads (every 50 ms), sweep the
    /// registry (every 250 ms), release held requests whose client hung up (every second). The
    /// servers enforce their receive deadlines on a thread of their own.
    private static func maintain(orchestrator: Orchestrator, servers: [MicroHTTPServer]) async {
        var tick = 0
        while (try? await Task.sleep(for: .milliseconds(50))) != nil {
            tick += 1
            orchestrator.expireHeldRequests()
            if tick % 5 == 0 { orchestrator.sweep() }
            if tick % 20 == 0 {
                for server in servers { server.releaseDisconnectedRequests() }
            }
        }
    }

    /// The graceful stop: `/readyz` answers 503 at once; the service keeps serving for
    /// `SHUTDOWN_DELAY` (cut short if the task is cancelled), so load balancers that probe it take
    /// it out of rotation first; then it stops accepting (new connections are refused), answers
    /// held reloads, lets in-flight requests finish within `SHUTDOWN_TIMEOUT`, and stops.
    public func shutdown() async {
        orchestrator.isReady = false
        let delay = configuration.shutdownDelaySeconds
        notify([.stopping, .status(delay > 0 ? "Not ready; serving \(delay) s more, then draining" : "Draining in-flight requests")])
        logger.info(
            "shutdown started",
            metadata: [
                "http.in_flight": .stringConvertible(servers.reduce(0) { $0 + $1.inFlightRequests }),
                "http.shutdown_delay_seconds": .stringConvertible(configuration.shutdownDelaySeconds),
            ])
        if delay > 0 {
            try? await Task.sleep(for: .seconds(delay))
            notify([.status("Draining in-flight requests")])
            logger.info(
                "draining started",
                metadata: ["http.in_flight": .stringConvertible(servers.reduce(0) { $0 + $1.inFlightRequests })])
        }
        maintenance.withLock { task in
            task?.cancel()
            task = nil
        }
        orchestrator.wakeHeldRequestsForShutdown()
        for server in servers { server.stopAccepting() }
        var drained = true
        let deadline = ContinuousClock.now.advanced(by: .seconds(configuration.shutdownTimeoutSeconds))
        for server in servers {
            let left = max(.zero, deadline - ContinuousClock.now)
            drained = await server.drain(timeout: left) && drained
        }
        let abandoned = servers.reduce(0) { $0 + $1.inFlightRequests }
        for server in servers { server.stop(parkedReply: Orchestrator.shuttingDownResponse) }
        // Every accepted change is in the log already; this commits what is still queued and
        // closes the file.
        orchestrator.committer?.stop()
        if drained {
            logger.info("shutdown complete")
        } else {
            logger.warning("shutdown timed out with requests in flight", metadata: ["http.in_flight": .stringConvertible(abandoned)])
        }
    }
}

/// Builds the whole service from its configuration; `@main` only adds process concerns.
///
/// `access` is `configuration.access` prepared by `await AccessControl(configuration.access)`
/// (jwt-kit's keys are made once, asynchronously); the default, `.open`, fits only a
/// configuration without credentials.
public func buildApplication(
    configuration: AppConfiguration,
    logger: Logger,
    metricsRegistry: PrometheusCollectorRegistry = PrometheusCollectorRegistry(),
    clock: @escaping @Sendable () -> Timestamp = SystemClock.now,
    notifier: SystemdNotifier = .disabled,
    access: AccessControl = .open,
    store: StateBackend? = nil,
    fatal: @escaping @Sendable (StoreFailure) -> Void = { _ in }
) -> Application {
    let orchestrator = Orchestrator(
        configuration: configuration, logger: logger, metrics: OrchestratorMetrics(registry: metricsRegistry),
        clock: clock, access: access, store: store, fatal: fatal)
    return Application(configuration: configuration, orchestrator: orchestrator, logger: logger, notifier: notifier)
}

/// Wall-clock time for the registry.
public enum SystemClock {
    /// Now, in milliseconds since the Unix epoch.
    @Sendable public static func now() -> Timestamp {
        Timestamp(millisecondsSinceEpoch: Int64((Date().timeIntervalSince1970 * 1000).rounded()))
    }
}

/// Request bodies charged to the service's memory budget.
private struct BodyBudget: RequestBodyBudget {
    let budget: MemoryBudget

    func reserve(_ bytes: Int) -> Bool { budget.reserve(bytes, for: .bodies) }
    func charge(_ bytes: Int) { budget.adjust(bytes, for: .bodies) }
    func release(_ bytes: Int) { budget.release(bytes, for: .bodies) }
}
