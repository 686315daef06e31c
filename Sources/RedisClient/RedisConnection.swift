import CHiredis
import Glibc

/// One blocking connection to a Redis server through hiredis: commands as byte arguments (the
/// `Argv` calls: hiredis's variadic `redisCommand` does not import), one at a time or pipelined.
/// Calls must not overlap: its owner serializes them (under a lock, or on one thread); it may be
/// handed from thread to thread between calls. After a ``RedisError/connection(_:)`` it is
/// unusable; connect again.
public final class RedisConnection: @unchecked Sendable {
    public let address: RedisAddress
    private let context: UnsafeMutablePointer<redisContext>

    /// Connects, then authenticates and selects the database the address names.
    /// - Parameter timeout: for the connection and for every reply after it (a reply that does
    ///   not come within it breaks the connection): a caller never waits longer on one call.
    public init(_ address: RedisAddress, timeout: Duration) throws(RedisError) {
        self.address = address
        let interval = Self.timeval(timeout)
        guard let context = redisConnectWithTimeout(address.host, Int32(address.port), interval) else {
            throw .connection("cannot allocate a connection to \(address.host):\(address.port)")
        }
        if context.pointee.err != 0 {
            let message = String(cString: CHiredis_errstr(context))
            redisFree(context)
            throw .connection("\(address.host):\(address.port): \(message)")
        }
        self.context = context
        guard redisSetTimeout(context, interval) == REDIS_OK else { throw failure() }
        _ = redisEnableKeepAlive(context)
        if let password = address.password {
            let arguments = address.user.map { ["AUTH", $0, password] } ?? ["AUTH", password]
            _ = try checked(arguments.map { Array($0.utf8) })
        }
        if address.database != 0 { _ = try checked([Array("SELECT".utf8), Array("\(address.database)".utf8)]) }
    }

    deinit { redisFree(context) }

    /// Sends one command and waits for its reply (an error reply is returned, not thrown).
    public func command(_ arguments: [[UInt8]]) throws(RedisError) -> RedisReply {
        let reply = Self.withArgv(arguments) { argc, argv, lengths in redisCommandArgv(context, argc, argv, lengths) }
        guard let reply else { throw failure() }
        defer { freeReplyObject(reply) }
        return RedisReply(reply.assumingMemoryBound(to: redisReply.self))
    }

    /// ``command(_:)`` with text arguments.
    public func command(_ arguments: String...) throws(RedisError) -> RedisReply {
        try command(arguments.map { Array($0.utf8) })
    }

    /// Sends one command; an error reply is thrown as ``RedisError/server(_:)``.
    public func checked(_ arguments: [[UInt8]]) throws(RedisError) -> RedisReply {
        let reply = try command(arguments)
        if case .error(let message) = reply { throw .server(message) }
        return reply
    }

    /// Sends every command before reading any reply (one round trip for all of them); the
    /// replies in order, error replies included.
    public func pipeline(_ commands: [[[UInt8]]]) throws(RedisError) -> [RedisReply] {
        for arguments in commands {
            let code = Self.withArgv(arguments) { argc, argv, lengths in redisAppendCommandArgv(context, argc, argv, lengths) }
            guard code == REDIS_OK else { throw failure() }
        }
        var replies: [RedisReply] = []
        replies.reserveCapacity(commands.count)
        for _ in commands {
            var raw: UnsafeMutableRawPointer?
            guard redisGetReply(context, &raw) == REDIS_OK, let raw else { throw failure() }
            defer { freeReplyObject(raw) }
            replies.append(RedisReply(raw.assumingMemoryBound(to: redisReply.self)))
        }
        return replies
    }

    /// Sets how long a reply may take from now on (a blocking read waits up to its own block time
    /// plus this).
    public func setTimeout(_ timeout: Duration) throws(RedisError) {
        guard redisSetTimeout(context, Self.timeval(timeout)) == REDIS_OK else { throw failure() }
    }

    private func failure() -> RedisError {
        let message = String(cString: CHiredis_errstr(context))
        return .connection("\(address.host):\(address.port): \(message.isEmpty ? "the connection failed" : message)")
    }

    private static func timeval(_ duration: Duration) -> Glibc.timeval {
        let (seconds, attoseconds) = duration.components
        return Glibc.timeval(tv_sec: Int(seconds), tv_usec: Int(attoseconds / 1_000_000_000_000))
    }

    /// Calls `body` with hiredis's argv form of `arguments` (pointers valid only inside).
    private static func withArgv<Result>(
        _ arguments: [[UInt8]],
        _ body: (Int32, UnsafeMutablePointer<UnsafePointer<CChar>?>, UnsafePointer<Int>) -> Result
    ) -> Result {
        // One buffer holding every argument, and pointers into it.
        var storage: [UInt8] = []
        storage.reserveCapacity(arguments.reduce(0) { $0 + $1.count } + 1)
        var offsets: [Int] = []
        for argument in arguments {
            offsets.append(storage.count)
            storage.append(contentsOf: argument)
        }
        storage.append(0)
        let lengths = arguments.map(\.count)
        return storage.withUnsafeBufferPointer { buffer in
            buffer.baseAddress!.withMemoryRebound(to: CChar.self, capacity: buffer.count) { base in
                var pointers: [UnsafePointer<CChar>?] = offsets.map { base + $0 }
                return pointers.withUnsafeMutableBufferPointer { argv in
                    lengths.withUnsafeBufferPointer { body(Int32(arguments.count), argv.baseAddress!, $0.baseAddress!) }
                }
            }
        }
    }
}
