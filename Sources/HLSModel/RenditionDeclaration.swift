/// What the transcoder declares about one rendition (`PUT /streams/{id}/renditions/{r}`): the
/// metadata of its `#EXT-X-STREAM-INF` line and, optionally, its target duration, its
/// low-latency settings (``partTarget`` with ``partURITemplate``) and its initialization
/// section (``mapURI``).
///
/// Every field is optional; a missing one is simply unknown. A rendition is *low-latency* when
/// it declares a ``partTarget``.
public struct RenditionDeclaration: Equatable, Codable, Sendable {
    /// The largest accepted bandwidth, in bits per second (1 Tbit/s).
    public static let maximumBandwidth: UInt64 = 1_000_000_000_000
    /// The longest accepted `codecs` text, in bytes.
    public static let maximumCodecsLength = 256

    /// Peak bandwidth in bits per second, in `1...10^12` (`BANDWIDTH`, RFC 8216 §4.3.4.2).
    public var bandwidth: UInt64?
    /// Average bandwidth in bits per second, in `1...10^12` (`AVERAGE-BANDWIDTH`).
    public var averageBandwidth: UInt64?
    /// The video resolution (`RESOLUTION`).
    public var resolution: Resolution?
    /// An RFC 6381 codecs list such as `avc1.64001f,mp4a.40.2` (`CODECS`): 1 to 256 printable
    /// ASCII characters, no `"`.
    public var codecs: String?
    /// The maximum frame rate (`FRAME-RATE`).
    public var frameRate: FrameRate?
    /// The `#EXT-X-TARGETDURATION` to give the rendition when it is created, in `1...3600` seconds.
    public var targetDuration: Int64?
    /// `part_target`: the Part Target Duration (`#EXT-X-PART-INF:PART-TARGET`, rfc8216bis
    /// §4.4.3.7), greater than 0 and at most 10 seconds; fixed for the rendition's life.
    public var partTarget: SegmentDuration?
    /// `part_uri_template`: the URI of future parts, for `#EXT-X-PRELOAD-HINT` (§4.4.5.3).
    /// Declared together with ``partTarget``.
    public var partURITemplate: PartURITemplate?
    /// `map_uri`: the initialization section of an fMP4/CMAF rendition (`#EXT-X-MAP`,
    /// §4.4.4.5), which makes the playlist `#EXT-X-VERSION:6`; fixed for the rendition's life.
    public var mapURI: QuotedURI?

    /// The longest accepted ``partTarget``, in milliseconds.
    public static let maximumPartTargetMilliseconds: Int64 = 10_000

    /// Creates a declaration from already validated parts.
    public init(
        bandwidth: UInt64? = nil,
        averageBandwidth: UInt64? = nil,
        resolution: Resolution? = nil,
        codecs: String? = nil,
        frameRate: FrameRate? = nil,
        targetDuration: Int64? = nil,
        partTarget: SegmentDuration? = nil,
        partURITemplate: PartURITemplate? = nil,
        mapURI: QuotedURI? = nil
    ) {
        self.bandwidth = bandwidth
        self.averageBandwidth = averageBandwidth
        self.resolution = resolution
        self.codecs = codecs
        self.frameRate = frameRate
        self.targetDuration = targetDuration
        self.partTarget = partTarget
        self.partURITemplate = partURITemplate
        self.mapURI = mapURI
    }

    /// Whether the declaration makes the rendition low-latency (it has a ``partTarget``).
    public var isLowLatency: Bool { partTarget != nil }

    /// Decodes a declaration body such as
    /// `{"bandwidth": 2500000, "resolution": "1280x720", "codecs": "avc1.64001f,mp4a.40.2"}`.
    ///
    /// - `bandwidth`, `average_bandwidth`: JSON integer literals in `1...10^12` (bits/s); when
    ///   both are given, `average_bandwidth` is at most `bandwidth`.
    /// - `resolution`: a string `"<width>x<height>"`, each in `1...16384`, no leading zeros.
    /// - `codecs`: a string of 1 to 256 printable ASCII characters without `"`.
    /// - `frame_rate`: a JSON number greater than 0 and at most 1000, kept to 3 decimals.
    /// - `target_duration`: a JSON integer literal in `1...3600` (seconds).
    /// - `part_target`: a JSON number of seconds, greater than 0 and at most 10, rounded to the
    ///   millisecond; not longer than `target_duration` when both are given.
    /// - `part_uri_template`: a string valid as a ``PartURITemplate`` (`{sequence}` and
    ///   `{part}` placeholders); required with `part_target`, refused without it.
    /// - `map_uri`: a string valid as a ``QuotedURI``.
    ///
    /// All optional; unknown fields are ignored; a `null` field counts as missing.
    /// - Throws: ``ValidationError`` with one sentence about the first field that is wrong.
    public init(json bytes: some Collection<UInt8>) throws(ValidationError) {
        try self.init(json: Array(bytes))
    }

    /// The same, for the bytes of a request body as they arrive (no generic copy on the way).
    public init(json bytes: [UInt8]) throws(ValidationError) {
        let objectMessage = "request body must be a JSON object"
        guard bytes.contains(where: { !Segment.isJSONWhitespace($0) }) else {
            throw ValidationError(objectMessage)
        }
        guard case .object(let fields) = try JSONParser.parse(bytes) else {
            throw ValidationError(objectMessage)
        }
        self.init()
        bandwidth = try Self.integer(fields["bandwidth"], in: 1...Int64(Self.maximumBandwidth), name: "bandwidth")
            .map { UInt64($0) }
        averageBandwidth = try Self.integer(
            fields["average_bandwidth"], in: 1...Int64(Self.maximumBandwidth), name: "average_bandwidth"
        ).map { UInt64($0) }

        switch fields["resolution"] {
        case nil, .null?: break
        case .string(let text)?: resolution = try Resolution(validating: text)
        default: throw ValidationError(Resolution.message)
        }

        switch fields["codecs"] {
        case nil, .null?: break
        case .string(let text)?:
            let utf8 = text.utf8
            guard !utf8.isEmpty, utf8.count <= Self.maximumCodecsLength,
                utf8.allSatisfy({ $0 >= 0x20 && $0 <= 0x7E && $0 != UInt8(ascii: "\"") })
            else { throw ValidationError(Self.codecsMessage) }
            codecs = text
        default: throw ValidationError(Self.codecsMessage)
        }

        switch fields["frame_rate"] {
        case nil, .null?: break
        case .number(let number)?: frameRate = try FrameRate(framesPerSecond: number.doubleValue)
        default: throw ValidationError(FrameRate.message)
        }

        targetDuration = try Self.integer(fields["target_duration"], in: 1...3600, name: "target_duration")

        switch fields["part_target"] {
        case nil, .null?: break
        case .number(let number)?:
            let seconds = number.doubleValue
            guard seconds.isFinite, seconds > 0, seconds <= Double(Self.maximumPartTargetMilliseconds) / 1000,
                let duration = try? SegmentDuration(seconds: seconds)
            else { throw ValidationError(Self.partTargetMessage) }
            partTarget = duration
        default: throw ValidationError(Self.partTargetMessage)
        }

        switch fields["part_uri_template"] {
        case nil, .null?: break
        case .string(let text)?: partURITemplate = try PartURITemplate(validating: text)
        default: throw ValidationError("part_uri_template must be a string")
        }

        switch fields["map_uri"] {
        case nil, .null?: break
        case .string(let text)?: mapURI = try QuotedURI(validating: text, field: "map_uri")
        default: throw ValidationError("map_uri must be a string")
        }

        if let averageBandwidth, let bandwidth, averageBandwidth > bandwidth {
            throw ValidationError(Self.averageAbovePeakMessage)
        }
        if partTarget != nil, partURITemplate == nil {
            throw ValidationError("part_uri_template is required with part_target")
        }
        if partTarget == nil, partURITemplate != nil {
            throw ValidationError("part_uri_template needs part_target: it only applies to low-latency renditions")
        }
        if let partTarget, let targetDuration, partTarget.milliseconds > targetDuration * 1000 {
            throw ValidationError("part_target must not be longer than target_duration")
        }
    }

    /// The sentence used when `average_bandwidth` is above `bandwidth`.
    static let averageAbovePeakMessage =
        "average_bandwidth must not be greater than bandwidth: BANDWIDTH is the peak rate and "
        + "AVERAGE-BANDWIDTH cannot exceed it (RFC 8216 4.3.4.2)"

    static let partTargetMessage = "part_target must be a number of seconds greater than 0 and at most 10"

    static let codecsMessage =
        "codecs must be a string of 1 to 256 printable ASCII characters without '\"', such as \"avc1.64001f,mp4a.40.2\""

    private static func integer(
        _ value: JSONValue?, in range: ClosedRange<Int64>, name: String
    ) throws(ValidationError) -> Int64? {
        let message = "\(name) must be an integer from \(range.lowerBound) to \(range.upperBound)"
        switch value {
        case nil, .null?:
            return nil
        case .number(let number)?:
            guard let integer = number.int64Value, range.contains(integer) else { throw ValidationError(message) }
            return integer
        default:
            throw ValidationError(message)
        }
    }
}

/// A video resolution, `RESOLUTION=<width>x<height>` (RFC 8216 §4.3.4.2); each side in `1...16384`.
public struct Resolution: Hashable, Codable, Sendable, CustomStringConvertible {
    /// The largest accepted width or height, in pixels.
    public static let maximumSide = 16384
    static let message = "resolution must be a string \"<width>x<height>\" with each side from 1 to 16384, such as \"1280x720\""

    /// Horizontal pixels, in `1...16384`.
    public let width: Int
    /// Vertical pixels, in `1...16384`.
    public let height: Int

    /// Creates a resolution, throwing unless both sides are in `1...16384`.
    public init(width: Int, height: Int) throws(ValidationError) {
        guard (1...Self.maximumSide).contains(width), (1...Self.maximumSide).contains(height) else {
            throw ValidationError(Self.message)
        }
        self.width = width
        self.height = height
    }

    /// Parses `"1280x720"`: decimal digits without sign or leading zeros, a lower-case `x`.
    public init(validating text: String) throws(ValidationError) {
        let parts = text.utf8.split(separator: UInt8(ascii: "x"), omittingEmptySubsequences: false)
        guard parts.count == 2, let width = Self.side(parts[0]), let height = Self.side(parts[1]) else {
            throw ValidationError(Self.message)
        }
        try self.init(width: width, height: height)
    }

    private static func side(_ digits: some Collection<UInt8>) -> Int? {
        guard let first = digits.first, first != UInt8(ascii: "0"), digits.count <= 5 else { return nil }
        var value = 0
        for byte in digits {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            value = value * 10 + Int(byte - UInt8(ascii: "0"))
        }
        return value
    }

    /// `<width>x<height>`, for example `1280x720`.
    public var description: String { "\(width)x\(height)" }
}

/// A frame rate held as whole thousandths of a frame per second (`29.97` → 29970).
public struct FrameRate: Hashable, Codable, Sendable, CustomStringConvertible {
    static let message = "frame_rate must be a number greater than 0 and at most 1000"

    /// Thousandths of a frame per second, in `1...1_000_000`.
    public let thousandths: Int64

    /// Creates a frame rate from frames per second, rounded to three decimals (halves away
    /// from zero); throws unless it is greater than 0 and at most 1000 after rounding.
    public init(framesPerSecond: Double) throws(ValidationError) {
        guard framesPerSecond.isFinite, framesPerSecond > 0, framesPerSecond <= 1000 else {
            throw ValidationError(Self.message)
        }
        let rounded = (framesPerSecond * 1000).rounded(.toNearestOrAwayFromZero)
        guard rounded >= 1 else { throw ValidationError(Self.message) }
        thousandths = Int64(rounded)
    }

    /// Frames per second with exactly three decimals, for example `29.970` (`FRAME-RATE`,
    /// RFC 8216 §4.3.4.2); integer arithmetic only.
    public var description: String {
        let fraction = thousandths % 1000
        let padding = fraction < 10 ? "00" : (fraction < 100 ? "0" : "")
        return "\(thousandths / 1000).\(padding)\(fraction)"
    }
}
