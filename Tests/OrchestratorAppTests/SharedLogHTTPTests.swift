import Foundation
import MicroHTTPD
import OrchestratorApp
import OrchestratorTesting
import RedisClient
import Testing

/// Several instances on one Redis log (`STATE_STORE=redis://…`), over real sockets: what is
/// posted to one is served by every one with the same bytes and `ETag`, concurrent posts are
/// decided once for all, an end is seen everywhere, a blocking reload held on one instance is
/// answered by a part posted to another, and an instance started later serves the same.
@Suite struct SharedLogHTTPTests {
    static func instance(_ server: RedisServer) throws -> TestApplication {
        try TestApplication { configuration in
            configuration.stateStore = .redis(server.address)
        }
    }

    /// The playlist at `path` on every instance once they all serve the same bytes (they apply
    /// the log on their own readers, each a few milliseconds apart at most).
    static func agreed(_ path: String, on instances: [TestApplication], containing needle: String) async throws -> HTTPClientResponse {
        var last: [HTTPClientResponse] = []
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            last = []
            for app in instances { last.append(try await app.get(path)) }
            if last.allSatisfy({ $0.status == .ok && $0.text.contains(needle) && $0.body == last[0].body && $0.headers["ETag"] == last[0].headers["ETag"] }) {
                return last[0]
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        Issue.record("the instances did not agree on \(path): \(last.map { "\($0.status) \($0.headers["ETag"] ?? "-") \($0.text)" })")
        return last[0]
    }

    @Test("three instances: one serves what another was posted, byte for byte with the same ETag; concurrent posts are decided once; an end is seen by all")
    func threeInstances() async throws {
        let server = try RedisServer()
        let a = try Self.instance(server)
        let b = try Self.instance(server)
        let c = try Self.instance(server)
        let instances = [a, b, c]
        let playlist = "/streams/live/renditions/720p/playlist.m3u8"
        for sequence in 0..<4 {
            #expect(try await a.register("live", "720p", sequence).status == .created)
        }
        let served = try await Self.agreed(playlist, on: instances, containing: "/720p/3.ts")
        #expect(served.text.contains("#EXT-X-MEDIA-SEQUENCE:0"))

        // The same sequence posted to A and B at once with different paths: one 201, one 409.
        async let first = a.post(
            "/streams/live/renditions/720p/segments", json: #"{"sequence": 4, "duration": 2.0, "path": "/720p/4-a.ts"}"#)
        async let second = b.post(
            "/streams/live/renditions/720p/segments", json: #"{"sequence": 4, "duration": 2.0, "path": "/720p/4-b.ts"}"#)
        let (fromA, fromB) = (try await first.status, try await second.status)
        #expect([fromA.rawValue, fromB.rawValue].sorted() == [201, 409])
        let winner = fromA == .created ? "4-a.ts" : "4-b.ts"
        _ = try await Self.agreed(playlist, on: instances, containing: winner)

        // The same path at once: one 201, one 200 (a duplicate).
        let body = #"{"sequence": 5, "duration": 2.0, "path": "/720p/5.ts"}"#
        async let third = b.post("/streams/live/renditions/720p/segments", json: body)
        async let fourth = c.post("/streams/live/renditions/720p/segments", json: body)
        #expect([try await third.status, try await fourth.status].map(\.rawValue).sorted() == [200, 201])

        // An end posted to C: ENDLIST everywhere, and later segments refused everywhere.
        #expect(try await c.post("/streams/live/end").status == .ok)
        _ = try await Self.agreed(playlist, on: instances, containing: "#EXT-X-ENDLIST")
        #expect(try await a.register("live", "720p", 6).status == .conflict)
        #expect(try await b.register("live", "720p", 6).status == .conflict)

        // A fourth instance started now restores the log and serves the same bytes.
        let d = try Self.instance(server)
        _ = try await Self.agreed(playlist, on: instances + [d], containing: "#EXT-X-ENDLIST")
        for app in instances + [d] { await app.shutdown() }
    }

    @Test("a blocking reload held on one instance is answered when a part is posted to another")
    func lowLatencyAcrossInstances() async throws {
        let server = try RedisServer()
        let a = try Self.instance(server)
        let b = try Self.instance(server)
        let declared = try await a.request(
            .put, "/streams/ll/renditions/ll",
            body: #"{"target_duration": 1, "part_target": 0.25, "part_uri_template": "/ll/{sequence}.{part}.m4s"}"#)
        #expect(declared.status == .created)
        let part = { (sequence: Int, index: Int) in
            #"{"sequence":\#(sequence),"part":\#(index),"duration":0.25,"path":"/ll/\#(sequence).\#(index).m4s","independent":\#(index == 0)}"#
        }
        // A whole segment first (an LL playlist starts with one), then the first part of the next.
        for index in 0..<4 { #expect(try await a.post("/streams/ll/renditions/ll/parts", json: part(0, index)).status == .created) }
        #expect(
            try await a.post("/streams/ll/renditions/ll/segments", json: #"{"sequence":0,"duration":1.0,"path":"/ll/0.m4s"}"#).status
                == .created)
        #expect(try await a.post("/streams/ll/renditions/ll/parts", json: part(1, 0)).status == .created)
        _ = try await Self.agreed("/streams/ll/renditions/ll/playlist.m3u8", on: [a, b], containing: "1.0.m4s")
        async let held = b.get("/streams/ll/renditions/ll/playlist.m3u8?_HLS_msn=1&_HLS_part=1")
        try await Task.sleep(for: .milliseconds(300))
        let posted = ContinuousClock.now
        #expect(try await a.post("/streams/ll/renditions/ll/parts", json: part(1, 1)).status == .created)
        let answer = try await held
        #expect(answer.status == .ok)
        #expect(answer.text.contains("/ll/1.1.m4s"))
        #expect(ContinuousClock.now - posted < .seconds(2))
        await a.shutdown()
        await b.shutdown()
    }

    @Test("Redis stopped: writes 503 with Retry-After within 5 s, reads keep serving, /readyz 503; Redis back: writes go through again without a restart")
    func redisUnreachable() async throws {
        let server = try RedisServer(arguments: ["--appendonly", "yes", "--appendfsync", "always"])
        let a = try Self.instance(server)
        let b = try Self.instance(server)
        let playlist = "/streams/cam/renditions/720p/playlist.m3u8"
        for sequence in 0..<3 { #expect(try await a.register("cam", "720p", sequence).status == .created) }
        let before = try await Self.agreed(playlist, on: [a, b], containing: "/720p/2.ts")

        server.stop()
        let started = ContinuousClock.now
        let refused = try await a.register("cam", "720p", 3)
        #expect(refused.status == .serviceUnavailable)
        #expect(refused.headers["Retry-After"] != nil)
        #expect(refused.text.hasPrefix("{\"error\":"))
        #expect(ContinuousClock.now - started < .seconds(6))
        let stillServed = try await b.get(playlist)
        #expect(stillServed.status == .ok && stillServed.body == before.body)
        #expect(try await waitUntil(timeout: .seconds(10)) {
            (try? HTTPClientConnection(port: a.port).request(.get, "/readyz"))?.status == .serviceUnavailable
        })

        try server.restart()
        // Ready again without any write reaching it (a balancer sends none to an unready one).
        #expect(try await waitUntil(timeout: .seconds(10)) {
            (try? HTTPClientConnection(port: a.port).request(.get, "/readyz"))?.status == .ok
        })
        // Each instance connects again on its own (backoff up to 2 s).
        var accepted = false
        let deadline = ContinuousClock.now + .seconds(15)
        while !accepted && ContinuousClock.now < deadline {
            accepted = try await a.register("cam", "720p", 3).status == .created
            if !accepted { try await Task.sleep(for: .milliseconds(200)) }
        }
        #expect(accepted)
        _ = try await Self.agreed(playlist, on: [a, b], containing: "/720p/3.ts")
        #expect(try await waitUntil(timeout: .seconds(10)) {
            (try? HTTPClientConnection(port: b.port).request(.get, "/readyz"))?.status == .ok
        })
        await a.shutdown()
        await b.shutdown()
    }

    @Test("the shipped balancer (deploy/nginx/shared-balancer.conf) in front of two instances on one Redis: ingest through it, GETs spread over both, the same bytes every time")
    func balancer() async throws {
        let server = try RedisServer()
        let a = try Self.instance(server)
        let b = try Self.instance(server)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("balancer-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory.appendingPathComponent("logs"), withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        // The shipped server block, with the compose service names and port moved to loopback.
        let shipped = try String(
            contentsOf: NginxFront.repositoryRoot.appendingPathComponent("deploy/nginx/shared-balancer.conf"), encoding: .utf8)
        let port = try ephemeralLoopbackPort()
        let adapted = shipped
            .replacingOccurrences(of: "server orchestrator-a:8080", with: "server 127.0.0.1:\(a.port)")
            .replacingOccurrences(of: "server orchestrator-b:8080", with: "server 127.0.0.1:\(b.port)")
            .replacingOccurrences(of: "listen 80;", with: "listen 127.0.0.1:\(port);")
        #expect(adapted != shipped && !adapted.contains("orchestrator-a") && !adapted.contains("listen 80;"))
        let site = directory.appendingPathComponent("site.conf")
        try adapted.write(to: site, atomically: true, encoding: .utf8)
        let configuration = """
            worker_processes 1;
            pid \(directory.path)/nginx.pid;
            error_log \(directory.path)/logs/error.log warn;
            events { worker_connections 256; }
            http {
                access_log off;
                client_body_temp_path \(directory.path);
                proxy_temp_path \(directory.path);
                fastcgi_temp_path \(directory.path);
                uwsgi_temp_path \(directory.path);
                scgi_temp_path \(directory.path);
                include \(site.path);
            }
            """
        let file = directory.appendingPathComponent("nginx.conf")
        try configuration.write(to: file, atomically: true, encoding: .utf8)
        let nginx = try ChildProcess("/usr/sbin/nginx", ["-p", directory.path, "-c", file.path, "-g", "daemon off;"])
        #expect(try await waitUntil(timeout: .seconds(10)) { (try? HTTPClientConnection(port: port)) != nil })

        let playlist = "/streams/lb/renditions/720p/playlist.m3u8"
        let (readsA, readsB) = (try await a.metric("hls_requests_total") ?? 0, try await b.metric("hls_requests_total") ?? 0)
        try await offPool {
            let connection = try HTTPClientConnection(port: port)
            for sequence in 0..<6 {
                let posted = try connection.request(
                    .post, "/streams/lb/renditions/720p/segments",
                    headers: [("Content-Type", "application/json")],
                    body: Array(#"{"sequence": \#(sequence), "duration": 2.0, "path": "/720p/\#(sequence).ts"}"#.utf8))
                #expect(posted.status == .created, "\(posted.status) \(posted.text)")
            }
        }
        let expected = try await Self.agreed(playlist, on: [a, b], containing: "/720p/5.ts")
        try await offPool {
            let connection = try HTTPClientConnection(port: port)
            for _ in 0..<20 {
                let served = try connection.request(.get, playlist)
                #expect(served.status == .ok && served.body == expected.body && served.headers["ETag"] == expected.headers["ETag"])
            }
        }
        // Round robin: both instances answered some of them (the counters include /metrics itself).
        let servedByA = (try await a.metric("hls_requests_total") ?? 0) - readsA
        let servedByB = (try await b.metric("hls_requests_total") ?? 0) - readsB
        #expect(servedByA >= 8 && servedByB >= 8, "A \(servedByA), B \(servedByB)")
        nginx.terminate()
        _ = try await waitUntil(timeout: .seconds(10)) { !nginx.isRunning }
        await a.shutdown()
        await b.shutdown()
    }

    @Test("Redis restarted empty (no AOF): the instances notice, the one furthest ahead re-seeds the log, no playlist goes back, and ingest goes on")
    func redisRestartedEmpty() async throws {
        let server = try RedisServer()  // no AOF: a restart comes back empty
        let a = try Self.instance(server)
        let b = try Self.instance(server)
        let playlist = "/streams/keep/renditions/720p/playlist.m3u8"
        for sequence in 0..<8 { #expect(try await a.register("keep", "720p", sequence).status == .created) }
        let before = try await Self.agreed(playlist, on: [a, b], containing: "/720p/7.ts")
        #expect(before.text.contains("#EXT-X-MEDIA-SEQUENCE:2"))

        server.kill()
        try server.restart()
        // Re-seeded by one of them; meanwhile and after, both serve what they served.
        for app in [a, b] {
            let served = try await app.get(playlist)
            #expect(served.status == .ok && served.body == before.body)
        }
        var accepted = false
        let deadline = ContinuousClock.now + .seconds(20)
        while !accepted && ContinuousClock.now < deadline {
            accepted = try await b.register("keep", "720p", 8).status == .created
            if !accepted { try await Task.sleep(for: .milliseconds(200)) }
        }
        #expect(accepted, "ingest did not resume after the re-seed")
        let after = try await Self.agreed(playlist, on: [a, b], containing: "/720p/8.ts")
        #expect(after.text.contains("#EXT-X-MEDIA-SEQUENCE:3"), "\(after.text)")
        // What came before the loss is still decided: a retry is a duplicate, a conflict a 409.
        #expect(try await a.register("keep", "720p", 7).status == .ok)
        #expect(
            try await a.post("/streams/keep/renditions/720p/segments", json: #"{"sequence": 8, "duration": 2.0, "path": "/other.ts"}"#).status
                == .conflict)
        // A third instance joining now loads the re-seeded snapshot.
        let c = try Self.instance(server)
        _ = try await Self.agreed(playlist, on: [a, b, c], containing: "/720p/8.ts")
        for app in [a, b, c] { await app.shutdown() }
    }
}
