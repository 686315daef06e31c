import HLSModel
import SegmentRegistry
import Testing

/// Gap timeouts, stalled renditions, caps, TTLs, declarations and multivariant data (issue 3).
@Suite struct SegmentRegistryRecoveryTests {
    static func configuration(
        window: Int = 6, gap: Int64 = 0, target: Int64? = nil, maxPending: Int = 1024,
        maxStreams: Int = 100, maxRenditions: Int = 32, endedTTL: Int64 = 0, idleTTL: Int64 = 0
    ) -> RegistryConfiguration {
        RegistryConfiguration(
            windowSize: window, targetDuration: target, gapTimeoutMilliseconds: gap,
            maxPendingSegments: maxPending, maxStreams: maxStreams, maxRenditionsPerStream: maxRenditions,
            endedStreamTTLMilliseconds: endedTTL, idleStreamTTLMilliseconds: idleTTL)
    }

    // MARK: Gap timeout

    @Test("Without a gap timeout a hole holds later segments forever")
    func holdForever() throws {
        let harness = Harness(configuration: Self.configuration())
        try harness.register(0, at: 0)
        try harness.register(2, at: 0)
        let report = harness.sweep(at: 10_000_000)
        #expect(report.skippedSegments == 0)
        #expect(try harness.listed() == [0])
    }

    @Test("A sweep after the gap timeout lists past the hole behind a discontinuity")
    func sweepSkips() throws {
        let harness = Harness(configuration: Self.configuration(gap: 3000))
        try harness.register(0, at: 0)
        try harness.register(1, at: 0)
        #expect(try harness.register(3, at: 1000) == .registered(listed: false))  // the clock starts here
        try harness.register(4, at: 1500)
        #expect(harness.sweep(at: 3999).skippedSegments == 0, "not yet")
        let report = harness.sweep(at: 4000)
        #expect(report.skippedSegments == 1)
        #expect(report.skippedHoles == 1)
        #expect(report.republished == 1)
        #expect(harness.registry.skippedSegmentsTotal == 1)
        #expect(try harness.text() == """
            #EXTM3U
            #EXT-X-VERSION:3
            #EXT-X-TARGETDURATION:2
            #EXT-X-MEDIA-SEQUENCE:0
            #EXTINF:2.000,
            /seg/0.ts
            #EXTINF:2.000,
            /seg/1.ts
            #EXT-X-DISCONTINUITY
            #EXTINF:2.000,
            /seg/3.ts
            #EXTINF:2.000,
            /seg/4.ts

            """)
        #expect(try harness.register(2, at: 4100) == .stale, "a late segment for a skipped hole is ignored")
        #expect(try harness.register(2, milliseconds: 1000, at: 4100) == .stale)
        #expect(try harness.listed() == [0, 1, 3, 4])
        #expect(harness.sweep(at: 4200).skippedSegments == 0)
    }

    @Test("A registration after the gap timeout skips the hole itself, and the count reaches the next sweep")
    func registerSkips() throws {
        let harness = Harness(configuration: Self.configuration(gap: 1000))
        try harness.register(0, at: 0)
        try harness.register(5, at: 100)
        #expect(try harness.register(6, at: 1100) == .registered(listed: true))
        #expect(try harness.listed() == [0, 5, 6])
        #expect(try harness.peek()?.discontinuities.map(\.rawValue) == [5])
        let report = harness.sweep(at: 1100)
        #expect(report.skippedSegments == 4)
        #expect(report.skippedHoles == 1)
        #expect(report.republished == 0)
    }

    @Test("The clock restarts for the next hole, and the discontinuity sequence counts tags that slid out")
    func nextHoleAndDiscontinuitySequence() throws {
        let harness = Harness(configuration: Self.configuration(window: 3, gap: 1000, target: 2))
        for n: UInt64 in 0...2 { try harness.register(n, at: 0) }
        _ = try harness.read()
        try harness.register(4, at: 0)
        try harness.register(6, at: 0)
        _ = harness.sweep(at: 1000)  // skips 3
        var snapshot = try #require(try harness.peek())
        #expect(snapshot.segments.map(\.sequence.rawValue) == [1, 2, 4])
        #expect(snapshot.mediaSequence.rawValue == 1)
        #expect(harness.sweep(at: 1999).skippedSegments == 0, "the next hole has its own clock")
        _ = harness.sweep(at: 2000)  // skips 5
        snapshot = try #require(try harness.peek())
        #expect(snapshot.segments.map(\.sequence.rawValue) == [2, 4, 6])
        #expect(snapshot.discontinuities.map(\.rawValue) == [4, 6])
        // In the playlist each number is the previous plus one: 0, 1, 2, 4, 6 are 0, 1, 2, 3, 4.
        #expect(snapshot.mediaSequence.rawValue == 2)
        #expect(snapshot.discontinuitySequence == 0)
        try harness.register(7, at: 2100)
        snapshot = try #require(try harness.peek())
        #expect(snapshot.segments.map(\.sequence.rawValue) == [4, 6, 7])
        #expect(snapshot.mediaSequence.rawValue == 3)
        #expect(snapshot.discontinuitySequence == 0, "4 still carries its tag at the head")
        try harness.register(8, at: 2200)
        snapshot = try #require(try harness.peek())
        #expect(snapshot.mediaSequence.rawValue == 4)
        #expect(snapshot.discontinuitySequence == 1)
        #expect(try harness.text()?.contains("#EXT-X-MEDIA-SEQUENCE:4\n#EXT-X-DISCONTINUITY-SEQUENCE:1\n#EXT-X-DISCONTINUITY\n#EXTINF:2.000,\n/seg/6.ts\n") == true)
        #expect(harness.registry.skippedSegmentsTotal == 2)
    }

    @Test("An ended stream never skips holes")
    func endedNeverSkips() throws {
        let harness = Harness(configuration: Self.configuration(gap: 1000))
        try harness.register(0, at: 0)
        try harness.register(2, at: 0)
        _ = try harness.end(at: 10)
        #expect(harness.sweep(at: 5000).skippedSegments == 0)
        #expect(try harness.listed() == [0])
    }

    // MARK: Stalled renditions

    @Test("A live rendition is reported stale once after 1.5 target durations, and recovered once")
    func staleTransitions() throws {
        let harness = Harness(configuration: Self.configuration())
        try harness.register(0, at: 0)  // target 2 s: stale from 3 s
        #expect(harness.sweep(at: 2999).staleTransitions.isEmpty)
        let stale = harness.sweep(at: 3000)
        #expect(stale.staleTransitions == [.init(stream: try StreamID(validating: "s"), rendition: try RenditionName(validating: "720p"), isStale: true)])
        #expect(stale.staleRenditionCount == 1)
        let again = harness.sweep(at: 9000)
        #expect(again.staleTransitions.isEmpty, "reported once")
        #expect(again.staleRenditionCount == 1)
        try harness.register(1, at: 9100)
        let recovered = harness.sweep(at: 9200)
        #expect(recovered.staleTransitions.map(\.isStale) == [false])
        #expect(recovered.staleRenditionCount == 0)
        // Ending is also a recovery: an ended rendition is not live.
        _ = harness.sweep(at: 20_000)
        #expect(try harness.end(at: 20_001) == .ended)
        let ended = harness.sweep(at: 20_002)
        #expect(ended.staleTransitions.map(\.isStale) == [false])
        #expect(ended.staleRenditionCount == 0)
    }

    // MARK: Bounded memory

    @Test("A sequence maxPending or more ahead of the gap-free edge is refused")
    func tooFarAhead() throws {
        let harness = Harness(configuration: Self.configuration(maxPending: 4))
        try harness.register(10)
        #expect(try harness.register(14) == .registered(listed: false))  // 14 - 11 = 3 < 4
        #expect(throws: RegistryError.tooFarAhead(sequence: try sequence(15), nextExpected: try sequence(11), limit: 4)) {
            try harness.register(15)
        }
        #expect(try harness.listed() == [10])
    }

    @Test("Caps on streams and renditions refuse new ones with their own errors")
    func caps() throws {
        let harness = Harness(configuration: Self.configuration(maxStreams: 2, maxRenditions: 2))
        try harness.register(0, stream: "a", rendition: "r1")
        try harness.register(0, stream: "a", rendition: "r2")
        #expect(throws: RegistryError.tooManyRenditions(try StreamID(validating: "a"), limit: 2)) {
            try harness.register(0, stream: "a", rendition: "r3")
        }
        #expect(throws: RegistryError.tooManyRenditions(try StreamID(validating: "a"), limit: 2)) {
            try harness.declare(RenditionDeclaration(bandwidth: 1), stream: "a", rendition: "r3")
        }
        try harness.register(0, stream: "b")
        #expect(throws: RegistryError.tooManyStreams(limit: 2)) { try harness.register(0, stream: "c") }
        #expect(throws: RegistryError.tooManyStreams(limit: 2)) {
            try harness.declare(RenditionDeclaration(), stream: "c")
        }
        #expect(throws: RegistryError.tooManyStreams(limit: 2), "ending an unknown stream at the cap records nothing") {
            try harness.end("c")
        }
        #expect(harness.registry.streamCount == 2)
        #expect(harness.registry.activeStreamCount == 2)
    }

    @Test("Ending an unknown stream takes a place under the cap, once; at the cap it is refused and changes nothing")
    func endUnknownAtCap() throws {
        let harness = Harness(configuration: Self.configuration(maxStreams: 2))
        try harness.register(0, stream: "a")
        #expect(try harness.end("phantom") == .ended)
        #expect(try harness.end("phantom") == .alreadyEnded, "ended once, however often it is ended")
        #expect(harness.registry.streamCount == 2)
        #expect(harness.registry.activeStreamCount == 1)
        for _ in 0..<3 {
            #expect(throws: RegistryError.tooManyStreams(limit: 2)) { try harness.end("other") }
        }
        #expect(harness.registry.streamCount == 2)
        // Still unknown, not ended: a segment for it meets the cap, not the end.
        #expect(throws: RegistryError.tooManyStreams(limit: 2)) { try harness.register(0, stream: "other") }
        #expect(throws: RegistryError.streamEnded(try StreamID(validating: "phantom"))) {
            try harness.register(0, stream: "phantom")
        }
        // Known streams still end at the cap.
        #expect(try harness.end("a") == .ended)
        #expect(try harness.end("a") == .alreadyEnded)
        #expect(harness.registry.activeStreamCount == 0)
    }

    @Test("Sweeps forget ended streams after their TTL and idle live streams after theirs, counts stay exact")
    func evictions() throws {
        let harness = Harness(configuration: Self.configuration(endedTTL: 10_000, idleTTL: 5_000))
        try harness.register(0, stream: "ended", at: 0)
        try harness.register(0, stream: "idle", at: 0)
        try harness.register(0, stream: "busy", at: 0)
        #expect(try harness.end("ended", at: 1000) == .ended)
        #expect(harness.registry.activeStreamCount == 2)
        try harness.register(1, stream: "busy", at: 4000)
        var report = harness.sweep(at: 5000)
        #expect(report.evictions == [.init(stream: try StreamID(validating: "idle"), reason: .idle)])
        #expect(harness.registry.activeStreamCount == 1)
        #expect(harness.registry.streamCount == 2)
        #expect(try harness.peek(stream: "idle") == nil)
        report = harness.sweep(at: 11_000)
        #expect(Set(report.evictions.map(\.reason)) == [.ended, .idle])
        #expect(harness.registry.activeStreamCount == 0, "busy went idle at 9000 as well")
        #expect(try harness.read(stream: "ended") == nil)
        // A forgotten ended stream is unknown: a later segment creates it afresh.
        #expect(try harness.register(7, stream: "ended", at: 12_000) == .registered(listed: true))
        #expect(try harness.listed(stream: "ended") == [7])
        #expect(harness.registry.activeStreamCount == 1)
    }

    @Test("An evicted stalled rendition leaves the stale count")
    func evictedStale() throws {
        let harness = Harness(configuration: Self.configuration(idleTTL: 10_000))
        try harness.register(0, at: 0)
        #expect(harness.sweep(at: 3000).staleRenditionCount == 1)
        let report = harness.sweep(at: 10_000)
        #expect(report.evictions.count == 1)
        #expect(report.staleTransitions.map(\.isStale) == [false])
        #expect(report.staleRenditionCount == 0)
    }

    // MARK: Optional segment fields

    @Test("A repeat differing only in program date time or bytes is a duplicate; the first wins")
    func optionalFieldsDuplicate() throws {
        let harness = Harness()
        try harness.register(0, programDateTime: 1_000, bytes: 100)
        #expect(try harness.register(0, programDateTime: 2_000, bytes: 200) == .duplicate)
        #expect(try harness.register(0) == .duplicate)
        let listed = try #require(try harness.peek()?.segments.first)
        #expect(listed.programDateTime == Timestamp(millisecondsSinceEpoch: 1_000))
        #expect(listed.byteCount == 100)
        #expect(try harness.text()?.contains("#EXT-X-PROGRAM-DATE-TIME:1970-01-01T00:00:01.000Z\n#EXTINF:2.000,\n/seg/0.ts\n") == true)
    }

    // MARK: Declarations

    @Test("A declaration creates, then updates, and alone serves no playlist")
    func declarations() throws {
        let harness = Harness()
        #expect(try harness.declare(RenditionDeclaration(bandwidth: 5)) == .created)
        #expect(try harness.declare(RenditionDeclaration(bandwidth: 6)) == .updated)
        #expect(try harness.read() == nil)
        #expect(harness.registry.renditions(of: try StreamID(validating: "s")).isEmpty)
        #expect(harness.registry.activeStreamCount == 1)
        try harness.register(0)
        #expect(try harness.declare(RenditionDeclaration(bandwidth: 7)) == .updated)
        #expect(harness.registry.declaration(stream: try StreamID(validating: "s"), rendition: try RenditionName(validating: "720p"))?.bandwidth == 7)
    }

    @Test("A declared target duration pins the rendition's, and can never change it")
    func declaredTargetDuration() throws {
        let harness = Harness()
        try harness.declare(RenditionDeclaration(targetDuration: 6))
        try harness.register(0, milliseconds: 2000)
        #expect(try harness.peek()?.targetDuration == 6)
        try harness.register(1, milliseconds: 6400)
        #expect(throws: RegistryError.targetDurationConflict(try RenditionName(validating: "720p"), declared: 4, fixed: 6)) {
            try harness.declare(RenditionDeclaration(targetDuration: 4))
        }
        try harness.declare(RenditionDeclaration(bandwidth: 1, targetDuration: 6))
        try harness.declare(RenditionDeclaration(bandwidth: 1))
    }

    @Test("The operator's target duration wins over a declaration, which must agree with it")
    func configuredTargetWins() throws {
        let harness = Harness(configuration: Self.configuration(target: 4))
        #expect(throws: RegistryError.targetDurationConflict(try RenditionName(validating: "720p"), declared: 6, fixed: 4)) {
            try harness.declare(RenditionDeclaration(targetDuration: 6))
        }
        try harness.declare(RenditionDeclaration(targetDuration: 4))
        try harness.register(0)
        #expect(try harness.peek()?.targetDuration == 4)
    }

    @Test("After the end, declarations are refused like segments, with a message about declarations")
    func declareAfterEnd() throws {
        let harness = Harness()
        try harness.declare(RenditionDeclaration())
        _ = try harness.end()
        let refused = RegistryError.streamEnded(try StreamID(validating: "s"), refused: .declaration)
        #expect(throws: refused) { try harness.declare(RenditionDeclaration(), rendition: "1080p") }
        #expect(throws: refused) { try harness.declare(RenditionDeclaration(bandwidth: 5)) }
        #expect(refused.message == "stream s has ended: its renditions can no longer be declared or changed")
        #expect(!refused.message.contains("segments"))
        #expect(throws: RegistryError.streamEnded(try StreamID(validating: "s"))) {
            try harness.register(0)
        }
    }

    // MARK: Multivariant

    @Test("Multivariant data: declared bandwidth wins, else peak and average from sizes; unknown is left out")
    func multivariant() throws {
        let harness = Harness()
        let stream = try StreamID(validating: "s")
        #expect(harness.registry.multivariant(stream: try StreamID(validating: "nope")) == nil)
        // 1080p: declared only.
        try harness.declare(RenditionDeclaration(
            bandwidth: 6_000_000, resolution: try Resolution(width: 1920, height: 1080),
            codecs: "avc1.640028,mp4a.40.2", frameRate: try FrameRate(framesPerSecond: 29.97)), rendition: "1080p")
        try harness.register(0, rendition: "1080p")
        // 360p: computed. 2 s of 250_000 bytes = 1_000_000 bit/s; 1 s of 200_001 bytes = 1_600_008 bit/s.
        try harness.register(0, milliseconds: 2000, rendition: "360p", bytes: 250_000)
        try harness.register(1, milliseconds: 1000, rendition: "360p", bytes: 200_001)
        try harness.register(2, milliseconds: 2000, rendition: "360p")  // no size: not counted
        // 720p: segments without sizes and no declared bandwidth: left out.
        try harness.register(0, rendition: "720p")
        // 240p: declared but no segment: left out.
        try harness.declare(RenditionDeclaration(bandwidth: 1), rendition: "240p")
        let snapshot = try #require(harness.registry.multivariant(stream: stream))
        #expect(snapshot.variants.map(\.rendition.rawValue) == ["360p", "1080p"])
        #expect(snapshot.variants[0].bandwidth == 1_600_008)
        // (2_000_000 + 1_600_008) bits over 3 s = 1_200_002.67 → 1_200_003.
        #expect(snapshot.variants[0].averageBandwidth == 1_200_003)
        #expect(snapshot.variants[1].bandwidth == 6_000_000)
        #expect(snapshot.variants[1].averageBandwidth == nil)
        #expect(snapshot.variants[1].frameRate?.description == "29.970")
    }

    @Test("AVERAGE-BANDWIDTH never exceeds BANDWIDTH, whichever of them is declared or computed")
    func averageNeverAbovePeak() throws {
        let harness = Harness()
        let stream = try StreamID(validating: "s")
        // Every segment: 500_000 bytes in 2 s = 2_000_000 bit/s, so the computed peak and
        // average are both 2_000_000.
        func sized(_ rendition: String) throws {
            for n: UInt64 in 0..<3 { try harness.register(n, rendition: rendition, bytes: 500_000) }
        }
        // Declared peak below the computed average: the average is capped at the declared peak.
        try harness.declare(RenditionDeclaration(bandwidth: 1_500_000), rendition: "capped")
        try sized("capped")
        // Declared average above the computed peak: the peak is raised to the declared average.
        try harness.declare(RenditionDeclaration(averageBandwidth: 3_000_000), rendition: "raised")
        try sized("raised")
        // Both declared the wrong way round through the Swift API (HTTP refuses it with 400).
        try harness.declare(RenditionDeclaration(bandwidth: 1_000_000, averageBandwidth: 4_000_000), rendition: "swapped")
        try sized("swapped")
        // Both computed: untouched.
        try sized("computed")
        let variants = try #require(harness.registry.multivariant(stream: stream)).variants
        let byName = Dictionary(uniqueKeysWithValues: variants.map { ($0.rendition.rawValue, $0) })
        #expect(byName["capped"]?.bandwidth == 1_500_000)
        #expect(byName["capped"]?.averageBandwidth == 1_500_000)
        #expect(byName["raised"]?.bandwidth == 3_000_000)
        #expect(byName["raised"]?.averageBandwidth == 3_000_000)
        #expect(byName["swapped"]?.bandwidth == 1_000_000)
        #expect(byName["swapped"]?.averageBandwidth == 1_000_000)
        #expect(byName["computed"]?.bandwidth == 2_000_000)
        #expect(byName["computed"]?.averageBandwidth == 2_000_000)
        for variant in variants {
            #expect((variant.averageBandwidth ?? 0) <= variant.bandwidth, "\(variant.rendition)")
        }
    }

    @Test("Multivariant data carries each variant's target duration and last change, and whether the stream ended")
    func multivariantFreshness() throws {
        let harness = Harness()
        let stream = try StreamID(validating: "s")
        try harness.declare(RenditionDeclaration(bandwidth: 1_000_000), rendition: "low", at: 500)
        try harness.register(0, rendition: "low", at: 1000)
        try harness.declare(RenditionDeclaration(bandwidth: 4_000_000), rendition: "high", at: 2000)
        try harness.register(0, milliseconds: 4000, rendition: "high", at: 3000)
        var snapshot = try #require(harness.registry.multivariant(stream: stream))
        #expect(snapshot.variants.map(\.targetDuration) == [2, 4])
        #expect(snapshot.variants.map(\.lastModified?.millisecondsSinceEpoch) == [1000, 3000])
        #expect(snapshot.lastModified?.millisecondsSinceEpoch == 3000)
        #expect(snapshot.shortestTargetDuration == 2)
        #expect(!snapshot.isEnded)
        // A new declaration changes the multivariant playlist, so it counts as a change.
        try harness.declare(RenditionDeclaration(bandwidth: 900_000), rendition: "low", at: 7000)
        snapshot = try #require(harness.registry.multivariant(stream: stream))
        #expect(snapshot.lastModified?.millisecondsSinceEpoch == 7000)
        _ = try harness.end(at: 9000)
        snapshot = try #require(harness.registry.multivariant(stream: stream))
        #expect(snapshot.isEnded)
        #expect(snapshot.lastModified?.millisecondsSinceEpoch == 9000)
    }

    @Test("Bandwidth from the largest sizes saturates instead of overflowing")
    func hugeSizes() throws {
        let harness = Harness()
        for n: UInt64 in 0..<4 { try harness.register(n, milliseconds: 1, bytes: Segment.maximumByteCount) }
        let variant = try #require(harness.registry.multivariant(stream: try StreamID(validating: "s"))?.variants.first)
        #expect(variant.bandwidth == UInt64.max)
        #expect(variant.averageBandwidth == UInt64.max)
    }
}
