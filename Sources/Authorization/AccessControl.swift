import FoundationEssentials
import JWTKit

/// What a route needs of a credential.
public enum RequiredScope: Sendable, Equatable {
    /// The `ingest` scope (or `admin`), for the stream with this id: registering segments and
    /// parts, declaring renditions, ending the stream.
    case ingest(stream: String)
    /// The `admin` scope, service-wide: the operator API. A JWT limited to some streams (a
    /// `streams` claim) never grants it.
    case admin

    /// The scope's name, as in the `scope` claim and the `WWW-Authenticate` challenge.
    public var scopeName: String {
        switch self {
        case .ingest: "ingest"
        case .admin: "admin"
        }
    }
}

/// Why a request was refused: 401 for the first three (no usable credential), 403 for the others
/// (a valid credential that does not reach this route). The raw value is the `reason` label of
/// `hls_auth_failures_total`.
public enum AuthorizationFailure: String, Error, CaseIterable, Sendable {
    /// No `Authorization: Bearer` credential.
    case missing
    /// A bearer token that is no configured token and no valid JWT (bad signature, algorithm not
    /// accepted, malformed, not valid yet).
    case invalid
    /// A JWT whose `exp` has passed (beyond the clock-skew allowance).
    case expired
    /// A valid credential without the scope the route needs.
    case forbiddenScope = "forbidden_scope"
    /// A valid credential with the scope, for other streams.
    case forbiddenStream = "forbidden_stream"

    /// Whether this is a 401 (no usable credential) rather than a 403.
    public var isUnauthenticated: Bool {
        switch self {
        case .missing, .invalid, .expired: true
        case .forbiddenScope, .forbiddenStream: false
        }
    }
}

/// A refusal with what the answer says: the failure, the scope the route needed, and a sentence
/// for the JSON body (never the token).
public struct AccessDenied: Error, Equatable, Sendable {
    public let failure: AuthorizationFailure
    public let required: RequiredScope
    public let message: String
}

/// A refusal before the route is considered: no usable credential.
struct Refusal: Error, Equatable {
    let failure: AuthorizationFailure
    let message: String

    init(_ failure: AuthorizationFailure, _ message: String) {
        self.failure = failure
        self.message = message
    }
}

/// What a verified credential grants.
struct Grant: Equatable, Sendable {
    /// `ingest`, `admin` (admin includes ingest).
    var scopes: Set<String>
    /// Stream ids and prefixes ending in `*`; nil for every stream.
    var streams: [String]?
}

/// Decides whether a request's credential may use a route: static tokens compared in constant
/// time, JWTs verified by jwt-kit, then the scope and stream checked by a pure function.
///
/// Built once at start-up (``init(_:)`` awaits jwt-kit's key collection once); after that every
/// call is synchronous and safe from any thread. Time is a parameter: nothing here reads a clock.
public final class AccessControl: Sendable {
    /// What was configured.
    public let configuration: AccessConfiguration
    private let tokens: StaticTokens
    private let verifier: JWTVerifier

    /// How far `exp` and `nbf` may be off the service's clock: 30 seconds, so that a token
    /// minted on a host whose clock runs a little ahead or behind still works at its edges.
    public static let clockSkew: TimeInterval = 30

    /// The realm of every `WWW-Authenticate` challenge.
    public static let realm = "hls-orchestrator"

    /// No credential configured: every route is open.
    public static let open = AccessControl(configuration: AccessConfiguration(), verifier: JWTVerifier(algorithms: [:]))

    /// Prepares `configuration`'s tokens and keys.
    /// - Throws: ``CredentialSettingError`` for a key jwt-kit cannot use.
    public convenience init(_ configuration: AccessConfiguration) async throws(CredentialSettingError) {
        self.init(configuration: configuration, verifier: try await JWTVerifier.make(configuration))
    }

    private init(configuration: AccessConfiguration, verifier: JWTVerifier) {
        self.configuration = configuration
        tokens = StaticTokens(ingest: configuration.ingestTokens, admin: configuration.adminTokens)
        self.verifier = verifier
    }

    /// Whether no credential is configured (every route is open).
    public var isOpen: Bool { configuration.isOpen }

    /// Which PEM public key `pem` is (ES256 or EdDSA), for the configuration to keep.
    /// - Throws: ``CredentialSettingError/unsupportedPublicKey``.
    public static func publicKey(pem: String) throws(CredentialSettingError) -> AccessConfiguration.PublicKey {
        try JWTVerifier.publicKey(pem: pem)
    }

    /// Checks the `Authorization` header `authorization` (nil when absent) for a route needing
    /// `required`, at time `now`.
    /// - Throws: ``AccessDenied`` saying why, when the credential does not reach the route.
    public func authorize(_ authorization: String?, for required: RequiredScope, now: Date) throws(AccessDenied) {
        let grant: Grant
        switch authenticate(authorization, now: now) {
        case .success(let granted): grant = granted
        case .failure(let denied): throw AccessDenied(failure: denied.failure, required: required, message: denied.message)
        }
        if let failure = Self.decide(grant, for: required) {
            throw AccessDenied(failure: failure, required: required, message: Self.message(failure, required))
        }
    }

    /// Who the credential is: a static token's role or a verified JWT's claims.
    private func authenticate(_ authorization: String?, now: Date) -> Result<Grant, Refusal> {
        guard let token = Self.bearerToken(authorization) else {
            return .failure(Refusal(.missing, "this route needs a bearer token: Authorization: Bearer <token>"))
        }
        guard !token.isEmpty else { return .failure(Refusal(.invalid, "the bearer token is empty")) }
        switch tokens.match(token) {
        case .admin: return .success(Grant(scopes: ["ingest", "admin"], streams: nil))
        case .ingest: return .success(Grant(scopes: ["ingest"], streams: nil))
        case nil: break
        }
        guard !verifier.algorithms.isEmpty, token.utf8.count(where: { $0 == UInt8(ascii: ".") }) == 2 else {
            return .failure(Refusal(.invalid, "the bearer token is not valid"))
        }
        switch verifier.verify(token) {
        case .failure(.algorithmNotAccepted):
            return .failure(Refusal(.invalid, "the token's algorithm is not accepted (accepted: \(configuration.jwtAlgorithms.joined(separator: ", ")))"))
        case .failure:
            return .failure(Refusal(.invalid, "the bearer token is not valid"))
        case .success(let claims):
            return Self.timeCheck(claims, now: now).map { claims in
                Grant(
                    scopes: Set((claims.scope ?? "").split(separator: " ").map(String.init)),
                    streams: claims.streams)
            }
        }
    }

    /// `claims` if `now` lies within `nbf` and `exp`, give or take ``clockSkew``.
    static func timeCheck(_ claims: AccessClaims, now: Date) -> Result<AccessClaims, Refusal> {
        // RFC 7519 §4.1.4: not accepted on or after exp.
        if now >= claims.exp.value.addingTimeInterval(clockSkew) {
            return .failure(Refusal(.expired, "the token has expired"))
        }
        // RFC 7519 §4.1.5: not accepted before nbf.
        if let notBefore = claims.nbf?.value, now < notBefore.addingTimeInterval(-clockSkew) {
            return .failure(Refusal(.invalid, "the token is not valid yet (nbf)"))
        }
        return .success(claims)
    }

    /// The token of an `Authorization: Bearer <token>` header (scheme case-insensitive, RFC 7235
    /// §2.1); nil when the header is absent or another scheme; "" for `Bearer` with no token.
    static func bearerToken(_ authorization: String?) -> String? {
        guard let authorization else { return nil }
        let text = authorization.drop { $0 == " " || $0 == "\t" }
        let scheme = text.prefix { $0 != " " && $0 != "\t" }
        guard scheme.lowercased() == "bearer" else { return nil }
        let token = text.dropFirst(scheme.count).drop { $0 == " " || $0 == "\t" }
        return String(token.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }

    /// The pure decision: nil when `grant` reaches `required`, else why not.
    ///
    /// `admin` includes `ingest`. An ingest route needs the stream among `streams` (an id, or a
    /// prefix ending in `*`), or no `streams` claim; an admin route, being service-wide, needs
    /// no `streams` claim at all.
    static func decide(_ grant: Grant, for required: RequiredScope) -> AuthorizationFailure? {
        switch required {
        case .ingest(let stream):
            guard grant.scopes.contains("ingest") || grant.scopes.contains("admin") else { return .forbiddenScope }
            guard let streams = grant.streams else { return nil }
            return streams.contains { Self.matches($0, stream) } ? nil : .forbiddenStream
        case .admin:
            guard grant.scopes.contains("admin") else { return .forbiddenScope }
            return grant.streams == nil ? nil : .forbiddenStream
        }
    }

    /// Whether `pattern` (an id, or a prefix ending in `*`) names `stream`.
    static func matches(_ pattern: String, _ stream: String) -> Bool {
        if pattern.hasSuffix("*") { return stream.hasPrefix(pattern.dropLast()) }
        return pattern == stream
    }

    private static func message(_ failure: AuthorizationFailure, _ required: RequiredScope) -> String {
        switch (failure, required) {
        case (.forbiddenStream, .ingest(let stream)):
            "the token does not cover stream \(stream)"
        case (.forbiddenStream, .admin):
            "the operator API needs a token for every stream (a JWT without a streams claim)"
        default:
            "the token lacks the \(required.scopeName) scope"
        }
    }

    /// The `WWW-Authenticate` challenge for `failure` (RFC 6750 §3): the realm alone when no
    /// token was sent, `error="invalid_token"` for a wrong or expired one, and
    /// `error="insufficient_scope"` with the scope needed for a 403.
    public static func challenge(_ failure: AuthorizationFailure, _ required: RequiredScope) -> String {
        switch failure {
        case .missing: "Bearer realm=\"\(realm)\""
        case .invalid, .expired: "Bearer realm=\"\(realm)\", error=\"invalid_token\""
        case .forbiddenScope, .forbiddenStream:
            "Bearer realm=\"\(realm)\", error=\"insufficient_scope\", scope=\"\(required.scopeName)\""
        }
    }
}
