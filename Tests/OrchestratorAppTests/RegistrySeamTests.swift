import HLSModel
import Logging
import MicroHTTPD
@testable import OrchestratorApp
import PlaylistRenderer
import Prometheus
import SegmentRegistry
import Synchronization
import Testing

/// One call, with the arguments it was made with.
enum RegistryCall: Sendable {
    case register(Segment, StreamID, RenditionName, Timestamp)
    case registerPart(PartialSegment, StreamID, RenditionName, Timestamp)
    case declare(RenditionDeclaration, StreamID, RenditionName, Timestamp)
    case end(StreamID, Timestamp)
    case sweep(Timestamp)
    /// A served playlist: the one read with an effect (the first serve pins the window).
    case served(StreamID, RenditionName)
    case forget(StreamID, Timestamp)
}


/// A registry backend that journals every call the app makes through ``PlaylistRegistry`` and
/// forwards it to the in-memory registry: a stand-in for the durable journal and the shared
/// backend, which plug in at the same seam.
final class JournalingRegistry<Artifact: Sendable>: PlaylistRegistry, Sendable {
    private let base: SegmentRegistry<Artifact>
    let journal = Mutex<[RegistryCall]>([])

    init(_ base: SegmentRegistry<Artifact>) { self.base = base }

    private func note(_ call: RegistryCall) { journal.withLock { $0.append(call) } }

    func register(_ segment: Segment, stream: StreamID, rendition: RenditionName, now: Timestamp) throws(RegistryError) -> RegistrationOutcome {
        note(.register(segment, stream, rendition, now))
        return try base.register(segment, stream: stream, rendition: rendition, now: now)
    }

    func registerPart(_ part: PartialSegment, stream: StreamID, rendition: RenditionName, now: Timestamp) throws -> RegistrationOutcome {
        note(.registerPart(part, stream, rendition, now))
        return try base.registerPart(part, stream: stream, rendition: rendition, now: now)
    }

    func declare(_ declaration: RenditionDeclaration, stream: StreamID, rendition: RenditionName, now: Timestamp) throws -> DeclarationOutcome {
        note(.declare(declaration, stream, rendition, now))
        return try base.declare(declaration, stream: stream, rendition: rendition, now: now)
    }

    func endStream(_ stream: StreamID, now: Timestamp) throws(RegistryError) -> EndOutcome {
        note(.end(stream, now))
        return try base.endStream(stream, now: now)
    }

    func playlist(stream: StreamID, rendition: RenditionName) -> Artifact? {
        note(.served(stream, rendition))
        return base.playlist(stream: stream, rendition: rendition)
    }

    func unpinnedPlaylist(stream: StreamID, rendition: RenditionName) -> (artifact: Artifact, needsPin: Bool)? {
        base.unpinnedPlaylist(stream: stream, rendition: rendition)
    }
    func pin(stream: StreamID, rendition: RenditionName) {
        note(.served(stream, rendition))
        base.pin(stream: stream, rendition: rendition)
    }
    func sweepIsDue(now: Timestamp) -> Bool { base.sweepIsDue(now: now) }
    func image() -> RegistryImage { base.image() }
    func restore(_ image: RegistryImage) { base.restore(image) }
    func republishAll() { base.republishAll() }
    func snapshot(stream: StreamID, rendition: RenditionName) -> RenditionSnapshot? { base.snapshot(stream: stream, rendition: rendition) }
    func multivariant(stream: StreamID) -> MultivariantSnapshot? { base.multivariant(stream: stream) }
    func presence(stream: StreamID, rendition: RenditionName) -> PlaylistPresence { base.presence(stream: stream, rendition: rendition) }
    func sweep(now: Timestamp) -> SweepReport {
        note(.sweep(now))
        return base.sweep(now: now)
    }
    var activeStreamCount: Int { base.activeStreamCount }
    var streamCount: Int { base.streamCount }
    func renditions(of stream: StreamID) -> [RenditionName] { base.renditions(of: stream) }
    func streams(after: StreamID?, limit: Int) -> (page: [StreamSummary], next: StreamID?) {
        base.streams(after: after, limit: limit)
    }
    func detail(_ stream: StreamID) -> StreamDetail? { base.detail(stream) }
    func forget(_ stream: StreamID, now: Timestamp) -> SweepReport? {
        note(.forget(stream, now))
        return base.forget(stream, now: now)
    }

    /// Applies `journal` to `registry` in order, ignoring what each call answers (a refused call
    /// changed nothing the first time either).
    static func replay(_ journal: [RegistryCall], into registry: some PlaylistRegistry) {
        for call in journal {
            switch call {
            case .register(let segment, let stream, let rendition, let now):
                _ = try? registry.register(segment, stream: stream, rendition: rendition, now: now)
            case .registerPart(let part, let stream, let rendition, let now):
                _ = try? registry.registerPart(part, stream: stream, rendition: rendition, now: now)
            case .declare(let declaration, let stream, let rendition, let now):
                _ = try? registry.declare(declaration, stream: stream, rendition: rendition, now: now)
            case .end(let stream, let now):
                _ = try? registry.endStream(stream, now: now)
            case .sweep(let now):
                _ = registry.sweep(now: now)
            case .served(let stream, let rendition):
                _ = registry.playlist(stream: stream, rendition: rendition)
            case .forget(let stream, let now):
                _ = registry.forget(stream, now: now)
            }
        }
    }
}

/// The app runs over any ``PlaylistRegistry``, and the registry's calls are a journal: replayed
/// into a fresh registry they rebuild byte-identical playlists.
@Suite struct RegistrySeamTests {
    final class Clock: Sendable {
        let now = Atomic<Int64>(1_700_000_000_000)
        func advance(_ milliseconds: Int64) { now.add(milliseconds, ordering: .relaxed) }
        var timestamp: Timestamp { Timestamp(millisecondsSinceEpoch: now.load(ordering: .relaxed)) }
    }

    @Test("the app serves through an injected backend, and replaying its journal rebuilds every playlist byte for byte")
    func journalReplay() throws {
        let clock = Clock()
        let backend = Mutex<JournalingRegistry<PublishedPlaylist>?>(nil)
        var configuration = AppConfiguration(httpThreads: 1)
        configuration.slidingWindowSize = 3
        configuration.gapTimeoutSeconds = 4
        let orchestrator = Orchestrator(
            configuration: configuration,
            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }),
            metrics: OrchestratorMetrics(registry: PrometheusCollectorRegistry()),
            clock: { clock.timestamp },
            makeRegistry: { registryConfiguration, publish, retire, events in
                let made = JournalingRegistry(
                    SegmentRegistry(configuration: registryConfiguration, publish: publish, retire: retire, events: events))
                backend.withLock { $0 = made }
                return made
            })
        let journaling = try #require(backend.withLock { $0 })
        func post(_ path: String, _ body: String) -> HTTPStatus {
            orchestrator.respond(to: HTTPRequest(method: .post, path: path, body: Array(body.utf8))).status
        }
        func segment(_ stream: String, _ rendition: String, _ sequence: Int, path: String? = nil) -> HTTPStatus {
            post(
                "/streams/\(stream)/renditions/\(rendition)/segments",
                #"{"sequence": \#(sequence), "duration": 2.0, "path": "\#(path ?? "/\(stream)/\(rendition)/\(sequence).ts")"}"#)
        }
        // Out of order, duplicates, a conflict, a served playlist (pins), a lower sequence after
        // it (stale), a hole given up by the gap timeout, a declaration, an end, a late segment.
        #expect(segment("a", "720p", 5) == .created)
        #expect(segment("a", "720p", 7) == .created)
        #expect(segment("a", "720p", 5) == .ok)
        #expect(segment("a", "720p", 5, path: "/other.ts") == .conflict)
        #expect(segment("a", "360p", 5) == .created)
        let served = orchestrator.respond(to: HTTPRequest(method: .get, path: "/streams/a/renditions/720p/playlist.m3u8"))
        #expect(served.status == .ok)
        #expect(segment("a", "720p", 4) == .ok, "stale once served")
        clock.advance(5_000)
        orchestrator.sweep()
        for sequence in 8...12 { #expect(segment("a", "720p", sequence) == .created); clock.advance(2_000) }
        let declared = orchestrator.respond(
            to: HTTPRequest(method: .put, path: "/streams/a/renditions/720p", body: Array(#"{"bandwidth": 2000000}"#.utf8)))
        #expect(declared.status == .ok)
        #expect(segment("b", "1080p", 0) == .created)
        #expect(post("/streams/b/end", "") == .ok)
        #expect(segment("b", "1080p", 1) == .conflict)
        orchestrator.sweep()

        let journal = journaling.journal.withLock { $0 }
        #expect(journal.count >= 15)
        let replayed = SegmentRegistry<String>(
            configuration: RegistryConfiguration(windowSize: 3, gapTimeoutMilliseconds: 4_000),
            publish: { MediaPlaylistRenderer.render($0) })
        JournalingRegistry<String>.replay(journal, into: replayed)
        for (stream, rendition) in [("a", "720p"), ("a", "360p"), ("b", "1080p")] {
            let response = orchestrator.respond(to: HTTPRequest(method: .get, path: "/streams/\(stream)/renditions/\(rendition)/playlist.m3u8"))
            let original = String(decoding: response.body.array, as: UTF8.self)
            let rebuilt = replayed.playlist(stream: try StreamID(validating: stream), rendition: try RenditionName(validating: rendition))
            #expect(rebuilt == original, "\(stream)/\(rendition)")
        }
        #expect(replayed.activeStreamCount == journaling.activeStreamCount)
        let original = String(decoding: served.body.array, as: UTF8.self)
        #expect(original.contains("#EXT-X-MEDIA-SEQUENCE:5\n"))
    }
}
