public import HLSModel

/// What a successful ``PlaylistRegistry/register(_:stream:rendition:now:)`` did.
public enum RegistrationOutcome: Hashable, Sendable {
    /// The segment is new. `listed` says whether it is in the window published when the call
    /// returns: `false` when it waits behind a hole in the sequence (it will be listed once the
    /// hole fills), or, rarely, when it filled a hole that released so many waiting segments that
    /// the window slid past it at once.
    case registered(listed: Bool)
    /// The same sequence, duration and path are already known (listed or waiting): nothing changed.
    case duplicate
    /// The segment is older than the start of the window, which only moves forward once a
    /// player may have seen it: acknowledged, not listed.
    case stale
}

/// What ``PlaylistRegistry/endStream(_:now:)`` did.
public enum EndOutcome: Hashable, Sendable {
    /// The stream was live (or unknown) and is now ended.
    case ended
    /// The stream had already ended; nothing changed.
    case alreadyEnded
}

/// Why a registration was refused; nothing changed in the registry.
public enum RegistryError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The stream has ended and accepts no more segments, in any rendition.
    case streamEnded(StreamID)
    /// A segment with this sequence is known with a different path or duration.
    case conflictingSegment(SequenceNumber)
    /// The segment's duration, rounded to whole seconds, is above the rendition's fixed
    /// `#EXT-X-TARGETDURATION` (RFC 8216 §4.3.3.1).
    case exceedsTargetDuration(sequence: SequenceNumber, duration: SegmentDuration, targetDuration: Int64)

    /// A human sentence for the `{"error": "..."}` body of the response.
    public var message: String {
        switch self {
        case .streamEnded(let stream):
            return "stream \(stream) has ended and accepts no more segments"
        case .conflictingSegment(let sequence):
            return "segment \(sequence) is already registered with a different path or duration"
        case .exceedsTargetDuration(let sequence, let duration, let targetDuration):
            return "segment \(sequence) lasts \(duration) seconds, which rounds to more than "
                + "the target duration of \(targetDuration) seconds"
        }
    }

    /// The ``message``.
    public var description: String { message }
}
