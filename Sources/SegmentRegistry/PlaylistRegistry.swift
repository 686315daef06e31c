public import HLSModel

/// The registry operations the app uses, so another implementation (for example one backed by
/// a shared store) can replace ``SegmentRegistry`` without touching the handlers.
///
/// Every operation is synchronous and never waits on I/O: it is called from HTTP worker threads.
/// Time is passed in as `now`, which keeps implementations deterministic: replaying the same
/// `register`/`endStream` calls with the same arguments rebuilds the same state (journal seam).
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

    /// Ends `stream`: every rendition gets `#EXT-X-ENDLIST` and later registrations are refused.
    /// Throws ``RegistryError/tooManyStreams(limit:)`` when an unknown stream cannot be recorded.
    func endStream(_ stream: StreamID, now: Timestamp) throws(RegistryError) -> EndOutcome

    /// The latest artifact of a rendition, as served to players; `nil` when unknown.
    func playlist(stream: StreamID, rendition: RenditionName) -> Artifact?

    /// The latest snapshot of a rendition, without the side effects of serving it; `nil` when unknown.
    func snapshot(stream: StreamID, rendition: RenditionName) -> RenditionSnapshot?

    /// The number of known streams that have not ended.
    var activeStreamCount: Int { get }

    /// The number of known streams, ended or not.
    var streamCount: Int { get }

    /// The renditions of `stream` that have a playlist, sorted by name.
    func renditions(of stream: StreamID) -> [RenditionName]
}
