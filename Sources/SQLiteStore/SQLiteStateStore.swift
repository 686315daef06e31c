public import StateLog
import Synchronization

/// The state log in an SQLite database file (`STATE_STORE=sqlite:PATH`), in WAL mode.
///
/// The file holds a table of entries (`log`), one of facts about it (`meta`: the settings its
/// entries were decided under, the snapshot's generation), the newest snapshot's parts
/// (`snapshot`) and its retention feed's items (`feed`, one row each, numbered by generation so
/// that a snapshot's rows are written in short transactions beside the appends and only become
/// the snapshot's in the transaction that replaces it). Its `application_id` marks it as this
/// service's, so a file of another program is refused instead of being written into. The connection keeps SQLite's
/// exclusive lock from start-up to close: a second process given the same file is refused at
/// start-up instead of interleaving its own log.
///
/// `synchronous=NORMAL` (the default) survives a killed process: a committed WAL transaction is
/// in the operating system's cache; `FULL` also survives a power loss (one fsync per commit).
public final class SQLiteStateStore: StateStore, @unchecked Sendable {
    /// `STATE_SYNC`.
    public enum Synchronous: String, Sendable, CaseIterable {
        case normal
        case full
    }

    /// "HLSO" in ASCII: what `PRAGMA application_id` holds in this service's files.
    public static let applicationID: Int32 = 0x484C_534F
    /// The layout of the tables; a file with a later one is refused. Layout 1 had no `feed`
    /// table (its snapshots kept the feed's items in their first part, which still decodes).
    static let schemaVersion = 2
    /// Feed rows written (or deleted) per transaction while a snapshot is saved: an append waits
    /// for at most one such transaction (a few milliseconds).
    static let feedRowsPerTransaction = 512
    /// A feed row's key is its generation times this, plus its row number.
    static let feedGenerationStride: Int64 = 1 << 32

    public let location: String
    /// Every call goes through this lock (the committer is the one writer; loads and closes
    /// come from the start-up and shutdown paths).
    private let connection: Mutex<SQLiteConnection?>
    /// The generation of the newest snapshot's feed rows (0: none written yet). Only
    /// ``saveSnapshot(_:)`` changes it, one call at a time.
    private let feedGeneration: Mutex<Int64>

    /// Opens or creates the store at `path`.
    ///
    /// - Parameter settings: the settings that decide what an entry does (window, target
    ///   duration, timeouts, caps), by variable name: written on creation, compared on every
    ///   later start, refused when one differs (the log would replay into different playlists).
    /// - Throws: ``StoreFailure/unusable(_:)`` naming what is wrong.
    public init(path: String, synchronous: Synchronous, settings: [(name: String, value: String)]) throws(StoreFailure) {
        location = "sqlite:\(path)"
        let opened: SQLiteConnection
        do {
            opened = try SQLiteConnection(path: path)
        } catch {
            throw .unusable("cannot open \(path): \(error.message)")
        }
        do {
            feedGeneration = Mutex(try Self.prepare(opened, path: path, synchronous: synchronous, settings: settings))
        } catch let failure as StoreFailure {
            throw failure
        } catch let error as SQLiteConnection.Failure {
            if error.isNotADatabase { throw .unusable("\(path) is not an SQLite database of this service (\(error.message))") }
            if error.isBusy { throw .unusable("\(path) is in use by another process (\(error.message))") }
            throw .unusable("cannot use \(path): \(error)")
        } catch {
            throw .unusable("cannot use \(path): \(error)")
        }
        connection = Mutex(opened)
    }

    /// Sets the connection up, creates or upgrades the tables, checks the settings.
    /// - Returns: the generation of the newest snapshot's feed rows.
    private static func prepare(
        _ db: SQLiteConnection, path: String, synchronous: Synchronous, settings: [(name: String, value: String)]
    ) throws -> Int64 {
        // Reading the header first: a file that is not a database fails here, before anything is
        // written to it.
        let application = Int32(try db.text("PRAGMA application_id") ?? "0") ?? 0
        let tables = Int(try db.text("SELECT count(*) FROM sqlite_schema") ?? "0") ?? 0
        if application != applicationID && (application != 0 || tables > 0) {
            throw StoreFailure.unusable("\(path) is a database of another program (application_id \(application)); refusing to write into it")
        }
        try db.execute("PRAGMA locking_mode=EXCLUSIVE")
        guard try db.text("PRAGMA journal_mode=WAL")?.lowercased() == "wal" else {
            throw StoreFailure.unusable("\(path): SQLite could not switch the file to WAL mode")
        }
        try db.execute("PRAGMA synchronous=\(synchronous == .full ? "FULL" : "NORMAL")")
        // After a checkpoint the WAL is cut back to this size, so a large snapshot written once
        // does not leave a large file behind.
        try db.execute("PRAGMA journal_size_limit=\(64 << 20)")
        // The first write takes the exclusive lock, kept until close.
        try db.execute("BEGIN IMMEDIATE")
        do {
            let version = Int(try db.text("PRAGMA user_version") ?? "0") ?? 0
            if version > schemaVersion {
                throw StoreFailure.unusable("\(path) was written by a later version of this service (layout \(version))")
            }
            try db.execute(
                """
                CREATE TABLE IF NOT EXISTS log(
                    position INTEGER PRIMARY KEY,
                    time INTEGER NOT NULL,
                    kind INTEGER NOT NULL,
                    stream TEXT,
                    rendition TEXT,
                    body BLOB NOT NULL);
                CREATE TABLE IF NOT EXISTS meta(name TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
                CREATE TABLE IF NOT EXISTS snapshot(
                    part INTEGER PRIMARY KEY,
                    position INTEGER NOT NULL,
                    time INTEGER NOT NULL,
                    body BLOB NOT NULL);
                CREATE TABLE IF NOT EXISTS feed(
                    item INTEGER PRIMARY KEY,
                    id INTEGER,
                    arrival INTEGER,
                    stream TEXT NOT NULL,
                    rendition TEXT NOT NULL,
                    sequence INTEGER NOT NULL,
                    part INTEGER,
                    path TEXT NOT NULL,
                    removed_at INTEGER NOT NULL,
                    deletable_after INTEGER NOT NULL);
                PRAGMA application_id=\(applicationID);
                PRAGMA user_version=\(schemaVersion);
                """)
            try checkSettings(db, path: path, settings: settings)
            let generation = Int64(try db.text("SELECT value FROM meta WHERE name = 'feed_generation'") ?? "0") ?? 0
            // Rows of a snapshot that was being written when the process stopped, or of one
            // replaced whose rows were not all deleted yet.
            let clear = try db.prepare("DELETE FROM feed WHERE item < ?1 OR item >= ?2")
            defer { clear.finalize() }
            try clear.bind(1, generation * feedGenerationStride)
            try clear.bind(2, (generation + 1) * feedGenerationStride)
            _ = try clear.step()
            try db.execute("COMMIT")
            return generation
        } catch {
            try? db.execute("ROLLBACK")
            throw error
        }
    }

    /// Writes `settings` into a new file; refuses a file written under other settings.
    private static func checkSettings(_ db: SQLiteConnection, path: String, settings: [(name: String, value: String)]) throws {
        let read = try db.prepare("SELECT value FROM meta WHERE name = ?1")
        defer { read.finalize() }
        let write = try db.prepare("INSERT INTO meta(name, value) VALUES (?1, ?2)")
        defer { write.finalize() }
        for (name, value) in settings {
            read.reset()
            try read.bind(1, "setting:\(name)")
            if try read.step() {
                let stored = read.text(0) ?? ""
                if stored != value {
                    throw StoreFailure.unusable(
                        "\(path) holds a log decided with \(name)=\(stored), and this configuration has \(name)=\(value): "
                            + "start with \(name)=\(stored), or with a new STATE_STORE file to start empty")
                }
            } else {
                write.reset()
                try write.bind(1, "setting:\(name)")
                try write.bind(2, value)
                _ = try write.step()
            }
        }
    }

    public func load() throws(StoreFailure) -> StoredState {
        do {
            return try connection.withLock { db throws(SQLiteConnection.Failure) in
                guard let db else { return StoredState(snapshot: nil, entries: []) }
                var snapshot: StoredSnapshot?
                let latest = try db.prepare("SELECT position, time, body FROM snapshot ORDER BY part")
                defer { latest.finalize() }
                while try latest.step() {
                    if snapshot == nil {
                        snapshot = StoredSnapshot(position: UInt64(bitPattern: latest.int64(0)), time: latest.int64(1), parts: [])
                    }
                    snapshot?.parts.append(latest.blob(2))
                }
                if snapshot != nil { snapshot?.feed = try feedItems(db, generation: feedGeneration.withLock { $0 }) }
                let select = try db.prepare(
                    "SELECT position, time, kind, stream, rendition, body FROM log WHERE position > ?1 ORDER BY position")
                defer { select.finalize() }
                try select.bind(1, Int64(bitPattern: snapshot?.position ?? 0))
                var entries: [StoredEntry] = []
                while try select.step() {
                    entries.append(
                        StoredEntry(
                            position: UInt64(bitPattern: select.int64(0)), time: select.int64(1), kind: Int(select.int64(2)),
                            stream: select.isNull(3) ? nil : select.text(3), rendition: select.isNull(4) ? nil : select.text(4),
                            body: select.blob(5)))
                }
                return StoredState(snapshot: snapshot, entries: entries)
            }
        } catch {
            throw error.isNotADatabase
                ? .unusable("\(location) is corrupt: \(error.message)") : .unusable("cannot read \(location): \(error)")
        }
    }

    public func append(_ entries: [StoredEntry], removing: [UInt64]) throws(StoreFailure) {
        try transaction { db throws(SQLiteConnection.Failure) in
            let insert = try db.prepare(
                "INSERT INTO log(position, time, kind, stream, rendition, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")
            defer { insert.finalize() }
            for entry in entries {
                insert.reset()
                try insert.bind(1, Int64(bitPattern: entry.position))
                try insert.bind(2, entry.time)
                try insert.bind(3, Int64(entry.kind))
                try insert.bind(4, entry.stream)
                try insert.bind(5, entry.rendition)
                try insert.bind(6, entry.body)
                _ = try insert.step()
            }
            if !removing.isEmpty {
                let delete = try db.prepare("DELETE FROM log WHERE position = ?1")
                defer { delete.finalize() }
                for position in removing {
                    delete.reset()
                    try delete.bind(1, Int64(bitPattern: position))
                    _ = try delete.step()
                }
            }
        }
    }

    /// The feed rows of `generation`, in order.
    private func feedItems(_ db: SQLiteConnection, generation: Int64) throws(SQLiteConnection.Failure) -> [StoredFeedItem] {
        let select = try db.prepare(
            """
            SELECT id, arrival, stream, rendition, sequence, part, path, removed_at, deletable_after
            FROM feed WHERE item >= ?1 AND item < ?2 ORDER BY item
            """)
        defer { select.finalize() }
        try select.bind(1, generation * Self.feedGenerationStride)
        try select.bind(2, (generation + 1) * Self.feedGenerationStride)
        var items: [StoredFeedItem] = []
        while try select.step() {
            items.append(
                StoredFeedItem(
                    id: select.isNull(0) ? nil : UInt64(bitPattern: select.int64(0)),
                    order: select.isNull(1) ? nil : UInt64(bitPattern: select.int64(1)),
                    stream: select.text(2) ?? "", rendition: select.text(3) ?? "",
                    sequence: UInt64(bitPattern: select.int64(4)), part: select.isNull(5) ? nil : Int(select.int64(5)),
                    path: select.text(6) ?? "", removedAt: select.int64(7), deletableAfter: select.int64(8)))
        }
        return items
    }

    public func saveSnapshot(_ snapshot: StoredSnapshot) throws(StoreFailure) {
        let previous = feedGeneration.withLock { $0 }
        let generation = previous + 1
        let base = generation * Self.feedGenerationStride
        do throws(StoreFailure) {
            // The new rows, a few thousand per transaction: appends go on between them, and until
            // the snapshot below names their generation they are nobody's.
            var row = 0
            while row < snapshot.feed.count {
                let end = min(snapshot.feed.count, row + Self.feedRowsPerTransaction)
                try transaction { db throws(SQLiteConnection.Failure) in
                    try insertFeedItems(db, snapshot.feed[row..<end], from: base + Int64(row))
                }
                row = end
            }
            try replaceSnapshot(snapshot, generation: generation)
        } catch {
            // What was written of the new rows (the next start clears whatever this leaves).
            if case .durabilityLost = error { throw error }
            try? deleteFeedItems(keeping: previous)
            throw error
        }
        feedGeneration.withLock { $0 = generation }
        // The replaced snapshot's rows, a few thousand per transaction.
        do {
            try deleteFeedItems(keeping: generation)
        } catch {
            // The snapshot is in; rows left behind are cleared by the next snapshot or start.
            if case .durabilityLost = error { throw error }
        }
    }

    private func insertFeedItems(
        _ db: SQLiteConnection, _ items: ArraySlice<StoredFeedItem>, from first: Int64
    ) throws(SQLiteConnection.Failure) {
        let insert = try db.prepare(
            """
            INSERT INTO feed(item, id, arrival, stream, rendition, sequence, part, path, removed_at, deletable_after)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
            """)
        defer { insert.finalize() }
        var key = first
        for item in items {
            insert.reset()
            try insert.bind(1, key)
            try insert.bind(2, item.id.map { Int64(bitPattern: $0) })
            try insert.bind(3, item.order.map { Int64(bitPattern: $0) })
            try insert.bind(4, item.stream)
            try insert.bind(5, item.rendition)
            try insert.bind(6, Int64(bitPattern: item.sequence))
            try insert.bind(7, item.part.map { Int64($0) })
            try insert.bind(8, item.path)
            try insert.bind(9, item.removedAt)
            try insert.bind(10, item.deletableAfter)
            _ = try insert.step()
            key += 1
        }
    }

    /// Deletes every feed row of another generation than `generation`, a few thousand per
    /// transaction.
    private func deleteFeedItems(keeping generation: Int64) throws(StoreFailure) {
        var deleted = Self.feedRowsPerTransaction
        while deleted == Self.feedRowsPerTransaction {
            try transaction { db throws(SQLiteConnection.Failure) in
                let delete = try db.prepare(
                    "DELETE FROM feed WHERE item IN (SELECT item FROM feed WHERE item < ?1 OR item >= ?2 LIMIT ?3)")
                defer { delete.finalize() }
                try delete.bind(1, generation * Self.feedGenerationStride)
                try delete.bind(2, (generation + 1) * Self.feedGenerationStride)
                try delete.bind(3, Int64(Self.feedRowsPerTransaction))
                _ = try delete.step()
                deleted = db.changes
            }
        }
    }

    /// The snapshot's parts in place of the previous ones, its feed rows' generation named, and
    /// the log below it trimmed: one transaction.
    private func replaceSnapshot(_ snapshot: StoredSnapshot, generation: Int64) throws(StoreFailure) {
        try transaction { db throws(SQLiteConnection.Failure) in
            try db.execute("DELETE FROM snapshot")
            let insert = try db.prepare("INSERT INTO snapshot(part, position, time, body) VALUES (?1, ?2, ?3, ?4)")
            defer { insert.finalize() }
            for (index, part) in snapshot.parts.enumerated() {
                insert.reset()
                try insert.bind(1, Int64(index))
                try insert.bind(2, Int64(bitPattern: snapshot.position))
                try insert.bind(3, snapshot.time)
                try insert.bind(4, part)
                _ = try insert.step()
            }
            try db.execute("INSERT OR REPLACE INTO meta(name, value) VALUES ('feed_generation', '\(generation)')")
            let trim = try db.prepare("DELETE FROM log WHERE position <= ?1")
            defer { trim.finalize() }
            try trim.bind(1, Int64(bitPattern: snapshot.position))
            _ = try trim.step()
        }
    }

    /// Runs `body` in one write transaction, committed when it returns and rolled back when it
    /// throws; a failure becomes the ``StoreFailure`` that says what the caller may do: a full
    /// disk or a lock held elsewhere is ``StoreFailure/unavailable(_:)`` (nothing was kept), an
    /// I/O error ``StoreFailure/durabilityLost(_:)``.
    private func transaction(_ body: (SQLiteConnection) throws(SQLiteConnection.Failure) -> Void) throws(StoreFailure) {
        do {
            try connection.withLock { db throws(SQLiteConnection.Failure) in
                guard let db else { throw SQLiteConnection.Failure(code: 21, message: "the store is closed") }
                try db.execute("BEGIN IMMEDIATE")
                do throws(SQLiteConnection.Failure) {
                    try body(db)
                    try db.execute("COMMIT")
                } catch {
                    try? db.execute("ROLLBACK")
                    throw error
                }
            }
        } catch {
            if error.isFull || error.isBusy { throw .unavailable("\(location): \(error.message)") }
            if error.isIOError { throw .durabilityLost("\(location): \(error)") }
            throw .unavailable("\(location): \(error)")
        }
    }

    public func close() {
        connection.withLock { db in
            if let open = db {
                // Folds the WAL back into the database file before the connection goes.
                try? open.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            }
            db = nil
        }
    }
}
