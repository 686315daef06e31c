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
    let segmentsSkipped: CoreMetrics.Counter
    let staleRenditions: CoreMetrics.Gauge
    let heldRequests: CoreMetrics.Gauge
    let blockingWake: CoreMetrics.Timer
    let blockingTimeouts: CoreMetrics.Counter
    let blockingRejections: CoreMetrics.Counter
    let blockingOverload: CoreMetrics.Counter
    /// One timer per route, indexed by ``Route/Name/ordinal`` (an array index, not a hash lookup,
    /// on every request).
    private let durations: [CoreMetrics.Timer]
    private let registry: PrometheusCollectorRegistry

    /// Buckets for request durations: a playlist GET takes microseconds, a held LL-HLS request
    /// up to a few target durations.
    public static let durationBuckets: [Duration] = [
        .microseconds(50), .microseconds(100), .microseconds(250), .microseconds(500),
        .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25),
        .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500),
        .seconds(1), .seconds(2), .seconds(5), .seconds(10), .seconds(30),
    ]

    /// `# HELP` text of each metric, so the exposition passes `promtool check metrics`.
    public static let help: [String: String] = [
        "hls_requests_total": "HTTP requests answered.",
        "hls_errors_total": "HTTP answers with a 4xx or 5xx status.",
        "hls_segments_registered_total": "Segments newly registered (answered 201).",
        "hls_streams_ended_total": "Streams ended, each counted once.",
        "hls_active_streams": "Streams known and not ended.",
        "hls_http_request_duration_seconds": "Time to answer an HTTP request, by route.",
        "hls_segments_skipped_total": "Segments given up after GAP_TIMEOUT (holes skipped with a discontinuity).",
        "hls_stale_renditions": "Live renditions that have not advanced for 1.5 target durations (RFC 8216 6.3.4).",
        "hls_blocking_requests_held": "Blocking playlist reloads (LL-HLS) held right now.",
        "hls_blocking_wake_seconds": "Time from the start of handling the registration that satisfies a held reload to its answer being queued.",
        "hls_blocking_timeouts_total": "Blocking playlist reloads answered 503 after three target durations.",
        "hls_blocking_rejections_total": "Blocking playlist reloads refused with 400 (asking too far ahead, malformed).",
        "hls_blocking_overload_total": "Blocking playlist reloads refused with 503 because the held-request limits were reached.",
    ]

    /// Registers every metric in `registry`.
    public init(registry: PrometheusCollectorRegistry) {
        self.registry = registry
        let factory = DocumentedPrometheusFactory(registry: registry, help: Self.help, durationBuckets: Self.durationBuckets)
        requests = CoreMetrics.Counter(label: "hls_requests_total", factory: factory)
        errors = CoreMetrics.Counter(label: "hls_errors_total", factory: factory)
        segmentsRegistered = CoreMetrics.Counter(label: "hls_segments_registered_total", factory: factory)
        streamsEnded = CoreMetrics.Counter(label: "hls_streams_ended_total", factory: factory)
        activeStreams = CoreMetrics.Gauge(label: "hls_active_streams", factory: factory)
        segmentsSkipped = CoreMetrics.Counter(label: "hls_segments_skipped_total", factory: factory)
        staleRenditions = CoreMetrics.Gauge(label: "hls_stale_renditions", factory: factory)
        heldRequests = CoreMetrics.Gauge(label: "hls_blocking_requests_held", factory: factory)
        blockingWake = CoreMetrics.Timer(label: "hls_blocking_wake_seconds", factory: factory)
        blockingTimeouts = CoreMetrics.Counter(label: "hls_blocking_timeouts_total", factory: factory)
        blockingRejections = CoreMetrics.Counter(label: "hls_blocking_rejections_total", factory: factory)
        blockingOverload = CoreMetrics.Counter(label: "hls_blocking_overload_total", factory: factory)
        durations = Route.Name.allCases.map { name in
            CoreMetrics.Timer(label: "hls_http_request_duration_seconds", dimensions: [("route", name.rawValue)], factory: factory)
        }
    }

    /// Counts one answered request.
    func record(route: Route.Name, status: Int, nanoseconds: Int64) {
        requests.increment()
        if status >= 400 { errors.increment() }
        durations[route.ordinal].recordNanoseconds(nanoseconds)
    }

    /// Counts a segment newly registered (201).
    func segmentRegistered() { segmentsRegistered.increment() }

    /// Counts a stream ended for the first time.
    func streamEnded() { streamsEnded.increment() }

    /// Records what a registry sweep found.
    func sweep(skipped: UInt64, staleRenditions count: Int) {
        if skipped > 0 { segmentsSkipped.increment(by: Int64(clamping: skipped)) }
        staleRenditions.record(count)
    }

    /// Counts the end of a held blocking reload: woken after `wait` of latency, or timed out.
    func blockingFinished(woken: Bool, wakeLatency: Duration) {
        if woken {
            blockingWake.recordNanoseconds(
                wakeLatency.components.seconds * 1_000_000_000 + wakeLatency.components.attoseconds / 1_000_000_000)
        } else {
            blockingTimeouts.increment()
        }
    }

    /// Counts a blocking reload refused with 400.
    func blockingRejected() { blockingRejections.increment() }

    /// Counts a blocking reload refused because the limits were reached.
    func blockingOverloaded() { blockingOverload.increment() }

    /// The Prometheus text exposition of every metric, with the gauges read from their sources
    /// at scrape time first, so they are always exact.
    func exposition(activeStreams count: Int, heldRequests held: Int) -> [UInt8] {
        activeStreams.record(count)
        heldRequests.record(held)
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

/// A swift-metrics factory over swift-prometheus that registers known metrics with their `# HELP`
/// text (the stock factory registers none) and delegates everything else unchanged.
public struct DocumentedPrometheusFactory: MetricsFactory {
    private let registry: PrometheusCollectorRegistry
    private let base: PrometheusMetricsFactory
    private let help: [String: String]
    private let durationBuckets: [Duration]

    /// A factory over `registry`; `help` maps metric names to their help text.
    public init(
        registry: PrometheusCollectorRegistry, help: [String: String] = OrchestratorMetrics.help,
        durationBuckets: [Duration] = OrchestratorMetrics.durationBuckets
    ) {
        self.registry = registry
        var base = PrometheusMetricsFactory(registry: registry)
        base.defaultDurationHistogramBuckets = durationBuckets
        self.base = base
        self.help = help
        self.durationBuckets = durationBuckets
    }

    public func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler {
        guard let text = help[label] else { return base.makeCounter(label: label, dimensions: dimensions) }
        return registry.makeCounter(descriptor: descriptor(label, text), labels: dimensions)
    }

    public func makeFloatingPointCounter(label: String, dimensions: [(String, String)]) -> any FloatingPointCounterHandler {
        base.makeFloatingPointCounter(label: label, dimensions: dimensions)
    }

    public func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler {
        guard !aggregate, let text = help[label] else {
            return base.makeRecorder(label: label, dimensions: dimensions, aggregate: aggregate)
        }
        return registry.makeGauge(descriptor: descriptor(label, text), labels: dimensions)
    }

    public func makeMeter(label: String, dimensions: [(String, String)]) -> any MeterHandler {
        base.makeMeter(label: label, dimensions: dimensions)
    }

    public func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler {
        guard let text = help[label] else { return base.makeTimer(label: label, dimensions: dimensions) }
        return registry.makeDurationHistogram(descriptor: descriptor(label, text), labels: dimensions, buckets: durationBuckets)
    }

    /// The full name is `label` itself: no namespace, subsystem or unit is added.
    private func descriptor(_ label: String, _ text: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: label, unitName: "", helpText: text)
    }

    public func destroyCounter(_ handler: any CounterHandler) { base.destroyCounter(handler) }
    public func destroyFloatingPointCounter(_ handler: any FloatingPointCounterHandler) {
        base.destroyFloatingPointCounter(handler)
    }
    public func destroyRecorder(_ handler: any RecorderHandler) { base.destroyRecorder(handler) }
    public func destroyMeter(_ handler: any MeterHandler) { base.destroyMeter(handler) }
    public func destroyTimer(_ handler: any TimerHandler) { base.destroyTimer(handler) }
}
