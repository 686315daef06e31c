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
    /// `#EXT-X-MEDIA-SEQUENCE`: the sequence of the first listed segment or, when none is
    /// listed, the next sequence expected.
    public var mediaSequence: SequenceNumber
    /// The listed window: ascending and contiguous, starting at ``mediaSequence``.
    public var segments: [Segment]
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
        lastModified: Timestamp
    ) {
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
