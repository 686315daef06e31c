public import HLSModel
public import SegmentRegistry

/// One entry of the state log: its position (1, 2, 3, … in the order applied), its time (never
/// below the previous entry's) and its command, with the request body it was decoded from.
///
/// The command is stored as the body the client sent (already validated once) plus the route's
/// ids, and decoded again on replay by the same parsers: nothing is written in a format of this
/// service's own beyond a kind number.
public struct LogEntry: Sendable, Equatable {
    public let position: UInt64
    public let time: Timestamp
    public let command: RegistryCommand
    /// The JSON body of a registration, part or declaration; empty for the other commands.
    public let body: [UInt8]

    public init(position: UInt64, time: Timestamp, command: RegistryCommand, body: [UInt8]) {
        self.position = position
        self.time = time
        self.command = command
        self.body = body
    }

    /// The entry as a store keeps it.
    public var stored: StoredEntry {
        let kind: StoredEntry.Kind
        var rendition: String?
        switch command {
        case .register(_, _, let name):
            (kind, rendition) = (.register, name.rawValue)
        case .registerPart(_, _, let name):
            (kind, rendition) = (.registerPart, name.rawValue)
        case .declare(_, _, let name):
            (kind, rendition) = (.declare, name.rawValue)
        case .end:
            kind = .end
        case .pin(_, let name):
            (kind, rendition) = (.pin, name.rawValue)
        case .sweep:
            kind = .sweep
        case .forget:
            kind = .forget
        }
        return StoredEntry(
            position: position, time: time.millisecondsSinceEpoch, kind: kind.rawValue,
            stream: command.stream?.rawValue, rendition: rendition, body: body)
    }

    /// Decodes a stored entry; throws when it is not one this service wrote.
    public init(_ stored: StoredEntry) throws(CorruptEntry) {
        func fail(_ reason: String) -> CorruptEntry { CorruptEntry(position: stored.position, reason: reason) }
        guard let kind = StoredEntry.Kind(rawValue: stored.kind) else { throw fail("unknown kind \(stored.kind)") }
        func stream() throws(CorruptEntry) -> StreamID {
            guard let raw = stored.stream, let id = StreamID(rawValue: raw) else { throw fail("invalid stream id") }
            return id
        }
        func rendition() throws(CorruptEntry) -> RenditionName {
            guard let raw = stored.rendition, let name = RenditionName(rawValue: raw) else {
                throw fail("invalid rendition name")
            }
            return name
        }
        let command: RegistryCommand
        do {
            switch kind {
            case .register:
                command = .register(try Segment(json: stored.body), stream: try stream(), rendition: try rendition())
            case .registerPart:
                command = .registerPart(try PartialSegment(json: stored.body), stream: try stream(), rendition: try rendition())
            case .declare:
                command = .declare(try RenditionDeclaration(json: stored.body), stream: try stream(), rendition: try rendition())
            case .end:
                command = .end(try stream())
            case .pin:
                command = .pin(stream: try stream(), rendition: try rendition())
            case .sweep:
                command = .sweep
            case .forget:
                command = .forget(try stream())
            }
        } catch let error as CorruptEntry {
            throw error
        } catch {
            throw fail("its body does not decode: \(error)")
        }
        self.init(
            position: stored.position, time: Timestamp(millisecondsSinceEpoch: stored.time), command: command,
            body: stored.body)
    }
}

/// An entry as a store keeps it: plain columns.
public struct StoredEntry: Sendable, Equatable {
    /// The command's kind; the numbers are part of the stored format and never change.
    public enum Kind: Int, Sendable {
        case register = 1
        case registerPart = 2
        case declare = 3
        case end = 4
        case pin = 5
        case sweep = 6
        case forget = 7
    }

    public var position: UInt64
    /// Milliseconds since the Unix epoch.
    public var time: Int64
    public var kind: Int
    public var stream: String?
    public var rendition: String?
    public var body: [UInt8]

    public init(position: UInt64, time: Int64, kind: Int, stream: String?, rendition: String?, body: [UInt8]) {
        self.position = position
        self.time = time
        self.kind = kind
        self.stream = stream
        self.rendition = rendition
        self.body = body
    }
}

/// A stored entry that does not decode: the store holds something this service did not write.
public struct CorruptEntry: Error, Equatable, CustomStringConvertible {
    public let position: UInt64
    public let reason: String
    public init(position: UInt64, reason: String) {
        self.position = position
        self.reason = reason
    }
    public var description: String { "log entry \(position): \(reason)" }
}
