import MicroHTTPD
import OrchestratorTesting
import Synchronization
import Testing

/// A validity the test flips by hand.
final class Flag: ResponseValidity {
    private let current = Atomic<Bool>(true)
    var isCurrent: Bool { current.load(ordering: .sequentiallyConsistent) }
    func retire() { current.store(false, ordering: .sequentiallyConsistent) }
}

/// Answers `/v` with its version (and the request's Accept-Encoding), prepared and marked
/// cacheable under the current version's flag; counts the calls and the cache hits.
final class VersionedResponder: HTTPResponder {
    private struct State {
        var version = 1
        var flag = Flag()
        var calls = 0
        var hits: [UInt32] = []
    }
    private let state = Mutex(State())
    let markCacheable: Bool

    init(markCacheable: Bool = true) { self.markCacheable = markCacheable }

    var calls: Int { state.withLock { $0.calls } }
    var hits: [UInt32] { state.withLock { $0.hits } }

    /// A new version: the old answer's flag is retired before this returns.
    func bump() {
        let old = state.withLock { state in
            state.version += 1
            defer { state.flag = Flag() }
            return state.flag
        }
        old.retire()
    }

    func reply(to request: HTTPRequest, suspender: RequestSuspender) -> HTTPReply {
        let (version, flag) = state.withLock { state in
            state.calls += 1
            return (state.version, state.flag)
        }
        guard request.path == "/v" else { return .response(HTTPResponse(status: .notFound)) }
        let body = "v\(version) \(request.headers["Accept-Encoding"] ?? "-") \(request.query.count)"
        let plain = HTTPResponse(status: .ok, headers: HTTPHeaders([("Content-Type", "text/plain")]), body: .bytes(Array(body.utf8)))
        var response = PreparedResponse(plain)?.httpResponse ?? plain
        if markCacheable { response.cache = CacheDirective(validity: flag, tag: 7) }
        return .response(response)
    }

    func servedFromCache(tag: UInt32, status: Int, nanoseconds: Int64) {
        state.withLock { $0.hits.append(tag) }
    }
}

@Suite struct ResponseCacheTests {
    private func withServer(
        _ responder: VersionedResponder, cache: ResponseCacheConfiguration? = ResponseCacheConfiguration(
            varyHeader: "Accept-Encoding", bypassHeaders: ["If-None-Match"]),
        threads: Int = 1,
        _ body: (MicroHTTPServer) async throws -> Void
    ) async throws {
        let server = MicroHTTPServer(
            configuration: ServerConfiguration(
                port: 0, bindAddress: "127.0.0.1", threads: threads, requestHeaderNames: ["Accept-Encoding", "If-None-Match"],
                responseCache: cache),
            responder: responder)
        try server.start()
        defer { server.stop() }
        try await body(server)
    }

    private func get(
        _ port: UInt16, _ path: String, method: HTTPMethod = .get, headers: [(String, String)] = []
    ) async throws -> HTTPClientResponse {
        try await offPool { try HTTPClientConnection(port: port).request(method, path, headers: headers) }
    }

    /// The bodies of `times` GETs of `path`, each on a new connection.
    private func texts(
        _ port: UInt16, _ path: String, headers: [(String, String)] = [], times: Int = 1
    ) async throws -> [String] {
        var texts: [String] = []
        for _ in 0..<times { texts.append(try await get(port, path, headers: headers).text) }
        return texts
    }

    @Test("a repeated GET is answered from the cache until the answer's validity is retired, then asked again")
    func hitsUntilRetired() async throws {
        let responder = VersionedResponder()
        try await withServer(responder) { server in
            let port = server.port
            let before = try await texts(port, "/v", times: 3)
            #expect(before == ["v1 - 0", "v1 - 0", "v1 - 0"])
            #expect(responder.calls == 1)
            #expect(responder.hits == [7, 7])

            responder.bump()
            let retired = try await texts(port, "/v")
            #expect(retired == ["v2 - 0"], "a retired answer is never served")
            #expect(responder.calls == 2)
            let after = try await texts(port, "/v")
            #expect(after == ["v2 - 0"])
            #expect(responder.calls == 2)
            #expect(responder.hits.count == 3)
        }
    }

    @Test("the vary header's value is part of the key; a bypass header, a query or another method asks the responder")
    func keyAndBypass() async throws {
        let responder = VersionedResponder()
        try await withServer(responder) { server in
            let port = server.port
            let gzip = [("Accept-Encoding", "gzip")]
            var seen = try await texts(port, "/v", headers: gzip) + texts(port, "/v")
            #expect(seen == ["v1 gzip 0", "v1 - 0"])
            #expect(responder.calls == 2, "gzip and no Accept-Encoding are two entries")
            seen = try await texts(port, "/v", headers: gzip) + texts(port, "/v")
            #expect(seen == ["v1 gzip 0", "v1 - 0"])
            #expect(responder.calls == 2)

            _ = try await texts(port, "/v", headers: [("If-None-Match", "\"x\"")], times: 2)
            #expect(responder.calls == 4, "conditional requests always reach the responder")
            let queried = try await texts(port, "/v?a=1", times: 2)
            #expect(queried == ["v1 - 1", "v1 - 1"])
            #expect(responder.calls == 6, "requests with a query always reach the responder")

            let head = try await get(port, "/v", method: .head)
            #expect(head.status == .ok && head.body.isEmpty)
            #expect(responder.calls == 7, "HEAD is its own entry")
            _ = try await get(port, "/v", method: .head)
            #expect(responder.calls == 7)
            let plain = try await texts(port, "/v")
            #expect(plain == ["v1 - 0"], "HEAD did not replace the GET entry")
            #expect(responder.calls == 7)
        }
    }

    @Test("nothing is cached without a directive, or without a cache; a draining server asks the responder")
    func noCache() async throws {
        let unmarked = VersionedResponder(markCacheable: false)
        try await withServer(unmarked) { server in
            _ = try await get(server.port, "/v")
            _ = try await get(server.port, "/v")
            #expect(unmarked.calls == 2)
        }
        let uncached = VersionedResponder()
        try await withServer(uncached, cache: nil) { server in
            _ = try await get(server.port, "/v")
            _ = try await get(server.port, "/v")
            #expect(uncached.calls == 2)
            #expect(uncached.hits.isEmpty)
        }
        let draining = VersionedResponder()
        try await withServer(draining) { server in
            let port = server.port
            let answer = try await offPool {
                let connection = try HTTPClientConnection(port: port)
                defer { connection.close() }
                _ = try connection.request(.get, "/v")
                server.stopAccepting()
                return try connection.request(.get, "/v")
            }
            #expect(draining.calls == 2, "while draining every answer carries Connection: close")
            #expect(answer.headers["Connection"]?.lowercased() == "close")
        }
    }

    @Test("each worker thread's cache stays bounded and right under concurrent readers and a writer")
    func concurrent() async throws {
        let responder = VersionedResponder()
        try await withServer(
            responder, cache: ResponseCacheConfiguration(varyHeader: "Accept-Encoding", bypassHeaders: [], maxEntriesPerThread: 2),
            threads: 2
        ) { server in
            let port = server.port
            try await withThrowingTaskGroup(of: Void.self) { group in
                for reader in 0..<4 {
                    group.addTask {
                        try await offPool {
                            let connection = try HTTPClientConnection(port: port)
                            defer { connection.close() }
                            var seen = 0
                            for round in 0..<200 {
                                let encoding = ["gzip", "br", "x\(reader)"][round % 3]
                                let text = try connection.request(.get, "/v", headers: [("Accept-Encoding", encoding)]).text
                                let version = Int(text.dropFirst().prefix { $0 != " " }) ?? -1
                                #expect(version >= seen, "a version never goes back on one connection")
                                #expect(text.hasSuffix(" \(encoding) 0"))
                                seen = version
                            }
                        }
                    }
                }
                group.addTask {
                    for _ in 0..<50 {
                        responder.bump()
                        try await Task.sleep(for: .milliseconds(2))
                    }
                }
                try await group.waitForAll()
            }
            // After the writer stops, the same request twice on one connection (one worker
            // thread): the second is a hit, even though the tiny caches were emptied many times.
            let hitsBefore = responder.hits.count
            let last = try await offPool {
                let connection = try HTTPClientConnection(port: port)
                defer { connection.close() }
                return try [connection.request(.get, "/v").text, connection.request(.get, "/v").text]
            }
            #expect(last == ["v51 - 0", "v51 - 0"])
            #expect(responder.hits.count == hitsBefore + 1)
        }
    }
}
