import Foundation
import HLSModel
import OrchestratorTesting
import PlaylistRenderer
import SegmentRegistry
import StateLog
import Testing

/// The registry is a state machine fed by its log: random command sequences of every kind —
/// out of order, duplicates, conflicts, parts, declarations, ends, pins, sweeps, forgetting —
/// applied live, and replayed from their stored form into a fresh registry, give byte-identical
/// playlists and the same answers.
@Suite struct ReplayPropertyTests {
    /// A registry whose removals go to `feed`.
    static func registry(feed: RemovedSegmentsFeed) -> SegmentRegistry<[UInt8]> {
        SegmentRegistry(
            configuration: RandomCommandLog.configuration, publish: { MediaPlaylistRenderer.renderBytes($0) },
            removals: { feed.record($0) })
    }

    static func feed() -> RemovedSegmentsFeed { RemovedSegmentsFeed(keepMilliseconds: 60_000, maxEntries: 200) }

    /// Everything `feed` reports at `now`, walked from the start.
    static func feedEntries(_ feed: RemovedSegmentsFeed, at now: Int64) -> [RemovedSegmentsFeed.Entry] {
        feed.page(after: nil, limit: .max, now: Timestamp(millisecondsSinceEpoch: now)).entries
    }

    static func playlists(_ registry: SegmentRegistry<[UInt8]>) -> [String: [UInt8]] { RandomCommandLog.playlists(registry) }
    static func describe(_ outcome: CommandOutcome) -> String { RandomCommandLog.describe(outcome) }

    @Test("live application and a replay of the stored log give byte-identical playlists", arguments: Array(UInt64(1)...24))
    func replay(seed: UInt64) throws {
        var generator = SplitMix64(seed: seed ^ 0x5EED)
        let liveFeed = Self.feed()
        let live = Self.registry(feed: liveFeed)
        var stored: [StoredEntry] = []
        var answers: [String] = []
        var time: Int64 = 0
        for (index, step) in try RandomCommandLog.make(seed: seed).enumerated() {
            time = step.time
            let outcome = live.apply(step.command, at: Timestamp(millisecondsSinceEpoch: step.time))
            answers.append(Self.describe(outcome))
            let entry = LogEntry(
                position: UInt64(index + 1), time: Timestamp(millisecondsSinceEpoch: step.time), command: step.command, body: step.body)
            stored.append(entry.stored)
        }

        // A snapshot at a random position, through its stored form (JSON), plus the tail.
        let cut = Int.random(in: 0..<stored.count, using: &generator)
        let prefixFeed = Self.feed()
        let prefix = Self.registry(feed: prefixFeed)
        for record in stored[..<cut] {
            let entry = try LogEntry(record)
            _ = prefix.apply(entry.command, at: entry.time)
        }
        // Cut in shares as the store keeps it, each through JSON, whole again.
        let shares = try prefix.image().split(into: 3).map { try JSONDecoder().decode(RegistryImage.self, from: JSONEncoder().encode($0)) }
        let restoredFeed = Self.feed()
        let restored = Self.registry(feed: restoredFeed)
        restored.restore(try #require(RegistryImage.merge(shares)))
        // The feed as the store keeps it: its counters through JSON, its items as rows.
        let feedImage = prefixFeed.image()
        let header = try JSONDecoder().decode(RemovedSegmentsFeed.Image.self, from: JSONEncoder().encode(feedImage.header))
        let rows = feedImage.items.map(\.stored)
        let items = rows.compactMap { RemovedSegmentsFeed.Image.Item($0) }
        #expect(items.count == rows.count)
        restoredFeed.restore(try #require(RemovedSegmentsFeed.Image(header: header, items: items)))
        #expect(Self.playlists(restored) == Self.playlists(prefix))
        var tailAnswers: [String] = []
        for record in stored[cut...] {
            let entry = try LogEntry(record)
            tailAnswers.append(Self.describe(restored.apply(entry.command, at: entry.time)))
        }
        if let first = tailAnswers.indices.first(where: { tailAnswers[$0] != answers[cut + $0] }) {
            Issue.record("snapshot at \(cut): entry \(cut + first) (\(stored[cut + first].kind) \(stored[cut + first].stream ?? "-")/\(stored[cut + first].rendition ?? "-")) answered \(tailAnswers[first]) after the restore, \(answers[cut + first]) live")
        }

        // Replayed from the stored form, through the same decoders.
        let replayedFeed = Self.feed()
        let replayed = Self.registry(feed: replayedFeed)
        var replayedAnswers: [String] = []
        for record in stored {
            let entry = try LogEntry(record)
            replayedAnswers.append(Self.describe(replayed.apply(entry.command, at: entry.time)))
        }
        #expect(replayedAnswers == answers)
        let expected = Self.playlists(live)
        #expect(!expected.isEmpty)
        #expect(Self.playlists(replayed) == expected)
        #expect(Self.playlists(restored) == expected)
        // The retention feed too: what it reports at the last entry's time and later.
        for now in [time, time + 30_000, time + 90_000] {
            let reported = Self.feedEntries(liveFeed, at: now)
            #expect(Self.feedEntries(replayedFeed, at: now) == reported)
            #expect(Self.feedEntries(restoredFeed, at: now) == reported)
        }
        #expect(liveFeed.count + liveFeed.droppedCount > 0)

    }

    @Test("a stored feed item decodes to the item it was made from; one with both an id and an order, neither, or an invalid name is refused")
    func storedFeedItem() throws {
        let item = RemovedSegmentsFeed.Image.Item(
            kind: .ready(id: 12), stream: try StreamID(validating: "cam"), rendition: try RenditionName(validating: "720p"),
            sequence: 40, part: 2, path: "/cam/40.2.mp4", removedAt: Timestamp(millisecondsSinceEpoch: 1_000),
            deletableAfter: Timestamp(millisecondsSinceEpoch: 7_000))
        #expect(RemovedSegmentsFeed.Image.Item(item.stored) == item)
        var waiting = item
        waiting.kind = .waiting(order: 3)
        #expect(RemovedSegmentsFeed.Image.Item(waiting.stored) == waiting)
        var both = item.stored
        both.order = 3
        #expect(RemovedSegmentsFeed.Image.Item(both) == nil)
        both.id = nil
        both.order = nil
        #expect(RemovedSegmentsFeed.Image.Item(both) == nil)
        var invalid = item.stored
        invalid.stream = "no spaces allowed"
        #expect(RemovedSegmentsFeed.Image.Item(invalid) == nil)
    }

    @Test("a stored entry decodes to the command it was made from; a damaged one is refused with its position")
    func storedForm() throws {
        let stream = try StreamID(validating: "cam")
        let rendition = try RenditionName(validating: "720p")
        let body = Array(#"{"sequence":3,"duration":2.0,"path":"/3.ts"}"#.utf8)
        let entry = LogEntry(
            position: 9, time: Timestamp(millisecondsSinceEpoch: 5), command: .register(try Segment(json: body), stream: stream, rendition: rendition),
            body: body)
        #expect(try LogEntry(entry.stored) == entry)
        for command in [RegistryCommand.sweep, .end(stream), .forget(stream), .pin(stream: stream, rendition: rendition)] {
            let plain = LogEntry(position: 1, time: Timestamp(millisecondsSinceEpoch: 1), command: command, body: [])
            #expect(try LogEntry(plain.stored) == plain)
        }
        var damaged = entry.stored
        damaged.body = Array(#"{"sequence":3,"#.utf8)
        #expect(throws: CorruptEntry.self) { try LogEntry(damaged) }
        damaged = entry.stored
        damaged.kind = 99
        #expect(throws: CorruptEntry(position: 9, reason: "unknown kind 99")) { try LogEntry(damaged) }
        damaged = entry.stored
        damaged.stream = "bad id!"
        #expect(throws: CorruptEntry(position: 9, reason: "invalid stream id")) { try LogEntry(damaged) }
    }
}
