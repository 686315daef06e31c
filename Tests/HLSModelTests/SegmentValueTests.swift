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
        // Neighbours of the refused ranges: NO-BREAK SPACE, HYPHENATION POINT, LEFT-TO-RIGHT
        // EMBEDDING, and a character outside the BMP.
        "a\u{A0}b.ts", "a\u{2027}b.ts", "a\u{202A}b.ts", "\u{1F600}.ts",
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
        ("a.ts\n#EXT-X-ENDLIST", lineMessage("U+000A")),
        ("a.ts\r", lineMessage("U+000D")),
        ("\u{0}", lineMessage("U+0000")),
        ("a\tb", lineMessage("U+0009")),
        ("a\u{7F}", lineMessage("U+007F")),
        ("caf\u{E9}\u{85}#EXT-X-ENDLIST", lineMessage("U+0085")),  // NEL
        ("a\u{80}b", lineMessage("U+0080")),
        ("a\u{9F}b", lineMessage("U+009F")),
        ("a.ts\u{2028}#EXT-X-ENDLIST", lineMessage("U+2028")),
        ("a.ts\u{2029}#EXT-X-ENDLIST", lineMessage("U+2029")),
        ("a\u{B}b", lineMessage("U+000B")),
        ("a\u{C}b", lineMessage("U+000C")),
        ("#EXT-X-ENDLIST", "path must not start with '#'"),
    ]

    /// The sentence for a path holding the character `codePoint`.
    static func lineMessage(_ codePoint: String) -> String {
        "path must not contain control characters or line separators such as line breaks (found \(codePoint))"
    }

    @Test("Empty, too long, control characters, line separators and a leading '#' are refused", arguments: invalid)
    func invalidPath(raw: String, message: String) {
        #expect(throws: ValidationError(message)) { try SegmentPath(validating: raw) }
        #expect(SegmentPath(rawValue: raw) == nil)
    }
}

@Suite struct QuotedURITests {
    @Test("URIs for quoted attributes accept what a segment path accepts, a leading '#' included",
        arguments: ["/init.mp4", "https://cdn.example.com/p/1.0.m4s?t=x", "caf\u{E9}.m4s", "#frag", "a\u{A0}b", "a\u{2027}b"])
    func valid(raw: String) throws {
        #expect(try QuotedURI(validating: raw, field: "map_uri").rawValue == raw)
        #expect(QuotedURI(rawValue: raw)?.rawValue == raw)
    }

    static let invalid: [(String, String)] = [
        ("", "map_uri must not be empty"),
        ("a\"b", "map_uri must not contain '\"' (it is written inside a quoted URI attribute)"),
        ("a\r\nb", "map_uri must not contain control characters or line separators such as line breaks (found U+000D)"),
        ("a\u{7F}b", "map_uri must not contain control characters or line separators such as line breaks (found U+007F)"),
        ("a\u{85}\"#EXT-X-ENDLIST", "map_uri must not contain control characters or line separators such as line breaks (found U+0085)"),
        ("a\u{90}b", "map_uri must not contain control characters or line separators such as line breaks (found U+0090)"),
        ("a\u{2028}b", "map_uri must not contain control characters or line separators such as line breaks (found U+2028)"),
        ("a\u{2029}b", "map_uri must not contain control characters or line separators such as line breaks (found U+2029)"),
    ]

    @Test("Control characters, line separators and double quotes are refused, naming the field", arguments: invalid)
    func refused(raw: String, message: String) {
        #expect(throws: ValidationError(message)) { try QuotedURI(validating: raw, field: "map_uri") }
        #expect(QuotedURI(rawValue: raw) == nil)
    }
}

@Suite struct SegmentPathStorageTests {
    @Test(
        "A path reads back exactly as registered, whatever its shape",
        arguments: ["42.ts", "/42.ts", "/live/720p/42.ts", "https://cdn.example.com/a/b/c/segment_000042.ts", "dir/", "a//b", "/"])
    func roundTrip(raw: String) throws {
        let path = try SegmentPath(validating: raw)
        #expect(path.rawValue == raw)
        #expect(path.utf8Count == raw.utf8.count)
        var bytes: [UInt8] = []
        path.appendUTF8(to: &bytes)
        #expect(bytes == Array(raw.utf8))
    }

    @Test("Sharing the directory of another path changes nothing visible; different directories are left alone")
    func sharing() throws {
        let long = "/live/a-rather-long-stream-name/1080p/"
        let first = try SegmentPath(validating: long + "1.ts")
        let second = try SegmentPath(validating: long + "2.ts")
        let shared = second.sharingDirectory(with: first)
        #expect(shared == second)
        #expect(shared.hashValue == second.hashValue)
        #expect(shared.rawValue == long + "2.ts")
        let elsewhere = try SegmentPath(validating: "/other/2.ts")
        #expect(elsewhere.sharingDirectory(with: first) == elsewhere)
        #expect(try SegmentPath(validating: "/a/b") != SegmentPath(validating: "/a/c"))
        #expect(try SegmentPath(validating: "/ab/c") != SegmentPath(validating: "/a/bc"))
    }
}
