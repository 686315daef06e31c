import Foundation
import MicroHTTPD
import OrchestratorApp
import OrchestratorTesting
import Testing

@Suite struct OperatorAPITests {
    /// POSTs one segment to each of `streams` on one keep-alive connection.
    static func fill(_ port: UInt16, _ streams: [String]) async throws {
        try await offPool {
            let connection = try HTTPClientConnection(port: port)
            for stream in streams {
                let status = try connection.request(
                    .post, "/streams/\(stream)/renditions/720p/segments",
                    body: Array(#"{"sequence":0,"duration":2,"path":"/\#(stream)/0.ts"}"#.utf8)
                ).status
                guard status == .created else { throw HTTPClientError.malformedResponse("\(stream): \(status)") }
            }
        }
    }

    @Test("GET /streams pages through 2,500 streams sorted by id, each once, with next null at the end; limit is 1 to 1000")
    func pagination() async throws {
        let app = try TestApplication()
        let ids = (0..<2500).map { String(format: "s%05d", ($0 * 7919) % 2500) }  // registered out of order
        try await Self.fill(app.port, ids)
        var seen: [String] = []
        var after: String?
        var pages = 0
        repeat {
            let response = try await app.get("/streams?limit=1000" + (after.map { "&after=\($0)" } ?? ""))
            #expect(response.status == .ok)
            let body = try jsonObject(response)
            let streams = try #require(body["streams"] as? [[String: Any]])
            seen += streams.compactMap { $0["id"] as? String }
            after = body["next"] as? String
            pages += 1
        } while after != nil && pages < 10
        #expect(pages == 3)
        #expect(seen == ids.sorted())
        let first = try jsonObject(try await app.get("/streams"))
        #expect((first["streams"] as? [Any])?.count == 100)
        #expect(first["next"] as? String == "s00099")
        for bad in ["0", "1001", "-1", "ten", ""] {
            let refused = try await app.get("/streams?limit=\(bad)")
            #expect(refused.status == .badRequest, "limit=\(bad)")
        }
        #expect(try await app.get("/streams?after=bad%2Fid").status == .badRequest)
        await app.shutdown()
    }

    @Test("GET /streams/{id} details each rendition: sequences, the hole, parts, the declaration; 404 when unknown")
    func detail() async throws {
        let app = try TestApplication()
        _ = try await app.request(.put, "/streams/show/renditions/720p", body: #"{"bandwidth": 2500000, "resolution": "1280x720"}"#)
        for sequence in [0, 1, 2, 3, 5, 6] { _ = try await app.register("show", "720p", sequence) }
        let ll = try await LowLatencyStream.make(app, "live")
        try await ll.fullSegment(0)
        try await ll.part(1, 0)
        let show = try jsonObject(try await app.get("/streams/show"))
        #expect(show["id"] as? String == "show")
        #expect(show["state"] as? String == "live")
        #expect(show["kind"] as? String == "regular")
        #expect((show["created_at"] as? String)?.hasSuffix("Z") == true)
        let rendition = try #require((show["renditions"] as? [[String: Any]])?.first)
        #expect(rendition["name"] as? String == "720p")
        #expect(rendition["target_duration"] as? Int == 2)
        #expect(rendition["media_sequence"] as? Int == 0)
        #expect(rendition["discontinuity_sequence"] as? Int == 0)
        #expect(rendition["first_listed"] as? Int == 0)
        #expect(rendition["last_listed"] as? Int == 3)
        #expect(rendition["pending"] as? Int == 2)
        #expect(rendition["first_missing"] as? Int == 4)
        #expect(rendition["stale"] as? Bool == false)
        #expect(rendition["part_target"] is NSNull)
        #expect((rendition["declared"] as? [String: Any])?["bandwidth"] as? Int == 2_500_000)
        #expect((rendition["declared"] as? [String: Any])?["resolution"] as? String == "1280x720")
        let live = try jsonObject(try await app.get("/streams/live"))
        #expect(live["kind"] as? String == "low_latency")
        let llRendition = try #require((live["renditions"] as? [[String: Any]])?.first)
        #expect(llRendition["part_target"] as? Double == 0.25)
        #expect((llRendition["last_part"] as? [String: Any])?["sequence"] as? Int == 1)
        #expect((llRendition["last_part"] as? [String: Any])?["part"] as? Int == 0)
        _ = try await app.post("/streams/show/end")
        #expect(try jsonObject(try await app.get("/streams/show"))["state"] as? String == "ended")
        #expect(try await app.get("/streams/nobody").status == .notFound)
        await app.shutdown()
    }

    @Test("DELETE /streams/{id} forgets it at once: 204, playlists 404, a held reload answered, a later segment starts afresh; 404 when unknown")
    func delete() async throws {
        let app = try TestApplication()
        for sequence in 0..<3 { _ = try await app.register("gone", "720p", sequence) }
        let ll = try await LowLatencyStream.make(app, "held")
        try await ll.fullSegment(0)
        let port = app.port
        let waiting = Task {
            try await offPool {
                try HTTPClientConnection(port: port).request(.get, "/streams/held/renditions/ll/playlist.m3u8?_HLS_msn=1&_HLS_part=2").status
            }
        }
        try await Task.sleep(for: .milliseconds(200))
        let deleted = try await app.request(.delete, "/streams/gone")
        #expect(deleted.status == .noContent)
        #expect(deleted.body.isEmpty)
        #expect(try await app.get("/streams/gone/renditions/720p/playlist.m3u8").status == .notFound)
        #expect(try await app.get("/streams/gone").status == .notFound)
        #expect(try await app.request(.delete, "/streams/gone").status == .notFound)
        #expect(try await app.request(.delete, "/streams/held").status == .noContent)
        let held = try await waiting.value
        #expect(held != .ok)
        // A later segment starts a new stream, from its own first sequence.
        #expect(try await app.register("gone", "720p", 40).status == .created)
        #expect(try await app.get("/streams/gone/renditions/720p/playlist.m3u8").text.contains("#EXT-X-MEDIA-SEQUENCE:40"))
        #expect(try await app.metric("hls_active_streams") == 1)
        await app.shutdown()
    }

    @Test("GET /removed-segments reports segments once a player can no longer fetch them, with a cursor; bad cursors and limits are 400")
    func retentionFeed() async throws {
        let app = try TestApplication { $0.slidingWindowSize = 3 }
        // 1 s segments: a removed one is deletable 1 s + the 3 s playlist after it left.
        for sequence in 0..<5 { _ = try await app.register("feed", "720p", sequence, duration: "1.0") }
        let early = try jsonObject(try await app.get("/removed-segments"))
        #expect((early["segments"] as? [Any])?.isEmpty == true)
        try await Task.sleep(for: .milliseconds(4500))
        let page = try jsonObject(try await app.get("/removed-segments?limit=1"))
        let first = try #require((page["segments"] as? [[String: Any]])?.first)
        #expect(first["stream"] as? String == "feed")
        #expect(first["rendition"] as? String == "720p")
        #expect(first["sequence"] as? Int == 0)
        #expect(first["part"] is NSNull)
        #expect(first["path"] as? String == "/720p/0.ts")
        #expect((first["deletable_after"] as? String)?.hasSuffix("Z") == true)
        let cursor = try #require(page["next"] as? String)
        let rest = try jsonObject(try await app.get("/removed-segments?after=\(cursor)"))
        #expect((rest["segments"] as? [[String: Any]])?.map { $0["sequence"] as? Int } == [1])
        let end = try #require(rest["next"] as? String)
        #expect((try jsonObject(try await app.get("/removed-segments?after=\(end)"))["segments"] as? [Any])?.isEmpty == true)
        #expect(try await app.get("/removed-segments?after=x").status == .badRequest)
        #expect(try await app.get("/removed-segments?limit=5000").status == .badRequest)
        await app.shutdown()
    }
}
