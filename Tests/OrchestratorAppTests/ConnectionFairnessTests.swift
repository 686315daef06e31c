import Foundation
import MicroHTTPD
import OrchestratorApp
import OrchestratorTesting
import Testing

/// One hostile client on one address (127.0.0.2) against the transcoder and the operator on
/// another (127.0.0.1): trickled requests, floods of half-open and of held connections.
@Suite struct ConnectionFairnessTests {
    static let attacker = "127.0.0.2"
    static let playlist = "/streams/fair/renditions/720p/playlist.m3u8"

    /// Sends `bytes` one at a time every `interval` until the server closes the connection or
    /// `limit` passes; returns how long the server let it trickle, or nil if it never closed.
    static func trickle(
        _ bytes: [UInt8], after prefix: [UInt8] = [], port: UInt16, every interval: Duration, limit: Duration
    ) throws -> Duration? {
        let connection = try HTTPClientConnection(port: port, source: attacker, timeout: .seconds(1))
        try connection.write(prefix)
        let clock = ContinuousClock()
        let started = clock.now
        var index = 0
        while clock.now - started < limit {
            do {
                try connection.write([bytes[index % bytes.count]])
            } catch {
                return clock.now - started  // reset or shut down by the server
            }
            index += 1
            Thread.sleep(forTimeInterval: Double(interval.components.attoseconds) / 1e18 + Double(interval.components.seconds))
            if connection.isClosedByPeer { return clock.now - started }
        }
        return nil
    }

    /// The durations of `count` requests made by `send` one after the other.
    static func timings(_ count: Int, _ send: () throws -> HTTPStatus) throws -> [(HTTPStatus, Duration)] {
        let clock = ContinuousClock()
        return try (0..<count).map { _ in
            let started = clock.now
            let status = try send()
            return (status, clock.now - started)
        }
    }

    /// Every answer was the expected one, all within a second, and at least all but one within
    /// 50 ms (one scheduling hiccup of a shared CI machine is not the service's).
    static func expectPrompt(_ timings: [(HTTPStatus, Duration)], _ expected: HTTPStatus, _ what: String) {
        #expect(timings.allSatisfy { $0.0 == expected }, "\(what): \(timings.map(\.0))")
        #expect(timings.allSatisfy { $0.1 < .seconds(1) }, "\(what): \(timings.map(\.1))")
        #expect(timings.filter { $0.1 < .milliseconds(50) }.count >= timings.count - 1, "\(what): \(timings.map(\.1))")
    }

    @Test("a request trickled a byte at a time is closed at REQUEST_TIMEOUT, however often bytes arrive")
    func trickledHead() async throws {
        let app = try TestApplication {
            $0.requestTimeoutSeconds = 1
            $0.connectionTimeoutSeconds = 30
        }
        let port = app.port
        let line = Array("GET /healthz HTTP/1.1\r\nHost: t\r\nX-Slow: ".utf8)
        let lasted = try await offPool {
            try Self.trickle(Array(repeating: UInt8(ascii: "a"), count: 400), after: line, port: port, every: .milliseconds(100), limit: .seconds(8))
        }
        let closedAfter = try #require(lasted, "the trickling connection was never closed")
        #expect(closedAfter >= .milliseconds(900))
        #expect(closedAfter < .seconds(3), "closed after \(closedAfter)")
        await app.shutdown()
    }

    @Test("a request line trickled between requests is closed at CONNECTION_TIMEOUT, although each byte resets the idle timer")
    func trickledRequestLine() async throws {
        let app = try TestApplication {
            $0.requestTimeoutSeconds = 30
            $0.connectionTimeoutSeconds = 1
        }
        let port = app.port
        let line = Array("GET /streams/x/renditions/y/playlist.m3u8".utf8) + Array(repeating: UInt8(ascii: "a"), count: 400)
        let lasted = try await offPool { try Self.trickle(line, port: port, every: .milliseconds(200), limit: .seconds(8)) }
        let closedAfter = try #require(lasted, "the trickling connection was never closed")
        #expect(closedAfter < .seconds(3), "closed after \(closedAfter)")
        await app.shutdown()
    }

    @Test("a flood of slow connections from one address takes at most its share: the transcoder's POST and /healthz answer within 50 ms")
    func slowFlood() async throws {
        let app = try TestApplication {
            $0.maxConnections = 400  // a tenth, 40, from any one address by default
            $0.maxConnectionsPerIP = 40
            $0.requestTimeoutSeconds = 30
        }
        let port = app.port
        // 400 half-sent requests from the attacker's address: 40 are accepted, the rest refused.
        let flood = try await offPool { () -> [UncheckedBox<HTTPClientConnection>] in
            (0..<400).compactMap { _ in
                guard let connection = try? HTTPClientConnection(port: port, source: Self.attacker, timeout: .seconds(1)),
                    (try? connection.write(Array("POST /streams/fair/renditions/720p/segments HTTP/1.1\r\nHost: t\r\n".utf8))) != nil
                else { return nil }
                return UncheckedBox(connection)
            }
        }
        #expect(!flood.isEmpty)
        try await Task.sleep(for: .milliseconds(200))
        let (posts, health) = try await offPool { () -> ([(HTTPStatus, Duration)], [(HTTPStatus, Duration)]) in
            let transcoder = try HTTPClientConnection(port: port, timeout: .seconds(5))
            var sequence = 0
            let posts = try Self.timings(20) {
                defer { sequence += 1 }
                return try transcoder.request(
                    .post, "/streams/fair/renditions/720p/segments",
                    body: Array(#"{"sequence":\#(sequence),"duration":2,"path":"/\#(sequence).ts"}"#.utf8)
                ).status
            }
            let health = try Self.timings(20) { try HTTPClientConnection(port: port, timeout: .seconds(5)).request(.get, "/healthz").status }
            return (posts, health)
        }
        Self.expectPrompt(posts, .created, "transcoder POSTs")
        Self.expectPrompt(health, .ok, "/healthz on new connections")
        #expect(app.application.openConnections <= 40 + 2, "the attacker holds more than its share")
        _ = flood
        await app.shutdown()
    }

    @Test("held reloads never take the last slots: with every hold taken, the transcoder's POST gets in and releases them")
    func heldFlood() async throws {
        let app = try TestApplication {
            $0.maxConnections = 100  // held reloads: at most 90
            $0.maxConnectionsPerIP = 0
            $0.maxHeldRequests = 1_000_000  // asks for more than the connections allow
            $0.maxHeldRequestsPerRendition = 1_000_000
        }
        let port = app.port
        let ll = try await LowLatencyStream.make(app, "fair", rendition: "720p")
        try await ll.fullSegment(0)
        try await ll.part(1, 0)
        let target = "\(ll.playlist)?_HLS_msn=1&_HLS_part=1"
        // 100 players' blocking reloads: 90 are held, the rest refused with 503 at once (and those
        // players hang up, as players do after a 503).
        let held = try await offPool { () -> (connections: [UncheckedBox<HTTPClientConnection>], refused: Int) in
            var connections: [HTTPClientConnection] = []
            for _ in 0..<100 {
                let connection = try HTTPClientConnection(port: port, source: Self.attacker, timeout: .seconds(10))
                try connection.write(Array("GET \(target) HTTP/1.1\r\nHost: t\r\n\r\n".utf8))
                connections.append(connection)
            }
            Thread.sleep(forTimeInterval: 0.3)
            var refused = 0
            var waiting: [UncheckedBox<HTTPClientConnection>] = []
            for connection in connections {
                if connection.hasPendingInput {
                    if (try? connection.readResponse().status) == .serviceUnavailable { refused += 1 }
                    connection.close()
                } else {
                    waiting.append(UncheckedBox(connection))
                }
            }
            return (waiting, refused)
        }
        let posted = try await offPool { () -> [(HTTPStatus, Duration)] in
            try Self.timings(1) {
                try HTTPClientConnection(port: port, timeout: .seconds(5)).request(
                    .post, "/streams/fair/renditions/720p/parts",
                    body: Array(#"{"sequence":1,"part":1,"duration":0.25,"path":"/720p/1.1.m4s"}"#.utf8)
                ).status
            }
        }
        Self.expectPrompt(posted, .created, "the part that releases the held reloads")
        let answers = try await offPool {
            held.connections.map { (try? $0.value.readResponse().status.rawValue) ?? 0 }
        }
        #expect(answers.count == 90)
        #expect(answers.allSatisfy { $0 == 200 }, "\(answers)")
        #expect(held.refused == 10)
        await app.shutdown()
    }

    @Test("with INGEST_PORT, players cannot crowd out transcoders: each port serves its own routes, and ingest answers while the main port is full")
    func ingestListener() async throws {
        let app = try TestApplication {
            $0.ingestPort = 0
            $0.maxConnections = 50
            $0.maxConnectionsPerIP = 0
        }
        let port = app.port
        let ingest = try #require(app.ingestPort)
        #expect(ingest != port)
        let segment = Array(#"{"sequence":0,"duration":2,"path":"/0.ts"}"#.utf8)
        let statuses = try await offPool { () -> [String: HTTPClientResponse] in
            var answers: [String: HTTPClientResponse] = [:]
            answers["main POST"] = try HTTPClientConnection(port: port).request(.post, "/streams/s/renditions/r/segments", body: segment)
            answers["ingest POST"] = try HTTPClientConnection(port: ingest).request(.post, "/streams/s/renditions/r/segments", body: segment)
            answers["main GET"] = try HTTPClientConnection(port: port).request(.get, "/streams/s/renditions/r/playlist.m3u8")
            answers["ingest GET"] = try HTTPClientConnection(port: ingest).request(.get, "/streams/s/renditions/r/playlist.m3u8")
            answers["main metrics"] = try HTTPClientConnection(port: port).request(.get, "/metrics")
            answers["ingest metrics"] = try HTTPClientConnection(port: ingest).request(.get, "/metrics")
            answers["main healthz"] = try HTTPClientConnection(port: port).request(.get, "/healthz")
            answers["ingest healthz"] = try HTTPClientConnection(port: ingest).request(.get, "/healthz")
            answers["main end"] = try HTTPClientConnection(port: port).request(.post, "/streams/s/end")
            return answers
        }
        #expect(statuses["main POST"]?.status == .notFound)
        #expect(statuses["main POST"]?.text.contains("INGEST_PORT") == true, "\(statuses["main POST"]?.text ?? "")")
        #expect(statuses["ingest POST"]?.status == .created)
        #expect(statuses["main GET"]?.status == .ok)
        #expect(statuses["ingest GET"]?.status == .notFound)
        #expect(statuses["main metrics"]?.status == .notFound)
        #expect(statuses["ingest metrics"]?.status == .ok)
        #expect(statuses["main healthz"]?.status == .ok)
        #expect(statuses["ingest healthz"]?.status == .ok)
        #expect(statuses["main end"]?.status == .notFound)
        // Every slot of the main port taken by one player address: ingest does not notice.
        let flood = try await offPool {
            (0..<60).compactMap { _ -> UncheckedBox<HTTPClientConnection>? in
                guard let connection = try? HTTPClientConnection(port: port, source: Self.attacker, timeout: .seconds(1)) else { return nil }
                _ = try? connection.write(Array("GET /streams/s/ren".utf8))
                return UncheckedBox(connection)
            }
        }
        try await Task.sleep(for: .milliseconds(200))
        let posts = try await offPool { () -> [(HTTPStatus, Duration)] in
            let transcoder = try HTTPClientConnection(port: ingest, timeout: .seconds(5))
            var sequence = 1
            return try Self.timings(20) {
                defer { sequence += 1 }
                return try transcoder.request(
                    .post, "/streams/s/renditions/r/segments",
                    body: Array(#"{"sequence":\#(sequence),"duration":2,"path":"/\#(sequence).ts"}"#.utf8)
                ).status
            }
        }
        Self.expectPrompt(posts, .created, "POSTs on the ingest port")
        _ = flood
        await app.shutdown()
    }
}
