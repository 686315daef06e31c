/// The id of a Redis stream entry: the server's time in milliseconds when it was added and a
/// sequence number within that millisecond. Ids only grow within a stream (Redis never goes
/// below the last id it generated, even when its clock steps back).
public struct StreamEntryID: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var milliseconds: UInt64
    public var sequence: UInt64

    public init(milliseconds: UInt64, sequence: UInt64) {
        self.milliseconds = milliseconds
        self.sequence = sequence
    }

    /// Before every entry: reading after it reads from the start.
    public static let zero = StreamEntryID(milliseconds: 0, sequence: 0)

    /// Parses `ms-seq`.
    public init?(_ text: String) {
        let fields = text.split(separator: "-", omittingEmptySubsequences: false)
        guard fields.count == 2, let milliseconds = UInt64(fields[0]), let sequence = UInt64(fields[1]) else { return nil }
        self.init(milliseconds: milliseconds, sequence: sequence)
    }

    public var description: String { "\(milliseconds)-\(sequence)" }

    public static func < (lhs: StreamEntryID, rhs: StreamEntryID) -> Bool {
        (lhs.milliseconds, lhs.sequence) < (rhs.milliseconds, rhs.sequence)
    }
}

/// One entry of a stream: its id and its field/value pairs, in order.
public struct StreamEntry: Sendable, Equatable {
    public var id: StreamEntryID
    public var fields: [(name: String, value: [UInt8])]

    public init(id: StreamEntryID, fields: [(name: String, value: [UInt8])]) {
        self.id = id
        self.fields = fields
    }

    /// The value of the first field called `name`.
    public subscript(name: String) -> [UInt8]? { fields.first { $0.name == name }?.value }

    public static func == (lhs: StreamEntry, rhs: StreamEntry) -> Bool {
        lhs.id == rhs.id && lhs.fields.elementsEqual(rhs.fields) { $0.name == $1.name && $0.value == $1.value }
    }
}

/// What `XINFO STREAM` says of a stream's bounds.
public struct StreamBounds: Sendable, Equatable {
    /// Entries it holds.
    public var length: Int
    /// The oldest entry still held (nil when empty).
    public var first: StreamEntryID?
    /// The last id the server gave out in this stream (kept after the entry is trimmed or
    /// deleted; below it no new entry can be added).
    public var lastGenerated: StreamEntryID

    public init(length: Int, first: StreamEntryID?, lastGenerated: StreamEntryID) {
        self.length = length
        self.first = first
        self.lastGenerated = lastGenerated
    }
}

/// The stream commands a shared log needs, on one connection.
extension RedisConnection {
    /// `XADD key * field value …`: appends an entry; its id.
    public func streamAppend(_ key: String, fields: [(name: String, value: [UInt8])]) throws(RedisError) -> StreamEntryID {
        try Self.entryID(checked(Self.appendArguments(key, fields: fields)))
    }

    /// `XADD key id field value …` with an explicit id (above the stream's last one, or Redis
    /// refuses it).
    public func streamAppend(_ key: String, id: StreamEntryID, fields: [(name: String, value: [UInt8])]) throws(RedisError) -> StreamEntryID {
        try Self.entryID(checked(Self.appendArguments(key, id: id, fields: fields)))
    }

    /// The arguments of ``streamAppend(_:fields:)``, for a ``pipeline(_:)``; with `id`, that id
    /// instead of one the server gives.
    public static func appendArguments(_ key: String, id: StreamEntryID? = nil, fields: [(name: String, value: [UInt8])]) -> [[UInt8]] {
        var arguments: [[UInt8]] = [Array("XADD".utf8), Array(key.utf8), Array((id?.description ?? "*").utf8)]
        for (name, value) in fields {
            arguments.append(Array(name.utf8))
            arguments.append(value)
        }
        return arguments
    }

    /// The id an `XADD` replied with.
    public static func entryID(_ reply: RedisReply) throws(RedisError) -> StreamEntryID {
        if case .error(let message) = reply { throw .server(message) }
        guard let text = reply.text, let id = StreamEntryID(text) else { throw .unexpected("XADD replied \(reply)") }
        return id
    }

    /// `XREAD [BLOCK ms] COUNT n STREAMS key after`: up to `count` entries after `after`, in
    /// order; with `block`, waits up to that long for the first one (then returns none).
    public func streamRead(_ key: String, after: StreamEntryID, count: Int, block: Duration? = nil) throws(RedisError) -> [StreamEntry] {
        var arguments = ["XREAD"]
        if let block { arguments += ["BLOCK", "\(max(1, Int(block / .milliseconds(1))))"] }
        arguments += ["COUNT", "\(count)", "STREAMS", key, after.description]
        let reply = try checked(arguments.map { Array($0.utf8) })
        switch reply {
        case .null:
            return []
        case .array(let streams):
            // [[key, [[id, [field, value, …]], …]]]
            guard case .array(let stream)? = streams.first, stream.count == 2, case .array(let entries) = stream[1] else {
                throw .unexpected("XREAD replied \(reply)")
            }
            return try entries.map(Self.entry)
        default:
            throw .unexpected("XREAD replied \(reply)")
        }
    }

    /// `XRANGE key start + COUNT n`: up to `count` entries from `start` (inclusive), in order.
    public func streamRange(_ key: String, from start: StreamEntryID, count: Int) throws(RedisError) -> [StreamEntry] {
        let reply = try checked(["XRANGE", key, start.description, "+", "COUNT", "\(count)"].map { Array($0.utf8) })
        guard case .array(let entries) = reply else { throw .unexpected("XRANGE replied \(reply)") }
        return try entries.map(Self.entry)
    }

    /// The stream's length, oldest entry and last generated id; nil when the key does not exist.
    public func streamBounds(_ key: String) throws(RedisError) -> StreamBounds? {
        let reply = try command(["XINFO", "STREAM", key].map { Array($0.utf8) })
        if case .error(let message) = reply {
            if message.contains("no such key") { return nil }
            throw .server(message)
        }
        guard case .array(let pairs) = reply, pairs.count % 2 == 0 else { throw .unexpected("XINFO STREAM replied \(reply)") }
        var length: Int?
        var last: StreamEntryID?
        var first: StreamEntryID?
        for index in stride(from: 0, to: pairs.count, by: 2) {
            switch pairs[index].text {
            case "length":
                if case .integer(let value) = pairs[index + 1] { length = Int(value) }
            case "last-generated-id":
                last = pairs[index + 1].text.flatMap(StreamEntryID.init)
            case "first-entry":
                if case .array = pairs[index + 1] { first = try Self.entry(pairs[index + 1]).id }
            default:
                break
            }
        }
        guard let length, let last else { throw .unexpected("XINFO STREAM replied \(reply)") }
        return StreamBounds(length: length, first: first, lastGenerated: last)
    }

    /// `XTRIM key MINID id`: removes the entries below `id`; how many.
    @discardableResult
    public func streamTrim(_ key: String, below id: StreamEntryID) throws(RedisError) -> Int {
        let reply = try checked(["XTRIM", key, "MINID", id.description].map { Array($0.utf8) })
        guard case .integer(let removed) = reply else { throw .unexpected("XTRIM replied \(reply)") }
        return Int(removed)
    }

    private static func entry(_ reply: RedisReply) throws(RedisError) -> StreamEntry {
        guard case .array(let pair) = reply, pair.count == 2, let id = pair[0].text.flatMap(StreamEntryID.init),
            case .array(let flat) = pair[1], flat.count % 2 == 0
        else { throw .unexpected("a stream entry \(reply)") }
        var fields: [(name: String, value: [UInt8])] = []
        fields.reserveCapacity(flat.count / 2)
        for index in stride(from: 0, to: flat.count, by: 2) {
            guard let name = flat[index].text, let value = flat[index + 1].bytes else { throw .unexpected("a stream entry \(reply)") }
            fields.append((name, value))
        }
        return StreamEntry(id: id, fields: fields)
    }
}
