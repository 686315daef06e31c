// Per-stream timestamps and kind, read by sweeps without the directory lock.
import HLSModel
import Synchronization

/// Per-stream timestamps read by sweeps without any lock.
final class StreamRecord: Sendable {
    /// When the stream last got a registration or declaration, in ms since the epoch.
    private let lastActivity: Atomic<Int64>
    /// When the stream ended, or `Int64.max` while live.
    private let endedAt = Atomic<Int64>(.max)
    /// The stream.
    let stream: StreamID
    /// Whether the stream is low-latency or regular, and what its low-latency renditions
    /// share; a leaf lock.
    private let kind = Mutex(StreamKind())

    /// When the stream became known.
    let createdAt: Timestamp

    init(stream: StreamID, now: Timestamp) {
        self.stream = stream
        createdAt = now
        lastActivity = Atomic(now.millisecondsSinceEpoch)
    }

    /// A record as a snapshot kept it (``RegistryImage``).
    init(restoring image: RegistryImage.Stream) {
        stream = image.stream
        createdAt = image.createdAt
        lastActivity = Atomic(image.lastActivity)
        endedAt.store(image.endedAt, ordering: .relaxed)
        kind.withLock { $0 = image.kind }
    }

    /// The record as a snapshot keeps it.
    func image(isEnded: Bool) -> RegistryImage.Stream {
        RegistryImage.Stream(
            stream: stream, createdAt: createdAt, lastActivity: lastActivity.load(ordering: .relaxed),
            endedAt: endedAt.load(ordering: .relaxed), kind: kind.withLock { $0 }, isEnded: isEnded)
    }

    /// When the stream last got a registration or declaration.
    var updatedAt: Timestamp { Timestamp(millisecondsSinceEpoch: lastActivity.load(ordering: .relaxed)) }

    /// `true` once a low-latency declaration or segment made the stream low-latency, `false`
    /// once a regular rendition's first segment made it regular, `nil` while undecided.
    var isLowLatency: Bool? {
        kind.withLock { kind in
            if kind.lowLatency.partTarget != nil { return true }
            return kind.hasRegularRendition ? false : nil
        }
    }

    /// Notes activity at `now` (never moves backwards).
    func touch(_ now: Timestamp) {
        lastActivity.max(now.millisecondsSinceEpoch, ordering: .relaxed)
    }

    /// Checks that a rendition may join the stream as `joining` says, and fixes what it
    /// fixes: a low-latency rendition's values that are set (unless one differs from a value
    /// already fixed, or the stream is regular), or the stream's being regular. On a conflict
    /// nothing changes and the conflict is returned.
    func join(_ joining: StreamKind.Joining) -> LowLatencyPolicyConflict? {
        kind.withLock { $0.join(joining) }
    }

    /// The target duration the stream's low-latency renditions share, once fixed.
    var sharedTargetDuration: Int64? { kind.withLock { $0.lowLatency.targetDuration } }

    func markEnded(_ now: Timestamp) {
        endedAt.store(now.millisecondsSinceEpoch, ordering: .relaxed)
    }

    /// Why the stream should be forgotten at `now`, if it should.
    func expiry(now: Timestamp, configuration: RegistryConfiguration) -> SweepReport.EvictionReason? {
        let ended = endedAt.load(ordering: .relaxed)
        if ended != .max {
            let ttl = configuration.endedStreamTTLMilliseconds
            return ttl > 0 && Timestamp(millisecondsSinceEpoch: ended).milliseconds(to: now) >= ttl ? .ended : nil
        }
        let ttl = configuration.idleStreamTTLMilliseconds
        let last = Timestamp(millisecondsSinceEpoch: lastActivity.load(ordering: .relaxed))
        return ttl > 0 && last.milliseconds(to: now) >= ttl ? .idle : nil
    }
}
