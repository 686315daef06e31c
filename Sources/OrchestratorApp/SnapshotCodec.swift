import Dispatch
import FoundationEssentials
import SegmentRegistry
import StateLog
import Synchronization

/// A ``StateSnapshot`` as a store keeps it: the registry cut in shares, each JSON, encoded and
/// decoded on every core at once (a snapshot of 30,000 renditions is about 15 MiB of JSON; one
/// core takes about a second per 18 MiB either way), and the retention feed as its counters (JSON)
/// and its items (rows: it may hold hundreds of thousands, which as JSON took longer than the
/// whole registry).
enum SnapshotCodec {
    /// Registry shares per snapshot: enough to keep every core busy.
    static let registryShares = 4

    static func encode(_ snapshot: StateSnapshot, position: UInt64, time: Int64) throws -> StoredSnapshot {
        let shares = snapshot.registry.split(into: registryShares)
        // Task 0: the feed (its counters and its rows); then one task a registry share.
        let feedItems = Mutex<[StoredFeedItem]>([])
        let results = Mutex<[Result<[UInt8], any Error>?]>(Array(repeating: nil, count: shares.count + 1))
        DispatchQueue.concurrentPerform(iterations: shares.count + 1) { index in
            let result = Result { () throws -> [UInt8] in
                let encoder = JSONEncoder()
                guard index > 0 else {
                    let rows = snapshot.feed.items.map(\.stored)
                    feedItems.withLock { $0 = rows }
                    return Array(try encoder.encode(snapshot.feed.header))
                }
                return Array(try encoder.encode(shares[index - 1]))
            }
            results.withLock { $0[index] = result }
        }
        let parts = try results.withLock { $0 }.map { try $0!.get() }
        return StoredSnapshot(position: position, time: time, parts: parts, feed: feedItems.withLock { $0 })
    }

    static func decode(_ stored: StoredSnapshot) throws -> StateSnapshot {
        let parts = stored.parts
        guard parts.count >= 2 else { throw corrupt("\(parts.count) parts") }
        let feed = Mutex<Result<RemovedSegmentsFeed.Image, any Error>?>(nil)
        let shares = Mutex<[Result<RegistryImage, any Error>?]>(Array(repeating: nil, count: parts.count - 1))
        DispatchQueue.concurrentPerform(iterations: parts.count) { index in
            let data = Data(parts[index])
            if index == 0 {
                let result = Result { () throws -> RemovedSegmentsFeed.Image in
                    let header = try JSONDecoder().decode(RemovedSegmentsFeed.Image.self, from: data)
                    var items: [RemovedSegmentsFeed.Image.Item] = []
                    items.reserveCapacity(stored.feed.count)
                    for (row, item) in stored.feed.enumerated() {
                        guard let decoded = RemovedSegmentsFeed.Image.Item(item) else { throw corrupt("feed item \(row) is invalid") }
                        items.append(decoded)
                    }
                    guard let image = RemovedSegmentsFeed.Image(header: header, items: items) else {
                        throw corrupt("the feed's items do not fit its counters")
                    }
                    return image
                }
                feed.withLock { $0 = result }
            } else {
                let result = Result { try JSONDecoder().decode(RegistryImage.self, from: data) }
                shares.withLock { $0[index - 1] = result }
            }
        }
        let registry = RegistryImage.merge(try shares.withLock { $0 }.map { try $0!.get() })
        guard let registry else { throw corrupt("no registry part") }
        return StateSnapshot(registry: registry, feed: try feed.withLock { $0 }!.get())
    }

    private static func corrupt(_ reason: String) -> DecodingError {
        DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: reason))
    }
}
