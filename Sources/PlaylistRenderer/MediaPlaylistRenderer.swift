public import HLSModel

/// Renders a ``RenditionSnapshot`` as the text of an HLS media playlist (RFC 8216 §4.3).
///
/// The output is exact and deterministic: every line ends with `"\n"`, there are no blank
/// lines, and durations are printed from integer milliseconds, never through `Double`
/// formatting. For example:
/// ```
/// #EXTM3U
/// #EXT-X-VERSION:3
/// #EXT-X-TARGETDURATION:2
/// #EXT-X-MEDIA-SEQUENCE:40
/// #EXTINF:2.000,
/// /segments/40.ts
/// #EXT-X-ENDLIST
/// ```
public enum MediaPlaylistRenderer {
    /// The playlist as a String; see ``renderBytes(_:)`` for the tags written.
    ///
    /// - Complexity: O(*n*) in the size of the output.
    public static func render(_ snapshot: RenditionSnapshot) -> String {
        String(decoding: renderBytes(snapshot), as: UTF8.self)
    }

    /// The playlist as UTF-8 bytes, ready to be a response body.
    ///
    /// Writes, in order:
    /// - `#EXTM3U` (RFC 8216 §4.3.1.1), the first line of every playlist;
    /// - `#EXT-X-VERSION:3` (§4.3.1.2): version 3 is the first to allow decimal `#EXTINF` values;
    /// - `#EXT-X-TARGETDURATION:<s>` (§4.3.3.1) from ``RenditionSnapshot/targetDuration``;
    /// - `#EXT-X-MEDIA-SEQUENCE:<n>` (§4.3.3.2) from ``RenditionSnapshot/mediaSequence``;
    /// - `#EXT-X-DISCONTINUITY-SEQUENCE:<n>` (§4.3.3.3) from
    ///   ``RenditionSnapshot/discontinuitySequence``, only when it is above 0 (absent means 0);
    /// - per segment: `#EXT-X-DISCONTINUITY` (§4.3.2.3) when its sequence is in
    ///   ``RenditionSnapshot/discontinuities``; `#EXT-X-PROGRAM-DATE-TIME:<date-time>`
    ///   (§4.3.2.6) in UTC with milliseconds when ``Segment/programDateTime`` is set;
    ///   `#EXTINF:<seconds>,` (§4.3.2.1) with three decimals; then its URI line;
    /// - `#EXT-X-ENDLIST` (§4.3.3.4) when ``RenditionSnapshot/isEnded``.
    /// - Complexity: O(*n*) in the size of the output; one allocation.
    public static func renderBytes(_ snapshot: RenditionSnapshot) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(estimatedByteCount(snapshot))
        out.append(contentsOf: headerPrefix)
        appendDecimal(UInt64(clamping: snapshot.targetDuration), to: &out)
        out.append(contentsOf: mediaSequencePrefix)
        appendDecimal(snapshot.mediaSequence.rawValue, to: &out)
        out.append(newline)
        if snapshot.discontinuitySequence > 0 {
            out.append(contentsOf: discontinuitySequencePrefix)
            appendDecimal(snapshot.discontinuitySequence, to: &out)
            out.append(newline)
        }
        var discontinuities = snapshot.discontinuities[...]
        for segment in snapshot.segments {
            while let next = discontinuities.first, next < segment.sequence {
                discontinuities.removeFirst()
            }
            if discontinuities.first == segment.sequence {
                out.append(contentsOf: discontinuity)
                discontinuities.removeFirst()
            }
            if let programDateTime = segment.programDateTime {
                out.append(contentsOf: programDateTimePrefix)
                out.append(contentsOf: programDateTime.rfc3339.utf8)
                out.append(newline)
            }
            out.append(contentsOf: extinfPrefix)
            appendMilliseconds(segment.duration.milliseconds, to: &out)
            out.append(contentsOf: extinfSuffix)
            out.append(contentsOf: segment.path.rawValue.utf8)
            out.append(newline)
        }
        if snapshot.isEnded {
            out.append(contentsOf: endList)
        }
        return out
    }

    // MARK: - Building blocks

    private static let newline = UInt8(ascii: "\n")
    private static let headerPrefix = Array("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:".utf8)
    private static let mediaSequencePrefix = Array("\n#EXT-X-MEDIA-SEQUENCE:".utf8)
    private static let discontinuitySequencePrefix = Array("#EXT-X-DISCONTINUITY-SEQUENCE:".utf8)
    private static let discontinuity = Array("#EXT-X-DISCONTINUITY\n".utf8)
    private static let programDateTimePrefix = Array("#EXT-X-PROGRAM-DATE-TIME:".utf8)
    private static let extinfPrefix = Array("#EXTINF:".utf8)
    private static let extinfSuffix = Array(",\n".utf8)
    private static let endList = Array("#EXT-X-ENDLIST\n".utf8)

    /// An upper bound of the output size, so the buffer is allocated once.
    private static func estimatedByteCount(_ snapshot: RenditionSnapshot) -> Int {
        // Header with three 20-digit numbers, plus per segment "#EXTINF:" + "3600.000" + ",\n" + "\n",
        // and the optional discontinuity and program-date-time lines (a date-time is at most 32 bytes).
        var count = headerPrefix.count + mediaSequencePrefix.count + discontinuitySequencePrefix.count
            + 3 * 20 + 2 + endList.count + snapshot.discontinuities.count * discontinuity.count
        for segment in snapshot.segments {
            count += extinfPrefix.count + 8 + extinfSuffix.count + 1 + segment.path.rawValue.utf8.count
            if segment.programDateTime != nil { count += programDateTimePrefix.count + 32 + 1 }
        }
        return count
    }

    /// Appends the decimal digits of `value`.
    static func appendDecimal(_ value: UInt64, to out: inout [UInt8]) {
        if value < 10 {
            out.append(UInt8(ascii: "0") + UInt8(value))
            return
        }
        var divisor: UInt64 = 1
        while value / divisor >= 10 {
            divisor *= 10
        }
        var remaining = value
        while divisor > 0 {
            out.append(UInt8(ascii: "0") + UInt8(remaining / divisor))
            remaining %= divisor
            divisor /= 10
        }
    }

    /// Appends `milliseconds` as seconds with exactly three decimals (`2000` → `2.000`).
    private static func appendMilliseconds(_ milliseconds: Int64, to out: inout [UInt8]) {
        let value = UInt64(clamping: milliseconds)
        appendDecimal(value / 1000, to: &out)
        out.append(UInt8(ascii: "."))
        let fraction = value % 1000
        out.append(UInt8(ascii: "0") + UInt8(fraction / 100))
        out.append(UInt8(ascii: "0") + UInt8(fraction / 10 % 10))
        out.append(UInt8(ascii: "0") + UInt8(fraction % 10))
    }
}
