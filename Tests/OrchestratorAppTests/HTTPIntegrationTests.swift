import Foundation
import MicroHTTPD
import OrchestratorApp
import OrchestratorTesting
import Testing

/// The playlist the service must serve for `sequences` of rendition `rendition` (2 s segments).
func expectedPlaylist(
    _ rendition: String, _ sequences: ClosedRange<Int>, target: Int = 2, ended: Bool = false
) -> String {
    var text = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:\(target)\n#EXT-X-MEDIA-SEQUENCE:\(sequences.lowerBound)\n"
    for sequence in sequences { text += "#EXTINF:2.000,\n/\(rendition)/\(sequence).ts\n" }
    if ended { text += "#EXT-X-ENDLIST\n" }
    return text
}

/// Parses a JSON object body.
func jsonObject(_ response: HTTPClientResponse) throws -> [String: Any] {
    try #require(try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any])
}

@Suite struct HTTPIntegrationTests {
    static let playlistPath = "/streams/live/renditions/720p/playlist.m3u8"

    @Test("a registered segment is served in a playlist with the HLS content type")
    func registerAndServe() async throws {
        let app = try TestApplication()
        let created = try await app.register("live", "720p", 0)
        #expect(created.status == .created)
        #expect(created.headers["Content-Type"] == "application/json")
        let body = try jsonObject(created)
        #expect(body["status"] as? String == "registered")
        #expect(body["listed"] as? Bool == true)

        let playlist = try await app.get(Self.playlistPath)
        #expect(playlist.status == .ok)
        #expect(playlist.headers["Content-Type"] == "application/vnd.apple.mpegurl")
        #expect(playlist.text == expectedPlaylist("720p", 0...0))
        await app.shutdown()
    }

    @Test("segments posted out of order are listed in order, later ones waiting for the hole")
    func outOfOrder() async throws {
        let app = try TestApplication()
        for sequence in [1, 0, 3, 4] { _ = try await app.register("live", "720p", sequence) }
        #expect(try await app.get(Self.playlistPath).text == expectedPlaylist("720p", 0...1))
        let filling = try await app.register("live", "720p", 2)
        #expect(filling.status == .created)
        #expect(try await app.get(Self.playlistPath).text == expectedPlaylist("720p", 0...4))
        await app.shutdown()
    }

    @Test("a retried segment is acknowledged as a duplicate and changes nothing; a different one conflicts")
    func duplicates() async throws {
        let app = try TestApplication()
        _ = try await app.register("live", "720p", 0)
        let again = try await app.register("live", "720p", 0)
        #expect(again.status == .ok)
        #expect(try jsonObject(again)["status"] as? String == "duplicate")
        let conflicting = try await app.post(
            "/streams/live/renditions/720p/segments", json: #"{"sequence":0,"duration":2.0,"path":"/other.ts"}"#)
        #expect(conflicting.status == .conflict)
        #expect(try jsonObject(conflicting)["error"] is String)
        #expect(try await app.get(Self.playlistPath).text == expectedPlaylist("720p", 0...0))
        #expect(try await app.metric("hls_segments_registered_total") == 1)
        await app.shutdown()
    }

    @Test("the window keeps the last SLIDING_WINDOW_SIZE segments and slides forward")
    func windowSlides() async throws {
        let app = try TestApplication { $0.slidingWindowSize = 4 }
        for sequence in 0..<10 { _ = try await app.register("live", "720p", sequence) }
        #expect(try await app.get(Self.playlistPath).text == expectedPlaylist("720p", 6...9))
        let stale = try await app.register("live", "720p", 2)
        #expect(stale.status == .ok)
        #expect(try jsonObject(stale)["status"] as? String == "stale")
        await app.shutdown()
    }

    @Test("ending a stream adds ENDLIST, refuses later segments with 409, and is idempotent")
    func endStream() async throws {
        let app = try TestApplication()
        for sequence in 0..<3 { _ = try await app.register("live", "720p", sequence) }
        let ended = try await app.post("/streams/live/end")
        #expect(ended.status == .ok)
        #expect(try jsonObject(ended)["status"] as? String == "ended")
        #expect(try await app.get(Self.playlistPath).text == expectedPlaylist("720p", 0...2, ended: true))
        let late = try await app.register("live", "720p", 3)
        #expect(late.status == .conflict)
        #expect(try await app.post("/streams/live/end").status == .ok)
        #expect(try await app.metric("hls_streams_ended_total") == 1)
        #expect(try await app.metric("hls_active_streams") == 0)
        await app.shutdown()
    }

    @Test("after the end, a transcoder's exact retry gets 200 duplicate; a new or different segment gets 409")
    func retryAfterEnd() async throws {
        let app = try TestApplication()
        for sequence in [0, 1, 2, 5] { _ = try await app.register("live", "720p", sequence) }
        #expect(try await app.post("/streams/live/end").status == .ok)
        let registered = try await app.metric("hls_segments_registered_total")
        for sequence in [2, 5] {
            let retried = try await app.register("live", "720p", sequence)
            #expect(retried.status == .ok)
            #expect(try jsonObject(retried)["status"] as? String == "duplicate")
        }
        #expect(try await app.register("live", "720p", 3).status == .conflict)
        let different = try await app.post(
            "/streams/live/renditions/720p/segments", json: #"{"sequence":2,"duration":2.0,"path":"/other.ts"}"#)
        #expect(different.status == .conflict)
        #expect(try await app.register("live", "1080p", 0).status == .conflict)
        #expect(try await app.get(Self.playlistPath).text == expectedPlaylist("720p", 0...2, ended: true))
        #expect(try await app.metric("hls_segments_registered_total") == registered)
        await app.shutdown()
    }

    @Test("a stream ended before its first segment refuses segments and serves no playlist")
    func endBeforeFirstSegment() async throws {
        let app = try TestApplication()
        #expect(try await app.post("/streams/early/end").status == .ok)
        #expect(try await app.register("early", "720p", 0).status == .conflict)
        #expect(try await app.get("/streams/early/renditions/720p/playlist.m3u8").status == .notFound)
        await app.shutdown()
    }

    @Test("unknown streams and renditions are 404 with a JSON error saying what is missing")
    func notFound() async throws {
        let app = try TestApplication()
        _ = try await app.register("live", "720p", 0)
        #expect(try await app.request(.put, "/streams/live/renditions/480p", body: #"{"bandwidth": 800000}"#).status == .created)
        #expect(try await app.request(.put, "/streams/declared/renditions/720p", body: "{}").status == .created)
        #expect(try await app.post("/streams/phantom/end").status == .ok)
        let cases = [
            ("/streams/none/renditions/720p/playlist.m3u8", "stream none is not known"),
            ("/streams/live/renditions/1080p/playlist.m3u8", "stream live has no rendition 1080p"),
            ("/streams/phantom/renditions/720p/playlist.m3u8", "stream phantom has no rendition 720p"),
            ("/streams/live/renditions/480p/playlist.m3u8",
                "rendition 480p of stream live has no segment yet: its playlist starts with its first whole segment"),
            ("/streams/declared/renditions/720p/playlist.m3u8",
                "rendition 720p of stream declared has no segment yet: its playlist starts with its first whole segment"),
        ]
        for (path, message) in cases {
            let response = try await app.get(path)
            #expect(response.status == .notFound)
            #expect(response.headers["Content-Type"] == "application/json")
            #expect(try jsonObject(response)["error"] as? String == message, "\(path)")
        }
        await app.shutdown()
    }

    @Test("after the end, a declaration and a part are refused with messages that name them, not segments")
    func endedMessages() async throws {
        let app = try TestApplication()
        _ = try await app.register("over", "720p", 0)
        #expect(try await app.post("/streams/over/end").status == .ok)
        let declared = try await app.request(.put, "/streams/over/renditions/720p", body: #"{"bandwidth": 1000}"#)
        #expect(declared.status == .conflict)
        #expect(try jsonObject(declared)["error"] as? String == "stream over has ended: its renditions can no longer be declared or changed")
        let part = try await app.post(
            "/streams/over/renditions/720p/parts", json: #"{"sequence":1,"part":0,"duration":0.2,"path":"/1.0.m4s"}"#)
        #expect(part.status == .conflict)
        #expect(try jsonObject(part)["error"] as? String == "stream over has ended and accepts no more parts")
        let segment = try await app.register("over", "720p", 1)
        #expect(try jsonObject(segment)["error"] as? String == "stream over has ended and accepts no more segments")
        await app.shutdown()
    }

    @Test(
        "bad requests get a 4xx with a JSON error body",
        arguments: [
            ("POST", "/streams//renditions/720p/segments", #"{"sequence":1,"duration":2,"path":"/a.ts"}"#, 400),
            ("POST", "/streams/live/renditions//segments", #"{"sequence":1,"duration":2,"path":"/a.ts"}"#, 400),
            ("GET", "/streams//renditions/720p/playlist.m3u8", "", 400),
            ("POST", "/streams//end", "", 400),
            ("POST", "/streams/live/renditions/720p/segments", "", 400),
            ("POST", "/streams/live/renditions/720p/segments", "not json", 400),
            ("POST", "/streams/live/renditions/720p/segments", #"{"duration":2,"path":"/a.ts"}"#, 400),
            ("POST", "/streams/live/renditions/720p/segments", #"{"sequence":"1","duration":2,"path":"/a.ts"}"#, 400),
            ("POST", "/streams/live/renditions/720p/segments", #"{"sequence":-1,"duration":2,"path":"/a.ts"}"#, 400),
            ("POST", "/streams/live/renditions/720p/segments", #"{"sequence":1,"duration":0,"path":"/a.ts"}"#, 400),
            ("POST", "/streams/live/renditions/720p/segments", #"{"sequence":1,"duration":2,"path":""}"#, 400),
            ("POST", "/streams/live/renditions/720p/segments", #"{"sequence":1,"duration":2,"path":"/a.ts\n#EXT-X-ENDLIST"}"#, 400),
            ("POST", "/streams/live/renditions/720p/segments", "[1,2,3]", 400),
            ("GET", "/streams/live/renditions/720p/segments", "", 405),
            ("DELETE", "/streams/live/renditions/720p/playlist.m3u8", "", 405),
            ("GET", "/streams/live/end", "", 405),
            ("POST", "/metrics", "", 405),
            ("GET", "/", "", 404),
            ("GET", "/streams/a/b", "", 404),
            ("GET", "/streams/live/renditions/720p/other.m3u8", "", 404),
        ])
    func badRequests(method: String, path: String, body: String, status: Int) async throws {
        let app = try TestApplication()
        let response = try await app.request(
            HTTPMethod(rawValue: method), path, headers: [("Content-Type", "application/json")],
            body: method == "POST" ? body : nil)
        #expect(response.status.rawValue == status)
        #expect(response.headers["Content-Type"] == "application/json")
        #expect(try jsonObject(response)["error"] is String)
        if status == 405 { #expect(response.headers["Allow"] != nil) }
        await app.shutdown()
    }

    @Test("a body over MAX_REQUEST_BODY_BYTES gets a JSON 413 that is counted, and the server keeps serving")
    func bodyTooLarge() async throws {
        let app = try TestApplication { $0.maxRequestBodyBytes = 1024 }
        let big = #"{"sequence":1,"duration":2,"path":"/a.ts","pad":""# + String(repeating: "x", count: 2000) + #""}"#
        let response = try await app.post("/streams/live/renditions/720p/segments", json: big)
        #expect(response.status == .contentTooLarge)
        #expect(response.headers["Content-Type"] == "application/json")
        #expect(try jsonObject(response)["error"] as? String == "request body exceeds 1024 bytes (MAX_REQUEST_BODY_BYTES)")
        // The same through a chunked body, answered once it passes the cap.
        let port = app.port
        let chunked = try await offPool {
            let connection = try HTTPClientConnection(port: port)
            let chunk = String(repeating: "c", count: 1000)
            try connection.write(
                Array(("POST /streams/live/renditions/720p/segments HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                    + "3e8\r\n\(chunk)\r\n3e8\r\n\(chunk)\r\n").utf8))
            return try connection.readResponse()
        }
        #expect(chunked.status == .contentTooLarge)
        #expect(try jsonObject(chunked)["error"] is String)
        // Both answers went through the app: counted as requests and as errors.
        #expect(try await app.metric("hls_requests_total") == 2)
        #expect(try await app.metric("hls_errors_total") == 2)
        #expect(try await app.register("live", "720p", 0).status == .created)
        await app.shutdown()
    }

    @Test("HEAD on a playlist has GET's headers and no body")
    func head() async throws {
        let app = try TestApplication()
        _ = try await app.register("live", "720p", 0)
        let get = try await app.get(Self.playlistPath)
        let head = try await app.request(.head, Self.playlistPath)
        #expect(head.status == .ok)
        #expect(head.body.isEmpty)
        #expect(head.headers["Content-Length"] == String(get.body.count))
        #expect(head.headers["Content-Type"] == "application/vnd.apple.mpegurl")
        await app.shutdown()
    }

    @Test("metrics are Prometheus text with the five contract metrics counting exactly")
    func metrics() async throws {
        let app = try TestApplication()
        for sequence in 0..<3 { _ = try await app.register("a", "720p", sequence) }
        _ = try await app.register("a", "720p", 1)  // duplicate: not counted as registered
        _ = try await app.register("b", "480p", 0)
        _ = try await app.post("/streams/a/end")
        _ = try await app.get("/streams/nope/renditions/720p/playlist.m3u8")  // 404
        let response = try await app.get("/metrics")
        #expect(response.status == .ok)
        #expect(response.headers["Content-Type"]?.hasPrefix("text/plain") == true)
        let text = response.text
        for (name, type) in [
            ("hls_requests_total", "counter"), ("hls_segments_registered_total", "counter"),
            ("hls_streams_ended_total", "counter"), ("hls_active_streams", "gauge"), ("hls_errors_total", "counter"),
        ] {
            #expect(text.contains("# TYPE \(name) \(type)\n"))
        }
        // 8 requests answered before this scrape; a scrape is counted once it has been answered.
        #expect(try await app.metric("hls_requests_total") == 8)
        #expect(try await app.metric("hls_segments_registered_total") == 4)
        #expect(try await app.metric("hls_streams_ended_total") == 1)
        #expect(try await app.metric("hls_active_streams") == 1)
        #expect(try await app.metric("hls_errors_total") == 1)
        await app.shutdown()
    }

    @Test("concurrent ingest from several threads ends in the exact playlists and counters")
    func concurrentIngest() async throws {
        let app = try TestApplication { $0.slidingWindowSize = 1000 }
        let port = app.port
        let renditions = ["1080p", "720p", "480p"]
        let perRendition = 200
        // 6 threads; each posts every other sequence of one rendition, shuffled, with retries.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for rendition in renditions {
                for half in 0..<2 {
                    group.addTask {
                        try await offPool {
                            let connection = try HTTPClientConnection(port: port)
                            var sequences = Array(stride(from: half, to: perRendition, by: 2))
                            sequences.shuffle()
                            for sequence in sequences + sequences.prefix(10) {
                                let body = #"{"sequence":\#(sequence),"duration":2.0,"path":"/\#(rendition)/\#(sequence).ts"}"#
                                let response = try connection.request(
                                    .post, "/streams/concurrent/renditions/\(rendition)/segments", body: Array(body.utf8))
                                guard response.status == .created || response.status == .ok else {
                                    throw HTTPClientError.malformedResponse("status \(response.status)")
                                }
                            }
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        for rendition in renditions {
            let playlist = try await app.get("/streams/concurrent/renditions/\(rendition)/playlist.m3u8")
            #expect(playlist.text == expectedPlaylist(rendition, 0...(perRendition - 1)))
        }
        #expect(try await app.metric("hls_segments_registered_total") == Double(renditions.count * perRendition))
        #expect(try await app.metric("hls_errors_total") == 0)
        await app.shutdown()
    }

    @Test("health is 200; a shutdown turns /readyz 503 at once and the service keeps serving for SHUTDOWN_DELAY")
    func healthAndReadiness() async throws {
        let app = try TestApplication { $0.shutdownDelaySeconds = 2 }
        #expect(try await app.get("/healthz").status == .ok)
        #expect(try await app.get("/readyz").status == .ok)
        let clock = ContinuousClock()
        let started = clock.now
        let shutdown = Task { await app.shutdown() }
        // Each probe is a new connection, as a load balancer's would be.
        var readyz = try await app.get("/readyz")
        while readyz.status == .ok, clock.now - started < .seconds(1) {
            try await Task.sleep(for: .milliseconds(10))
            readyz = try await app.get("/readyz")
        }
        #expect(readyz.status == .serviceUnavailable)
        #expect(readyz.headers["Cache-Control"] == "no-store")
        #expect(try jsonObject(readyz)["error"] is String)
        #expect(try await app.get("/healthz").status == .ok)
        #expect(try await app.register("late", "720p", 0).status == .created)
        #expect(clock.now - started < .seconds(2), "the probes must fall within SHUTDOWN_DELAY")
        await shutdown.value
        #expect(clock.now - started >= .seconds(2), "the server stopped before SHUTDOWN_DELAY was over")
    }
}

extension HTTPIntegrationTests {
    @Test("a JSON body that repeats a key is answered 400 naming the key, and nothing is registered")
    func duplicateKey() async throws {
        let app = try TestApplication()
        let response = try await app.post(
            "/streams/s/renditions/r/segments", json: #"{"sequence":1,"duration":2,"path":"/1.ts","sequence":2}"#)
        #expect(response.status == .badRequest)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any])
        let message = try #require(object["error"] as? String)
        #expect(message.contains(#"duplicate key "sequence""#), "\(message)")
        #expect(try await app.metric("hls_segments_registered_total") == 0)
        await app.shutdown()
    }
}
