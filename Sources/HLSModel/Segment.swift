/// One media segment as registered by the transcoder: its sequence number, duration and URI,
/// plus optional metadata.
///
/// Equality (`==`) compares every field. Whether a repeated registration is the *same* segment
/// is ``isSameMedia(as:)``: only sequence, duration and path count there.
public struct Segment: Equatable, Codable, Sendable {
    /// The media sequence number (RFC 8216 §3).
    public let sequence: SequenceNumber
    /// The duration, written as the `#EXTINF` value.
    public let duration: SegmentDuration
    /// The URI written on the line after `#EXTINF`.
    public private(set) var path: SegmentPath
    /// The wall-clock instant of the segment's first sample, written as
    /// `#EXT-X-PROGRAM-DATE-TIME` (RFC 8216 §4.3.2.6); `nil` when not given.
    public var programDateTime: Timestamp? {
        programDateTimeMilliseconds == Self.absentDate ? nil : Timestamp(millisecondsSinceEpoch: programDateTimeMilliseconds)
    }
    /// The size of the segment in bytes, in `0...2^53`, used to compute bandwidth; `nil` when
    /// not given.
    public var byteCount: UInt64? { storedByteCount == Self.absentByteCount ? nil : storedByteCount }

    // The two optional values are stored without `Optional`'s tag byte, with a sentinel for
    // "absent": that keeps a segment at 48 bytes instead of 64, and a window of them in one
    // smaller allocation (the registry holds one window per rendition, 30,000 of them at scale).
    private let programDateTimeMilliseconds: Int64
    private let storedByteCount: UInt64
    private static let absentDate = Int64.min
    private static let absentByteCount = UInt64.max

    /// The largest accepted ``byteCount``, 2^53.
    public static let maximumByteCount: UInt64 = 1 << 53

    /// Creates a segment from already validated parts (`byteCount` must be at most 2^53).
    public init(
        sequence: SequenceNumber,
        duration: SegmentDuration,
        path: SegmentPath,
        programDateTime: Timestamp? = nil,
        byteCount: UInt64? = nil
    ) {
        precondition((byteCount ?? 0) <= Self.maximumByteCount, "byteCount above 2^53")
        precondition(programDateTime?.millisecondsSinceEpoch != Self.absentDate, "programDateTime out of range")
        self.sequence = sequence
        self.duration = duration
        self.path = path
        self.programDateTimeMilliseconds = programDateTime?.millisecondsSinceEpoch ?? Self.absentDate
        self.storedByteCount = byteCount ?? Self.absentByteCount
    }

    /// This segment with its path's directory part shared with `other`'s path when equal (see
    /// ``SegmentPath/sharingDirectory(with:)``); equal to `self`.
    public func sharingPathDirectory(with other: Segment) -> Segment {
        var copy = self
        copy.path = path.sharingDirectory(with: other.path)
        return copy
    }

    /// Whether `other` is a repeat of this segment: same sequence, duration and path.
    ///
    /// The optional ``programDateTime`` and ``byteCount`` take no part: a retry that differs
    /// only there is a duplicate, and the first registration wins.
    public func isSameMedia(as other: Segment) -> Bool {
        sequence == other.sequence && duration == other.duration && path == other.path
    }
}

extension Segment {
    /// Compact, for snapshots of the state (hundreds of thousands of segments): an array of the
    /// sequence, the duration in milliseconds, the path, the program date-time in milliseconds
    /// and the byte count (null when absent).
    public init(from decoder: any Decoder) throws {
        var values = try decoder.unkeyedContainer()
        sequence = try values.decode(SequenceNumber.self)
        duration = try values.decode(SegmentDuration.self)
        path = try values.decode(SegmentPath.self)
        programDateTimeMilliseconds = try values.decodeIfPresent(Int64.self) ?? Self.absentDate
        storedByteCount = try values.decodeIfPresent(UInt64.self) ?? Self.absentByteCount
    }

    public func encode(to encoder: any Encoder) throws {
        var values = encoder.unkeyedContainer()
        try values.encode(sequence)
        try values.encode(duration)
        try values.encode(path)
        try values.encode(programDateTime?.millisecondsSinceEpoch)
        try values.encode(byteCount)
    }
}
