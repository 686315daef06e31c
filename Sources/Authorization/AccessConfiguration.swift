/// What may write, as configured: static bearer tokens and the keys JWTs are verified with.
///
/// Built by the app's configuration parsing from `INGEST_TOKENS`, `ADMIN_TOKENS`, `JWT_SECRET`,
/// `JWT_PUBLIC_KEY_FILE` (and their `_FILE` forms); ``AccessControl`` turns it into decisions.
/// With nothing configured the service is open, as before access control existed.
public struct AccessConfiguration: Sendable, Equatable {
    /// Tokens with the `ingest` scope on every stream.
    public var ingestTokens: [Secret] = []
    /// Tokens with the `ingest` and `admin` scopes on every stream.
    public var adminTokens: [Secret] = []
    /// The HS256 key (`JWT_SECRET`), at least ``minimumSecretBytes`` long.
    public var jwtSecret: Secret?
    /// The public key JWTs signed with ES256 or EdDSA are verified with (`JWT_PUBLIC_KEY_FILE`).
    public var jwtPublicKey: PublicKey?

    /// An asymmetric JWT verification key, parsed from PEM.
    public enum PublicKey: Sendable, Equatable {
        /// A P-256 key: tokens signed with `ES256`.
        case es256(pem: String)
        /// An Ed25519 key: tokens signed with `EdDSA`.
        case edDSA(pem: String)

        /// The JWS `alg` this key verifies.
        public var algorithm: String {
            switch self {
            case .es256: "ES256"
            case .edDSA: "EdDSA"
            }
        }
    }

    /// The shortest HS256 key accepted: 32 bytes, the size of the hash (RFC 7518 §3.2).
    public static let minimumSecretBytes = 32

    /// Nothing configured: every route is open.
    public init() {}

    /// Whether no credential is configured (the service is open).
    public var isOpen: Bool { ingestTokens.isEmpty && adminTokens.isEmpty && jwtSecret == nil && jwtPublicKey == nil }

    /// The JWS algorithms accepted, in a fixed order (`HS256`, then the public key's).
    public var jwtAlgorithms: [String] {
        (jwtSecret == nil ? [] : ["HS256"]) + (jwtPublicKey.map { [$0.algorithm] } ?? [])
    }
}

/// Why a credential setting cannot be used; the app reports it naming its variable.
public enum CredentialSettingError: Error, Equatable, Sendable {
    /// A token has a character outside RFC 6750's `b64token` (`A-Z a-z 0-9 - . _ ~ + /`, then `=`).
    case invalidTokenCharacters(position: Int)
    /// No token in a list or file (only blank lines and comments).
    case noToken
    /// An HS256 secret shorter than ``AccessConfiguration/minimumSecretBytes``.
    case secretTooShort(bytes: Int)
    /// A PEM file that is neither a P-256 nor an Ed25519 public key.
    case unsupportedPublicKey

    /// What a valid value looks like, for the start-up error.
    public var expected: String {
        switch self {
        case .invalidTokenCharacters(let position):
            "tokens of the characters A-Z a-z 0-9 - . _ ~ + / (then = padding) only; token \(position) has others"
        case .noToken:
            "at least one token (one per line in a file, comma-separated in a variable; # comments and blank lines ignored)"
        case .secretTooShort(let bytes):
            "an HS256 secret of at least \(AccessConfiguration.minimumSecretBytes) bytes (RFC 7518 3.2); this one has \(bytes)"
        case .unsupportedPublicKey:
            "a PEM public key (-----BEGIN PUBLIC KEY-----) for ES256 (P-256) or EdDSA (Ed25519)"
        }
    }
}

/// Parsing of token lists: the comma-separated variable and the one-per-line file.
public enum TokenList {
    /// The tokens of `INGEST_TOKENS`/`ADMIN_TOKENS`: comma-separated, surrounding whitespace and
    /// empty entries ignored.
    /// - Throws: ``CredentialSettingError`` for a token with a character a bearer token cannot
    ///   have, or no token at all.
    public static func parse(commaSeparated text: String) throws(CredentialSettingError) -> [Secret] {
        try validated(text.split(separator: ",").map(trimmed))
    }

    /// The tokens of a `_FILE`: one per line; blank lines and lines starting with `#` ignored.
    /// - Throws: ``CredentialSettingError`` as ``parse(commaSeparated:)``.
    public static func parse(lines text: String) throws(CredentialSettingError) -> [Secret] {
        try validated(text.split(whereSeparator: \.isNewline).map(trimmed).filter { !$0.hasPrefix("#") })
    }

    /// `text` without spaces, tabs and carriage returns at either end.
    private static func trimmed(_ text: Substring) -> Substring {
        let isBlank: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\r" }
        guard let first = text.firstIndex(where: { !isBlank($0) }), let last = text.lastIndex(where: { !isBlank($0) })
        else { return "" }
        return text[first...last]
    }

    private static func validated(_ entries: [Substring]) throws(CredentialSettingError) -> [Secret] {
        let tokens = entries.filter { !$0.isEmpty }
        guard !tokens.isEmpty else { throw .noToken }
        for (index, token) in tokens.enumerated() where !isBearerToken(token) {
            throw .invalidTokenCharacters(position: index + 1)
        }
        return tokens.map { Secret(String($0)) }
    }

    /// Whether `token` is an RFC 6750 §2.1 `b64token`: `1*( ALPHA / DIGIT / "-" / "." / "_" /
    /// "~" / "+" / "/" ) *"="`.
    static func isBearerToken(_ token: Substring) -> Bool {
        let bytes = Array(token.utf8)
        let body = bytes.prefix { $0 != UInt8(ascii: "=") }
        guard !body.isEmpty, bytes.dropFirst(body.count).allSatisfy({ $0 == UInt8(ascii: "=") }) else { return false }
        return body.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"):
                true
            case UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"), UInt8(ascii: "+"),
                UInt8(ascii: "/"):
                true
            default:
                false
            }
        }
    }
}
