import HLSModel
import SegmentRegistry
import Testing

/// Seeded random interleavings of registrations (in order, shuffled, duplicates, conflicting
/// repeats, gaps, far ahead), declarations, sweeps with time passing (gap timeouts firing),
/// reads and ends, over many configurations. After every step the rendered playlist of every
/// rendition is parsed and checked against the RFC 8216 rules of issue 3.
@Suite struct SegmentRegistryPropertyTests {
    /// Steps per trial; with ``seeds`` trials this is the number of random steps.
    static let steps = 150
    static let seeds = Array(UInt64(1)...64)
    static let renditions = ["720p", "360p"]

    /// The canonical duration of segment `n` (so repeats are exact duplicates), 0.3–1.499 s.
    private static func milliseconds(_ n: UInt64, seed: UInt64) -> Int64 {
        var generator = SplitMix64(seed: seed &* 31 &+ n)
        return Int64.random(in: 300...1499, using: &generator)
    }

    /// What the test remembers about one rendition between steps.
    struct Observed {
        var previous: MediaPlaylist?
        var pinned = false
        var everSlid = false
        /// Playlist media sequence number → URI, for every number ever served after pinning.
        var uriOfNumber: [UInt64: String] = [:]
        /// URIs ever listed behind a discontinuity tag.
        var discontinuityURIs: Set<String> = []
        /// Segments appended and removed within one change, never seen: each may have carried a
        /// discontinuity tag that counts in DISCONTINUITY-SEQUENCE without ever being listed.
        var unseenRemoved: UInt64 = 0
        /// Transcoder sequences accepted as new (registered), listed or waiting.
        var accepted: Set<UInt64> = []
    }

    @Test("Random interleavings keep every RFC 8216 rule after every step", arguments: seeds)
    func property(seed: UInt64) async throws {
        try await offThread { try Self().propertyBody(seed: seed) }
    }

    func propertyBody(seed: UInt64) throws {
        var generator = SplitMix64(seed: seed)
        let windowSize = Int.random(in: 1...8, using: &generator)
        let gapTimeout: Int64 = seed % 3 == 0 ? 0 : Int64.random(in: 500...4000, using: &generator)
        let target: Int64? = seed % 4 < 2 ? nil : 3
        let maxPending = [8, 16, 1024][Int(seed % 3)]
        let configuration = RegistryConfiguration(
            windowSize: windowSize, targetDuration: target, gapTimeoutMilliseconds: gapTimeout,
            maxPendingSegments: maxPending, endedStreamTTLMilliseconds: 0, idleStreamTTLMilliseconds: 0)
        let harness = Harness(configuration: configuration)
        let reads = seed % 2 == 0
        var now: Int64 = 1_000_000
        var observed: [String: Observed] = [:]
        var ended = false
        var head: [String: UInt64] = [:]  // roughly where the transcoder is, per rendition

        func check(_ rendition: String, context: String) throws {
            guard let text = try harness.text(rendition: rendition) else { return }
            let playlist = try MediaPlaylist(parsing: text)
            var state = observed[rendition, default: Observed()]
            defer { observed[rendition] = state }
            let where_ = "seed \(seed) \(context)\n\(text)"
            #expect(playlist.version == 3, "\(where_)")
            // EXTINF rounded ≤ target, sequences ascending, contiguous except after a discontinuity.
            var last: UInt64?
            for entry in playlist.entries {
                #expect((entry.milliseconds + 500) / 1000 <= playlist.targetDuration, "\(where_)")
                let n = try #require(MediaPlaylist.sequence(in: entry.uri), "\(where_)")
                if let last {
                    #expect(n > last, "ascending: \(where_)")
                    #expect(n == last + 1 || entry.discontinuity, "contiguous unless DISCONTINUITY: \(where_)")
                }
                #expect(state.accepted.contains(n), "only accepted segments are listed: \(where_)")
                if entry.discontinuity { state.discontinuityURIs.insert(entry.uri) }
                last = n
            }
            // Length: never above max(window, 3×TD rule); once slid, never below either.
            if playlist.entries.count > windowSize {
                let rest = playlist.entries.dropFirst().reduce(Int64(0)) { $0 + $1.milliseconds }
                #expect(rest < playlist.targetDuration * 3000, "over the window only for 3×TD: \(where_)")
            }
            if let previous = state.previous {
                #expect(playlist.targetDuration == previous.targetDuration, "TARGETDURATION constant: \(where_)")
                if playlist.mediaSequence > previous.mediaSequence || playlist.discontinuitySequence > 0
                    || playlist.entries.contains(where: \.discontinuity)
                {
                    state.pinned = true
                }
                if state.pinned {
                    #expect(playlist.mediaSequence >= previous.mediaSequence, "MEDIA-SEQUENCE monotonic: \(where_)")
                    #expect(playlist.discontinuitySequence >= previous.discontinuitySequence, "\(where_)")
                    #expect(!previous.isEnded || playlist == previous, "nothing changes after ENDLIST: \(where_)")
                    // Only append, remove head, add ENDLIST.
                    // (More than were listed may go when segments are appended and slide out in
                    // the same change, as when a filled or skipped hole releases many.)
                    let removed = Int(playlist.mediaSequence - previous.mediaSequence)
                    let kept = Array(previous.entries.dropFirst(removed))
                    #expect(Array(playlist.entries.prefix(kept.count)) == kept, "append/remove-head only: \(where_)")
                    let slidTags = UInt64(previous.entries.prefix(removed).filter(\.discontinuity).count)
                    let unseen = UInt64(max(0, removed - previous.entries.count))
                    state.unseenRemoved += unseen
                    #expect(
                        playlist.discontinuitySequence >= previous.discontinuitySequence + slidTags
                            && playlist.discontinuitySequence <= previous.discontinuitySequence + slidTags + unseen,
                        "DISCONTINUITY-SEQUENCE counts the tags that slid out: \(where_)")
                    if removed > 0 { state.everSlid = true }
                }
            }
            if state.pinned {
                // One media sequence number ↔ one URI, forever.
                for (offset, entry) in playlist.entries.enumerated() {
                    let number = playlist.mediaSequence + UInt64(offset)
                    if let known = state.uriOfNumber[number] {
                        #expect(known == entry.uri, "number \(number) changed its URI: \(where_)")
                    }
                    state.uriOfNumber[number] = entry.uri
                }
                let slidSeen = UInt64(state.discontinuityURIs.count - playlist.entries.filter(\.discontinuity).count)
                #expect(
                    playlist.discontinuitySequence >= slidSeen
                        && playlist.discontinuitySequence <= slidSeen + state.unseenRemoved,
                    "DISCONTINUITY-SEQUENCE = tags that slid out: \(where_)")
            }
            if state.everSlid {
                #expect(playlist.entries.count >= windowSize, "\(where_)")
                #expect(playlist.totalMilliseconds >= playlist.targetDuration * 3000, "never below 3×TD: \(where_)")
            }
            state.previous = playlist
        }

        func register(_ n: UInt64, rendition: String, milliseconds: Int64, path: String? = nil) throws {
            let before = try harness.peek(rendition: rendition)
            let outcome: RegistrationOutcome
            do {
                outcome = try harness.register(n, milliseconds: milliseconds, path: path, rendition: rendition, at: now)
            } catch let error as RegistryError {
                #expect(try harness.peek(rendition: rendition) == before, "a refused registration changes nothing")
                switch error {
                case .streamEnded: #expect(ended)
                case .tooFarAhead(let sequence, let next, let limit):
                    #expect(sequence.rawValue - next.rawValue >= UInt64(limit) && limit == maxPending)
                case .conflictingSegment, .exceedsTargetDuration: break
                default: Issue.record("unexpected \(error)")
                }
                return
            }
            if ended {
                // After the end only a transcoder's exact retry of a held segment succeeds.
                #expect(outcome == .duplicate, "after the end: \(outcome)")
                #expect(try harness.peek(rendition: rendition) == before, "a retry after the end changes nothing")
                return
            }
            if case .registered = outcome { observed[rendition, default: Observed()].accepted.insert(n) }
            let after = try harness.peek(rendition: rendition)
            if outcome == .duplicate || outcome == .stale || outcome == .registered(listed: false) {
                // Unchanged, except that a due gap timeout may have been applied.
                if after != before, let after, let before {
                    #expect(after.discontinuitySequence > before.discontinuitySequence
                        || after.discontinuities != before.discontinuities || after.mediaSequence != before.mediaSequence
                        || after.segments.count > before.segments.count)
                }
            }
            if outcome == .registered(listed: true) {
                #expect(after?.segments.contains { $0.sequence.rawValue == n } == true)
            }
        }

        for step in 0..<Self.steps {
            now += Int64.random(in: 0...900, using: &generator)
            let rendition = Self.renditions[Int.random(in: 0..<Self.renditions.count, using: &generator)]
            let near = head[rendition, default: 0]
            let n: UInt64
            switch Int.random(in: 0..<10, using: &generator) {
            case 0..<5: n = near  // in order
            case 5, 6: n = near + UInt64.random(in: 1...6, using: &generator)  // a gap / shuffled
            case 7: n = near > 0 ? UInt64.random(in: near.saturatingSubtract(10)...near, using: &generator) : 0  // late / duplicate
            case 8: n = near + UInt64(maxPending) + UInt64.random(in: 0...3, using: &generator)  // far ahead
            default: n = near + UInt64.random(in: 0...2, using: &generator)
            }
            let context = "step \(step) n \(n) \(rendition) at \(now)"
            switch Int.random(in: 0..<20, using: &generator) {
            case 0:
                try register(n, rendition: rendition, milliseconds: Self.milliseconds(n, seed: seed), path: "/conflict/\(n).ts")
            case 1:
                try register(n, rendition: rendition, milliseconds: 5000)  // above any target used here
            case 2, 3, 4:
                let report = harness.sweep(at: now)
                #expect(report.staleRenditionCount >= 0 && report.staleRenditionCount <= Self.renditions.count)
            case 5 where reads, 6 where reads:
                if let served = try harness.read(rendition: rendition), !served.snapshot.segments.isEmpty {
                    observed[rendition, default: Observed()].pinned = true
                }
            case 7:
                let declared = Int64.random(in: 1...4, using: &generator)
                let existing = try harness.peek(rendition: rendition)?.targetDuration
                do {
                    try harness.declare(RenditionDeclaration(bandwidth: 1_000_000, targetDuration: declared), rendition: rendition, at: now)
                    #expect(!ended)
                    if let existing { #expect(existing == declared) }
                    if let target { #expect(target == declared) }
                } catch let error as RegistryError {
                    switch error {
                    case .streamEnded: #expect(ended)
                    case .targetDurationConflict: #expect((existing ?? target) != declared)
                    default: Issue.record("unexpected \(error)")
                    }
                }
            case 8 where step > Self.steps * 3 / 4 && !ended:
                #expect(try harness.end(at: now) == .ended)
                ended = true
            default:
                try register(n, rendition: rendition, milliseconds: Self.milliseconds(n, seed: seed))
                if n == near { head[rendition] = near + 1 }
            }
            for name in Self.renditions { try check(name, context: context) }
            if Int.random(in: 0..<4, using: &generator) == 0 {
                head[rendition] = near + UInt64.random(in: 1...3, using: &generator)  // the transcoder lost some
            }
        }

        if gapTimeout > 0 {
            // The trials exercise the gap timeout: holes get skipped while the stream is live.
            #expect(harness.registry.skippedSegmentsTotal > 0 || ended, "seed \(seed) never skipped a hole")
        }
        // Liveness: with a gap timeout, time passing empties every hole, so the tail reaches the
        // highest accepted segment (unless the stream ended first, which freezes the playlist).
        guard gapTimeout > 0, !ended else { return }
        for _ in 0..<(maxPending + 2) {
            now += gapTimeout
            let report = harness.sweep(at: now)
            for name in Self.renditions { try check(name, context: "flush at \(now)") }
            if report.skippedHoles == 0 { break }
        }
        for name in Self.renditions {
            guard let snapshot = try harness.peek(rendition: name), let highest = observed[name]?.accepted.max() else { continue }
            #expect(snapshot.segments.last?.sequence.rawValue == highest, "seed \(seed): every hole was skipped")
        }
    }
}

extension UInt64 {
    fileprivate func saturatingSubtract(_ other: UInt64) -> UInt64 { self > other ? self - other : 0 }
}
