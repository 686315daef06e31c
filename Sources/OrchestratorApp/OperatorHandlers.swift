import HLSModel
import Logging
import MicroHTTPD
import SegmentRegistry

/// The operator API and the retention feed: what is live (`GET /streams`, `GET /streams/{id}`),
/// forgetting a stream (`DELETE /streams/{id}`), and what may be deleted (`GET /removed-segments`).
extension Orchestrator {
    /// The most entries a page of `GET /streams` or `GET /removed-segments` may ask for.
    static let maximumPageSize = 1000
    /// The page size without `limit`.
    static let defaultPageSize = 100

    /// `GET /streams?limit=N&after=ID` → `{"streams":[…],"next":ID-or-null}`, sorted by id.
    func listStreams(_ request: HTTPRequest) throws -> HTTPResponse {
        let limit = try Self.pageLimit(request)
        var after: StreamID?
        if case .some(.some(let raw)) = request.queryValue("after") {
            do {
                after = try StreamID(validating: raw)
            } catch {
                throw RoutingError.invalidParameter(name: "after", message: "after: \(error.message)")
            }
        }
        let (page, next) = registry.streams(after: after, limit: limit)
        var body = #"{"streams":["#
        for (index, stream) in page.enumerated() {
            if index > 0 { body += "," }
            body += Self.json(stream)
        }
        body += #"],"next":\#(next.map { JSONWriter.quoted($0.rawValue) } ?? "null")}"#
        return Self.jsonResponse(.ok, body)
    }

    /// `GET /streams/{id}` → the stream with every rendition's state; 404 when unknown.
    func streamDetail(_ stream: StreamID) throws -> HTTPResponse {
        guard let detail = registry.detail(stream) else { throw LookupError(message: "stream \(stream) is not known") }
        let renditions = detail.renditions.map(Self.json).joined(separator: ",")
        return Self.jsonResponse(.ok, Self.json(detail.summary, renditions: "[\(renditions)]"))
    }

    /// `GET /removed-segments?after=CURSOR&limit=N` → `{"segments":[…],"next":CURSOR}`: what may
    /// be deleted now, oldest first, each once per walk of the cursor.
    func removedSegments(_ request: HTTPRequest) throws -> HTTPResponse {
        let limit = try Self.pageLimit(request)
        var after: UInt64?
        if case .some(.some(let raw)) = request.queryValue("after") {
            guard !raw.isEmpty, raw.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
                let cursor = UInt64(raw)
            else {
                throw RoutingError.invalidParameter(name: "after", message: "after must be a cursor from an earlier page (digits)")
            }
            after = cursor
        }
        let (entries, next) = removedSegmentsFeed.page(after: after, limit: limit, now: clock())
        var body = #"{"segments":["#
        for (index, entry) in entries.enumerated() {
            if index > 0 { body += "," }
            body += #"{"stream":\#(JSONWriter.quoted(entry.stream.rawValue)),"rendition":\#(JSONWriter.quoted(entry.rendition.rawValue))"#
            body += #","sequence":\#(entry.sequence),"part":\#(entry.part.map(String.init) ?? "null")"#
            body += #","path":\#(JSONWriter.quoted(entry.path)),"removed_at":"\#(entry.removedAt.rfc3339)""#
            body += #","deletable_after":"\#(entry.deletableAfter.rfc3339)"}"#
        }
        body += #"],"next":\#(next.map { "\"\($0)\"" } ?? "null")}"#
        return Self.jsonResponse(.ok, body)
    }

    /// `limit` from the query: default 100, 1 to 1000.
    private static func pageLimit(_ request: HTTPRequest) throws(RoutingError) -> Int {
        guard case .some(.some(let raw)) = request.queryValue("limit") else { return defaultPageSize }
        guard raw.utf8.count <= 7, raw.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
            let limit = Int(raw), (1...maximumPageSize).contains(limit)
        else {
            throw .invalidParameter(name: "limit", message: "limit must be an integer from 1 to \(maximumPageSize)")
        }
        return limit
    }

    /// `{"id","state","kind","renditions","created_at","updated_at"}`; `renditions` is the
    /// names, or the JSON array given.
    private static func json(_ stream: StreamSummary, renditions: String? = nil) -> String {
        let kind = stream.isLowLatency.map { $0 ? "low_latency" : "regular" } ?? "undecided"
        let names = "[" + stream.renditions.map { JSONWriter.quoted($0.rawValue) }.joined(separator: ",") + "]"
        return #"{"id":\#(JSONWriter.quoted(stream.id.rawValue)),"state":"\#(stream.isEnded ? "ended" : "live")","kind":"\#(kind)""#
            + #","renditions":\#(renditions ?? names),"created_at":"\#(stream.createdAt.rfc3339)","updated_at":"\#(stream.updatedAt.rfc3339)"}"#
    }

    /// One rendition's state: its playlist's numbers, what waits behind a hole, the parts, the
    /// declaration.
    private static func json(_ rendition: RenditionDetail) -> String {
        var fields: [String] = [#""name":\#(JSONWriter.quoted(rendition.name.rawValue))"#]
        func add(_ name: String, _ value: String?) { fields.append("\"\(name)\":\(value ?? "null")") }
        let snapshot = rendition.snapshot
        add("target_duration", snapshot.map { "\($0.targetDuration)" })
        add("media_sequence", snapshot.map { "\($0.mediaSequence.rawValue)" })
        add("discontinuity_sequence", snapshot.map { "\($0.discontinuitySequence)" })
        add("first_listed", snapshot?.segments.first.map { "\($0.sequence.rawValue)" })
        add("last_listed", snapshot?.segments.last.map { "\($0.sequence.rawValue)" })
        add("pending", "\(rendition.pendingCount)")
        add("first_missing", rendition.firstMissing.map { "\($0)" })
        add("part_target", snapshot?.partTarget.map { $0.description })
        if let snapshot, let part = snapshot.parts.last {
            add("last_part", #"{"sequence":\#(part.sequence.rawValue),"part":\#(part.part)}"#)
        } else {
            add("last_part", nil)
        }
        add("ended", snapshot.map { $0.isEnded ? "true" : "false" })
        add("last_update", rendition.lastUpdate.map { "\"\($0.rfc3339)\"" })
        add("stale", rendition.isStale ? "true" : "false")
        add("declared", rendition.declaration.map(json))
        return "{" + fields.joined(separator: ",") + "}"
    }

    /// A declaration's attributes, as declared.
    private static func json(_ declaration: RenditionDeclaration) -> String {
        var fields: [String] = []
        func add(_ name: String, _ value: String?) { if let value { fields.append("\"\(name)\":\(value)") } }
        add("bandwidth", declaration.bandwidth.map { "\($0)" })
        add("average_bandwidth", declaration.averageBandwidth.map { "\($0)" })
        add("resolution", declaration.resolution.map { JSONWriter.quoted($0.description) })
        add("codecs", declaration.codecs.map(JSONWriter.quoted))
        add("frame_rate", declaration.frameRate.map { $0.description })
        add("target_duration", declaration.targetDuration.map { "\($0)" })
        add("part_target", declaration.partTarget.map { $0.description })
        add("part_uri_template", declaration.partURITemplate.map { JSONWriter.quoted($0.rawValue) })
        add("map_uri", declaration.mapURI.map { JSONWriter.quoted($0.rawValue) })
        return "{" + fields.joined(separator: ",") + "}"
    }
}
