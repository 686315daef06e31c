// The stream → rendition → cell map, kept under the registry's directory lock.
import HLSModel
import Synchronization

/// What the directory knows about a (stream, rendition) pair.
enum Lookup {
    /// The stream has ended; the rendition's cell, when it has one.
    case ended(CellBase?)
    case found(CellBase)
    case absent
}

/// What marking a stream ended in the directory did.
enum EndMarking {
    /// The stream is now ended; these cells must be republished.
    case ended([CellBase])
    case alreadyEnded
    /// The stream is unknown and the registry is full: nothing changed.
    case tooManyStreams
    /// The stream is unknown and the memory budget is spent: nothing changed.
    case budgetSpent
}

/// What an insert into the directory did.
enum Insertion {
    /// Inserted; `newStream` when the rendition is its stream's first.
    case inserted(newStream: Bool)
    case found, ended, tooManyStreams, tooManyRenditions
    case lowLatencyConflict(LowLatencyPolicyConflict)
}

/// The stream → rendition → cell map; only ever touched under the registry's directory lock.
struct Directory: ~Copyable {
    /// Charged a stream record for each stream while it is known.
    let budget: MemoryBudget?

    init(budget: MemoryBudget?) {
        self.budget = budget
    }

    /// One stream. A class, so a lookup under the lock copies one reference, not the entry.
    /// Never leaves the directory lock.
    final class StreamEntry {
        /// One rendition: its name next to its cell, so the scan compares names in the members'
        /// buffer instead of loading every cell it passes (each load a likely cache miss on the
        /// read path, where playlists are fetched at random).
        struct Member {
            let rendition: RenditionName
            let cell: CellBase
        }

        var isEnded: Bool
        let record: StreamRecord
        /// The stream's renditions in the order they were created; a stream has a handful
        /// (at most `MAX_RENDITIONS_PER_STREAM`), so a scan by name beats a table per stream.
        var members: [Member] = []

        init(isEnded: Bool = false, record: StreamRecord) {
            self.isEnded = isEnded
            self.record = record
        }

        /// The stream's cells, in creation order.
        var cells: [CellBase] { members.map(\.cell) }

        /// - Complexity: O(*r*) name comparisons (*r*: renditions of the stream).
        func cell(_ rendition: RenditionName) -> CellBase? {
            members.withUnsafeBufferPointer { members in
                for member in members where member.rendition == rendition { return member.cell }
                return nil
            }
        }
    }

    var streams: [StreamID: StreamEntry] = [:]
    /// Bumped whenever a stream is added or removed (the sorted index of the operator API
    /// rebuilds after a change).
    var version: UInt64 = 0
    var activeCount = 0
    /// Every cell, for sweeps (copied in O(1), scanned outside the lock).
    var allCells: [CellBase] = []
    /// Every stream's record, for sweeps.
    var allRecords: [StreamRecord] = []

    /// - Complexity: O(*r*): one hash lookup, then a scan of the stream's renditions.
    func lookup(stream: StreamID, rendition: RenditionName) -> Lookup {
        guard let entry = streams[stream] else { return .absent }
        let cell = entry.cell(rendition)
        if entry.isEnded { return .ended(cell) }
        if let cell { return .found(cell) }
        return .absent
    }

    /// - Complexity: O(*r*): one hash lookup, then a scan of the stream's renditions.
    func cell(stream: StreamID, rendition: RenditionName) -> CellBase? {
        streams[stream]?.cell(rendition)
    }

    /// The cells of `stream`, in creation order; `nil` when the stream is unknown.
    func cells(of stream: StreamID) -> [CellBase]? { streams[stream]?.cells }

    /// Inserts `cell` unless the stream has ended, the rendition exists, a cap is reached or
    /// the cell cannot join the stream's kind (low-latency or regular).
    /// A new stream adopts `cell.record`; an existing one's record is shared with the cell.
    /// The stream's kind is checked and fixed by `joining` atomically with the insertion, under
    /// the directory lock.
    mutating func insert(
        _ cell: CellBase,
        stream: StreamID,
        rendition: RenditionName,
        configuration: RegistryConfiguration,
        now: Timestamp,
        joining: StreamKind.Joining
    ) -> Insertion {
        switch lookup(stream: stream, rendition: rendition) {
        case .ended: return .ended
        case .found: return .found
        case .absent: break
        }
        let entry: StreamEntry
        let isNewStream: Bool
        if let existing = streams[stream] {
            guard existing.members.count < configuration.maxRenditionsPerStream else { return .tooManyRenditions }
            if let conflict = existing.record.join(joining) {
                return .lowLatencyConflict(conflict)
            }
            cell.adopt(existing.record)
            (entry, isNewStream) = (existing, false)
        } else {
            guard streams.count < configuration.maxStreams else { return .tooManyStreams }
            if let conflict = cell.record.join(joining) {
                return .lowLatencyConflict(conflict)
            }
            entry = StreamEntry(record: cell.record)
            streams[stream] = entry
            allRecords.append(cell.record)
            activeCount += 1
            isNewStream = true
            version &+= 1
            budget?.adjust(MemoryBudget.Estimate.stream, for: .records)
        }
        cell.record.touch(now)
        entry.members.append(StreamEntry.Member(rendition: rendition, cell: cell))
        allCells.append(cell)
        return .inserted(newStream: isNewStream)
    }

    /// Marks `stream` ended. An unknown stream is entered as ended (no renditions) when the
    /// cap leaves room for it; otherwise nothing changes.
    mutating func markEnded(_ stream: StreamID, now: Timestamp, maxStreams: Int) -> EndMarking {
        guard let entry = streams[stream] else {
            guard streams.count < maxStreams else { return .tooManyStreams }
            guard budget?.allowsGrowth(of: .records) ?? true else { return .budgetSpent }
            budget?.adjust(MemoryBudget.Estimate.stream, for: .records)
            version &+= 1
            let record = StreamRecord(stream: stream, now: now)
            record.markEnded(now)
            streams[stream] = StreamEntry(isEnded: true, record: record)
            allRecords.append(record)
            return .ended([])
        }
        if entry.isEnded { return .alreadyEnded }
        entry.isEnded = true
        entry.record.markEnded(now)
        activeCount -= 1
        return .ended(entry.cells)
    }

    /// Removes the streams whose records are still expired; returns them with their cells.
    mutating func evict(
        _ expired: [(StreamRecord, SweepReport.EvictionReason)],
        now: Timestamp,
        configuration: RegistryConfiguration
    ) -> [(StreamID, SweepReport.EvictionReason, [CellBase])] {
        var removed: [(StreamID, SweepReport.EvictionReason, [CellBase])] = []
        var removedCells = Set<ObjectIdentifier>()
        var removedRecords = Set<ObjectIdentifier>()
        for (record, _) in expired {
            // Re-checked under the lock: a registration may have touched it since the scan.
            guard let reason = record.expiry(now: now, configuration: configuration),
                let entry = streams[record.stream], entry.record === record
            else { continue }
            let stream = record.stream
            streams[stream] = nil
            version &+= 1
            budget?.adjust(-MemoryBudget.Estimate.stream, for: .records)
            if !entry.isEnded { activeCount -= 1 }
            removedRecords.insert(ObjectIdentifier(record))
            let cells = entry.cells
            for cell in cells { removedCells.insert(ObjectIdentifier(cell)) }
            removed.append((stream, reason, cells))
        }
        if !removedCells.isEmpty { allCells.removeAll { removedCells.contains(ObjectIdentifier($0)) } }
        if !removedRecords.isEmpty { allRecords.removeAll { removedRecords.contains(ObjectIdentifier($0)) } }
        return removed
    }

    /// Enters a stream restored from a snapshot (in the order the snapshot lists them).
    mutating func restore(_ record: StreamRecord, isEnded: Bool) {
        streams[record.stream] = StreamEntry(isEnded: isEnded, record: record)
        allRecords.append(record)
        if !isEnded { activeCount += 1 }
        version &+= 1
        budget?.adjust(MemoryBudget.Estimate.stream, for: .records)
    }

    /// Enters a rendition restored from a snapshot into its (restored) stream.
    mutating func restore(_ cell: CellBase, stream: StreamID, rendition: RenditionName) {
        streams[stream]?.members.append(StreamEntry.Member(rendition: rendition, cell: cell))
        allCells.append(cell)
    }

    /// Every stream as a snapshot keeps it, in creation order, with whether it has ended.
    var streamImages: [RegistryImage.Stream] {
        allRecords.map { $0.image(isEnded: streams[$0.stream]?.isEnded ?? false) }
    }

    /// Removes `stream` at once (an operator's delete); returns its cells, or nil when unknown.
    mutating func remove(_ stream: StreamID) -> [CellBase]? {
        guard let entry = streams.removeValue(forKey: stream) else { return nil }
        version &+= 1
        budget?.adjust(-MemoryBudget.Estimate.stream, for: .records)
        if !entry.isEnded { activeCount -= 1 }
        let cells = Set(entry.cells.map(ObjectIdentifier.init))
        if !cells.isEmpty { allCells.removeAll { cells.contains(ObjectIdentifier($0)) } }
        allRecords.removeAll { $0 === entry.record }
        return entry.cells
    }
}
