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
    }

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
        for line in lines.dropFirst() {
            guard !line.isEmpty else { throw ParseError(description: "blank line") }
            if isEnded { throw ParseError(description: "content after #EXT-X-ENDLIST") }
            if let duration = pendingDuration {
                guard !line.hasPrefix("#") else { throw ParseError(description: "EXTINF not followed by a URI: \(line)") }
                entries.append(Entry(discontinuity: pendingDiscontinuity, programDateTime: pendingDate, milliseconds: duration, uri: String(line)))
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
                guard headerDone else { throw ParseError(description: "EXTINF before the header") }
                let value = line.dropFirst(8)
                guard value.hasSuffix(","), let dot = value.firstIndex(of: ".") else { throw ParseError(description: "bad EXTINF \(value)") }
                let seconds = try Self.integer(value[..<dot])
                let fraction = value[value.index(after: dot)...].dropLast()
                guard fraction.count == 3, fraction.allSatisfy({ $0.isASCII && $0.isNumber }), let thousandths = Int64(fraction) else {
                    throw ParseError(description: "EXTINF needs 3 decimals: \(value)")
                }
                pendingDuration = Int64(seconds) * 1000 + thousandths
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
    }

    var totalMilliseconds: Int64 { entries.reduce(0) { $0 + $1.milliseconds } }
}
