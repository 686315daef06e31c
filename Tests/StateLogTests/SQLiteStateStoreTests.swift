import Foundation
import SQLiteStore
import OrchestratorTesting
import StateLog
import Testing

/// The SQLite store against real files: what it appends is what it loads after a reopen, in one
/// transaction or not at all; it refuses files it must not write into, and settings that would
/// replay its log into other playlists.
@Suite struct SQLiteStateStoreTests {
    static let settings: [(name: String, value: String)] = [("SLIDING_WINDOW_SIZE", "6"), ("GAP_TIMEOUT", "0")]

    /// A fresh directory for one test, removed after.
    final class Directory {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("hls-store-\(UUID().uuidString)")
        init() throws { try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true) }
        deinit { try? FileManager.default.removeItem(at: url) }
        func path(_ name: String) -> String { url.appendingPathComponent(name).path }
    }

    static func entry(_ position: UInt64, body: String = "{}") -> StoredEntry {
        StoredEntry(
            position: position, time: 1_700_000_000_000 + Int64(position), kind: 1, stream: "s\(position % 3)",
            rendition: position % 2 == 0 ? "720p" : nil, body: Array(body.utf8))
    }

    /// Runs the sqlite3 command-line shell on `path`.
    static func sqlite3(_ path: String, _ sql: String) throws -> (status: Int32, output: String) {
        let process = try ChildProcess("/usr/bin/sqlite3", [path, sql], output: .pipe, error: .pipe, mergeError: true)
        let data = process.readOutput()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    @Test("appended entries load back after a reopen, in order; removed ones are gone; sqlite3 reads the same rows")
    func roundTrip() throws {
        let directory = try Directory()
        let path = directory.path("state.db")
        do {
            let store = try SQLiteStateStore(path: path, synchronous: .normal, settings: Self.settings)
            try store.append((1...50).map { Self.entry($0, body: #"{"n":\#($0)}"#) }, removing: [])
            try store.append((51...60).map { Self.entry($0) }, removing: [7, 8])
            try store.append([], removing: [60])
            store.close()
        }
        let store = try SQLiteStateStore(path: path, synchronous: .full, settings: Self.settings)
        let loaded = try store.load()
        let expected = (1...59).filter { $0 != 7 && $0 != 8 }.map { Self.entry(UInt64($0), body: $0 <= 50 ? #"{"n":\#($0)}"# : "{}") }
        #expect(loaded == StoredState(snapshot: nil, entries: expected))
        store.close()
        // The real shell sees this service's file: WAL mode, its application id, the rows.
        let (status, output) = try Self.sqlite3(path, "PRAGMA journal_mode; PRAGMA application_id; SELECT count(*) FROM log;")
        #expect(status == 0, "\(output)")
        #expect(output == "wal\n\(SQLiteStateStore.applicationID)\n57\n")
    }

    @Test("a snapshot replaces the previous one and drops the entries it covers; later entries stay, and load back after it")
    func snapshots() throws {
        let directory = try Directory()
        let path = directory.path("state.db")
        do {
            let store = try SQLiteStateStore(path: path, synchronous: .normal, settings: Self.settings)
            try store.append((1...100).map { Self.entry($0) }, removing: [])
            try store.saveSnapshot(StoredSnapshot(position: 40, time: 1_700_000_000_040, parts: [Array("a".utf8), Array("b".utf8), Array("c".utf8)]))
            try store.append((101...120).map { Self.entry($0) }, removing: [])
            try store.saveSnapshot(StoredSnapshot(position: 90, time: 1_700_000_000_090, parts: [Array("first".utf8), Array("second".utf8)]))
            store.close()
        }
        let store = try SQLiteStateStore(path: path, synchronous: .normal, settings: Self.settings)
        #expect(
            try store.load()
                == StoredState(
                    snapshot: StoredSnapshot(position: 90, time: 1_700_000_000_090, parts: [Array("first".utf8), Array("second".utf8)]),
                    entries: (91...120).map { Self.entry($0) }))
        store.close()
        #expect(try Self.sqlite3(path, "SELECT count(*), min(position) FROM log; SELECT count(*) FROM snapshot;").output == "30|91\n2\n")
    }

    static func feedItem(_ index: Int) -> StoredFeedItem {
        StoredFeedItem(
            id: index % 3 == 0 ? nil : UInt64(index), order: index % 3 == 0 ? UInt64(index * 7) : nil,
            stream: "s\(index % 17)", rendition: "r\(index % 3)", sequence: UInt64(index), part: index % 5 == 0 ? index % 4 : nil,
            path: "s\(index % 17)/seg-\(index).ts", removedAt: 1_700_000_000_000 + Int64(index),
            deletableAfter: 1_700_000_006_000 + Int64(index))
    }

    @Test("a snapshot's feed items (more than one transaction's worth) load back in order; the next snapshot's replace them")
    func feedItems() throws {
        let directory = try Directory()
        let path = directory.path("state.db")
        let many = (0..<10_000).map(Self.feedItem)
        let few = (20_000..<20_005).map(Self.feedItem)
        do {
            let store = try SQLiteStateStore(path: path, synchronous: .normal, settings: Self.settings)
            try store.append((1...10).map { Self.entry($0) }, removing: [])
            try store.saveSnapshot(StoredSnapshot(position: 5, time: 1_700_000_000_005, parts: [[1], [2]], feed: many))
            store.close()
        }
        do {
            let store = try SQLiteStateStore(path: path, synchronous: .normal, settings: Self.settings)
            #expect(try store.load().snapshot == StoredSnapshot(position: 5, time: 1_700_000_000_005, parts: [[1], [2]], feed: many))
            try store.saveSnapshot(StoredSnapshot(position: 8, time: 1_700_000_000_008, parts: [[3], [4]], feed: few))
            #expect(try store.load().snapshot?.feed == few)
            store.close()
        }
        #expect(try Self.sqlite3(path, "SELECT count(*) FROM feed; SELECT value FROM meta WHERE name = 'feed_generation';").output == "5\n2\n")
    }

    @Test("feed rows of a snapshot left unfinished (a crash while it was written) are ignored and cleared at the next start")
    func unfinishedFeedRows() throws {
        let directory = try Directory()
        let path = directory.path("state.db")
        let kept = (0..<3).map(Self.feedItem)
        do {
            let store = try SQLiteStateStore(path: path, synchronous: .normal, settings: Self.settings)
            try store.append((1...4).map { Self.entry($0) }, removing: [])
            try store.saveSnapshot(StoredSnapshot(position: 2, time: 1_700_000_000_002, parts: [[1], [2]], feed: kept))
            store.close()
        }
        // Generation 2's rows, as a snapshot interrupted before the transaction that names them.
        let stray = "INSERT INTO feed(item, id, arrival, stream, rendition, sequence, part, path, removed_at, deletable_after) "
            + "VALUES (\(2 << 32), 9, NULL, 'x', 'y', 1, NULL, 'p', 1, 2), (\((2 << 32) + 1), 10, NULL, 'x', 'y', 2, NULL, 'q', 1, 2);"
        #expect(try Self.sqlite3(path, stray).status == 0)
        let store = try SQLiteStateStore(path: path, synchronous: .normal, settings: Self.settings)
        #expect(try store.load() == StoredState(
            snapshot: StoredSnapshot(position: 2, time: 1_700_000_000_002, parts: [[1], [2]], feed: kept),
            entries: (3...4).map { Self.entry($0) }))
        store.close()
        #expect(try Self.sqlite3(path, "SELECT count(*) FROM feed;").output == "3\n")
    }

    @Test("a file of layout 1 (no feed table: its snapshot holds the feed's items in its first part) opens, loads and is upgraded")
    func layoutOne() throws {
        let directory = try Directory()
        let path = directory.path("state.db")
        do {
            let store = try SQLiteStateStore(path: path, synchronous: .normal, settings: Self.settings)
            try store.append((1...3).map { Self.entry($0) }, removing: [])
            try store.saveSnapshot(StoredSnapshot(position: 1, time: 1_700_000_000_001, parts: [Array("feed".utf8), [2]]))
            store.close()
        }
        let downgrade = "DROP TABLE feed; DELETE FROM meta WHERE name = 'feed_generation'; PRAGMA user_version=1;"
        #expect(try Self.sqlite3(path, downgrade).status == 0)
        let store = try SQLiteStateStore(path: path, synchronous: .normal, settings: Self.settings)
        #expect(try store.load() == StoredState(
            snapshot: StoredSnapshot(position: 1, time: 1_700_000_000_001, parts: [Array("feed".utf8), [2]]),
            entries: (2...3).map { Self.entry($0) }))
        store.close()
        #expect(try Self.sqlite3(path, "PRAGMA user_version; SELECT count(*) FROM feed;").output == "2\n0\n")
    }

    @Test("a second process (connection) on the same file is refused while the first holds it")
    func exclusive() throws {
        let directory = try Directory()
        let path = directory.path("state.db")
        let first = try SQLiteStateStore(path: path, synchronous: .normal, settings: Self.settings)
        #expect(throws: StoreFailure.self) { try SQLiteStateStore(path: path, synchronous: .normal, settings: Self.settings) }
        do {
            _ = try SQLiteStateStore(path: path, synchronous: .normal, settings: Self.settings)
        } catch {
            #expect("\(error)".contains("in use by another process"), "\(error)")
        }
        first.close()
        _ = try SQLiteStateStore(path: path, synchronous: .normal, settings: Self.settings)
    }

    @Test("a log decided under other settings is refused, naming the setting and both values")
    func settingsMismatch() throws {
        let directory = try Directory()
        let path = directory.path("state.db")
        try SQLiteStateStore(path: path, synchronous: .normal, settings: Self.settings).close()
        do {
            _ = try SQLiteStateStore(path: path, synchronous: .normal, settings: [("SLIDING_WINDOW_SIZE", "8"), ("GAP_TIMEOUT", "0")])
            Issue.record("a changed SLIDING_WINDOW_SIZE was accepted")
        } catch {
            #expect(
                error
                    == .unusable(
                        "\(path) holds a log decided with SLIDING_WINDOW_SIZE=6, and this configuration has SLIDING_WINDOW_SIZE=8: "
                            + "start with SLIDING_WINDOW_SIZE=6, or with a new STATE_STORE file to start empty"))
        }
    }

    @Test("a file that is not a database, another program's database, and a missing directory are refused, never written")
    func refusedFiles() throws {
        let directory = try Directory()
        let garbage = directory.path("garbage.db")
        let bytes = Data((0..<8192).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) })
        try bytes.write(to: URL(fileURLWithPath: garbage))
        #expect(throws: StoreFailure.self) { try SQLiteStateStore(path: garbage, synchronous: .normal, settings: Self.settings) }
        #expect(try Data(contentsOf: URL(fileURLWithPath: garbage)) == bytes, "the file was left as it was")

        let foreign = directory.path("foreign.db")
        #expect(try Self.sqlite3(foreign, "CREATE TABLE accounts(id INTEGER); INSERT INTO accounts VALUES (1);").status == 0)
        do {
            _ = try SQLiteStateStore(path: foreign, synchronous: .normal, settings: Self.settings)
            Issue.record("another program's database was accepted")
        } catch {
            #expect("\(error)".contains("is a database of another program"), "\(error)")
        }
        #expect(try Self.sqlite3(foreign, "SELECT name FROM sqlite_schema;").output == "accounts\n")

        do {
            _ = try SQLiteStateStore(path: directory.path("missing/state.db"), synchronous: .normal, settings: Self.settings)
            Issue.record("a path in a missing directory was accepted")
        } catch {
            #expect("\(error)".hasPrefix("cannot open \(directory.path("missing/state.db"))"), "\(error)")
        }
    }
}
