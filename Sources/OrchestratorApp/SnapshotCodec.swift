import Dispatch
import FoundationEssentials
import SegmentRegistry
import StateLog
import Synchronization

/// A ``StateSnapshot`` as the parts a store keeps: the retention feed, then the registry cut in
/// shares, each JSON, encoded and decoded on every core at once (a snapshot of 30,000
/// renditions is tens of MiB of JSON; one core takes about a second per 18 MiB either way).
enum SnapshotCodec {
    /// Registry shares per snapshot: enough to keep every core busy.
    static let registryShares = 4

    static func encode(_ snapshot: StateSnapshot) throws -> [[UInt8]] {
        let shares = snapshot.registry.split(into: registryShares)
        let results = Mutex<[Result<[UInt8], any Error>?]>(Array(repeating: nil, count: shares.count + 1))
        DispatchQueue.concurrentPerform(iterations: shares.count + 1) { index in
            let result = Result { () throws -> [UInt8] in
                let encoder = JSONEncoder()
                return Array(index == 0 ? try encoder.encode(snapshot.feed) : try encoder.encode(shares[index - 1]))
            }
            results.withLock { $0[index] = result }
        }
        return try results.withLock { $0 }.map { try $0!.get() }
    }

    static func decode(_ parts: [[UInt8]]) throws -> StateSnapshot {
        guard parts.count >= 2 else { throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "\(parts.count) parts")) }
        let feed = Mutex<Result<RemovedSegmentsFeed.Image, any Error>?>(nil)
        let shares = Mutex<[Result<RegistryImage, any Error>?]>(Array(repeating: nil, count: parts.count - 1))
        DispatchQueue.concurrentPerform(iterations: parts.count) { index in
            let data = Data(parts[index])
            if index == 0 {
                let result = Result { try JSONDecoder().decode(RemovedSegmentsFeed.Image.self, from: data) }
                feed.withLock { $0 = result }
            } else {
                let result = Result { try JSONDecoder().decode(RegistryImage.self, from: data) }
                shares.withLock { $0[index - 1] = result }
            }
        }
        let registry = RegistryImage.merge(try shares.withLock { $0 }.map { try $0!.get() })
        guard let registry else { throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "no registry part")) }
        return StateSnapshot(registry: registry, feed: try feed.withLock { $0 }!.get())
    }
}
