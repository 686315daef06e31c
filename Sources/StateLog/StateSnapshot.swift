public import SegmentRegistry

/// The whole state at one position of the log: the registry's and the retention feed's.
/// A store keeps it as JSON (``StoredSnapshot/body``).
public struct StateSnapshot: Codable, Sendable {
    public var registry: RegistryImage
    public var feed: RemovedSegmentsFeed.Image

    public init(registry: RegistryImage, feed: RemovedSegmentsFeed.Image) {
        self.registry = registry
        self.feed = feed
    }
}
