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
    ///
    /// In a low-latency rendition every segment has a ``Segment/programDateTime``: the
    /// registered one, else one the registry derived (the previous segment's date plus its
    /// duration when contiguous, else the arrival time minus the duration).
    public var segments: [Segment]
    /// The sequences of listed segments preceded by `#EXT-X-DISCONTINUITY` (RFC 8216 §4.3.2.3),
    /// ascending.
    public var discontinuities: [SequenceNumber]
    /// Whether the stream has ended (the playlist carries `#EXT-X-ENDLIST`).
    public var isEnded: Bool
    /// When the last visible change happened.
    public var lastModified: Timestamp
    /// `#EXT-X-PART-INF:PART-TARGET` (rfc8216bis §4.4.3.7); set exactly when the rendition is
    /// low-latency. `nil` renders the playlist without any low-latency tag.
    public var partTarget: SegmentDuration?
    /// The URI pattern of the next part, for `#EXT-X-PRELOAD-HINT` (§4.4.5.3).
    public var partURITemplate: PartURITemplate?
    /// `#EXT-X-MAP:URI` (§4.4.4.5), the initialization section of fMP4/CMAF segments.
    public var mapURI: QuotedURI?
    /// The listed partial segments (`#EXT-X-PART`, §4.4.4.9), ascending by sequence then part
    /// index: contiguous from part 0 within each parent segment, only for segments whose end
    /// is within three target durations of the end of the playlist (§6.2.2), then the parts of
    /// the segment in progress (the one after the last listed segment).
    public var parts: [PartialSegment]
    /// One `#EXT-X-RENDITION-REPORT` (§4.4.5.4) per other rendition of the stream, sorted by
    /// name, as of this snapshot.
    public var renditionReports: [RenditionReport]

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
        discontinuities: [SequenceNumber] = [],
        partTarget: SegmentDuration? = nil,
        partURITemplate: PartURITemplate? = nil,
        mapURI: QuotedURI? = nil,
        parts: [PartialSegment] = [],
        renditionReports: [RenditionReport] = []
    ) {
        self.partTarget = partTarget
        self.partURITemplate = partURITemplate
        self.mapURI = mapURI
        self.parts = parts
        self.renditionReports = renditionReports
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
