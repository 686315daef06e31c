extension Timestamp {
    /// The earliest instant ``init(rfc3339:)`` accepts: `0000-01-01T00:00:00.000Z`.
    public static let earliestRFC3339 = Timestamp(millisecondsSinceEpoch: -62_167_219_200_000)
    /// The latest instant ``init(rfc3339:)`` accepts: `9999-12-31T23:59:59.999Z`.
    public static let latestRFC3339 = Timestamp(millisecondsSinceEpoch: 253_402_300_799_999)

    /// The sentence used when a date-time is not accepted.
    static let rfc3339Message =
        "must be an RFC 3339 date-time with a time zone, such as 2026-11-25T10:00:00.000Z or 2026-11-25T11:00:00+01:00"

    /// Parses an RFC 3339 `date-time` (§5.6): `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±hh:mm)`.
    ///
    /// The time zone is required; `t` and `z` may be lower case (RFC 3339 §5.6 note). A fraction
    /// may have any number of digits and is truncated to whole milliseconds. A leap second
    /// (`:60`) is accepted where RFC 3339 §5.7 allows one — at 23:59:60 UTC on the last day of a
    /// month, written in any offset (`15:59:60-08:00` too) — and maps to the next second
    /// (`23:59:59` + 1 s, so `2016-12-31T23:59:60.5Z` is `2017-01-01T00:00:00.500Z`), as
    /// timestamps without leap seconds do; any other `:60` is refused. Instants outside years
    /// 0000–9999 once converted to UTC are refused. Pure integer arithmetic; no calendar or
    /// clock is consulted.
    /// - Parameter field: the name used in the error message, for example `program_date_time`.
    /// - Throws: ``ValidationError`` naming `field`.
    /// - Complexity: O(*n*) in the length of `text`.
    public init(rfc3339 text: String, field: String = "date-time") throws(ValidationError) {
        guard let milliseconds = RFC3339.parse(Array(text.utf8)),
            milliseconds >= Self.earliestRFC3339.millisecondsSinceEpoch,
            milliseconds <= Self.latestRFC3339.millisecondsSinceEpoch
        else {
            throw ValidationError("\(field) \(Self.rfc3339Message)")
        }
        self.init(millisecondsSinceEpoch: milliseconds)
    }

    /// The instant as RFC 3339 in UTC with milliseconds, for example `2026-11-25T10:00:00.000Z`
    /// (the form `#EXT-X-PROGRAM-DATE-TIME` uses, RFC 8216 §4.3.2.6).
    ///
    /// Exact for every instant in years 0000–9999; outside them the year is printed with as many
    /// digits (and sign) as it needs, which RFC 3339 itself cannot express.
    public var rfc3339: String {
        let (days, milliseconds) = RFC3339.floorDivide(millisecondsSinceEpoch, by: 86_400_000)
        let (year, month, day) = RFC3339.civilDate(daysSinceEpoch: days)
        let seconds = milliseconds / 1000
        var out = ""
        out.reserveCapacity(24)
        if year < 0 { out += "-" }
        out += RFC3339.padded(year.magnitude, 4)
        out += "-" + RFC3339.padded(UInt64(month), 2) + "-" + RFC3339.padded(UInt64(day), 2)
        out += "T" + RFC3339.padded(UInt64(seconds / 3600), 2)
        out += ":" + RFC3339.padded(UInt64(seconds / 60 % 60), 2)
        out += ":" + RFC3339.padded(UInt64(seconds % 60), 2)
        out += "." + RFC3339.padded(UInt64(milliseconds % 1000), 3) + "Z"
        return out
    }

    /// The instant as an HTTP date (RFC 9110 §5.6.7 IMF-fixdate), e.g.
    /// `Wed, 25 Nov 2026 10:00:00 GMT`, for `Last-Modified`. Whole seconds, years 0000–9999.
    public var httpDate: String {
        let (days, milliseconds) = RFC3339.floorDivide(millisecondsSinceEpoch, by: 86_400_000)
        let (year, month, day) = RFC3339.civilDate(daysSinceEpoch: days)
        let seconds = milliseconds / 1000
        let weekday = RFC3339.floorDivide(days + 4, by: 7).remainder  // 1970-01-01 was a Thursday
        return Self.weekdayNames[Int(weekday)] + ", " + RFC3339.padded(UInt64(day), 2) + " "
            + Self.monthNames[Int(month) - 1] + " " + RFC3339.padded(year.magnitude, 4) + " "
            + RFC3339.padded(UInt64(seconds / 3600), 2) + ":" + RFC3339.padded(UInt64(seconds / 60 % 60), 2) + ":"
            + RFC3339.padded(UInt64(seconds % 60), 2) + " GMT"
    }

    private static let weekdayNames = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    private static let monthNames = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
}

/// Integer calendar arithmetic for RFC 3339 (proleptic Gregorian, Howard Hinnant's algorithms).
enum RFC3339 {
    static func parse(_ b: [UInt8]) -> Int64? {
        // YYYY-MM-DDTHH:MM:SS is 19 bytes; the shortest zone is "Z".
        guard b.count >= 20, b[4] == UInt8(ascii: "-"), b[7] == UInt8(ascii: "-"),
            b[10] == UInt8(ascii: "T") || b[10] == UInt8(ascii: "t"),
            b[13] == UInt8(ascii: ":"), b[16] == UInt8(ascii: ":"),
            let year = digits(b, 0, 4), let month = digits(b, 5, 2), let day = digits(b, 8, 2),
            let hour = digits(b, 11, 2), let minute = digits(b, 14, 2), let second = digits(b, 17, 2)
        else { return nil }
        guard (1...12).contains(month), day >= 1, day <= daysIn(month: month, year: year),
            hour <= 23, minute <= 59, second <= 60
        else { return nil }
        var index = 19
        var milliseconds: Int64 = 0
        if b[index] == UInt8(ascii: ".") {
            index += 1
            var count = 0
            while index < b.count, let digit = digitValue(b[index]) {
                if count < 3 { milliseconds = milliseconds * 10 + digit }
                count += 1
                index += 1
            }
            guard count >= 1 else { return nil }
            for _ in count..<max(count, 3) { milliseconds *= 10 }
        }
        guard index < b.count else { return nil }
        var offsetMinutes: Int64 = 0
        switch b[index] {
        case UInt8(ascii: "Z"), UInt8(ascii: "z"):
            index += 1
        case UInt8(ascii: "+"), UInt8(ascii: "-"):
            let sign: Int64 = b[index] == UInt8(ascii: "+") ? 1 : -1
            guard b.count == index + 6, b[index + 3] == UInt8(ascii: ":"),
                let offsetHours = digits(b, index + 1, 2), let offsetMins = digits(b, index + 4, 2),
                offsetHours <= 23, offsetMins <= 59
            else { return nil }
            offsetMinutes = sign * (offsetHours * 60 + offsetMins)
            index += 6
        default:
            return nil
        }
        guard index == b.count else { return nil }
        let days = daysSinceEpoch(year: year, month: month, day: day)
        let local = ((days * 24 + hour) * 60 + minute) * 60 + second
        let utc = local - offsetMinutes * 60
        if second == 60 {
            // RFC 3339 §5.7: a leap second follows 23:59:59 UTC on the last day of a month.
            let (utcDay, secondOfDay) = floorDivide(utc - 1, by: 86_400)
            guard secondOfDay == 86_399, civilDate(daysSinceEpoch: utcDay + 1).day == 1 else { return nil }
        }
        return utc * 1000 + milliseconds
    }

    private static func digitValue(_ byte: UInt8) -> Int64? {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") ? Int64(byte - UInt8(ascii: "0")) : nil
    }

    private static func digits(_ b: [UInt8], _ start: Int, _ count: Int) -> Int64? {
        var value: Int64 = 0
        for index in start..<start + count {
            guard index < b.count, let digit = digitValue(b[index]) else { return nil }
            value = value * 10 + digit
        }
        return value
    }

    private static func daysIn(month: Int64, year: Int64) -> Int64 {
        switch month {
        case 2: return (year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Days from 1970-01-01 to the given proleptic Gregorian date (days_from_civil).
    static func daysSinceEpoch(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// The proleptic Gregorian date `daysSinceEpoch` days after 1970-01-01 (civil_from_days).
    static func civilDate(daysSinceEpoch: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let z = daysSinceEpoch + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        return (year, month, day)
    }

    /// Quotient rounded towards negative infinity, and the matching non-negative remainder.
    static func floorDivide(_ value: Int64, by divisor: Int64) -> (quotient: Int64, remainder: Int64) {
        let quotient = value >= 0 ? value / divisor : -((-(value + 1)) / divisor) - 1
        return (quotient, value - quotient * divisor)
    }

    static func padded(_ value: UInt64, _ width: Int) -> String {
        let text = String(value)
        return text.utf8.count >= width ? text : String(repeating: "0", count: width - text.utf8.count) + text
    }
}
