public import HLSModel

/// What one ``SegmentRegistry/sweep(now:)`` found and did, for logs and metrics.
public struct SweepReport: Equatable, Sendable {
    /// A live rendition that started or stopped looking stalled (RFC 8216 §6.3.4).
    public struct StaleTransition: Equatable, Sendable {
        /// The stream.
        public var stream: StreamID
        /// The rendition.
        public var rendition: RenditionName
        /// `true`: it has not advanced for 1.5 target durations; `false`: it advanced again,
        /// ended, or was forgotten.
        public var isStale: Bool

        /// Creates a transition.
        public init(stream: StreamID, rendition: RenditionName, isStale: Bool) {
            self.stream = stream
            self.rendition = rendition
            self.isStale = isStale
        }
    }

    /// Why a stream was forgotten.
    public enum EvictionReason: Hashable, Sendable {
        /// It ended longer than the ended-stream TTL ago.
        case ended
        /// It stayed live without a registration or declaration for the idle-stream TTL.
        case idle
        /// An operator deleted it (`DELETE /streams/{id}`).
        case deleted
    }

    /// A stream the sweep forgot, with everything it held.
    public struct Eviction: Equatable, Sendable {
        /// The stream; it is unknown from now on.
        public var stream: StreamID
        /// Why.
        public var reason: EvictionReason

        /// Creates an eviction record.
        public init(stream: StreamID, reason: EvictionReason) {
            self.stream = stream
            self.reason = reason
        }
    }

    /// Segments skipped by gap timeouts since the previous sweep — by this sweep and by
    /// registrations in between (for `hls_segments_skipped_total`).
    public var skippedSegments: UInt64 = 0
    /// Holes the window moved past since the previous sweep.
    public var skippedHoles: Int = 0
    /// Live renditions that currently look stalled (for a gauge).
    public var staleRenditionCount: Int = 0
    /// Renditions whose stalled state changed, each reported once per change.
    public var staleTransitions: [StaleTransition] = []
    /// Streams forgotten by this sweep.
    public var evictions: [Eviction] = []
    /// Renditions republished by this sweep.
    public var republished: Int = 0

    /// Creates an empty report.
    public init() {}
}
