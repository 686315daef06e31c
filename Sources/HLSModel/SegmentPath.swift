/// The URI of a media segment as it is written into the playlist: a relative path such as
/// `/segments/42.ts` or an absolute URL.
///
/// Valid by construction: not empty, at most 2048 UTF-8 bytes, no control character
/// (U+0000–U+001F, U+007F–U+009F) or line separator (U+2028, U+2029), and not starting with
/// `#`. A line break of any kind would end the URI line for some parser and let the rest inject
/// playlist tags; a leading `#` would turn the URI line itself into a tag or a comment
/// (RFC 8216 §4.1).
public struct SegmentPath: RawRepresentable, Codable, Hashable, Sendable, CustomStringConvertible {
    /// The longest accepted path, in UTF-8 bytes.
    public static let maximumByteCount = 2048

    // Stored in two parts, split after the last `/`: the directory part is the same for every
    // segment of a rendition, so the registry stores it once (``sharingDirectory(with:)``), and
    // the file name (`42.ts`) is usually short enough to live inside the string value itself
    // (Swift keeps strings of up to 15 UTF-8 bytes inline). Equal paths always split the same way.
    private let directory: String
    private let name: String

    /// The path text, already validated.
    public var rawValue: String { directory.isEmpty ? name : directory + name }

    /// Validates `raw`, throwing a ``ValidationError`` whose message names `path`.
    public init(validating raw: String) throws(ValidationError) {
        if let violation = Self.violation(in: raw) {
            throw ValidationError(violation)
        }
        (directory, name) = Self.split(raw)
    }

    /// Validates `rawValue` by the same rule as ``init(validating:)``; `nil` when invalid.
    public init?(rawValue: String) {
        guard Self.violation(in: rawValue) == nil else { return nil }
        (directory, name) = Self.split(rawValue)
    }

    private init(directory: String, name: String) {
        self.directory = directory
        self.name = name
    }

    /// The path text.
    public var description: String { rawValue }

    /// The length of the path in UTF-8 bytes.
    public var utf8Count: Int { directory.utf8.count + name.utf8.count }

    /// Appends the path's UTF-8 bytes to `out` (without building the whole string).
    public func appendUTF8(to out: inout [UInt8]) {
        directory.appendUTF8(to: &out)
        name.appendUTF8(to: &out)
    }

    /// This path, its directory part stored in the same memory as `other`'s when the two are
    /// equal (one copy per rendition instead of one per segment); otherwise this path unchanged.
    public func sharingDirectory(with other: SegmentPath) -> SegmentPath {
        guard !directory.isEmpty, directory == other.directory else { return self }
        return SegmentPath(directory: other.directory, name: name)
    }

    /// Splits after the last `/`: (`"/live/720p/"`, `"42.ts"`); no slash: (`""`, the path).
    private static func split(_ raw: String) -> (String, String) {
        let utf8 = raw.utf8
        guard let slash = utf8.lastIndex(of: UInt8(ascii: "/")) else { return ("", raw) }
        let cut = utf8.index(after: slash)
        return (String(raw[..<cut]), String(raw[cut...]))
    }

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

extension String {
    /// Appends the string's UTF-8 bytes to `out` in one copy from its contiguous storage (an
    /// `append(contentsOf: utf8)` walks the view byte by byte).
    public func appendUTF8(to out: inout [UInt8]) {
        let copied: Void? = utf8.withContiguousStorageIfAvailable { out.append(contentsOf: $0) }
        if copied == nil {
            var text = self
            text.withUTF8 { out.append(contentsOf: $0) }
        }
    }
}
