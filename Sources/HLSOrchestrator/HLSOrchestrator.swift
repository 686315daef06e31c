// The process shell: read configuration, bootstrap logging and metrics, run until a signal.
import FoundationEssentials
import Logging
import Metrics
import MicroHTTPD
import OrchestratorApp
import Prometheus
import ServiceLifecycle
import UnixSignals

@main
enum HLSOrchestrator {
    static func main() async {
        switch CommandLine.arguments.dropFirst().first {
        case nil: break
        case "healthcheck": ProcessExit.exit(healthcheck())
        default:
            StandardError.write("usage: hls-orchestrator [healthcheck]\n")
            ProcessExit.exit(2)
        }

        let configuration: AppConfiguration
        do {
            configuration = try loadConfiguration()
        } catch {
            StandardError.write("hls-orchestrator: \(error)\n")
            ProcessExit.exit(2)
        }

        let sink = StandardErrorSink()
        LoggingSystem.bootstrap { label in
            switch configuration.logFormat {
            case .json: JSONLogHandler(label: label, level: configuration.logLevel, sink: sink, clock: SystemClock.now)
            case .text: TextLogHandler(label: label, level: configuration.logLevel, sink: sink, clock: SystemClock.now)
            }
        }
        let logger = Logger(label: "hls-orchestrator")
        let metricsRegistry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(DocumentedPrometheusFactory(registry: metricsRegistry))

        // NOTIFY_SOCKET, WATCHDOG_USEC, WATCHDOG_PID: systemd's protocol, from the process only.
        let notifier = SystemdNotifier(environment: ProcessInfo.processInfo.environment)
        let application = buildApplication(
            configuration: configuration, logger: logger, metricsRegistry: metricsRegistry, notifier: notifier)
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: [application], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do {
            try await group.run()
        } catch {
            logger.error("service stopped with an error", metadata: ["error.type": "\(type(of: error))", "error.message": "\(error)"])
            ProcessExit.exit(1)
        }
    }

    /// `hls-orchestrator healthcheck`: GET /healthz of the server configured by the same
    /// environment and `.env`, on loopback unless it binds one address. Exit status 0 when it
    /// answers 200, else 1 (for Docker's HEALTHCHECK; the runtime image has no curl).
    static func healthcheck() -> Int32 {
        do {
            let configuration = try loadConfiguration()
            let host = configuration.bindAddress == "0.0.0.0" ? "127.0.0.1" : configuration.bindAddress
            let connection = try HTTPClientConnection(host: host, port: configuration.port, timeout: .seconds(3))
            let response = try connection.request(.get, "/healthz")
            guard response.status == .ok else {
                StandardError.write("hls-orchestrator: /healthz answered \(response.status)\n")
                return 1
            }
            return 0
        } catch {
            StandardError.write("hls-orchestrator: health check failed: \(error)\n")
            return 1
        }
    }

    /// The environment, over `.env` in the working directory when there is one.
    static func loadConfiguration() throws -> AppConfiguration {
        var dotEnv: [String: String] = [:]
        if let text = try? String(contentsOfFile: ".env", encoding: .utf8) {
            dotEnv = try DotEnv.parse(text)
        }
        let environment = DotEnv.merge(dotEnv: dotEnv, environment: ProcessInfo.processInfo.environment)
        return try AppConfiguration(environment: environment, cpuCount: ProcessInfo.processInfo.activeProcessorCount)
    }
}
