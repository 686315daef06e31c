/// A parsed JSON value (RFC 8259).
// Not `indirect`: it nests only through the array and dictionary payloads, which are heap
// storage already, so no case needs a box of its own (one allocation per value less).
public enum JSONValue: Equatable, Sendable {
    /// An object; when a key repeats, the last value wins.
    case object(JSONObject)
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

/// The members of a JSON object in the order written.
///
/// Request bodies have a handful of members, so a lookup is a scan from the end (the last of a
/// repeated key wins, as RFC 8259 §4 leaves to the parser) — cheaper than hashing every key into
/// a dictionary for a few reads. Equality ignores order and repeats: two objects are equal when
/// they map the same keys to the same (last) values.
public struct JSONObject: Equatable, Sendable, ExpressibleByDictionaryLiteral {
    /// Every member as written, repeats included.
    public private(set) var members: [(key: String, value: JSONValue)]

    /// An object with no members.
    public init() { members = [] }

    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        members = elements.map { (key: $0.0, value: $0.1) }
    }

    /// Appends a member (a later one with the same key hides this one).
    public mutating func append(_ key: String, _ value: JSONValue) {
        members.append((key: key, value: value))
    }

    /// The value of the last member named `key`; `nil` when there is none.
    /// - Complexity: O(*n*) in the number of members.
    public subscript(key: String) -> JSONValue? {
        for member in members.reversed() where member.key == key { return member.value }
        return nil
    }

    /// The distinct keys, in the order of their last occurrence.
    public var keys: [String] {
        var seen = Set<String>()
        return members.reversed().compactMap { seen.insert($0.key).inserted ? $0.key : nil }.reversed()
    }

    public static func == (lhs: JSONObject, rhs: JSONObject) -> Bool {
        let keys = lhs.keys
        guard Set(keys) == Set(rhs.keys) else { return false }
        return keys.allSatisfy { lhs[$0] == rhs[$0] }
    }
}
