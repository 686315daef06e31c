import Foundation
import HLSModel
import PlaylistRenderer
import Testing

/// Builds snapshots from plain values; traps on invalid input, which is a bug in the test.
enum SnapshotFixture {
    static func segment(_ sequence: UInt64, milliseconds: Int64, path: String) throws -> Segment {
        Segment(
            sequence: try #require(SequenceNumber(rawValue: sequence)),
            duration: try SegmentDuration(milliseconds: milliseconds),
            path: try SegmentPath(validating: path)
        )
    }

    static func snapshot(
        targetDuration: Int64,
        mediaSequence: UInt64,
        segments: [Segment],
        isEnded: Bool = false,
        discontinuitySequence: UInt64 = 0,
        discontinuities: [UInt64] = []
    ) throws -> RenditionSnapshot {
        RenditionSnapshot(
            stream: try StreamID(validating: "stream"),
            rendition: try RenditionName(validating: "720p"),
            version: 1,
            targetDuration: targetDuration,
            mediaSequence: try #require(SequenceNumber(rawValue: mediaSequence)),
            segments: segments,
            isEnded: isEnded,
            lastModified: Timestamp(millisecondsSinceEpoch: 0),
            discontinuitySequence: discontinuitySequence,
            discontinuities: try discontinuities.map { try #require(SequenceNumber(rawValue: $0)) }
        )
    }
}

@Suite struct MediaPlaylistRendererTests {
    /// The fixture text, read from the test bundle.
    private func fixture(_ name: String) throws -> String {
        let url = try #require(
            Bundle.module.url(forResource: name, withExtension: "m3u8", subdirectory: "Fixtures"),
            "missing fixture \(name).m3u8")
        return try String(contentsOf: url, encoding: .utf8)
    }

    static func goldenCases() throws -> [(String, RenditionSnapshot)] {
        func segment(_ sequence: UInt64, _ milliseconds: Int64, _ path: String) throws -> Segment {
            try SnapshotFixture.segment(sequence, milliseconds: milliseconds, path: path)
        }
        let cdn = "https://cdn.example.com/live/"
        return [
            ("live", try SnapshotFixture.snapshot(targetDuration: 2, mediaSequence: 40, segments: [
                try segment(40, 2000, "/segments/40.ts"),
                try segment(41, 2000, "/segments/41.ts"),
                try segment(42, 1960, "/segments/42.ts"),
            ])),
            ("ended", try SnapshotFixture.snapshot(targetDuration: 2, mediaSequence: 40, segments: [
                try segment(40, 2000, "/segments/40.ts"),
                try segment(41, 2000, "/segments/41.ts"),
            ], isEnded: true)),
            ("empty-window", try SnapshotFixture.snapshot(targetDuration: 6, mediaSequence: 7, segments: [])),
            ("empty-ended", try SnapshotFixture.snapshot(targetDuration: 6, mediaSequence: 7, segments: [], isEnded: true)),
            ("large-sequence", try SnapshotFixture.snapshot(targetDuration: 10, mediaSequence: 9_007_199_254_740_990, segments: [
                try segment(9_007_199_254_740_990, 10_000, cdn + "9007199254740990.ts"),
                try segment(9_007_199_254_740_991, 9_500, cdn + "9007199254740991.ts"),
                try segment(9_007_199_254_740_992, 3_600_000, cdn + "9007199254740992.ts"),
            ])),
            ("sub-second", try SnapshotFixture.snapshot(targetDuration: 1, mediaSequence: 0, segments: [
                try segment(0, 33, "chunk-0.ts"),
                try segment(1, 500, "chunk-1.ts"),
                try segment(2, 1, "chunk-2.ts"),
                try segment(3, 1499, "chunk-3.ts"),
            ])),
            ("discontinuity", try SnapshotFixture.snapshot(targetDuration: 2, mediaSequence: 17, segments: [
                try segment(20, 2000, "/segments/20.ts"),
                try segment(21, 2000, "/segments/21.ts"),
                try segment(25, 1960, "/segments/25.ts"),
            ], discontinuitySequence: 3, discontinuities: [20, 25])),
            ("program-date-time", try SnapshotFixture.snapshot(targetDuration: 2, mediaSequence: 40, segments: [
                Segment(
                    sequence: try #require(SequenceNumber(rawValue: 40)), duration: try SegmentDuration(milliseconds: 2000),
                    path: try SegmentPath(validating: "/segments/40.ts"),
                    programDateTime: try Timestamp(rfc3339: "2026-11-25T11:00:00+01:00"), byteCount: 1000),
                try segment(41, 2000, "/segments/41.ts"),
                Segment(
                    sequence: try #require(SequenceNumber(rawValue: 43)), duration: try SegmentDuration(milliseconds: 2000),
                    path: try SegmentPath(validating: "/segments/43.ts"),
                    programDateTime: try Timestamp(rfc3339: "2026-11-25T10:00:30.5Z")),
            ], isEnded: true, discontinuities: [43])),
        ]
    }

    @Test("Rendering matches the golden fixture", arguments: ["live", "ended", "empty-window", "empty-ended", "large-sequence", "sub-second", "discontinuity", "program-date-time"])
    func golden(name: String) throws {
        let cases = try Self.goldenCases()
        let snapshot = try #require(cases.first { $0.0 == name }?.1)
        let expected = try fixture(name)
        #expect(MediaPlaylistRenderer.render(snapshot) == expected)
        #expect(MediaPlaylistRenderer.renderBytes(snapshot) == Array(expected.utf8))
    }

    @Test("The example from the contract renders exactly")
    func exactText() throws {
        let snapshot = try SnapshotFixture.snapshot(targetDuration: 2, mediaSequence: 40, segments: [
            try SnapshotFixture.segment(40, milliseconds: 2000, path: "/segments/40.ts"),
            try SnapshotFixture.segment(41, milliseconds: 2000, path: "/segments/41.ts"),
        ], isEnded: true)
        #expect(MediaPlaylistRenderer.render(snapshot) == """
            #EXTM3U
            #EXT-X-VERSION:3
            #EXT-X-TARGETDURATION:2
            #EXT-X-MEDIA-SEQUENCE:40
            #EXTINF:2.000,
            /segments/40.ts
            #EXTINF:2.000,
            /segments/41.ts
            #EXT-X-ENDLIST

            """)
    }

    static let durations: [(Int64, String)] = [
        (1, "0.001"), (10, "0.010"), (33, "0.033"), (100, "0.100"), (999, "0.999"), (1000, "1.000"),
        (2500, "2.500"), (10_010, "10.010"), (3_600_000, "3600.000"),
    ]

    @Test("EXTINF prints milliseconds as seconds with three decimals", arguments: durations)
    func extinf(milliseconds: Int64, text: String) throws {
        let snapshot = try SnapshotFixture.snapshot(targetDuration: 3600, mediaSequence: 0, segments: [
            try SnapshotFixture.segment(0, milliseconds: milliseconds, path: "a.ts"),
        ])
        let lines = MediaPlaylistRenderer.render(snapshot).split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines[4] == "#EXTINF:\(text),")
        #expect(try SegmentDuration(milliseconds: milliseconds).description == text)
    }

    static let integers: [UInt64] = [0, 1, 9, 10, 99, 100, 12_345, 1_000_000, 9_007_199_254_740_992]

    @Test("Target duration and media sequence print as plain decimals", arguments: integers)
    func decimals(value: UInt64) throws {
        let snapshot = try SnapshotFixture.snapshot(targetDuration: Int64(value), mediaSequence: value, segments: [])
        let text = MediaPlaylistRenderer.render(snapshot)
        #expect(text.contains("#EXT-X-TARGETDURATION:\(value)\n#EXT-X-MEDIA-SEQUENCE:\(value)\n"))
    }

    @Test("Every line ends with a newline and no line is blank")
    func lineDiscipline() throws {
        let cases = try Self.goldenCases()
        for (_, snapshot) in cases {
            let text = MediaPlaylistRenderer.render(snapshot)
            #expect(text.hasSuffix("\n"))
            #expect(!text.contains("\n\n"))
            #expect(text.hasPrefix("#EXTM3U\n"))
        }
    }
}
