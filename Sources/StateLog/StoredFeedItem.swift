import HLSModel
public import SegmentRegistry

/// One item of the retention feed as a store keeps it beside a snapshot: plain columns, one row
/// each (the feed may hold hundreds of thousands; as rows they are written and read several times
/// faster than as JSON).
public struct StoredFeedItem: Sendable, Equatable, Codable {
    /// The feed id of a matured entry; nil while it waits.
    public var id: UInt64?
    /// The arrival order of a waiting entry; nil once it matured.
    public var order: UInt64?
    public var stream: String
    public var rendition: String
    public var sequence: UInt64
    public var part: Int?
    public var path: String
    /// Milliseconds since the Unix epoch.
    public var removedAt: Int64
    /// Milliseconds since the Unix epoch.
    public var deletableAfter: Int64

    public init(
        id: UInt64?, order: UInt64?, stream: String, rendition: String, sequence: UInt64, part: Int?, path: String,
        removedAt: Int64, deletableAfter: Int64
    ) {
        self.id = id
        self.order = order
        self.stream = stream
        self.rendition = rendition
        self.sequence = sequence
        self.part = part
        self.path = path
        self.removedAt = removedAt
        self.deletableAfter = deletableAfter
    }
}

extension RemovedSegmentsFeed.Image.Item {
    /// The item as a store keeps it.
    public var stored: StoredFeedItem {
        let (id, order): (UInt64?, UInt64?) =
            switch kind {
            case .ready(let id): (id, nil)
            case .waiting(let order): (nil, order)
            }
        return StoredFeedItem(
            id: id, order: order, stream: stream.rawValue, rendition: rendition.rawValue, sequence: sequence, part: part,
            path: path, removedAt: removedAt.millisecondsSinceEpoch, deletableAfter: deletableAfter.millisecondsSinceEpoch)
    }

    /// Decodes a stored item; nil when it is not one this service wrote (an id and an order
    /// together or neither, an invalid stream id or rendition name).
    public init?(_ stored: StoredFeedItem) {
        let kind: Kind
        switch (stored.id, stored.order) {
        case (let id?, nil): kind = .ready(id: id)
        case (nil, let order?): kind = .waiting(order: order)
        default: return nil
        }
        guard let stream = StreamID(rawValue: stored.stream), let rendition = RenditionName(rawValue: stored.rendition) else {
            return nil
        }
        self.init(
            kind: kind, stream: stream, rendition: rendition, sequence: stored.sequence, part: stored.part,
            path: stored.path, removedAt: Timestamp(millisecondsSinceEpoch: stored.removedAt),
            deletableAfter: Timestamp(millisecondsSinceEpoch: stored.deletableAfter))
    }
}
