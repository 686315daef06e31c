import Foundation
import HLSModel
import Logging
import MicroHTTPD
@testable import OrchestratorApp
import OrchestratorTesting
import Prometheus
import Synchronization
import Testing

/// Collects log lines in memory.
final class CapturingSink: LogSink {
    let lines = Mutex<[String]>([])
    func write(line: String) { lines.withLock { $0.append(line) } }
}

/// A value that is neither a number nor a boolean: logged as a JSON string.
private struct StreamIDLike: CustomStringConvertible, Sendable {
    var description: String
    init(_ description: String) { self.description = description }
}

@Suite struct LoggingTests {
    static let fixedClock: @Sendable () -> Timestamp = { Timestamp(millisecondsSinceEpoch: 1_795_600_000_123) }

    @Test("the JSON handler writes one parseable object per line with dot-keyed metadata")
    func json() throws {
        let sink = CapturingSink()
        var logger = Logger(label: "test") { JSONLogHandler(label: $0, level: .info, sink: sink, clock: Self.fixedClock) }
        logger[metadataKey: "service"] = "hls"
        logger.info("stream ended", metadata: ["hls.stream": "a \"quoted\"\nname", "http": ["status": "200"]])
        logger.debug("not printed at info")
        let lines = sink.lines.withLock { $0 }
        #expect(lines.count == 1)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: String])
        #expect(object["msg"] == "stream ended")
        #expect(object["level"] == "info")
        #expect(object["logger"] == "test")
        #expect(object["ts"] == "2026-11-25T09:46:40.123Z")
        #expect(object["hls.stream"] == "a \"quoted\"\nname")
        #expect(object["http.status"] == "200")
        #expect(object["service"] == "hls")
    }

    @Test("stream start, rendition creation and stream end are logged at info, once each, with their ids")
    func lifecycle() throws {
        let sink = CapturingSink()
        let orchestrator = Orchestrator(
            configuration: AppConfiguration(httpThreads: 1),
            logger: Logger(label: "test") { JSONLogHandler(label: $0, level: .info, sink: sink, clock: Self.fixedClock) },
            metrics: OrchestratorMetrics(registry: PrometheusCollectorRegistry()),
            clock: { Timestamp(millisecondsSinceEpoch: 0) })
        func send(_ method: HTTPMethod, _ path: String, _ body: String = "") -> Int {
            orchestrator.respond(to: HTTPRequest(method: method, path: path, body: Array(body.utf8))).status.rawValue
        }
        #expect(send(.post, "/streams/show/renditions/720p/segments", #"{"sequence":0,"duration":2,"path":"/0.ts"}"#) == 201)
        #expect(send(.post, "/streams/show/renditions/720p/segments", #"{"sequence":1,"duration":2,"path":"/1.ts"}"#) == 201)
        #expect(send(.put, "/streams/show/renditions/1080p", #"{"bandwidth":5000000}"#) == 201)
        #expect(send(.put, "/streams/show/renditions/1080p", #"{"bandwidth":6000000}"#) == 200)
        #expect(send(.post, "/streams/show/renditions/1080p/segments", #"{"sequence":0,"duration":2,"path":"/h0.ts"}"#) == 201)
        #expect(send(.post, "/streams/show/end") == 200)
        #expect(send(.post, "/streams/show/end") == 200)
        let lines = try sink.lines.withLock { $0 }.map { line in
            try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String])
        }
        let events = lines.map { [$0["msg"] ?? "", $0["hls.stream"] ?? "", $0["hls.rendition"] ?? ""] }
        #expect(events == [
            ["stream started", "show", ""],
            ["rendition created", "show", "720p"],
            ["rendition created", "show", "1080p"],
            ["stream ended", "show", ""],
        ])
        #expect(lines.allSatisfy { $0["level"] == "info" })
    }

    @Test("numbers and booleans logged as stringConvertible are JSON numbers and booleans; the rest stays strings")
    func jsonNumbers() throws {
        let sink = CapturingSink()
        let logger = Logger(label: "test") { JSONLogHandler(label: $0, level: .info, sink: sink, clock: Self.fixedClock) }
        logger.info(
            "numbers",
            metadata: [
                "http.status": .stringConvertible(201), "http.port": .stringConvertible(UInt16(8080)),
                "http.duration_ms": .stringConvertible(0.25), "hls.sequence": .stringConvertible(UInt64.max),
                "flag": .stringConvertible(true), "infinite": .stringConvertible(Double.infinity),
                "text": "201", "stream": .stringConvertible(StreamIDLike("s1")),
            ])
        let line = try #require(sink.lines.withLock { $0 }.first)
        for fragment in [
            #""http.status":201"#, #""http.port":8080"#, #""http.duration_ms":0.25"#,
            #""hls.sequence":18446744073709551615"#, #""flag":true"#, #""infinite":"inf""#, #""text":"201""#,
            #""stream":"s1""#,
        ] {
            #expect(line.contains(fragment), "\(fragment) in \(line)")
        }
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(object["http.status"] as? Int == 201)
        #expect(object["http.duration_ms"] as? Double == 0.25)
        #expect(object["text"] as? String == "201")
    }

    @Test("the access log has the client address, the query, and the status and duration as numbers")
    func accessLog() async throws {
        let sink = CapturingSink()
        let app = try TestApplication(
            logger: Logger(label: "test") { JSONLogHandler(label: $0, level: .debug, sink: sink, clock: Self.fixedClock) })
        _ = try await app.register("show", "720p", 0)
        _ = try await app.get("/streams/show/renditions/720p/playlist.m3u8?_HLS_msn=1&_HLS_part=0&flag")
        await app.shutdown()
        let handled = try sink.lines.withLock { $0 }.filter { $0.contains(#""msg":"request handled""#) }.map { line in
            try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        }
        try #require(handled.count == 2)
        let (post, get) = (handled[0], handled[1])
        #expect(post["http.method"] as? String == "POST")
        #expect(post["http.status"] as? Int == 201)
        #expect(post["http.client"] as? String == "127.0.0.1")
        #expect(post["http.query"] == nil)
        #expect(post["http.duration_ms"] is Double || post["http.duration_ms"] is Int)
        #expect(get["http.path"] as? String == "/streams/show/renditions/720p/playlist.m3u8")
        #expect(get["http.query"] as? String == "_HLS_msn=1&_HLS_part=0&flag")
        #expect(get["http.client"] as? String == "127.0.0.1")
        #expect(get["http.status"] as? Int == 200)
    }

    @Test("the text handler writes time, level, message and key=value pairs")
    func text() {
        let sink = CapturingSink()
        let logger = Logger(label: "test") { TextLogHandler(label: $0, level: .debug, sink: sink, clock: Self.fixedClock) }
        logger.warning("slow", metadata: ["http.path": "/metrics", "note": "two words"])
        #expect(sink.lines.withLock { $0 } == [#"2026-11-25T09:46:40.123Z warn slow http.path=/metrics note="two words""#])
    }

    @Test(
        "timestamps format as RFC 3339 and HTTP dates",
        arguments: [
            (0, "1970-01-01T00:00:00.000Z", "Thu, 01 Jan 1970 00:00:00 GMT"),
            (951_782_400_000, "2000-02-29T00:00:00.000Z", "Tue, 29 Feb 2000 00:00:00 GMT"),
            (1_795_600_000_123, "2026-11-25T09:46:40.123Z", "Wed, 25 Nov 2026 09:46:40 GMT"),
            (-1, "1969-12-31T23:59:59.999Z", "Wed, 31 Dec 1969 23:59:59 GMT"),
        ])
    func timestamps(milliseconds: Int64, rfc3339: String, httpDate: String) {
        let timestamp = Timestamp(millisecondsSinceEpoch: milliseconds)
        #expect(timestamp.rfc3339 == rfc3339)
        #expect(timestamp.httpDate == httpDate)
    }
}
