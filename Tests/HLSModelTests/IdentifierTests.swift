import HLSModel
import Testing

@Suite struct IdentifierTests {
    static let valid: [String] = [
        "a", "Z", "0", "720p", "my-stream", "a.b", "a_b", "a~b", "...", ".a", "a..b", "-", "~",
        String(repeating: "x", count: 128),
    ]

    static let invalid: [(String, String)] = [
        ("", "stream_id is missing or empty"),
        (".", "stream_id must not be \".\" or \"..\""),
        ("..", "stream_id must not be \".\" or \"..\""),
        ("a/b", "stream_id may contain only the characters A-Z, a-z, 0-9, '.', '_', '~' and '-'"),
        ("a b", "stream_id may contain only the characters A-Z, a-z, 0-9, '.', '_', '~' and '-'"),
        ("%2F", "stream_id may contain only the characters A-Z, a-z, 0-9, '.', '_', '~' and '-'"),
        ("caf\u{E9}", "stream_id may contain only the characters A-Z, a-z, 0-9, '.', '_', '~' and '-'"),
        ("\u{1F600}", "stream_id may contain only the characters A-Z, a-z, 0-9, '.', '_', '~' and '-'"),
        ("a\nb", "stream_id may contain only the characters A-Z, a-z, 0-9, '.', '_', '~' and '-'"),
        ("a?b", "stream_id may contain only the characters A-Z, a-z, 0-9, '.', '_', '~' and '-'"),
        (String(repeating: "x", count: 129), "stream_id must be at most 128 characters long"),
    ]

    @Test("A valid stream id is accepted by both initializers", arguments: valid)
    func validStreamID(raw: String) throws {
        let id = try StreamID(validating: raw)
        #expect(id.rawValue == raw)
        #expect(id.description == raw)
        #expect(StreamID(rawValue: raw) == id)
    }

    @Test("A valid rendition name is accepted by both initializers", arguments: valid)
    func validRendition(raw: String) throws {
        let name = try RenditionName(validating: raw)
        #expect(name.rawValue == raw)
        #expect(RenditionName(rawValue: raw) == name)
    }

    @Test("An invalid stream id is refused with a sentence naming stream_id", arguments: invalid)
    func invalidStreamID(raw: String, message: String) {
        #expect(throws: ValidationError(message)) { try StreamID(validating: raw) }
        #expect(StreamID(rawValue: raw) == nil)
    }

    @Test("An invalid rendition name is refused with a sentence naming rendition", arguments: invalid)
    func invalidRendition(raw: String, message: String) {
        let expected = message.replacingFirst("stream_id", with: "rendition")
        #expect(throws: ValidationError(expected)) { try RenditionName(validating: raw) }
        #expect(RenditionName(rawValue: raw) == nil)
    }

    @Test("Rendition names sort by their text")
    func renditionOrder() throws {
        let names = try ["720p", "1080p", "480p"].map { raw throws(ValidationError) in try RenditionName(validating: raw) }
        #expect(names.sorted().map(\.rawValue) == ["1080p", "480p", "720p"])
    }
}

@Suite struct SequenceNumberTests {
    @Test("Sequence numbers from 0 to 2^53 are valid", arguments: [UInt64(0), 1, 42, 9_007_199_254_740_992])
    func valid(raw: UInt64) throws {
        let sequence = try #require(SequenceNumber(rawValue: raw))
        #expect(sequence.rawValue == raw)
        #expect(sequence.description == String(raw))
        #expect(try SequenceNumber(validating: Int64(raw)) == sequence)
    }

    @Test("Sequence numbers above 2^53 or negative are refused")
    func invalid() {
        #expect(SequenceNumber(rawValue: 9_007_199_254_740_993) == nil)
        #expect(SequenceNumber(rawValue: .max) == nil)
        let message = "sequence must be an integer from 0 to 9007199254740992"
        #expect(throws: ValidationError(message)) { try SequenceNumber(validating: -1) }
        #expect(throws: ValidationError(message)) { try SequenceNumber(validating: 9_007_199_254_740_993) }
        #expect(throws: ValidationError(message)) { try SequenceNumber(validating: .min) }
    }

    @Test("Clamping stops at 2^53 and sequence numbers order numerically")
    func clampingAndOrder() throws {
        #expect(SequenceNumber(clamping: .max).rawValue == SequenceNumber.maximum)
        #expect(SequenceNumber(clamping: 7).rawValue == 7)
        let nine = try #require(SequenceNumber(rawValue: 9))
        let ten = try #require(SequenceNumber(rawValue: 10))
        #expect(nine < ten)
    }
}

@Suite struct TimestampTests {
    @Test("Timestamps advance, measure differences, saturate and order")
    func arithmetic() {
        let start = Timestamp(millisecondsSinceEpoch: 1_000)
        #expect(start.advanced(byMilliseconds: 500).millisecondsSinceEpoch == 1_500)
        #expect(start.advanced(byMilliseconds: -2_000).millisecondsSinceEpoch == -1_000)
        #expect(start.milliseconds(to: Timestamp(millisecondsSinceEpoch: 4_000)) == 3_000)
        #expect(Timestamp(millisecondsSinceEpoch: .max - 1).advanced(byMilliseconds: 10).millisecondsSinceEpoch == .max)
        #expect(Timestamp(millisecondsSinceEpoch: .min + 1).advanced(byMilliseconds: -10).millisecondsSinceEpoch == .min)
        #expect(start < start.advanced(byMilliseconds: 1))
    }
}

extension String {
    /// `self` with the first occurrence of `target` replaced (test helper, no Foundation).
    func replacingFirst(_ target: String, with replacement: String) -> String {
        guard let range = firstRange(of: target) else { return self }
        var copy = self
        copy.replaceSubrange(range, with: replacement)
        return copy
    }
}
