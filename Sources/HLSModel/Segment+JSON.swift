extension Segment {
    /// Decodes a segment registration body: `{"sequence": 42, "duration": 2.0, "path": "/s/42.ts"}`.
    ///
    /// - `sequence` (required): a JSON integer literal in `0...2^53` — `42.0`, `4.2e1` and `"42"`
    ///   are refused.
    /// - `duration` (required): a JSON number of seconds, greater than 0 and at most 3600,
    ///   rounded to the nearest millisecond.
    /// - `path` (required): a JSON string valid as a ``SegmentPath``.
    ///
    /// Unknown fields are ignored; a `null` field counts as missing.
    /// - Throws: ``ValidationError`` with one sentence about the first field that is wrong.
    public init(json bytes: some Collection<UInt8>) throws(ValidationError) {
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

        self.init(sequence: sequence, duration: duration, path: path)
    }

    private static func isJSONWhitespace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D
    }
}
