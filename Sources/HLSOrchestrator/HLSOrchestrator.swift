// The process shell: read configuration, bootstrap logging and metrics, run until a signal.
import Foundation
import Logging
import Metrics
import OrchestratorApp
import Prometheus
import ServiceLifecycle
import UnixSignals

@main
enum HLSOrchestrator {
    static func main() async {
        let configuration: AppConfiguration
        do {
            configuration = try loadConfiguration()
        } catch {
            FileHandle.standardError.write(Data("hls-orchestrator: \(error)\n".utf8))
            exit(2)
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

        let application = buildApplication(configuration: configuration, logger: logger, metricsRegistry: metricsRegistry)
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: [application], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do {
            try await group.run()
        } catch {
            logger.error("service stopped with an error", metadata: ["error.type": "\(type(of: error))", "error.message": "\(error)"])
            exit(1)
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
