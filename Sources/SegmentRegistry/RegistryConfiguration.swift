/// The operator's settings for a ``SegmentRegistry``, parsed once by the executable.
public struct RegistryConfiguration: Equatable, Sendable {
    /// The largest accepted ``targetDuration`` override, in seconds.
    public static let maximumTargetDuration: Int64 = 3600
    /// The default of ``maxPendingSegments``.
    public static let defaultMaxPendingSegments = 1024
    /// The default of ``maxStreams``.
    public static let defaultMaxStreams = 100_000
    /// The default of ``maxRenditionsPerStream``.
    public static let defaultMaxRenditionsPerStream = 32
    /// The default of ``endedStreamTTLMilliseconds``: one hour.
    public static let defaultEndedStreamTTLMilliseconds: Int64 = 3_600_000
    /// The default of ``idleStreamTTLMilliseconds``: ten minutes.
    public static let defaultIdleStreamTTLMilliseconds: Int64 = 600_000

    /// How many segments a live playlist lists at most (`SLIDING_WINDOW_SIZE`); at least 1.
    ///
    /// A playlist may list more when that is needed to keep three target durations
    /// (RFC 8216 §6.2.2).
    public var windowSize: Int

    /// The `#EXT-X-TARGETDURATION` of every rendition, in seconds, in `1...3600`; when `nil`,
    /// each rendition takes its declared `target_duration`, else
    /// the duration of its first segment rounded up to whole seconds.
    public var targetDuration: Int64?

    /// How long, in milliseconds, a hole in the sequence may hold later segments back before the
    /// window moves past it behind `#EXT-X-DISCONTINUITY` (`GAP_TIMEOUT`); 0 = hold forever.
    public var gapTimeoutMilliseconds: Int64

    /// How far ahead of the gap-free edge a segment may be to wait: a sequence `s` with
    /// `s − nextExpected ≥ maxPendingSegments` is refused (`MAX_PENDING_SEGMENTS`); at least 1.
    public var maxPendingSegments: Int

    /// How many streams, live or ended, may be known at once; at least 1.
    public var maxStreams: Int

    /// How many renditions one stream may have; at least 1.
    public var maxRenditionsPerStream: Int

    /// How long an ended stream is remembered before ``SegmentRegistry/sweep(now:)`` forgets it
    /// (`ENDED_STREAM_TTL`); 0 = forever.
    public var endedStreamTTLMilliseconds: Int64

    /// How long a live stream may go without a registration or declaration before
    /// ``SegmentRegistry/sweep(now:)`` forgets it (`IDLE_STREAM_TTL`); 0 = forever.
    public var idleStreamTTLMilliseconds: Int64

    /// Creates a configuration; the values must be in range (``SegmentRegistry`` checks them with
    /// a precondition, since the executable validates operator input first).
    public init(
        windowSize: Int = 6,
        targetDuration: Int64? = nil,
        gapTimeoutMilliseconds: Int64 = 0,
        maxPendingSegments: Int = Self.defaultMaxPendingSegments,
        maxStreams: Int = Self.defaultMaxStreams,
        maxRenditionsPerStream: Int = Self.defaultMaxRenditionsPerStream,
        endedStreamTTLMilliseconds: Int64 = Self.defaultEndedStreamTTLMilliseconds,
        idleStreamTTLMilliseconds: Int64 = Self.defaultIdleStreamTTLMilliseconds
    ) {
        self.windowSize = windowSize
        self.targetDuration = targetDuration
        self.gapTimeoutMilliseconds = gapTimeoutMilliseconds
        self.maxPendingSegments = maxPendingSegments
        self.maxStreams = maxStreams
        self.maxRenditionsPerStream = maxRenditionsPerStream
        self.endedStreamTTLMilliseconds = endedStreamTTLMilliseconds
        self.idleStreamTTLMilliseconds = idleStreamTTLMilliseconds
    }

    /// Whether every value is in its documented range.
    public var isValid: Bool {
        guard windowSize >= 1, gapTimeoutMilliseconds >= 0, maxPendingSegments >= 1, maxStreams >= 1,
            maxRenditionsPerStream >= 1, endedStreamTTLMilliseconds >= 0, idleStreamTTLMilliseconds >= 0
        else { return false }
        if let targetDuration, !(1...Self.maximumTargetDuration).contains(targetDuration) { return false }
        return true
    }
}
