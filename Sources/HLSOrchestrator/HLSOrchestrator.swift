// The process shell: read configuration, bootstrap logging and metrics, run until a signal.
import Authorization
import FoundationEssentials
import Logging
import Metrics
import MicroHTTPD
import OrchestratorApp
import Prometheus
import ServiceLifecycle
import StateLog
import UnixSignals

@main
enum HLSOrchestrator {
    static func main() async {
        let arguments = Array(CommandLine.arguments.dropFirst())
        switch arguments.first {
        case nil: break
        case "healthcheck" where arguments.count == 1: ProcessExit.exit(healthcheck())
        case "--help" where arguments.count == 1, "-h" where arguments.count == 1:
            StandardOutput.write(usage)
            ProcessExit.exit(0)
        case "--version" where arguments.count == 1:
            StandardOutput.write(BuildInfo.versionLine + "\n")
            ProcessExit.exit(0)
        default:
            StandardError.write("hls-orchestrator: unknown arguments: \(arguments.joined(separator: " "))\n\n" + usage)
            ProcessExit.exit(2)
        }

        let configuration: AppConfiguration
        do {
            configuration = try loadConfiguration()
        } catch {
            StandardError.write("hls-orchestrator: \(error)\n")
            ProcessExit.exit(2)
        }

        let access: AccessControl
        do {
            access = try await AccessControl(configuration.access)
        } catch {
            StandardError.write("hls-orchestrator: invalid JWT_PUBLIC_KEY_FILE: expected \(error.expected)\n")
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
        let store: StateBackend?
        do {
            store = try openStateStore(configuration)
        } catch {
            StandardError.write("hls-orchestrator: STATE_STORE: \(error)\n")
            // Unreachable (Redis down): 1, so that the unit's restart tries again; anything
            // else is the configuration's: 2.
            if case .unavailable = error { ProcessExit.exit(1) }
            ProcessExit.exit(2)
        }
        let application = buildApplication(
            configuration: configuration, logger: logger, metricsRegistry: metricsRegistry, notifier: notifier,
            access: access, store: store,
            fatal: { failure in
                // The store logged why. A shared log this instance can no longer follow: 3 (a
                // restart loads the newest snapshot). Durability unknown: 1, rather than
                // acknowledge more.
                if case .unusable = failure { ProcessExit.exit(3) }
                ProcessExit.exit(1)
            })
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: [application], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do {
            try await group.run()
        } catch {
            logger.error("service stopped with an error", metadata: ["error.type": "\(type(of: error))", "error.message": "\(error)"])
            // A log that cannot be replayed is refused like an unusable STATE_STORE (a shared
            // log that became unreachable during the replay: 1, to be tried again).
            if error is StoreFailure || error is CorruptEntry {
                StandardError.write("hls-orchestrator: STATE_STORE: \(error)\n")
                if case StoreFailure.unavailable = error { ProcessExit.exit(1) }
                ProcessExit.exit(2)
            }
            ProcessExit.exit(1)
        }
    }

    /// What `--help` prints (and an unknown argument, on standard error).
    static let usage = """
        usage: hls-orchestrator [healthcheck | --help | --version]

        Serves live HLS playlists; with no command it runs the server until SIGTERM or SIGINT.

        commands:
          healthcheck   GET /healthz of the server the same configuration describes;
                        exit status 0 when it answers 200, else 1
        options:
          -h, --help    print this help and exit
          --version     print the version and git revision and exit

        Configuration comes from environment variables, over a .env file in the working
        directory: PORT, BIND_ADDRESS, SLIDING_WINDOW_SIZE, LOG_LEVEL, LOG_FORMAT and more.
        Every variable, its default and its meaning: .env.example and the README.
        Exit status: 0 after a graceful stop, 1 on a runtime failure, 2 on a usage or
        configuration error.

        """

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
