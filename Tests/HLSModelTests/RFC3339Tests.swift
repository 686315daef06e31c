import HLSModel
import Testing

@Suite struct RFC3339Tests {
    static let accepted: [(String, Int64, String)] = [
        ("1970-01-01T00:00:00Z", 0, "1970-01-01T00:00:00.000Z"),
        ("2026-11-25T10:00:00.000Z", 1_795_600_800_000, "2026-11-25T10:00:00.000Z"),
        ("2026-11-25T11:00:00+01:00", 1_795_600_800_000, "2026-11-25T10:00:00.000Z"),
        ("2026-11-25T04:30:00.5-05:30", 1_795_600_800_500, "2026-11-25T10:00:00.500Z"),
        ("2026-11-25t10:00:00.123456789z", 1_795_600_800_123, "2026-11-25T10:00:00.123Z"),
        ("2024-02-29T23:59:59.999Z", 1_709_251_199_999, "2024-02-29T23:59:59.999Z"),
        ("1969-12-31T23:59:59.999Z", -1, "1969-12-31T23:59:59.999Z"),
        ("2000-03-01T00:00:00+00:00", 951_868_800_000, "2000-03-01T00:00:00.000Z"),
        ("0000-01-01T00:00:00Z", -62_167_219_200_000, "0000-01-01T00:00:00.000Z"),
        ("9999-12-31T23:59:59.999Z", 253_402_300_799_999, "9999-12-31T23:59:59.999Z"),
        // Leap seconds (RFC 3339 5.7) map to the next second: 23:59:59 + 1 s.
        ("2016-12-31T23:59:60Z", 1_483_228_800_000, "2017-01-01T00:00:00.000Z"),
        ("2016-12-31T23:59:60.250Z", 1_483_228_800_250, "2017-01-01T00:00:00.250Z"),
        ("2016-12-31T15:59:60-08:00", 1_483_228_800_000, "2017-01-01T00:00:00.000Z"),
        ("2017-01-01T00:59:60+01:00", 1_483_228_800_000, "2017-01-01T00:00:00.000Z"),
        ("2015-06-30T23:59:60z", 1_435_708_800_000, "2015-07-01T00:00:00.000Z"),
        ("2024-02-29T23:59:60Z", 1_709_251_200_000, "2024-03-01T00:00:00.000Z"),
    ]

    @Test("RFC 3339 date-times parse to UTC milliseconds and print back normalised", arguments: accepted)
    func parses(text: String, milliseconds: Int64, normalised: String) throws {
        let timestamp = try Timestamp(rfc3339: text)
        #expect(timestamp.millisecondsSinceEpoch == milliseconds)
        #expect(timestamp.rfc3339 == normalised)
        #expect(try Timestamp(rfc3339: normalised) == timestamp)
    }

    static let refused = [
        "", "2026-11-25", "2026-11-25T10:00:00", "2026-11-25 10:00:00Z", "2026-11-25T10:00Z",
        "2026-13-01T00:00:00Z", "2026-02-29T00:00:00Z", "2026-04-31T00:00:00Z", "2026-11-25T24:00:00Z",
        "2026-11-25T10:60:00Z", "2026-11-25T10:00:60Z", "2026-11-25T10:00:00.Z", "2026-11-25T10:00:00+0100",
        "2026-11-25T10:00:00+24:00", "2026-11-25T10:00:00Z ", "+2026-11-25T10:00:00Z", "2026-1-25T10:00:00Z",
        "0000-01-01T00:00:00+00:01", "9999-12-31T23:59:59-00:01", "２０26-11-25T10:00:00Z",
        // :60 only at 23:59 UTC on the last day of a month, and never :61.
        "2026-11-25T23:59:60Z", "2016-12-31T23:58:60Z", "2016-12-31T23:59:60+01:00", "2016-12-31T23:59:61Z",
        "2016-12-30T23:59:60Z", "2016-12-31T00:00:60Z", "9999-12-31T23:59:60Z",
    ]

    @Test("Malformed or zone-less date-times are refused with a message naming the field", arguments: refused)
    func refuses(text: String) {
        #expect(throws: ValidationError("program_date_time must be an RFC 3339 date-time with a time zone, such as 2026-11-25T10:00:00.000Z or 2026-11-25T11:00:00+01:00")) {
            try Timestamp(rfc3339: text, field: "program_date_time")
        }
    }

    @Test("Formatting agrees with parsing over a wide seeded sample of instants")
    func roundTrip() throws {
        var state: UInt64 = 0x1234_5678
        for _ in 0..<2000 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let span = UInt64(Timestamp.latestRFC3339.millisecondsSinceEpoch - Timestamp.earliestRFC3339.millisecondsSinceEpoch)
            let instant = Timestamp(millisecondsSinceEpoch: Timestamp.earliestRFC3339.millisecondsSinceEpoch + Int64(state % span))
            #expect(try Timestamp(rfc3339: instant.rfc3339) == instant)
        }
    }
}
