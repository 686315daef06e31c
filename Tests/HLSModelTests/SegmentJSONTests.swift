import HLSModel
import Testing

@Suite struct SegmentJSONTests {
    static let accepted: [(String, UInt64, Int64, String)] = [
        (#"{"sequence": 42, "duration": 2.0, "path": "/segments/42.ts"}"#, 42, 2000, "/segments/42.ts"),
        (#"{"sequence":0,"duration":2,"path":"0.ts"}"#, 0, 2000, "0.ts"),
        (#"{"sequence": -0, "duration": 0.033, "path": "a.ts"}"#, 0, 33, "a.ts"),
        (#"{"sequence": 9007199254740992, "duration": 3600, "path": "x"}"#, 9_007_199_254_740_992, 3_600_000, "x"),
        (#"{"path": "p.ts", "duration": 6.006, "sequence": 7, "extra": {"ignored": [1, 2]}}"#, 7, 6006, "p.ts"),
        (#"{"sequence": 1, "duration": 2e0, "path": "https://cdn.example/1.ts"}"#, 1, 2000, "https://cdn.example/1.ts"),
        (" \n{\"sequence\": 3, \"duration\": 1.5, \"path\": \"\\/s\\/3.ts\"}\n ", 3, 1500, "/s/3.ts"),
    ]

    @Test("Registration bodies decode to segments", arguments: accepted)
    func decodes(body: String, sequence: UInt64, milliseconds: Int64, path: String) throws {
        let segment = try Segment(json: Array(body.utf8))
        #expect(segment.sequence.rawValue == sequence)
        #expect(segment.duration.milliseconds == milliseconds)
        #expect(segment.path.rawValue == path)
    }

    static let sequenceRange = "sequence must be an integer from 0 to 9007199254740992"
    static let durationRange = "duration must be a number of seconds greater than 0 and at most 3600"

    static let refused: [(String, String)] = [
        ("", "request body must be a JSON object"),
        ("  \n", "request body must be a JSON object"),
        ("[]", "request body must be a JSON object"),
        ("42", "request body must be a JSON object"),
        ("\"{}\"", "request body must be a JSON object"),
        ("null", "request body must be a JSON object"),
        ("{", "request body is not valid JSON: unexpected end of input at byte 1"),
        (#"{"sequence": 1} trailing"#, "request body is not valid JSON: unexpected content after the JSON value at byte 16"),
        (#"{"duration": 2, "path": "a"}"#, "sequence is required"),
        (#"{"sequence": null, "duration": 2, "path": "a"}"#, "sequence is required"),
        (#"{"sequence": 42.0, "duration": 2, "path": "a"}"#, sequenceRange),
        (#"{"sequence": 4.2e1, "duration": 2, "path": "a"}"#, sequenceRange),
        (#"{"sequence": "42", "duration": 2, "path": "a"}"#, sequenceRange),
        (#"{"sequence": true, "duration": 2, "path": "a"}"#, sequenceRange),
        (#"{"sequence": -1, "duration": 2, "path": "a"}"#, sequenceRange),
        (#"{"sequence": 9007199254740993, "duration": 2, "path": "a"}"#, sequenceRange),
        (#"{"sequence": 99999999999999999999, "duration": 2, "path": "a"}"#, sequenceRange),
        (#"{"sequence": 1, "path": "a"}"#, "duration is required"),
        (#"{"sequence": 1, "duration": "2", "path": "a"}"#, durationRange),
        (#"{"sequence": 1, "duration": 0, "path": "a"}"#, durationRange),
        (#"{"sequence": 1, "duration": -2, "path": "a"}"#, durationRange),
        (#"{"sequence": 1, "duration": 3600.5, "path": "a"}"#, durationRange),
        (#"{"sequence": 1, "duration": 1e400, "path": "a"}"#, durationRange),
        (#"{"sequence": 1, "duration": 0.0001, "path": "a"}"#, "duration must be at least 0.001 seconds (it is rounded to whole milliseconds)"),
        (#"{"sequence": 1, "duration": 2}"#, "path is required"),
        (#"{"sequence": 1, "duration": 2, "path": 5}"#, "path must be a string"),
        (#"{"sequence": 1, "duration": 2, "path": ["a"]}"#, "path must be a string"),
        (#"{"sequence": 1, "duration": 2, "path": ""}"#, "path must not be empty"),
        (#"{"sequence": 1, "duration": 2, "path": "a.ts\n#EXT-X-ENDLIST"}"#, "path must not contain control characters or line separators such as line breaks (found U+000A)"),
        (#"{"sequence": 1, "duration": 2, "path": "a.ts\u0085#EXT-X-ENDLIST"}"#, "path must not contain control characters or line separators such as line breaks (found U+0085)"),
        ("{\"sequence\": 1, \"duration\": 2, \"path\": \"a.ts\u{85}#EXT-X-ENDLIST\"}", "path must not contain control characters or line separators such as line breaks (found U+0085)"),
        (#"{"sequence": 1, "duration": 2, "path": "a.ts\u2028#EXT-X-ENDLIST"}"#, "path must not contain control characters or line separators such as line breaks (found U+2028)"),
        (#"{"sequence": 1, "duration": 2, "path": "a.ts\u2029#EXT-X-ENDLIST"}"#, "path must not contain control characters or line separators such as line breaks (found U+2029)"),
        (##"{"sequence": 1, "duration": 2, "path": "#EXTINF:1,"}"##, "path must not start with '#'"),
    ]

    @Test("Bad registration bodies are refused with an exact message", arguments: refused)
    func refuses(body: String, message: String) {
        #expect(throws: ValidationError(message)) { try Segment(json: Array(body.utf8)) }
    }

    @Test("Optional program_date_time and bytes decode; the date-time is normalised to UTC")
    func optionalFields() throws {
        let body = #"{"sequence": 1, "duration": 2, "path": "a.ts", "program_date_time": "2026-11-25T11:00:00.25+01:00", "bytes": 9007199254740992}"#
        let segment = try Segment(json: Array(body.utf8))
        #expect(segment.programDateTime?.rfc3339 == "2026-11-25T10:00:00.250Z")
        #expect(segment.byteCount == 9_007_199_254_740_992)
        let plain = try Segment(json: Array(#"{"sequence": 1, "duration": 2, "path": "a.ts", "bytes": null}"#.utf8))
        #expect(plain.programDateTime == nil && plain.byteCount == nil)
        #expect(plain.isSameMedia(as: segment) && plain != segment)
    }

    static let pdtMessage = "program_date_time must be an RFC 3339 date-time with a time zone, such as 2026-11-25T10:00:00.000Z or 2026-11-25T11:00:00+01:00"
    static let bytesMessage = "bytes must be an integer from 0 to 9007199254740992"
    static let refusedOptional: [(String, String)] = [
        (#"{"sequence": 1, "duration": 2, "path": "a", "program_date_time": "2026-11-25T10:00:00"}"#, pdtMessage),
        (#"{"sequence": 1, "duration": 2, "path": "a", "program_date_time": 5}"#, pdtMessage),
        (#"{"sequence": 1, "duration": 2, "path": "a", "bytes": -1}"#, bytesMessage),
        (#"{"sequence": 1, "duration": 2, "path": "a", "bytes": 9007199254740993}"#, bytesMessage),
        (#"{"sequence": 1, "duration": 2, "path": "a", "bytes": 1.5}"#, bytesMessage),
        (#"{"sequence": 1, "duration": 2, "path": "a", "bytes": "5"}"#, bytesMessage),
    ]

    @Test("Bad optional fields are refused with an exact message", arguments: refusedOptional)
    func refusesOptional(body: String, message: String) {
        #expect(throws: ValidationError(message)) { try Segment(json: Array(body.utf8)) }
    }

    @Test("Decoding accepts any byte collection")
    func anyCollection() throws {
        let body = #"{"sequence": 5, "duration": 2, "path": "5.ts"}"#
        let fromSlice = try Segment(json: Array(body.utf8)[...])
        let fromView = try Segment(json: body.utf8)
        #expect(fromSlice == fromView)
    }
}
