/// A wall-clock instant, in milliseconds since the Unix epoch (1970-01-01T00:00:00Z).
///
/// The pure modules never read a clock; the caller passes the current `Timestamp` in.
public struct Timestamp: Codable, Hashable, Comparable, Sendable, CustomStringConvertible {
    /// Milliseconds since the Unix epoch; negative before 1970.
    public let millisecondsSinceEpoch: Int64

    /// Creates the instant `millisecondsSinceEpoch` milliseconds after the Unix epoch.
    public init(millisecondsSinceEpoch: Int64) {
        self.millisecondsSinceEpoch = millisecondsSinceEpoch
    }

    /// The instant `milliseconds` later (earlier when negative), saturating at the Int64 bounds.
    public func advanced(byMilliseconds milliseconds: Int64) -> Timestamp {
        let (sum, overflow) = millisecondsSinceEpoch.addingReportingOverflow(milliseconds)
        if overflow {
            return Timestamp(millisecondsSinceEpoch: milliseconds > 0 ? .max : .min)
        }
        return Timestamp(millisecondsSinceEpoch: sum)
    }

    /// Milliseconds from `self` to `other` (negative when `other` is earlier), saturating.
    public func milliseconds(to other: Timestamp) -> Int64 {
        let (difference, overflow) = other.millisecondsSinceEpoch
            .subtractingReportingOverflow(millisecondsSinceEpoch)
        if overflow {
            return other.millisecondsSinceEpoch > millisecondsSinceEpoch ? .max : .min
        }
        return difference
    }

    /// The decimal number of milliseconds since the epoch.
    public var description: String { "\(millisecondsSinceEpoch)ms" }

    /// Orders instants in time.
    public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool {
        lhs.millisecondsSinceEpoch < rhs.millisecondsSinceEpoch
    }
}

extension Timestamp {
    /// Milliseconds since the Unix epoch.
    public init(from decoder: any Decoder) throws {
        self.init(millisecondsSinceEpoch: try decoder.singleValueContainer().decode(Int64.self))
    }

    public func encode(to encoder: any Encoder) throws {
        var value = encoder.singleValueContainer()
        try value.encode(millisecondsSinceEpoch)
    }
}
