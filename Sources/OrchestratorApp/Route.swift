import Authorization
import HLSModel
import MicroHTTPD

/// A request matched to an endpoint, with its path parameters validated.
enum Route: Equatable {
    case registerSegment(StreamID, RenditionName)
    case registerPart(StreamID, RenditionName)
    case declareRendition(StreamID, RenditionName)
    case master(StreamID)
    case playlist(StreamID, RenditionName)
    case endStream(StreamID)
    case metrics
    case health
    case readiness
    /// A CORS preflight (`OPTIONS`) for a playlist route.
    case preflight(allowed: [HTTPMethod])
    /// The operator API: the streams, page by page (`GET /streams`).
    case listStreams
    /// The operator API: one stream in detail (`GET /streams/{id}`).
    case streamDetail(StreamID)
    /// The operator API: forget a stream now (`DELETE /streams/{id}`).
    case deleteStream(StreamID)
    /// The retention feed (`GET /removed-segments`).
    case removedSegments

    /// Low-cardinality route names, used as the `route` label of metrics.
    enum Name: String, CaseIterable, Sendable {
        case registerSegment = "segments"
        case registerPart = "parts"
        case declareRendition = "rendition"
        case master = "master"
        case playlist = "playlist"
        case endStream = "end"
        case metrics = "metrics"
        case health = "healthz"
        case readiness = "readyz"
        case listStreams = "streams"
        case stream = "stream"
        case removedSegments = "removed-segments"
        case unmatched = "unmatched"

        /// The name at `ordinal` (`allCases`, built once); `.unmatched` past the end.
        init(ordinal: Int) {
            self = Self.byOrdinal.indices.contains(ordinal) ? Self.byOrdinal[ordinal] : .unmatched
        }

        private static let byOrdinal = allCases

        /// The position in `allCases`, without a search.
        var ordinal: Int {
            switch self {
            case .registerSegment: 0
            case .registerPart: 1
            case .declareRendition: 2
            case .master: 3
            case .playlist: 4
            case .endStream: 5
            case .metrics: 6
            case .health: 7
            case .readiness: 8
            case .listStreams: 9
            case .stream: 10
            case .removedSegments: 11
            case .unmatched: 12
            }
        }
    }
}

extension Route {
    /// The credential this route needs: nil for the open routes (players, CORS, health, metrics),
    /// `.ingest(stream)` for writes, `.admin` for the operator API. Checked only when a credential
    /// is configured (``AppConfiguration/access``); exhaustive, so a new route must say.
    var requiredScope: RequiredScope? {
        switch self {
        case .registerSegment(let stream, _), .registerPart(let stream, _), .declareRendition(let stream, _),
            .endStream(let stream):
            .ingest(stream: stream.rawValue)
        case .listStreams, .streamDetail, .deleteStream, .removedSegments:
            .admin
        case .master, .playlist, .preflight, .metrics, .health, .readiness:
            nil
        }
    }
}

/// Why a request matched no endpoint.
enum RoutingError: Error, Equatable {
    /// No endpoint has this path.
    case notFound(path: String)
    /// The path exists, the method does not; `allowed` goes into `Allow`.
    case methodNotAllowed(allowed: [HTTPMethod])
    /// A path parameter is empty or invalid, or the path is percent-encoded.
    case invalidParameter(name: String, message: String)
    /// The endpoint exists, on the other listener (`INGEST_PORT` splits them): 404 here.
    case servedElsewhere(path: String, on: String)
}

/// Maps method and path to a `Route`.
enum Router {
    private static let readMethods: [HTTPMethod] = [.get, .head]
    private static let playlistMethods: [HTTPMethod] = [.get, .head, .options]
    private static let postMethod: [HTTPMethod] = [.post]
    private static let putMethod: [HTTPMethod] = [.put]
    private static let streamMethods: [HTTPMethod] = [.get, .head, .delete]

    /// The route name for metrics, without validating anything.
    static func name(forPath path: String) -> Route.Name {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        switch (parts.count, parts.last) {
        case (6, "playlist.m3u8"): return .playlist
        case (6, "segments"): return .registerSegment
        case (6, "parts"): return .registerPart
        case (4, "end"): return .endStream
        case (4, "master.m3u8"): return .master
        case (5, _) where parts[3] == "renditions": return .declareRendition
        case (2, "metrics"): return .metrics
        case (2, "healthz"): return .health
        case (2, "readyz"): return .readiness
        case (2, "streams"): return .listStreams
        case (3, _) where parts[1] == "streams": return .stream
        case (2, "removed-segments"): return .removedSegments
        default: return .unmatched
        }
    }

    /// Matches `method` and `path` (as sent: percent-encoded paths are refused, never decoded).
    /// - Throws: `RoutingError` for an unknown path, a wrong method, a bad path parameter or a '%'
    ///   anywhere in the path.
    /// - Complexity: O(*n*) in the length of the path: one scan of its UTF-8 bytes, then byte
    ///   comparisons; no allocation for a valid path with ids of up to 15 bytes.
    static func route(method: HTTPMethod, path: String) throws(RoutingError) -> Route {
        var contiguous = path  // withUTF8 may make a bridged string contiguous; native ones already are
        let result = contiguous.withUTF8 { bytes in
            Result { () throws(RoutingError) -> Route in try route(method: method, bytes: bytes, path: path) }
        }
        return try result.get()
    }

    private static func route(method: HTTPMethod, bytes: UnsafeBufferPointer<UInt8>, path: String) throws(RoutingError) -> Route {
        // Paths arrive as sent (never percent-decoded). Stream ids and rendition names are plain
        // `A-Z a-z 0-9 . _ ~ -`, so a '%' can only be an attempt to smuggle a '/', a control
        // character or an alias of a valid name past the router: refused, whatever follows it.
        let parts = PathComponents(bytes)
        if parts.hasPercent {
            throw .invalidParameter(
                name: "path",
                message: "the path contains '%': percent-encoding is not accepted in paths "
                    + "(stream ids and rendition names are made of A-Z a-z 0-9 . _ ~ - only)")
        }
        guard parts.count >= 2, parts.isEmpty(0) else { throw .notFound(path: path) }
        let isStreams = parts.component(1, is: "streams")
        switch parts.count {
        case 6 where isStreams && parts.component(3, is: "renditions"):
            if parts.component(5, is: "playlist.m3u8") {
                try require(method, in: playlistMethods)
                let route = Route.playlist(try streamID(parts[2]), try renditionName(parts[4]))
                return method == .options ? .preflight(allowed: readMethods) : route
            }
            if parts.component(5, is: "segments") {
                try require(method, in: postMethod)
                return .registerSegment(try streamID(parts[2]), try renditionName(parts[4]))
            }
            if parts.component(5, is: "parts") {
                try require(method, in: postMethod)
                return .registerPart(try streamID(parts[2]), try renditionName(parts[4]))
            }
        case 5 where isStreams && parts.component(3, is: "renditions"):
            try require(method, in: putMethod)
            return .declareRendition(try streamID(parts[2]), try renditionName(parts[4]))
        case 4 where isStreams && parts.component(3, is: "master.m3u8"):
            try require(method, in: playlistMethods)
            let route = Route.master(try streamID(parts[2]))
            return method == .options ? .preflight(allowed: readMethods) : route
        case 4 where isStreams && parts.component(3, is: "end"):
            try require(method, in: postMethod)
            return .endStream(try streamID(parts[2]))
        case 2 where parts.component(1, is: "metrics"):
            try require(method, in: readMethods)
            return .metrics
        case 2 where parts.component(1, is: "healthz"):
            try require(method, in: readMethods)
            return .health
        case 2 where parts.component(1, is: "readyz"):
            try require(method, in: readMethods)
            return .readiness
        case 2 where isStreams:
            try require(method, in: readMethods)
            return .listStreams
        case 3 where isStreams:
            try require(method, in: streamMethods)
            let stream = try streamID(parts[2])
            return method == .delete ? .deleteStream(stream) : .streamDetail(stream)
        case 2 where parts.component(1, is: "removed-segments"):
            try require(method, in: readMethods)
            return .removedSegments
        default:
            break
        }
        throw .notFound(path: path)
    }

    private static func require(_ method: HTTPMethod, in allowed: [HTTPMethod]) throws(RoutingError) {
        guard allowed.contains(method) else { throw .methodNotAllowed(allowed: allowed) }
    }

    private static func streamID(_ raw: UnsafeBufferPointer<UInt8>) throws(RoutingError) -> StreamID {
        guard !raw.isEmpty else { throw .invalidParameter(name: "stream_id", message: "stream_id is missing") }
        do {
            return try StreamID(validatingUTF8: raw)
        } catch {
            throw .invalidParameter(name: "stream_id", message: error.message)
        }
    }

    private static func renditionName(_ raw: UnsafeBufferPointer<UInt8>) throws(RoutingError) -> RenditionName {
        guard !raw.isEmpty else { throw .invalidParameter(name: "rendition", message: "rendition is missing") }
        do {
            return try RenditionName(validatingUTF8: raw)
        } catch {
            throw .invalidParameter(name: "rendition", message: error.message)
        }
    }
}

/// The `/`-separated components of a path's UTF-8 bytes, found by scanning them once.
///
/// Keeps the offsets of up to seven components inline (no array, no reference counting; the
/// bytes are borrowed for the duration of routing); `count` is the real number, so a longer path
/// is still recognised as unknown. A path `/a/b` has the components "", "a", "b".
struct PathComponents {
    private let bytes: UnsafeBufferPointer<UInt8>
    private(set) var count = 0
    /// Whether the path has a `%` anywhere.
    private(set) var hasPercent = false
    /// bounds.k: where component k - 1 ends (its slash, or the end of the path); bounds.0 = -1.
    private var bounds: (Int, Int, Int, Int, Int, Int, Int, Int) = (-1, 0, 0, 0, 0, 0, 0, 0)

    init(_ bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "/") {
                boundary(index)
            } else if byte == UInt8(ascii: "%") {
                hasPercent = true
            }
            index += 1
        }
        boundary(bytes.count)
    }

    /// Records where component `count` ends (exclusive), at a slash or the end.
    private mutating func boundary(_ end: Int) {
        switch count {
        case 0: bounds.1 = end
        case 1: bounds.2 = end
        case 2: bounds.3 = end
        case 3: bounds.4 = end
        case 4: bounds.5 = end
        case 5: bounds.6 = end
        case 6: bounds.7 = end
        default: break
        }
        count += 1
    }

    private func bound(_ index: Int) -> Int {
        switch index {
        case 0: bounds.0
        case 1: bounds.1
        case 2: bounds.2
        case 3: bounds.3
        case 4: bounds.4
        case 5: bounds.5
        case 6: bounds.6
        default: bounds.7
        }
    }

    /// Component `index` (below `min(count, 7)`), as borrowed bytes.
    subscript(index: Int) -> UnsafeBufferPointer<UInt8> {
        UnsafeBufferPointer(rebasing: bytes[(bound(index) + 1)..<bound(index + 1)])
    }

    /// Whether component `index` is empty.
    func isEmpty(_ index: Int) -> Bool { bound(index) + 1 == bound(index + 1) }

    /// Whether component `index` is exactly `text`.
    func component(_ index: Int, is text: StaticString) -> Bool {
        let part = self[index]
        guard part.count == text.utf8CodeUnitCount else { return false }
        let literal = text.utf8Start
        for offset in 0..<part.count where part[offset] != literal[offset] { return false }
        return true
    }
}
