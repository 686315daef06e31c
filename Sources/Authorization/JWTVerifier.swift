import FoundationEssentials
import JWTKit

/// The claims this service reads from a JWT.
///
/// `exp` is required (a token without it does not decode); `nbf`, `scope` (space-separated:
/// `ingest`, `admin`) and `streams` (stream ids, or prefixes ending in `*`; absent = every
/// stream) are optional. Other claims are ignored.
struct AccessClaims: JWTPayload, Equatable {
    var exp: ExpirationClaim
    var nbf: NotBeforeClaim?
    var scope: String?
    var streams: [String]?

    /// jwt-kit's own check, against the wall clock. The service does not call it: ``AccessControl``
    /// checks `exp` and `nbf` against the time it is handed, with its clock-skew allowance.
    func verify(using algorithm: some JWTAlgorithm) async throws {
        try exp.verifyNotExpired()
        try nbf?.verifyNotBefore()
    }
}

/// Verifies JWT signatures with jwt-kit, synchronously, for the configured algorithms only.
///
/// jwt-kit's key collection is an actor; the algorithms it builds verify synchronously. They are
/// taken out of it once, at start-up (``make(_:)``), so a request on a libmicrohttpd worker
/// thread never awaits. A token is accepted only if its header's `alg` names one of them:
/// `none` never does, and an `HS256` token is checked against `JWT_SECRET` alone, never against
/// the bytes of the public key (no algorithm confusion).
struct JWTVerifier: Sendable {
    /// The configured algorithms by their JWS name (`HS256`, `ES256`, `EdDSA`).
    let algorithms: [String: any JWTAlgorithm]
    private let parser = DefaultJWTParser()

    /// Why a token did not verify (its time claims are checked elsewhere).
    enum Failure: Error, Equatable {
        /// Not three base64url parts, undecodable JSON, a missing or mistyped `exp`, `crit` present.
        case malformed
        /// `alg` is `none` or any algorithm that is not configured.
        case algorithmNotAccepted
        /// The signature does not verify.
        case badSignature
    }

    /// The verifier for `configuration`'s keys (none: a verifier that accepts nothing).
    /// - Throws: ``CredentialSettingError/unsupportedPublicKey`` for a PEM that is neither a
    ///   P-256 nor an Ed25519 public key.
    static func make(_ configuration: AccessConfiguration) async throws(CredentialSettingError) -> JWTVerifier {
        var algorithms: [String: any JWTAlgorithm] = [:]
        do {
            if let secret = configuration.jwtSecret {
                let keys = JWTKeyCollection()
                await keys.add(hmac: HMACKey(from: secret.value), digestAlgorithm: .sha256)
                algorithms["HS256"] = try await keys.getKey()
            }
            if let publicKey = configuration.jwtPublicKey {
                let keys = JWTKeyCollection()
                switch publicKey {
                case .es256(let pem): await keys.add(ecdsa: try ES256PublicKey(pem: pem))
                case .edDSA(let pem): await keys.add(eddsa: try EdDSA.PublicKey(pem: pem))
                }
                algorithms[publicKey.algorithm] = try await keys.getKey()
            }
        } catch {
            throw .unsupportedPublicKey
        }
        return JWTVerifier(algorithms: algorithms)
    }

    /// Which algorithm a PEM public key verifies with: ES256 for P-256, EdDSA for Ed25519.
    /// - Throws: ``CredentialSettingError/unsupportedPublicKey`` for anything else.
    static func publicKey(pem: String) throws(CredentialSettingError) -> AccessConfiguration.PublicKey {
        if (try? ES256PublicKey(pem: pem)) != nil { return .es256(pem: pem) }
        if (try? EdDSA.PublicKey(pem: pem)) != nil { return .edDSA(pem: pem) }
        throw .unsupportedPublicKey
    }

    /// The claims of `token` if its signature verifies with the algorithm its header names.
    func verify(_ token: String) -> Result<AccessClaims, Failure> {
        let bytes = Array(token.utf8)
        guard let lastDot = bytes.lastIndex(of: UInt8(ascii: ".")) else { return .failure(.malformed) }
        let parsed: (header: JWTHeader, payload: AccessClaims, signature: Data)
        do {
            parsed = try parser.parse(bytes, as: AccessClaims.self)
        } catch {
            return .failure(.malformed)
        }
        // RFC 7515 §4.1.11: extensions marked critical that are not understood make it invalid.
        guard parsed.header.crit == nil else { return .failure(.malformed) }
        guard let name = parsed.header.alg, let algorithm = algorithms[name], algorithm.name == name else {
            return .failure(.algorithmNotAccepted)
        }
        // The JWS signing input: the encoded header and payload, as sent (RFC 7515 §5.2).
        guard (try? algorithm.verify(parsed.signature, signs: bytes[..<lastDot])) == true else {
            return .failure(.badSignature)
        }
        return .success(parsed.payload)
    }
}
