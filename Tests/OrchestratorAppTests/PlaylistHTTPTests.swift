import MicroHTTPD
@testable import OrchestratorApp
import OrchestratorTesting
import Testing

@Suite struct PlaylistHTTPTests {
    static let path = "/streams/live/renditions/720p/playlist.m3u8"

    @Test("a playlist carries an ETag, Last-Modified, CORS, Vary and a live Cache-Control of half a target duration")
    func headers() async throws {
        let app = try TestApplication()
        for sequence in 0..<3 { _ = try await app.register("live", "720p", sequence, duration: "4.0") }
        let response = try await app.get(Self.path)
        #expect(response.headers["ETag"]?.hasPrefix("\"") == true)
        #expect(response.headers["Last-Modified"]?.hasSuffix(" GMT") == true)
        #expect(response.headers["Access-Control-Allow-Origin"] == "*")
        #expect(response.headers["Vary"] == "Accept-Encoding")
        #expect(response.headers["Cache-Control"] == "public, max-age=2")
        _ = try await app.post("/streams/live/end")
        #expect(try await app.get(Self.path).headers["Cache-Control"] == "public, max-age=86400")
        await app.shutdown()
    }

    @Test("If-None-Match with the current ETag gets 304 with the 200's Content-Length and no body; after a change the old one gets 200")
    func conditional() async throws {
        let app = try TestApplication()
        _ = try await app.register("live", "720p", 0)
        let first = try await app.get(Self.path)
        let etag = try #require(first.headers["ETag"])
        let unchanged = try await app.request(.get, Self.path, headers: [("If-None-Match", etag)])
        #expect(unchanged.status == .notModified)
        #expect(unchanged.body.isEmpty)
        #expect(unchanged.headers["ETag"] == etag)
        // RFC 9110 8.6: a 304's Content-Length, if any, is the length of the 200's content.
        #expect(unchanged.headers["Content-Length"] == "\(first.body.count)")
        let gzipped = try await app.request(.get, Self.path, headers: [("Accept-Encoding", "gzip")])
        let gzipEtag = try #require(gzipped.headers["ETag"])
        let gzipUnchanged = try await app.request(
            .get, Self.path, headers: [("Accept-Encoding", "gzip"), ("If-None-Match", gzipEtag)])
        #expect(gzipUnchanged.status == .notModified)
        #expect(gzipUnchanged.headers["Content-Length"] == "\(gzipped.body.count)")
        // No body followed the 304: the next answer on the same connection parses.
        let pipelined = try await offPool { [port = app.port] in
            let connection = try HTTPClientConnection(port: port)
            let revalidated = try connection.request(.get, Self.path, headers: [("If-None-Match", etag)])
            let next = try connection.request(.get, "/healthz")
            return (revalidated.status, next.status)
        }
        #expect(pipelined.0 == .notModified)
        #expect(pipelined.1 == .ok)
        let listed = try await app.request(.get, Self.path, headers: [("If-None-Match", "\"other\", W/\(etag)")])
        #expect(listed.status == .notModified)
        _ = try await app.register("live", "720p", 1)
        let changed = try await app.request(.get, Self.path, headers: [("If-None-Match", etag)])
        #expect(changed.status == .ok)
        #expect(changed.headers["ETag"] != etag)
        await app.shutdown()
    }

    @Test("a client accepting gzip gets gzip bytes that decompress to the same playlist")
    func gzip() async throws {
        let app = try TestApplication()
        for sequence in 0..<6 { _ = try await app.register("live", "720p", sequence) }
        let plain = try await app.get(Self.path)
        let compressed = try await app.request(.get, Self.path, headers: [("Accept-Encoding", "br, gzip;q=0.8")])
        #expect(compressed.headers["Content-Encoding"] == "gzip")
        #expect(compressed.body.count < plain.body.count)
        #expect(Gzip.decompress(compressed.body) == plain.body)
        #expect(compressed.headers["ETag"] != plain.headers["ETag"])
        let refused = try await app.request(.get, Self.path, headers: [("Accept-Encoding", "gzip;q=0, identity")])
        #expect(refused.headers["Content-Encoding"] == nil)
        #expect(refused.body == plain.body)
        await app.shutdown()
    }

    @Test("playlist errors carry CORS and a short Cache-Control; OPTIONS answers the preflight")
    func corsAndPreflight() async throws {
        let app = try TestApplication()
        let missing = try await app.get(Self.path)
        #expect(missing.status == .notFound)
        #expect(missing.headers["Access-Control-Allow-Origin"] == "*")
        #expect(missing.headers["Cache-Control"] == "max-age=2")
        let preflight = try await app.request(
            .options, Self.path, headers: [("Origin", "https://player.example"), ("Access-Control-Request-Method", "GET")])
        #expect(preflight.status == .noContent)
        #expect(preflight.headers["Access-Control-Allow-Origin"] == "*")
        #expect(preflight.headers["Access-Control-Allow-Methods"]?.contains("GET") == true)
        let wrongMethod = try await app.request(.put, Self.path)
        #expect(wrongMethod.status == .methodNotAllowed)
        #expect(wrongMethod.headers["Allow"] == "GET, HEAD, OPTIONS")
        #expect(wrongMethod.headers["Access-Control-Allow-Origin"] == "*")
        await app.shutdown()
    }

    @Test(
        "Accept-Encoding parsing follows RFC 9110",
        arguments: [
            ("gzip", true), ("GZIP", true), ("deflate, gzip", true), ("x-gzip", true), ("*", true),
            ("gzip;q=0", false), ("gzip; q=0.0", false), ("br", false), ("", false), ("identity", false),
            ("gzip;q=0.5", true),
        ])
    func acceptEncoding(value: String, accepted: Bool) {
        #expect(PublishedPlaylist.acceptsGzip(value) == accepted)
    }
}
