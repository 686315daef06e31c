public import HLSModel

/// Renders a ``MultivariantSnapshot`` as the text of an HLS multivariant (master) playlist
/// (RFC 8216 §4.3.4), served at `/streams/<id>/master.m3u8`. For example:
/// ```
/// #EXTM3U
/// #EXT-X-STREAM-INF:BANDWIDTH=800000,AVERAGE-BANDWIDTH=700000,RESOLUTION=640x360,CODECS="avc1.4d401e,mp4a.40.2",FRAME-RATE=30.000
/// renditions/360p/playlist.m3u8
/// ```
///
/// No `#EXT-X-VERSION` is written: no tag or attribute used here needs more than protocol
/// version 1 (RFC 8216 §7), and a playlist without the tag is version 1 (§4.3.1.2).
/// No `#EXT-X-INDEPENDENT-SEGMENTS` (§4.3.5.1) is written either: the service does not see the
/// media, so it cannot promise that every segment starts with a key frame.
public enum MultivariantPlaylistRenderer {
    /// The playlist as UTF-8 bytes, ready to be a response body.
    ///
    /// Writes `#EXTM3U` (§4.3.1.1), then per variant, in the snapshot's order (bandwidth
    /// ascending, then name), `#EXT-X-STREAM-INF` (§4.3.4.2) with `BANDWIDTH` and, when known,
    /// `AVERAGE-BANDWIDTH`, `RESOLUTION`, `CODECS` (quoted) and `FRAME-RATE` (three decimals),
    /// followed by the URI line `renditions/<name>/playlist.m3u8`, relative to the
    /// multivariant playlist's own URI (RFC 3986 §5.2). Every line ends with `"\n"`.
    /// - Complexity: O(*n*) in the size of the output.
    public static func render(_ snapshot: MultivariantSnapshot) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(8 + snapshot.variants.count * 512)
        out.append(contentsOf: "#EXTM3U\n".utf8)
        for variant in snapshot.variants {
            out.append(contentsOf: "#EXT-X-STREAM-INF:BANDWIDTH=".utf8)
            MediaPlaylistRenderer.appendDecimal(variant.bandwidth, to: &out)
            if let average = variant.averageBandwidth {
                out.append(contentsOf: ",AVERAGE-BANDWIDTH=".utf8)
                MediaPlaylistRenderer.appendDecimal(average, to: &out)
            }
            if let resolution = variant.resolution {
                out.append(contentsOf: ",RESOLUTION=".utf8)
                out.append(contentsOf: resolution.description.utf8)
            }
            if let codecs = variant.codecs {
                out.append(contentsOf: ",CODECS=\"".utf8)
                out.append(contentsOf: codecs.utf8)
                out.append(UInt8(ascii: "\""))
            }
            if let frameRate = variant.frameRate {
                out.append(contentsOf: ",FRAME-RATE=".utf8)
                out.append(contentsOf: frameRate.description.utf8)
            }
            out.append(UInt8(ascii: "\n"))
            out.append(contentsOf: "renditions/".utf8)
            out.append(contentsOf: variant.rendition.rawValue.utf8)
            out.append(contentsOf: "/playlist.m3u8\n".utf8)
        }
        return out
    }
}
