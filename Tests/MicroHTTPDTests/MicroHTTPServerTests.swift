import Foundation
import MicroHTTPD
import OrchestratorTesting
import Synchronization
import Testing

/// Requests parked by `ProbeResponder`, for the test to answer.
final class ParkedRequests: Sendable {
    let requests = Mutex<[SuspendedRequest]>([])
    var count: Int { requests.withLock { $0.count } }
    func resumeAll(with response: HTTPResponse) {
        for request in requests.withLock({ $0 }) { request.resume(with: response) }
    }
}

/// A responder exercising every path of the server: plain, shared, echo, park, early answer.
struct ProbeResponder: HTTPResponder {
    static let shared = SharedBytes(Array("#EXTM3U\n".utf8))
    let parked: ParkedRequests

    func reply(to request: HTTPRequest, suspender: RequestSuspender) -> HTTPReply {
        switch request.path {
        case "/hello":
            return .response(text(.ok, "hello"))
        case "/client":
            return .response(text(.ok, request.clientAddress ?? "<nil>"))
        case "/shared":
            return .response(HTTPResponse(status: .ok, body: .shared(Self.shared)))
        case "/echo":
            let query = request.query.map { "\($0.name)=\($0.value ?? "<nil>")" }.joined(separator: "&")
            let header = request.headers["x-probe"] ?? "-"
            let summary = "\(request.method) \(query) \(header) \(request.body.count):"
            return .response(text(.ok, summary + String(decoding: request.body, as: UTF8.self)))
        case "/hold":
            let held = suspender.suspend()
            parked.requests.withLock { $0.append(held) }
            return .suspended(held)
        case "/early":
            let held = suspender.suspend()
            held.resume(with: text(.ok, "early"))
            return .suspended(held)
        default:
            return .response(text(.notFound, "path \(request.path)"))
        }
    }

    func reply(to request: HTTPRequest, rejectedFor reason: RequestRejection) -> HTTPResponse {
        guard case .bodyTooLarge(let limit) = reason else { return text(.badRequest, "?") }
        return text(.contentTooLarge, "rejected \(request.method) \(request.path) \(request.body.count)/\(limit)")
    }

    private func text(_ status: HTTPStatus, _ body: String) -> HTTPResponse {
        HTTPResponse(status: status, headers: HTTPHeaders([("Content-Type", "text/plain")]), body: .bytes(Array(body.utf8)))
    }
}

@Suite struct MicroHTTPServerTests {
    private func withServer(
        maxBody: Int = 1024, copiesClientAddress: Bool = false,
        _ body: (MicroHTTPServer, ParkedRequests) async throws -> Void
    ) async throws {
        let parked = ParkedRequests()
        let server = MicroHTTPServer(
            configuration: ServerConfiguration(
                port: 0, bindAddress: "127.0.0.1", threads: 2, maxBodyBytes: maxBody,
                copiesClientAddress: copiesClientAddress),
            responder: ProbeResponder(parked: parked))
        try server.start()
        defer { server.stop() }
        try await body(server, parked)
    }

    @Test("starting on port 0 binds a real ephemeral port")
    func ephemeralPort() async throws {
        try await withServer { server, _ in
            #expect(server.port != 0)
        }
    }

    @Test("a GET is answered with the responder's status, headers and body")
    func plainGet() async throws {
        try await withServer { server, _ in
            let port = server.port
            let response = try await offPool {
                try HTTPClientConnection(port: port).request(.get, "/hello")
            }
            #expect(response.status == .ok)
            #expect(response.headers["content-type"] == "text/plain")
            #expect(response.text == "hello")
        }
    }

    @Test("shared bytes are sent intact, many times over one keep-alive connection")
    func sharedBytesKeepAlive() async throws {
        try await withServer { server, _ in
            let port = server.port
            let bodies = try await offPool {
                let connection = try HTTPClientConnection(port: port)
                return try (0..<50).map { _ in try connection.request(.get, "/shared").text }
            }
            #expect(bodies.count == 50)
            #expect(bodies.allSatisfy { $0 == "#EXTM3U\n" })
        }
    }

    @Test("HEAD gets the headers of GET without a body")
    func headRequest() async throws {
        try await withServer { server, _ in
            let port = server.port
            let response = try await offPool { try HTTPClientConnection(port: port).request(.head, "/shared") }
            #expect(response.status == .ok)
            #expect(response.headers["Content-Length"] == "8")
            #expect(response.body.isEmpty)
        }
    }

    @Test("the peer's address reaches the responder only when the server is told to copy it", arguments: [true, false])
    func clientAddress(copies: Bool) async throws {
        try await withServer(copiesClientAddress: copies) { server, _ in
            let port = server.port
            let response = try await offPool { try HTTPClientConnection(port: port).request(.get, "/client") }
            #expect(response.text == (copies ? "127.0.0.1" : "<nil>"))
        }
    }

    @Test("method, query arguments as sent, headers and the whole body reach the responder")
    func requestParts() async throws {
        try await withServer { server, _ in
            let port = server.port
            let payload = Array(String(repeating: "x", count: 700).utf8)
            let response = try await offPool {
                try HTTPClientConnection(port: port).request(
                    .post, "/echo?a=1&b=%20two&flag", headers: [("X-Probe", "yes")], body: payload)
            }
            #expect(response.text == "POST a=1&b=%20two&flag=<nil> yes 700:" + String(repeating: "x", count: 700))
        }
    }

    @Test("the path reaches the responder exactly as sent: %2F, %73 and %00 are not decoded")
    func pathNotDecoded() async throws {
        try await withServer { server, _ in
            let port = server.port
            let response = try await offPool {
                try HTTPClientConnection(port: port).request(.get, "/streams/s%2Frenditions%2Fr/%73%31%00x?q=%2F")
            }
            #expect(response.status == .notFound)
            #expect(response.text == "path /streams/s%2Frenditions%2Fr/%73%31%00x")
        }
    }

    @Test("a body declared larger than the cap is answered by the responder's rejection before it is read")
    func declaredTooLarge() async throws {
        try await withServer(maxBody: 100) { server, _ in
            let port = server.port
            let response = try await offPool {
                try HTTPClientConnection(port: port).request(.post, "/echo?x=1", body: Array(repeating: 65, count: 101))
            }
            #expect(response.status == .contentTooLarge)
            #expect(response.text == "rejected POST /echo 0/100")
            #expect(try await waitUntil { server.inFlightRequests == 0 })
        }
    }

    @Test("a chunked body that grows past the cap gets the responder's 413 and the connection closes")
    func chunkedTooLarge() async throws {
        try await withServer(maxBody: 100) { server, _ in
            let port = server.port
            let (response, rest) = try await offPool {
                let connection = try HTTPClientConnection(port: port)
                let chunk = String(repeating: "y", count: 80)
                let raw =
                    "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                    + "50\r\n\(chunk)\r\n50\r\n\(chunk)\r\n0\r\n\r\n"
                try connection.write(Array(raw.utf8))
                return (try connection.readResponse(), try connection.readToEnd())
            }
            #expect(response.status == .contentTooLarge)
            #expect(response.text == "rejected POST /echo 0/100")
            #expect(response.headers["Connection"]?.lowercased() == "close")
            #expect(response.headers["Date"]?.hasSuffix(" GMT") == true)
            #expect(rest.isEmpty, "nothing follows the answer; the server closes")
            #expect(try await waitUntil { server.inFlightRequests == 0 })
        }
    }

    @Test("a chunked body is answered 413 as soon as it passes the cap, while the client is still sending")
    func chunkedTooLargeAnsweredEarly() async throws {
        try await withServer(maxBody: 100) { server, _ in
            let port = server.port
            let response = try await offPool {
                let connection = try HTTPClientConnection(port: port, timeout: .seconds(5))
                let chunk = String(repeating: "z", count: 150)
                // One chunk past the cap and no last chunk: the body has not ended.
                try connection.write(
                    Array("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n96\r\n\(chunk)\r\n".utf8))
                return try connection.readResponse()
            }
            #expect(response.status == .contentTooLarge)
            #expect(response.text == "rejected POST /echo 0/100")
        }
    }

    @Test("a parked request holds no worker thread and is answered when resumed from another thread")
    func suspendAndResume() async throws {
        try await withServer { server, parked in
            let port = server.port
            async let held = offPool { try HTTPClientConnection(port: port).request(.get, "/hold") }
            #expect(try await waitUntil { parked.count == 1 })
            // Both workers are free while the request is parked: others are served meanwhile.
            for _ in 0..<5 {
                let other = try await offPool { try HTTPClientConnection(port: port).request(.get, "/hello") }
                #expect(other.status == .ok)
            }
            #expect(server.suspendedRequests == 1)
            parked.resumeAll(with: HTTPResponse(status: .ok, body: .bytes(Array("woken".utf8))))
            let response = try await held
            #expect(response.text == "woken")
            #expect(try await waitUntil { server.suspendedRequests == 0 && server.inFlightRequests == 0 })
        }
    }

    @Test("a request answered before the server parks it is sent at once")
    func earlyAnswer() async throws {
        try await withServer { server, _ in
            let port = server.port
            let response = try await offPool { try HTTPClientConnection(port: port).request(.get, "/early") }
            #expect(response.text == "early")
        }
    }

    @Test("a second resume of the same request is refused")
    func resumeOnce() async throws {
        try await withServer { server, parked in
            let port = server.port
            async let held = offPool { try HTTPClientConnection(port: port).request(.get, "/hold") }
            #expect(try await waitUntil { parked.count == 1 })
            let request = try #require(parked.requests.withLock { $0.first })
            #expect(request.resume(with: HTTPResponse(status: .ok, body: .bytes(Array("first".utf8)))))
            #expect(!request.resume(with: HTTPResponse(status: .ok, body: .bytes(Array("second".utf8)))))
            #expect(try await held.text == "first")
        }
    }

    @Test("stopping the server answers parked requests with 503 instead of dropping them")
    func stopWakesParked() async throws {
        let parked = ParkedRequests()
        let server = MicroHTTPServer(
            configuration: ServerConfiguration(port: 0, bindAddress: "127.0.0.1", threads: 2),
            responder: ProbeResponder(parked: parked))
        try server.start()
        let port = server.port
        async let held = offPool { try HTTPClientConnection(port: port).request(.get, "/hold") }
        #expect(try await waitUntil { parked.count == 1 })
        server.stop()
        let response = try await held
        #expect(response.status == .serviceUnavailable)
        #expect(response.headers["Cache-Control"] == "no-store")
        server.stop()  // idempotent
    }

    @Test("after stopAccepting, an open connection is still served and told to close; drain completes")
    func quiesceAndDrain() async throws {
        try await withServer { server, _ in
            let port = server.port
            let box = try await offPool { UncheckedBox(try HTTPClientConnection(port: port)) }
            let first = try await offPool { try box.value.request(.get, "/hello") }
            #expect(first.headers["Connection"] == nil)
            server.stopAccepting()
            let second = try await offPool { try box.value.request(.get, "/hello") }
            #expect(second.status == .ok)
            #expect(second.headers["Connection"]?.lowercased() == "close")
            #expect(await server.drain(timeout: .seconds(5)))
        }
    }

    @Test("during a drain, a new connection is refused at once instead of hanging in the backlog")
    func refusedWhileDraining() async throws {
        try await withServer { server, parked in
            let port = server.port
            async let held = offPool { try HTTPClientConnection(port: port).request(.get, "/hold") }
            #expect(try await waitUntil { parked.count == 1 })
            server.stopAccepting()
            let clock = ContinuousClock()
            let started = clock.now
            let outcome = try await offPool { () -> HTTPClientError? in
                do {
                    _ = try HTTPClientConnection(port: port, timeout: .seconds(5)).request(.get, "/hello")
                    return nil
                } catch {
                    return error as? HTTPClientError
                }
            }
            let waited = clock.now - started
            #expect(outcome == .connectFailed(errno: ECONNREFUSED), "got \(String(describing: outcome))")
            #expect(waited < .seconds(2), "refused after \(waited)")
            // The request in flight is still answered.
            parked.resumeAll(with: HTTPResponse(status: .ok, body: .bytes(Array("drained".utf8))))
            #expect(try await held.text == "drained")
            #expect(await server.drain(timeout: .seconds(5)))
        }
    }

    @Test("a parked request whose client hangs up is released; one still waiting is not")
    func releaseDisconnected() async throws {
        try await withServer { server, parked in
            let port = server.port
            let staying = try await offPool { () -> UncheckedBox<HTTPClientConnection> in
                let connection = try HTTPClientConnection(port: port)
                try connection.write(Array("GET /hold HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
                return UncheckedBox(connection)
            }
            try await offPool {
                let leaving = try HTTPClientConnection(port: port)
                try leaving.write(Array("GET /hold HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
                Thread.sleep(forTimeInterval: 0.1)
                leaving.close()
            }
            #expect(try await waitUntil { parked.count == 2 })
            try await Task.sleep(for: .milliseconds(50))
            #expect(server.releaseDisconnectedRequests() == 1)
            #expect(server.releaseDisconnectedRequests() == 0)
            #expect(try await waitUntil { server.suspendedRequests == 1 })
            parked.resumeAll(with: HTTPResponse(status: .ok, body: .bytes(Array("late".utf8))))
            let response = try await offPool { try staying.value.readResponse() }
            #expect(response.text == "late")
        }
    }

    @Test("a taken port is reported as cannotListen")
    func portInUse() async throws {
        try await withServer { server, parked in
            let second = MicroHTTPServer(
                configuration: ServerConfiguration(port: server.port, bindAddress: "127.0.0.1"),
                responder: ProbeResponder(parked: parked))
            #expect(throws: ServerError.cannotListen(address: "127.0.0.1", port: server.port)) {
                try second.start()
            }
        }
    }
}

