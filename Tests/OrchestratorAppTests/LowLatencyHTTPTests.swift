import Foundation
import MicroHTTPD
import OrchestratorApp
import OrchestratorTesting
import Testing

/// An LL-HLS rendition: 1 s target duration, 0.25 s parts, and helpers to feed it.
struct LowLatencyStream {
    let app: TestApplication
    let stream: String
    var rendition = "ll"
    var playlist: String { "/streams/\(stream)/renditions/\(rendition)/playlist.m3u8" }

    static func make(
        _ app: TestApplication, _ stream: String, rendition: String = "ll", targetDuration: Int = 1
    ) async throws -> LowLatencyStream {
        let made = LowLatencyStream(app: app, stream: stream, rendition: rendition)
        let declared = try await app.request(
            .put, "/streams/\(stream)/renditions/\(rendition)",
            body: #"{"target_duration": \#(targetDuration), "part_target": 0.25, "part_uri_template": "/\#(rendition)/{sequence}.{part}.m4s"}"#)
        #expect(declared.status == .created)
        return made
    }

    @discardableResult
    func part(_ sequence: Int, _ part: Int) async throws -> HTTPClientResponse {
        try await app.post(
            "/streams/\(stream)/renditions/\(rendition)/parts",
            json: #"{"sequence":\#(sequence),"part":\#(part),"duration":0.25,"path":"/\#(rendition)/\#(sequence).\#(part).m4s","independent":\#(part == 0)}"#)
    }

    @discardableResult
    func segment(_ sequence: Int, duration: String = "1.0") async throws -> HTTPClientResponse {
        try await app.post(
            "/streams/\(stream)/renditions/\(rendition)/segments",
            json: #"{"sequence":\#(sequence),"duration":\#(duration),"path":"/\#(rendition)/\#(sequence).m4s"}"#)
    }

    /// Segment `sequence` as four parts followed by the whole segment.
    func fullSegment(_ sequence: Int) async throws {
        for index in 0..<4 { try await part(sequence, index) }
        try await segment(sequence)
    }

    /// The `#EXT-X-RENDITION-REPORT` line a sibling's playlist carries for this rendition.
    func report(lastMSN: Int, lastPart: Int?) -> String {
        "#EXT-X-RENDITION-REPORT:URI=\"../\(rendition)/playlist.m3u8\",LAST-MSN=\(lastMSN)" + (lastPart.map { ",LAST-PART=\($0)" } ?? "")
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
        _ = try await app.register("tags-plain", "plain", 0, duration: "1.0")
        let plain = try await app.get("/streams/tags-plain/renditions/plain/playlist.m3u8").text
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
        // The wake is recorded, measured within the part's registration round trip.
        let waited = ContinuousClock.now - posted
        #expect(try await app.metric("hls_blocking_wake_seconds_count") == 1)
        let sum = try #require(try await app.metric("hls_blocking_wake_seconds_sum"))
        #expect(sum > 0 && sum < Double(waited.components.seconds) + Double(waited.components.attoseconds) / 1e18, "\(sum) s")
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
        // Slide segments 0 to 2 out of the window of 6.
        for sequence in 2..<9 { try await ll.fullSegment(sequence) }
        let current = try await app.get(ll.playlist).text
        #expect(current.contains("#EXT-X-MEDIA-SEQUENCE:3\n"), "\(current)")
        let slid = clock.now
        for query in ["_HLS_msn=0", "_HLS_msn=1&_HLS_part=2", "_HLS_msn=2&_HLS_part=99"] {
            let response = try await app.get(ll.playlist + "?" + query)
            #expect(response.status == .ok, "\(query)")
            #expect(response.text == current, "the whole current playlist (rfc8216bis 6.2.5.2)")
            #expect(response.headers["Cache-Control"] == "public, max-age=6")
        }
        #expect(clock.now - slid < .seconds(1))
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
        // 0.25 s parts: the Advance Part Limit is 12 parts; 1.11 lies exactly 12 past 0.3.
        #expect(try await app.get(ll.playlist + "?_HLS_msn=1&_HLS_part=11").status == .badRequest)
        let clock = ContinuousClock()
        let started = clock.now
        let timedOut = try await app.get(ll.playlist + "?_HLS_msn=1&_HLS_part=3")
        let waited = clock.now - started
        #expect(timedOut.status == .serviceUnavailable)
        #expect(timedOut.headers["Retry-After"] == "1")
        #expect(timedOut.headers["Cache-Control"] == "no-store")
        #expect(timedOut.headers["Access-Control-Allow-Origin"] == "*")
        #expect(timedOut.text.hasPrefix(#"{"error":"#))
        // Three target durations (1 s each) from the server's start of handling, which follows
        // the client's start; the expiry pass runs every 50 ms. The upper bound leaves 2 s for a
        // loaded 2-core machine.
        #expect(waited >= .milliseconds(2980) && waited < .seconds(5), "held \(waited)")
        // Counted right after the answer is handed to the server, which may send it first.
        var timeouts = try await app.metric("hls_blocking_timeouts_total")
        for _ in 0..<40 where timeouts != 1 {
            try await Task.sleep(for: .milliseconds(50))
            timeouts = try await app.metric("hls_blocking_timeouts_total")
        }
        #expect(timeouts == 1)
        #expect(try await app.metric("hls_blocking_rejections_total") == 4)
        await app.shutdown()
    }

    @Test("400s are answered at once, far within a target duration (4 s here)")
    func refusalsAreImmediate() async throws {
        let app = try TestApplication()
        let ll = try await LowLatencyStream.make(app, "quick", targetDuration: 4)
        try await ll.fullSegment(0)
        let clock = ContinuousClock()
        // 0.25 s parts: the Advance Part Limit is 12 parts past the last listed (0.3).
        for query in ["_HLS_msn=3", "_HLS_part=1", "_HLS_msn=x", "_HLS_msn=1&_HLS_part=-1", "_HLS_msn=1&_HLS_part=11", "_HLS_msn=2&_HLS_part=11"] {
            let started = clock.now
            let response = try await app.get(ll.playlist + "?" + query)
            let took = clock.now - started
            #expect(response.status == .badRequest, "\(query)")
            #expect(response.text.hasPrefix(#"{"error":"#), "\(query)")
            #expect(took < .seconds(1), "\(query) took \(took); a held request would take 12 s")
        }
        // One part closer is within the limit: held (and answered 503 or woken later).
        async let held = app.get(ll.playlist + "?_HLS_msn=1&_HLS_part=10")
        #expect(try await waitForMetric(app, "hls_blocking_requests_held", 1))
        _ = try await app.post("/streams/quick/end")
        #expect(try await held.status == .ok)
        #expect(try await app.metric("hls_blocking_rejections_total") == 6)
        await app.shutdown()
    }

    @Test("the preload hint names the part that follows, across segment boundaries")
    func preloadHints() async throws {
        let app = try TestApplication()
        let ll = try await LowLatencyStream.make(app, "hints")
        try await ll.fullSegment(0)
        var hint = try #require(preloadHint(try await app.get(ll.playlist).text))
        #expect(hint == "/ll/1.0.m4s")
        for step in 0..<10 {
            let (sequence, index) = (1 + step / 4, step % 4)
            if index == 0 && step > 0 {
                try await ll.segment(sequence - 1)
                hint = try #require(preloadHint(try await app.get(ll.playlist).text))
                #expect(hint == "/ll/\(sequence).0.m4s", "a completed segment moves the hint to the next one")
            }
            try await ll.part(sequence, index)
            let text = try await app.get(ll.playlist).text
            let parts = text.split(separator: "\n").filter { $0.hasPrefix("#EXT-X-PART:") }
            let last = try #require(parts.last)
            #expect(last.contains(#"URI="\#(hint)""#), "the part that arrived is the one hinted: \(last)")
            hint = try #require(preloadHint(text))
        }
        await app.shutdown()
    }

    @Test("held-request limits, total and per rendition, answer 503 with Retry-After and are counted")
    func heldRequestLimits() async throws {
        let app = try TestApplication {
            $0.maxHeldRequests = 2
            $0.maxHeldRequestsPerRendition = 1
        }
        let a = try await LowLatencyStream.make(app, "limits", rendition: "a")
        let b = try await LowLatencyStream.make(app, "limits", rendition: "b")
        let c = try await LowLatencyStream.make(app, "limits", rendition: "c")
        for ll in [a, b, c] { try await ll.fullSegment(0) }
        async let heldA = app.get(a.playlist + "?_HLS_msn=1")
        #expect(try await waitForMetric(app, "hls_blocking_requests_held", 1))
        let perRendition = try await app.get(a.playlist + "?_HLS_msn=1&_HLS_part=0")
        #expect(perRendition.status == .serviceUnavailable)
        #expect(perRendition.headers["Retry-After"] == "1")
        #expect(perRendition.text.contains("too many blocking playlist reloads"))
        async let heldB = app.get(b.playlist + "?_HLS_msn=1")
        #expect(try await waitForMetric(app, "hls_blocking_requests_held", 2))
        let total = try await app.get(c.playlist + "?_HLS_msn=1")
        #expect(total.status == .serviceUnavailable)
        #expect(total.headers["Retry-After"] == "1")
        // Requests that need no holding are still answered.
        #expect(try await app.get(c.playlist + "?_HLS_msn=0").status == .ok)
        #expect(try await app.metric("hls_blocking_overload_total") == 2)
        #expect(try await app.metric("hls_blocking_requests_held") == 2)
        _ = try await app.post("/streams/limits/end")
        #expect(try await heldA.status == .ok)
        #expect(try await heldB.status == .ok)
        #expect(try await app.metric("hls_blocking_requests_held") == 0)
        await app.shutdown()
    }

    @Test("a gzip waiter and a plain waiter woken by one part get the same playlist bytes")
    func gzipAndPlainWaiters() async throws {
        let app = try TestApplication()
        let ll = try await LowLatencyStream.make(app, "encodings")
        try await ll.fullSegment(0)
        let target = ll.playlist + "?_HLS_msn=1&_HLS_part=0"
        async let plain = app.get(target)
        async let compressed = app.request(.get, target, headers: [("Accept-Encoding", "gzip")])
        #expect(try await waitForMetric(app, "hls_blocking_requests_held", 2))
        try await ll.part(1, 0)
        let (identity, gzip) = (try await plain, try await compressed)
        #expect(identity.status == .ok && gzip.status == .ok)
        #expect(identity.headers["Content-Encoding"] == nil)
        #expect(gzip.headers["Content-Encoding"] == "gzip")
        #expect(identity.text.contains(#"URI="/ll/1.0.m4s""#))
        #expect(Gzip.decompress(gzip.body) == identity.body)
        let tag = try #require(identity.headers["ETag"])
        #expect(gzip.headers["ETag"] == String(tag.dropLast()) + "-gz\"", "one render, two encodings")
        #expect(try await app.get(ll.playlist).body == identity.body, "what a plain GET gets now")
        await app.shutdown()
    }

    @Test("LL playlists are cacheable half a target duration, blocking answers six; ended ones a day")
    func cacheControl() async throws {
        let app = try TestApplication()
        let ll = try await LowLatencyStream.make(app, "caching", targetDuration: 2)
        try await ll.fullSegment(0)
        for query in ["", "?_HLS_skip=YES", "?other=1"] {
            #expect(try await app.get(ll.playlist + query).headers["Cache-Control"] == "public, max-age=1", "\(query)")
        }
        for query in ["?_HLS_msn=0", "?_HLS_msn=0&_HLS_part=1", "?_HLS_msn=0&_HLS_skip=YES"] {
            #expect(try await app.get(ll.playlist + query).headers["Cache-Control"] == "public, max-age=12", "\(query)")
        }
        async let held = app.get(ll.playlist + "?_HLS_msn=1&_HLS_part=0")
        #expect(try await waitForMetric(app, "hls_blocking_requests_held", 1))
        try await ll.part(1, 0)
        #expect(try await held.headers["Cache-Control"] == "public, max-age=12")
        _ = try await app.post("/streams/caching/end")
        for query in ["", "?_HLS_msn=9"] {
            #expect(try await app.get(ll.playlist + query).headers["Cache-Control"] == "public, max-age=86400", "\(query)")
        }
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
        let answer = try await staying
        #expect(answer.status == .serviceUnavailable)
        #expect(answer.headers["Cache-Control"] == "no-store")
        #expect(answer.headers["Access-Control-Allow-Origin"] == "*")
        #expect(answer.headers["Retry-After"] == "1")
        #expect(try jsonObject(answer)["error"] is String)
    }

    @Test("a blocking reload over the held-request limit is a 503 that CDNs must not keep, readable by browsers")
    func overLimit() async throws {
        let app = try TestApplication { $0.maxHeldRequestsPerRendition = 1 }
        let ll = try await LowLatencyStream.make(app, "full")
        try await ll.fullSegment(0)
        async let first = app.get(ll.playlist + "?_HLS_msn=1")
        #expect(try await waitForMetric(app, "hls_blocking_requests_held", 1))
        let refused = try await app.get(ll.playlist + "?_HLS_msn=1")
        #expect(refused.status == .serviceUnavailable)
        #expect(refused.headers["Cache-Control"] == "no-store")
        #expect(refused.headers["Access-Control-Allow-Origin"] == "*")
        #expect(refused.headers["Retry-After"] == "1")
        #expect(try jsonObject(refused)["error"] is String)
        // A client error on the same route keeps its short cache lifetime.
        let missing = try await app.get("/streams/full/renditions/none/playlist.m3u8")
        #expect(missing.status == .notFound)
        #expect(missing.headers["Cache-Control"] == "max-age=2")
        try await ll.fullSegment(1)
        #expect(try await first.status == .ok)
        await app.shutdown()
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
        _ = try await app.register("parts-plain", "plain", 0, duration: "1.0")
        let plain = try await app.post(
            "/streams/parts-plain/renditions/plain/parts", json: #"{"sequence":1,"part":0,"duration":0.25,"path":"/p.m4s"}"#)
        #expect(plain.status == .conflict)
        #expect(try await app.post("/streams/parts/renditions/ll/parts", json: #"{"sequence":1,"part":-1}"#).status == .badRequest)
        _ = try await app.post("/streams/parts/end")
        #expect(try await ll.part(1, 1).status == .conflict)
        await app.shutdown()
    }

    @Test("a part whose path is not the URI its preload hint announced is 409, naming the hinted URI")
    func hintedPath() async throws {
        let app = try TestApplication()
        let ll = try await LowLatencyStream.make(app, "hint")
        try await ll.fullSegment(0)
        try await ll.part(1, 0)
        let playlist = try await app.get(ll.playlist).text
        #expect(playlist.contains(#"#EXT-X-PRELOAD-HINT:TYPE=PART,URI="/ll/1.1.m4s""#), "\(playlist)")
        let other = try await app.post(
            "/streams/hint/renditions/ll/parts", json: #"{"sequence":1,"part":1,"duration":0.25,"path":"/elsewhere/1.1.m4s"}"#)
        #expect(other.status == .conflict)
        #expect(other.text.contains(#"\"/ll/1.1.m4s\""#), "\(other.text)")
        // A part further ahead is held to the template as well: it is hinted once its turn comes.
        let ahead = try await app.post(
            "/streams/hint/renditions/ll/parts", json: #"{"sequence":1,"part":3,"duration":0.25,"path":"/ll/1.3.mp4"}"#)
        #expect(ahead.status == .conflict)
        #expect(try await app.get(ll.playlist).text == playlist)
        #expect(try await ll.part(1, 1).status == .created)
        await app.shutdown()
    }

    @Test("a stream does not mix low-latency and regular renditions: 409 with a message saying why")
    func noMixing() async throws {
        let app = try TestApplication()
        let ll = try await LowLatencyStream.make(app, "mix")
        try await ll.fullSegment(0)
        let undeclared = try await app.register("mix", "plain", 0, duration: "1.0")
        #expect(undeclared.status == .conflict)
        #expect(undeclared.text.contains(#""error":"stream mix has low-latency renditions"#), "\(undeclared.text)")
        let declared = try await app.request(.put, "/streams/mix/renditions/plain", body: #"{"bandwidth": 500000}"#)
        #expect(declared.status == .conflict)
        #expect(declared.text.contains("part_target"))
        #expect(try await app.get("/streams/mix/renditions/plain/playlist.m3u8").status == .notFound)
        _ = try await app.register("regular", "360p", 0)
        let lowLatency = try await app.request(
            .put, "/streams/regular/renditions/720p",
            body: #"{"target_duration": 2, "part_target": 0.5, "part_uri_template": "/p/{sequence}.{part}.m4s"}"#)
        #expect(lowLatency.status == .conflict)
        #expect(lowLatency.text.contains("cannot be low-latency"), "\(lowLatency.text)")
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

    @Test("rendition reports are current in every sibling; a sibling's change revalidates it without waking its held reloads")
    func renditionReports() async throws {
        let app = try TestApplication()
        let hi = try await LowLatencyStream.make(app, "reports", rendition: "hi")
        let lo = try await LowLatencyStream.make(app, "reports", rendition: "lo")
        let mid = try await LowLatencyStream.make(app, "reports", rendition: "mid")
        try await hi.fullSegment(0)
        try await lo.fullSegment(0)
        var text = try await app.get(hi.playlist).text
        #expect(text.contains(lo.report(lastMSN: 0, lastPart: 3)))
        #expect(!text.contains("../mid/"), "no segment yet: no report (LAST-MSN is required)")
        let before = try await app.get(lo.playlist)
        #expect(before.text.contains(hi.report(lastMSN: 0, lastPart: 3)))
        try await hi.part(1, 0)
        let after = try await app.get(lo.playlist)
        #expect(after.text.contains(hi.report(lastMSN: 1, lastPart: 0)), "\(after.text)")
        #expect(after.headers["ETag"] != before.headers["ETag"])
        // A held reload of lo is not answered by hi's parts, only by lo's own.
        async let held = app.get(lo.playlist + "?_HLS_msn=1&_HLS_part=0")
        #expect(try await waitForMetric(app, "hls_blocking_requests_held", 1))
        #expect(try await hi.part(1, 1).status == .created)
        #expect(try await app.metric("hls_blocking_requests_held") == 1, "hi's part changed lo's reports only")
        try await lo.part(1, 0)
        let woken = try await held
        #expect(woken.status == .ok)
        #expect(woken.text.contains(#"URI="/lo/1.0.m4s""#))
        #expect(woken.text.contains(hi.report(lastMSN: 1, lastPart: 1)))
        // A rendition's first segment appears in the others at once.
        try await mid.segment(0)
        text = try await app.get(hi.playlist).text
        #expect(text.contains(mid.report(lastMSN: 0, lastPart: nil)))
        #expect(try await app.get(lo.playlist).text.contains(mid.report(lastMSN: 0, lastPart: nil)))
        await app.shutdown()
    }

    @Test("a delta update with a window longer than six target durations skips, and merges into the full playlist")
    func deltaUpdate() async throws {
        let app = try TestApplication { $0.slidingWindowSize = 12 }
        let ll = try await LowLatencyStream.make(app, "delta", targetDuration: 2)
        for sequence in 0..<12 { try await ll.segment(sequence, duration: "2.0") }
        let earlier = try await app.get(ll.playlist).text  // what a player already has
        try await ll.segment(12, duration: "2.0")
        try await ll.part(13, 0)
        let full = try await app.get(ll.playlist).text
        let delta = try await app.get(ll.playlist + "?_HLS_skip=YES").text
        #expect(full.contains("CAN-SKIP-UNTIL=12.0"), "\(full)")
        let skipLine = try #require(delta.split(separator: "\n").first { $0.hasPrefix("#EXT-X-SKIP:SKIPPED-SEGMENTS=") })
        let skipped = try #require(Int(skipLine.split(separator: "=").last ?? ""))
        // 12 segments of 2 s: those ending 12 s or more before the end (the first 6) are skipped.
        #expect(skipped == 6)
        let versionLine = try #require(delta.split(separator: "\n").first { $0.hasPrefix("#EXT-X-VERSION:") })
        #expect(Int(versionLine.dropFirst("#EXT-X-VERSION:".count)) ?? 0 >= 9, "EXT-X-SKIP needs version 9")
        let fullList = numberedSegments(full)
        let deltaList = numberedSegments(delta)
        #expect(deltaList.count == fullList.count - skipped)
        #expect(deltaList.allSatisfy { fullList[$0.key] == $0.value }, "each kept segment, numbered, with its tags")
        // A player merges the delta into the playlist it had and gets the full one.
        let mediaSequence = try #require(fullList.keys.min())
        var merged = numberedSegments(earlier).filter { $0.key >= mediaSequence }
        merged.merge(deltaList) { _, new in new }
        #expect(merged == fullList)
        // Everything after the segments is the same.
        let tail = { (text: String) in text.split(separator: "\n").drop { !$0.hasPrefix("#EXT-X-PART:") } }
        #expect(Array(tail(delta)) == Array(tail(full)))
        await app.shutdown()
    }

    @Test("with the default window of 6 and 2 s segments a delta update skips nothing (the playlist is 12 s)")
    func deltaUpdateDefaultWindow() async throws {
        let app = try TestApplication()
        let ll = try await LowLatencyStream.make(app, "short", targetDuration: 2)
        for sequence in 0..<9 { try await ll.segment(sequence, duration: "2.0") }
        let full = try await app.get(ll.playlist).text
        let delta = try await app.get(ll.playlist + "?_HLS_skip=YES").text
        #expect(full.contains("#EXT-X-MEDIA-SEQUENCE:3\n"))
        #expect(delta.contains("#EXT-X-SKIP:SKIPPED-SEGMENTS=0\n"))
        #expect(numberedSegments(delta) == numberedSegments(full))
        await app.shutdown()
    }
}

/// The URI of `#EXT-X-PRELOAD-HINT`, if the playlist has one.
func preloadHint(_ text: String) -> String? {
    guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("#EXT-X-PRELOAD-HINT:") }),
        let start = line.range(of: #"URI=""#)
    else { return nil }
    return String(line[start.upperBound...].prefix { $0 != "\"" })
}

/// The segments of a media playlist by Media Sequence Number, each with its `#EXTINF` and
/// `#EXT-X-PROGRAM-DATE-TIME` lines and URI; in a delta update, numbering resumes after the
/// skipped segments, as a player numbers them.
func numberedSegments(_ text: String) -> [UInt64: String] {
    var number: UInt64 = 0
    var tags: [Substring] = []
    var segments: [UInt64: String] = [:]
    for line in text.split(separator: "\n") {
        if line.hasPrefix("#EXT-X-MEDIA-SEQUENCE:") {
            number = UInt64(line.dropFirst("#EXT-X-MEDIA-SEQUENCE:".count)) ?? 0
        } else if line.hasPrefix("#EXT-X-SKIP:SKIPPED-SEGMENTS=") {
            number += UInt64(line.dropFirst("#EXT-X-SKIP:SKIPPED-SEGMENTS=".count)) ?? 0
        } else if line.hasPrefix("#EXTINF:") || line.hasPrefix("#EXT-X-PROGRAM-DATE-TIME:") || line.hasPrefix("#EXT-X-DISCONTINUITY") && !line.hasPrefix("#EXT-X-DISCONTINUITY-SEQUENCE") {
            tags.append(line)
        } else if !line.hasPrefix("#") {
            segments[number] = (tags + [line]).joined(separator: " ")
            number += 1
            tags = []
        }
    }
    return segments
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
