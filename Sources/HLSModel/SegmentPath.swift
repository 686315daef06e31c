/// The URI of a media segment as it is written into the playlist: a relative path such as
/// `/segments/42.ts` or an absolute URL.
///
/// Valid by construction: not empty, at most 2048 UTF-8 bytes, no control character
/// (U+0000–U+001F, U+007F–U+009F) or line separator (U+2028, U+2029), and not starting with
/// `#`. A line break of any kind would end the URI line for some parser and let the rest inject
/// playlist tags; a leading `#` would turn the URI line itself into a tag or a comment
/// (RFC 8216 §4.1).
public struct SegmentPath: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The longest accepted path, in UTF-8 bytes.
    public static let maximumByteCount = 2048

    /// The path text, already validated.
    public let rawValue: String

    /// Validates `raw`, throwing a ``ValidationError`` whose message names `path`.
    public init(validating raw: String) throws(ValidationError) {
        if let violation = Self.violation(in: raw) {
            throw ValidationError(violation)
        }
        self.rawValue = raw
    }

    /// Validates `rawValue` by the same rule as ``init(validating:)``; `nil` when invalid.
    public init?(rawValue: String) {
        guard Self.violation(in: rawValue) == nil else { return nil }
        self.rawValue = rawValue
    }

    /// The path text.
    public var description: String { rawValue }

    private static func violation(in raw: String) -> String? {
        let utf8 = raw.utf8
        guard let first = utf8.first else {
            return "path must not be empty"
        }
        guard utf8.count <= maximumByteCount else {
            return "path must be at most \(maximumByteCount) bytes long"
        }
        if first == UInt8(ascii: "#") {
            return "path must not start with '#'"
        }
        return PlaylistLineRule.violation(in: raw, field: "path")
    }
}
