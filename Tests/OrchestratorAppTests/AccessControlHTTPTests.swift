import Authorization
import Foundation
import HLSModel
import Logging
import MicroHTTPD
@testable import OrchestratorApp
import OrchestratorTesting
import Prometheus
import Synchronization
import Testing

/// The credentials a request may carry, made fresh for each test.
enum Credential: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case none, wrongToken, expiredJWT, otherStreamJWT, noScopeJWT, algNone, notYetValidJWT
    case ingestToken, adminToken, hs256JWT, es256JWT, prefixJWT

    var testDescription: String { rawValue }

    static let ingestSecret = "ingest-token-0123456789abcdef"
    static let adminSecret = "admin-token-fedcba9876543210"

    /// The `Authorization` header value, nil for `.none`.
    func header(_ factory: TokenFactory) async throws -> String? {
        let token: String
        switch self {
        case .none: return nil
        case .wrongToken: token = "ingest-token-0123456789abcdeX"
        case .expiredJWT: token = try await factory.hs256(TokenFactory.claims(exp: -3600))
        case .otherStreamJWT: token = try await factory.es256(TokenFactory.claims(streams: ["studio-b"]))
        case .noScopeJWT: token = try await factory.hs256(TokenFactory.claims(scope: "read"))
        case .algNone: token = try TokenFactory.unsecured(TokenFactory.claims(scope: "ingest admin"))
        case .notYetValidJWT: token = try await factory.hs256(TokenFactory.claims(nbf: 600))
        case .ingestToken: token = Self.ingestSecret
        case .adminToken: token = Self.adminSecret
        case .hs256JWT: token = try await factory.hs256(TokenFactory.claims(streams: ["live-1"]))
        case .es256JWT: token = try await factory.es256(TokenFactory.claims(scope: "admin"))
        case .prefixJWT: token = try await factory.es256(TokenFactory.claims(streams: ["live-*"]))
        }
        return "Bearer \(token)"
    }

    /// The refusal this credential gets on a write route of stream `live-1`: status and
    /// `WWW-Authenticate`; nil when it may write.
    var refusal: (status: Int, challenge: String)? {
        switch self {
        case .none: (401, #"Bearer realm="hls-orchestrator""#)
        case .wrongToken, .expiredJWT, .algNone, .notYetValidJWT: (401, #"Bearer realm="hls-orchestrator", error="invalid_token""#)
        case .otherStreamJWT, .noScopeJWT:
            (403, #"Bearer realm="hls-orchestrator", error="insufficient_scope", scope="ingest""#)
        case .ingestToken, .adminToken, .hs256JWT, .es256JWT, .prefixJWT: nil
        }
    }
}

/// The write routes, each with a request that succeeds when its credential is good.
enum WriteRoute: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case segment, part, declare, end

    var testDescription: String { rawValue }

    var request: (method: HTTPMethod, path: String, body: String, status: Int) {
        switch self {
        case .segment:
            (.post, "/streams/live-1/renditions/720p/segments", #"{"sequence":0,"duration":2.0,"path":"/720p/0.ts"}"#, 201)
        case .part:
            (.post, "/streams/live-1/renditions/ll/parts", #"{"sequence":0,"part":0,"duration":0.25,"path":"/ll/0.0.m4s"}"#, 201)
        case .declare:
            (.put, "/streams/live-1/renditions/1080p", #"{"bandwidth":5000000}"#, 201)
        case .end:
            (.post, "/streams/live-1/end", "", 200)
        }
    }
}

@Suite struct AccessControlHTTPTests {
    let factory: TokenFactory
    let secretDirectory: URL

    init() throws {
        factory = try TokenFactory()
        secretDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("hls-auth-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: secretDirectory, withIntermediateDirectories: true)
    }

    /// `text` written to a file of the test's own directory; its path.
    func file(_ name: String, _ text: String) throws -> String {
        let url = secretDirectory.appendingPathComponent(name)
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    /// The environment of a service with static tokens (the ingest ones from a file), HS256 and
    /// the ES256 public key.
    func environment() throws -> [String: String] {
        [
            "INGEST_TOKENS_FILE": try file("ingest-tokens", "# transcoders\n\(Credential.ingestSecret)\n\nretired-token-000\n"),
            "ADMIN_TOKENS": Credential.adminSecret,
            "JWT_SECRET": factory.hmacSecret,
            "JWT_PUBLIC_KEY_FILE": try file("jwt.pem", factory.es256PEM),
        ]
    }

    /// An orchestrator with `environment`'s credentials, its clock at ``TokenFactory/now``.
    func orchestrator(
        _ environment: [String: String], logger: Logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }),
        registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()
    ) async throws -> Orchestrator {
        let configuration = try AppConfiguration(environment: environment, cpuCount: 1)
        let now = Timestamp(millisecondsSinceEpoch: Int64(TokenFactory.now.timeIntervalSince1970 * 1000))
        return Orchestrator(
            configuration: configuration, logger: logger, metrics: OrchestratorMetrics(registry: registry),
            clock: { now }, access: try await AccessControl(configuration.access))
    }

    func send(
        _ orchestrator: Orchestrator, _ method: HTTPMethod, _ path: String, _ body: String = "", authorization: String? = nil
    ) -> HTTPResponse {
        let headers = HTTPHeaders(authorization.map { [("Authorization", $0)] } ?? [])
        return orchestrator.respond(to: HTTPRequest(method: method, path: path, headers: headers, body: Array(body.utf8)))
    }

    @Test(
        "every write route answers each credential with the exact status and WWW-Authenticate",
        arguments: WriteRoute.allCases, Credential.allCases)
    func table(route: WriteRoute, credential: Credential) async throws {
        let orchestrator = try await orchestrator(try environment())
        if route == .part {
            // A low-latency rendition to add a part to (set up with the admin token).
            let declared = send(
                orchestrator, .put, "/streams/live-1/renditions/ll",
                #"{"target_duration":2,"part_target":0.25,"part_uri_template":"/ll/{sequence}.{part}.m4s"}"#,
                authorization: "Bearer \(Credential.adminSecret)")
            #expect(declared.status == .created)
        }
        let (method, path, body, success) = route.request
        let response = send(orchestrator, method, path, body, authorization: try await credential.header(factory))
        if let refusal = credential.refusal {
            #expect(response.status.rawValue == refusal.status)
            #expect(response.headers["WWW-Authenticate"] == refusal.challenge)
            #expect(response.headers["Content-Type"] == "application/json")
            let text = String(decoding: response.body.array, as: UTF8.self)
            #expect(text.hasPrefix(#"{"error":""#), "\(text)")
        } else {
            #expect(response.status.rawValue == success, "\(String(decoding: response.body.array, as: UTF8.self))")
            #expect(response.headers["WWW-Authenticate"] == nil)
        }
    }

    @Test("an EdDSA public key verifies EdDSA tokens, and only those")
    func edDSA() async throws {
        let orchestrator = try await orchestrator(["JWT_PUBLIC_KEY_FILE": try file("ed.pem", factory.edDSAPEM)])
        let path = "/streams/live-1/renditions/720p/segments"
        let body = #"{"sequence":0,"duration":2.0,"path":"/720p/0.ts"}"#
        let edToken = try await factory.edDSA(TokenFactory.claims(streams: ["live-1"]))
        let esToken = try await factory.es256(TokenFactory.claims(streams: ["live-1"]))
        let hsToken = try await factory.hs256(TokenFactory.claims(streams: ["live-1"]))
        #expect(send(orchestrator, .post, path, body, authorization: "Bearer \(esToken)").status == .unauthorized)
        #expect(send(orchestrator, .post, path, body, authorization: "Bearer \(hsToken)").status == .unauthorized)
        #expect(send(orchestrator, .post, path, body, authorization: "Bearer \(edToken)").status == .created)
    }

    @Test("playlists, the multivariant playlist, CORS preflights, health checks and /metrics stay open")
    func openRoutes() async throws {
        let orchestrator = try await orchestrator(try environment())
        let admin = "Bearer \(Credential.adminSecret)"
        #expect(send(orchestrator, .put, "/streams/live-1/renditions/720p", #"{"bandwidth":2500000}"#, authorization: admin).status == .created)
        #expect(
            send(orchestrator, .post, "/streams/live-1/renditions/720p/segments", #"{"sequence":0,"duration":2.0,"path":"/0.ts"}"#, authorization: admin)
                .status == .created)
        let open: [(HTTPMethod, String, HTTPStatus)] = [
            (.get, "/streams/live-1/renditions/720p/playlist.m3u8", .ok),
            (.head, "/streams/live-1/renditions/720p/playlist.m3u8", .ok),
            (.get, "/streams/live-1/master.m3u8", .ok),
            (.options, "/streams/live-1/renditions/720p/playlist.m3u8", .noContent),
            (.options, "/streams/live-1/master.m3u8", .noContent),
            (.get, "/streams/unknown/renditions/720p/playlist.m3u8", .notFound),
            (.get, "/healthz", .ok),
            (.get, "/readyz", .ok),
            (.get, "/metrics", .ok),
        ]
        for (method, path, status) in open {
            for authorization in [nil, "Bearer wrong-token", "Basic dXNlcjpwYXNz"] {
                let response = send(orchestrator, method, path, authorization: authorization)
                #expect(response.status == status, "\(method) \(path) with \(authorization ?? "no credential")")
                #expect(response.headers["WWW-Authenticate"] == nil)
            }
        }
    }

    @Test("with no credential configured every write route stays open")
    func openService() async throws {
        let orchestrator = try await orchestrator([:])
        for route in WriteRoute.allCases where route != .part {
            let (method, path, body, success) = route.request
            #expect(send(orchestrator, method, path, body).status.rawValue == success, "\(route)")
        }
    }

    @Test("hls_auth_failures_total has every reason at 0 from the start and counts each refusal by reason")
    func metrics() async throws {
        let registry = PrometheusCollectorRegistry()
        let orchestrator = try await orchestrator(try environment(), registry: registry)
        let before = String(decoding: send(orchestrator, .get, "/metrics").body.array, as: UTF8.self)
        for reason in ["missing", "invalid", "expired", "forbidden_scope", "forbidden_stream"] {
            #expect(before.contains("hls_auth_failures_total{reason=\"\(reason)\"} 0\n"), "\(reason)")
        }
        #expect(before.contains("# HELP hls_auth_failures_total "))
        #expect(before.contains("hls_errors_total{status=\"401\"} 0\n"))
        let (method, path, body, _) = WriteRoute.segment.request
        for credential in [Credential.none, .wrongToken, .algNone, .expiredJWT, .noScopeJWT, .otherStreamJWT, .otherStreamJWT] {
            _ = send(orchestrator, method, path, body, authorization: try await credential.header(factory))
        }
        let after = String(decoding: send(orchestrator, .get, "/metrics").body.array, as: UTF8.self)
        for (reason, count) in [("missing", 1), ("invalid", 2), ("expired", 1), ("forbidden_scope", 1), ("forbidden_stream", 2)] {
            #expect(after.contains("hls_auth_failures_total{reason=\"\(reason)\"} \(count)\n"), "\(reason)")
        }
        #expect(after.contains("hls_errors_total{status=\"401\"} 4\n"))
        #expect(after.contains("hls_errors_total{status=\"403\"} 3\n"))
    }

    @Test("over real sockets the Authorization header reaches the check, on the main port and on INGEST_PORT alike", arguments: [false, true])
    func overSockets(splitPorts: Bool) async throws {
        let environment = try environment()
        let app = try await TestApplication.withAccessControl { configuration in
            configuration.access = (try? AppConfiguration(environment: environment, cpuCount: 1).access) ?? AccessConfiguration()
            if splitPorts { configuration.ingestPort = 0 }
        }
        let ingestPort = try #require(splitPorts ? app.ingestPort : app.port)
        let token = try await factory.hs256(TokenFactory.claims(exp: 3_000_000_000 - TokenFactory.now.timeIntervalSince1970))
        let (unauthorized, authorized, jwt) = try await offPool {
            let connection = try HTTPClientConnection(port: ingestPort)
            let body = Array(#"{"sequence":0,"duration":2.0,"path":"/0.ts"}"#.utf8)
            let path = "/streams/live-1/renditions/720p/segments"
            return (
                try connection.request(.post, path, body: body),
                try connection.request(.post, path, headers: [("Authorization", "Bearer \(Credential.ingestSecret)")], body: body),
                try connection.request(.post, "/streams/live-1/end", headers: [("authorization", "bearer \(token)")])
            )
        }
        #expect(unauthorized.status == .unauthorized)
        #expect(unauthorized.headers["WWW-Authenticate"] == #"Bearer realm="hls-orchestrator""#)
        #expect(unauthorized.text.contains(#""error":"#))
        #expect(authorized.status == .created)
        #expect(jwt.status == .ok, "\(jwt.text)")
        // Players need nothing.
        #expect(try await app.get("/streams/live-1/renditions/720p/playlist.m3u8").status == .ok)
        await app.shutdown()
    }

    @Test("no token appears in any log line, the access log at debug included; Authorization is never logged")
    func tokensNeverLogged() async throws {
        let sink = CapturingSink()
        let logger = Logger(label: "test") { JSONLogHandler(label: $0, level: .trace, sink: sink, clock: LoggingTests.fixedClock) }
        let environment = try environment()
        let app = try await TestApplication.withAccessControl(logger: logger) { configuration in
            configuration.access = (try? AppConfiguration(environment: environment, cpuCount: 1).access) ?? AccessConfiguration()
            configuration.logLevel = .trace
        }
        let jwt = try await factory.hs256(TokenFactory.claims(exp: 3_000_000_000 - TokenFactory.now.timeIntervalSince1970))
        let wrong = "wrong-token-that-must-not-be-logged"
        let tokens: [String] = [Credential.ingestSecret, Credential.adminSecret, jwt, wrong, factory.hmacSecret]
        for token: String in [Credential.ingestSecret, Credential.adminSecret, jwt, wrong] {
            _ = try await app.request(
                .post, "/streams/live-1/renditions/720p/segments?token=\(token.prefix(4))",
                headers: [("Authorization", "Bearer \(token)"), ("Content-Type", "application/json")],
                body: #"{"sequence":0,"duration":2.0,"path":"/0.ts"}"#)
        }
        // A token in the query (RFC 6750 2.3, not accepted here) is kept out of http.query too.
        _ = try await app.request(.post, "/streams/live-1/end?access_token=\(jwt)&x=1")
        await app.shutdown()
        let lines = sink.lines.withLock { $0 }
        #expect(lines.contains { $0.contains(#""msg":"request handled""#) }, "the access log was on")
        #expect(lines.contains { $0.contains(#""http.query":"access_token=<redacted>&x=1""#) })
        #expect(lines.contains { $0.contains(#""msg":"access control enabled""#) })
        for line in lines {
            for token in tokens { #expect(!line.contains(token), "a secret in: \(line)") }
            #expect(!line.lowercased().contains("authorization"), "\(line)")
            #expect(!line.lowercased().contains("bearer"), "\(line)")
        }
    }

    @Test("with no credential configured, start-up logs one warning saying the service is open")
    func openWarning() async throws {
        let sink = CapturingSink()
        let logger = Logger(label: "test") { JSONLogHandler(label: $0, level: .info, sink: sink, clock: LoggingTests.fixedClock) }
        let open = try TestApplication(logger: logger)
        await open.shutdown()
        let warnings = sink.lines.withLock { $0 }.filter { $0.contains(#""level":"warn""#) && $0.contains("no credential configured") }
        #expect(warnings.count == 1)

        let secured = CapturingSink()
        let environment = try environment()
        let app = try await TestApplication.withAccessControl(
            logger: Logger(label: "test") { JSONLogHandler(label: $0, level: .info, sink: secured, clock: LoggingTests.fixedClock) }
        ) { configuration in
            configuration.access = (try? AppConfiguration(environment: environment, cpuCount: 1).access) ?? AccessConfiguration()
        }
        await app.shutdown()
        let lines = secured.lines.withLock { $0 }
        #expect(!lines.contains { $0.contains("no credential configured") })
        let enabled = try #require(lines.first { $0.contains("access control enabled") })
        #expect(enabled.contains(#""auth.ingest_tokens":2"#), "\(enabled)")
        #expect(enabled.contains(#""auth.admin_tokens":1"#), "\(enabled)")
        #expect(enabled.contains(#""auth.jwt_algorithms":"HS256 ES256""#), "\(enabled)")
    }
}

@Suite struct AccessConfigurationTests {
    let directory: URL

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("hls-auth-config-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    func file(_ name: String, _ text: String) throws -> String {
        let url = directory.appendingPathComponent(name)
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    func error(_ environment: [String: String]) -> ConfigurationError? {
        do {
            _ = try AppConfiguration(environment: environment, cpuCount: 1)
            return nil
        } catch {
            return error
        }
    }

    @Test("tokens come from the variables or from their files; unset means open")
    func sources() throws {
        #expect(try AppConfiguration(environment: [:], cpuCount: 1).access.isOpen)
        let inline = try AppConfiguration(environment: ["INGEST_TOKENS": "a1,b2", "ADMIN_TOKENS": "c3"], cpuCount: 1).access
        #expect(inline.ingestTokens.map(\.value) == ["a1", "b2"])
        #expect(inline.adminTokens.map(\.value) == ["c3"])
        let files = try AppConfiguration(
            environment: [
                "INGEST_TOKENS_FILE": try file("i", "# comment\n\nd4\n"), "ADMIN_TOKENS_FILE": try file("a", "e5\nf6\n"),
                "JWT_SECRET_FILE": try file("s", String(repeating: "z", count: 32) + "\n"),
            ], cpuCount: 1
        ).access
        #expect(files.ingestTokens.map(\.value) == ["d4"])
        #expect(files.adminTokens.map(\.value) == ["e5", "f6"])
        #expect(files.jwtSecret?.value == String(repeating: "z", count: 32))
        #expect(!files.isOpen)
    }

    @Test(
        "setting a variable and its _FILE form is a configuration error naming the _FILE variable",
        arguments: ["INGEST_TOKENS", "ADMIN_TOKENS", "JWT_SECRET"])
    func both(name: String) throws {
        let path = try file("both", String(repeating: "t", count: 40))
        let failure = try #require(error([name: String(repeating: "t", count: 40), name + "_FILE": path]))
        #expect(failure.variable == name + "_FILE")
        #expect(failure.description.contains(name) && failure.description.contains("not both"))
    }

    @Test(
        "a missing or empty file is a configuration error naming the variable and the path",
        arguments: ["INGEST_TOKENS_FILE", "ADMIN_TOKENS_FILE", "JWT_SECRET_FILE", "JWT_PUBLIC_KEY_FILE"])
    func unreadable(name: String) throws {
        let missing = directory.appendingPathComponent("missing").path
        let failure = try #require(error([name: missing]))
        #expect(failure.variable == name)
        #expect(failure.description.contains(missing))
        let empty = try file("empty", "\n\n")
        #expect(try #require(error([name: empty])).variable == name)
        if name.hasSuffix("TOKENS_FILE") {
            #expect(try #require(error([name: try file("comments", "# only a comment\n")])).variable == name)
        }
    }

    @Test("bad credential values are refused without showing them")
    func badValues() throws {
        let short = try #require(error(["JWT_SECRET": "short-secret-value"]))
        #expect(short.variable == "JWT_SECRET")
        #expect(!short.description.contains("short-secret-value"))
        let spaced = try #require(error(["INGEST_TOKENS": "good-token,bad token"]))
        #expect(spaced.variable == "INGEST_TOKENS")
        #expect(!spaced.description.contains("bad token") && !spaced.description.contains("good-token"))
        let pem = try file("bad.pem", "-----BEGIN PUBLIC KEY-----\nnot base64\n-----END PUBLIC KEY-----\n")
        #expect(try #require(error(["JWT_PUBLIC_KEY_FILE": pem])).variable == "JWT_PUBLIC_KEY_FILE")
    }

    @Test("the public key file's type picks ES256 or EdDSA")
    func publicKeys() throws {
        let factory = try TokenFactory()
        let es = try AppConfiguration(environment: ["JWT_PUBLIC_KEY_FILE": try file("es.pem", factory.es256PEM)], cpuCount: 1)
        #expect(es.access.jwtAlgorithms == ["ES256"])
        let ed = try AppConfiguration(environment: ["JWT_PUBLIC_KEY_FILE": try file("ed.pem", factory.edDSAPEM)], cpuCount: 1)
        #expect(ed.access.jwtAlgorithms == ["EdDSA"])
    }
}

/// The admin routes: the operator API and the retention feed.
@Suite struct AdminRouteAccessTests {
    static let routes: [(method: HTTPMethod, path: String, status: Int)] = [
        (.get, "/streams", 200), (.get, "/streams/live-1", 200), (.get, "/removed-segments", 200),
        (.delete, "/streams/live-1", 204),
    ]

    @Test("the operator API and the retention feed need the admin scope: 401 without a valid credential, 403 with an ingest one", arguments: Credential.allCases)
    func adminRoutes(_ credential: Credential) async throws {
        let suite = try AccessControlHTTPTests()
        for route in Self.routes {
            let orchestrator = try await suite.orchestrator(try suite.environment())
            // A stream to look at and delete, registered with an admin token.
            let created = suite.send(
                orchestrator, .post, "/streams/live-1/renditions/720p/segments", #"{"sequence":0,"duration":2,"path":"/0.ts"}"#,
                authorization: "Bearer \(Credential.adminSecret)")
            #expect(created.status == .created)
            let answer = suite.send(orchestrator, route.method, route.path, authorization: try await credential.header(suite.factory))
            let expected: (Int, String?) =
                switch credential {
                case .adminToken, .es256JWT: (route.status, nil)
                case .none: (401, #"Bearer realm="hls-orchestrator""#)
                case .wrongToken, .expiredJWT, .algNone, .notYetValidJWT: (401, #"Bearer realm="hls-orchestrator", error="invalid_token""#)
                case .ingestToken, .hs256JWT, .otherStreamJWT, .noScopeJWT, .prefixJWT: (403, nil)
                }
            #expect(answer.status.rawValue == expected.0, "\(route.path) with \(credential)")
            if let challenge = expected.1 {
                #expect(answer.headers["WWW-Authenticate"] == challenge, "\(route.path) with \(credential)")
            }
            if expected.0 == 403 {
                #expect(answer.headers["WWW-Authenticate"]?.contains(#"error="insufficient_scope""#) == true)
            }
        }
    }
}
