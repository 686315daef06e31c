/// The operator's settings for a ``SegmentRegistry``, parsed once by the executable.
public struct RegistryConfiguration: Equatable, Sendable {
    /// The largest accepted ``targetDuration`` override, in seconds.
    public static let maximumTargetDuration: Int64 = 3600

    /// How many segments a live playlist lists at most (`SLIDING_WINDOW_SIZE`); at least 1.
    ///
    /// A playlist may list more when that is needed to keep three target durations
    /// (RFC 8216 §6.2.2).
    public var windowSize: Int

    /// The `#EXT-X-TARGETDURATION` of every rendition, in seconds, in `1...3600`; when `nil`,
    /// each rendition takes `max(1, rounded duration of its first segment)`.
    public var targetDuration: Int64?

    /// Creates a configuration; the values must be in range (``SegmentRegistry`` checks them with
    /// a precondition, since the executable validates operator input first).
    public init(windowSize: Int = 6, targetDuration: Int64? = nil) {
        self.windowSize = windowSize
        self.targetDuration = targetDuration
    }

    /// Whether every value is in its documented range.
    public var isValid: Bool {
        guard windowSize >= 1 else { return false }
        if let targetDuration, !(1...Self.maximumTargetDuration).contains(targetDuration) { return false }
        return true
    }
}
