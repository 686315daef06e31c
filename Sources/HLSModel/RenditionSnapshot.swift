/// What the media playlist of one rendition shows at one instant; the renderer's only input.
public struct RenditionSnapshot: Equatable, Sendable {
    /// The stream the rendition belongs to.
    public var stream: StreamID
    /// The rendition.
    public var rendition: RenditionName
    /// Increments on every visible change of the playlist; the first published snapshot is 1.
    public var version: UInt64
    /// `#EXT-X-TARGETDURATION`, in whole seconds; fixed for the life of the rendition.
    public var targetDuration: Int64
    /// `#EXT-X-MEDIA-SEQUENCE` (RFC 8216 §4.3.3.2): the media sequence number of the first
    /// listed segment or, when none is listed, of the next one.
    ///
    /// Until a hole has been skipped it equals the first listed segment's
    /// ``Segment/sequence``. In the playlist each segment's media sequence number is the one
    /// before it plus one (RFC 8216 §3), so once holes have been skipped this number counts
    /// listed segments and is lower than the transcoder's sequence by the number skipped.
    public var mediaSequence: SequenceNumber
    /// `#EXT-X-DISCONTINUITY-SEQUENCE` (RFC 8216 §4.3.3.3): how many discontinuity tags have
    /// slid out of the window; never decreases.
    public var discontinuitySequence: UInt64
    /// The listed window, ascending by ``Segment/sequence``; contiguous except where a skipped
    /// hole left a gap, and each segment after such a gap is in ``discontinuities``.
    public var segments: [Segment]
    /// The sequences of listed segments preceded by `#EXT-X-DISCONTINUITY` (RFC 8216 §4.3.2.3),
    /// ascending.
    public var discontinuities: [SequenceNumber]
    /// Whether the stream has ended (the playlist carries `#EXT-X-ENDLIST`).
    public var isEnded: Bool
    /// When the last visible change happened.
    public var lastModified: Timestamp

    /// Creates a snapshot from its parts.
    public init(
        stream: StreamID,
        rendition: RenditionName,
        version: UInt64,
        targetDuration: Int64,
        mediaSequence: SequenceNumber,
        segments: [Segment],
        isEnded: Bool,
        lastModified: Timestamp,
        discontinuitySequence: UInt64 = 0,
        discontinuities: [SequenceNumber] = []
    ) {
        self.discontinuitySequence = discontinuitySequence
        self.discontinuities = discontinuities
        self.stream = stream
        self.rendition = rendition
        self.version = version
        self.targetDuration = targetDuration
        self.mediaSequence = mediaSequence
        self.segments = segments
        self.isEnded = isEnded
        self.lastModified = lastModified
    }
}
