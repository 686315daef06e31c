/// The media sequence number of a segment (RFC 8216 §3), valid from 0 through 2^53.
///
/// The upper bound is 2^53 = 9007199254740992, the largest integer every JSON implementation
/// (including JavaScript's) represents exactly.
public struct SequenceNumber: RawRepresentable, Codable, Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The largest accepted value, 2^53.
    public static let maximum: UInt64 = 1 << 53

    /// The sequence number itself, in `0...SequenceNumber.maximum`.
    public let rawValue: UInt64

    /// Creates a sequence number, or `nil` when `rawValue` is above ``maximum``.
    public init?(rawValue: UInt64) {
        guard rawValue <= Self.maximum else { return nil }
        self.rawValue = rawValue
    }

    /// Creates the sequence number closest to `value`: `value` itself, or ``maximum`` when above.
    public init(clamping value: UInt64) {
        self.rawValue = Swift.min(value, Self.maximum)
    }

    /// Creates a sequence number, throwing when `value` is outside `0...2^53`.
    public init(validating value: Int64) throws(ValidationError) {
        guard value >= 0, UInt64(value) <= Self.maximum else {
            throw ValidationError(Self.rangeMessage)
        }
        self.rawValue = UInt64(value)
    }

    /// The sentence used when a sequence number is out of range or not an integer.
    public static let rangeMessage = "sequence must be an integer from 0 to \(maximum)"

    /// The decimal digits of the number.
    public var description: String { String(rawValue) }

    /// Orders sequence numbers numerically.
    public static func < (lhs: SequenceNumber, rhs: SequenceNumber) -> Bool { lhs.rawValue < rhs.rawValue }
}
