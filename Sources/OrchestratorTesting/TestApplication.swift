import Authorization
import Logging
import MicroHTTPD
import OrchestratorApp
import Prometheus

/// A real application listening on 127.0.0.1 and an ephemeral port, for integration tests.
public final class TestApplication: Sendable {
    public let application: Application
    public let port: UInt16
    /// The ingest listener's port, when the test configured `ingestPort`.
    public let ingestPort: UInt16?

    /// Builds and starts the application; `configure` adjusts the test defaults first. Logs go
    /// to `logger` (nowhere by default).
    public convenience init(
        logger: Logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }),
        _ configure: (inout AppConfiguration) -> Void = { _ in }
    ) throws {
        try self.init(logger: logger, configuration: Self.configuration(configure), access: .open)
    }

    /// Builds and starts the application with the credentials `configure` sets (prepared first).
    public static func withAccessControl(
        logger: Logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }),
        _ configure: (inout AppConfiguration) -> Void
    ) async throws -> TestApplication {
        let configuration = configuration(configure)
        return try TestApplication(logger: logger, configuration: configuration, access: await AccessControl(configuration.access))
    }

    /// The test defaults (port 0 on loopback, two threads, a short drain), then `configure`.
    private static func configuration(_ configure: (inout AppConfiguration) -> Void) -> AppConfiguration {
        var configuration = AppConfiguration(httpThreads: 2)
        configuration.port = 0
        configuration.bindAddress = "127.0.0.1"
        configuration.shutdownTimeoutSeconds = 2
        configure(&configuration)
        return configuration
    }

    private init(logger: Logger, configuration: AppConfiguration, access: AccessControl) throws {
        application = buildApplication(
            configuration: configuration,
            logger: logger,
            metricsRegistry: PrometheusCollectorRegistry(),
            access: access,
            store: try openStateStore(configuration))
        try application.start()
        port = application.port
        ingestPort = application.ingestPort
    }

    /// Drains and stops the server.
    public func shutdown() async { await application.shutdown() }

    /// Sends one request on a new connection, off the cooperative pool.
    public func request(
        _ method: HTTPMethod, _ target: String, headers: [(String, String)] = [], body: String? = nil
    ) async throws -> HTTPClientResponse {
        let port = self.port
        return try await offPool {
            try HTTPClientConnection(port: port).request(method, target, headers: headers, body: body.map { Array($0.utf8) })
        }
    }

    /// GET `target`.
    public func get(_ target: String) async throws -> HTTPClientResponse {
        try await request(.get, target)
    }

    /// POST a JSON body to `target`.
    public func post(_ target: String, json: String? = nil) async throws -> HTTPClientResponse {
        try await request(.post, target, headers: [("Content-Type", "application/json")], body: json)
    }

    /// Registers segment `sequence` of `stream`/`rendition` with path `/<rendition>/<sequence>.ts`.
    public func register(
        _ stream: String, _ rendition: String, _ sequence: Int, duration: String = "2.0"
    ) async throws -> HTTPClientResponse {
        try await post(
            "/streams/\(stream)/renditions/\(rendition)/segments",
            json: #"{"sequence": \#(sequence), "duration": \#(duration), "path": "/\#(rendition)/\#(sequence).ts"}"#)
    }

    /// The value of sample `name` in `/metrics`: the unlabelled sample, or else the sum over every
    /// label set (`hls_errors_total` is the sum of its `status` series); nil if there is none.
    public func metric(_ name: String) async throws -> Double? {
        Self.metric(name, in: try await get("/metrics").text)
    }

    /// ``metric(_:)`` over an exposition already fetched.
    public static func metric(_ name: String, in text: String) -> Double? {
        var sum: Double?
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let parts = line.split(separator: " ")
            guard parts.count == 2, let value = Double(parts[1]) else { continue }
            if parts[0] == name { return value }
            if parts[0].hasPrefix(name + "{") { sum = (sum ?? 0) + value }
        }
        return sum
    }
}
