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
        case unmatched = "unmatched"
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
}

/// Maps method and path to a `Route`.
enum Router {
    private static let readMethods: [HTTPMethod] = [.get, .head]
    private static let playlistMethods: [HTTPMethod] = [.get, .head, .options]

    /// The route name for metrics, without validating anything.
    static func name(forPath path: String) -> Route.Name {
        let parts = PathComponents(path)
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
        default: return .unmatched
        }
    }

    /// Matches `method` and `path` (as sent: percent-encoded paths are refused, never decoded).
    /// - Throws: `RoutingError` for an unknown path, a wrong method, a bad path parameter or a '%'
    ///   anywhere in the path.
    /// - Complexity: O(*n*) in the length of the path; no allocation for a valid path.
    static func route(method: HTTPMethod, path: String) throws(RoutingError) -> Route {
        // Paths arrive as sent (never percent-decoded). Stream ids and rendition names are plain
        // `A-Z a-z 0-9 . _ ~ -`, so a '%' can only be an attempt to smuggle a '/', a control
        // character or an alias of a valid name past the router: refused, whatever follows it.
        if path.utf8.contains(UInt8(ascii: "%")) {
            throw .invalidParameter(
                name: "path",
                message: "the path contains '%': percent-encoding is not accepted in paths "
                    + "(stream ids and rendition names are made of A-Z a-z 0-9 . _ ~ - only)")
        }
        let parts = PathComponents(path)
        guard parts.count >= 2, parts[0].isEmpty else { throw .notFound(path: path) }
        switch (parts.count, parts[1]) {
        case (6, "streams") where parts[3] == "renditions" && parts[5] == "playlist.m3u8":
            try require(method, in: playlistMethods)
            let route = Route.playlist(try streamID(parts[2]), try renditionName(parts[4]))
            return method == .options ? .preflight(allowed: readMethods) : route
        case (6, "streams") where parts[3] == "renditions" && parts[5] == "segments":
            try require(method, in: [.post])
            return .registerSegment(try streamID(parts[2]), try renditionName(parts[4]))
        case (6, "streams") where parts[3] == "renditions" && parts[5] == "parts":
            try require(method, in: [.post])
            return .registerPart(try streamID(parts[2]), try renditionName(parts[4]))
        case (5, "streams") where parts[3] == "renditions":
            try require(method, in: [.put])
            return .declareRendition(try streamID(parts[2]), try renditionName(parts[4]))
        case (4, "streams") where parts[3] == "master.m3u8":
            try require(method, in: playlistMethods)
            let route = Route.master(try streamID(parts[2]))
            return method == .options ? .preflight(allowed: readMethods) : route
        case (4, "streams") where parts[3] == "end":
            try require(method, in: [.post])
            return .endStream(try streamID(parts[2]))
        case (2, "metrics"):
            try require(method, in: readMethods)
            return .metrics
        case (2, "healthz"):
            try require(method, in: readMethods)
            return .health
        case (2, "readyz"):
            try require(method, in: readMethods)
            return .readiness
        default:
            throw .notFound(path: path)
        }
    }

    private static func require(_ method: HTTPMethod, in allowed: [HTTPMethod]) throws(RoutingError) {
        guard allowed.contains(method) else { throw .methodNotAllowed(allowed: allowed) }
    }

    private static func streamID(_ raw: Substring) throws(RoutingError) -> StreamID {
        guard !raw.isEmpty else { throw .invalidParameter(name: "stream_id", message: "stream_id is missing") }
        do {
            return try StreamID(validating: String(raw))
        } catch {
            throw .invalidParameter(name: "stream_id", message: error.message)
        }
    }

    private static func renditionName(_ raw: Substring) throws(RoutingError) -> RenditionName {
        guard !raw.isEmpty else { throw .invalidParameter(name: "rendition", message: "rendition is missing") }
        do {
            return try RenditionName(validating: String(raw))
        } catch {
            throw .invalidParameter(name: "rendition", message: error.message)
        }
    }
}

/// The `/`-separated components of a path, found by scanning its UTF-8 bytes once.
///
/// Keeps up to seven components inline (no array); `count` is the real number, so a longer path
/// is still recognised as unknown. A path `/a/b` has the components "", "a", "b".
struct PathComponents {
    private(set) var count = 0
    private var storage: (Substring, Substring, Substring, Substring, Substring, Substring, Substring) =
        ("", "", "", "", "", "", "")
    private static let capacity = 7

    init(_ path: String) {
        let utf8 = path.utf8
        var start = utf8.startIndex
        var index = start
        while index != utf8.endIndex {
            if utf8[index] == UInt8(ascii: "/") {
                append(path[start..<index])
                start = utf8.index(after: index)
            }
            index = utf8.index(after: index)
        }
        append(path[start..<utf8.endIndex])
    }

    private mutating func append(_ component: Substring) {
        switch count {
        case 0: storage.0 = component
        case 1: storage.1 = component
        case 2: storage.2 = component
        case 3: storage.3 = component
        case 4: storage.4 = component
        case 5: storage.5 = component
        case 6: storage.6 = component
        default: break
        }
        count += 1
    }

    /// Component `index` (below `min(count, 7)`).
    subscript(index: Int) -> Substring {
        switch index {
        case 0: storage.0
        case 1: storage.1
        case 2: storage.2
        case 3: storage.3
        case 4: storage.4
        case 5: storage.5
        default: storage.6
        }
    }

    /// The last component, if the path has at most seven.
    var last: Substring? { count >= 1 && count <= Self.capacity ? self[count - 1] : nil }
}
