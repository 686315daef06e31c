import Foundation
import JWTKit

/// The claims a test token carries; every one optional, so that tokens missing `exp` can be made.
public struct TestClaims: JWTPayload {
    public var exp: ExpirationClaim?
    public var nbf: NotBeforeClaim?
    public var scope: String?
    public var streams: [String]?

    public init(exp: ExpirationClaim?, nbf: NotBeforeClaim?, scope: String?, streams: [String]?) {
        self.exp = exp
        self.nbf = nbf
        self.scope = scope
        self.streams = streams
    }

    public func verify(using algorithm: some JWTAlgorithm) async throws {}
}

/// Keys made in the test, and tokens signed with them by jwt-kit (HS256, ES256, EdDSA), for the
/// access-control tests.
public struct TokenFactory: Sendable {
    /// The service's fixed "now" in these tests.
    public static let now = Date(timeIntervalSince1970: 1_800_000_000)

    public let hmacSecret = String(repeating: "k", count: 20) + "-hs256-test-secret-0123"
    public let es256 = ES256PrivateKey()
    public let edDSA: EdDSA.PrivateKey

    public init() throws {
        edDSA = try EdDSA.PrivateKey(curve: .ed25519)
    }

    /// Claims valid at ``now`` for an hour.
    public static func claims(
        scope: String? = "ingest", streams: [String]? = nil, exp: TimeInterval? = 3600, nbf: TimeInterval? = nil
    ) -> TestClaims {
        TestClaims(
            exp: exp.map { ExpirationClaim(value: now.addingTimeInterval($0)) },
            nbf: nbf.map { NotBeforeClaim(value: now.addingTimeInterval($0)) },
            scope: scope, streams: streams)
    }

    public func hs256(_ claims: TestClaims) async throws -> String {
        try await Self.sign(claims) { await $0.add(hmac: HMACKey(from: hmacSecret), digestAlgorithm: .sha256) }
    }

    public func es256(_ claims: TestClaims) async throws -> String {
        try await Self.sign(claims) { await $0.add(ecdsa: es256) }
    }

    public func edDSA(_ claims: TestClaims) async throws -> String {
        try await Self.sign(claims) { await $0.add(eddsa: edDSA) }
    }

    /// An HS256 token whose HMAC key is the text of `pem`: the classic algorithm-confusion attack
    /// on a verifier that would take the public key's bytes as an HMAC secret.
    public func hs256(keyedWith pem: String, _ claims: TestClaims) async throws -> String {
        try await Self.sign(claims) { await $0.add(hmac: HMACKey(from: pem), digestAlgorithm: .sha256) }
    }

    public var es256PEM: String { es256.publicKey.pemRepresentation }
    public var edDSAPEM: String { edDSA.publicKey.pemRepresentation }

    /// An unsigned token: header `{"alg":"none"}`, the claims, an empty signature.
    public static func unsecured(_ claims: TestClaims) throws -> String {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .secondsSince1970
        let header = base64URL(Array(#"{"alg":"none","typ":"JWT"}"#.utf8))
        return header + "." + base64URL(Array(try encoder.encode(claims))) + "."
    }

    public static func base64URL(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    private static func sign(_ claims: TestClaims, _ add: (JWTKeyCollection) async -> Void) async throws -> String {
        let keys = JWTKeyCollection()
        await add(keys)
        return try await keys.sign(claims)
    }
}
