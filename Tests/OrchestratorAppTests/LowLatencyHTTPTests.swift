import Foundation
import MicroHTTPD
import OrchestratorApp
import OrchestratorTesting
import Testing

/// An LL-HLS rendition: 1 s target duration, 0.25 s parts, and helpers to feed it.
struct LowLatencyStream {
    let app: TestApplication
    let stream: String
    let rendition = "ll"
    var playlist: String { "/streams/\(stream)/renditions/\(rendition)/playlist.m3u8" }

    static func make(_ app: TestApplication, _ stream: String) async throws -> LowLatencyStream {
        let made = LowLatencyStream(app: app, stream: stream)
        let declared = try await app.request(
            .put, "/streams/\(stream)/renditions/ll",
            body: #"{"target_duration": 1, "part_target": 0.25, "part_uri_template": "/ll/{sequence}.{part}.m4s"}"#)
        #expect(declared.status == .created)
        return made
    }

    @discardableResult
    func part(_ sequence: Int, _ part: Int) async throws -> HTTPClientResponse {
        try await app.post(
            "/streams/\(stream)/renditions/ll/parts",
            json: #"{"sequence":\#(sequence),"part":\#(part),"duration":0.25,"path":"/ll/\#(sequence).\#(part).m4s","independent":\#(part == 0)}"#)
    }

    @discardableResult
    func segment(_ sequence: Int) async throws -> HTTPClientResponse {
        try await app.post(
            "/streams/\(stream)/renditions/ll/segments",
            json: #"{"sequence":\#(sequence),"duration":1.0,"path":"/ll/\#(sequence).m4s"}"#)
    }

    /// Segment `sequence` as four parts followed by the whole segment.
    func fullSegment(_ sequence: Int) async throws {
        for index in 0..<4 { try await part(sequence, index) }
        try await segment(sequence)
    }
}

@Suite(.serialized) struct LowLatencyHTTPTests {
    @Test("an LL rendition lists server control, part info, parts and a preload hint; others stay plain")
    func tags() async throws {
        let app = try TestApplication()
        let ll = try await LowLatencyStream.make(app, "tags")
        try await ll.fullSegment(0)
        try await ll.part(1, 1)  // out of order: waits for part 0
        try await ll.part(1, 0)
        let text = try await app.get(ll.playlist).text
        #expect(text.contains("#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES"))
        #expect(text.contains("#EXT-X-PART-INF:PART-TARGET=0.25"))
        #expect(text.contains(#"#EXT-X-PART:DURATION=0.250,URI="/ll/1.0.m4s",INDEPENDENT=YES"#))
        #expect(text.contains(#"#EXT-X-PART:DURATION=0.250,URI="/ll/1.1.m4s""#))
        #expect(text.contains(#"#EXT-X-PRELOAD-HINT:TYPE=PART,URI="/ll/1.2.m4s""#))
        #expect(text.contains("#EXT-X-PROGRAM-DATE-TIME:"))
        _ = try await app.register("tags", "plain", 0, duration: "1.0")
        let plain = try await app.get("/streams/tags/renditions/plain/playlist.m3u8").text
        #expect(!plain.contains("#EXT-X-PART"))
        #expect(!plain.contains("SERVER-CONTROL"))
        await app.shutdown()
    }

    @Test("a blocking reload is held until the part it asks for arrives, then gets a playlist with it")
    func blockingReloadWakes() async throws {
        let app = try TestApplication()
        let ll = try await LowLatencyStream.make(app, "wake")
        try await ll.fullSegment(0)
        try await ll.part(1, 0)
        async let held = app.get(ll.playlist + "?_HLS_msn=1&_HLS_part=1")
        #expect(try await waitForMetric(app, "hls_blocking_requests_held", 1))
        let posted = ContinuousClock.now
        try await ll.part(1, 1)
        let response = try await held
        #expect(ContinuousClock.now - posted < .seconds(1))
        #expect(response.status == .ok)
        #expect(response.text.contains(#"URI="/ll/1.1.m4s""#))
        #expect(response.headers["Cache-Control"] == "public, max-age=6")
        #expect(try await app.metric("hls_blocking_requests_held") == 0)
        await app.shutdown()
    }

    @Test("what is already there (or slid out) answers at once; a part past a segment's last means the next segment")
    func immediateAnswers() async throws {
        let app = try TestApplication()
        let ll = try await LowLatencyStream.make(app, "now")
        try await ll.fullSegment(0)
        try await ll.fullSegment(1)
        try await ll.part(2, 0)
        let clock = ContinuousClock()
        let started = clock.now
        for query in ["_HLS_msn=1", "_HLS_msn=0&_HLS_part=2", "_HLS_part=9&_HLS_msn=1", "_HLS_msn=2&_HLS_part=0&other=x"] {
            let response = try await app.get(ll.playlist + "?" + query)
            #expect(response.status == .ok, "\(query)")
        }
        #expect(clock.now - started < .seconds(1))
        await app.shutdown()
    }

    @Test("asking too far ahead or _HLS_part alone is 400 at once; nothing satisfying in three target durations is 503")
    func refusalsAndTimeout() async throws {
        let app = try TestApplication()
        let ll = try await LowLatencyStream.make(app, "far")
        try await ll.fullSegment(0)
        #expect(try await app.get(ll.playlist + "?_HLS_msn=4").status == .badRequest)
        #expect(try await app.get(ll.playlist + "?_HLS_part=1").status == .badRequest)
        #expect(try await app.get(ll.playlist + "?_HLS_msn=abc").status == .badRequest)
        let clock = ContinuousClock()
        let started = clock.now
        let timedOut = try await app.get(ll.playlist + "?_HLS_msn=1&_HLS_part=3")
        let waited = clock.now - started
        #expect(timedOut.status == .serviceUnavailable)
        #expect(timedOut.headers["Retry-After"] != nil)
        #expect(waited >= .milliseconds(2900) && waited < .seconds(10), "held \(waited)")
        #expect(try await app.metric("hls_blocking_timeouts_total") == 1)
        #expect(try await app.metric("hls_blocking_rejections_total") == 3)
        await app.shutdown()
    }

    @Test("ending the stream answers held reloads with the ended playlist; directives are then ignored")
    func endWakes() async throws {
        let app = try TestApplication()
        let ll = try await LowLatencyStream.make(app, "ending")
        try await ll.fullSegment(0)
        async let held = app.get(ll.playlist + "?_HLS_msn=2")
        #expect(try await waitForMetric(app, "hls_blocking_requests_held", 1))
        _ = try await app.post("/streams/ending/end")
        let response = try await held
        #expect(response.text.hasSuffix("#EXT-X-ENDLIST\n"))
        #expect(!response.text.contains("PRELOAD-HINT"))
        #expect(try await app.get(ll.playlist + "?_HLS_msn=9").status == .ok)
        await app.shutdown()
    }

    @Test("a client that hangs up while held is released; shutdown answers the rest")
    func disconnectAndShutdown() async throws {
        let app = try TestApplication()
        let ll = try await LowLatencyStream.make(app, "bye")
        try await ll.fullSegment(0)
        let port = app.port
        let target = ll.playlist + "?_HLS_msn=1"
        try await offPool {
            let leaving = try HTTPClientConnection(port: port)
            try leaving.write(Array("GET \(target) HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
            Thread.sleep(forTimeInterval: 0.2)
            leaving.close()
        }
        #expect(try await waitForMetric(app, "hls_blocking_requests_held", 0))
        async let staying = app.get(target)
        #expect(try await waitForMetric(app, "hls_blocking_requests_held", 1))
        await app.shutdown()
        #expect(try await staying.status == .serviceUnavailable)
    }

    @Test("bad parts get clear 4xx: too long 422, conflicting 409, non-LL rendition 409, after end 409, malformed 400")
    func partErrors() async throws {
        let app = try TestApplication()
        let ll = try await LowLatencyStream.make(app, "parts")
        try await ll.fullSegment(0)
        let long = try await app.post(
            "/streams/parts/renditions/ll/parts", json: #"{"sequence":1,"part":0,"duration":0.5,"path":"/x.m4s"}"#)
        #expect(long.status == .unprocessableContent)
        try await ll.part(1, 0)
        #expect(try await ll.part(1, 0).status == .ok)  // exact retry
        let conflicting = try await app.post(
            "/streams/parts/renditions/ll/parts", json: #"{"sequence":1,"part":0,"duration":0.25,"path":"/other.m4s"}"#)
        #expect(conflicting.status == .conflict)
        _ = try await app.register("parts", "plain", 0, duration: "1.0")
        let plain = try await app.post(
            "/streams/parts/renditions/plain/parts", json: #"{"sequence":1,"part":0,"duration":0.25,"path":"/p.m4s"}"#)
        #expect(plain.status == .conflict)
        #expect(try await app.post("/streams/parts/renditions/ll/parts", json: #"{"sequence":1,"part":-1}"#).status == .badRequest)
        _ = try await app.post("/streams/parts/end")
        #expect(try await ll.part(1, 1).status == .conflict)
        await app.shutdown()
    }

    @Test("after the end, a retried part gets 200 duplicate; a new or different one gets 409")
    func partRetryAfterEnd() async throws {
        let app = try TestApplication()
        let ll = try await LowLatencyStream.make(app, "retry")
        try await ll.fullSegment(0)
        try await ll.part(1, 0)
        #expect(try await app.post("/streams/retry/end").status == .ok)
        let before = try await app.get(ll.playlist).text
        let retried = try await ll.part(1, 0)
        #expect(retried.status == .ok)
        #expect(try jsonObject(retried)["status"] as? String == "duplicate")
        #expect(try await ll.part(0, 3).status == .ok, "a part frozen with its segment")
        #expect(try await ll.segment(0).status == .ok)
        #expect(try await ll.part(1, 1).status == .conflict)
        let different = try await app.post(
            "/streams/retry/renditions/ll/parts", json: #"{"sequence":1,"part":0,"duration":0.25,"path":"/other.m4s","independent":true}"#)
        #expect(different.status == .conflict)
        #expect(try await app.get(ll.playlist).text == before)
        await app.shutdown()
    }

    @Test("a delta update skips old segments and, expanded, lists the same segments as the full playlist")
    func deltaUpdate() async throws {
        let app = try TestApplication { $0.slidingWindowSize = 12 }
        let ll = try await LowLatencyStream.make(app, "delta")
        for sequence in 0..<12 { try await ll.fullSegment(sequence) }
        let full = try await app.get(ll.playlist).text
        let delta = try await app.get(ll.playlist + "?_HLS_skip=YES").text
        let skipLine = try #require(delta.split(separator: "\n").first { $0.hasPrefix("#EXT-X-SKIP:SKIPPED-SEGMENTS=") })
        let skipped = try #require(Int(skipLine.split(separator: "=").last ?? ""))
        #expect(skipped > 0)
        let fullURIs = full.split(separator: "\n").filter { !$0.hasPrefix("#") }
        let deltaURIs = delta.split(separator: "\n").filter { !$0.hasPrefix("#") }
        #expect(Array(fullURIs.dropFirst(skipped)) == deltaURIs)
        let versionLine = try #require(delta.split(separator: "\n").first { $0.hasPrefix("#EXT-X-VERSION:") })
        #expect(Int(versionLine.dropFirst("#EXT-X-VERSION:".count)) ?? 0 >= 9, "EXT-X-SKIP needs version 9")
        await app.shutdown()
    }
}

/// Polls the metric `name` (off the cooperative pool) until it equals `value`, for up to 15 s.
func waitForMetric(_ app: TestApplication, _ name: String, _ value: Double) async throws -> Bool {
    let clock = ContinuousClock()
    let deadline = clock.now.advanced(by: .seconds(15))
    while clock.now < deadline {
        if try await app.metric(name) == value { return true }
        try await Task.sleep(for: .milliseconds(20))
    }
    return false
}
