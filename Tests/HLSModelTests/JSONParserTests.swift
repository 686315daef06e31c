import HLSModel
import Testing

@Suite struct JSONParserTests {
    private func parse(_ text: String) throws(ValidationError) -> JSONValue {
        try JSONParser.parse(Array(text.utf8))
    }

    private func number(_ literal: String) throws -> JSONNumber {
        guard case .number(let number) = try parse(literal) else {
            Issue.record("\(literal) did not parse as a number")
            throw ValidationError("not a number")
        }
        return number
    }

    static let accepted: [(String, JSONValue)] = [
        ("null", .null),
        ("true", .bool(true)),
        (" \t\r\n false \n", .bool(false)),
        ("\"\"", .string("")),
        ("\"caf\u{E9} \u{1F600}\"", .string("caf\u{E9} \u{1F600}")),
        (#""a\"b\\c\/d\b\f\n\r\t""#, .string("a\"b\\c/d\u{8}\u{C}\n\r\t")),
        (#""\u0041\u00e9\u20AC""#, .string("A\u{E9}\u{20AC}")),
        (#""\ud83d\ude00""#, .string("\u{1F600}")),
        (#""\u0000""#, .string("\u{0}")),
        ("[]", .array([])),
        ("[1, [2], {}]", .array([.number(JSONNumberFixture.make("1")), .array([.number(JSONNumberFixture.make("2"))]), .object([:])])),
        (#"{"a": 1, "b": {"a": 2}, "c": [{"a": 3}, {"a": 4}]}"#, .object([
            "a": .number(JSONNumberFixture.make("1")), "b": .object(["a": .number(JSONNumberFixture.make("2"))]),
            "c": .array([.object(["a": .number(JSONNumberFixture.make("3"))]), .object(["a": .number(JSONNumberFixture.make("4"))])]),
        ])),
        (#"{"k":{"n":null}}"#, .object(["k": .object(["n": .null])])),
        (String(repeating: "[", count: 32) + String(repeating: "]", count: 32), JSONParserTests.nested(32)),
    ]

    static func nested(_ depth: Int) -> JSONValue {
        var value = JSONValue.array([])
        for _ in 1..<depth { value = .array([value]) }
        return value
    }

    @Test("Valid JSON documents parse to the expected value", arguments: accepted)
    func accepts(text: String, expected: JSONValue) throws {
        #expect(try parse(text) == expected)
    }

    static let rejected: [String] = [
        "", " ", "nul", "True", "01", "-01", "00", "1.", ".5", "-", "+1", "1e", "1e+", "0x10", "NaN", "Infinity",
        "[1,]", "[1 2]", "{\"a\" 1}", "{\"a\":1,}", "{a:1}", "{'a':1}", "[", "{", "\"abc", "\"\\x\"",
        "{} x", "1 2", "null null", "[]]",
        "\"a\nb\"", "\"a\tb\"", "\"\u{1}\"",
        #""\ud800""#, #""\udc00""#, #""\ud800\u0041""#, #""\ud800x""#, #""\u12""#, #""\u12G4""#,
        String(repeating: "[", count: 33) + String(repeating: "]", count: 33),
        String(repeating: "{\"a\":", count: 33) + "1" + String(repeating: "}", count: 33),
    ]

    @Test("Malformed JSON is refused with a message about the body", arguments: rejected)
    func rejects(text: String) {
        let error = #expect(throws: ValidationError.self) { try parse(text) }
        #expect(error?.message.hasPrefix("request body is not valid JSON: ") == true)
    }

    /// Objects repeating a key, the key, and the byte offset of its repeat: small objects, and one
    /// past the 16 members after which the keys are kept in a set.
    static let repeatedKeys: [(String, String, Int)] = [
        (#"{"sequence":1,"duration":2,"sequence":2}"#, "sequence", 27),
        (#"{"a":1,"a":1}"#, "a", 7),
        (#"{"x":{"k":null,"k":null}}"#, "k", 15),
        (#"{"\u0061":1,"a":2}"#, "a", 12),
        ("{" + (0..<20).map { "\"k\($0)\":0," }.joined() + #""k17":1}"#, "k17", 151),
    ]

    @Test("An object that repeats a key is refused with a message naming the key and its offset", arguments: repeatedKeys)
    func rejectsRepeatedKeys(text: String, key: String, offset: Int) {
        let error = #expect(throws: ValidationError.self) { try parse(text) }
        #expect(error?.message == "request body has a duplicate key \"\(key)\" at byte \(offset)")
    }

    static let invalidUTF8: [[UInt8]] = [
        [0x22, 0xFF, 0x22],  // never valid in UTF-8
        [0x22, 0xC3, 0x22],  // truncated sequence
        [0x22, 0xC0, 0xAF, 0x22],  // overlong '/'
        [0x22, 0xED, 0xA0, 0x80, 0x22],  // encoded surrogate U+D800
        [0x22, 0x5C, 0x6E, 0xFF, 0x22],  // invalid byte after an escape
    ]

    @Test("Strings with invalid UTF-8 are refused", arguments: invalidUTF8)
    func rejectsInvalidUTF8(bytes: [UInt8]) {
        #expect(throws: ValidationError.self) { try JSONParser.parse(bytes) }
    }

    @Test("Nesting deeper than 32 names the limit")
    func depthMessage() {
        #expect(throws: ValidationError("request body is not valid JSON: nesting deeper than 32 levels at byte 32")) {
            try parse(String(repeating: "[", count: 33) + String(repeating: "]", count: 33))
        }
    }

    @Test("Trailing content is refused with its offset")
    func trailingGarbage() {
        #expect(throws: ValidationError("request body is not valid JSON: unexpected content after the JSON value at byte 3")) {
            try parse("{} x")
        }
    }

    static let numbers: [(String, Bool, Int64?, Double)] = [
        ("42", true, 42, 42),
        ("42.0", false, nil, 42),
        ("4.2e1", false, nil, 42),
        ("-0", true, 0, -0.0),
        ("0", true, 0, 0),
        ("1e3", false, nil, 1000),
        ("1E+3", false, nil, 1000),
        ("2.5e-1", false, nil, 0.25),
        ("-12", true, -12, -12),
        ("9223372036854775807", true, .max, 9_223_372_036_854_775_808),
        ("-9223372036854775808", true, .min, -9_223_372_036_854_775_808),
        ("9223372036854775808", true, nil, 9_223_372_036_854_775_808),
        ("123456789012345678901234567890", true, nil, 1.2345678901234568e29),
        ("1e400", false, nil, .infinity),
    ]

    @Test("Numbers keep their literal and expose integer and double views", arguments: numbers)
    func numberViews(literal: String, isInteger: Bool, int64: Int64?, double: Double) throws {
        let value = try number(literal)
        #expect(value.literal == literal)
        #expect(value.isInteger == isInteger)
        #expect(value.int64Value == int64)
        #expect(value.doubleValue == double)
    }
}

/// Builds `JSONNumber` values for expectations by parsing their literal.
enum JSONNumberFixture {
    static func make(_ literal: String) -> JSONNumber {
        guard case .number(let number)? = try? JSONParser.parse(Array(literal.utf8)) else {
            preconditionFailure("bad fixture literal \(literal)")
        }
        return number
    }
}

@Suite struct JSONWriterTests {
    static let cases: [(String, String)] = [
        ("", #""""#),
        ("plain", #""plain""#),
        ("say \"hi\"", #""say \"hi\"""#),
        ("back\\slash", #""back\\slash""#),
        ("line\nbreak\ttab\u{0}\u{1F}\u{7F}", #""line\u000abreak\u0009tab\u0000\u001f\u007f""#),
        ("caf\u{E9} \u{1F600} /", "\"caf\u{E9} \u{1F600} /\""),
    ]

    @Test("Strings are quoted with JSON escapes", arguments: cases)
    func quoted(input: String, expected: String) throws {
        #expect(JSONWriter.quoted(input) == expected)
        // Round trip through our own parser.
        #expect(try JSONParser.parse(Array(expected.utf8)) == .string(input))
    }
}
