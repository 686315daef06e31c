import Crypto

/// The static bearer tokens (`INGEST_TOKENS`, `ADMIN_TOKENS`), kept only as SHA-256 digests and
/// compared in constant time.
///
/// A presented token is hashed once, then compared with every configured digest, byte by byte,
/// with no early exit — neither within a digest nor across the list — so the time taken tells
/// nothing about how much of a token was right, nor which one it resembled. Hashing first makes
/// every comparison the same length, whatever the lengths of the tokens.
struct StaticTokens: Sendable {
    /// The digest of each configured token, with whether it is an admin token.
    private let digests: [[UInt8]]
    private let isAdmin: [Bool]

    /// The rights a static token carries.
    enum Role: Equatable, Sendable {
        /// `INGEST_TOKENS`: ingest on every stream.
        case ingest
        /// `ADMIN_TOKENS`: ingest and the operator API, on every stream.
        case admin
    }

    init(ingest: [Secret], admin: [Secret]) {
        let all = ingest.map { ($0, false) } + admin.map { ($0, true) }
        digests = all.map { Self.digest($0.0.value) }
        isAdmin = all.map(\.1)
    }

    /// Whether no token is configured.
    var isEmpty: Bool { digests.isEmpty }

    /// The role of `token` if it is one of the configured tokens (admin wins when it is in both).
    /// - Complexity: O(*n*) in the number of tokens, the same for any presented token of a given
    ///   length: one SHA-256, then all *n* digests compared in full.
    func match(_ token: String) -> Role? {
        let presented = Self.digest(token)
        var ingestMatch = 0
        var adminMatch = 0
        for index in digests.indices {
            let configured = digests[index]
            var difference: UInt8 = 0
            for byte in 0..<presented.count {
                difference |= configured[byte] ^ presented[byte]
            }
            // 1 when difference == 0, else 0, without a branch on the secret.
            let equal = ((Int(difference) &- 1) >> 8) & 1
            let admin = isAdmin[index] ? 1 : 0
            adminMatch |= equal & admin
            ingestMatch |= equal & (1 &- admin)
        }
        if adminMatch == 1 { return .admin }
        if ingestMatch == 1 { return .ingest }
        return nil
    }

    private static func digest(_ token: String) -> [UInt8] {
        Array(SHA256.hash(data: Array(token.utf8)))
    }
}
