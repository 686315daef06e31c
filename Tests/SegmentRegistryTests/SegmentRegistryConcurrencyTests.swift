import Foundation
import HLSModel
import PlaylistRenderer
import SegmentRegistry
import Synchronization
import Testing

/// Runs every body on its own thread and returns when all have finished.
private func runOnThreads(_ bodies: [@Sendable () -> Void]) {
    let group = DispatchGroup()
    for body in bodies {
        group.enter()
        let thread = Thread {
            body()
            group.leave()
        }
        thread.start()
    }
    group.wait()
}

@Suite struct SegmentRegistryConcurrencyTests {
    @Test("Concurrent shuffled registrations and reads end in the exact expected playlists")
    func concurrentWritersAndReaders() throws {
        let windowSize = 5
        let segmentCount: UInt64 = 300
        let harness = Harness(windowSize: windowSize)
        let streams = ["s1", "s2"]
        let renditions = ["480p", "720p", "1080p"]
        let pairs = streams.flatMap { stream in renditions.map { (stream, $0) } }

        // Segment 0 first, so every later arrival is at or after the run start and none is stale.
        for (stream, rendition) in pairs { try harness.register(0, stream: stream, rendition: rendition) }

        // Every pair gets 1..<N, plus a duplicate of every fourth one, shuffled, split over writers.
        var generator = SplitMix64(seed: 42)
        var work: [(String, String, UInt64)] = []
        for (stream, rendition) in pairs {
            for n in 1..<segmentCount {
                work.append((stream, rendition, n))
                if n % 4 == 0 { work.append((stream, rendition, n)) }
            }
        }
        work.shuffle(using: &generator)
        let writerCount = 4
        let slices = (0..<writerCount).map { index in
            stride(from: index, to: work.count, by: writerCount).map { work[$0] }
        }

        let outcomes = Mutex<[RegistrationOutcome: Int]>([:])
        let failures = Mutex<[String]>([])
        let writersDone = Atomic<Int>(0)
        let registry = harness.registry

        let writers: [@Sendable () -> Void] = slices.map { slice in
            {
                var local: [RegistrationOutcome: Int] = [:]
                for (stream, rendition, n) in slice {
                    do {
                        let outcome = try registry.register(
                            try segment(n),
                            stream: try StreamID(validating: stream),
                            rendition: try RenditionName(validating: rendition),
                            now: Timestamp(millisecondsSinceEpoch: Int64(n)))
                        local[outcome, default: 0] += 1
                    } catch {
                        failures.withLock { $0.append("\(stream)/\(rendition)/\(n): \(error)") }
                    }
                }
                outcomes.withLock { total in
                    for (outcome, count) in local { total[outcome, default: 0] += count }
                }
                writersDone.add(1, ordering: .releasing)
            }
        }
        let readers: [@Sendable () -> Void] = (0..<2).map { readerIndex in
            {
                // Each reader follows every pair and checks what a player may rely on.
                var lastSeen: [String: RenditionSnapshot] = [:]
                var reads = 0
                while writersDone.load(ordering: .acquiring) < writerCount || reads < 1000 {
                    reads += 1
                    let (stream, rendition) = pairs[(reads + readerIndex) % pairs.count]
                    guard
                        let streamID = StreamID(rawValue: stream),
                        let renditionName = RenditionName(rawValue: rendition),
                        let published = registry.playlist(stream: streamID, rendition: renditionName)
                    else {
                        failures.withLock { $0.append("\(stream)/\(rendition) unknown to a reader") }
                        return
                    }
                    let snapshot = published.snapshot
                    let key = stream + "/" + rendition
                    if let previous = lastSeen[key] {
                        if snapshot.version < previous.version || snapshot.mediaSequence < previous.mediaSequence {
                            failures.withLock { $0.append("\(key) went backwards") }
                        }
                        // Between two reads, segments only leave at the head and join at the tail.
                        let kept = previous.segments.filter { $0.sequence >= snapshot.mediaSequence }
                        if !snapshot.segments.starts(with: kept) {
                            failures.withLock { $0.append("\(key) changed other than at its ends") }
                        }
                    }
                    let sequences = snapshot.segments.map(\.sequence.rawValue)
                    if sequences.first != snapshot.mediaSequence.rawValue
                        || sequences != Array(snapshot.mediaSequence.rawValue..<snapshot.mediaSequence.rawValue + UInt64(sequences.count))
                    {
                        failures.withLock { $0.append("\(key) not contiguous from its media sequence") }
                    }
                    if published.text != MediaPlaylistRenderer.render(snapshot) {
                        failures.withLock { $0.append("\(key) artifact does not match its snapshot") }
                    }
                    lastSeen[key] = snapshot
                }
            }
        }
        runOnThreads(writers + readers)

        #expect(failures.withLock { $0 } == [])
        let duplicates = pairs.count * Int((segmentCount - 1) / 4)
        let registered = outcomes.withLock { $0 }
        // A repeat is a duplicate while its original is known, stale once the window passed it.
        #expect((registered[.duplicate] ?? 0) + (registered[.stale] ?? 0) == duplicates)
        let listedNow = registered[.registered(listed: true)] ?? 0
        let waited = registered[.registered(listed: false)] ?? 0
        #expect(listedNow + waited == pairs.count * Int(segmentCount - 1))

        let keep = UInt64(max(windowSize, 3))
        for (stream, rendition) in pairs {
            let snapshot = try #require(try harness.peek(stream: stream, rendition: rendition))
            var expected: [Segment] = []
            for n in segmentCount - keep..<segmentCount { expected.append(try segment(n)) }
            #expect(snapshot.segments == expected)
            #expect(snapshot.mediaSequence.rawValue == segmentCount - keep)
            #expect(snapshot.targetDuration == 2)
            #expect(snapshot.isEnded == false)
            #expect(snapshot.version == UInt64(harness.log.count(stream: stream, rendition: rendition)))
        }
        #expect(harness.registry.activeStreamCount == 2)
    }

    @Test("Concurrent ends and registrations: after the end returns, nothing more is accepted")
    func concurrentEnd() throws {
        for round in 0..<20 {
            let harness = Harness()
            let registry = harness.registry
            let stream = try StreamID(validating: "live-\(round)")
            try harness.register(0, stream: stream.rawValue)
            let endReturned = Atomic<Bool>(false)
            let lateAccepted = Atomic<Int>(0)
            let writers: [@Sendable () -> Void] = ["a", "b", "c"].map { name in
                {
                    guard let rendition = RenditionName(rawValue: name) else { return }
                    for n: UInt64 in 0..<200 {
                        let ended = endReturned.load(ordering: .acquiring)
                        guard let next = try? segment(n) else { return }
                        let result = try? registry.register(next, stream: stream, rendition: rendition, now: Timestamp(millisecondsSinceEpoch: 0))
                        if ended, result != nil { lateAccepted.add(1, ordering: .relaxed) }
                    }
                }
            }
            let ender: @Sendable () -> Void = {
                _ = try? registry.endStream(stream, now: Timestamp(millisecondsSinceEpoch: 1))
                endReturned.store(true, ordering: .releasing)
            }
            runOnThreads(writers + [ender])
            #expect(lateAccepted.load(ordering: .relaxed) == 0)
            for rendition in registry.renditions(of: stream) {
                let snapshot = try #require(registry.snapshot(stream: stream, rendition: rendition))
                #expect(snapshot.isEnded, "every rendition that exists was republished as ended")
                #expect(registry.playlist(stream: stream, rendition: rendition)?.text.hasSuffix("#EXT-X-ENDLIST\n") == true)
            }
            #expect(registry.activeStreamCount == 0)
        }
    }

    @Test("Concurrent parts into sibling LL renditions: when all return, every report is current")
    func concurrentReports() throws {
        for round in 0..<10 {
            let harness = Harness()
            let names = ["a", "b", "c"]
            for name in names {
                try harness.declare(try lowLatencyDeclaration(targetDuration: name == "a" ? 2 : nil), rendition: name)
            }
            let registry = harness.registry
            let stream = try StreamID(validating: "s")
            let failures = Mutex<[String]>([])
            let writers: [@Sendable () -> Void] = names.map { name in
                {
                    guard let rendition = RenditionName(rawValue: name) else { return }
                    // Each rendition stops at a different point, so the final reports differ.
                    let segments = UInt64(20 + round + name.utf8.count * 3 + Int(name.utf8.first ?? 0) % 5)
                    do {
                        for n in 0..<segments {
                            for index in 0..<4 {
                                _ = try registry.registerPart(
                                    try part(n, index), stream: stream, rendition: rendition, now: Timestamp(millisecondsSinceEpoch: 0))
                            }
                            if n + 1 < segments {
                                _ = try registry.register(try segment(n), stream: stream, rendition: rendition, now: Timestamp(millisecondsSinceEpoch: 0))
                            }
                        }
                    } catch {
                        failures.withLock { $0.append("\(name): \(error)") }
                    }
                }
            }
            runOnThreads(writers)
            #expect(failures.withLock { $0 } == [])
            for name in names {
                let snapshot = try #require(try harness.peek(rendition: name))
                var expected: [RenditionReport] = []
                for other in names where other != name {
                    let sibling = try #require(try harness.peek(rendition: other))
                    expected.append(RenditionReport(
                        rendition: try RenditionName(validating: other), lastMSN: try #require(sibling.lastMSN), lastPart: sibling.lastPart))
                }
                #expect(snapshot.renditionReports == expected, "round \(round), \(name)")
            }
        }
    }
}
