import HLSModel
import Synchronization

/// The retention feed: segments and parts that left a playlist, reported once they may be
/// deleted (rfc8216bis §6.2.2), in the order they became deletable, each with a cursor.
///
/// A removal waits until its `deletable_after` has passed; then it gets the next entry id and
/// joins the feed, so that a client walking the feed by id (`after=<last id>`) sees every entry
/// exactly once and never one that a player may still fetch. Entries are kept for
/// `keepMilliseconds` after they became deletable; entries beyond `maxEntries` (waiting or
/// ready, oldest first) are dropped too. Both are counted in ``droppedCount``.
public final class RemovedSegmentsFeed: Sendable {
    /// One removed segment (`part == nil`) or part.
    public struct Entry: Sendable, Equatable, Codable {
        public let id: UInt64
        public let stream: StreamID
        public let rendition: RenditionName
        public let sequence: UInt64
        public let part: Int?
        public let path: String
        public let removedAt: Timestamp
        public let deletableAfter: Timestamp
    }

    /// An entry before it matured (no id yet).
    struct Waiting: Codable, Sendable {
        let stream: StreamID
        let rendition: RenditionName
        let sequence: UInt64
        let part: Int?
        let path: String
        let removedAt: Timestamp
        let deletableAfter: Timestamp
        /// Arrival order, to break ties between equal `deletableAfter`.
        let order: UInt64

        func precedes(_ other: Waiting) -> Bool {
            (deletableAfter.millisecondsSinceEpoch, order) < (other.deletableAfter.millisecondsSinceEpoch, other.order)
        }
    }

    struct State: Codable, Sendable {
        /// A binary min-heap on (`deletableAfter`, `order`).
        var waiting: [Waiting] = []
        /// Matured entries, ids increasing; `ready[head...]` are live (the rest were dropped).
        var ready: [Entry] = []
        var head = 0
        var nextID: UInt64 = 1
        var nextOrder: UInt64 = 0
        var dropped = 0

        var liveReady: ArraySlice<Entry> { ready[head...] }
    }

    /// Milliseconds an entry stays in the feed after it became deletable.
    public let keepMilliseconds: Int64
    /// The most entries held, waiting and ready together.
    public let maxEntries: Int
    private let state = Mutex(State())

    public init(keepMilliseconds: Int64, maxEntries: Int) {
        self.keepMilliseconds = max(0, keepMilliseconds)
        self.maxEntries = max(1, maxEntries)
    }

    /// Takes in what a change removed from a playlist.
    /// - Complexity: O(*k* log *n*) for *k* removed items and *n* waiting.
    public func record(_ removal: SegmentRemoval) {
        state.withLock { state in
            for segment in removal.segments {
                push(
                    removal, sequence: segment.sequence.rawValue, part: nil, path: segment.path.rawValue,
                    deletableAfter: removal.deletableAfter(segment), into: &state)
            }
            for part in removal.parts {
                push(
                    removal, sequence: part.sequence.rawValue, part: part.part, path: part.path.rawValue,
                    deletableAfter: removal.partsDeletableAfter, into: &state)
            }
            enforceCap(&state)
        }
    }

    /// Up to `limit` entries after cursor `after` (nil: from the oldest kept), deletable at
    /// `now`, oldest first; and the cursor to continue from (the last id returned, else `after`,
    /// else nil while the feed has never had an entry).
    /// - Complexity: O(log *n*) to find the cursor, plus the entries returned and those that
    ///   matured or expired since the last call.
    public func page(after: UInt64?, limit: Int, now: Timestamp) -> (entries: [Entry], next: UInt64?) {
        state.withLock { state in
            advance(&state, now: now)
            let live = state.liveReady
            // Ids are increasing: the first live entry past the cursor, by binary search.
            var low = live.startIndex
            var high = live.endIndex
            let cursor = after ?? 0
            while low < high {
                let middle = (low + high) / 2
                if live[middle].id <= cursor { low = middle + 1 } else { high = middle }
            }
            let entries = Array(live[low..<(low + min(live.endIndex - low, max(0, limit)))])
            let next = entries.last?.id ?? after ?? (state.nextID > 1 ? state.nextID - 1 : nil)
            return (entries, next)
        }
    }

    /// Matures and expires entries at `now` (also done by every ``page(after:limit:now:)``).
    public func advance(now: Timestamp) {
        state.withLock { advance(&$0, now: now) }
    }

    /// The feed's content now.
    public func image() -> Image {
        var copy = state.withLock { $0 }
        // Only what can still be read: the entries before `head` are gone.
        copy.ready = Array(copy.ready[copy.head...])
        copy.head = 0
        return Image(state: copy)
    }

    /// Replaces the feed's content with `image` (at start-up, before anything is recorded).
    public func restore(_ image: Image) { state.withLock { $0 = image.state } }

    /// Entries dropped before they could be read (kept too long, or beyond `maxEntries`).
    public var droppedCount: Int { state.withLock { $0.dropped } }

    /// Entries held now (waiting and ready).
    public var count: Int { state.withLock { $0.waiting.count + $0.liveReady.count } }

    // MARK: - Internals

    private func push(
        _ removal: SegmentRemoval, sequence: UInt64, part: Int?, path: String, deletableAfter: Timestamp,
        into state: inout State
    ) {
        let item = Waiting(
            stream: removal.stream, rendition: removal.rendition, sequence: sequence, part: part, path: path,
            removedAt: removal.removedAt, deletableAfter: deletableAfter, order: state.nextOrder)
        state.nextOrder += 1
        state.waiting.append(item)
        var child = state.waiting.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard state.waiting[child].precedes(state.waiting[parent]) else { break }
            state.waiting.swapAt(child, parent)
            child = parent
        }
    }

    private func popWaiting(_ state: inout State) -> Waiting? {
        guard !state.waiting.isEmpty else { return nil }
        state.waiting.swapAt(0, state.waiting.count - 1)
        let top = state.waiting.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var smallest = parent
            if left < state.waiting.count, state.waiting[left].precedes(state.waiting[smallest]) { smallest = left }
            if right < state.waiting.count, state.waiting[right].precedes(state.waiting[smallest]) { smallest = right }
            guard smallest != parent else { break }
            state.waiting.swapAt(parent, smallest)
            parent = smallest
        }
        return top
    }

    private func advance(_ state: inout State, now: Timestamp) {
        while let top = state.waiting.first, top.deletableAfter <= now, let item = popWaiting(&state) {
            state.ready.append(
                Entry(
                    id: state.nextID, stream: item.stream, rendition: item.rendition, sequence: item.sequence,
                    part: item.part, path: item.path, removedAt: item.removedAt, deletableAfter: item.deletableAfter))
            state.nextID += 1
        }
        let horizon = now.millisecondsSinceEpoch - keepMilliseconds
        while state.head < state.ready.count, state.ready[state.head].deletableAfter.millisecondsSinceEpoch < horizon {
            state.head += 1
            state.dropped += 1
        }
        compact(&state)
    }

    /// Drops the oldest entries (ready first, then waiting) beyond `maxEntries`.
    private func enforceCap(_ state: inout State) {
        while state.waiting.count + state.liveReady.count > maxEntries {
            if state.head < state.ready.count {
                state.head += 1
            } else {
                _ = popWaiting(&state)
            }
            state.dropped += 1
        }
        compact(&state)
    }

    /// Frees the dropped prefix once it is at least half of the array.
    private func compact(_ state: inout State) {
        guard state.head > 0, state.head * 2 >= state.ready.count else { return }
        state.ready.removeFirst(state.head)
        state.head = 0
    }
}
