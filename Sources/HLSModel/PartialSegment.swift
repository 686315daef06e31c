/// One partial segment (rfc8216bis §4.4.4.9, `#EXT-X-PART`) as registered by the transcoder:
/// a slice of the parent segment that is published before the whole segment is complete.
///
/// Equality (`==`) compares every field; a repeated registration is the same part only when
/// every field is equal (``isSameMedia(as:)``).
public struct PartialSegment: Hashable, Codable, Sendable {
    /// The largest accepted ``part`` index.
    public static let maximumPartIndex = 1000

    /// The parent segment's media sequence number, as the transcoder numbers its segments.
    public let sequence: SequenceNumber
    /// The Part Index within the parent segment, from 0 (rfc8216bis §4.4.4.9).
    public let part: Int
    /// `DURATION`: the part's duration; at most the rendition's part target.
    public let duration: SegmentDuration
    /// `URI`: where the part is fetched.
    public let path: QuotedURI
    /// `INDEPENDENT=YES`: the part starts with an independent frame (an IDR).
    public let independent: Bool

    /// Creates a part from already validated values (`part` must be in `0...1000`).
    public init(sequence: SequenceNumber, part: Int, duration: SegmentDuration, path: QuotedURI, independent: Bool = false) {
        precondition((0...Self.maximumPartIndex).contains(part), "part index out of range")
        self.sequence = sequence
        self.part = part
        self.duration = duration
        self.path = path
        self.independent = independent
    }

    /// Whether `other` is a repeat of this part: every field equal.
    public func isSameMedia(as other: PartialSegment) -> Bool { self == other }

    /// The sentence used when `part` is not accepted.
    public static let partMessage = "part must be an integer from 0 to \(maximumPartIndex)"

    /// Decodes a part registration body (`POST /streams/{id}/renditions/{r}/parts`):
    /// `{"sequence": 42, "part": 0, "duration": 0.2, "path": "/p/42.0.mp4", "independent": true}`.
    ///
    /// - `sequence` (required): the parent segment's sequence, a JSON integer literal in
    ///   `0...2^53` (as for segments).
    /// - `part` (required): a JSON integer literal in `0...1000`.
    /// - `duration` (required): a JSON number of seconds, greater than 0 and at most 3600,
    ///   rounded to the nearest millisecond.
    /// - `path` (required): a JSON string valid as a ``QuotedURI``.
    /// - `independent` (optional): `true` or `false`; missing or `null` is `false`.
    ///
    /// Unknown fields are ignored; a `null` field counts as missing.
    /// - Throws: ``ValidationError`` with one sentence about the first field that is wrong.
    public init(json bytes: some Collection<UInt8>) throws(ValidationError) {
        try self.init(json: Array(bytes))
    }

    /// The same, for the bytes of a request body as they arrive (no generic copy on the way).
    public init(json bytes: [UInt8]) throws(ValidationError) {
        let objectMessage = "request body must be a JSON object"
        guard bytes.contains(where: { !Segment.isJSONWhitespace($0) }) else {
            throw ValidationError(objectMessage)
        }
        guard case .object(let fields) = try JSONParser.parse(bytes) else {
            throw ValidationError(objectMessage)
        }

        let sequence: SequenceNumber
        switch fields["sequence"] {
        case nil, .null?:
            throw ValidationError("sequence is required")
        case .number(let number)?:
            guard let value = number.int64Value else { throw ValidationError(SequenceNumber.rangeMessage) }
            sequence = try SequenceNumber(validating: value)
        default:
            throw ValidationError(SequenceNumber.rangeMessage)
        }

        let part: Int
        switch fields["part"] {
        case nil, .null?:
            throw ValidationError("part is required")
        case .number(let number)?:
            guard let value = number.int64Value, (0...Int64(Self.maximumPartIndex)).contains(value) else {
                throw ValidationError(Self.partMessage)
            }
            part = Int(value)
        default:
            throw ValidationError(Self.partMessage)
        }

        let duration: SegmentDuration
        switch fields["duration"] {
        case nil, .null?:
            throw ValidationError("duration is required")
        case .number(let number)?:
            duration = try SegmentDuration(seconds: number.doubleValue)
        default:
            throw ValidationError(SegmentDuration.rangeMessage)
        }

        let path: QuotedURI
        switch fields["path"] {
        case nil, .null?:
            throw ValidationError("path is required")
        case .string(let text)?:
            path = try QuotedURI(validating: text, field: "path")
        default:
            throw ValidationError("path must be a string")
        }

        let independent: Bool
        switch fields["independent"] {
        case nil, .null?: independent = false
        case .bool(let value)?: independent = value
        default: throw ValidationError("independent must be true or false")
        }

        self.init(sequence: sequence, part: part, duration: duration, path: path, independent: independent)
    }
}

/// What `#EXT-X-RENDITION-REPORT` (rfc8216bis §4.4.5.4) says about another rendition of the
/// same stream: where its live edge is, so a player can switch with a blocking reload.
public struct RenditionReport: Hashable, Sendable {
    /// The other rendition; its URI is `../<name>/playlist.m3u8`, relative to this playlist.
    public var rendition: RenditionName
    /// `LAST-MSN`: see ``RenditionSnapshot/lastMSN``.
    public var lastMSN: UInt64
    /// `LAST-PART`: see ``RenditionSnapshot/lastPart``; `nil` when it lists no partial segment.
    public var lastPart: Int?

    /// Creates a report.
    public init(rendition: RenditionName, lastMSN: UInt64, lastPart: Int?) {
        self.rendition = rendition
        self.lastMSN = lastMSN
        self.lastPart = lastPart
    }
}

extension PartialSegment {
    /// Compact, for snapshots: an array of sequence, part, duration (ms), path, independent.
    public init(from decoder: any Decoder) throws {
        var values = try decoder.unkeyedContainer()
        sequence = try values.decode(SequenceNumber.self)
        part = try values.decode(Int.self)
        duration = try values.decode(SegmentDuration.self)
        path = try values.decode(QuotedURI.self)
        independent = try values.decode(Bool.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var values = encoder.unkeyedContainer()
        try values.encode(sequence)
        try values.encode(part)
        try values.encode(duration)
        try values.encode(path)
        try values.encode(independent)
    }
}
