import HLSModel
import MicroHTTPD
import PlaylistRenderer
import Synchronization

/// A rendition's playlist as served: rendered once per change, with its responses prepared inside
/// libmicrohttpd, so a GET costs a registry lookup, a header check and a reference copy.
///
/// The gzip form is compressed once per change too, on the first request that accepts it (an
/// ingest-only workload never pays for it).
final class PublishedPlaylist: Sendable {
    /// The identity body and its 200 response.
    let identity: Representation
    /// Cache lifetime for this version (rfc8216bis Appendix B): half a target duration while
    /// live, a day once ended (the playlist no longer changes).
    let cacheControl: String
    let lastModified: String
    /// The snapshot it was rendered from (for blocking-reload decisions).
    let snapshot: RenditionSnapshot
    private let rendered: [UInt8]
    private let gzip = Mutex<Representation?>(nil)

    /// One encoding of the playlist: its ETag, its 200 and its 304.
    struct Representation: Sendable {
        let etag: String
        let ok: HTTPResponse
        let notModified: HTTPResponse
    }

    /// Renders `snapshot` and prepares its identity responses.
    /// - Complexity: O(*n*) in the playlist's length; runs once per visible change.
    init(snapshot: RenditionSnapshot) {
        self.snapshot = snapshot
        rendered = MediaPlaylistRenderer.renderBytes(snapshot)
        cacheControl = snapshot.isEnded ? "public, max-age=86400" : "public, max-age=\(max(1, snapshot.targetDuration / 2))"
        lastModified = snapshot.lastModified.httpDate
        identity = Self.representation(
            body: rendered, etag: "\"\(Self.fingerprint(rendered))\"", encoding: nil,
            cacheControl: cacheControl, lastModified: lastModified)
    }

    /// The answer to a GET or HEAD with these request headers.
    /// - Complexity: O(*h*) in the number of request headers, plus one compression per version.
    func response(for headers: HTTPHeaders) -> HTTPResponse {
        let representation = Self.acceptsGzip(headers["Accept-Encoding"]) ? gzipped() : identity
        if let tags = headers["If-None-Match"], Self.matches(tags, representation.etag) {
            return representation.notModified
        }
        return representation.ok
    }

    private func gzipped() -> Representation {
        gzip.withLock { cached in
            if let cached { return cached }
            guard let compressed = Gzip.compress(rendered) else { return identity }
            let made = Self.representation(
                body: compressed, etag: "\"\(Self.fingerprint(rendered))-gz\"", encoding: "gzip",
                cacheControl: cacheControl, lastModified: lastModified)
            cached = made
            return made
        }
    }

    /// Headers every playlist response carries (CORS for browser players, caching, content type).
    static func commonHeaders(cacheControl: String) -> [(name: String, value: String)] {
        [
            ("Content-Type", "application/vnd.apple.mpegurl"),
            ("Cache-Control", cacheControl),
            ("Access-Control-Allow-Origin", "*"),
            ("Vary", "Accept-Encoding"),
        ]
    }

    private static func representation(
        body: [UInt8], etag: String, encoding: String?, cacheControl: String, lastModified: String
    ) -> Representation {
        var headers = HTTPHeaders(commonHeaders(cacheControl: cacheControl))
        headers.add("ETag", etag)
        headers.add("Last-Modified", lastModified)
        if let encoding { headers.add("Content-Encoding", encoding) }
        let ok = HTTPResponse(status: .ok, headers: headers, body: .shared(SharedBytes(body)))
        var notModifiedHeaders = HTTPHeaders(commonHeaders(cacheControl: cacheControl).filter { $0.name != "Content-Type" })
        notModifiedHeaders.add("ETag", etag)
        notModifiedHeaders.add("Last-Modified", lastModified)
        let notModified = HTTPResponse(status: .notModified, headers: notModifiedHeaders)
        return Representation(
            etag: etag,
            ok: PreparedResponse(ok)?.httpResponse ?? ok,
            notModified: PreparedResponse(notModified)?.httpResponse ?? notModified)
    }

    /// 64-bit FNV-1a of the rendered playlist, as 16 hex digits: a strong validator for it.
    static func fingerprint(_ bytes: [UInt8]) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
        }
        let hex = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }

    /// Whether an `Accept-Encoding` value accepts gzip (RFC 9110 §12.5.3: `gzip`, `x-gzip` or `*`
    /// without `q=0`).
    static func acceptsGzip(_ value: String?) -> Bool {
        guard let value else { return false }
        for item in value.split(separator: ",") {
            let parts = item.split(separator: ";")
            let coding = parts[0].trimmingWhitespaceAndLowercased()
            guard coding == "gzip" || coding == "x-gzip" || coding == "*" else { continue }
            let refused = parts.dropFirst().contains { parameter in
                let text = parameter.trimmingWhitespaceAndLowercased()
                return text.hasPrefix("q=") && (Double(text.dropFirst(2)) ?? 1) == 0
            }
            if !refused { return true }
        }
        return false
    }

    /// Whether an `If-None-Match` value matches `etag` (weak comparison, RFC 9110 §13.1.2).
    static func matches(_ ifNoneMatch: String, _ etag: String) -> Bool {
        for candidate in ifNoneMatch.split(separator: ",") {
            var tag = candidate.trimmingWhitespaceAndLowercased()
            if tag == "*" { return true }
            if tag.hasPrefix("w/") { tag.removeFirst(2) }
            if tag == etag { return true }
        }
        return false
    }
}

extension Substring {
    fileprivate func trimmingWhitespaceAndLowercased() -> String {
        String(self).trimmingWhitespace().lowercased()
    }
}

extension PublishedPlaylist: WaitablePlaylist {
    var version: UInt64 { snapshot.version }
    var isEnded: Bool { snapshot.isEnded }

    /// Whether segment `msn` is listed or already slid out (parts are judged by the snapshot).
    func satisfies(_ reload: BlockingReload) -> Bool {
        guard let last = snapshot.segments.last?.sequence.rawValue else { return false }
        return reload.msn <= last
    }
}
