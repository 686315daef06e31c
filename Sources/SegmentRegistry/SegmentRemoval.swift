import HLSModel

/// What one change took out of a rendition's playlist: the segments that slid out of its window
/// and the parts no longer listed (or, when the stream is forgotten, everything it listed).
public struct SegmentRemoval: Sendable, Equatable {
    public let stream: StreamID
    public let rendition: RenditionName
    /// The segments removed, oldest first.
    public let segments: [Segment]
    /// The parts removed.
    public let parts: [PartialSegment]
    /// When they were removed.
    public let removedAt: Timestamp
    /// The rendition's `#EXT-X-TARGETDURATION`, in seconds.
    public let targetDuration: Int64
    /// The longest playlist that listed them, in milliseconds of segments.
    public let longestPlaylistMilliseconds: Int64

    /// What `current` no longer lists of `previous` (the publication it replaced); nil when
    /// nothing was removed.
    /// - Complexity: O(*s* + *p*) in the segments and parts of the two playlists.
    public init?(from previous: RenditionSnapshot, to current: RenditionSnapshot, at now: Timestamp, longestPlaylist: Int64) {
        // A window only slides forward: what left is a prefix of the previous one.
        let first = current.segments.first?.sequence.rawValue ?? .max
        let segments = previous.segments.prefix { $0.sequence.rawValue < first }
        var parts: [PartialSegment] = []
        if !previous.parts.isEmpty {
            let listed = Set(current.parts.map { PartKey(sequence: $0.sequence.rawValue, part: $0.part) })
            parts = previous.parts.filter { !listed.contains(PartKey(sequence: $0.sequence.rawValue, part: $0.part)) }
        }
        guard !segments.isEmpty || !parts.isEmpty else { return nil }
        self.init(
            stream: current.stream, rendition: current.rendition, segments: Array(segments), parts: parts,
            removedAt: now, targetDuration: current.targetDuration, longestPlaylistMilliseconds: longestPlaylist)
    }

    /// Everything `snapshot` lists, removed at `now` (its stream was forgotten or deleted).
    public init(all snapshot: RenditionSnapshot, at now: Timestamp, longestPlaylist: Int64) {
        self.init(
            stream: snapshot.stream, rendition: snapshot.rendition, segments: snapshot.segments, parts: snapshot.parts,
            removedAt: now, targetDuration: snapshot.targetDuration,
            longestPlaylistMilliseconds: max(longestPlaylist, snapshot.durationMilliseconds))
    }

    public init(
        stream: StreamID, rendition: RenditionName, segments: [Segment], parts: [PartialSegment], removedAt: Timestamp,
        targetDuration: Int64, longestPlaylistMilliseconds: Int64
    ) {
        self.stream = stream
        self.rendition = rendition
        self.segments = segments
        self.parts = parts
        self.removedAt = removedAt
        self.targetDuration = targetDuration
        self.longestPlaylistMilliseconds = longestPlaylistMilliseconds
    }

    /// When a removed segment may be deleted (rfc8216bis §6.2.2): it stays available for its
    /// own duration plus the longest playlist that listed it.
    public func deletableAfter(_ segment: Segment) -> Timestamp {
        Timestamp(millisecondsSinceEpoch: removedAt.millisecondsSinceEpoch + segment.duration.milliseconds + longestPlaylistMilliseconds)
    }

    /// When a removed part may be deleted (rfc8216bis §6.2.2): three target durations after.
    public var partsDeletableAfter: Timestamp {
        Timestamp(millisecondsSinceEpoch: removedAt.millisecondsSinceEpoch + 3 * targetDuration * 1000)
    }

    private struct PartKey: Hashable {
        let sequence: UInt64
        let part: Int
    }
}

extension RenditionSnapshot {
    /// The total duration of the segments listed, in milliseconds.
    public var durationMilliseconds: Int64 {
        segments.reduce(0) { $0 + $1.duration.milliseconds }
    }
}
