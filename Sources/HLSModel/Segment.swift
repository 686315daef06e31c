/// One media segment as registered by the transcoder: its sequence number, duration and URI.
public struct Segment: Equatable, Sendable {
    /// The media sequence number (RFC 8216 §3).
    public let sequence: SequenceNumber
    /// The duration, written as the `#EXTINF` value.
    public let duration: SegmentDuration
    /// The URI written on the line after `#EXTINF`.
    public let path: SegmentPath

    /// Creates a segment from already validated parts.
    public init(sequence: SequenceNumber, duration: SegmentDuration, path: SegmentPath) {
        self.sequence = sequence
        self.duration = duration
        self.path = path
    }
}
