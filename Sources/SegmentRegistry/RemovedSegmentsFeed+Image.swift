import HLSModel

// The feed's content as a snapshot keeps it, and its compact encodings.
extension RemovedSegmentsFeed {
    /// What the feed holds, for a snapshot of the state (``restore(_:)`` loads it back).
    ///
    /// A store may keep it as two things: its ``header`` (counters only, a few bytes of JSON) and
    /// its ``items`` as rows of plain values; ``init(header:items:)`` puts them back together.
    public struct Image: Codable, Sendable {
        var state: State

        init(state: State) { self.state = state }

        /// The entries it holds.
        public var count: Int { state.waiting.count + state.ready.count - state.head }

        /// The matured entries (in id order), then the waiting ones (in the order of the heap
        /// that holds them, so that putting them back restores the same heap).
        public var items: [Item] {
            var items: [Item] = []
            items.reserveCapacity(count)
            for entry in state.liveReady {
                items.append(
                    Item(
                        kind: .ready(id: entry.id), stream: entry.stream, rendition: entry.rendition,
                        sequence: entry.sequence, part: entry.part, path: entry.path, removedAt: entry.removedAt,
                        deletableAfter: entry.deletableAfter))
            }
            for waiting in state.waiting {
                items.append(
                    Item(
                        kind: .waiting(order: waiting.order), stream: waiting.stream, rendition: waiting.rendition,
                        sequence: waiting.sequence, part: waiting.part, path: waiting.path, removedAt: waiting.removedAt,
                        deletableAfter: waiting.deletableAfter))
            }
            return items
        }

        /// The image without its items: the counters that go with them.
        public var header: Image {
            var header = state
            header.ready = []
            header.waiting = []
            header.head = 0
            return Image(state: header)
        }

        /// `header`'s counters with `items` (as ``items`` listed them).
        /// - Returns: nil when both hold items (a header is written without them), or when the
        ///   items are out of order (ids not increasing, or a matured entry after a waiting one).
        public init?(header: Image, items: [Item]) {
            var state = header.state
            if !items.isEmpty && (!state.waiting.isEmpty || state.head < state.ready.count) { return nil }
            for item in items {
                switch item.kind {
                case .ready(let id):
                    guard state.waiting.isEmpty, id > (state.ready.last?.id ?? 0), id < state.nextID else { return nil }
                    state.ready.append(
                        Entry(
                            id: id, stream: item.stream, rendition: item.rendition, sequence: item.sequence, part: item.part,
                            path: item.path, removedAt: item.removedAt, deletableAfter: item.deletableAfter))
                case .waiting(let order):
                    guard order < state.nextOrder else { return nil }
                    state.waiting.append(
                        Waiting(
                            stream: item.stream, rendition: item.rendition, sequence: item.sequence, part: item.part,
                            path: item.path, removedAt: item.removedAt, deletableAfter: item.deletableAfter, order: order))
                }
            }
            self.state = state
        }

        /// One removed segment or part held by the feed, as plain values.
        public struct Item: Sendable, Equatable {
            public enum Kind: Sendable, Equatable {
                /// Deletable: it has its feed id.
                case ready(id: UInt64)
                /// Not yet deletable: its arrival order (which breaks ties between equal
                /// `deletableAfter`).
                case waiting(order: UInt64)
            }

            public var kind: Kind
            public var stream: StreamID
            public var rendition: RenditionName
            public var sequence: UInt64
            public var part: Int?
            public var path: String
            public var removedAt: Timestamp
            public var deletableAfter: Timestamp

            public init(
                kind: Kind, stream: StreamID, rendition: RenditionName, sequence: UInt64, part: Int?, path: String,
                removedAt: Timestamp, deletableAfter: Timestamp
            ) {
                self.kind = kind
                self.stream = stream
                self.rendition = rendition
                self.sequence = sequence
                self.part = part
                self.path = path
                self.removedAt = removedAt
                self.deletableAfter = deletableAfter
            }
        }
    }
}

// Compact encodings for snapshots: the feed may hold hundreds of thousands of entries.
extension RemovedSegmentsFeed.Entry {
    public init(from decoder: any Decoder) throws {
        var values = try decoder.unkeyedContainer()
        id = try values.decode(UInt64.self)
        stream = try values.decode(StreamID.self)
        rendition = try values.decode(RenditionName.self)
        sequence = try values.decode(UInt64.self)
        part = try values.decodeIfPresent(Int.self)
        path = try values.decode(String.self)
        removedAt = try values.decode(Timestamp.self)
        deletableAfter = try values.decode(Timestamp.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var values = encoder.unkeyedContainer()
        try values.encode(id)
        try values.encode(stream)
        try values.encode(rendition)
        try values.encode(sequence)
        try values.encode(part)
        try values.encode(path)
        try values.encode(removedAt)
        try values.encode(deletableAfter)
    }
}

extension RemovedSegmentsFeed.Waiting {
    init(from decoder: any Decoder) throws {
        var values = try decoder.unkeyedContainer()
        stream = try values.decode(StreamID.self)
        rendition = try values.decode(RenditionName.self)
        sequence = try values.decode(UInt64.self)
        part = try values.decodeIfPresent(Int.self)
        path = try values.decode(String.self)
        removedAt = try values.decode(Timestamp.self)
        deletableAfter = try values.decode(Timestamp.self)
        order = try values.decode(UInt64.self)
    }

    func encode(to encoder: any Encoder) throws {
        var values = encoder.unkeyedContainer()
        try values.encode(stream)
        try values.encode(rendition)
        try values.encode(sequence)
        try values.encode(part)
        try values.encode(path)
        try values.encode(removedAt)
        try values.encode(deletableAfter)
        try values.encode(order)
    }
}
