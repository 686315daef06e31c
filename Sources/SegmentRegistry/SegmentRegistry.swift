public import HLSModel
import Synchronization

/// The live state of every stream and rendition: registers segments, keeps each rendition's
/// contiguous sliding window, and hands out the artifact published for its latest change.
///
/// ## Locking
/// - A directory `Mutex` maps stream and rendition to a cell; it is held only for dictionary
///   lookups and inserts.
/// - Each rendition cell has a *writer* `Mutex` (its ``RenditionTimeline``; registrations, the
///   end of the stream and the `publish` call run under it) and a tiny *current* `Mutex` that
///   holds the latest publication and is held only to copy or swap a reference.
/// - Lock order: writer → directory, writer → current. Nothing waits on a writer lock while
///   holding the directory or a current lock.
///
/// So a GET costs a dictionary lookup plus a reference copy, never waits behind a render, and a
/// registration into one rendition never holds up reads or writes of another.
///
/// ## Pinning
/// Until a playlist listing at least one segment has been served by
/// ``playlist(stream:rendition:)``, a lower sequence may still lower the start of the run.
/// Once one has been served, or once the window has slid, `#EXT-X-MEDIA-SEQUENCE` only goes up
/// and older segments are ``RegistrationOutcome/stale``.
public final class SegmentRegistry<Artifact: Sendable>: PlaylistRegistry, Sendable {
    private let configuration: RegistryConfiguration
    private let publish: @Sendable (RenditionSnapshot) -> Artifact
    private let directory = Mutex(Directory<Artifact>())

    /// Creates an empty registry.
    ///
    /// - Parameters:
    ///   - configuration: window size and optional target duration; must be
    ///     ``RegistryConfiguration/isValid`` (checked with a precondition).
    ///   - publish: turns a snapshot into the artifact served to players, typically the rendered
    ///     playlist bytes. Called exactly once per visible change of a rendition, under that
    ///     rendition's writer lock (never under a lock that readers take).
    public init(
        configuration: RegistryConfiguration,
        publish: @escaping @Sendable (RenditionSnapshot) -> Artifact
    ) {
        precondition(configuration.isValid, "RegistryConfiguration out of range: \(configuration)")
        self.configuration = configuration
        self.publish = publish
    }

    /// Registers `segment` into `rendition` of `stream`, creating both on first use.
    ///
    /// Out-of-order and repeated registrations are expected: a segment after a hole waits
    /// (`.registered(listed: false)`) until the hole fills; an exact repeat is `.duplicate`; a
    /// segment older than a pinned window is `.stale`. When this returns, the artifact for any
    /// visible change has been published, so the next read sees it.
    ///
    /// - Throws: ``RegistryError`` — the stream has ended, the sequence is known with another
    ///   path or duration, or the duration exceeds the target duration. On a throw nothing changed
    ///   (and a rendition refused its first segment is not created).
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
            case .ended:
                throw .streamEnded(stream)
            case .found(let cell):
                return try cell.register(segment, now: now, publish: publish)
            case .absent:
                if let outcome = try create(segment, stream: stream, rendition: rendition, now: now) {
                    return outcome
                }
                // Another registration created the rendition first: register into it.
            }
        }
    }

    /// Ends `stream`: each rendition is republished with `#EXT-X-ENDLIST`, and every later
    /// registration into the stream (any rendition, even a new one) throws
    /// ``RegistryError/streamEnded(_:)``.
    ///
    /// Idempotent. A stream never seen becomes known as ended.
    /// - Complexity: O(*r*) publications, one per rendition of the stream.
    public func endStream(_ stream: StreamID, now: Timestamp) -> EndOutcome {
        let cells: [RenditionCell<Artifact>]? = directory.withLock { directory in
            directory.markEnded(stream)
        }
        guard let cells else { return .alreadyEnded }
        for cell in cells {
            cell.end(now: now, publish: publish)
        }
        return .ended
    }

    /// The artifact of the latest change of a rendition — the hot path of a player's GET.
    ///
    /// Serving a playlist that lists segments pins the window (see the type's documentation).
    /// The first such read takes the rendition's writer lock once to pin, and returns the
    /// publication current at that moment; every later read is a lookup and a reference copy.
    /// - Returns: `nil` when the stream or rendition is unknown.
    /// - Complexity: O(1): one dictionary lookup under the directory lock and one reference
    ///   copy under the rendition's current-publication lock.
    public func playlist(stream: StreamID, rendition: RenditionName) -> Artifact? {
        guard let cell = directory.withLock({ $0.cell(stream: stream, rendition: rendition) }) else {
            return nil
        }
        let current = cell.current.withLock { $0 }
        guard let publication = current.publication else { return nil }
        if current.isPinned || !publication.listsSegments {
            return publication.artifact
        }
        return cell.pin()
    }

    /// The latest snapshot of a rendition; unlike ``playlist(stream:rendition:)`` it does not pin.
    /// - Returns: `nil` when the stream or rendition is unknown.
    public func snapshot(stream: StreamID, rendition: RenditionName) -> RenditionSnapshot? {
        guard let cell = directory.withLock({ $0.cell(stream: stream, rendition: rendition) }) else {
            return nil
        }
        return cell.current.withLock { $0.publication }?.snapshot
    }

    /// The number of known streams that have not ended.
    public var activeStreamCount: Int {
        directory.withLock { $0.activeCount }
    }

    /// The number of known streams, ended or not.
    public var streamCount: Int {
        directory.withLock { $0.streams.count }
    }

    /// The renditions of `stream` that have a playlist, sorted by name; empty when unknown.
    public func renditions(of stream: StreamID) -> [RenditionName] {
        let cells = directory.withLock { $0.streams[stream]?.renditions ?? [:] }
        return cells
            .filter { $0.value.current.withLock { $0.publication != nil } }
            .map { $0.key }
            .sorted()
    }

    /// Creates the rendition with `segment` as its first segment and publishes it.
    ///
    /// Returns `nil` when another registration created the rendition meanwhile (the caller
    /// retries through the directory).
    private func create(
        _ segment: Segment,
        stream: StreamID,
        rendition: RenditionName,
        now: Timestamp
    ) throws(RegistryError) -> RegistrationOutcome? {
        // Validates the first segment before anything becomes visible.
        let timeline = try RenditionTimeline(
            first: segment,
            windowSize: configuration.windowSize,
            configuredTargetDuration: configuration.targetDuration
        )
        let cell = RenditionCell<Artifact>(
            state: RenditionState(stream: stream, rendition: rendition, timeline: timeline))
        // The new cell's writer lock is held while it is inserted and published: whoever finds
        // it in the directory first waits for its first publication. Nobody else can hold this
        // lock yet, so taking the directory lock inside it cannot deadlock.
        return try cell.writer.withLock { (state) throws(RegistryError) -> RegistrationOutcome? in
            let inserted = directory.withLock { $0.insert(cell, stream: stream, rendition: rendition) }
            switch inserted {
            case .ended:
                throw .streamEnded(stream)
            case .found:
                return nil
            case .absent:
                cell.publishLocked(&state, now: now, publish: publish)
                return .registered(listed: true)
            }
        }
    }
}

// MARK: - Directory

/// What the directory knows about a (stream, rendition) pair.
private enum Lookup<Artifact: Sendable> {
    case ended
    case found(RenditionCell<Artifact>)
    case absent
}

/// The stream → rendition → cell map; only ever touched under the registry's directory lock.
private struct Directory<Artifact: Sendable>: ~Copyable {
    struct StreamEntry {
        var isEnded = false
        var renditions: [RenditionName: RenditionCell<Artifact>] = [:]
        // Seam: TTL eviction would keep `endedAt` / `lastActivity` here.
    }

    var streams: [StreamID: StreamEntry] = [:]
    var activeCount = 0

    func lookup(stream: StreamID, rendition: RenditionName) -> Lookup<Artifact> {
        guard let entry = streams[stream] else { return .absent }
        if entry.isEnded { return .ended }
        if let cell = entry.renditions[rendition] { return .found(cell) }
        return .absent
    }

    func cell(stream: StreamID, rendition: RenditionName) -> RenditionCell<Artifact>? {
        streams[stream]?.renditions[rendition]
    }

    /// Inserts `cell` unless the stream has ended or the rendition exists; `.absent` = inserted.
    mutating func insert(
        _ cell: RenditionCell<Artifact>,
        stream: StreamID,
        rendition: RenditionName
    ) -> Lookup<Artifact> {
        let existing = lookup(stream: stream, rendition: rendition)
        guard case .absent = existing else { return existing }
        if streams[stream] == nil {
            // Seam: caps on streams and renditions would refuse here.
            streams[stream] = StreamEntry()
            activeCount += 1
        }
        streams[stream]?.renditions[rendition] = cell
        return .absent
    }

    /// Marks `stream` ended; returns its cells, or `nil` when it had already ended.
    mutating func markEnded(_ stream: StreamID) -> [RenditionCell<Artifact>]? {
        guard let entry = streams[stream] else {
            streams[stream] = StreamEntry(isEnded: true)
            return []
        }
        if entry.isEnded { return nil }
        streams[stream]?.isEnded = true
        activeCount -= 1
        return Array(entry.renditions.values)
    }
}

// MARK: - Rendition cell

/// The mutable state of one rendition, owned by its writer lock.
struct RenditionState: Sendable {
    let stream: StreamID
    let rendition: RenditionName
    var timeline: RenditionTimeline
    /// The version of the latest publication; 0 before the first.
    var version: UInt64 = 0
    var lastModified = Timestamp(millisecondsSinceEpoch: 0)

    init(stream: StreamID, rendition: RenditionName, timeline: RenditionTimeline) {
        self.stream = stream
        self.rendition = rendition
        self.timeline = timeline
    }

    var snapshot: RenditionSnapshot {
        RenditionSnapshot(
            stream: stream,
            rendition: rendition,
            version: version,
            targetDuration: timeline.targetDuration,
            mediaSequence: timeline.mediaSequence,
            segments: timeline.window,
            isEnded: timeline.isEnded,
            lastModified: lastModified
        )
    }
}

/// An immutable (snapshot, artifact) pair; replaced as a whole on every visible change.
final class Publication<Artifact: Sendable>: Sendable {
    let snapshot: RenditionSnapshot
    let artifact: Artifact
    let listsSegments: Bool

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

/// One rendition: its writer state and its current publication, each behind its own lock.
final class RenditionCell<Artifact: Sendable>: Sendable {
    let writer: Mutex<RenditionState>
    let current = Mutex(CurrentPublication<Artifact>())

    init(state: sending RenditionState) {
        writer = Mutex(state)
    }

    func register(
        _ segment: Segment,
        now: Timestamp,
        publish: (RenditionSnapshot) -> Artifact
    ) throws(RegistryError) -> RegistrationOutcome {
        try writer.withLock { (state) throws(RegistryError) -> RegistrationOutcome in
            guard !state.timeline.isEnded else { throw .streamEnded(state.stream) }
            let registration = try state.timeline.register(segment)
            if registration.isVisibleChange {
                publishLocked(&state, now: now, publish: publish)
            }
            return registration.outcome
        }
    }

    func end(now: Timestamp, publish: (RenditionSnapshot) -> Artifact) {
        writer.withLock { state in
            if state.timeline.end() {
                publishLocked(&state, now: now, publish: publish)
            }
        }
    }

    /// Pins the window and returns the artifact current at that moment.
    func pin() -> Artifact? {
        writer.withLock { state in
            current.withLock { current in
                guard let publication = current.publication else { return nil }
                if publication.listsSegments {
                    state.timeline.pin()
                    current.isPinned = true
                }
                return publication.artifact
            }
        }
    }

    /// Bumps the version, calls `publish` and swaps the new publication in; the caller holds the
    /// writer lock (`state` is its value).
    func publishLocked(_ state: inout RenditionState, now: Timestamp, publish: (RenditionSnapshot) -> Artifact) {
        state.version += 1
        state.lastModified = now
        let snapshot = state.snapshot
        let publication = Publication(snapshot: snapshot, artifact: publish(snapshot))
        let isPinned = state.timeline.isPinned
        let previous = current.withLock { current in
            let previous = current.publication
            current = CurrentPublication(publication: publication, isPinned: isPinned)
            return previous
        }
        // The previous publication is released here, outside the tiny lock.
        _ = previous
    }
}
