import HLSModel
import PlaylistRenderer
import SegmentRegistry
import Testing

@Suite struct LowLatencyRegistryTests {
    /// A harness with one declared low-latency rendition (2 s target, 0.5 s parts).
    static func lowLatency(windowSize: Int = 6, map: String? = nil) throws -> Harness {
        let harness = Harness(windowSize: windowSize)
        try harness.declare(try lowLatencyDeclaration(map: map))
        return harness
    }

    // MARK: Parts

    @Test("Parts in order are listed after the last segment, one publication each")
    func inOrder() throws {
        let harness = try Self.lowLatency()
        try harness.register(0, at: 2000)
        for index in 0..<3 {
            #expect(try harness.registerPart(1, index, at: 2500 + Int64(index) * 500) == .registered(listed: true))
        }
        #expect(try harness.listedParts() == ["1.0", "1.1", "1.2"])
        #expect(harness.log.count == 4)
        let playlist = try harness.parsed()
        #expect(playlist.trailingParts.map(\.uri) == ["/part/1.0.mp4", "/part/1.1.mp4", "/part/1.2.mp4"])
        #expect(playlist.preloadHint == "/part/1.3.mp4")
        #expect(playlist.partTarget == 500 && playlist.partHoldBack == 1500 && playlist.canSkipUntil == 12_000)
    }

    @Test("A part out of order waits until every earlier part of its segment is present")
    func outOfOrder() throws {
        let harness = try Self.lowLatency()
        try harness.register(0)
        #expect(try harness.registerPart(1, 2) == .registered(listed: false))
        #expect(try harness.registerPart(1, 1) == .registered(listed: false))
        #expect(try harness.listedParts() == [])
        #expect(harness.log.count == 1, "nothing listed, nothing published")
        #expect(try harness.registerPart(1, 0) == .registered(listed: true))
        #expect(try harness.listedParts() == ["1.0", "1.1", "1.2"])
        #expect(harness.log.count == 2, "the gap filling publishes once")
        // Parts of a later segment wait for it to be the one in progress.
        #expect(try harness.registerPart(2, 0) == .registered(listed: false))
        try harness.register(1)
        #expect(try harness.listedParts() == ["1.0", "1.1", "1.2", "2.0"])
        let playlist = try harness.parsed()
        #expect(playlist.entries.last?.parts.count == 3)
        #expect(playlist.trailingParts.map(\.uri) == ["/part/2.0.mp4"])
    }

    @Test("Repeats are duplicates, differences are conflicts, parts of complete segments are stale")
    func duplicatesAndConflicts() throws {
        let harness = try Self.lowLatency()
        try harness.register(0)
        try harness.registerPart(1, 0, independent: true)
        try harness.registerPart(1, 2)  // waiting
        #expect(try harness.registerPart(1, 0, independent: true) == .duplicate)
        #expect(try harness.registerPart(1, 2) == .duplicate)
        #expect(throws: LowLatencyError.conflictingPart(sequence: try sequence(1), part: 0)) {
            try harness.registerPart(1, 0, independent: false)
        }
        #expect(throws: LowLatencyError.conflictingPart(sequence: try sequence(1), part: 2)) {
            try harness.registerPart(1, 2, milliseconds: 400)
        }
        let before = harness.log.count
        try harness.register(1)  // completes segment 1 with its listed parts (part 2 never was)
        #expect(try harness.registerPart(1, 0, independent: true) == .duplicate)
        #expect(try harness.registerPart(1, 1) == .stale, "a complete segment takes no more parts")
        #expect(try harness.registerPart(1, 2) == .stale)
        #expect(throws: LowLatencyError.conflictingPart(sequence: try sequence(1), part: 0)) {
            try harness.registerPart(1, 0, path: "/other.mp4")
        }
        #expect(harness.log.count == before + 1)
        #expect(try harness.listedParts() == ["1.0"])
        // A part of a segment that slid out, or below the window, is stale.
        #expect(try harness.registerPart(0, 0) == .stale)
    }

    @Test("Refusals: too long, not low-latency, unknown rendition, after the end, too far ahead")
    func refusals() throws {
        let harness = try Self.lowLatency()
        try harness.register(0)
        #expect(throws: LowLatencyError.exceedsPartTarget(
            sequence: try sequence(1), part: 0, duration: try SegmentDuration(milliseconds: 501),
            partTarget: try SegmentDuration(milliseconds: 500))
        ) { try harness.registerPart(1, 0, milliseconds: 501) }
        #expect(try harness.registerPart(1, 0, milliseconds: 500) == .registered(listed: true), "exactly the target is fine")
        try harness.register(0, stream: "regular", rendition: "plain")
        #expect(throws: LowLatencyError.notLowLatency(try RenditionName(validating: "plain"))) {
            try harness.registerPart(1, 0, stream: "regular", rendition: "plain")
        }
        #expect(throws: LowLatencyError.notLowLatency(try RenditionName(validating: "nobody"))) {
            try harness.registerPart(1, 0, rendition: "nobody")
        }
        #expect(throws: RegistryError.tooFarAhead(sequence: try sequence(1025), nextExpected: try sequence(1), limit: 1024)) {
            try harness.registerPart(1025, 0)
        }
        #expect(try harness.registerPart(1024, 0) == .registered(listed: false))
        #expect(try harness.end() == .ended)
        let ended = RegistryError.streamEnded(try StreamID(validating: "s"), refused: .part)
        #expect(throws: ended) { try harness.registerPart(1, 1) }
        #expect(throws: ended) { try harness.registerPart(1, 0, rendition: "nobody") }
        #expect(ended.message == "stream s has ended and accepts no more parts")
    }

    @Test("After the end, an exact repeat of a held part is a duplicate; any other part is refused")
    func repeatAfterEnd() throws {
        let harness = try Self.lowLatency()
        try harness.register(0)
        try harness.registerPart(1, 0)  // listed, in progress
        try harness.registerPart(3, 0)  // buffered ahead
        try harness.declare(try lowLatencyDeclaration(), rendition: "early")
        try harness.registerPart(0, 0, rendition: "early")  // waits for a first segment
        #expect(try harness.end() == .ended)
        let before = harness.log.count
        let snapshot = try harness.peek()
        #expect(try harness.registerPart(1, 0) == .duplicate)
        #expect(try harness.registerPart(3, 0) == .duplicate)
        #expect(try harness.registerPart(0, 0, rendition: "early") == .duplicate)
        let ended = RegistryError.streamEnded(try StreamID(validating: "s"), refused: .part)
        #expect(throws: ended) { try harness.registerPart(1, 0, path: "/other.mp4") }
        #expect(throws: ended) { try harness.registerPart(1, 0, independent: true) }
        #expect(throws: ended) { try harness.registerPart(1, 1) }
        #expect(throws: ended) { try harness.registerPart(0, 1, rendition: "early") }
        #expect(throws: ended) { try harness.registerPart(1, 0, rendition: "nobody") }
        #expect(harness.log.count == before, "nothing was republished")
        #expect(try harness.peek() == snapshot)
    }

    @Test("A non-low-latency rendition renders exactly as before")
    func plainUnchanged() throws {
        let harness = Harness()
        try harness.declare(RenditionDeclaration(bandwidth: 1_000_000))
        try harness.register(0, at: 5000)
        try harness.register(1, at: 7000)
        try harness.register(0, rendition: "other")
        #expect(try harness.text() == """
            #EXTM3U
            #EXT-X-VERSION:3
            #EXT-X-TARGETDURATION:2
            #EXT-X-MEDIA-SEQUENCE:0
            #EXTINF:2.000,
            /seg/0.ts
            #EXTINF:2.000,
            /seg/1.ts

            """)
        #expect(try harness.peek()?.segments.allSatisfy { $0.programDateTime == nil } == true)
    }

    @Test("Parts that arrive before the first segment wait for it and are listed with it")
    func earlyParts() throws {
        let harness = try Self.lowLatency()
        #expect(try harness.registerPart(0, 1) == .registered(listed: false))
        #expect(try harness.registerPart(0, 0) == .registered(listed: false))
        #expect(try harness.registerPart(1, 0) == .registered(listed: false))
        #expect(try harness.registerPart(0, 0) == .duplicate)
        #expect(try harness.peek() == nil, "no playlist before the first segment")
        try harness.register(0)
        #expect(try harness.listedParts() == ["0.0", "0.1", "1.0"])
    }

    // MARK: Playlist

    @Test("Program date-time on every segment: registered, else continuous, else arrival minus duration")
    func programDateTime() throws {
        let harness = try Self.lowLatency()
        try harness.register(0, at: 10_000)  // arrival 10 s, 2 s long → 8 s
        try harness.register(2, at: 13_900)  // waits; provisional 11.9 s
        try harness.register(1, milliseconds: 1900, at: 14_000)  // continuous: 10 s, then 2 → 11.9 s
        try harness.register(3, at: 15_000, programDateTime: 60_000)  // registered wins
        try harness.register(4, at: 17_000)  // continues the registered one: 62 s
        let dates = try #require(try harness.peek()).segments.map { $0.programDateTime?.millisecondsSinceEpoch }
        #expect(dates == [8000, 10_000, 11_900, 60_000, 62_000])
        #expect(try harness.parsed().entries.allSatisfy { $0.programDateTime != nil })
    }

    @Test("Parts are listed only for segments within three target durations of the end")
    func partsDropped() throws {
        let harness = try Self.lowLatency(windowSize: 10)
        for n: UInt64 in 0..<6 {
            for index in 0..<4 { try harness.registerPart(n, index) }
            try harness.register(n)
        }
        // 6 segments of 2 s, 3 TD = 6 s: segments 3, 4 and 5 end within 6 s of the end.
        var playlist = try harness.parsed()
        #expect(playlist.entries.map(\.parts.count) == [0, 0, 0, 4, 4, 4])
        for index in 0..<3 { try harness.registerPart(6, index) }
        #expect(try harness.parsed().entries.map(\.parts.count) == [0, 0, 0, 4, 4, 4], "segment 3 ends 5.5 s from the end")
        try harness.registerPart(6, 3)
        playlist = try harness.parsed()
        // With 2 s in progress, segment 3 ends 6 s from the end: its parts go.
        #expect(playlist.entries.map(\.parts.count) == [0, 0, 0, 0, 4, 4])
        #expect(playlist.trailingParts.count == 4)
    }

    @Test("The preload hint names the next part, which is the one that then arrives")
    func preloadHint() throws {
        let harness = try Self.lowLatency()
        try harness.register(0)
        var hint = try #require(try harness.parsed().preloadHint)
        #expect(hint == "/part/1.0.mp4")
        for step in 0..<9 {
            let n: UInt64 = 1 + UInt64(step / 4)
            let index = step % 4
            if index == 0 && step > 0 {
                try harness.register(n - 1)  // completing a segment moves the hint to the next one
                hint = try #require(try harness.parsed().preloadHint)
                #expect(hint == "/part/\(n).0.mp4")
            }
            try harness.registerPart(n, index)
            let playlist = try harness.parsed()
            let last = try #require(playlist.trailingParts.last)
            #expect(last.uri == hint, "the part that arrived is the one hinted")
            hint = try #require(playlist.preloadHint)
        }
        #expect(try harness.end() == .ended)
        let ended = try harness.parsed()
        #expect(ended.preloadHint == nil && ended.isEnded)
    }

    @Test("Rendition reports give every other rendition's last segment and part as they are now")
    func renditionReports() throws {
        let harness = Harness()
        try harness.declare(try lowLatencyDeclaration(), rendition: "720p")
        try harness.declare(try lowLatencyDeclaration(targetDuration: nil), rendition: "360p")
        try harness.declare(try lowLatencyDeclaration(targetDuration: nil), rendition: "1080p")
        try harness.register(0, rendition: "720p")
        try harness.register(0, rendition: "360p")
        try harness.registerPart(1, 0, rendition: "360p")
        try harness.registerPart(1, 1, rendition: "360p")
        try harness.registerPart(1, 0, rendition: "720p")
        // 1080p has no segment yet: LAST-MSN is required, so it is left out.
        #expect(try harness.parsed(rendition: "720p").reports == [MediaPlaylist.Report(rendition: "360p", lastMSN: 1, lastPart: 1)])
        // 360p last changed before 720p's part 1.0, and still reports it.
        #expect(try harness.parsed(rendition: "360p").reports == [MediaPlaylist.Report(rendition: "720p", lastMSN: 1, lastPart: 0)])
        try harness.register(1, rendition: "360p")
        #expect(try harness.parsed(rendition: "360p").reports == [MediaPlaylist.Report(rendition: "720p", lastMSN: 1, lastPart: 0)])
        #expect(try harness.parsed(rendition: "720p").reports == [MediaPlaylist.Report(rendition: "360p", lastMSN: 1, lastPart: 1)],
            "completing a segment whose parts were all listed reports the same")
        try harness.registerPart(2, 0, rendition: "360p")
        #expect(try harness.parsed(rendition: "720p").reports == [MediaPlaylist.Report(rendition: "360p", lastMSN: 2, lastPart: 0)])
        // The first segment of 1080p makes it appear in both others at once.
        try harness.register(0, rendition: "1080p")
        #expect(try harness.parsed(rendition: "720p").reports.map(\.rendition) == ["1080p", "360p"])
        #expect(try harness.parsed(rendition: "360p").reports.first == MediaPlaylist.Report(rendition: "1080p", lastMSN: 0, lastPart: nil))
        // Both share one SERVER-CONTROL.
        #expect(try harness.parsed(rendition: "360p").canSkipUntil == harness.parsed(rendition: "720p").canSkipUntil)
        #expect(try harness.peek(rendition: "360p")?.targetDuration == 2, "the later rendition takes the shared target duration")
    }

    @Test("A sibling is republished (new version) only when what it reports changed")
    func reportRefreshPublications() throws {
        let harness = Harness()
        try harness.declare(try lowLatencyDeclaration(), rendition: "a")
        try harness.declare(try lowLatencyDeclaration(targetDuration: nil), rendition: "b")
        try harness.register(0, rendition: "a")
        try harness.register(0, rendition: "b")
        let before = try #require(try harness.peek(rendition: "b"))
        let publications = harness.log.count(stream: "s", rendition: "b")
        try harness.registerPart(1, 0, rendition: "a")
        let after = try #require(try harness.peek(rendition: "b"))
        #expect(harness.log.count(stream: "s", rendition: "b") == publications + 1)
        #expect(after.version > before.version)
        #expect(after.segments == before.segments && after.parts == before.parts, "only the report changed")
        #expect(MediaPlaylistRenderer.render(after) != MediaPlaylistRenderer.render(before))
        // Nothing a sibling reports changed: a duplicate, a part waiting behind a hole.
        let count = harness.log.count
        #expect(try harness.registerPart(1, 0, rendition: "a") == .duplicate)
        #expect(try harness.registerPart(1, 2, rendition: "a") == .registered(listed: false))
        #expect(harness.log.count == count)
        // Ending republishes each rendition once, and the reports stay current.
        #expect(try harness.end() == .ended)
        #expect(harness.log.count == count + 2)
        #expect(try harness.parsed(rendition: "b").reports == [MediaPlaylist.Report(rendition: "a", lastMSN: 1, lastPart: 0)])
    }

    @Test("A gap skip in one rendition refreshes the reports of the others")
    func reportRefreshOnSweep() throws {
        let harness = Harness(configuration: RegistryConfiguration(windowSize: 6, gapTimeoutMilliseconds: 1000))
        try harness.declare(try lowLatencyDeclaration(), rendition: "a")
        try harness.declare(try lowLatencyDeclaration(targetDuration: nil), rendition: "b")
        try harness.register(0, rendition: "a", at: 0)
        try harness.register(0, rendition: "b", at: 0)
        try harness.register(2, rendition: "a", at: 100)  // waits behind the hole at 1
        #expect(try harness.parsed(rendition: "b").reports == [MediaPlaylist.Report(rendition: "a", lastMSN: 0, lastPart: nil)])
        _ = harness.sweep(at: 2000)
        #expect(try harness.listed(rendition: "a") == [0, 2])
        #expect(try harness.parsed(rendition: "b").reports == [MediaPlaylist.Report(rendition: "a", lastMSN: 1, lastPart: nil)])
    }

    @Test("Low-latency renditions of a stream share one part target and one target duration")
    func sharedSettings() throws {
        let harness = Harness()
        try harness.declare(try lowLatencyDeclaration(partTarget: 500, targetDuration: 2), rendition: "a")
        #expect(throws: LowLatencyError.partTargetConflict(
            try RenditionName(validating: "b"), declared: try SegmentDuration(milliseconds: 400),
            fixed: try SegmentDuration(milliseconds: 500))
        ) { try harness.declare(try lowLatencyDeclaration(partTarget: 400), rendition: "b") }
        #expect(throws: LowLatencyError.streamTargetDurationConflict(try StreamID(validating: "s"), declared: 4, fixed: 2)) {
            try harness.declare(try lowLatencyDeclaration(targetDuration: 4), rendition: "b")
        }
        #expect(try harness.declare(try lowLatencyDeclaration(), rendition: "b") == .created)
        // Fixed for the rendition's life once it has a segment.
        try harness.register(0, rendition: "a")
        #expect(try harness.declare(try lowLatencyDeclaration(), rendition: "a") == .updated)
        #expect(try harness.declare(RenditionDeclaration(bandwidth: 5), rendition: "a") == .updated, "leaving LL fields out keeps them")
        #expect(try harness.peek(rendition: "a")?.partTarget?.milliseconds == 500)
        #expect(throws: LowLatencyError.mapURIConflict(
            try RenditionName(validating: "a"), declared: try QuotedURI(validating: "/init.mp4"), fixed: nil)
        ) { try harness.declare(try lowLatencyDeclaration(map: "/init.mp4"), rendition: "a") }
        try harness.register(0, stream: "regular", rendition: "plain")
        #expect(throws: LowLatencyError.partTargetConflict(
            try RenditionName(validating: "plain"), declared: try SegmentDuration(milliseconds: 500), fixed: nil)
        ) { try harness.declare(try lowLatencyDeclaration(), stream: "regular", rendition: "plain") }
    }

    @Test("A stream with low-latency renditions refuses regular ones: undeclared segments, declarations without part_target")
    func lowLatencyStreamRefusesRegular() throws {
        let harness = Harness()
        try harness.declare(try lowLatencyDeclaration(), rendition: "720p")
        let stream = try StreamID(validating: "s")
        let regular = try RenditionName(validating: "360p")
        let mixed = RegistryError.mixedLowLatency(stream, regular, streamIsLowLatency: true)
        // Before any segment: the low-latency declaration alone fixes the stream's kind.
        #expect(throws: mixed) { try harness.register(0, rendition: "360p") }
        #expect(throws: mixed) { try harness.declare(RenditionDeclaration(bandwidth: 500_000), rendition: "360p") }
        try harness.register(0, rendition: "720p")
        #expect(throws: mixed) { try harness.register(0, rendition: "360p") }
        #expect(throws: mixed) { try harness.declare(RenditionDeclaration(bandwidth: 500_000), rendition: "360p") }
        #expect(try harness.peek(rendition: "360p") == nil, "nothing was created")
        #expect(harness.registry.declaration(stream: stream, rendition: regular) == nil)
        // A rendition declared regular before the stream became low-latency cannot start regular.
        try harness.declare(RenditionDeclaration(bandwidth: 500_000), stream: "early", rendition: "360p")
        try harness.declare(try lowLatencyDeclaration(), stream: "early", rendition: "720p")
        #expect(throws: RegistryError.mixedLowLatency(try StreamID(validating: "early"), regular, streamIsLowLatency: true)) {
            try harness.register(0, stream: "early", rendition: "360p")
        }
        // Declared low-latency without a segment yet: leaving part_target out would make it regular.
        try harness.declare(try lowLatencyDeclaration(), rendition: "1080p")
        #expect(throws: RegistryError.mixedLowLatency(stream, try RenditionName(validating: "1080p"), streamIsLowLatency: true)) {
            try harness.declare(RenditionDeclaration(bandwidth: 9_000_000), rendition: "1080p")
        }
        // A rendition whose low-latency settings are fixed may leave them out: it keeps them.
        #expect(try harness.declare(RenditionDeclaration(bandwidth: 2_000_000), rendition: "720p") == .updated)
        // Another low-latency rendition is welcome.
        try harness.declare(try lowLatencyDeclaration(targetDuration: nil), rendition: "360p")
        #expect(try harness.register(0, rendition: "360p") == .registered(listed: true))
    }

    @Test("A stream whose regular renditions have segments refuses low-latency declarations")
    func regularStreamRefusesLowLatency() throws {
        let harness = Harness()
        let stream = try StreamID(validating: "s")
        // A regular declaration alone does not fix the kind: a low-latency one may follow.
        try harness.declare(RenditionDeclaration(bandwidth: 500_000), stream: "open", rendition: "360p")
        #expect(try harness.declare(try lowLatencyDeclaration(), stream: "open", rendition: "720p") == .created)
        // A segment into an undeclared rendition makes the stream regular.
        try harness.register(0, rendition: "360p")
        let refused = RegistryError.mixedLowLatency(stream, try RenditionName(validating: "720p"), streamIsLowLatency: false)
        #expect(throws: refused) { try harness.declare(try lowLatencyDeclaration(), rendition: "720p") }
        #expect(harness.registry.declaration(stream: stream, rendition: try RenditionName(validating: "720p")) == nil)
        // A declared regular rendition cannot turn low-latency once its stream is regular.
        try harness.declare(RenditionDeclaration(bandwidth: 1_000_000), rendition: "720p")
        #expect(throws: refused) { try harness.declare(try lowLatencyDeclaration(), rendition: "720p") }
        #expect(try harness.register(0, rendition: "720p") == .registered(listed: true))
        #expect(try harness.peek(rendition: "720p")?.isLowLatency == false)
        // Once forgotten, the stream may start afresh as either kind.
        _ = try harness.end()
        let forgetting = Harness(configuration: RegistryConfiguration(windowSize: 6, endedStreamTTLMilliseconds: 1000))
        try forgetting.register(0, rendition: "360p")
        _ = try forgetting.end()
        _ = forgetting.sweep(at: 5000)
        #expect(try forgetting.declare(try lowLatencyDeclaration(), rendition: "720p", at: 6000) == .created)
    }

    @Test("EXT-X-MAP makes the playlist version 6")
    func map() throws {
        let harness = try Self.lowLatency(map: "/init/720p.mp4")
        try harness.register(0)
        let playlist = try harness.parsed()
        #expect(playlist.version == 6 && playlist.map == "/init/720p.mp4")
    }

    // MARK: Delta updates

    @Test("A delta update plus its skipped count reconstructs the full playlist's segments", arguments: [1, 5, 12, 20])
    func deltaReconstruction(segments: Int) throws {
        let harness = try Self.lowLatency(windowSize: 15)
        for n in 0..<UInt64(segments) {
            for index in 0..<4 { try harness.registerPart(n, index, independent: index == 0) }
            try harness.register(n, discontinuityFree: true)
        }
        try harness.registerPart(UInt64(segments), 0)
        let snapshot = try #require(try harness.peek())
        let full = try MediaPlaylist(parsing: MediaPlaylistRenderer.render(snapshot))
        let delta = try MediaPlaylist(parsing: MediaPlaylistRenderer.render(snapshot, skip: true))
        let skipped = try #require(delta.skipped)
        #expect(delta.version == 9 && full.version == 3)
        #expect(full.skipped == nil)
        #expect(delta.mediaSequence == full.mediaSequence)
        #expect(Int(skipped) + delta.entries.count == full.entries.count)
        #expect(Array(full.entries.dropFirst(Int(skipped))) == delta.entries, "every other tag remains")
        #expect(delta.trailingParts == full.trailingParts && delta.preloadHint == full.preloadHint)
        #expect(delta.partHoldBack == full.partHoldBack && delta.canSkipUntil == full.canSkipUntil)
        // Merging with an earlier full playlist gives the same numbered list.
        var merged = segmentsByNumber(full).filter { $0.key < full.mediaSequence + skipped }
        merged.merge(segmentsByNumber(delta)) { _, new in new }
        #expect(merged == segmentsByNumber(full))
        // Skipped segments end at least CAN-SKIP-UNTIL (12 s) before the end; the first kept does not.
        let durations = full.entries.map(\.milliseconds)
        let kept = durations.dropFirst(Int(skipped)).reduce(0, +)
        if skipped > 0 { #expect(kept - durations[Int(skipped)] < 12_000 || kept >= 12_000) }
        #expect(durations.dropFirst(Int(skipped) + 1).reduce(0, +) < 12_000)
        #expect(skipped == 0 || durations.dropFirst(Int(skipped)).reduce(0, +) >= 12_000)
        // Ended: the directive is ignored.
        _ = try harness.end()
        let ended = try #require(try harness.peek())
        #expect(MediaPlaylistRenderer.render(ended, skip: true) == MediaPlaylistRenderer.render(ended))
    }
}

extension Harness {
    /// Registers segment `sequence` (2 s) — a readability alias for the delta test.
    fileprivate func register(_ sequence: UInt64, discontinuityFree: Bool) throws {
        try register(sequence, at: Int64(sequence) * 2000)
    }
}
