/// What the multivariant playlist of one stream shows at one instant; the input of the
/// multivariant renderer.
public struct MultivariantSnapshot: Equatable, Sendable {
    /// One `#EXT-X-STREAM-INF` entry (RFC 8216 §4.3.4.2) and the rendition it points to.
    public struct Variant: Equatable, Sendable {
        /// The rendition; its media playlist is `renditions/<name>/playlist.m3u8`.
        public var rendition: RenditionName
        /// `BANDWIDTH`: peak bits per second (declared, else computed from segment sizes).
        public var bandwidth: UInt64
        /// `AVERAGE-BANDWIDTH`: average bits per second, when known.
        public var averageBandwidth: UInt64?
        /// `RESOLUTION`, when declared.
        public var resolution: Resolution?
        /// `CODECS`, when declared.
        public var codecs: String?
        /// `FRAME-RATE`, when declared.
        public var frameRate: FrameRate?

        /// Creates a variant from its parts.
        public init(
            rendition: RenditionName,
            bandwidth: UInt64,
            averageBandwidth: UInt64? = nil,
            resolution: Resolution? = nil,
            codecs: String? = nil,
            frameRate: FrameRate? = nil
        ) {
            self.rendition = rendition
            self.bandwidth = bandwidth
            self.averageBandwidth = averageBandwidth
            self.resolution = resolution
            self.codecs = codecs
            self.frameRate = frameRate
        }
    }

    /// The stream.
    public var stream: StreamID
    /// The variants, ordered by ``Variant/bandwidth`` ascending, then by rendition name.
    public var variants: [Variant]

    /// Creates a snapshot; `variants` are sorted by bandwidth, then name.
    public init(stream: StreamID, variants: [Variant]) {
        self.stream = stream
        self.variants = variants.sorted {
            ($0.bandwidth, $0.rendition) < ($1.bandwidth, $1.rendition)
        }
    }
}
