/// A tiny, strict parser of the media playlists this service writes, for property tests.
///
/// It knows exactly the tags the renderer may write and fails on anything else, so a malformed
/// playlist fails the test that produced it.
struct MediaPlaylist: Equatable {
    struct Entry: Equatable {
        var discontinuity = false
        var programDateTime: String?
        var milliseconds: Int64
        var uri: String
        var parts: [Part] = []
    }

    /// One `#EXT-X-PART`.
    struct Part: Equatable {
        var milliseconds: Int64
        var uri: String
        var independent: Bool
    }

    /// One `#EXT-X-RENDITION-REPORT`.
    struct Report: Equatable {
        var rendition: String
        var lastMSN: UInt64
        var lastPart: UInt64?
    }

    // Low-latency tags (nil / empty when absent).
    var partHoldBack: Int64?
    var canSkipUntil: Int64?
    var partTarget: Int64?
    var map: String?
    var skipped: UInt64?
    var trailingParts: [Part] = []
    var preloadHint: String?
    var reports: [Report] = []

    var version: Int64
    var targetDuration: Int64
    var mediaSequence: UInt64
    var discontinuitySequence: UInt64
    var entries: [Entry]
    var isEnded: Bool

    struct ParseError: Error, CustomStringConvertible {
        var description: String
    }

    /// The transcoder sequence in a URI of the form `/seg/<n>.ts` or `/conflict/<n>.ts`.
    static func sequence(in uri: String) -> UInt64? {
        guard uri.hasSuffix(".ts"), let slash = uri.lastIndex(of: "/"), uri.hasPrefix("/seg/") || uri.hasPrefix("/conflict/") else {
            return nil
        }
        return UInt64(uri[uri.index(after: slash)...].dropLast(3))
    }

    /// `<digits>.<3 digits>` as milliseconds.
    static func milliseconds(_ text: Substring) throws -> Int64 {
        guard let dot = text.firstIndex(of: ".") else { throw ParseError(description: "no decimals: \(text)") }
        let fraction = text[text.index(after: dot)...]
        guard fraction.count == 3, fraction.allSatisfy({ $0.isASCII && $0.isNumber }), let thousandths = Int64(fraction) else {
            throw ParseError(description: "needs 3 decimals: \(text)")
        }
        return Int64(try integer(text[..<dot])) * 1000 + thousandths
    }

    /// The value of `NAME="..."` in an attribute list, without the quotes.
    static func quoted(_ name: String, in attributes: Substring) throws -> String {
        guard let range = attributes.firstRange(of: name + "=\"") else { throw ParseError(description: "no \(name) in \(attributes)") }
        let rest = attributes[range.upperBound...]
        guard let end = rest.firstIndex(of: "\"") else { throw ParseError(description: "unterminated \(name)") }
        return String(rest[..<end])
    }

    static func integer(_ text: Substring) throws -> UInt64 {
        guard !text.isEmpty, text.allSatisfy({ $0.isASCII && $0.isNumber }),
            text == "0" || !text.hasPrefix("0"), let value = UInt64(text)
        else { throw ParseError(description: "not a decimal-integer: \(text)") }
        return value
    }

    init(parsing text: String) throws {
        guard text.hasSuffix("\n") else { throw ParseError(description: "no final newline") }
        let lines = text.dropLast().split(separator: "\n", omittingEmptySubsequences: false)
        guard lines.first == "#EXTM3U" else { throw ParseError(description: "does not start with #EXTM3U") }
        var version: Int64?
        var target: Int64?
        var mediaSequence: UInt64?
        var discontinuitySequence: UInt64?
        var entries: [Entry] = []
        var isEnded = false
        var pendingDiscontinuity = false
        var pendingDate: String?
        var pendingDuration: Int64?
        var pendingParts: [Part] = []
        var afterParts = false  // a PRELOAD-HINT or RENDITION-REPORT was seen: no more segments
        for line in lines.dropFirst() {
            guard !line.isEmpty else { throw ParseError(description: "blank line") }
            if isEnded { throw ParseError(description: "content after #EXT-X-ENDLIST") }
            if let duration = pendingDuration {
                guard !line.hasPrefix("#") else { throw ParseError(description: "EXTINF not followed by a URI: \(line)") }
                entries.append(Entry(
                    discontinuity: pendingDiscontinuity, programDateTime: pendingDate, milliseconds: duration,
                    uri: String(line), parts: pendingParts))
                pendingParts = []
                pendingDiscontinuity = false
                pendingDate = nil
                pendingDuration = nil
                continue
            }
            let headerDone = target != nil && mediaSequence != nil
            if line.hasPrefix("#EXT-X-VERSION:") {
                guard version == nil, entries.isEmpty else { throw ParseError(description: "misplaced VERSION") }
                version = Int64(try Self.integer(line.dropFirst(15)))
            } else if line.hasPrefix("#EXT-X-TARGETDURATION:") {
                guard target == nil, entries.isEmpty else { throw ParseError(description: "misplaced TARGETDURATION") }
                target = Int64(try Self.integer(line.dropFirst(22)))
            } else if line.hasPrefix("#EXT-X-MEDIA-SEQUENCE:") {
                guard mediaSequence == nil, entries.isEmpty else { throw ParseError(description: "misplaced MEDIA-SEQUENCE") }
                mediaSequence = try Self.integer(line.dropFirst(22))
            } else if line.hasPrefix("#EXT-X-DISCONTINUITY-SEQUENCE:") {
                guard discontinuitySequence == nil, entries.isEmpty, !pendingDiscontinuity else {
                    throw ParseError(description: "misplaced DISCONTINUITY-SEQUENCE")
                }
                let value = try Self.integer(line.dropFirst(30))
                guard value > 0 else { throw ParseError(description: "DISCONTINUITY-SEQUENCE:0 is written only when above 0") }
                discontinuitySequence = value
            } else if line == "#EXT-X-DISCONTINUITY" {
                guard headerDone, !pendingDiscontinuity, pendingDate == nil else { throw ParseError(description: "misplaced DISCONTINUITY") }
                pendingDiscontinuity = true
            } else if line.hasPrefix("#EXT-X-PROGRAM-DATE-TIME:") {
                guard headerDone, pendingDate == nil else { throw ParseError(description: "misplaced PROGRAM-DATE-TIME") }
                let value = line.dropFirst(25)
                guard value.count == 24, value.hasSuffix("Z") else { throw ParseError(description: "bad date-time \(value)") }
                pendingDate = String(value)
            } else if line.hasPrefix("#EXTINF:") {
                guard headerDone, !afterParts else { throw ParseError(description: "EXTINF before the header or after the hint") }
                let value = line.dropFirst(8)
                guard value.hasSuffix(","), let dot = value.firstIndex(of: ".") else { throw ParseError(description: "bad EXTINF \(value)") }
                let seconds = try Self.integer(value[..<dot])
                let fraction = value[value.index(after: dot)...].dropLast()
                guard fraction.count == 3, fraction.allSatisfy({ $0.isASCII && $0.isNumber }), let thousandths = Int64(fraction) else {
                    throw ParseError(description: "EXTINF needs 3 decimals: \(value)")
                }
                pendingDuration = Int64(seconds) * 1000 + thousandths
            } else if line.hasPrefix("#EXT-X-SERVER-CONTROL:") {
                guard partHoldBack == nil, entries.isEmpty else { throw ParseError(description: "misplaced SERVER-CONTROL") }
                let attributes = line.dropFirst(22).split(separator: ",")
                guard attributes.count == 3, attributes[0] == "CAN-BLOCK-RELOAD=YES",
                    attributes[1].hasPrefix("PART-HOLD-BACK="), attributes[2].hasPrefix("CAN-SKIP-UNTIL=")
                else { throw ParseError(description: "bad SERVER-CONTROL \(line)") }
                partHoldBack = try Self.milliseconds(attributes[1].dropFirst(15))
                canSkipUntil = try Self.milliseconds(attributes[2].dropFirst(15))
            } else if line.hasPrefix("#EXT-X-PART-INF:PART-TARGET=") {
                guard partTarget == nil, entries.isEmpty else { throw ParseError(description: "misplaced PART-INF") }
                partTarget = try Self.milliseconds(line.dropFirst(28))
            } else if line.hasPrefix("#EXT-X-MAP:") {
                guard map == nil, entries.isEmpty, pendingDate == nil else { throw ParseError(description: "misplaced MAP") }
                map = try Self.quoted("URI", in: line.dropFirst(11))
            } else if line.hasPrefix("#EXT-X-SKIP:SKIPPED-SEGMENTS=") {
                guard skipped == nil, entries.isEmpty, pendingDate == nil, !pendingDiscontinuity else {
                    throw ParseError(description: "misplaced SKIP")
                }
                skipped = try Self.integer(line.dropFirst(29))
            } else if line.hasPrefix("#EXT-X-PART:") {
                guard headerDone, !afterParts else { throw ParseError(description: "misplaced PART") }
                let attributes = line.dropFirst(12)
                let fields = attributes.split(separator: ",")
                guard fields.first?.hasPrefix("DURATION=") == true, fields.count <= 3 else { throw ParseError(description: "bad PART \(line)") }
                let independent = fields.count == 3
                if independent { guard fields[2] == "INDEPENDENT=YES" else { throw ParseError(description: "bad PART \(line)") } }
                pendingParts.append(Part(
                    milliseconds: try Self.milliseconds(fields[0].dropFirst(9)), uri: try Self.quoted("URI", in: attributes),
                    independent: independent))
            } else if line.hasPrefix("#EXT-X-PRELOAD-HINT:TYPE=PART,URI=") {
                guard headerDone, preloadHint == nil, reports.isEmpty, pendingDate == nil, !pendingDiscontinuity else {
                    throw ParseError(description: "misplaced PRELOAD-HINT")
                }
                afterParts = true
                preloadHint = try Self.quoted("URI", in: line.dropFirst(20))
            } else if line.hasPrefix("#EXT-X-RENDITION-REPORT:") {
                guard headerDone, pendingDate == nil, !pendingDiscontinuity else { throw ParseError(description: "misplaced REPORT") }
                afterParts = true
                let attributes = line.dropFirst(24)
                let uri = try Self.quoted("URI", in: attributes)
                guard uri.hasPrefix("../"), uri.hasSuffix("/playlist.m3u8") else { throw ParseError(description: "bad REPORT URI \(uri)") }
                let fields = attributes.split(separator: ",")
                guard fields.count == 2 || fields.count == 3, fields[1].hasPrefix("LAST-MSN=") else { throw ParseError(description: "bad REPORT \(line)") }
                var lastPart: UInt64?
                if fields.count == 3 {
                    guard fields[2].hasPrefix("LAST-PART=") else { throw ParseError(description: "bad REPORT \(line)") }
                    lastPart = try Self.integer(fields[2].dropFirst(10))
                }
                reports.append(Report(
                    rendition: String(uri.dropFirst(3).dropLast(14)), lastMSN: try Self.integer(fields[1].dropFirst(9)),
                    lastPart: lastPart))
            } else if line == "#EXT-X-ENDLIST" {
                guard headerDone, !pendingDiscontinuity, pendingDate == nil else { throw ParseError(description: "misplaced ENDLIST") }
                isEnded = true
            } else {
                throw ParseError(description: "unexpected line \(line)")
            }
        }
        guard pendingDuration == nil, !pendingDiscontinuity, pendingDate == nil else {
            throw ParseError(description: "dangling segment tags")
        }
        guard let version, let target, let mediaSequence else { throw ParseError(description: "missing header tags") }
        self.version = version
        self.targetDuration = target
        self.mediaSequence = mediaSequence
        self.discontinuitySequence = discontinuitySequence ?? 0
        self.entries = entries
        self.isEnded = isEnded
        self.trailingParts = pendingParts
    }

    var totalMilliseconds: Int64 { entries.reduce(0) { $0 + $1.milliseconds } }
}
