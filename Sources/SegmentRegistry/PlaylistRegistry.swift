public import HLSModel

/// Every registry operation the app uses, so another backend can replace ``SegmentRegistry`` (the
/// in-memory default) without touching a handler: the app holds an `any PlaylistRegistry` made
/// by a ``PlaylistRegistryFactory``.
///
/// The contract a backend keeps:
/// - Every operation is synchronous and called from HTTP worker threads; reads
///   (``playlist(stream:rendition:)``, ``presence(stream:rendition:)``) must not wait on I/O or
///   on writers: they are the hot path.
/// - `publish` (given to the factory) is called exactly once per visible change of a rendition,
///   before the mutating call returns, so the next read sees what a 201 promised and held
///   blocking reloads are woken by it.
/// - `retire` (given to the factory) is called once for each artifact that stops being the one
///   served (replaced by a newer publication, or its stream forgotten), after the replacement is
///   visible and before the mutating call (or sweep) returns: the app's caches of served bytes
///   rely on it.
/// - Time is passed in as `now` and nothing else is read from the outside, so the mutating calls
///   (`register`, `registerPart`, `declare`, `endStream`, `sweep`) replayed in order with the same
///   arguments rebuild the same state. That is the seam for a durable journal (append each
///   accepted call before answering, replay at start-up) and for a backend shared by several
///   instances (apply the same calls to a shared store, publish locally what it returns).
public protocol PlaylistRegistry<Artifact>: Sendable {
    /// What is published once per visible change of a rendition (typically the playlist bytes).
    associatedtype Artifact: Sendable

    /// Registers `segment` into `rendition` of `stream`, creating both on first use.
    func register(
        _ segment: Segment,
        stream: StreamID,
        rendition: RenditionName,
        now: Timestamp
    ) throws(RegistryError) -> RegistrationOutcome

    /// Registers a partial segment of a low-latency rendition.
    func registerPart(
        _ part: PartialSegment,
        stream: StreamID,
        rendition: RenditionName,
        now: Timestamp
    ) throws -> RegistrationOutcome

    /// Declares the metadata (and low-latency settings) of a rendition, creating it when unknown.
    func declare(
        _ declaration: RenditionDeclaration,
        stream: StreamID,
        rendition: RenditionName,
        now: Timestamp
    ) throws -> DeclarationOutcome

    /// Ends `stream`: every rendition gets `#EXT-X-ENDLIST` and later registrations are refused.
    /// Throws ``RegistryError/tooManyStreams(limit:)`` when an unknown stream cannot be recorded.
    func endStream(_ stream: StreamID, now: Timestamp) throws(RegistryError) -> EndOutcome

    /// The latest artifact of a rendition, as served to players; `nil` when unknown.
    func playlist(stream: StreamID, rendition: RenditionName) -> Artifact?

    /// The latest artifact of a rendition without pinning it, and whether serving it would pin
    /// the window (it lists segments and the window is not pinned yet): a store that logs every
    /// change applies a ``RegistryCommand/pin(stream:rendition:)`` first. `nil` when unknown.
    func unpinnedPlaylist(stream: StreamID, rendition: RenditionName) -> (artifact: Artifact, needsPin: Bool)?

    /// Pins the window of a rendition (see ``RegistryCommand/pin(stream:rendition:)``); nothing
    /// when it is unknown, lists no segment or is pinned already.
    func pin(stream: StreamID, rendition: RenditionName)

    /// Whether ``sweep(now:)`` at `now` would have anything to do (a deadline passed): a store
    /// that logs every change logs a sweep only then.
    func sweepIsDue(now: Timestamp) -> Bool

    /// The latest snapshot of a rendition, without the side effects of serving it; `nil` when unknown.
    func snapshot(stream: StreamID, rendition: RenditionName) -> RenditionSnapshot?

    /// What the multivariant playlist of `stream` lists; `nil` when the stream is unknown.
    func multivariant(stream: StreamID) -> MultivariantSnapshot?

    /// Whether the stream, the rendition and a first segment are known (for error messages).
    func presence(stream: StreamID, rendition: RenditionName) -> PlaylistPresence

    /// The periodic housekeeping: gap timeouts, stalled renditions, forgetting old streams.
    func sweep(now: Timestamp) -> SweepReport

    /// The number of known streams that have not ended.
    var activeStreamCount: Int { get }

    /// The number of known streams, ended or not.
    var streamCount: Int { get }

    /// The renditions of `stream` that have a playlist, sorted by name.
    func renditions(of stream: StreamID) -> [RenditionName]

    /// Up to `limit` streams sorted by id after `after`, and the id to continue after when more
    /// follow (the operator API's list).
    func streams(after: StreamID?, limit: Int) -> (page: [StreamSummary], next: StreamID?)

    /// A stream with its renditions (the operator API's detail); nil when unknown.
    func detail(_ stream: StreamID) -> StreamDetail?

    /// Forgets `stream` at once (an operator's delete); nil when unknown.
    func forget(_ stream: StreamID, now: Timestamp) -> SweepReport?

    /// The whole state now, for a snapshot of the state log (see ``RegistryImage``).
    func image() -> RegistryImage

    /// Loads a snapshot's state into this registry, which must be empty.
    func restore(_ image: RegistryImage)

    /// Publishes every rendition again as it stands, without a new version (after a replay
    /// whose publications were not rendered).
    func republishAll()
}

/// Makes the registry the app runs over, from the operator's configuration, the `publish`
/// function called once per visible change, the `retire` function called when an artifact is
/// no longer served, and the lifecycle-event sink.
public typealias PlaylistRegistryFactory<Artifact: Sendable> = @Sendable (
    _ configuration: RegistryConfiguration,
    _ publish: @escaping @Sendable (RenditionSnapshot) -> Artifact,
    _ retire: @escaping @Sendable (Artifact) -> Void,
    _ events: @escaping @Sendable (LifecycleEvent) -> Void
) -> any PlaylistRegistry<Artifact>

extension SegmentRegistry {
    /// The factory of the in-memory registry, the default backend.
    public static var inMemory: PlaylistRegistryFactory<Artifact> { inMemory(budget: nil) }

    /// The factory of the in-memory registry charging what it holds to `budget`.
    public static func inMemory(
        budget: MemoryBudget?, removals: @escaping @Sendable (SegmentRemoval) -> Void = { _ in }
    ) -> PlaylistRegistryFactory<Artifact> {
        { configuration, publish, retire, events in
            SegmentRegistry(
                configuration: configuration, publish: publish, retire: retire, events: events, budget: budget,
                removals: removals)
        }
    }
}
