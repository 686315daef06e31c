// A rendition's cell: its state under a writer lock, its current publication, the rules it applies.
import HLSModel
import Synchronization

class CellBase: @unchecked Sendable {
    /// The rendition's name.
    final let rendition: RenditionName
    private let recordBox: Mutex<StreamRecord>

    init(rendition: RenditionName, record: StreamRecord) {
        self.rendition = rendition
        recordBox = Mutex(record)
    }

    /// The record of the cell's stream.
    final var record: StreamRecord { recordBox.withLock { $0 } }

    /// Shares the record of the stream the cell joins (under the directory lock, on insert).
    final func adopt(_ record: StreamRecord) { recordBox.withLock { $0 = record } }
}

/// One rendition: its writer state and its current publication, each behind its own lock.
final class RenditionCell<Artifact: Sendable>: CellBase, @unchecked Sendable {
    let writer: Mutex<RenditionState>
    let current = Mutex(CurrentPublication<Artifact>())
    /// The instant (ms since the epoch) from which a sweep has something to do here.
    let attentionAt = Atomic<Int64>(.max)

    init(rendition: RenditionName, state: sending RenditionState, record: StreamRecord) {
        writer = Mutex(state)
        super.init(rendition: rendition, record: record)
    }

    /// Registers under the writer lock; `nil` when the stream was forgotten (retry).
    func register(
        _ segment: Segment,
        now: Timestamp,
        context: TimelineContext<Artifact>
    ) throws(RegistryError) -> (outcome: RegistrationOutcome, skipped: UInt64)? {
        try writer.withLock { (state) throws(RegistryError) -> (outcome: RegistrationOutcome, skipped: UInt64)? in
            guard !state.isEvicted else { return nil }
            guard !state.isEnded else {
                if state.timeline?.holds(segment) == true { return (.duplicate, 0) }
                throw .streamEnded(record.stream)
            }
            if let budget = context.budget, RenditionRules.segmentIsGrowth(segment, of: state), !budget.allowsGrowth(of: .pending) {
                throw .memoryBudgetSpent(.pending)  // it would wait behind a hole
            }
            defer { settle(&state, budget: context.budget, path: segment.path.utf8Count) }
            // Mutated in place through the optional, so the window is never copied.
            guard let registration = try state.timeline?.register(segment, now: now) else {
                try startTimeline(&state, first: segment, now: now, context: context)
                publishLocked(&state, now: now, context: context)
                updateAttention(state, now: now)
                return (.registered(listed: true), 0)
            }
            var outcome = registration.outcome
            let skipped = state.timeline?.skipExpiredHole(now: now) ?? 0
            if skipped > 0, outcome == .registered(listed: false),
                state.timeline?.isListed(segment.sequence.rawValue) == true
            {
                outcome = .registered(listed: true)  // the skip listed it
            }
            if registration.isVisibleChange || skipped > 0 {
                publishLocked(&state, now: now, context: context)
            }
            updateAttention(state, now: now)
            return (outcome, skipped)
        }
    }

    /// Creates the timeline with its first segment; for a low-latency rendition, fixes the
    /// stream's shared target duration and replays the parts that arrived early; for a regular
    /// one, fixes the stream as regular. On a throw nothing changed.
    private func startTimeline(
        _ state: inout RenditionState, first segment: Segment, now: Timestamp, context: TimelineContext<Artifact>
    ) throws(RegistryError) {
        let isLowLatency = state.declaration?.partTarget != nil
        let shared = isLowLatency ? record.sharedTargetDuration : nil
        let timeline = try context.makeTimeline(
            first: segment, declaration: state.declaration, sharedTargetDuration: shared,
            earlyParts: state.earlyParts, now: now)
        switch record.join(RenditionRules.firstSegment(of: timeline)) {
        case .targetDuration(let fixed):
            throw .targetDurationConflict(rendition, declared: timeline.targetDuration, fixed: fixed)
        case .regularStream:
            throw .mixedLowLatency(record.stream, rendition, streamIsLowLatency: false)
        case .lowLatencyStream:
            throw .mixedLowLatency(record.stream, rendition, streamIsLowLatency: true)
        case .partTarget, nil:
            break  // the part target was fixed with the declaration
        }
        state.earlyParts = []
        state.timeline = timeline
    }

    /// Whether the rendition holds exactly `segment` (same sequence, duration and path; listed
    /// or waiting), whatever the state of the stream.
    func holds(_ segment: Segment) -> Bool {
        writer.withLock { $0.timeline?.holds(segment) == true }
    }

    /// Whether the rendition holds exactly `part`, whatever the state of the stream.
    func holds(_ part: PartialSegment) -> Bool {
        writer.withLock { $0.holds(part) }
    }

    /// Registers a part under the writer lock; `nil` when the stream was forgotten (retry).
    func registerPart(
        _ part: PartialSegment,
        now: Timestamp,
        context: TimelineContext<Artifact>
    ) throws -> RegistrationOutcome? {
        try writer.withLock { state throws -> RegistrationOutcome? in
            guard !state.isEvicted else { return nil }
            guard !state.isEnded else {
                if state.holds(part) { return .duplicate }
                throw RegistryError.streamEnded(record.stream, refused: .part)
            }
            let isGrowth = try RenditionRules.part(part, of: state, rendition: rendition)
            if isGrowth, let budget = context.budget, !budget.allowsGrowth(of: .pending) {
                throw RegistryError.memoryBudgetSpent(.pending)
            }
            defer { settle(&state, budget: context.budget, path: part.path.rawValue.utf8.count) }
            guard let registration = try state.timeline?.registerPart(part, now: now) else {
                // No segment yet: the part waits for the first one.
                if let known = state.earlyParts.first(where: { $0.sequence == part.sequence && $0.part == part.part }) {
                    guard known == part else {
                        throw LowLatencyError.conflictingPart(sequence: part.sequence, part: part.part)
                    }
                    return .duplicate
                }
                let limit = context.configuration.maxPendingSegments
                guard state.earlyParts.count < limit else {
                    throw LowLatencyError.tooManyWaitingParts(rendition, limit: limit)
                }
                state.earlyParts.append(part)
                return .registered(listed: false)
            }
            if registration.isVisibleChange {
                publishLocked(&state, now: now, context: context)
            }
            return registration.outcome
        }
    }

    /// Replaces the declaration; `false` when the stream was forgotten (retry).
    ///
    /// Low-latency values fixed with the timeline (`part_target`, `map_uri`) may be repeated or
    /// left out, not changed; a new `part_uri_template` replaces the timeline's.
    func declare(_ declaration: RenditionDeclaration, configuration: RegistryConfiguration, now: Timestamp) throws -> Bool {
        try writer.withLock { state throws -> Bool in
            guard !state.isEvicted else { return false }
            guard !state.isEnded else { throw RegistryError.streamEnded(record.stream, refused: .declaration) }
            let joining = try RenditionRules.declaration(declaration, of: state, rendition: rendition, configuration: configuration)
            if let conflict = record.join(joining) {
                let policy: LowLatencyPolicy? = if case .lowLatency(let policy) = joining { policy } else { nil }
                throw conflict.error(stream: record.stream, rendition: rendition, policy: policy)
            }
            state.declare(declaration, at: now)
            if let template = declaration.partURITemplate, state.timeline?.isLowLatency == true {
                state.timeline?.partURITemplate = template
            }
            return true
        }
    }

    func end(now: Timestamp, context: TimelineContext<Artifact>) {
        writer.withLock { state in
            state.isEnded = true
            if state.timeline?.end() == true {
                publishLocked(&state, now: now, context: context)
            }
            updateAttention(state, now: now)
        }
    }

    /// Marks the cell forgotten; returns whether it was reported stalled.
    func evict(budget: MemoryBudget?, now: Timestamp, removals: @Sendable (SegmentRemoval) -> Void) -> Bool {
        writer.withLock { state in
            if !state.isEvicted, let snapshot = current.withLock({ $0.publication?.snapshot }) {
                // Forgotten: everything its playlist listed is removed now.
                removals(SegmentRemoval(all: snapshot, at: now, longestPlaylist: state.longestPlaylistMilliseconds))
            }
            state.isEvicted = true
            budget?.release(state.chargedRecords, for: .records)
            budget?.release(state.chargedPending, for: .pending)
            (state.chargedRecords, state.chargedPending) = (0, 0)
            attentionAt.store(.max, ordering: .relaxed)
            return state.reportedStale
        }
    }

    /// The sweep's work on this cell: a due gap skip, and the stalled-state transition.
    func sweep(now: Timestamp, context: TimelineContext<Artifact>, report: inout SweepReport) {
        writer.withLock { state in
            guard !state.isEvicted, let skipped = state.timeline?.skipExpiredHole(now: now) else { return }
            if skipped > 0 {
                report.skippedSegments += skipped
                report.skippedHoles += 1
                report.republished += 1
                publishLocked(&state, now: now, context: context)
                settle(&state, budget: context.budget)
            }
            let isStale = state.timeline?.isStale(at: now) ?? false
            if isStale != state.reportedStale {
                state.reportedStale = isStale
                report.staleTransitions.append(
                    SweepReport.StaleTransition(stream: record.stream, rendition: rendition, isStale: isStale))
            }
            updateAttention(state, now: now)
        }
    }

    /// Charges the budget the change of this rendition's footprint since the last settlement,
    /// with `path` (the UTF-8 length of a path just stored) as a candidate longest path; the
    /// caller holds the writer lock. Nothing once the stream is forgotten (all was released).
    func settle(_ state: inout RenditionState, budget: MemoryBudget?, path: Int = 0) {
        guard let budget, !state.isEvicted else { return }
        state.longestPath = max(state.longestPath, path)
        let (records, pending) = state.footprint
        budget.adjust(records - state.chargedRecords, for: .records)
        budget.adjust(pending - state.chargedPending, for: .pending)
        (state.chargedRecords, state.chargedPending) = (records, pending)
    }

    /// Stores when a sweep next has something to do here; the caller holds the writer lock.
    func updateAttention(_ state: RenditionState, now: Timestamp) {
        var at = Int64.max
        if let timeline = state.timeline {
            if let gap = timeline.gapDeadline { at = min(at, gap.millisecondsSinceEpoch) }
            if state.reportedStale {
                // Due at once when it recovered (advanced or ended); nothing to do while stalled.
                if !timeline.isStale(at: now) { at = .min }
            } else if let stale = timeline.staleDeadline {
                at = min(at, stale.millisecondsSinceEpoch)
            }
        }
        attentionAt.store(at, ordering: .relaxed)
    }

    /// Republishes this rendition when it is low-latency and its report of `other` is not what
    /// `other`'s current publication says; the caller holds no writer lock.
    ///
    /// Only the reports change: the segments, parts and version-independent content stay, so a
    /// blocking reload held on this rendition is still satisfied exactly when it was before.
    func refreshReport(of other: RenditionCell<Artifact>, now: Timestamp, context: TimelineContext<Artifact>) {
        guard reportIsStale(of: other) else { return }
        writer.withLock { state in
            // Again under the writer lock: a publication in between read the current reports.
            guard !state.isEvicted, state.timeline?.isLowLatency == true, reportIsStale(of: other) else { return }
            publishLocked(&state, now: max(now, state.lastModified), context: context)
        }
    }

    /// Whether this rendition's current playlist is low-latency and reports `other` otherwise
    /// than `other`'s current publication (including leaving out a rendition that now has one).
    private func reportIsStale(of other: RenditionCell<Artifact>) -> Bool {
        guard let snapshot = current.withLock({ $0.publication?.snapshot }), snapshot.isLowLatency else { return false }
        let reported = snapshot.renditionReports.first { $0.rendition == other.rendition }
        return reported != other.current.withLock { $0.publication?.report }
    }

    /// Publishes the restored `state` as it was published before the snapshot: same version,
    /// same time, nothing retired or removed (nothing was served yet).
    func republishRestored(context: TimelineContext<Artifact>) {
        writer.withLock { state in
            guard let timeline = state.timeline else { return }
            let reports = timeline.isLowLatency ? context.reports(record.stream, rendition) : []
            let snapshot = state.snapshot(of: timeline, stream: record.stream, rendition: rendition, reports: reports)
            let publication = Publication(snapshot: snapshot, artifact: context.publish(snapshot))
            current.withLock { $0 = CurrentPublication(publication: publication, isPinned: timeline.isPinned) }
        }
    }

    /// Pins the window and returns the artifact current at that moment.
    func pin() -> Artifact? {
        writer.withLock { state in
            current.withLock { current in
                guard let publication = current.publication else { return nil }
                if publication.listsSegments {
                    state.timeline?.pin()
                    current.isPinned = true
                }
                return publication.artifact
            }
        }
    }

    /// Bumps the version, calls `publish` and swaps the new publication in; the caller holds the
    /// writer lock (`state` is its value, with a timeline).
    ///
    /// A low-latency rendition's snapshot carries the rendition reports of the other renditions
    /// of the stream, read from their current publications (never their writer locks).
    func publishLocked(_ state: inout RenditionState, now: Timestamp, context: TimelineContext<Artifact>) {
        guard let timeline = state.timeline else { return }
        state.version += 1
        state.lastModified = now
        let reports = timeline.isLowLatency ? context.reports(record.stream, rendition) : []
        let snapshot = state.snapshot(of: timeline, stream: record.stream, rendition: rendition, reports: reports)
        let publication = Publication(snapshot: snapshot, artifact: context.publish(snapshot))
        let isPinned = timeline.isPinned
        let previous = current.withLock { current in
            let previous = current.publication
            current = CurrentPublication(publication: publication, isPinned: isPinned)
            return previous
        }
        state.longestPlaylistMilliseconds = max(state.longestPlaylistMilliseconds, snapshot.durationMilliseconds)
        // The previous publication is retired and released here, outside the tiny lock.
        if let previous {
            context.retire(previous.artifact)
            if let removal = SegmentRemoval(
                from: previous.snapshot, to: snapshot, at: now, longestPlaylist: state.longestPlaylistMilliseconds)
            {
                context.removals(removal)
            }
        }
    }
}
