public import RedisClient
public import StateLog

/// One entry of the shared log as it comes back from Redis: its stream id (which orders it and
/// gives its time), the instance that appended it, and its command in stored form.
public struct SharedLogEntry: Sendable, Equatable {
    public var id: StreamEntryID
    /// Who appended it: the appending instance's token and its own number for the entry, so
    /// that instance answers its client when it applies the entry.
    public var origin: String
    /// The command as the SQLite store keeps it; `position` 0 (the id positions the entry),
    /// `time` the id's milliseconds.
    public var stored: StoredEntry

    public init(id: StreamEntryID, origin: String, stored: StoredEntry) {
        self.id = id
        self.origin = origin
        self.stored = stored
    }

    /// The entry's time: the Redis server's clock when it was appended (never decreasing
    /// within the stream).
    public var time: Int64 { Int64(clamping: id.milliseconds) }

    /// The stream fields of a command appended by `origin`.
    static func fields(_ entry: StoredEntry, origin: String) -> [(name: String, value: [UInt8])] {
        var fields: [(name: String, value: [UInt8])] = [("k", Array("\(entry.kind)".utf8)), ("o", Array(origin.utf8))]
        if let stream = entry.stream { fields.append(("s", Array(stream.utf8))) }
        if let rendition = entry.rendition { fields.append(("r", Array(rendition.utf8))) }
        if !entry.body.isEmpty { fields.append(("b", entry.body)) }
        return fields
    }

    /// Decodes a stream entry; nil when it is not one this service wrote.
    init?(_ entry: StreamEntry) {
        guard let kindText = entry["k"], let kind = Int(String(decoding: kindText, as: UTF8.self)),
            let origin = entry["o"]
        else { return nil }
        self.init(
            id: entry.id, origin: String(decoding: origin, as: UTF8.self),
            stored: StoredEntry(
                position: 0, time: Int64(clamping: entry.id.milliseconds), kind: kind,
                stream: entry["s"].map { String(decoding: $0, as: UTF8.self) },
                rendition: entry["r"].map { String(decoding: $0, as: UTF8.self) }, body: entry["b"] ?? []))
    }
}
