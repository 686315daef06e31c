import HLSModel
import Logging
import MicroHTTPD
import PlaylistRenderer
import SegmentRegistry

/// What players fetch: media playlists (with LL-HLS blocking reloads held until a publication
/// satisfies them) and the multivariant playlist, and the 404 that says what is missing.
extension Orchestrator {
    /// A playlist GET: the prepared bytes, or — for an LL-HLS blocking reload the playlist does
    /// not satisfy yet — the request parked until a publication does (rfc8216bis §6.2.5.2).
    ///
    /// `park` suspends the connection (nil in process). With a durable store, a playlist whose
    /// serving would pin the window is served once the pin is logged (``pinThenServe``).
    func playlist(
        _ stream: StreamID, _ rendition: RenditionName, _ request: HTTPRequest, park: (() -> SuspendedRequest)?,
        started: ContinuousClock.Instant
    ) throws -> HTTPReply {
        let published: PublishedPlaylist
        if let committer {
            guard let (current, needsPin) = registry.unpinnedPlaylist(stream: stream, rendition: rendition) else {
                throw lookupError(stream, rendition)
            }
            if needsPin {
                return pinThenServe(stream, rendition, request, committer: committer, park: park, started: started)
            }
            published = current
        } else {
            guard let current = registry.playlist(stream: stream, rendition: rendition) else {
                throw lookupError(stream, rendition)
            }
            published = current
        }
        let snapshot = published.snapshot
        // Only LL-HLS playlists advertise CAN-BLOCK-RELOAD; elsewhere the directives are ignored,
        // and an ended playlist answers at once.
        guard snapshot.isLowLatency, !snapshot.isEnded, !request.query.isEmpty else {
            var response = published.response(for: request.headers)
            if cachesPlaylists, request.query.isEmpty {
                // A function of the path and Accept-Encoding until the playlist is replaced (the
                // server does not cache requests with query arguments or If-None-Match).
                response.cache = CacheDirective(validity: published, tag: UInt32(Route.Name.playlist.ordinal))
            }
            return .response(response)
        }
        let directives: ReloadDirectives
        do {
            directives = try ReloadDirectives(query: request.query)
        } catch {
            metrics.blockingRejected()
            throw error
        }
        let headers = request.headers
        let delta = directives.skip
        guard let reload = directives.reload else {
            return .response(published.response(for: headers, delta: delta))
        }
        if snapshot.blockingRequestIsTooFar(msn: reload.msn, part: reload.part) {
            metrics.blockingRejected()
            throw ReloadDirectives.Invalid(
                message: "_HLS_msn/_HLS_part ask for more than the playlist can reach soon (rfc8216bis 6.2.5.2)")
        }
        guard let park else {
            return .response(published.response(for: headers, delta: delta, blocking: true))
        }
        // A held reload keeps memory (the request, its waiter, the parked connection's entry).
        let budget = self.budget
        guard budget.reserve(MemoryBudget.Estimate.heldReload, for: .held) else {
            metrics.blockingOverloaded()
            throw RegistryError.memoryBudgetSpent(.held)
        }
        let held = park()
        let metrics = self.metrics
        let waiter = ReloadWaiters<PublishedPlaylist>.Waiter(
            request: held, reload: reload,
            deadline: started.advanced(by: .seconds(3 * snapshot.targetDuration)),
            answer: { $0.response(for: headers, delta: delta, blocking: true) },
            finished: { [weak self] woken, changeStarted in
                budget.release(MemoryBudget.Estimate.heldReload, for: .held)
                metrics.blockingFinished(woken: woken, wakeLatency: ContinuousClock.now - changeStarted)
                self?.finished(request, route: .playlist, status: woken ? 200 : 503, started: started)
            })
        do {
            switch try waiters.park(waiter, key: .init(stream: stream, rendition: rendition), current: published) {
            case .ready(let newest):
                budget.release(MemoryBudget.Estimate.heldReload, for: .held)
                return .response(newest.response(for: headers, delta: delta, blocking: true))
            case .parked:
                return .suspended(held)
            }
        } catch {
            budget.release(MemoryBudget.Estimate.heldReload, for: .held)
            metrics.blockingOverloaded()
            throw error
        }
    }

    /// The multivariant playlist of `stream`, rendered now: players fetch it once per session,
    /// so it is not worth keeping prepared.
    func master(_ stream: StreamID, _ request: HTTPRequest) throws -> HTTPResponse {
        guard let snapshot = registry.multivariant(stream: stream) else {
            throw LookupError(message: "stream \(stream) is not known")
        }
        guard !snapshot.variants.isEmpty else {
            throw LookupError(
                message: "no rendition of stream \(stream) has both a segment and a known bandwidth yet: declare "
                    + "bandwidth with PUT /streams/\(stream)/renditions/{rendition} or send segment sizes in bytes")
        }
        let plain = MultivariantPlaylistRenderer.render(snapshot)
        // gzip when the client accepts it, like the media playlists (Apple's authoring
        // specification asks it of every playlist); the two encodings have distinct ETags.
        let compressed = PublishedPlaylist.acceptsGzip(request.headers["Accept-Encoding"]) ? Gzip.compress(plain) : nil
        let etag = "\"\(PublishedPlaylist.fingerprint(plain))\(compressed == nil ? "" : "-gz")\""
        // Like a media playlist (rfc8216bis Appendix B): about half a target duration while live
        // (a new rendition or a changed declaration shows soon), a day once the stream ended.
        let cacheControl =
            snapshot.isEnded
            ? "public, max-age=86400"
            : "public, max-age=\(max(1, (snapshot.shortestTargetDuration ?? 2) / 2))"
        var headers = HTTPHeaders(PublishedPlaylist.commonHeaders(cacheControl: cacheControl))
        headers.add("ETag", etag)
        if let lastModified = snapshot.lastModified {
            headers.add("Last-Modified", lastModified.httpDate)
        }
        if let tags = request.headers["If-None-Match"], PublishedPlaylist.matches(tags, etag) {
            // With the representation as its body: its length is the 304's Content-Length, the
            // body is never sent (RFC 9110 §8.6; see PublishedPlaylist).
            return HTTPResponse(status: .notModified, headers: headers, body: .bytes(compressed ?? plain))
        }
        if compressed != nil { headers.add("Content-Encoding", "gzip") }
        return HTTPResponse(status: .ok, headers: headers, body: .bytes(compressed ?? plain))
    }

    /// The 404 for a playlist that cannot be served, saying what is missing.
    func lookupError(_ stream: StreamID, _ rendition: RenditionName) -> LookupError {
        switch registry.presence(stream: stream, rendition: rendition) {
        case .unknownStream:
            return LookupError(message: "stream \(stream) is not known")
        case .unknownRendition:
            return LookupError(message: "stream \(stream) has no rendition \(rendition)")
        case .noSegmentYet, .available:
            // `.available`: the first segment arrived after this request looked.
            return LookupError(
                message: "rendition \(rendition) of stream \(stream) has no segment yet: "
                    + "its playlist starts with its first whole segment")
        }
    }
}
