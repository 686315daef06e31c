// What a stream's low-latency renditions share, and how a rendition joins a stream.
import HLSModel
import Synchronization

/// What every low-latency rendition of a stream shares (rfc8216bis §6.2.4): one part target and
/// one target duration, so `#EXT-X-SERVER-CONTROL` is identical across them.
struct LowLatencyPolicy: Equatable, Codable, Sendable {
    var partTarget: SegmentDuration?
    var targetDuration: Int64?
}

/// Why a stream's low-latency policy refused a value.
enum LowLatencyPolicyConflict: Equatable, Sendable {
    case partTarget(fixed: SegmentDuration)
    case targetDuration(fixed: Int64)
    /// A low-latency rendition in a stream whose regular renditions have segments.
    case regularStream
    /// A regular rendition in a stream with low-latency renditions.
    case lowLatencyStream

    /// The error that reports the conflict for a declaration of `policy`.
    func error(stream: StreamID, rendition: RenditionName, policy: LowLatencyPolicy?) -> any Error {
        switch self {
        case .partTarget(let fixed):
            return LowLatencyError.partTargetConflict(rendition, declared: policy?.partTarget ?? fixed, fixed: fixed)
        case .targetDuration(let fixed):
            return LowLatencyError.streamTargetDurationConflict(stream, declared: policy?.targetDuration ?? fixed, fixed: fixed)
        case .regularStream:
            return RegistryError.mixedLowLatency(stream, rendition, streamIsLowLatency: false)
        case .lowLatencyStream:
            return RegistryError.mixedLowLatency(stream, rendition, streamIsLowLatency: true)
        }
    }
}

/// Whether a stream's renditions are low-latency or regular (rfc8216bis §6.2.4: one
/// `#EXT-X-SERVER-CONTROL` for all of them), with the values its low-latency renditions share.
struct StreamKind: Equatable, Codable, Sendable {
    /// The shared low-latency values; a part target is set once the stream is low-latency.
    var lowLatency = LowLatencyPolicy()
    /// Set by the first segment of a rendition without low-latency settings.
    var hasRegularRendition = false

    /// How a rendition joins its stream.
    enum Joining: Equatable, Sendable {
        /// A low-latency declaration or first segment: its values must agree with the shared ones.
        case lowLatency(LowLatencyPolicy)
        /// A declaration without `part_target`: refused when the stream is low-latency.
        case regularDeclaration
        /// The first segment of a rendition without low-latency settings: makes the stream regular.
        case regularSegment
    }
}

extension StreamKind {
    /// Checks that a rendition may join the stream as `joining` says, and fixes what it fixes:
    /// a low-latency rendition's values that are set (unless one differs from a value already
    /// fixed, or the stream is regular), or the stream's being regular. On a conflict nothing
    /// changes and the conflict is returned. The stream's rule, as a pure function of its kind.
    mutating func join(_ joining: Joining) -> LowLatencyPolicyConflict? {
        switch joining {
        case .lowLatency(let policy):
            if hasRegularRendition { return .regularStream }
            let fixed = lowLatency
            if let declared = policy.partTarget, let existing = fixed.partTarget, declared != existing {
                return .partTarget(fixed: existing)
            }
            if let declared = policy.targetDuration, let existing = fixed.targetDuration, declared != existing {
                return .targetDuration(fixed: existing)
            }
            lowLatency.partTarget = fixed.partTarget ?? policy.partTarget
            lowLatency.targetDuration = fixed.targetDuration ?? policy.targetDuration
            return nil
        case .regularDeclaration:
            return lowLatency.partTarget == nil ? nil : .lowLatencyStream
        case .regularSegment:
            guard lowLatency.partTarget == nil else { return .lowLatencyStream }
            hasRegularRendition = true
            return nil
        }
    }
}
