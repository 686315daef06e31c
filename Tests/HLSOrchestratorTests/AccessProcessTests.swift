import Foundation
import MicroHTTPD
import OrchestratorTesting
import Testing

/// Access control in the built binary: configuration errors and the prepared JWT keys as `main`
/// wires them.
@Suite struct AccessProcessTests {
    @Test("INGEST_TOKENS_FILE naming a missing file stops start-up with exit status 2 and a line naming it")
    func missingTokenFile() async throws {
        let missing = "/nonexistent-\(UUID().uuidString)/ingest-tokens"
        let process = try ServiceProcess(environment: ["PORT": "0", "INGEST_TOKENS_FILE": missing])
        #expect(try await process.waitForExit() == 2)
        let message = process.standardError
        #expect(message.split(separator: "\n").count == 1)
        #expect(message.contains("INGEST_TOKENS_FILE") && message.contains(missing), "\(message)")
    }

    @Test("INGEST_TOKENS and INGEST_TOKENS_FILE together stop start-up with exit status 2, without showing the token")
    func both() async throws {
        let process = try ServiceProcess(
            environment: ["PORT": "0", "INGEST_TOKENS": "visible-secret-token", "INGEST_TOKENS_FILE": "/etc/hostname"])
        #expect(try await process.waitForExit() == 2)
        #expect(process.standardError.contains("INGEST_TOKENS_FILE"))
        #expect(!process.standardError.contains("visible-secret-token"))
    }

    @Test("with a token file and a public key the binary refuses writes without a token, accepts the token and a JWT")
    func securedProcess() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("hls-auth-process-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let token = "process-ingest-token-0123456789"
        let factory = try TokenFactory()
        try "# ingest\n\(token)\n".write(to: directory.appendingPathComponent("tokens"), atomically: true, encoding: .utf8)
        try factory.edDSAPEM.write(to: directory.appendingPathComponent("key.pem"), atomically: true, encoding: .utf8)
        let process = try ServiceProcess(
            environment: [
                "PORT": "0", "BIND_ADDRESS": "127.0.0.1", "LOG_LEVEL": "debug",
                "INGEST_TOKENS_FILE": directory.appendingPathComponent("tokens").path,
                "JWT_PUBLIC_KEY_FILE": directory.appendingPathComponent("key.pem").path,
            ])
        let port = try #require(try await process.waitForPort())
        // Valid for an hour from the real clock: the process reads the system time.
        let lifetime = Date().timeIntervalSince1970 + 3600 - TokenFactory.now.timeIntervalSince1970
        let jwt = try await factory.edDSA(TokenFactory.claims(streams: ["cam-*"], exp: lifetime))
        let (refused, accepted, byJWT, wrongStream) = try await offPool {
            let connection = try HTTPClientConnection(port: port)
            let body = Array(#"{"sequence":0,"duration":2.0,"path":"/0.ts"}"#.utf8)
            func post(_ stream: String, _ authorization: String?) throws -> HTTPClientResponse {
                try connection.request(
                    .post, "/streams/\(stream)/renditions/r/segments",
                    headers: authorization.map { [("Authorization", $0)] } ?? [], body: body)
            }
            return (
                try post("cam-1", nil), try post("cam-1", "Bearer \(token)"), try post("cam-2", "Bearer \(jwt)"),
                try post("studio", "Bearer \(jwt)")
            )
        }
        #expect(refused.status == .unauthorized)
        #expect(refused.headers["WWW-Authenticate"] == #"Bearer realm="hls-orchestrator""#)
        #expect(accepted.status == .created)
        #expect(byJWT.status == .created, "\(byJWT.text)")
        #expect(wrongStream.status == .forbidden)
        process.send(signal: SIGTERM)
        #expect(try await process.waitForExit() == 0)
        let log = process.standardError
        #expect(log.contains("access control enabled"))
        #expect(!log.contains(token) && !log.contains(jwt))
    }
}
