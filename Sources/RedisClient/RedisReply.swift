import CHiredis

/// One reply of a Redis server (RESP2), copied out of hiredis's reply object.
public enum RedisReply: Sendable, Equatable {
    /// A bulk string: any bytes.
    case string([UInt8])
    /// A simple status such as `OK`.
    case status(String)
    case integer(Int64)
    case array([RedisReply])
    /// A nil bulk string or array (`GET` of a missing key, `XREAD BLOCK` that timed out).
    case null
    /// An error reply: the server refused this command; the connection is fine.
    case error(String)

    /// Copies hiredis's reply (which the caller then frees).
    init(_ reply: UnsafePointer<redisReply>) {
        let value = reply.pointee
        switch value.type {
        case REDIS_REPLY_STRING:
            self = .string(Self.bytes(value.str, value.len))
        case REDIS_REPLY_STATUS:
            self = .status(String(decoding: Self.bytes(value.str, value.len), as: UTF8.self))
        case REDIS_REPLY_ERROR:
            self = .error(String(decoding: Self.bytes(value.str, value.len), as: UTF8.self))
        case REDIS_REPLY_INTEGER:
            self = .integer(Int64(value.integer))
        case REDIS_REPLY_ARRAY:
            var elements: [RedisReply] = []
            elements.reserveCapacity(Int(value.elements))
            for index in 0..<Int(value.elements) {
                guard let element = value.element[index] else {
                    elements.append(.null)
                    continue
                }
                elements.append(RedisReply(element))
            }
            self = .array(elements)
        default:
            self = .null
        }
    }

    private static func bytes(_ pointer: UnsafeMutablePointer<CChar>?, _ count: Int) -> [UInt8] {
        guard let pointer, count > 0 else { return [] }
        return pointer.withMemoryRebound(to: UInt8.self, capacity: count) { Array(UnsafeBufferPointer(start: $0, count: count)) }
    }

    /// The bytes of a bulk string or status; nil for anything else.
    public var bytes: [UInt8]? {
        switch self {
        case .string(let bytes): bytes
        case .status(let text): Array(text.utf8)
        default: nil
        }
    }

    /// A bulk string or status as UTF-8 text; nil for anything else.
    public var text: String? { bytes.map { String(decoding: $0, as: UTF8.self) } }
}
