import Foundation
import MicroHTTPD
import OrchestratorApp
import OrchestratorTesting
import Testing

@Suite struct LiveRulesHTTPTests {
    @Test("PUT declares a rendition (201, then 200) and master.m3u8 lists the renditions with known bandwidth")
    func declarationAndMaster() async throws {
        let app = try TestApplication()
        let declaration = #"{"bandwidth": 2500000, "average_bandwidth": 2000000, "resolution": "1280x720", "codecs": "avc1.64001f,mp4a.40.2", "frame_rate": 29.97}"#
        let created = try await app.request(.put, "/streams/show/renditions/720p", body: declaration)
        #expect(created.status == .created)
        #expect(try await app.request(.put, "/streams/show/renditions/720p", body: declaration).status == .ok)
        #expect(try await app.request(.put, "/streams/show/renditions/720p", body: #"{"resolution": "wide"}"#).status == .badRequest)
        // Declared but without segments: no variant yet.
        #expect(try await app.get("/streams/show/master.m3u8").status == .notFound)
        _ = try await app.register("show", "720p", 0)
        _ = try await app.register("show", "480p", 0)  // no bandwidth known: left out
        let master = try await app.get("/streams/show/master.m3u8")
        #expect(master.status == .ok)
        #expect(master.headers["Content-Type"] == "application/vnd.apple.mpegurl")
        #expect(master.headers["Access-Control-Allow-Origin"] == "*")
        let text = master.text
        #expect(text.hasPrefix("#EXTM3U\n"))
        #expect(text.contains("BANDWIDTH=2500000"))
        #expect(text.contains("AVERAGE-BANDWIDTH=2000000"))
        #expect(text.contains("RESOLUTION=1280x720"))
        #expect(text.contains(#"CODECS="avc1.64001f,mp4a.40.2""#))
        #expect(text.contains("FRAME-RATE=29.970"))
        #expect(text.contains("renditions/720p/playlist.m3u8\n"))
        #expect(!text.contains("480p"))
        let etag = try #require(master.headers["ETag"])
        #expect(try await app.request(.get, "/streams/show/master.m3u8", headers: [("If-None-Match", etag)]).status == .notModified)
        #expect(try await app.get("/streams/nobody/master.m3u8").status == .notFound)
        await app.shutdown()
    }

    @Test("master.m3u8 has Last-Modified of its renditions' latest change and caches like a media playlist")
    func masterHeaders() async throws {
        let app = try TestApplication()
        for rendition in ["low", "high"] {
            #expect(try await app.request(.put, "/streams/cached/renditions/\(rendition)", body: #"{"bandwidth": 1000000}"#).status == .created)
            _ = try await app.register("cached", rendition, 0, duration: "6.0")  // target duration 6
        }
        let low = try await app.get("/streams/cached/renditions/low/playlist.m3u8")
        let high = try await app.get("/streams/cached/renditions/high/playlist.m3u8")
        let live = try await app.get("/streams/cached/master.m3u8")
        #expect(live.status == .ok)
        #expect(live.headers["Cache-Control"] == "public, max-age=3", "half of the 6 s target duration")
        let newest = try #require([low, high].compactMap { $0.headers["Last-Modified"] }.max { Self.date($0) < Self.date($1) })
        #expect(Self.date(newest) != .distantPast)
        #expect(live.headers["Last-Modified"] == newest)
        let etag = try #require(live.headers["ETag"])
        let notModified = try await app.request(.get, "/streams/cached/master.m3u8", headers: [("If-None-Match", etag)])
        #expect(notModified.status == .notModified)
        #expect(notModified.headers["Last-Modified"] == newest)
        #expect(try await app.post("/streams/cached/end").status == .ok)
        let ended = try await app.get("/streams/cached/master.m3u8")
        #expect(ended.headers["Cache-Control"] == "public, max-age=86400")
        let endedLow = try await app.get("/streams/cached/renditions/low/playlist.m3u8")
        let endedHigh = try await app.get("/streams/cached/renditions/high/playlist.m3u8")
        let newestEnded = try #require([endedLow, endedHigh].compactMap { $0.headers["Last-Modified"] }.max { Self.date($0) < Self.date($1) })
        #expect(ended.headers["Last-Modified"] == newestEnded)
        await app.shutdown()
    }

    /// Parses an IMF-fixdate for ordering.
    static func date(_ text: String) -> Date {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        return formatter.date(from: text) ?? .distantPast
    }

    @Test("segment sizes in bytes give a computed BANDWIDTH")
    func bandwidthFromBytes() async throws {
        let app = try TestApplication()
        for sequence in 0..<3 {
            let body = #"{"sequence":\#(sequence),"duration":2.0,"path":"/\#(sequence).ts","bytes":\#(250_000 * (sequence + 1))}"#
            #expect(try await app.post("/streams/sized/renditions/low/segments", json: body).status == .created)
        }
        let text = try await app.get("/streams/sized/master.m3u8").text
        #expect(text.contains("BANDWIDTH=3000000"))  // peak: 750,000 bytes in 2 s
        #expect(text.contains("AVERAGE-BANDWIDTH=2000000"))  // 1,500,000 bytes in 6 s
        await app.shutdown()
    }

    @Test("average_bandwidth above bandwidth is 400; a computed average is capped at the declared peak")
    func averageNotAbovePeak() async throws {
        let app = try TestApplication()
        let refused = try await app.request(
            .put, "/streams/avg/renditions/720p", body: #"{"bandwidth": 1000000, "average_bandwidth": 1000001}"#)
        #expect(refused.status == .badRequest)
        #expect(try (jsonObject(refused)["error"] as? String)?.contains("average_bandwidth must not be greater than bandwidth") == true)
        // A declared peak of 1 Mbit/s, segments that average 3 Mbit/s (750,000 bytes in 2 s).
        #expect(try await app.request(.put, "/streams/avg/renditions/720p", body: #"{"bandwidth": 1000000}"#).status == .created)
        for sequence in 0..<3 {
            let body = #"{"sequence":\#(sequence),"duration":2.0,"path":"/\#(sequence).ts","bytes":750000}"#
            #expect(try await app.post("/streams/avg/renditions/720p/segments", json: body).status == .created)
        }
        let text = try await app.get("/streams/avg/master.m3u8").text
        #expect(text.contains("#EXT-X-STREAM-INF:BANDWIDTH=1000000,AVERAGE-BANDWIDTH=1000000\n"))
        #expect(!text.contains("3000000"))
        await app.shutdown()
    }

    @Test("with GAP_TIMEOUT a hole is skipped with a discontinuity and counted; the late segment is ignored")
    func gapTimeout() async throws {
        let app = try TestApplication { $0.gapTimeoutSeconds = 1 }
        for sequence in [0, 1, 3, 4] { _ = try await app.register("gappy", "720p", sequence) }
        let path = "/streams/gappy/renditions/720p/playlist.m3u8"
        #expect(!(try await app.get(path).text.contains("/720p/3.ts")))
        let skipped = try await pollPlaylist(app, path, timeout: .seconds(4)) { $0.contains("/720p/4.ts") }
        #expect(skipped.contains("#EXT-X-DISCONTINUITY\n#EXTINF:2.000,\n/720p/3.ts\n"))
        let late = try await app.register("gappy", "720p", 2)
        #expect(late.status == .ok)
        #expect(try await app.get(path).text == skipped)
        #expect(try await app.metric("hls_segments_skipped_total") == 1)
        await app.shutdown()
    }

    @Test("program_date_time is listed as EXT-X-PROGRAM-DATE-TIME in UTC")
    func programDateTime() async throws {
        let app = try TestApplication()
        let body = #"{"sequence":0,"duration":2.0,"path":"/0.ts","program_date_time":"2026-11-25T12:00:00+02:00"}"#
        #expect(try await app.post("/streams/dated/renditions/r/segments", json: body).status == .created)
        let text = try await app.get("/streams/dated/renditions/r/playlist.m3u8").text
        #expect(text.contains("#EXT-X-PROGRAM-DATE-TIME:2026-11-25T10:00:00.000Z\n#EXTINF:2.000,\n/0.ts\n"))
        let bad = #"{"sequence":1,"duration":2.0,"path":"/1.ts","program_date_time":"yesterday"}"#
        #expect(try await app.post("/streams/dated/renditions/r/segments", json: bad).status == .badRequest)
        await app.shutdown()
    }

    @Test("a leap second in program_date_time is accepted and listed as the next second; a misplaced :60 is 400")
    func leapSecond() async throws {
        let app = try TestApplication()
        let body = #"{"sequence":0,"duration":2.0,"path":"/0.ts","program_date_time":"2016-12-31T23:59:60.500Z"}"#
        #expect(try await app.post("/streams/leap/renditions/r/segments", json: body).status == .created)
        let text = try await app.get("/streams/leap/renditions/r/playlist.m3u8").text
        #expect(text.contains("#EXT-X-PROGRAM-DATE-TIME:2017-01-01T00:00:00.500Z\n#EXTINF:2.000,\n/0.ts\n"))
        let misplaced = #"{"sequence":1,"duration":2.0,"path":"/1.ts","program_date_time":"2016-12-30T23:59:60Z"}"#
        #expect(try await app.post("/streams/leap/renditions/r/segments", json: misplaced).status == .badRequest)
        await app.shutdown()
    }

    @Test("limits answer with clear 4xx: too far ahead 429 naming the missing segment, too many renditions 422, too many streams 429")
    func limits() async throws {
        let app = try TestApplication {
            $0.maxPendingSegments = 8
            $0.maxStreams = 2
            $0.maxRenditionsPerStream = 2
        }
        _ = try await app.register("a", "r1", 0)
        let ahead = try await app.register("a", "r1", 100)
        // Retryable: the hole (segment 1) may still fill.
        #expect(ahead.status == .tooManyRequests)
        #expect(ahead.headers["Retry-After"] == "1")
        let body = try jsonObject(ahead)
        #expect((body["error"] as? String)?.contains("segment 1 is missing") == true)
        #expect((body["missing"] as? [String: Any])?["sequence"] as? Int == 1)
        _ = try await app.register("a", "r1", 1)
        #expect(try await app.register("a", "r1", 8).status == .created)
        _ = try await app.register("a", "r2", 0)
        #expect(try await app.register("a", "r3", 0).status == .unprocessableContent)
        _ = try await app.register("b", "r1", 0)
        let third = try await app.register("c", "r1", 0)
        #expect(third.status == .tooManyRequests)
        #expect(try await app.get("/streams/a/renditions/r1/playlist.m3u8").text == expectedPlaylist("r1", 0...1))
        await app.shutdown()
    }

    @Test("ending an unknown stream at MAX_STREAMS is 429 and counts nothing; every stream counts once in hls_streams_ended_total")
    func endUnknownAtCap() async throws {
        let app = try TestApplication { $0.maxStreams = 2 }
        _ = try await app.register("a", "r1", 0)
        let phantom = try await app.post("/streams/phantom/end")
        #expect(phantom.status == .ok)
        #expect(try jsonObject(phantom)["status"] as? String == "ended")
        #expect(try jsonObject(try await app.post("/streams/phantom/end"))["status"] as? String == "already_ended")
        for _ in 0..<3 {
            let full = try await app.post("/streams/other/end")
            #expect(full.status == .tooManyRequests)
            #expect(try jsonObject(full)["error"] as? String == "too many streams: at most 2 streams are kept at once")
        }
        #expect(try await app.metric("hls_streams_ended_total") == 1)
        #expect(try await app.register("other", "r1", 0).status == .tooManyRequests)
        #expect(try await app.register("phantom", "r1", 0).status == .conflict)
        #expect(try await app.post("/streams/a/end").status == .ok)
        #expect(try await app.post("/streams/a/end").status == .ok)
        #expect(try await app.metric("hls_streams_ended_total") == 2)
        #expect(try await app.metric("hls_active_streams") == 0)
        await app.shutdown()
    }

    @Test("an idle live stream is forgotten after IDLE_STREAM_TTL and hls_active_streams follows")
    func idleEviction() async throws {
        let app = try TestApplication { $0.idleStreamTTLSeconds = 1 }
        _ = try await app.register("idle", "r", 0)
        #expect(try await app.metric("hls_active_streams") == 1)
        let gone = try await pollStatus(app, "/streams/idle/renditions/r/playlist.m3u8", timeout: .seconds(5)) { $0 == 404 }
        #expect(gone)
        #expect(try await app.metric("hls_active_streams") == 0)
        await app.shutdown()
    }
}

/// GETs `path` until `condition` holds on its text or `timeout` passes; returns the last text.
func pollPlaylist(
    _ app: TestApplication, _ path: String, timeout: Duration, _ condition: (String) -> Bool
) async throws -> String {
    let clock = ContinuousClock()
    let deadline = clock.now.advanced(by: timeout)
    var text = try await app.get(path).text
    while !condition(text), clock.now < deadline {
        try await Task.sleep(for: .milliseconds(100))
        text = try await app.get(path).text
    }
    return text
}

/// GETs `path` until `condition` holds on its status or `timeout` passes.
func pollStatus(_ app: TestApplication, _ path: String, timeout: Duration, _ condition: (Int) -> Bool) async throws -> Bool {
    let clock = ContinuousClock()
    let deadline = clock.now.advanced(by: timeout)
    while clock.now < deadline {
        if condition(try await app.get(path).status.rawValue) { return true }
        try await Task.sleep(for: .milliseconds(100))
    }
    return false
}

@Suite struct MultivariantGzipTests {
    @Test("master.m3u8 is gzipped for a client that accepts gzip, with its own ETag and Vary: Accept-Encoding")
    func gzip() async throws {
        let app = try TestApplication()
        _ = try await app.request(.put, "/streams/show/renditions/720p", body: #"{"bandwidth": 2500000}"#)
        _ = try await app.register("show", "720p", 0)
        let plain = try await app.get("/streams/show/master.m3u8")
        #expect(plain.status == .ok)
        #expect(plain.headers["Content-Encoding"] == nil)
        #expect(plain.headers["Vary"] == "Accept-Encoding")
        let compressed = try await app.request(.get, "/streams/show/master.m3u8", headers: [("Accept-Encoding", "br, gzip")])
        #expect(compressed.status == .ok)
        #expect(compressed.headers["Content-Encoding"] == "gzip")
        #expect(compressed.headers["Vary"] == "Accept-Encoding")
        #expect(compressed.headers["Content-Type"] == "application/vnd.apple.mpegurl")
        #expect(compressed.body != plain.body)
        #expect(Gzip.decompress(compressed.body) == plain.body)
        let plainTag = try #require(plain.headers["ETag"])
        let gzipTag = try #require(compressed.headers["ETag"])
        #expect(plainTag != gzipTag)
        // Each encoding revalidates against its own tag.
        let revalidated = try await app.request(
            .get, "/streams/show/master.m3u8", headers: [("Accept-Encoding", "gzip"), ("If-None-Match", gzipTag)])
        #expect(revalidated.status == .notModified)
        let mismatched = try await app.request(
            .get, "/streams/show/master.m3u8", headers: [("Accept-Encoding", "gzip"), ("If-None-Match", plainTag)])
        #expect(mismatched.status == .ok)
        // gzip;q=0 refuses it.
        let refused = try await app.request(.get, "/streams/show/master.m3u8", headers: [("Accept-Encoding", "gzip;q=0")])
        #expect(refused.headers["Content-Encoding"] == nil)
        #expect(refused.body == plain.body)
        await app.shutdown()
    }
}
