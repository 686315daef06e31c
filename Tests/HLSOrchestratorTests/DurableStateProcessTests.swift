import Foundation
import MicroHTTPD
import OrchestratorTesting
import Synchronization
import Testing

/// The binary with `STATE_STORE=sqlite:…`, stopped by `kill -9` (and SIGTERM) and started again
/// on the same file: players and transcoders never notice.
@Suite struct DurableStateProcessTests {
    /// A fresh directory for one test's state file, removed after.
    final class StateDirectory: @unchecked Sendable {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("hls-durable-\(UUID().uuidString)")
        init() throws { try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true) }
        deinit { try? FileManager.default.removeItem(at: url) }
        var database: String { url.appendingPathComponent("state.db").path }
    }

    static func start(_ directory: StateDirectory, _ extra: [String: String] = [:]) async throws -> (ServiceProcess, UInt16) {
        var environment = [
            "PORT": "0", "BIND_ADDRESS": "127.0.0.1", "STATE_STORE": "sqlite:\(directory.database)",
            "SLIDING_WINDOW_SIZE": "3", "LOG_LEVEL": "info",
        ]
        environment.merge(extra) { $1 }
        let process = try ServiceProcess(environment: environment)
        let port = try #require(try await process.waitForPort(), "\(process.standardError)")
        return (process, port)
    }

    static func post(_ connection: HTTPClientConnection, _ target: String, _ body: String) throws -> HTTPClientResponse {
        try connection.request(.post, target, body: Array(body.utf8))
    }

    static func segment(_ sequence: Int, _ prefix: String, duration: String = "2.0") -> String {
        #"{"sequence":\#(sequence),"duration":\#(duration),"path":"/\#(prefix)/\#(sequence).ts","bytes":\#(100_000 + sequence)}"#
    }

    /// The playlists whose bytes and validators must survive a restart.
    static let targets = [
        "/streams/live/renditions/720p/playlist.m3u8", "/streams/live/renditions/360p/playlist.m3u8",
        "/streams/live/master.m3u8", "/streams/ll/renditions/low/playlist.m3u8", "/streams/done/renditions/r/playlist.m3u8",
    ]

    /// Status, ETag, Last-Modified and body of each target.
    static func served(_ port: UInt16) throws -> [String] {
        let connection = try HTTPClientConnection(port: port)
        return try targets.map { target in
            let response = try connection.request(.get, target)
            return "\(target) \(response.status.rawValue) \(response.headers["ETag"] ?? "-") \(response.headers["Last-Modified"] ?? "-")\n\(response.text)"
        }
    }

    @Test(
        "after kill -9 or SIGTERM and a restart, every playlist is byte-identical with the same ETag; holes, retries, conflicts and ends behave as before",
        arguments: [SIGKILL, SIGTERM])
    func restart(signal: Int32) async throws {
        let directory = try StateDirectory()
        let (first, port) = try await Self.start(directory)
        let before = try await offPool { () -> [String] in
            let connection = try HTTPClientConnection(port: port)
            // A live stream: two renditions, one declared, a hole at 6 with 7 and 8 waiting.
            #expect(try Self.post(connection, "/streams/live/renditions/720p/segments", Self.segment(0, "a")).status == .created)
            _ = try connection.request(.put, "/streams/live/renditions/720p", body: Array(#"{"bandwidth":2500000,"codecs":"avc1.64001f"}"#.utf8))
            for sequence in [1, 2, 3, 4, 5, 7, 8] {
                #expect(try Self.post(connection, "/streams/live/renditions/720p/segments", Self.segment(sequence, "a")).status == .created)
            }
            for sequence in 0..<4 {
                _ = try Self.post(connection, "/streams/live/renditions/360p/segments", Self.segment(sequence, "b"))
            }
            // A low-latency rendition with parts of a segment in progress.
            _ = try connection.request(
                .put, "/streams/ll/renditions/low",
                body: Array(#"{"target_duration":2,"part_target":0.5,"part_uri_template":"/ll/{sequence}.{part}.m4s","bandwidth":900000}"#.utf8))
            for sequence in 0..<2 {
                for part in 0..<4 {
                    _ = try Self.post(
                        connection, "/streams/ll/renditions/low/parts",
                        #"{"sequence":\#(sequence),"part":\#(part),"duration":0.5,"path":"/ll/\#(sequence).\#(part).m4s","independent":\#(part == 0)}"#)
                }
                _ = try Self.post(connection, "/streams/ll/renditions/low/segments", Self.segment(sequence, "ll", duration: "2.0"))
            }
            _ = try Self.post(
                connection, "/streams/ll/renditions/low/parts",
                #"{"sequence":2,"part":0,"duration":0.5,"path":"/ll/2.0.m4s","independent":true}"#)
            // An ended stream.
            _ = try Self.post(connection, "/streams/done/renditions/r/segments", Self.segment(0, "d"))
            #expect(try Self.post(connection, "/streams/done/end", "").status == .ok)
            return try Self.served(port)
        }
        // Served: the windows are pinned, and that is in the log too.
        first.send(signal: signal)
        // Killed: the signal's number (as the exit status is reported); stopped: exit 0.
        #expect(try await first.waitForExit() == (signal == SIGKILL ? SIGKILL : 0))

        let (second, port2) = try await Self.start(directory)
        #expect(second.standardError.contains("\"state restored\""))
        let after = try await offPool { try Self.served(port2) }
        #expect(after == before)
        try await offPool {
            let connection = try HTTPClientConnection(port: port2)
            // A retry is still a duplicate; the same sequence with another path still a conflict.
            let retry = try Self.post(connection, "/streams/live/renditions/720p/segments", Self.segment(8, "a"))
            #expect(retry.status == .ok && retry.text.contains("duplicate"), "\(retry.text)")
            #expect(try Self.post(connection, "/streams/live/renditions/720p/segments", Self.segment(8, "x")).status == .conflict)
            // The ended stream still refuses.
            #expect(try Self.post(connection, "/streams/done/renditions/r/segments", Self.segment(1, "d")).status == .conflict)
            // The hole fills: the waiting segments are listed, and the media sequence went up only.
            #expect(try Self.post(connection, "/streams/live/renditions/720p/segments", Self.segment(6, "a")).status == .created)
            let playlist = try connection.request(.get, "/streams/live/renditions/720p/playlist.m3u8").text
            #expect(playlist.contains("/a/6.ts\n") && playlist.contains("/a/7.ts\n") && playlist.contains("/a/8.ts\n"), "\(playlist)")
            #expect(playlist.contains("#EXT-X-MEDIA-SEQUENCE:6\n"), "\(playlist)")
        }
        second.send(signal: SIGTERM)
        #expect(try await second.waitForExit() == 0)
    }

    @Test("kill -9 in the middle of ingest from 8 clients: after a restart every segment answered 201 is there")
    func killDuringIngest() async throws {
        let directory = try StateDirectory()
        let (first, port) = try await Self.start(directory, ["SLIDING_WINDOW_SIZE": "6"])
        let ingest = IngestClients(port: port, count: 8) { Array(Self.segment($0, $1).utf8) }
        // Let them run, then kill the process under them.
        try await Task.sleep(for: .milliseconds(800))
        first.send(signal: SIGKILL)
        _ = try await first.waitForExit()
        let answered = await ingest.stop()
        #expect(answered.count == 8, "every client got some 201s: \(answered)")
        #expect(answered.values.reduce(0, +) > 80, "\(answered)")

        let (second, port2) = try await Self.start(directory, ["SLIDING_WINDOW_SIZE": "6"])
        let problems = try await ingest.problems(on: port2, answered: answered)
        #expect(problems.isEmpty, "\(problems)")
        second.send(signal: SIGTERM)
        #expect(try await second.waitForExit() == 0)
    }

    @Test("an unusable STATE_STORE stops start-up with exit 2 naming it; a corrupt or foreign file is left untouched")
    func unusableStore() async throws {
        let directory = try StateDirectory()
        let missing = try ServiceProcess(environment: ["PORT": "0", "STATE_STORE": "sqlite:\(directory.url.path)/no/such/dir/state.db"])
        #expect(try await missing.waitForExit() == 2)
        #expect(missing.standardError.contains("STATE_STORE"), "\(missing.standardError)")

        let bad = try ServiceProcess(environment: ["PORT": "0", "STATE_STORE": "postgres://x"])
        #expect(try await bad.waitForExit() == 2)
        #expect(bad.standardError.contains("STATE_STORE"))
        let sync = try ServiceProcess(environment: ["PORT": "0", "STATE_SYNC": "sometimes"])
        #expect(try await sync.waitForExit() == 2)
        #expect(sync.standardError.contains("STATE_SYNC"))

        let garbage = Data((0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 13 &+ 5) })
        try garbage.write(to: URL(fileURLWithPath: directory.database))
        let corrupt = try ServiceProcess(environment: ["PORT": "0", "STATE_STORE": "sqlite:\(directory.database)"])
        #expect(try await corrupt.waitForExit() == 2)
        #expect(corrupt.standardError.contains("STATE_STORE"), "\(corrupt.standardError)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: directory.database)) == garbage)

        // A file written under another window is refused, naming the setting.
        try FileManager.default.removeItem(atPath: directory.database)
        let (first, _) = try await Self.start(directory)
        first.send(signal: SIGTERM)
        #expect(try await first.waitForExit() == 0)
        let changed = try ServiceProcess(
            environment: ["PORT": "0", "STATE_STORE": "sqlite:\(directory.database)", "SLIDING_WINDOW_SIZE": "5"])
        #expect(try await changed.waitForExit() == 2)
        #expect(changed.standardError.contains("SLIDING_WINDOW_SIZE=3"), "\(changed.standardError)")
    }
}

/// A full disk, made real: the state file on a small tmpfs mount, grown when the test gives the
/// space back. Needs the right to mount (root with CAP_SYS_ADMIN, as on the CI machines).
@Suite struct DurableStateFullDiskTests {
    /// Runs `mount` with `arguments`; true when it succeeded.
    static func mount(_ arguments: [String]) -> Bool {
        guard let process = try? ChildProcess("/bin/mount", arguments) else { return false }
        process.waitUntilExit()
        return process.terminationStatus == 0
    }

    static func unmount(_ path: String) {
        (try? ChildProcess("/bin/umount", [path]))?.waitUntilExit()
    }

    /// Whether this machine lets the test mount a tmpfs (checked once, on a throwaway directory).
    static let canMount: Bool = {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("hls-mount-probe-\(UUID().uuidString)")
        guard (try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)) != nil else { return false }
        defer { try? FileManager.default.removeItem(at: directory) }
        guard mount(["-t", "tmpfs", "-o", "size=1m", "tmpfs", directory.path]) else { return false }
        unmount(directory.path)
        return true
    }()

    @Test(
        "a full disk: writes get 503 with Retry-After and /readyz 503, no crash, nothing acknowledged lost; space back, writes and readiness return",
        .enabled(if: canMount, "mounting a tmpfs needs CAP_SYS_ADMIN"))
    func fullDisk() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("hls-full-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        #expect(Self.mount(["-t", "tmpfs", "-o", "size=512k", "tmpfs", directory.path]))
        defer { Self.unmount(directory.path) }
        let database = directory.appendingPathComponent("state.db").path
        let environment = [
            "PORT": "0", "BIND_ADDRESS": "127.0.0.1", "STATE_STORE": "sqlite:\(database)", "LOG_LEVEL": "info",
        ]
        let first = try ServiceProcess(environment: environment)
        let port = try #require(try await first.waitForPort(), "\(first.standardError)")
        let longPath = String(repeating: "p", count: 1500)
        let (acknowledged, refusal, readiness) = try await offPool { () -> ([Int], HTTPClientResponse?, HTTPStatus) in
            let connection = try HTTPClientConnection(port: port)
            var acknowledged: [Int] = []
            var refusal: HTTPClientResponse?
            for sequence in 0..<2000 {
                let response = try connection.request(
                    .post, "/streams/full/renditions/r/segments",
                    body: Array(#"{"sequence":\#(sequence),"duration":2.0,"path":"/\#(longPath)/\#(sequence).ts"}"#.utf8))
                if response.status == .created {
                    acknowledged.append(sequence)
                } else {
                    refusal = response
                    break
                }
            }
            return (acknowledged, refusal, try connection.request(.get, "/readyz").status)
        }
        let refused = try #require(refusal, "the 512 KiB disk never filled")
        #expect(refused.status == .serviceUnavailable)
        #expect(refused.headers["Retry-After"] != nil)
        #expect(refused.text.contains("\"error\"") && refused.text.contains("state store"), "\(refused.text)")
        #expect(readiness == .serviceUnavailable)
        #expect(first.isRunning)
        #expect(acknowledged.count > 50, "\(acknowledged.count)")

        // Space comes back: the next write is kept, and the service is ready again.
        #expect(Self.mount(["-o", "remount,size=64m", directory.path]))
        let next = acknowledged.count
        let (again, ready) = try await offPool { () -> (HTTPStatus, HTTPStatus) in
            let connection = try HTTPClientConnection(port: port)
            let status = try connection.request(
                .post, "/streams/full/renditions/r/segments",
                body: Array(#"{"sequence":\#(next),"duration":2.0,"path":"/\#(longPath)/\#(next).ts"}"#.utf8)
            ).status
            return (status, try connection.request(.get, "/readyz").status)
        }
        #expect(again == .created)
        #expect(ready == .ok)
        #expect(first.standardError.contains("\"state store refused a write; answering writes with 503\""))
        #expect(first.standardError.contains("\"state store takes writes again\""))

        // Nothing acknowledged was lost: after kill -9 every one is a duplicate.
        first.send(signal: SIGKILL)
        _ = try await first.waitForExit()
        let second = try ServiceProcess(environment: environment)
        let port2 = try #require(try await second.waitForPort(), "\(second.standardError)")
        let statuses = try await offPool {
            let connection = try HTTPClientConnection(port: port2)
            return try (acknowledged + [next]).map { sequence in
                try connection.request(
                    .post, "/streams/full/renditions/r/segments",
                    body: Array(#"{"sequence":\#(sequence),"duration":2.0,"path":"/\#(longPath)/\#(sequence).ts"}"#.utf8)
                ).status
            }
        }
        #expect(statuses.allSatisfy { $0 == .ok }, "\(Set(statuses.map(\.rawValue)))")
        second.send(signal: SIGTERM)
        #expect(try await second.waitForExit() == 0)
    }
}
