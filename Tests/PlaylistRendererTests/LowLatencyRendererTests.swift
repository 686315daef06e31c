import Foundation
import HLSModel
import PlaylistRenderer
import Testing

@Suite struct LowLatencyRendererTests {
    private func fixture(_ name: String) throws -> String {
        let url = try #require(
            Bundle.module.url(forResource: name, withExtension: "m3u8", subdirectory: "Fixtures"),
            "missing fixture \(name).m3u8")
        return try String(contentsOf: url, encoding: .utf8)
    }

    /// Segments 100–107 of 1 s with dates, parts on 106 and 107, two parts of 108 in progress,
    /// 0.25 s part target, two other renditions reported.
    static func snapshot(map: String? = nil, isEnded: Bool = false) throws -> RenditionSnapshot {
        let start = try Timestamp(rfc3339: "2026-11-25T10:00:00Z")
        let segments = try (UInt64(100)...107).map { n in
            Segment(
                sequence: try #require(SequenceNumber(rawValue: n)), duration: try SegmentDuration(milliseconds: 1000),
                path: try SegmentPath(validating: "/seg/\(n).mp4"),
                programDateTime: start.advanced(byMilliseconds: Int64(n - 100) * 1000))
        }
        var parts: [PartialSegment] = []
        for (n, count) in [(UInt64(106), 4), (107, 4), (108, 2)] {
            for index in 0..<count {
                parts.append(PartialSegment(
                    sequence: try #require(SequenceNumber(rawValue: n)), part: index,
                    duration: try SegmentDuration(milliseconds: 250),
                    path: try QuotedURI(validating: "/part/\(n).\(index).mp4"), independent: index == 0))
            }
        }
        return RenditionSnapshot(
            stream: try StreamID(validating: "stream"), rendition: try RenditionName(validating: "720p"),
            version: 9, targetDuration: 1, mediaSequence: try #require(SequenceNumber(rawValue: 100)),
            segments: segments, isEnded: isEnded, lastModified: start,
            partTarget: try SegmentDuration(milliseconds: 250),
            partURITemplate: try PartURITemplate(validating: "/part/{sequence}.{part}.mp4"),
            mapURI: try map.map { try QuotedURI(validating: $0) },
            parts: parts,
            renditionReports: [
                RenditionReport(rendition: try RenditionName(validating: "1080p"), lastMSN: 108, lastPart: 1),
                RenditionReport(rendition: try RenditionName(validating: "audio"), lastMSN: 107, lastPart: nil),
            ])
    }

    static let goldens: [(String, String?, Bool, Bool)] = [
        ("ll-live", nil, false, false),
        ("ll-map", "/init/720p.mp4", false, false),
        ("ll-delta", "/init/720p.mp4", false, true),
        ("ll-ended", nil, true, false),
    ]

    @Test("Low-latency rendering matches the golden fixture", arguments: goldens)
    func golden(name: String, map: String?, isEnded: Bool, skip: Bool) throws {
        let snapshot = try Self.snapshot(map: map, isEnded: isEnded)
        let expected = try fixture(name)
        #expect(MediaPlaylistRenderer.render(snapshot, skip: skip) == expected)
        #expect(MediaPlaylistRenderer.renderBytes(snapshot, skip: skip) == Array(expected.utf8))
        if !skip { #expect(MediaPlaylistRenderer.render(snapshot) == expected) }
    }

    @Test("An ended playlist ignores the skip directive; a non-low-latency one too")
    func skipIgnored() throws {
        let ended = try Self.snapshot(isEnded: true)
        #expect(MediaPlaylistRenderer.render(ended, skip: true) == MediaPlaylistRenderer.render(ended))
        var plain = try Self.snapshot()
        plain.partTarget = nil
        plain.parts = []
        plain.renditionReports = []
        let text = MediaPlaylistRenderer.render(plain, skip: true)
        #expect(text == MediaPlaylistRenderer.render(plain))
        #expect(!text.contains("SKIP") && !text.contains("PART") && !text.contains("SERVER-CONTROL") && !text.contains("REPORT"))
        #expect(text.hasPrefix("#EXTM3U\n#EXT-X-VERSION:3\n"))
    }

    @Test("A delta of a short playlist skips nothing but still declares version 9")
    func shortDelta() throws {
        var snapshot = try Self.snapshot()
        snapshot.segments = Array(snapshot.segments.suffix(3))
        snapshot.mediaSequence = try #require(SequenceNumber(rawValue: 105))
        let text = MediaPlaylistRenderer.render(snapshot, skip: true)
        #expect(text.contains("#EXT-X-VERSION:9\n"))
        #expect(text.contains("#EXT-X-SKIP:SKIPPED-SEGMENTS=0\n"))
        #expect(snapshot.deltaSkippedSegmentCount == 0)
    }
}
