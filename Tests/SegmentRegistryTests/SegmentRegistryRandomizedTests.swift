import HLSModel
import SegmentRegistry
import Testing

@Suite struct SegmentRegistryRandomizedTests {
    /// The canonical duration of segment `n` in a trial (so repeats are exact duplicates).
    private static func milliseconds(_ n: UInt64, seed: UInt64) -> Int64 {
        var generator = SplitMix64(seed: seed &* 31 &+ n)
        // Never above 1.5 s, so no canonical segment exceeds the target (3 s, or 1 s taken from
        // the first segment); case 9 of the loop sends over-long ones on purpose.
        return Int64.random(in: 300...1499, using: &generator)
    }

    @Test("Random interleavings keep every invariant after every step", arguments: Array(UInt64(1)...40))
    func randomInterleavings(seed: UInt64) async throws {
        try await offThread { try Self().randomInterleavingsBody(seed: seed) }
    }

    func randomInterleavingsBody(seed: UInt64) throws {
        var generator = SplitMix64(seed: seed)
        let windowSize = Int.random(in: 1...6, using: &generator)
        let target: Int64? = Bool.random(using: &generator) ? nil : 3
        let harness = Harness(windowSize: windowSize, targetDuration: target)
        let space: UInt64 = 40

        var previous: RenditionSnapshot?
        var pinned = false
        var publications = 0

        func step(_ n: UInt64, milliseconds: Int64, path: String? = nil) throws {
            let before = try harness.peek()
            let outcome: RegistrationOutcome
            do {
                outcome = try harness.register(n, milliseconds: milliseconds, path: path)
            } catch {
                #expect(try harness.peek() == before, "a refused registration changes nothing")
                #expect(harness.log.count == publications)
                return
            }
            let after = try #require(try harness.peek())
            let changed = after != before
            if changed { publications += 1 }
            #expect(harness.log.count == publications, "one publication per visible change")
            if let before { #expect(after.version == before.version + (changed ? 1 : 0)) }
            expectWellFormed(after, windowSize: windowSize)
            let listed = after.segments.contains { $0.sequence.rawValue == n }
            switch outcome {
            case .registered(listed: true):
                #expect(listed && changed)
            case .registered(listed: false) where changed:
                // It filled a hole and the released segments pushed the window past it.
                #expect(!listed && after.mediaSequence.rawValue > n)
            case .registered(listed: false), .duplicate:
                #expect(!changed)
            case .stale:
                #expect(!changed && !listed)
            }
            if pinned, let previous {
                // After pinning, changes only drop at the head and append at the tail.
                #expect(after.mediaSequence >= previous.mediaSequence)
                let kept = previous.segments.filter { $0.sequence >= after.mediaSequence }
                #expect(after.segments.starts(with: kept))
            }
            if let before, after.mediaSequence > before.mediaSequence {
                pinned = true  // the window slid: from now on its start only moves forward
            }
            previous = after
        }

        for _ in 0..<120 {
            let n = UInt64.random(in: 0..<space, using: &generator)
            let canonical = Self.milliseconds(n, seed: seed)
            switch Int.random(in: 0..<10, using: &generator) {
            case 0:
                // A conflicting variant of a possibly known segment.
                try step(n, milliseconds: canonical, path: "/conflict/\(n).ts")
            case 9:
                // Longer than any target used here: refused, nothing changes.
                try step(n, milliseconds: 5000)
            case 1 where seed % 2 == 0, 2 where seed % 2 == 0:
                // Odd seeds never read, so only slides pin their windows.
                if let served = try harness.read(), !served.snapshot.segments.isEmpty { pinned = true }
            default:
                try step(n, milliseconds: canonical)
            }
        }
        // Register everything once more: the run must now reach the end of the space.
        for n in 0..<space {
            try step(n, milliseconds: Self.milliseconds(n, seed: seed))
        }
        let final = try #require(try harness.peek())
        #expect(final.segments.last?.sequence.rawValue == space - 1)
        if final.segments.count < windowSize {
            // Shorter than the window only when nothing was ever dropped.
            #expect(publications == harness.log.count)
        }
    }
}
