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
    /// - `#EXT-X-VERSION` (§4.3.1.2): 3, the first to allow decimal `#EXTINF` values; 6 when
    ///   `#EXT-X-MAP` is written (rfc8216bis §8); 9 in a delta update (`#EXT-X-SKIP`, see
    ///   ``renderBytes(_:skip:)``);
    /// - `#EXT-X-TARGETDURATION:<s>` (§4.3.3.1) from ``RenditionSnapshot/targetDuration``;
    /// - `#EXT-X-MEDIA-SEQUENCE:<n>` (§4.3.3.2) from ``RenditionSnapshot/mediaSequence``;
    /// - `#EXT-X-DISCONTINUITY-SEQUENCE:<n>` (§4.3.3.3) from
    ///   ``RenditionSnapshot/discontinuitySequence``, only when it is above 0 (absent means 0);
    /// - for a low-latency rendition (``RenditionSnapshot/partTarget`` set):
    ///   `#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=<3×part target>,CAN-SKIP-UNTIL=<6×target duration>`
    ///   (rfc8216bis §4.4.3.8) and `#EXT-X-PART-INF:PART-TARGET=<s>` (§4.4.3.7);
    /// - `#EXT-X-MAP:URI="<uri>"` (§4.4.4.5) when ``RenditionSnapshot/mapURI`` is set;
    /// - per segment: `#EXT-X-DISCONTINUITY` (§4.3.2.3) when its sequence is in
    ///   ``RenditionSnapshot/discontinuities``; `#EXT-X-PROGRAM-DATE-TIME:<date-time>`
    ///   (§4.3.2.6) in UTC with milliseconds when ``Segment/programDateTime`` is set; its
    ///   listed parts as `#EXT-X-PART:DURATION=<s>,URI="<uri>"[,INDEPENDENT=YES]`
    ///   (rfc8216bis §4.4.4.9); `#EXTINF:<seconds>,` (§4.3.2.1) with three decimals; then its
    ///   URI line;
    /// - the parts of the segment in progress, then, while live,
    ///   `#EXT-X-PRELOAD-HINT:TYPE=PART,URI="<next part>"` (§4.4.5.3) from
    ///   ``RenditionSnapshot/preloadHintURI``;
    /// - per other rendition, `#EXT-X-RENDITION-REPORT:URI="../<name>/playlist.m3u8",LAST-MSN=<n>[,LAST-PART=<p>]`
    ///   (§4.4.5.4) from ``RenditionSnapshot/renditionReports`` (low-latency renditions only);
    /// - `#EXT-X-ENDLIST` (§4.3.3.4) when ``RenditionSnapshot/isEnded``.
    ///
    /// A snapshot without low-latency settings, map URI, parts or reports renders exactly as
    /// before those existed.
    /// - Complexity: O(*n*) in the size of the output; one allocation.
    public static func renderBytes(_ snapshot: RenditionSnapshot) -> [UInt8] {
        write(snapshot, skipped: 0)
    }

    /// The playlist as UTF-8 bytes, either whole or, with `skip`, as the Playlist Delta Update
    /// that answers `_HLS_skip=YES` (rfc8216bis §6.2.5.1).
    ///
    /// The delta update replaces the leading segments that end at least `CAN-SKIP-UNTIL`
    /// seconds before the end of the last segment (the Skip Boundary), with the tags that
    /// apply only to them, by `#EXT-X-SKIP:SKIPPED-SEGMENTS=<n>` (§4.4.5.2), and declares
    /// `#EXT-X-VERSION:9`, the version the tag requires (§8). Every other line is as in the
    /// whole playlist, so `#EXT-X-MEDIA-SEQUENCE` + `SKIPPED-SEGMENTS` is the Media Sequence
    /// Number of the first segment listed. When the rendition is not low-latency (no
    /// `CAN-SKIP-UNTIL`) or has ended, the directive is ignored and the whole playlist is
    /// returned; when nothing is old enough to skip, the delta update skips 0 segments.
    /// - Complexity: O(*n*) in the size of the output.
    public static func renderBytes(_ snapshot: RenditionSnapshot, skip: Bool) -> [UInt8] {
        guard skip, snapshot.isLowLatency, !snapshot.isEnded else { return write(snapshot, skipped: 0) }
        return write(snapshot, skipped: snapshot.deltaSkippedSegmentCount, isDelta: true)
    }

    /// ``renderBytes(_:skip:)`` as a String.
    public static func render(_ snapshot: RenditionSnapshot, skip: Bool) -> String {
        String(decoding: renderBytes(snapshot, skip: skip), as: UTF8.self)
    }

    private static func write(_ snapshot: RenditionSnapshot, skipped: Int, isDelta: Bool = false) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(estimatedByteCount(snapshot))
        append(versionPrefix, to: &out)
        appendDecimal(isDelta ? 9 : (snapshot.mapURI != nil ? 6 : 3), to: &out)
        append(targetDurationPrefix, to: &out)
        appendDecimal(UInt64(clamping: snapshot.targetDuration), to: &out)
        append(mediaSequencePrefix, to: &out)
        appendDecimal(snapshot.mediaSequence.rawValue, to: &out)
        out.append(newline)
        if snapshot.discontinuitySequence > 0 {
            append(discontinuitySequencePrefix, to: &out)
            appendDecimal(snapshot.discontinuitySequence, to: &out)
            out.append(newline)
        }
        if let partTarget = snapshot.partTarget {
            append(serverControlPrefix, to: &out)
            appendMilliseconds(partTarget.milliseconds * 3, to: &out)
            append(canSkipUntilPrefix, to: &out)
            appendMilliseconds(snapshot.targetDuration * 6000, to: &out)
            append(partInfPrefix, to: &out)
            appendMilliseconds(partTarget.milliseconds, to: &out)
            out.append(newline)
        }
        if let mapURI = snapshot.mapURI {
            append(mapPrefix, to: &out)
            mapURI.rawValue.appendUTF8(to: &out)
            append(quoteNewline, to: &out)
        }
        if isDelta {
            append(skipPrefix, to: &out)
            appendDecimal(UInt64(skipped), to: &out)
            out.append(newline)
        }
        var discontinuities = snapshot.discontinuities[...]
        var parts = snapshot.parts[...]
        for (index, segment) in snapshot.segments.enumerated() {
            while let next = discontinuities.first, next < segment.sequence {
                discontinuities.removeFirst()
            }
            while let next = parts.first, next.sequence < segment.sequence {
                parts.removeFirst()
            }
            if index < skipped {
                continue
            }
            if discontinuities.first == segment.sequence {
                append(discontinuity, to: &out)
                discontinuities.removeFirst()
            }
            if let programDateTime = segment.programDateTime {
                append(programDateTimePrefix, to: &out)
                programDateTime.rfc3339.appendUTF8(to: &out)
                out.append(newline)
            }
            while let part = parts.first, part.sequence == segment.sequence {
                appendPart(part, to: &out)
                parts.removeFirst()
            }
            append(extinfPrefix, to: &out)
            appendMilliseconds(segment.duration.milliseconds, to: &out)
            append(extinfSuffix, to: &out)
            segment.path.appendUTF8(to: &out)
            out.append(newline)
        }
        for part in parts {
            appendPart(part, to: &out)
        }
        if let hint = snapshot.preloadHintURI {
            append(preloadHintPrefix, to: &out)
            hint.appendUTF8(to: &out)
            append(quoteNewline, to: &out)
        }
        if snapshot.isLowLatency {
            for report in snapshot.renditionReports {
                append(renditionReportPrefix, to: &out)
                report.rendition.rawValue.appendUTF8(to: &out)
                append(lastMSNPrefix, to: &out)
                appendDecimal(report.lastMSN, to: &out)
                if let lastPart = report.lastPart {
                    append(lastPartPrefix, to: &out)
                    appendDecimal(UInt64(clamping: lastPart), to: &out)
                }
                out.append(newline)
            }
        }
        if snapshot.isEnded {
            append(endList, to: &out)
        }
        return out
    }

    /// `#EXT-X-PART:DURATION=<s>,URI="<uri>"[,INDEPENDENT=YES]` (rfc8216bis §4.4.4.9).
    private static func appendPart(_ part: PartialSegment, to out: inout [UInt8]) {
        append(partPrefix, to: &out)
        appendMilliseconds(part.duration.milliseconds, to: &out)
        append(partURIPrefix, to: &out)
        part.path.rawValue.appendUTF8(to: &out)
        out.append(UInt8(ascii: "\""))
        if part.independent {
            append(independentSuffix, to: &out)
        }
        out.append(newline)
    }

    // MARK: - Building blocks

    private static let newline = UInt8(ascii: "\n")
    private static let versionPrefix: StaticString = "#EXTM3U\n#EXT-X-VERSION:"
    private static let targetDurationPrefix: StaticString = "\n#EXT-X-TARGETDURATION:"
    private static let serverControlPrefix: StaticString = "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK="
    private static let canSkipUntilPrefix: StaticString = ",CAN-SKIP-UNTIL="
    private static let partInfPrefix: StaticString = "\n#EXT-X-PART-INF:PART-TARGET="
    private static let mapPrefix: StaticString = "#EXT-X-MAP:URI=\""
    private static let quoteNewline: StaticString = "\"\n"
    private static let skipPrefix: StaticString = "#EXT-X-SKIP:SKIPPED-SEGMENTS="
    private static let partPrefix: StaticString = "#EXT-X-PART:DURATION="
    private static let partURIPrefix: StaticString = ",URI=\""
    private static let independentSuffix: StaticString = ",INDEPENDENT=YES"
    private static let preloadHintPrefix: StaticString = "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\""
    private static let renditionReportPrefix: StaticString = "#EXT-X-RENDITION-REPORT:URI=\"../"
    private static let lastMSNPrefix: StaticString = "/playlist.m3u8\",LAST-MSN="
    private static let lastPartPrefix: StaticString = ",LAST-PART="
    private static let mediaSequencePrefix: StaticString = "\n#EXT-X-MEDIA-SEQUENCE:"
    private static let discontinuitySequencePrefix: StaticString = "#EXT-X-DISCONTINUITY-SEQUENCE:"
    private static let discontinuity: StaticString = "#EXT-X-DISCONTINUITY\n"
    private static let programDateTimePrefix: StaticString = "#EXT-X-PROGRAM-DATE-TIME:"
    private static let extinfPrefix: StaticString = "#EXTINF:"
    private static let extinfSuffix: StaticString = ",\n"
    private static let endList: StaticString = "#EXT-X-ENDLIST\n"

    /// Appends a tag's fixed text (a literal in the binary: no copy to make, no lazy global).
    @inline(__always)
    private static func append(_ text: StaticString, to out: inout [UInt8]) {
        text.withUTF8Buffer { out.append(contentsOf: $0) }
    }

    /// An upper bound of the output size, so the buffer is allocated once.
    private static func estimatedByteCount(_ snapshot: RenditionSnapshot) -> Int {
        // Header with three 20-digit numbers, plus per segment "#EXTINF:" + "3600.000" + ",\n" + "\n",
        // and the optional discontinuity and program-date-time lines (a date-time is at most 32 bytes).
        var count = versionPrefix.utf8CodeUnitCount + targetDurationPrefix.utf8CodeUnitCount + mediaSequencePrefix.utf8CodeUnitCount
            + discontinuitySequencePrefix.utf8CodeUnitCount + 4 * 20 + 2 + endList.utf8CodeUnitCount
            + snapshot.discontinuities.count * discontinuity.utf8CodeUnitCount
        if snapshot.partTarget != nil {
            count += serverControlPrefix.utf8CodeUnitCount + canSkipUntilPrefix.utf8CodeUnitCount + partInfPrefix.utf8CodeUnitCount + 3 * 24 + 1
            count += skipPrefix.utf8CodeUnitCount + 21
            count += preloadHintPrefix.utf8CodeUnitCount + quoteNewline.utf8CodeUnitCount + (snapshot.partURITemplate?.rawValue.utf8.count ?? 0) + 40
            for report in snapshot.renditionReports {
                count += renditionReportPrefix.utf8CodeUnitCount + report.rendition.rawValue.utf8.count + lastMSNPrefix.utf8CodeUnitCount
                    + lastPartPrefix.utf8CodeUnitCount + 2 * 20 + 1
            }
        }
        if let mapURI = snapshot.mapURI { count += mapPrefix.utf8CodeUnitCount + mapURI.rawValue.utf8.count + quoteNewline.utf8CodeUnitCount }
        for part in snapshot.parts {
            count += partPrefix.utf8CodeUnitCount + 8 + partURIPrefix.utf8CodeUnitCount + part.path.rawValue.utf8.count + 1
                + independentSuffix.utf8CodeUnitCount + 1
        }
        for segment in snapshot.segments {
            count += extinfPrefix.utf8CodeUnitCount + 8 + extinfSuffix.utf8CodeUnitCount + 1 + segment.path.utf8Count
            if segment.programDateTime != nil { count += programDateTimePrefix.utf8CodeUnitCount + 32 + 1 }
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
