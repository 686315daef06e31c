/// A URI written inside a quoted-string attribute value, such as the `URI` of `#EXT-X-PART`,
/// `#EXT-X-MAP` or `#EXT-X-PRELOAD-HINT`.
///
/// Valid by construction: not empty, at most 2048 UTF-8 bytes, no control character
/// (U+0000–U+001F, U+007F–U+009F), no line separator (U+2028, U+2029) and no `"`. A
/// quoted-string cannot contain a double quote, a carriage return or a line feed (RFC 8216
/// §4.2); one, or a line break some other parser honours, would end the attribute or the line
/// early and let the rest inject attributes or tags.
public struct QuotedURI: RawRepresentable, Codable, Hashable, Sendable, CustomStringConvertible {
    /// The longest accepted URI, in UTF-8 bytes.
    public static let maximumByteCount = SegmentPath.maximumByteCount

    /// The URI text, already validated.
    public let rawValue: String

    /// Validates `raw`, throwing a ``ValidationError`` whose message names `field`.
    public init(validating raw: String, field: String = "path") throws(ValidationError) {
        if let violation = Self.violation(in: raw, field: field) {
            throw ValidationError(violation)
        }
        self.rawValue = raw
    }

    /// Validates `rawValue` by the same rule as ``init(validating:field:)``; `nil` when invalid.
    public init?(rawValue: String) {
        guard Self.violation(in: rawValue, field: "path") == nil else { return nil }
        self.rawValue = rawValue
    }

    /// The URI text.
    public var description: String { rawValue }

    static func violation(in raw: String, field: String) -> String? {
        let utf8 = raw.utf8
        guard !utf8.isEmpty else { return "\(field) must not be empty" }
        guard utf8.count <= maximumByteCount else {
            return "\(field) must be at most \(maximumByteCount) bytes long"
        }
        if let violation = PlaylistLineRule.violation(in: raw, field: field) {
            return violation
        }
        for byte in utf8 where byte == UInt8(ascii: "\"") {
            return "\(field) must not contain '\"' (it is written inside a quoted URI attribute)"
        }
        return nil
    }
}

/// The URI pattern of a rendition's future partial segments, with `{sequence}` and `{part}`
/// placeholders, for example `/parts/720p/{sequence}.{part}.mp4`; it fills the `URI` of
/// `#EXT-X-PRELOAD-HINT:TYPE=PART` (rfc8216bis §4.4.5.3).
///
/// Valid by construction: a ``QuotedURI`` that contains both placeholders.
public struct PartURITemplate: RawRepresentable, Codable, Hashable, Sendable, CustomStringConvertible {
    /// The template text, already validated.
    public let rawValue: String

    /// The sentence used when a template lacks a placeholder.
    static let placeholderMessage = "part_uri_template must contain both {sequence} and {part}"

    /// Validates `raw`, throwing a ``ValidationError`` whose message names `part_uri_template`.
    public init(validating raw: String) throws(ValidationError) {
        if let violation = QuotedURI.violation(in: raw, field: "part_uri_template") {
            throw ValidationError(violation)
        }
        guard raw.contains("{sequence}"), raw.contains("{part}") else {
            throw ValidationError(Self.placeholderMessage)
        }
        self.rawValue = raw
    }

    /// Validates `rawValue` by the same rule as ``init(validating:)``; `nil` when invalid.
    public init?(rawValue: String) {
        guard (try? Self(validating: rawValue)) != nil else { return nil }
        self.rawValue = rawValue
    }

    /// The template text.
    public var description: String { rawValue }

    /// The URI of part `part` of the segment with transcoder sequence `sequence`: every
    /// `{sequence}` and `{part}` replaced by the decimal numbers.
    ///
    /// The result is a valid quoted-string value: the placeholders become digits only.
    /// - Complexity: O(*n*) in the length of the template.
    public func uri(sequence: SequenceNumber, part: Int) -> String {
        rawValue
            .replacing("{sequence}", with: String(sequence.rawValue))
            .replacing("{part}", with: String(part))
    }
}
