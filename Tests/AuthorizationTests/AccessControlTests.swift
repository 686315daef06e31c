@testable import Authorization
import OrchestratorTesting
import FoundationEssentials
import Testing

@Suite struct TokenListTests {
    @Test("a comma-separated list drops surrounding whitespace and empty entries")
    func commaSeparated() throws {
        let tokens = try TokenList.parse(commaSeparated: " old-token , new-token,,")
        #expect(tokens.map(\.value) == ["old-token", "new-token"])
    }

    @Test("a token file has one token per line; blank lines and # comments are ignored, CRLF too")
    func lines() throws {
        let tokens = try TokenList.parse(lines: "# transcoders\r\nabc123\r\n\n  # rotated 2026-11\n def/456== \n")
        #expect(tokens.map(\.value) == ["abc123", "def/456=="])
    }

    @Test(
        "a list without tokens, or with characters a bearer token cannot have, is refused",
        arguments: [" , ", "good,has space", "quoted\"", "a=b", "=x", "tok\u{e9}n"])
    func refused(text: String) {
        #expect(throws: CredentialSettingError.self) { try TokenList.parse(commaSeparated: text) }
    }

    @Test("a secret never prints")
    func secretRedacted() {
        let secret = Secret("s3cr3t-value")
        #expect("\(secret)" == "<redacted>")
        #expect(String(reflecting: secret) == "<redacted>")
        #expect(!"\([secret])".contains("s3cr3t"))
        var configuration = AccessConfiguration()
        configuration.ingestTokens = [secret]
        #expect(!"\(configuration)".contains("s3cr3t"))
        #expect(!String(reflecting: configuration).contains("s3cr3t"))
    }
}

@Suite struct StaticTokenTests {
    let tokens = StaticTokens(ingest: [Secret("ingest-one"), Secret("ingest-two")], admin: [Secret("admin-one")])

    @Test(
        "only a configured token matches, whole: not a prefix, an extension or a case variant",
        arguments: [
            ("ingest-one", StaticTokens.Role?.some(.ingest)), ("ingest-two", .ingest), ("admin-one", .admin),
            ("ingest-on", nil), ("ingest-one1", nil), ("INGEST-ONE", nil), ("", nil), ("admin-one ", nil),
        ])
    func match(token: String, role: StaticTokens.Role?) {
        #expect(tokens.match(token) == role)
    }

    @Test("a token in both lists is an admin token")
    func adminWins() {
        let both = StaticTokens(ingest: [Secret("same")], admin: [Secret("same")])
        #expect(both.match("same") == .admin)
    }
}

@Suite struct DecisionTests {
    @Test(
        "the scope and stream decision",
        arguments: [
            (Grant(scopes: ["ingest"], streams: nil), RequiredScope.ingest(stream: "a"), AuthorizationFailure?.none),
            (Grant(scopes: ["admin"], streams: nil), .ingest(stream: "a"), nil),
            (Grant(scopes: [], streams: nil), .ingest(stream: "a"), .forbiddenScope),
            (Grant(scopes: ["read"], streams: nil), .ingest(stream: "a"), .forbiddenScope),
            (Grant(scopes: ["ingest"], streams: ["a"]), .ingest(stream: "a"), nil),
            (Grant(scopes: ["ingest"], streams: ["b"]), .ingest(stream: "a"), .forbiddenStream),
            (Grant(scopes: ["ingest"], streams: []), .ingest(stream: "a"), .forbiddenStream),
            (Grant(scopes: ["ingest"], streams: ["live-*"]), .ingest(stream: "live-42"), nil),
            (Grant(scopes: ["ingest"], streams: ["live-*"]), .ingest(stream: "live-"), nil),
            (Grant(scopes: ["ingest"], streams: ["live-*"]), .ingest(stream: "vod-42"), .forbiddenStream),
            (Grant(scopes: ["ingest"], streams: ["live"]), .ingest(stream: "live-42"), .forbiddenStream),
            (Grant(scopes: ["ingest"], streams: ["*"]), .ingest(stream: "anything"), nil),
            (Grant(scopes: ["ingest"], streams: nil), .admin, .forbiddenScope),
            (Grant(scopes: ["admin"], streams: nil), .admin, nil),
            (Grant(scopes: ["admin"], streams: ["*"]), .admin, .forbiddenStream),
        ])
    func decide(grant: Grant, required: RequiredScope, expected: AuthorizationFailure?) {
        #expect(AccessControl.decide(grant, for: required) == expected)
    }

    @Test(
        "the bearer token of an Authorization header",
        arguments: [
            ("Bearer abc", String?.some("abc")), ("bearer abc", "abc"), ("BEARER   abc  ", "abc"), ("Bearer", ""),
            ("Bearer ", ""), ("Basic YWxhZGRpbjpvcGVuc2VzYW1l", nil), ("Bearerabc", nil),
        ])
    func bearer(header: String, token: String?) {
        #expect(AccessControl.bearerToken(header) == token)
    }

    @Test("the challenges of RFC 6750 section 3")
    func challenges() {
        #expect(AccessControl.challenge(.missing, .ingest(stream: "a")) == #"Bearer realm="hls-orchestrator""#)
        #expect(AccessControl.challenge(.invalid, .admin) == #"Bearer realm="hls-orchestrator", error="invalid_token""#)
        #expect(AccessControl.challenge(.expired, .admin) == #"Bearer realm="hls-orchestrator", error="invalid_token""#)
        #expect(
            AccessControl.challenge(.forbiddenStream, .ingest(stream: "a"))
                == #"Bearer realm="hls-orchestrator", error="insufficient_scope", scope="ingest""#)
        #expect(
            AccessControl.challenge(.forbiddenScope, .admin)
                == #"Bearer realm="hls-orchestrator", error="insufficient_scope", scope="admin""#)
    }
}

@Suite struct JWTVerificationTests {
    let factory: TokenFactory
    let now = TokenFactory.now

    init() throws { factory = try TokenFactory() }

    /// Access control with the HS256 secret and the public key `publicKey` (ES256 by default).
    func access(hmac: Bool = true, publicKey: String? = nil) async throws -> AccessControl {
        var configuration = AccessConfiguration()
        configuration.ingestTokens = [Secret("static-ingest")]
        if hmac { configuration.jwtSecret = Secret(factory.hmacSecret) }
        if let publicKey { configuration.jwtPublicKey = try AccessControl.publicKey(pem: publicKey) }
        return try await AccessControl(configuration)
    }

    /// nil when allowed, else the failure.
    func outcome(_ access: AccessControl, _ token: String, _ required: RequiredScope = .ingest(stream: "live-1"), at time: Date? = nil)
        -> AuthorizationFailure?
    {
        do {
            try access.authorize("Bearer \(token)", for: required, now: time ?? now)
            return nil
        } catch {
            return error.failure
        }
    }

    @Test("the PEM's key type picks the algorithm: P-256 is ES256, Ed25519 is EdDSA; other PEMs are refused")
    func publicKeyKinds() throws {
        #expect(try AccessControl.publicKey(pem: factory.es256PEM).algorithm == "ES256")
        #expect(try AccessControl.publicKey(pem: factory.edDSAPEM).algorithm == "EdDSA")
        #expect(throws: CredentialSettingError.unsupportedPublicKey) {
            try AccessControl.publicKey(pem: "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
        }
        #expect(throws: CredentialSettingError.unsupportedPublicKey) { try AccessControl.publicKey(pem: "not a key") }
    }

    @Test("HS256, ES256 and EdDSA tokens signed with the configured keys are accepted")
    func validTokens() async throws {
        let claims = TokenFactory.claims()
        #expect(outcome(try await access(), try await factory.hs256(claims)) == nil)
        #expect(outcome(try await access(hmac: false, publicKey: factory.es256PEM), try await factory.es256(claims)) == nil)
        #expect(outcome(try await access(hmac: false, publicKey: factory.edDSAPEM), try await factory.edDSA(claims)) == nil)
        // Both configured: each algorithm with its own key.
        let both = try await access(publicKey: factory.es256PEM)
        #expect(outcome(both, try await factory.hs256(claims)) == nil)
        #expect(outcome(both, try await factory.es256(claims)) == nil)
        #expect(both.configuration.jwtAlgorithms == ["HS256", "ES256"])
    }

    @Test("alg none is refused, with or without a signature part")
    func algNone() async throws {
        let token = try TokenFactory.unsecured(TokenFactory.claims(scope: "ingest admin"))
        let access = try await access(publicKey: factory.es256PEM)
        #expect(outcome(access, token) == .invalid)
        #expect(outcome(access, String(token.dropLast())) == .invalid)
        #expect(outcome(access, token + "c2ln") == .invalid)
    }

    @Test("an HS256 token keyed with the public key's PEM is refused, whether HS256 is configured or not")
    func algorithmConfusion() async throws {
        let claims = TokenFactory.claims(scope: "ingest admin")
        for pem in [factory.es256PEM, factory.edDSAPEM] {
            let forged = try await factory.hs256(keyedWith: pem, claims)
            #expect(outcome(try await access(hmac: false, publicKey: pem), forged) == .invalid)
            #expect(outcome(try await access(hmac: true, publicKey: pem), forged) == .invalid)
        }
    }

    @Test("a token of an algorithm that is configured for another key, or not at all, is refused")
    func wrongKeys() async throws {
        let claims = TokenFactory.claims()
        // ES256 token, only HS256 configured.
        #expect(outcome(try await access(), try await factory.es256(claims)) == .invalid)
        // ES256 token from another key pair.
        let other = try TokenFactory()
        #expect(outcome(try await access(hmac: false, publicKey: factory.es256PEM), try await other.es256(claims)) == .invalid)
        // EdDSA token, ES256 key configured.
        #expect(outcome(try await access(hmac: false, publicKey: factory.es256PEM), try await factory.edDSA(claims)) == .invalid)
        // HS256 with another secret.
        let wrongSecret = try await factory.hs256(keyedWith: "another-secret-that-is-long-enough-0123", claims)
        #expect(outcome(try await access(), wrongSecret) == .invalid)
    }

    @Test("a tampered payload fails the signature")
    func tampered() async throws {
        let token = try await factory.hs256(TokenFactory.claims(scope: "ingest", streams: ["other"]))
        let parts = token.split(separator: ".").map(String.init)
        let forgedClaims = TokenFactory.claims(scope: "ingest admin")
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .secondsSince1970
        let payload = TokenFactory.base64URL(Array(try encoder.encode(forgedClaims)))
        #expect(outcome(try await access(), [parts[0], payload, parts[2]].joined(separator: ".")) == .invalid)
    }

    @Test("exp is required and enforced, nbf honoured, both with 30 seconds of allowance")
    func timeClaims() async throws {
        let access = try await access()
        #expect(outcome(access, try await factory.hs256(TokenFactory.claims(exp: nil))) == .invalid)
        #expect(outcome(access, try await factory.hs256(TokenFactory.claims(exp: -3600))) == .expired)
        #expect(outcome(access, try await factory.hs256(TokenFactory.claims(exp: -31))) == .expired)
        #expect(outcome(access, try await factory.hs256(TokenFactory.claims(exp: -29))) == nil)
        #expect(outcome(access, try await factory.hs256(TokenFactory.claims(nbf: 3600))) == .invalid)
        #expect(outcome(access, try await factory.hs256(TokenFactory.claims(nbf: 31))) == .invalid)
        #expect(outcome(access, try await factory.hs256(TokenFactory.claims(nbf: 29))) == nil)
        // The same token, later: the time is the caller's, never read here.
        let token = try await factory.hs256(TokenFactory.claims(exp: 60))
        #expect(outcome(access, token, at: now) == nil)
        #expect(outcome(access, token, at: now.addingTimeInterval(91)) == .expired)
    }

    @Test("scope and streams claims decide what a valid JWT may do")
    func claimsDecide() async throws {
        let access = try await access()
        let prefix = try await factory.hs256(TokenFactory.claims(streams: ["live-*"]))
        #expect(outcome(access, prefix, .ingest(stream: "live-1")) == nil)
        #expect(outcome(access, prefix, .ingest(stream: "studio")) == .forbiddenStream)
        let noScope = try await factory.hs256(TokenFactory.claims(scope: nil))
        #expect(outcome(access, noScope) == .forbiddenScope)
        let admin = try await factory.hs256(TokenFactory.claims(scope: "admin"))
        #expect(outcome(access, admin, .admin) == nil)
        #expect(outcome(access, admin, .ingest(stream: "x")) == nil)
        let ingest = try await factory.hs256(TokenFactory.claims(scope: "ingest"))
        #expect(outcome(access, ingest, .admin) == .forbiddenScope)
    }

    @Test("static tokens: missing, wrong and right; a static token is not mistaken for a JWT")
    func staticTokens() async throws {
        let access = try await access()
        #expect(throws: AccessDenied.self) { try access.authorize(nil, for: .admin, now: now) }
        do {
            try access.authorize(nil, for: .ingest(stream: "a"), now: now)
        } catch {
            #expect(error.failure == .missing)
        }
        #expect(outcome(access, "static-ingest") == nil)
        #expect(outcome(access, "static-ingest", .admin) == .forbiddenScope)
        #expect(outcome(access, "static-ingesT") == .invalid)
        #expect(outcome(access, "a.b.c") == .invalid)
        #expect(outcome(access, "") == .invalid)
    }

    @Test("the open access control has no credential")
    func open() {
        #expect(AccessControl.open.isOpen)
        #expect(AccessConfiguration().jwtAlgorithms.isEmpty)
    }
}
