import HLSModel
import Logging
import MicroHTTPD
import PlaylistRenderer
import SegmentRegistry

/// The periodic work: sweeps (logged ones with a durable store) and what they did, reported
/// through metrics and logs; held reloads answered when their time is up or the service stops.
extension Orchestrator {
    /// Runs the periodic housekeeping: at once in memory; with a durable store as a logged sweep
    /// at the log's time, only when something is due.
    func sweep() {
        let now = clock()
        removedSegmentsFeed.advance(now: now)
        guard let committer else {
            let report = ChangeTiming.$started.withValue(ContinuousClock.now) { registry.sweep(now: now) }
            return noteSweep(report)
        }
        guard registry.sweepIsDue(now: now) else { return }
        committer.submitSweep { [self] result in
            if case .success(.swept(let report)) = result { noteSweep(report) }
        }
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
}
