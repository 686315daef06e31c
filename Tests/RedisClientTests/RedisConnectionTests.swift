import Foundation
import OrchestratorTesting
import RedisClient
import Testing

/// hiredis against a real redis-server on loopback: byte-safe commands, pipelines, errors that
/// leave the connection usable, the stream commands of a shared log, and failures that never
/// hang longer than the connection's timeout.
@Suite struct RedisConnectionTests {
    static let timeout = Duration.seconds(2)

    @Test("any bytes round-trip; a missing key is null; an error reply leaves the connection usable")
    func commands() async throws {
        let server = try RedisServer()
        try await offPool {
            let redis = try RedisConnection(server.address, timeout: Self.timeout)
            #expect(try redis.command("PING") == .status("PONG"))
            let bytes = (0...255).map(UInt8.init) + [0, 0, 13, 10]
            #expect(try redis.command([Array("SET".utf8), Array("k\0ey".utf8), bytes]) == .status("OK"))
            #expect(try redis.command([Array("GET".utf8), Array("k\0ey".utf8)]) == .string(bytes))
            #expect(try redis.command("GET", "missing") == .null)
            guard case .error(let message) = try redis.command("INCR", "nothing", "extra") else {
                Issue.record("a wrong number of arguments was accepted")
                return
            }
            #expect(message.contains("wrong number of arguments"))
            #expect(throws: RedisError.self) { try redis.checked([Array("NOSUCHCOMMAND".utf8)]) }
            #expect(try redis.command("PING") == .status("PONG"))
        }
    }

    @Test("a pipeline of 1,000 commands gets its replies in order, error replies in their place")
    func pipeline() async throws {
        let server = try RedisServer()
        try await offPool {
            let redis = try RedisConnection(server.address, timeout: Self.timeout)
            var commands = (0..<1000).map { _ in [Array("INCR".utf8), Array("counter".utf8)] }
            commands.insert([Array("HGET".utf8), Array("counter".utf8), Array("field".utf8)], at: 500)
            let replies = try redis.pipeline(commands)
            #expect(replies.count == 1001)
            #expect(Array(replies[..<500]) == (1...500).map { .integer(Int64($0)) })
            if case .error(let message) = replies[500] { #expect(message.hasPrefix("WRONGTYPE")) } else { Issue.record("\(replies[500])") }
            #expect(Array(replies[501...]) == (501...1000).map { .integer(Int64($0)) })
        }
    }

    @Test("a password-protected server: the URL's password and database are used; without them, refused")
    func authentication() async throws {
        let server = try RedisServer(arguments: ["--requirepass", "s3cret"])
        try await offPool {
            let redis = try RedisConnection(try RedisAddress(url: "redis://:s3cret@127.0.0.1:\(server.port)/3"), timeout: Self.timeout)
            #expect(try redis.command("SET", "where", "db3") == .status("OK"))
            let other = try RedisConnection(try RedisAddress(url: "redis://:s3cret@127.0.0.1:\(server.port)"), timeout: Self.timeout)
            #expect(try other.command("GET", "where") == .null)
            #expect(try other.command("SELECT", "3") == .status("OK"))
            #expect(try other.command("GET", "where") == .string(Array("db3".utf8)))
            do {
                _ = try RedisConnection(try RedisAddress(url: "redis://:wrong@127.0.0.1:\(server.port)"), timeout: Self.timeout)
                Issue.record("a wrong password was accepted")
            } catch {
                guard case RedisError.server = error else { throw error }
            }
            let anonymous = try RedisConnection(server.address, timeout: Self.timeout)
            if case .error(let message) = try anonymous.command("GET", "where") { #expect(message.hasPrefix("NOAUTH")) } else {
                Issue.record("a command without the password was answered")
            }
        }
    }

    @Test("stream entries read back in order, in pages; bounds and trimming; a read below the first entry skips what was trimmed")
    func streams() async throws {
        let server = try RedisServer()
        try await offPool {
            let redis = try RedisConnection(server.address, timeout: Self.timeout)
            #expect(try redis.streamBounds("log") == nil)
            var ids: [StreamEntryID] = []
            for index in 0..<100 {
                ids.append(try redis.streamAppend("log", fields: [("kind", [UInt8(index % 7)]), ("body", Array("{\"n\":\(index)}\0".utf8))]))
            }
            #expect(ids == ids.sorted() && Set(ids).count == 100)
            var read: [StreamEntry] = []
            var after = StreamEntryID.zero
            while true {
                let page = try redis.streamRead("log", after: after, count: 30)
                guard let last = page.last else { break }
                read += page
                after = last.id
            }
            #expect(read.map(\.id) == ids)
            #expect(read.enumerated().allSatisfy { $0.element["body"] == Array("{\"n\":\($0.offset)}\0".utf8) && $0.element["kind"] == [UInt8($0.offset % 7)] })
            #expect(try redis.streamBounds("log") == StreamBounds(length: 100, first: ids[0], lastGenerated: ids[99]))
            #expect(try redis.streamTrim("log", below: ids[50]) == 50)
            #expect(try redis.streamBounds("log") == StreamBounds(length: 50, first: ids[50], lastGenerated: ids[99]))
            // XREAD after a trimmed position silently starts at the oldest entry left: a reader
            // must compare its position with `first` to notice what it missed.
            #expect(try redis.streamRead("log", after: ids[10], count: 5).map(\.id) == Array(ids[50..<55]))
            #expect(try redis.streamRange("log", from: ids[98], count: 10).map(\.id) == [ids[98], ids[99]])
            // The pipelined form of XADD.
            let replies = try redis.pipeline((0..<10).map { RedisConnection.appendArguments("log", fields: [("n", [UInt8($0)])]) })
            let more = try replies.map(RedisConnection.entryID)
            #expect(more == more.sorted() && more[0] > ids[99])
        }
    }

    @Test("a blocked read wakes when another connection appends, and returns nothing when its time is up")
    func blockingRead() async throws {
        let server = try RedisServer()
        let address = server.address
        let first = try await offPool { () -> StreamEntryID in
            let redis = try RedisConnection(address, timeout: Self.timeout)
            return try redis.streamAppend("log", fields: [("n", [0])])
        }
        let reader = Task {
            try await offPool { () -> (entries: [StreamEntry], waited: Duration) in
                let redis = try RedisConnection(address, timeout: Self.timeout)
                let started = ContinuousClock.now
                let entries = try redis.streamRead("log", after: first, count: 10, block: .seconds(5))
                return (entries, ContinuousClock.now - started)
            }
        }
        try await Task.sleep(for: .milliseconds(300))
        let second = try await offPool { try RedisConnection(address, timeout: Self.timeout).streamAppend("log", fields: [("n", [1])]) }
        let (entries, waited) = try await reader.value
        #expect(entries.map(\.id) == [second])
        #expect(waited < .seconds(4), "woken after \(waited)")
        let (none, idle) = try await offPool { () -> ([StreamEntry], Duration) in
            let redis = try RedisConnection(address, timeout: Self.timeout)
            let started = ContinuousClock.now
            return (try redis.streamRead("log", after: second, count: 10, block: .milliseconds(200)), ContinuousClock.now - started)
        }
        #expect(none.isEmpty)
        #expect(idle >= .milliseconds(190))
    }

    @Test("no server, a server killed under the connection, a reply slower than the timeout: an error within the timeout, never a hang")
    func failures() async throws {
        let server = try RedisServer()
        try await offPool {
            let redis = try RedisConnection(server.address, timeout: .milliseconds(500))
            // A reply slower than the timeout breaks the connection after the timeout.
            var started = ContinuousClock.now
            do {
                _ = try redis.streamRead("log", after: .zero, count: 1, block: .seconds(3))
                Issue.record("a read outlived the connection's timeout")
            } catch {
                guard case RedisError.connection = error else { throw error }
            }
            #expect(ContinuousClock.now - started < .milliseconds(1500))
            #expect(throws: RedisError.self) { try redis.command("PING") }

            let fresh = try RedisConnection(server.address, timeout: .milliseconds(500))
            server.kill()
            started = ContinuousClock.now
            #expect(throws: RedisError.self) { try fresh.command("PING") }
            do {
                _ = try RedisConnection(server.address, timeout: .milliseconds(500))
                Issue.record("connected to a stopped server")
            } catch {
                guard case RedisError.connection = error else { throw error }
            }
            #expect(ContinuousClock.now - started < .seconds(2))
            try server.restart()
            #expect(try RedisConnection(server.address, timeout: .milliseconds(500)).command("PING") == .status("PONG"))
        }
    }
}
