import HLSModel
import Synchronization

/// One stream as the operator API lists it.
public struct StreamSummary: Sendable, Equatable {
    public let id: StreamID
    public let isEnded: Bool
    /// `true` for a low-latency stream, `false` for a regular one, nil while undecided.
    public let isLowLatency: Bool?
    /// Its renditions, in the order they were created.
    public let renditions: [RenditionName]
    public let createdAt: Timestamp
    public let updatedAt: Timestamp
}

/// One rendition in the operator API's detail of a stream.
public struct RenditionDetail: Sendable, Equatable {
    public let name: RenditionName
    /// The latest published playlist; nil before the first segment.
    public let snapshot: RenditionSnapshot?
    /// Segments waiting behind a hole.
    public let pendingCount: Int
    /// The sequence the window waits for when segments wait behind it; nil without a hole.
    public let firstMissing: UInt64?
    /// Whether the last sweep found the rendition stalled.
    public let isStale: Bool
    public let declaration: RenditionDeclaration?
    /// When its playlist or its declaration last changed.
    public let lastUpdate: Timestamp?
}

/// A stream with every rendition, for `GET /streams/{id}`.
public struct StreamDetail: Sendable, Equatable {
    public let summary: StreamSummary
    public let renditions: [RenditionDetail]
}

extension SegmentRegistry {
    /// Up to `limit` streams sorted by id, after `after` (exclusive); `next` is the last id of
    /// the page when more follow.
    /// - Complexity: O(log *n* + *k*) for a page of *k* after the first call since a stream was
    ///   added or removed, which sorts the ids once (O(*n* log *n*), outside the directory lock).
    public func streams(after: StreamID?, limit: Int) -> (page: [StreamSummary], next: StreamID?) {
        let ids = sortedStreamIDs()
        var low = 0
        var high = ids.count
        if let after {
            while low < high {
                let middle = (low + high) / 2
                if ids[middle] <= after { low = middle + 1 } else { high = middle }
            }
        } else {
            low = 0
        }
        let slice = ids[low..<min(ids.count, low + max(0, limit))]
        let page = directory.withLock { directory in
            slice.compactMap { id in directory.streams[id].map { summary(id, $0) } }
        }
        let next = low + slice.count < ids.count ? slice.last : nil
        return (page, next)
    }

    /// `stream` with its renditions; nil when unknown.
    public func detail(_ stream: StreamID) -> StreamDetail? {
        guard let (summary, cells) = directory.withLock({ directory in
            directory.streams[stream].map { (summary(stream, $0), $0.cells) }
        }) else { return nil }
        let renditions = cells.map(typed).map { cell in
            cell.writer.withLock { state in
                let snapshot = cell.current.withLock { $0.publication?.snapshot }
                let pending = state.timeline?.storedCounts.pendingSegments ?? 0
                return RenditionDetail(
                    name: cell.rendition, snapshot: snapshot, pendingCount: pending,
                    firstMissing: pending > 0 ? state.timeline?.nextSequence : nil, isStale: state.reportedStale,
                    declaration: state.declaration,
                    lastUpdate: [snapshot?.lastModified, state.declaredAt].compactMap { $0 }.max())
            }
        }
        return StreamDetail(summary: summary, renditions: renditions)
    }

    /// Forgets `stream` at once, as if its TTL had passed: its playlists are gone, what they
    /// listed is reported removed, and a later segment starts a new stream.
    /// - Returns: the report of the forgetting (one eviction, `deleted`), or nil when unknown.
    public func forget(_ stream: StreamID, now: Timestamp) -> SweepReport? {
        sweepState.withLock { staleCount in
            guard let cells = directory.withLock({ $0.remove(stream) }) else { return nil }
            var report = SweepReport()
            release([(stream, .deleted, cells)], now: now, report: &report)
            for transition in report.staleTransitions { staleCount += transition.isStale ? 1 : -1 }
            report.staleRenditionCount = staleCount
            return report
        }
    }

    private func summary(_ id: StreamID, _ entry: Directory.StreamEntry) -> StreamSummary {
        StreamSummary(
            id: id, isEnded: entry.isEnded, isLowLatency: entry.record.isLowLatency,
            renditions: entry.members.map(\.rendition), createdAt: entry.record.createdAt, updatedAt: entry.record.updatedAt)
    }

    /// Every stream id, sorted; rebuilt only after streams were added or removed.
    private func sortedStreamIDs() -> [StreamID] {
        let (version, cached) = sortedIndex.withLock { ($0.version, $0.ids) }
        let current = directory.withLock { $0.version }
        if let cached, version == current { return cached }
        let (at, ids) = directory.withLock { ($0.version, Array($0.streams.keys)) }
        let sorted = ids.sorted()
        sortedIndex.withLock { index in
            if index.ids == nil || index.version != at { index = SortedIndex(version: at, ids: sorted) }
        }
        return sorted
    }
}

/// The operator API's sorted stream ids, as of a directory version.
struct SortedIndex: Sendable {
    var version: UInt64 = 0
    var ids: [StreamID]?
}
