import HLSModel
import Logging
import MicroHTTPD
@testable import OrchestratorApp
import Prometheus
import Testing

/// The router driven in process, without a socket.
@Suite struct RouterTests {
    static func orchestrator() -> Orchestrator {
        Orchestrator(
            configuration: AppConfiguration(httpThreads: 1),
            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }),
            metrics: OrchestratorMetrics(registry: PrometheusCollectorRegistry()),
            clock: { Timestamp(millisecondsSinceEpoch: 0) })
    }

    @Test(
        "method and path map to the right status",
        arguments: [
            ("GET", "/healthz", 200), ("HEAD", "/readyz", 200), ("GET", "/metrics", 200),
            ("POST", "/streams/s/end", 200), ("GET", "/streams/s/renditions/r/playlist.m3u8", 404),
            ("PUT", "/metrics", 405), ("PATCH", "/streams/s/end", 405), ("GET", "/streams/s/renditions/r", 405), ("PUT", "/streams/s/renditions/r", 400), ("GET", "/streams/s/master.m3u8", 404),
            ("GET", "/streams/s/renditions/r/playlist.m3u8/", 404), ("GET", "//metrics", 404),
            ("GET", "/streams/../renditions/r/playlist.m3u8", 400), ("GET", "/streams/./renditions/r/playlist.m3u8", 400),
            ("POST", "/streams/a b/end", 400), ("POST", "/streams/\(String(repeating: "x", count: 129))/end", 400),
            // Paths reach the router as sent; a '%' anywhere is refused rather than decoded.
            ("GET", "/streams/s%2Frenditions%2Fr/playlist.m3u8", 400), ("GET", "/streams/%73/renditions/r/playlist.m3u8", 400),
            ("POST", "/streams/s%00/end", 400), ("GET", "/metrics%3F", 400), ("GET", "/healthz%", 400),
        ])
    func routes(method: String, path: String, status: Int) {
        let response = Self.orchestrator().respond(to: HTTPRequest(method: HTTPMethod(rawValue: method), path: path))
        #expect(response.status.rawValue == status)
    }

    @Test("a playlist GET hands out the bytes rendered at registration, not a new render")
    func playlistIsPrepared() throws {
        let orchestrator = Self.orchestrator()
        let body = Array(#"{"sequence":7,"duration":2.5,"path":"seg7.ts"}"#.utf8)
        let created = orchestrator.respond(
            to: HTTPRequest(method: .post, path: "/streams/s/renditions/r/segments", body: body))
        #expect(created.status == .created)
        let first = orchestrator.respond(to: HTTPRequest(method: .get, path: "/streams/s/renditions/r/playlist.m3u8"))
        let second = orchestrator.respond(to: HTTPRequest(method: .get, path: "/streams/s/renditions/r/playlist.m3u8"))
        guard case .shared(let a) = first.body, case .shared(let b) = second.body else {
            Issue.record("playlist bodies must be shared bytes")
            return
        }
        #expect(a.isSameBuffer(as: b))
        #expect(String(decoding: a.array, as: UTF8.self).contains("#EXTINF:2.500,\nseg7.ts\n"))
    }

    @Test("each route name's ordinal is its position among all names (it indexes the duration timers)")
    func routeOrdinals() {
        for (position, name) in Route.Name.allCases.enumerated() {
            #expect(name.ordinal == position, "\(name)")
            #expect(Route.Name(ordinal: position) == name, "\(name)")
        }
    }

    @Test("route names for metrics are low-cardinality")
    func routeNames() {
        #expect(Router.name(forPath: "/streams/x/renditions/y/playlist.m3u8") == .playlist)
        #expect(Router.name(forPath: "/streams/x/renditions/y/segments") == .registerSegment)
        #expect(Router.name(forPath: "/streams/x/end") == .endStream)
        #expect(Router.name(forPath: "/random/\(Int.random(in: 0..<1000))") == .unmatched)
    }
}
