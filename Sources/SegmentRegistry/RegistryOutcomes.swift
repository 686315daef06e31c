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
    /// The segment comes too late to be listed, and is acknowledged and ignored: it is older
    /// than the start of the window (which only moves forward once a player may have seen it),
    /// or it belongs to a hole the window already moved past after the gap timeout.
    case stale
}

/// What ``PlaylistRegistry/endStream(_:now:)`` did.
public enum EndOutcome: Hashable, Sendable {
    /// The stream was live (or unknown) and is now ended: once per stream while it is known.
    case ended
    /// The stream had already ended; nothing changed.
    case alreadyEnded
}

/// What a successful ``SegmentRegistry/declare(_:stream:rendition:now:)`` did.
public enum DeclarationOutcome: Hashable, Sendable {
    /// The rendition was unknown and now exists (suggested HTTP status: 201).
    case created
    /// The rendition was known (by segments or an earlier declaration); its declaration is now
    /// this one (suggested HTTP status: 200).
    case updated
}

/// A stream or rendition that appeared in the registry, for the lifecycle lines of the service's
/// log (not an entry of the state log: those are ``RegistryCommand``s).
public enum LifecycleEvent: Hashable, Sendable {
    /// The stream's first rendition was created (by a segment or a declaration).
    case streamStarted(StreamID)
    /// A rendition was created (by its first segment or its first declaration).
    case renditionCreated(StreamID, RenditionName)
}

/// What a playlist lookup found when no playlist can be served (``SegmentRegistry/presence(stream:rendition:)``).
public enum PlaylistPresence: Hashable, Sendable {
    /// The stream is not known (never seen, or forgotten).
    case unknownStream
    /// The stream is known (live or ended) but has no such rendition.
    case unknownRendition
    /// The rendition exists (declared, or with parts waiting) but has no segment yet.
    case noSegmentYet
    /// The rendition has a playlist.
    case available
}

/// Why a registration or declaration was refused; nothing changed in the registry.
public enum RegistryError: Error, Equatable, Sendable, CustomStringConvertible {
    /// What an ended stream was asked to take.
    public enum EndedStreamRequest: Hashable, Sendable {
        /// A segment (`POST .../segments`).
        case segment
        /// A partial segment (`POST .../parts`).
        case part
        /// A rendition declaration (`PUT .../renditions/{r}`).
        case declaration
    }

    /// The stream has ended and refuses what `refused` names, in any rendition.
    case streamEnded(StreamID, refused: EndedStreamRequest = .segment)
    /// A segment with this sequence is known with a different path or duration.
    case conflictingSegment(SequenceNumber)
    /// The segment's duration, rounded to whole seconds, is above the rendition's fixed
    /// `#EXT-X-TARGETDURATION` (RFC 8216 §4.3.3.1).
    case exceedsTargetDuration(sequence: SequenceNumber, duration: SegmentDuration, targetDuration: Int64)
    /// The sequence is `limit` or more ahead of the next one the window expects; holding it would
    /// let one rendition buffer without bound (`MAX_PENDING_SEGMENTS`).
    case tooFarAhead(sequence: SequenceNumber, nextExpected: SequenceNumber, limit: Int)
    /// Creating the stream would exceed the number of streams the registry keeps (`MAX_STREAMS`).
    case tooManyStreams(limit: Int)
    /// Creating the rendition would exceed the renditions allowed per stream.
    case tooManyRenditions(StreamID, limit: Int)
    /// A declared `target_duration` differs from the one the rendition already has (fixed when it
    /// was created, or set for every rendition by the operator); it never changes.
    case targetDurationConflict(RenditionName, declared: Int64, fixed: Int64)
    /// The rendition would make the stream mix renditions with and without low-latency settings
    /// (rfc8216bis §6.2.4: every Media Playlist of a presentation carries the same
    /// `#EXT-X-SERVER-CONTROL`). `streamIsLowLatency` says which kind the stream already is: a
    /// low-latency declaration fixes it as low-latency, the first segment of a rendition without
    /// `part_target` as regular.
    case mixedLowLatency(StreamID, RenditionName, streamIsLowLatency: Bool)
    /// The memory budget is spent: no new stream or rendition, and nothing buffered ahead of a
    /// hole, until memory is released (`part` names what was refused).
    case memoryBudgetSpent(MemoryBudget.Part)

    /// A human sentence for the `{"error": "..."}` body of the response.
    public var message: String {
        switch self {
        case .streamEnded(let stream, .segment):
            return "stream \(stream) has ended and accepts no more segments"
        case .streamEnded(let stream, .part):
            return "stream \(stream) has ended and accepts no more parts"
        case .streamEnded(let stream, .declaration):
            return "stream \(stream) has ended: its renditions can no longer be declared or changed"
        case .conflictingSegment(let sequence):
            return "segment \(sequence) is already registered with a different path or duration"
        case .exceedsTargetDuration(let sequence, let duration, let targetDuration):
            return "segment \(sequence) lasts \(duration) seconds, which rounds to more than "
                + "the target duration of \(wholeSeconds(targetDuration))"
        case .tooFarAhead(let sequence, let nextExpected, let limit):
            return "segment \(sequence) is too far ahead: segment \(nextExpected) is missing, and the rendition "
                + "holds at most \(limit) sequences ahead of it (MAX_PENDING_SEGMENTS); retry once it has arrived"
        case .tooManyStreams(let limit):
            return "too many streams: at most \(limit) streams are kept at once"
        case .tooManyRenditions(let stream, let limit):
            return "stream \(stream) already has the maximum of \(limit) renditions"
        case .targetDurationConflict(let rendition, let declared, let fixed):
            return "rendition \(rendition) has a fixed target duration of \(wholeSeconds(fixed)); "
                + "target_duration \(declared) cannot change it"
        case .memoryBudgetSpent(.pending):
            return "the service's memory budget (MEMORY_BUDGET_MB) is spent: segments and parts ahead of a hole "
                + "cannot be buffered now; send the missing ones first, or retry later"
        case .memoryBudgetSpent:
            return "the service's memory budget (MEMORY_BUDGET_MB) is spent: no new streams or renditions "
                + "until memory is released; retry later"
        case .mixedLowLatency(let stream, let rendition, true):
            return "stream \(stream) has low-latency renditions, so rendition \(rendition) must be low-latency too: "
                + "declare it with part_target and part_uri_template (PUT /streams/\(stream)/renditions/\(rendition)) "
                + "before its first segment; a stream cannot mix low-latency and regular renditions (rfc8216bis 6.2.4)"
        case .mixedLowLatency(let stream, let rendition, false):
            return "stream \(stream) already has renditions without low-latency settings that have segments, so "
                + "rendition \(rendition) cannot be low-latency; a stream cannot mix low-latency and regular "
                + "renditions (rfc8216bis 6.2.4)"
        }
    }

    /// The ``message``.
    public var description: String { message }
}

/// Why a partial-segment registration or a low-latency declaration was refused; nothing
/// changed in the registry. Kept apart from ``RegistryError`` so that existing exhaustive
/// switches over it stay valid.
///
/// Suggested HTTP statuses: 409 for ``notLowLatency(_:)``, ``conflictingPart(sequence:part:)``,
/// ``partTargetConflict(_:declared:fixed:)``, ``mapURIConflict(_:declared:fixed:)`` and
/// ``streamTargetDurationConflict(_:declared:fixed:)`` and ``hintMismatch(sequence:part:hinted:)``;
/// 422 for ``exceedsPartTarget(sequence:part:duration:partTarget:)``; 429 with `Retry-After` for
/// ``tooManyWaitingParts(_:limit:)`` (the first segment may still come).
public enum LowLatencyError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The rendition has no `part_target` (it is unknown, or was created without one), so it
    /// takes no partial segments.
    case notLowLatency(RenditionName)
    /// The part lasts longer than the rendition's `PART-TARGET` (rfc8216bis §4.4.3.7).
    case exceedsPartTarget(sequence: SequenceNumber, part: Int, duration: SegmentDuration, partTarget: SegmentDuration)
    /// A part with this sequence and index is known with a different duration, path or
    /// `independent` flag.
    case conflictingPart(sequence: SequenceNumber, part: Int)
    /// A declared `part_target` differs from the one already fixed: by the rendition's first
    /// segment (`fixed` is `nil` when the rendition started without one), or by another
    /// low-latency rendition of the stream (all share one, so `#EXT-X-SERVER-CONTROL` is
    /// identical across them, rfc8216bis §6.2.4).
    case partTargetConflict(RenditionName, declared: SegmentDuration, fixed: SegmentDuration?)
    /// A declared `map_uri` differs from the one fixed when the rendition started.
    case mapURIConflict(RenditionName, declared: QuotedURI, fixed: QuotedURI?)
    /// A low-latency rendition declares a `target_duration` other than the one the stream's
    /// low-latency renditions share (rfc8216bis §6.2.4: one target duration per presentation).
    case streamTargetDurationConflict(StreamID, declared: Int64, fixed: Int64)
    /// Too many parts wait for the rendition's first segment.
    case tooManyWaitingParts(RenditionName, limit: Int)
    /// The part's path is not the URI that `#EXT-X-PRELOAD-HINT` announces for it (the
    /// rendition's `part_uri_template` filled in): players that fetched the hint would have the
    /// wrong resource (rfc8216bis §4.4.5.3: the hint's URI must be the part's).
    case hintMismatch(sequence: SequenceNumber, part: Int, hinted: String)

    /// A human sentence for the `{"error": "..."}` body of the response.
    public var message: String {
        switch self {
        case .notLowLatency(let rendition):
            return "rendition \(rendition) is not low-latency: declare part_target and part_uri_template "
                + "with PUT /streams/{id}/renditions/\(rendition) before its first segment"
        case .exceedsPartTarget(let sequence, let part, let duration, let partTarget):
            return "part \(part) of segment \(sequence) lasts \(duration) seconds, which is longer than "
                + "the part target of \(partTarget) seconds"
        case .conflictingPart(let sequence, let part):
            return "part \(part) of segment \(sequence) is already registered with a different path, duration or independent flag"
        case .partTargetConflict(let rendition, let declared, let fixed?):
            return "rendition \(rendition) has a fixed part target of \(fixed) seconds (shared by the stream's "
                + "low-latency renditions); part_target \(declared) cannot change it"
        case .partTargetConflict(let rendition, let declared, nil):
            return "rendition \(rendition) started without low-latency settings; part_target \(declared) "
                + "cannot be added after its first segment"
        case .mapURIConflict(let rendition, _, let fixed?):
            return "rendition \(rendition) has a fixed map_uri \(JSONWriter.quoted(fixed.rawValue)); it cannot change"
        case .mapURIConflict(let rendition, _, nil):
            return "rendition \(rendition) started without map_uri; it cannot be added after its first segment"
        case .streamTargetDurationConflict(let stream, let declared, let fixed):
            return "the low-latency renditions of stream \(stream) share a target duration of \(wholeSeconds(fixed)); "
                + "target_duration \(declared) cannot differ"
        case .tooManyWaitingParts(let rendition, let limit):
            return "rendition \(rendition) already holds \(limit) parts waiting for its first segment, which is "
                + "missing; retry once it has arrived"
        case .hintMismatch(let sequence, let part, let hinted):
            return "part \(part) of segment \(sequence) must have the path the playlist's preload hint announces "
                + "for it, \(JSONWriter.quoted(hinted)) (from part_uri_template; rfc8216bis 4.4.5.3)"
        }
    }

    /// The ``message``.
    public var description: String { message }
}

/// `1 second`, `2 seconds`: a whole number of seconds for a message.
func wholeSeconds(_ count: Int64) -> String {
    count == 1 ? "1 second" : "\(count) seconds"
}
