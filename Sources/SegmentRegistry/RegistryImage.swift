import HLSModel
import Synchronization

/// The whole state of a registry at one position of its log: what a snapshot keeps, so that a
/// restart loads it and replays only the entries after it.
///
/// Restored into an empty registry made with the same configuration (``SegmentRegistry/restore(_:)``),
/// it serves the same bytes as the registry it was taken from, and goes on deciding the same
/// way: streams and renditions in their creation order (sweeps visit them in it), every
/// rendition's timeline, declaration, versions and times, the stale count. Codable, so a store
/// keeps it in a standard format (JSON).
public struct RegistryImage: Codable, Sendable {
    /// One stream's record.
    struct Stream: Codable, Sendable {
        var stream: StreamID
        var createdAt: Timestamp
        var lastActivity: Int64
        /// `Int64.max` while live.
        var endedAt: Int64
        var kind: StreamKind
        var isEnded: Bool
    }

    /// One rendition's state.
    struct Rendition: Codable, Sendable {
        init(stream: StreamID, rendition: RenditionName, state: RenditionState, attentionAt: Int64) {
            self.stream = stream
            self.rendition = rendition
            self.state = state
            self.attentionAt = attentionAt
        }

        /// An array of its fields, like the state it holds.
        init(from decoder: any Decoder) throws {
            var fields = try decoder.unkeyedContainer()
            stream = try fields.decode(StreamID.self)
            rendition = try fields.decode(RenditionName.self)
            state = try fields.decode(RenditionState.self)
            attentionAt = try fields.decode(Int64.self)
        }

        func encode(to encoder: any Encoder) throws {
            var fields = encoder.unkeyedContainer()
            try fields.encode(stream)
            try fields.encode(rendition)
            try fields.encode(state)
            try fields.encode(attentionAt)
        }

        var stream: StreamID
        var rendition: RenditionName
        var state: RenditionState
        var attentionAt: Int64
    }

    /// In creation order.
    var streams: [Stream]
    /// In creation order.
    var renditions: [Rendition]
    var staleCount: Int
    var skippedTotal: UInt64
    var skippedSinceSweep: UInt64
    var holesSinceSweep: Int

    /// The number of streams and renditions it holds.
    public var counts: (streams: Int, renditions: Int) { (streams.count, renditions.count) }

    /// The image cut into `count` parts that encode and decode apart (in parallel): the first
    /// holds the streams and the counters, each its share of the renditions, in order.
    public func split(into count: Int) -> [RegistryImage] {
        let count = max(1, count)
        let share = (renditions.count + count - 1) / count
        return (0..<count).map { index in
            let start = min(renditions.count, index * share)
            let end = min(renditions.count, start + share)
            return RegistryImage(
                streams: index == 0 ? streams : [], renditions: Array(renditions[start..<end]),
                staleCount: staleCount, skippedTotal: skippedTotal, skippedSinceSweep: skippedSinceSweep,
                holesSinceSweep: holesSinceSweep)
        }
    }

    /// The image `split(into:)` cut into `parts`, whole again.
    public static func merge(_ parts: [RegistryImage]) -> RegistryImage? {
        guard var whole = parts.first else { return nil }
        for part in parts.dropFirst() { whole.renditions += part.renditions }
        return whole
    }
}

extension SegmentRegistry {
    /// The registry's state now. Consistent when no change is applied meanwhile (the state
    /// log's committer, the one writer, takes it between two batches).
    public func image() -> RegistryImage {
        let (streams, cells) = directory.withLock { ($0.streamImages, $0.allCells) }
        let renditions = cells.map { untyped -> RegistryImage.Rendition in
            let cell = typed(untyped)
            return RegistryImage.Rendition(
                stream: cell.record.stream, rendition: cell.rendition, state: cell.writer.withLock { $0 },
                attentionAt: cell.attentionAt.load(ordering: .relaxed))
        }
        let skips = skipCounters
        return RegistryImage(
            streams: streams, renditions: renditions, staleCount: sweepState.withLock { $0 }, skippedTotal: skips.total,
            skippedSinceSweep: skips.sinceSweep, holesSinceSweep: skips.holesSinceSweep)
    }

    /// Loads `image` into this registry, which must be empty, and publishes every rendition's
    /// playlist as it was last published (low-latency ones once their siblings are back, so
    /// their rendition reports are whole).
    public func restore(_ image: RegistryImage) {
        var records: [StreamID: StreamRecord] = [:]
        var cells: [RenditionCell<Artifact>] = []
        directory.withLock { directory in
            for stream in image.streams {
                let record = StreamRecord(restoring: stream)
                records[stream.stream] = record
                directory.restore(record, isEnded: stream.isEnded)
            }
            for rendition in image.renditions {
                guard let record = records[rendition.stream] else { continue }
                let cell = RenditionCell<Artifact>(rendition: rendition.rendition, state: rendition.state, record: record)
                cell.attentionAt.store(rendition.attentionAt, ordering: .relaxed)
                budget?.adjust(rendition.state.chargedRecords, for: .records)
                budget?.adjust(rendition.state.chargedPending, for: .pending)
                directory.restore(cell, stream: rendition.stream, rendition: rendition.rendition)
                cells.append(cell)
            }
        }
        sweepState.withLock { $0 = image.staleCount }
        restoreSkipCounters(
            total: image.skippedTotal, sinceSweep: image.skippedSinceSweep, holesSinceSweep: image.holesSinceSweep)
        republish(cells)
    }

    public func republishAll() {
        republish(directory.withLock { $0.allCells }.map(typed))
    }

    /// Publishes `cells` again as they stand; low-latency ones twice, so their rendition reports
    /// see every sibling back.
    private func republish(_ cells: [RenditionCell<Artifact>]) {
        let context = self.context
        for cell in cells { cell.republishRestored(context: context) }
        for cell in cells where cell.writer.withLock({ $0.timeline?.isLowLatency == true }) {
            cell.republishRestored(context: context)
        }
    }
}
