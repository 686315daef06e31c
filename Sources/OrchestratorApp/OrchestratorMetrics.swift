import Authorization
import CoreMetrics
import MicroHTTPD
import Prometheus
import Synchronization
import SegmentRegistry

/// The service's metrics, created once through swift-metrics and exported by swift-prometheus.
///
/// The five seed names are a contract with dashboards and alerts: `hls_requests_total`,
/// `hls_segments_registered_total`, `hls_streams_ended_total`, `hls_active_streams`,
/// `hls_errors_total` (labelled by `status` since 0.9; the sum over its series is the old total).
/// Everything a request touches is created up front, so a request costs a few atomic adds and
/// never a label lookup (a status outside ``errorStatuses`` is the exception: made on first use).
///
/// The exposition is sorted by metric family name, series by labels, and carries the process
/// metrics (`process_*`) read at scrape time.
public final class OrchestratorMetrics: Sendable {
    let requests: CoreMetrics.Counter
    /// `hls_errors_total{status}` for each of ``errorStatuses``, indexed by status - 400.
    private let errors: [CoreMetrics.Counter?]
    /// `hls_errors_total{status}` for any other status, made on first use.
    private let otherErrors = Mutex<[Int: CoreMetrics.Counter]>([:])
    private let factory: DocumentedPrometheusFactory
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
    /// `hls_auth_failures_total{reason}`, one per ``AuthorizationFailure`` (in `allCases` order).
    private let authFailures: [AuthorizationFailure: CoreMetrics.Counter]
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

    /// The error statuses the service answers, whose `hls_errors_total` series exist (at 0) from the
    /// start, so `rate()` and alerts see them before the first error.
    public static let errorStatuses = [400, 401, 403, 404, 405, 409, 413, 415, 422, 429, 500, 503]

    /// `# HELP` text of each metric, so the exposition passes `promtool check metrics`.
    public static let help: [String: String] = [
        "hls_requests_total": "HTTP requests answered.",
        "hls_errors_total": "HTTP answers with a 4xx or 5xx status, by status.",
        "hls_build_info": "The version and git revision of this binary (always 1).",
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
        "hls_auth_failures_total": "Write and admin requests refused for their credential, by reason (missing, invalid, expired: 401; forbidden_scope, forbidden_stream: 403).",
    ]

    /// Registers every metric in `registry`; `hls_build_info` reports `version` and `revision`.
    public init(
        registry: PrometheusCollectorRegistry, version: String = BuildInfo.version, revision: String = BuildInfo.revision
    ) {
        self.registry = registry
        let factory = DocumentedPrometheusFactory(registry: registry, help: Self.help, durationBuckets: Self.durationBuckets)
        self.factory = factory
        requests = CoreMetrics.Counter(label: "hls_requests_total", factory: factory)
        var errors = [CoreMetrics.Counter?](repeating: nil, count: 200)
        for status in Self.errorStatuses {
            errors[status - 400] = CoreMetrics.Counter(
                label: "hls_errors_total", dimensions: [("status", String(status))], factory: factory)
        }
        self.errors = errors
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
        authFailures = Dictionary(
            uniqueKeysWithValues: AuthorizationFailure.allCases.map { reason in
                (reason, CoreMetrics.Counter(label: "hls_auth_failures_total", dimensions: [("reason", reason.rawValue)], factory: factory))
            })
        durations = Route.Name.allCases.map { name in
            CoreMetrics.Timer(label: "hls_http_request_duration_seconds", dimensions: [("route", name.rawValue)], factory: factory)
        }
        CoreMetrics.Gauge(label: "hls_build_info", dimensions: [("version", version), ("revision", revision)], factory: factory)
            .record(1)
    }

    /// Counts one answered request.
    func record(route: Route.Name, status: Int, nanoseconds: Int64) {
        requests.increment()
        if status >= 400 { errorCounter(status: status).increment() }
        durations[route.ordinal].recordNanoseconds(nanoseconds)
    }

    /// The `hls_errors_total` series of `status` (4xx or 5xx).
    private func errorCounter(status: Int) -> CoreMetrics.Counter {
        if (400..<600).contains(status), let counter = errors[status - 400] { return counter }
        return otherErrors.withLock { others in
            if let counter = others[status] { return counter }
            let counter = CoreMetrics.Counter(
                label: "hls_errors_total", dimensions: [("status", String(status))], factory: factory)
            others[status] = counter
            return counter
        }
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

    /// Counts a request refused for its credential.
    func authFailed(_ reason: AuthorizationFailure) { authFailures[reason]?.increment() }

    /// Counts a blocking reload refused with 400.
    func blockingRejected() { blockingRejections.increment() }

    /// Counts a blocking reload refused because the limits were reached.
    func blockingOverloaded() { blockingOverload.increment() }

    /// The Prometheus text exposition of every metric, with the gauges read from their sources
    /// at scrape time first, so they are always exact.
    func exposition(
        activeStreams count: Int, heldRequests held: Int, budget: MemoryBudget? = nil, feed: RemovedSegmentsFeed? = nil,
        store: (any CommandLog)? = nil
    ) -> [UInt8] {
        activeStreams.record(count)
        heldRequests.record(held)
        return exposition(budget: budget, feed: feed, store: store)
    }

    /// The Prometheus text exposition of every metric, of the memory budget and of the process,
    /// sorted.
    private func exposition(budget: MemoryBudget?, feed: RemovedSegmentsFeed?, store: (any CommandLog)?) -> [UInt8] {
        var buffer: [UInt8] = []
        buffer.reserveCapacity(8 * 1024)
        registry.emit(into: &buffer)
        if let budget { buffer.append(contentsOf: Self.exposition(of: budget).utf8) }
        if let feed {
            buffer.append(
                contentsOf: ("# HELP hls_removed_segments_held Entries of the retention feed held (waiting or readable).\n"
                    + "# TYPE hls_removed_segments_held gauge\nhls_removed_segments_held \(feed.count)\n"
                    + "# HELP hls_removed_segments_dropped_total Retention feed entries dropped (REMOVED_SEGMENTS_KEEP passed, or the feed full).\n"
                    + "# TYPE hls_removed_segments_dropped_total counter\nhls_removed_segments_dropped_total \(feed.droppedCount)\n").utf8)
        }
        if let store {
            buffer.append(
                contentsOf: ("# HELP hls_state_log_entries_total Entries appended to the durable state log since start-up.\n"
                    + "# TYPE hls_state_log_entries_total counter\nhls_state_log_entries_total \(store.committedCount)\n"
                    + "# HELP hls_state_store_failures_total Commits the state store refused (their writes answered 503).\n"
                    + "# TYPE hls_state_store_failures_total counter\nhls_state_store_failures_total \(store.failureCount)\n").utf8)
        }
        if let process = ProcessStatistics.current() {
            buffer.append(contentsOf: Self.exposition(of: process).utf8)
        }
        return PrometheusExposition.sorted(buffer)
    }

    /// `hls_memory_budget_bytes`, and `hls_memory_used_bytes` and `hls_memory_refusals_total` by
    /// part (`records`, `pending`, `bodies`, `held`).
    static func exposition(of budget: MemoryBudget) -> String {
        var text = "# HELP hls_memory_budget_bytes Memory clients may make the service hold (MEMORY_BUDGET_MB).\n"
            + "# TYPE hls_memory_budget_bytes gauge\nhls_memory_budget_bytes \(budget.limit)\n"
        text += "# HELP hls_memory_used_bytes Estimated memory held for clients, by part of the budget.\n"
            + "# TYPE hls_memory_used_bytes gauge\n"
        for part in MemoryBudget.Part.allCases {
            text += "hls_memory_used_bytes{part=\"\(part.rawValue)\"} \(budget.used(part))\n"
        }
        text += "# HELP hls_memory_refusals_total Requests refused because the memory budget was spent, by part.\n"
            + "# TYPE hls_memory_refusals_total counter\n"
        for part in MemoryBudget.Part.allCases {
            text += "hls_memory_refusals_total{part=\"\(part.rawValue)\"} \(budget.refused(part))\n"
        }
        return text
    }

    /// The `process_*` metrics every Prometheus client library exports, with their help and type.
    static func exposition(of process: ProcessStatistics) -> String {
        var text = ""
        func family(_ name: String, _ type: String, _ help: String, _ value: String?) {
            guard let value else { return }
            text += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n\(name) \(value)\n"
        }
        family("process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.", "\(process.cpuSeconds)")
        family("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.", "\(process.residentMemoryBytes)")
        family("process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.", "\(process.virtualMemoryBytes)")
        family("process_start_time_seconds", "gauge", "Start time of the process since unix epoch in seconds.", "\(process.startTimeSeconds)")
        family("process_open_fds", "gauge", "Number of open file descriptors.", process.openFileDescriptors.map { "\($0)" })
        family("process_max_fds", "gauge", "Maximum number of open file descriptors.", process.maxFileDescriptors.map { "\($0)" })
        return text
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
