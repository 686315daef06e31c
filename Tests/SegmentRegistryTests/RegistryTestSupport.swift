import Foundation
import HLSModel
import PlaylistRenderer
import SegmentRegistry
import Synchronization
import Testing

/// Records every call of the registry's `publish` closure.
final class PublishLog: Sendable {
    private let entries = Mutex<[RenditionSnapshot]>([])

    var count: Int { entries.withLock { $0.count } }
    var all: [RenditionSnapshot] { entries.withLock { $0 } }

    func count(stream: String, rendition: String) -> Int {
        entries.withLock { $0.filter { $0.stream.rawValue == stream && $0.rendition.rawValue == rendition }.count }
    }

    func record(_ snapshot: RenditionSnapshot) {
        entries.withLock { $0.append(snapshot) }
    }
}

/// What the test registry publishes: the snapshot and the rendered playlist text.
struct Published: Sendable {
    let snapshot: RenditionSnapshot
    let text: String
}

/// A registry wired to a ``PublishLog``, with shorthand for ids, segments and time.
struct Harness {
    let log = PublishLog()
    let registry: SegmentRegistry<Published>

    init(windowSize: Int = 6, targetDuration: Int64? = nil) {
        self.init(configuration: RegistryConfiguration(windowSize: windowSize, targetDuration: targetDuration))
    }

    init(
        configuration: RegistryConfiguration, budget: MemoryBudget? = nil,
        removals: @escaping @Sendable (SegmentRemoval) -> Void = { _ in }
    ) {
        let log = self.log
        registry = SegmentRegistry(
            configuration: configuration,
            publish: { snapshot in
                log.record(snapshot)
                return Published(snapshot: snapshot, text: MediaPlaylistRenderer.render(snapshot))
            },
            budget: budget, removals: removals)
    }

    @discardableResult
    func register(
        _ sequence: UInt64,
        milliseconds: Int64 = 2000,
        path: String? = nil,
        stream: String = "s",
        rendition: String = "720p",
        at time: Int64 = 0,
        programDateTime: Int64? = nil,
        bytes: UInt64? = nil
    ) throws -> RegistrationOutcome {
        try registry.register(
            try segment(sequence, milliseconds: milliseconds, path: path, programDateTime: programDateTime, bytes: bytes),
            stream: try StreamID(validating: stream),
            rendition: try RenditionName(validating: rendition),
            now: Timestamp(millisecondsSinceEpoch: time)
        )
    }

    /// Serves the playlist as a player would (this pins the window).
    func read(stream: String = "s", rendition: String = "720p") throws -> Published? {
        registry.playlist(stream: try StreamID(validating: stream), rendition: try RenditionName(validating: rendition))
    }

    /// Looks at the latest snapshot without serving it (no pinning).
    func peek(stream: String = "s", rendition: String = "720p") throws -> RenditionSnapshot? {
        registry.snapshot(stream: try StreamID(validating: stream), rendition: try RenditionName(validating: rendition))
    }

    /// The sequences listed in the latest snapshot.
    func listed(stream: String = "s", rendition: String = "720p") throws -> [UInt64] {
        try peek(stream: stream, rendition: rendition)?.segments.map(\.sequence.rawValue) ?? []
    }

    @discardableResult
    func declare(
        _ declaration: RenditionDeclaration,
        stream: String = "s",
        rendition: String = "720p",
        at time: Int64 = 0
    ) throws -> DeclarationOutcome {
        try registry.declare(
            declaration,
            stream: try StreamID(validating: stream),
            rendition: try RenditionName(validating: rendition),
            now: Timestamp(millisecondsSinceEpoch: time))
    }

    func sweep(at time: Int64) -> SweepReport {
        registry.sweep(now: Timestamp(millisecondsSinceEpoch: time))
    }

    /// The rendered text of the latest snapshot (what was published), without pinning.
    func text(stream: String = "s", rendition: String = "720p") throws -> String? {
        try peek(stream: stream, rendition: rendition).map(MediaPlaylistRenderer.render)
    }

    func end(_ stream: String = "s", at time: Int64 = 0) throws -> EndOutcome {
        try registry.endStream(try StreamID(validating: stream), now: Timestamp(millisecondsSinceEpoch: time))
    }
}

/// A segment with the conventional path `/seg/<n>.ts` unless given.
func segment(
    _ sequence: UInt64, milliseconds: Int64 = 2000, path: String? = nil,
    programDateTime: Int64? = nil, bytes: UInt64? = nil
) throws -> Segment {
    Segment(
        sequence: try #require(SequenceNumber(rawValue: sequence)),
        duration: try SegmentDuration(milliseconds: milliseconds),
        path: try SegmentPath(validating: path ?? "/seg/\(sequence).ts"),
        programDateTime: programDateTime.map { Timestamp(millisecondsSinceEpoch: $0) },
        byteCount: bytes
    )
}

func sequence(_ value: UInt64) throws -> SequenceNumber {
    try #require(SequenceNumber(rawValue: value))
}

/// SplitMix64: a tiny seeded generator, so randomized tests replay exactly.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) {
        state = seed
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Checks the shape every published snapshot must have.
func expectWellFormed(_ snapshot: RenditionSnapshot, windowSize: Int, sourceLocation: SourceLocation = #_sourceLocation) {
    let sequences = snapshot.segments.map(\.sequence.rawValue)
    if let first = sequences.first {
        #expect(first == snapshot.mediaSequence.rawValue, "media sequence is the first listed", sourceLocation: sourceLocation)
        #expect(sequences == Array(first..<first + UInt64(sequences.count)), "contiguous and ascending", sourceLocation: sourceLocation)
    }
    for listed in snapshot.segments {
        #expect(listed.duration.roundedSeconds <= snapshot.targetDuration, sourceLocation: sourceLocation)
    }
    if snapshot.segments.count > windowSize {
        // Longer than the window only when dropping the head would go below three target durations.
        let rest = snapshot.segments.dropFirst().reduce(Int64(0)) { $0 + $1.duration.milliseconds }
        #expect(rest < snapshot.targetDuration * 3000, "over the window only for the 3×target rule", sourceLocation: sourceLocation)
    }
}

/// Runs `body` on a thread of its own and waits for it without holding a thread of the Swift
/// concurrency pool: the long CPU-bound property runs would otherwise take every pool thread
/// (two on a 2-core machine) for seconds, and the socket and process tests of the same run,
/// which wait with `Task.sleep`, would see their deadlines pass before they are resumed.
func offThread(_ body: @escaping @Sendable () throws -> Void) async throws {
    try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
        let thread = Thread { continuation.resume(with: Result { try body() }) }
        thread.stackSize = 1 << 20
        thread.start()
    }
}
