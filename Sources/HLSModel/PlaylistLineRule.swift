/// The characters that must never reach a playlist line: every control character and every
/// Unicode line or paragraph separator.
///
/// RFC 8216 §4.1 ends lines with LF or CR LF, but many parsers split on more: ECMAScript's
/// line terminators (U+2028, U+2029), Java's and .NET's readers (U+0085 NEL), and decoders that
/// read text as Latin-1 or Windows-1252, where the UTF-8 bytes of a C1 control look like other
/// characters. Any of them in a URI would let the rest of the text be read as an injected tag.
///
/// Refused: C0 controls U+0000–U+001F (LF, VT, FF, CR among them), DEL U+007F, C1 controls
/// U+0080–U+009F (NEL U+0085 among them), LINE SEPARATOR U+2028 and PARAGRAPH SEPARATOR U+2029
/// (the only characters of the general categories Zl and Zp).
enum PlaylistLineRule {
    /// Whether `scalar` is a control character or a line or paragraph separator.
    @inline(__always)
    static func isForbidden(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x00...0x1F, 0x7F...0x9F, 0x2028, 0x2029: true
        default: false
        }
    }

    /// Whether `scalar` is one that a line-trimming parser may strip from either end of a line:
    /// Unicode White_Space (space, U+00A0, U+3000, the U+2000 spaces ...), plus the zero-width
    /// characters some trimmers strip too (U+FEFF, which ECMAScript's `trim()` removes; U+180E
    /// and U+200B, which older engines treated as spaces).
    @inline(__always)
    static func isTrimmable(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0xFEFF, 0x180E, 0x200B: true
        default: scalar.properties.isWhitespace
        }
    }

    /// The sentence for the first forbidden character of `text` (naming `field` and the
    /// character's code point), or for whitespace at either end; `nil` when there is none.
    ///
    /// Parsers that trim lines (Python's m3u8, hls.js) would read `" #EXT-X-ENDLIST"` as a tag,
    /// and a URI of spaces as an empty line, so no URI may start or end with whitespace.
    /// - Complexity: O(*n*) in the length of `text`.
    static func violation(in text: String, field: String) -> String? {
        // Fast path: most text is printable ASCII, where only C0 controls, DEL and spaces at
        // either end matter.
        let utf8 = text.utf8
        if utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) {
            guard utf8.first == UInt8(ascii: " ") || utf8.last == UInt8(ascii: " ") else { return nil }
            return edgeViolation(field: field, scalar: " ")
        }
        if let scalar = text.unicodeScalars.first(where: isForbidden) {
            return "\(field) must not contain control characters or line separators such as line breaks "
                + "(found \(codePoint(scalar)))"
        }
        if let first = text.unicodeScalars.first, isTrimmable(first) { return edgeViolation(field: field, scalar: first) }
        if let last = text.unicodeScalars.last, isTrimmable(last) { return edgeViolation(field: field, scalar: last) }
        return nil
    }

    private static func edgeViolation(field: String, scalar: Unicode.Scalar) -> String {
        "\(field) must not start or end with whitespace, which line-trimming parsers would strip "
            + "(found \(codePoint(scalar)))"
    }

    /// `U+XXXX`: the code point in upper-case hexadecimal, at least four digits.
    static func codePoint(_ scalar: Unicode.Scalar) -> String {
        let hex = String(scalar.value, radix: 16, uppercase: true)
        return "U+" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
    }
}
