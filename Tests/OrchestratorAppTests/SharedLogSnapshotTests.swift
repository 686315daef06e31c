import Foundation
import HLSModel
import Logging
import MicroHTTPD
@testable import OrchestratorApp
import OrchestratorTesting
import Prometheus
import RedisClient
import RedisStore
import Synchronization
import Testing

/// Snapshots of the shared log, driven in process with a low threshold: one instance writes
/// them, the log is trimmed behind them, and an instance that starts later loads the newest and
/// the tail and serves the same playlists.
@Suite struct SharedLogSnapshotTests {
    static func orchestrator(_ server: RedisServer) throws -> Orchestrator {
        var configuration = AppConfiguration(httpThreads: 1)
        configuration.stateStore = .redis(server.address)
        return Orchestrator(
            configuration: configuration, logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }),
            metrics: OrchestratorMetrics(registry: PrometheusCollectorRegistry()), clock: SystemClock.now,
            store: try openStateStore(configuration))
    }

    @Test("with a snapshot every 40 entries: snapshots are written, the log is trimmed behind them, and a later instance serves the same playlists")
    func snapshotsAndTrimming() async throws {
        let server = try RedisServer()
        try await offPool {
            let a = try Self.orchestrator(server)
            let shared = try #require(a.committer as? SharedLogCommitter)
            shared.snapshotThreshold.store(40, ordering: .relaxed)
            _ = try shared.start()
            for sequence in 0..<300 {
                let body = Array(#"{"sequence": \#(sequence), "duration": 2.0, "path": "/r/\#(sequence).ts"}"#.utf8)
                let answer = a.respond(to: HTTPRequest(method: .post, path: "/streams/s\(sequence % 3)/renditions/r/segments", body: body))
                #expect(answer.status == .created)
            }
            let log = try RedisSharedLog(address: server.address, settings: AppConfiguration(httpThreads: 1).decidingSettings)
            // Written in the background: wait for the log to be trimmed behind a snapshot.
            let deadline = ContinuousClock.now + .seconds(10)
            while (try log.trimmedThrough()) == .zero && ContinuousClock.now < deadline {
                _ = a.respond(to: HTTPRequest(method: .post, path: "/streams/s0/end"))
                Thread.sleep(forTimeInterval: 0.05)
            }
            let trimmed = try log.trimmedThrough()
            #expect(trimmed > .zero, "no snapshot trimmed the log")
            let bounds = try #require(try log.bounds())
            #expect(bounds.length < 300)
            #expect(bounds.first.map { $0 > trimmed } ?? true)

            let c = try Self.orchestrator(server)
            let restored = try #require(c.committer as? SharedLogCommitter).start()
            #expect(restored.snapshot != nil)
            for stream in ["s0", "s1", "s2"] {
                let path = "/streams/\(stream)/renditions/r/playlist.m3u8"
                var same = false
                let until = ContinuousClock.now + .seconds(5)
                while !same && ContinuousClock.now < until {
                    let (one, other) = (a.respond(to: HTTPRequest(method: .get, path: path)), c.respond(to: HTTPRequest(method: .get, path: path)))
                    same = one.status == .ok && one.body.array == other.body.array && one.headers["ETag"] == other.headers["ETag"]
                    if !same { Thread.sleep(forTimeInterval: 0.02) }
                }
                #expect(same, "\(stream) differs on the instance that started from the snapshot")
            }
            a.committer?.stop()
            c.committer?.stop()
        }
    }
}
