// A rendition's mutable state and its publications.
import HLSModel
import Synchronization

/// The mutable state of one rendition, owned by its writer lock.
struct RenditionState: Codable, Sendable {
    /// A snapshot holds one state per rendition (30,000 at scale): encoded as an array of its
    /// fields in this order: no key to write or look up for each of them.
    init(from decoder: any Decoder) throws {
        var fields = try decoder.unkeyedContainer()
        timeline = try fields.decodeIfPresent(RenditionTimeline.self)
        declarationBox = try fields.decodeIfPresent(DeclarationBox.self)
        isEnded = try fields.decode(Bool.self)
        isEvicted = try fields.decode(Bool.self)
        reportedStale = try fields.decode(Bool.self)
        version = try fields.decode(UInt64.self)
        lastModified = try fields.decode(Timestamp.self)
        earlyParts = try fields.decode([PartialSegment].self)
        longestPlaylistMilliseconds = try fields.decode(Int64.self)
        chargedRecords = try fields.decode(Int.self)
        chargedPending = try fields.decode(Int.self)
        longestPath = try fields.decode(Int.self)
    }

    func encode(to encoder: any Encoder) throws {
        var fields = encoder.unkeyedContainer()
        try fields.encode(timeline)
        try fields.encode(declarationBox)
        try fields.encode(isEnded)
        try fields.encode(isEvicted)
        try fields.encode(reportedStale)
        try fields.encode(version)
        try fields.encode(lastModified)
        try fields.encode(earlyParts)
        try fields.encode(longestPlaylistMilliseconds)
        try fields.encode(chargedRecords)
        try fields.encode(chargedPending)
        try fields.encode(longestPath)
    }

    /// `nil` until the first segment (a declaration alone creates the rendition).
    var timeline: RenditionTimeline?
    /// The rendition's declaration (`PUT`), if any, and when it was last made (it changes the
    /// multivariant playlist); boxed, so the many renditions that never declare one carry a
    /// pointer instead of the whole value.
    var declaration: RenditionDeclaration? { declarationBox?.value }
    var declaredAt: Timestamp? { declarationBox?.declaredAt }
    private var declarationBox: DeclarationBox?

    /// Records `declaration`, made at `now`.
    mutating func declare(_ declaration: RenditionDeclaration, at now: Timestamp) {
        declarationBox = DeclarationBox(declaration, declaredAt: now)
    }
    var isEnded = false
    /// Set when the stream is forgotten; a registration that finds it retries.
    var isEvicted = false
    /// Whether the last sweep reported this rendition as stalled.
    var reportedStale = false
    /// The version of the latest publication; 0 before the first.
    var version: UInt64 = 0
    var lastModified = Timestamp(millisecondsSinceEpoch: 0)
    /// Parts of a low-latency rendition that arrived before its first segment.
    var earlyParts: [PartialSegment] = []
    /// The longest of the playlists published so far, in milliseconds of segments (for how long a
    /// removed segment must stay available, rfc8216bis §6.2.2).
    var longestPlaylistMilliseconds: Int64 = 0
    /// What is charged to the memory budget for this rendition now, by part.
    var chargedRecords = 0
    var chargedPending = 0
    /// The longest path (UTF-8 bytes) of any segment or part the rendition got: every stored
    /// one is estimated at this length, an upper bound that needs no per-item bookkeeping.
    var longestPath = 0

    init() {}

    /// The estimated bytes this rendition holds: its record with the listed window, and what it
    /// buffers ahead of a hole or before its first segment.
    /// - Complexity: O(*s*) in the sequences with parts.
    var footprint: (records: Int, pending: Int) {
        let perItem = MemoryBudget.Estimate.segment + longestPath
        var records = MemoryBudget.Estimate.rendition
        var pending = earlyParts.count * perItem
        if let counts = timeline?.storedCounts {
            records += (counts.listedSegments + counts.completedParts) * perItem
            pending += (counts.pendingSegments + counts.bufferedParts) * perItem
        }
        return (records, pending)
    }

    /// Whether a part with the coordinates of `part` is held (exactly or not): a later one with
    /// other attributes is a conflict, not a new part.
    func knowsPart(_ part: PartialSegment) -> Bool {
        if let timeline { return timeline.knowsPart(part) }
        return earlyParts.contains { $0.sequence == part.sequence && $0.part == part.part }
    }

    /// Whether `part` is held exactly: by the timeline, or waiting for the first segment.
    func holds(_ part: PartialSegment) -> Bool {
        if let timeline { return timeline.holds(part) }
        return earlyParts.contains(part)
    }

    /// What the playlist of `rendition` of `stream` shows now (the names are the cell's: the
    /// state does not repeat them).
    func snapshot(
        of timeline: RenditionTimeline, stream: StreamID, rendition: RenditionName, reports: [RenditionReport] = []
    ) -> RenditionSnapshot {
        RenditionSnapshot(
            stream: stream,
            rendition: rendition,
            version: version,
            targetDuration: timeline.targetDuration,
            mediaSequence: timeline.mediaSequence,
            segments: timeline.window,
            isEnded: timeline.isEnded,
            lastModified: lastModified,
            discontinuitySequence: timeline.discontinuitySequence,
            discontinuities: timeline.discontinuities,
            partTarget: timeline.partTarget,
            partURITemplate: timeline.partTarget == nil ? nil : timeline.partURITemplate,
            mapURI: timeline.mapURI,
            parts: timeline.listedParts(),
            renditionReports: reports
        )
    }
}

/// A declaration, behind one reference.
final class DeclarationBox: Codable, Sendable {
    let value: RenditionDeclaration
    let declaredAt: Timestamp
    init(_ value: RenditionDeclaration, declaredAt: Timestamp) {
        self.value = value
        self.declaredAt = declaredAt
    }
}

/// An immutable (snapshot, artifact) pair; replaced as a whole on every visible change.
final class Publication<Artifact: Sendable>: Sendable {
    let snapshot: RenditionSnapshot
    let artifact: Artifact
    let listsSegments: Bool

    /// What `#EXT-X-RENDITION-REPORT` says about this publication in the other renditions
    /// (computed when asked: only low-latency siblings ask, and a stored copy would cost every
    /// rendition its size).
    var report: RenditionReport? {
        snapshot.lastMSN.map { RenditionReport(rendition: snapshot.rendition, lastMSN: $0, lastPart: snapshot.lastPart) }
    }

    init(snapshot: RenditionSnapshot, artifact: Artifact) {
        self.snapshot = snapshot
        self.artifact = artifact
        self.listsSegments = !snapshot.segments.isEmpty
    }
}

/// What readers see: the latest publication and whether serving it needs no pinning.
struct CurrentPublication<Artifact: Sendable>: Sendable {
    var publication: Publication<Artifact>?
    var isPinned = false
}

/// The untyped face of a ``RenditionCell``, under which the directory holds cells. No state of
/// its own; every subclass is a `RenditionCell`, whose stored properties are all `let`s of
/// `Sendable` types (locks and atomics), which is what the unchecked `Sendable` stands for.
