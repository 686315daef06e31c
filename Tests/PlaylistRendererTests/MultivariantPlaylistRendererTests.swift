import Foundation
import HLSModel
import PlaylistRenderer
import Testing

@Suite struct MultivariantPlaylistRendererTests {
    private func fixture(_ name: String) throws -> String {
        let url = try #require(
            Bundle.module.url(forResource: name, withExtension: "m3u8", subdirectory: "Fixtures"),
            "missing fixture \(name).m3u8")
        return try String(contentsOf: url, encoding: .utf8)
    }

    static func variants() throws -> [MultivariantSnapshot.Variant] {
        [
            .init(rendition: try RenditionName(validating: "1080p"), bandwidth: 6_000_000, averageBandwidth: 5_000_001),
            .init(rendition: try RenditionName(validating: "720p-alt"), bandwidth: 2_500_000),
            .init(
                rendition: try RenditionName(validating: "720p"), bandwidth: 2_500_000,
                resolution: try Resolution(width: 1280, height: 720), codecs: "avc1.64001f,mp4a.40.2",
                frameRate: try FrameRate(framesPerSecond: 29.97)),
            .init(
                rendition: try RenditionName(validating: "360p"), bandwidth: 800_000, averageBandwidth: 700_000,
                resolution: try Resolution(width: 640, height: 360), codecs: "avc1.4d401e,mp4a.40.2",
                frameRate: try FrameRate(framesPerSecond: 30)),
        ]
    }

    @Test("Variants render by bandwidth then name, with only the attributes known")
    func golden() throws {
        let snapshot = MultivariantSnapshot(stream: try StreamID(validating: "s"), variants: try Self.variants())
        #expect(MultivariantPlaylistRenderer.render(snapshot) == Array(try fixture("multivariant").utf8))
    }

    @Test("No variants renders just the header")
    func empty() throws {
        let snapshot = MultivariantSnapshot(stream: try StreamID(validating: "s"), variants: [])
        #expect(MultivariantPlaylistRenderer.render(snapshot) == Array(try fixture("multivariant-empty").utf8))
    }
}
