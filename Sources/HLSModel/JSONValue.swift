/// A parsed JSON value (RFC 8259).
public indirect enum JSONValue: Equatable, Sendable {
    /// An object; when a key repeats, the last value wins.
    case object([String: JSONValue])
    /// An array.
    case array([JSONValue])
    /// A string, already unescaped.
    case string(String)
    /// A number, kept as its literal so integers and decimals stay exact.
    case number(JSONNumber)
    /// `true` or `false`.
    case bool(Bool)
    /// `null`.
    case null
}

/// A JSON number kept as the literal text that appeared in the document.
///
/// Keeping the literal lets callers tell `42` from `42.0` and `4.2e1`, and read integers up to
/// Int64 without a detour through `Double`.
public struct JSONNumber: Equatable, Sendable, CustomStringConvertible {
    /// The literal exactly as written, for example `-0`, `42`, `2.5`, `1e3`.
    public let literal: String

    /// Creates a number from a literal the parser has already checked against RFC 8259 §6.
    init(validatedLiteral literal: String) {
        self.literal = literal
    }

    /// Whether the literal has neither a fraction nor an exponent (`42`, `-0`; not `42.0`, `1e3`).
    public var isInteger: Bool {
        !literal.utf8.contains { $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "e") || $0 == UInt8(ascii: "E") }
    }

    /// The value as an Int64 when ``isInteger`` and within range; `-0` reads as 0.
    public var int64Value: Int64? {
        guard isInteger else { return nil }
        return Int64(literal)
    }

    /// The nearest Double; infinite when the magnitude is beyond Double's range.
    public var doubleValue: Double {
        // The literal is a valid JSON number, which is a valid Swift floating-point literal.
        Double(literal) ?? .nan
    }

    /// The literal.
    public var description: String { literal }
}
