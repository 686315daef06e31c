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
        /// The rendition's `#EXT-X-TARGETDURATION`, in seconds (not rendered; for caching).
        public var targetDuration: Int64?
        /// When the rendition or its declaration last changed (not rendered; for `Last-Modified`).
        public var lastModified: Timestamp?

        /// Creates a variant from its parts.
        public init(
            rendition: RenditionName,
            bandwidth: UInt64,
            averageBandwidth: UInt64? = nil,
            resolution: Resolution? = nil,
            codecs: String? = nil,
            frameRate: FrameRate? = nil,
            targetDuration: Int64? = nil,
            lastModified: Timestamp? = nil
        ) {
            self.rendition = rendition
            self.bandwidth = bandwidth
            self.averageBandwidth = averageBandwidth
            self.resolution = resolution
            self.codecs = codecs
            self.frameRate = frameRate
            self.targetDuration = targetDuration
            self.lastModified = lastModified
        }
    }

    /// The stream.
    public var stream: StreamID
    /// The variants, ordered by ``Variant/bandwidth`` ascending, then by rendition name.
    public var variants: [Variant]
    /// Whether the stream has ended: the playlist will not change again.
    public var isEnded: Bool

    /// Creates a snapshot; `variants` are sorted by bandwidth, then name.
    public init(stream: StreamID, variants: [Variant], isEnded: Bool = false) {
        self.stream = stream
        self.isEnded = isEnded
        self.variants = variants.sorted {
            ($0.bandwidth, $0.rendition) < ($1.bandwidth, $1.rendition)
        }
    }

    /// The latest ``Variant/lastModified`` of the variants; `nil` when none has one.
    public var lastModified: Timestamp? { variants.compactMap(\.lastModified).max() }

    /// The shortest ``Variant/targetDuration`` of the variants; `nil` when none has one.
    public var shortestTargetDuration: Int64? { variants.compactMap(\.targetDuration).min() }
}
