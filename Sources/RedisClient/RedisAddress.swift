/// Where a Redis server is: `redis://[[user]:password@]host[:port][/db]` (the `STATE_STORE` form).
public struct RedisAddress: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int
    /// The ACL user (Redis 6+); nil: the default user.
    public var user: String?
    public var password: String?
    public var database: Int

    public init(host: String, port: Int = 6379, user: String? = nil, password: String? = nil, database: Int = 0) {
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.database = database
    }

    /// Parses a `redis://` URL.
    /// - Throws: a message saying what is wrong (never repeating the password).
    public init(url: String) throws(RedisAddress.Invalid) {
        guard url.hasPrefix("redis://") else { throw Invalid("expected redis://[:password@]host[:port][/db]") }
        var rest = Substring(url.dropFirst("redis://".count))
        var user: String?
        var password: String?
        if let at = rest.lastIndex(of: "@") {
            let credentials = rest[..<at]
            rest = rest[rest.index(after: at)...]
            if let colon = credentials.firstIndex(of: ":") {
                let name = credentials[..<colon]
                user = name.isEmpty ? nil : String(name)
                password = String(credentials[credentials.index(after: colon)...])
            } else {
                password = String(credentials)
            }
            guard let secret = password, !secret.isEmpty else { throw Invalid("the password after redis:// is empty") }
            guard let decoded = Self.percentDecoded(secret) else { throw Invalid("the password has an invalid %-escape") }
            password = decoded
        }
        var database = 0
        if let slash = rest.firstIndex(of: "/") {
            let number = rest[rest.index(after: slash)...]
            rest = rest[..<slash]
            if !number.isEmpty {
                guard let value = Int(number), (0...15_999).contains(value) else { throw Invalid("the database \"\(number)\" is not a number") }
                database = value
            }
        }
        var port = 6379
        var host = rest
        if let colon = rest.lastIndex(of: ":") {
            let digits = rest[rest.index(after: colon)...]
            guard let value = Int(digits), (1...65_535).contains(value) else { throw Invalid("the port \"\(digits)\" is not from 1 to 65535") }
            port = value
            host = rest[..<colon]
        }
        guard !host.isEmpty, host.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "." || $0 == "-" }) else {
            throw Invalid("the host \"\(host)\" is not a host name or IPv4 address")
        }
        self.init(host: String(host), port: port, user: user, password: password, database: database)
    }

    /// The address without its password, for logs.
    public var description: String {
        "redis://\(password == nil ? "" : "\(user ?? ""):***@")\(host):\(port)/\(database)"
    }

    public struct Invalid: Error, Equatable, CustomStringConvertible {
        public let description: String
        init(_ description: String) { self.description = description }
    }

    private static func percentDecoded(_ text: String) -> String? {
        var bytes: [UInt8] = []
        var iterator = Array(text.utf8).makeIterator()
        while let byte = iterator.next() {
            guard byte == UInt8(ascii: "%") else {
                bytes.append(byte)
                continue
            }
            guard let high = iterator.next().flatMap(Self.hexValue), let low = iterator.next().flatMap(Self.hexValue) else { return nil }
            bytes.append(high << 4 | low)
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
