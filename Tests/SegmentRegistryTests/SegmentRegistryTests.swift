import HLSModel
import SegmentRegistry
import Synchronization
import Testing

@Suite struct SegmentRegistryTests {
    // MARK: Ordering

    @Test("Segments registered in order are listed in order, one publication each")
    func inOrder() throws {
        let harness = Harness()
        for n: UInt64 in 0..<3 {
            #expect(try harness.register(n, at: Int64(n) * 10) == .registered(listed: true))
        }
        let snapshot = try #require(try harness.peek())
        #expect(snapshot.segments.map(\.sequence.rawValue) == [0, 1, 2])
        #expect(snapshot.mediaSequence.rawValue == 0)
        #expect(snapshot.version == 3)
        #expect(snapshot.targetDuration == 2)
        #expect(snapshot.isEnded == false)
        #expect(snapshot.lastModified == Timestamp(millisecondsSinceEpoch: 20))
        #expect(harness.log.count == 3)
        let published = try #require(try harness.read())
        #expect(published.snapshot == snapshot)
        #expect(published.text == """
            #EXTM3U
            #EXT-X-VERSION:3
            #EXT-X-TARGETDURATION:2
            #EXT-X-MEDIA-SEQUENCE:0
            #EXTINF:2.000,
            /seg/0.ts
            #EXTINF:2.000,
            /seg/1.ts
            #EXTINF:2.000,
            /seg/2.ts

            """)
    }

    @Test("Out-of-order arrivals before any read settle on the lowest run")
    func outOfOrderBeforeRead() throws {
        let harness = Harness()
        #expect(try harness.register(2) == .registered(listed: true))
        #expect(try harness.listed() == [2])
        // 0 lowers the start; 2 now waits behind the hole at 1.
        #expect(try harness.register(0) == .registered(listed: true))
        #expect(try harness.listed() == [0])
        #expect(try harness.register(1) == .registered(listed: true))
        #expect(try harness.listed() == [0, 1, 2])
        #expect(harness.log.count == 3)
    }

    @Test("Out-of-order arrivals after a read wait behind the hole")
    func outOfOrderAfterRead() throws {
        let harness = Harness()
        try harness.register(0)
        _ = try harness.read()
        #expect(try harness.register(3) == .registered(listed: false))
        #expect(try harness.register(2) == .registered(listed: false))
        #expect(try harness.listed() == [0])
        #expect(harness.log.count == 1)
        #expect(try harness.register(1) == .registered(listed: true))
        #expect(try harness.listed() == [0, 1, 2, 3])
        #expect(harness.log.count == 2, "the hole filling publishes once")
    }

    @Test("A hole holds later segments until it fills, then they are listed at once")
    func gapHoldsThenFills() throws {
        let harness = Harness(windowSize: 6)
        try harness.register(0)
        try harness.register(1)
        for n: UInt64 in [3, 5, 4] {
            #expect(try harness.register(n) == .registered(listed: false))
        }
        #expect(try harness.listed() == [0, 1])
        #expect(try harness.peek()?.version == 2)
        #expect(try harness.register(2) == .registered(listed: true))
        #expect(try harness.listed() == [0, 1, 2, 3, 4, 5])
        #expect(try harness.peek()?.version == 3)
        #expect(harness.log.count == 3)
    }

    @Test("Filling a hole slides the window past the released segments")
    func gapFillSlides() throws {
        let harness = Harness(windowSize: 3)
        try harness.register(0)
        for n: UInt64 in 2..<8 { try harness.register(n) }
        #expect(try harness.listed() == [0])
        #expect(try harness.register(1) == .registered(listed: false), "released, but slid past at once")
        #expect(try harness.listed() == [5, 6, 7])
        #expect(try harness.peek()?.mediaSequence.rawValue == 5)
        // The dropped ones are stale now.
        #expect(try harness.register(1) == .stale)
        #expect(try harness.register(4) == .stale)
    }

    // MARK: Duplicates and conflicts

    @Test("An exact repeat of a listed or waiting segment is a duplicate and changes nothing")
    func duplicates() throws {
        let harness = Harness()
        try harness.register(0)
        try harness.register(1)
        try harness.register(3)
        let before = try harness.peek()
        #expect(try harness.register(0) == .duplicate)
        #expect(try harness.register(1) == .duplicate)
        #expect(try harness.register(3) == .duplicate)
        #expect(try harness.peek() == before)
        #expect(harness.log.count == 2)
    }

    static let conflicts: [(UInt64, Int64, String?)] = [
        (1, 2000, "/other/1.ts"),  // listed, other path
        (1, 1500, nil),  // listed, other duration
        (3, 2000, "/other/3.ts"),  // waiting, other path
        (3, 1999, nil),  // waiting, other duration
    ]

    @Test("The same sequence with another path or duration is a conflict and changes nothing", arguments: conflicts)
    func conflicting(sequenceNumber: UInt64, milliseconds: Int64, path: String?) throws {
        let harness = Harness()
        try harness.register(0)
        try harness.register(1)
        try harness.register(3)
        let before = try harness.peek()
        #expect(throws: RegistryError.conflictingSegment(try sequence(sequenceNumber))) {
            try harness.register(sequenceNumber, milliseconds: milliseconds, path: path)
        }
        #expect(try harness.peek() == before)
        #expect(harness.log.count == 2)
        try harness.register(2)
        #expect(try harness.listed() == [0, 1, 2, 3], "the waiting original is the one listed")
        #expect(try harness.peek()?.segments.last?.path.rawValue == "/seg/3.ts")
    }

    // MARK: Window

    @Test("The window slides and keeps max(windowSize, 3 target durations) segments", arguments: [1, 2, 3, 4, 6, 10])
    func windowSizes(windowSize: Int) throws {
        let harness = Harness(windowSize: windowSize)
        let total: UInt64 = 20
        var previous: RenditionSnapshot?
        for n in 0..<total {
            try harness.register(n)
            let snapshot = try #require(try harness.peek())
            expectWellFormed(snapshot, windowSize: windowSize)
            // 2 s segments with a 2 s target: three target durations are three segments.
            let keep = min(Int(n) + 1, max(windowSize, 3))
            #expect(snapshot.segments.count == keep)
            #expect(snapshot.segments.last?.sequence.rawValue == n)
            if let previous { #expect(previous.mediaSequence <= snapshot.mediaSequence) }
            previous = snapshot
        }
        #expect(try harness.peek()?.mediaSequence.rawValue == total - UInt64(max(windowSize, 3)))
        #expect(harness.log.count == Int(total))
    }

    static let threeTargetDurationCases: [(Int, Int64?, [Int64], Int)] = [
        // windowSize, target override, durations (ms) of segments 0..., expected listed count
        (3, 6, Array(repeating: 2000, count: 20), 9),  // 9 × 2 s = 18 s = 3 × 6 s
        (1, nil, [4000] + Array(repeating: 1000, count: 20), 12),  // target 4 from the first: 12 × 1 s
        (2, nil, [2000, 2000, 2000, 1000, 1000, 2000, 500, 500, 500], 7),  // tail .5+.5+.5+2+1+1+2 ≥ 6
        (8, 2, Array(repeating: 1000, count: 20), 8),  // the window is already longer than 3 × 2 s
        (1, 10, Array(repeating: 1000, count: 10), 10),  // run shorter than 30 s: everything stays
    ]

    @Test("A live playlist never drops below three target durations", arguments: threeTargetDurationCases)
    func threeTargetDurations(windowSize: Int, target: Int64?, durations: [Int64], expected: Int) throws {
        let harness = Harness(windowSize: windowSize, targetDuration: target)
        for (n, milliseconds) in durations.enumerated() {
            try harness.register(UInt64(n), milliseconds: milliseconds)
            expectWellFormed(try #require(try harness.peek()), windowSize: windowSize)
        }
        let snapshot = try #require(try harness.peek())
        #expect(snapshot.segments.count == expected)
        #expect(snapshot.segments.last?.sequence.rawValue == UInt64(durations.count - 1))
        let total = snapshot.segments.reduce(Int64(0)) { $0 + $1.duration.milliseconds }
        let runTotal = durations.reduce(0, +)
        #expect(total >= min(runTotal, snapshot.targetDuration * 3000))
    }

    // MARK: Target duration

    @Test("The target duration is fixed by the first segment and longer segments are refused")
    func targetFromFirstSegment() throws {
        let harness = Harness()
        try harness.register(0, milliseconds: 2400)
        #expect(try harness.peek()?.targetDuration == 3, "2.4 s rounded up")
        #expect(try harness.register(1, milliseconds: 3499) == .registered(listed: true))
        let before = try harness.peek()
        let expected = RegistryError.exceedsTargetDuration(
            sequence: try sequence(2), duration: try SegmentDuration(milliseconds: 3500), targetDuration: 3)
        #expect(throws: expected) { try harness.register(2, milliseconds: 3500) }
        #expect(expected.message == "segment 2 lasts 3.500 seconds, which rounds to more than the target duration of 3 seconds")
        #expect(try harness.peek() == before)
        // A waiting segment is checked too, and shorter ones never lower the target.
        #expect(throws: RegistryError.self) { try harness.register(5, milliseconds: 4000) }
        try harness.register(2, milliseconds: 500)
        #expect(try harness.peek()?.targetDuration == 3)
    }

    /// (first segment in ms, target duration it fixes)
    static let firstSegmentTargets: [(Int64, Int64)] = [
        (1, 1), (999, 1), (1000, 1), (1001, 2), (1400, 2), (1960, 2), (2000, 2), (2001, 3), (2499, 3), (2500, 3),
        (5999, 6), (10_000, 10),
    ]

    @Test("The first segment's duration is rounded up to fix the target duration", arguments: firstSegmentTargets)
    func targetRoundsUp(first: Int64, target: Int64) throws {
        let harness = Harness()
        try harness.register(0, milliseconds: first)
        #expect(try harness.peek()?.targetDuration == target)
        // Every later segment up to half a second past the target fits (RFC 8216 4.3.3.1 rounds).
        #expect(try harness.register(1, milliseconds: target * 1000 + 499) == .registered(listed: true))
        #expect(throws: RegistryError.self) { try harness.register(2, milliseconds: target * 1000 + 500) }
    }

    @Test("A transcoder whose 2 s segments jitter keeps every one when the first came out short")
    func jitteringTranscoder() throws {
        let harness = Harness()
        let durations: [Int64] = [1400, 2000, 2040, 1960, 2300, 1700, 2000, 2499]
        for (n, milliseconds) in durations.enumerated() {
            #expect(try harness.register(UInt64(n), milliseconds: milliseconds) == .registered(listed: true), "segment \(n)")
        }
        #expect(try harness.peek()?.targetDuration == 2)
        #expect(try harness.listed().count == 6)
    }

    @Test("A first segment under half a second still gets a target duration of 1")
    func minimumTarget() throws {
        let harness = Harness()
        try harness.register(0, milliseconds: 300)
        #expect(try harness.peek()?.targetDuration == 1)
    }

    @Test("Messages about a target duration of 1 say \"1 second\", others \"seconds\"")
    func secondsPlural() throws {
        let harness = Harness()
        try harness.register(0, milliseconds: 1000)
        let refused = RegistryError.exceedsTargetDuration(
            sequence: try sequence(1), duration: try SegmentDuration(milliseconds: 1500), targetDuration: 1)
        #expect(throws: refused) { try harness.register(1, milliseconds: 1500) }
        #expect(refused.message == "segment 1 lasts 1.500 seconds, which rounds to more than the target duration of 1 second")
        let conflict = RegistryError.targetDurationConflict(try RenditionName(validating: "720p"), declared: 2, fixed: 1)
        #expect(throws: conflict) { try harness.declare(RenditionDeclaration(targetDuration: 2)) }
        #expect(conflict.message == "rendition 720p has a fixed target duration of 1 second; target_duration 2 cannot change it")
        #expect(RegistryError.targetDurationConflict(try RenditionName(validating: "720p"), declared: 1, fixed: 2).message
            == "rendition 720p has a fixed target duration of 2 seconds; target_duration 1 cannot change it")
        #expect(LowLatencyError.streamTargetDurationConflict(try StreamID(validating: "s"), declared: 2, fixed: 1).message
            == "the low-latency renditions of stream s share a target duration of 1 second; target_duration 2 cannot differ")
    }

    @Test("The configured target duration wins, and a refused first segment creates nothing")
    func configuredTarget() throws {
        let harness = Harness(targetDuration: 4)
        #expect(throws: RegistryError.exceedsTargetDuration(
            sequence: try sequence(0), duration: try SegmentDuration(milliseconds: 5000), targetDuration: 4)
        ) {
            try harness.register(0, milliseconds: 5000)
        }
        #expect(try harness.read() == nil)
        #expect(harness.registry.streamCount == 0)
        #expect(harness.log.count == 0)
        try harness.register(0, milliseconds: 1000)
        #expect(try harness.peek()?.targetDuration == 4)
        #expect(try harness.register(1, milliseconds: 4499) == .registered(listed: true))
    }

    // MARK: End of stream

    @Test("Ending a stream republishes it with ENDLIST once and is idempotent")
    func endIsIdempotent() throws {
        let harness = Harness()
        try harness.register(0)
        try harness.register(1)
        #expect(try harness.end(at: 99) == .ended)
        let snapshot = try #require(try harness.peek())
        #expect(snapshot.isEnded)
        #expect(snapshot.version == 3)
        #expect(snapshot.lastModified == Timestamp(millisecondsSinceEpoch: 99))
        #expect(try harness.read()?.text.hasSuffix("/seg/1.ts\n#EXT-X-ENDLIST\n") == true)
        #expect(try harness.end(at: 100) == .alreadyEnded)
        #expect(try harness.peek() == snapshot)
        #expect(harness.log.count == 3)
        #expect(harness.registry.activeStreamCount == 0)
        #expect(harness.registry.streamCount == 1)
    }

    @Test("A late segment after the end is refused in every rendition, and no rendition is created")
    func registerAfterEnd() throws {
        let harness = Harness()
        try harness.register(0, rendition: "720p")
        try harness.register(5, rendition: "720p")  // waiting behind a hole
        _ = try harness.end()
        let before = try harness.peek()
        let ended = RegistryError.streamEnded(try StreamID(validating: "s"))
        #expect(throws: ended) { try harness.register(1, rendition: "720p") }
        #expect(throws: ended) { try harness.register(0, path: "/other.ts", rendition: "720p") }
        #expect(throws: ended) { try harness.register(0, milliseconds: 1000, rendition: "720p") }
        #expect(throws: ended) { try harness.register(0, rendition: "1080p") }
        #expect(ended.message == "stream s has ended and accepts no more segments")
        #expect(try harness.peek() == before)
        #expect(try harness.listed() == [0], "waiting segments stay unlisted")
        #expect(try harness.read(rendition: "1080p") == nil)
        #expect(harness.registry.renditions(of: try StreamID(validating: "s")).map(\.rawValue) == ["720p"])
    }

    @Test("After the end, a transcoder's exact retry of a held segment is a duplicate and changes nothing")
    func retryAfterEnd() throws {
        let harness = Harness()
        try harness.register(0)
        try harness.register(1, programDateTime: 1_000)
        try harness.register(5)  // waiting behind a hole
        #expect(try harness.end() == .ended)
        let published = harness.log.count
        let before = try harness.peek()
        #expect(try harness.register(0) == .duplicate)
        #expect(try harness.register(1) == .duplicate, "as before the end, the first program date-time wins")
        #expect(try harness.register(5, bytes: 10) == .duplicate)
        #expect(harness.log.count == published, "nothing was republished")
        #expect(try harness.peek() == before)
        #expect(try harness.listed() == [0, 1])
        // A segment it never held stays refused, and so does one that slid out of the window.
        let slid = Harness(windowSize: 1)
        for n: UInt64 in 0..<4 { try slid.register(n) }
        #expect(try slid.listed() == [1, 2, 3])
        _ = try slid.end()
        #expect(try slid.register(3) == .duplicate)
        #expect(throws: RegistryError.streamEnded(try StreamID(validating: "s"))) { try slid.register(0) }
    }

    @Test("Ending a stream never seen makes it known as ended")
    func endBeforeFirstSegment() throws {
        let harness = Harness()
        #expect(try harness.end("early") == .ended)
        #expect(try harness.end("early") == .alreadyEnded)
        #expect(harness.registry.streamCount == 1)
        #expect(harness.registry.activeStreamCount == 0)
        #expect(throws: RegistryError.streamEnded(try StreamID(validating: "early"))) {
            try harness.register(0, stream: "early")
        }
        #expect(try harness.read(stream: "early") == nil)
        #expect(harness.registry.renditions(of: try StreamID(validating: "early")).isEmpty)
        #expect(harness.log.count == 0)
    }

    @Test("Ending a stream republishes every rendition of it and no other stream")
    func endEveryRendition() throws {
        let harness = Harness()
        for rendition in ["480p", "720p", "1080p"] { try harness.register(0, rendition: rendition) }
        try harness.register(0, stream: "other")
        #expect(try harness.end() == .ended)
        for rendition in ["480p", "720p", "1080p"] {
            #expect(try harness.peek(rendition: rendition)?.isEnded == true)
            #expect(harness.log.count(stream: "s", rendition: rendition) == 2)
        }
        #expect(try harness.peek(stream: "other")?.isEnded == false)
        #expect(harness.registry.activeStreamCount == 1)
    }

    // MARK: Pinning

    @Test("Before any read, a lower sequence lowers the start of the run")
    func lowerStartBeforePin() throws {
        let harness = Harness()
        try harness.register(5)
        try harness.register(6)
        #expect(try harness.register(4) == .registered(listed: true))
        #expect(try harness.listed() == [4, 5, 6])
        #expect(try harness.register(2) == .registered(listed: true))
        #expect(try harness.listed() == [2])
        #expect(try harness.register(3) == .registered(listed: true))
        #expect(try harness.listed() == [2, 3, 4, 5, 6])
        #expect(harness.log.count == 5)
    }

    @Test("After a read, older segments are stale and the media sequence never decreases")
    func staleAfterPin() throws {
        let harness = Harness()
        try harness.register(5)
        try harness.register(6)
        let served = try #require(try harness.read())
        #expect(served.snapshot.mediaSequence.rawValue == 5)
        #expect(try harness.register(4) == .stale)
        #expect(try harness.register(0) == .stale)
        #expect(try harness.register(5) == .duplicate)
        #expect(try harness.listed() == [5, 6])
        #expect(try harness.peek()?.version == 2)
        #expect(harness.log.count == 2)
    }

    @Test("Once the window has slid, older segments are stale even without a read")
    func staleAfterSlide() throws {
        let harness = Harness(windowSize: 3, targetDuration: 1)
        for n: UInt64 in 0..<5 { try harness.register(n, milliseconds: 1000) }
        #expect(try harness.listed() == [2, 3, 4])
        #expect(try harness.register(1, milliseconds: 1000) == .stale)
        #expect(try harness.register(0, milliseconds: 1000) == .stale)
        #expect(try harness.listed() == [2, 3, 4])
    }

    @Test("Lowering into a full window is stale and pins the start")
    func lowerIntoFullWindow() throws {
        let harness = Harness(windowSize: 3, targetDuration: 1)
        for n: UInt64 in 5..<8 { try harness.register(n, milliseconds: 1000) }
        #expect(try harness.register(4, milliseconds: 1000) == .stale)
        #expect(try harness.listed() == [5, 6, 7])
        #expect(try harness.register(2, milliseconds: 1000) == .stale, "the start now only moves forward")
        #expect(harness.log.count == 3)
    }

    @Test("An empty read does not pin, a listing read does")
    func pinOnlyByListingRead() throws {
        let harness = Harness()
        #expect(try harness.read() == nil)
        try harness.register(3)
        try harness.register(1)
        #expect(try harness.listed() == [1])
        _ = try harness.read()
        #expect(try harness.register(0) == .stale)
    }

    // MARK: Publication

    @Test("publish runs exactly once per visible change")
    func publishCount() throws {
        let harness = Harness(windowSize: 3)
        try harness.register(0)  // +1
        try harness.register(2)  // waits
        try harness.register(2)  // duplicate
        try harness.register(0)  // duplicate
        #expect(throws: RegistryError.self) { try harness.register(2, path: "x") }
        #expect(throws: RegistryError.self) { try harness.register(9, milliseconds: 9000) }
        #expect(harness.log.count == 1)
        try harness.register(1)  // +1 releases 2
        _ = try harness.read()
        _ = try harness.read()
        #expect(harness.log.count == 2)
        try harness.register(3)  // +1 slides
        _ = try harness.end()  // +1
        _ = try harness.end()
        #expect(harness.log.count == 4)
        #expect(harness.log.all.map(\.version) == [1, 2, 3, 4])
        #expect(try harness.peek()?.version == 4)
    }

    @Test("The artifact served is the one published for the latest change")
    func servesLatestArtifact() throws {
        let harness = Harness()
        try harness.register(0)
        let first = try #require(try harness.read())
        try harness.register(1)
        let second = try #require(try harness.read())
        #expect(first.snapshot.version == 1)
        #expect(second.snapshot.version == 2)
        #expect(second.snapshot == harness.log.all.last)
    }

    // MARK: Independence and counts

    @Test("Renditions and streams are independent")
    func independence() throws {
        let harness = Harness(windowSize: 3)
        try harness.register(0, milliseconds: 4000, rendition: "1080p")
        try harness.register(10, milliseconds: 1000, rendition: "480p")
        try harness.register(0, stream: "other", rendition: "720p")
        #expect(try harness.peek(rendition: "1080p")?.targetDuration == 4)
        #expect(try harness.peek(rendition: "480p")?.targetDuration == 1)
        #expect(try harness.peek(rendition: "480p")?.mediaSequence.rawValue == 10)
        _ = try harness.read(rendition: "1080p")
        // Pinning 1080p leaves 480p unpinned.
        #expect(try harness.register(9, milliseconds: 1000, rendition: "480p") == .registered(listed: true))
        #expect(try harness.listed(rendition: "480p") == [9, 10])
        #expect(harness.registry.renditions(of: try StreamID(validating: "s")).map(\.rawValue) == ["1080p", "480p"])
        #expect(harness.registry.renditions(of: try StreamID(validating: "other")).map(\.rawValue) == ["720p"])
        #expect(harness.registry.renditions(of: try StreamID(validating: "none")).isEmpty)
        #expect(try harness.read(rendition: "720p") == nil)
        #expect(try harness.read(stream: "none") == nil)
    }

    @Test("Stream counts follow registrations and ends exactly")
    func streamCounts() throws {
        let harness = Harness()
        #expect(harness.registry.activeStreamCount == 0)
        try harness.register(0, stream: "a")
        try harness.register(0, stream: "a", rendition: "480p")
        try harness.register(0, stream: "b")
        try harness.register(0, stream: "c")
        #expect(harness.registry.activeStreamCount == 3)
        _ = try harness.end("b")
        _ = try harness.end("b")
        _ = try harness.end("d")
        #expect(harness.registry.activeStreamCount == 2)
        #expect(harness.registry.streamCount == 4)
    }

    @Test("Presence tells an unknown stream from a missing rendition and from one with no segment yet")
    func presence() throws {
        let harness = Harness()
        let s = try StreamID(validating: "s")
        func presence(_ stream: String, _ rendition: String) throws -> PlaylistPresence {
            harness.registry.presence(stream: try StreamID(validating: stream), rendition: try RenditionName(validating: rendition))
        }
        #expect(try presence("s", "720p") == .unknownStream)
        try harness.declare(RenditionDeclaration(bandwidth: 1))
        #expect(try presence("s", "720p") == .noSegmentYet)
        #expect(try presence("s", "1080p") == .unknownRendition)
        try harness.register(0)
        #expect(try presence("s", "720p") == .available)
        _ = try harness.end("phantom")
        #expect(try presence("phantom", "720p") == .unknownRendition, "an ended stream is known")
        #expect(harness.registry.renditions(of: s).map(\.rawValue) == ["720p"])
    }

    @Test("Every publication is retired exactly once, after its replacement is current; forgetting a stream retires its current ones")
    func retirements() throws {
        // Artifacts are numbered in publication order; `current` is what a read serves.
        let published = Mutex<[Int]>([])
        let retired = Mutex<[Int]>([])
        let registry = SegmentRegistry<Int>(
            configuration: RegistryConfiguration(windowSize: 3, endedStreamTTLMilliseconds: 1000),
            publish: { _ in published.withLock { $0.append($0.count); return $0.count - 1 } },
            retire: { artifact in retired.withLock { $0.append(artifact) } })
        let s = try StreamID(validating: "s")
        let r1 = try RenditionName(validating: "r1")
        let r2 = try RenditionName(validating: "r2")
        let t0 = Timestamp(millisecondsSinceEpoch: 0)
        _ = try registry.register(try segment(0), stream: s, rendition: r1, now: t0)
        #expect(retired.withLock { $0 }.isEmpty, "the first publication replaces nothing")
        for sequence in 1...5 {
            _ = try registry.register(try segment(UInt64(sequence)), stream: s, rendition: r1, now: t0)
            let current = try #require(registry.playlist(stream: s, rendition: r1))
            #expect(!retired.withLock { $0 }.contains(current), "the current artifact is never retired")
        }
        #expect(retired.withLock { $0 } == [0, 1, 2, 3, 4])
        _ = try registry.register(try segment(0), stream: s, rendition: r2, now: t0)
        _ = try registry.register(try segment(3), stream: s, rendition: r1, now: t0)  // a duplicate: nothing changes
        #expect(retired.withLock { $0 } == [0, 1, 2, 3, 4])
        _ = try registry.endStream(s, now: t0)  // republishes both renditions with ENDLIST
        let ended = published.withLock { $0.count }
        #expect(Set(retired.withLock { $0 }) == Set(0..<(ended - 2)), "all but the two ended playlists")
        _ = registry.sweep(now: Timestamp(millisecondsSinceEpoch: 2000))  // past ENDED_STREAM_TTL
        #expect(registry.playlist(stream: s, rendition: r1) == nil)
        let all = retired.withLock { $0 }
        #expect(all.sorted() == Array(0..<ended), "forgetting the stream retired its last two")
        #expect(Set(all).count == all.count, "each exactly once")
    }

    @Test("Each stream and rendition is announced once when it first appears, the stream first")
    func events() throws {
        let seen = Mutex<[LifecycleEvent]>([])
        let registry = SegmentRegistry<Int>(
            configuration: RegistryConfiguration(windowSize: 3, endedStreamTTLMilliseconds: 1000),
            publish: { _ in 0 }, events: { event in seen.withLock { $0.append(event) } })
        let a = try StreamID(validating: "a")
        let b = try StreamID(validating: "b")
        let r1 = try RenditionName(validating: "r1")
        let r2 = try RenditionName(validating: "r2")
        let t0 = Timestamp(millisecondsSinceEpoch: 0)
        _ = try registry.register(try segment(0), stream: a, rendition: r1, now: t0)
        _ = try registry.register(try segment(1), stream: a, rendition: r1, now: t0)
        _ = try registry.declare(RenditionDeclaration(bandwidth: 1), stream: a, rendition: r2, now: t0)
        _ = try registry.declare(RenditionDeclaration(bandwidth: 2), stream: a, rendition: r2, now: t0)
        _ = try registry.register(try segment(0), stream: a, rendition: r2, now: t0)
        _ = try registry.declare(RenditionDeclaration(bandwidth: 1), stream: b, rendition: r1, now: t0)
        _ = try registry.endStream(try StreamID(validating: "phantom"), now: t0)  // ended, never started
        #expect(throws: LowLatencyError.self) {
            try registry.registerPart(try part(0, 0), stream: try StreamID(validating: "c"), rendition: r1, now: t0)
        }  // refused: nothing appears
        #expect(seen.withLock { $0 } == [
            .streamStarted(a), .renditionCreated(a, r1), .renditionCreated(a, r2), .streamStarted(b), .renditionCreated(b, r1),
        ])
        // A stream forgotten after its TTL starts afresh.
        _ = try registry.endStream(a, now: t0)
        _ = registry.sweep(now: Timestamp(millisecondsSinceEpoch: 2000))
        seen.withLock { $0.removeAll() }
        _ = try registry.register(try segment(5), stream: a, rendition: r2, now: Timestamp(millisecondsSinceEpoch: 3000))
        #expect(seen.withLock { $0 } == [.streamStarted(a), .renditionCreated(a, r2)])
    }

    @Test("The registry is usable through the PlaylistRegistry protocol")
    func protocolUse() throws {
        let harness = Harness()
        let registry: any PlaylistRegistry<Published> = harness.registry
        let stream = try StreamID(validating: "s")
        let rendition = try RenditionName(validating: "720p")
        let outcome = try registry.register(try segment(0), stream: stream, rendition: rendition, now: Timestamp(millisecondsSinceEpoch: 1))
        #expect(outcome == .registered(listed: true))
        #expect(registry.playlist(stream: stream, rendition: rendition)?.snapshot.version == 1)
    }
}
