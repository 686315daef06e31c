/// Where the state log is kept durably (`STATE_STORE`). One writer: the committer thread calls
/// ``append(_:removing:)``; ``load()`` runs once, before it starts.
public protocol StateStore: AnyObject, Sendable {
    /// The newest snapshot, if any, and every entry after it, in position order.
    func load() throws(StoreFailure) -> StoredState

    /// Appends `entries` and removes the entries at `removing` (entries whose command was
    /// refused for a reason a replay could decide otherwise), in one transaction: when this
    /// returns, all of it is durable; when it throws, none of it happened.
    func append(_ entries: [StoredEntry], removing: [UInt64]) throws(StoreFailure)

    /// Keeps `snapshot` as the newest and removes every entry at or below its position: the
    /// store's size follows the state, not its history. Atomic: a failure (or a crash) part way
    /// leaves the previous snapshot and the whole log. Runs beside ``append(_:removing:)`` (on
    /// another thread) without holding it back for long.
    func saveSnapshot(_ snapshot: StoredSnapshot) throws(StoreFailure)

    /// Flushes and closes; nothing may be called after.
    func close()

    /// A description for logs (the backend and where it keeps the log), never a secret.
    var location: String { get }
}

/// Why a store could not do what was asked.
public enum StoreFailure: Error, Equatable, CustomStringConvertible {
    /// The store cannot be used at all (start-up): a path that cannot be opened, a file of
    /// another program, a corrupt file, the settings of another configuration.
    case unusable(String)
    /// This write failed and nothing of it was kept, but the store is sound: a full disk, a
    /// lock held elsewhere. Answer 503 and try again later.
    case unavailable(String)
    /// Whether earlier writes are durable can no longer be known (an I/O error, a failed
    /// sync): the service must stop rather than acknowledge more.
    case durabilityLost(String)

    public var description: String {
        switch self {
        case .unusable(let message), .unavailable(let message), .durabilityLost(let message): message
        }
    }
}

/// What a store holds at start-up.
public struct StoredState: Sendable, Equatable {
    public var snapshot: StoredSnapshot?
    /// The entries after the snapshot's position (all of them without one), in order.
    public var entries: [StoredEntry]

    public init(snapshot: StoredSnapshot?, entries: [StoredEntry]) {
        self.snapshot = snapshot
        self.entries = entries
    }
}

/// A snapshot as a store keeps it: the state after the entry at `position`, encoded in parts
/// that are encoded and decoded in parallel (the retention feed's counters, then the registry's
/// shares), and the retention feed's items as rows.
public struct StoredSnapshot: Sendable, Equatable {
    public var position: UInt64
    /// The time of the entry at `position` (milliseconds since the Unix epoch).
    public var time: Int64
    /// Each part as JSON, in order.
    public var parts: [[UInt8]]
    /// The retention feed's items, in order.
    public var feed: [StoredFeedItem]

    public init(position: UInt64, time: Int64, parts: [[UInt8]], feed: [StoredFeedItem] = []) {
        self.position = position
        self.time = time
        self.parts = parts
        self.feed = feed
    }

    /// Its size in bytes (the feed's items counted by their text and eight bytes a number).
    public var byteCount: Int {
        parts.reduce(0) { $0 + $1.count }
            + feed.reduce(0) { $0 + $1.stream.utf8.count + $1.rendition.utf8.count + $1.path.utf8.count + 48 }
    }
}
