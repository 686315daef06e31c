import FoundationEssentials
public import RedisClient
public import StateLog
import Synchronization

/// The state log shared by several instances, in Redis (`STATE_STORE=redis://…`): a Redis
/// stream of commands (`<prefix>:log`), the settings every instance must share
/// (`<prefix>:settings`), and the newest snapshot (`<prefix>:snapshot`).
///
/// Appends go through one connection (pipelined: one round trip per batch), reads through
/// another (a blocking `XREAD` must not hold appends back). A connection that fails is dropped
/// and made again at the next call; every call answers within the timeout, with
/// ``StoreFailure/unavailable(_:)`` when Redis cannot be reached.
public final class RedisSharedLog: Sendable {
    public let address: RedisAddress
    /// The prefix of every key.
    public let prefix: String
    private let timeout: Duration
    private let writer: Mutex<RedisConnection?>
    private let reader: Mutex<RedisConnection?>

    var logKey: String { "\(prefix):log" }
    var settingsKey: String { "\(prefix):settings" }
    var snapshotKey: String { "\(prefix):snapshot" }

    /// Connects and checks `settings` against the shared ones: the first instance writes them,
    /// every later one must have the same (a log decided under other settings would replay into
    /// other playlists).
    /// - Throws: ``StoreFailure/unavailable(_:)`` when Redis cannot be reached or refuses;
    ///   ``StoreFailure/unusable(_:)`` naming the first setting that differs.
    public init(
        address: RedisAddress, prefix: String = "hls-orchestrator", timeout: Duration = .seconds(5),
        settings: [(name: String, value: String)]
    ) throws(StoreFailure) {
        self.address = address
        self.prefix = prefix
        self.timeout = timeout
        writer = Mutex(nil)
        reader = Mutex(nil)
        try checkSettings(settings)
    }

    /// The backend and where it keeps the log, never the password.
    public var location: String { "\(address) (keys \(prefix):*)" }

    private func checkSettings(_ settings: [(name: String, value: String)]) throws(StoreFailure) {
        let replies = try onWriter { redis throws(RedisError) in
            try redis.pipeline(
                settings.map { [Array("HSETNX".utf8), Array(settingsKey.utf8), Array($0.name.utf8), Array($0.value.utf8)] }
                    + [[Array("HGETALL".utf8), Array(settingsKey.utf8)]])
        }
        guard case .array(let flat)? = replies.last else { throw .unavailable("\(location): HGETALL replied \(String(describing: replies.last))") }
        var shared: [String: String] = [:]
        for index in stride(from: 0, to: flat.count - 1, by: 2) {
            if let name = flat[index].text, let value = flat[index + 1].text { shared[name] = value }
        }
        for (name, value) in settings where shared[name] != value {
            let theirs = shared[name] ?? "(none)"
            throw .unusable(
                "\(location) holds a log shared by instances with \(name)=\(theirs), and this configuration has \(name)=\(value): "
                    + "every instance on one Redis log must run the same playlist settings")
        }
    }

    /// Appends `entries` (each with its origin token) in one round trip; their ids, in order.
    /// - Throws: ``StoreFailure/unavailable(_:)``: whether entries sent before the failure were
    ///   appended is unknown; the reader will see them if they were.
    public func append(_ entries: [StoredEntry], origins: [String]) throws(StoreFailure) -> [StreamEntryID] {
        precondition(entries.count == origins.count)
        guard !entries.isEmpty else { return [] }
        let commands = zip(entries, origins).map { RedisConnection.appendArguments(logKey, fields: SharedLogEntry.fields($0, origin: $1)) }
        let replies = try onWriter { redis throws(RedisError) in try redis.pipeline(commands) }
        do {
            return try replies.map(RedisConnection.entryID)
        } catch {
            throw .unavailable("\(location): \(error)")
        }
    }

    /// Up to `count` entries after `after`, in order; with `block`, waits up to that long for
    /// the first one (then returns none).
    /// - Throws: ``StoreFailure/unavailable(_:)``; ``StoreFailure/unusable(_:)`` for an entry this
    ///   service did not write.
    public func read(after: StreamEntryID, count: Int, block: Duration? = nil) throws(StoreFailure) -> [SharedLogEntry] {
        let entries = try onReader(extraTimeout: block ?? .zero) { redis throws(RedisError) in
            try redis.streamRead(logKey, after: after, count: count, block: block)
        }
        var decoded: [SharedLogEntry] = []
        decoded.reserveCapacity(entries.count)
        for entry in entries {
            guard let shared = SharedLogEntry(entry) else {
                throw .unusable("\(location): the log entry \(entry.id) was not written by this service")
            }
            decoded.append(shared)
        }
        return decoded
    }

    /// The log's length, oldest entry and last id given out; nil when it holds nothing yet.
    public func bounds() throws(StoreFailure) -> StreamBounds? {
        try onWriter { redis throws(RedisError) in try redis.streamBounds(logKey) }
    }

    /// Replaces the snapshot with `snapshot`, the state after the entry `id`, in one
    /// transaction (`MULTI`/`EXEC`), then trims the log up to the previous snapshot's entry: the
    /// entries between the two stay, so an instance that lags behind the newest snapshot (by
    /// less than a snapshot's interval) still reads every entry in order.
    public func saveSnapshot(_ snapshot: StoredSnapshot, at id: StreamEntryID) throws(StoreFailure) {
        let feed: [UInt8]
        do {
            feed = Array(try JSONEncoder().encode(snapshot.feed))
        } catch {
            throw .unavailable("\(location): the snapshot's feed does not encode: \(error)")
        }
        let previous = try onWriter { redis throws(RedisError) in
            try redis.checked([Array("HGET".utf8), Array(snapshotKey.utf8), Array("id".utf8)])
        }.text.flatMap(StreamEntryID.init) ?? .zero
        let trimmed = min(previous, id)
        var fields: [[UInt8]] = [
            Array("HSET".utf8), Array(snapshotKey.utf8),
            Array("id".utf8), Array(id.description.utf8),
            Array("trimmed".utf8), Array(trimmed.description.utf8),
            Array("time".utf8), Array("\(snapshot.time)".utf8),
            Array("parts".utf8), Array("\(snapshot.parts.count)".utf8),
            Array("feed".utf8), feed,
        ]
        for (index, part) in snapshot.parts.enumerated() {
            fields.append(Array("part:\(index)".utf8))
            fields.append(part)
        }
        let next = StreamEntryID(milliseconds: trimmed.milliseconds, sequence: trimmed.sequence + 1)
        let replies = try onWriter { redis throws(RedisError) in
            try redis.pipeline([
                [Array("MULTI".utf8)], [Array("DEL".utf8), Array(snapshotKey.utf8)], fields, [Array("EXEC".utf8)],
                ["XTRIM", logKey, "MINID", next.description].map { Array($0.utf8) },
            ])
        }
        for reply in replies {
            if case .error(let message) = reply { throw .unavailable("\(location): saving the snapshot: \(message)") }
        }
        guard case .array = replies[3] else { throw .unavailable("\(location): the snapshot's transaction was not applied") }
    }

    /// The last entry the log no longer holds (entries at or below it were trimmed away); zero
    /// while nothing was trimmed. A reader whose position is below it missed entries.
    public func trimmedThrough() throws(StoreFailure) -> StreamEntryID {
        let reply = try onReader(extraTimeout: .zero) { redis throws(RedisError) in
            try redis.checked([Array("HGET".utf8), Array(snapshotKey.utf8), Array("trimmed".utf8)])
        }
        return reply.text.flatMap(StreamEntryID.init) ?? .zero
    }

    /// Claims the turn to write the next snapshot for `duration` (`SET NX PX`): true for the one
    /// instance that got it.
    public func claimSnapshotTurn(owner: String, for duration: Duration) throws(StoreFailure) -> Bool {
        let reply = try onWriter { redis throws(RedisError) in
            try redis.checked(
                ["SET", "\(prefix):snapshot-turn", owner, "NX", "PX", "\(max(1, Int(duration / .milliseconds(1))))"].map { Array($0.utf8) })
        }
        return reply == .status("OK")
    }

    /// The newest snapshot and the id of the entry it follows; nil when there is none.
    public func loadSnapshot() throws(StoreFailure) -> (id: StreamEntryID, snapshot: StoredSnapshot)? {
        let reply = try onReader(extraTimeout: .zero) { redis throws(RedisError) in
            try redis.checked([Array("HGETALL".utf8), Array(snapshotKey.utf8)])
        }
        guard case .array(let flat) = reply, !flat.isEmpty else { return nil }
        var values: [String: [UInt8]] = [:]
        for index in stride(from: 0, to: flat.count - 1, by: 2) {
            if let name = flat[index].text, let value = flat[index + 1].bytes { values[name] = value }
        }
        func text(_ name: String) -> String? { values[name].map { String(decoding: $0, as: UTF8.self) } }
        guard let id = text("id").flatMap(StreamEntryID.init), let time = text("time").flatMap(Int64.init),
            let count = text("parts").flatMap(Int.init), count >= 0, let feed = values["feed"]
        else { throw .unusable("\(location): the snapshot at \(snapshotKey) is not one this service wrote") }
        var parts: [[UInt8]] = []
        for index in 0..<count {
            guard let part = values["part:\(index)"] else { throw .unusable("\(location): the snapshot lacks part \(index)") }
            parts.append(part)
        }
        let items: [StoredFeedItem]
        do {
            items = try JSONDecoder().decode([StoredFeedItem].self, from: Data(feed))
        } catch {
            throw .unusable("\(location): the snapshot's feed does not decode: \(error)")
        }
        return (id, StoredSnapshot(position: 0, time: time, parts: parts, feed: items))
    }

    /// Gives the turn back once the snapshot is written (the next one may be any instance's).
    public func releaseSnapshotTurn() throws(StoreFailure) {
        _ = try onWriter { redis throws(RedisError) in try redis.checked(["DEL", "\(prefix):snapshot-turn"].map { Array($0.utf8) }) }
    }

    // MARK: - Re-seeding a Redis that lost entries

    var candidatesKey: String { "\(prefix):reseed-candidates" }

    /// Puts this instance (`owner`, at `position`) among the candidates to re-seed the log.
    public func offerToReseed(owner: String, position: StreamEntryID) throws(StoreFailure) {
        _ = try onWriter { redis throws(RedisError) in
            try redis.checked(["HSET", candidatesKey, owner, position.description].map { Array($0.utf8) })
        }
    }

    /// The candidates so far, by owner.
    public func reseedCandidates() throws(StoreFailure) -> [String: StreamEntryID] {
        let reply = try onWriter { redis throws(RedisError) in try redis.checked(["HGETALL", candidatesKey].map { Array($0.utf8) }) }
        guard case .array(let flat) = reply else { throw .unavailable("\(location): HGETALL replied \(reply)") }
        var candidates: [String: StreamEntryID] = [:]
        for index in stride(from: 0, to: flat.count - 1, by: 2) {
            if let owner = flat[index].text, let position = flat[index + 1].text.flatMap(StreamEntryID.init) { candidates[owner] = position }
        }
        return candidates
    }

    /// Re-seeds a log that lost entries from this instance's state: the shared settings again,
    /// `snapshot` as the state after `id`, and, unless the log already holds a later entry,
    /// `marker` appended with the id just after it, so that every later entry's id is above
    /// `id`; then the candidates are cleared.
    public func reseed(
        _ snapshot: StoredSnapshot, at id: StreamEntryID, marker: StoredEntry, origin: String,
        settings: [(name: String, value: String)]
    ) throws(StoreFailure) {
        _ = try onWriter { redis throws(RedisError) in
            try redis.pipeline(
                settings.map { [Array("HSETNX".utf8), Array(settingsKey.utf8), Array($0.name.utf8), Array($0.value.utf8)] })
        }
        try saveSnapshot(snapshot, at: id)
        // Entries appended since Redis came back keep their place after the snapshot; without
        // any above `id`, the marker makes every later id higher.
        if (try bounds())?.lastGenerated ?? .zero <= id {
            let next = StreamEntryID(milliseconds: id.milliseconds, sequence: id.sequence + 1)
            _ = try onWriter { redis throws(RedisError) in
                try redis.streamAppend(logKey, id: next, fields: SharedLogEntry.fields(marker, origin: origin))
            }
        }
        _ = try onWriter { redis throws(RedisError) in try redis.command(["DEL", candidatesKey].map { Array($0.utf8) }) }
    }

    /// Whether the log still holds the entry at `position` (or trimmed it below a snapshot), and
    /// the last entry trimmed: one round trip. A log that holds neither lost entries (a Redis
    /// restarted without them, or a replica that had not received them).
    public func check(position: StreamEntryID) throws(StoreFailure) -> (holdsPosition: Bool, trimmed: StreamEntryID) {
        guard position > .zero else { return (true, try trimmedThrough()) }
        let replies = try onReader(extraTimeout: .zero) { redis throws(RedisError) in
            try redis.pipeline([
                [Array("HGET".utf8), Array(snapshotKey.utf8), Array("trimmed".utf8)],
                ["XRANGE", logKey, position.description, position.description, "COUNT", "1"].map { Array($0.utf8) },
            ])
        }
        let trimmed = replies[0].text.flatMap(StreamEntryID.init) ?? .zero
        guard case .array(let found) = replies[1] else { throw .unavailable("\(location): XRANGE replied \(replies[1])") }
        return (!found.isEmpty || position <= trimmed, trimmed)
    }

    /// Drops both connections (the next call connects again).
    public func close() {
        writer.withLock { $0 = nil }
        reader.withLock { $0 = nil }
    }

    // MARK: - Connections

    private func onWriter<T>(_ body: (RedisConnection) throws(RedisError) -> T) throws(StoreFailure) -> T {
        try use(writer, extraTimeout: .zero, body)
    }

    private func onReader<T>(extraTimeout: Duration, _ body: (RedisConnection) throws(RedisError) -> T) throws(StoreFailure) -> T {
        try use(reader, extraTimeout: extraTimeout, body)
    }

    /// Runs `body` on the connection in `slot` (made when there is none); a connection that
    /// failed is dropped. A server error leaves it.
    private func use<T>(
        _ slot: borrowing Mutex<RedisConnection?>, extraTimeout: Duration, _ body: (RedisConnection) throws(RedisError) -> T
    ) throws(StoreFailure) -> T {
        let result = slot.withLock { connection -> Result<T, RedisError> in
            do throws(RedisError) {
                let redis: RedisConnection
                if let open = connection {
                    redis = open
                } else {
                    redis = try RedisConnection(address, timeout: timeout)
                    connection = redis
                }
                if extraTimeout > Duration.zero { try redis.setTimeout(timeout + extraTimeout) }
                defer { if extraTimeout > Duration.zero { try? redis.setTimeout(timeout) } }
                return .success(try body(redis))
            } catch {
                if case .connection = error { connection = nil }
                return .failure(error)
            }
        }
        switch result {
        case .success(let value):
            return value
        case .failure(.server(let message)) where message.hasPrefix("WRONGTYPE"):
            throw .unusable("\(location): a key of another program is in the way: \(message)")
        case .failure(let error):
            throw .unavailable("\(location): \(error)")
        }
    }
}
