import HLSModel
import Testing

@Suite struct SegmentDurationTests {
    static let parsing: [(Double, Int64, String, Int64)] = [
        // seconds, milliseconds, description, roundedSeconds
        (2.0, 2000, "2.000", 2),
        (2, 2000, "2.000", 2),
        (0.033, 33, "0.033", 0),
        (0.001, 1, "0.001", 0),
        (0.0005, 1, "0.001", 0),
        (6.006, 6006, "6.006", 6),
        (2.4994, 2499, "2.499", 2),
        (2.499, 2499, "2.499", 2),
        (2.5, 2500, "2.500", 3),
        (10.1, 10100, "10.100", 10),
        (3599.9996, 3_600_000, "3600.000", 3600),
        (3600, 3_600_000, "3600.000", 3600),
        (1.23456, 1235, "1.235", 1),
    ]

    @Test("Seconds round to whole milliseconds and print with three decimals", arguments: parsing)
    func parse(seconds: Double, milliseconds: Int64, text: String, rounded: Int64) throws {
        let duration = try SegmentDuration(seconds: seconds)
        #expect(duration.milliseconds == milliseconds)
        #expect(duration.description == text)
        #expect(duration.roundedSeconds == rounded)
        #expect(try SegmentDuration(milliseconds: milliseconds) == duration)
    }

    static let invalidSeconds: [Double] = [0, -0.0, -1, 3600.001, 4000, .infinity, -.infinity, .nan]

    @Test("Durations outside (0, 3600] and non-finite values are refused", arguments: invalidSeconds)
    func invalid(seconds: Double) {
        #expect(throws: ValidationError("duration must be a number of seconds greater than 0 and at most 3600")) {
            try SegmentDuration(seconds: seconds)
        }
    }

    @Test("A duration that rounds to 0 ms is refused")
    func roundsToZero() {
        #expect(throws: ValidationError("duration must be at least 0.001 seconds (it is rounded to whole milliseconds)")) {
            try SegmentDuration(seconds: 0.0004)
        }
    }

    @Test("Milliseconds outside 1...3_600_000 are refused", arguments: [Int64(0), -1, 3_600_001, .max, .min])
    func invalidMilliseconds(milliseconds: Int64) {
        #expect(throws: ValidationError.self) { try SegmentDuration(milliseconds: milliseconds) }
    }

    @Test("Durations order by length")
    func order() throws {
        #expect(try SegmentDuration(milliseconds: 1999) < SegmentDuration(milliseconds: 2000))
    }
}

@Suite struct SegmentPathTests {
    static let valid: [String] = [
        "/segments/42.ts", "42.ts", "https://cdn.example.com/a/b/42.ts?token=x#frag", "caf\u{E9}.ts", "a b.ts",
        String(repeating: "p", count: 2048),
        String(repeating: "\u{E9}", count: 1024),  // 2048 UTF-8 bytes
    ]

    @Test("Relative paths and absolute URLs up to 2048 bytes are valid", arguments: valid)
    func validPath(raw: String) throws {
        #expect(try SegmentPath(validating: raw).rawValue == raw)
        #expect(SegmentPath(rawValue: raw)?.rawValue == raw)
    }

    static let invalid: [(String, String)] = [
        ("", "path must not be empty"),
        (String(repeating: "p", count: 2049), "path must be at most 2048 bytes long"),
        (String(repeating: "\u{E9}", count: 1025), "path must be at most 2048 bytes long"),
        ("a.ts\n#EXT-X-ENDLIST", "path must not contain control characters such as line breaks"),
        ("a.ts\r", "path must not contain control characters such as line breaks"),
        ("\u{0}", "path must not contain control characters such as line breaks"),
        ("a\tb", "path must not contain control characters such as line breaks"),
        ("a\u{7F}", "path must not contain control characters such as line breaks"),
        ("#EXT-X-ENDLIST", "path must not start with '#'"),
    ]

    @Test("Empty, too long, control characters and a leading '#' are refused", arguments: invalid)
    func invalidPath(raw: String, message: String) {
        #expect(throws: ValidationError(message)) { try SegmentPath(validating: raw) }
        #expect(SegmentPath(rawValue: raw) == nil)
    }
}
