import Foundation
import HLSModel
import OrchestratorTesting
import PlaylistRenderer
import RedisClient
import RedisStore
import SegmentRegistry
import StateLog
import Testing

/// The shared state log on a real redis-server: what one instance appends, every instance reads
/// in the same order and applies into the same playlists; a snapshot in Redis plus the tail
/// after it gives them too; the settings every instance must share are enforced; an unreachable
/// Redis is an error within the timeout, and the log works again once it is back.
@Suite struct RedisSharedLogTests {
    static let settings: [(name: String, value: String)] = [("SLIDING_WINDOW_SIZE", "4"), ("GAP_TIMEOUT", "6")]

    static func registry() -> SegmentRegistry<[UInt8]> {
        SegmentRegistry(configuration: RandomCommandLog.configuration, publish: { MediaPlaylistRenderer.renderBytes($0) })
    }

    /// Applies `entries` to `registry` in order, at each entry's time; the answers.
    static func apply(_ entries: [SharedLogEntry], to registry: SegmentRegistry<[UInt8]>) throws -> [String] {
        try entries.map { shared in
            let entry = try LogEntry(shared.stored)
            return RandomCommandLog.describe(registry.apply(entry.command, at: entry.time))
        }
    }

    /// Every entry after `after`, read in pages of `page`.
    static func readAll(_ log: RedisSharedLog, after: StreamEntryID = .zero, page: Int = 37) throws -> [SharedLogEntry] {
        var all: [SharedLogEntry] = []
        var cursor = after
        while true {
            let entries = try log.read(after: cursor, count: page)
            guard let last = entries.last else { return all }
            all += entries
            cursor = last.id
        }
    }

    @Test("random command sequences through the Redis log: every reader, and a snapshot in Redis plus its tail, give byte-identical playlists", arguments: Array(UInt64(1)...6))
    func replay(seed: UInt64) async throws {
        let server = try RedisServer()
        try await offPool {
            let prefix = "replay-\(seed)"
            let writer = try RedisSharedLog(address: server.address, prefix: prefix, settings: Self.settings)
            let steps = try RandomCommandLog.make(seed: seed, count: 300)
            // Appended in batches of various sizes, as a committer would.
            var generator = SplitMix64(seed: seed)
            var ids: [StreamEntryID] = []
            var index = 0
            while index < steps.count {
                let batch = steps[index..<min(steps.count, index + 1 + generator.below(40))]
                let stored = batch.enumerated().map { offset, step in
                    LogEntry(position: UInt64(index + offset + 1), time: Timestamp(millisecondsSinceEpoch: step.time), command: step.command, body: step.body).stored
                }
                ids += try writer.append(stored, origins: stored.map { "A:\($0.position)" })
                index += batch.count
            }
            #expect(ids == ids.sorted() && Set(ids).count == steps.count)

            // Two instances read the whole log: the same entries, the same answers, the same bytes.
            let first = try Self.readAll(try RedisSharedLog(address: server.address, prefix: prefix, settings: Self.settings))
            let second = try Self.readAll(try RedisSharedLog(address: server.address, prefix: prefix, settings: Self.settings), page: 101)
            #expect(first.count == second.count && first.elementsEqual(second), "two readers read different entries")
            #expect(first.map(\.id) == ids)
            #expect(first.map(\.origin) == (1...steps.count).map { "A:\($0)" })
            #expect(zip(first, first.dropFirst()).allSatisfy { $0.time <= $1.time })
            let one = Self.registry()
            let other = Self.registry()
            let answers = try Self.apply(first, to: one)
            #expect(try Self.apply(second, to: other) == answers)
            let expected = RandomCommandLog.playlists(one)
            #expect(!expected.isEmpty)
            #expect(RandomCommandLog.playlists(other) == expected)

            // A snapshot at a random entry, kept in Redis, and the tail after it.
            let cut = generator.below(first.count)
            let prefixRegistry = Self.registry()
            _ = try Self.apply(Array(first[..<cut]), to: prefixRegistry)
            let shares = try prefixRegistry.image().split(into: 2).map { Array(try JSONEncoder().encode($0)) }
            let item = StoredFeedItem(
                id: 1, order: nil, stream: "a", rendition: "720p", sequence: 3, part: nil, path: "/a/3.ts", removedAt: 5, deletableAfter: 9)
            let at = cut > 0 ? first[cut - 1].id : StreamEntryID.zero
            try writer.saveSnapshot(StoredSnapshot(position: 0, time: Int64(at.milliseconds), parts: shares, feed: [item]), at: at)
            let joining = try RedisSharedLog(address: server.address, prefix: prefix, settings: Self.settings)
            let (snapshotID, snapshot) = try #require(try joining.loadSnapshot())
            #expect(snapshotID == at)
            #expect(snapshot.feed == [item])
            let restored = Self.registry()
            restored.restore(try #require(RegistryImage.merge(try snapshot.parts.map { try JSONDecoder().decode(RegistryImage.self, from: Data($0)) })))
            let tail = try Self.readAll(joining, after: snapshotID)
            #expect(tail.map(\.id) == Array(ids[cut...]))
            #expect(try Self.apply(tail, to: restored) == Array(answers[cut...]))
            #expect(RandomCommandLog.playlists(restored) == expected)
            // The first snapshot trims nothing; the next trims up to the one before it, so an
            // instance lagging behind the newest snapshot still reads every entry.
            #expect(try joining.bounds()?.length == steps.count)
            #expect(try joining.trimmedThrough() == .zero)
            try writer.saveSnapshot(StoredSnapshot(position: 0, time: 0, parts: shares, feed: []), at: ids[ids.count - 1])
            let bounds = try #require(try joining.bounds())
            #expect(bounds.length == steps.count - cut)
            #expect(bounds.lastGenerated == ids.last)
            #expect(try joining.trimmedThrough() == at)
        }
    }

    @Test("an instance whose playlist settings differ from the shared ones is refused, naming the setting and both values")
    func settingsMismatch() async throws {
        let server = try RedisServer()
        try await offPool {
            _ = try RedisSharedLog(address: server.address, settings: Self.settings)
            _ = try RedisSharedLog(address: server.address, settings: Self.settings)
            do {
                _ = try RedisSharedLog(address: server.address, settings: [("SLIDING_WINDOW_SIZE", "6"), ("GAP_TIMEOUT", "6")])
                Issue.record("a different SLIDING_WINDOW_SIZE was accepted")
            } catch {
                guard case StoreFailure.unusable(let message) = error else { throw error }
                #expect(message.contains("SLIDING_WINDOW_SIZE=4, and this configuration has SLIDING_WINDOW_SIZE=6"), "\(message)")
            }
        }
    }

    @Test("Redis unreachable: an error within the timeout; the same log works again once Redis is back; a foreign entry is refused")
    func unreachable() async throws {
        let server = try RedisServer()
        try await offPool {
            let log = try RedisSharedLog(address: server.address, timeout: .milliseconds(500), settings: Self.settings)
            let entry = StoredEntry(position: 1, time: 0, kind: StoredEntry.Kind.sweep.rawValue, stream: nil, rendition: nil, body: [])
            _ = try log.append([entry], origins: ["A:1"])
            server.kill()
            let started = ContinuousClock.now
            do {
                _ = try log.append([entry], origins: ["A:2"])
                Issue.record("an append to a stopped Redis succeeded")
            } catch {
                guard case StoreFailure.unavailable = error else { throw error }
            }
            #expect(throws: StoreFailure.self) { try log.read(after: .zero, count: 10) }
            #expect(ContinuousClock.now - started < .seconds(3))
            try server.restart()
            // Started empty (no AOF here): the same object connects again.
            _ = try log.append([entry], origins: ["A:3"])
            #expect(try log.read(after: .zero, count: 10).map(\.origin) == ["A:3"])
            // An entry this service did not write.
            let raw = try RedisConnection(server.address, timeout: .seconds(1))
            _ = try raw.streamAppend("hls-orchestrator:log", fields: [("hello", Array("world".utf8))])
            do {
                _ = try log.read(after: .zero, count: 10)
                Issue.record("a foreign entry was read")
            } catch {
                guard case StoreFailure.unusable(let message) = error else { throw error }
                #expect(message.contains("was not written by this service"))
            }
        }
    }
}
