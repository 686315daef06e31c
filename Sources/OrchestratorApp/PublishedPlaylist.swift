import HLSModel
import MicroHTTPD
import PlaylistRenderer

/// A rendition's playlist as served: rendered once per change, with its whole 200 response
/// prepared, so a GET costs a registry lookup and a reference copy.
final class PublishedPlaylist: Sendable {
    /// The complete response for a GET (HEAD gets the same headers without the body).
    let response: HTTPResponse

    /// Renders `snapshot` and prepares its response.
    /// - Complexity: O(*n*) in the playlist's length; runs once per visible change.
    init(snapshot: RenditionSnapshot) {
        let bytes = SharedBytes(MediaPlaylistRenderer.renderBytes(snapshot))
        response = HTTPResponse(
            status: .ok,
            headers: HTTPHeaders([
                ("Content-Type", "application/vnd.apple.mpegurl"),
                ("Cache-Control", snapshot.isEnded ? "max-age=3600" : "max-age=\(max(1, snapshot.targetDuration / 2))"),
            ]),
            body: .shared(bytes))
    }
}
