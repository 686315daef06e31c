import HLSModel
import MicroHTTPD
import PlaylistRenderer
import Synchronization

/// A rendition's playlist as served: rendered once per change, so a GET costs a registry
/// lookup, a header check and a reference copy.
///
/// Registration renders the bytes (the 201 promises they are visible). Everything else is built
/// at most once per change by the first request that needs it: the libmicrohttpd response with
/// its headers, the gzip form, the 304. A rendition nobody reads between two changes pays only
/// for the render, and memory holds one copy of the bytes per rendition.
final class PublishedPlaylist: ResponseValidity, Sendable {
    /// The snapshot it was rendered from (for blocking-reload decisions).
    let snapshot: RenditionSnapshot
    /// The rendered playlist.
    let body: SharedBytes
    private let variants = Mutex(Variants())
    /// Whether this is still the rendition's playlist: cleared (for good) by ``retire()`` once
    /// the registry replaced or forgot it, which tells the server's response cache to stop
    /// serving the answers built from it.
    private let current = Atomic<Bool>(true)

    /// One encoding of the playlist: its ETag, its 200 and its 304. A class, so handing it out
    /// of the lock copies one reference.
    final class Representation: Sendable {
        let etag: String
        let ok: HTTPResponse
        let notModified: HTTPResponse

        init(etag: String, ok: HTTPResponse, notModified: HTTPResponse) {
            self.etag = etag
            self.ok = ok
            self.notModified = notModified
        }
    }

    /// Which form of the playlist a request gets.
    struct Variant: Equatable, Sendable {
        /// `Content-Encoding: gzip`.
        var gzip = false
        /// The delta update (`_HLS_skip`, rfc8216bis §6.2.5.1) instead of the full playlist.
        var delta = false
        /// The answer to a blocking reload: cached about six target durations (Appendix B).
        var blocking = false

        fileprivate var index: Int { (gzip ? 1 : 0) | (delta ? 2 : 0) | (blocking ? 4 : 0) }
        fileprivate static let count = 8
    }

    private struct Variants {
        /// Allocated on the first request: a rendition nobody reads holds no table.
        var built: [Representation?] = []
    }

    /// Renders `snapshot`.
    /// - Complexity: O(*n*) in the playlist's length; runs once per visible change.
    init(snapshot: RenditionSnapshot) {
        self.snapshot = snapshot
        body = SharedBytes(MediaPlaylistRenderer.renderBytes(snapshot))
    }

    /// `snapshot` without its bytes: the publications of a state log's replay, which nobody
    /// serves (the port opens after it, once every rendition is published again, rendered).
    init(unrendered snapshot: RenditionSnapshot) {
        self.snapshot = snapshot
        body = SharedBytes([])
    }

    var isCurrent: Bool { current.load(ordering: .sequentiallyConsistent) }

    /// Marks the playlist replaced or forgotten (the registry's `retire`), before the change that
    /// replaced it is answered.
    func retire() { current.store(false, ordering: .sequentiallyConsistent) }

    /// The answer to a GET or HEAD with these request headers.
    /// - Complexity: O(*h*) in the number of request headers once the variant exists.
    func response(for headers: HTTPHeaders, delta: Bool = false, blocking: Bool = false) -> HTTPResponse {
        let representation = self.representation(
            Variant(
                gzip: headers.isEmpty ? false : Self.acceptsGzip(headers["Accept-Encoding"]),
                delta: delta && snapshot.isLowLatency && !snapshot.isEnded, blocking: blocking))
        if !headers.isEmpty, let tags = headers["If-None-Match"], Self.matches(tags, representation.etag) {
            return representation.notModified
        }
        return representation.ok
    }

    /// The representation for `variant`, built on first use.
    func representation(_ variant: Variant) -> Representation {
        variants.withLock { variants in
            if variants.built.isEmpty {
                variants.built = [Representation?](repeating: nil, count: Variant.count)
            } else if let built = variants.built[variant.index] {
                return built
            }
            // Hashed again for each variant built (at most eight per change, a few hundred bytes
            // each) rather than kept: a rendition nobody reads then stores nothing for it.
            let made = build(variant, fingerprint: body.withUnsafeBytes { Self.fingerprint($0) })
            variants.built[variant.index] = made
            return made
        }
    }

    private func build(_ variant: Variant, fingerprint: String) -> Representation {
        var plain = body
        var tag = fingerprint
        if variant.delta {
            let rendered = MediaPlaylistRenderer.renderBytes(snapshot, skip: true)
            plain = SharedBytes(rendered)
            tag = Self.fingerprint(rendered)
        }
        var bytes = plain
        var etag = "\"\(tag)\""
        if variant.gzip, let compressed = Gzip.compress(plain.array) {
            bytes = SharedBytes(compressed)
            etag = "\"\(tag)-gz\""
        }
        let cacheControl =
            snapshot.isEnded
            ? "public, max-age=86400"
            : variant.blocking
                ? "public, max-age=\(6 * snapshot.targetDuration)"
                : "public, max-age=\(max(1, snapshot.targetDuration / 2))"
        var headers = HTTPHeaders(Self.commonHeaders(cacheControl: cacheControl))
        headers.add("ETag", etag)
        headers.add("Last-Modified", snapshot.lastModified.httpDate)
        if !bytes.isSameBuffer(as: plain) { headers.add("Content-Encoding", "gzip") }
        let ok = HTTPResponse(status: .ok, headers: headers, body: .shared(bytes))
        var notModifiedHeaders = headers
        notModifiedHeaders = HTTPHeaders(notModifiedHeaders.fields.filter { $0.name != "Content-Type" && $0.name != "Content-Encoding" })
        // The 304 carries the representation it stands for: libmicrohttpd never sends a 304's
        // body, and its Content-Length is then the 200's, as RFC 9110 §8.6 requires (an empty
        // body would announce `Content-Length: 0` for a playlist that is not empty).
        let notModified = HTTPResponse(status: .notModified, headers: notModifiedHeaders, body: .shared(bytes))
        return Representation(
            etag: etag,
            ok: PreparedResponse(ok)?.httpResponse ?? ok,
            notModified: PreparedResponse(notModified)?.httpResponse ?? notModified)
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

    /// 64-bit FNV-1a of the bytes, as 16 hex digits: a strong validator for them.
    static func fingerprint(_ bytes: some Sequence<UInt8>) -> String {
        let hex = String(FNV1a.hash(bytes), radix: 16)
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

extension PublishedPlaylist: WaitablePlaylist {
    var version: UInt64 { snapshot.version }
    var isEnded: Bool { snapshot.isEnded }

    /// Whether the playlist holds what `reload` waits for (rfc8216bis §6.2.5.2).
    func satisfies(_ reload: BlockingReload) -> Bool {
        snapshot.satisfies(msn: reload.msn, part: reload.part)
    }
}

extension Substring {
    fileprivate func trimmingWhitespaceAndLowercased() -> String {
        String(self).trimmingWhitespace().lowercased()
    }
}
