import MicroHTTPD
import OrchestratorApp
import OrchestratorTesting
import Testing

/// The server's response cache as players see it: never an answer older than the last 201,
/// counted like every other request, bypassed by conditional requests.
@Suite struct ResponseCacheHTTPTests {
    private let path = "/streams/c/renditions/720p/playlist.m3u8"

    @Test("a playlist served again from the cache is never older than the last 201, and every GET is counted")
    func freshAndCounted() async throws {
        let app = try TestApplication { $0.slidingWindowSize = 3 }
        var gets = 0
        for sequence in 0..<40 {
            #expect(try await app.register("c", "720p", sequence).status == .created)
            for _ in 0..<3 {
                let playlist = try await app.get(path).text
                gets += 1
                #expect(playlist.hasSuffix("/720p/\(sequence).ts\n"), "after the 201 of \(sequence): \(playlist)")
                #expect(playlist.contains("#EXT-X-MEDIA-SEQUENCE:\(max(0, sequence - 2))\n"))
            }
        }
        let before = try #require(try await app.metric("hls_requests_total"))
        for _ in 0..<25 { _ = try await app.get(path) }
        let after = try #require(try await app.metric("hls_requests_total"))
        #expect(after - before == 26, "25 GETs and the first scrape itself")
        let metrics = try await app.get("/metrics").text
        #expect(metrics.contains("hls_http_request_duration_seconds_count{route=\"playlist\"} \(gets + 25)\n"))

        #expect(try await app.post("/streams/c/end").status == .ok)
        #expect(try await app.get(path).text.hasSuffix("#EXT-X-ENDLIST\n"), "the end retires the cached live playlist")
        await app.shutdown()
    }

    @Test("conditional requests still get 304, gzip and identity stay apart, and the answers match the cache turned off")
    func sameAnswersAsWithout() async throws {
        let cached = try TestApplication()
        let uncached = try TestApplication { $0.responseCacheEntries = 0 }
        for app in [cached, uncached] {
            for sequence in 0..<4 { _ = try await app.register("c", "720p", sequence) }
        }
        for app in [cached, uncached] {
            for _ in 0..<3 {
                let gzip = try await app.request(.get, path, headers: [("Accept-Encoding", "gzip")])
                #expect(gzip.headers["Content-Encoding"] == "gzip")
                let plain = try await app.get(path)
                #expect(plain.headers["Content-Encoding"] == nil)
                #expect(plain.text.hasPrefix("#EXTM3U\n"))
                let etag = try #require(plain.headers["ETag"])
                let revalidated = try await app.request(.get, path, headers: [("If-None-Match", etag)])
                #expect(revalidated.status == .notModified)
            }
        }
        let a = try await cached.get(path)
        let b = try await uncached.get(path)
        #expect(a.text == b.text)
        for name in ["Content-Type", "Cache-Control", "ETag", "Vary", "Access-Control-Allow-Origin"] {
            #expect(a.headers[name] == b.headers[name], "\(name)")
        }
        let headA = try await cached.request(.head, path)
        #expect(headA.status == .ok && headA.body.isEmpty)
        await cached.shutdown()
        await uncached.shutdown()
    }
}
