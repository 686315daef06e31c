import HLSModel
import PlaylistRenderer
import SegmentRegistry
import Testing

/// Seeded random interleavings of parts (in order, out of order, repeated, conflicting, too
/// long, far ahead) with segments (completing, late, skipped behind gap timeouts), reads, sweeps
/// and a late end, on two low-latency renditions. After every step each rendition's whole
/// playlist and its delta update are parsed and checked against rfc8216bis.
@Suite struct LowLatencyPropertyTests {
    static let seeds = Array(UInt64(1)...32)
    static let steps = 150
    static let renditions = ["720p", "360p"]

    struct Observed {
        var previous: MediaPlaylist?
        var pinned = false
        var uriOfNumber: [UInt64: String] = [:]
    }

    @Test("Random LL interleavings keep every rfc8216bis rule after every step", arguments: seeds)
    func property(seed: UInt64) async throws {
        try await offThread { try Self().propertyBody(seed: seed) }
    }

    func propertyBody(seed: UInt64) throws {
        var generator = SplitMix64(seed: seed)
        let partTarget: Int64 = [200, 333, 500, 1000][Int(seed % 4)]
        let gapTimeout: Int64 = seed % 3 == 0 ? 0 : 3000
        let windowSize = Int.random(in: 1...14, using: &generator)
        let harness = Harness(configuration: RegistryConfiguration(
            windowSize: windowSize, gapTimeoutMilliseconds: gapTimeout, maxPendingSegments: 16,
            endedStreamTTLMilliseconds: 0, idleStreamTTLMilliseconds: 0))
        for name in Self.renditions {
            try harness.declare(try lowLatencyDeclaration(partTarget: partTarget, targetDuration: 2), rendition: name)
        }
        let partsPerSegment = Int((2000 / partTarget))  // ≤ 2 s per segment
        var now: Int64 = 1_000_000
        var head: [String: (n: UInt64, part: Int)] = [:]
        var observed: [String: Observed] = [:]
        var ended = false
        var coverage = (listedParts: 0, completedWithParts: 0, skippedInDelta: 0)

        func check(_ rendition: String, context: String) throws {
            guard let snapshot = try harness.peek(rendition: rendition) else { return }
            let text = MediaPlaylistRenderer.render(snapshot)
            let playlist = try MediaPlaylist(parsing: text)
            let where_ = "seed \(seed) \(context)\n\(text)"
            var state = observed[rendition, default: Observed()]
            defer { observed[rendition] = state }
            #expect(playlist.version == 3, "\(where_)")
            let target = try #require(playlist.partTarget, "\(where_)")
            #expect(target == partTarget)
            #expect(try #require(playlist.partHoldBack) >= 3 * target, "PART-HOLD-BACK ≥ 3×PART-TARGET: \(where_)")
            #expect(try #require(playlist.canSkipUntil) >= 6000 * playlist.targetDuration, "CAN-SKIP-UNTIL ≥ 6×TD: \(where_)")
            #expect((playlist.preloadHint == nil) == playlist.isEnded, "preload hint absent iff ended: \(where_)")
            // Parts: contiguous from 0 within each segment, ≤ part target, only near the end.
            var after = playlist.trailingParts.reduce(Int64(0)) { $0 + $1.milliseconds }
            for entry in playlist.entries.reversed() {
                #expect(entry.programDateTime != nil, "PROGRAM-DATE-TIME on every segment: \(where_)")
                let n = try #require(MediaPlaylist.sequence(in: entry.uri.replacing(".mp4", with: ".ts")) ?? MediaPlaylist.sequence(in: entry.uri))
                #expect(entry.parts.map(\.uri) == (0..<entry.parts.count).map { "/part/\(n).\($0).mp4" }, "contiguous: \(where_)")
                if !entry.parts.isEmpty { #expect(after < 6000, "parts only within 3 TD of the end: \(where_)") }
                after += entry.milliseconds
            }
            let next = (playlist.entries.last.flatMap { MediaPlaylist.sequence(in: $0.uri) }).map { $0 + 1 }
            if let next {
                #expect(playlist.trailingParts.map(\.uri) == (0..<playlist.trailingParts.count).map { "/part/\(next).\($0).mp4" }, "\(where_)")
                if let hint = playlist.preloadHint {
                    #expect(hint == "/part/\(next).\(playlist.trailingParts.count).mp4", "hint is the next part: \(where_)")
                }
            }
            for part in playlist.entries.flatMap(\.parts) + playlist.trailingParts {
                #expect(part.milliseconds <= target, "part ≤ PART-TARGET: \(where_)")
                #expect(part.independent == part.uri.hasSuffix(".0.mp4"))
            }
            // Reports: the other rendition as it is now, once it has a playlist.
            var expected: [MediaPlaylist.Report] = []
            for other in Self.renditions where other != rendition {
                if let sibling = try harness.peek(rendition: other), let lastMSN = sibling.lastMSN {
                    expected.append(MediaPlaylist.Report(rendition: other, lastMSN: lastMSN, lastPart: sibling.lastPart.map(UInt64.init)))
                }
            }
            #expect(playlist.reports == expected, "reports are current: \(where_)")
            // The media sequence never goes back once pinned; one number, one URI.
            if let previous = state.previous {
                if playlist.mediaSequence > previous.mediaSequence { state.pinned = true }
                if state.pinned {
                    #expect(playlist.mediaSequence >= previous.mediaSequence, "MEDIA-SEQUENCE monotonic: \(where_)")
                    for (offset, entry) in playlist.entries.enumerated() {
                        let number = playlist.mediaSequence + UInt64(offset)
                        if let known = state.uriOfNumber[number] { #expect(known == entry.uri, "\(where_)") }
                        state.uriOfNumber[number] = entry.uri
                    }
                }
            }
            state.previous = playlist
            coverage.listedParts += playlist.trailingParts.count
            coverage.completedWithParts += playlist.entries.filter { !$0.parts.isEmpty }.count
            // The delta update reconstructs the same list.
            let delta = try MediaPlaylist(parsing: MediaPlaylistRenderer.render(snapshot, skip: true))
            if playlist.isEnded {
                #expect(delta == playlist)
            } else {
                let skipped = try #require(delta.skipped)
                coverage.skippedInDelta += Int(skipped)
                // The first segment is skipped exactly when it ends at least CAN-SKIP-UNTIL before the end.
                if let first = playlist.entries.first {
                    let rest = playlist.totalMilliseconds - first.milliseconds
                    #expect((skipped > 0) == (rest >= 6000 * playlist.targetDuration), "skip boundary: \(where_)")
                }
                #expect(delta.version == 9 && Array(playlist.entries.dropFirst(Int(skipped))) == delta.entries, "\(where_)")
                #expect(delta.trailingParts == playlist.trailingParts && delta.reports == playlist.reports)
            }
            // The predicates agree with the playlist.
            if let lastMSN = snapshot.lastMSN {
                #expect(snapshot.satisfies(msn: lastMSN, part: snapshot.lastPart))
                #expect(!snapshot.blockingRequestIsTooFar(msn: lastMSN + 1, part: 0))
                if !snapshot.isEnded {
                    #expect(!snapshot.satisfies(msn: snapshot.inProgressMSN, part: snapshot.inProgressParts.count), "\(where_)")
                    #expect(!snapshot.satisfies(msn: snapshot.inProgressMSN, part: nil))
                    #expect(snapshot.blockingRequestIsTooFar(msn: snapshot.inProgressMSN + 2, part: nil))
                }
            }
        }

        for step in 0..<Self.steps {
            now += Int64.random(in: 0...400, using: &generator)
            let rendition = Self.renditions[Int.random(in: 0..<2, using: &generator)]
            var (n, index) = head[rendition, default: (0, 0)]
            let context = "step \(step) \(rendition) n \(n) part \(index) at \(now)"
            do {
                switch Int.random(in: 0..<20, using: &generator) {
                case 0..<8:  // the next part
                    if index < partsPerSegment {
                        try harness.registerPart(n, index, milliseconds: partTarget, independent: index == 0, rendition: rendition, at: now)
                        index += 1
                    }
                case 8:  // a later part first
                    let ahead = index + Int.random(in: 1...3, using: &generator)
                    if ahead < partsPerSegment {
                        try harness.registerPart(n, ahead, milliseconds: partTarget, independent: ahead == 0, rendition: rendition, at: now)
                    }
                case 9:  // a repeat, or a conflicting repeat
                    if index > 0 {
                        let repeated = Int.random(in: 0..<index, using: &generator)
                        let conflicting = Bool.random(using: &generator)
                        do {
                            let outcome = try harness.registerPart(
                                n, repeated, milliseconds: partTarget, independent: repeated == 0,
                                path: conflicting ? "/other.mp4" : nil, rendition: rendition, at: now)
                            #expect(outcome == .duplicate || outcome == .stale)
                        } catch let error as LowLatencyError {
                            #expect(conflicting && error == .conflictingPart(sequence: try sequence(n), part: repeated))
                        }
                    }
                case 10:  // too long
                    do {
                        try harness.registerPart(n, index, milliseconds: partTarget + 1, rendition: rendition, at: now)
                        Issue.record("a part longer than the part target was accepted")
                    } catch let error as LowLatencyError {
                        guard case .exceedsPartTarget = error else { throw error }
                        #expect(!ended)
                    }
                case 11..<15:  // the segment completes
                    try harness.register(n, milliseconds: Int64(max(index, partsPerSegment / 2 + 1)) * partTarget, rendition: rendition, at: now)
                    (n, index) = (n + 1, 0)
                case 15:  // the transcoder loses a segment (a hole, given up after the gap timeout)
                    (n, index) = (n + 1, 0)
                case 16:
                    _ = harness.sweep(at: now)
                case 17:
                    _ = try harness.read(rendition: rendition)
                case 18 where step > Self.steps * 9 / 10 && !ended:
                    #expect(try harness.end(at: now) == .ended)
                    ended = true
                default:
                    try harness.registerPart(n + 1, 0, milliseconds: partTarget, independent: true, rendition: rendition, at: now)
                }
            } catch let error as RegistryError {
                switch error {
                case .streamEnded: #expect(ended)
                case .tooFarAhead: break
                default: Issue.record("unexpected \(error) at \(context)")
                }
            }
            head[rendition] = (n, index)
            for name in Self.renditions { try check(name, context: context) }
        }
        // The trial exercised what it claims to.
        #expect(coverage.listedParts > 0 && coverage.completedWithParts > 0, "seed \(seed): \(coverage)")
    }
}
