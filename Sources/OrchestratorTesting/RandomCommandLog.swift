import HLSModel
import SegmentRegistry

/// Random command sequences for the replay property tests (SQLite and Redis): every kind of
/// command — registrations in and out of order, duplicates and conflicts, parts, declarations,
/// pins, sweeps, ends, forgetting — over three streams and two renditions, with the request body
/// each came from. The same seed gives the same sequence.
public enum RandomCommandLog {
    public static let streams = ["a", "b", "c"].map { StreamID(rawValue: $0)! }
    public static let renditions = ["720p", "ll"].map { RenditionName(rawValue: $0)! }

    /// The settings the sequences are meant for: small enough that windows slide, holes are
    /// skipped and streams are forgotten within a few hundred commands.
    public static let configuration = RegistryConfiguration(
        windowSize: 4, targetDuration: nil, gapTimeoutMilliseconds: 6_000, maxPendingSegments: 64, maxStreams: 8,
        maxRenditionsPerStream: 4, endedStreamTTLMilliseconds: 20_000, idleStreamTTLMilliseconds: 30_000)

    public struct Step: Sendable {
        public var command: RegistryCommand
        /// The JSON body the command was decoded from (empty for commands without one).
        public var body: [UInt8]
        /// Milliseconds since the epoch; steps never go back in time.
        public var time: Int64
    }

    public static func make(seed: UInt64, count: Int = 400) throws -> [Step] {
        var generator = SplitMix64(seed: seed)
        var steps: [Step] = []
        var time: Int64 = 1_700_000_000_000
        for _ in 0..<count {
            time += Int64.random(in: 0...900, using: &generator)
            let stream = streams[Int.random(in: 0..<streams.count, using: &generator)]
            let rendition = renditions[Int.random(in: 0..<renditions.count, using: &generator)]
            let sequence = Int.random(in: 0...30, using: &generator)
            let roll = Int.random(in: 0..<100, using: &generator)
            var body: [UInt8] = []
            let command: RegistryCommand
            switch roll {
            case 0..<45 where rendition.rawValue == "720p":
                // Sometimes a conflicting path for a known sequence.
                let path = roll < 3 ? "/other/\(sequence).ts" : "/\(stream)/\(sequence).ts"
                body = Array(#"{"sequence":\#(sequence),"duration":\#(roll % 2 == 0 ? "2.0" : "1.5"),"path":"\#(path)"}"#.utf8)
                command = .register(try Segment(json: body), stream: stream, rendition: rendition)
            case 0..<30:
                body = Array(#"{"sequence":\#(sequence),"duration":1.0,"path":"/\#(stream)/ll\#(sequence).ts"}"#.utf8)
                command = .register(try Segment(json: body), stream: stream, rendition: rendition)
            case 30..<55:
                let part = Int.random(in: 0...3, using: &generator)
                body = Array(
                    #"{"sequence":\#(sequence),"part":\#(part),"duration":0.25,"path":"/\#(stream)/ll\#(sequence).\#(part).mp4","independent":\#(part == 0)}"#
                        .utf8)
                command = .registerPart(try PartialSegment(json: body), stream: stream, rendition: rendition)
            case 55..<62:
                body = Array(
                    (rendition.rawValue == "ll"
                        ? #"{"part_target":0.25,"target_duration":2,"part_uri_template":"/\#(stream)/ll{sequence}.{part}.mp4","bandwidth":800000}"#
                        : #"{"bandwidth":\#(1_000_000 + sequence),"codecs":"avc1.64001f"}"#).utf8)
                command = .declare(try RenditionDeclaration(json: body), stream: stream, rendition: rendition)
            case 62..<78:
                command = .pin(stream: stream, rendition: rendition)
            case 78..<92:
                command = .sweep
            case 92..<96:
                command = .end(stream)
            default:
                command = .forget(stream)
            }
            steps.append(Step(command: command, body: body, time: time))
        }
        return steps
    }

    /// Every playlist of `registry`, as served bytes (without pinning), by "stream/rendition".
    public static func playlists(_ registry: some PlaylistRegistry<[UInt8]>) -> [String: [UInt8]] {
        var all: [String: [UInt8]] = [:]
        for stream in streams {
            for rendition in renditions {
                if let current = registry.unpinnedPlaylist(stream: stream, rendition: rendition) {
                    all["\(stream)/\(rendition)"] = current.artifact
                }
            }
        }
        return all
    }

    /// An outcome as text, to compare the answers of two runs.
    public static func describe(_ outcome: CommandOutcome) -> String {
        switch outcome {
        case .refused(let error): "refused \(error)"
        case .swept(let report): "swept \(report.skippedSegments) \(report.evictions.map(\.stream.rawValue))"
        default: "\(outcome)"
        }
    }
}

/// SplitMix64 (Steele, Lea and Flood, 2014): a tiny deterministic generator, so a run — and a
/// failure — replays exactly from its seed.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    public var state: UInt64
    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A number in `0..<bound`.
    public mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }
}
