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
        let ingest = IngestClients(port: port, count: 8, body: Self.segment)
        try await Task.sleep(for: .milliseconds(800))
        first.send(signal: SIGKILL)
        _ = try await first.waitForExit()
        let answered = await ingest.stop()
        #expect(answered.count == 8, "every client got some 201s: \(answered)")
        #expect(answered.values.reduce(0, +) > 40, "\(answered)")
        let problems = try await ingest.problems(on: otherPort, answered: answered)
        #expect(problems.isEmpty, "\(problems)")
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

    /// The media sequence and the segment paths by sequence of a live playlist.
    static func parse(_ playlist: String) -> (mediaSequence: Int, paths: [Int: String])? {
        guard let line = playlist.split(separator: "\n").first(where: { $0.hasPrefix("#EXT-X-MEDIA-SEQUENCE:") }),
            let first = Int(line.dropFirst("#EXT-X-MEDIA-SEQUENCE:".count))
        else { return nil }
        let uris = playlist.split(separator: "\n").filter { !$0.hasPrefix("#") && !$0.isEmpty }
        var paths: [Int: String] = [:]
        for (offset, uri) in uris.enumerated() { paths[first + offset] = String(uri) }
        return (first, paths)
    }

    @Test(
        "a live stream over three instances, one killed and Redis restarted under it (from its AOF, or empty): no player ever sees a playlist go back or disagree with another's",
        arguments: [true, false])
    func liveStreamThroughFaults(aof: Bool) async throws {
        let redis = try RedisServer(arguments: aof ? ["--appendonly", "yes", "--appendfsync", "always"] : [])
        var instances: [(ServiceProcess, UInt16)] = []
        for _ in 0..<3 { instances.append(try await Self.start(redis)) }
        let ports = instances.map(\.1)
        final class Observations: Sendable {
            let stop = Atomic<Bool>(false)
            let dead = Mutex<Set<UInt16>>([])
            let problems = Mutex<[String]>([])
            let acknowledged = Atomic<Int>(-1)
            let polls = Atomic<Int>(0)
        }
        let seen = Observations()
        // The transcoder: segment after segment, each to the next instance; a refused one (503
        // while Redis restarts, or the killed instance) is posted again to the next.
        let transcoder = Task.detached {
            try await offPool {
                var sequence = 0
                var turn = 0
                while !seen.stop.load(ordering: .relaxed) {
                    let port = ports[turn % ports.count]
                    turn += 1
                    if seen.dead.withLock({ $0.contains(port) }) { continue }
                    guard let connection = try? HTTPClientConnection(port: port, timeout: .seconds(6)),
                        let answer = try? connection.request(.post, "/streams/live/renditions/720p/segments", body: Self.segment(sequence, "live"))
                    else { continue }
                    if answer.status == .created || answer.status == .ok {
                        seen.acknowledged.store(sequence, ordering: .relaxed)
                        sequence += 1
                        Thread.sleep(forTimeInterval: 0.03)
                    }
                }
            }
        }
        // The players: each instance's playlist polled in turn; its media sequence must never go
        // down, and a sequence must name the same segment wherever it is listed.
        let player = Task.detached {
            try await offPool {
                var lastSequence: [UInt16: Int] = [:]
                var paths: [Int: String] = [:]
                while !seen.stop.load(ordering: .relaxed) {
                    for port in ports where !seen.dead.withLock({ $0.contains(port) }) {
                        guard let connection = try? HTTPClientConnection(port: port, timeout: .seconds(6)),
                            let answer = try? connection.request(.get, "/streams/live/renditions/720p/playlist.m3u8"),
                            answer.status == .ok, let (mediaSequence, listed) = Self.parse(answer.text)
                        else { continue }
                        seen.polls.add(1, ordering: .relaxed)
                        if let previous = lastSequence[port], mediaSequence < previous {
                            seen.problems.withLock { $0.append("instance \(port): media sequence \(previous) then \(mediaSequence)") }
                        }
                        lastSequence[port] = mediaSequence
                        for (sequence, path) in listed {
                            if let known = paths[sequence], known != path {
                                seen.problems.withLock { $0.append("sequence \(sequence): \(known) and \(path)") }
                            }
                            paths[sequence] = path
                        }
                    }
                    Thread.sleep(forTimeInterval: 0.01)
                }
            }
        }
        try await Task.sleep(for: .milliseconds(1000))
        // One instance killed.
        seen.dead.withLock { _ = $0.insert(ports[2]) }
        instances[2].0.send(signal: SIGKILL)
        _ = try await instances[2].0.waitForExit()
        try await Task.sleep(for: .milliseconds(700))
        // Redis restarted under the other two: from its AOF, or killed and back empty (re-seeded).
        if aof {
            try redis.restart()
        } else {
            redis.kill()
            try redis.restart()
        }
        try await Task.sleep(for: .milliseconds(2000))
        seen.stop.store(true, ordering: .relaxed)
        _ = try? await transcoder.value
        _ = try? await player.value

        let acknowledged = seen.acknowledged.load(ordering: .relaxed)
        #expect(acknowledged > 20, "the stream went on: \(acknowledged) segments")
        #expect(seen.polls.load(ordering: .relaxed) > 50)
        #expect(seen.problems.withLock { $0 }.isEmpty, "\(seen.problems.withLock { $0.prefix(10) })")
        // An instance behind the one that re-seeded an empty Redis stops with status 3 (its
        // restart would load the new snapshot); the others agree in the end and list the last
        // segment acknowledged.
        let running = instances.prefix(2).filter { $0.0.isRunning }
        for (process, _) in instances.prefix(2) where !process.isRunning {
            let status = try await process.waitForExit()
            #expect(!aof && status == 3, "\(process.standardError.suffix(600))")
        }
        #expect(!running.isEmpty)
        let needle = "/live/\(acknowledged).ts\n"
        var agreed = false
        let deadline = ContinuousClock.now + .seconds(10)
        while !agreed && ContinuousClock.now < deadline {
            let bodies = try await offPool {
                try running.map { try HTTPClientConnection(port: $0.1).request(.get, "/streams/live/renditions/720p/playlist.m3u8").text }
            }
            agreed = Set(bodies).count == 1 && bodies[0].contains(needle)
            if !agreed { try await Task.sleep(for: .milliseconds(50)) }
        }
        #expect(agreed, "the instances left disagree at the end")
        for (process, _) in running {
            process.send(signal: SIGTERM)
            #expect(try await process.waitForExit() == 0)
        }
    }
}
