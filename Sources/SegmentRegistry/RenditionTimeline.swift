import HLSModel

/// The pure state machine of one rendition: which segments are listed, which wait behind a
/// hole, where the window starts, and when a hole is given up. No locks, no clock (time comes
/// in as `now`); ``SegmentRegistry`` wraps it.
///
/// Invariants:
/// - `window` is ascending by transcoder sequence; it is contiguous except where a skipped hole
///   left a gap, and the segment after each such gap is in `discontinuities`.
/// - `nextSequence` is one past the last listed sequence: the sequence that extends the tail.
/// - `pending` holds only sequences in `nextSequence + 1 ..< nextSequence + maxPending`.
/// - `mediaSequenceNumber` (the playlist's `#EXT-X-MEDIA-SEQUENCE`) grows by exactly the number
///   of segments removed from the head; `discontinuitySequence` by the number of discontinuity
///   tags removed with them. Neither ever decreases once `isPinned`.
/// - Once `isPinned`, the window start only moves forward.
///
/// Low-latency timelines (with a `partTarget`) also keep partial segments (rfc8216bis §4.4.4.9):
/// - `partBuffers` holds the parts of segments not yet complete, all at or above
///   `nextSequence`, less than `maxPendingSegments` ahead of it. The parts of `nextSequence`
///   (the segment in progress) that are contiguous from part 0 are listed.
/// - When a segment completes (is accepted, listed or waiting), the contiguous prefix of its
///   buffered parts is frozen into `completedParts`; parts arriving later are stale.
/// - Every listed segment gets a program date-time (registered, else derived: continuous from
///   the previous listed segment, or arrival minus duration after a break).
struct RenditionTimeline: Codable, Sendable {
    /// A snapshot holds one timeline per rendition (30,000 at scale): encoded as an array of its
    /// fields in this order: no key to write or look up for each of them.
    init(from decoder: any Decoder) throws {
        var fields = try decoder.unkeyedContainer()
        targetDuration = try fields.decode(Int64.self)
        windowSize = try fields.decode(Int.self)
        gapTimeoutMilliseconds = try fields.decode(Int64.self)
        maxPendingSegments = try fields.decode(UInt64.self)
        window = try fields.decode([Segment].self)
        discontinuities = try fields.decode([SequenceNumber].self)
        pending = try fields.decode([UInt64: Segment].self)
        nextSequence = try fields.decode(UInt64.self)
        mediaSequenceNumber = try fields.decode(UInt64.self)
        discontinuitySequence = try fields.decode(UInt64.self)
        isPinned = try fields.decode(Bool.self)
        isEnded = try fields.decode(Bool.self)
        holeSince = try fields.decodeIfPresent(Timestamp.self)
        lastAdvanced = try fields.decode(Timestamp.self)
        peakBitsPerSecond = try fields.decodeIfPresent(UInt64.self)
        totalBits = try fields.decode(UInt64.self)
        totalSizedMilliseconds = try fields.decode(Int64.self)
        lowLatency = try fields.decodeIfPresent(LowLatencyBox.self)
    }

    func encode(to encoder: any Encoder) throws {
        var fields = encoder.unkeyedContainer()
        try fields.encode(targetDuration)
        try fields.encode(windowSize)
        try fields.encode(gapTimeoutMilliseconds)
        try fields.encode(maxPendingSegments)
        try fields.encode(window)
        try fields.encode(discontinuities)
        try fields.encode(pending)
        try fields.encode(nextSequence)
        try fields.encode(mediaSequenceNumber)
        try fields.encode(discontinuitySequence)
        try fields.encode(isPinned)
        try fields.encode(isEnded)
        try fields.encode(holeSince)
        try fields.encode(lastAdvanced)
        try fields.encode(peakBitsPerSecond)
        try fields.encode(totalBits)
        try fields.encode(totalSizedMilliseconds)
        try fields.encode(lowLatency)
    }

    /// The change a registration made.
    struct Registration: Equatable, Sendable {
        /// What the caller is told.
        var outcome: RegistrationOutcome
        /// Whether the listed window changed (so the playlist must be republished).
        var isVisibleChange: Bool
    }

    /// `#EXT-X-TARGETDURATION`, in seconds; fixed at creation.
    let targetDuration: Int64
    /// The configured maximum number of listed segments (before the three-target-duration rule).
    let windowSize: Int
    /// How long a hole may hold later segments back; 0 = forever.
    let gapTimeoutMilliseconds: Int64
    /// A sequence must be less than this far ahead of `nextSequence` to wait.
    let maxPendingSegments: UInt64
    /// The listed segments, ascending.
    private(set) var window: [Segment] = []
    /// The listed sequences preceded by `#EXT-X-DISCONTINUITY`, ascending.
    private(set) var discontinuities: [SequenceNumber] = []
    /// Segments waiting behind a hole, by sequence; all above `nextSequence`.
    private(set) var pending: [UInt64: Segment] = [:]
    /// The sequence that would extend the window at its tail.
    private(set) var nextSequence: UInt64
    /// `#EXT-X-MEDIA-SEQUENCE`: the playlist's media sequence number of the first listed segment.
    private(set) var mediaSequenceNumber: UInt64
    /// `#EXT-X-DISCONTINUITY-SEQUENCE`: discontinuity tags that slid out of the window.
    private(set) var discontinuitySequence: UInt64 = 0
    /// Whether the window start may no longer move backwards.
    private(set) var isPinned = false
    /// Whether the stream has ended.
    private(set) var isEnded = false
    /// Since when the current hole has held later segments back; `nil` when nothing waits.
    private(set) var holeSince: Timestamp?
    /// When the listed window last grew at its tail.
    private(set) var lastAdvanced: Timestamp
    /// The highest `bytes × 8 / duration` of any segment seen with a size, bits/s rounded up.
    private(set) var peakBitsPerSecond: UInt64?
    /// Bits of all segments seen with a size (saturating).
    private(set) var totalBits: UInt64 = 0
    /// Milliseconds of all segments seen with a size.
    private(set) var totalSizedMilliseconds: Int64 = 0
    /// The low-latency state, boxed: `nil` for a regular rendition, which then carries one
    /// pointer instead of these fields (most renditions, 30,000 of them at scale). Copied on
    /// write, so the timeline keeps value semantics.
    private var lowLatency: LowLatencyBox?

    /// The fields only a low-latency rendition has.
    private struct LowLatencyFields: Codable, Sendable {
        private enum CodingKeys: String, CodingKey {
            case partTarget = "pt", partURITemplate = "pu", mapURI = "mu", completedParts = "cp", partBuffers = "pb"
            case derivedDates = "dd"
        }

        var partTarget: SegmentDuration?
        var partURITemplate: PartURITemplate?
        var mapURI: QuotedURI?
        var completedParts: [UInt64: [PartialSegment]] = [:]
        var partBuffers: [UInt64: [Int: PartialSegment]] = [:]
        var derivedDates: Set<UInt64> = []
    }

    /// Written only through `writableLowLatency`, which copies a shared box first: a box two
    /// timelines (or threads) can see is never mutated, which is what the unchecked `Sendable`
    /// stands for.
    private final class LowLatencyBox: Codable, @unchecked Sendable {
        var fields: LowLatencyFields
        init(_ fields: LowLatencyFields) { self.fields = fields }
    }

    private static let noLowLatency = LowLatencyFields()

    /// The low-latency fields for writing: the box made unique first (or created).
    private var writableLowLatency: LowLatencyFields {
        get { lowLatency?.fields ?? Self.noLowLatency }
        _modify {
            if lowLatency == nil {
                lowLatency = LowLatencyBox(Self.noLowLatency)
            } else if !isKnownUniquelyReferenced(&lowLatency) {
                lowLatency = LowLatencyBox(lowLatency?.fields ?? Self.noLowLatency)
            }
            // The box exists and is unique here.
            yield &lowLatency.unsafelyUnwrapped.fields
        }
    }

    /// `PART-TARGET`; set exactly when the rendition is low-latency. Fixed at creation.
    var partTarget: SegmentDuration? { lowLatency?.fields.partTarget }
    /// The preload-hint URI pattern; a later declaration may replace it.
    var partURITemplate: PartURITemplate? {
        get { lowLatency?.fields.partURITemplate }
        set { writableLowLatency.partURITemplate = newValue }
    }
    /// `#EXT-X-MAP:URI`; fixed at creation.
    var mapURI: QuotedURI? { lowLatency?.fields.mapURI }
    /// Parts of complete segments (listed or waiting), contiguous from part 0, by sequence.
    private(set) var completedParts: [UInt64: [PartialSegment]] {
        get { lowLatency?.fields.completedParts ?? [:] }
        _modify { yield &writableLowLatency.completedParts }
    }
    /// Parts of segments not complete yet, by sequence then part index.
    private(set) var partBuffers: [UInt64: [Int: PartialSegment]] {
        get { lowLatency?.fields.partBuffers ?? [:] }
        _modify { yield &writableLowLatency.partBuffers }
    }
    /// Sequences whose program date-time the timeline derived (none was registered).
    private var derivedDates: Set<UInt64> {
        get { lowLatency?.fields.derivedDates ?? [] }
        _modify { yield &writableLowLatency.derivedDates }
    }

    /// Whether the timeline holds a low-latency box (a regular one never should: memory).
    var holdsLowLatencyState: Bool { lowLatency != nil }

    /// Whether the rendition is low-latency.
    var isLowLatency: Bool { partTarget != nil }

    /// Starts a timeline whose first segment is `first`; the target duration is
    /// `targetDuration` when given, else `first`'s duration rounded up to whole seconds
    /// (``SegmentDuration/ceiledSeconds``, at least 1).
    ///
    /// Rounding up, not to nearest: RFC 8216 §4.3.3.1 compares each segment's duration rounded
    /// to nearest with the target, so a target of `ceil(d)` accepts every later segment up to
    /// `ceil(d) + 0.499` s. A transcoder configured for 2 s segments whose first one came out at
    /// 1.4 s (or 2.0, or 1.96) gets a target of 2 and its 2.0–2.499 s segments fit; rounding to
    /// nearest would have fixed 1 and refused every 2 s segment after it.
    ///
    /// - Throws: ``RegistryError/exceedsTargetDuration(sequence:duration:targetDuration:)`` when
    ///   `first` is longer than the given target duration.
    init(
        first: Segment,
        windowSize: Int,
        targetDuration: Int64?,
        gapTimeoutMilliseconds: Int64 = 0,
        maxPendingSegments: Int = RegistryConfiguration.defaultMaxPendingSegments,
        now: Timestamp = Timestamp(millisecondsSinceEpoch: 0),
        partTarget: SegmentDuration? = nil,
        partURITemplate: PartURITemplate? = nil,
        mapURI: QuotedURI? = nil,
        earlyParts: [PartialSegment] = []
    ) throws(RegistryError) {
        if partTarget != nil || mapURI != nil {
            lowLatency = LowLatencyBox(
                LowLatencyFields(partTarget: partTarget, partURITemplate: partURITemplate, mapURI: mapURI))
        }
        self.targetDuration = targetDuration ?? max(1, first.duration.ceiledSeconds)
        self.windowSize = max(1, windowSize)
        self.gapTimeoutMilliseconds = max(0, gapTimeoutMilliseconds)
        self.maxPendingSegments = UInt64(max(1, maxPendingSegments))
        self.nextSequence = first.sequence.rawValue
        self.mediaSequenceNumber = first.sequence.rawValue
        self.lastAdvanced = now
        if partTarget != nil {
            // Parts that arrived before the first segment: those of it and of the next ones
            // (within the pending cap) wait as if they had arrived now; older ones are dropped.
            for part in earlyParts {
                let sequence = part.sequence.rawValue
                guard sequence >= nextSequence, sequence - nextSequence < self.maxPendingSegments else { continue }
                partBuffers[sequence, default: [:]][part.part] = part
            }
        }
        _ = try register(first, now: now)
    }

    /// The media sequence number of the first listed segment (or of the next one when none is).
    var mediaSequence: SequenceNumber { SequenceNumber(clamping: mediaSequenceNumber) }

    /// Applies one registration; on a throw, nothing changed.
    ///
    /// - Complexity: O(*w* + *k*), where *w* is the window length and *k* the number of waiting
    ///   segments that the new one releases.
    mutating func register(_ segment: Segment, now: Timestamp) throws(RegistryError) -> Registration {
        let sequence = segment.sequence.rawValue
        if let known = knownSegment(at: sequence) {
            guard known.isSameMedia(as: segment) else { throw .conflictingSegment(segment.sequence) }
            return Registration(outcome: .duplicate, isVisibleChange: false)
        }
        guard segment.duration.roundedSeconds <= targetDuration else {
            throw .exceedsTargetDuration(
                sequence: segment.sequence, duration: segment.duration, targetDuration: targetDuration)
        }
        var segment = segment
        if let previous = window.last {
            // Every segment of a rendition usually has the same directory: keep it once.
            segment = segment.sharingPathDirectory(with: previous)
        }
        var derivesDate = false
        if isLowLatency, segment.programDateTime == nil {
            // Provisional: the arrival minus the duration; made continuous when listed after
            // its predecessor (see `appendToWindow`).
            derivesDate = true
            segment = Segment(
                sequence: segment.sequence, duration: segment.duration, path: segment.path,
                programDateTime: now.advanced(byMilliseconds: -segment.duration.milliseconds),
                byteCount: segment.byteCount)
        }
        if sequence > nextSequence {
            guard sequence - nextSequence < maxPendingSegments else {
                throw .tooFarAhead(
                    sequence: segment.sequence, nextExpected: SequenceNumber(clamping: nextSequence),
                    limit: Int(maxPendingSegments))
            }
            if pending.isEmpty { holeSince = now }
            accept(sequence, derivesDate: derivesDate)
            pending[sequence] = segment
            recordSize(of: segment)
            return Registration(outcome: .registered(listed: false), isVisibleChange: false)
        }
        if sequence == nextSequence {
            accept(sequence, derivesDate: derivesDate)
            appendToWindow(segment)
            nextSequence += 1
            recordSize(of: segment)
            advance(now: now)
            // When it released many waiting segments, the window may already have slid past it.
            return Registration(outcome: .registered(listed: isListed(sequence)), isVisibleChange: true)
        }
        // Below the tail and not listed: slid out, skipped, or below a never-seen run.
        guard !isPinned else {
            return Registration(outcome: .stale, isVisibleChange: false)
        }
        return lowerStart(to: segment, derivesDate: derivesDate, now: now)
    }

    /// Applies one part registration; on a throw, nothing changed.
    ///
    /// - A part of a complete segment (listed or waiting) is a duplicate or a conflict when
    ///   its index was frozen with the segment, else stale; so is a part of a segment below
    ///   the tail (slid out, skipped, or before the start).
    /// - Otherwise it waits in its segment's buffer; it is listed when it belongs to the
    ///   segment in progress and every earlier part of that segment is present.
    /// - Throws: ``LowLatencyError/conflictingPart(sequence:part:)``, or
    ///   ``RegistryError/tooFarAhead(sequence:nextExpected:limit:)`` when its segment is as far
    ///   ahead as a waiting segment may not be.
    /// - Complexity: O(*k*) in the number of parts of its segment.
    mutating func registerPart(_ part: PartialSegment, now: Timestamp) throws -> Registration {
        let sequence = part.sequence.rawValue
        if knownSegment(at: sequence) != nil {
            let frozen = completedParts[sequence] ?? []
            guard part.part < frozen.count else { return Registration(outcome: .stale, isVisibleChange: false) }
            guard frozen[part.part] == part else {
                throw LowLatencyError.conflictingPart(sequence: part.sequence, part: part.part)
            }
            return Registration(outcome: .duplicate, isVisibleChange: false)
        }
        guard sequence >= nextSequence else { return Registration(outcome: .stale, isVisibleChange: false) }
        guard sequence - nextSequence < maxPendingSegments else {
            throw RegistryError.tooFarAhead(
                sequence: part.sequence, nextExpected: SequenceNumber(clamping: nextSequence),
                limit: Int(maxPendingSegments))
        }
        if let known = partBuffers[sequence]?[part.part] {
            guard known == part else { throw LowLatencyError.conflictingPart(sequence: part.sequence, part: part.part) }
            return Registration(outcome: .duplicate, isVisibleChange: false)
        }
        let before = sequence == nextSequence ? contiguousPartCount(of: sequence) : 0
        partBuffers[sequence, default: [:]][part.part] = part
        guard sequence == nextSequence else {
            return Registration(outcome: .registered(listed: false), isVisibleChange: false)
        }
        let after = contiguousPartCount(of: sequence)
        return Registration(outcome: .registered(listed: part.part < after), isVisibleChange: after > before)
    }

    /// Whether `segment` is held exactly (same sequence, duration and path), listed or waiting.
    /// - Complexity: O(log *w*).
    func holds(_ segment: Segment) -> Bool {
        knownSegment(at: segment.sequence.rawValue)?.isSameMedia(as: segment) == true
    }

    /// Whether `part` is held exactly: frozen with its complete segment, or buffered.
    /// - Complexity: O(1).
    func holds(_ part: PartialSegment) -> Bool {
        let sequence = part.sequence.rawValue
        if let frozen = completedParts[sequence], part.part < frozen.count, frozen[part.part] == part { return true }
        return partBuffers[sequence]?[part.part] == part
    }

    /// How many segments and parts the timeline stores, for the memory budget: listed segments
    /// (the window), segments waiting behind a hole, parts of complete segments, and parts of
    /// segments not complete yet.
    /// - Complexity: O(*s*) in the sequences with parts.
    var storedCounts: (listedSegments: Int, pendingSegments: Int, completedParts: Int, bufferedParts: Int) {
        guard let lowLatency else { return (window.count, pending.count, 0, 0) }
        let completed = lowLatency.fields.completedParts.values.reduce(0) { $0 + $1.count }
        let buffered = lowLatency.fields.partBuffers.values.reduce(0) { $0 + $1.count }
        return (window.count, pending.count, completed, buffered)
    }

    /// Whether a part with the coordinates of `part` is held, whatever its path and duration.
    func knowsPart(_ part: PartialSegment) -> Bool {
        let sequence = part.sequence.rawValue
        if let frozen = completedParts[sequence], part.part < frozen.count { return true }
        return partBuffers[sequence]?[part.part] != nil
    }

    /// The number of buffered parts of `sequence` contiguous from part 0.
    private func contiguousPartCount(of sequence: UInt64) -> Int {
        guard let buffer = partBuffers[sequence] else { return 0 }
        var count = 0
        while buffer[count] != nil { count += 1 }
        return count
    }

    /// The listed parts of the segment in progress, contiguous from part 0.
    var inProgressParts: [PartialSegment] {
        guard let buffer = partBuffers[nextSequence] else { return [] }
        var parts: [PartialSegment] = []
        while let part = buffer[parts.count] { parts.append(part) }
        return parts
    }

    /// The parts a playlist lists (rfc8216bis §6.2.2): those of each listed segment whose end
    /// is within three target durations of the end of the playlist, then those of the segment
    /// in progress; ascending.
    /// - Complexity: O(*w* + *p*).
    func listedParts() -> [PartialSegment] {
        guard isLowLatency else { return [] }
        let inProgress = inProgressParts
        var after = inProgress.reduce(Int64(0)) { $0 + $1.duration.milliseconds }
        let limit = targetDuration * 3000
        var start = window.endIndex
        for index in window.indices.reversed() {
            guard after < limit else { break }
            start = index
            after += window[index].duration.milliseconds
        }
        var parts: [PartialSegment] = []
        for segment in window[start...] {
            parts.append(contentsOf: completedParts[segment.sequence.rawValue] ?? [])
        }
        parts.append(contentsOf: inProgress)
        return parts
    }

    /// Notes that the segment `sequence` was accepted (listed or waiting): freezes its parts
    /// and remembers whether its date-time is derived.
    private mutating func accept(_ sequence: UInt64, derivesDate: Bool) {
        if derivesDate { derivedDates.insert(sequence) }
        guard isLowLatency, partBuffers[sequence] != nil else { return }
        let frozen = contiguousPartCount(of: sequence)
        if frozen > 0, let buffer = partBuffers[sequence] {
            completedParts[sequence] = (0..<frozen).compactMap { buffer[$0] }
        }
        partBuffers[sequence] = nil
    }

    /// Appends `segment` to the window; a derived date-time continues the previous segment's
    /// (its date plus its duration) when the two are contiguous without a discontinuity, so
    /// `#EXT-X-PROGRAM-DATE-TIME` agrees with `#EXTINF` (rfc8216bis §6.2.1: no ambiguous mapping).
    private mutating func appendToWindow(_ segment: Segment) {
        let appended: Segment
        let sequence = segment.sequence.rawValue
        if derivedDates.contains(sequence), let previous = window.last,
            previous.sequence.rawValue + 1 == sequence, discontinuities.last != segment.sequence,
            let previousDate = previous.programDateTime
        {
            appended = Segment(
                sequence: segment.sequence, duration: segment.duration, path: segment.path,
                programDateTime: previousDate.advanced(byMilliseconds: previous.duration.milliseconds),
                byteCount: segment.byteCount)
        } else {
            appended = segment
        }
        if window.count == window.capacity, window.count <= max(windowSize, 3) {
            // The buffer is full; it is usually shared with the last published snapshot too, so
            // the append copies it anyway. Make that one copy the final window: when the append
            // pushes a segment out of the head, the new buffer holds exactly what is kept (the
            // head's bookkeeping is done here, `trimHead` finds nothing left); otherwise it
            // grows by one slot, not by doubling. Every rendition's window then stays one
            // allocation of exactly its length, registration after registration.
            let removed = window.count + 1 - keepCount(endingWith: appended)
            if removed > 0, removed <= window.count {
                var next: [Segment] = []
                next.reserveCapacity(window.count + 1 - removed)
                next.append(contentsOf: window[removed...])
                next.append(appended)
                dropHead(removed, replacingWith: next)
                return
            }
            window.reserveCapacity(window.count + 1)
        }
        window.append(appended)
    }

    /// When the current hole is given up, if ever: `holeSince` + the gap timeout.
    var gapDeadline: Timestamp? {
        guard gapTimeoutMilliseconds > 0, !isEnded, let holeSince else { return nil }
        return holeSince.advanced(byMilliseconds: gapTimeoutMilliseconds)
    }

    /// When the rendition looks stalled to players if nothing is appended (RFC 8216 §6.3.4:
    /// 1.5 target durations after the last append); `nil` once ended.
    var staleDeadline: Timestamp? {
        isEnded ? nil : lastAdvanced.advanced(byMilliseconds: targetDuration * 1500)
    }

    /// Whether the rendition is live and has not advanced for 1.5 target durations at `now`.
    func isStale(at now: Timestamp) -> Bool {
        guard let staleDeadline else { return false }
        return now >= staleDeadline
    }

    /// Gives up the current hole when it has held segments back for the gap timeout: the window
    /// continues with the lowest waiting segment, marked with `#EXT-X-DISCONTINUITY`.
    ///
    /// - Returns: the number of sequences skipped (0 when nothing was due). The clock restarts
    ///   at `now` for the next hole, if segments still wait behind one.
    /// - Complexity: O(*w* + *k*) (*k*: waiting segments) when a hole is skipped, else O(1).
    mutating func skipExpiredHole(now: Timestamp) -> UInt64 {
        guard let deadline = gapDeadline, now >= deadline, let lowest = pending.keys.min() else { return 0 }
        let skipped = lowest - nextSequence
        nextSequence = lowest
        // The parts of segments that never completed go with them.
        partBuffers = partBuffers.filter { $0.key >= lowest }
        discontinuities.append(SequenceNumber(clamping: lowest))
        isPinned = true
        advance(now: now, forceHoleRestart: true)
        return skipped
    }

    /// Marks the window as seen by a player: from now on its start only moves forward.
    ///
    /// Only meaningful while at least one segment is listed; an empty window stays unpinned.
    mutating func pin() {
        if !window.isEmpty { isPinned = true }
    }

    /// Ends the stream; returns whether it was live until now.
    mutating func end() -> Bool {
        guard !isEnded else { return false }
        isEnded = true
        return true
    }

    // MARK: - Internals

    /// After the tail grew: releases waiting segments, trims the head, restarts the hole clock
    /// when the first hole changed, and notes the advance.
    private mutating func advance(now: Timestamp, forceHoleRestart: Bool = false) {
        let released = releasePending()
        trimHead()
        lastAdvanced = now
        if pending.isEmpty {
            holeSince = nil
        } else if released > 0 || forceHoleRestart || holeSince == nil {
            holeSince = now
        }
    }

    /// The listed or waiting segment with `sequence`, if any.
    /// - Complexity: O(log *w*).
    private func knownSegment(at sequence: UInt64) -> Segment? {
        if let index = windowIndex(of: sequence) { return window[index] }
        return pending[sequence]
    }

    /// The index of `sequence` in the window, by binary search.
    private func windowIndex(of sequence: UInt64) -> Int? {
        guard let first = window.first?.sequence.rawValue, sequence >= first, sequence < nextSequence else {
            return nil
        }
        var low = 0
        var high = window.count
        while low < high {
            let middle = (low + high) / 2
            if window[middle].sequence.rawValue < sequence { low = middle + 1 } else { high = middle }
        }
        return low < window.count && window[low].sequence.rawValue == sequence ? low : nil
    }

    /// Whether `sequence` is in the window.
    func isListed(_ sequence: UInt64) -> Bool { windowIndex(of: sequence) != nil }

    /// Moves waiting segments that continue the window onto its tail; returns how many.
    private mutating func releasePending() -> Int {
        var released = 0
        while let next = pending.removeValue(forKey: nextSequence) {
            appendToWindow(next)
            nextSequence += 1
            released += 1
        }
        return released
    }

    /// Removes segments from the head until the window is `windowSize` long, but never below
    /// three target durations (RFC 8216 §6.2.2). Removing anything pins the start and moves
    /// the media and discontinuity sequences by what was removed.
    private mutating func trimHead() {
        let keep = keepCount(endingWith: nil)
        guard window.count > keep else { return }
        dropHead(window.count - keep, replacingWith: nil)
    }

    /// How many segments the window keeps when it ends with `next` appended (or as it is):
    /// `windowSize`, or more while fewer would cover less than three target durations.
    private func keepCount(endingWith next: Segment?) -> Int {
        let minimumMilliseconds = targetDuration * 3000
        var needed = 0
        var total: Int64 = 0
        if let next {
            needed = 1
            total = next.duration.milliseconds
        }
        if total < minimumMilliseconds {
            for segment in window.reversed() {
                needed += 1
                total += segment.duration.milliseconds
                if total >= minimumMilliseconds { break }
            }
        }
        return max(windowSize, needed)
    }

    /// Removes the first `removed` segments (the window becomes `replacement` when given, which
    /// is the window without them plus an appended segment); moves the media and discontinuity
    /// sequences by what was removed and pins the start.
    private mutating func dropHead(_ removed: Int, replacingWith replacement: [Segment]?) {
        if lowLatency != nil {
            // (A regular rendition has no parts or derived dates to forget, and touching them
            // would give it a low-latency box.)
            for segment in window.prefix(removed) {
                let sequence = segment.sequence.rawValue
                completedParts[sequence] = nil
                derivedDates.remove(sequence)
            }
        }
        if let replacement {
            window = replacement
        } else {
            window.removeFirst(removed)
        }
        mediaSequenceNumber += UInt64(removed)
        if let newFirst = window.first?.sequence {
            let slid = discontinuities.prefix { $0 < newFirst }.count
            if slid > 0 {
                discontinuities.removeFirst(slid)
                discontinuitySequence += UInt64(slid)
            }
        }
        isPinned = true
    }

    /// Lowers the start of the (never yet seen, never skipped) run to `segment`, which is below
    /// the window.
    private mutating func lowerStart(to segment: Segment, derivesDate: Bool, now: Timestamp) -> Registration {
        let sequence = segment.sequence.rawValue
        if let first = window.first?.sequence.rawValue, sequence + 1 == first {
            accept(sequence, derivesDate: derivesDate)
            window.insert(segment, at: 0)
            mediaSequenceNumber = sequence
            recordSize(of: segment)
            trimHead()
            if window.first?.sequence != segment.sequence {
                // The window was already full: the new head fell off at once. Nothing visible
                // changed, and the start now counts as having slid.
                return Registration(outcome: .stale, isVisibleChange: false)
            }
            return Registration(outcome: .registered(listed: true), isVisibleChange: true)
        }
        // A hole separates the segment from the window: the run now starts at the segment, and
        // the former window waits until the hole fills — unless that would hold a segment further
        // ahead than the pending cap allows, in which case the segment is too old to matter.
        let highest = max(nextSequence - 1, pending.keys.max() ?? 0)
        guard highest - (sequence + 1) < maxPendingSegments else {
            return Registration(outcome: .stale, isVisibleChange: false)
        }
        for waiting in window {
            pending[waiting.sequence.rawValue] = waiting
        }
        accept(sequence, derivesDate: derivesDate)
        window = [segment]
        nextSequence = sequence + 1
        mediaSequenceNumber = sequence
        recordSize(of: segment)
        holeSince = nil
        advance(now: now)
        return Registration(outcome: .registered(listed: isListed(sequence)), isVisibleChange: true)
    }

    /// Adds a newly accepted segment's size to the bandwidth statistics.
    private mutating func recordSize(of segment: Segment) {
        guard let bytes = segment.byteCount else { return }
        let milliseconds = UInt64(segment.duration.milliseconds)
        let bits = bytes &* 8  // bytes <= 2^53, so no overflow
        peakBitsPerSecond = max(peakBitsPerSecond ?? 0, Self.ceilingRate(bits: bits, milliseconds: milliseconds))
        totalBits = totalBits.addingReportingOverflow(bits).overflow ? .max : totalBits + bits
        totalSizedMilliseconds += segment.duration.milliseconds
    }

    /// The average bits/s over every segment seen with a size, rounded up; `nil` when none.
    var averageBitsPerSecond: UInt64? {
        guard totalSizedMilliseconds > 0 else { return nil }
        return Self.ceilingRate(bits: totalBits, milliseconds: UInt64(totalSizedMilliseconds))
    }

    /// `ceil(bits × 1000 / milliseconds)`, saturating at `UInt64.max`.
    static func ceilingRate(bits: UInt64, milliseconds: UInt64) -> UInt64 {
        precondition(milliseconds > 0)
        let product = bits.multipliedFullWidth(by: 1000)
        guard product.high < milliseconds else { return .max }
        let (quotient, remainder) = milliseconds.dividingFullWidth(product)
        if remainder == 0 { return quotient }
        return quotient == .max ? .max : quotient + 1
    }
}
