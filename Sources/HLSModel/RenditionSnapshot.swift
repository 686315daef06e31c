/// What the media playlist of one rendition shows at one instant; the renderer's only input.
public struct RenditionSnapshot: Equatable, Sendable {
    /// The stored fields; a snapshot is a reference to one immutable copy of them, so handing a
    /// snapshot around (to the publication, the served playlist, a waiting request) copies one
    /// reference, and two holders of the same snapshot share its memory. A setter copies the
    /// fields first unless this value is their only holder (copy on write).
    private var storage: Storage

    private struct Fields: Equatable, Sendable {
        var stream: StreamID
        var rendition: RenditionName
        var version: UInt64
        var targetDuration: Int64
        var mediaSequence: SequenceNumber
        var discontinuitySequence: UInt64
        var segments: [Segment]
        var discontinuities: [SequenceNumber]
        var isEnded: Bool
        var lastModified: Timestamp
        /// `nil` for a playlist without any low-latency tag (most of them): one pointer.
        var lowLatency: LowLatencyFields?
    }

    /// The fields only low-latency (or fMP4) playlists have, behind one immutable reference.
    private final class LowLatencyFields: Equatable, Sendable {
        let partTarget: SegmentDuration?
        let partURITemplate: PartURITemplate?
        let mapURI: QuotedURI?
        let parts: [PartialSegment]
        let renditionReports: [RenditionReport]

        init(
            partTarget: SegmentDuration?, partURITemplate: PartURITemplate?, mapURI: QuotedURI?,
            parts: [PartialSegment], renditionReports: [RenditionReport]
        ) {
            self.partTarget = partTarget
            self.partURITemplate = partURITemplate
            self.mapURI = mapURI
            self.parts = parts
            self.renditionReports = renditionReports
        }

        /// `nil` when every field is empty, so a plain playlist carries nothing.
        static func make(
            partTarget: SegmentDuration?, partURITemplate: PartURITemplate?, mapURI: QuotedURI?,
            parts: [PartialSegment], renditionReports: [RenditionReport]
        ) -> LowLatencyFields? {
            if partTarget == nil, partURITemplate == nil, mapURI == nil, parts.isEmpty, renditionReports.isEmpty {
                return nil
            }
            return LowLatencyFields(
                partTarget: partTarget, partURITemplate: partURITemplate, mapURI: mapURI, parts: parts,
                renditionReports: renditionReports)
        }

        static func == (lhs: LowLatencyFields, rhs: LowLatencyFields) -> Bool {
            lhs === rhs
                || (lhs.partTarget == rhs.partTarget && lhs.partURITemplate == rhs.partURITemplate
                    && lhs.mapURI == rhs.mapURI && lhs.parts == rhs.parts && lhs.renditionReports == rhs.renditionReports)
        }
    }

    /// Replaces one low-latency field (the others kept).
    private mutating func changeLowLatency(
        partTarget: SegmentDuration?? = nil, partURITemplate: PartURITemplate?? = nil, mapURI: QuotedURI?? = nil,
        parts: [PartialSegment]? = nil, renditionReports: [RenditionReport]? = nil
    ) {
        let old = storage.fields.lowLatency
        let made = LowLatencyFields.make(
            partTarget: partTarget ?? old?.partTarget, partURITemplate: partURITemplate ?? old?.partURITemplate,
            mapURI: mapURI ?? old?.mapURI, parts: parts ?? old?.parts ?? [],
            renditionReports: renditionReports ?? old?.renditionReports ?? [])
        fields { $0.lowLatency = made }
    }

    /// The box of the fields. Mutated only through ``fields(_:)`` of a uniquely referenced box,
    /// which is what makes the unchecked `Sendable` hold: a box shared between threads is never
    /// written.
    private final class Storage: @unchecked Sendable {
        var fields: Fields
        init(_ fields: Fields) { self.fields = fields }
    }

    /// Runs `change` on fields of this value's own (copying them when shared).
    private mutating func fields(_ change: (inout Fields) -> Void) {
        if !isKnownUniquelyReferenced(&storage) { storage = Storage(storage.fields) }
        change(&storage.fields)
    }

    public static func == (lhs: RenditionSnapshot, rhs: RenditionSnapshot) -> Bool {
        lhs.storage === rhs.storage || lhs.storage.fields == rhs.storage.fields
    }

    /// The stream the rendition belongs to.
    public var stream: StreamID {
        get { storage.fields.stream }
        set { fields { $0.stream = newValue } }
    }
    /// The rendition.
    public var rendition: RenditionName {
        get { storage.fields.rendition }
        set { fields { $0.rendition = newValue } }
    }
    /// Increments on every visible change of the playlist; the first published snapshot is 1.
    public var version: UInt64 {
        get { storage.fields.version }
        set { fields { $0.version = newValue } }
    }
    /// `#EXT-X-TARGETDURATION`, in whole seconds; fixed for the life of the rendition.
    public var targetDuration: Int64 {
        get { storage.fields.targetDuration }
        set { fields { $0.targetDuration = newValue } }
    }
    /// `#EXT-X-MEDIA-SEQUENCE` (RFC 8216 §4.3.3.2): the media sequence number of the first
    /// listed segment or, when none is listed, of the next one.
    ///
    /// Until a hole has been skipped it equals the first listed segment's
    /// ``Segment/sequence``. In the playlist each segment's media sequence number is the one
    /// before it plus one (RFC 8216 §3), so once holes have been skipped this number counts
    /// listed segments and is lower than the transcoder's sequence by the number skipped.
    public var mediaSequence: SequenceNumber {
        get { storage.fields.mediaSequence }
        set { fields { $0.mediaSequence = newValue } }
    }
    /// `#EXT-X-DISCONTINUITY-SEQUENCE` (RFC 8216 §4.3.3.3): how many discontinuity tags have
    /// slid out of the window; never decreases.
    public var discontinuitySequence: UInt64 {
        get { storage.fields.discontinuitySequence }
        set { fields { $0.discontinuitySequence = newValue } }
    }
    /// The listed window, ascending by ``Segment/sequence``; contiguous except where a skipped
    /// hole left a gap, and each segment after such a gap is in ``discontinuities``.
    ///
    /// In a low-latency rendition every segment has a ``Segment/programDateTime``: the
    /// registered one, else one the registry derived (the previous segment's date plus its
    /// duration when contiguous, else the arrival time minus the duration).
    public var segments: [Segment] {
        get { storage.fields.segments }
        set { fields { $0.segments = newValue } }
    }
    /// The sequences of listed segments preceded by `#EXT-X-DISCONTINUITY` (RFC 8216 §4.3.2.3),
    /// ascending.
    public var discontinuities: [SequenceNumber] {
        get { storage.fields.discontinuities }
        set { fields { $0.discontinuities = newValue } }
    }
    /// Whether the stream has ended (the playlist carries `#EXT-X-ENDLIST`).
    public var isEnded: Bool {
        get { storage.fields.isEnded }
        set { fields { $0.isEnded = newValue } }
    }
    /// When the last visible change happened.
    public var lastModified: Timestamp {
        get { storage.fields.lastModified }
        set { fields { $0.lastModified = newValue } }
    }
    /// `#EXT-X-PART-INF:PART-TARGET` (rfc8216bis §4.4.3.7); set exactly when the rendition is
    /// low-latency. `nil` renders the playlist without any low-latency tag.
    public var partTarget: SegmentDuration? {
        get { storage.fields.lowLatency?.partTarget }
        set { changeLowLatency(partTarget: .some(newValue)) }
    }
    /// The URI pattern of the next part, for `#EXT-X-PRELOAD-HINT` (§4.4.5.3).
    public var partURITemplate: PartURITemplate? {
        get { storage.fields.lowLatency?.partURITemplate }
        set { changeLowLatency(partURITemplate: .some(newValue)) }
    }
    /// `#EXT-X-MAP:URI` (§4.4.4.5), the initialization section of fMP4/CMAF segments.
    public var mapURI: QuotedURI? {
        get { storage.fields.lowLatency?.mapURI }
        set { changeLowLatency(mapURI: .some(newValue)) }
    }
    /// The listed partial segments (`#EXT-X-PART`, §4.4.4.9), ascending by sequence then part
    /// index: contiguous from part 0 within each parent segment, only for segments whose end
    /// is within three target durations of the end of the playlist (§6.2.2), then the parts of
    /// the segment in progress (the one after the last listed segment).
    public var parts: [PartialSegment] {
        get { storage.fields.lowLatency?.parts ?? [] }
        set { changeLowLatency(parts: newValue) }
    }
    /// One `#EXT-X-RENDITION-REPORT` (§4.4.5.4) per other rendition of the stream, sorted by
    /// name, as of this snapshot.
    public var renditionReports: [RenditionReport] {
        get { storage.fields.lowLatency?.renditionReports ?? [] }
        set { changeLowLatency(renditionReports: newValue) }
    }

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
        storage = Storage(
            Fields(
                stream: stream,
                rendition: rendition,
                version: version,
                targetDuration: targetDuration,
                mediaSequence: mediaSequence,
                discontinuitySequence: discontinuitySequence,
                segments: segments,
                discontinuities: discontinuities,
                isEnded: isEnded,
                lastModified: lastModified,
                lowLatency: LowLatencyFields.make(
                    partTarget: partTarget, partURITemplate: partURITemplate, mapURI: mapURI, parts: parts,
                    renditionReports: renditionReports)
            ))
    }
}
