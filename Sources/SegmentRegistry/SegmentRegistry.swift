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
    private let events: @Sendable (RegistryEvent) -> Void
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
        events: @escaping @Sendable (RegistryEvent) -> Void = { _ in },
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
        if let declared = declaration.targetDuration, let fixed = configuration.targetDuration, declared != fixed {
            throw RegistryError.targetDurationConflict(rendition, declared: declared, fixed: fixed)
        }
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
                let policy = declaration.partTarget.map {
                    LowLatencyPolicy(partTarget: $0, targetDuration: configuration.targetDuration ?? declaration.targetDuration)
                }
                let joining = policy.map(StreamKind.Joining.lowLatency) ?? .regularDeclaration
                let inserted = directory.withLock {
                    $0.insert(cell, stream: stream, rendition: rendition, configuration: configuration, now: now, joining: joining)
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

    private var context: TimelineContext<Artifact> {
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

// MARK: - Timeline context

/// What a cell needs from the registry to create timelines and publish.
struct TimelineContext<Artifact: Sendable> {
    let configuration: RegistryConfiguration
    let publish: @Sendable (RenditionSnapshot) -> Artifact
    /// Told of the artifact a publication replaced.
    let retire: @Sendable (Artifact) -> Void
    /// What the cells charge their footprint to; nil: not counted.
    let budget: MemoryBudget?
    /// Told of what each publication took out of its playlist.
    let removals: @Sendable (SegmentRemoval) -> Void
    /// The rendition reports of the other renditions of a stream.
    let reports: (StreamID, RenditionName) -> [RenditionReport]

    /// A timeline whose target duration is the operator's, else the declared one, else (for a
    /// low-latency rendition) the one the stream's low-latency renditions share, else taken
    /// from `first`; with the declaration's low-latency settings and map URI.
    func makeTimeline(
        first: Segment, declaration: RenditionDeclaration?, sharedTargetDuration: Int64? = nil,
        earlyParts: [PartialSegment] = [], now: Timestamp
    ) throws(RegistryError) -> RenditionTimeline {
        let isLowLatency = declaration?.partTarget != nil
        return try RenditionTimeline(
            first: first,
            windowSize: configuration.windowSize,
            targetDuration: configuration.targetDuration ?? declaration?.targetDuration
                ?? (isLowLatency ? sharedTargetDuration : nil),
            gapTimeoutMilliseconds: configuration.gapTimeoutMilliseconds,
            maxPendingSegments: configuration.maxPendingSegments,
            now: now,
            partTarget: declaration?.partTarget,
            partURITemplate: declaration?.partURITemplate,
            mapURI: declaration?.mapURI,
            earlyParts: earlyParts)
    }
}

// MARK: - Stream-wide low-latency settings

/// What every low-latency rendition of a stream shares (rfc8216bis §6.2.4): one part target and
/// one target duration, so `#EXT-X-SERVER-CONTROL` is identical across them.
struct LowLatencyPolicy: Equatable, Sendable {
    var partTarget: SegmentDuration?
    var targetDuration: Int64?
}

/// Why a stream's low-latency policy refused a value.
enum LowLatencyPolicyConflict: Equatable, Sendable {
    case partTarget(fixed: SegmentDuration)
    case targetDuration(fixed: Int64)
    /// A low-latency rendition in a stream whose regular renditions have segments.
    case regularStream
    /// A regular rendition in a stream with low-latency renditions.
    case lowLatencyStream

    /// The error that reports the conflict for a declaration of `policy`.
    func error(stream: StreamID, rendition: RenditionName, policy: LowLatencyPolicy?) -> any Error {
        switch self {
        case .partTarget(let fixed):
            return LowLatencyError.partTargetConflict(rendition, declared: policy?.partTarget ?? fixed, fixed: fixed)
        case .targetDuration(let fixed):
            return LowLatencyError.streamTargetDurationConflict(stream, declared: policy?.targetDuration ?? fixed, fixed: fixed)
        case .regularStream:
            return RegistryError.mixedLowLatency(stream, rendition, streamIsLowLatency: false)
        case .lowLatencyStream:
            return RegistryError.mixedLowLatency(stream, rendition, streamIsLowLatency: true)
        }
    }
}

/// Whether a stream's renditions are low-latency or regular (rfc8216bis §6.2.4: one
/// `#EXT-X-SERVER-CONTROL` for all of them), with the values its low-latency renditions share.
struct StreamKind: Equatable, Sendable {
    /// The shared low-latency values; a part target is set once the stream is low-latency.
    var lowLatency = LowLatencyPolicy()
    /// Set by the first segment of a rendition without low-latency settings.
    var hasRegularRendition = false

    /// How a rendition joins its stream.
    enum Joining: Equatable, Sendable {
        /// A low-latency declaration or first segment: its values must agree with the shared ones.
        case lowLatency(LowLatencyPolicy)
        /// A declaration without `part_target`: refused when the stream is low-latency.
        case regularDeclaration
        /// The first segment of a rendition without low-latency settings: makes the stream regular.
        case regularSegment
    }
}

// MARK: - Directory

/// What the directory knows about a (stream, rendition) pair.
enum Lookup {
    /// The stream has ended; the rendition's cell, when it has one.
    case ended(CellBase?)
    case found(CellBase)
    case absent
}

/// What marking a stream ended in the directory did.
enum EndMarking {
    /// The stream is now ended; these cells must be republished.
    case ended([CellBase])
    case alreadyEnded
    /// The stream is unknown and the registry is full: nothing changed.
    case tooManyStreams
    /// The stream is unknown and the memory budget is spent: nothing changed.
    case budgetSpent
}

/// What an insert into the directory did.
enum Insertion {
    /// Inserted; `newStream` when the rendition is its stream's first.
    case inserted(newStream: Bool)
    case found, ended, tooManyStreams, tooManyRenditions
    case lowLatencyConflict(LowLatencyPolicyConflict)
}

/// The stream → rendition → cell map; only ever touched under the registry's directory lock.
struct Directory: ~Copyable {
    /// Charged a stream record for each stream while it is known.
    let budget: MemoryBudget?

    init(budget: MemoryBudget?) {
        self.budget = budget
    }

    /// One stream. A class, so a lookup under the lock copies one reference, not the entry.
    /// Never leaves the directory lock.
    final class StreamEntry {
        /// One rendition: its name next to its cell, so the scan compares names in the members'
        /// buffer instead of loading every cell it passes (each load a likely cache miss on the
        /// read path, where playlists are fetched at random).
        struct Member {
            let rendition: RenditionName
            let cell: CellBase
        }

        var isEnded: Bool
        let record: StreamRecord
        /// The stream's renditions in the order they were created; a stream has a handful
        /// (at most `MAX_RENDITIONS_PER_STREAM`), so a scan by name beats a table per stream.
        var members: [Member] = []

        init(isEnded: Bool = false, record: StreamRecord) {
            self.isEnded = isEnded
            self.record = record
        }

        /// The stream's cells, in creation order.
        var cells: [CellBase] { members.map(\.cell) }

        /// - Complexity: O(*r*) name comparisons (*r*: renditions of the stream).
        func cell(_ rendition: RenditionName) -> CellBase? {
            members.withUnsafeBufferPointer { members in
                for member in members where member.rendition == rendition { return member.cell }
                return nil
            }
        }
    }

    var streams: [StreamID: StreamEntry] = [:]
    /// Bumped whenever a stream is added or removed (the sorted index of the operator API
    /// rebuilds after a change).
    var version: UInt64 = 0
    var activeCount = 0
    /// Every cell, for sweeps (copied in O(1), scanned outside the lock).
    var allCells: [CellBase] = []
    /// Every stream's record, for sweeps.
    var allRecords: [StreamRecord] = []

    /// - Complexity: O(*r*): one hash lookup, then a scan of the stream's renditions.
    func lookup(stream: StreamID, rendition: RenditionName) -> Lookup {
        guard let entry = streams[stream] else { return .absent }
        let cell = entry.cell(rendition)
        if entry.isEnded { return .ended(cell) }
        if let cell { return .found(cell) }
        return .absent
    }

    /// - Complexity: O(*r*): one hash lookup, then a scan of the stream's renditions.
    func cell(stream: StreamID, rendition: RenditionName) -> CellBase? {
        streams[stream]?.cell(rendition)
    }

    /// The cells of `stream`, in creation order; `nil` when the stream is unknown.
    func cells(of stream: StreamID) -> [CellBase]? { streams[stream]?.cells }

    /// Inserts `cell` unless the stream has ended, the rendition exists, a cap is reached or
    /// the cell cannot join the stream's kind (low-latency or regular).
    /// A new stream adopts `cell.record`; an existing one's record is shared with the cell.
    /// The stream's kind is checked and fixed by `joining` atomically with the insertion, under
    /// the directory lock.
    mutating func insert(
        _ cell: CellBase,
        stream: StreamID,
        rendition: RenditionName,
        configuration: RegistryConfiguration,
        now: Timestamp,
        joining: StreamKind.Joining
    ) -> Insertion {
        switch lookup(stream: stream, rendition: rendition) {
        case .ended: return .ended
        case .found: return .found
        case .absent: break
        }
        let entry: StreamEntry
        let isNewStream: Bool
        if let existing = streams[stream] {
            guard existing.members.count < configuration.maxRenditionsPerStream else { return .tooManyRenditions }
            if let conflict = existing.record.join(joining) {
                return .lowLatencyConflict(conflict)
            }
            cell.adopt(existing.record)
            (entry, isNewStream) = (existing, false)
        } else {
            guard streams.count < configuration.maxStreams else { return .tooManyStreams }
            if let conflict = cell.record.join(joining) {
                return .lowLatencyConflict(conflict)
            }
            entry = StreamEntry(record: cell.record)
            streams[stream] = entry
            allRecords.append(cell.record)
            activeCount += 1
            isNewStream = true
            version &+= 1
            budget?.adjust(MemoryBudget.Estimate.stream, for: .records)
        }
        cell.record.touch(now)
        entry.members.append(StreamEntry.Member(rendition: rendition, cell: cell))
        allCells.append(cell)
        return .inserted(newStream: isNewStream)
    }

    /// Marks `stream` ended. An unknown stream is entered as ended (no renditions) when the
    /// cap leaves room for it; otherwise nothing changes.
    mutating func markEnded(_ stream: StreamID, now: Timestamp, maxStreams: Int) -> EndMarking {
        guard let entry = streams[stream] else {
            guard streams.count < maxStreams else { return .tooManyStreams }
            guard budget?.allowsGrowth(of: .records) ?? true else { return .budgetSpent }
            budget?.adjust(MemoryBudget.Estimate.stream, for: .records)
            version &+= 1
            let record = StreamRecord(stream: stream, now: now)
            record.markEnded(now)
            streams[stream] = StreamEntry(isEnded: true, record: record)
            allRecords.append(record)
            return .ended([])
        }
        if entry.isEnded { return .alreadyEnded }
        entry.isEnded = true
        entry.record.markEnded(now)
        activeCount -= 1
        return .ended(entry.cells)
    }

    /// Removes the streams whose records are still expired; returns them with their cells.
    mutating func evict(
        _ expired: [(StreamRecord, SweepReport.EvictionReason)],
        now: Timestamp,
        configuration: RegistryConfiguration
    ) -> [(StreamID, SweepReport.EvictionReason, [CellBase])] {
        var removed: [(StreamID, SweepReport.EvictionReason, [CellBase])] = []
        var removedCells = Set<ObjectIdentifier>()
        var removedRecords = Set<ObjectIdentifier>()
        for (record, _) in expired {
            // Re-checked under the lock: a registration may have touched it since the scan.
            guard let reason = record.expiry(now: now, configuration: configuration),
                let entry = streams[record.stream], entry.record === record
            else { continue }
            let stream = record.stream
            streams[stream] = nil
            version &+= 1
            budget?.adjust(-MemoryBudget.Estimate.stream, for: .records)
            if !entry.isEnded { activeCount -= 1 }
            removedRecords.insert(ObjectIdentifier(record))
            let cells = entry.cells
            for cell in cells { removedCells.insert(ObjectIdentifier(cell)) }
            removed.append((stream, reason, cells))
        }
        if !removedCells.isEmpty { allCells.removeAll { removedCells.contains(ObjectIdentifier($0)) } }
        if !removedRecords.isEmpty { allRecords.removeAll { removedRecords.contains(ObjectIdentifier($0)) } }
        return removed
    }

    /// Removes `stream` at once (an operator's delete); returns its cells, or nil when unknown.
    mutating func remove(_ stream: StreamID) -> [CellBase]? {
        guard let entry = streams.removeValue(forKey: stream) else { return nil }
        version &+= 1
        budget?.adjust(-MemoryBudget.Estimate.stream, for: .records)
        if !entry.isEnded { activeCount -= 1 }
        let cells = Set(entry.cells.map(ObjectIdentifier.init))
        if !cells.isEmpty { allCells.removeAll { cells.contains(ObjectIdentifier($0)) } }
        allRecords.removeAll { $0 === entry.record }
        return entry.cells
    }
}

// MARK: - Stream record

/// Per-stream timestamps read by sweeps without any lock.
final class StreamRecord: Sendable {
    /// When the stream last got a registration or declaration, in ms since the epoch.
    private let lastActivity: Atomic<Int64>
    /// When the stream ended, or `Int64.max` while live.
    private let endedAt = Atomic<Int64>(.max)
    /// The stream.
    let stream: StreamID
    /// Whether the stream is low-latency or regular, and what its low-latency renditions
    /// share; a leaf lock.
    private let kind = Mutex(StreamKind())

    /// When the stream became known.
    let createdAt: Timestamp

    init(stream: StreamID, now: Timestamp) {
        self.stream = stream
        createdAt = now
        lastActivity = Atomic(now.millisecondsSinceEpoch)
    }

    /// When the stream last got a registration or declaration.
    var updatedAt: Timestamp { Timestamp(millisecondsSinceEpoch: lastActivity.load(ordering: .relaxed)) }

    /// `true` once a low-latency declaration or segment made the stream low-latency, `false`
    /// once a regular rendition's first segment made it regular, `nil` while undecided.
    var isLowLatency: Bool? {
        kind.withLock { kind in
            if kind.lowLatency.partTarget != nil { return true }
            return kind.hasRegularRendition ? false : nil
        }
    }

    /// Notes activity at `now` (never moves backwards).
    func touch(_ now: Timestamp) {
        lastActivity.max(now.millisecondsSinceEpoch, ordering: .relaxed)
    }

    /// Checks that a rendition may join the stream as `joining` says, and fixes what it
    /// fixes: a low-latency rendition's values that are set (unless one differs from a value
    /// already fixed, or the stream is regular), or the stream's being regular. On a conflict
    /// nothing changes and the conflict is returned.
    func join(_ joining: StreamKind.Joining) -> LowLatencyPolicyConflict? {
        kind.withLock { kind in
            switch joining {
            case .lowLatency(let policy):
                if kind.hasRegularRendition { return .regularStream }
                let fixed = kind.lowLatency
                if let declared = policy.partTarget, let existing = fixed.partTarget, declared != existing {
                    return .partTarget(fixed: existing)
                }
                if let declared = policy.targetDuration, let existing = fixed.targetDuration, declared != existing {
                    return .targetDuration(fixed: existing)
                }
                kind.lowLatency.partTarget = fixed.partTarget ?? policy.partTarget
                kind.lowLatency.targetDuration = fixed.targetDuration ?? policy.targetDuration
                return nil
            case .regularDeclaration:
                return kind.lowLatency.partTarget == nil ? nil : .lowLatencyStream
            case .regularSegment:
                guard kind.lowLatency.partTarget == nil else { return .lowLatencyStream }
                kind.hasRegularRendition = true
                return nil
            }
        }
    }

    /// The target duration the stream's low-latency renditions share, once fixed.
    var sharedTargetDuration: Int64? { kind.withLock { $0.lowLatency.targetDuration } }

    func markEnded(_ now: Timestamp) {
        endedAt.store(now.millisecondsSinceEpoch, ordering: .relaxed)
    }

    /// Why the stream should be forgotten at `now`, if it should.
    func expiry(now: Timestamp, configuration: RegistryConfiguration) -> SweepReport.EvictionReason? {
        let ended = endedAt.load(ordering: .relaxed)
        if ended != .max {
            let ttl = configuration.endedStreamTTLMilliseconds
            return ttl > 0 && Timestamp(millisecondsSinceEpoch: ended).milliseconds(to: now) >= ttl ? .ended : nil
        }
        let ttl = configuration.idleStreamTTLMilliseconds
        let last = Timestamp(millisecondsSinceEpoch: lastActivity.load(ordering: .relaxed))
        return ttl > 0 && last.milliseconds(to: now) >= ttl ? .idle : nil
    }
}

// MARK: - Rendition cell

/// The mutable state of one rendition, owned by its writer lock.
struct RenditionState: Sendable {
    /// `nil` until the first segment (a declaration alone creates the rendition).
    var timeline: RenditionTimeline?
    /// The rendition's declaration (`PUT`), if any, and when it was last made (it changes the
    /// multivariant playlist); boxed, so the many renditions that never declare one carry a
    /// pointer instead of the whole value.
    var declaration: RenditionDeclaration? { declarationBox?.value }
    var declaredAt: Timestamp? { declarationBox?.declaredAt }
    private var declarationBox: DeclarationBox?

    /// Records `declaration`, made at `now`.
    mutating func declare(_ declaration: RenditionDeclaration, at now: Timestamp) {
        declarationBox = DeclarationBox(declaration, declaredAt: now)
    }
    var isEnded = false
    /// Set when the stream is forgotten; a registration that finds it retries.
    var isEvicted = false
    /// Whether the last sweep reported this rendition as stalled.
    var reportedStale = false
    /// The version of the latest publication; 0 before the first.
    var version: UInt64 = 0
    var lastModified = Timestamp(millisecondsSinceEpoch: 0)
    /// Parts of a low-latency rendition that arrived before its first segment.
    var earlyParts: [PartialSegment] = []
    /// The longest of the playlists published so far, in milliseconds of segments (for how long a
    /// removed segment must stay available, rfc8216bis §6.2.2).
    var longestPlaylistMilliseconds: Int64 = 0
    /// What is charged to the memory budget for this rendition now, by part.
    var chargedRecords = 0
    var chargedPending = 0
    /// The longest path (UTF-8 bytes) of any segment or part the rendition got: every stored
    /// one is estimated at this length, an upper bound that needs no per-item bookkeeping.
    var longestPath = 0

    init() {}

    /// The estimated bytes this rendition holds: its record with the listed window, and what it
    /// buffers ahead of a hole or before its first segment.
    /// - Complexity: O(*s*) in the sequences with parts.
    var footprint: (records: Int, pending: Int) {
        let perItem = MemoryBudget.Estimate.segment + longestPath
        var records = MemoryBudget.Estimate.rendition
        var pending = earlyParts.count * perItem
        if let counts = timeline?.storedCounts {
            records += (counts.listedSegments + counts.completedParts) * perItem
            pending += (counts.pendingSegments + counts.bufferedParts) * perItem
        }
        return (records, pending)
    }

    /// Whether a part with the coordinates of `part` is held (exactly or not): a later one with
    /// other attributes is a conflict, not a new part.
    func knowsPart(_ part: PartialSegment) -> Bool {
        if let timeline { return timeline.knowsPart(part) }
        return earlyParts.contains { $0.sequence == part.sequence && $0.part == part.part }
    }

    /// Whether `part` is held exactly: by the timeline, or waiting for the first segment.
    func holds(_ part: PartialSegment) -> Bool {
        if let timeline { return timeline.holds(part) }
        return earlyParts.contains(part)
    }

    /// What the playlist of `rendition` of `stream` shows now (the names are the cell's: the
    /// state does not repeat them).
    func snapshot(
        of timeline: RenditionTimeline, stream: StreamID, rendition: RenditionName, reports: [RenditionReport] = []
    ) -> RenditionSnapshot {
        RenditionSnapshot(
            stream: stream,
            rendition: rendition,
            version: version,
            targetDuration: timeline.targetDuration,
            mediaSequence: timeline.mediaSequence,
            segments: timeline.window,
            isEnded: timeline.isEnded,
            lastModified: lastModified,
            discontinuitySequence: timeline.discontinuitySequence,
            discontinuities: timeline.discontinuities,
            partTarget: timeline.partTarget,
            partURITemplate: timeline.partTarget == nil ? nil : timeline.partURITemplate,
            mapURI: timeline.mapURI,
            parts: timeline.listedParts(),
            renditionReports: reports
        )
    }
}

/// A declaration, behind one reference.
final class DeclarationBox: Sendable {
    let value: RenditionDeclaration
    let declaredAt: Timestamp
    init(_ value: RenditionDeclaration, declaredAt: Timestamp) {
        self.value = value
        self.declaredAt = declaredAt
    }
}

/// An immutable (snapshot, artifact) pair; replaced as a whole on every visible change.
final class Publication<Artifact: Sendable>: Sendable {
    let snapshot: RenditionSnapshot
    let artifact: Artifact
    let listsSegments: Bool

    /// What `#EXT-X-RENDITION-REPORT` says about this publication in the other renditions
    /// (computed when asked: only low-latency siblings ask, and a stored copy would cost every
    /// rendition its size).
    var report: RenditionReport? {
        snapshot.lastMSN.map { RenditionReport(rendition: snapshot.rendition, lastMSN: $0, lastPart: snapshot.lastPart) }
    }

    init(snapshot: RenditionSnapshot, artifact: Artifact) {
        self.snapshot = snapshot
        self.artifact = artifact
        self.listsSegments = !snapshot.segments.isEmpty
    }
}

/// What readers see: the latest publication and whether serving it needs no pinning.
struct CurrentPublication<Artifact: Sendable>: Sendable {
    var publication: Publication<Artifact>?
    var isPinned = false
}

/// The untyped face of a ``RenditionCell``, under which the directory holds cells. No state of
/// its own; every subclass is a `RenditionCell`, whose stored properties are all `let`s of
/// `Sendable` types (locks and atomics), which is what the unchecked `Sendable` stands for.
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
            if let budget = context.budget, let next = state.timeline?.nextSequence,
                segment.sequence.rawValue > next, state.timeline?.holds(segment) != true, !budget.allowsGrowth(of: .pending)
            {
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
        if isLowLatency {
            let policy = LowLatencyPolicy(partTarget: timeline.partTarget, targetDuration: timeline.targetDuration)
            switch record.join(.lowLatency(policy)) {
            case .targetDuration(let fixed):
                throw .targetDurationConflict(rendition, declared: timeline.targetDuration, fixed: fixed)
            case .regularStream:
                throw .mixedLowLatency(record.stream, rendition, streamIsLowLatency: false)
            case .partTarget, .lowLatencyStream, nil:
                break  // the part target was fixed with the declaration
            }
        } else if record.join(.regularSegment) != nil {
            throw .mixedLowLatency(record.stream, rendition, streamIsLowLatency: true)
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
            let partTarget = state.timeline == nil ? state.declaration?.partTarget : state.timeline?.partTarget
            guard let partTarget else { throw LowLatencyError.notLowLatency(rendition) }
            guard part.duration <= partTarget else {
                throw LowLatencyError.exceedsPartTarget(
                    sequence: part.sequence, part: part.part, duration: part.duration, partTarget: partTarget)
            }
            // Every part of a rendition with a template is announced by a preload hint before it
            // is listed (the hint names the first missing part), so its path must be the hint's.
            let template = state.timeline?.partURITemplate ?? state.declaration?.partURITemplate
            if let template, !state.knowsPart(part) {
                let hinted = template.uri(sequence: part.sequence, part: part.part)
                guard part.path.rawValue == hinted else {
                    throw LowLatencyError.hintMismatch(sequence: part.sequence, part: part.part, hinted: hinted)
                }
            }
            // A part of a later segment than the one in progress, or before the first segment,
            // is buffered: growth the budget may refuse.
            if let budget = context.budget, !state.knowsPart(part),
                part.sequence.rawValue > (state.timeline?.nextSequence ?? 0) || state.timeline == nil,
                !budget.allowsGrowth(of: .pending)
            {
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
            if let declared = declaration.targetDuration, let timeline = state.timeline,
                declared != timeline.targetDuration
            {
                throw RegistryError.targetDurationConflict(rendition, declared: declared, fixed: timeline.targetDuration)
            }
            if let timeline = state.timeline {
                if let declared = declaration.partTarget, declared != timeline.partTarget {
                    throw LowLatencyError.partTargetConflict(rendition, declared: declared, fixed: timeline.partTarget)
                }
                if let declared = declaration.mapURI, declared != timeline.mapURI {
                    throw LowLatencyError.mapURIConflict(rendition, declared: declared, fixed: timeline.mapURI)
                }
            }
            if let partTarget = declaration.partTarget {
                let targetDuration = configuration.targetDuration ?? declaration.targetDuration
                    ?? (state.timeline?.isLowLatency == true ? state.timeline?.targetDuration : nil)
                let policy = LowLatencyPolicy(partTarget: partTarget, targetDuration: targetDuration)
                if let conflict = record.join(.lowLatency(policy)) {
                    throw conflict.error(stream: record.stream, rendition: rendition, policy: policy)
                }
            } else if state.timeline?.isLowLatency != true, let conflict = record.join(.regularDeclaration) {
                // A rendition whose low-latency settings are fixed keeps them; any other becomes regular.
                throw conflict.error(stream: record.stream, rendition: rendition, policy: nil)
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
