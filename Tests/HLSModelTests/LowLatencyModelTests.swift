import HLSModel
import Testing

@Suite struct PartialSegmentJSONTests {
    @Test("A full part body decodes every field")
    func full() throws {
        let part = try PartialSegment(json: Array(#"{"sequence": 42, "part": 3, "duration": 0.2, "path": "/p/42.3.mp4", "independent": true, "x": 1}"#.utf8))
        #expect(part.sequence.rawValue == 42 && part.part == 3 && part.duration.milliseconds == 200)
        #expect(part.path.rawValue == "/p/42.3.mp4" && part.independent)
        let minimal = try PartialSegment(json: Array(#"{"sequence": 0, "part": 1000, "duration": 1, "path": "a", "independent": null}"#.utf8))
        #expect(minimal.part == 1000 && !minimal.independent)
    }

    static let refused: [(String, String)] = [
        ("[]", "request body must be a JSON object"),
        ("  ", "request body must be a JSON object"),
        (#"{"part": 0, "duration": 0.2, "path": "a"}"#, "sequence is required"),
        (#"{"sequence": 1.0, "part": 0, "duration": 0.2, "path": "a"}"#, SequenceNumber.rangeMessage),
        (#"{"sequence": 1, "duration": 0.2, "path": "a"}"#, "part is required"),
        (#"{"sequence": 1, "part": -1, "duration": 0.2, "path": "a"}"#, "part must be an integer from 0 to 1000"),
        (#"{"sequence": 1, "part": 1001, "duration": 0.2, "path": "a"}"#, "part must be an integer from 0 to 1000"),
        (#"{"sequence": 1, "part": 1.0, "duration": 0.2, "path": "a"}"#, "part must be an integer from 0 to 1000"),
        (#"{"sequence": 1, "part": "0", "duration": 0.2, "path": "a"}"#, "part must be an integer from 0 to 1000"),
        (#"{"sequence": 1, "part": 0, "path": "a"}"#, "duration is required"),
        (#"{"sequence": 1, "part": 0, "duration": 0, "path": "a"}"#, SegmentDuration.rangeMessage),
        (#"{"sequence": 1, "part": 0, "duration": "0.2", "path": "a"}"#, SegmentDuration.rangeMessage),
        (#"{"sequence": 1, "part": 0, "duration": 0.2}"#, "path is required"),
        (#"{"sequence": 1, "part": 0, "duration": 0.2, "path": ""}"#, "path must not be empty"),
        (#"{"sequence": 1, "part": 0, "duration": 0.2, "path": "a\nb"}"#, "path must not contain control characters or line separators such as line breaks (found U+000A)"),
        (#"{"sequence": 1, "part": 0, "duration": 0.2, "path": "a\u0085#EXT-X-ENDLIST"}"#, "path must not contain control characters or line separators such as line breaks (found U+0085)"),
        ("{\"sequence\": 1, \"part\": 0, \"duration\": 0.2, \"path\": \"a\u{2028}b\"}", "path must not contain control characters or line separators such as line breaks (found U+2028)"),
        (#"{"sequence": 1, "part": 0, "duration": 0.2, "path": "a\"b"}"#, "path must not contain '\"' (it is written inside a quoted URI attribute)"),
        (#"{"sequence": 1, "part": 0, "duration": 0.2, "path": 5}"#, "path must be a string"),
        (#"{"sequence": 1, "part": 0, "duration": 0.2, "path": "a", "independent": "yes"}"#, "independent must be true or false"),
        (#"{"sequence": 1, "part": 0, "duration": 0.2, "path": "a", "independent": 1}"#, "independent must be true or false"),
    ]

    @Test("Bad part bodies are refused with an exact message", arguments: refused)
    func refuses(body: String, message: String) {
        #expect(throws: ValidationError(message)) { try PartialSegment(json: Array(body.utf8)) }
    }

    @Test("The part URI template expands both placeholders, every time they appear")
    func template() throws {
        let template = try PartURITemplate(validating: "/{sequence}/p{part}-{sequence}.m4s")
        #expect(template.uri(sequence: try #require(SequenceNumber(rawValue: 9_007_199_254_740_992)), part: 12)
            == "/9007199254740992/p12-9007199254740992.m4s")
        #expect(throws: ValidationError("part_uri_template must contain both {sequence} and {part}")) {
            try PartURITemplate(validating: "/{sequence}.mp4")
        }
        #expect(PartURITemplate(rawValue: "/{part}\"{sequence}") == nil)
        #expect(PartURITemplate(rawValue: "/{part}\u{85}{sequence}") == nil)
    }
}

@Suite struct LowLatencyDeclarationTests {
    @Test("Low-latency fields decode")
    func decodes() throws {
        let body = #"{"target_duration": 2, "part_target": 0.3334, "part_uri_template": "/p/{sequence}.{part}.m4s", "map_uri": "/init.mp4"}"#
        let declaration = try RenditionDeclaration(json: Array(body.utf8))
        #expect(declaration.partTarget?.milliseconds == 333)
        #expect(declaration.partURITemplate?.rawValue == "/p/{sequence}.{part}.m4s")
        #expect(declaration.mapURI?.rawValue == "/init.mp4")
        #expect(declaration.isLowLatency)
        let mapOnly = try RenditionDeclaration(json: Array(#"{"map_uri": "/init.mp4"}"#.utf8))
        #expect(!mapOnly.isLowLatency && mapOnly.mapURI != nil)
    }

    static let refused: [(String, String)] = [
        (#"{"part_target": 0, "part_uri_template": "{sequence}{part}"}"#, "part_target must be a number of seconds greater than 0 and at most 10"),
        (#"{"part_target": 10.001, "part_uri_template": "{sequence}{part}"}"#, "part_target must be a number of seconds greater than 0 and at most 10"),
        (#"{"part_target": 0.0004, "part_uri_template": "{sequence}{part}"}"#, "part_target must be a number of seconds greater than 0 and at most 10"),
        (#"{"part_target": "0.2", "part_uri_template": "{sequence}{part}"}"#, "part_target must be a number of seconds greater than 0 and at most 10"),
        (#"{"part_target": 0.2}"#, "part_uri_template is required with part_target"),
        (#"{"part_uri_template": "{sequence}{part}"}"#, "part_uri_template needs part_target: it only applies to low-latency renditions"),
        (#"{"part_target": 0.2, "part_uri_template": "{sequence}"}"#, "part_uri_template must contain both {sequence} and {part}"),
        (#"{"part_target": 0.2, "part_uri_template": 1}"#, "part_uri_template must be a string"),
        (#"{"part_target": 3, "target_duration": 2, "part_uri_template": "{sequence}{part}"}"#, "part_target must not be longer than target_duration"),
        (#"{"map_uri": "a\"b"}"#, "map_uri must not contain '\"' (it is written inside a quoted URI attribute)"),
        (#"{"map_uri": ""}"#, "map_uri must not be empty"),
        (#"{"map_uri": true}"#, "map_uri must be a string"),
        (#"{"map_uri": "/init.mp4\u0085#EXT-X-ENDLIST"}"#, "map_uri must not contain control characters or line separators such as line breaks (found U+0085)"),
        ("{\"map_uri\": \"/init\u{9B}.mp4\"}", "map_uri must not contain control characters or line separators such as line breaks (found U+009B)"),
        (#"{"part_target": 0.2, "part_uri_template": "/{sequence}.{part}\u2029#EXT-X-ENDLIST"}"#, "part_uri_template must not contain control characters or line separators such as line breaks (found U+2029)"),
        (#"{"part_target": 0.2, "part_uri_template": "/{sequence}.{part}\u2028"}"#, "part_uri_template must not contain control characters or line separators such as line breaks (found U+2028)"),
    ]

    @Test("Bad low-latency declarations are refused with an exact message", arguments: refused)
    func refuses(body: String, message: String) {
        #expect(throws: ValidationError(message)) { try RenditionDeclaration(json: Array(body.utf8)) }
    }
}

@Suite struct BlockingReloadPredicateTests {
    enum Shape: String, CaseIterable, Sendable {
        /// Segments 10–12 (2 s), 12 with parts 0–3, parts 0–1 of 13 in progress.
        case inProgress
        /// The same without parts in progress.
        case completeWithParts
        /// The last segment has no parts; nothing in progress.
        case completeWithoutParts
        /// Not low-latency.
        case plain
        /// Ended (with parts in progress).
        case ended
    }

    static func snapshot(_ shape: Shape, partTarget: Int64 = 500) throws -> RenditionSnapshot {
        var parts: [PartialSegment] = []
        func add(_ n: UInt64, _ count: Int) throws {
            for index in 0..<count {
                parts.append(PartialSegment(
                    sequence: try #require(SequenceNumber(rawValue: n)), part: index,
                    duration: try SegmentDuration(milliseconds: partTarget), path: try QuotedURI(validating: "/\(n).\(index)")))
            }
        }
        switch shape {
        case .inProgress, .ended: try add(12, 4); try add(13, 2)
        case .completeWithParts: try add(12, 4)
        case .completeWithoutParts: try add(11, 4)
        case .plain: break
        }
        return RenditionSnapshot(
            stream: try StreamID(validating: "s"), rendition: try RenditionName(validating: "r"), version: 1,
            targetDuration: 2, mediaSequence: try #require(SequenceNumber(rawValue: 10)),
            segments: try (UInt64(10)...12).map {
                Segment(sequence: try #require(SequenceNumber(rawValue: $0)), duration: try SegmentDuration(milliseconds: 2000),
                    path: try SegmentPath(validating: "/\($0).ts"))
            },
            isEnded: shape == .ended, lastModified: Timestamp(millisecondsSinceEpoch: 0),
            partTarget: shape == .plain ? nil : try SegmentDuration(milliseconds: partTarget),
            partURITemplate: shape == .plain ? nil : try PartURITemplate(validating: "/{sequence}.{part}"),
            parts: parts)
    }

    /// (shape, msn, part, satisfied)
    static let satisfactionCases: [(Shape, UInt64, Int?, Bool)] = [
        (.inProgress, 3, nil, true),  // slid out long ago
        (.inProgress, 9, 7, true),  // slid out, any part
        (.inProgress, 10, nil, true),
        (.inProgress, 12, nil, true),
        (.inProgress, 13, nil, false),  // the segment in progress is not complete
        (.inProgress, 14, nil, false),
        (.inProgress, 11, 0, true),  // an older complete segment (its parts dropped or not)
        (.inProgress, 11, 50, true),
        (.inProgress, 12, 3, true),
        (.inProgress, 12, 4, true),  // past the last part of 12 → part 0 of 13, which is listed
        (.inProgress, 12, 1000, true),
        (.inProgress, 13, 0, true),
        (.inProgress, 13, 1, true),
        (.inProgress, 13, 2, false),
        (.inProgress, 14, 0, false),
        (.completeWithParts, 12, 3, true),
        (.completeWithParts, 12, 4, false),  // part 0 of 13: not yet
        (.completeWithParts, 13, 0, false),
        (.completeWithParts, 12, nil, true),
        (.completeWithoutParts, 12, 0, true),  // whole, never had parts
        (.completeWithoutParts, 12, 9, true),
        (.completeWithoutParts, 13, 0, false),
        (.plain, 12, nil, true),
        (.plain, 13, nil, false),
        (.plain, 12, 2, true),
        (.plain, 13, 0, false),
        (.ended, 13, 5, true),  // directives are ignored once ended
        (.ended, 99, nil, true),
    ]

    @Test("satisfies(msn:part:) follows rfc8216bis §6.2.5.2", arguments: satisfactionCases)
    func satisfies(shape: Shape, msn: UInt64, part: Int?, expected: Bool) throws {
        #expect(try Self.snapshot(shape).satisfies(msn: msn, part: part) == expected)
    }

    /// (shape, part target ms, msn, part, too far). Advance Part Limit: 0.5 s → 6 parts; 1 s → 3.
    /// A part that exceeds the last listed one by the limit (exactly, or more) is too far.
    static let tooFarCases: [(Shape, Int64, UInt64, Int?, Bool)] = [
        (.inProgress, 500, 14, nil, false),  // last segment 12 + 2
        (.inProgress, 500, 15, nil, true),
        (.inProgress, 500, 1_000_000, nil, true),
        (.inProgress, 500, 3, nil, false),  // slid out: never too far
        (.inProgress, 500, 12, 1000, false),  // a complete segment: answerable now
        (.inProgress, 500, 13, 2, false),  // the next part
        (.inProgress, 500, 13, 6, false),  // 5 parts past the last listed (13.1)
        (.inProgress, 500, 13, 7, true),  // exactly 6 past
        (.inProgress, 500, 13, 8, true),  // 7 past
        (.inProgress, 500, 14, 4, false),  // at least 5 past
        (.inProgress, 500, 14, 5, true),  // at least 6 past
        (.inProgress, 500, 15, 0, true),  // msn too far regardless of part
        (.inProgress, 1000, 13, 3, false),  // 2 past
        (.inProgress, 1000, 13, 4, true),  // exactly 3 past
        (.inProgress, 1000, 14, 1, false),
        (.inProgress, 1000, 14, 2, true),
        (.completeWithParts, 500, 13, 4, false),  // 5 past the end of 12
        (.completeWithParts, 500, 13, 5, true),  // 6 past
        (.completeWithParts, 200, 13, 13, false),  // 3 / 0.2 = 15 parts: 14 past
        (.completeWithParts, 200, 13, 14, true),  // 15 past
        (.completeWithParts, 300, 13, 8, false),  // 3 / 0.3 = 10 parts: 9 past
        (.completeWithParts, 300, 13, 9, true),  // 10 past
        (.completeWithParts, 333, 13, 8, false),  // 3 / 0.333 = 9.009: 9 past is still within it
        (.completeWithParts, 333, 13, 9, true),  // 10 past
        (.plain, 500, 14, 500, false),  // part ignored when not low-latency
        (.plain, 500, 15, nil, true),
        (.ended, 500, 99, 99, false),
    ]

    @Test("blockingRequestIsTooFar(msn:part:) applies msn + 2 and the Advance Part Limit", arguments: tooFarCases)
    func tooFar(shape: Shape, partTarget: Int64, msn: UInt64, part: Int?, expected: Bool) throws {
        #expect(try Self.snapshot(shape, partTarget: partTarget).blockingRequestIsTooFar(msn: msn, part: part) == expected)
    }

    @Test("LAST-MSN and LAST-PART as a rendition report gives them", arguments: Shape.allCases)
    func lastValues(shape: Shape) throws {
        let snapshot = try Self.snapshot(shape)
        let expected: (UInt64?, Int?) = switch shape {
        case .inProgress, .ended: (13, 1)
        case .completeWithParts: (12, 3)
        case .completeWithoutParts, .plain: (12, nil)
        }
        #expect(snapshot.lastMSN == expected.0 && snapshot.lastPart == expected.1)
        #expect(snapshot.isLowLatency == (shape != .plain))
        #expect(snapshot.canSkipUntilMilliseconds == (shape == .plain ? nil : 12_000))
        #expect(snapshot.partHoldBackMilliseconds == (shape == .plain ? nil : 1500))
        #expect((snapshot.preloadHintURI == nil) == (shape == .plain || shape == .ended))
    }

    @Test("The preload hint names the next part of the segment in progress")
    func hint() throws {
        #expect(try Self.snapshot(.inProgress).preloadHintURI == "/13.2")
        #expect(try Self.snapshot(.completeWithParts).preloadHintURI == "/13.0")
    }
}
