// The renderer and the registry alone: time and allocations per operation (ordo-one/benchmark;
// every figure is per operation, the loop runs `scaledIterations` = 1,000 operations).
import Benchmark
import HLSModel
import PlaylistRenderer
import SegmentRegistry
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

// MARK: - Fixtures

enum Fixture {
    static let start = Timestamp(millisecondsSinceEpoch: 1_700_000_000_000)
    static let twoSeconds = (try? SegmentDuration(milliseconds: 2_000))!

    /// A segment whose path is shared with every other one (no allocation per segment).
    static func segment(_ sequence: UInt64, path: SegmentPath) -> Segment {
        Segment(sequence: SequenceNumber(clamping: sequence), duration: twoSeconds, path: path)
    }

    /// A live media playlist snapshot of `count` 2-second segments with realistic paths.
    static func snapshot(segments count: Int) -> RenditionSnapshot {
        let first: UInt64 = 1_000_000
        let segments = (0..<UInt64(count)).map { i in
            Segment(
                sequence: SequenceNumber(clamping: first + i),
                duration: twoSeconds,
                path: SegmentPath(rawValue: "/live/event-0042/1080p/segment-\(first + i).ts")!)
        }
        return RenditionSnapshot(
            stream: StreamID(rawValue: "event-0042")!,
            rendition: RenditionName(rawValue: "1080p")!,
            version: 7,
            targetDuration: 2,
            mediaSequence: SequenceNumber(clamping: first),
            segments: segments,
            isEnded: false,
            lastModified: start)
    }

    /// `count` renditions: count/4 streams x 4 renditions.
    static func renditions(_ count: Int) -> [(StreamID, RenditionName)] {
        let names = ["360p", "540p", "720p", "1080p"].map { RenditionName(rawValue: $0)! }
        return (0..<count).map { i in (StreamID(rawValue: "stream-\(i / 4)")!, names[i % 4]) }
    }
}

/// A registry with `renditions` renditions, each with a full window of `window` segments, and
/// the next in-order sequence of each. Registrations go round-robin over the renditions, so each
/// is a new in-order segment that slides a full window — the steady state of a live event.
final class LiveRegistry<Artifact: Sendable>: @unchecked Sendable {
    let registry: SegmentRegistry<Artifact>
    let renditions: [(StreamID, RenditionName)]
    let path = SegmentPath(rawValue: "/live/event/segment.ts")!
    private(set) var next: [UInt64]
    private var cursor = 0
    private var clock: Int64 = 0

    init(renditions count: Int, window: Int, publish: @escaping @Sendable (RenditionSnapshot) -> Artifact) {
        registry = SegmentRegistry(configuration: RegistryConfiguration(windowSize: window), publish: publish)
        renditions = Fixture.renditions(count)
        next = Array(repeating: 1, count: count)
        for _ in 0..<window {
            for i in 0..<count { _ = registerNext(i) }
        }
        // Serve each once, as players would: windows are pinned from here on.
        for (stream, rendition) in renditions { _ = registry.playlist(stream: stream, rendition: rendition) }
    }

    @inline(__always)
    func registerNext(_ i: Int) -> RegistrationOutcome? {
        let (stream, rendition) = renditions[i]
        let sequence = next[i]
        next[i] = sequence + 1
        clock += 1
        return try? registry.register(
            Fixture.segment(sequence, path: path), stream: stream, rendition: rendition,
            now: Timestamp(millisecondsSinceEpoch: 1_700_000_000_000 + clock))
    }

    /// Registers the next segment of the next rendition (round-robin).
    @inline(__always)
    func registerRoundRobin() -> RegistrationOutcome? {
        let i = cursor
        cursor = cursor + 1 == renditions.count ? 0 : cursor + 1
        return registerNext(i)
    }
}

// MARK: - Benchmarks

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .mallocCountTotal, .throughput],
        timeUnits: .nanoseconds,
        warmupIterations: 3,
        scalingFactor: .kilo,
        maxDuration: .seconds(2),
        maxIterations: 10_000
    )

    let six = Fixture.snapshot(segments: 6)
    let sixty = Fixture.snapshot(segments: 60)

    Benchmark("render: media playlist, 6 segments (renderBytes)") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(MediaPlaylistRenderer.renderBytes(six))
        }
    }

    Benchmark("render: media playlist, 60 segments (renderBytes)") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(MediaPlaylistRenderer.renderBytes(sixty))
        }
    }

    // register(_:stream:rendition:now:) with the real publish step (renderBytes), as the
    // service does it minus gzip and the prepared HTTP response.
    Benchmark("register: in-order segment, 1,000 renditions, publish = renderBytes") { benchmark, live in
        for _ in benchmark.scaledIterations {
            blackHole(live.registerRoundRobin())
        }
    } setup: {
        LiveRegistry<[UInt8]>(renditions: 1_000, window: 6, publish: MediaPlaylistRenderer.renderBytes)
    }

    // The registry's own cost: publish keeps the snapshot, renders nothing.
    Benchmark("register: in-order segment, 1,000 renditions, no render") { benchmark, live in
        for _ in benchmark.scaledIterations {
            blackHole(live.registerRoundRobin())
        }
    } setup: {
        LiveRegistry<RenditionSnapshot>(renditions: 1_000, window: 6, publish: { $0 })
    }

    // The hot path of a player's GET: a lookup and a reference copy of ready bytes.
    Benchmark("read: playlist(stream:rendition:), 1,000 renditions") { benchmark, live in
        let renditions = live.renditions
        var i = 0
        for _ in benchmark.scaledIterations {
            let (stream, rendition) = renditions[i]
            blackHole(live.registry.playlist(stream: stream, rendition: rendition))
            i = i + 1 == renditions.count ? 0 : i + 1
        }
    } setup: {
        LiveRegistry<[UInt8]>(renditions: 1_000, window: 6, publish: MediaPlaylistRenderer.renderBytes)
    }

    // Memory: what the registry itself keeps for a live rendition (window 6, rendered bytes
    // published), to set against the service's VmRSS in `make bench`: the growth of this
    // process's resident memory while preloading 30,000 renditions, divided by 30,000. One
    // iteration: a later one would reuse the pages the first one freed.
    Benchmark(
        "memory: registry of 30,000 renditions x 6 segments, resident bytes per rendition",
        configuration: .init(
            metrics: [.wallClock, .mallocCountTotal, .custom("resident bytes per rendition", useScalingFactor: false)],
            timeUnits: .milliseconds, warmupIterations: 0, scalingFactor: .one,
            maxDuration: .seconds(10), maxIterations: 1)
    ) { benchmark in
        let before = residentBytes()
        let live = LiveRegistry<[UInt8]>(renditions: 30_000, window: 6, publish: MediaPlaylistRenderer.renderBytes)
        let after = residentBytes()
        benchmark.stopMeasurement()
        benchmark.measurement(.custom("resident bytes per rendition", useScalingFactor: false), (after - before) / 30_000)
        blackHole(live)
    }
}

/// Resident bytes of this process (second field of /proc/self/statm, in pages); 0 elsewhere.
func residentBytes() -> Int {
    #if canImport(Glibc)
    let fd = open("/proc/self/statm", O_RDONLY)
    guard fd >= 0 else { return 0 }
    defer { close(fd) }
    var buffer = [UInt8](repeating: 0, count: 256)
    let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
    guard count > 0 else { return 0 }
    let fields = buffer[..<count].split(separator: UInt8(ascii: " "))
    guard fields.count > 1, let pages = Int(String(decoding: fields[1], as: UTF8.self)) else { return 0 }
    return pages * sysconf(Int32(_SC_PAGESIZE))
    #else
    return 0
    #endif
}
