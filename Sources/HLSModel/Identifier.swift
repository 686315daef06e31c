/// The rule shared by ``StreamID`` and ``RenditionName``: 1 to 128 URL-unreserved characters
/// (RFC 3986 §2.3: `A-Z a-z 0-9 . _ ~ -`), and not `.` or `..`.
///
/// The rule keeps an identifier safe to place, unescaped, in a URL path segment, a log line or
/// a storage key (no slash, no percent sign, no space, no dot-segment).
enum IdentifierRule {
    /// The longest identifier accepted, in characters (all ASCII, so also in bytes).
    static let maximumLength = 128

    /// Returns `nil` when `raw` is a valid identifier, else the sentence explaining why not;
    /// `field` names the identifier in that sentence (for example `stream_id`).
    static func violation(in raw: String, field: String) -> String? {
        violation(inUTF8: raw.utf8, field: field)
    }

    /// ``violation(in:field:)`` over the identifier's UTF-8 bytes.
    static func violation(inUTF8 utf8: some Collection<UInt8>, field: String) -> String? {
        if utf8.isEmpty {
            return "\(field) is missing or empty"
        }
        var count = 0
        var dots = 0
        for byte in utf8 {
            guard isUnreserved(byte) else {
                return "\(field) may contain only the characters A-Z, a-z, 0-9, '.', '_', '~' and '-'"
            }
            count += 1
            if byte == UInt8(ascii: ".") { dots += 1 }
        }
        // Every byte is ASCII here, so the byte count is the character count.
        if count > maximumLength {
            return "\(field) must be at most \(maximumLength) characters long"
        }
        if dots == count && count <= 2 {
            return "\(field) must not be \".\" or \"..\""
        }
        return nil
    }

    /// Whether `byte` is an RFC 3986 unreserved character.
    @inline(__always)
    static func isUnreserved(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "a")...UInt8(ascii: "z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"),
            UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"), UInt8(ascii: "-"):
            return true
        default:
            return false
        }
    }
}

/// The identifier of a live stream, as it appears in `/streams/{stream_id}/...`.
///
/// Valid by construction: 1 to 128 characters from `A-Z a-z 0-9 . _ ~ -`, and not `.` or `..`.
public struct StreamID: RawRepresentable, Codable, Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The identifier text, already validated.
    public let rawValue: String

    /// Validates `raw`, throwing a ``ValidationError`` whose message names `stream_id`.
    public init(validating raw: String) throws(ValidationError) {
        if let violation = IdentifierRule.violation(in: raw, field: "stream_id") {
            throw ValidationError(violation)
        }
        self.rawValue = raw
    }

    /// Validates UTF-8 `bytes` (for example a path component, without making a string first)
    /// by the same rule as ``init(validating:)``.
    public init(validatingUTF8 bytes: UnsafeBufferPointer<UInt8>) throws(ValidationError) {
        if let violation = IdentifierRule.violation(inUTF8: bytes, field: "stream_id") {
            throw ValidationError(violation)
        }
        self.rawValue = String(decoding: bytes, as: UTF8.self)
    }

    /// Validates `rawValue` by the same rule as ``init(validating:)``; `nil` when invalid.
    public init?(rawValue: String) {
        guard IdentifierRule.violation(in: rawValue, field: "stream_id") == nil else { return nil }
        self.rawValue = rawValue
    }

    /// The identifier text.
    public var description: String { rawValue }

    /// Orders identifiers by their text (byte order, since every character is ASCII).
    public static func < (lhs: StreamID, rhs: StreamID) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// The name of one rendition (variant) of a stream, as in `/renditions/{rendition}/...`
/// (for example `720p`).
///
/// Valid by construction: 1 to 128 characters from `A-Z a-z 0-9 . _ ~ -`, and not `.` or `..`.
public struct RenditionName: RawRepresentable, Codable, Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The name text, already validated.
    public let rawValue: String

    /// Validates `raw`, throwing a ``ValidationError`` whose message names `rendition`.
    public init(validating raw: String) throws(ValidationError) {
        if let violation = IdentifierRule.violation(in: raw, field: "rendition") {
            throw ValidationError(violation)
        }
        self.rawValue = raw
    }

    /// Validates UTF-8 `bytes` (for example a path component, without making a string first)
    /// by the same rule as ``init(validating:)``.
    public init(validatingUTF8 bytes: UnsafeBufferPointer<UInt8>) throws(ValidationError) {
        if let violation = IdentifierRule.violation(inUTF8: bytes, field: "rendition") {
            throw ValidationError(violation)
        }
        self.rawValue = String(decoding: bytes, as: UTF8.self)
    }

    /// Validates `rawValue` by the same rule as ``init(validating:)``; `nil` when invalid.
    public init?(rawValue: String) {
        guard IdentifierRule.violation(in: rawValue, field: "rendition") == nil else { return nil }
        self.rawValue = rawValue
    }

    /// The name text.
    public var description: String { rawValue }

    /// Orders names by their text (byte order, since every character is ASCII).
    public static func < (lhs: RenditionName, rhs: RenditionName) -> Bool { lhs.rawValue < rhs.rawValue }
}
