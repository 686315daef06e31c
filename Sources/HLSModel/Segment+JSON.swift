extension Segment {
    /// Decodes a segment registration body: `{"sequence": 42, "duration": 2.0, "path": "/s/42.ts"}`.
    ///
    /// - `sequence` (required): a JSON integer literal in `0...2^53` — `42.0`, `4.2e1` and `"42"`
    ///   are refused.
    /// - `duration` (required): a JSON number of seconds, greater than 0 and at most 3600,
    ///   rounded to the nearest millisecond.
    /// - `path` (required): a JSON string valid as a ``SegmentPath``.
    /// - `program_date_time` (optional): an RFC 3339 date-time string with a time zone, see
    ///   ``Timestamp/init(rfc3339:field:)``.
    /// - `bytes` (optional): the segment's size, a JSON integer literal in `0...2^53`.
    ///
    /// Unknown fields are ignored; a `null` field counts as missing.
    /// - Throws: ``ValidationError`` with one sentence about the first field that is wrong.
    public init(json bytes: some Collection<UInt8>) throws(ValidationError) {
        try self.init(json: Array(bytes))
    }

    /// The same, for the bytes of a request body as they arrive (no generic copy on the way).
    public init(json bytes: [UInt8]) throws(ValidationError) {
        let objectMessage = "request body must be a JSON object"
        guard bytes.contains(where: { !Self.isJSONWhitespace($0) }) else {
            throw ValidationError(objectMessage)
        }
        guard case .object(let fields) = try JSONParser.parse(bytes) else {
            throw ValidationError(objectMessage)
        }

        let sequence: SequenceNumber
        switch fields["sequence"] {
        case nil, .null?:
            throw ValidationError("sequence is required")
        case .number(let number)?:
            guard let value = number.int64Value else { throw ValidationError(SequenceNumber.rangeMessage) }
            sequence = try SequenceNumber(validating: value)
        default:
            throw ValidationError(SequenceNumber.rangeMessage)
        }

        let duration: SegmentDuration
        switch fields["duration"] {
        case nil, .null?:
            throw ValidationError("duration is required")
        case .number(let number)?:
            duration = try SegmentDuration(seconds: number.doubleValue)
        default:
            throw ValidationError(SegmentDuration.rangeMessage)
        }

        let path: SegmentPath
        switch fields["path"] {
        case nil, .null?:
            throw ValidationError("path is required")
        case .string(let text)?:
            path = try SegmentPath(validating: text)
        default:
            throw ValidationError("path must be a string")
        }

        var programDateTime: Timestamp?
        switch fields["program_date_time"] {
        case nil, .null?:
            programDateTime = nil
        case .string(let text)?:
            programDateTime = try Timestamp(rfc3339: text, field: "program_date_time")
        default:
            throw ValidationError("program_date_time \(Timestamp.rfc3339Message)")
        }

        var byteCount: UInt64?
        switch fields["bytes"] {
        case nil, .null?:
            byteCount = nil
        case .number(let number)?:
            guard let value = number.int64Value, value >= 0, UInt64(value) <= Segment.maximumByteCount else {
                throw ValidationError(Self.bytesMessage)
            }
            byteCount = UInt64(value)
        default:
            throw ValidationError(Self.bytesMessage)
        }

        self.init(
            sequence: sequence, duration: duration, path: path,
            programDateTime: programDateTime, byteCount: byteCount)
    }

    /// The sentence used when `bytes` is not accepted.
    static let bytesMessage = "bytes must be an integer from 0 to \(Segment.maximumByteCount)"

    static func isJSONWhitespace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D
    }
}
