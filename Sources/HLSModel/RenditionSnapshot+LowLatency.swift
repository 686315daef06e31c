/// Low-Latency HLS views of a snapshot (rfc8216bis §4.4.3.7–§4.4.5.4, §6.2.5): the values the
/// renderer writes and the predicates the HTTP layer asks for blocking playlist reloads.
///
/// Numbering: a player's Media Sequence Numbers (`_HLS_msn`, `LAST-MSN`) are the playlist's:
/// the segment at index *i* of ``RenditionSnapshot/segments`` has number
/// ``RenditionSnapshot/mediaSequence`` + *i*, and the segment in progress (whose parts follow
/// the last segment) has ``inProgressMSN``. These equal the transcoder's sequences until a
/// hole has been skipped.
extension RenditionSnapshot {
    /// Whether the rendition is low-latency (it has a ``partTarget``).
    public var isLowLatency: Bool { partTarget != nil }

    /// `PART-HOLD-BACK` of `#EXT-X-SERVER-CONTROL` (§4.4.3.8), in milliseconds: three part
    /// targets (the spec's floor is two, Apple's LL-HLS profile asks for three).
    public var partHoldBackMilliseconds: Int64? { partTarget.map { $0.milliseconds * 3 } }

    /// `CAN-SKIP-UNTIL` of `#EXT-X-SERVER-CONTROL` (§4.4.3.8), in milliseconds: six target
    /// durations, the spec's minimum. The registry gives every low-latency rendition of a
    /// stream the same target duration (§6.2.4 requires it), so the value, like the whole tag,
    /// is identical across them.
    public var canSkipUntilMilliseconds: Int64? { isLowLatency ? targetDuration * 6000 : nil }

    /// The playlist's Media Sequence Number of the last listed segment; `nil` when none is.
    public var lastSegmentMSN: UInt64? {
        segments.isEmpty ? nil : mediaSequence.rawValue + UInt64(segments.count) - 1
    }

    /// The playlist's Media Sequence Number of the segment in progress: one past the last
    /// listed segment.
    public var inProgressMSN: UInt64 { mediaSequence.rawValue + UInt64(segments.count) }

    /// The transcoder's sequence of the segment in progress (what ``partURITemplate`` and
    /// registrations use): one past the last listed segment's.
    public var inProgressSequence: SequenceNumber {
        if let last = segments.last { return SequenceNumber(clamping: last.sequence.rawValue + 1) }
        return parts.first?.sequence ?? mediaSequence
    }

    /// The listed parts of the segment in progress (those after the last listed segment).
    /// - Complexity: O(*p*) in the number of listed parts.
    public var inProgressParts: ArraySlice<PartialSegment> {
        guard let last = segments.last?.sequence else { return parts[...] }
        let start = parts.firstIndex { $0.sequence > last } ?? parts.endIndex
        return parts[start...]
    }

    /// The number of listed parts of the last listed segment (0 when it has none or when none
    /// is listed).
    public var lastSegmentPartCount: Int {
        guard let last = segments.last?.sequence else { return 0 }
        return parts.reduce(0) { $0 + ($1.sequence == last ? 1 : 0) }
    }

    /// `LAST-MSN` as `#EXT-X-RENDITION-REPORT` (§4.4.5.4) reports this rendition: the Media
    /// Sequence Number of the last partial segment when the playlist ends with parts (of the
    /// segment in progress, or of the last segment), else of the last segment; `nil` when
    /// nothing is listed.
    ///
    /// When the last segment was completed without any part, this is that segment, never an
    /// older one that had parts: a report must not point players behind the live edge.
    public var lastMSN: UInt64? {
        if !inProgressParts.isEmpty { return inProgressMSN }
        return lastSegmentMSN
    }

    /// `LAST-PART` as `#EXT-X-RENDITION-REPORT` reports this rendition: the Part Index of the
    /// last partial segment of segment ``lastMSN``; `nil` when that segment lists no part.
    public var lastPart: Int? {
        let inProgress = inProgressParts.count
        if inProgress > 0 { return inProgress - 1 }
        let count = lastSegmentPartCount
        return count > 0 ? count - 1 : nil
    }

    /// The URI of `#EXT-X-PRELOAD-HINT:TYPE=PART` (§4.4.5.3, §6.2.6): the next part of the
    /// segment in progress, from ``partURITemplate``; `nil` when not low-latency or ended.
    public var preloadHintURI: String? {
        guard !isEnded, isLowLatency, let partURITemplate else { return nil }
        return partURITemplate.uri(sequence: inProgressSequence, part: inProgressParts.count)
    }

    /// How many leading segments a Playlist Delta Update (§6.2.5.1) replaces with
    /// `#EXT-X-SKIP`: those that end at least ``canSkipUntilMilliseconds`` before the end of
    /// the last segment (the Skip Boundary). 0 when not low-latency or ended (directives are
    /// ignored there).
    /// - Complexity: O(*w*) in the number of listed segments.
    public var deltaSkippedSegmentCount: Int {
        guard !isEnded, let boundary = canSkipUntilMilliseconds else { return 0 }
        var after = segments.reduce(Int64(0)) { $0 + $1.duration.milliseconds }
        var count = 0
        for segment in segments {
            after -= segment.duration.milliseconds
            guard after >= boundary else { break }
            count += 1
        }
        return count
    }

    /// Whether this playlist answers a blocking reload for `_HLS_msn=msn` and, when `part` is
    /// given, `_HLS_part=part` (§6.2.5.2).
    ///
    /// - Without `part`: true when the playlist lists segment `msn` or a later one.
    /// - With `part`: true when it lists partial segment `part` of segment `msn`, or anything
    ///   later. A `part` past the final part of a *complete* segment means part 0 of the next
    ///   segment. A complete segment that has no listed part at all satisfies any part of it
    ///   (it is whole; its parts were never published).
    /// - A segment that already slid out of the playlist is satisfied (the current playlist
    ///   answers at once), and so is every request once the playlist has ended (the
    ///   directives are ignored then).
    /// - Complexity: O(*p*) in the number of listed parts.
    public func satisfies(msn: UInt64, part: Int?) -> Bool {
        if isEnded || msn < mediaSequence.rawValue { return true }
        guard let part else {
            guard let last = lastSegmentMSN else { return false }
            return msn <= last
        }
        if let last = lastSegmentMSN, msn <= last {
            guard msn == last else { return true }  // an older, complete segment: present
            let count = lastSegmentPartCount
            // Part `count` or later of the last segment means part 0 of the one in progress.
            return count == 0 || part < count || !inProgressParts.isEmpty
        }
        guard msn == inProgressMSN else { return false }
        return part < inProgressParts.count
    }

    /// Whether a blocking reload asks for something so far ahead that it is refused at once
    /// with 400 (§6.2.5.2): `msn` more than two past the last segment's Media Sequence
    /// Number, or a `part` that "exceeds the last Partial Segment in the current Playlist by
    /// the Advance Part Limit" — that is, lies that many parts or more past the last listed
    /// part (one past it is the next part to come).
    ///
    /// The Advance Part Limit is 3 parts when the part target is at least one second, else
    /// 3 ÷ part target (0.2 s → 15 parts, 0.3 s → 10); compared exactly in integer
    /// milliseconds (a distance of *d* parts is too far when *d* × part target ≥ 3 s). The
    /// distance to a part of the segment after the one in progress is counted as if the
    /// segment in progress had no more parts (the smallest it can be), so a request is
    /// refused only when it is certainly too far. `part` is ignored when the rendition is not
    /// low-latency. Never true once ended.
    /// - Complexity: O(*p*) in the number of listed parts.
    public func blockingRequestIsTooFar(msn: UInt64, part: Int?) -> Bool {
        if isEnded { return false }
        if let last = lastSegmentMSN, msn <= last { return false }
        // Here msn >= inProgressMSN (= last + 1, or the media sequence when nothing is listed).
        if msn > inProgressMSN + 1 { return true }
        guard let part, let partTarget else { return false }
        let listed = inProgressParts.count
        // Distance in parts from the last listed part (the next part to come is at 1).
        let distance: Int64 = msn == inProgressMSN ? Int64(part) - Int64(listed) + 1 : Int64(part) + 1
        guard distance > 0 else { return false }
        if partTarget.milliseconds >= 1000 { return distance >= 3 }
        return distance * partTarget.milliseconds >= 3000
    }
}
