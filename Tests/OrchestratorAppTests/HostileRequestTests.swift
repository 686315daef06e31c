import Foundation
import MicroHTTPD
import OrchestratorApp
import OrchestratorTesting
import Testing

/// One hostile request, sent raw, and the status it must get.
///
/// Every answer must be JSON, except for the `library` cases: requests so malformed that
/// libmicrohttpd answers them itself (HTML body) or closes the connection without an answer,
/// before the service sees them. docs/api.md lists exactly these as the non-JSON answers.
struct HostileCase: Sendable, CustomTestStringConvertible {
    let name: String
    let raw: [UInt8]
    let expected: Set<Int>
    var library = false
    var testDescription: String { name }

    /// The same case, answered by libmicrohttpd itself.
    var answeredByLibrary: HostileCase {
        var copy = self
        copy.library = true
        return copy
    }

    static func post(_ name: String, _ path: String, _ body: String, _ expected: Int...) -> HostileCase {
        post(name, path, Array(body.utf8), expected)
    }

    static func post(_ name: String, _ path: String, _ body: [UInt8], _ expected: [Int]) -> HostileCase {
        let head = "POST \(path) HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: \(body.count)\r\n\r\n"
        return HostileCase(name: name, raw: Array(head.utf8) + body, expected: Set(expected))
    }

    static func put(_ name: String, _ path: String, _ body: String, _ expected: Int...) -> HostileCase {
        let bytes = Array(body.utf8)
        let head = "PUT \(path) HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: \(bytes.count)\r\n\r\n"
        return HostileCase(name: name, raw: Array(head.utf8) + bytes, expected: Set(expected))
    }

    static func raw(_ name: String, _ text: String, _ expected: Int...) -> HostileCase {
        HostileCase(name: name, raw: Array(text.utf8), expected: Set(expected))
    }
}

let segments = "/streams/victim/renditions/720p/segments"
let parts = "/streams/victim/renditions/720p/parts"
let declaration = "/streams/victim/renditions/720p"

let hostileCases: [HostileCase] = [
    .post("truncated JSON", segments, #"{"sequence": 7, "duration": 2.0, "path": "/7.ts""#, 400),
    .post("JSON nested 200 deep", segments, String(repeating: "[", count: 200) + String(repeating: "]", count: 200), 400),
    .post("sequence as float", segments, #"{"sequence": 7.0, "duration": 2.0, "path": "/7.ts"}"#, 400),
    .post("sequence as exponent", segments, #"{"sequence": 7e0, "duration": 2.0, "path": "/7.ts"}"#, 400),
    .post("sequence as string", segments, #"{"sequence": "7", "duration": 2.0, "path": "/7.ts"}"#, 400),
    .post("sequence beyond 2^53", segments, #"{"sequence": 9007199254740993, "duration": 2.0, "path": "/7.ts"}"#, 400),
    .post("sequence huge", segments, #"{"sequence": 1\#(String(repeating: "0", count: 400)), "duration": 2, "path": "/7.ts"}"#, 400),
    .post("negative sequence", segments, #"{"sequence": -7, "duration": 2.0, "path": "/7.ts"}"#, 400),
    .post("duration NaN literal", segments, #"{"sequence": 7, "duration": NaN, "path": "/7.ts"}"#, 400),
    .post("duration infinite", segments, #"{"sequence": 7, "duration": 1e400, "path": "/7.ts"}"#, 400),
    .post("duration negative zero", segments, #"{"sequence": 7, "duration": -0.0, "path": "/7.ts"}"#, 400),
    .post("duration too long", segments, #"{"sequence": 7, "duration": 3601, "path": "/7.ts"}"#, 400),
    .post("duration as string", segments, #"{"sequence": 7, "duration": "2", "path": "/7.ts"}"#, 400),
    .post("path with newline tag injection", segments, #"{"sequence": 7, "duration": 2, "path": "/7.ts\n#EXT-X-ENDLIST"}"#, 400),
    .post("path with carriage return", segments, #"{"sequence": 7, "duration": 2, "path": "/7.ts\r"}"#, 400),
    .post("path with NUL", segments, #"{"sequence": 7, "duration": 2, "path": "/7\u0000.ts"}"#, 400),
    // Line separators some parsers honour (NEL, C1 controls, U+2028/U+2029), escaped and raw.
    .post("path with NEL escape tag injection", segments, #"{"sequence": 7, "duration": 2, "path": "/7.ts\u0085#EXT-X-ENDLIST"}"#, 400),
    .post("path with raw NEL (UTF-8 C2 85)", segments, "{\"sequence\": 7, \"duration\": 2, \"path\": \"/7.ts\u{85}#EXT-X-ENDLIST\"}", 400),
    .post("path with C1 control CSI", segments, #"{"sequence": 7, "duration": 2, "path": "/7.ts\u009b"}"#, 400),
    .post("path with LINE SEPARATOR", segments, "{\"sequence\": 7, \"duration\": 2, \"path\": \"/7.ts\u{2028}#EXT-X-ENDLIST\"}", 400),
    .post("path with PARAGRAPH SEPARATOR escape", segments, #"{"sequence": 7, "duration": 2, "path": "/7.ts\u2029#EXT-X-ENDLIST"}"#, 400),
    .post("part path with NEL", parts, #"{"sequence": 3, "part": 0, "duration": 0.2, "path": "/3.0.m4s\u0085#EXT-X-ENDLIST"}"#, 400),
    .post("part path with LINE SEPARATOR", parts, "{\"sequence\": 3, \"part\": 0, \"duration\": 0.2, \"path\": \"/3.0\u{2028}#EXT-X-ENDLIST\"}", 400),
    .put("map_uri with NEL", declaration, #"{"map_uri": "/init.mp4\u0085#EXT-X-ENDLIST"}"#, 400),
    .put("map_uri with PARAGRAPH SEPARATOR", declaration, "{\"map_uri\": \"/init.mp4\u{2029}#EXT-X-ENDLIST\"}", 400),
    .put("part_uri_template with LINE SEPARATOR", declaration,
        #"{"part_target": 0.2, "part_uri_template": "/{sequence}.{part}\u2028#EXT-X-ENDLIST"}"#, 400),
    .put("codecs with NEL", declaration, #"{"bandwidth": 1000, "codecs": "avc1\u0085#EXT-X-ENDLIST"}"#, 400),
    .put("codecs with quote and tag", declaration, #"{"bandwidth": 1000, "codecs": "avc1\",#EXT-X-ENDLIST"}"#, 400),
    .put("resolution with LINE SEPARATOR", declaration, #"{"bandwidth": 1000, "resolution": "1280x720\u2028"}"#, 400),
    .post("stream id with NEL (percent-encoded)", "/streams/a%C2%85b/renditions/720p/segments", "{}", 400),
    .post("rendition with LINE SEPARATOR (percent-encoded)", "/streams/victim/renditions/a%E2%80%A8b/segments", "{}", 400),
    .post("path starting with #", segments, ##"{"sequence": 7, "duration": 2, "path": "#EXT-X-ENDLIST"}"##, 400),
    .post("path too long", segments, #"{"sequence": 7, "duration": 2, "path": "/\#(String(repeating: "a", count: 2048))"}"#, 400),
    .post("path not a string", segments, #"{"sequence": 7, "duration": 2, "path": ["/7.ts"]}"#, 400),
    .post("body is null", segments, "null", 400),
    .post("body is a string", segments, #""hello""#, 400),
    .post("invalid UTF-8", segments, Array(#"{"sequence": 7, "duration": 2, "path": "/"#.utf8) + [0xC3, 0x28] + Array(#""}"#.utf8), [400]),
    .post("lone surrogate escape", segments, #"{"sequence": 7, "duration": 2, "path": "/\uD800.ts"}"#, 400),
    .post("trailing garbage", segments, #"{"sequence": 7, "duration": 2, "path": "/7.ts"} extra"#, 400),
    .post("body over 64 KiB", segments, "{\"pad\":\"" + String(repeating: "x", count: 70_000) + "\"}", 413),
    // Paths are never percent-decoded, and a '%' in one is refused with 400.
    .post("stream id with slash (percent-encoded)", "/streams/a%2Fb/renditions/720p/segments", "{}", 400),
    .post("stream id with newline (percent-encoded)", "/streams/a%0Ab/renditions/720p/segments", "{}", 400),
    .post("stream id with NUL (percent-encoded)", "/streams/a%00b/renditions/720p/segments", "{}", 400),
    .raw("encoded slashes reaching the victim's playlist", "GET /streams/victim%2Frenditions%2F720p/playlist.m3u8 HTTP/1.1\r\nHost: t\r\n\r\n", 400),
    .raw("encoded letters aliasing the victim", "GET /streams/%76ictim/renditions/720p/playlist.m3u8 HTTP/1.1\r\nHost: t\r\n\r\n", 400),
    .raw("encoded NUL cutting the path short", "GET /streams/victim%00/renditions/720p/playlist.m3u8 HTTP/1.1\r\nHost: t\r\n\r\n", 400),
    .raw("encoded newline in a playlist path", "GET /streams/victim%0A/renditions/720p/playlist.m3u8 HTTP/1.1\r\nHost: t\r\n\r\n", 400),
    .post("encoded segment into the victim", "/streams/%76ictim/renditions/720p/segments", #"{"sequence": 3, "duration": 2, "path": "/3.ts"}"#, 400),
    .post("rendition is ..", "/streams/victim/renditions/%2e%2e/segments", "{}", 400),
    .post("stream id of 129 characters", "/streams/\(String(repeating: "s", count: 129))/renditions/720p/segments", "{}", 400),
    .post("stream id with unicode", "/streams/caf%C3%A9/renditions/720p/segments", "{}", 400),
    .raw("unknown method", "BREW /streams/victim/renditions/720p/playlist.m3u8 HTTP/1.1\r\nHost: t\r\n\r\n", 405),
    .raw("TRACE", "TRACE / HTTP/1.1\r\nHost: t\r\n\r\n", 404, 405),
    // Framing that two parsers could read differently (RFC 9112): refused from the request head.
    .raw("HTTP/1.1 without Host", "GET /healthz HTTP/1.1\r\n\r\n", 400),
    .raw("two Host fields", "GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
    .raw("HTTP/1.0 without Host is fine", "GET /healthz HTTP/1.0\r\n\r\n", 200),
    .raw("HTTP/1.2", "GET /healthz HTTP/1.2\r\nHost: t\r\n\r\n", 505),
    .raw("HTTP/1.9 POST", "POST \(segments) HTTP/1.9\r\nHost: t\r\nContent-Length: 2\r\n\r\n{}", 505),
    .raw(
        "two Content-Length values smuggling an end of stream",
        "POST \(segments) HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\nContent-Length: 49\r\n\r\n"
            + "{}POST /streams/victim/end HTTP/1.1\r\nHost: t\r\n\r\n", 400),
    .raw(
        "Content-Length and Transfer-Encoding together",
        "POST \(segments) HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"
            + "2\r\n{}\r\n0\r\n\r\nPOST /streams/victim/end HTTP/1.1\r\nHost: t\r\n\r\n", 400),
    .raw("Transfer-Encoding gzip", "POST \(segments) HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\nxx", 501),
    .raw("Transfer-Encoding gzip, chunked", "POST \(segments) HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501),
    .raw("two Transfer-Encoding fields", "POST \(segments) HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 501),
    // URIs that a line-trimming parser (Python m3u8, hls.js) would read as a tag or an empty line.
    .post("path of spaces", segments, #"{"sequence": 7, "duration": 2, "path": "   "}"#, 400),
    .post("path with a leading space before a tag", segments, ##"{"sequence": 7, "duration": 2, "path": " #EXT-X-ENDLIST"}"##, 400),
    .post("path with a leading NBSP before a tag", segments, ##"{"sequence": 7, "duration": 2, "path": " #EXT-X-ENDLIST"}"##, 400),
    .post("path with a leading BOM before a tag", segments, "{\"sequence\": 7, \"duration\": 2, \"path\": \"\u{FEFF}#EXT-X-ENDLIST\"}", 400),
    .post("path with a leading ideographic space", segments, ##"{"sequence": 7, "duration": 2, "path": "　#EXT-X-ENDLIST"}"##, 400),
    .post("path with a trailing space", segments, #"{"sequence": 7, "duration": 2, "path": "/7.ts "}"#, 400),
    .post("part path with a leading space", parts, ##"{"sequence": 3, "part": 0, "duration": 0.2, "path": " #EXT-X-ENDLIST"}"##, 400),
    .put("map_uri with a leading EN SPACE", declaration, ##"{"map_uri": " #EXT-X-ENDLIST"}"##, 400),
    .put("part_uri_template ending in NBSP", declaration, #"{"part_target": 0.2, "part_uri_template": "/{sequence}.{part} "}"#, 400),
    // Answered by libmicrohttpd itself, with an HTML body (or no answer): see docs/api.md.
    .raw("not HTTP at all", "\u{16}\u{03}\u{01}\u{02}\u{00}\u{01}\u{00}\u{01}\u{fc}\r\n\r\n", 400, 505).answeredByLibrary,
    .raw("header line without colon", "GET /healthz HTTP/1.1\r\nHost: t\r\nbroken header\r\n\r\n", 400).answeredByLibrary,
    .raw("header of 100 KiB", "GET /healthz HTTP/1.1\r\nHost: t\r\nX-Big: \(String(repeating: "b", count: 100_000))\r\n\r\n", 431)
        .answeredByLibrary,
    .raw("URL of 100 KiB", "GET /\(String(repeating: "u", count: 100_000)) HTTP/1.1\r\nHost: t\r\n\r\n", 414).answeredByLibrary,
    .raw("negative Content-Length", "POST \(segments) HTTP/1.1\r\nHost: t\r\nContent-Length: -5\r\n\r\n", 400),
    // Found by libmicrohttpd before any callback, but answered by the service (once, in JSON).
    .raw("Content-Length not a number", "POST \(segments) HTTP/1.1\r\nHost: t\r\nContent-Length: 12ab\r\n\r\n", 400),
    .raw("Content-Length beyond 64 bits", "POST \(segments) HTTP/1.1\r\nHost: t\r\nContent-Length: 99999999999999999999999\r\n\r\n", 413),
    .raw("HTTP/2.0 request line", "GET /healthz HTTP/2.0\r\nHost: t\r\n\r\n", 505).answeredByLibrary,
    .raw("chunked body over the cap", "POST \(segments) HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
        + "10000\r\n\(String(repeating: "c", count: 65536))\r\n10000\r\n\(String(repeating: "c", count: 65536))\r\n0\r\n\r\n", 413),
    .raw("chunked body of 2 MiB", "POST \(segments) HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
        + String(repeating: "8000\r\n\(String(repeating: "c", count: 0x8000))\r\n", count: 64) + "0\r\n\r\n", 413),
    .raw("bad chunk size", "POST \(segments) HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n", 400)
        .answeredByLibrary,
]

@Suite struct HostileRequestTests {
    /// Sends `raw` on a new connection and returns the status (nil if the server just closed).
    static func send(_ raw: [UInt8], port: UInt16) async throws -> (status: Int?, response: HTTPClientResponse?) {
        try await offPool {
            let connection = try HTTPClientConnection(port: port, timeout: .seconds(5))
            do {
                try connection.write(raw)
            } catch HTTPClientError.sendFailed {
                // The server may stop reading an oversized request and reset; read what it said.
            }
            do {
                let response = try connection.readResponse()
                return (response.status.rawValue, response)
            } catch HTTPClientError.connectionClosed {
                return (nil, nil)
            }
        }
    }

    @Test(
        "each hostile request gets its status with a JSON body (but for the few libmicrohttpd answers itself) and the playlist stays correct",
        arguments: hostileCases)
    func hostile(_ hostile: HostileCase) async throws {
        let app = try TestApplication()
        for sequence in 0..<3 { _ = try await app.register("victim", "720p", sequence) }
        let before = try await app.get("/streams/victim/renditions/720p/playlist.m3u8").text

        let (status, response) = try await Self.send(hostile.raw, port: app.port)
        if let status, let response {
            #expect(hostile.expected.contains(status), "\(hostile.name): got \(status)")
            if !hostile.library {
                #expect(response.headers["Content-Type"] == "application/json", "\(hostile.name): not JSON")
                let body = try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any]
                #expect(body != nil, "\(hostile.name): body is not a JSON object: \(response.text.prefix(200))")
                if status >= 400 { #expect(body?["error"] is String, "\(hostile.name): no error message") }
            }
        } else {
            // Only libmicrohttpd closes without an answer (bytes that are not HTTP at all).
            #expect(hostile.library, "\(hostile.name): connection closed without an answer")
        }

        // The service still answers, with the very same playlist.
        let after = try await app.get("/streams/victim/renditions/720p/playlist.m3u8")
        #expect(after.status == .ok)
        #expect(after.text == before)
        #expect(after.text == expectedPlaylist("720p", 0...2))
        await app.shutdown()
    }

    @Test(
        "a malformed Content-Length gets exactly one answer (libmicrohttpd 0.9.75 alone would send its header block twice)",
        arguments: [("12ab", 400), ("99999999999999999999999", 413), ("-5", 400)])
    func malformedLengthAnsweredOnce(_ value: String, _ status: Int) async throws {
        let app = try TestApplication()
        let port = app.port
        let bytes = try await offPool {
            let connection = try HTTPClientConnection(port: port, timeout: .seconds(5))
            try connection.write(Array("POST \(segments) HTTP/1.1\r\nHost: t\r\nContent-Length: \(value)\r\n\r\n".utf8))
            return try connection.readToEnd()
        }
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(text.components(separatedBy: "HTTP/1.1 ").count == 2, "\(text)")
        #expect(text.hasPrefix("HTTP/1.1 \(status) "), "\(text)")
        #expect(text.hasSuffix("}"), "\(text)")
        #expect(try await app.get("/healthz").status == .ok)
        await app.shutdown()
    }

    @Test("slow clients holding half-sent requests do not starve others")
    func slowClients() async throws {
        let app = try TestApplication { $0.connectionTimeoutSeconds = 2 }
        let port = app.port
        // 200 connections that send half a request line and then nothing.
        let holders = try await offPool {
            try (0..<200).map { _ in
                let connection = try HTTPClientConnection(port: port)
                try connection.write(Array("GET /streams/x/renditions/y/playl".utf8))
                return UncheckedBox(connection)
            }
        }
        let clock = ContinuousClock()
        let started = clock.now
        for sequence in 0..<20 {
            #expect(try await app.register("busy", "720p", sequence).status == .created)
        }
        #expect(try await app.get("/streams/busy/renditions/720p/playlist.m3u8").status == .ok)
        #expect(clock.now - started < .seconds(5), "others must be served while slow clients wait")
        // The idle half-requests are dropped after CONNECTION_TIMEOUT (2 s), without an answer.
        let outcome = try await offPool { () -> HTTPClientError? in
            do {
                _ = try holders[0].value.readResponse()
                return nil
            } catch {
                return error as? HTTPClientError
            }
        }
        #expect(outcome == .connectionClosed)
        #expect(clock.now - started < .seconds(10), "idle half-requests must be dropped after CONNECTION_TIMEOUT")
        await app.shutdown()
    }

    @Test("MAX_CONNECTIONS_PER_IP refuses connections beyond the limit and serves the rest")
    func perAddressLimit() async throws {
        let app = try TestApplication { $0.maxConnectionsPerIP = 4 }
        let port = app.port
        let outcome = try await offPool { () -> (served: Int, refused: Int) in
            let open = try (0..<4).map { _ in try HTTPClientConnection(port: port) }
            for connection in open { _ = try connection.request(.get, "/healthz") }
            var refused = 0
            let extra = try HTTPClientConnection(port: port)
            do {
                _ = try extra.request(.get, "/healthz")
            } catch {
                refused += 1
            }
            var served = 0
            for connection in open where (try? connection.request(.get, "/healthz").status) == .ok { served += 1 }
            return (served, refused)
        }
        #expect(outcome.served == 4)
        #expect(outcome.refused == 1)
        await app.shutdown()
    }
}
