/// The duration of one media segment, held as a whole number of milliseconds.
///
/// Valid durations are greater than 0 and at most 3600 seconds. Keeping integer milliseconds
/// makes equality exact (a retried registration compares equal to the original) and lets the
/// renderer print `#EXTINF` values without floating-point formatting.
public struct SegmentDuration: Codable, Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The longest accepted duration, in milliseconds (one hour).
    public static let maximumMilliseconds: Int64 = 3_600_000

    /// The sentence used when a duration is missing its mark.
    public static let rangeMessage = "duration must be a number of seconds greater than 0 and at most 3600"

    /// The duration in milliseconds, in `1...3_600_000`.
    public let milliseconds: Int64

    /// Creates a duration from seconds, rounded to the nearest millisecond (halves away from zero).
    ///
    /// Throws when `seconds` is not finite, not greater than 0, above 3600, or rounds to 0 ms.
    public init(seconds: Double) throws(ValidationError) {
        guard seconds.isFinite, seconds > 0, seconds <= 3600 else {
            throw ValidationError(Self.rangeMessage)
        }
        let rounded = (seconds * 1000).rounded(.toNearestOrAwayFromZero)
        guard rounded >= 1 else {
            throw ValidationError("duration must be at least 0.001 seconds (it is rounded to whole milliseconds)")
        }
        // 1 <= rounded <= 3_600_000, so the conversion is exact and cannot trap.
        self.milliseconds = Int64(rounded)
    }

    /// Creates a duration from whole milliseconds, throwing unless in `1...3_600_000`.
    public init(milliseconds: Int64) throws(ValidationError) {
        guard milliseconds > 0, milliseconds <= Self.maximumMilliseconds else {
            throw ValidationError(Self.rangeMessage)
        }
        self.milliseconds = milliseconds
    }

    /// The duration rounded to whole seconds, halves up (2.499 → 2, 2.500 → 3).
    ///
    /// This is the rounding RFC 8216 §4.3.3.1 applies when comparing a segment with
    /// `#EXT-X-TARGETDURATION`.
    public var roundedSeconds: Int64 { (milliseconds + 500) / 1000 }

    /// The duration rounded up to whole seconds (2.000 → 2, 2.001 → 3, 0.001 → 1).
    ///
    /// The smallest `#EXT-X-TARGETDURATION` that a segment of this duration fits under, with
    /// half a second to spare for every later one (see ``roundedSeconds``).
    public var ceiledSeconds: Int64 { (milliseconds + 999) / 1000 }

    /// Seconds with exactly three decimals, for example `"2.000"`, `"0.033"`, `"3600.000"`.
    ///
    /// Computed with integer arithmetic, so the text is the same on every platform.
    public var description: String {
        let fraction = milliseconds % 1000
        let padding = fraction < 10 ? "00" : (fraction < 100 ? "0" : "")
        return "\(milliseconds / 1000).\(padding)\(fraction)"
    }

    /// Orders durations by length.
    public static func < (lhs: SegmentDuration, rhs: SegmentDuration) -> Bool {
        lhs.milliseconds < rhs.milliseconds
    }
}

extension SegmentDuration {
    /// A number of milliseconds, validated again when decoded.
    public init(from decoder: any Decoder) throws {
        let milliseconds = try decoder.singleValueContainer().decode(Int64.self)
        try self.init(milliseconds: milliseconds)
    }

    public func encode(to encoder: any Encoder) throws {
        var value = encoder.singleValueContainer()
        try value.encode(milliseconds)
    }
}
