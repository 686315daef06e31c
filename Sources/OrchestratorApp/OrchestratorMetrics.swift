import CoreMetrics
import Prometheus

/// The service's metrics, created once through swift-metrics and exported by swift-prometheus.
///
/// The five seed names are a contract with dashboards and alerts: `hls_requests_total`,
/// `hls_segments_registered_total`, `hls_streams_ended_total`, `hls_active_streams`,
/// `hls_errors_total`. Everything is created up front, so a request costs a few atomic adds and
/// never a label lookup.
public final class OrchestratorMetrics: Sendable {
    let requests: CoreMetrics.Counter
    let errors: CoreMetrics.Counter
    let segmentsRegistered: CoreMetrics.Counter
    let streamsEnded: CoreMetrics.Counter
    let activeStreams: CoreMetrics.Gauge
    private let durations: [Route.Name: CoreMetrics.Timer]
    private let registry: PrometheusCollectorRegistry

    /// Buckets for request durations: a playlist GET takes microseconds, a held LL-HLS request
    /// up to a few target durations.
    static let durationBuckets: [Duration] = [
        .microseconds(50), .microseconds(100), .microseconds(250), .microseconds(500),
        .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25),
        .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500),
        .seconds(1), .seconds(2), .seconds(5), .seconds(10), .seconds(30),
    ]

    /// Registers every metric in `registry`.
    public init(registry: PrometheusCollectorRegistry) {
        self.registry = registry
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = Self.durationBuckets
        requests = CoreMetrics.Counter(label: "hls_requests_total", factory: factory)
        errors = CoreMetrics.Counter(label: "hls_errors_total", factory: factory)
        segmentsRegistered = CoreMetrics.Counter(label: "hls_segments_registered_total", factory: factory)
        streamsEnded = CoreMetrics.Counter(label: "hls_streams_ended_total", factory: factory)
        activeStreams = CoreMetrics.Gauge(label: "hls_active_streams", factory: factory)
        var durations: [Route.Name: CoreMetrics.Timer] = [:]
        for name in Route.Name.allCases {
            durations[name] = CoreMetrics.Timer(
                label: "hls_http_request_duration_seconds", dimensions: [("route", name.rawValue)], factory: factory)
        }
        self.durations = durations
    }

    /// Counts one answered request.
    func record(route: Route.Name, status: Int, nanoseconds: Int64) {
        requests.increment()
        if status >= 400 { errors.increment() }
        durations[route]?.recordNanoseconds(nanoseconds)
    }

    /// Counts a segment newly registered (201).
    func segmentRegistered() { segmentsRegistered.increment() }

    /// Counts a stream ended for the first time.
    func streamEnded() { streamsEnded.increment() }

    /// The Prometheus text exposition of every metric, with `hls_active_streams` set to
    /// `activeStreams` first (read from the registry at scrape time, so it is always exact).
    func exposition(activeStreams count: Int) -> [UInt8] {
        activeStreams.record(count)
        return exposition()
    }

    /// The Prometheus text exposition of every metric.
    private func exposition() -> [UInt8] {
        var buffer: [UInt8] = []
        buffer.reserveCapacity(8 * 1024)
        registry.emit(into: &buffer)
        return buffer
    }
}
