import HLSModel

/// The pure state machine of one rendition: which segments are listed, which wait behind a
/// hole, and where the window starts. No locks, no clock; ``SegmentRegistry`` wraps it.
///
/// Invariants:
/// - `window` is ascending and contiguous; `nextSequence` is one past its end (or, when it is
///   empty, the first sequence it will list).
/// - `pending` holds only sequences above `nextSequence` (never one that could be listed now).
/// - Once `isPinned`, the window start only moves forward.
///
/// Seams for what comes next: a gap timeout would add `skipHole(now:)` that moves the lowest
/// pending run into the window behind a discontinuity; a pending cap would check
/// `pending.count` in ``register(_:)`` before buffering.
struct RenditionTimeline: Sendable {
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
    /// The listed segments: ascending and contiguous.
    private(set) var window: [Segment] = []
    /// Segments waiting behind a hole, by sequence; all above `nextSequence`.
    private(set) var pending: [UInt64: Segment] = [:]
    /// The sequence that would extend the window at its tail.
    private(set) var nextSequence: UInt64
    /// Whether the window start may no longer move backwards.
    private(set) var isPinned = false
    /// Whether the stream has ended.
    private(set) var isEnded = false

    /// Starts a timeline whose first segment is `first`; the target duration is
    /// `configuredTargetDuration` or else `max(1, first.duration.roundedSeconds)`.
    ///
    /// - Throws: ``RegistryError/exceedsTargetDuration(sequence:duration:targetDuration:)`` when
    ///   `first` is longer than a configured target duration.
    init(first: Segment, windowSize: Int, configuredTargetDuration: Int64?) throws(RegistryError) {
        let target = configuredTargetDuration ?? max(1, first.duration.roundedSeconds)
        self.targetDuration = target
        self.windowSize = max(1, windowSize)
        self.nextSequence = first.sequence.rawValue
        _ = try register(first)
    }

    /// The sequence of the first listed segment or, when none is listed, the next one expected.
    /// (`nextSequence` exceeds 2^53 only after segment 2^53 itself is listed, so the clamp never
    /// applies to an empty window.)
    var mediaSequence: SequenceNumber {
        window.first?.sequence ?? SequenceNumber(clamping: nextSequence)
    }

    /// Applies one registration; on a throw, nothing changed.
    ///
    /// - Complexity: O(*w* + *k*), where *w* is the window length and *k* the number of waiting
    ///   segments that the new one releases.
    mutating func register(_ segment: Segment) throws(RegistryError) -> Registration {
        let sequence = segment.sequence.rawValue
        if let known = knownSegment(at: sequence) {
            guard known == segment else { throw .conflictingSegment(segment.sequence) }
            return Registration(outcome: .duplicate, isVisibleChange: false)
        }
        guard segment.duration.roundedSeconds <= targetDuration else {
            throw .exceedsTargetDuration(
                sequence: segment.sequence, duration: segment.duration, targetDuration: targetDuration)
        }
        if sequence > nextSequence {
            // Seam: a MAX_PENDING_SEGMENTS cap goes here.
            pending[sequence] = segment
            return Registration(outcome: .registered(listed: false), isVisibleChange: false)
        }
        if sequence == nextSequence {
            window.append(segment)
            nextSequence += 1
            releasePending()
            trimHead()
            // When it released many waiting segments, the window may already have slid past it.
            return Registration(outcome: .registered(listed: isListed(sequence)), isVisibleChange: true)
        }
        // Below the window start.
        guard !isPinned else {
            return Registration(outcome: .stale, isVisibleChange: false)
        }
        return lowerStart(to: segment)
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

    /// The listed or waiting segment with `sequence`, if any.
    private func knownSegment(at sequence: UInt64) -> Segment? {
        if let first = window.first?.sequence.rawValue, sequence >= first, sequence < nextSequence {
            return window[Int(sequence - first)]
        }
        return pending[sequence]
    }

    /// Whether `sequence` is in the window.
    private func isListed(_ sequence: UInt64) -> Bool {
        guard let first = window.first?.sequence.rawValue else { return false }
        return sequence >= first && sequence < nextSequence
    }

    /// Moves waiting segments that continue the window onto its tail.
    private mutating func releasePending() {
        while let next = pending.removeValue(forKey: nextSequence) {
            window.append(next)
            nextSequence += 1
        }
    }

    /// Removes segments from the head until the window is `windowSize` long, but never below
    /// three target durations (RFC 8216 §6.2.2). Removing anything pins the start.
    private mutating func trimHead() {
        let minimumMilliseconds = targetDuration * 3000
        var needed = 0
        var total: Int64 = 0
        for segment in window.reversed() {
            needed += 1
            total += segment.duration.milliseconds
            if total >= minimumMilliseconds { break }
        }
        let keep = max(windowSize, needed)
        if window.count > keep {
            window.removeFirst(window.count - keep)
            isPinned = true
        }
    }

    /// Lowers the start of the (never yet seen) run to `segment`, which is below the window.
    private mutating func lowerStart(to segment: Segment) -> Registration {
        let sequence = segment.sequence.rawValue
        if let first = window.first?.sequence.rawValue, sequence + 1 == first {
            window.insert(segment, at: 0)
            trimHead()
            if window.first?.sequence != segment.sequence {
                // The window was already full: the new head fell off at once. Nothing visible
                // changed, and the start now counts as having slid.
                return Registration(outcome: .stale, isVisibleChange: false)
            }
            return Registration(outcome: .registered(listed: true), isVisibleChange: true)
        }
        // A hole separates the segment from the window: the run now starts at the segment,
        // and the former window waits until the hole fills.
        for waiting in window {
            pending[waiting.sequence.rawValue] = waiting
        }
        window = [segment]
        nextSequence = sequence + 1
        releasePending()
        trimHead()
        return Registration(outcome: .registered(listed: isListed(sequence)), isVisibleChange: true)
    }
}
