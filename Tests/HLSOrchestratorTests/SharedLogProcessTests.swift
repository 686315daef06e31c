import Foundation
import MicroHTTPD
import OrchestratorTesting
import Synchronization
import Testing

/// The binary with `STATE_STORE=redis://…`: two instances on a real redis-server, one killed
/// (`kill -9`) in the middle of ingest; and the start-up refusals.
@Suite struct SharedLogProcessTests {
    static func start(_ redis: RedisServer, _ extra: [String: String] = [:]) async throws -> (ServiceProcess, UInt16) {
        var environment = [
            "PORT": "0", "BIND_ADDRESS": "127.0.0.1", "STATE_STORE": redis.url, "SLIDING_WINDOW_SIZE": "6", "LOG_LEVEL": "info",
        ]
        environment.merge(extra) { $1 }
        let process = try ServiceProcess(environment: environment)
        let port = try #require(try await process.waitForPort(), "\(process.standardError)")
        return (process, port)
    }

    static func segment(_ sequence: Int, _ prefix: String) -> [UInt8] {
        Array(#"{"sequence":\#(sequence),"duration":2.0,"path":"/\#(prefix)/\#(sequence).ts"}"#.utf8)
    }

    @Test("kill -9 of one instance in the middle of ingest from 8 clients: every segment it answered 201 is served by the other")
    func killDuringIngest() async throws {
        let redis = try RedisServer()
        let (first, port) = try await Self.start(redis)
        let (second, otherPort) = try await Self.start(redis)
        final class Shared: Sendable {
            let acknowledged = Mutex<[Int: Int]>([:])  // client → highest sequence answered 201 (in order)
            let stop = Atomic<Bool>(false)
        }
        let shared = Shared()
        let clients = (0..<8).map { client in
            Task.detached {
                try await offPool {
                    let connection = try HTTPClientConnection(port: port, timeout: .seconds(5))
                    var sequence = 0
                    while !shared.stop.load(ordering: .relaxed) {
                        guard let response = try? connection.request(.post, "/streams/c\(client)/renditions/r/segments", body: Self.segment(sequence, "c\(client)")) else {
                            return  // the process is gone
                        }
                        if response.status == .created { shared.acknowledged.withLock { $0[client] = sequence } }
                        sequence += 1
                    }
                }
            }
        }
        try await Task.sleep(for: .milliseconds(800))
        first.send(signal: SIGKILL)
        _ = try await first.waitForExit()
        shared.stop.store(true, ordering: .relaxed)
        for client in clients { _ = try? await client.value }
        let answered = shared.acknowledged.withLock { $0 }
        #expect(answered.count == 8, "every client got some 201s: \(answered)")
        #expect(answered.values.reduce(0, +) > 40, "\(answered)")

        try await offPool {
            let connection = try HTTPClientConnection(port: otherPort)
            for (client, last) in answered.sorted(by: { $0.key < $1.key }) {
                let playlist = try connection.request(.get, "/streams/c\(client)/renditions/r/playlist.m3u8").text
                #expect(playlist.contains("/c\(client)/\(last).ts\n") || playlist.contains("/c\(client)/\(last + 1).ts\n"), "\(playlist)")
                for sequence in stride(from: last, through: max(0, last - 10), by: -1) {
                    let again = try connection.request(.post, "/streams/c\(client)/renditions/r/segments", body: Self.segment(sequence, "c\(client)"))
                    #expect(again.status == .ok, "c\(client) \(sequence): \(again.status) \(again.text)")
                }
            }
        }
        second.send(signal: SIGTERM)
        #expect(try await second.waitForExit() == 0)
    }

    @Test("a malformed redis:// address stops start-up with exit 2 without repeating its password; an unreachable Redis with exit 1; other playlist settings with exit 2 naming the setting")
    func startUpRefusals() async throws {
        let malformed = try ServiceProcess(environment: ["PORT": "0", "STATE_STORE": "redis://:s3cret@cache:99999"])
        #expect(try await malformed.waitForExit() == 2)
        #expect(malformed.standardError.contains("STATE_STORE"), "\(malformed.standardError)")
        #expect(!malformed.standardError.contains("s3cret"), "\(malformed.standardError)")

        let redis = try RedisServer()
        let port = redis.port
        redis.stop()
        let unreachable = try ServiceProcess(environment: ["PORT": "0", "STATE_STORE": "redis://127.0.0.1:\(port)"])
        #expect(try await unreachable.waitForExit() == 1)
        #expect(unreachable.standardError.contains("STATE_STORE"), "\(unreachable.standardError)")

        try redis.restart()
        let (running, _) = try await Self.start(redis)
        let other = try ServiceProcess(environment: ["PORT": "0", "STATE_STORE": redis.url, "SLIDING_WINDOW_SIZE": "8"])
        #expect(try await other.waitForExit() == 2)
        #expect(other.standardError.contains("SLIDING_WINDOW_SIZE=6, and this configuration has SLIDING_WINDOW_SIZE=8"), "\(other.standardError)")
        running.send(signal: SIGTERM)
        #expect(try await running.waitForExit() == 0)
    }
}
