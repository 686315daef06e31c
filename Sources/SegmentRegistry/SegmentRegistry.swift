public import HLSModel
import Synchronization

/// The live state of every stream and rendition: registers segments, keeps each rendition's
/// sliding window, gives up holes after the gap timeout, forgets old streams, and hands out the
/// artifact published for each rendition's latest change.
///
/// ## Locking
/// - A directory `Mutex` maps stream and rendition to a cell; it is held only for dictionary
///   lookups, inserts, removals and O(1) copies of its flat lists.
/// - Each rendition cell has a *writer* `Mutex` (its timeline and declaration; registrations,
///   declarations, the end of the stream, sweeps and the `publish` call run under it) and a tiny
///   *current* `Mutex` that holds the latest publication and is held only to copy or swap a
///   reference.
/// - A sweep `Mutex` serializes ``sweep(now:)`` calls and guards the stale-rendition count.
/// - Lock order: sweep → writer → directory, writer → current. Nothing waits on a writer lock
///   while holding the directory or a current lock, and no writer lock is taken while another
///   is held.
///
/// ## Rendition reports
/// A low-latency playlist's `#EXT-X-RENDITION-REPORT` tags give every other rendition of the
/// stream as it is *now* (rfc8216bis §4.4.5.4: as up to date as the playlist that carries them).
/// So when a publication of one rendition changes what it reports (its last segment or part),
/// each low-latency sibling that still reports the old values is republished, after the
/// changed rendition's writer lock is released, under the sibling's own writer lock. A rendition
/// with no segment yet has nothing to report (`LAST-MSN` is required) and is left out until its
/// first segment, whose publication then refreshes the others.
///
/// So a GET costs a dictionary lookup plus a reference copy, never waits behind a render, and a
/// registration into one rendition never holds up reads or writes of another.
///
/// ## Pinning
/// Until a playlist listing at least one segment has been served by
/// ``playlist(stream:rendition:)``, a lower sequence may still lower the start of the run.
/// Once one has been served, once the window has slid, or once a hole has been skipped,
/// `#EXT-X-MEDIA-SEQUENCE` only goes up and older segments are ``RegistrationOutcome/stale``.
///
/// ## Forgetting
/// ``sweep(now:)`` forgets ended streams after ``RegistryConfiguration/endedStreamTTLMilliseconds``
/// and silent live streams after ``RegistryConfiguration/idleStreamTTLMilliseconds``. A forgotten
/// stream is unknown: its playlists are gone, and a later segment or declaration creates it
/// afresh (even one that had ended).
public final class SegmentRegistry<Artifact: Sendable>: PlaylistRegistry, Sendable {
    let configuration: RegistryConfiguration
    private let publish: @Sendable (RenditionSnapshot) -> Artifact
    let retire: @Sendable (Artifact) -> Void
    private let events: @Sendable (LifecycleEvent) -> Void
    /// Not generic (cells are held as ``CellBase``), so the directory's dictionaries and lock are
    /// compiled for their concrete types here instead of going through generic metadata at run
    /// time on every lookup; ``typed(_:)`` gives a cell its type back.
    let directory: Mutex<Directory>
    /// What clients make the registry hold, charged as it changes; nil: not counted.
    let budget: MemoryBudget?
    /// Told of the segments and parts each change took out of a playlist.
    let removals: @Sendable (SegmentRemoval) -> Void

    /// A cell of the directory as the rendition cell of this registry it is (every cell this
    /// registry inserts is a `RenditionCell<Artifact>`).
    @inline(__always)
    func typed(_ cell: CellBase) -> RenditionCell<Artifact> {
        unsafeDowncast(cell, to: cellType)
    }

    /// `RenditionCell<Artifact>.self`, looked up once: spelled inline, unspecialized generic code
    /// would fetch the type's metadata on every downcast.
    let cellType = RenditionCell<Artifact>.self
    /// The stale-rendition count as last reported; held for the whole of a sweep.
    let sweepState = Mutex(0)
    /// The stream ids sorted for the operator API (see `streams(after:limit:)`).
    let sortedIndex = Mutex(SortedIndex())
    /// Segments skipped by registrations since the last sweep.
    private let skippedSinceSweep = Atomic<UInt64>(0)
    /// Holes skipped by registrations since the last sweep.
    private let holesSinceSweep = Atomic<Int>(0)
    /// Segments skipped since the registry was created.
    private let skippedTotal = Atomic<UInt64>(0)

    /// Creates an empty registry.
    ///
    /// - Parameters:
    ///   - configuration: window, target duration, gap timeout, caps and TTLs; must be
    ///     ``RegistryConfiguration/isValid`` (checked with a precondition).
    ///   - publish: turns a snapshot into the artifact served to players, typically the rendered
    ///     playlist bytes. Called exactly once per visible change of a rendition — for a
    ///     low-latency rendition, a change of what it reports about its siblings is one — under
    ///     that rendition's writer lock (never under a lock that readers take).
    ///   - retire: told of each artifact once it is no longer the one served — a newer
    ///     publication replaced it, or its stream was forgotten — after the replacement is
    ///     visible and before the call that caused it returns (caches of an artifact's bytes
    ///     are dropped here).
    ///   - events: told of each stream and rendition when it first appears (for lifecycle logs),
    ///     after the registry's locks are released, in order: a stream before its first rendition.
    public init(
        configuration: RegistryConfiguration,
        publish: @escaping @Sendable (RenditionSnapshot) -> Artifact,
        retire: @escaping @Sendable (Artifact) -> Void = { _ in },
        events: @escaping @Sendable (LifecycleEvent) -> Void = { _ in },
        budget: MemoryBudget? = nil,
        removals: @escaping @Sendable (SegmentRemoval) -> Void = { _ in }
    ) {
        self.removals = removals
        precondition(configuration.isValid, "RegistryConfiguration out of range: \(configuration)")
        self.configuration = configuration
        self.budget = budget
        directory = Mutex(Directory(budget: budget))
        self.publish = publish
        self.retire = retire
        self.events = events
    }

    /// Registers `segment` into `rendition` of `stream`, creating both on first use.
    ///
    /// Out-of-order and repeated registrations are expected: a segment after a hole waits
    /// (`.registered(listed: false)`) until the hole fills or the gap timeout gives it up; an
    /// exact repeat is `.duplicate` (a repeat differing only in `program_date_time` or `bytes`
    /// too: the first wins); a segment older than a pinned window, or in a skipped hole, is
    /// `.stale`. A hole whose gap timeout has passed at `now` is skipped before this returns.
    /// When this returns, the artifact for any visible change has been published.
    ///
    /// After the stream has ended, an exact repeat of a segment the rendition still holds
    /// (listed or waiting) is still `.duplicate`, so a transcoder's retry gets its 2xx; any other
    /// segment is refused.
    ///
    /// - Throws: ``RegistryError`` — the stream has ended, the sequence is known with another
    ///   path or duration, the duration exceeds the target duration, the sequence is too far
    ///   ahead, a cap on streams or renditions is reached, or the rendition has no low-latency
    ///   settings while the stream has low-latency renditions (a segment into an undeclared
    ///   rendition of such a stream is one: ``RegistryError/mixedLowLatency(_:_:streamIsLowLatency:)``). On a throw nothing changed (and a
    ///   rendition refused its first segment is not created).
    /// - Complexity: O(*w* + *k*) under the rendition's writer lock (*w*: window length,
    ///   *k*: waiting segments released), plus one `publish` call when the playlist changes; the
    ///   directory lock is held for one lookup (two on the first segment of a rendition).
    public func register(
        _ segment: Segment,
        stream: StreamID,
        rendition: RenditionName,
        now: Timestamp
    ) throws(RegistryError) -> RegistrationOutcome {
        while true {
            switch directory.withLock({ $0.lookup(stream: stream, rendition: rendition) }) {
            case .ended(let cell):
                // A transcoder's retry of a segment it registered before the end is answered as
                // the duplicate it is; anything else is refused.
                if let cell, typed(cell).holds(segment) { return .duplicate }
                throw .streamEnded(stream)
            case .found(let found):
                let cell = typed(found)
                cell.record.touch(now)
                if let result = try cell.register(segment, now: now, context: context) {
                    noteSkips(result.skipped)
                    refreshReports(of: cell, now: now)
                    return result.outcome
                }
                // The stream was forgotten meanwhile: start again through the directory.
            case .absent:
                // A rendition created by a segment is regular: it reports nothing and, since a
                // stream does not mix kinds, nobody reports it.
                if let outcome = try create(segment, stream: stream, rendition: rendition, now: now) {
                    return outcome
                }
                // Another call created the rendition first: register into it.
            }
        }
    }

    /// Declares the metadata of `rendition` of `stream` (`PUT /streams/{id}/renditions/{r}`),
    /// creating both when unknown. The declaration replaces any earlier one.
    ///
    /// A declaration alone does not make a media playlist: ``playlist(stream:rendition:)``
    /// stays `nil` until the first segment. A declared ``RenditionDeclaration/targetDuration``
    /// becomes the rendition's target duration when its first segment arrives (unless the
    /// operator set one for every rendition).
    ///
    /// Low-latency settings (rfc8216bis §4.4.3.7–§4.4.3.8):
    /// - `part_target` and `map_uri` are fixed when the rendition's first segment arrives; a
    ///   later declaration may repeat them or leave them out (the fixed ones stay), not change,
    ///   add or remove them. `part_uri_template` may change; the new one is used from the next
    ///   publication on.
    /// - All low-latency renditions of a stream share one part target (fixed by the first
    ///   low-latency declaration of the stream) and one target duration (fixed by the first
    ///   one declared, or by the first low-latency rendition's first segment), so that
    ///   `#EXT-X-SERVER-CONTROL`, whose `CAN-SKIP-UNTIL` is six target durations, is identical
    ///   across them (§6.2.4). A later low-latency rendition without a declared target
    ///   duration takes the shared one.
    /// - A stream does not mix low-latency and regular renditions (§6.2.4: `#EXT-X-SERVER-CONTROL`
    ///   is the same in all of them). The first low-latency declaration makes the stream
    ///   low-latency, the first segment of a rendition without `part_target` makes it regular,
    ///   for as long as the stream is known. In a low-latency stream a declaration without
    ///   `part_target` is refused (except for a rendition whose low-latency settings were already
    ///   fixed by its first segment, which keeps them); in a regular stream a declaration with
    ///   `part_target` is. Both are ``RegistryError/mixedLowLatency(_:_:streamIsLowLatency:)``.
    /// - Throws: ``RegistryError/streamEnded(_:)``, ``RegistryError/tooManyStreams(limit:)``,
    ///   ``RegistryError/tooManyRenditions(_:limit:)``, or
    ///   ``RegistryError/targetDurationConflict(_:declared:fixed:)`` when `target_duration`
    ///   differs from the rendition's fixed one; ``LowLatencyError/partTargetConflict(_:declared:fixed:)``,
    ///   ``LowLatencyError/mapURIConflict(_:declared:fixed:)`` or
    ///   ``LowLatencyError/streamTargetDurationConflict(_:declared:fixed:)``. On a throw nothing
    ///   changed.
    /// - Complexity: O(1) under the rendition's writer lock; no publication.
    public func declare(
        _ declaration: RenditionDeclaration,
        stream: StreamID,
        rendition: RenditionName,
        now: Timestamp
    ) throws -> DeclarationOutcome {
        // What a new rendition would join its stream as (and a conflict with TARGET_DURATION,
        // refused before anything else); a known one is checked against its state by its cell.
        let joiningIfNew = try RenditionRules.declaration(
            declaration, of: RenditionState(), rendition: rendition, configuration: configuration)
        while true {
            switch directory.withLock({ $0.lookup(stream: stream, rendition: rendition) }) {
            case .ended:
                throw RegistryError.streamEnded(stream, refused: .declaration)
            case .found(let found):
                let cell = typed(found)
                cell.record.touch(now)
                if try cell.declare(declaration, configuration: configuration, now: now) { return .updated }
            case .absent:
                guard budget?.allowsGrowth(of: .records) ?? true else { throw RegistryError.memoryBudgetSpent(.records) }
                var state = RenditionState()
                state.declare(declaration, at: now)
                let cell = RenditionCell<Artifact>(rendition: rendition, state: state, record: StreamRecord(stream: stream, now: now))
                let inserted = directory.withLock {
                    $0.insert(cell, stream: stream, rendition: rendition, configuration: configuration, now: now, joining: joiningIfNew)
                }
                switch inserted {
                case .inserted(let newStream):
                    cell.writer.withLock { cell.settle(&$0, budget: budget) }
                    announce(stream: stream, rendition: rendition, newStream: newStream)
                    return .created
                case .found: continue
                case .ended: throw RegistryError.streamEnded(stream, refused: .declaration)
                case .tooManyStreams: throw RegistryError.tooManyStreams(limit: configuration.maxStreams)
                case .tooManyRenditions:
                    throw RegistryError.tooManyRenditions(stream, limit: configuration.maxRenditionsPerStream)
                case .lowLatencyConflict(let conflict):
                    let policy: LowLatencyPolicy? = if case .lowLatency(let policy) = joiningIfNew { policy } else { nil }
                    throw conflict.error(stream: stream, rendition: rendition, policy: policy)
                }
            }
        }
    }

    /// Registers a partial segment (`POST /streams/{id}/renditions/{r}/parts`) into a
    /// low-latency rendition (rfc8216bis §4.4.4.9).
    ///
    /// Same rules as segments: an exact repeat is `.duplicate` (after the end too, while the
    /// rendition holds the part); a part of a segment that is
    /// complete (its segment was registered; that freezes its parts) or gone is `.stale` unless
    /// it repeats a frozen one; parts may arrive out of order and one is listed only once it
    /// and every earlier part of its segment are present and its segment is the one in
    /// progress (`.registered(listed:)` says whether). Parts that arrive before the rendition's
    /// first segment wait for it. When a part becomes listed, the playlist is republished (so
    /// blocking reloads wake) before this returns.
    ///
    /// - Throws: ``RegistryError/streamEnded(_:)`` (409),
    ///   ``RegistryError/tooFarAhead(sequence:nextExpected:limit:)`` (429 with Retry-After) when its segment is
    ///   as far ahead as a waiting segment may not be, or a ``LowLatencyError``:
    ///   ``LowLatencyError/notLowLatency(_:)`` (409) when the rendition is unknown or has no
    ///   `part_target`, ``LowLatencyError/exceedsPartTarget(sequence:part:duration:partTarget:)``
    ///   (422), ``LowLatencyError/conflictingPart(sequence:part:)`` (409),
    ///   ``LowLatencyError/tooManyWaitingParts(_:limit:)`` (429 with Retry-After). On a throw nothing changed.
    /// - Complexity: O(*k*) under the rendition's writer lock (*k*: parts of its segment), plus
    ///   one `publish` call when something became listed.
    public func registerPart(
        _ part: PartialSegment,
        stream: StreamID,
        rendition: RenditionName,
        now: Timestamp
    ) throws -> RegistrationOutcome {
        while true {
            switch directory.withLock({ $0.lookup(stream: stream, rendition: rendition) }) {
            case .ended(let cell):
                if let cell, typed(cell).holds(part) { return .duplicate }
                throw RegistryError.streamEnded(stream, refused: .part)
            case .absent:
                throw LowLatencyError.notLowLatency(rendition)
            case .found(let found):
                let cell = typed(found)
                cell.record.touch(now)
                if let outcome = try cell.registerPart(part, now: now, context: context) {
                    refreshReports(of: cell, now: now)
                    return outcome
                }
            }
        }
    }

    /// Ends `stream`: each rendition is republished with `#EXT-X-ENDLIST`, and every later
    /// registration or declaration into the stream (any rendition, even a new one) throws
    /// ``RegistryError/streamEnded(_:)`` until the stream is forgotten.
    ///
    /// Idempotent: each stream is ``EndOutcome/ended`` exactly once while it is known (a stream
    /// forgotten after its TTL can be ended afresh). A stream never seen becomes known as ended,
    /// so that a late segment is refused; that entry counts against
    /// ``RegistryConfiguration/maxStreams`` like any stream, and is forgotten after
    /// ``RegistryConfiguration/endedStreamTTLMilliseconds``.
    /// - Throws: ``RegistryError/tooManyStreams(limit:)`` when the stream is unknown and the
    ///   registry already holds `maxStreams` streams; nothing changed.
    /// - Complexity: O(*r*) publications, one per rendition of the stream.
    public func endStream(_ stream: StreamID, now: Timestamp) throws(RegistryError) -> EndOutcome {
        let marking = directory.withLock { directory in
            directory.markEnded(stream, now: now, maxStreams: configuration.maxStreams)
        }
        let cells: [RenditionCell<Artifact>]
        switch marking {
        case .ended(let ended): cells = ended.map(typed)
        case .alreadyEnded: return .alreadyEnded
        case .tooManyStreams: throw .tooManyStreams(limit: configuration.maxStreams)
        case .budgetSpent: throw .memoryBudgetSpent(.records)
        }
        let context = self.context
        for cell in cells {
            cell.end(now: now, context: context)
        }
        for cell in cells {
            refreshReports(of: cell, now: now)
        }
        return .ended
    }

    /// The artifact of the latest change of a rendition — the hot path of a player's GET.
    ///
    /// Serving a playlist that lists segments pins the window (see the type's documentation).
    /// The first such read takes the rendition's writer lock once to pin, and returns the
    /// publication current at that moment; every later read is a lookup and a reference copy.
    /// - Returns: `nil` when the stream or rendition is unknown, or has no segment yet.
    /// - Complexity: O(1): one dictionary lookup under the directory lock and one reference
    ///   copy under the rendition's current-publication lock.
    public func playlist(stream: StreamID, rendition: RenditionName) -> Artifact? {
        guard let found = directory.withLock({ $0.cell(stream: stream, rendition: rendition) }) else {
            return nil
        }
        let cell = typed(found)
        let current = cell.current.withLock { $0 }
        guard let publication = current.publication else { return nil }
        if current.isPinned || !publication.listsSegments {
            return publication.artifact
        }
        return cell.pin()
    }

    public func unpinnedPlaylist(stream: StreamID, rendition: RenditionName) -> (artifact: Artifact, needsPin: Bool)? {
        guard let found = directory.withLock({ $0.cell(stream: stream, rendition: rendition) }) else {
            return nil
        }
        let current = typed(found).current.withLock { $0 }
        guard let publication = current.publication else { return nil }
        return (publication.artifact, !current.isPinned && publication.listsSegments)
    }

    public func pin(stream: StreamID, rendition: RenditionName) {
        guard let found = directory.withLock({ $0.cell(stream: stream, rendition: rendition) }) else { return }
        _ = typed(found).pin()
    }

    public func sweepIsDue(now: Timestamp) -> Bool {
        let (cells, records) = directory.withLock { ($0.allCells, $0.allRecords) }
        let instant = now.millisecondsSinceEpoch
        for cell in cells where typed(cell).attentionAt.load(ordering: .relaxed) <= instant { return true }
        for record in records where record.expiry(now: now, configuration: configuration) != nil { return true }
        return false
    }

    /// The latest snapshot of a rendition; unlike ``playlist(stream:rendition:)`` it does not pin.
    /// - Returns: `nil` when the stream or rendition is unknown, or has no segment yet.
    public func snapshot(stream: StreamID, rendition: RenditionName) -> RenditionSnapshot? {
        guard let found = directory.withLock({ $0.cell(stream: stream, rendition: rendition) }) else {
            return nil
        }
        let cell = typed(found)
        return cell.current.withLock { $0.publication }?.snapshot
    }

    /// The data of the multivariant playlist of `stream`: its renditions that have at least one
    /// segment and a known bandwidth, with their declared metadata.
    ///
    /// `BANDWIDTH` is the declared `bandwidth`, else the peak computed from segment sizes (the
    /// largest `bytes × 8 / duration`, rounded up) — raised to a declared `average_bandwidth`
    /// when that is higher, since no peak is below the average. `AVERAGE-BANDWIDTH` is the
    /// declared `average_bandwidth`, else total bits over total duration of the segments seen
    /// with a size, rounded up; either way never above `BANDWIDTH` (a computed average is capped
    /// at a declared peak). A rendition with no bandwidth known is left out.
    /// Each variant also carries its rendition's target duration and when the rendition (its
    /// playlist or its declaration) last changed; the snapshot says whether the stream ended.
    /// - Returns: `nil` when the stream is unknown; a snapshot with no variants when no
    ///   rendition qualifies.
    /// - Complexity: O(*r* log *r*); takes each rendition's writer lock briefly.
    public func multivariant(stream: StreamID) -> MultivariantSnapshot? {
        guard
            let (cells, isEnded) = directory.withLock({
                $0.streams[stream].map { ($0.cells, $0.isEnded) }
            })
        else {
            return nil
        }
        let variants = cells.map(typed).compactMap { cell in
            cell.writer.withLock { state -> MultivariantSnapshot.Variant? in
                guard let timeline = state.timeline else { return nil }
                let declared = state.declaration
                let declaredAverage = declared?.averageBandwidth
                guard
                    let bandwidth = declared?.bandwidth
                        ?? timeline.peakBitsPerSecond.map({ max($0, declaredAverage ?? 0) })
                else { return nil }
                // RFC 8216 §4.3.4.2: AVERAGE-BANDWIDTH is never above BANDWIDTH.
                let average = (declaredAverage ?? timeline.averageBitsPerSecond).map { min($0, bandwidth) }
                return MultivariantSnapshot.Variant(
                    rendition: cell.rendition,
                    bandwidth: bandwidth,
                    averageBandwidth: average,
                    resolution: declared?.resolution,
                    codecs: declared?.codecs,
                    frameRate: declared?.frameRate,
                    targetDuration: timeline.targetDuration,
                    lastModified: max(state.lastModified, state.declaredAt ?? state.lastModified))
            }
        }
        return MultivariantSnapshot(stream: stream, variants: variants, isEnded: isEnded)
    }

    /// The declaration of a rendition, if one was made.
    public func declaration(stream: StreamID, rendition: RenditionName) -> RenditionDeclaration? {
        guard let found = directory.withLock({ $0.cell(stream: stream, rendition: rendition) }) else {
            return nil
        }
        let cell = typed(found)
        return cell.writer.withLock { $0.declaration }
    }

    /// The number of known streams that have not ended; exact at every moment.
    public var activeStreamCount: Int {
        directory.withLock { $0.activeCount }
    }

    /// The number of known streams, ended or not.
    public var streamCount: Int {
        directory.withLock { $0.streams.count }
    }

    /// Segments skipped by gap timeouts since the registry was created.
    /// The skip counters a snapshot keeps: since the registry began, and since the last sweep
    /// (segments, holes), which the next sweep reports.
    var skipCounters: (total: UInt64, sinceSweep: UInt64, holesSinceSweep: Int) {
        (
            skippedTotal.load(ordering: .relaxed), skippedSinceSweep.load(ordering: .relaxed),
            holesSinceSweep.load(ordering: .relaxed)
        )
    }

    /// Sets the skip counters a snapshot kept.
    func restoreSkipCounters(total: UInt64, sinceSweep: UInt64, holesSinceSweep holes: Int) {
        skippedTotal.store(total, ordering: .relaxed)
        skippedSinceSweep.store(sinceSweep, ordering: .relaxed)
        holesSinceSweep.store(holes, ordering: .relaxed)
    }

    public var skippedSegmentsTotal: UInt64 {
        skippedTotal.load(ordering: .relaxed)
    }

    /// What the registry knows of a rendition's playlist: whether the stream and the rendition
    /// are known and whether it has a segment yet. For error messages, when
    /// ``playlist(stream:rendition:)`` is `nil`.
    /// - Complexity: O(1): one directory lookup and one current-publication lock.
    public func presence(stream: StreamID, rendition: RenditionName) -> PlaylistPresence {
        let (streamKnown, found) = directory.withLock { ($0.streams[stream] != nil, $0.cell(stream: stream, rendition: rendition)) }
        guard streamKnown else { return .unknownStream }
        guard let found else { return .unknownRendition }
        let cell = typed(found)
        return cell.current.withLock { $0.publication != nil } ? .available : .noSegmentYet
    }

    /// The renditions of `stream` that have a playlist, sorted by name; empty when unknown.
    public func renditions(of stream: StreamID) -> [RenditionName] {
        let cells = directory.withLock { $0.cells(of: stream) ?? [] }
        return cells
            .filter { typed($0).current.withLock { $0.publication != nil } }
            .map(\.rendition)
            .sorted()
    }

    /// The periodic housekeeping the app runs every ~250 ms: skips holes whose gap timeout has
    /// passed (republishing those renditions), reports renditions that started or stopped
    /// looking stalled, and forgets ended and idle streams.
    ///
    /// Only renditions with something due are locked: each cell keeps the instant it next needs
    /// attention in an atomic, so the scan is one load per rendition and one per stream, outside
    /// the directory lock. Calls are serialized.
    /// - Complexity: O(*n* + *s*) atomic loads (*n* renditions, *s* streams), plus the work
    ///   due; nothing is rendered unless a hole was skipped.
    public func sweep(now: Timestamp) -> SweepReport {
        sweepState.withLock { staleCount in
            var report = SweepReport()
            let (untyped, records) = directory.withLock { ($0.allCells, $0.allRecords) }
            var cells: [RenditionCell<Artifact>] = []
            cells.reserveCapacity(untyped.count)
            for cell in untyped { cells.append(typed(cell)) }
            let instant = now.millisecondsSinceEpoch
            for cell in cells where cell.attentionAt.load(ordering: .relaxed) <= instant {
                let republished = report.republished
                cell.sweep(now: now, context: context, report: &report)
                if report.republished > republished { refreshReports(of: cell, now: now) }
            }
            skippedTotal.add(report.skippedSegments, ordering: .relaxed)
            var expired: [(StreamRecord, SweepReport.EvictionReason)] = []
            for record in records {
                if let reason = record.expiry(now: now, configuration: configuration) {
                    expired.append((record, reason))
                }
            }
            if !expired.isEmpty {
                evict(expired, now: now, report: &report)
            }
            for transition in report.staleTransitions {
                staleCount += transition.isStale ? 1 : -1
            }
            report.staleRenditionCount = staleCount
            report.skippedHoles += holesSinceSweep.exchange(0, ordering: .relaxed)
            report.skippedSegments += skippedSinceSweep.exchange(0, ordering: .relaxed)
            return report
        }
    }

    // MARK: - Internals

    var context: TimelineContext<Artifact> {
        TimelineContext(configuration: configuration, publish: publish, retire: retire, budget: budget, removals: removals) {
            [self] stream, rendition in
            renditionReports(stream: stream, excluding: rendition)
        }
    }

    /// The `#EXT-X-RENDITION-REPORT` values of the other renditions of `stream`, from their
    /// current publications (their writer locks are not taken), sorted by name.
    /// - Complexity: O(*r* log *r*): one directory lookup, one current-publication lock per
    ///   rendition.
    private func renditionReports(stream: StreamID, excluding rendition: RenditionName) -> [RenditionReport] {
        let cells = directory.withLock { $0.cells(of: stream) ?? [] }.map(typed)
        var reports: [RenditionReport] = []
        for cell in cells where cell.rendition != rendition {
            if let report = cell.current.withLock({ $0.publication?.report }) {
                reports.append(report)
            }
        }
        return reports.sorted { $0.rendition < $1.rendition }
    }

    /// Republishes each low-latency sibling of `changed` whose `#EXT-X-RENDITION-REPORT` of it
    /// differs from `changed`'s current publication (see "Rendition reports" above). Called
    /// after a change of `changed` with no writer lock held.
    ///
    /// Each sibling is checked against `changed`'s *current* publication, not the one this call
    /// follows, and checked again under its own writer lock before it is republished: a
    /// sibling's publication that started before `changed`'s swap is finished by then and is
    /// caught by the second check, and one that started after read the new values itself.
    /// - Complexity: nothing for a regular rendition; else O(*r*) current-publication reads and
    ///   one publication per sibling whose report was out of date.
    private func refreshReports(of changed: RenditionCell<Artifact>, now: Timestamp) {
        guard changed.current.withLock({ $0.publication?.snapshot.isLowLatency }) == true else { return }
        let stream = changed.record.stream
        guard let siblings = directory.withLock({ $0.cells(of: stream) }),
            siblings.count > 1, siblings.contains(where: { $0 === changed })
        else { return }
        let context = self.context
        for sibling in siblings where sibling !== changed {
            typed(sibling).refreshReport(of: changed, now: now, context: context)
        }
    }

    private func noteSkips(_ skipped: UInt64) {
        guard skipped > 0 else { return }
        skippedSinceSweep.add(skipped, ordering: .relaxed)
        holesSinceSweep.add(1, ordering: .relaxed)
        skippedTotal.add(skipped, ordering: .relaxed)
    }

    /// Forgets the streams whose records are still expired under the directory lock.
    private func evict(
        _ expired: [(StreamRecord, SweepReport.EvictionReason)], now: Timestamp, report: inout SweepReport
    ) {
        let removed = directory.withLock { directory in
            directory.evict(expired, now: now, configuration: configuration)
        }
        release(removed, now: now, report: &report)
    }

    /// Marks the cells of streams taken out of the directory evicted, reports what their
    /// playlists listed as removed, and retires their artifacts.
    func release(
        _ removed: [(StreamID, SweepReport.EvictionReason, [CellBase])], now: Timestamp, report: inout SweepReport
    ) {
        for (stream, reason, cells) in removed {
            report.evictions.append(SweepReport.Eviction(stream: stream, reason: reason))
            for cell in cells.map(typed) {
                if cell.evict(budget: budget, now: now, removals: removals) {
                    report.staleTransitions.append(
                        SweepReport.StaleTransition(stream: stream, rendition: cell.rendition, isStale: false))
                }
                // Out of the directory and marked evicted: nothing publishes here any more.
                if let artifact = cell.current.withLock({ $0.publication?.artifact }) { retire(artifact) }
            }
        }
    }

    /// Inserts `cell`, a rendition created by its first segment and without low-latency
    /// settings (whose writer lock the caller does not hold); `nil` when the rendition exists
    /// already, else whether the stream is new.
    private func insert(
        _ cell: RenditionCell<Artifact>,
        stream: StreamID,
        rendition: RenditionName,
        now: Timestamp
    ) throws(RegistryError) -> Bool? {
        let inserted = directory.withLock {
            $0.insert(cell, stream: stream, rendition: rendition, configuration: configuration, now: now, joining: .regularSegment)
        }
        switch inserted {
        case .inserted(let newStream): return newStream
        case .found: return nil
        case .ended: throw .streamEnded(stream)
        case .tooManyStreams: throw .tooManyStreams(limit: configuration.maxStreams)
        case .tooManyRenditions: throw .tooManyRenditions(stream, limit: configuration.maxRenditionsPerStream)
        case .lowLatencyConflict: throw .mixedLowLatency(stream, rendition, streamIsLowLatency: true)
        }
    }

    /// Creates the rendition with `segment` as its first segment and publishes it.
    ///
    /// Returns `nil` when another call created the rendition meanwhile (the caller retries
    /// through the directory).
    private func create(
        _ segment: Segment,
        stream: StreamID,
        rendition: RenditionName,
        now: Timestamp
    ) throws(RegistryError) -> RegistrationOutcome? {
        // Validates the first segment before anything becomes visible.
        let timeline = try context.makeTimeline(first: segment, declaration: nil, now: now)
        guard budget?.allowsGrowth(of: .records) ?? true else { throw .memoryBudgetSpent(.records) }
        var state = RenditionState()
        state.timeline = timeline
        let cell = RenditionCell<Artifact>(rendition: rendition, state: state, record: StreamRecord(stream: stream, now: now))
        // The new cell's writer lock is held while it is inserted and published: whoever finds
        // it in the directory first waits for its first publication. Nobody else can hold this
        // lock yet, so taking the directory lock inside it cannot deadlock.
        let newStream = try cell.writer.withLock { (state) throws(RegistryError) -> Bool? in
            guard let newStream = try insert(cell, stream: stream, rendition: rendition, now: now) else { return nil }
            cell.publishLocked(&state, now: now, context: context)
            cell.updateAttention(state, now: now)
            cell.settle(&state, budget: budget, path: segment.path.utf8Count)
            return newStream
        }
        guard let newStream else { return nil }
        announce(stream: stream, rendition: rendition, newStream: newStream)
        return .registered(listed: true)
    }

    /// Tells `events` that `rendition` (and, when `newStream`, its stream) appeared; called with
    /// no lock held.
    private func announce(stream: StreamID, rendition: RenditionName, newStream: Bool) {
        if newStream { events(.streamStarted(stream)) }
        events(.renditionCreated(stream, rendition))
    }
}
